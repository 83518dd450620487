"""Soak: the engine on a JACK server (dummy driver, 128-frame periods) for minutes, first
alone, then while other processes keep both cores busy: a pure-Python loop and a torch
inference loop. Xruns in each phase are counted by the engine (PortAudio underflows).

    python benchmarks/soak.py [--minutes 5] [--period 128]

Target: no more xruns under load than idle. Needs jackd (scripts/setup installs it) and,
for the torch load, torch (on these machines: pip install torch==2.13.0, the CPU build);
without torch the second load is a numpy loop, and the report says so.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="per phase")
    ap.add_argument("--period", type=int, default=128)
    a = ap.parse_args()
    seconds = a.minutes * 60
    torch_ok = has_torch()
    jack_rt = realtime.allowed()  # as on a stage machine, where the system allows it
    jack = start_jack_server("hoot-soak", 48000, a.period, realtime=jack_rt)
    os.environ.update(jack.env())
    if not jack_rt:
        # No real-time scheduling here: give jackd the engine's nice level where allowed,
        # so the comparison is about hoot, not about jackd being starved.
        try:
            os.setpriority(
                os.PRIO_PROCESS, jack.pid, int(os.environ.get("HOOT_ENGINE_NICE", "-10"))
            )
        except OSError:
            pass
    jack_sched = "realtime" if jack_rt else f"nice {os.getpriority(os.PRIO_PROCESS, jack.pid)}"
    loads: list[subprocess.Popen] = []
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
                subprocess.Popen([sys.executable, "-c", TORCH_LOOP if torch_ok else NUMPY_LOOP]),
            ]
            time.sleep(2)  # let torch import and settle
            busy = phase(client, seconds)
        finally:
            for p in loads:
                p.kill()
            client.shutdown()
            jack.stop()
    second = "torch inference loop" if torch_ok else "numpy loop (torch is not installed)"
    print(f"soak on JACK dummy, {a.period}-frame periods, {a.minutes:g} min per phase")
    print(f"  jackd {jack_sched}; the engine's audio thread: {audio_thread}")
    print(f"  idle:  {idle[0]:5d} xruns, {idle[1]} faults, played {idle[2]:.1f} s")
    print(
        f"  busy:  {busy[0]:5d} xruns, {busy[1]} faults, played {busy[2]:.1f} s "
        f"(pure-Python loop + {second})"
    )
    verdict = "ok" if busy[0] <= idle[0] else "MORE under load"
    print(f"  target: no more xruns under load than idle: {verdict}")


if __name__ == "__main__":
    main()
