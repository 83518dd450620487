"""Material for hoot's embedded timbre model: melodies rendered by fluidsynth, made here.

Used by models/train_rave.py (the cello it learns) and benchmarks/timbre_quality.py (the
same held-out phrases played by other instruments). Nothing is downloaded: the melodies
are the voices of music21's Bach chorales (its corpus ships them) plus phrases generated
here with long swelled notes and vibrato (chorale lines are mostly steady quarter notes,
and a live player holds, swells and bends); the sound is /usr/share/sounds/sf2/FluidR3_GM.sf2
through /usr/bin/fluidsynth, dry (reverb and chorus off: the model has no room to learn).

A phrase is a list of notes (onset s, duration s, MIDI pitch, velocity) plus its vibrato
and swell choice; `render` turns phrases into one mono float32 signal at 48 kHz for a GM
program, so the same phrase can be rendered by the target and by any input instrument.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SR = 48000
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FLUIDSYNTH = "/usr/bin/fluidsynth"

# GM programs (0-based) of the target and of the instruments the benchmark feeds it
CELLO = 42
INPUTS = {"trombone": 57, "flute": 73, "voice": 54, "alto sax": 65, "clarinet": 71}


@dataclass
class Phrase:
    notes: list[tuple[float, float, int, int]]  # onset s, duration s, MIDI pitch, velocity
    vibrato: float = 0.0  # cents of pitch-wheel vibrato depth (5.5 Hz)
    swell: bool = False  # expression (CC11) rises and falls over each note
    name: str = field(default="")

    @property
    def seconds(self) -> float:
        return max(o + d for o, d, _, _ in self.notes) + 0.5


def chorale_lines(count: int, skip: int = 0) -> list[list[tuple[float, float, int]]]:
    """Each voice of `count` Bach chorales (after the first `skip`, in corpus order) as a
    melody: (onset quarter notes, duration quarter notes, MIDI pitch)."""
    from music21 import corpus

    paths = [p for p in corpus.getComposer("bach") if "bwv" in str(p).lower()]
    lines = []
    for path in paths[skip : skip + count]:
        score = corpus.parse(path)
        if len(score.parts) != 4:
            continue
        for part in score.parts:
            notes = []
            for n in part.stripTies().flatten().notes:
                if n.isChord or float(n.quarterLength) <= 0:
                    continue
                notes.append((float(n.offset), float(n.quarterLength), int(n.pitch.midi)))
            if len(notes) >= 8:
                lines.append(notes)
    return lines


def place(line, rng: random.Random, low: int, high: int) -> Phrase:
    """A chorale line as a phrase in [low, high]: moved by octaves to the range's middle, a
    random tempo (60-110 quarter notes a minute), a little legato/staccato, a dynamic."""
    pitches = [p for _, _, p in line]
    mid = (low + high) / 2
    shift = 12 * round((mid - np.mean(pitches)) / 12) + rng.randint(-5, 5)
    while min(pitches) + shift < low:
        shift += 12
    while max(pitches) + shift > high:
        shift -= 12
    beat = 60.0 / rng.uniform(60, 110)
    legato = rng.uniform(0.75, 1.0)
    vel = rng.randint(50, 115)
    notes = [
        (
            o * beat,
            max(0.08, d * beat * legato),
            p + shift,
            max(1, min(127, vel + rng.randint(-8, 8))),
        )
        for o, d, p in line
    ]
    return Phrase(notes, vibrato=rng.choice([0.0, 0.0, 15.0, 25.0]), swell=rng.random() < 0.3)


def generated(rng: random.Random, low: int, high: int, seconds: float = 12.0) -> Phrase:
    """A phrase of held notes (0.4-3 s) stepping through a scale, with vibrato and swells:
    what a player holding a line sounds like, which chorales lack."""
    scale = [0, 2, 4, 5, 7, 9, 11] if rng.random() < 0.6 else [0, 2, 3, 5, 7, 8, 10]
    root = rng.randint(low, low + 11)
    steps = [root + 12 * o + s for o in range(6) for s in scale]
    steps = [p for p in steps if low <= p <= high]
    k = rng.randrange(len(steps))
    t, notes = 0.0, []
    while t < seconds:
        d = rng.choice([0.4, 0.6, 1.0, 1.5, 2.0, 3.0])
        notes.append((t, d * rng.uniform(0.85, 1.0), steps[k], rng.randint(40, 120)))
        t += d + rng.choice([0.0, 0.0, 0.1, 0.3])
        k = max(0, min(len(steps) - 1, k + rng.choice([-3, -2, -1, -1, 1, 1, 2, 4, 0])))
    return Phrase(notes, vibrato=rng.choice([0.0, 20.0, 35.0]), swell=rng.random() < 0.6)


def midi_file(phrases: list[Phrase], program: int, path: Path, gap: float = 0.5) -> float:
    """Write the phrases one after another (gap s between) as a one-track MIDI file;
    returns its length in seconds."""
    import mido

    tpb, tempo = 960, 500000  # 960 ticks per 0.5 s: ticks = seconds * 1920
    events = []  # (seconds, order, message)
    start = 0.0
    for ph in phrases:
        for o, d, p, v in ph.notes:
            t0, t1 = start + o, start + o + d
            events.append((t0, 1, mido.Message("note_on", note=p, velocity=v)))
            events.append((t1, 0, mido.Message("note_off", note=p, velocity=0)))
            if ph.swell:
                steps = max(2, int(d / 0.05))
                for i in range(steps):
                    x = i / steps
                    level = int(60 + 67 * np.sin(np.pi * x))
                    events.append(
                        (t0 + x * d, 2, mido.Message("control_change", control=11, value=level))
                    )
            else:
                events.append((t0, 0, mido.Message("control_change", control=11, value=127)))
        if ph.vibrato:
            depth = ph.vibrato / 200.0 * 8191  # cents over the default 2-semitone bend range
            t = 0.0
            while t < ph.seconds:
                val = int(depth * np.sin(2 * np.pi * 5.5 * t))
                events.append((start + t, 2, mido.Message("pitchwheel", pitch=val)))
                t += 0.02
        events.append((start + ph.seconds, 0, mido.Message("pitchwheel", pitch=0)))
        start += ph.seconds + gap
    events.sort(key=lambda e: (e[0], e[1]))
    mid = mido.MidiFile(ticks_per_beat=tpb)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=tempo))
    track.append(mido.Message("program_change", program=program))
    track.append(mido.Message("control_change", control=7, value=110))
    now = 0
    for t, _, msg in events:
        tick = int(round(t * 1920))
        track.append(msg.copy(time=max(0, tick - now)))
        now = max(now, tick)
    mid.save(str(path))
    return start


def render(phrases: list[Phrase], program: int) -> np.ndarray:
    """The phrases played by GM `program` through fluidsynth: mono float32 at 48 kHz."""
    import soundfile

    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "p.mid", Path(tmp) / "p.wav"
        midi_file(phrases, program, mid)
        subprocess.run(
            [
                FLUIDSYNTH,
                "-ni",
                "-q",
                "-R",
                "0",
                "-C",
                "0",
                "-g",
                "0.6",
                "-r",
                str(SR),
                "-O",
                "float",
                "-T",
                "wav",
                "-F",
                str(wav),
                str(SOUNDFONT),
                str(mid),
            ],
            check=True,
            capture_output=True,
        )
        audio, sr = soundfile.read(str(wav), dtype="float32", always_2d=True)
    assert sr == SR
    return audio.mean(axis=1).astype(np.float32)


def training_phrases(seed: int, chorales: int = 30, extra: int = 50) -> list[Phrase]:
    """The cello's training phrases: two voices of each of the first `chorales` chorales
    (about 30 s each) placed in MIDI 36-84 (C2-C6: the cello's range and a little above, so
    a flute or voice fed to it is still in the range it learned), and `extra` generated
    held-note phrases (about 12 s each)."""
    rng = random.Random(seed)
    lines = chorale_lines(chorales)
    lines = rng.sample(lines, min(len(lines), 2 * chorales))
    phrases = [place(line, rng, 36, 84) for line in lines]
    phrases += [generated(rng, 36, 84) for _ in range(extra)]
    rng.shuffle(phrases)
    return phrases


HELD_OUT_SKIP = 400  # held-out phrases come from chorales 400+ of the corpus: never trained on


def held_out_phrases(count: int = 8, seed: int = 1, max_seconds: float = 0.0) -> list[Phrase]:
    """Phrases no training run sees: chorale voices from the corpus's last chorales, in the
    common range of the cello and the input instruments (MIDI 52-76, E3-E5); each cut to
    its notes starting before `max_seconds` when that is > 0."""
    rng = random.Random(seed)
    lines = chorale_lines(count, skip=HELD_OUT_SKIP)
    rng.shuffle(lines)
    phrases = [place(line, rng, 52, 76) for line in lines[:count]]
    if max_seconds > 0:
        for p in phrases:
            p.notes = [n for n in p.notes if n[0] < max_seconds] or p.notes[:1]
    return phrases
