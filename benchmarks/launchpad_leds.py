"""LED update latency of the Launchpad Pro MK3 driver: a state change in the set's view to
the frame that shows it arriving at the (fake) unit.

    python benchmarks/launchpad_leds.py [--seconds 20]

A JACK dummy server, the fake Launchpad of the tests on virtual ports, and a live stage
(engine process on the null backend, real generation workers) whose watcher builds views
at 30 Hz. While batches are made for every role and candidates are picked and stopped, each
view that changes the surface is timed from the moment the stage hands it to its
controllers to the moment its frame reaches the fake (the same clock, one process). The
view itself samples the set at 30 Hz, so a change waits up to 33 ms more to be seen; the
target is that the frame then follows within the same view (well under 33 ms). Figures
are printed with the reference workload (benchmarks/reference.py) timed in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference import reference_seconds  # noqa: E402

from hoot.engine.client import EngineClient  # noqa: E402
from hoot.music import ROLES  # noqa: E402
from hoot.session import Session  # noqa: E402
from hoot.stage import Stage  # noqa: E402
from tests.control.fake_launchpad import FakeLaunchpad  # noqa: E402
from tests.jack_server import start_jack_server, use_jack_server  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def play(stage: Stage, seconds: float) -> None:
    """Batches for every role, picks and stops, for `seconds`."""
    perf, actions = stage.perf, stage.actions
    end = time.monotonic() + seconds
    turn = 0
    while time.monotonic() < end:
        role = ROLES[turn % len(ROLES)]
        batch = perf.generate(role, n=8, bars=1, seed=turn)
        batch.wait(timeout=60)
        actions.toggle(role, 1 + turn % 8)
        if turn % 3 == 2:
            actions.stop_role(ROLES[(turn - 2) % len(ROLES)])
        turn += 1
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()
    ref = reference_seconds()
    server = start_jack_server("hoot-bench-leds")
    try:
        with use_jack_server(server), tempfile.TemporaryDirectory() as tmp:
            fake = FakeLaunchpad()
            session = Session(Path(tmp) / "bench")
            stage = Stage.live(session, on_message=lambda m: None, backend="null",
                               idle_timeout=30)  # fmt: skip
            try:
                stage.perf.tempo = 180
                stage.perf.phrase = 1
                stage.start_controllers(poll=0.1)
                while not (stage.rig and stage.rig.attached):
                    time.sleep(0.01)
                driver = stage.rig.controllers()[0]
                sent: list[tuple[float, bytes]] = []  # (view handed over, frame) per frame
                handed = [0.0, None]  # when the view was handed over, by which thread
                send = driver.send

                def timed_send(message: bytes) -> None:
                    if message[6:7] == b"\x03" and handed[1] == threading.get_ident():
                        sent.append((handed[0], message))  # not the heartbeat's repaints
                    send(message)

                def timed_draw(view) -> None:
                    handed[:] = [time.monotonic(), threading.get_ident()]
                    driver.draw(view)
                    handed[1] = None

                driver.send = timed_send
                stage.viewers[:] = [timed_draw]
                play(stage, a.seconds)
                time.sleep(0.2)
            finally:
                stage.close()
                try:
                    EngineClient(session.dir).shutdown()
                except Exception:  # noqa: BLE001 - already gone
                    pass
            arrivals = {}
            for arrived, frame, _ in fake.frames:
                arrivals.setdefault(frame, []).append(arrived)
            latencies, sizes = [], []
            for t0, frame in sent:
                later = [t for t in arrivals.get(frame, []) if t >= t0]
                if later:
                    latencies.append((later[0] - t0) * 1000)
                    sizes.append(len(frame))
            fake.close()
    finally:
        server.stop()
    ms = [round(x, 2) for x in latencies]
    print(f"reference workload: {ref * 1000:.2f} ms")
    print(
        f"LED update latency, view -> frame at the unit, {len(ms)} frames: "
        f"p50 {statistics.median(ms):.2f} ms, p95 {percentile(ms, 0.95):.2f} ms, "
        f"max {max(ms):.2f} ms (max {max(ms) / 1000 / ref:.1f} ref); target: within one "
        "view, 33 ms"
    )
    print(f"frame size: p50 {statistics.median(sizes):.0f} bytes, max {max(sizes)} bytes "
          f"(one SysEx each; a whole surface is 538)")  # fmt: skip
    print(f"frames: {len(sent)} sent while the set changed, {len(fake.frames)} received "
          "(heartbeat repaints included)")  # fmt: skip


if __name__ == "__main__":
    main()
