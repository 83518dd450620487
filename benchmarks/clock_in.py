"""MIDI clock in: how fast and how closely hoot's follower locks to a master.

    python benchmarks/clock_in.py [--period 128] [--runs 3]

A fake master on a real JACK virtual MIDI port (JACK dummy server, --period frames) sends
clock on an absolute timetable: 16 beats at 120 BPM, then 16 at 126. Its ticks arrive
quantised to JACK periods, stamped on arrival by rtmidi's callback, and feed the DLL of
hoot/music/follow.py. Printed: beats until locked within 0.25 BPM, the largest error
once locked (target 0.25 BPM), and seconds after the step until it stayed within 0.25 BPM
(target: within a bar, 1.9 s at 126), beside the reference workload.
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


def one_run() -> tuple[float | None, float, float | None]:
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
    t, step_at = time.monotonic() + 0.05, 0.0
    for bpm, beats in STEPS:
        if bpm != STEPS[0][0]:
            step_at = t
        for _ in range(beats * 24):
            wait = t - time.monotonic()  # sleep, never spin: the receiver needs the GIL
            if wait > 0:
                time.sleep(wait)
            master.send_message([0xF8])
            t += 60 / bpm / 24
    time.sleep(0.1)
    master.close_port()
    receiver.close_port()
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--period", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    print(f"reference workload: {reference_seconds() * 1e6:.0f} us; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    server = start_jack_server("hoot-clock-in-bench", 48000, a.period)
    try:
        with use_jack_server(server):
            for run in range(a.runs):
                locked, steady, relock = one_run()
                print(
                    f"run {run + 1}, {a.period} frames: locked within 0.25 BPM after "
                    f"{locked if locked is None else round(locked, 2)} beats (target 2); "
                    f"steady error max {steady:.3f} BPM (target 0.25); re-locked "
                    f"{'never' if relock is None else f'{relock:.2f} s'} after 120 -> 126 "
                    f"(target {4 * 60 / 126:.2f} s, a bar)"
                )
    finally:
        server.stop()
    print(f"reference workload: {reference_seconds() * 1e6:.0f} us at the end")


if __name__ == "__main__":
    main()
