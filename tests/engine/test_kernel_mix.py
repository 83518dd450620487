"""The compiled mixer tail (kernel.mix) and recorder tap (kernel.tap) against their oracles:
Engine's tail (_guard_tracks, _apply_gains, the master sum, Limiter.process, _meter) and
Recorder.tap, driven with the same track buffers and the same mix commands."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from hoot.engine.core import GAIN_RAMP, TRACK_CLAMP, Mix
from hoot.engine.kernel import mix as km
from hoot.engine.kernel.tap import tap
from hoot.engine.recorder import Recorder
from tests.engine.oracle import Engine

SR = 48000
T = 8
FRAMES = 24000
# (sample, track, left, right, at_once): glides that start inside blocks, overlap, are
# interrupted mid-way (the next starts from where the first had got to), and a jump
MIXES = [
    (0, 3, 0.5, 0.7, True),
    (1000, 2, 0.2, 1.5, False),
    (5003, 5, 3.0, 0.1, False),
    (5200, 5, 0.5, 0.5, False),
    (5201, 1, 0.0, 0.0, False),
    (15011, 0, 1.0, 2.0, True),
]


def _tracks(frames: int = FRAMES, seed: int = 1) -> np.ndarray:
    """Noise on every track, with loud stretches that drive the limiter into reduction."""
    rng = np.random.default_rng(seed)
    x = (0.1 * rng.standard_normal((T, frames, 2))).astype(np.float32)
    x[:, 4000:4700] *= 8
    x[2:4, 12000:12500] *= 30
    x[6, 20000:20001] = 100.0  # past the clamp
    return x


def _blocks(sizes: list[int], frames: int):
    """(s0, n) for blocks of the given sizes in turn until `frames`, each cut short where a
    mix command is due, so that every command takes effect at its sample (as the engine's
    commands do when sent with that sample as the block's start)."""
    cuts = sorted({m[0] for m in MIXES} | {frames})
    s0, j = 0, 0
    while s0 < frames:
        n = min(sizes[j % len(sizes)], next(c for c in cuts if c > s0) - s0)
        yield s0, n
        s0 += n
        j += 1


def _mixes_due(pending: list, s0: int) -> list:
    due = [m for m in pending if m[0] <= s0]
    del pending[: len(due)]
    return due


def _render_kernel(sizes: list[int], tracks: np.ndarray, max_block: int = 512):
    ms = km.make_mix(SR, T, max_block)
    frames = tracks.shape[1]
    out = np.zeros((frames, 2), np.float32)
    gained = np.zeros_like(tracks)
    pending = list(MIXES)
    for s0, n in _blocks(sizes, frames):
        for _, track, left, right, at_once in _mixes_due(pending, s0):
            km.set_mix(ms, track, left, right, at_once, s0)
        block = np.ascontiguousarray(tracks[:, s0 : s0 + n])
        km.mix_block(ms, block, out[s0 : s0 + n], s0, n)
        gained[:, s0 : s0 + n] = block
    return out, gained, ms


def _oracle_tail(engine: Engine, tb: np.ndarray, out: np.ndarray, s0: int, n: int) -> None:
    """The tail of Engine._forward after the tracks are rendered, minus the recorder."""
    engine._guard_tracks(tb)
    engine._apply_gains(tb, s0, n)
    np.add.reduce(tb, axis=0, out=engine.master[:n])
    engine.limiter.process(engine.master, out, s0, n)
    engine._meter(tb, out, n)


def test_the_compiled_mix_is_identical_to_the_bit_at_any_block_size():
    tracks = _tracks()
    reference, gained, ms = _render_kernel([512], tracks)
    # the render exercises what must not depend on block size: glides and gain reduction
    assert ms.i[km.FAULTS] == 0
    assert ms.f[km.REDUCTION_DB] > 20  # the clamped spike at 20000 still holds it down
    assert np.abs(reference).max() > 0.9  # limited, right under the ceiling
    for sizes in ([64], [128], [256], [1, 63, 200, 17, 511, 64]):
        out, g, _ = _render_kernel(sizes, tracks)
        assert np.array_equal(out, reference), sizes
        assert np.array_equal(g, gained), sizes


def test_the_compiled_mix_matches_the_python_engine_and_limiter(report):
    tracks = _tracks()
    engine = Engine(SR, tuple(f"t{i}" for i in range(T)), max_block=512)
    ms = km.make_mix(SR, T, 512)
    oracle = np.zeros((FRAMES, 2), np.float32)
    out = np.zeros((FRAMES, 2), np.float32)
    pending = list(MIXES)
    reduced = 0
    for s0, n in _blocks([128, 64, 256, 37], FRAMES):
        for _, track, left, right, at_once in _mixes_due(pending, s0):
            engine._mix(Mix(track, left, right, at_once), s0)
            km.set_mix(ms, track, left, right, at_once, s0)
        a = np.ascontiguousarray(tracks[:, s0 : s0 + n])
        b = a.copy()
        _oracle_tail(engine, a, oracle[s0 : s0 + n], s0, n)
        km.mix_block(ms, b, out[s0 : s0 + n], s0, n)
        assert np.array_equal(a, b), s0  # guard and gains: the same float32 operations
        np.testing.assert_allclose(ms.meters, engine.meters, rtol=2e-6, atol=1e-30)
        assert ms.f[km.REDUCTION_DB] == pytest.approx(engine.limiter.reduction_db, abs=1e-9)
        reduced += engine.limiter.reduction_db > 0
    assert reduced > 10
    residual = np.abs(out.astype(np.float64) - oracle).max()
    db = 20 * np.log10(residual) if residual else -np.inf
    report(f"kernel.mix against Engine's tail and Limiter: max residual {db:.1f} dBFS")
    assert db < -120


def test_a_track_holding_nan_is_silenced_and_counted_and_inf_is_clamped_as_the_oracle_does():
    tracks = _tracks(1024)
    tracks[2, 300, 1] = np.nan
    tracks[4, 10, 0] = np.inf
    tracks[4, 11, 1] = -np.inf
    engine = Engine(SR, tuple(f"t{i}" for i in range(T)), max_block=1024)
    ms = km.make_mix(SR, T, 1024)
    a = tracks.copy()
    b = tracks.copy()
    oracle = np.zeros((1024, 2), np.float32)
    out = np.zeros((1024, 2), np.float32)
    _oracle_tail(engine, a, oracle, 0, 1024)
    km.mix_block(ms, b, out, 0, 1024)
    assert not b[2].any()  # the whole track, both channels, the whole block
    assert ms.i[km.FAULTS] == 1 == engine.faults
    assert b[4, 10, 0] == TRACK_CLAMP and b[4, 11, 1] == -TRACK_CLAMP
    assert np.isfinite(out).all()
    assert np.array_equal(a, b)
    assert np.abs(out.astype(np.float64) - oracle).max() < 1e-6
    assert ms.meters[2].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_a_gain_glides_over_the_ramp_and_then_holds():
    ms = km.make_mix(SR, 1, 4096)
    km.set_mix(ms, 0, 0.0, 0.0, True, 0)
    km.set_mix(ms, 0, 1.0, 0.5, False, 100)
    block = np.full((1, 1024, 2), 0.25, np.float32)
    out = np.zeros((1024, 2), np.float32)
    km.mix_block(ms, block, out, 0, 1024)
    left = block[0, :, 0]
    assert not left[:101].any()  # the glide starts at its sample
    assert np.all(np.diff(left[100 : 100 + GAIN_RAMP]) > 0)
    assert left[100 + GAIN_RAMP :].tolist() == [0.25] * (1024 - 100 - GAIN_RAMP)
    assert block[0, -1, 1] == 0.125


def test_a_mix_for_a_track_that_does_not_exist_or_a_gain_that_is_not_finite_is_dropped():
    ms = km.make_mix(SR, 2, 256)
    km.set_mix(ms, 2, 1.0, 1.0, False, 0)
    km.set_mix(ms, -1, 1.0, 1.0, False, 0)
    km.set_mix(ms, 0, np.nan, 1.0, False, 0)
    km.set_mix(ms, 1, 1.0, np.inf, True, 0)
    assert ms.i[km.FAULTS] == 4
    assert ms.gain_final.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert ms.i[km.GLIDES_END] == 0


def test_a_block_the_state_was_not_made_for_is_refused_with_silence_and_counted():
    ms = km.make_mix(SR, 2, 64)
    out = np.ones((128, 2), np.float32)
    km.mix_block(ms, np.ones((2, 128, 2), np.float32), out, 0, 128)  # past max_block
    assert not out.any()
    out[:] = 1
    km.mix_block(ms, np.ones((3, 64, 2), np.float32), out, 0, 64)  # a track too many
    km.mix_block(ms, np.ones((2, 32, 2), np.float32), out, 0, 64)  # buffers too short
    assert not out[:64].any() and out[64:].all()
    assert ms.i[km.FAULTS] == 3
    km.mix_block(ms, np.full((2, 64, 2), 0.25, np.float32), out, 0, 64)
    assert ms.i[km.FAULTS] == 3 and out[63:].tolist()[0] == [0.5, 0.5]


# ---- the recorder tap ------------------------------------------------------------


def _recorder(tmp_path, name: str, max_block: int = 128) -> Recorder:
    # a ring of 500 frames at 1 kHz: a few blocks wrap it and fill it
    recorder = Recorder(1000, 3, ["a", "b", "c"], max_block=max_block, ring_seconds=0.5)
    recorder.start(tmp_path / name, name="take", tracks=True)
    return recorder


def test_the_compiled_tap_writes_the_same_ring_as_recorder_tap(tmp_path):
    python, compiled = _recorder(tmp_path, "python"), _recorder(tmp_path, "compiled")
    state = compiled.tap_state()
    rng = np.random.default_rng(3)
    sent = []
    for k, n in enumerate([37, 128, 1, 100, 64, 128, 90, 128, 3] * 4):
        master = rng.standard_normal((128, 2)).astype(np.float32)
        tracks = rng.standard_normal((3, 128, 2)).astype(np.float32)
        python.tap(master, tracks, n)
        tap(state, master, tracks, n)
        sent.append(np.concatenate([master[None, :n], tracks[:, :n]]))
        assert np.array_equal(compiled._ring, python._ring), k
        assert compiled._pos.tolist() == python._pos.tolist(), k
        if k % 3 == 2:  # the writer drains now and then: the ring wraps many times
            python.drain()
            compiled.drain()
    assert compiled.dropped_frames == python.dropped_frames == 0
    paths = compiled.stop()
    python.stop()
    expected = np.concatenate(sent, axis=1)
    for row, path in enumerate(paths):
        assert np.array_equal(sf.read(path, dtype="float32")[0], expected[row])


def test_the_compiled_tap_drops_a_block_the_ring_has_no_room_for_and_counts_it(tmp_path):
    python, compiled = _recorder(tmp_path, "python"), _recorder(tmp_path, "compiled")
    state = compiled.tap_state()
    master = np.ones((128, 2), np.float32)
    tracks = np.ones((3, 128, 2), np.float32)
    for _ in range(5):  # 3 x 128 fit in 500 frames; the 4th and 5th do not
        python.tap(master, tracks, 128)
        tap(state, master, tracks, 128)
    assert compiled.dropped_frames == python.dropped_frames == 256
    assert compiled._pos.tolist() == python._pos.tolist() == [384, 0]
    compiled.drain()
    tap(state, master, tracks, 128)  # room again
    assert compiled._pos.tolist() == [512, 384]
    assert compiled.dropped_frames == 256
    tap(state, master[:64], tracks, 128)  # a master shorter than the block: dropped too
    assert compiled._pos.tolist() == [512, 384] and compiled.dropped_frames == 384
    compiled.stop()
    python.stop()


def test_the_compiled_tap_writes_nothing_unarmed_and_only_the_master_without_tracks(tmp_path):
    recorder = Recorder(1000, 2, ["a", "b"], max_block=64, ring_seconds=0.5)
    state = recorder.tap_state()
    block = np.ones((64, 2), np.float32)
    tap(state, block, np.ones((2, 64, 2), np.float32), 64)
    assert recorder._pos.tolist() == [0, 0] and not recorder._ring.any()
    recorder.start(tmp_path, name="take")
    tap(state, block, np.ones((2, 64, 2), np.float32), 64)
    assert recorder._pos[0] == 64 and not state.flags[2]  # in-tap is down again
    assert recorder._ring[0, :64].all() and not recorder._ring[1:].any()
    recorder.stop()
