"""Lead: a melody, one note at a time, from the archetype (a hook, call and response,
an arpeggio, a riff, long tones, bebop lines, a sequence, a sparse voice).

Rhythms are built from one-beat cells (`patterns.CELLS`); `_sing` gives them pitches:
chord tones on the strong notes, following a contour, and scale steps between.

Leads sing: folk and dance tunes move by a semitone or a tone about half the time,
and after a leap wider than a third they mostly step back into the gap. Every line
but the arpeggio (which moves in thirds by design) ends in `_smooth`, which turns a
weak note that leaps or repeats into the step between its neighbours. Over every
style, six keys and six meters (tests/generate/test_melody.py) leads now move by step
60% of the time (33% before), repeat a note 8% (21%) and leap wider than a third 2%
(17%), and 73% of those leaps step back (11%).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable

from hoot.generate.compose.moment import Moment, Note
from hoot.generate.compose.patterns import CELLS
from hoot.generate.compose.tones import approach, nearest_pc, tones_in_key
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
    before: list[int] | None = None,
) -> list[int]:
    """Pitches for a rhythm, the way a singer moves.

    The strong notes (the first, those on a beat, the long ones) are chord tones near
    the contour, each chosen so that the notes before it can walk there by scale steps
    (`_walk`): a passing note, a neighbour, a turn. A leap wider than a third is
    answered by a step back where the line allows, and now and then, with complexity,
    a chromatic note leads into a strong one. `before` is the line so far (its last
    two notes are enough), so that a phrase takes up where the one before it ended.
    """
    if not rhythm:
        return []
    grid, total = m.grid, m.grid.total_steps
    ladder = m.key.pitches(low - 14, high + 14)

    def height(step: float) -> float:
        return low + contour(step / total) * (high - low)

    strong = [
        i == 0 or grid.strength(step) >= 2 or length >= 4 for i, (step, length) in enumerate(rhythm)
    ]
    line = list(before or [])[-2:]
    came = line[-1] - line[-2] if len(line) == 2 else 0  # the move into the latest note
    pitches: list[int] = []
    for j, (step, _) in enumerate(rhythm):
        if not strong[j]:
            continue
        options = tones_in_key(m, m.chord(step // m.spb), low, high)
        if not line:
            pitch, walk = min(options, key=lambda p: (abs(p - height(step)), p)), []
        else:
            ranked = []
            for option in options:
                steps, cost = _best_walk(ladder, line[-1], option, j - len(pitches), came)
                leap = option - ([line[-1], *steps][-1])
                if abs(leap) > 4 and not _answerable(m, rhythm, strong, j, option, leap):
                    cost += 1.0
                ranked.append((cost + 0.25 * abs(option - height(step)), option, steps))
            _, pitch, walk = min(ranked)
        line = [*line[-1:], *walk, pitch]
        came = line[-1] - line[-2] if len(line) >= 2 else 0
        pitches += [*walk, pitch]
        if walk and rhythm[j - 1][1] <= 2 and m.tune_rng.random() < (m.complexity - 0.35) * 0.8:
            lead_in = approach(m, pitch, line[-3], rhythm[j - 1][1])
            if lead_in != line[-3]:
                pitches[j - 1] = lead_in
    if len(pitches) < len(rhythm):
        # The phrase ends on weak notes: they walk toward where the contour points.
        goal = m.key.nearest_in_scale(round(height(rhythm[-1][0])))
        pitches += _best_walk(ladder, pitches[-1], goal, len(rhythm) - len(pitches), came)[0]
    return [int(min(high + 4, max(low - 4, p))) for p in pitches]


def _answerable(
    m: Moment, rhythm: list[tuple[int, float]], strong: list[bool], j: int, pitch: int, leap: int
) -> bool:
    """Whether the note after note `j` can step back from a leap into it: a weak note
    can; a strong one only if its chord has a tone a step back; the last note cannot."""
    if j + 1 >= len(rhythm):
        return False
    if not strong[j + 1]:
        return True
    step = rhythm[j + 1][0]
    back = range(pitch - 2, pitch) if leap > 0 else range(pitch + 1, pitch + 3)
    return any(p in back for p in tones_in_key(m, m.chord(step // m.spb), pitch - 2, pitch + 2))


def _best_walk(
    ladder: list[int], start: int, end: int, count: int, came: int
) -> tuple[list[int], float]:
    """The better of the two ways of walking `count` notes from `start` to `end` (setting
    off up or down), and how far it is from singing (`_line_cost`, counting the move
    that came into `start`)."""
    walks = [_walk(ladder, start, end, count, turn) for turn in (1, -1)]
    costs = [_line_cost([came, *_moves([start, *walk, end])]) for walk in walks]
    return (walks[0], costs[0]) if costs[0] <= costs[1] else (walks[1], costs[1])


def _walk(ladder: list[int], start: int, end: int, count: int, turn: int) -> list[int]:
    """`count` scale notes leading from `start` to `end`, as near to all steps as the
    distance allows. With room to spare the line passes beyond the goal and comes back
    to it, or sets off the other way first (`turn` says which way it sets off); when
    the room is odd, one move is a third, taken first; with no room, the moves widen."""
    if count == 0:
        return []
    a, b = _position(ladder, start), _position(ladder, end)
    moves = count + 1
    distance = b - a
    if abs(distance) >= moves:
        positions = [a + round(distance * (q + 1) / moves) for q in range(count)]
    else:
        units = []
        if (moves - abs(distance)) % 2:
            third = 2 * turn if abs(distance - 2 * turn) <= moves - 1 else -2 * turn
            units.append(third)
            distance -= third
            moves -= 1
        spare = (moves - abs(distance)) // 2
        if distance and (distance > 0) == (turn > 0):
            units += [turn] * (abs(distance) + spare) + [-turn] * spare
        else:
            units += [turn] * spare + [-turn] * (abs(distance) + spare)
        positions = [a + sum(units[: q + 1]) for q in range(count)]
    return [ladder[min(len(ladder) - 1, max(0, p))] for p in positions]


def _position(ladder: list[int], pitch: int) -> int:
    """Where a pitch sits on the scale's ladder (a note off the scale: the nearest, the
    lower of two as near)."""
    k = bisect.bisect_left(ladder, pitch)
    if k == len(ladder) or (k > 0 and pitch - ladder[k - 1] <= ladder[k] - pitch):
        return max(0, k - 1)
    return k


def _moves(line: list[int]) -> list[int]:
    return [b - a for a, b in zip(line, line[1:])]


def _line_cost(moves: list[int]) -> float:
    """How far a run of moves is from singing: a step costs nothing, a repeat or a third
    one, a wider leap one and a half and a half more for every semitone past a major
    third, and a leap not answered by a step back one more. The first move is the one
    that came into the run, counted only for whether the next answers it."""
    cost = 0.0
    for move in moves[1:]:
        size = abs(move)
        cost += 0.0 if 1 <= size <= 2 else (1.0 if size <= 4 else 1.5 + 0.5 * (size - 4))
    for move, after in zip(moves, moves[1:]):
        if abs(move) > 4 and not (1 <= abs(after) <= 2 and (move > 0) != (after > 0)):
            cost += 1.0
    return cost


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
    if m.archetype != "arp":  # an arpeggio moves in thirds on purpose
        _smooth(m, notes)
    out: list[Note] = []
    for i, (step, length, pitch, weight) in enumerate(notes):
        if i + 1 < len(notes):
            length = min(length, notes[i + 1][0] - step)
        out.append((step, length, int(pitch), m.velocity(weight)))
    return out


def _smooth(m: Moment, notes: list[tuple]) -> None:
    """Let a line sing. A weak note that leaps or repeats where a scale step would lead
    from the note before to the note after becomes that step; after a leap wider than a
    third the next note steps back into the gap, a strong one only onto a chord tone."""
    for k in range(1, len(notes)):
        step, length, pitch, weight = notes[k]
        before = notes[k - 1][2]
        after = notes[k + 1][2] if k + 1 < len(notes) else None
        came = before - notes[k - 2][2] if k >= 2 else 0
        if m.grid.strength(int(step)) < 2 and length < 4:
            options = [
                p for p in range(before - 2, before + 3) if p != before and m.key.contains(p)
            ]
        elif abs(came) > 4:
            chord = m.chord(int(step) // m.spb)
            options = [p for p in tones_in_key(m, chord, before - 2, before + 2) if p != before]
        else:
            continue
        costs = {p: _sung(came, before, p, after) + 0.1 * abs(p - pitch) for p in options}
        best = min(costs, key=lambda p: (costs[p], p), default=None)
        if best is not None and costs[best] + 0.5 < _sung(came, before, pitch, after):
            notes[k] = (step, length, best, weight)


def _sung(came: int, before: int, pitch: int, after: int | None) -> float:
    """`_line_cost` of a note between two others, counting the move into the one before."""
    moves = [came, pitch - before] + ([] if after is None else [after - pitch])
    return _line_cost(moves)


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
            before = [p for _, _, p, _ in out[-2:]]
            pitches = _sing(m, rhythm, _CONTOURS["descend"], low, high, before)
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
            m,
            rhythm,
            lambda t, c=contour, b=bar: c((t * m.grid.bars - b) % 1.0),
            low,
            high,
            [p for _, _, p, _ in out[-2:]],
        )
        if bar % 2 == 1:
            # The answer comes home to the root or fifth nearest the note before it.
            chord = m.chord(bar)
            home = tones_in_key(m, Chord(chord.root, "5"), low, high) or [pitches[-1]]
            near = pitches[-2] if len(pitches) > 1 else pitches[-1]
            pitches[-1] = min(home, key=lambda p: (abs(p - near), p))
        out += [
            (s, n, p, 0.85 if i == 0 else 0.75)
            for i, ((s, n), p) in enumerate(zip(rhythm, pitches))
        ]
    return out


def _lead_arp(m: Moment, low: int, high: int) -> list[tuple]:
    """The chord's notes one after another, up and back down (or down and back up), with
    a breath every other bar.

    The notes are the chord in root position, stacked in thirds within an octave (a
    chord tone the key lacks gives way to the scale notes either side of it), and each
    bar's figure starts on its note nearest the last one: an arpeggio of thirds that
    turns round, rather than one that wraps with a leap of a sixth every few notes.
    """
    rate = 4 if m.style == "ambient" else (1 if m.density > 0.75 else 2)
    if m.style == "ambient" and m.density > 0.5:
        rate = 2
    falling = (m.seed + m.variant) % 2 == 1
    last = None
    out = []
    for bar in range(m.grid.bars):
        tones = _arpeggio(m, m.chord(bar), (low + high) / 2 - 4)
        if last is not None:
            # Of this octave and the ones either side, the one whose notes lie nearest
            # the last note, as long as it stays near the lead's range.
            octaves = [
                [p + shift for p in tones]
                for shift in (0, -12, 12)
                if low - 8 <= tones[0] + shift and tones[-1] + shift <= high + 8
            ]
            tones = min(octaves, key=lambda ps: min(abs(p - last) or 99 for p in ps))
        if falling:
            tones = tones[::-1]
        cycle = tones + tones[-2:0:-1]
        start = 0
        if last is not None:
            start = min(range(len(cycle)), key=lambda i: (abs(cycle[i] - last) or 99, i))
        steps = list(range(0, m.spb, rate))
        if bar % 2 == 1:
            steps = [s for s in steps if s < m.grid.pulses[-1]]  # breathe before the next bar
        for i, step in enumerate(steps):
            weight = 0.9 if m.grid.strength(step) >= 2 else 0.7
            last = cycle[(start + i) % len(cycle)]
            out.append((bar * m.spb + step, rate * 0.8, last, weight))
    return out


def _arpeggio(m: Moment, chord: Chord, near: float) -> list[int]:
    """The chord's notes in root position from the root nearest `near`, within an octave
    and in the key; a gap wider than a major third (a suspended chord, a tone the key
    lacks) takes the scale note in its middle, so the figure still moves in thirds."""
    root = nearest_pc(chord.root, near, round(near) - 6, round(near) + 6)
    tones = sorted({root + interval % 12 for interval in chord.intervals})
    tones = [p for p in tones if m.key.contains(p)] or tones
    i = 0
    while i + 1 < len(tones):
        if tones[i + 1] - tones[i] > 4:
            middle = m.key.nearest_in_scale((tones[i] + tones[i + 1]) // 2)
            if tones[i] < middle < tones[i + 1]:
                tones.insert(i + 1, middle)
                continue
        i += 1
    return tones


def _lead_riff(m: Moment, low: int, high: int) -> list[tuple]:
    """A busy one-bar riff of near neighbours, repeated on each bar's chord: it walks
    by scale steps with now and then a third or a repeated note, and heads home so the
    next bar's riff starts a step from where this one ends."""
    rng = random.Random(f"riff|{m.seed}|{m.index}")
    rhythm = _motif_bars(m, "fast" if m.density > 0.3 else "mid", 0.15, rng)
    moves = [0]
    for left in range(len(rhythm) - 1, 0, -1):
        move = rng.choice((-1, 1, -1, 1, 2, -2, 0))
        if abs(moves[-1] + move) > left:
            move = -1 if moves[-1] > 0 else 1  # turn for home while there is time
        moves.append(max(-3, min(4, moves[-1] + move)))
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


# Sequence cells in scale steps, written rising (a falling sequence mirrors them). Each
# moves by step but for at most one third, and ends where the step to the next cell's
# first note (one scale step on) is a step too.
_CELLS = {
    3: ((0, 1, 2), (0, 1, 0), (0, -1, 0)),
    4: ((0, 2, 1, 0), (0, -1, 1, 0), (0, 1, 2, 0), (0, 1, -1, 0)),
}


def _lead_sequence(m: Moment, low: int, high: int) -> list[tuple]:
    """A three- or four-note cell repeated a scale step higher (or lower) each time,
    carried on over the bar line onto the next chord until it runs out of range."""
    rng = random.Random(f"seq|{m.seed}|{m.index}")
    size = 3 if (m.seed + m.variant) % 2 else 4
    direction = 1 if (m.seed // 2 + m.variant) % 2 == 0 else -1
    cell = list(rng.choice(_CELLS[size]))
    cell = [degree * direction for degree in cell]
    rate = 2 if m.style not in ("techno",) or m.density < 0.5 else 1
    if m.style == "ambient":
        rate = 4
    out = []
    going = None  # where the sequence would go next if it carried on over the bar line
    for bar in range(m.grid.bars):
        base = bar * m.spb
        chord = m.chord(bar)
        tones = tones_in_key(m, chord, low, high)
        start = tones[len(tones) // 3] if direction > 0 else tones[(2 * len(tones)) // 3]
        if going is not None and low <= going <= high:
            start = min(tones, key=lambda p: (abs(p - going), p))
        position = 0
        for group, (pulse, length) in enumerate(zip(m.grid.pulses, m.grid.pulse_lengths)):
            if bar % 2 == 1 and group == len(m.grid.pulses) - 1:
                break  # rest at the end of every second bar
            for slot in range(0, length, rate):
                degree = cell[position % size] + direction * (position // size)
                pitch = m.key.step(start, degree)
                out.append((base + pulse + slot, rate * 0.85, pitch, 0.85 if slot == 0 else 0.7))
                position += 1
        going = m.key.step(start, cell[position % size] + direction * (position // size))
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
