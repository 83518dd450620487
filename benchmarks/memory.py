"""Engine process memory with 32 eight-bar stereo stems loaded.

    python benchmarks/memory.py [--stems 32] [--bpm 120]

Starts a real engine process (null backend), loads the stems through the socket as
a performer would (perf.load), plays them all, and reads the memory of the engine and
its recorder's writer process from /proc: proportional set size (PSS), so the ring the
two share counts once. Target: at most 400 MB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from hoot.engine.client import EngineClient
from hoot.music import ROLES
from hoot.performance import Performance
from hoot.session import Session

SR = 48000


def pss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no Pss")


def children(pid: int) -> list[int]:
    return [
        int(c)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for c in (task / "children").read_text().split()
    ]


def engine_mb(pid: int) -> tuple[float, float]:
    """(the engine process, its child processes: the recorder's writer), PSS in MB."""
    return pss_mb(pid), sum(pss_mb(c) for c in children(pid))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stems", type=int, default=32)
    ap.add_argument("--bpm", type=float, default=120.0)
    a = ap.parse_args()
    frames = round(8 * 4 * 60 / a.bpm * SR)
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(Path(tmp) / "mem")
        rng = np.random.default_rng(0)
        paths = []
        for i in range(a.stems):
            p = session.stems / f"stem{i}.wav"
            sf.write(
                str(p),
                (0.1 * rng.standard_normal((frames, 2))).astype(np.float32),
                SR,
                subtype="FLOAT",
            )
            paths.append(p)
        client = EngineClient.spawn(session.dir, backend="null", idle_timeout=60)
        try:
            pid = client.info.pid
            time.sleep(1.0)
            base = sum(engine_mb(pid))
            perf = Performance(client, session)
            for i, p in enumerate(paths):
                perf.load(p, role=ROLES[i % len(ROLES)]).queue(at="now")
            time.sleep(2.0)
            engine, writer = engine_mb(pid)
            loaded = engine + writer
            audio_mb = a.stems * frames * 2 * 4 / 2**20
            print(
                f"engine process, {a.stems} stems of 8 bars at {a.bpm:g} BPM "
                f"({audio_mb:.0f} MB of float32 audio):"
            )
            print(
                f"  before loading {base:.0f} MB, after {loaded:.0f} MB (engine {engine:.0f}, "
                f"recorder writer {writer:.0f}; target <= 400 MB): "
                f"{'ok' if loaded <= 400 else 'OVER'}"
            )
        finally:
            client.shutdown()


if __name__ == "__main__":
    main()
