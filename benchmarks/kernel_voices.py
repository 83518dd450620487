"""Render cost of 32 synth voices, compiled (kernel.voices) beside VoicePool, as a share of
the block's period; and how long the compiled module takes to compile, and to load once
cached.

    python benchmarks/kernel_voices.py [--seconds 10]

Load: 32 held notes over 8 tracks, cycling sine, saw, square, pad and bass (none ends by
itself; pad and bass darken, bass decays to its sustain), so every render runs 32 voices.
Each block size (64, 128, 256 frames at 48 kHz) renders `--seconds` of audio back to back
through each pool; p50, p99.9 and max are % of the period. The compiled figures include
the Python-to-numba call (unboxing the state's arrays), which the compiled engine core
will not pay, as it calls render from compiled code: the "call only" row times it, a
render of a pool without voices.

These VMs differ about 3x in speed, so the run also times benchmarks/reference.py's
workload at its start and end and prints p50 and p99.9 in units of it ("0.40 ref").

Compile time: a fresh process with an empty numba cache imports kernel.voices and calls
every function once (the cold first start of a performer's machine); a second process does
the same with that cache filled (every later start).
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from reference import reference_seconds

from hoot.engine.kernel import voices as kv
from hoot.engine.synth import VoicePool

SR = 48000
TRACKS = 8
TIMBRES = (0, 1, 2, 4, 5)  # sine, saw, square, pad, bass: all sustain
REPO = Path(__file__).resolve().parents[1]

FIRST_CALLS = """
import time
t0 = time.perf_counter()
import numpy as np
from hoot.engine.kernel import events as ev
from hoot.engine.kernel import voices as kv
vs = kv.make_voices(48000, 2)
buffer = ev.make_events(8)
ev.clear(buffer)
ev.push(buffer, 0, ev.ON, 0, 60, 100, 0, 1, 0.0)
kv.dispatch(vs, buffer, np.ones(2, np.bool_))
kv.note_on(vs, 0, 0, 60, 100, 0, 1)
kv.note_off(vs, 10, 1)
kv.release_track(vs, 10, 0)
kv.silence(vs, 10, -1)
kv.bend(vs, 10, 0, 1.0)
kv.render(vs, 0, 64, np.zeros((2, 64, 2), np.float32))
print(time.perf_counter() - t0)
"""


def first_start_seconds(cache: str) -> float:
    """Seconds from import to every function called once, in a fresh process."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    done = subprocess.run(
        [sys.executable, "-c", FIRST_CALLS],
        env=env,
        cwd=REPO,  # so `-c` imports this checkout's hoot
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.split()[-1])


def timed(render, blocksize: int, seconds: float) -> np.ndarray:
    """Each render's time as % of the block's period."""
    period = blocksize / SR
    out = np.zeros((TRACKS, blocksize, 2), np.float32)
    n = int(seconds / period)
    times = np.zeros(n)
    clock = time.perf_counter
    s0 = 0
    for _ in range(200):  # warm up caches
        render(s0, blocksize, out)
        s0 += blocksize
    gc.collect()
    for i in range(n):
        t0 = clock()
        render(s0, blocksize, out)
        times[i] = clock() - t0
        s0 += blocksize
    return times / period * 100


def measure(blocksize: int, seconds: float) -> list[tuple[str, np.ndarray, int]]:
    pool = VoicePool(SR, TRACKS, max_voices=32)
    vs = kv.make_voices(SR, TRACKS, max_voices=32)
    for v in range(32):
        pool.note_on(0, v % TRACKS, 36 + v, 100, TIMBRES[v % len(TIMBRES)], key=v)
        kv.note_on(vs, 0, v % TRACKS, 36 + v, 100, TIMBRES[v % len(TIMBRES)], v)
    compiled = timed(lambda s0, frames, out: kv.render(vs, s0, frames, out), blocksize, seconds)
    python = timed(pool.render, blocksize, seconds)
    idle = kv.make_voices(SR, TRACKS, max_voices=32)
    call = timed(lambda s0, frames, out: kv.render(idle, s0, frames, out), blocksize, seconds)
    return [
        ("kernel", compiled, kv.active(vs)),
        ("VoicePool", python, pool.active),
        ("call only", call, kv.active(idle)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="audio time per measurement")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        cold = first_start_seconds(cache)
        warm = first_start_seconds(cache)
    print(f"kernel.voices first start: {cold:.1f} s compiling, {warm:.2f} s from the cache")
    before = reference_seconds()
    print(f"reference workload: {before * 1e6:.0f} us at the start")
    print(f"render cost, 32 voices on {TRACKS} tracks, back to back")
    results = [(bs, measure(bs, a.seconds)) for bs in (64, 128, 256)]
    after = reference_seconds()
    ref = (before + after) / 2
    print(
        f"{'block':>6} {'period':>9} {'pool':>10} {'p50':>7} {'p99.9':>7} {'max':>7}  "
        f"{'p50':>8} {'p99.9':>8}  voices"
    )
    for bs, rows in results:
        period = bs / SR
        for name, share, voices in rows:
            p50, p999 = np.percentile(share, 50), np.percentile(share, 99.9)
            units = [p / 100 * period / ref for p in (p50, p999)]
            print(
                f"{bs:>6} {period * 1000:>7.2f}ms {name:>10} {p50:>6.2f}% {p999:>6.2f}% "
                f"{share.max():>6.1f}%  {units[0]:>4.2f} ref {units[1]:>4.2f} ref  {voices:>6}"
            )
    print(f"reference workload: {after * 1e6:.0f} us at the end; 1 ref = {ref * 1e6:.0f} us")


if __name__ == "__main__":
    main()
