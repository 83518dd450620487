"""Latent paths on the grid: the LFO restarts on phrase boundaries, a new walk target comes
exactly at a phrase's sample, the walk stays bounded, the vibe moves its documented dims,
and a seed makes it all repeat, however it is chunked."""

from __future__ import annotations

import numpy as np

from hoot.realtime.trajectory import BOUND, VIBE, Grid, Trajectory, read_dims

SR = 48000
# 120 bpm, a phrase of 16 beats (8 s = 384000 samples) whose next boundary is at 100000
FACTS = {"beat_s": 0.5, "beat_sample": 4000, "phrase_sample": 100000, "phrase_beats": 16}
GRID = Grid.from_facts(FACTS, SR)


def test_grid_counts_phrases_and_bars_in_samples():
    assert GRID.beat == 24000 and GRID.phrase == 384000
    assert GRID.next_phrase(0) == 100000  # never before the boundary perf named
    assert GRID.next_phrase(100000) == 100000
    assert GRID.next_phrase(100001) == 484000
    assert GRID.last_phrase(99999) == 100000 - 384000
    assert GRID.last_phrase(484000) == 484000
    assert GRID.bars(4) == 4 * 4 * 24000
    assert Grid.from_facts({**FACTS, "bar_beats": 3}, SR).bars(2) == 6 * 24000


def test_lfo_phase_restarts_on_every_phrase_boundary():
    path = Trajectory(8, GRID, lfo=3.0)  # 3 beats: does not divide the 16-beat phrase
    for boundary in (100000, 484000, 868000):
        assert path.phase(boundary) == 0.0
        assert abs(path.phase(boundary - 1) - (16 % 3) / 3) < 1e-3  # a cycle cut short
    assert abs(path.phase(100000 + 24000) - 1 / 3) < 1e-9  # one beat in
    assert Trajectory(8, GRID, lfo=None).phase(123456) == 0.0


def test_lfo_swings_the_energy_dim_from_zero_at_the_boundary():
    path = Trajectory(8, GRID, walk=0.0, lfo=4.0)
    beat = int(GRID.beat)
    z = path.frames(100000, 5, beat)  # the boundary, then a beat after another
    assert np.allclose(z[0], [0.0, 1.0, 0.0, -1.0, 0.0], atol=1e-6)  # 4 beats a cycle
    assert np.allclose(z[1:], 0.0)


def test_a_new_target_comes_exactly_at_the_phrase_boundary():
    hop = 128.0  # 3000 frames a phrase
    start = 100000 - 50 * 128
    changing = Trajectory(16, GRID, seed=3, walk=0.8, change="phrase")
    steady = Trajectory(16, GRID, seed=3, walk=0.8, change=None)
    a = np.concatenate([changing.frames(start + k * 40 * hop, 40, hop) for k in range(3)], 1)
    b = steady.frames(start, 120, hop)
    assert changing.changes == [100000]
    assert np.array_equal(a[:, :50], b[:, :50])  # the same path up to the boundary
    assert not np.allclose(a[:, 50], b[:, 50])  # the frame at the boundary turns


def test_a_frame_after_the_boundary_takes_the_change_when_none_falls_on_it():
    path = Trajectory(4, GRID, seed=1, walk=0.5)
    path.frames(99990, 1, 100.0)
    path.frames(100090, 1, 100.0)
    assert path.changes == [100000]


def test_the_walk_stays_bounded_and_walk_zero_stays_home():
    wild = Trajectory(32, GRID, seed=7, walk=1.0, change="phrase")
    z = wild.frames(0, 20000, 2048.0)  # 14 minutes of v2-sized frames, many phrases
    assert np.abs(z).max() <= BOUND + 1e-6
    assert len(wild.changes) > 30
    still = Trajectory(32, GRID, seed=7, walk=0.0)
    assert np.allclose(still.frames(0, 100, 128.0), 0.0)


def test_the_vibe_moves_the_documented_dims():
    path = Trajectory(8, GRID, walk=0.0, energy=1.0, brightness=0.0)
    z = path.frames(0, 1, 128.0)[:, 0]
    assert np.allclose(z, [VIBE, -VIBE, 0, 0, 0, 0, 0, 0])
    moved = Trajectory(8, GRID, walk=0.0, energy=0.0, dims={"energy": {"dim": 5}, "brightness": 2})
    moved.set(brightness=1.0)
    z = moved.frames(0, 1, 128.0)[:, 0]
    assert np.allclose(z, [0, 0, VIBE, 0, 0, -VIBE, 0, 0])
    assert read_dims({"energy": 3}) == {"energy": 3, "brightness": 1}


def test_a_seed_repeats_the_path_however_it_is_chunked():
    one = Trajectory(16, GRID, seed=11, walk=0.6, lfo=2.0).frames(0, 300, 160.0)
    other = Trajectory(16, GRID, seed=11, walk=0.6, lfo=2.0)
    chunks = np.concatenate([other.frames(k * 160.0, 1, 160.0) for k in range(300)], 1)
    assert np.array_equal(one, chunks)
    assert not np.allclose(one, Trajectory(16, GRID, seed=12, walk=0.6).frames(0, 300, 160.0))


# a model whose latent means something (hoot's own: pitch, loudness, periodicity, timbre)
ROLES = {"pitch": {"dim": 0, "ref": 60}, "energy": {"dim": 1, "center": 0.8},
         "brightness": {"dim": 3, "sign": -1}, "centers": {"2": 0.8}}  # fmt: skip


def test_a_pitched_drone_holds_the_keys_tonic_and_moves_only_at_phrase_boundaries():
    grid = Grid(SR, beat_s=0.5, phrase_sample=48000, phrase_beats=4)  # a phrase is 2 s
    path = Trajectory(5, grid, seed=3, walk=1.0, lfo=2, roles=ROLES, key="D minor")
    hop = 128
    frames = path.frames(0, 3 * 48000 // hop * 2, hop)  # 6 s: three boundaries
    pitch = frames[0]
    # D3 (MIDI 50) is octaves (50 - 60) / 12 from C4: never walked, never swayed
    first = pitch[: 48000 // hop]
    assert np.all(first == (50 - 60) / 12)
    tones = set(np.round(pitch * 12 + 60).astype(int))
    assert tones <= {50, 57, 62}, "the tonic, its fifth, its octave"
    changes = np.flatnonzero(np.diff(pitch)) + 1
    assert all((k * hop - 48000) % 96000 == 0 for k in changes), "only on a boundary"
    # the other dims walk around their centres; energy and brightness follow the vibe
    still = Trajectory(5, grid, seed=3, walk=0.0, roles=ROLES).frames(0, 10, hop)
    assert np.allclose(still[1:3], 0.8) and np.allclose(still[3:], 0.0)
    brighter = Trajectory(5, grid, seed=3, walk=0.0, roles=ROLES, brightness=1.0)
    darker = Trajectory(5, grid, seed=3, walk=0.0, roles=ROLES, brightness=0.0)
    assert brighter.frames(0, 1, hop)[3, 0] < darker.frames(0, 1, hop)[3, 0], "sign -1"
    path.set(key="A major")
    assert np.round(path.frames(6 * 48000, 1, hop)[0, 0] * 12 + 60) in (45, 52, 57)


def test_without_roles_a_drone_walks_every_dim_as_before():
    grid = Grid(SR)
    path = Trajectory(4, grid, seed=1, walk=1.0, key="D minor")
    frames = path.frames(0, 2000, 128)
    assert np.ptp(frames[0]) > 0.1 and path.pitch is None
