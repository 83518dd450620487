"""The machine's own xrun floor: a JACK client that only writes zeros, idle and while other
processes write files, to disk and to memory (tmpfs).

    python benchmarks/io_floor.py [--seconds 30] [--period 256] [--writers 1] [--pause 0.15]

Each writer process writes a 16-second stereo float32 WAV (6 MB, one generated stem's
size) and reads it back, then pauses --pause seconds, over and over: about what a
continuous `perf.generate` does to the disk. If the zeros-only client gets xruns while
the writers use the disk, so will any audio program on this machine, hoot included; the
tmpfs phase shows whether it is the disk or the work itself.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hoot.engine import realtime  # noqa: E402
from tests.jack_server import start_jack_server, use_jack_server  # noqa: E402

WRITER = """
import os, sys, time
import numpy as np, soundfile as sf
folder, pause = sys.argv[1], float(sys.argv[2])
audio = (0.1 * np.random.default_rng(0).standard_normal((16 * 48000, 2))).astype(np.float32)
i = 0
while True:
    path = os.path.join(folder, f"{i % 20}.wav")
    sf.write(path, audio, 48000, subtype="FLOAT")
    sf.read(path)
    i += 1
    time.sleep(pause)
"""


def written_bytes(pid: int) -> int:
    """Bytes process `pid` has written so far (/proc/PID/io)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def measure(seconds: float, writers: int, pause: float) -> list[tuple]:
    """(phase, xruns, folder written to, MB/s) for idle, disk and tmpfs phases."""
    import sounddevice as sd

    underflows = [0]

    def zeros(out, frames, time_info, status) -> None:
        if status.output_underflow:
            underflows[0] += 1
        out.fill(0)

    api = next(i for i, h in enumerate(sd.query_hostapis()) if "JACK" in h["name"])
    device = sd.query_hostapis(api)["default_output_device"]
    stream = sd.OutputStream(
        device=device, channels=2, samplerate=48000, blocksize=0, callback=zeros
    )
    rows = []
    disk = Path(__file__).resolve().parents[1]  # where sessions live: the repository's disk
    memory = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    stream.start()
    try:
        time.sleep(1.0)
        for label, where in (("idle", None), ("disk", disk), ("tmpfs", memory)):
            if label != "idle" and where is None:
                continue
            with tempfile.TemporaryDirectory(dir=where, prefix="hoot-io-floor-") as folder:
                procs = [
                    subprocess.Popen([sys.executable, "-c", WRITER, folder, str(pause)])
                    for _ in range(writers if where is not None else 0)
                ]
                try:
                    began = time.monotonic()
                    time.sleep(2.0 if procs else 0.0)
                    before = underflows[0]
                    time.sleep(seconds)
                    written = sum(written_bytes(p.pid) for p in procs)
                    rate = written / (time.monotonic() - began) / 1e6
                    rows.append((label, underflows[0] - before, where, rate))
                finally:
                    for p in procs:
                        p.kill()
                        p.wait()
    finally:
        stream.stop()
        stream.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="per phase")
    ap.add_argument("--period", type=int, default=256)
    ap.add_argument("--writers", type=int, default=1)
    ap.add_argument("--pause", type=float, default=0.15, help="seconds between files")
    a = ap.parse_args()
    jack = start_jack_server("hoot-io-floor", 48000, a.period)
    try:
        with use_jack_server(jack):  # PortAudio leaves the server before it stops
            rows = measure(a.seconds, a.writers, a.pause)
    finally:
        jack.stop()
    print(
        f"xruns of a JACK client that writes zeros ({a.period}-frame periods, jackd "
        f"{'realtime' if realtime.allowed() else 'not realtime'}), {a.seconds:g} s a phase"
    )
    for label, xruns, where, rate in rows:
        load = (
            "nothing else running"
            if where is None
            else (f"{a.writers} writer(s), {rate:.0f} MB/s of WAV files to {where}")
        )
        print(f"  {label:6} {xruns:5d} xruns   {load}")


if __name__ == "__main__":
    main()
