"""The moment a candidate is made for: the request read once, and the idea it plays.

Every role's composer takes a `Moment`: the meter's grid, the key, one chord a bar from
the progression, the vibe with the style's defaults filled in, the archetype this
candidate plays, the shared kick, and three random streams (rhythm, tune, touch) kept
apart so that a change in how one part draws does not move the others.

Candidate i of a batch plays the i-th archetype of its role and style, after a
rotation by the seed; a second round of candidates (index 6 and on) plays the same
archetypes again as a *variant*, which each role answers in its own way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hoot.generate.compose.patterns import (
    DRUM_KITS,
    EUCLID,
    KICKS,
    Grid,
    lateness,
    pattern_hits,
    swung,
)
from hoot.music import ROLES
from hoot.music.harmony import Chord, Key, chord_at, default_progression, parse_progression
from hoot.music.vibe import PARAMS as VIBE_PARAMS
from hoot.music.vibe import check_style, default_vibe

# Archetypes per role and style: candidate i plays the i-th (after a seed rotation) ---

ARCHETYPES: dict[str, dict[str, tuple[str, ...]]] = {
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
    return ARCHETYPES[role][check_style(style)]


# The moment a candidate is made for ------------------------------------------------

Note = tuple[float, float, int, int]
"""(start step, length in steps, pitch, velocity) while composing."""


@dataclass
class Moment:
    """Everything one candidate is made from, read once from the request.

    The first fields are the batch's and shared by its candidates; from `index` on
    they are this candidate's (`candidate` makes another's from the same reading).
    """

    role: str
    style: str
    grid: Grid
    key: Key
    progression: list[Chord]
    vibe: dict[str, float]
    seed: int
    kick_name: str
    index: int = 0
    archetype: str = ""
    variant: int = 0
    family: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    tune_rng: random.Random = field(default_factory=random.Random, repr=False)
    touch_rng: random.Random = field(default_factory=random.Random, repr=False)
    chromatic_left: float = 0.0
    _kicks: dict[int, list[tuple[int, str]]] = field(default_factory=dict, repr=False)
    _late: tuple[float, ...] = field(default=(), repr=False)

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

    def swung(self, step: float) -> float:
        """A step's time in beats, after the vibe's swing (jazz swings its eighths)."""
        return swung(step, self.grid, self._late)

    @classmethod
    def of(cls, request: Any) -> Moment:
        """The moment of the request's candidate, read from it; a bad field says which."""
        role = str(request.role)
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        vibe_in = dict(getattr(request, "vibe", None) or {})
        style = check_style(str(vibe_in.get("style", "house")))
        vibe = {
            name: float(value) for name, value in default_vibe(style).items() if name != "style"
        }
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
        # The groove (the session's, when perf passes one) fixes the kick, so drums and bass
        # from different calls still lock; without one, the seed does.
        groove = int(request.vibe.get("groove", seed)) if hasattr(request, "vibe") else seed
        batch = cls(
            role=role,
            style=style,
            grid=grid,
            key=key,
            progression=progression,
            vibe=vibe,
            seed=seed,
            kick_name=_kick_pattern(style, groove, grid, vibe["complexity"]),
            _late=lateness(grid, vibe["swing"], eighths=style == "jazz"),
        )
        return batch.candidate(index)

    def candidate(self, index: int, take: int = 0) -> Moment:
        """Candidate `index` of the same batch, on its `take`-th try: how often it has moved
        on from an idea an earlier candidate already plays (see `idea`)."""
        families = ARCHETYPES[self.role][self.style]
        family, variant = idea(index, self.seed, take, len(families))
        where = f"{self.seed}|{self.style}|{self.role}|{index}|{self.grid.meter}|{self.grid.bars}"
        if take:
            where += f"|{take}"
        return replace(
            self,
            index=index,
            archetype=families[family],
            variant=variant,
            family=family,
            rng=random.Random("rhythm|" + where),
            tune_rng=random.Random("tune|" + where),
            touch_rng=random.Random("touch|" + where),
            chromatic_left=0.04 * self.grid.length,
        )


def idea(index: int, seed: int, take: int, families: int) -> tuple[int, int]:
    """The (family, variant) candidate `index` plays on its `take`-th try.

    Candidate i takes the i-th family; the seed turns the wheel so that index 0 is not
    always the same idea from one batch to the next, and every further round of
    candidates plays the families again as the next variant. A candidate whose notes an
    earlier one of its batch already plays moves on: first to its family's next
    variant, then to the next family (and its next variant), and so round again with
    later variants.
    """
    family = (index + seed + take // 2) % families
    variant = index // families + take % 2 + 2 * (take // (2 * families))
    return family, variant


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
    moment = Moment.of(request)
    steps = [
        bar * moment.spb + step
        for bar in range(moment.grid.bars)
        for step in moment.kick_steps(bar)
    ]
    return np.array([moment.swung(step) for step in steps], dtype=np.float64)
