"""Pads: held chords, wider and higher than comping, shaped by the archetype (sustained,
gated, in halves, rolled, a moving top line, an open voicing, breathing after the one).
"""

from __future__ import annotations

from hoot.generate.compose.chords import chord_center, close_voicing, inverted
from hoot.generate.compose.moment import Moment, Note
from hoot.generate.compose.patterns import Grid
from hoot.generate.compose.tones import (
    bass_pc,
    fifth_of,
    nearest_pc,
    seventh_of,
    third_of,
    tones_in_key,
)
from hoot.music.harmony import Chord


def play(m: Moment) -> list[Note]:
    """Held chords, wider and higher than comping, shaped by the archetype."""
    grid = m.grid
    center = chord_center(m, 64) + (m.family % 3 - 1) * 3
    size = 4 if m.density >= 0.25 else 3
    if m.variant % 2 == 1:
        center, size = center + 5, size + 1  # a second take voices it higher and fuller
    notes: list[list[float]] = []  # start, length, pitch, weight: lengths grow while held
    previous: list[int] | None = None
    held: dict[int, list[float]] = {}
    for bar in range(grid.bars):
        base = bar * m.spb
        chord = m.chord(bar)
        upper = close_voicing(chord, center + 3, size, previous)
        previous = upper
        bass_tone = nearest_pc(bass_pc(chord), center - 14, 36, 60)
        voicing = upper if m.archetype != "open" else _open_voicing(chord, center)
        voicing = inverted(voicing, m.variant)
        if m.archetype in ("sustain", "open", "breath"):
            spans = [(0, m.spb)]
            if m.density > 0.7:
                spans = _half_spans(grid)
            if m.archetype == "breath":
                # It breathes in after the downbeat, the way a sidechained pad does.
                spans = [(grid.pulses[1] if len(grid.pulses) > 1 else 1, m.spb)]
            same = bar > 0 and m.chord(bar - 1) == chord and m.archetype == "sustain"
            if same and spans == [(0, m.spb)] and held:
                for note in held.values():
                    note[1] += m.spb  # a pad holds through a repeated chord
                continue
            held = {}
            for start, end in spans:
                for pitch in voicing:
                    note = [base + start, end - start, pitch, 0.6]
                    held[pitch] = note
                    notes.append(note)
            if m.archetype == "sustain" and m.brightness < 0.4:
                notes.append([base, m.spb, bass_tone, 0.5])
        elif m.archetype == "halves" or m.archetype == "gated":
            if m.archetype == "halves":
                spans = _half_spans(grid)
            else:
                rate = 2 if m.density < 0.75 else 1
                spans = [(s, s + rate) for s in range(0, m.spb, rate)]
            for i, (start, end) in enumerate(spans):
                gate = 1.0 if m.archetype == "halves" else 0.75
                weight = 0.65 if i == 0 else 0.5
                for pitch in voicing:
                    notes.append([base + start, (end - start) * gate, pitch, weight])
        elif m.archetype == "rolled":
            spacing = 2 if m.density < 0.6 else 1
            for j, pitch in enumerate(sorted(voicing)):
                start = min(j * spacing, m.spb - 1)
                notes.append([base + start, m.spb - start, pitch, 0.6])
        elif m.archetype == "top-line":
            inner = sorted(voicing)[:-1]
            for pitch in inner:
                notes.append([base, m.spb, pitch, 0.55])
            tops = [p for p in tones_in_key(m, chord, max(inner) + 1, max(inner) + 12)]
            spans = (
                _half_spans(grid)
                if m.density < 0.6
                else [(s, s + n) for s, n in zip(grid.pulses, grid.pulse_lengths)]
            )
            for i, (start, end) in enumerate(spans):
                top = tops[(i + m.variant + bar) % len(tops)] if tops else max(voicing)
                notes.append([base + start, end - start, top, 0.6])
    return [(n[0], n[1], int(n[2]), m.velocity(n[3], 3)) for n in notes]


def _open_voicing(chord: Chord, center: float) -> list[int]:
    """Root and fifth low, third and seventh (or octave) an octave up: wide and hollow."""
    root = nearest_pc(chord.root, center - 10, 36, 72)
    fifth = nearest_pc(fifth_of(chord), root + 7, root + 1, root + 12)
    third = nearest_pc(third_of(chord), root + 15, root + 12, root + 24)
    seventh = seventh_of(chord)
    top = nearest_pc(seventh, root + 22, third + 1, third + 12) if seventh is not None else None
    return [root, fifth, third] + ([top] if top is not None else [root + 24])


def _half_spans(grid: Grid) -> list[tuple[int, int]]:
    """The bar's felt halves as (start, end) steps."""
    starts = list(grid.halves)
    return [
        (s, starts[i + 1] if i + 1 < len(starts) else grid.steps_per_bar)
        for i, s in enumerate(starts)
    ]
