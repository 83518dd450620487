"""Rhythm vocabulary for the default generator: the grid of a meter, drum-machine style
pattern strings, swing, and the notes a pattern becomes.

Patterns are written the way a drum machine shows them: sixteen steps for a bar of
4/4, one character a step.

    "x...x...x...x..."     four on the floor
    "....x.......x..."     a backbeat on 2 and 4

A pattern says what happens on each beat of a 4/4 bar. In another meter each felt
beat (a *pulse*) borrows a 4/4 beat that plays the same part: the downbeat borrows
beat 1, a backbeat borrows beat 2 (or beat 4 at the end of the bar), the start of a
group borrows beat 3. So a house pattern in 7/8 (felt 2+2+3) keeps its kick on every
pulse and its clap on the last group, and 6/8 keeps a backbeat on its second pulse.

Characters: "." rest; "X" accent; "x" hit; "o" soft; "g" ghost (a note so quiet it is
felt more than heard); for chords, "l" holds to the next hit and "h" holds half way.

Below the machinery sit the tables the default generator plays from: the kicks of
each style, its drum kits, the hand-percussion patterns, the comping rhythms and
the one-beat rhythm cells melodies are built of.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hoot.music.time import Meter

# How loud each pattern character plays, as a share of the part's level.
WEIGHT: dict[str, float] = {"X": 1.0, "x": 0.84, "l": 0.84, "h": 0.84, "o": 0.66, "g": 0.38}


def _split(count: int) -> list[int]:
    """Group `count` beats the way players feel them: 4 -> 2+2, 5 -> 2+3, 6 -> 3+3, 7 -> 2+2+3."""
    if count <= 3:
        return [count]
    if count == 6:
        return [3, 3]
    if count % 2 == 0:
        return [2] * (count // 2)
    return [2] * ((count - 3) // 2) + [3]


def _split_units(count: int) -> list[int]:
    """Group eighth (or sixteenth) notes into felt beats: 6 -> 3+3, 7 -> 2+2+3, 5 -> 2+3."""
    if count <= 3:
        return [count]
    if count % 3 == 0:
        return [3] * (count // 3)
    if count % 2 == 0:
        return [2] * (count // 2)
    return [2] * ((count - 3) // 2) + [3]


@dataclass(frozen=True)
class Grid:
    """The step grid of a clip: sixteenth notes of the meter, grouped into felt beats.

    A step is a sixteenth note (in 7/8 that is half a beat, since a beat there is an
    eighth). `pulses` are the felt beats of a bar, as steps from the bar's start.
    """

    meter: Meter
    bars: int
    step: float
    steps_per_bar: int
    pulses: tuple[int, ...]
    pulse_lengths: tuple[int, ...]
    group_starts: tuple[int, ...]
    backbeats: tuple[int, ...]
    sources: tuple[int, ...]

    @classmethod
    def of(cls, meter: Meter | str, bars: int) -> Grid:
        """The grid of `bars` bars of `meter`."""
        meter = Meter.parse(meter)
        # A beat of 1/32 is shorter than a sixteenth: then the grid steps in beats.
        steps_per_beat = max(1, 16 // meter.unit)
        steps_per_bar = meter.beats * steps_per_beat
        if meter.unit <= 4:
            lengths = [4] * (steps_per_bar // 4)
        else:
            lengths = [units * steps_per_beat for units in _split_units(meter.beats)]
        pulses = tuple(sum(lengths[:i]) for i in range(len(lengths)))
        groups = [2] * (len(lengths) // 2) if meter.unit == 2 and len(lengths) % 2 == 0 else None
        groups = groups or _split(len(lengths))
        group_starts = tuple(sum(groups[:i]) for i in range(len(groups)))
        backbeats = tuple(
            start + size - 1 for start, size in zip(group_starts, groups) if size >= 2
        )
        sources = []
        for index in range(len(lengths)):
            if index == 0:
                sources.append(0)
            elif backbeats and index == backbeats[-1]:
                sources.append(3)
            elif index in backbeats:
                sources.append(1)
            else:
                sources.append(2)
        return cls(
            meter=meter,
            bars=bars,
            step=1.0 / steps_per_beat,
            steps_per_bar=steps_per_bar,
            pulses=pulses,
            pulse_lengths=tuple(lengths),
            group_starts=tuple(pulses[g] for g in group_starts),
            backbeats=backbeats,
            sources=tuple(sources),
        )

    @property
    def total_steps(self) -> int:
        return self.bars * self.steps_per_bar

    @property
    def length(self) -> float:
        """The clip's length in beats."""
        return float(self.bars * self.meter.beats)

    @property
    def halves(self) -> tuple[int, ...]:
        """Where the bar's felt halves start, in steps: its groups (2+2 beats in 4/4, 2+3
        in 5/4), or in a bar of one group its pulses split in two (2+1 beats in 3/4, 2+2
        and 3 eighths in 7/8, two dotted quarters in 6/8), so a part that plays "in two"
        plays in two in every meter."""
        if len(self.group_starts) > 1 or len(self.pulses) < 2:
            return self.group_starts
        return (0, self.pulses[(len(self.pulses) + 1) // 2])

    def pulse_of(self, step_in_bar: int) -> tuple[int, int]:
        """(pulse index, steps into that pulse) of a step in the bar."""
        for index in range(len(self.pulses) - 1, -1, -1):
            if step_in_bar >= self.pulses[index]:
                return index, step_in_bar - self.pulses[index]
        return 0, step_in_bar

    def strength(self, step: int) -> int:
        """How strong a step is: 4 the downbeat, 3 a group's first beat, 2 another beat,
        1 an eighth note between beats, 0 a sixteenth between them."""
        in_bar = step % self.steps_per_bar
        if in_bar == 0:
            return 4
        if in_bar in self.group_starts:
            return 3
        _, offset = self.pulse_of(in_bar)
        if offset == 0:
            return 2
        return 1 if offset % 2 == 0 else 0

    def upbeat(self, pulse: int) -> int:
        """The "and" of a pulse, in steps from the bar's start: halfway through a quarter,
        the last eighth of a three-eighth group."""
        length = self.pulse_lengths[pulse]
        return self.pulses[pulse] + (length // 2 if length <= 4 else length - 2)


def _map_cell(cell: str, length: int) -> list[tuple[int, str]]:
    """A 4-step beat of a pattern laid onto a pulse `length` steps long."""
    hits = [(i, c) for i, c in enumerate(cell) if c != "."]
    if length == 4:
        return hits
    if length == 6:
        # A three-eighth beat: on, the sixteenth after, the last eighth and the sixteenth
        # before the next beat keep their jobs; steady eighths or sixteenths stay steady.
        out = {0: cell[0], 1: cell[1], 4: cell[2], 5: cell[3]}
        if cell[0] != "." and cell[2] != ".":
            out[2] = cell[2]
        if cell[1] != "." and cell[3] != ".":
            out[3] = cell[3]
        return [(i, c) for i, c in sorted(out.items()) if c != "."]
    placed: dict[int, str] = {}
    for i, c in hits:
        position = min(length - 1, int(math.floor(i * length / 4)))
        placed.setdefault(position, c)
    return sorted(placed.items())


def pattern_hits(grid: Grid, pattern: str, bar: int) -> list[tuple[int, str]]:
    """The hits of a pattern in one bar of the grid, as (step in the bar, character).

    A pattern is sixteen characters a bar of 4/4; a longer one (32, 64) is several bars
    that take turns. Bars separated by "|" are allowed for legibility.
    """
    text = pattern.replace("|", "").replace(" ", "")
    bars_in_pattern = max(1, len(text) // 16)
    start = (bar % bars_in_pattern) * 16
    source = text[start : start + 16].ljust(16, ".")
    hits: list[tuple[int, str]] = []
    for pulse, (offset, length) in enumerate(zip(grid.pulses, grid.pulse_lengths)):
        beat = grid.sources[pulse]
        cell = source[beat * 4 : beat * 4 + 4]
        hits.extend((offset + i, c) for i, c in _map_cell(cell, length))
    return hits


def rotated(pattern: str, steps: int) -> str:
    """The pattern started `steps` steps later, its end wrapped round to the front."""
    text = pattern.replace("|", "")
    return text[-steps:] + text[:-steps]


def euclid(hits: int, steps: int, rotate: int = 0) -> list[int]:
    """`hits` onsets spread as evenly as steps allow (a Euclidean rhythm), rotated.

    euclid(3, 8) is the tresillo, euclid(5, 16) a bossa-like line; they fit any bar.
    """
    if steps <= 0 or hits <= 0:
        return []
    hits = min(hits, steps)
    onsets = sorted({(i * steps) // hits for i in range(hits)})
    return sorted((o + rotate) % steps for o in onsets)


def lateness(grid: Grid, swing: float, eighths: bool) -> tuple[float, ...]:
    """How late, in beats, swing plays each step of a bar.

    Swing delays the off-beat sixteenths by `swing` x half a sixteenth; with `eighths`
    (jazz) it delays the off-beat eighths of each quarter by `swing` x a sixteenth, so
    swing 2/3 puts them on the triplet.
    """
    late = []
    for step in range(grid.steps_per_bar):
        pulse, offset = grid.pulse_of(step)
        if swing <= 0:
            late.append(0.0)
        elif eighths:
            on_the_and = grid.pulse_lengths[pulse] == 4 and offset == 2
            late.append(swing * grid.step if on_the_and else 0.0)
        else:
            late.append(swing * grid.step / 2 if offset % 2 == 1 else 0.0)
    return tuple(late)


def swung(step: float, grid: Grid, late: tuple[float, ...]) -> float:
    """The beat a step falls on after swing (`late` from `lateness`); between steps, time
    moves evenly."""
    whole = math.floor(step + 1e-9)
    fraction = step - whole
    here = whole * grid.step + late[whole % grid.steps_per_bar]
    if fraction <= 1e-9:
        return here
    there = (whole + 1) * grid.step + late[(whole + 1) % grid.steps_per_bar]
    return here + fraction * (there - here)


# General MIDI drum and percussion notes ---------------------------------------------

KICK, RIM, SNARE, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 36, 37, 38, 39, 42, 44, 46
CRASH, RIDE, RIDE_BELL, TAMBOURINE, COWBELL = 49, 51, 53, 54, 56
LOW_FLOOR_TOM, HIGH_FLOOR_TOM, LOW_TOM, LOW_MID_TOM, HIGH_MID_TOM, HIGH_TOM = 41, 43, 45, 47, 48, 50
HIGH_BONGO, LOW_BONGO, MUTE_CONGA, OPEN_CONGA, LOW_CONGA = 60, 61, 62, 63, 64
HIGH_TIMBALE, LOW_TIMBALE, CABASA, MARACAS, CLAVES, HIGH_WOOD, LOW_WOOD = 65, 66, 69, 70, 75, 76, 77

# Cymbals and shakers: the voices density and brightness thin out or fill in.
HATS = {CLOSED_HAT, PEDAL_HAT, OPEN_HAT, RIDE, RIDE_BELL, TAMBOURINE, MARACAS, CABASA}
TOMS_DOWN = (HIGH_TOM, HIGH_MID_TOM, LOW_MID_TOM, LOW_TOM, HIGH_FLOOR_TOM, LOW_FLOOR_TOM)


# The shared kick --------------------------------------------------------------------

# Two-bar kick patterns per style. The first two are the plain ones a low complexity keeps.
KICKS: dict[str, tuple[str, ...]] = {
    "house": (
        "x...x...x...x...",
        "x...x...x...x...|x...x...x...x..g",
        "x...x...x...x...|x...x...x..gx...",
    ),
    "techno": (
        "x...x...x...x...",
        "x...x...x...x..g",
        "x...x...x...x...|x...x...x...x.g.",
        "x..gx...x..gx...",
    ),
    "dnb": (
        "x.........x.....",
        "x.........x.....|x.x.......x.....",
        "x.........x.....|x.........x..x..",
        "x......x..x.....|x.........x.....",
    ),
    "hiphop": (
        "x......x..x.....",
        "x.........x.....|x.x.......x..x..",
        "x.x.......x.....|x......x..x.....",
        "x......xx.....x.|x.........x.....",
    ),
    "ambient": (
        "x.......o.......",
        "x.......o.......|x...............",
        "x.........o.....|x.......o.......",
    ),
    "jazz": (
        "g...g...g...g...",
        "g...g...g...g...|g...g...g...g.o.",
    ),
}


# Drum kits: per style, six archetypes of everything but the kick ------------------


@dataclass(frozen=True)
class Kit:
    """A drum kit's patterns, pitch by pitch (everything but the shared kick), and the kind
    of fill it plays at the end of a phrase."""

    voices: dict[int, str]
    fill: str


DRUM_KITS: dict[str, dict[str, Kit]] = {
    "house": {
        "classic": Kit(
            {
                CLAP: "....x.......x...",
                OPEN_HAT: "..x...x...x...x.",
                CLOSED_HAT: "x..gx..gx..gx..g",
            },
            "roll",
        ),
        "garage": Kit(
            {
                CLAP: "....x.......x...",
                RIM: "...g..g.......g.|...g......g...g.",
                CLOSED_HAT: "x.xxx.xxx.xxx.xx",
                OPEN_HAT: "......x.......x.",
            },
            "roll",
        ),
        "deep": Kit(
            {RIM: "....x.......x...", CLOSED_HAT: "g.x.g.x.g.x.g.x.", OPEN_HAT: "..............x."},
            "toms",
        ),
        "disco": Kit(
            {
                SNARE: "....x.......x...",
                CLAP: "....o.......o...",
                OPEN_HAT: "..x...x...x...x.",
                CLOSED_HAT: "xx.xxx.xxx.xxx.x",
            },
            "roll",
        ),
        "tribal": Kit(
            {
                CLAP: "............x...",
                RIM: "..x..x...x..x...",
                LOW_TOM: "......x.......x.|......x....x..x.",
                CLOSED_HAT: "x.x.x.x.x.x.x.x.",
            },
            "toms",
        ),
        "minimal": Kit(
            {
                CLAP: "....x.......x...",
                OPEN_HAT: "..x...x...x...x.",
                RIM: "......x..x....x.|...x......x.....",
            },
            "roll",
        ),
    },
    "techno": {
        "driving": Kit(
            {
                CLOSED_HAT: "gxoxgxoxgxoxgxox",
                OPEN_HAT: "..x...x...x...x.",
                CLAP: "....x.......x...",
            },
            "roll",
        ),
        "hypnotic": Kit(
            {
                OPEN_HAT: "..x...x...x...x.",
                RIM: "...x.....x....x.|......x.......x.",
                CLAP: "............x...",
            },
            "roll",
        ),
        "industrial": Kit(
            {
                RIDE: "x.o.x.o.x.o.x.o.",
                CLOSED_HAT: "..x...x...x...x.",
                CLAP: "....x.......x...",
                SNARE: "...............g|..........g.....",
            },
            "roll",
        ),
        "rolling": Kit(
            {
                CLOSED_HAT: "xgxgxgxgxgxgxgxg",
                OPEN_HAT: "..x...x...x...x.",
                CLAP: "....x.......x...",
                LOW_TOM: "...x..x....x..x.",
            },
            "toms",
        ),
        "minimal": Kit(
            {
                OPEN_HAT: "..x...x...x...x.",
                RIM: "..........x.....|...x..........x.",
                CLOSED_HAT: "...g...g...g...g",
            },
            "roll",
        ),
        "broken": Kit(
            {
                CLAP: "....x..x....x...|....x.......x.x.",
                CLOSED_HAT: "x.x.x.x.x.x.x.x.",
                OPEN_HAT: "......x.......x.",
            },
            "roll",
        ),
    },
    "dnb": {
        "two-step": Kit(
            {
                SNARE: "....X.......X...",
                CLOSED_HAT: "x.x.x.x.x.x.x.x.",
                OPEN_HAT: "..............x.",
            },
            "roll",
        ),
        "rolling": Kit(
            {
                SNARE: "....X..g.g..X..g",
                CLOSED_HAT: "xgxgxgxgxgxgxgxg",
                OPEN_HAT: "......x.........|..............x.",
            },
            "toms",
        ),
        "amen": Kit(
            {SNARE: "....X..o.o..X..o|.o..X..o.o..X...", RIDE: "x.x.x.x.x.x.x.x."},
            "toms",
        ),
        "liquid": Kit(
            {
                SNARE: "....X.......X...",
                CLOSED_HAT: "xgxxxgxxxgxxxgxx",
                OPEN_HAT: "......x.......x.",
                RIDE_BELL: "..x.......x.....",
            },
            "roll",
        ),
        "jungle": Kit(
            {
                SNARE: "....X.g..g..X.g.|....X..g..g.X..g",
                CLOSED_HAT: "x.x.x.x.x.x.x.x.",
                OPEN_HAT: "..............x.",
                RIM: "..g.......g.....",
            },
            "toms",
        ),
        "steppy": Kit(
            {
                SNARE: "....X.......X...",
                RIM: "..g.....g..g....",
                CLOSED_HAT: "..x...x...x...x.",
                TAMBOURINE: "x.x.x.x.x.x.x.x.",
            },
            "roll",
        ),
    },
    "hiphop": {
        "boom-bap": Kit(
            {
                SNARE: "....X..g....X...|....X.....g.X..g",
                CLOSED_HAT: "x.x.x.x.x.x.x.x.",
                OPEN_HAT: "..............x.|................",
            },
            "chop",
        ),
        "dusty": Kit(
            {
                SNARE: "....X.......X...",
                RIM: "..g.......g.....",
                CLOSED_HAT: "x.xgx.xgx.xgx.xg",
                OPEN_HAT: "..............x.",
            },
            "chop",
        ),
        "lazy": Kit(
            {
                SNARE: "....X.......X...|....X.......X.g.",
                CLOSED_HAT: "x...x...x...x...",
                PEDAL_HAT: "..x...x...x...x.",
            },
            "toms",
        ),
        "bounce": Kit(
            {
                SNARE: "....X.......X...",
                CLAP: "....x.......x...",
                CLOSED_HAT: "x.xxx.x.x.xxx.x.",
            },
            "chop",
        ),
        "jazzy": Kit(
            {
                RIDE: "x.x.x.x.x.x.x.x.",
                RIM: "....x.......x...",
                SNARE: "..g....g..g....g",
                PEDAL_HAT: "....x.......x...",
            },
            "toms",
        ),
        "knock": Kit(
            {
                SNARE: "....X..g....X.g.",
                CLOSED_HAT: "x...x...x...x...",
                OPEN_HAT: "..o...o...o...o.",
                TAMBOURINE: "....o.......o...",
            },
            "chop",
        ),
    },
    "ambient": {
        "heartbeat": Kit({RIM: "................|........o......."}, "soft"),
        "brush": Kit({RIDE: "o.......o......."}, "soft"),
        "tick": Kit(
            {RIM: "......g.........|..........g.....", CLOSED_HAT: "..............g."}, "soft"
        ),
        "swell": Kit(
            {RIDE: "o...............|........o.......", RIDE_BELL: "....g..........."}, "soft"
        ),
        "pulse": Kit({PEDAL_HAT: "....o.......o..."}, "soft"),
        "toms": Kit(
            {
                LOW_TOM: "..........o.....|................",
                LOW_FLOOR_TOM: "................|...o............",
            },
            "soft",
        ),
    },
    "jazz": {
        "ride": Kit(
            {
                RIDE: "x...x.x.x...x.x.",
                PEDAL_HAT: "....x.......x...",
                SNARE: "......g.........|..g.......g.....",
            },
            "jazz",
        ),
        "two-feel": Kit(
            {RIDE: "x.....x.x.....x.", RIM: "............x...", PEDAL_HAT: "....x.......x..."},
            "jazz",
        ),
        "brushes": Kit({SNARE: "g.g.o.g.g.g.o.g.", PEDAL_HAT: "....x.......x..."}, "jazz"),
        "bebop": Kit(
            {
                RIDE: "x.x.x.x.x.x.x.x.",
                PEDAL_HAT: "....x.......x...",
                SNARE: "..g...o...g...o.|......g...o.g...",
                KICK: "..............o.|......o.........",
            },
            "jazz",
        ),
        "hat-swing": Kit(
            {
                CLOSED_HAT: "x...x.x.x...x.x.",
                PEDAL_HAT: "....x.......x...",
                RIM: "............x...",
            },
            "jazz",
        ),
        "latin": Kit(
            {
                RIDE_BELL: "x.x.x.x.x.x.x.x.",
                RIM: "x.....x.....x...|....x.....x.....",
                LOW_TOM: "......o.......o.",
            },
            "jazz",
        ),
    },
}


# Percussion: archetypes shared by the styles ----------------------------------------

PERCUSSION: dict[str, dict[int, str]] = {
    "congas": {
        MUTE_CONGA: "x...x...x...x...",
        OPEN_CONGA: "......x.......x.|......x.....x.x.",
        LOW_CONGA: "...o..........o.",
    },
    "shaker": {MARACAS: "gxoxgxoxgxoxgxox"},
    "bongos": {HIGH_BONGO: "x.xx..xxx.xx..xx", LOW_BONGO: "....x.......x..."},
    "cowbell": {COWBELL: "..x...x...x...x.|..x...x...x..xx."},
    "clave": {CLAVES: "x..x..x...x.x...", HIGH_WOOD: "......g.......g."},
    "toms": {
        LOW_TOM: "x..x..x.........",
        HIGH_MID_TOM: "..........x..x..",
        LOW_FLOOR_TOM: "o......o......o.",
    },
    "tambourine": {TAMBOURINE: "g.g.x.g.g.g.x.gg"},
    "timbales": {
        HIGH_TIMBALE: "x..x..x...x.x...",
        LOW_TIMBALE: "......o.......o.",
        COWBELL: "x...x...x...x...",
    },
}

EUCLID = "euclid"  # computed per bar: it fits any meter as it is
PERC_SWAP = {
    MARACAS: CABASA,
    COWBELL: HIGH_WOOD,
    CLAVES: LOW_WOOD,
    TAMBOURINE: MARACAS,
    HIGH_BONGO: HIGH_TIMBALE,
    LOW_BONGO: LOW_TIMBALE,
    MUTE_CONGA: HIGH_BONGO,
}

# A second round of candidates plays each kit with other metal: hats become ride and back;
# kits without cymbals change their wood and skins instead.
METAL_SWAP = {CLOSED_HAT: RIDE, RIDE: CLOSED_HAT, OPEN_HAT: RIDE_BELL, RIDE_BELL: OPEN_HAT}
SKIN_SWAP = {PEDAL_HAT: RIDE, RIM: HIGH_FLOOR_TOM, LOW_TOM: RIDE_BELL, LOW_FLOOR_TOM: RIM}


# Chords: comping rhythms ("x" short hit, "l" held to the next hit, "h" held half way) --

COMPING: dict[str, str] = {
    "stabs": "..x...x...x...x.",
    "piano": "l..l..l.l..l..l.",
    "push": "l.............l.|l.....l.......l.",
    "chops": "x..x..x.........|x..x......x.....",
    "halves": "l.......l.......",
    "organ": "x..x.x..x..x.x..",
    "dub": "...x......x.....|......x.........",
    "minimal": "......x.........|..x.......x.....",
    "hold": "l...............",
    "pulse": "x.x.x.x.x.x.x.x.",
    "liquid": "l.........l.....",
    "rhodes": "l.............l.|........l.......",
    "lazy": "l.....h.........|l..........h....",
    "swell": "l...............",
    "breathe": "h...............|h.......h.......",
    "drift": "l...............|........l.......",
    "rolled": "l...............",
    "charleston": "x.....x.........",
    "anticipate": "......l.......l.",
    "comp-off": "..x.....x.x.....|......x.......x.",
    "freddie": "x...x...x...x...",
    "red-garland": "..x...x...x...x.",
}
# One beat's rhythm, by how busy the line is: "x" starts a note, "-" holds, "." rests.
CELLS: dict[int, dict[str, tuple[str, ...]]] = {
    4: {
        "slow": ("x---", "----", "....", "x---", "..x-", "x-x-"),
        "mid": ("x-x-", "x---", "..x-", "x-.x", ".xx-", "x.x-", "....", "x--x"),
        "fast": ("xxxx", "x.xx", "xx.x", ".xxx", "x-xx", "x.x.", "xx-.", "x..x"),
    },
    6: {
        "slow": ("x-----", "------", "......", "x---x-"),
        "mid": ("x-x-x-", "x---x-", "..x-x-", "x-....", "x-x---"),
        "fast": ("xxx-x-", "x-xxx-", "x.x.xx", "xxxxxx", "x-x-xx"),
    },
    2: {"slow": ("x-", "--", ".."), "mid": ("x-", "xx", ".x"), "fast": ("xx", "x-", ".x")},
    3: {"slow": ("x--", "---"), "mid": ("x--", "x-x", "..x"), "fast": ("xxx", "x-x", "xx-")},
}
