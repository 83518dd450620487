"""The rule-based guard the real-time models play through: keys, ranges, consonance.

A small Notochord trained on a few hundred chorales is "plausible but often chromatic" when
left alone (research/models.md §1: G4-A3-E3-C2 then A4-C4-D#3-F#2 after 20 minutes of
training). Notochord's own answer to that is its constraint mechanism: `include_pitch` hands
the model the only pitches it may choose from and it samples among them with its learnt
probabilities. The harmonizer and the improviser build those sets here, from perf.key's
strings, so a weak model still plays in key, and a strong one still chooses.

Torch-free: the model is anything with Notochord's `feed` and `query` (contract A), so the
stand-in of the tests and the real model drop into the same code.
"""

from __future__ import annotations

from typing import Any, Protocol

from hoot.errors import HootError
from hoot.music.harmony import Key

CONSONANT: frozenset[int] = frozenset({0, 3, 4, 7, 8, 9})
"""Intervals (semitones, modulo the octave) a harmony note is steered to with the note it
answers: unison and octave, minor and major thirds, the fifth, minor and major sixths. The
fourth is left out: below the melody it sounds as a 6/4 against the lowest voice, which
common-practice harmony treats as a dissonance."""

LOWEST_PITCH, HIGHEST_PITCH = 0, 127
INSTRUMENTS = range(1, 321)
"""Notochord's instrument ids: 1-128 GM melodic (program + 1), 129-256 drum kits, 257-320
anonymous melodic and drum instruments."""


class Model(Protocol):
    """What the harmonizer and the improviser need of Notochord (contract A)."""

    def feed(self, inst: int, pitch: int, time: float, vel: float) -> None: ...

    def query(self, **constraints: Any) -> dict: ...


def key_of(key: str | Key | None) -> Key | None:
    """A key from perf.key's words ("D minor", "F# dorian"), or None for no key (any pitch)."""
    if key is None:
        return None
    try:
        return Key.parse(key)
    except ValueError as error:
        raise HootError(str(error)) from None


def in_key(key: Key | None, low: int, high: int) -> set[int]:
    """Every pitch from `low` to `high` (both included, clamped to MIDI's 0-127) that the key
    allows; every pitch when there is no key."""
    low, high = max(LOWEST_PITCH, low), min(HIGHEST_PITCH, high)
    if key is None:
        return set(range(low, high + 1))
    return set(key.pitches(low, high))


def consonant_with(pitch: int, candidates: set[int]) -> set[int]:
    """The candidates that form a CONSONANT interval with `pitch`."""
    return {c for c in candidates if abs(c - pitch) % 12 in CONSONANT}


def nearest(pitch: int, candidates: set[int]) -> int:
    """The candidate closest to `pitch` (the lower one on a tie): where an answer from a model
    that ignored its constraints is put back inside them."""
    return min(candidates, key=lambda c: (abs(c - pitch), c))


def instrument(value: Any, what: str) -> int:
    """An instrument id checked against Notochord's range, or a HootError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in INSTRUMENTS:
        raise HootError(
            f"{what} must be a Notochord instrument id from 1 to 320 "
            f"(1-128 are General MIDI programs + 1), got {value!r}"
        )
    return value


def number(value: Any, what: str, low: float, high: float) -> float:
    """A number within [low, high], or a HootError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise HootError(f"{what} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def whole(value: Any, what: str, low: int, high: int) -> int:
    """A whole number within [low, high], or a HootError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise HootError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return value


def velocity(value: Any) -> int:
    """A model's velocity as MIDI's 1-127 for a note-on."""
    return max(1, min(127, round(float(value))))
