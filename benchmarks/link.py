"""Ableton Link: how fast hoot joins a session, and how closely its grid follows the session.

    python benchmarks/link.py [--seconds 60] [--runs 3]

Runs inside a network namespace of its own with only loopback (it reruns itself under
`unshare -n`; where no namespace can be made it says so and stops: Link never runs on the
host's network here). Two peers: hoot, a live stage on the null backend at 120 BPM, and a
plain LinkPython-extern process (tests/control/link_peer.py) that holds a session at 93.

Join (--runs times, each a fresh stage and peer): seconds from `perf.sync = "link"` until
hoot sees the peer, until its tempo is the session's (within 0.01 BPM), and until its grid
is within 1 ms of the peer's beat.

Agreement (--seconds, two peers, the peer's tempo 93 -> 100 BPM half-way): hoot's grid
against the peer's beat time at a Link time T (the beat hoot's tempo map gives for the
engine sample heard at T, from the engine's own status less its output latency, against
the peer's beatAtTime(T) at one bar), sampled about 20 times a second. Printed: p50, p95
and max |error| in ms over the whole run; once locked (from the first reading within 1 ms
after the join, and again after the change: the glides onto the new phase and tempo are
left out, and their lengths printed); and locked and clear of engine underruns (none in
the 4 seconds before: on the null backend an underrun restarts the pacing from the wall
clock, so the engine's timeline slips, as a device's does, and hoot's grid glides back),
beside the reference workload.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this file's own name is the binding's (`import link`): benchmarks/ goes to the end of the
# path, where reference.py is still found and LinkPython-extern's `link` comes first
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "benchmarks"))

INSIDE = "HOOT_BENCH_NETNS"
CLEAR = 4.0  # seconds after an engine underrun (its timeline slipped) left out of "clear"


def percentiles(values: list[float]) -> str:
    import numpy as np

    a = np.abs(np.asarray(values))
    return (f"p50 {np.percentile(a, 50):.3f}  p95 {np.percentile(a, 95):.3f}  "
            f"max {a.max():.3f} ms  (n={len(a)})")  # fmt: skip


def live_stage(folder: Path):
    from hoot.session import Session
    from hoot.stage.stage import Stage

    return Stage.live(Session(folder), on_message=lambda m: None, backend="null",
                      idle_timeout=30)  # fmt: skip


def shut(stage) -> None:
    from hoot.engine.client import EngineClient

    stage.close()
    EngineClient(stage.session.dir).shutdown()


def wait(condition, timeout: float = 60.0) -> float | None:
    """Seconds until `condition` held, or None if it never did within `timeout`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if condition():
            return time.monotonic() - t0
        time.sleep(0.002)
    return None


def join_once(folder: Path) -> tuple[float | None, float | None, float | None]:
    from tests.control.link_peer import Peer, phase_ms

    peer = Peer(93.0)
    stage = live_stage(folder)
    perf = stage.perf
    try:
        t0 = time.monotonic()
        perf.sync = "link"
        marks = []
        for condition in (
            lambda: perf.sync == "Link (1 peer)",
            lambda: abs(perf.tempo - 93.0) <= 0.01,
            lambda: abs(phase_ms(perf, peer)) <= 1.0,
        ):
            marks.append(None if wait(condition) is None else time.monotonic() - t0)
        return marks[0], marks[1], marks[2]
    finally:
        shut(stage)
        peer.close()


def agreement(folder: Path, seconds: float):
    """|phase| (ms) over the run; once locked (within 1 ms after the join, and again after
    the change); locked and away from the engine's underruns (none in the CLEAR seconds
    before); the seconds to lock after the join and after the change; the underruns."""
    from tests.control.link_peer import Peer, phase_ms

    peer = Peer(93.0)
    stage = live_stage(folder)
    perf = stage.perf
    every, steady, clear, relocks = [], [], [], []
    underrun, locked = -CLEAR, None
    try:
        perf.sync = "link"
        wait(lambda: perf.sync == "Link (1 peer)")
        t0 = changed = time.monotonic()
        xruns, underruns = perf._link.status().xruns, 0
        while (now := time.monotonic()) - t0 < seconds:
            if changed == t0 and now - t0 >= seconds / 2:
                peer.ask("tempo 100")
                changed, locked = time.monotonic(), None
            error = phase_ms(perf, peer)
            every.append(error)
            if (seen := perf._link.status().xruns) != xruns:
                xruns, underruns, underrun = seen, underruns + seen - xruns, now
            target = 93.0 if changed == t0 else 100.0
            if locked is None and abs(error) <= 1.0 and abs(perf.tempo - target) <= 0.01:
                locked = now
                relocks.append(now - (changed if changed != t0 else t0))
            if locked is not None:
                steady.append(error)
                if now - underrun > CLEAR:
                    clear.append(error)
            time.sleep(0.05)
        return every, steady, clear, relocks, underruns
    finally:
        shut(stage)
        peer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if os.environ.get(INSIDE) != "1":
        if shutil.which("unshare") is None or shutil.which("ip") is None:
            sys.exit("no network namespace here (unshare and ip are missing): not run")
        made = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
        if made.returncode:
            sys.exit(f"no network namespace can be made here ({made.stderr.strip()}): not run")
        script = 'ip link set lo up && exec "$0" "$@"'
        command = ["unshare", "-n", "sh", "-c", script, sys.executable, *sys.argv]
        sys.exit(subprocess.run(command, env={**os.environ, INSIDE: "1"}).returncode)

    from reference import reference_seconds

    print(f"reference workload: {reference_seconds() * 1e6:.0f} us")
    with tempfile.TemporaryDirectory() as tmp:
        print("join (hoot at 120 joins a session at 93): seconds until it sees the peer, "
              "its tempo is the session's, its grid is within 1 ms")  # fmt: skip
        for run in range(args.runs):
            found, tempo, phase = join_once(Path(tmp) / f"join{run}")
            show = [f"{x:.2f} s" if x is not None else "never" for x in (found, tempo, phase)]
            print(f"  run {run + 1}: peer {show[0]}, tempo {show[1]}, phase {show[2]}")
        every, steady, clear, relocks, xruns = agreement(Path(tmp) / "agree", args.seconds)
        print(f"agreement over {args.seconds:.0f} s, 93 -> 100 BPM half-way "
              f"({xruns} engine underruns):")  # fmt: skip
        print(f"  all:    {percentiles(every)}")
        print(f"  locked: {percentiles(steady) if steady else 'never'}")
        print(f"  clear:  {percentiles(clear) if clear else 'none (underruns all along)'}")
        print("  seconds to within 1 ms: " + ", ".join(f"{x:.2f}" for x in relocks)
              + " (after the join, after the change)")  # fmt: skip
    print(f"reference workload: {reference_seconds() * 1e6:.0f} us at the end")


if __name__ == "__main__":
    main()
