"""Soak: the engine on a JACK server (dummy driver, 128-frame periods) for minutes, idle,
then with the real-time layer busy (a harmonizer's voice process answering a keyboard that
plays 20 notes a second, issue 12), then while other processes keep both cores busy (a
pure-Python loop and a torch inference loop), in two runs: with real-time scheduling and
without. Xruns in each phase are counted by the engine (PortAudio underflows, the engine's
status).

    python benchmarks/soak.py [--minutes 5] [--period 128] [--runs realtime,normal]
                              [--phases idle,keys,layer,busy]

- realtime: jackd --realtime, the engine as it starts by default (its audio thread is
  JACK's client thread, at jackd's priority; its other threads SCHED_FIFO 1; nice -10);
- normal: what a performer without real-time limits gets: jackd --no-realtime, the engine
  with HOOT_RT_PRIORITY=0 (its audio thread never asks for SCHED_FIFO) and
  HOOT_ENGINE_NICE=0, jackd at normal niceness too.
Each run prints the scheduling its audio thread really had (from the engine's status).
Target (issue 10): without real-time scheduling, no more xruns busy than idle; (issue 12)
no more xruns with the layer busy than idle.
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
import threading
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


NOTES_PER_S = 20  # the layer phase's keyboard: sixteenths at 150 BPM, half a note held


def feed(keys, stop: threading.Event) -> int:
    """Play a C major line into `keys` until told to stop; returns the notes played."""
    rng = np.random.default_rng(2)
    played = 0
    while not stop.is_set():
        pitch = int(rng.choice((60, 62, 64, 65, 67, 69, 71, 72)))
        keys.send(bytes((0x90, pitch, 96)))
        stop.wait(0.5 / NOTES_PER_S)
        keys.send(bytes((0x80, pitch, 0)))
        stop.wait(0.5 / NOTES_PER_S)
        played += 1
    return played


def layer_phase(perf: Performance, client: EngineClient, seconds: float, model: str | None,
                harmonize: bool = True) -> tuple:  # fmt: skip
    """A harmonizer answering a fast keyboard for `seconds` (or, harmonize=False, the same
    keyboard alone: what the keyboard's stream and its JACK clients cost without the
    layer): (xruns, faults, played, what the model says of itself)."""
    from hoot.midi.ports import MidiPorts

    with MidiPorts(api="jack") as ports:
        keys = ports.virtual_output("hoot-soak-keys")
        perf.tracks.keys.play_from("hoot-soak-keys")
        live = perf.harmonize("keys", sound="pad", model=model) if harmonize else None
        deadline = time.monotonic() + 120
        while (
            live is not None
            and (live.status is None or live.status.state not in ("running", "failed"))
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        stop = threading.Event()
        fed = []
        feeder = threading.Thread(target=lambda: fed.append(feed(keys, stop)))
        feeder.start()
        try:
            result = phase(client, seconds)
        finally:
            stop.set()
            feeder.join()
            status = live.status if live is not None else None
            if live is not None:
                live.stop()
            perf.tracks.keys.play_from(None)
    said = status.line() if status else ("no model status" if harmonize else "no model")
    return (*result, f"{fed[0]} keys, {said}")


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


PHASES = ("idle", "keys", "layer", "busy")
"""idle: the set plays; keys: plus a keyboard at NOTES_PER_S on the keys track; layer: the
same keyboard with a harmonizer answering it; busy: the set under two CPU hogs."""


def soak(run: str, period: int, seconds: float, torch_ok: bool, phases: tuple[str, ...],
         model: str | None = None) -> dict:  # fmt: skip
    """One run: a JACK server, an engine playing a set, then each phase asked for."""
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
                perf = Performance(client, session)
                a_set(perf, Path(tmp))
                time.sleep(1)
                audio_thread = realtime.describe(client.status().realtime)
                found = {}
                if "idle" in phases:
                    found["idle"] = phase(client, seconds)
                if "keys" in phases:
                    found["keys"] = layer_phase(perf, client, seconds, model, harmonize=False)
                if "layer" in phases:
                    found["layer"] = layer_phase(perf, client, seconds, model)
                perf.close()
                if "busy" in phases:
                    loads = [
                        subprocess.Popen([sys.executable, "-c", PYTHON_LOOP]),
                        subprocess.Popen(
                            [sys.executable, "-c", TORCH_LOOP if torch_ok else NUMPY_LOOP]
                        ),
                    ]
                    time.sleep(2)  # let torch import and settle
                    found["busy"] = phase(client, seconds)
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
    return {"sched": f"{jackd}; audio thread {audio_thread}", **found}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="per phase")
    ap.add_argument("--period", type=int, default=128)
    ap.add_argument("--runs", default="realtime,normal", help="realtime, normal or both")
    ap.add_argument("--phases", default=",".join(PHASES),
                    help=f"which of {', '.join(PHASES)} (keys and layer need torch)")  # fmt: skip
    ap.add_argument("--model", default=None, help="the harmonizer's checkpoint (default: hoot's)")
    a = ap.parse_args()
    runs = [r for r in a.runs.split(",") if r]
    for r in runs:
        if r not in RUNS:
            sys.exit(f"no run named {r!r}: the runs are {', '.join(RUNS)}")
    torch_ok = has_torch()
    phases = tuple(p for p in a.phases.split(",") if p)
    for name in phases:
        if name not in PHASES:
            sys.exit(f"no phase named {name!r}: the phases are {', '.join(PHASES)}")
    skipped = [] if torch_ok else [p for p in phases if p in ("keys", "layer")]
    phases = tuple(p for p in phases if p not in skipped)
    results = {r: soak(r, a.period, a.minutes * 60, torch_ok, phases, a.model) for r in runs}
    second = "torch inference loop" if torch_ok else "numpy loop (torch is not installed)"
    print(f"soak on JACK dummy, {a.period}-frame periods, {a.minutes:g} min per phase")
    print(f"busy: a pure-Python loop and a {second}")
    for run, r in results.items():
        print(f"  {run}: {r['sched']}")
        for name in PHASES:
            if name not in r:
                continue
            xruns, faults, played = r[name][:3]
            print(f"    {name:5} {xruns:5d} xruns, {faults} faults, played {played:.1f} s")
            if name in ("keys", "layer"):
                print(f"          the keyboard: {r[name][3]}")
    for run, r in results.items():
        if "idle" in r and "busy" in r:
            verdict = "ok" if r["busy"][0] <= r["idle"][0] else "MORE under load"
            print(f"  target ({run}): no more xruns busy than idle: {verdict}")
        if "idle" in r and "layer" in r:
            verdict = "ok" if r["layer"][0] <= r["idle"][0] else "MORE with the layer busy"
            print(f"  target ({run}): no more xruns with the layer busy than idle: {verdict}")
        if "keys" in r and "layer" in r:
            verdict = "ok" if r["layer"][0] <= r["keys"][0] else "MORE with the layer"
            print(f"  ({run}): the layer against the same keyboard alone: {verdict}")
    if skipped:
        print(f"  skipped {', '.join(skipped)}: torch is not installed")


if __name__ == "__main__":
    main()
