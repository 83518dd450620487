"""Following a band end to end: how closely hoot's output lands on a band it listens to.

    python benchmarks/follow.py [--period 256] [--runs 3] [--oracle] [--listen learned]

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

The steering alone, offline (no JACK, the offline engine: deterministic): a stand-in
tracker reports a steady band at 124 BPM for two minutes, each beat off by Gaussian jitter
of 0, 5 and 10 ms (a real tracker's beats wobble); then the unit test's ramp (110 BPM for
16 beats, to 130 over 32, 12 at 130; hoot starts at 120) with its beats off by 5 and 10 ms
at random and rounded to a tracker's 10 ms frames; then hoot.beats's tracker itself, fed
the JACK rig's groove (band_clip: 120, a ramp to 132, 132; hoot starts at 110) as the
offline engine plays, which tells the tracker's own error (its beats against the clip's)
apart from the steering's. Printed: hoot's grid against the true beats (p50, max; in the
ramps from the ramp's start) and the tempo changes sent (each is a segment of the engine's
tempo map, which folds its past away).
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


def one_run(oracle: bool, listen: str | None = None):
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(Path(tmp) / "gig")
        stage = Stage.live(session, backend="sounddevice", idle_timeout=60)
        clip = band_clip()
        try:
            return follow_band(stage, Path(tmp) / "stems", clip, listen=listen,
                               tracker=MarkerOracle(clip) if oracle else None)  # fmt: skip
        finally:
            stage.close()
            EngineClient(session.dir).shutdown()


class ClipTracker:
    """hoot.beats's tracker fed `clip`'s audio in step with what the follower is fed (the
    offline engine's input is not the clip): its beats are the real tracker's on the clip."""

    def __init__(self, clip, samplerate: int, listen: str = "onsets") -> None:
        from hoot.beats import BeatTracker

        self.clip = clip
        self.beats = BeatTracker(samplerate=samplerate, meter=4, downbeats=True, listen=listen)
        self.heard: list = []  # every beat it reported

    def feed(self, block: np.ndarray) -> list:
        at = self.beats.fed
        audio = self.clip.audio[at : at + len(block)]
        audio = np.concatenate([audio, np.zeros(len(block) - len(audio), np.float32)])
        got = self.beats.feed(audio)
        self.heard += got
        return got

    def __getattr__(self, name: str):
        return getattr(self.beats, name)


def offline(jitter: float | str, steps: list, first: float, start_bpm: float, after_beat: int,
            seed: int = 1, listen: str = "onsets") -> str:  # fmt: skip
    """One offline run of the steering (module docstring); `jitter` in s, or "frames" (the
    true beats rounded to 10 ms frames at a random offset), or "hoot.beats" (the real
    tracker on band_clip, whose plan `steps` must then be)."""
    from tests.control.band_rig import SR, band_clip
    from tests.control.standin_tracker import StandInTracker, band
    from tests.control.test_beat_follow import errors_ms, play

    rng = np.random.default_rng(seed)
    times = band(steps, first=first)
    if jitter == "hoot.beats":
        clip = band_clip()
        times = clip.beats / SR
        tracker = ClipTracker(clip, SR, listen)
    elif jitter == "frames":
        offset = rng.uniform(0.0, 0.01)
        tracker = StandInTracker(np.round((times - offset) / 0.01) * 0.01 + offset)
    else:
        tracker = StandInTracker(times + rng.normal(0, jitter, len(times)))
    with tempfile.TemporaryDirectory() as tmp:
        stage = Stage.offline(Session(Path(tmp) / "gig"))
        stage.on_message = lambda line: None
        stage.perf.input("kit", signal="clicks 124")
        stage.perf.tempo = start_bpm
        follower, hoot = play(stage, tracker, seconds=times[-1])
        errors = errors_ms(follower, times, hoot, after=times[after_beat])
        stage.close()
    said = (f"hoot's grid against the true beats p50 {np.median(errors):.1f} max "
            f"{errors.max():.1f} ms; {follower.proposals / (times[-1] / 60):.0f} tempo "
            "changes a minute")  # fmt: skip
    if jitter == "hoot.beats":
        own = np.array([b.time for b in tracker.heard])
        own = np.abs(own[:, None] - times[None, :]).min(axis=1)[own > times[after_beat]] * 1000
        said += f" (the tracker's own beats: p50 {np.median(own):.1f} max {own.max():.1f} ms)"
    return said


def jitter_runs(listen: str) -> None:
    steady = [(124.0, 240)]
    for jitter in (0.0, 0.005, 0.010):
        said = offline(jitter, steady, first=0.3, start_bpm=120.0, after_beat=41)
        print(f"steady 124 BPM, beats {jitter * 1000:.0f} ms off at random: {said}")
    ramp = [(110.0, 16), (130.0, 32), (130.0, 12)]
    for jitter in (0.005, 0.010, "frames"):
        said = offline(jitter, ramp, first=0.1, start_bpm=120.0, after_beat=16)
        off = "rounded to 10 ms frames" if jitter == "frames" else f"{jitter * 1000:.0f} ms off"
        print(f"ramp 110 -> 130 BPM, beats {off}: {said}")
    plan = [(120.0, 24), (132.0, 16), (132.0, 16)]
    said = offline("hoot.beats", plan, first=0.5, start_bpm=110.0, after_beat=24, listen=listen)
    print(f"the JACK rig's groove (a ramp 120 -> 132), hoot.beats's tracker ({listen}): {said}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--period", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--oracle", action="store_true", help="a tracker that knows the clip")
    ap.add_argument("--jitter", action="store_true", help="the steering alone, offline")
    ap.add_argument(
        "--listen",
        choices=("onsets", "learned"),
        default="onsets",
        help="what hoot.beats's tracker listens with (perf.follow's listen=)",
    )
    a = ap.parse_args()
    print(f"reference workload: {reference_seconds() * 1e6:.0f} us; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    if a.jitter:
        jitter_runs(a.listen)
        return
    server = start_jack_server(f"hoot-follow-bench-{os.getpid()}", 48000, a.period)
    try:
        with use_jack_server(server):
            for run in range(a.runs):
                got = one_run(a.oracle, a.listen)
                print(
                    f"run {run + 1}, {a.period} frames, {'oracle' if a.oracle else a.listen}:"
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
