"""Chords: comping rhythms, each hit a close voicing that moves least from the last.

The voicing machinery lives here and pads borrow it: a close voicing near a centre
that the register and brightness move, rootless for jazz when the vibe is complex.
"""

from __future__ import annotations

from hoot.generate.compose.moment import Moment, Note
from hoot.generate.compose.patterns import COMPING, WEIGHT, pattern_hits, rotated
from hoot.music.harmony import Chord


def close_voicing(
    chord: Chord, center: float, size: int, previous: list[int] | None, rootless: bool = False
) -> list[int]:
    """A close voicing of the chord near `center`, chosen to move least from `previous`.

    `rootless` leaves the root to the bass (3rd, 5th, 7th, 9th), as jazz pianists do.
    """
    pcs = list(chord.pitch_classes)
    if rootless and len(pcs) >= 4:
        pcs = pcs[1:]
    if len(pcs) > size:
        # Keep the colour: drop the fifth before the third or seventh.
        fifth = chord.interval_pc(7)
        if fifth in pcs and fifth != chord.root and len(pcs) - 1 >= size:
            pcs.remove(fifth)
        pcs = pcs[:size]
    candidates = []
    for rotation in range(len(pcs)):
        order = pcs[rotation:] + pcs[:rotation]
        for octave in (-12, 0, 12):
            low = round(center) - 6 + octave
            pitches = []
            floor = low
            for pc in order:
                pitch = floor + (pc - floor) % 12
                pitches.append(pitch)
                floor = pitch + 1
            while len(pitches) < size:
                pitches.append(pitches[len(pitches) - len(order)] + 12)
            candidates.append(pitches)
    previous_sorted = sorted(previous) if previous else None

    def cost(pitches: list[int]) -> float:
        spread = abs(sum(pitches) / len(pitches) - center)
        if not previous_sorted:
            return spread
        moves = sum(abs(a - b) for a, b in zip(sorted(pitches), previous_sorted))
        return moves + 0.8 * spread

    best = min(candidates, key=lambda p: (cost(p), p))
    return [min(108, max(24, p)) for p in best]


def inverted(voicing: list[int], variant: int) -> list[int]:
    """The voicing as a later round of candidates plays it: the third and fourth rounds
    an inversion up (the lowest note leaves, the next chord tone above the top joins),
    the fifth and sixth an inversion down. So a batch bigger than the families and
    their second takes still has chords of its own to offer."""
    turn = (0, 1, -1)[(variant // 2) % 3]
    notes = sorted(voicing)
    if not turn or len(notes) < 2:
        return notes
    classes = {p % 12 for p in notes}
    if turn > 0:
        pitch = notes[-1] + 1
        while pitch % 12 not in classes:
            pitch += 1
        return notes[1:] + [pitch]
    pitch = notes[0] - 1
    while pitch % 12 not in classes:
        pitch -= 1
    return [pitch] + notes[:-1]


def chord_center(m: Moment, base: float) -> float:
    return base + (m.register - 0.5) * 14 + (m.brightness - 0.5) * 8


# Chords whose notes enter one after another, and how many steps apart.
_ROLLED = {"swell": 3, "rolled": 1}


def play(m: Moment) -> list[Note]:
    """Comping: the archetype's rhythm, each hit a voicing that moves little from the last."""
    grid = m.grid
    pattern = COMPING[m.archetype]
    if m.variant % 2 == 1:
        pattern = rotated(pattern, 2)
    jazz = m.style == "jazz"
    size = 4 if (jazz or m.complexity > 0.6 or m.family % 2) else 3
    # Each family sits in its own place on the keyboard: low, middle or high voicings.
    center = chord_center(m, 64 if jazz else 62) + (m.family % 3 - 1) * 4
    hits_by_bar = []
    for bar in range(grid.bars):
        hits = []
        for i, (step, char) in enumerate(pattern_hits(grid, pattern, bar)):
            chance = m.rng.random()
            core = i == 0 or grid.strength(step) >= 3
            if not core and chance > 0.3 + m.density * 0.95:
                continue  # sparse vibes keep only the hits on the bar's strong beats
            hits.append((bar * m.spb + step, char))
        if bar > 0 and hits and hits[0][0] == bar * m.spb:
            # Complexity pushes some downbeats a sixteenth early: the chord comes in ahead.
            if m.rng.random() < (m.complexity - 0.45) * 0.8 and all(
                h[0] < bar * m.spb - 1 for h in hits_by_bar[-1:]
            ):
                hits[0] = (bar * m.spb - 1, hits[0][1])
        if m.density > 0.7:
            # Busy vibes add a soft re-hit on the eighth after a short hit.
            for step, char in list(hits):
                chance = m.rng.random()
                if char == "x" and chance < (m.density - 0.7) * 2 and step + 2 < (bar + 1) * m.spb:
                    hits.append((step + 2, "g"))
        hits_by_bar.extend(sorted(set(hits)))
    hits_by_bar.sort()
    notes: list[Note] = []
    previous: list[int] | None = None
    total = grid.total_steps
    for i, (step, char) in enumerate(hits_by_bar):
        bar, in_bar = divmod(step, m.spb)
        # A hit in the last eighth of a bar anticipates the next bar's chord.
        chord = m.next_chord(bar) if in_bar >= m.spb - 2 and bar < grid.bars else m.chord(bar)
        nxt = hits_by_bar[i + 1][0] if i + 1 < len(hits_by_bar) else total
        boundary = (bar + 1) * m.spb if in_bar < m.spb - 2 else (bar + 2) * m.spb
        end = min(nxt, boundary, total)
        if char == "l":
            length = end - step
        elif char == "h":
            length = max(1.0, (end - step) / 2)
        else:
            length = min(end - step, 1.2 if m.style != "ambient" else 3.0)
        voicing = close_voicing(chord, center, size, previous, rootless=jazz and m.complexity > 0.5)
        previous = voicing
        voicing = inverted(voicing, m.variant)
        weight = WEIGHT.get(char, 0.38) * (1.0 if grid.strength(in_bar) >= 2 else 0.9)
        for j, pitch in enumerate(voicing):
            delay = j * _ROLLED.get(m.archetype, 0)
            if delay >= length:
                delay = 0
            notes.append((step + delay, length - delay, pitch, m.velocity(weight, 3)))
    return notes
