"""Render note clips through a SoundFont with the `fluidsynth` program, as seamless loops.

When a General MIDI SoundFont (.sf2) is in `models/` or a standard system place
(hoot.music.sounds.find_soundfonts, which the engine's live SoundFont voices share), a
generated clip can be heard on real sampled instruments instead of hoot's synthesizers.
The `fluidsynth` command-line program (Debian: `apt-get install fluidsynth`; the GM bank
`fluid-soundfont-gm` puts FluidR3_GM.sf2 in /usr/share/sounds/sf2) renders a MIDI file
offline, faster than real time; the result is then made loop-exact like `render_clip`'s:
whatever rings past the loop's end is folded back onto its start, and the length is
exactly `round(clip.length * 60 / bpm * samplerate)` frames.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from hoot.errors import HootError
from hoot.generate.loops import stereo_loop
from hoot.music.clip import NoteClip
from hoot.music.sounds import find_soundfonts, no_soundfont, parse_soundfont

INSTALL_FLUIDSYNTH = "sudo apt-get install fluidsynth"

DRUM_CHANNEL = 9
"""MIDI channel 10 (counted from 1): General MIDI's percussion channel."""

TAIL_SECONDS = 4.0
"""Rendered past the loop's end, so releases and the SoundFont's reverb can ring out and
be folded back onto the start."""

GAIN = 0.6
"""fluidsynth's master gain (its default, 0.2, leaves a GM piano at about -27 dBFS)."""

TIMEOUT_SECONDS = 120.0

_LATENCY_FRAMES = 64
"""fluidsynth plays a MIDI event one 64-frame block after the block it falls in, so its
output is taken from this many frames on: notes then land 0 to 63 frames after their
sample, under 1.5 ms at 44.1 kHz and above."""

_TICKS_PER_BEAT = 960


def soundfont_available() -> tuple[bool, str]:
    """Whether SoundFont rendering can run here, and why not (with the command that fixes it)."""
    if shutil.which("fluidsynth") is None:
        return False, f"no fluidsynth program: {INSTALL_FLUIDSYNTH}"
    fonts = find_soundfonts()
    if not fonts:
        return False, no_soundfont()
    return True, f"fluidsynth with {fonts[0].name}"


def render_with_soundfont(
    clip: NoteClip,
    bpm: float,
    samplerate: int,
    sf2: Path,
    program: int = 0,
    drums: bool = False,
) -> np.ndarray:
    """Render `clip` through the SoundFont `sf2` as one seamless loop: float32 `(frames, 2)`.

    `program` is the General MIDI instrument (0 = acoustic grand piano), or with `drums`
    the drum kit (0 = standard), played on the percussion channel. The audio is as the
    SoundFont makes it, not loudness-normalised (`loudness.normalize` does that).

    Raises HootError when fluidsynth is missing or fails, and ValueError for bad arguments.
    """
    if not isinstance(clip, NoteClip):
        raise ValueError(f"render a NoteClip, not {type(clip).__name__}")
    if not (isinstance(bpm, (int, float)) and math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"tempo must be a positive number of beats per minute, got {bpm!r}")
    if not (isinstance(samplerate, int) and 8000 <= samplerate <= 384000):
        raise ValueError(f"sample rate must be whole Hz from 8000 to 384000, got {samplerate!r}")
    if not (isinstance(program, int) and 0 <= program <= 127):
        raise ValueError(f"MIDI program must be 0 to 127, got {program!r}")
    sf2 = Path(sf2)
    if not sf2.is_file():
        raise ValueError(f"no SoundFont at {sf2}")
    fluidsynth = shutil.which("fluidsynth")
    if fluidsynth is None:
        raise HootError(f"no fluidsynth program: {INSTALL_FLUIDSYNTH}")

    frames = round(clip.length * 60.0 / bpm * samplerate)
    if frames < 1:
        raise ValueError(f"a {clip.length:g}-beat clip at {bpm:g} BPM is shorter than one sample")
    with tempfile.TemporaryDirectory(prefix="hoot-sf2-") as folder:
        midi_path = Path(folder) / "clip.mid"
        wav_path = Path(folder) / "clip.wav"
        _write_midi(clip, bpm, program, drums, midi_path)
        command = [
            fluidsynth,
            "-n",  # no MIDI input driver
            "-i",  # no interactive shell
            "-q",
            "-g",
            str(GAIN),
            "-r",
            str(samplerate),
            "-o",
            "synth.dynamic-sample-loading=1",  # load only the samples the clip plays
            "-F",
            str(wav_path),
            "-T",
            "wav",
            "-O",
            "float",
            str(sf2),
            str(midi_path),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            raise HootError(
                f"fluidsynth took over {TIMEOUT_SECONDS:g} s to render {sf2.name}"
            ) from None
        if done.returncode != 0 or not wav_path.is_file():
            said = (done.stderr or done.stdout).strip().splitlines()
            reason = said[-1] if said else f"exit status {done.returncode}"
            raise HootError(f"fluidsynth could not render with {sf2.name}: {reason}")
        audio, rate = sf.read(str(wav_path), dtype="float32", always_2d=True)
    if rate != samplerate:
        raise HootError(f"fluidsynth wrote {rate} Hz instead of {samplerate} Hz")
    return stereo_loop(audio[_LATENCY_FRAMES:], frames)


def _write_midi(clip: NoteClip, bpm: float, program: int, drums: bool, path: Path) -> None:
    """A type 0 MIDI file: tempo, program, the clip's notes, then silence for the tail."""
    channel = DRUM_CHANNEL if drums else 0
    events: list[tuple[int, int, mido.Message]] = []
    for start, duration, pitch, velocity in zip(
        clip.start.tolist(), clip.duration.tolist(), clip.pitch.tolist(), clip.velocity.tolist()
    ):
        on = round(start * _TICKS_PER_BEAT)
        off = max(on + 1, round((start + duration) * _TICKS_PER_BEAT))
        # At one tick a note-off sorts before a note-on, so a repeated note restarts cleanly.
        events.append(
            (on, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity))
        )
        events.append((off, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
    events.sort(key=lambda event: (event[0], event[1]))
    track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
            mido.Message("program_change", channel=channel, program=program, time=0),
        ]
    )
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    tail_beats = TAIL_SECONDS * bpm / 60.0
    end = round((clip.length + tail_beats) * _TICKS_PER_BEAT)
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    midi = mido.MidiFile(type=0, ticks_per_beat=_TICKS_PER_BEAT)
    midi.tracks.append(track)
    midi.save(str(path))


def render_sound(clip: NoteClip, bpm: float, samplerate: int, role: str, sound: str) -> np.ndarray:
    """Render `clip` for `role` with a "soundfont..." sound (hoot.music.sounds)."""
    spec = parse_soundfont(sound)
    font = spec.font
    if font is None:
        fonts = find_soundfonts()
        if not fonts:
            raise HootError(soundfont_available()[1])
        font = fonts[0]
    drums = role in ("drums", "perc")
    return render_with_soundfont(
        clip, bpm, samplerate, font, program=spec.program_for(role), drums=drums
    )
