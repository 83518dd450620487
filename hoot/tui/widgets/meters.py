"""Level meters: a horizontal bar per track and the master, with peak hold and clip lamps.

    drums    ███████████████████████▋        ┃     │              -8
    trombone ████████████████████▍     ┃                         -14 in mon CLIP
    sax      ███████████▋   ┃                                    -31 in off
    master   █████████████████████████████▍        ┃│             -1        CLIP
             -60        -48         -36   -24   -18   -12   -6 -3  0

RMS is the solid bar, the peak a marker in the bar's colour, the held peak a white
marker (and the number at the right, in dB). Stereo shows as the louder channel.
A live input (perf.input) is marked "in mon" when hoot's outputs play it, "in off" when its
player hears themselves acoustically (metered and recorded only); its lamp lights too when
the input itself reached full scale before its fader (the engine's lamp, held 2 s). A
model's output (perf.transfer, drone, echo: "trombone~") is marked "model".
The scale is dB from -60 to 0, so a longer terminal gives finer bars. When the widget
is shorter than its bars, they flow into columns (and the scale goes first); when even
those are too few, silent tracks go, and the master always stays.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip

from hoot.stage.view import InputView, SetView, TrackLevel
from hoot.tui.widgets import LineWidget

FLOOR_DB = -60.0
SILENT_DB = -200.0
HOLD_S = 1.5  # the held peak stays this long
FALL_DB_S = 20.0  # then falls this fast
CLIP_S = 2.0  # a clip lamp stays lit this long
CLIP_BELOW_CEILING_DB = 0.1  # the lamp lights at the limiter's ceiling too
ZONES = ((-18.0, "meters--low"), (-6.0, "meters--mid"), (math.inf, "meters--high"))
TICKS = (0, -60, -6, -12, -24, -18, -36, -48, -3)  # most wanted first
EIGHTHS = " ▏▎▍▌▋▊▉"
PEAK, HOLD = "┃", "│"
NAME_MAX = 10
VALUE_W = 4
CLIP = "CLIP"
MONITORED, UNHEARD = "in mon", "in off"  # an input's mark
MODEL = "model"  # a model's output (perf.transfer, drone, echo): played like an input
MARK_W = len(MONITORED)
GAP = 2  # between columns
MIN_COLUMN = 32
SCALE = "scale"  # the line model of the scale row


def to_db(linear: float) -> float:
    return 20.0 * math.log10(linear) if linear > 1e-10 else SILENT_DB


@dataclass
class _Held:
    db: float
    since: float
    clip_until: float

    def level(self, now: float) -> float:
        late = now - self.since - HOLD_S
        return self.db if late <= 0 else self.db - FALL_DB_S * late


@dataclass(frozen=True)
class Reading:
    """One bar after ballistics, in dB."""

    name: str
    master: bool
    rms: float
    peak: float
    hold: float
    clip: bool
    mark: str = ""  # an input's: MONITORED or UNHEARD


class Ballistics:
    """UI-side peak hold and clip lamps, computed from successive readings."""

    def __init__(self) -> None:
        self._held: dict[tuple[bool, str], _Held] = {}

    def step(
        self,
        levels: Sequence[TrackLevel],
        master: TrackLevel,
        now: float,
        ceiling_db: float = -0.3,
        inputs: Sequence[InputView] = (),
    ) -> list[Reading]:
        clip_db = ceiling_db - CLIP_BELOW_CEILING_DB
        marks = {
            i.name: MODEL if i.source == "model" else MONITORED if i.monitored else UNHEARD
            for i in inputs
        }
        clipped = {i.name for i in inputs if i.clip}
        held: dict[tuple[bool, str], _Held] = {}
        out = []
        for level, is_master in [*((t, False) for t in levels), (master, True)]:
            key = (is_master, level.name)
            peak_lin = max(level.peak)
            peak = to_db(peak_lin)
            h = self._held.get(key)
            if h is None or peak >= h.level(now):
                h = _Held(peak, now, h.clip_until if h else -math.inf)
            if peak_lin >= 1.0 or peak >= clip_db or (not is_master and level.name in clipped):
                h.clip_until = now + CLIP_S
            held[key] = h
            rms = to_db(max(level.rms))
            mark = "" if is_master else marks.get(level.name, "")
            clip = now < h.clip_until
            out.append(Reading(level.name, is_master, rms, peak, h.level(now), clip, mark))
        self._held = held
        return out


@dataclass(frozen=True)
class _Geometry:
    columns: int
    rows: int  # bars per column
    scale: bool
    name: int
    bar: int
    mark: int = 0  # the width of the inputs' marks (and a space), 0 with no input


def _geometry(n: int, names: Sequence[str], size: Size, marked: bool = False) -> _Geometry:
    width, height = size.width, max(size.height, 1)
    name_w = min(NAME_MAX, max((len(s) for s in names), default=4))
    mark_w = MARK_W + 1 if marked else 0
    fixed = name_w + 1 + 1 + VALUE_W + 1 + mark_w + len(CLIP)
    most = max(1, (width + GAP) // (MIN_COLUMN + GAP))
    columns = min(most, max(1, math.ceil(n / height)))
    rows = math.ceil(n / columns) if n else 0
    scale = rows + 1 <= height
    if not scale and height >= 2 and math.ceil(n / (height - 1)) <= columns:
        rows, scale = height - 1, True
    rows = min(rows, height)  # and fewer bars (see _fitting)
    column_w = (width - GAP * (columns - 1)) // columns
    return _Geometry(columns, rows, scale, name_w, max(1, column_w - fixed), mark_w)


def _fitting(readings: list[Reading], room: int) -> list[Reading]:
    """The bars that fit in `room`: the master always, the tracks that sound before the
    silent ones, in their order."""
    if len(readings) <= room:
        return readings
    tracks = [r for r in readings if not r.master]
    sounding = sorted(range(len(tracks)), key=lambda i: tracks[i].hold < FLOOR_DB)
    keep = sorted(sounding[: max(room - 1, 0)])
    return [tracks[i] for i in keep] + [r for r in readings if r.master][:room]


def _position(db: float, width: int) -> float:
    """Where `db` falls on a bar `width` cells long, in cells (0..width)."""
    return min(max((db - FLOOR_DB) / -FLOOR_DB, 0.0), 1.0) * width


def _scale(width: int) -> str:
    cells = [" "] * width
    taken: list[tuple[int, int]] = []
    for db in TICKS:
        label = str(db)
        x = round((db - FLOOR_DB) / -FLOOR_DB * (width - 1))
        start = min(max(x - len(label) + 1, 0), width - len(label))
        end = start + len(label)
        if start < 0 or any(start <= b and a <= end for a, b in taken):
            continue
        taken.append((start, end))
        cells[start:end] = label
    return "".join(cells)


class Meters(LineWidget):
    """A bar per track plus the master. `clock` (seconds, monotonic) times the peak hold
    and clip lamps; inject one in tests."""

    COMPONENT_CLASSES = {
        "meters--name",
        "meters--master",
        "meters--track",
        "meters--low",
        "meters--mid",
        "meters--high",
        "meters--hold",
        "meters--value",
        "meters--clip",
        "meters--scale",
        "meters--input",
        "meters--unheard",
    }

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.clock = clock
        self.ballistics = Ballistics()
        self.readings: list[Reading] = []

    def update(self, view: SetView) -> None:
        """Take new levels (and the time now); repaint the bars that look different."""
        self.view = view
        self.readings = self.ballistics.step(
            view.tracks, view.master, self.clock(), view.ceiling_db, view.inputs
        )
        self.show_lines()

    # ---- layout -----------------------------------------------------------------------------

    def natural_height(self, width: int) -> int:
        return len(self.readings) + 1

    def lay_out(self, size: Size) -> tuple:
        names = [r.name for r in self.readings]
        g = _geometry(len(names), names, size, any(r.mark for r in self.readings))
        shown = _fitting(self.readings, g.rows * g.columns)
        lines: list[tuple] = [
            (g, tuple(self._cell(shown, c * g.rows + y, g.bar) for c in range(g.columns)))
            for y in range(g.rows)
        ]
        if g.scale:
            lines.append((g, SCALE))
        return tuple(lines)

    def _cell(self, readings: list[Reading], i: int, bar: int) -> tuple | None:
        """What a bar looks like, quantised to what `bar` cells can show."""
        if i >= len(readings):
            return None
        r = readings[i]
        rms = round(_position(r.rms, bar) * 8)
        peak = min(int(_position(r.peak, bar)), bar - 1) if r.peak >= FLOOR_DB else -1
        hold = min(int(_position(r.hold, bar)), bar - 1) if r.hold >= FLOOR_DB else -1
        db = round(r.hold)
        value = "" if r.hold < -99.5 else (f"+{db}" if db > 0 else str(db))
        return (r.name, r.master, rms, peak, hold, value, r.clip, r.mark)

    # ---- drawing ----------------------------------------------------------------------------

    def draw(self, line: tuple, width: int) -> Strip:
        base = self.rich_style
        if not line:
            return Strip.blank(width, base)
        g, cells = line
        segments: list[Segment] = []
        for c in range(g.columns):
            if c:
                segments.append(Segment(" " * GAP, base))
            if cells == SCALE:
                segments += self._scale_segments(g)
            elif cells[c] is not None:
                segments += self._bar_segments(cells[c], g)
        return Strip(segments).adjust_cell_length(width, base)

    def _scale_segments(self, g: _Geometry) -> list[Segment]:
        style = self.style_of("meters--scale")
        pad = " " * (g.name + 1)
        return [Segment(pad + _scale(g.bar) + " " * (1 + VALUE_W + 1 + g.mark + len(CLIP)), style)]

    def _bar_segments(self, cell: tuple, g: _Geometry) -> list[Segment]:
        name, master, rms, peak, hold, value, clip, mark = cell
        style = self.style_of
        track = style("meters--track")
        looks = {zone: style(f"meters--track {zone}") for _, zone in ZONES}
        hold_look = style("meters--track meters--hold")
        label = name if len(name) <= g.name else name[: g.name - 1] + "…"
        name_style = style("meters--master" if master else "meters--name")
        segments = [Segment(f"{label:<{g.name}} ", name_style)]
        runs: list[tuple[str, Style]] = []
        for x, zone in enumerate(_zones(g.bar)):
            if x == peak:
                char, look = PEAK, looks[zone]
            elif x == hold:
                char, look = HOLD, hold_look
            elif x * 8 < rms:
                char, look = ("█" if (x + 1) * 8 <= rms else EIGHTHS[rms - x * 8]), looks[zone]
            else:
                char, look = " ", track
            if runs and runs[-1][1] == look:
                runs[-1] = (runs[-1][0] + char, look)
            else:
                runs.append((char, look))
        segments += [Segment(text, look) for text, look in runs]
        segments.append(Segment(f" {value:>{VALUE_W}} ", style("meters--value")))
        if g.mark:
            look = style("meters--input" if mark != UNHEARD else "meters--input meters--unheard")
            segments.append(Segment(f"{mark:<{MARK_W}}", look if mark else self.rich_style))
            segments.append(Segment(" ", self.rich_style))
        if clip:
            segments.append(Segment(CLIP, style("meters--clip")))
        else:
            segments.append(Segment(" " * len(CLIP), self.rich_style))
        return segments


@lru_cache(maxsize=64)
def _zones(width: int) -> tuple[str, ...]:
    """The colour zone of each cell of a bar `width` cells long."""
    return tuple(_zone(FLOOR_DB + (x + 0.5) / width * -FLOOR_DB) for x in range(width))


def _zone(db: float) -> str:
    return next(name for top, name in ZONES if db < top)
