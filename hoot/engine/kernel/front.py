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

import math
from collections import deque
from typing import Any

import numpy as np

from hoot.engine import core
from hoot.engine.inputs import LOOP, make_inputs
from hoot.engine.kernel import callback as kc
from hoot.engine.kernel import clock as kclock
from hoot.engine.kernel import commands as cm
from hoot.engine.kernel import events as kev
from hoot.engine.kernel import mix as kmix
from hoot.engine.kernel import players as pl
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
"""A command record (kernel.world's FOREIGN kinds): feed an input row. Columns: TRACK the
row, SLOT its kind, SAMPLE and QUANTUM its left and right device channels, NAME its loop's
address, BUFFER the loop's frames, AT_ONCE monitored."""


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
    """Where the engine's samples are in wall time (kernel.clock), for the MIDI threads."""

    def __init__(self, state: kclock.Clock) -> None:
        self.state = state

    @property
    def block(self) -> int:
        return int(self.state.i[kclock.BLOCK])

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
    ) -> None:
        T = len(tracks)
        G = T if generated is None else generated
        self.samplerate = samplerate
        self.tracks = tracks
        self.desk = Desk(tracks, tempo_map, max_players=max_players)
        voices = kv.make_voices(samplerate, T, max_voices, max_block)
        self.voices = voices._replace(**{f: _writable(getattr(voices, f)) for f in voices._fields})
        self.mix = kmix.make_mix(samplerate, T, max_block)
        self.clock_state = kclock.make_clock(samplerate)
        self.events = kev.make_events()
        self.regs = np.zeros(kw.REGISTERS, np.int64)
        self.regs[kw.MAX_BLOCK], self.regs[kw.TRACKS], self.regs[kw.GENERATED] = max_block, T, G
        self.track_flat = np.zeros(T * max_block * 2, np.float32)
        self.sink = np.zeros(T, np.int64)
        self.use_voices = np.ones(T, np.bool_)
        self.live = kw.make_live_table()
        self.outs = kw.make_out_table(T)
        self.inputs = make_inputs(T - G)
        self.input_loops: list[np.ndarray | None] = [None] * (T - G)
        self._retiring: deque[tuple[int, np.ndarray]] = deque()  # (record, loop) in flight
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
                self.use_voices, self.live, self.outs, self.inputs, self.in_ring, self.probe,
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
        kw.process(self.world(), inp, out, frames, inp.shape[1])

    # ---- commands ------------------------------------------------------------------

    def send(self, cmd: object) -> None:
        if isinstance(cmd, core.Start | core.Stop | core.Unqueue | core.Swap | core.NewMap):
            self.desk.send(cmd)
        elif isinstance(cmd, core.Panic | core.Mix):
            self.desk.send(cmd)
        elif isinstance(cmd, core.SetInput):
            self._set_input(cmd)
        else:
            raise EngineError(f"{type(cmd).__name__} is not a command the engine takes")

    def _record(self, kind: int, track: int = 0, **columns: int) -> int:
        """Write one FOREIGN record; returns its number in the ring."""
        rec = np.zeros(cm.INT_COLUMNS, np.int64)
        rec[cm.KIND], rec[cm.TRACK] = kind, track
        for name, value in columns.items():
            rec[getattr(cm, name)] = value
        return self.desk.send_record(rec, np.zeros(cm.FLOAT_COLUMNS))

    def _set_input(self, cmd: core.SetInput) -> None:
        r = int(cmd.row)
        if not 0 <= r < len(self.input_loops):
            raise EngineError(f"there is no input row {r}")
        loop = None
        if cmd.kind == LOOP and cmd.loop is not None:
            loop = np.ascontiguousarray(cmd.loop, np.float32)
        seq = self._record(
            INPUT,
            r,
            SLOT=int(cmd.kind),
            SAMPLE=int(cmd.left),
            QUANTUM=int(cmd.right),
            NAME=0 if loop is None else loop.ctypes.data,
            BUFFER=0 if loop is None else len(loop),
            AT_ONCE=1 if cmd.monitor else 0,
        )
        old = self.input_loops[r]
        if old is not None:
            self._retiring.append((seq, old))  # the core reads it until it takes `seq`
        self.input_loops[r] = loop

    def collect(self) -> None:
        """Let go of what the core no longer reads (the control thread, often)."""
        self.desk.collect()
        taken = int(self.desk.ring.at[cm.READ])
        while self._retiring and self._retiring[0][0] < taken:
            self._retiring.popleft()

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

    def clips_since(self) -> np.ndarray:
        return self.inputs.clip_at

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

    def describe(self) -> dict[str, Any]:
        return {"players": int(self.desk.players.active.sum()), "voices": self.voice_count()}


__all__ = ["Front", "pl"]
