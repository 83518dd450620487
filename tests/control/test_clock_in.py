"""MIDI clock in: the loop on simulated, period-quantised arrivals (lock, steady error,
re-lock after a step), and end to end: a virtual port on the JACK dummy server sends clock
at 126 BPM and hoot's tempo follows, with the source and its lock on the view."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import rtmidi

from hoot.engine.client import EngineClient
from hoot.errors import HootError
from hoot.music.follow import ClockFollower
from hoot.session import Session
from tests.waiting import wait_until

PERIOD = 256 / 48000  # a JACK period: arrivals wait for the next one


def arrivals(steps, period=PERIOD, noise=0.0003, seed=0):
    """(true time, arrival, bpm) of each tick of `steps` [(bpm, beats)], each arrival held
    to the next period boundary plus Gaussian noise, as research §2.7 models them."""
    rng = np.random.default_rng(seed)
    t, out = 0.0123, []
    for bpm, beats in steps:
        for _ in range(int(beats * 24)):
            out.append((t, math_ceil(t / period) * period + rng.normal(0, noise), bpm))
            t += 60 / bpm / 24
    return out


def math_ceil(x: float) -> float:
    return float(np.ceil(x))


def follow(steps, **kw):
    """Feed the loop; return (beats until locked within 0.25 BPM, the largest error once
    locked before any step, seconds after the step until it stayed within 0.25 BPM)."""
    loop = ClockFollower()
    first = steps[0][0]
    locked_at, steady, step_at, settled_at = None, 0.0, None, None
    for i, (t, arrival, bpm) in enumerate(arrivals(steps, **kw)):
        lock = loop.tick(arrival)
        error = abs(loop.bpm - bpm)
        if locked_at is None and lock.locked and error <= 0.25:
            locked_at = i / 24
        if bpm == first and locked_at is not None:
            steady = max(steady, error)
        if bpm != first:
            step_at = t if step_at is None else step_at
            if error > 0.25:
                settled_at = None
            elif settled_at is None:
                settled_at = t
    return locked_at, steady, (settled_at - step_at) if step_at is not None else None


@pytest.mark.parametrize("seed", range(4))
def test_the_loop_locks_within_two_beats_and_holds_within_a_quarter_bpm(seed):
    locked_at, steady, _ = follow([(120, 32)], seed=seed)
    assert locked_at is not None and locked_at <= 2.0
    assert steady <= 0.25


@pytest.mark.parametrize("seed", range(4))
def test_the_loop_relocks_within_a_bar_after_120_to_126(seed):
    _, _, relock = follow([(120, 16), (126, 16)], seed=seed)
    assert relock is not None and relock <= 4 * 60 / 126


def test_a_big_step_is_detected_and_acquired_again():
    loop = ClockFollower()
    for _, arrival, _ in arrivals([(120, 16), (150, 8)]):
        loop.tick(arrival)
    assert loop.steps == 1 and abs(loop.bpm - 150) <= 0.25


def test_a_pause_in_the_clock_starts_the_lock_again():
    loop = ClockFollower()
    for _, arrival, _ in arrivals([(120, 8)]):
        loop.tick(arrival)
    assert loop.locked
    loop.tick(arrival + 2.0)
    assert not loop.locked


def stalled(rows, at: float, seconds: float):
    """`rows` of `arrivals` as a machine that froze for `seconds` from `at` delivers them:
    every tick due meanwhile arrives when it wakes, in a burst 0.05 ms apart."""
    end, n, out = at + seconds, 0, []
    for t, arrival, bpm in rows:
        if at <= arrival < end:
            arrival, n = end + n * 0.00005, n + 1
        out.append((t, arrival, bpm))
    return out


@pytest.mark.parametrize("bpm", [90, 120, 174])
@pytest.mark.parametrize("seconds", [0.17, 0.4, 0.8])
def test_a_stall_and_its_burst_of_late_ticks_leave_the_tempo_and_phase_alone(bpm, seconds):
    loop = ClockFollower()
    at = 8 * 60 / bpm + 0.007
    phase = []
    for t, arrival, _ in stalled(arrivals([(bpm, 24)]), at, seconds):
        lock = loop.tick(arrival)
        if t > 4 * 60 / bpm:
            assert lock.locked, "a stall is not a reason to start again"
            assert abs(loop.bpm - bpm) <= 0.5
            phase.append(lock.tick_time - t)
    assert loop.stalls >= int(seconds * bpm / 60 * 24) - 2 and loop.steps == 0
    assert max(phase) - min(phase) <= 0.004, "the loop's tick times stay on the master's"


class FakeMaster:
    """A drum machine on a virtual JACK MIDI port: Start, then clock at `bpm`, on an
    absolute timetable."""

    def __init__(self, name: str, bpm: float) -> None:
        self.port = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="fake-master")
        self.port.open_virtual_port(name)
        self.bpm = bpm
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        t0 = time.monotonic() + 0.05
        self.port.send_message([0xFA])
        k = 0
        while not self.halt.is_set():
            due = t0 + k * 60 / self.bpm / 24
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.port.send_message([0xF8])
            k += 1

    def close(self) -> None:
        self.halt.set()
        self.thread.join()
        self.port.close_port()
        del self.port


@pytest.mark.jack
def test_hoot_follows_a_master_at_126_bpm_and_the_view_says_so(jack_server, tmp_path):
    from hoot.stage.stage import Stage

    session = Session(tmp_path / "live")
    stage = Stage.live(session, backend="null", idle_timeout=30)
    perf = stage.perf
    master = FakeMaster("Drum machine", 126.0)
    views = []
    try:
        assert perf.sync == "internal" and perf.locked
        master.thread.start()
        assert perf.follow("Drum machine").startswith("MIDI clock: ")
        stage.start_view(views.append)
        # the master's tempo within 0.25 BPM; hoot's, nudging its phase, within 0.5
        assert wait_until(
            lambda: perf.locked
            and abs(perf._follower.bpm - 126) <= 0.25
            and abs(perf.tempo - 126) <= 0.5
        )
        assert wait_until(lambda: views and views[-1].locked and "Drum machine" in views[-1].sync)
        with pytest.raises(HootError, match="no MIDI input called"):
            perf.follow("Nothing like it")
        assert perf.sync == "internal"
    finally:
        master.close()
        stage.close()
        EngineClient(session.dir).shutdown()
