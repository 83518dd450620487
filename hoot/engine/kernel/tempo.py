"""A TempoMap (hoot.music.time) as arrays, and its boundary arithmetic compiled.

The compiled players place every start, stop and loop turn through these functions, so
they must give exactly the ints and floats `TempoMap` gives: the same operations in the
same order (Python's round() and numba's round() both round half to even; math.floor and
math.ceil return ints in both), the same binary search (`bisect_right`), the same 1e-9
slack. tests/engine/test_kernel_tempo.py checks this on thousands of random maps.

A map is written once by Python (`encode_map`) into a preallocated `MapState`: tempo
segments (beat, sample, samples per beat) and grid segments (beat, beats per bar, beats
per phrase), CAPACITY of each by default. A map holds only what can still matter: the
engine's control side folds segments that ended before the engine's position (less a
margin, and less the turn of every beat-locked loop that plays) into the first segment
(`TempoMap.since`) before it sends a map, so the count stays bounded however long the
set. A sync source changes tempo up to 4 times a second, so what the control side keeps
(10 s back, and a loop's turn) is about 40 segments, or 4 a second of the longest loop
that plays: 1024 hold a loop of over 4 minutes. The players hold a few maps (`Maps`, 4
by default): Python writes one that the core neither reads nor has been told to read next,
then a NEW_MAP command names it. Two would do if tempo changes came one per block; four
let a script set tempo, meter and phrase in one breath (three maps sent before the core
takes the first) without Python ever writing a buffer the core may be reading.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from hoot.engine.kernel.jit import jit
from hoot.errors import EngineError
from hoot.music.time import TempoMap

NONE, BEAT, BAR, PHRASE = 0, 1, 2, 3
"""Quantum codes: no boundary (an immediate command), a beat, a bar, a phrase."""

QUANTA = {"": NONE, "beat": BEAT, "bar": BAR, "phrase": PHRASE}

CAPACITY = 1024
"""Tempo (and grid) segments a map buffer holds: 6 arrays of 8 KiB, times 4 buffers."""

TEMPI, GRIDS = 0, 1
"""Rows of `MapState.count`: how many tempo and grid segments are in use."""


class MapState(NamedTuple):
    tempo_beat: np.ndarray  # float64 (capacity,)
    tempo_sample: np.ndarray  # int64 (capacity,)
    tempo_spb: np.ndarray  # float64 (capacity,): samples per beat, 60 * samplerate / bpm
    grid_beat: np.ndarray  # float64 (capacity,)
    grid_bpb: np.ndarray  # int64 (capacity,): beats per bar
    grid_bpp: np.ndarray  # int64 (capacity,): beats per phrase
    count: np.ndarray  # int64 (2,): TEMPI, GRIDS


class Maps(NamedTuple):
    """The map's buffers; `active[0]` says which one plays."""

    buffers: tuple  # of MapState
    active: np.ndarray  # int64 (1,)


def make_map(capacity: int = CAPACITY) -> MapState:
    return MapState(
        np.zeros(capacity, np.float64),
        np.zeros(capacity, np.int64),
        np.zeros(capacity, np.float64),
        np.zeros(capacity, np.float64),
        np.zeros(capacity, np.int64),
        np.zeros(capacity, np.int64),
        np.zeros(2, np.int64),
    )


def make_maps(tempo_map: TempoMap, buffers: int = 4, capacity: int = CAPACITY) -> Maps:
    """The buffers, the first holding `tempo_map` and playing."""
    maps = Maps(tuple(make_map(capacity) for _ in range(buffers)), np.zeros(1, np.int64))
    encode_map(tempo_map, maps.buffers[0])
    return maps


def free_buffer(maps: Maps, pending: tuple[int, ...] = ()) -> int:
    """A buffer Python may write: neither the one that plays nor one named by a NEW_MAP
    command the core has not taken yet (`pending`)."""
    for k in range(len(maps.buffers)):
        if k != maps.active[0] and k not in pending:
            return k
    raise EngineError(
        f"{len(pending)} tempo changes wait for the engine to take them; "
        "give it a moment between changes"
    )


def encode_map(tm: TempoMap, out: MapState) -> None:
    """Write `tm` into `out`; a map with more segments than `out` holds is refused."""
    capacity = len(out.tempo_beat)
    if len(tm.tempi) > capacity or len(tm.grids) > capacity:
        raise EngineError(
            f"the tempo map holds {len(tm.tempi)} tempo and {len(tm.grids)} meter changes "
            f"since the turn of the longest loop that plays began; the engine holds "
            f"{capacity} of each: change tempo less often until that loop's turn ends"
        )
    for i, t in enumerate(tm.tempi):
        out.tempo_beat[i] = t.beat
        out.tempo_sample[i] = t.sample
        out.tempo_spb[i] = tm._samples_per_beat(t.bpm)
    for i, g in enumerate(tm.grids):
        out.grid_beat[i] = g.beat
        out.grid_bpb[i] = g.beats_per_bar
        out.grid_bpp[i] = g.beats_per_phrase
    out.count[TEMPI] = len(tm.tempi)
    out.count[GRIDS] = len(tm.grids)


@jit
def current(maps: Maps) -> MapState:
    """The buffer that plays."""
    return maps.buffers[maps.active[0]]


@jit
def _bisect_right(values: np.ndarray, count: int, x: float) -> int:
    """`bisect.bisect_right(values[:count], x)`."""
    lo = 0
    hi = count
    while lo < hi:
        mid = (lo + hi) // 2
        if x < values[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@jit
def sample_at(m: MapState, beat: float) -> int:
    """TempoMap.sample_at: the sample a beat starts on."""
    i = max(0, _bisect_right(m.tempo_beat, m.count[TEMPI], beat) - 1)
    return m.tempo_sample[i] + round((beat - m.tempo_beat[i]) * m.tempo_spb[i])


@jit
def beat_at(m: MapState, sample: int) -> float:
    """TempoMap.beat_at: the (fractional) beat a sample falls on."""
    lo = 0
    hi = m.count[TEMPI]
    while lo < hi:  # bisect_right over the integer samples
        mid = (lo + hi) // 2
        if sample < m.tempo_sample[mid]:
            hi = mid
        else:
            lo = mid + 1
    i = max(0, lo - 1)
    return m.tempo_beat[i] + (sample - m.tempo_sample[i]) / m.tempo_spb[i]


@jit
def _quantum_beats(m: MapState, gi: int, quantum: int) -> int:
    if quantum == BAR:
        return m.grid_bpb[gi]
    if quantum == PHRASE:
        return m.grid_bpp[gi]
    return 1


@jit
def _boundary_at_or_after(m: MapState, beat: float, quantum: int, back: int) -> float:
    grids = m.count[GRIDS]
    gi = max(0, _bisect_right(m.grid_beat, grids, beat) - 1)
    step = _quantum_beats(m, gi, quantum)
    k = math.ceil((beat - m.grid_beat[gi]) / step - 1e-9) - back
    candidate = m.grid_beat[gi] + max(k, 0) * step
    if gi + 1 < grids and candidate >= m.grid_beat[gi + 1]:
        candidate = m.grid_beat[gi + 1]
    return candidate


@jit
def boundary_after(m: MapState, beat: float, quantum: int) -> float:
    """TempoMap.boundary_after: the beat of the first boundary strictly after `beat`."""
    grids = m.count[GRIDS]
    gi = max(0, _bisect_right(m.grid_beat, grids, beat) - 1)
    step = _quantum_beats(m, gi, quantum)
    candidate = m.grid_beat[gi] + (math.floor((beat - m.grid_beat[gi]) / step + 1e-9) + 1) * step
    if gi + 1 < grids and candidate >= m.grid_beat[gi + 1]:
        candidate = m.grid_beat[gi + 1]
    return candidate


@jit
def next_boundary_beat(m: MapState, sample: int, quantum: int) -> float:
    """TempoMap.next_boundary_beat: the beat of the first boundary at or after `sample`."""
    candidate = _boundary_at_or_after(m, beat_at(m, sample), quantum, 1)
    while sample_at(m, candidate) < sample:
        candidate = boundary_after(m, candidate, quantum)
    return candidate
