"""Musical time over a sample clock: tempo, meter and phrase length.

The sample clock is the truth. A `TempoMap` says which beat a sample falls on
and which sample a beat starts on. Tempo changes at a beat; every tempo segment
is anchored at an integer sample, so long sets do not drift and every boundary
is computed by the one function `sample_at`.

A beat is one unit of the meter's denominator (a quarter in 4/4, an eighth in
7/8) and the tempo counts those beats per minute. Bars group beats, phrases
group bars. Meter and phrase changes take effect at a phrase boundary, which
then starts a new grid: phrase counting begins again there.

A TempoMap is immutable: changes return a new map, so the audio thread can
swap maps by rebinding one attribute.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Literal

MIN_BPM = 20.0
MAX_BPM = 999.0

Quantum = Literal["beat", "bar", "phrase"]
QUANTA: tuple[str, ...] = ("beat", "bar", "phrase")


class TimeError(ValueError):
    """A tempo, meter or phrase length that hoot cannot play."""


@dataclass(frozen=True)
class Meter:
    """A time signature: `beats` per bar, each one `unit` note long."""

    beats: int = 4
    unit: int = 4

    @classmethod
    def parse(cls, text: str | Meter) -> Meter:
        """`Meter.parse("7/8")`; a Meter passes through unchanged."""
        if isinstance(text, Meter):
            return text
        try:
            top, bottom = str(text).split("/")
            meter = cls(int(top), int(bottom))
        except ValueError:
            raise TimeError(
                f"meter {text!r} is not a time signature; write it like '4/4' or '7/8'"
            ) from None
        if not 1 <= meter.beats <= 32 or meter.unit not in (1, 2, 4, 8, 16, 32):
            raise TimeError(
                f"meter {text!r} is out of range: 1 to 32 beats of a 1, 2, 4, 8, 16 or 32 note"
            )
        return meter

    def __str__(self) -> str:
        return f"{self.beats}/{self.unit}"


def check_bpm(bpm: float) -> float:
    """Return bpm as a float, or raise TimeError saying the playable range."""
    try:
        value = float(bpm)
    except (TypeError, ValueError):
        raise TimeError(f"tempo {bpm!r} is not a number; set it like perf.tempo = 124") from None
    if not (MIN_BPM <= value <= MAX_BPM) or math.isnan(value):
        raise TimeError(
            f"tempo {bpm!r} is out of range; hoot plays from {MIN_BPM:g} to {MAX_BPM:g} BPM"
        )
    return value


def check_phrase(bars: int) -> int:
    """Return a phrase length in bars, or raise TimeError."""
    if isinstance(bars, bool) or not isinstance(bars, int) or not 1 <= bars <= 64:
        raise TimeError(f"phrase length {bars!r} must be a whole number of bars from 1 to 64")
    return bars


@dataclass(frozen=True)
class TempoSegment:
    """From `beat` (at integer `sample`) on, the tempo is `bpm`."""

    beat: float
    sample: int
    bpm: float


@dataclass(frozen=True)
class GridSegment:
    """From `beat` on (a phrase boundary), bars are `meter` and phrases `phrase` bars.

    `bar` is the index of the bar that starts at `beat`, `phrase_index` that of the phrase.
    """

    beat: float
    bar: int
    phrase_index: int
    meter: Meter
    phrase: int

    @property
    def beats_per_bar(self) -> int:
        return self.meter.beats

    @property
    def beats_per_phrase(self) -> int:
        return self.meter.beats * self.phrase


@dataclass(frozen=True)
class Position:
    """Where a sample falls in musical time. Indices count from 0."""

    sample: int
    beat: float
    bar: int
    beat_in_bar: float
    phrase: int
    bar_in_phrase: int
    bpm: float
    meter: Meter
    phrase_bars: int


class TempoMap:
    """Tempo, meter and phrase grid over a sample clock at `samplerate`."""

    __slots__ = ("samplerate", "tempi", "grids", "_tempo_beats", "_tempo_samples", "_grid_beats")

    def __init__(
        self,
        samplerate: int,
        bpm: float = 120.0,
        meter: Meter | str = "4/4",
        phrase: int = 4,
        *,
        _tempi: tuple[TempoSegment, ...] | None = None,
        _grids: tuple[GridSegment, ...] | None = None,
    ) -> None:
        self.samplerate = int(samplerate)
        if _tempi is None:
            _tempi = (TempoSegment(0.0, 0, check_bpm(bpm)),)
        if _grids is None:
            _grids = (GridSegment(0.0, 0, 0, Meter.parse(meter), check_phrase(phrase)),)
        self.tempi = _tempi
        self.grids = _grids
        self._tempo_beats = [t.beat for t in _tempi]
        self._tempo_samples = [t.sample for t in _tempi]
        self._grid_beats = [g.beat for g in _grids]

    # sample <-> beat ---------------------------------------------------------

    def _samples_per_beat(self, bpm: float) -> float:
        return 60.0 * self.samplerate / bpm

    def sample_at(self, beat: float) -> int:
        """The sample a beat starts on (rounded to the nearest sample)."""
        seg = self.tempi[max(0, bisect_right(self._tempo_beats, beat) - 1)]
        return seg.sample + round((beat - seg.beat) * self._samples_per_beat(seg.bpm))

    def beat_at(self, sample: int) -> float:
        """The (fractional) beat a sample falls on."""
        seg = self.tempi[max(0, bisect_right(self._tempo_samples, sample) - 1)]
        return seg.beat + (sample - seg.sample) / self._samples_per_beat(seg.bpm)

    def bpm_at(self, sample: int) -> float:
        return self.tempi[max(0, bisect_right(self._tempo_samples, sample) - 1)].bpm

    def grid_at_beat(self, beat: float) -> GridSegment:
        return self.grids[max(0, bisect_right(self._grid_beats, beat) - 1)]

    # boundaries ---------------------------------------------------------------

    def _quantum_beats(self, grid: GridSegment, quantum: str) -> int:
        if quantum == "beat":
            return 1
        if quantum == "bar":
            return grid.beats_per_bar
        if quantum == "phrase":
            return grid.beats_per_phrase
        raise TimeError(f"unknown boundary {quantum!r}; use one of {', '.join(QUANTA)}")

    def next_boundary_beat(self, sample: int, quantum: str) -> float:
        """The beat of the first `quantum` boundary that starts at or after `sample`."""
        # Rounding in sample_at can put a boundary's sample a hair before or after
        # beat_at's estimate; start one boundary early, then step until it is not early.
        candidate = self._boundary_at_or_after(self.beat_at(sample), quantum, back=1)
        while self.sample_at(candidate) < sample:
            candidate = self.boundary_after(candidate, quantum)
        return candidate

    def _boundary_at_or_after(self, beat: float, quantum: str, back: int) -> float:
        gi = max(0, bisect_right(self._grid_beats, beat) - 1)
        grid = self.grids[gi]
        step = self._quantum_beats(grid, quantum)
        k = math.ceil((beat - grid.beat) / step - 1e-9) - back
        candidate = grid.beat + max(k, 0) * step
        if gi + 1 < len(self.grids) and candidate >= self.grids[gi + 1].beat:
            candidate = self.grids[gi + 1].beat
        return candidate

    def next_boundary(self, sample: int, quantum: str) -> int:
        """The first sample of the first `quantum` boundary at or after `sample`."""
        return self.sample_at(self.next_boundary_beat(sample, quantum))

    def boundary_after(self, beat: float, quantum: str) -> float:
        """The beat of the first `quantum` boundary strictly after `beat`."""
        gi = max(0, bisect_right(self._grid_beats, beat) - 1)
        grid = self.grids[gi]
        step = self._quantum_beats(grid, quantum)
        candidate = grid.beat + (math.floor((beat - grid.beat) / step + 1e-9) + 1) * step
        if gi + 1 < len(self.grids) and candidate >= self.grids[gi + 1].beat:
            candidate = self.grids[gi + 1].beat
        return candidate

    # changes ------------------------------------------------------------------

    def with_tempo(self, bpm: float, at_beat: float) -> TempoMap:
        """A new map whose tempo is `bpm` from `at_beat` on (later changes are dropped)."""
        bpm = check_bpm(bpm)
        sample = self.sample_at(at_beat)
        kept = tuple(t for t in self.tempi if t.beat < at_beat)
        return self._replace(_tempi=kept + (TempoSegment(float(at_beat), sample, bpm),))

    def with_grid(
        self, at_beat: float, meter: Meter | str | None = None, phrase: int | None = None
    ) -> TempoMap:
        """A new map whose meter and/or phrase length change at `at_beat` (a phrase boundary)."""
        old = self.grid_at_beat(at_beat)
        new_meter = Meter.parse(meter) if meter is not None else old.meter
        new_phrase = check_phrase(phrase) if phrase is not None else old.phrase
        bars_in = round((at_beat - old.beat) / old.beats_per_bar)
        phrases_in = math.ceil(bars_in / old.phrase - 1e-9)
        seg = GridSegment(
            float(at_beat), old.bar + bars_in, old.phrase_index + phrases_in, new_meter, new_phrase
        )
        kept = tuple(g for g in self.grids if g.beat < at_beat)
        return self._replace(_grids=kept + (seg,))

    def since(self, sample: int) -> TempoMap:
        """This map without what ended before `sample`: the tempo segment in force at
        `sample` becomes the first one, and so does the grid segment in force on its beat,
        bar and phrase numbers kept. Every answer about a sample at or after `sample` (and
        a beat at or after its beat) is the same to the bit, because it is computed from
        the same segment by the same arithmetic; earlier ones are extrapolated from the
        first segment, still in order, so they stay earlier. A sync source changes tempo
        up to 4 times a second, which over a set of hours is tens of thousands of
        segments; the engine folds the past away with this (engine.control)."""
        ti = max(0, bisect_right(self._tempo_samples, sample) - 1)
        beat = self.beat_at(sample)
        gi = max(0, bisect_right(self._grid_beats, beat) - 1)
        if ti == 0 and gi == 0:
            return self
        return self._replace(_tempi=self.tempi[ti:], _grids=self.grids[gi:])

    def _replace(self, **kw) -> TempoMap:
        args = {"_tempi": self.tempi, "_grids": self.grids}
        args.update(kw)
        return TempoMap(self.samplerate, **args)

    # reading ------------------------------------------------------------------

    def whole_beat(self, sample: int) -> int:
        """The beat in which `sample` sounds: the last whole beat whose first sample (as
        `sample_at` rounds it, the one every boundary goes through) is at or before it.
        `beat_at` alone can put a boundary's own sample a hair before its beat."""
        k = math.floor(self.beat_at(sample) + 1e-9)
        while self.sample_at(k + 1) <= sample:
            k += 1
        while self.sample_at(k) > sample:
            k -= 1
        return k

    def position(self, sample: int) -> Position:
        """Bar, beat and phrase in which `sample` sounds, for display and for scripts: a
        stem that starts on a boundary's first sample is in the boundary's bar."""
        k = self.whole_beat(sample)
        first, nxt = self.sample_at(k), self.sample_at(k + 1)
        beat = k + (sample - first) / max(nxt - first, 1)
        grid = self.grid_at_beat(beat)
        into = beat - grid.beat
        bars = int(math.floor(into / grid.beats_per_bar + 1e-9))
        return Position(
            sample=sample,
            beat=beat,
            bar=grid.bar + bars,
            beat_in_bar=max(0.0, into - bars * grid.beats_per_bar),
            phrase=grid.phrase_index + bars // grid.phrase,
            bar_in_phrase=bars % grid.phrase,
            bpm=self.bpm_at(sample),
            meter=grid.meter,
            phrase_bars=grid.phrase,
        )

    def bar_beat(self, bar: int) -> float:
        """The beat on which bar number `bar` starts."""
        grid = self.grids[0]
        for g in self.grids:
            if g.bar <= bar:
                grid = g
        return grid.beat + (bar - grid.bar) * grid.beats_per_bar

    def to_dict(self) -> dict:
        return {
            "samplerate": self.samplerate,
            "tempi": [[t.beat, t.sample, t.bpm] for t in self.tempi],
            "grids": [[g.beat, g.bar, g.phrase_index, str(g.meter), g.phrase] for g in self.grids],
        }

    @classmethod
    def from_dict(cls, d: dict) -> TempoMap:
        return cls(
            d["samplerate"],
            _tempi=tuple(TempoSegment(float(b), int(s), float(bpm)) for b, s, bpm in d["tempi"]),
            _grids=tuple(
                GridSegment(float(b), int(bar), int(pi), Meter.parse(m), int(p))
                for b, bar, pi, m, p in d["grids"]
            ),
        )
