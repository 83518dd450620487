"""A keyboard played through the engine: live MIDI notes on a track, each at its arrival's sample.

    perf.tracks.lead.play_from("Keystation")       # protocol.PlayFrom, served by MidiRoutes

A `LiveNotes` is one MIDI input playing one track. The input's thread (RtMidi's, through
hoot.midi.ports) only appends `(message, arrived)` to a deque: `arrived` is time.monotonic()
when the message reached hoot. The audio thread pops them in `forward()` (deque append and
popleft are atomic under the GIL: no lock on either side) and plays each at the sample of its
arrival plus one host block:

    sample = BlockClock.sample_at(arrived) + BlockClock.block

`BlockClock` knows where the engine's samples are in wall time from the moment each host block
starts rendering. A message that arrived during the previous block therefore lands at the same
place inside this one, and note-to-sound is one block plus the output latency, constant,
instead of "whenever the next block starts" (up to a block of jitter: 2.7 ms at 128 frames,
5.3 ms at 256). A message whose place is already rendered plays at the block's first sample;
one whose place lies beyond this block waits in the deque for the next.

What a keyboard sends, and what the track does:
- note on/off with velocity: the track's synth voices (the track's sound's live patch;
  hoot.music.sounds.live_patch), or its MIDI output when the track plays hardware;
- sustain pedal (CC 64, down at 64 and above): note-offs wait until the pedal comes up;
- pitch bend: +-2 semitones, every tonal voice on the track (VoicePool.bend), as a hardware
  synth's channel does; a stream of bend messages is a glide;
- all notes off and all sound off (CC 123, CC 120): every note of this input ends.
Everything else (program changes, other CCs, clock, SysEx) is left to other listeners.

REAL-TIME CODE: `LiveNotes.forward`, `LiveNotes.release_all` and `BlockClock.stamp` run on the
audio thread: no locks, no logging, no allocation beyond small ints and floats, nothing raises
(a bad message is dropped and counted in `faults`).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

LIVE_KEYS = 1 << 24
"""Voice keys of live notes are LIVE_KEYS + track * 128 + pitch: apart from the players' keys
(player index * 128 + pitch, below 2**13), so a stem's note-off never ends a live note."""

BEND_RANGE = 2.0
"""Semitones of a pitch wheel at either end, the General MIDI default."""

SUSTAIN, ALL_SOUND_OFF, ALL_NOTES_OFF = 64, 120, 123

WINDOW = 0.25
"""Seconds of block starts BlockClock's origin is the earliest of (in two halves, so that it
costs two comparisons a block). A callback is never early, so the earliest start of the
last quarter second is the truest; one late callback does not move it at all, and a real
shift (a backend that lost time to an xrun, a sound card's drift) is followed within
WINDOW. The earliest start ever seen, risen towards later ones by 1/500 of each gap, took
1.3 s to follow a backend that had lost 18 ms to its first blocks' xruns, and every MIDI
clock tick stamped meanwhile was due before it was stamped, so it went out late, at the
block's own jittery time (sd 2.8 ms, up to 60 ms, at 128 frames)."""

JUMP = 0.05
"""A block starting this much (s) later than the clock expects means the stream restarted
(a device lost, an xrun of many blocks): the clock starts again from it."""

RELEASE_ALL = b""
"""The message an input's unplugging or closing puts in the deque: end every note now."""


class BlockClock:
    """Where the engine's samples are in wall time: `origin` is the time.monotonic() at which
    sample 0 would have started rendering, so sample s renders at `origin + s / samplerate`.

    Each host block stamps the time it starts rendering. A callback is never early but often
    late (the scheduler, another process), so the earliest start seen is the truest: the origin
    is the earliest of the last WINDOW seconds' starts, and drops at once to an earlier one.
    """

    def __init__(self, samplerate: int, now: Callable[[], float] = time.monotonic) -> None:
        self.samplerate = samplerate
        self.now = now
        self.origin = math.inf
        self.block = 0  # frames in the latest host block: the constant delay of live notes
        self._earlier = math.inf  # the earliest origin of the previous half window
        self._current = math.inf  # ... and of this one, which ends at _turn
        self._turn = -math.inf

    def stamp(self, s0: int, frames: int) -> None:
        """A host block of `frames` starting at sample `s0` begins rendering now. REAL-TIME."""
        now = self.now()
        origin = now - s0 / self.samplerate
        if origin - self.origin > JUMP:  # the stream started again: so does the clock
            self._earlier = self._current = math.inf
            self._turn = -math.inf
        if now >= self._turn:
            self._earlier, self._current = self._current, origin
            self._turn = now + WINDOW / 2
        elif origin < self._current:
            self._current = origin
        self.origin = min(self._earlier, self._current)
        self.block = frames

    def sample_at(self, wall: float) -> int:
        """The sample rendering at monotonic time `wall`."""
        return math.floor((wall - self.origin) * self.samplerate + 0.5)

    def wall_at(self, sample: int) -> float:
        """The monotonic time at which `sample` renders."""
        return self.origin + sample / self.samplerate


class LiveNotes:
    """One MIDI input playing track number `track` with synth patch `patch`, on MIDI channel
    `channel` (0-15) or on every channel (None). `port` is the input's name, for status.
    `model`: no port feeds it but a model's process, through the live-note table's slot
    (hoot.engine.rings.NoteWriter).

    `receive` is the input's callback; `forward` plays what arrived, on the audio thread, into
    the engine's sink for the track (its VoicePool, or a MIDI output: hoot.engine.midi_out).
    """

    def __init__(
        self,
        track: int,
        patch: int,
        channel: int | None = None,
        port: str = "",
        model: bool = False,
    ) -> None:
        self.track = track
        self.patch = patch
        self.channel = channel
        self.port = port
        self.model = model
        self.events: deque[tuple[bytes, float]] = deque()
        self.held = [False] * 128  # keys down
        self.sustained = [False] * 128  # keys up whose note the pedal holds
        self.pedal = False
        self.bent = False
        self.faults = 0
        self.played = 0  # notes started, for status and tests
        self.kernel = None  # the compiled core's ring and state (kernel.midi_in.LiveInput)
        self._write = self._end = None

    def use_kernel(self, live=None):
        """Feed the compiled core from now on: `receive` and `end_all` write `live` (a
        kernel.midi_in.LiveInput: the engine hands over a slot of its own; None: a new one)
        instead of the deque. Returns the LiveInput."""
        from hoot.engine.kernel import midi_in

        if live is None:
            live = midi_in.make_live_input(self.track, self.patch, self.channel)
        self.kernel = live
        self._write, self._end = midi_in.write, midi_in.end_all
        return live

    def receive(self, message: bytes, arrived: float) -> None:
        """The MIDI input's callback (its own thread): queue the message for the audio thread."""
        if self.kernel is not None:
            self._write(self.kernel, message, arrived)
        else:
            self.events.append((message, arrived))

    def end_all(self, arrived: float | None = None) -> None:
        """Ask the audio thread to end every note of this input (the port went away)."""
        arrived = time.monotonic() if arrived is None else arrived
        if self.kernel is not None:
            self._end(self.kernel, arrived)
        else:
            self.events.append((RELEASE_ALL, arrived))

    # ---- the audio thread ---------------------------------------------------------------

    def forward(self, engine, s0: int, n: int) -> None:
        """Play the messages whose place falls before the end of block [s0, s0 + n). REAL-TIME."""
        events = self.events
        clock = engine.clock
        sink = engine.sinks[self.track]
        end = s0 + n
        delay = clock.block
        while events:
            message, arrived = events[0]
            sample = clock.sample_at(arrived) + delay
            if sample >= end:
                return  # arrived during this block: its place is in the next one
            events.popleft()
            try:
                self._play(message, sample if sample > s0 else s0, sink)
            except Exception:  # noqa: BLE001 - a malformed message is dropped, never raised
                self.faults += 1

    def _play(self, message: bytes, sample: int, sink) -> None:
        if message == RELEASE_ALL:
            self.release_all(sample, sink)
            self.pedal = False
            return
        status = message[0]
        if status >= 0xF0 or (self.channel is not None and status & 0x0F != self.channel):
            return
        kind = status & 0xF0
        if kind == 0x90 and message[2] > 0:
            pitch = message[1]
            key = LIVE_KEYS + self.track * 128 + pitch
            if self.held[pitch] or self.sustained[pitch]:
                sink.note_off(sample, key)  # struck again: the old note gives way
            sink.note_on(sample, self.track, pitch, message[2], self.patch, key)
            self.held[pitch] = True
            self.sustained[pitch] = False
            self.played += 1
        elif kind == 0x80 or kind == 0x90:
            pitch = message[1]
            if not self.held[pitch]:
                return
            self.held[pitch] = False
            if self.pedal:
                self.sustained[pitch] = True
            else:
                sink.note_off(sample, LIVE_KEYS + self.track * 128 + pitch)
        elif kind == 0xB0:
            control, value = message[1], message[2]
            if control == SUSTAIN:
                down = value >= 64
                if self.pedal and not down:
                    self._release_sustained(sample, sink)
                self.pedal = down
            elif control in (ALL_NOTES_OFF, ALL_SOUND_OFF):
                self.release_all(sample, sink)
        elif kind == 0xE0:
            wheel = (message[2] << 7 | message[1]) - 8192  # -8192 .. 8191
            semitones = BEND_RANGE * wheel / (8191 if wheel > 0 else 8192)
            sink.bend(sample, self.track, semitones)
            self.bent = wheel != 0

    def _release_sustained(self, sample: int, sink) -> None:
        key0 = LIVE_KEYS + self.track * 128
        for pitch in range(128):
            if self.sustained[pitch]:
                self.sustained[pitch] = False
                sink.note_off(sample, key0 + pitch)

    def release_all(self, sample: int, sink) -> None:
        """End every note this input holds (keys down or held by the pedal) at `sample`, and
        put the wheel back to the middle. REAL-TIME."""
        key0 = LIVE_KEYS + self.track * 128
        held, sustained = self.held, self.sustained
        for pitch in range(128):
            if held[pitch] or sustained[pitch]:
                held[pitch] = sustained[pitch] = False
                sink.note_off(sample, key0 + pitch)
        if self.bent:
            sink.bend(sample, self.track, 0.0)
            self.bent = False

    @property
    def sounding(self) -> int:
        """Notes this input holds now (keys down, or up and held by the pedal)."""
        if self.kernel is not None:
            from hoot.engine.kernel import midi_in

            return midi_in.sounding(self.kernel)
        return sum(h or s for h, s in zip(self.held, self.sustained))
