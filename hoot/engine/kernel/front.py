"""The compiled core's Python side: it builds the world, sends commands, keeps alive what the
core reads, and reads back what the core writes.

`engine.core.Engine` is the engine's face to the rest of hoot; this is what is behind it.
One thread sends commands (the engine's control thread: `inbox.append`), any thread reads.
Nothing here runs on the audio thread, and nothing here is real-time code: it allocates,
and raises EngineError on what cannot be sent.

The world is one set of arrays for the life of the engine: the PortAudio callback
(kernel.callback) holds their addresses, and the offline path (`forward`) runs the same
`world.process` over the same arrays, so a backend that falls back to the null driver goes
on from the very state the device left.
"""

from __future__ import annotations

import itertools
import math
import os
import weakref
from collections import deque
from typing import Any

import numpy as np

from hoot.engine import core, rings
from hoot.engine.inputs import LOOP, RETURN, make_inputs
from hoot.engine.kernel import callback as kc
from hoot.engine.kernel import clock as kclock
from hoot.engine.kernel import commands as cm
from hoot.engine.kernel import events as kev
from hoot.engine.kernel import fluid as kfluid
from hoot.engine.kernel import midi_in
from hoot.engine.kernel import midi_out as kout
from hoot.engine.kernel import mix as kmix
from hoot.engine.kernel import voices as kv
from hoot.engine.kernel import world as kw
from hoot.engine.kernel.desk import Desk
from hoot.engine.kernel.tap import TapState
from hoot.engine.latency import make_probe
from hoot.engine.limiter import Limiter
from hoot.engine.rings import HEADER, Ring
from hoot.errors import EngineError
from hoot.music.time import TempoMap

INPUT = kw.INPUT
COMPENSATE = kw.COMPENSATE
"""A command record (kernel.world's FOREIGN kinds): feed an input row. Columns: TRACK the
row, SLOT its kind, SAMPLE and QUANTUM its left and right device channels, NAME its loop's
address (a RETURN row: its return ring's header; the audio follows it), BUFFER the loop's
(the ring's) frames, AT_ONCE monitored."""

_ENGINES = itertools.count()  # names the live-note tables of the engines this process makes


class Inbox:
    """`append(command)` sends one of engine.core's commands to the core."""

    def __init__(self, front: Front) -> None:
        self._front = front

    def append(self, cmd: object) -> None:
        self._front.send(cmd)


class Graveyard:
    """What the core let go of (stems, input loops); `clear()` drops Python's references."""

    def __init__(self, front: Front) -> None:
        self._front = front

    def clear(self) -> None:
        self._front.collect()


class LimiterView:
    """The limiter's figures the rest of the engine reads (its state is in the mixer's)."""

    def __init__(self, mix: kmix.MixState, samplerate: int) -> None:
        limiter = Limiter(samplerate, 1)
        self._mix = mix
        self.lookahead = limiter.lookahead
        self.latency = limiter.latency
        self.ceiling_db = limiter.ceiling_db

    @property
    def reduction_db(self) -> float:
        return float(self._mix.f[kmix.REDUCTION_DB])


class ClockView:
    """Where the engine's samples are in wall time (kernel.clock), for the MIDI threads.

    `now`, when set to a function, is called once per host block that `Front.forward`
    renders and its answer stamps the block instead of the monotonic clock: a host that
    knows when its blocks begin (tests inject exact arrival times this way)."""

    def __init__(self, state: kclock.Clock) -> None:
        self.state = state
        self.now = None

    @property
    def block(self) -> int:
        return int(self.state.i[kclock.BLOCK])

    @property
    def origin(self) -> float:
        return float(self.state.f[kclock.ORIGIN])

    def wall_at(self, sample: int) -> float:
        return kclock.wall_at(self.state, sample)

    def sample_at(self, wall: float) -> int:
        return kclock.sample_at(self.state, wall)


def _writable(array: np.ndarray) -> np.ndarray:
    return array if array.flags.writeable else array.copy()


class Front:
    """The compiled engine for `tracks` (generated tracks, then `inputs` live input rows)."""

    def __init__(
        self,
        samplerate: int,
        tracks: tuple[str, ...],
        max_block: int,
        max_players: int,
        max_voices: int,
        tempo_map: TempoMap,
        generated: int | None = None,
        notes: str | None = None,
    ) -> None:
        T = len(tracks)
        G = T if generated is None else generated
        self.samplerate = samplerate
        self.tracks = tracks
        self.max_block = max_block
        self.desk = Desk(tracks, tempo_map, max_players=max_players)
        voices = kv.make_voices(samplerate, T, max_voices, max_block)
        self.voices = voices._replace(**{f: _writable(getattr(voices, f)) for f in voices._fields})
        self.mix = kmix.make_mix(samplerate, T, max_block)
        # the live inputs' slots and the block clock, in the shared live-note table
        # (hoot.engine.rings): model processes write and read slots there; removed with
        # this object (or at exit), and by runtime.clean if the process dies first
        name = notes or f"engine-{os.getpid()}-{next(_ENGINES)}.notes"
        table = rings.create_note_table(name, kw.LIVE_SLOTS, midi_in.RING)
        self.notes_path = str(rings.ring_path(name))
        self._unlink_notes = weakref.finalize(
            self, rings.remove_owned, self.notes_path, os.getpid()
        )
        self.note_table = table
        clock = kclock.make_clock(samplerate)
        table.clock_f[:], table.clock_i[:] = clock.f, clock.i
        self.clock_state = kclock.Clock(table.clock_f, table.clock_i)
        self.events = kev.make_events()
        self.regs = np.zeros(kw.REGISTERS, np.int64)
        self.regs[kw.MAX_BLOCK], self.regs[kw.TRACKS], self.regs[kw.GENERATED] = max_block, T, G
        self.track_flat = np.zeros(T * max_block * 2, np.float32)
        self.sink = np.zeros(T, np.int64)
        self.use_voices = np.ones(T, np.bool_)
        self.live = kw.LiveTable(
            table.arrived, table.message, table.index, table.held, table.sustained, table.regs
        )
        self.outs = kw.make_out_table(T)
        self.fonts = kw.make_font_table(max_block)
        self.font_of = np.full(T, -1, np.int64)
        self.clocks = kw.make_clock_table()
        self.stamps = np.zeros(2, np.float64)
        # Python's side of the slots: what each holds, and the last record naming it (a
        # slot is free once the core has taken that record and let go of it)
        self.live_slots: list[Any] = [None] * kw.LIVE_SLOTS  # LiveNotes
        self._live_sent = [-1] * kw.LIVE_SLOTS
        self.senders: list[Any] = [None] * kw.PORT_SLOTS  # MidiSender
        self._port_sent = [-1] * kw.PORT_SLOTS
        self.sinks: list[Any] = [None] * T  # MidiOutTrack, None: the track's synth
        self.font_voices: list[Any] = [None] * kw.FONT_SLOTS  # SoundFontVoice
        self._font_sent = [-1] * kw.FONT_SLOTS
        self.synths: list[Any] = [None] * T  # SoundFontVoice, None: the voices
        self.clock_paths: list[Any] = [None] * kw.CLOCK_SLOTS  # JackClock, RtMidiClock
        self._clock_left = [-1] * kw.CLOCK_SLOTS  # blocks rendered when the path left
        self.inputs = make_inputs(T - G)
        # what each input row's core reads: a loop, a return ring (rings.ReturnRing), None
        self.input_loops: list[Any] = [None] * (T - G)
        self._retiring: deque[tuple[int, Any]] = deque()  # (record, loop or ring) in flight
        rows = max(T - G, 1)
        self.in_ring = Ring(
            np.zeros(HEADER, np.int64),
            np.zeros((1, 3), np.int64),
            np.zeros((1, rows, 1, 2), np.float32),
        )
        self.probe = make_probe(samplerate)
        self._recorder = None
        self.tap_state = TapState(
            np.zeros((1 + T, 1, 2), np.float32), np.zeros(2, np.int64), np.zeros(4, np.int64)
        )
        self.stats = kc.make_stats()
        self.inbox = Inbox(self)
        self.graveyard = Graveyard(self)
        self.limiter = LimiterView(self.mix, samplerate)
        self.clock = ClockView(self.clock_state)
        self._world: kw.World | None = None
        self._callback: kc.Callback | None = None
        self._no_device = np.zeros((max_block, 0), np.float32)

    # ---- the world -----------------------------------------------------------------

    def world(self) -> kw.World:
        if self._world is None:
            d = self.desk
            self._world = kw.World(
                self.regs, self.track_flat, self.events, d.ring, d.players, d.stems, d.maps,
                self.voices, self.mix, self.tap_state, self.clock_state, self.sink,
                self.use_voices, self.live, self.outs, self.fonts, self.font_of, self.clocks,
                self.stamps, self.inputs, self.in_ring, self.probe,
            )  # fmt: skip
        return self._world

    def _rebuild(self) -> None:
        if self._callback is not None:
            raise EngineError("the engine's audio has started; set the recorder and ring before")
        self._world = None

    @property
    def recorder(self):
        return self._recorder

    @recorder.setter
    def recorder(self, recorder) -> None:
        self._rebuild()
        self._recorder = recorder
        if recorder is not None:
            self.tap_state = recorder.tap_state()

    def use_ring(self, ring: Ring) -> None:
        """Send every input block to `ring` from now on (before the audio starts)."""
        self._rebuild()
        self.in_ring = ring
        self.regs[kw.RING_ON] = 1

    def callback(self, on_message=None) -> kc.Callback:
        """The PortAudio callback over this world, compiled or loaded from the cache."""
        if self._callback is None:
            self._callback = kc.build_callback(
                kw.process, self.world(), 0, 2, self.stats, on_message=on_message
            )
        return self._callback

    def forward(self, out: np.ndarray, inp: np.ndarray | None = None) -> None:
        """Render `len(out)` frames from Python (the offline and null drivers)."""
        frames = len(out)
        if inp is None or len(inp) < frames:
            inp = self._no_device[:frames] if frames <= len(self._no_device) else (
                np.zeros((frames, 0), np.float32)
            )
        now = self.clock.now
        if now is not None:
            self.stamps[1], self.stamps[0] = now(), 1.0
        else:
            self.stamps[0] = 0.0
        kw.process(self.world(), inp, out, frames, inp.shape[1])

    # ---- commands ------------------------------------------------------------------

    def send(self, cmd: object) -> None:
        if isinstance(cmd, core.Start | core.Stop | core.Unqueue | core.Swap | core.NewMap):
            self.desk.send(cmd)
        elif isinstance(cmd, core.Panic | core.Mix):
            self.desk.send(cmd)
        elif isinstance(cmd, core.SetInput):
            self._set_input(cmd)
        elif isinstance(cmd, core.Compensate):
            self._record(COMPENSATE, SAMPLE=int(cmd.samples))
        elif isinstance(cmd, core.Live):
            self._live(tuple(cmd.inputs))
        elif isinstance(cmd, core.Sink):
            self._sink(int(cmd.track), cmd.sink)
        elif isinstance(cmd, core.Synth):
            self._synth(int(cmd.track), cmd.synth)
        else:
            raise EngineError(f"{type(cmd).__name__} is not a command the engine takes")

    def _record(self, kind: int, track: int = 0, beat: float = 0.0, **columns: int) -> int:
        """Write one FOREIGN record; returns its number in the ring."""
        rec = np.zeros(cm.INT_COLUMNS, np.int64)
        rec[cm.KIND], rec[cm.TRACK] = kind, track
        for name, value in columns.items():
            rec[getattr(cm, name)] = value
        flo = np.zeros(cm.FLOAT_COLUMNS)
        flo[cm.BEAT] = beat
        return self.desk.send_record(rec, flo)

    def _taken(self, record: int) -> bool:
        return record < int(self.desk.ring.at[cm.READ])

    def _track(self, track: int) -> None:
        if not 0 <= track < len(self.tracks):
            raise EngineError(f"track {track} does not exist; there are {len(self.tracks)}")

    # ---- live MIDI inputs: LiveTable's slots ---------------------------------------------

    def _live(self, inputs: tuple) -> None:
        """Engine._live: an input no longer listed ends its notes (LIVE off); a new one gets
        a free slot, its ring the slot's (LIVE on)."""
        for k, live in enumerate(self.live_slots):
            if live is not None and not any(live is x for x in inputs):
                self._live_sent[k] = self._record(kw.LIVE, live.track, SLOT=k, SAMPLE=0)
                self.live_slots[k] = None
                self.note_table.kind[k] = rings.FREE  # its writer elsewhere lets go
                # its port may still call it until MidiRoutes closes it: a ring of its own
                live.use_kernel(midi_in.make_live_input(live.track, live.patch, live.channel))
        for live in inputs:
            if any(live is x for x in self.live_slots):
                continue
            self._track(live.track)
            k = self._free_live_slot()
            t = self.live
            t.index[k] = 0
            t.held[k] = 0
            t.sustained[k] = 0
            t.regs[k] = 0
            t.regs[k, midi_in.TRACK] = -1  # until the core takes the LIVE record
            t.regs[k, midi_in.PATCH] = live.patch
            t.regs[k, midi_in.CHANNEL] = -1 if live.channel is None else live.channel
            live.use_kernel(
                midi_in.LiveInput(
                    t.arrived[k], t.message[k], t.index[k], t.held[k], t.sustained[k], t.regs[k]
                )
            )
            self.live_slots[k] = live
            self.note_table.gen[k] += 1  # a new input: readers elsewhere start at record 0
            self.note_table.kind[k] = rings.MODEL if live.model else rings.PORT
            self._live_sent[k] = self._record(kw.LIVE, live.track, SLOT=k, SAMPLE=1)

    def live_slot(self, live) -> int | None:
        """The slot input `live` (a LiveNotes) plays from, or None."""
        return self._holding(self.live_slots, live)

    def close_notes(self) -> None:
        """Remove the live-note table's file now (the engine ends); mappings stay valid."""
        self._unlink_notes()

    def _free_live_slot(self) -> int:
        for k, live in enumerate(self.live_slots):
            if live is None and self._taken(self._live_sent[k]):
                return k
        raise EngineError(f"the engine plays {kw.LIVE_SLOTS} live inputs already; let one go first")

    # ---- MIDI outputs: OutTable's port slots -------------------------------------------------

    def _sink(self, track: int, sink) -> None:
        """Engine._sink: `track`'s notes to `sink` (a midi_out.MidiOutTrack) or back to its
        synth (None); the sender reads its port slot's ring."""
        self._track(track)
        old = self.sinks[track]
        if sink is old:
            return
        if sink is None:
            seq = self._record(kw.SINK, track, SLOT=kw.VOICES)
        else:
            channel = int(sink.channel)
            if not 0 <= channel < 16:
                raise EngineError(f"MIDI channel {channel + 1} is out of range; use 1 to 16")
            port = self._port_slot(sink.sender)
            seq = self._record(
                kw.SINK, track, float(sink.shift), SLOT=kw.HARDWARE, SAMPLE=port, QUANTUM=channel
            )
            self._port_sent[port] = seq
        if old is not None:
            k = self._holding(self.senders, old.sender)
            if k is not None:
                self._port_sent[k] = seq
        self.sinks[track] = sink

    def _port_slot(self, sender) -> int:
        k = self._holding(self.senders, sender)
        if k is not None:
            return k
        for k, held in enumerate(self.senders):
            if held is None or self._port_free(k):
                t = self.outs
                t.index[k] = 0
                sender.ring = kout.OutRing(t.due[k], t.message[k], t.index[k])
                self.senders[k] = sender
                return k
        raise EngineError(
            f"the engine plays {kw.PORT_SLOTS} MIDI output ports already; let one go first"
        )

    def _port_free(self, k: int) -> bool:
        """Port slot `k`: no track plays it, the core has taken the records, the sender is
        closed (its thread reads the ring no more)."""
        sender = self.senders[k]
        return (
            self._taken(self._port_sent[k])
            and not any(s is not None and s.sender is sender for s in self.sinks)
            and sender.closed
        )

    @staticmethod
    def _holding(slots: list, thing) -> int | None:
        for k, held in enumerate(slots):
            if held is thing:
                return k
        return None

    # ---- SoundFont voices: FontTable's slots -------------------------------------------------

    def _synth(self, track: int, synth) -> None:
        """Engine._synth: `track` plays `synth` (a fluid.SoundFontVoice), or the voices (None);
        the old SoundFont fades out and its slot falls free (`collect`)."""
        self._track(track)
        if synth is self.synths[track]:
            return
        slot = -1
        if synth is not None:
            if synth.track != track:
                raise EngineError(f"that SoundFont voice plays track {synth.track}, not {track}")
            slot = self._holding(self.font_voices, synth)
            if slot is None:
                slot = self._free_font_slot()
                fv = kfluid.make_font_voice(synth, self.max_block)
                t = self.fonts
                t.regs[slot], t.functions[slot] = fv.regs, fv.functions
                self.font_voices[slot] = synth
        seq = self._record(kw.SYNTH, track, SLOT=slot)
        if slot >= 0:
            self._font_sent[slot] = seq
        self.synths[track] = synth

    def _free_font_slot(self) -> int:
        self.collect()
        for k, voice in enumerate(self.font_voices):
            if voice is None:
                return k
        raise EngineError(
            f"the engine plays {kw.FONT_SLOTS} SoundFont voices already; let one go first"
        )

    def font_state(self, synth) -> kfluid.FontVoice | None:
        """The core's state of SoundFont voice `synth` (its regs: PLAYED, FAULTS...), or None
        once the core let go of it."""
        k = self._holding(self.font_voices, synth)
        return None if k is None else kw.font_voice(self.fonts, k)

    # ---- MIDI clock out: ClockTable's slots --------------------------------------------------

    @property
    def clocks_out(self) -> tuple:
        return tuple(path for path in self.clock_paths if path is not None)

    @clocks_out.setter
    def clocks_out(self, paths: tuple) -> None:
        """Engine.clocks_out: each host block is published to each of `paths`
        (clock_out.JackClock: `jack` holds its addresses; clock_out.RtMidiClock), whose
        `ring` becomes its slot's."""
        t = self.clocks
        for k, path in enumerate(self.clock_paths):
            if path is not None and not any(path is p for p in paths):
                t.kind[k] = 0
                self._clock_left[k] = self.blocks
                self.clock_paths[k] = None
        for path in paths:
            if any(path is p for p in self.clock_paths):
                continue
            k = self._free_clock_slot()
            t.index[k] = 0
            jack = getattr(path, "jack", None)
            if jack is not None:
                t.jack[k] = jack
            path.ring = kw.clock_ring(t, k)
            self.clock_paths[k] = path
            t.kind[k] = kw.RTMIDI if jack is None else kw.JACK  # last: the slot is ready

    def _free_clock_slot(self) -> int:
        """A slot no path holds, whose last block the audio thread has finished (it may have
        been publishing into it when the path left)."""
        for k, path in enumerate(self.clock_paths):
            if path is None and self.blocks > self._clock_left[k]:
                return k
        raise EngineError(
            f"the engine sends MIDI clock to {kw.CLOCK_SLOTS} ports already; let one go first"
        )

    def _set_input(self, cmd: core.SetInput) -> None:
        r = int(cmd.row)
        if not 0 <= r < len(self.input_loops):
            raise EngineError(f"there is no input row {r}")
        loop, address, frames = None, 0, 0
        if cmd.kind == LOOP and cmd.loop is not None:
            loop = np.ascontiguousarray(cmd.loop, np.float32)
            address, frames = loop.ctypes.data, len(loop)
        elif cmd.kind == RETURN and cmd.ret is not None:
            loop = cmd.ret  # its views keep the mapping (and so the file) while the core reads
            address, frames = loop.head.ctypes.data, len(loop.audio)
            if loop.audio.ctypes.data != address + 8 * rings.RETURN_HEADER:
                raise EngineError("a return ring's audio must follow its header")
        seq = self._record(
            INPUT,
            r,
            SLOT=int(cmd.kind),
            SAMPLE=int(cmd.left),
            QUANTUM=int(cmd.right),
            NAME=address,
            BUFFER=frames,
            AT_ONCE=1 if cmd.monitor else 0,
        )
        old = self.input_loops[r]
        if old is not None:
            self._retiring.append((seq, old))  # the core reads it until it takes `seq`
        self.input_loops[r] = loop

    def collect(self) -> None:
        """Let go of what the core no longer reads (the control thread, often): stems, input
        loops, return rings (whose files go with them), and the SoundFont voices that have
        faded out (their synths close as Python drops them)."""
        self.desk.collect()
        taken = int(self.desk.ring.at[cm.READ])
        while self._retiring and self._retiring[0][0] < taken:
            self._retiring.popleft()
        for k, voice in enumerate(self.font_voices):
            if voice is not None and self._font_sent[k] < taken and not self.fonts.busy[k]:
                self.font_voices[k] = None

    def set_gains_at_rest(self, track: int, left: float, right: float) -> None:
        kmix.set_mix(self.mix, track, left, right, True, 0)

    # ---- reading -------------------------------------------------------------------

    @property
    def position(self) -> int:
        return int(self.regs[kw.POSITION])

    @property
    def blocks(self) -> int:
        return int(self.regs[kw.BLOCKS])

    @property
    def faults(self) -> int:
        return (
            self.desk.faults
            + int(self.mix.i[kmix.FAULTS])
            + int(self.voices.registers[kv.FAULTS])
            + int(self.events.dropped[0])
        )

    def on_time(
        self, track: int, sample: int, beat: float, quantum: str, s0: int
    ) -> tuple[int, float]:
        """kernel.players._on_time from Python, over the arrays the core writes."""
        ps = self.desk.players
        lead = 0
        for p in np.flatnonzero(ps.active):
            if ps.track[p] == track and ps.start[p] < sample and ps.stop[p] > s0:
                lead = core.FADE
                break
        if sample - lead >= s0:
            return sample, beat
        if not quantum:
            return s0 + lead, math.nan
        tm = self.desk.tempo_map
        b = tm.next_boundary_beat(s0 + lead, quantum)
        return tm.sample_at(b), b

    def voice_count(self) -> int:
        return kv.active(self.voices)
