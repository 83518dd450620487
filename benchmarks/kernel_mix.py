"""Cost of the mixer's tail per audio block: the compiled kernel (kernel.mix.mix_block and
kernel.tap.tap) beside the Python tail it replaces (Engine._guard_tracks, _apply_gains, the
master sum, Limiter.process, Engine._meter, Recorder.tap), as a share of the block period.

Load: 8 tracks of noise loud enough that the limiter reduces throughout, meters on, the
recorder armed with master and per-track files (drained by its writer process, as in the
server). Two gain states: steady (one multiply per sample) and gliding (a mix command every
block, so every block computes its gains frame by frame: the worst case).

    python benchmarks/kernel_mix.py [--seconds 5]

Rows: `compiled`, each block's calls made from Python (the argument unboxing, about 6 us
here, is most of it); `in_kernel`, 16 blocks per call from compiled code, as the audio
callback will run them (each figure the mean of 16 blocks, and the copy of the tracks into
place included); `python`, the tail the kernel replaces.

Each call is timed back to back; p50, p99.9 and max are printed as % of the period and
p50 and p99.9 in units of the reference workload (benchmarks/reference.py), timed at the
start and the end of the same run, so figures from different machines compare.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

import numpy as np
from reference import reference_seconds, repository_on_path

from hoot.engine.core import Mix
from hoot.engine.kernel.jit import jit
from hoot.engine.kernel.mix import FAULTS, make_mix, mix_block, set_mix
from hoot.engine.kernel.tap import tap
from hoot.engine.recorder import RecorderProcess

repository_on_path()  # the Python engine, our oracle, lives with the tests
from tests.engine.oracle import Engine  # noqa: E402

SR = 48000
TRACKS = ("drums", "bass", "chords", "lead", "pad", "perc", "in1", "in2")
T = len(TRACKS)
BATCH = 16  # blocks per call in `in_kernel`


def _noise(blocksize: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return (0.3 * rng.standard_normal((64, T, blocksize, 2))).astype(np.float32)


def _gain(i: int) -> float:
    return 0.5 + 0.25 * (i % 3)


def compiled(blocksize: int, blocks: int, gliding: bool, recorder: RecorderProcess):
    ms = make_mix(SR, T, 4096)
    state = recorder.tap_state()
    source = _noise(blocksize)
    tracks = np.zeros((T, blocksize, 2), np.float32)
    out = np.zeros((blocksize, 2), np.float32)
    times = np.zeros(blocks)
    clock = time.perf_counter
    for i in range(blocks):
        s0 = i * blocksize
        np.copyto(tracks, source[i % 64])
        t0 = clock()
        if gliding:
            set_mix(ms, i % T, _gain(i), _gain(i + 1), False, s0)
        mix_block(ms, tracks, out, s0, blocksize)
        tap(state, out, tracks, blocksize)
        times[i] = clock() - t0
    return times, int(ms.i[FAULTS])


@jit
def _blocks_in_kernel(ms, state, source, tracks, out, first, blocksize, gliding) -> None:
    """BATCH blocks as the compiled callback will run them: no Python between them."""
    for i in range(first, first + BATCH):
        s0 = i * blocksize
        tracks[:] = source[i % 64]
        if gliding:
            set_mix(ms, i % T, 0.5 + 0.25 * (i % 3), 0.5 + 0.25 * ((i + 1) % 3), False, s0)
        mix_block(ms, tracks, out, s0, blocksize)
        tap(state, out, tracks, blocksize)


def in_kernel(blocksize: int, blocks: int, gliding: bool, recorder: RecorderProcess):
    ms = make_mix(SR, T, 4096)
    state = recorder.tap_state()
    source = _noise(blocksize)
    tracks = np.zeros((T, blocksize, 2), np.float32)
    out = np.zeros((blocksize, 2), np.float32)
    times = np.zeros(max(1, blocks // BATCH))
    clock = time.perf_counter
    for b in range(len(times)):
        t0 = clock()
        _blocks_in_kernel(ms, state, source, tracks, out, b * BATCH, blocksize, gliding)
        times[b] = (clock() - t0) / BATCH
    return times, int(ms.i[FAULTS])


def python(blocksize: int, blocks: int, gliding: bool, recorder: RecorderProcess):
    engine = Engine(SR, TRACKS, max_block=4096)
    source = _noise(blocksize)
    tb = engine._track_flat[: T * blocksize * 2].reshape(T, blocksize, 2)
    out = np.zeros((blocksize, 2), np.float32)
    times = np.zeros(blocks)
    clock = time.perf_counter
    for i in range(blocks):
        s0 = i * blocksize
        np.copyto(tb, source[i % 64])
        t0 = clock()
        if gliding:
            engine._mix(Mix(i % T, _gain(i), _gain(i + 1)), s0)
        engine._guard_tracks(tb)
        engine._apply_gains(tb, s0, blocksize)
        np.add.reduce(tb, axis=0, out=engine.master[:blocksize])
        engine.limiter.process(engine.master, out, s0, blocksize)
        engine._meter(tb, out, blocksize)
        recorder.tap(out, tb, blocksize)
        times[i] = clock() - t0
    return times, engine.faults


def measure(run, blocksize: int, seconds: float, gliding: bool, folder: Path) -> dict:
    recorder = RecorderProcess(SR, T, list(TRACKS), max_block=4096)
    recorder.start_writer()
    recorder.start(folder, name=f"{run.__name__}-{blocksize}", tracks=True)
    period = blocksize / SR
    run(blocksize, 200, gliding, recorder)  # warm up (and compile, the first time)
    gc.collect()
    gc.freeze()
    times, faults = run(blocksize, int(seconds / period), gliding, recorder)
    dropped = recorder.dropped_frames
    recorder.close()
    share = times / period * 100
    return {
        "p50": float(np.percentile(share, 50)),
        "p99.9": float(np.percentile(share, 99.9)),
        "max": float(share.max()),
        "faults": faults,
        "dropped": dropped,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="audio time per measurement")
    a = ap.parse_args()
    before = reference_seconds()
    print(f"reference workload: {before * 1e6:.0f} us at the start")
    print("mixer tail: 8 tracks, limiter reducing, meters, recorder tap (master + tracks)")
    print(
        f"{'block':>6} {'period':>9} {'tail':>10} {'gains':>8} {'p50':>7} {'p99.9':>7} "
        f"{'max':>7}  {'p50':>8} {'p99.9':>8}  faults dropped"
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for bs in (64, 128, 256):
            for run in (compiled, in_kernel, python):
                for gliding in (False, True):
                    r = measure(run, bs, a.seconds, gliding, Path(tmp))
                    results.append((bs, run.__name__, "gliding" if gliding else "steady", r))
    after = reference_seconds()
    ref = (before + after) / 2
    for bs, name, gains, r in results:
        period = bs / SR
        units = [r[k] / 100 * period / ref for k in ("p50", "p99.9")]
        print(
            f"{bs:>6} {period * 1000:>7.2f}ms {name:>10} {gains:>8} {r['p50']:>6.2f}% "
            f"{r['p99.9']:>6.2f}% {r['max']:>6.1f}%  {units[0]:>4.2f} ref {units[1]:>4.2f} ref"
            f"  {r['faults']:>6} {r['dropped']:>7}"
        )
    print(f"reference workload: {after * 1e6:.0f} us at the end; 1 ref = {ref * 1e6:.0f} us")


if __name__ == "__main__":
    main()
