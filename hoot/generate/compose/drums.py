"""Drums: the shared kick, the archetype's kit around it, and a fill into the loop's start.

The kick is the moment's (the same for every candidate of a seed or groove); the kit
is the archetype's. Density and energy thin or fill the hats, complexity adds ghost
strokes, and the last bar of a phrase gives way to a fill that lands on a crash.
"""

from __future__ import annotations

from hoot.generate.compose.moment import Moment, Note
from hoot.generate.compose.patterns import (
    CABASA,
    CLAP,
    CLOSED_HAT,
    CRASH,
    DRUM_KITS,
    HATS,
    HIGH_MID_TOM,
    HIGH_TOM,
    KICK,
    LOW_TOM,
    METAL_SWAP,
    OPEN_HAT,
    PEDAL_HAT,
    RIDE,
    SKIN_SWAP,
    SNARE,
    TAMBOURINE,
    TOMS_DOWN,
    WEIGHT,
    Kit,
    pattern_hits,
)

# Drum machines hit exactly, and a one-shot needs no length: a short gate is enough.
DRUM_GATE = 0.9


def play(m: Moment) -> list[Note]:
    """The shared kick, the archetype's kit around it, and a fill into the loop's start."""
    kit = DRUM_KITS[m.style][m.archetype]
    if m.variant % 2 == 1:
        swap = METAL_SWAP if set(kit.voices) & set(METAL_SWAP) else SKIN_SWAP
        kit = Kit({swap.get(p, p): t for p, t in kit.voices.items()}, kit.fill)
    grid = m.grid
    hat_drive = 0.6 * m.density + 0.4 * m.energy
    hat_shine = 0.55 + 0.6 * m.brightness
    fill_bar = grid.bars - 1 if wants_fill(m) else None
    fill_from = fill_start(m) if fill_bar is not None else m.spb
    notes: list[Note] = []
    main_hat = next((p for p in kit.voices if p in (CLOSED_HAT, RIDE, TAMBOURINE)), CLOSED_HAT)
    for bar in range(grid.bars):
        base = bar * m.spb
        limit = fill_from if bar == fill_bar else m.spb
        for step, char in m.kicks(bar):
            notes.append((base + step, DRUM_GATE, KICK, m.velocity(WEIGHT[char] * 1.1)))
        hat_steps: set[int] = set()
        for pitch, pattern in kit.voices.items():
            for step, char in pattern_hits(grid, pattern, bar):
                chance = m.rng.random()
                if step >= limit and not (m.style == "jazz" and pitch in (RIDE, PEDAL_HAT)):
                    continue
                if char == "g" and chance > 0.2 + m.complexity:
                    continue  # ghost notes come with complexity
                weight = WEIGHT[char]
                if pitch in HATS:
                    if grid.strength(step) == 0 and chance > 0.25 + hat_drive:
                        continue  # sparse vibes thin the in-between sixteenths
                    if m.style == "jazz" and grid.strength(step) == 1 and chance > 0.5 + hat_drive:
                        continue  # and the skip notes of a ride pattern
                    weight *= hat_shine
                    hat_steps.add(step)
                notes.append((base + step, DRUM_GATE, pitch, m.velocity(weight)))
        if m.style not in ("ambient", "jazz"):
            # Busy, energetic vibes fill the gaps between hats with soft ones.
            for step in range(limit):
                chance = m.rng.random()
                if step in hat_steps or grid.strength(step) > 1:
                    continue
                if chance < (hat_drive - 0.6) * 1.2:
                    notes.append((base + step, DRUM_GATE, main_hat, m.velocity(0.4 * hat_shine)))
            if m.energy > 0.6 and bar % 2 == 1 and bar != fill_bar:
                last = len(grid.pulses) - 1
                notes.append((base + grid.upbeat(last), DRUM_GATE, OPEN_HAT, m.velocity(0.7)))
        elif m.style == "ambient":
            # Even ambient drums stir a little more when the vibe gets busier.
            for step in range(2, limit, 4):
                if m.rng.random() < (m.density - 0.3) * 0.15:
                    notes.append((base + step, DRUM_GATE, CABASA, m.velocity(0.3 * hat_shine)))
        if m.style in ("dnb", "hiphop", "jazz"):
            # Complexity adds ghost strokes on the snare between the backbeats.
            for step in range(0, limit, 2 if m.style == "jazz" else 1):
                chance = m.rng.random()
                if grid.strength(step) <= 1 and chance < (m.complexity - 0.45) * 0.25:
                    notes.append((base + step, DRUM_GATE, SNARE, m.velocity(0.3)))
    if fill_bar is not None:
        notes.extend(_drum_fill(m, kit.fill, fill_bar * m.spb, fill_from))
        if m.energy >= 0.45 and m.style != "ambient":
            # The fill lands on a crash when the loop comes round.
            notes.append((0, DRUM_GATE, CRASH, m.velocity(0.85)))
    return notes


def wants_fill(m: Moment) -> bool:
    """Fills mark the end of a phrase: the last bar of a clip of four bars or more."""
    if m.grid.bars < 4:
        return False
    return m.style != "ambient" or m.complexity > 0.6


def fill_start(m: Moment) -> int:
    """Where the fill starts in the last bar: one beat, or two with more complexity."""
    pulses = m.grid.pulses
    long_fill = m.complexity >= 0.55 or m.style == "jazz"  # jazz fills speak in eighths
    count = 2 if long_fill and len(pulses) >= 3 else 1
    return pulses[len(pulses) - count]


def _drum_fill(m: Moment, kind: str, base: int, start: int) -> list[Note]:
    steps = list(range(start, m.spb))
    if kind in ("jazz", "soft"):
        steps = [s for s in steps if s % 2 == 0]
    notes: list[Note] = []
    count = len(steps)
    for i, step in enumerate(steps):
        rise = 0.45 + 0.55 * (i + 1) / count  # fills build into the downbeat
        if kind == "roll":
            pitch = CLAP if m.style == "house" and i % 2 else SNARE
            notes.append((base + step, DRUM_GATE, pitch, m.velocity(rise)))
        elif kind == "toms":
            if i == 0:
                pitch = SNARE
            else:
                pitch = TOMS_DOWN[min(len(TOMS_DOWN) - 1, (i - 1) * len(TOMS_DOWN) // count)]
            notes.append((base + step, DRUM_GATE, pitch, m.velocity(rise)))
        elif kind == "chop":
            # Chopped breaks: a beat cut into snare and tom stabs.
            cell = ("xx.t", "x.xt", "xxt.", "x.tt")[(m.seed + step // 4) % 4]
            char = cell[i % 4]
            if char != ".":
                pitch = SNARE if char == "x" else HIGH_MID_TOM
                notes.append((base + step, DRUM_GATE, pitch, m.velocity(0.5 + 0.5 * rise)))
        elif kind == "jazz":
            pitch = SNARE if i % 2 == 0 else (HIGH_TOM if i < count / 2 else LOW_TOM)
            notes.append((base + step, DRUM_GATE, pitch, m.velocity(0.4 + 0.5 * rise)))
        elif kind == "soft" and i == count - 1:
            notes.append((base + step, DRUM_GATE, LOW_TOM, m.velocity(0.5)))
    return notes
