"""Lead: a melody, one note at a time, from the archetype (a hook, call and response,
an arpeggio, a riff, long tones, bebop lines, a sequence, a sparse voice).

Rhythms are built from one-beat cells (`patterns.CELLS`); `_sing` gives them pitches:
chord tones on the strong notes, following a contour, and scale steps between.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from hoot.generate.compose.moment import Moment, Note
from hoot.generate.compose.patterns import CELLS
from hoot.generate.compose.tones import approach, tones_in_key
from hoot.music.harmony import Chord

_LEAD_SPEED = {"house": "mid", "techno": "fast", "dnb": "mid", "hiphop": "mid", "jazz": "mid"}


def _cells_for(length: int, speed: str) -> tuple[str, ...]:
    table = CELLS.get(length) or CELLS[4]
    return table[speed]


def _bar_rhythm(
    m: Moment, speed: str, rest_bias: float, rng: random.Random
) -> list[tuple[int, int]]:
    """One bar of melody rhythm as (step in the bar, length in steps)."""
    starts: list[list[int]] = []
    for start, length in zip(m.grid.pulses, m.grid.pulse_lengths):
        cells = _cells_for(length, speed)
        cell = rng.choice(cells)
        if rng.random() < rest_bias:
            cell = "." * length
        if len(cell) != length:
            cell = (cell * length)[:length]
        if rng.random() < (m.complexity - 0.3) * 0.7 and cell[0] == "x":
            # Complexity pushes a beat's first note a sixteenth late: syncopation.
            cell = "." + cell[:-1]
        for i, char in enumerate(cell):
            if char == "x":
                starts.append([start + i, 1])
            elif char == "-" and starts:
                starts[-1][1] += 1
    return [(s, n) for s, n in starts]


def _speed(m: Moment, base: str | None = None) -> str:
    speed = base or ("slow" if m.style == "ambient" else _LEAD_SPEED[m.style])
    order = ("slow", "mid", "fast")
    i = order.index(speed)
    if m.density > 0.75 and i < 2:
        i += 1
    elif m.density < 0.2 and i > 0:
        i -= 1
    return order[i]


def _lead_range(m: Moment) -> tuple[int, int]:
    center = 72 + (m.register - 0.5) * 14 + (m.brightness - 0.5) * 6
    return round(center - 7), round(center + 9)


def _sing(
    m: Moment,
    rhythm: list[tuple[int, float]],
    contour: Callable[[float], float],
    low: int,
    high: int,
) -> list[int]:
    """Pitches for a rhythm: chord tones on the strong notes, following the contour,
    and scale steps between them, with now and then a chromatic note leading in."""
    if not rhythm:
        return []
    grid, key = m.grid, m.key
    total = grid.total_steps
    strong = []
    for i, (step, length) in enumerate(rhythm):
        gap = step - (rhythm[i - 1][0] + rhythm[i - 1][1]) if i else 99
        strong.append(i == 0 or grid.strength(step) >= 2 or length >= 4 or gap >= 2)
    pitches: list[int | None] = [None] * len(rhythm)
    previous = None
    for i, (step, _) in enumerate(rhythm):
        if not strong[i]:
            continue
        target = low + contour(step / total) * (high - low)
        chord = m.chord(step // m.spb)
        options = tones_in_key(m, chord, low, high)
        anchor = previous if previous is not None else target

        def cost(p: int, target: float = target, anchor: float = anchor) -> float:
            return abs(p - target) + 1.2 * max(0.0, abs(p - anchor) - 4)

        pitches[i] = min(options, key=lambda p: (cost(p), p))
        previous = pitches[i]
    i = 0
    while i < len(rhythm):
        if pitches[i] is not None:
            i += 1
            continue
        j = i
        while j < len(rhythm) and pitches[j] is None:
            j += 1
        before = pitches[i - 1] if i > 0 else None
        after = pitches[j] if j < len(rhythm) else None
        if before is None:
            before = key.nearest_in_scale(round(low + contour(0) * (high - low)))
        if after is None:
            step = rhythm[-1][0]
            after = key.nearest_in_scale(round(low + contour(step / total) * (high - low)))
        count = j - i
        last = before
        for q in range(count):
            ideal = before + (after - before) * (q + 1) / (count + 1)
            pitch = key.nearest_in_scale(round(ideal))
            if pitch == last and count > 1:
                pitch = key.step(last, 1 if after >= last else -1)
            pitches[i + q] = pitch
            last = pitch
        k = j - 1
        short = rhythm[k][1] <= 2
        if j < len(rhythm) and short and m.tune_rng.random() < (m.complexity - 0.35) * 0.8:
            came_from = pitches[k - 1] if k > i else None
            came_from = before if came_from is None else came_from
            pitches[k] = approach(m, after, came_from, rhythm[k][1])
        i = j
    return [int(min(high + 4, max(low - 4, low if p is None else p))) for p in pitches]


_CONTOURS: dict[str, Callable[[float], float]] = {
    "arch": lambda t: 0.25 + 0.6 * math.sin(math.pi * t),
    "descend": lambda t: 0.85 - 0.6 * t,
    "ascend": lambda t: 0.2 + 0.6 * t,
    "wave": lambda t: 0.5 + 0.35 * math.sin(4 * math.pi * t),
    "valley": lambda t: 0.75 - 0.5 * math.sin(math.pi * t),
}


def _phrase_contour(name: str, bars: int, per: int) -> Callable[[float], float]:
    """A contour that repeats every `per` bars of a clip of `bars` bars."""
    shape = _CONTOURS[name]
    repeats = max(1, bars // per)
    return lambda t: shape((t * repeats) % 1.0)


def play(m: Moment) -> list[Note]:
    """A melody from the archetype, one note at a time."""
    low, high = _lead_range(m)
    maker = _LEADS[m.archetype]
    placed = maker(m, low, high)
    notes: list[Note] = []
    for step, length, pitch, weight in sorted(placed):
        if notes and notes[-1][0] == step:
            continue
        notes.append((step, length, pitch, weight))
    out: list[Note] = []
    for i, (step, length, pitch, weight) in enumerate(notes):
        if i + 1 < len(notes):
            length = min(length, notes[i + 1][0] - step)
        out.append((step, length, int(pitch), m.velocity(weight)))
    return out


def _motif_bars(
    m: Moment, speed: str, rest_bias: float, rng: random.Random
) -> list[tuple[int, int]]:
    """A bar of rhythm with at least two notes and room to breathe."""
    for _ in range(8):
        rhythm = _bar_rhythm(m, speed, rest_bias, rng)
        if 2 <= len(rhythm) and sum(n for _, n in rhythm) < m.spb:
            return rhythm
    return [(0, 2), (m.grid.pulses[-1], 2)] if len(m.grid.pulses) > 1 else [(0, 2)]


def _lead_hook(m: Moment, low: int, high: int) -> list[tuple]:
    """A one-bar motif repeated and moved with the chords; every fourth bar answers it."""
    rng = random.Random(f"hook|{m.seed}|{m.index}")
    motif = _motif_bars(m, _speed(m), 0.15 - 0.1 * m.density, rng)
    answer = _motif_bars(m, _speed(m), 0.3, rng)
    shape = ("arch", "wave", "descend")[(m.seed + m.variant) % 3]
    first = _sing(m, [(s, n) for s, n in motif], _CONTOURS[shape], low, high)
    out = []
    for bar in range(m.grid.bars):
        base = bar * m.spb
        if bar % 4 == 3 or (bar == m.grid.bars - 1 and m.grid.bars > 1):
            rhythm = [(base + s, n) for s, n in answer]
            pitches = _sing(m, rhythm, _CONTOURS["descend"], low, high)
        else:
            rhythm = [(base + s, n) for s, n in motif]
            # The motif moves by scale steps so its first note lands on this bar's chord.
            chord = m.chord(bar)
            shift = _scale_shift(m, first[0], chord)
            pitches = _move_motif(m, first, rhythm, shift)
            pitches = _fit_strong(m, rhythm, pitches, low, high)
        out += [
            (s, n, p, 0.9 if m.grid.strength(s) >= 2 else 0.75)
            for (s, n), p in zip(rhythm, pitches)
        ]
    return out


def _move_motif(
    m: Moment, motif: list[int], rhythm: list[tuple[int, int]], shift: int
) -> list[int]:
    """The motif moved `shift` scale steps; a chromatic note keeps leading into the note
    after it while the allowance lasts, and otherwise becomes a scale step."""
    moved = [m.key.step(p, shift) if m.key.contains(p) else p for p in motif]
    for i, pitch in enumerate(motif):
        if m.key.contains(pitch):
            continue
        after = moved[i + 1] if i + 1 < len(moved) else moved[i - 1]
        side = 1 if pitch > (motif[i + 1] if i + 1 < len(motif) else pitch) else -1
        if m.spend_chromatic(rhythm[i][1]) and not m.key.contains(after + side):
            moved[i] = after + side
        else:
            moved[i] = m.key.step(after, side)
    return moved


def _scale_shift(m: Moment, pitch: int, chord: Chord) -> int:
    """Scale steps that move `pitch` onto the nearest tone of `chord` (0 if it is one)."""
    best, best_cost = 0, 99.0
    for shift in (0, 1, -1, 2, -2, 3, -3):
        moved = m.key.step(pitch, shift)
        if moved % 12 in chord.pitch_classes and abs(shift) < best_cost:
            best, best_cost = shift, abs(shift)
    return best


def _fit_strong(
    m: Moment, rhythm: list[tuple[int, int]], pitches: list[int], low: int, high: int
) -> list[int]:
    """Nudge strong-beat notes onto chord tones and keep the line in range."""
    out = []
    for (step, length), pitch in zip(rhythm, pitches):
        while pitch > high + 3:
            pitch -= 12
        while pitch < low - 3:
            pitch += 12
        if m.grid.strength(step) >= 2 or length >= 4:
            chord = m.chord(step // m.spb)
            if pitch % 12 not in chord.pitch_classes:
                options = tones_in_key(m, chord, pitch - 4, pitch + 4)
                if options:
                    pitch = min(options, key=lambda p: (abs(p - pitch), p))
        out.append(pitch)
    return out


def _lead_call_response(m: Moment, low: int, high: int) -> list[tuple]:
    """Two-bar phrases: a call that rises, an answer that falls home, then a breath."""
    rng = random.Random(f"call|{m.seed}|{m.index}")
    speed = _speed(m)
    call = _motif_bars(m, speed, 0.1, rng)
    reply = [(s, n) for s, n in call if s < m.spb // 2] or call[:1]
    out = []
    for bar in range(m.grid.bars):
        base = bar * m.spb
        if bar % 2 == 0:
            rhythm = [(base + s, n) for s, n in call]
            contour = _CONTOURS["ascend"]
        else:
            rhythm = [(base + s, n) for s, n in reply]
            last_step, last_len = rhythm[-1]
            rhythm[-1] = (last_step, max(last_len, m.spb // 2 - (last_step - base)))
            contour = _CONTOURS["descend"]
        pitches = _sing(
            m, rhythm, lambda t, c=contour, b=bar: c((t * m.grid.bars - b) % 1.0), low, high
        )
        if bar % 2 == 1:
            chord = m.chord(bar)
            home = tones_in_key(m, Chord(chord.root, "5"), low, high) or [pitches[-1]]
            pitches[-1] = min(home, key=lambda p: abs(p - pitches[-1]))
        out += [
            (s, n, p, 0.85 if i == 0 else 0.75)
            for i, ((s, n), p) in enumerate(zip(rhythm, pitches))
        ]
    return out


def _lead_arp(m: Moment, low: int, high: int) -> list[tuple]:
    """The chord's notes one after another, up, down or both, with a breath every other bar."""
    rate = 4 if m.style == "ambient" else (1 if m.density > 0.6 else 2)
    if m.style == "ambient" and m.density > 0.5:
        rate = 2
    orders = ("up", "updown", "down", "broken")
    order = orders[(m.seed + m.variant) % len(orders)]
    out = []
    for bar in range(m.grid.bars):
        chord = m.chord(bar)
        tones = tones_in_key(m, chord, low, high)
        if order == "down":
            tones = tones[::-1]
        elif order == "updown":
            tones = tones + tones[-2:0:-1]
        elif order == "broken":
            tones = [tones[i] for i in (0, 2, 1, 3, 2, 4, 3, 5) if i < len(tones)]
        steps = list(range(0, m.spb, rate))
        if bar % 2 == 1:
            steps = [s for s in steps if s < m.grid.pulses[-1]]  # breathe before the next bar
        for i, step in enumerate(steps):
            weight = 0.9 if m.grid.strength(step) >= 2 else 0.7
            out.append((bar * m.spb + step, rate * 0.8, tones[i % len(tones)], weight))
    return out


def _lead_riff(m: Moment, low: int, high: int) -> list[tuple]:
    """A busy one-bar riff of near neighbours, repeated on each bar's chord."""
    rng = random.Random(f"riff|{m.seed}|{m.index}")
    rhythm = _motif_bars(m, "fast" if m.density > 0.3 else "mid", 0.15, rng)
    moves = [0]
    for _ in range(len(rhythm) - 1):
        moves.append(max(-3, min(4, moves[-1] + rng.choice((-1, 1, 0, 1, -1, 2, -2)))))
    out = []
    for bar in range(m.grid.bars):
        chord = m.chord(bar)
        home = tones_in_key(m, chord, low, high)
        root = min(home, key=lambda p: abs(p - (low + high) / 2)) if home else (low + high) // 2
        placed = [(bar * m.spb + s, n) for s, n in rhythm]
        pitches = [m.key.step(root, mv) for mv in moves]
        if bar % 4 == 3:
            pitches = pitches[:-1] + [root]
        pitches = _fit_strong(m, placed, pitches, low, high)
        out += [
            (s, n * 0.85, p, 1.0 if i % 3 == 0 else 0.75)
            for i, ((s, n), p) in enumerate(zip(placed, pitches))
        ]
    return out


def _lead_long(m: Moment, low: int, high: int) -> list[tuple]:
    """Long tones, one or two a bar, moving by step between chord tones."""
    rhythm = []
    for bar in range(m.grid.bars):
        base = bar * m.spb
        starts = [0]
        if m.density > 0.35 or bar % 2 == 1:
            starts.append(m.grid.group_starts[-1] if len(m.grid.group_starts) > 1 else m.spb // 2)
        for i, s in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else m.spb
            if bar % 4 == 3 and i == len(starts) - 1:
                end = s + max(1, (end - s) // 2)  # a breath before the phrase turns
            rhythm.append((base + s, end - s))
    shape = ("arch", "valley", "descend")[(m.seed + m.variant) % 3]
    pitches = _sing(m, rhythm, _phrase_contour(shape, m.grid.bars, 4), low, high)
    return [(s, n, p, 0.7) for (s, n), p in zip(rhythm, pitches)]


def _lead_bebop(m: Moment, low: int, high: int) -> list[tuple]:
    """Swung eighth-note lines with rests between phrases; chord tones on the beats,
    scale and chromatic steps between."""
    rng = random.Random(f"bebop|{m.seed}|{m.index}")
    rhythm = []
    playing = True
    for bar in range(m.grid.bars):
        base = bar * m.spb
        for step in range(0, m.spb, 2):
            if step in m.grid.pulses and rng.random() < 0.22 - 0.12 * m.density:
                playing = not playing  # phrases start and stop on a beat
            if playing:
                rhythm.append((base + step, 2))
        if bar % 2 == 1:
            playing = rng.random() < 0.5 + 0.3 * m.density
    if not rhythm:
        rhythm = [(0, 2), (2, 2), (4, 4)]
    shape = ("wave", "arch", "descend")[(m.seed + m.variant) % 3]
    pitches = _sing(m, rhythm, _phrase_contour(shape, m.grid.bars, 2), low, high)
    return [
        (s, n * 0.9, p, 0.85 if m.grid.strength(s) >= 2 else 0.65)
        for (s, n), p in zip(rhythm, pitches)
    ]


def _lead_sequence(m: Moment, low: int, high: int) -> list[tuple]:
    """A three- or four-note cell repeated a scale step higher (or lower) each time."""
    rng = random.Random(f"seq|{m.seed}|{m.index}")
    size = 3 if (m.seed + m.variant) % 2 else 4
    cell = [rng.choice((0, 1, 2, -1)) for _ in range(size - 1)]
    cell = [0] + cell
    direction = 1 if (m.seed // 2 + m.variant) % 2 == 0 else -1
    rate = 2 if m.style not in ("techno",) or m.density < 0.5 else 1
    if m.style == "ambient":
        rate = 4
    out = []
    for bar in range(m.grid.bars):
        base = bar * m.spb
        chord = m.chord(bar)
        tones = tones_in_key(m, chord, low, high)
        start = tones[len(tones) // 3] if direction > 0 else tones[(2 * len(tones)) // 3]
        position = 0
        for group, (pulse, length) in enumerate(zip(m.grid.pulses, m.grid.pulse_lengths)):
            if bar % 2 == 1 and group == len(m.grid.pulses) - 1:
                break  # rest at the end of every second bar
            for slot in range(0, length, rate):
                degree = cell[position % size] + direction * (position // size)
                pitch = m.key.step(start, degree)
                out.append((base + pulse + slot, rate * 0.85, pitch, 0.85 if slot == 0 else 0.7))
                position += 1
    placed = [(s, n) for s, n, _, _ in out]
    pitches = _fit_strong(m, placed, [p for _, _, p, _ in out], low, high)
    return [(s, n, p, w) for (s, n, _, w), p in zip(out, pitches)]


def _lead_sparse(m: Moment, low: int, high: int) -> list[tuple]:
    """A few notes a bar, off the beat and held, like a voice between lines."""
    rng = random.Random(f"sparse|{m.seed}|{m.index}")
    rhythm = []
    for bar in range(m.grid.bars):
        base = bar * m.spb
        count = 1 + (rng.random() < 0.4 + 0.5 * m.density) + (rng.random() < m.density * 0.5)
        candidates = sorted(
            {m.grid.upbeat(p) for p in range(len(m.grid.pulses))}
            | {s + 3 for s in m.grid.pulses if s + 3 < m.spb}
        )
        chosen = sorted(rng.sample(candidates, min(count, len(candidates))))
        for i, s in enumerate(chosen):
            end = chosen[i + 1] if i + 1 < len(chosen) else m.spb
            rhythm.append((base + s, max(1, (end - s) * 3 // 4)))
    shape = ("valley", "arch", "descend")[(m.seed + m.variant) % 3]
    pitches = _sing(m, rhythm, _phrase_contour(shape, m.grid.bars, 2), low, high)
    return [(s, n, p, 0.8) for (s, n), p in zip(rhythm, pitches)]


_LEADS: dict[str, Callable[[Moment, int, int], list[tuple]]] = {
    "hook": _lead_hook,
    "call-response": _lead_call_response,
    "arp": _lead_arp,
    "riff": _lead_riff,
    "long": _lead_long,
    "bebop": _lead_bebop,
    "sequence": _lead_sequence,
    "sparse": _lead_sparse,
}
