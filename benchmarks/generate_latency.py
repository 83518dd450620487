"""perf.generate(role, n=6) at 120 BPM, 8 bars: time to the first ready candidate and to
all six, and the worker pool's memory, per generator (the embedded rule-based default, and
hoot's own neural model, orpheus-small, by default; any other with --using).

    python benchmarks/generate_latency.py [--repeats 3] [--using default,orpheus-small]

The pool is warmed first (as `hoot tui` does at start), and a model generator's first
batch, which loads its weights in the model worker, is timed apart ("cold"), so the other
figures are what a performer waits for mid-set. Targets: the default, first within 300 ms
and all six within 1.5 s; orpheus-small, first within 1 s and all six within 3 s (issue 14).
The reference workload (benchmarks/reference.py) is timed in the same run, for comparing
machines.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from reference import reference_seconds

from hoot.engine.client import LocalEngine
from hoot.generate.batch import Status
from hoot.performance import Performance
from hoot.session import Session


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed_batch(perf: Performance, role: str, seed: int, using: str) -> tuple[float, float]:
    started = time.perf_counter()
    batch = perf.generate(role, n=6, bars=8, seed=seed, using=using)
    first = None
    while not batch.settled:
        if first is None and any(c.status is Status.READY for c in batch):
            first = time.perf_counter() - started
        time.sleep(0.001)
    total = time.perf_counter() - started
    failed = [c.reason for c in batch if c.status is Status.FAILED]
    if failed:
        raise SystemExit(f"{role}: candidates failed: {failed}")
    return (first if first is not None else total), total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--using", default="default,orpheus-small")
    ap.add_argument("--roles", default="bass,drums,chords,lead")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(Path(tmp) / "bench")
        perf = Performance(LocalEngine(48000, session_dir=session.dir), session)
        perf.on_message = lambda m: None
        perf.tempo = 120
        perf.key = "D minor"
        ref = reference_seconds()
        pool = perf.picker.pool
        pool.start()
        pool.ready.wait(60)
        perf.generate("bass", n=2, bars=2, seed=0).wait(60)  # first-use costs, once
        print(
            f"perf.generate(role, n=6) at 120 BPM, 8 bars; {pool.size} render workers "
            f"on {len(pool.pids)} processes"
        )
        print(f"{'generator':>14} {'role':>7} {'first ready':>12} {'all six':>9}   "
              f"(median of {a.repeats})")  # fmt: skip
        for using in a.using.split(","):
            if using != "default":
                started = time.perf_counter()
                timed_batch(perf, "bass", 99, using)
                cold = time.perf_counter() - started
                info = pool.models.get(using, {})
                print(f"{using:>14} {'cold':>7} {'':>12} {cold * 1000:>7.0f}ms   (the first "
                      f"batch: loads {info.get('bytes', 0) / 1e6:.0f} MB on "
                      f"{info.get('device', '?')} in {info.get('seconds', 0):.2f} s)")  # fmt: skip
            for role in a.roles.split(","):
                runs = [timed_batch(perf, role, seed, using) for seed in range(1, a.repeats + 1)]
                first = statistics.median(r[0] for r in runs)
                total = statistics.median(r[1] for r in runs)
                print(f"{using:>14} {role:>7} {first * 1000:>10.0f}ms {total * 1000:>7.0f}ms   "
                      f"({first / ref:.0f} ref / {total / ref:.0f} ref)")  # fmt: skip
        memory = sum(rss_mb(pid) for pid in pool.pids)
        print(f"render workers' memory: {memory:.0f} MB resident over {len(pool.pids)} workers")
        if pool.model_pid:
            print(f"model worker's memory: {rss_mb(pool.model_pid):.0f} MB resident")
        ref = (ref + reference_seconds()) / 2
        print(f"reference workload (benchmarks/reference.py): 1 ref = {ref * 1e6:.0f} us")
        print("targets: default first <= 300 ms, all six <= 1500 ms; orpheus-small first "
              "<= 1000 ms, all six <= 3000 ms")  # fmt: skip
        perf.close()


if __name__ == "__main__":
    main()
