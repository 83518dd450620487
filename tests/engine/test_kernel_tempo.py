"""The compiled tempo map gives exactly TempoMap's ints and floats, on random maps."""

from __future__ import annotations

import numpy as np
import pytest

from hoot.engine.kernel import tempo
from hoot.errors import EngineError
from hoot.music.time import TempoMap


def random_map(rng: np.random.Generator) -> TempoMap:
    """A map a performer could make: tempo changes at any beat, meter and phrase changes
    at phrase boundaries, at a samplerate hoot runs at."""
    sr = int(rng.choice([44100, 48000, 96000]))
    tm = TempoMap(
        sr,
        float(rng.uniform(20, 999)),
        f"{rng.integers(1, 33)}/{rng.choice([1, 2, 4, 8, 16, 32])}",
        int(rng.integers(1, 65)),
    )
    beat = 0.0
    for _ in range(int(rng.integers(0, 12))):
        beat += float(rng.choice([rng.uniform(0.01, 40), rng.integers(1, 40)]))
        if rng.random() < 0.6:
            bpm = float(rng.uniform(20, 999)) if rng.random() < 0.8 else round(rng.uniform(60, 200))
            tm = tm.with_tempo(bpm, beat)
        else:
            at = tm.boundary_after(beat, "phrase")
            tm = tm.with_grid(
                at,
                f"{rng.integers(1, 33)}/{rng.choice([4, 8])}",
                int(rng.integers(1, 9)),
            )
            beat = at
    return tm


def test_random_maps_give_the_same_samples_beats_and_boundaries() -> None:
    rng = np.random.default_rng(10)
    m = tempo.make_map()
    checked = 0
    for _ in range(400):
        tm = random_map(rng)
        tempo.encode_map(tm, m)
        top = tm.sample_at(float(rng.uniform(0, 400)))
        for _ in range(25):
            beat = float(rng.choice([rng.uniform(-4, 400), rng.integers(0, 400) + 0.5]))
            assert tempo.sample_at(m, beat) == tm.sample_at(beat)
            sample = int(rng.integers(0, top + 1))
            b = tempo.beat_at(m, sample)
            assert b == tm.beat_at(sample)
            for name, code in (("beat", tempo.BEAT), ("bar", tempo.BAR), ("phrase", tempo.PHRASE)):
                assert tempo.next_boundary_beat(m, sample, code) == tm.next_boundary_beat(
                    sample, name
                )
                assert tempo.boundary_after(m, beat, code) == tm.boundary_after(beat, name)
            checked += 1
    assert checked == 10000


def test_boundaries_at_their_own_samples_round_the_same_way() -> None:
    """The first sample of each boundary and its neighbours: where rounding decides."""
    rng = np.random.default_rng(11)
    m = tempo.make_map()
    for _ in range(200):
        tm = random_map(rng)
        tempo.encode_map(tm, m)
        for k in range(0, 60, 3):
            s = tm.sample_at(float(k))
            for sample in (s - 1, s, s + 1):
                for name, code in (("beat", tempo.BEAT), ("bar", tempo.BAR)):
                    assert tempo.next_boundary_beat(m, sample, code) == tm.next_boundary_beat(
                        sample, name
                    )


def test_the_core_reads_the_buffer_it_was_told_and_python_writes_another() -> None:
    slow, fast = TempoMap(48000, 60.0), TempoMap(48000, 240.0)
    maps = tempo.make_maps(slow, buffers=3)
    assert tempo.sample_at(tempo.current(maps), 1.0) == 48000
    k = tempo.free_buffer(maps)
    tempo.encode_map(fast, maps.buffers[k])
    assert tempo.free_buffer(maps, pending=(k,)) not in (0, k)
    maps.active[0] = k
    assert tempo.sample_at(tempo.current(maps), 1.0) == 12000
    with pytest.raises(EngineError, match="wait for the engine"):
        tempo.free_buffer(maps, pending=(0, 2) if k == 1 else (0, 1))


def test_a_map_too_long_for_the_buffer_is_refused_in_a_sentence() -> None:
    tm = TempoMap(48000)
    for k in range(1, 6):
        tm = tm.with_tempo(100.0 + k, float(k))
    with pytest.raises(EngineError, match="holds 4"):
        tempo.encode_map(tm, tempo.make_map(4))
