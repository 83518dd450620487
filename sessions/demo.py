"""A short set for hoot's engine: `hoot render sessions/demo.py --bars 16 -o demo.wav`,
or `make run` to hear it live.

It makes its own stems (a drum loop as audio, bass and chords as MIDI for the engine's
synth), so it needs nothing downloaded. Runs against `perf`, like the console.
"""

# ruff: noqa: F821  (perf is given by hoot when it runs the script)

from pathlib import Path

import numpy as np
import soundfile as sf

from hoot.music.clip import NoteClip

SR = perf.samplerate
BEAT = 60 / 122  # seconds
stems = perf.session.stems


def drum_loop(bars: int = 2) -> Path:
    """Kick on every beat, off-beat hats, a clap on 2 and 4: an audio stem."""
    n = round(bars * 4 * BEAT * SR)
    t = np.arange(int(0.35 * SR)) / SR
    kick = np.sin(2 * np.pi * (45 * t + 90 * (1 - np.exp(-t * 28)) / 28)) * np.exp(-t * 9)
    rng = np.random.default_rng(3)
    noise = rng.standard_normal(int(0.2 * SR))
    hat = np.diff(noise[: int(0.05 * SR)], prepend=0) * np.exp(-np.arange(int(0.05 * SR)) / 240)
    clap = noise * np.exp(-np.arange(len(noise)) / 1800) * 0.5
    loop = np.zeros(n)
    for beat in range(bars * 4):
        at = round(beat * BEAT * SR)
        loop[at : at + len(kick)] += 0.8 * kick[: n - at]
        off = round((beat + 0.5) * BEAT * SR)
        loop[off : off + len(hat)] += 0.25 * hat[: max(0, n - off)]
        if beat % 2 == 1:
            loop[at : at + len(clap)] += 0.3 * clap[: n - at]
    path = stems / "demo-drums.wav"
    sf.write(str(path), np.stack([loop, loop], axis=1).astype(np.float32), SR)
    return path


def bass_line() -> Path:
    notes = []
    for bar, root in enumerate([38, 38, 34, 36]):  # D, D, Bb, C
        for step, (offset, length) in enumerate([(0.5, 0.4), (1.5, 0.4), (2.5, 0.3), (3.5, 0.4)]):
            notes.append((bar * 4 + offset, length, root + (12 if step == 2 else 0), 110))
    path = stems / "demo-bass.mid"
    NoteClip.from_notes(notes, length=16).write_midi(path)
    return path


def chords() -> Path:
    voicings = [(62, 65, 69), (62, 65, 69), (58, 62, 65), (60, 64, 67)]  # Dm Dm Bb C
    notes = [(bar * 4, 3.9, pitch, 70) for bar, chord in enumerate(voicings) for pitch in chord]
    path = stems / "demo-chords.mid"
    NoteClip.from_notes(notes, length=16).write_midi(path)
    return path


perf.tempo = 122
drums = perf.load(drum_loop(), role="drums")
bass = perf.load(bass_line(), role="bass")
keys = perf.load(chords(), role="pad")

drums.queue()
perf.wait(bars=4)
bass.queue()
perf.tracks.bass.gain = -2
perf.wait(bars=4)
keys.queue()
perf.tracks.pad.gain = -8
perf.wait(bars=6)
perf.tracks.drums.stop()  # a breakdown at the next phrase
