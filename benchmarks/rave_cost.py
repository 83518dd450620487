"""A RAVE model's cost per engine block on one thread, and the latency its Stream declares.

    python benchmarks/rave_cost.py [--seconds 4] [--model PATH]

One block is one `Stream.process` of a live input's block at 48 kHz: resampling where the
model's rate differs, encode -> decode on the whole latent frames the block completes,
and the FIFO that returns exactly as many frames as came in. Its deadline is the block's
own duration (2.7 ms at 128 frames), so the real-time factor (time spent / audio played)
must stay well under 1 and p95 under the block's duration. The rows:

- the embedded model (models/rave-hoot.ts) at 128, 256 and 2048-sample blocks, when it
  is there;
- the adapter alone: hoot.realtime.nn_tilde's identity model (ratio 128), which costs
  nothing inside, so the figures are the Stream's own bookkeeping;
- a RAVE-v2-sized module (nn_tilde kind "v2": ratio 2048, ~40 M parameters, random
  weights, which cost what trained ones do) at 2048-sample blocks, at 48 kHz (one latent
  frame a block) and at RAVE's own 44.1 kHz in a 48 kHz session (resampled both ways;
  a block holds 0 or 1 frames, so p50 and max differ).

p50/p95/max in ms, and in units of the reference workload (benchmarks/reference.py) timed
in the same run, since these shared VMs differ ~3x.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from reference import reference_seconds, repository_on_path

repository_on_path()
from hoot.realtime import nn_tilde  # noqa: E402
from hoot.realtime.rave import EMBEDDED, Stream, load_rave  # noqa: E402

SESSION = 48000
WARM = 10  # blocks not counted: caches, allocator


def per_block_ms(stream: Stream, block: int, seconds: float) -> list[float]:
    """Times of Stream.process over `seconds` of a chord with noise, in `block`s."""
    count = max(WARM + 30, int(seconds * SESSION / block))
    t = np.arange(block * count) / SESSION
    hiss = 0.05 * np.random.default_rng(0).standard_normal(len(t))
    x = np.repeat((0.3 * np.sin(2 * np.pi * 220 * t) + hiss).astype(np.float32)[:, None], 2, 1)
    times = []
    for k in range(count):
        started = time.perf_counter()
        stream.process(x[k * block : (k + 1) * block])
        times.append((time.perf_counter() - started) * 1e3)
    return times[WARM:]


def row(name: str, block: int, stream: Stream, times: list[float], ref_ms: float) -> str:
    ordered = sorted(times)
    p50 = ordered[len(ordered) // 2]
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    block_ms = block / SESSION * 1e3
    rtf = sum(times) / (len(times) * block_ms)
    late = stream.latency
    return (f"{name:<34} {block:5d}  p50 {p50:7.3f}  p95 {p95:7.3f}  max {ordered[-1]:7.3f} ms"
            f"  rtf {rtf:5.3f}  latency {late:5d} ({late / SESSION * 1e3:5.1f} ms)"
            f"  ({p50 / ref_ms:6.2f} / {p95 / ref_ms:6.2f} ref)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="audio per row")
    ap.add_argument("--model", type=Path, default=EMBEDDED)
    args = ap.parse_args()
    torch.set_num_threads(1)

    before = reference_seconds()
    measured = []
    if args.model.is_file():
        model = load_rave(args.model)
        for block in (128, 256, 2048):
            stream = Stream(model, SESSION)
            name = f"{model.name} (ratio {model.ratio}, {model.sr} Hz)"
            measured.append((name, block, stream, per_block_ms(stream, block, args.seconds)))
    else:
        print(f"{args.model} is not here yet (models/train_rave.py makes it): no embedded rows")
    with tempfile.TemporaryDirectory() as folder:
        identity = load_rave(nn_tilde.build("identity", Path(folder) / "identity.ts"))
        for block in (128, 256, 2048):
            stream = Stream(identity, SESSION)
            measured.append(("adapter alone (identity, ratio 128)", block, stream,
                             per_block_ms(stream, block, args.seconds)))  # fmt: skip
        for sr in (48000, 44100):
            v2 = load_rave(nn_tilde.build("v2", Path(folder) / f"v2-{sr}.ts", sr=sr))
            params = sum(p.numel() for p in v2.module.parameters())
            stream = Stream(v2, SESSION)
            name = f"v2-sized ({params / 1e6:.0f} M, {sr} Hz)"
            measured.append((name, 2048, stream, per_block_ms(stream, 2048, args.seconds)))
    after = reference_seconds()
    ref_ms = (before + after) / 2 * 1e3
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, {args.seconds:g} s of "
          f"audio per row, session {SESSION} Hz; per block: Stream.process (ms); rtf = time "
          "spent / audio played; latency = Stream.latency in session samples")
    print(f"reference workload: {before * 1e6:.0f} us at the start, {after * 1e6:.0f} us "
          "at the end")
    print(f"{'model':<34} {'block':>5}")
    for name, block, stream, times in measured:
        print(row(name, block, stream, times, ref_ms))


if __name__ == "__main__":
    main()
