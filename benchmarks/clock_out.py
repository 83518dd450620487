"""MIDI clock out jitter on both paths, on a JACK dummy server at 128 frames.

    python benchmarks/clock_out.py [--seconds 8] [--period 128] [--bpm 120]

The real engine (its own process) sends clock to a JACK client of ours, which stamps each
F8 with the frame it arrived at. Path "jack": the engine plays on JACK and writes ticks at
their frames (target: every interval exactly sr*60/bpm/24 samples, sd 0). Path "rtmidi":
the engine plays on the null backend, so the ticks go out through rtmidi at their wall
times (target: sd at most one period). Figures in samples and ms, beside the reference
workload (benchmarks/reference.py), since these machines differ in speed and load.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jack  # noqa: E402
import numpy as np  # noqa: E402
from reference import reference_seconds  # noqa: E402

from hoot.engine.client import EngineClient  # noqa: E402
from hoot.engine.protocol import GetClock  # noqa: E402
from hoot.performance import Performance  # noqa: E402
from hoot.session import Session  # noqa: E402
from tests.jack_server import start_jack_server, use_jack_server  # noqa: E402


class Recorder:
    """A JACK client stamping every F8 that reaches it with its frame."""

    def __init__(self) -> None:
        self.frames: list[int] = []
        self.lock = threading.Lock()
        self.client = jack.Client("clock-bench", no_start_server=True)
        self.port = self.client.midi_inports.register("in")
        self.client.set_process_callback(self.process)
        self.client.activate()

    def process(self, frames: int) -> None:
        f0 = self.client.last_frame_time
        events = self.port.incoming_midi_events()
        got = [f0 + off for off, data in events if bytes(data)[:1] == b"\xf8"]
        if got:
            with self.lock:
                self.frames.extend(got)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def measure(backend: str, seconds: float, bpm: float, period: int, sr: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(Path(tmp) / "bench")
        client = EngineClient.spawn(session.dir, backend=backend, blocksize=period,
                                    idle_timeout=30)  # fmt: skip
        recorder = Recorder()
        try:
            perf = Performance(client, session)
            perf.tempo = bpm
            state = perf.clock_out("clock-bench", start=None)
            print(f"  engine on {client.info.device}: clock out {state.path} to {state.port}")
            time.sleep(seconds)
            late = perf._send(GetClock()).late  # before the port goes, with the path's counts
            final = perf.clock_out(None)
        finally:
            recorder.close()
            client.shutdown()
    frames = np.asarray(recorder.frames[4:], np.int64)  # the first ticks meet a cold start
    d = np.diff(frames).astype(float)
    return {"path": state.path, "ticks": len(frames), "skipped": final.skipped, "late": late,
            "expected": sr * 60 / bpm / 24, "mean": d.mean(), "sd": d.std(),
            "min": d.min(), "max": d.max(), "p95": np.percentile(np.abs(d - d.mean()), 95),
            "exact": int(np.sum(np.abs(d - sr * 60 / bpm / 24) < 1)),
            "intervals": len(d)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--period", type=int, default=128)
    ap.add_argument("--bpm", type=float, default=120.0)
    a = ap.parse_args()
    sr = 48000
    ref = reference_seconds()
    print(f"reference workload: {ref * 1e6:.0f} us; load average {os.getloadavg()[0]:.1f}")
    server = start_jack_server("hoot-clock-bench", sr, a.period)
    try:
        with use_jack_server(server):
            for backend in ("sounddevice", "null"):
                r = measure(backend, a.seconds, a.bpm, a.period, sr)
                ms = 1000.0 / sr
                target = 0.0 if r["path"] == "jack" else a.period
                print(
                    f"{r['path']:>6} path, {a.period} frames, {a.bpm:g} BPM: {r['ticks']} ticks, "
                    f"{r['skipped']} skipped, {r['late']} sent over 1 ms late; interval "
                    f"(expected {r['expected']:.1f} samples) "
                    f"mean {r['mean']:.2f}, sd {r['sd']:.2f} samples ({r['sd'] * ms:.3f} ms), "
                    f"range {r['min']:.0f}..{r['max']:.0f} samples "
                    f"({r['min'] * ms:.2f}..{r['max'] * ms:.2f} ms), p95 deviation "
                    f"{r['p95'] * ms:.2f} ms; {r['exact']}/{r['intervals']} exact; "
                    f"target sd <= {target:g} samples: {'met' if r['sd'] <= target else 'MISSED'}"
                )
    finally:
        server.stop()
    print(f"reference workload: {reference_seconds() * 1e6:.0f} us at the end")


if __name__ == "__main__":
    main()
