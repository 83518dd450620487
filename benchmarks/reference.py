"""A fixed reference workload, timed beside every benchmark's figures.

These VMs differ about 3x in speed from one to the next. Each benchmark times this
workload in the same run and prints its figures in units of it too ("2.1 ref": 2.1 times
as long as the reference), so figures from different machines compare.

The workload is the two things hoot's real-time and generation code spend their time on:
200 in-place numpy adds on a (128, 2) float32 block, then 2,000 turns of a pure-Python loop.
"""

from __future__ import annotations

import time

import numpy as np


def reference_seconds(repeats: int = 300) -> float:
    """The median time of one run of the reference workload, in seconds."""
    a = np.zeros((128, 2), np.float32)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(200):
            np.add(a, a, out=a)
        total = 0
        for i in range(2000):
            total += i * i
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def repository_on_path() -> None:
    """Let a benchmark import from the repository's tests (the Python engine the compiled
    core replaced lives there, as the tests' oracle: tests/engine/oracle.py)."""
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
