"""Following a band end to end: how closely hoot's output lands on a band it listens to.

    python benchmarks/follow.py [--period 256] [--runs 3] [--oracle]

A JACK client on a dummy server (--period frames) plays a numpy groove (120 BPM for 24
beats, a ramp to 132 over 16, 16 at 132; kick, snare, hats, a 20 ms noise marker) into
hoot's input and records hoot's outputs in the same process callback, so the band and
hoot are heard on one frame clock (tests/control/band_rig.py). hoot starts at 110 BPM,
follows the input with hoot.beats's tracker (--oracle: a stand-in that knows the clip's
beats, which measures the ring, the round trip and the steering without a tracker's
errors), sounds each of its beats with a one-beat click loop and, two bars after the
lock, queues a one-bar stem at the next bar. Printed per run: beats until the tracker
locked, |error| of hoot's beats from the band's through the ramp and after it (p50, p95,
max; target 20 ms), of the downbeat stem's clicks from the band's downbeats (target
20 ms), the tempo changes sent and the engine's xruns (after one, on a loaded machine,
hoot's output was heard whole periods later than the round trip measured at the start),
beside the reference workload.

    python benchmarks/follow.py --jitter

The steering alone, offline (no JACK): a stand-in tracker reports a steady band at 124 BPM
for two minutes, each beat off by Gaussian jitter of 0, 5 and 10 ms (a real tracker's
beats wobble): printed, hoot's grid against the true beats (p50, max) and the tempo
changes sent (each is a segment of the engine's tempo map, which holds 256).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from reference import reference_seconds  # noqa: E402

from hoot.engine.client import EngineClient  # noqa: E402
from hoot.session import Session  # noqa: E402
from hoot.stage import Stage  # noqa: E402
from tests.control.band_rig import MarkerOracle, band_clip, follow_band  # noqa: E402
from tests.jack_server import start_jack_server, use_jack_server  # noqa: E402


def spread(ms: np.ndarray) -> str:
    if not len(ms):
        return "none heard"
    a = np.abs(ms)
    return f"p50 {np.percentile(a, 50):.1f} p95 {np.percentile(a, 95):.1f} max {a.max():.1f} ms"


def one_run(oracle: bool):
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(Path(tmp) / "gig")
        stage = Stage.live(session, backend="sounddevice", idle_timeout=60)
        clip = band_clip()
        try:
            return follow_band(stage, Path(tmp) / "stems", clip,
                               tracker=MarkerOracle(clip) if oracle else None)  # fmt: skip
        finally:
            stage.close()
            EngineClient(session.dir).shutdown()


def jitter_runs() -> None:
    from tests.control.standin_tracker import StandInTracker, band
    from tests.control.test_beat_follow import errors_ms, play

    for jitter in (0.0, 0.005, 0.010):
        with tempfile.TemporaryDirectory() as tmp:
            stage = Stage.offline(Session(Path(tmp) / "gig"))
            stage.on_message = lambda line: None
            stage.perf.input("kit", signal="clicks 124")
            times = band([(124.0, 240)], first=0.3)
            heard = times + np.random.default_rng(1).normal(0, jitter, len(times))
            follower, hoot = play(stage, StandInTracker(heard), seconds=times[-1])
            errors = errors_ms(follower, times, hoot, after=20.0)
            print(
                f"beats {jitter * 1000:.0f} ms off at random: hoot's grid against the true "
                f"beats p50 {np.median(errors):.1f} max {errors.max():.1f} ms; "
                f"{follower.proposals / (times[-1] / 60):.0f} tempo changes a minute"
            )
            stage.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--period", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--oracle", action="store_true", help="a tracker that knows the clip")
    ap.add_argument("--jitter", action="store_true", help="the steering alone, offline")
    a = ap.parse_args()
    print(f"reference workload: {reference_seconds() * 1e6:.0f} us; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    if a.jitter:
        jitter_runs()
        return
    server = start_jack_server(f"hoot-follow-bench-{os.getpid()}", 48000, a.period)
    try:
        with use_jack_server(server):
            for run in range(a.runs):
                got = one_run(a.oracle)
                print(
                    f"run {run + 1}, {a.period} frames, {'oracle' if a.oracle else 'hoot.beats'}:"
                    f" locked after {got.locked_beats:.0f} beats; hoot's beats through the ramp "
                    f"{spread(got.ramp_ms)}; downbeat stem {spread(got.downbeat_ms)} "
                    f"({'on' if got.on_a_downbeat else 'NOT on'} a downbeat); "
                    f"{got.proposals} tempo changes; round trip {got.round_trip} frames; "
                    f"{got.xruns} xruns"
                )
    finally:
        server.stop()
    print(f"reference workload: {reference_seconds() * 1e6:.0f} us at the end")


if __name__ == "__main__":
    main()
