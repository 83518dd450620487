"""Engine process memory with 32 eight-bar stereo stems loaded.

    python benchmarks/memory.py [--stems 32] [--bpm 120]

Starts a real engine process (null backend), loads the stems through the socket as
a performer would (perf.load), plays them all, and reads the process's resident
memory from /proc. Target: at most 400 MB.
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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


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
            pid = client.info["pid"]
            time.sleep(0.5)
            base = rss_mb(pid)
            perf = Performance(client, session)
            for i, p in enumerate(paths):
                perf.load(p, role=ROLES[i % len(ROLES)]).queue(at="now")
            time.sleep(2.0)
            loaded = rss_mb(pid)
            audio_mb = a.stems * frames * 2 * 4 / 2**20
            print(
                f"engine process, {a.stems} stems of 8 bars at {a.bpm:g} BPM "
                f"({audio_mb:.0f} MB of float32 audio):"
            )
            print(
                f"  resident before loading {base:.0f} MB, after {loaded:.0f} MB "
                f"(target <= 400 MB): {'ok' if loaded <= 400 else 'OVER'}"
            )
        finally:
            client.shutdown()


if __name__ == "__main__":
    main()
