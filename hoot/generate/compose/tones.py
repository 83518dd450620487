"""The notes of a chord as the pitched roles reach for them: its bass note, fifth, third
and seventh, its tones within a range and the key, and the note that leads into one.
"""

from __future__ import annotations

from hoot.generate.compose.moment import Moment
from hoot.music.harmony import Chord


def nearest_pc(pc: int, near: float, low: int, high: int) -> int:
    """The pitch of pitch class `pc` nearest to `near`, kept within [low, high]."""
    best = None
    for pitch in range(low, high + 1):
        if pitch % 12 == pc % 12 and (best is None or abs(pitch - near) < abs(best - near)):
            best = pitch
    if best is None:
        best = low + (pc - low) % 12
    return best


def bass_pc(chord: Chord) -> int:
    """The chord's bass note: the root, or the note under the slash."""
    return chord.root if chord.bass is None else chord.bass


def fifth_of(chord: Chord) -> int:
    for semitones in (7, 6, 8):
        pc = chord.interval_pc(semitones)
        if pc is not None:
            return pc
    return chord.root


def third_of(chord: Chord) -> int:
    for semitones in (4, 3, 5, 2):
        pc = chord.interval_pc(semitones)
        if pc is not None:
            return pc
    return chord.root


def seventh_of(chord: Chord) -> int | None:
    for semitones in (10, 11, 9):
        pc = chord.interval_pc(semitones)
        if pc is not None:
            return pc
    return None


def tones_in_key(m: Moment, chord: Chord, low: int, high: int) -> list[int]:
    """The chord's pitches in a range, keeping to the key when the chord allows."""
    tones = chord.tones(low, high)
    inside = [p for p in tones if m.key.contains(p)]
    return inside or tones


def approach(m: Moment, target: int, came_from: int, steps: float) -> int:
    """A note leading into `target`: a semitone away when it is chromatic, the
    allowance lasts and the vibe is complex enough; otherwise the scale step next to it."""
    side = -1 if came_from <= target else 1
    chance = m.tune_rng.random()
    chromatic = target + side
    if chance < m.complexity * 0.6 and not m.key.contains(chromatic):
        if m.spend_chromatic(steps):
            return chromatic
    return m.key.step(target, side)
