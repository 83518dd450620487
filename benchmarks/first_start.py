"""How long the engine's compiled core takes on a first start, on a second start, and (with
--compile) when it must be compiled on this machine, each in a fresh process.

    python benchmarks/first_start.py [--runs 3] [--compile]

"first start, shipped core": an empty user cache folder (XDG_CACHE_HOME), as on a machine
that never ran hoot: the engine unpacks the core shipped for this platform
(hoot/engine/kernel/shipped, numba's generic CPU) and loads it. "second start": the same
folder again. "compile here" (--compile, one run, about two minutes on a 2-core VM): an
empty folder with HOOT_SHIPPED_CORE=0, as on a platform without a shipped core. Each start
is `python -m hoot.engine.warm` (the engine a server builds, a block rendered, its PortAudio
callback made), timed as the whole process's life; the line after it says whether numba
compiled anything. Targets (issue 10): a first start that must compile at most 30 s, a warm
start of `hoot tui` in 2 s (benchmarks/tui.py times the whole TUI). Printed beside the
reference workload (benchmarks/reference.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reference import reference_seconds, repository_on_path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import sys
from numba.core.dispatcher import Dispatcher
import gc
from hoot.engine.warm import warm
said = []
warm(said.append)
misses = sum(sum(d.stats.cache_misses.values()) for d in gc.get_objects()
             if isinstance(d, Dispatcher))
print(f"compiled {misses} functions; " + ("; ".join(said) or "said nothing"))
"""


def start(cache_home: Path, shipped: bool = True) -> tuple[float, str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONPATH": str(REPO)}
    env.pop("NUMBA_CACHE_DIR", None)
    env["HOOT_SHIPPED_CORE"] = "1" if shipped else "0"
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - began, done.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also time a compile on this machine")
    args = ap.parse_args()
    repository_on_path()
    from hoot.engine.kernel import shipped

    ref = reference_seconds()
    print(f"reference workload: {ref * 1e6:.0f} us; shipped core for {shipped.platform_tag()}: "
          f"{shipped.manifest() or 'none'}")  # fmt: skip
    rows: dict[str, list[float]] = {"first start, shipped core": [], "second start": []}
    notes: dict[str, str] = {}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="hoot-first-") as home:
            for name in rows:
                seconds, note = start(Path(home))
                rows[name].append(seconds)
                notes[name] = note
    if args.compile:
        with tempfile.TemporaryDirectory(prefix="hoot-compile-") as home:
            seconds, note = start(Path(home), shipped=False)
            rows["compile here (HOOT_SHIPPED_CORE=0)"] = [seconds]
            notes["compile here (HOOT_SHIPPED_CORE=0)"] = note
    print(f"{'start':38} {'median s':>9} {'max s':>7} {'median ref':>11}")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"{name:38} {median:9.2f} {max(values):7.2f} {median / ref:11.0f}")
        print(f"    {notes[name]}")
    print(f"reference workload at the end: {reference_seconds() * 1e6:.0f} us")


if __name__ == "__main__":
    main()
