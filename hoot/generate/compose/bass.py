"""Bass: a line bar by bar, every note on the shared kick or just after it.

Each archetype is a function that adds one bar to a monophonic `_BassLine`: the root on
the kick, and the answers (an octave, a fifth, a pickup into the next chord) a
sixteenth or an eighth after it. Jazz walks, plays in two, or anticipates latin-style.
Later rounds of candidates answer every other bar with another family's idea.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hoot.generate.compose.moment import ARCHETYPES, Moment, Note
from hoot.generate.compose.tones import (
    approach,
    bass_pc,
    fifth_of,
    nearest_pc,
    seventh_of,
    third_of,
    tones_in_key,
)
from hoot.music.harmony import Chord


def _bass_range(m: Moment) -> tuple[int, int, float]:
    center = 36 + (m.register - 0.5) * 14
    if m.style == "jazz":
        center += 4  # an upright walks a little higher than a sub bass
    return max(24, round(center - 9)), min(64, round(center + 12)), center


class _BassLine:
    """Collects bass notes and keeps the line monophonic: a note ends by the next start."""

    def __init__(self, m: Moment) -> None:
        self.m = m
        self.low, self.high, self.center = _bass_range(m)
        self.notes: list[list[float]] = []
        self.extra: list[list[float]] = []  # notes that sound beside the line
        self.last = round(self.center)

    def pitch(self, pc: int, near: float | None = None) -> int:
        pitch = nearest_pc(pc, self.last if near is None else near, self.low, self.high)
        return pitch

    def root(self, chord: Chord) -> int:
        # Roots stay near the register's centre, so the line does not wander off.
        return self.pitch(bass_pc(chord), (self.last + self.center) / 2)

    def add(self, step: float, length: float, pitch: int, weight: float) -> None:
        self.notes.append([step, length, pitch, weight])
        self.last = pitch

    def octave(self, pitch: int) -> int:
        return pitch + 12 if pitch + 12 <= self.high + 7 else pitch - 12

    def sub(self, pitch: int) -> int:
        """The same note in the lowest octave the register allows."""
        while pitch - 12 >= self.low:
            pitch -= 12
        return pitch

    def finish(self) -> list[Note]:
        self.notes.sort(key=lambda n: n[0])
        out: list[Note] = []
        for i, (step, length, pitch, weight) in enumerate(self.notes):
            if out and out[-1][0] == step:
                continue  # one note at a time
            nxt = self.notes[i + 1][0] if i + 1 < len(self.notes) else None
            if nxt is not None and nxt > step:
                length = min(length, nxt - step)
            out.append((step, length, int(pitch), self.m.velocity(weight)))
        out.extend((s, n, int(p), self.m.velocity(w)) for s, n, p, w in self.extra)
        return out


def play(m: Moment) -> list[Note]:
    """A bass line, bar by bar, every note on the shared kick or just after it."""
    line = _BassLine(m)
    maker = _BASS[m.archetype]
    # Later rounds of candidates answer every other bar with another family's idea: the
    # second round with the next family's, the third with the one after, and so on.
    families = ARCHETYPES["bass"][m.style]
    answer = _BASS[families[(m.family + m.variant) % len(families)]]
    for bar in range(m.grid.bars):
        (answer if bar % 2 else maker)(m, line, bar)
    return line.finish()


def _answers(m: Moment, bar: int, offset: int) -> list[int]:
    """Steps `offset` after each kick of the bar that land on no other kick."""
    kicks = m.kick_steps(bar)
    return [k + offset for k in kicks if k + offset < m.spb and k + offset not in kicks]


def _pickup(m: Moment, line: _BassLine, bar: int, step: int, length: float) -> None:
    """The last note of a bar leads into the next chord when the harmony moves."""
    here, there = m.chord(bar), m.next_chord(bar)
    if there.bass != here.bass and m.tune_rng.random() < 0.35 + m.complexity * 0.6:
        target = line.root(there)
        line.add(bar * m.spb + step, length, approach(m, target, line.last, length), 0.7)
    else:
        line.add(bar * m.spb + step, length, line.pitch(fifth_of(here)), 0.7)


def _bass_offbeat(m: Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    root = line.root(chord)
    masks = ("0000", "0101", "0010", "0001")
    mask = masks[(m.variant + m.seed) % len(masks)]
    steps = _answers(m, bar, 2)
    for i, step in enumerate(steps):
        if i == len(steps) - 1 and len(steps) > 1 and m.complexity > 0.45:
            _pickup(m, line, bar, step, 1.5)
            continue
        pitch = line.octave(root) if mask[i % 4] == "1" else root
        line.add(bar * m.spb + step, 1.6 + 0.4 * m.density, pitch, 0.85)
        line.last = root


def _bass_octave(m: Moment, line: _BassLine, bar: int) -> None:
    root = line.root(m.chord(bar))
    for k in m.kick_steps(bar):
        line.add(bar * m.spb + k, 1.5, root, 0.9)
        if k + 2 < m.spb:
            top = line.octave(root)
            if m.tune_rng.random() < m.complexity * 0.4:
                top = line.pitch(fifth_of(m.chord(bar)), root + 7)
            line.add(bar * m.spb + k + 2, 1.2, top, 0.75)
        line.last = root


def _bass_gallop(m: Moment, line: _BassLine, bar: int) -> None:
    root = line.root(m.chord(bar))
    up = m.variant % 2 == 1 or m.seed % 2 == 1
    for k in m.kick_steps(bar):
        for offset, weight in ((1, 0.7), (2, 0.9)):
            if k + offset >= m.spb:
                continue
            pitch = line.octave(root) if up and offset == 2 else root
            line.add(bar * m.spb + k + offset, 0.8, pitch, weight)
            line.last = root


def _bass_pulse(m: Moment, line: _BassLine, bar: int) -> None:
    root = line.root(m.chord(bar))
    gate = 1.9 if m.style == "ambient" else 1.3 + 0.5 * (1 - m.energy)
    steps = sorted(set(m.kick_steps(bar)) | set(_answers(m, bar, 2)))
    for i, step in enumerate(steps):
        weight = 0.95 if step in m.kick_steps(bar) else 0.65
        if i == len(steps) - 1 and m.complexity > 0.5 and len(steps) > 2:
            _pickup(m, line, bar, step, gate)
            continue
        line.add(bar * m.spb + step, gate, root, weight)
        line.last = root


def _bass_lock(m: Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    root = line.root(chord)
    kicks = m.kick_steps(bar)
    for i, k in enumerate(kicks):
        end = kicks[i + 1] if i + 1 < len(kicks) else m.spb
        pitch = root
        if i > 0:
            choice = m.tune_rng.random()
            if choice < 0.3:
                pitch = line.octave(root)
            elif choice < 0.3 + 0.4 * m.complexity:
                pitch = line.pitch(fifth_of(chord), root + 5)
        line.add(bar * m.spb + k, (end - k) * 0.92, pitch, 0.9)


def _bass_sub(m: Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    root = line.sub(line.root(chord))
    kicks = m.kick_steps(bar)
    line.add(bar * m.spb + kicks[0] if kicks else bar * m.spb, m.spb * 0.95, root, 0.95)
    if len(kicks) > 1 and (bar % 2 == 1 or m.density > 0.6):
        step = kicks[-1] + 2 if kicks[-1] + 2 < m.spb else kicks[-1]
        _pickup(m, line, bar, step, min(2.0, m.spb - step))


def _bass_syncopated(m: Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    root = line.root(chord)
    kicks = m.kick_steps(bar)
    for i, k in enumerate(kicks):
        line.add(bar * m.spb + k, 2.0, root, 0.95)
        if i > 0 and k + 1 < m.spb and m.rng.random() < 0.4 + 0.5 * m.density:
            line.add(bar * m.spb + k + 1, 1.0, line.octave(root), 0.7)
        line.last = root
    late = [s for s in _answers(m, bar, 2) if s > kicks[-1]] if kicks else []
    if late:
        _pickup(m, line, bar, late[-1], 1.5)


def _bass_funk(m: Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    root = line.root(chord)
    colours = [line.octave(root), line.pitch(fifth_of(chord), root + 7)]
    seventh = seventh_of(chord)
    if seventh is not None and m.key.contains(seventh):
        colours.append(line.pitch(seventh, root + 10))
    for k in m.kick_steps(bar):
        line.add(bar * m.spb + k, 1.0, root, 0.95)
        if k + 1 < m.spb and m.rng.random() < m.density * 0.8:
            line.add(bar * m.spb + k + 1, 0.5, line.octave(root), 0.4)  # a ghosted pop
        if k + 2 < m.spb and m.rng.random() < 0.3 + 0.6 * m.density:
            line.add(bar * m.spb + k + 2, 1.0, m.tune_rng.choice(colours), 0.8)
        line.last = root


def _bass_stab(m: Moment, line: _BassLine, bar: int) -> None:
    root = line.root(m.chord(bar))
    for k in m.kick_steps(bar):
        line.add(bar * m.spb + k, 1.0, root, 1.0)
        if k + 1 < m.spb and m.rng.random() < 0.2 + 0.6 * m.density:
            line.add(bar * m.spb + k + 1, 0.6, line.octave(root), 0.6)  # a flam of octave
        line.last = root


def _bass_reese(m: Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    root = line.root(chord)
    path = [root, line.pitch(fifth_of(chord), root + 7), line.pitch(third_of(chord), root + 3)]
    if m.variant % 2:
        path = [root, line.octave(root), line.pitch(fifth_of(chord), root + 7)]
    kicks = m.kick_steps(bar)
    for i, k in enumerate(kicks):
        end = kicks[i + 1] if i + 1 < len(kicks) else m.spb
        line.add(bar * m.spb + k, end - k, path[i % len(path)], 0.9)


def _bass_drone(m: Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    if bar > 0 and m.chord(bar - 1) == chord and bar % 2 == 1:
        line.notes[-1][1] += m.spb  # the same chord rings on through the next bar
        line.extra[-1][1] += m.spb
        return
    root = line.root(chord)
    line.add(bar * m.spb, m.spb, root, 0.8)
    # The fifth above rings with it: a hollow, open drone.
    line.extra.append([bar * m.spb, m.spb, line.pitch(fifth_of(chord), root + 7), 0.6])


def _bass_fifths(m: Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    root = line.root(chord)
    kicks = m.kick_steps(bar)
    second = kicks[1] if len(kicks) > 1 else None
    line.add(bar * m.spb, (second or m.spb), root, 0.8)
    if second is not None:
        line.add(bar * m.spb + second, m.spb - second, line.pitch(fifth_of(chord), root + 7), 0.7)
        line.last = root


def _bass_walk(m: Moment, line: _BassLine, bar: int, skips: bool = False) -> None:
    """Walking bass: a note on every beat, the root on one, then up or down the chord or
    the scale (so the middle strong beat has a chord tone), and the last beat leading
    into the next bar's root."""
    grid = m.grid
    chord, there = m.chord(bar), m.next_chord(bar)
    root = line.root(chord)
    target = nearest_pc(bass_pc(there), root, line.low, line.high)
    beats = list(grid.pulses)
    count = len(beats)
    if target > root + 2:
        direction = 1
    elif target < root - 2:
        direction = -1
    else:
        direction = m.tune_rng.choice((1, -1))
    if not line.low <= root + direction * 7 <= line.high:
        direction = -direction
    kind = m.tune_rng.choice(("arp", "scale", "mixed"))
    tones = tones_in_key(m, chord, line.low, line.high)
    ladder = [p for p in tones if (p - root) * direction > 0]
    ladder.sort(key=lambda p: abs(p - root))
    pitches = [root]
    for i in range(1, count - 1):
        chord_tone = kind == "arp" or (kind == "mixed" and i % 2 == 0)
        if chord_tone and i - 1 < len(ladder):
            pitch = ladder[i - 1]
        else:
            pitch = m.key.step(root, direction * i)
        if beats[i] in grid.group_starts and pitch % 12 not in chord.pitch_classes:
            # The middle strong beat outlines the chord.
            options = [p for p in tones if p != pitches[-1]] or tones
            pitch = min(options, key=lambda p: (abs(p - pitch), p))
        pitches.append(pitch)
    if count > 1:
        lead_in = approach(m, target, pitches[-1], grid.pulse_lengths[-1] * 0.9)
        if lead_in == pitches[-1]:
            lead_in = m.key.step(target, 1 if lead_in < target else -1)
        pitches.append(lead_in)
    for i, (start, length) in enumerate(zip(beats, grid.pulse_lengths)):
        line.add(bar * m.spb + start, length * 0.92, pitches[i], 0.85 if i == 0 else 0.72)
        if skips and 0 < i < count - 1 and length == 4 and m.rng.random() < 0.25 + m.density * 0.3:
            # A skip note: the swung eighth before the next beat, a step toward it.
            toward = pitches[i + 1]
            step_pitch = m.key.step(toward, 1 if pitches[i] > toward else -1)
            line.add(bar * m.spb + start + 2, 1.8, step_pitch, 0.55)
    line.last = pitches[-1]


def _bass_broken(m: Moment, line: _BassLine, bar: int) -> None:
    _bass_walk(m, line, bar, skips=True)


def _bass_two_feel(m: Moment, line: _BassLine, bar: int) -> None:
    grid = m.grid
    chord = m.chord(bar)
    root = line.root(chord)
    starts = list(grid.halves)
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else m.spb
        pitch = root if i == 0 else line.pitch(fifth_of(chord), root + 7)
        line.add(bar * m.spb + start, (end - start) * 0.9, pitch, 0.8)
    last = len(grid.pulses) - 1
    if grid.pulse_lengths[last] == 4 and m.rng.random() < 0.3 + 0.5 * m.density:
        _pickup(m, line, bar, grid.upbeat(last), 1.8)


def _bass_latin(m: Moment, line: _BassLine, bar: int) -> None:
    grid = m.grid
    chord = m.chord(bar)
    root = line.root(chord)
    fifth = line.pitch(fifth_of(chord), root + 7)
    starts = list(grid.halves)
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else m.spb
        pitch = root if i == 0 else fifth
        line.add(bar * m.spb + start, (end - start) * 0.7, pitch, 0.85)
        # The anticipation: the eighth before the next strong beat already plays it.
        pulse, _ = grid.pulse_of(end - 1)
        push = grid.upbeat(pulse)
        if i + 1 < len(starts) and start < push < end:
            line.add(bar * m.spb + push, end - push, fifth, 0.65)
    line.last = root


def _bass_ostinato(m: Moment, line: _BassLine, bar: int) -> None:
    grid = m.grid
    chord = m.chord(bar)
    root = line.root(chord)
    shapes = ((0, 7, 12, 7), (0, 12, 7, 10), (0, 7, 9, 7))
    shape = shapes[(m.seed + m.variant) % len(shapes)]
    figure = []
    for i in range(len(grid.pulses)):
        step = grid.pulses[i] if i % 2 == 0 else grid.upbeat(i)
        figure.append(step)
    for i, step in enumerate(figure):
        pitch = m.key.nearest_in_scale(root + shape[i % len(shape)])
        if i == 0:
            pitch = root
        end = figure[i + 1] if i + 1 < len(figure) else m.spb
        line.add(bar * m.spb + step, (end - step) * 0.85, pitch, 0.85 if i == 0 else 0.7)
    line.last = root


def _bass_acid(m: Moment, line: _BassLine, bar: int) -> None:
    """A sixteenth riff around the kick, its shape kept bar to bar and moved with the chord."""
    chord = m.chord(bar)
    root = line.root(chord)
    shape_rng = random.Random(f"acid|{m.seed}|{m.variant}")
    moves = [shape_rng.choice((0, 0, 0, 12, 1, -1, 2, 7)) for _ in range(12)]
    slots = sorted({k + o for k in m.kick_steps(bar) for o in (0, 1, 2) if k + o < m.spb})
    for i, step in enumerate(slots):
        if m.rng.random() > 0.45 + 0.55 * m.density and step not in m.kick_steps(bar):
            continue
        move = moves[i % len(moves)]
        if step in m.kick_steps(bar):
            move = move if move in (0, 12) else 0  # with the kick, the root holds the floor
        if move in (0, 12, 7):
            pitch = root + move if move != 7 else line.pitch(fifth_of(chord), root + 7)
        else:
            pitch = m.key.step(root, move)
        accent = 1.0 if shape_rng.random() < 0.3 else 0.7
        line.add(bar * m.spb + step, 0.9 if accent < 1 else 1.0, pitch, accent)
        line.last = root


_BASS: dict[str, Callable[[Moment, _BassLine, int], None]] = {
    "offbeat": _bass_offbeat,
    "octave": _bass_octave,
    "gallop": _bass_gallop,
    "pulse": _bass_pulse,
    "lock": _bass_lock,
    "sub": _bass_sub,
    "syncopated": _bass_syncopated,
    "funk": _bass_funk,
    "stab": _bass_stab,
    "reese": _bass_reese,
    "drone": _bass_drone,
    "fifths": _bass_fifths,
    "walking": _bass_walk,
    "broken": _bass_broken,
    "two-feel": _bass_two_feel,
    "latin": _bass_latin,
    "ostinato": _bass_ostinato,
    "acid": _bass_acid,
}
