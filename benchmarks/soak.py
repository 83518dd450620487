"""Soak: the engine on a JACK server (dummy driver, 128-frame periods) for minutes, idle and
then while other processes keep both cores busy (a pure-Python loop and a torch inference
loop), in two runs: with real-time scheduling and without. Xruns in each phase are counted
by the engine (PortAudio underflows, the engine's status).

    python benchmarks/soak.py [--minutes 5] [--period 128] [--runs realtime,normal]

- realtime: jackd --realtime, the engine as it starts by default (its audio thread is
  JACK's client thread, at jackd's priority; its other threads SCHED_FIFO 1; nice -10);
- normal: what a performer without real-time limits gets: jackd --no-realtime, the engine
  with HOOT_RT_PRIORITY=0 (its audio thread never asks for SCHED_FIFO) and
  HOOT_ENGINE_NICE=0, jackd at normal niceness too.
Each run prints the scheduling its audio thread really had (from the engine's status).
Target (issue 10): without real-time scheduling, no more xruns busy than idle.
A GIL phase (a thread of the engine process holding the GIL) cannot be made from outside
the engine process: tests/engine/test_kernel_callback.py covers it.
Needs jackd (scripts/setup installs it) and torch for the inference loop (without it the
second load is a numpy loop, and the report says so).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hoot.engine import realtime  # noqa: E402
from hoot.engine.client import EngineClient  # noqa: E402
from hoot.music.clip import NoteClip  # noqa: E402
from hoot.performance import Performance  # noqa: E402
from hoot.session import Session  # noqa: E402
from tests.jack_server import start_jack_server  # noqa: E402

PYTHON_LOOP = "x = 0\nwhile True:\n    x = (x * 31 + 7) % 1000003\n"
TORCH_LOOP = """
import torch
torch.set_num_threads(1)
nn = torch.nn
model = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 512))
x = torch.randn(64, 512)
with torch.no_grad():
    while True:
        x = torch.tanh(model(x))
"""
NUMPY_LOOP = """
import numpy as np
a = np.random.default_rng(0).standard_normal((512, 512))
while True:
    a = np.tanh(a @ a * 1e-3)
"""


def has_torch() -> bool:
    return (
        subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0
    )


def a_set(perf: Performance, folder: Path) -> None:
    sr = perf.samplerate
    rng = np.random.default_rng(1)
    for i, role in enumerate(("drums", "perc", "lead")):
        path = folder / f"{role}.wav"
        sf.write(str(path), (0.1 * rng.standard_normal((sr * (2 + i), 2))).astype(np.float32), sr)
        perf.load(path, role=role).queue(at="now")
    for role, pitches in (("bass", (36, 43)), ("chords", (60, 64, 67)), ("pad", (57, 62, 65))):
        path = folder / f"{role}.mid"
        notes = [(b * 0.5, 0.4, p, 90) for b in range(8) for p in pitches]
        NoteClip.from_notes(notes, length=4).write_midi(path)
        perf.load(path, role=role).queue(at="now")


def phase(client: EngineClient, seconds: float) -> tuple[int, int, float]:
    start = client.status()
    time.sleep(seconds)
    end = client.status()
    played = (end.position - start.position) / client.samplerate
    return end.xruns - start.xruns, end.faults - start.faults, played


RUNS = {
    "realtime": {},
    "normal": {realtime.PRIORITY_ENV: "0", "HOOT_ENGINE_NICE": "0"},
}


def soak(run: str, period: int, seconds: float, torch_ok: bool) -> dict:
    """One run: a JACK server, an engine playing a set, an idle phase and a busy phase."""
    jack_rt = run == "realtime"
    if jack_rt and not realtime.allowed():
        sys.exit("real-time scheduling is not allowed here: " + realtime.HOW_TO_ALLOW)
    jack = start_jack_server(f"hoot-soak-{run}", 48000, period, realtime=jack_rt)
    saved = dict(os.environ)
    os.environ.update(jack.env())
    os.environ.update(RUNS[run])
    loads: list[subprocess.Popen] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            session = Session(Path(tmp) / "soak")
            client = EngineClient.spawn(session.dir, backend="sounddevice", idle_timeout=60)
            try:
                if client.info.backend != "sounddevice":
                    sys.exit(f"the engine did not reach JACK: {client.messages()}")
                a_set(Performance(client, session), Path(tmp))
                time.sleep(1)
                audio_thread = realtime.describe(client.status().realtime)
                idle = phase(client, seconds)
                loads = [
                    subprocess.Popen([sys.executable, "-c", PYTHON_LOOP]),
                    subprocess.Popen(
                        [sys.executable, "-c", TORCH_LOOP if torch_ok else NUMPY_LOOP]
                    ),
                ]
                time.sleep(2)  # let torch import and settle
                busy = phase(client, seconds)
            finally:
                for p in loads:
                    p.kill()
                    p.wait()
                client.shutdown()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        jack.stop()
    jackd = "jackd realtime" if jack_rt else "jackd --no-realtime"
    return {"sched": f"{jackd}; audio thread {audio_thread}", "idle": idle, "busy": busy}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="per phase")
    ap.add_argument("--period", type=int, default=128)
    ap.add_argument("--runs", default="realtime,normal", help="realtime, normal or both")
    a = ap.parse_args()
    runs = [r for r in a.runs.split(",") if r]
    for r in runs:
        if r not in RUNS:
            sys.exit(f"no run named {r!r}: the runs are {', '.join(RUNS)}")
    torch_ok = has_torch()
    results = {r: soak(r, a.period, a.minutes * 60, torch_ok) for r in runs}
    second = "torch inference loop" if torch_ok else "numpy loop (torch is not installed)"
    print(f"soak on JACK dummy, {a.period}-frame periods, {a.minutes:g} min per phase")
    print(f"busy: a pure-Python loop and a {second}")
    for run, r in results.items():
        print(f"  {run}: {r['sched']}")
        for name in ("idle", "busy"):
            xruns, faults, played = r[name]
            print(f"    {name:5} {xruns:5d} xruns, {faults} faults, played {played:.1f} s")
    for run, r in results.items():
        verdict = "ok" if r["busy"][0] <= r["idle"][0] else "MORE under load"
        print(f"  target ({run}): no more xruns busy than idle: {verdict}")


if __name__ == "__main__":
    main()
