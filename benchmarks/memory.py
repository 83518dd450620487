"""Engine process memory with 32 eight-bar stereo stems loaded and 4 live inputs.

    python benchmarks/memory.py [--stems 32] [--bpm 120] [--inputs 4] [--take 60]

Starts a real engine process (null backend: it runs the compiled core from Python, over the
same world the device callback would), loads the stems through the socket as a performer
would (perf.load), plays them all, then takes 4 inputs the way rehearsal does on a machine
with no sound card (perf.input): two from files (takes of --take seconds, as a player's
recorded part would be) and two from generated signals, all recording to their own files
(perf.record(tracks=True)). Reads the memory of the engine and its recorder's writer process
from /proc after each step: proportional set size (PSS), so the ring the two share counts
once. Target (issue 10): at most 400 MB with 32 stems and 4 inputs.
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
    ap.add_argument("--inputs", type=int, default=4)
    ap.add_argument("--take", type=float, default=60.0, help="seconds of each input file")
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
            stems = sum(engine_mb(pid))
            take_frames = round(a.take * SR)
            for k in range(a.inputs):
                if k % 2 == 0:
                    take = session.stems / f"take{k}.wav"
                    noise = 0.1 * rng.standard_normal((take_frames, 2))
                    sf.write(str(take), noise.astype(np.float32), SR, subtype="FLOAT")
                    perf.input(f"player{k + 1}", file=take)
                else:
                    perf.input(f"player{k + 1}", signal="noise" if k % 4 == 1 else "sine 220")
            perf.record(tracks=True)
            time.sleep(2.0)
            engine, writer = engine_mb(pid)
            loaded = engine + writer
            perf.stop_recording()
            audio_mb = a.stems * frames * 2 * 4 / 2**20
            takes_mb = (a.inputs + 1) // 2 * take_frames * 2 * 4 / 2**20
            print(
                f"engine process, {a.stems} stems of 8 bars at {a.bpm:g} BPM "
                f"({audio_mb:.0f} MB of float32 audio), {a.inputs} inputs "
                f"({(a.inputs + 1) // 2} from {a.take:g} s files: {takes_mb:.0f} MB; the others "
                "from signals), recording every track:"
            )
            print(
                f"  before loading {base:.0f} MB, with the stems {stems:.0f} MB, with the "
                f"inputs and recording {loaded:.0f} MB (engine {engine:.0f}, recorder writer "
                f"{writer:.0f}; target <= 400 MB): {'ok' if loaded <= 400 else 'OVER'}"
            )
        finally:
            client.shutdown()


if __name__ == "__main__":
    main()
