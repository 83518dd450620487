"""Tracks that play hardware: a track's notes sent to a MIDI output, on the grid with the audio.

    perf.tracks.bass.midi_out = "Minilogue"      # protocol.MidiOut, served by MidiRoutes
    perf.tracks.bass.midi_channel = 2
    perf.tracks.bass.midi_latency_ms = 4         # the synth's own delay, sent that much early

A track that plays a MIDI output sends its MIDI stems' notes and the live notes routed to it
there INSTEAD of to hoot's synth: the performer hears the hardware, and hoot's synth stays
silent on that track (its audio stems still play). `MidiOutTrack` takes the place of the
engine's VoicePool for the track (`Engine.sinks`) with the same note_on / note_off / bend
calls, so the players and the live input need not know where their notes go.

Timing. The audio thread knows each note's sample. It never sends: it stamps each message
with the wall time at which its sample will be heard,

    due = BlockClock.wall_at(sample) + output latency + limiter lookahead - midi_latency_ms,

and appends (due, order, message) to its port's `MidiSender` deque. The sender thread sleeps
until each message is due and sends it, so hardware and speakers sound together. It waits as
clock out's sender does (hoot.engine.realtime's `until`: an Event, then a spin of at most a
quarter of a millisecond) and runs SCHED_FIFO just below the audio thread
(`raise_sender_thread`): at the helper priority, 1, other real-time threads held clock out's
sender off for up to 77 ms. What the
engine schedules is at most one block plus the output latency ahead, so compensation beyond
that (a very slow synth) arrives late; the sender counts those (`late`). Through RtMidi on JACK
a message then waits for the next JACK period (RtMidi's writes carry no frame offset), which
adds up to one period of jitter: benchmarks/midi_out.py measures it.

No note hangs. The sender keeps what it has sent sounding, per channel. An all-notes-off
(CC 123) the engine schedules (a track's stop, panic) first sends a note-off for each of those
notes; closing the sender (engine exit, the track's output changed) sends them and CC 123 on
every channel it used, at once; a port that comes back after being unplugged gets the same.

REAL-TIME CODE: MidiOutTrack's methods run on the audio thread: they build one small bytes
object and a tuple per message and append to a deque; no locks, nothing raises.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque

import numpy as np

from hoot.engine import realtime
from hoot.engine.kernel import midi_out as kout
from hoot.engine.live_midi import BlockClock

POLL = 0.001
"""Seconds an idle sender sleeps between looks at its deque. What the engine schedules is due
at least the output latency after it is stamped (5 ms and more), so a look each millisecond
finds it in time."""

LATE = 0.001
"""A message sent this much (s) after it was due counts as late."""

ALL_NOTES_OFF = 123
SETTLE = 0.05  # seconds a port that came back is given before its all-notes-off


class MidiSender:
    """The thread that sends one output port's scheduled messages when they are due.

    `port` has send(bytes) (hoot.midi.ports.MidiOut). The engine's MidiOutTracks append
    (due, order, message) to `queue`; `order` (from `next_order`) keeps messages due at the
    same moment in the order they were made. The compiled core writes `ring` instead
    (hoot.engine.kernel.midi_out): the engine hands it its port slot's ring in place of
    its own (kernel.front); the thread takes both in.
    """

    def __init__(self, port, name: str = "") -> None:
        self.port = port
        self.name = name
        self.queue: deque[tuple[float, int, bytes]] = deque()
        self.next_order = itertools.count().__next__
        self.sent = 0
        self.late = 0
        self.latest_lateness = 0.0
        self.log: list[tuple[float, float, bytes]] | None = None  # (due, sent at, message)
        self._on = [[0] * 128 for _ in range(16)]  # notes sounding, as sent, per channel
        self._bent = [False] * 16
        self._used: set[int] = set()
        self.ring = kout.make_out_ring()
        self._due = np.zeros(256, np.float64)  # what one look takes from the ring
        self._message = np.zeros((256, 3), np.int64)
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"midi-out {name}", daemon=True)
        self._thread.start()

    def all_off_now(self) -> None:
        """Silence every channel this sender has used (a port that came back after being
        unplugged), SETTLE seconds from now: a message written the moment the connection is
        made can be lost, since JACK applies a new connection from the next cycle (a CI run
        lost it). Any thread."""
        due = time.monotonic() + SETTLE
        for channel in sorted(self._used):
            self.queue.append((due, self.next_order(), bytes((0xB0 | channel, ALL_NOTES_OFF, 0))))

    @property
    def closed(self) -> bool:
        """Whether the thread has ended: it reads `ring` no more (the engine may reuse it)."""
        return self._halt.is_set() and not self._thread.is_alive()

    def close(self) -> None:
        """Stop the thread, forget what was still to come, and end every note it started:
        note-offs, then all-notes-off on every channel used. Safe to call twice."""
        if self._halt.is_set():
            return
        self._halt.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        self.queue.clear()
        for channel in sorted(self._used):
            self._send(bytes((0xB0 | channel, ALL_NOTES_OFF, 0)))

    def _run(self) -> None:
        realtime.raise_sender_thread()
        heap: list[tuple[float, int, bytes]] = []
        queue, halt, until = self.queue, self._halt, realtime.until
        while not halt.is_set():
            while queue:
                heapq.heappush(heap, queue.popleft())
            self._take(heap)
            if not heap:
                halt.wait(POLL)
                continue
            if not until(heap[0][0], halt, POLL):
                continue  # woke early: something due sooner may have come
            due, _, message = heapq.heappop(heap)
            sent_at = time.monotonic()
            self._send(message)
            lateness = sent_at - due
            self.latest_lateness = lateness
            if lateness > LATE and due > 0:
                self.late += 1
            if self.log is not None:
                self.log.append((due, sent_at, message))

    def _take(self, heap: list[tuple[float, int, bytes]]) -> None:
        """Move what the compiled core wrote into the heap, in the order it was written."""
        due, message = self._due, self._message
        while n := kout.take(self.ring, due, message):
            for k in range(n):
                record = (float(due[k]), self.next_order(), bytes(message[k].tolist()))
                heapq.heappush(heap, record)

    def _send(self, message: bytes) -> None:
        """Send one message, keeping count of the notes it leaves sounding. Sender thread."""
        status = message[0]
        kind, channel = status & 0xF0, status & 0x0F
        on = self._on[channel]
        if kind == 0x90 and message[2] > 0:
            on[message[1]] += 1
        elif kind in (0x80, 0x90):
            if on[message[1]] == 0:
                return  # nothing of ours sounds there
            on[message[1]] -= 1
        elif kind == 0xB0 and message[1] == ALL_NOTES_OFF:
            for pitch in range(128):
                if on[pitch]:
                    on[pitch] = 0
                    self._write(bytes((0x80 | channel, pitch, 0)))
            if self._bent[channel]:
                self._bent[channel] = False
                self._write(bytes((0xE0 | channel, 0, 64)))
        elif kind == 0xE0:
            self._bent[channel] = message[1] != 0 or message[2] != 64
        self._used.add(channel)
        self._write(message)

    def _write(self, message: bytes) -> None:
        self.port.send(message)
        self.sent += 1


class MidiOutTrack:
    """A track's notes to `sender`'s port on MIDI `channel` (0-15): the audio thread's side.

    `shift` (s) is added to each note's render time: the output latency of the audio path,
    less the port's latency compensation. Set by the control thread; read per message.
    """

    def __init__(self, sender: MidiSender, clock: BlockClock, channel: int, shift: float) -> None:
        self.sender = sender
        self.clock = clock
        self.channel = channel
        self.shift = shift

    def _at(self, sample: int, message: bytes) -> None:
        sender = self.sender
        sender.queue.append(
            (self.clock.wall_at(sample) + self.shift, sender.next_order(), message)
        )

    def note_on(
        self, sample: int, track: int, pitch: int, velocity: int, timbre: int, key: int
    ) -> None:
        """As VoicePool.note_on: a note-on at `sample` (velocity 0 is a note-off). REAL-TIME."""
        velocity = min(max(int(velocity), 0), 127)
        self._at(sample, bytes((0x90 | self.channel, pitch & 127, velocity)))

    def note_off(self, sample: int, key: int) -> None:
        """As VoicePool.note_off; the pitch is the key's low seven bits. REAL-TIME."""
        self._at(sample, bytes((0x80 | self.channel, key & 127, 0)))

    def bend(self, sample: int, track: int, semitones: float) -> None:
        """As VoicePool.bend: a pitch-bend message, +-2 semitones at the ends. REAL-TIME."""
        wheel = min(max(round(8192 + semitones / 2.0 * 8192), 0), 16383)
        self._at(sample, bytes((0xE0 | self.channel, wheel & 127, wheel >> 7)))

    def all_off(self, sample: int) -> None:
        """Every note of this channel ends at `sample`, then all-notes-off. REAL-TIME."""
        self._at(sample, bytes((0xB0 | self.channel, ALL_NOTES_OFF, 0)))
