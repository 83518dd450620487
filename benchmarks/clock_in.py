"""MIDI clock in: how fast and how closely hoot's follower locks to a master.

    python benchmarks/clock_in.py [--period 128] [--runs 3]

A fake master on a real JACK virtual MIDI port (JACK dummy server, --period frames) sends
clock on an absolute timetable: 16 beats at 120 BPM, then 16 at 126. Its ticks arrive
quantised to JACK periods, stamped on arrival by rtmidi's callback, and feed the DLL of
hoot/music/follow.py. Printed: beats until locked within 0.25 BPM, the largest error
once locked (target 0.25 BPM), and seconds after the step until it stayed within 0.25 BPM
(target: within a bar, 1.9 s at 126), beside the reference workload.

Then a stall: 16 beats at 120 BPM, and at beat 8 the process freezes for --stall ms (one
C call that holds the GIL, as a loaded machine or a long collection does), after which the
ticks it held back arrive in a burst. Printed: the largest tempo error while locked after
the stall (target: within 0.5 BPM, not tens), whether the lock held, and how many ticks the
loop took for the stall's and ran over on its flywheel.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rtmidi  # noqa: E402
from reference import reference_seconds  # noqa: E402

from hoot.music.follow import ClockFollower  # noqa: E402
from tests.jack_server import start_jack_server, use_jack_server  # noqa: E402

STEPS = ((120.0, 16), (126.0, 16))
STALL_STEPS = ((120.0, 16),)
STALL_AT = 8 * 24  # the tick before which the process freezes


def freeze(seconds: float) -> None:
    """Hold the GIL for about `seconds`: sum() over a range is one C call that never lets
    another thread in."""
    t = time.perf_counter()
    sum(range(10**6))
    per_million = time.perf_counter() - t
    sum(range(int(seconds / per_million * 10**6)))


def one_run(steps=STEPS, stall: float = 0.0) -> tuple[list[tuple[float, float, bool]], float,
                                                         ClockFollower]:  # fmt: skip
    """Send `steps` [(bpm, beats)] from a fake master to the follower through a real JACK
    port; freeze for `stall` seconds before tick STALL_AT. Returns the follower's (arrival,
    bpm, locked) after each tick, the wall time of the step (or of the stall), the loop."""
    loop = ClockFollower()
    rows: list[tuple[float, float, bool]] = []  # (arrival, bpm estimate, locked)
    receiver = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="bench-hoot")
    receiver.ignore_types(timing=False)

    def arrived(event, _):
        now = time.monotonic()
        if event[0][0] == 0xF8:
            lock = loop.tick(now)
            rows.append((now, loop.bpm, lock.locked))

    receiver.set_callback(arrived)
    receiver.open_virtual_port("hoot in")
    master = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="bench-master")
    names = master.get_ports()
    master.open_port(next(i for i, n in enumerate(names) if "hoot in" in n))
    time.sleep(0.2)
    t, mark, k = time.monotonic() + 0.05, 0.0, 0
    for bpm, beats in steps:
        if bpm != steps[0][0]:
            mark = t
        for _ in range(beats * 24):
            if stall and k == STALL_AT:
                mark = time.monotonic()
                freeze(stall)
            wait = t - time.monotonic()  # sleep, never spin: the receiver needs the GIL
            if wait > 0:
                time.sleep(wait)
            master.send_message([0xF8])
            t += 60 / bpm / 24
            k += 1
    time.sleep(0.1)
    master.close_port()
    receiver.close_port()
    return rows, mark, loop


def step_run() -> tuple[float | None, float, float | None]:
    rows, step_at, _ = one_run()
    locked_at = next((i / 24 for i, (a, b, ok) in enumerate(rows)
                      if ok and abs(b - STEPS[0][0]) <= 0.25), None)  # fmt: skip
    after = 10**9 if locked_at is None else locked_at * 24
    steady = max((abs(b - STEPS[0][0]) for i, (a, b, _) in enumerate(rows)
                  if a < step_at and i >= after), default=0.0)  # fmt: skip
    settled = None
    for a, b, _ in rows:
        if a >= step_at + 0.005:
            if abs(b - STEPS[1][0]) > 0.25:
                settled = None
            elif settled is None:
                settled = a - step_at
    return locked_at, steady, settled


def stall_run(stall: float) -> tuple[float, bool, int, int]:
    """(largest error while locked after the stall, whether the lock held through it, the
    ticks taken for the stall's, the acquisitions started again)."""
    rows, stall_at, loop = one_run(STALL_STEPS, stall)
    bpm = STALL_STEPS[0][0]
    after = [(b, ok) for a, b, ok in rows if a >= stall_at]
    worst = max((abs(b - bpm) for b, ok in after if ok), default=float("nan"))
    return worst, all(ok for _, ok in after), loop.stalls, loop.steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--period", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--stall", type=float, default=200.0, help="ms the process freezes")
    a = ap.parse_args()
    print(f"reference workload: {reference_seconds() * 1e6:.0f} us; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    server = start_jack_server("hoot-clock-in-bench", 48000, a.period)
    try:
        with use_jack_server(server):
            for run in range(a.runs):
                locked, steady, relock = step_run()
                print(
                    f"run {run + 1}, {a.period} frames: locked within 0.25 BPM after "
                    f"{locked if locked is None else round(locked, 2)} beats (target 2); "
                    f"steady error max {steady:.3f} BPM (target 0.25); re-locked "
                    f"{'never' if relock is None else f'{relock:.2f} s'} after 120 -> 126 "
                    f"(target {4 * 60 / 126:.2f} s, a bar)"
                )
            for run in range(a.runs):
                worst, held, stalls, steps = stall_run(a.stall / 1000)
                print(
                    f"stall {run + 1}, {a.stall:g} ms freeze at 120 BPM: largest error while "
                    f"locked after it {worst:.3f} BPM (target 0.5); lock "
                    f"{'held' if held else 'LOST'}; {stalls} ticks taken for the stall's, "
                    f"{steps} acquisitions started again"
                )
    finally:
        server.stop()
    print(f"reference workload: {reference_seconds() * 1e6:.0f} us at the end")


if __name__ == "__main__":
    main()
