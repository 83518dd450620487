"""MIDI clock out: 24 ticks a quarter note, derived from the engine's sample clock.

Tick k of a 4/4 set falls on beat k/24, and its sample is `tempo_map.sample_at(beat)`,
the one function every boundary goes through: the clock follows every tempo change
exactly, to the sample, and never drifts (each tick is computed, not accumulated). In
x/8 a beat is an eighth, so it has 12 ticks; in general 96/unit. Start (FA), Stop (FC)
and Continue (FB) fall on a tick's sample, just before its F8, with a Song Position
Pointer (F2, in 16ths since the last Start) before Start and Continue.

Two paths take the ticks out, chosen by `ClockOut.connect`:

- JACK MIDI, when the engine plays on JACK: a JACK client of our own writes each tick at
  its frame offset in the cycle. research/controllers-sync.md §2.2 measured this at
  0 samples of jitter (291 intervals, every one exactly 1000 samples at 120 BPM). Engine
  sample s goes out at JACK frame s + D, where D is read at every engine block
  (`jack_last_frame_time` at the block's start minus the block's first sample); the
  audio of sample s leaves in the same cycle, 63 samples (1.3 ms, the limiter's lookahead)
  after its tick. (Adding the lookahead to D made a tick go missing in 2 of 4 runs of
  tests/midi/test_clock_out.py under load, which is not yet understood, so it is left out.)
- rtmidi (any other backend), through hoot.midi's ports (the one home of MIDI ports:
  named by any part, reconnected when replugged): a sender thread stamps each tick with
  the wall time its sample is heard and sends it then (`RtMidiClock` says how). RtMidi's
  own output is not time-stamped: on JACK it leaves at the next period, so the ticks
  jitter by about one period (§2.1: sd 2.1 ms at 256 frames);
  benchmarks/clock_out.py measures both paths.

The audio thread does nothing of this itself: each block it publishes where it is (its
first sample, its frames, the block clock's origin, and on JACK the cycle's frame) into each
path's ring (hoot.engine.kernel.clock_out), which costs a few stores and no GIL once the
compiled core calls it. The JACK path's process callback and the rtmidi path's sender
thread read the ring and compute the ticks from the tempo map.

A cycle the JACK callback misses would put ticks in the past: they are skipped and
counted (`skipped`), never written at a negative offset (which raised OverflowError in
§2.2's rig).

Several ports can get clock at once (`ClockOut`): the performer's, with transport, and
feeds of ticks only for controllers that animate their lights by it.

REAL-TIME CODE: `JackClock.block` and `RtMidiClock.block` run on the audio thread (a
compiled publish into a ring); `TickSchedule.window` and `JackClock.process` on the JACK
process thread: no locks, no logging, no file access, nothing raises out (a fault is
counted). Transport changes reach them through a deque, as the engine's commands do.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from hoot.engine import realtime
from hoot.engine.kernel import clock_out as kco
from hoot.engine.protocol import ClockState
from hoot.errors import EngineError
from hoot.midi.ports import label, pick
from hoot.music.time import TempoMap

TICK = b"\xf8"
START = b"\xfa"
CONTINUE = b"\xfb"
STOP = b"\xfc"
TRANSPORT = {"start": START, "stop": STOP, "continue": CONTINUE}
TICKS_PER_WHOLE = 96  # 24 a quarter note
SPP_LIMIT = 1 << 14  # the pointer is 14 bits of 16ths (1024 bars of 4/4)
POLL = 0.001  # seconds an idle rtmidi sender waits between looks at its ticks
DRAIN_S = 0.25  # the most an rtmidi path's close waits for what is due up to its Stop
LATE = 0.001  # a tick sent this long after it was due counts as late
STOP_WAIT = 1.0  # seconds `close` waits for a last Stop to go out before letting go
REPLUG_INTERVAL = 0.5  # seconds between the JACK path's looks for its port (as hoot.midi's)

CONFIRM_BLOCKS = 3  # blocks in a row that must agree on a new JACK offset
LOOKAHEAD = 0.02
"""Seconds past the latest block's end that the rtmidi path computes its ticks: its sender
thread then stamps a tick a block and 20 ms before the audio thread reaches it, so a thread
held off for a moment (the GIL, the scheduler) does not send late. Well inside the 50 ms
(and 2048 frames) margin EngineControl leaves before any tempo, meter or transport change,
so a tick computed ahead never misses a change of the map."""

Emit = Callable[[int, bytes], None]
Say = Callable[[str], None]


def song_position(ticks: int) -> bytes:
    """The Song Position Pointer message for a position `ticks` after Start (6 a 16th)."""
    sixteenths = (ticks // 6) % SPP_LIMIT
    return bytes((0xF2, sixteenths & 0x7F, sixteenths >> 7))


class TickSchedule:
    """Which clock messages fall in a window of engine samples, by the engine's tempo map.

    Only one thread (the audio or JACK thread) calls `window`; others add transport
    changes with `at(beat, kind)`, which it takes in at its next call."""

    def __init__(self) -> None:
        self.inbox: deque[tuple[float, str]] = deque()
        self._pending: list[tuple[float, str]] = []
        self._whole = -1  # the next tick is on beat whole + frac / per (exact, no drift)
        self._frac = 0
        self._per = 24
        self.song_ticks = 0  # ticks since the last Start: what Continue's pointer says
        self.ticks = 0  # F8 sent
        self.skipped = 0  # ticks whose sample had passed when their window came
        self.events = 0  # transport messages sent
        self.last = ""  # the last transport message: "start", "stop", "continue" or ""
        self.last_at = -1  # ... and its sample

    def at(self, beat: float, kind: str) -> None:
        """Send `kind` ("start", "stop", "continue") on the tick of `beat` (any thread)."""
        self.inbox.append((float(beat), kind))

    def _beat(self) -> float:
        return self._whole + self._frac / self._per

    def _per_beat(self, tm: TempoMap, whole: int) -> int:
        return TICKS_PER_WHOLE // tm.grid_at_beat(whole).meter.unit

    def _advance(self, tm: TempoMap) -> None:
        self._frac += 1
        if self._frac >= self._per:
            self._whole += 1
            self._frac = 0
            self._per = self._per_beat(tm, self._whole)

    def _seek(self, tm: TempoMap, sample: int) -> None:
        """Put the cursor on the first tick at or after `sample`."""
        beat = tm.beat_at(sample)
        self._whole = math.floor(beat)
        self._per = self._per_beat(tm, self._whole)
        self._frac = max(0, min(self._per - 1, math.floor((beat - self._whole) * self._per)))
        while tm.sample_at(self._beat()) < sample:
            self._advance(tm)

    def window(self, tm: TempoMap, lo: int, hi: int, emit: Emit) -> None:
        """Call `emit(sample, message)` for every clock message in samples [lo, hi)."""
        while self.inbox:
            self._pending.append(self.inbox.popleft())
            self._pending.sort()
        if self._whole < 0:
            self._seek(tm, lo)
        while True:
            beat = self._beat()
            s = tm.sample_at(beat)
            if s >= hi:
                return
            if s < lo:  # a missed cycle: this tick's moment has gone
                self.skipped += 1
            else:
                while self._pending and self._pending[0][0] <= beat + 1e-9:
                    self._transport(self._pending.pop(0)[1], s, emit)
                emit(s, TICK)
                self.ticks += 1
            self.song_ticks += 1
            self._advance(tm)

    def _transport(self, kind: str, s: int, emit: Emit) -> None:
        if kind == "start":
            self.song_ticks = 0
        if kind in ("start", "continue"):
            emit(s, song_position(self.song_ticks))
        emit(s, TRANSPORT[kind])
        self.last_at = s
        self.events += 1
        self.last = kind


class JackClock:
    """The frame-stamped path: a JACK MIDI output written from our own process callback."""

    name = "jack"

    def __init__(self, engine, part: str, schedule: TickSchedule, say: Say) -> None:
        import jack

        self.engine = engine
        self.schedule = schedule
        self.say = say
        self.offset: int | None = None  # JACK frame of engine sample 0 (D)
        self._candidate: int | None = None  # a new D, seen `_seen` blocks in a row
        self._seen = 0
        self.faults = 0
        self.ring = kco.make_block_ring()  # the audio thread's blocks: (s0, n, frame)
        self._blocks = np.zeros((kco.RING, 3), np.int64)
        self._origins = np.zeros(kco.RING, np.float64)
        try:
            self.client = jack.Client("hoot-clock", no_start_server=True)
        except jack.JackError as e:
            raise EngineError(f"cannot open a JACK client for MIDI clock out ({e})") from None
        try:
            self.jack = kco.jack_client(self.client)
            self.port = self.client.midi_outports.register("clock")
            self.client.set_process_callback(self.process)
            self.client.activate()
            self.target = pick(part, self._inputs(), "output", "JACK")
            self.client.connect(self.port, self.target)
        except BaseException:
            self.client.close()
            raise
        self._halt = threading.Event()
        self._watch = threading.Thread(target=self._replug, name="hoot-clock-plug", daemon=True)
        self._watch.start()

    def _inputs(self) -> list[str]:
        """JACK MIDI inputs of other clients: the ports clock can go to."""
        ports = self.client.get_ports(is_midi=True, is_input=True)
        return [p.name for p in ports if not p.name.startswith(self.client.name + ":")]

    def _replug(self) -> None:
        """Hot-plug, as hoot.midi's ports do it: a vanished port is said once, and the
        connection is made again when a port of that name is back."""
        connected = True
        while not self._halt.wait(REPLUG_INTERVAL):
            try:
                there = self.target in self._inputs()
                if connected and not there:
                    connected = False
                    self.say(f"{label(self.target)} unplugged: its clock waits; plug it back "
                             "in and the ticks go on.")  # fmt: skip
                elif not connected and there:
                    self.client.connect(self.port, self.target)
                    connected = True
                    self.say(f"{label(self.target)} is back: it gets clock again.")
            except Exception:  # noqa: BLE001 - a JACK hiccup: the next look tries again
                continue

    def block(self, s0: int, n: int) -> None:
        """At the engine's block start (audio thread): publish the block and the JACK frame
        its cycle began at (libjack, called from compiled code)."""
        kco.publish_jack(self.ring, self.jack, s0, n)

    def _follow(self) -> None:
        """Where engine samples are in JACK, from the blocks published since the last cycle
        (JACK process thread).

        A new offset is taken only once CONFIRM_BLOCKS blocks in a row agree on it. A lost
        cycle moves it for good, and the clock follows the audio 3 blocks later; but a
        PortAudio callback that runs late reads the next cycle's frame time for one block,
        and that single reading moved a Start a whole period off its tick (seen in CI)."""
        blocks = self._blocks
        for k in range(kco.take(self.ring, blocks, self._origins)):
            self._offer(int(blocks[k, 2] - blocks[k, 0]))

    def _offer(self, d: int) -> None:
        if self.offset is None or d == self.offset:
            self.offset, self._seen = d, 0
        elif d == self._candidate:
            self._seen += 1
            if self._seen >= CONFIRM_BLOCKS:
                self.offset, self._seen = d, 0
        else:
            self._candidate, self._seen = d, 1

    def process(self, frames: int) -> None:
        """JACK's process callback: this cycle's ticks at their frame offsets."""
        port = self.port
        try:
            port.clear_buffer()
            self._follow()
            d = self.offset
            if d is None:
                return
            lo = self.client.last_frame_time - d
            self.schedule.window(
                self.engine.tempo_map, lo, lo + frames,
                lambda s, msg: port.write_midi_event(s - lo, msg),
            )  # fmt: skip
        except Exception:  # noqa: BLE001 - a JACK callback must never raise
            self.faults += 1

    @property
    def port_name(self) -> str:
        return self.target

    def close(self) -> None:
        self._halt.set()
        self._watch.join(timeout=2 * REPLUG_INTERVAL)
        try:
            self.client.deactivate()
        finally:
            self.client.close()


class RtMidiClock:
    """The wall-clock path: ticks computed, stamped and sent by a thread of ours.

    The audio thread publishes each block with its block clock's origin (the earliest block
    start seen, so a block the scheduler woke late does not drag its ticks late). The sender
    thread computes the ticks up to LOOKAHEAD past the latest block's end and stamps the tick
    of sample s due at `origin + s / samplerate` plus the output latency and the limiter's
    lookahead, when its audio is heard. The
    sender waits as hoot.engine.realtime's `until` and `raise_sender_thread` say (an Event,
    then a spin of at most a quarter of a millisecond; SCHED_FIFO just below the audio
    thread): it wakes 48 times a second at 120 BPM, 1.2 % of one core.
    """

    name = "rtmidi"

    def __init__(self, engine, part: str, latency: float, schedule: TickSchedule,
                 say: Say) -> None:  # fmt: skip
        from hoot.midi.ports import MidiPorts

        self.engine = engine
        self.ports = MidiPorts()
        try:  # sends are dropped while unplugged; it reconnects by itself
            self.output = self.ports.open_output(part, client="hoot-clock")
        except BaseException:
            self.ports.close()
            raise
        self.output.on_change(lambda connected, sentence: say(sentence))
        self.shift = float(latency) + engine.limiter.latency / engine.samplerate
        self.schedule = schedule
        self.samplerate = engine.samplerate
        self.lookahead = round(LOOKAHEAD * engine.samplerate)
        self.ring = kco.make_block_ring()  # the audio thread's blocks: (s0, n), origin
        self._blocks = np.zeros((kco.RING, 3), np.int64)
        self._origins = np.zeros(kco.RING, np.float64)
        self._origin = 0.0
        self._computed: int | None = None  # the first sample whose ticks are not computed
        self.last = -1  # `finish`: no message of a later sample goes out; -1 while open
        self.due: deque[tuple[float, bytes, int]] = deque()  # (when, message, sample)
        self.faults = 0
        self.late = 0  # messages sent more than LATE after they were due
        self.log: list[tuple[float, float]] | None = None  # (due, sent at), when measuring
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._send, name="hoot-clock-out", daemon=True)
        self._thread.start()

    def block(self, s0: int, n: int) -> None:
        """At the engine's block start, after its BlockClock's stamp (audio thread): publish
        the block and the clock's origin."""
        kco.publish(self.ring, s0, n, self.engine.clock.origin, 0)

    def finish(self, sample: int) -> None:
        """Send nothing of a sample after `sample` (the tick that carries the last Stop) and
        compute no more: what was computed ahead is dropped. Any thread."""
        self.last = sample

    def _compute(self) -> None:
        """Take in the published blocks and compute the ticks up to LOOKAHEAD past the
        latest one's end (sender thread)."""
        count = kco.take(self.ring, self._blocks, self._origins)
        if not count or self.last >= 0:
            return
        if self._computed is None:
            self._computed = int(self._blocks[0, 0])
        latest = self._blocks[count - 1]
        self._origin = float(self._origins[count - 1])
        hi = int(latest[0] + latest[1]) + self.lookahead
        if hi > self._computed:
            try:
                self.schedule.window(self.engine.tempo_map, self._computed, hi, self._stamp)
            except Exception:  # noqa: BLE001 - the clock must go on
                self.faults += 1
            self._computed = hi

    def _stamp(self, s: int, message: bytes) -> None:
        self.due.append((self._origin + s / self.samplerate + self.shift, message, s))

    def _send(self) -> None:
        realtime.raise_sender_thread()
        due, halt, monotonic, until = self.due, self._halt, time.monotonic, realtime.until
        while not halt.is_set():
            self._compute()
            if not due:
                halt.wait(POLL)
                continue
            when, message, sample = due[0]
            if 0 <= self.last < sample:
                due.popleft()  # computed ahead, after the last Stop: never sent
                continue
            if not until(when, halt, POLL):
                continue
            due.popleft()
            sent = monotonic()
            self.output.send(message)  # dropped, never raised, while unplugged
            if sent - when > LATE:
                self.late += 1
            if self.log is not None:
                self.log.append((when, sent))

    @property
    def port_name(self) -> str:
        return self.output.name

    def close(self) -> None:
        """Send what is due up to the last Stop, then stop: a tick is counted when it is
        stamped, so one stamped beside the Stop and dropped here would be counted and never
        sent (a CI run saw 194 of 195 arrive). At most DRAIN_S: a block and LOOKAHEAD."""
        deadline = time.monotonic() + DRAIN_S
        while (self.last >= 0 and self._thread.is_alive() and time.monotonic() < deadline
               and any(s <= self.last for _, _, s in list(self.due))):  # fmt: skip
            time.sleep(POLL)
        self._halt.set()
        self._thread.join(timeout=1.0)
        self.output.close()
        self.ports.close()


class ClockOut:
    """MIDI clock out of one engine: the performer's clock port, with its transport, and the
    feeds: ports that get the ticks only.

    The performer's port is what `perf.clock_out("Drum machine")` names: ticks, Start, Stop,
    Continue and song position, one port at a time. A feed (`feed`) is asked for by a
    controller's rig: a Launchpad Pro MK3 animates its flashing and pulsing pads in time with
    the F8 it receives (120 BPM without), so it gets ticks and nothing else (a Start could
    start the unit's own sequencer). Each port has a path and a TickSchedule of its own; the
    audio thread steps through `engine.clocks_out`, all of them, at every block: every port's
    ticks fall on the same samples, from the same tempo map.

    Control-thread side (EngineControl serialises its calls). `use_backend` tells it
    whether the engine plays on JACK and with what output latency; until it is called
    (offline renders) clock out is refused.
    """

    def __init__(self, engine) -> None:
        self.engine = engine
        self.on_jack = False
        self.latency = 0.0
        self.live = False
        self.path: JackClock | RtMidiClock | None = None
        self.schedule = TickSchedule()
        self.feeds: dict[str, JackClock | RtMidiClock] = {}  # as asked for -> its path
        self.say: Say = lambda sentence: None

    def use_backend(self, backend, say: Say | None = None) -> None:
        """The backend the engine plays on (JACK or not, its output latency), and where a
        sentence for the performer goes (a port unplugged or back)."""
        self.live = True
        if say is not None:
            self.say = say
        self.on_jack = bool(getattr(backend, "is_jack", False))
        self.latency = float(getattr(backend, "latency", 0.0))

    def connect(self, part: str) -> ClockState:
        """Send clock to the MIDI input whose name contains `part` (replacing any other)."""
        self._check_live()
        self.close()
        schedule = TickSchedule()
        path = self._open(part, schedule, self.say)
        self.schedule, self.path = schedule, path
        self._publish()
        return self.state()

    def feed(self, part: str, on: bool = True) -> ClockState:
        """Ticks only to the MIDI input whose name contains `part` (`on`), or no more (not
        `on`). Quiet: whoever asked (the controllers' rig) says the port's comings and
        goings in the controller's name. Asking twice for one part feeds it once."""
        if not on:
            path = self.feeds.pop(part, None)
            if path is not None:
                self._publish()
                self._let_go(path)
            return self.state()
        self._check_live()
        if part not in self.feeds:
            self.feeds[part] = self._open(part, TickSchedule(), lambda sentence: None)
            self._publish()
        return self.state()

    def _check_live(self) -> None:
        if not self.live:
            raise EngineError(
                "MIDI clock out needs a live engine (hoot tui or hoot play); an offline "
                "render has no wall clock to send it by"
            )

    def _open(self, part: str, schedule: TickSchedule, say: Say) -> JackClock | RtMidiClock:
        if self.on_jack:
            return JackClock(self.engine, part, schedule, say)
        return RtMidiClock(self.engine, part, self.latency, schedule, say)

    def _publish(self) -> None:
        """Hand the audio thread every path as one tuple (one assignment: it sees the old
        tuple or the new, never half of one)."""
        performer = (self.path,) if self.path is not None else ()
        self.engine.clocks_out = performer + tuple(self.feeds.values())

    def transport(self, kind: str, beat: float) -> None:
        if self.path is None:
            raise EngineError("MIDI clock out is off; turn it on with perf.clock_out('port')")
        if kind not in TRANSPORT:
            raise EngineError(f"unknown clock message {kind!r}; use 'start', 'stop' or 'continue'")
        self.schedule.at(beat, kind)

    def close(self) -> None:
        """The performer's port: send Stop (if started) on the next tick, then let it go.
        The feeds go on."""
        path = self.path
        if path is None:
            return
        schedule = self.schedule
        if schedule.last in ("start", "continue"):
            sent = schedule.events
            schedule.at(-1.0, "stop")  # before any beat: the very next tick
            deadline = time.monotonic() + STOP_WAIT
            while schedule.events == sent and time.monotonic() < deadline:
                time.sleep(0.002)
            if isinstance(path, RtMidiClock) and schedule.events != sent:
                path.finish(schedule.last_at)
        self.path = None
        self._publish()
        self._let_go(path)

    def close_all(self) -> None:
        """The performer's port and every feed (the engine's exit)."""
        self.close()
        feeds = list(self.feeds.values())
        self.feeds.clear()
        self._publish()
        for path in feeds:
            self._let_go(path)

    def _let_go(self, path: JackClock | RtMidiClock) -> None:
        """Close a path the audio thread no longer steps through."""
        if isinstance(path, RtMidiClock):  # what was stamped goes out before the port closes
            deadline = time.monotonic() + STOP_WAIT
            while path.due and time.monotonic() < deadline:
                time.sleep(0.002)
        path.close()

    def state(self) -> ClockState:
        path, sch = self.path, self.schedule
        return ClockState(
            port=path.port_name if path else "",
            path=path.name if path else "",
            ticks=sch.ticks,
            skipped=sch.skipped,
            transport=sch.last,
            faults=path.faults if path else 0,
            late=getattr(path, "late", 0),
            feeds=tuple(self.feeds),
        )
