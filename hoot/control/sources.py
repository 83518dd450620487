"""What `perf.follow(source)` follows: a band on hoot's inputs, or a MIDI clock.

Input tracks by name (a string, or a list for several players mixed) start a band follower
(hoot.control.beat_follow); any other string is part of a MIDI input's name, whose clock
hoot follows (hoot.control.clock_in), as before there were inputs. A name that is neither
is refused in one sentence that lists both, so the performer sees what there is.
"""

from __future__ import annotations

from hoot.control.beat_follow import BeatFollow
from hoot.control.clock_in import ClockIn
from hoot.errors import HootError
from hoot.midi.ports import MidiPorts, label


def open_sync(perf, ports: MidiPorts, source: str | list[str],
              listen: str | None = None) -> BeatFollow | ClockIn:  # fmt: skip
    """The sync source for `source` (see the module docstring); `listen`, for a band: what
    its beat tracker listens with."""
    inputs = [t.name for t in perf.tracks.inputs]
    if isinstance(source, list) or source in inputs:
        return BeatFollow(perf, source, listen=listen)
    if listen is not None:
        raise HootError(
            f"listen={listen!r} is for following a band's audio; '{source}' is no input track "
            f"(inputs: {', '.join(inputs) or 'none yet'})"
        )
    try:
        return ClockIn(perf, ports, source)
    except HootError as e:
        if "MIDI input" not in str(e) or "several" in str(e):
            raise
        midi = "; ".join(f"'{label(n)}'" for n in ports.inputs()) or "none"
        raise HootError(
            f"'{source}' is no input track (inputs: {', '.join(inputs) or 'none yet'}) and "
            f"no MIDI input matches it (MIDI inputs: {midi})"
        ) from None
