"""`hoot beats FILE.wav`: a file through the live tracker, block by block, as the engine's
input ring would feed it (256 frames a block), so the beats printed are the ones a live
performance would have had, at the moment it would have had them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import soundfile as sf

from hoot.beats.tracker import Beat, BeatTracker
from hoot.errors import HootError

BLOCK = 256


def beats_of_file(
    path: Path, meter: int = 4, downbeats: bool = False, listen: str = "onsets"
) -> Iterator[Beat]:
    """Every beat of an audio file, in order, as the live tracker reports them (`listen`:
    BeatTracker's, "onsets" or "learned")."""
    try:
        audio = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        reason = "there is no such file" if not Path(path).exists() else str(e).split(": ")[-1]
        raise HootError(f"cannot read {path} as audio: {reason}") from None
    with audio:
        tracker = BeatTracker(audio.samplerate, meter=meter, downbeats=downbeats, listen=listen)
        if tracker.note:  # its beat model could not be read: say so, and go on without it
            print(f"hoot beats: {tracker.note}", file=sys.stderr)
        for block in audio.blocks(BLOCK, dtype="float32", always_2d=True):
            yield from tracker.feed(block)
