"""The embedded generator: idiomatic patterns for every role and style, on a laptop CPU.

`perf.generate("bass", n=6)` asks it for six candidates. Each candidate index plays a
different *archetype* of the style (for house bass: off-beat, octave, syncopated,
funk, gallop, pulse), so a batch offers six different ideas, not one idea six times;
the seed then varies each idea. Everything follows the moment: the meter's grid, the
key, one chord a bar from the progression, and the vibe (density, energy,
brightness, swing, complexity, register, style).

Drums and bass lock together. The kick of a style is chosen from the seed, style,
meter and the vibe's complexity only, never from the candidate index, so every drum
candidate of a seed plays the same kick, and every bass candidate of the same seed
starts its notes on that kick, on the sixteenth after it (a push) or on the eighth
after it (the answer, which in four-on-the-floor styles is the off-beat). Generate
drums and bass with the same seed (`perf.generate("bass", seed=...)`) and any pick
of one fits any pick of the other. `kick_onsets(request)` gives that kick.

Notes never start at or after the clip's end, and every note ends by it, so a clip
loops without hanging notes; a chord held to the end of the last bar ends exactly there.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hoot.generate.patterns import (
    CABASA,
    CELLS,
    CLAP,
    CLOSED_HAT,
    COMPING,
    CRASH,
    DRUM_KITS,
    EUCLID,
    HATS,
    HIGH_BONGO,
    HIGH_MID_TOM,
    HIGH_TOM,
    KICK,
    KICKS,
    LOW_CONGA,
    LOW_TOM,
    METAL_SWAP,
    MUTE_CONGA,
    OPEN_CONGA,
    OPEN_HAT,
    PEDAL_HAT,
    PERC_SWAP,
    PERCUSSION,
    RIDE,
    SKIN_SWAP,
    SNARE,
    TAMBOURINE,
    TOMS_DOWN,
    WEIGHT,
    Grid,
    Kit,
    euclid,
    pattern_hits,
    swung,
)
from hoot.music import ROLES
from hoot.music.clip import NoteClip
from hoot.music.harmony import Chord, Key, chord_at, default_progression, parse_progression
from hoot.music.vibe import PARAMS as VIBE_PARAMS
from hoot.music.vibe import check_style, default_vibe

# Drum machines hit exactly, and a one-shot needs no length: a short gate is enough.
_DRUM_GATE = 0.9


# Archetypes per role and style: candidate i plays the i-th (after a seed rotation) ---

_ARCHETYPES: dict[str, dict[str, tuple[str, ...]]] = {
    "drums": {style: tuple(kits) for style, kits in DRUM_KITS.items()},
    "perc": {
        "house": ("congas", "shaker", "bongos", "cowbell", "tambourine", "clave"),
        "techno": ("shaker", "cowbell", "toms", EUCLID, "clave", "congas"),
        "dnb": ("shaker", "bongos", "congas", "tambourine", EUCLID, "toms"),
        "hiphop": ("tambourine", "shaker", "cowbell", "congas", "bongos", EUCLID),
        "ambient": ("shaker", "clave", "toms", EUCLID, "congas", "tambourine"),
        "jazz": ("congas", "shaker", "bongos", "clave", "timbales", EUCLID),
    },
    "bass": {
        "house": ("offbeat", "octave", "syncopated", "funk", "gallop", "pulse"),
        "techno": ("gallop", "offbeat", "acid", "pulse", "stab", "drone"),
        "dnb": ("reese", "sub", "syncopated", "stab", "lock", "octave"),
        "hiphop": ("lock", "sub", "funk", "syncopated", "octave", "stab"),
        "ambient": ("drone", "fifths", "lock", "sub", "pulse", "octave"),
        "jazz": ("walking", "two-feel", "latin", "broken", "ostinato", "lock"),
    },
    "chords": {
        "house": ("stabs", "piano", "push", "chops", "halves", "organ"),
        "techno": ("dub", "minimal", "stabs", "hold", "pulse", "halves"),
        "dnb": ("liquid", "stabs", "halves", "push", "dub", "chops"),
        "hiphop": ("rhodes", "chops", "lazy", "push", "halves", "stabs"),
        "ambient": ("hold", "swell", "halves", "breathe", "drift", "rolled"),
        "jazz": ("charleston", "anticipate", "comp-off", "freddie", "red-garland", "halves"),
    },
    "pad": {
        "house": ("sustain", "gated", "halves", "rolled", "top-line", "open"),
        "techno": ("sustain", "gated", "breath", "top-line", "halves", "rolled"),
        "dnb": ("sustain", "rolled", "top-line", "halves", "gated", "open"),
        "hiphop": ("sustain", "rolled", "halves", "breath", "top-line", "open"),
        "ambient": ("sustain", "rolled", "top-line", "breath", "open", "halves"),
        "jazz": ("sustain", "open", "top-line", "rolled", "halves", "breath"),
    },
    "lead": {
        "house": ("hook", "call-response", "arp", "riff", "sequence", "sparse"),
        "techno": ("riff", "arp", "hook", "sequence", "long", "sparse"),
        "dnb": ("long", "arp", "call-response", "hook", "sparse", "sequence"),
        "hiphop": ("sparse", "call-response", "hook", "long", "arp", "sequence"),
        "ambient": ("long", "arp", "call-response", "sparse", "sequence", "hook"),
        "jazz": ("bebop", "call-response", "hook", "arp", "sparse", "sequence"),
    },
}


def archetypes(role: str, style: str) -> tuple[str, ...]:
    """The pattern families candidates of `role` in `style` cycle through."""
    return _ARCHETYPES[role][check_style(style)]


# The moment a candidate is made for ------------------------------------------------

Note = tuple[float, float, int, int]
"""(start step, length in steps, pitch, velocity) while composing."""


@dataclass
class _Moment:
    """Everything one candidate is made from, read once from the request."""

    role: str
    style: str
    grid: Grid
    key: Key
    progression: list[Chord]
    vibe: dict[str, float]
    seed: int
    index: int
    archetype: str
    variant: int
    family: int
    rng: random.Random = field(repr=False)
    tune_rng: random.Random = field(repr=False)
    touch_rng: random.Random = field(repr=False)
    chromatic_left: float = 0.0
    kick_name: str = ""
    _kicks: dict[int, list[tuple[int, str]]] = field(default_factory=dict, repr=False)

    @property
    def density(self) -> float:
        return self.vibe["density"]

    @property
    def energy(self) -> float:
        return self.vibe["energy"]

    @property
    def brightness(self) -> float:
        return self.vibe["brightness"]

    @property
    def complexity(self) -> float:
        return self.vibe["complexity"]

    @property
    def register(self) -> float:
        return self.vibe["register"]

    @property
    def spb(self) -> int:
        return self.grid.steps_per_bar

    def chord(self, bar: int) -> Chord:
        return chord_at(self.progression, bar % self.grid.bars)

    def next_chord(self, bar: int) -> Chord:
        """The chord after this bar; after the last bar, the loop's first."""
        return self.chord((bar + 1) % self.grid.bars)

    def velocity(self, weight: float, spread: float = 4.0) -> int:
        """A velocity for a note of `weight` (1 = accent) at the vibe's energy, humanised."""
        level = 40.0 + 80.0 * self.energy
        value = level * weight + self.touch_rng.uniform(-spread, spread)
        return int(min(127, max(1, round(value))))

    def kicks(self, bar: int) -> list[tuple[int, str]]:
        """The shared kick of one bar: (step in the bar, pattern character)."""
        if bar not in self._kicks:
            self._kicks[bar] = pattern_hits(self.grid, self.kick_name, bar)
        return self._kicks[bar]

    def kick_steps(self, bar: int) -> list[int]:
        return [step for step, _ in self.kicks(bar)]

    def spend_chromatic(self, steps: float) -> bool:
        """Whether a note off the scale this long still fits the clip's small allowance."""
        # Swing can stretch a note by at most a quarter of a step: count it in.
        cost = (steps + 0.25) * self.grid.step
        if cost > self.chromatic_left:
            return False
        self.chromatic_left -= cost
        return True


def _moment(request: Any) -> _Moment:
    role = str(request.role)
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    vibe_in = dict(getattr(request, "vibe", None) or {})
    style = check_style(str(vibe_in.get("style", "house")))
    vibe = {name: float(value) for name, value in default_vibe(style).items() if name != "style"}
    for name in VIBE_PARAMS:
        if name in vibe_in and vibe_in[name] is not None:
            vibe[name] = min(1.0, max(0.0, float(vibe_in[name])))
    bars = int(request.bars)
    if bars < 1:
        raise ValueError(f"bars must be at least 1, got {request.bars!r}")
    index = int(request.index)
    if index < 0:
        raise ValueError(f"candidate index must be 0 or more, got {request.index!r}")
    seed = int(request.seed)
    grid = Grid.of(str(request.meter), bars)
    key = Key.parse(str(request.key))
    chords = list(getattr(request, "chords", None) or ())
    if chords:
        progression = parse_progression(chords, key)
    else:
        progression = []
    if not progression:
        progression = default_progression(key, sevenths=style == "jazz")
    families = _ARCHETYPES[role][style]
    # Candidate i takes the i-th family; the seed turns the wheel so that index 0 is
    # not always the same idea from one batch to the next.
    family = (index + seed) % len(families)
    archetype = families[family]
    variant = index // len(families)
    where = f"{seed}|{style}|{role}|{index}|{grid.meter}|{bars}"
    moment = _Moment(
        role=role,
        style=style,
        grid=grid,
        key=key,
        progression=progression,
        vibe=vibe,
        seed=seed,
        index=index,
        archetype=archetype,
        variant=variant,
        family=family,
        rng=random.Random("rhythm|" + where),
        tune_rng=random.Random("tune|" + where),
        touch_rng=random.Random("touch|" + where),
        chromatic_left=0.04 * grid.length,
    )
    # The groove (the session's, when perf passes one) fixes the kick, so drums and bass
    # from different calls still lock; without one, the seed does.
    groove = int(request.vibe.get("groove", seed)) if hasattr(request, "vibe") else seed
    moment.kick_name = _kick_pattern(style, groove, grid, vibe["complexity"])
    return moment


def _kick_pattern(style: str, seed: int, grid: Grid, complexity: float) -> str:
    """The kick pattern every drums and bass candidate of this groove (or seed) shares."""
    pool = KICKS[style]
    if complexity < 0.4:
        pool = pool[:2]
    chooser = random.Random(f"kick|{seed}|{style}|{grid.meter}")
    return pool[chooser.randrange(len(pool))]


def kick_onsets(request: Any) -> np.ndarray:
    """The beats where the default drums of this request's seed, style and meter play
    their kick (after swing): the grid the default bass locks to, whatever the index."""
    moment = _moment(request)
    steps = [
        bar * moment.spb + step
        for bar in range(moment.grid.bars)
        for step in moment.kick_steps(bar)
    ]
    return np.array([_swing(moment, step) for step in steps], dtype=np.float64)


def _swing(moment: _Moment, step: float) -> float:
    return swung(step, moment.grid, moment.vibe["swing"], eighths=moment.style == "jazz")


# Drums ------------------------------------------------------------------------------


def _drums(m: _Moment) -> list[Note]:
    """The shared kick, the archetype's kit around it, and a fill into the loop's start."""
    kit = DRUM_KITS[m.style][m.archetype]
    if m.variant % 2 == 1:
        swap = METAL_SWAP if set(kit.voices) & set(METAL_SWAP) else SKIN_SWAP
        kit = Kit({swap.get(p, p): t for p, t in kit.voices.items()}, kit.fill)
    grid = m.grid
    hat_drive = 0.6 * m.density + 0.4 * m.energy
    hat_shine = 0.55 + 0.6 * m.brightness
    fill_bar = grid.bars - 1 if _wants_fill(m) else None
    fill_from = _fill_start(m) if fill_bar is not None else m.spb
    notes: list[Note] = []
    main_hat = next((p for p in kit.voices if p in (CLOSED_HAT, RIDE, TAMBOURINE)), CLOSED_HAT)
    for bar in range(grid.bars):
        base = bar * m.spb
        limit = fill_from if bar == fill_bar else m.spb
        for step, char in m.kicks(bar):
            notes.append((base + step, _DRUM_GATE, KICK, m.velocity(WEIGHT[char] * 1.1)))
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
                notes.append((base + step, _DRUM_GATE, pitch, m.velocity(weight)))
        if m.style not in ("ambient", "jazz"):
            # Busy, energetic vibes fill the gaps between hats with soft ones.
            for step in range(limit):
                chance = m.rng.random()
                if step in hat_steps or grid.strength(step) > 1:
                    continue
                if chance < (hat_drive - 0.6) * 1.2:
                    notes.append((base + step, _DRUM_GATE, main_hat, m.velocity(0.4 * hat_shine)))
            if m.energy > 0.6 and bar % 2 == 1 and bar != fill_bar:
                last = len(grid.pulses) - 1
                notes.append((base + grid.upbeat(last), _DRUM_GATE, OPEN_HAT, m.velocity(0.7)))
        elif m.style == "ambient":
            # Even ambient drums stir a little more when the vibe gets busier.
            for step in range(2, limit, 4):
                if m.rng.random() < (m.density - 0.3) * 0.15:
                    notes.append((base + step, _DRUM_GATE, CABASA, m.velocity(0.3 * hat_shine)))
        if m.style in ("dnb", "hiphop", "jazz"):
            # Complexity adds ghost strokes on the snare between the backbeats.
            for step in range(0, limit, 2 if m.style == "jazz" else 1):
                chance = m.rng.random()
                if grid.strength(step) <= 1 and chance < (m.complexity - 0.45) * 0.25:
                    notes.append((base + step, _DRUM_GATE, SNARE, m.velocity(0.3)))
    if fill_bar is not None:
        notes.extend(_drum_fill(m, kit.fill, fill_bar * m.spb, fill_from))
        if m.energy >= 0.45 and m.style != "ambient":
            # The fill lands on a crash when the loop comes round.
            notes.append((0, _DRUM_GATE, CRASH, m.velocity(0.85)))
    return notes


def _wants_fill(m: _Moment) -> bool:
    """Fills mark the end of a phrase: the last bar of a clip of four bars or more."""
    if m.grid.bars < 4:
        return False
    return m.style != "ambient" or m.complexity > 0.6


def _fill_start(m: _Moment) -> int:
    """Where the fill starts in the last bar: one beat, or two with more complexity."""
    pulses = m.grid.pulses
    long_fill = m.complexity >= 0.55 or m.style == "jazz"  # jazz fills speak in eighths
    count = 2 if long_fill and len(pulses) >= 3 else 1
    return pulses[len(pulses) - count]


def _drum_fill(m: _Moment, kind: str, base: int, start: int) -> list[Note]:
    steps = list(range(start, m.spb))
    if kind in ("jazz", "soft"):
        steps = [s for s in steps if s % 2 == 0]
    notes: list[Note] = []
    count = len(steps)
    for i, step in enumerate(steps):
        rise = 0.45 + 0.55 * (i + 1) / count  # fills build into the downbeat
        if kind == "roll":
            pitch = CLAP if m.style == "house" and i % 2 else SNARE
            notes.append((base + step, _DRUM_GATE, pitch, m.velocity(rise)))
        elif kind == "toms":
            if i == 0:
                pitch = SNARE
            else:
                pitch = TOMS_DOWN[min(len(TOMS_DOWN) - 1, (i - 1) * len(TOMS_DOWN) // count)]
            notes.append((base + step, _DRUM_GATE, pitch, m.velocity(rise)))
        elif kind == "chop":
            # Chopped breaks: a beat cut into snare and tom stabs.
            cell = ("xx.t", "x.xt", "xxt.", "x.tt")[(m.seed + step // 4) % 4]
            char = cell[i % 4]
            if char != ".":
                pitch = SNARE if char == "x" else HIGH_MID_TOM
                notes.append((base + step, _DRUM_GATE, pitch, m.velocity(0.5 + 0.5 * rise)))
        elif kind == "jazz":
            pitch = SNARE if i % 2 == 0 else (HIGH_TOM if i < count / 2 else LOW_TOM)
            notes.append((base + step, _DRUM_GATE, pitch, m.velocity(0.4 + 0.5 * rise)))
        elif kind == "soft" and i == count - 1:
            notes.append((base + step, _DRUM_GATE, LOW_TOM, m.velocity(0.5)))
    return notes


# Percussion -------------------------------------------------------------------------


def _perc(m: _Moment) -> list[Note]:
    """Hand percussion over the drums, thinned by density, with a conga run at the end."""
    grid = m.grid
    quiet = {"ambient": 0.55, "jazz": 0.75}.get(m.style, 1.0)
    keep_base = 0.2 if m.style == "ambient" else 0.45
    fill_bar = grid.bars - 1 if _wants_fill(m) else None
    fill_from = _fill_start(m) if fill_bar is not None else m.spb
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
            notes.append((base + step, _DRUM_GATE, pitch, m.velocity(weight)))
    if fill_bar is not None:
        # A conga run down into the loop's first beat.
        drums = (HIGH_BONGO, MUTE_CONGA, OPEN_CONGA, LOW_CONGA)
        steps = [s for s in range(fill_from, m.spb) if m.style != "jazz" or s % 2 == 0]
        for i, step in enumerate(steps):
            pitch = drums[min(3, i * 4 // max(1, len(steps)))]
            rise = 0.5 + 0.5 * (i + 1) / len(steps)
            notes.append((fill_bar * m.spb + step, _DRUM_GATE, pitch, m.velocity(rise * quiet)))
    return notes


def _perc_hits(m: _Moment, bar: int) -> list[tuple[int, int, str]]:
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
        voices = {PERC_SWAP.get(p, p): _rotate_pattern(t, 4) for p, t in voices.items()}
    return [(s, pitch, c) for pitch, t in voices.items() for s, c in pattern_hits(m.grid, t, bar)]


def _rotate_pattern(pattern: str, steps: int) -> str:
    text = pattern.replace("|", "")
    return text[-steps:] + text[:-steps]


# Pitched roles: shared helpers -------------------------------------------------------


def _nearest_pc(pc: int, near: float, low: int, high: int) -> int:
    """The pitch of pitch class `pc` nearest to `near`, kept within [low, high]."""
    best = None
    for pitch in range(low, high + 1):
        if pitch % 12 == pc % 12 and (best is None or abs(pitch - near) < abs(best - near)):
            best = pitch
    if best is None:
        best = low + (pc - low) % 12
    return best


def _bass_pc(chord: Chord) -> int:
    """The chord's bass note: the root, or the note under the slash."""
    return chord.root if chord.bass is None else chord.bass


def _fifth(chord: Chord) -> int:
    for semitones in (7, 6, 8):
        pc = chord.interval_pc(semitones)
        if pc is not None:
            return pc
    return chord.root


def _third(chord: Chord) -> int:
    for semitones in (4, 3, 5, 2):
        pc = chord.interval_pc(semitones)
        if pc is not None:
            return pc
    return chord.root


def _seventh(chord: Chord) -> int | None:
    for semitones in (10, 11, 9):
        pc = chord.interval_pc(semitones)
        if pc is not None:
            return pc
    return None


def _tones_in_key(m: _Moment, chord: Chord, low: int, high: int) -> list[int]:
    """The chord's pitches in a range, keeping to the key when the chord allows."""
    tones = chord.tones(low, high)
    inside = [p for p in tones if m.key.contains(p)]
    return inside or tones


def _approach(m: _Moment, target: int, came_from: int, steps: float) -> int:
    """A note leading into `target`: a semitone away when it is chromatic, the
    allowance lasts and the vibe is complex enough; otherwise the scale step next to it."""
    side = -1 if came_from <= target else 1
    chance = m.tune_rng.random()
    chromatic = target + side
    if chance < m.complexity * 0.6 and not m.key.contains(chromatic):
        if m.spend_chromatic(steps):
            return chromatic
    return m.key.step(target, side)


# Bass -------------------------------------------------------------------------------


def _bass_range(m: _Moment) -> tuple[int, int, float]:
    center = 36 + (m.register - 0.5) * 14
    if m.style == "jazz":
        center += 4  # an upright walks a little higher than a sub bass
    return max(24, round(center - 9)), min(64, round(center + 12)), center


class _BassLine:
    """Collects bass notes and keeps the line monophonic: a note ends by the next start."""

    def __init__(self, m: _Moment) -> None:
        self.m = m
        self.low, self.high, self.center = _bass_range(m)
        self.notes: list[list[float]] = []
        self.extra: list[list[float]] = []  # notes that sound beside the line
        self.last = round(self.center)

    def pitch(self, pc: int, near: float | None = None) -> int:
        pitch = _nearest_pc(pc, self.last if near is None else near, self.low, self.high)
        return pitch

    def root(self, chord: Chord) -> int:
        # Roots stay near the register's centre, so the line does not wander off.
        return self.pitch(_bass_pc(chord), (self.last + self.center) / 2)

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


def _bass(m: _Moment) -> list[Note]:
    """A bass line, bar by bar, every note on the shared kick or just after it."""
    line = _BassLine(m)
    maker = _BASS[m.archetype]
    # A second round of candidates answers every other bar with the next family's idea.
    families = _ARCHETYPES["bass"][m.style]
    answer = _BASS[families[(m.family + 1) % len(families)]] if m.variant % 2 else maker
    for bar in range(m.grid.bars):
        (answer if bar % 2 else maker)(m, line, bar)
    return line.finish()


def _answers(m: _Moment, bar: int, offset: int) -> list[int]:
    """Steps `offset` after each kick of the bar that land on no other kick."""
    kicks = m.kick_steps(bar)
    return [k + offset for k in kicks if k + offset < m.spb and k + offset not in kicks]


def _pickup(m: _Moment, line: _BassLine, bar: int, step: int, length: float) -> None:
    """The last note of a bar leads into the next chord when the harmony moves."""
    here, there = m.chord(bar), m.next_chord(bar)
    if there.bass != here.bass and m.tune_rng.random() < 0.35 + m.complexity * 0.6:
        target = line.root(there)
        line.add(bar * m.spb + step, length, _approach(m, target, line.last, length), 0.7)
    else:
        line.add(bar * m.spb + step, length, line.pitch(_fifth(here)), 0.7)


def _bass_offbeat(m: _Moment, line: _BassLine, bar: int) -> None:
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


def _bass_octave(m: _Moment, line: _BassLine, bar: int) -> None:
    root = line.root(m.chord(bar))
    for k in m.kick_steps(bar):
        line.add(bar * m.spb + k, 1.5, root, 0.9)
        if k + 2 < m.spb:
            top = line.octave(root)
            if m.tune_rng.random() < m.complexity * 0.4:
                top = line.pitch(_fifth(m.chord(bar)), root + 7)
            line.add(bar * m.spb + k + 2, 1.2, top, 0.75)
        line.last = root


def _bass_gallop(m: _Moment, line: _BassLine, bar: int) -> None:
    root = line.root(m.chord(bar))
    up = m.variant % 2 == 1 or m.seed % 2 == 1
    for k in m.kick_steps(bar):
        for offset, weight in ((1, 0.7), (2, 0.9)):
            if k + offset >= m.spb:
                continue
            pitch = line.octave(root) if up and offset == 2 else root
            line.add(bar * m.spb + k + offset, 0.8, pitch, weight)
            line.last = root


def _bass_pulse(m: _Moment, line: _BassLine, bar: int) -> None:
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


def _bass_lock(m: _Moment, line: _BassLine, bar: int) -> None:
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
                pitch = line.pitch(_fifth(chord), root + 5)
        line.add(bar * m.spb + k, (end - k) * 0.92, pitch, 0.9)


def _bass_sub(m: _Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    root = line.sub(line.root(chord))
    kicks = m.kick_steps(bar)
    line.add(bar * m.spb + kicks[0] if kicks else bar * m.spb, m.spb * 0.95, root, 0.95)
    if len(kicks) > 1 and (bar % 2 == 1 or m.density > 0.6):
        step = kicks[-1] + 2 if kicks[-1] + 2 < m.spb else kicks[-1]
        _pickup(m, line, bar, step, min(2.0, m.spb - step))


def _bass_syncopated(m: _Moment, line: _BassLine, bar: int) -> None:
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


def _bass_funk(m: _Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    root = line.root(chord)
    colours = [line.octave(root), line.pitch(_fifth(chord), root + 7)]
    seventh = _seventh(chord)
    if seventh is not None and m.key.contains(seventh):
        colours.append(line.pitch(seventh, root + 10))
    for k in m.kick_steps(bar):
        line.add(bar * m.spb + k, 1.0, root, 0.95)
        if k + 1 < m.spb and m.rng.random() < m.density * 0.8:
            line.add(bar * m.spb + k + 1, 0.5, line.octave(root), 0.4)  # a ghosted pop
        if k + 2 < m.spb and m.rng.random() < 0.3 + 0.6 * m.density:
            line.add(bar * m.spb + k + 2, 1.0, m.tune_rng.choice(colours), 0.8)
        line.last = root


def _bass_stab(m: _Moment, line: _BassLine, bar: int) -> None:
    root = line.root(m.chord(bar))
    for k in m.kick_steps(bar):
        line.add(bar * m.spb + k, 1.0, root, 1.0)
        if k + 1 < m.spb and m.rng.random() < 0.2 + 0.6 * m.density:
            line.add(bar * m.spb + k + 1, 0.6, line.octave(root), 0.6)  # a flam of octave
        line.last = root


def _bass_reese(m: _Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    root = line.root(chord)
    path = [root, line.pitch(_fifth(chord), root + 7), line.pitch(_third(chord), root + 3)]
    if m.variant % 2:
        path = [root, line.octave(root), line.pitch(_fifth(chord), root + 7)]
    kicks = m.kick_steps(bar)
    for i, k in enumerate(kicks):
        end = kicks[i + 1] if i + 1 < len(kicks) else m.spb
        line.add(bar * m.spb + k, end - k, path[i % len(path)], 0.9)


def _bass_drone(m: _Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    if bar > 0 and m.chord(bar - 1) == chord and bar % 2 == 1:
        line.notes[-1][1] += m.spb  # the same chord rings on through the next bar
        line.extra[-1][1] += m.spb
        return
    root = line.root(chord)
    line.add(bar * m.spb, m.spb, root, 0.8)
    # The fifth above rings with it: a hollow, open drone.
    line.extra.append([bar * m.spb, m.spb, line.pitch(_fifth(chord), root + 7), 0.6])


def _bass_fifths(m: _Moment, line: _BassLine, bar: int) -> None:
    chord = m.chord(bar)
    root = line.root(chord)
    kicks = m.kick_steps(bar)
    second = kicks[1] if len(kicks) > 1 else None
    line.add(bar * m.spb, (second or m.spb), root, 0.8)
    if second is not None:
        line.add(bar * m.spb + second, m.spb - second, line.pitch(_fifth(chord), root + 7), 0.7)
        line.last = root


def _bass_walk(m: _Moment, line: _BassLine, bar: int, skips: bool = False) -> None:
    """Walking bass: a note on every beat, the root on one, then up or down the chord or
    the scale (so the middle strong beat has a chord tone), and the last beat leading
    into the next bar's root."""
    grid = m.grid
    chord, there = m.chord(bar), m.next_chord(bar)
    root = line.root(chord)
    target = _nearest_pc(_bass_pc(there), root, line.low, line.high)
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
    tones = _tones_in_key(m, chord, line.low, line.high)
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
        lead_in = _approach(m, target, pitches[-1], grid.pulse_lengths[-1] * 0.9)
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


def _bass_broken(m: _Moment, line: _BassLine, bar: int) -> None:
    _bass_walk(m, line, bar, skips=True)


def _bass_two_feel(m: _Moment, line: _BassLine, bar: int) -> None:
    grid = m.grid
    chord = m.chord(bar)
    root = line.root(chord)
    starts = list(grid.group_starts)
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else m.spb
        pitch = root if i == 0 else line.pitch(_fifth(chord), root + 7)
        line.add(bar * m.spb + start, (end - start) * 0.9, pitch, 0.8)
    last = len(grid.pulses) - 1
    if grid.pulse_lengths[last] == 4 and m.rng.random() < 0.3 + 0.5 * m.density:
        _pickup(m, line, bar, grid.upbeat(last), 1.8)


def _bass_latin(m: _Moment, line: _BassLine, bar: int) -> None:
    grid = m.grid
    chord = m.chord(bar)
    root = line.root(chord)
    fifth = line.pitch(_fifth(chord), root + 7)
    starts = list(grid.group_starts)
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


def _bass_ostinato(m: _Moment, line: _BassLine, bar: int) -> None:
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


def _bass_acid(m: _Moment, line: _BassLine, bar: int) -> None:
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
            pitch = root + move if move != 7 else line.pitch(_fifth(chord), root + 7)
        else:
            pitch = m.key.step(root, move)
        accent = 1.0 if shape_rng.random() < 0.3 else 0.7
        line.add(bar * m.spb + step, 0.9 if accent < 1 else 1.0, pitch, accent)
        line.last = root


_BASS: dict[str, Callable[[_Moment, _BassLine, int], None]] = {
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


# Chords and pads: voicings ----------------------------------------------------------


def _voicing(
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


def _chord_center(m: _Moment, base: float) -> float:
    return base + (m.register - 0.5) * 14 + (m.brightness - 0.5) * 8


# Chords whose notes enter one after another, and how many steps apart.
_ROLLED = {"swell": 3, "rolled": 1}


def _chords(m: _Moment) -> list[Note]:
    """Comping: the archetype's rhythm, each hit a voicing that moves little from the last."""
    grid = m.grid
    pattern = COMPING[m.archetype]
    if m.variant % 2 == 1:
        pattern = _rotate_pattern(pattern, 2)
    jazz = m.style == "jazz"
    size = 4 if (jazz or m.complexity > 0.6 or m.family % 2) else 3
    # Each family sits in its own place on the keyboard: low, middle or high voicings.
    center = _chord_center(m, 64 if jazz else 62) + (m.family % 3 - 1) * 4
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
        voicing = _voicing(chord, center, size, previous, rootless=jazz and m.complexity > 0.5)
        previous = voicing
        weight = WEIGHT.get(char, 0.38) * (1.0 if grid.strength(in_bar) >= 2 else 0.9)
        for j, pitch in enumerate(voicing):
            delay = j * _ROLLED.get(m.archetype, 0)
            if delay >= length:
                delay = 0
            notes.append((step + delay, length - delay, pitch, m.velocity(weight, 3)))
    return notes


# Pads ------------------------------------------------------------------------------


def _pad(m: _Moment) -> list[Note]:
    """Held chords, wider and higher than comping, shaped by the archetype."""
    grid = m.grid
    center = _chord_center(m, 64) + (m.family % 3 - 1) * 3
    size = 4 if m.density >= 0.25 else 3
    if m.variant % 2 == 1:
        center, size = center + 5, size + 1  # a second take voices it higher and fuller
    notes: list[list[float]] = []  # start, length, pitch, weight: lengths grow while held
    previous: list[int] | None = None
    held: dict[int, list[float]] = {}
    for bar in range(grid.bars):
        base = bar * m.spb
        chord = m.chord(bar)
        upper = _voicing(chord, center + 3, size, previous)
        previous = upper
        bass_tone = _nearest_pc(_bass_pc(chord), center - 14, 36, 60)
        voicing = upper if m.archetype != "open" else _open_voicing(chord, center)
        if m.archetype in ("sustain", "open", "breath"):
            spans = [(0, m.spb)]
            if m.density > 0.7:
                spans = _group_spans(grid)
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
                spans = _group_spans(grid)
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
            tops = [p for p in _tones_in_key(m, chord, max(inner) + 1, max(inner) + 12)]
            spans = (
                _group_spans(grid)
                if m.density < 0.6
                else [(s, s + n) for s, n in zip(grid.pulses, grid.pulse_lengths)]
            )
            for i, (start, end) in enumerate(spans):
                top = tops[(i + m.variant + bar) % len(tops)] if tops else max(voicing)
                notes.append([base + start, end - start, top, 0.6])
    return [(n[0], n[1], int(n[2]), m.velocity(n[3], 3)) for n in notes]


def _open_voicing(chord: Chord, center: float) -> list[int]:
    """Root and fifth low, third and seventh (or octave) an octave up: wide and hollow."""
    root = _nearest_pc(chord.root, center - 10, 36, 72)
    fifth = _nearest_pc(_fifth(chord), root + 7, root + 1, root + 12)
    third = _nearest_pc(_third(chord), root + 15, root + 12, root + 24)
    seventh = _seventh(chord)
    top = _nearest_pc(seventh, root + 22, third + 1, third + 12) if seventh is not None else None
    return [root, fifth, third] + ([top] if top is not None else [root + 24])


def _group_spans(grid: Grid) -> list[tuple[int, int]]:
    starts = list(grid.group_starts)
    return [
        (s, starts[i + 1] if i + 1 < len(starts) else grid.steps_per_bar)
        for i, s in enumerate(starts)
    ]


# Lead -----------------------------------------------------------------------------

_LEAD_SPEED = {"house": "mid", "techno": "fast", "dnb": "mid", "hiphop": "mid", "jazz": "mid"}


def _cells_for(length: int, speed: str) -> tuple[str, ...]:
    table = CELLS.get(length) or CELLS[4]
    return table[speed]


def _bar_rhythm(
    m: _Moment, speed: str, rest_bias: float, rng: random.Random
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


def _speed(m: _Moment, base: str | None = None) -> str:
    speed = base or ("slow" if m.style == "ambient" else _LEAD_SPEED[m.style])
    order = ("slow", "mid", "fast")
    i = order.index(speed)
    if m.density > 0.75 and i < 2:
        i += 1
    elif m.density < 0.2 and i > 0:
        i -= 1
    return order[i]


def _lead_range(m: _Moment) -> tuple[int, int]:
    center = 72 + (m.register - 0.5) * 14 + (m.brightness - 0.5) * 6
    return round(center - 7), round(center + 9)


def _sing(
    m: _Moment,
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
        options = _tones_in_key(m, chord, low, high)
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
            pitches[k] = _approach(m, after, came_from, rhythm[k][1])
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


def _lead(m: _Moment) -> list[Note]:
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
    m: _Moment, speed: str, rest_bias: float, rng: random.Random
) -> list[tuple[int, int]]:
    """A bar of rhythm with at least two notes and room to breathe."""
    for _ in range(8):
        rhythm = _bar_rhythm(m, speed, rest_bias, rng)
        if 2 <= len(rhythm) and sum(n for _, n in rhythm) < m.spb:
            return rhythm
    return [(0, 2), (m.grid.pulses[-1], 2)] if len(m.grid.pulses) > 1 else [(0, 2)]


def _lead_hook(m: _Moment, low: int, high: int) -> list[tuple]:
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
    m: _Moment, motif: list[int], rhythm: list[tuple[int, int]], shift: int
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


def _scale_shift(m: _Moment, pitch: int, chord: Chord) -> int:
    """Scale steps that move `pitch` onto the nearest tone of `chord` (0 if it is one)."""
    best, best_cost = 0, 99.0
    for shift in (0, 1, -1, 2, -2, 3, -3):
        moved = m.key.step(pitch, shift)
        if moved % 12 in chord.pitch_classes and abs(shift) < best_cost:
            best, best_cost = shift, abs(shift)
    return best


def _fit_strong(
    m: _Moment, rhythm: list[tuple[int, int]], pitches: list[int], low: int, high: int
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
                options = _tones_in_key(m, chord, pitch - 4, pitch + 4)
                if options:
                    pitch = min(options, key=lambda p: (abs(p - pitch), p))
        out.append(pitch)
    return out


def _lead_call_response(m: _Moment, low: int, high: int) -> list[tuple]:
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
            home = _tones_in_key(m, Chord(chord.root, "5"), low, high) or [pitches[-1]]
            pitches[-1] = min(home, key=lambda p: abs(p - pitches[-1]))
        out += [
            (s, n, p, 0.85 if i == 0 else 0.75)
            for i, ((s, n), p) in enumerate(zip(rhythm, pitches))
        ]
    return out


def _lead_arp(m: _Moment, low: int, high: int) -> list[tuple]:
    """The chord's notes one after another, up, down or both, with a breath every other bar."""
    rate = 4 if m.style == "ambient" else (1 if m.density > 0.6 else 2)
    if m.style == "ambient" and m.density > 0.5:
        rate = 2
    orders = ("up", "updown", "down", "broken")
    order = orders[(m.seed + m.variant) % len(orders)]
    out = []
    for bar in range(m.grid.bars):
        chord = m.chord(bar)
        tones = _tones_in_key(m, chord, low, high)
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


def _lead_riff(m: _Moment, low: int, high: int) -> list[tuple]:
    """A busy one-bar riff of near neighbours, repeated on each bar's chord."""
    rng = random.Random(f"riff|{m.seed}|{m.index}")
    rhythm = _motif_bars(m, "fast" if m.density > 0.3 else "mid", 0.15, rng)
    moves = [0]
    for _ in range(len(rhythm) - 1):
        moves.append(max(-3, min(4, moves[-1] + rng.choice((-1, 1, 0, 1, -1, 2, -2)))))
    out = []
    for bar in range(m.grid.bars):
        chord = m.chord(bar)
        home = _tones_in_key(m, chord, low, high)
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


def _lead_long(m: _Moment, low: int, high: int) -> list[tuple]:
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


def _lead_bebop(m: _Moment, low: int, high: int) -> list[tuple]:
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


def _lead_sequence(m: _Moment, low: int, high: int) -> list[tuple]:
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
        tones = _tones_in_key(m, chord, low, high)
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


def _lead_sparse(m: _Moment, low: int, high: int) -> list[tuple]:
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


_LEADS: dict[str, Callable[[_Moment, int, int], list[tuple]]] = {
    "hook": _lead_hook,
    "call-response": _lead_call_response,
    "arp": _lead_arp,
    "riff": _lead_riff,
    "long": _lead_long,
    "bebop": _lead_bebop,
    "sequence": _lead_sequence,
    "sparse": _lead_sparse,
}


# The generator -----------------------------------------------------------------------

_ROLE_MAKERS: dict[str, Callable[[_Moment], list[Note]]] = {
    "drums": _drums,
    "perc": _perc,
    "bass": _bass,
    "chords": _chords,
    "pad": _pad,
    "lead": _lead,
}


def _keep_in_key(m: _Moment, notes: list[tuple[float, float, int, int]]) -> None:
    """Keep passing notes off the scale a small share (4%) of the part's sounding time.

    Tones of the chords stay whatever they are (the performer chose the chords); a
    chromatic passing note beyond the share moves to the nearest note of the scale,
    longest first.
    """
    total = sum(n[1] for n in notes)
    outside = []
    for i, (start, _, pitch, _) in enumerate(notes):
        if m.key.contains(pitch):
            continue
        step = start / m.grid.step
        bar = int(step // m.spb)
        harmony = set(m.chord(bar).pitch_classes)
        if step - bar * m.spb >= m.spb - 2:
            harmony |= set(m.next_chord(bar).pitch_classes)
        if pitch % 12 not in harmony:
            outside.append(i)
    used = sum(notes[i][1] for i in outside)
    for i in sorted(outside, key=lambda i: (-notes[i][1], i)):
        if used <= 0.04 * total:
            break
        start, length, pitch, velocity = notes[i]
        notes[i] = (start, length, m.key.nearest_in_scale(pitch), velocity)
        used -= length


def _clip(m: _Moment, notes: list[Note]) -> NoteClip:
    """Steps to beats, after swing; every note ends by the clip's end so the loop is clean."""
    length = m.grid.length
    seen: dict[tuple[float, int], tuple[float, float, int, int]] = {}
    for step, steps, pitch, velocity in notes:
        if step < 0 or step >= m.grid.total_steps or steps <= 0:
            continue
        start = _swing(m, step)
        end = min(_swing(m, step + steps), length)
        if end - start <= 1e-6:
            end = min(length, start + m.grid.step * 0.25)
        if not 0 <= pitch <= 127:
            continue
        key = (round(start, 9), pitch)
        if key in seen and seen[key][3] >= velocity:
            continue  # the same note twice at once: keep the louder
        seen[key] = (start, end - start, pitch, velocity)
    placed = list(seen.values())
    if m.role not in ("drums", "perc"):
        _keep_in_key(m, placed)
    return NoteClip.from_notes(placed, length)


class DefaultGenerator:
    """hoot's own generator: pattern families for every role and style, no downloads.

    `compose(request)` gives the notes of candidate `request.index` and the choices it
    made; the same request gives the same notes, note for note.
    """

    name = "default"

    def available(self) -> tuple[bool, str]:
        """Always here: it is plain Python and numpy."""
        return True, "embedded; no downloads"

    def compose(self, request: Any) -> tuple[NoteClip, dict]:
        """The notes of one candidate, and the parameters it used (for the metadata)."""
        m = _moment(request)
        notes = _ROLE_MAKERS[m.role](m)
        clip = _clip(m, notes)
        params: dict[str, Any] = {
            "generator": self.name,
            "role": m.role,
            "style": m.style,
            "archetype": m.archetype,
            "variant": m.variant,
            "archetypes": list(_ARCHETYPES[m.role][m.style]),
            "key": str(m.key),
            "chords": [c.name for c in m.progression],
            "meter": str(m.grid.meter),
            "bars": m.grid.bars,
            "seed": m.seed,
            "index": m.index,
            "notes_per_bar": round(len(clip) / m.grid.bars, 2),
        }
        params.update({name: round(value, 3) for name, value in m.vibe.items()})
        if m.role in ("drums", "bass"):
            params["kick"] = m.kick_name
        if m.role in ("drums", "perc"):
            params["fill"] = _wants_fill(m)
        return clip, params
