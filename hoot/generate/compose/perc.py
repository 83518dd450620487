"""Hand percussion over the drums: congas, shakers, bells and wood, thinned by density,
with a conga run down into the loop's first beat where the drums fill.
"""

from __future__ import annotations

from hoot.generate.compose.drums import DRUM_GATE, fill_start, wants_fill
from hoot.generate.compose.moment import Moment, Note
from hoot.generate.compose.patterns import (
    CABASA,
    EUCLID,
    HATS,
    HIGH_BONGO,
    LOW_CONGA,
    MUTE_CONGA,
    OPEN_CONGA,
    PERC_SWAP,
    PERCUSSION,
    WEIGHT,
    euclid,
    pattern_hits,
    rotated,
)


def play(m: Moment) -> list[Note]:
    """Hand percussion over the drums, thinned by density, with a conga run at the end."""
    grid = m.grid
    quiet = {"ambient": 0.55, "jazz": 0.75}.get(m.style, 1.0)
    keep_base = 0.2 if m.style == "ambient" else 0.45
    fill_bar = grid.bars - 1 if wants_fill(m) else None
    fill_from = fill_start(m) if fill_bar is not None else m.spb
    notes: list[Note] = []
    for bar in range(grid.bars):
        base = bar * m.spb
        limit = fill_from if bar == fill_bar else m.spb
        for step, pitch, char in _perc_hits(m, bar):
            chance = m.rng.random()
            if step >= limit:
                continue
            if char == "g" and chance > 0.2 + m.complexity:
                continue
            if grid.strength(step) <= 1 and chance > keep_base + m.density:
                continue
            weight = WEIGHT[char] * quiet * (0.8 + 0.4 * m.brightness if pitch in HATS else 1.0)
            notes.append((base + step, DRUM_GATE, pitch, m.velocity(weight)))
    if fill_bar is not None:
        # A conga run down into the loop's first beat.
        drums = (HIGH_BONGO, MUTE_CONGA, OPEN_CONGA, LOW_CONGA)
        steps = [s for s in range(fill_from, m.spb) if m.style != "jazz" or s % 2 == 0]
        for i, step in enumerate(steps):
            pitch = drums[min(3, i * 4 // max(1, len(steps)))]
            rise = 0.5 + 0.5 * (i + 1) / len(steps)
            notes.append((fill_bar * m.spb + step, DRUM_GATE, pitch, m.velocity(rise * quiet)))
    return notes


def _perc_hits(m: Moment, bar: int) -> list[tuple[int, int, str]]:
    if m.archetype == EUCLID:
        # Three hand drums in evenly spread cycles, rotated against each other.
        spb = m.spb
        rotate = m.variant + m.seed % 3
        low = euclid(max(2, round(spb * (0.12 + 0.1 * m.density))), spb, rotate)
        high = euclid(max(3, round(spb * (0.2 + 0.15 * m.density))), spb, rotate + 2)
        shake = euclid(max(2, round(spb * 0.5)), spb, 1)
        hits = [(s, LOW_CONGA, "x") for s in low]
        hits += [(s, MUTE_CONGA, "o") for s in high if s not in low]
        hits += [(s, CABASA, "g") for s in shake]
        return hits
    voices = PERCUSSION[m.archetype]
    if m.variant % 2 == 1:
        # A second pass through the families plays each pattern a beat later, on other
        # instruments of the same family.
        voices = {PERC_SWAP.get(p, p): rotated(t, 4) for p, t in voices.items()}
    return [(s, pitch, c) for pitch, t in voices.items() for s, c in pattern_hits(m.grid, t, bar)]
