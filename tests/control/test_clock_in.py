"""MIDI clock in: the loop on simulated, period-quantised arrivals (lock, steady error,
re-lock after a step, a stall and its burst), and end to end: a drum machine on a virtual
port of the JACK dummy server sends clock at 126 BPM and hoot's tempo follows, with the
source and its lock on the view; its Start and its Continue (after a Song Position
Pointer) put hoot's bars on the master's; unplugged, hoot plays on and says so, and
locks again when it is back; the followed port is restored with the session."""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest

from hoot.engine.client import EngineClient
from hoot.errors import HootError
from hoot.midi.ports import MidiPorts
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
    """A drum machine on a virtual JACK MIDI port: clock at `bpm` on an absolute
    timetable, with transport messages sent just before chosen ticks (`at`), the wall
    time of each tick kept (`sent`). `unplug()` and `plug()` take the port away and back."""

    def __init__(self, name: str, bpm: float, at: dict[int, list[bytes]] | None = None) -> None:
        self.studio = MidiPorts("jack")
        self.name = name
        self.out = self.studio.virtual_output(name)
        self.bpm = bpm
        self.at = dict(at or {})
        self.sent: list[float] = []
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    @property
    def tick(self) -> float:
        return 60 / self.bpm / 24

    def run(self) -> None:
        t0 = time.monotonic() + 0.05
        k = 0
        while not self.halt.is_set():
            wait = t0 + k * self.tick - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            for message in self.at.pop(k, ()):
                self.out.send(message)
            self.out.send(b"\xf8")
            self.sent.append(time.monotonic())
            k += 1

    def song_beats(self, first: int, now: float, position: float = 0.0) -> float:
        """The master's song position in quarter notes at `now`, when tick `first` was
        song position `position` (beats)."""
        return position + (now - self.sent[first]) / self.tick / 24

    def unplug(self) -> None:
        self.out.close()

    def plug(self) -> None:
        self.out = self.studio.virtual_output(self.name)

    def close(self) -> None:
        self.halt.set()
        self.thread.join()
        self.studio.close()


@pytest.fixture
def live_stage(jack_server, tmp_path):
    from hoot.stage.stage import Stage

    session = Session(tmp_path / "live")
    said: list[str] = []
    stage = Stage.live(session, on_message=said.append, backend="null", idle_timeout=30)
    stage.said = said
    yield stage
    stage.close()
    EngineClient(session.dir).shutdown()


def settled(perf, bpm: float) -> bool:
    return perf.locked and abs(perf._follower.bpm - bpm) <= 0.25 and abs(perf.tempo - bpm) <= 0.5


def hoot_against_master(perf, master, first: int, position: float = 0.0):
    """(hoot's beats since its phrase restarted, the master's song position in beats,
    hoot's position) at the moment now is heard."""
    now = time.monotonic()
    heard = perf._follower._heard_sample(now)
    tm = perf.tempo_map()
    beat = tm.beat_at(heard)
    return beat - tm.grid_at_beat(beat).beat, master.song_beats(first, now, position), heard


@pytest.mark.jack
def test_hoot_follows_a_master_at_126_bpm_and_the_view_says_so(live_stage):
    stage, perf = live_stage, live_stage.perf
    master = FakeMaster("Drum machine", 126.0, at={0: [b"\xfa"]})
    views = []
    try:
        assert perf.sync == "internal" and perf.locked
        master.thread.start()
        assert perf.follow("Drum machine").startswith("MIDI clock: ")
        stage.start_view(views.append)
        # the master's tempo within 0.25 BPM; hoot's, nudging its phase, within 0.5
        assert wait_until(lambda: settled(perf, 126))
        assert wait_until(lambda: views and views[-1].locked and "Drum machine" in views[-1].sync)
        assert stage.session.read_settings()["follow"] == "Drum machine"
        with pytest.raises(HootError, match="no MIDI input matches"):
            perf.follow("Nothing like it")
        assert perf.sync == "internal"
        with pytest.raises(HootError, match="listen='onsets' is for following a band's audio"):
            perf.follow("Drum machine", listen="onsets")
        perf.follow(None)
        assert "follow" not in stage.session.read_settings()
    finally:
        master.close()


def on_the_masters_bars(perf, master, first: int, position: float = 0.0) -> bool:
    """Whether hoot's beat since its phrase restarted is the master's song position (within
    a twentieth of a beat, once the nudges have slid it there), the phrase restarting on a
    whole beat."""
    hoot, song, _ = hoot_against_master(perf, master, first, position)
    tm = perf.tempo_map()
    start = tm.grid_at_beat(tm.beat_at(perf.now)).beat
    return start == int(start) and apart(hoot, song, perf_phrase_beats(perf)) <= 0.05


def perf_phrase_beats(perf) -> float:
    tm = perf.tempo_map()
    return tm.grid_at_beat(tm.beat_at(perf.now)).beats_per_phrase


def apart(a: float, b: float, cycle: float) -> float:
    """How far apart two positions in a cycle of `cycle` beats are (either way round)."""
    return abs((a - b + cycle / 2) % cycle - cycle / 2)


@pytest.mark.jack
def test_a_start_after_following_restarts_hoots_phrase_on_the_masters_downbeat(live_stage):
    perf = live_stage.perf
    start_tick = 24 * 12  # the master runs three bars before its Start
    master = FakeMaster("Drum machine", 126.0, at={start_tick: [b"\xfa"]})
    try:
        master.thread.start()
        perf.follow("Drum machine")
        assert wait_until(lambda: settled(perf, 126))
        assert wait_until(lambda: len(master.sent) > start_tick + 24)
        # the bar and beat hoot announces are the master's, counted from its Start
        assert wait_until(lambda: on_the_masters_bars(perf, master, start_tick))
        hoot, song, heard = hoot_against_master(perf, master, start_tick)
        pos = perf.tempo_map().position(heard)
        assert apart(pos.bar_in_phrase * 4 + pos.beat_in_bar, song, 16) <= 0.1
    finally:
        master.close()


@pytest.mark.jack
def test_a_continue_from_a_song_position_puts_hoots_bars_on_the_masters(live_stage):
    perf = live_stage.perf
    stop, go = 24 * 12, 24 * 16
    spp = bytes((0xF2, 40, 0))  # 40 sixteenths: bar 3, beat 3 (10 beats)
    master = FakeMaster("Drum machine", 126.0, at={0: [b"\xfa"], stop: [b"\xfc"],
                                                   go: [spp, b"\xfb"]})  # fmt: skip
    try:
        master.thread.start()
        perf.follow("Drum machine")
        assert wait_until(lambda: len(master.sent) > stop + 2)
        assert wait_until(lambda: "(stopped)" in perf.sync)
        assert wait_until(lambda: len(master.sent) > go + 24 and settled(perf, 126))
        assert wait_until(lambda: on_the_masters_bars(perf, master, go, position=10.0))
    finally:
        master.close()


@pytest.mark.jack
def test_an_unplugged_master_leaves_hoot_playing_and_it_locks_again_when_back(live_stage):
    stage, perf = live_stage, live_stage.perf
    master = FakeMaster("Drum machine", 126.0, at={0: [b"\xfa"]})
    try:
        master.thread.start()
        perf.follow("Drum machine")
        assert wait_until(lambda: settled(perf, 126))
        master.unplug()
        assert wait_until(lambda: any("unplugged" in line for line in stage.said))
        gone = [line for line in stage.said if "unplugged" in line]
        said = re.search(r"hoot plays on at ([\d.]+) BPM", gone[0]) if len(gone) == 1 else None
        assert said and abs(float(said.group(1)) - 126) <= 0.5, gone
        assert not perf.locked and "(unplugged)" in perf.sync
        assert abs(perf.tempo - 126) <= 0.5  # free-running at the last tempo
        master.plug()
        assert wait_until(lambda: any("is back" in line for line in stage.said))
        assert wait_until(lambda: settled(perf, 126))
    finally:
        master.close()


@pytest.mark.jack
def test_the_followed_port_and_clock_out_come_back_with_the_session(jack_server, tmp_path):
    from hoot.stage.stage import Stage

    session = Session(tmp_path / "again")
    session.update_settings(follow="Drum machine", clock_out="Nothing like it", tempo=100.0)
    master = FakeMaster("Drum machine", 126.0)
    master.thread.start()
    said: list[str] = []
    stage = Stage.live(session, on_message=said.append, backend="null", idle_timeout=30)
    try:
        assert stage.perf.sync.startswith("MIDI clock: ")
        assert wait_until(lambda: settled(stage.perf, 126))
        missing = [line for line in said if "Nothing like it" in line]
        assert len(missing) == 1 and missing[0].startswith("clock out to 'Nothing like it'")
        assert session.read_settings()["clock_out"] == "Nothing like it"  # kept for later
    finally:
        master.close()
        stage.close()
        EngineClient(session.dir).shutdown()


@pytest.mark.jack
def test_tapping_while_following_a_clock_leaves_the_tempo_to_the_clock(live_stage):
    stage, perf = live_stage, live_stage.perf
    master = FakeMaster("Drum machine", 126.0, at={0: [b"\xfa"]})
    try:
        master.thread.start()
        perf.follow("Drum machine")
        assert wait_until(lambda: settled(perf, 126))
        said = [stage.actions.tap(at=t) for t in (1.0, 1.5, 2.0)]
        assert said[-1].startswith("tapped 120 BPM, but the MIDI clock: ")
        assert said[-1].endswith(" sets the tempo")
        assert abs(perf.tempo - 126) <= 0.5
    finally:
        master.close()
