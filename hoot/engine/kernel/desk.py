"""The Python side of the compiled players: it sends commands and reads back what plays.

`Desk.send` turns engine.core's command dataclasses into records of the command ring
(kernel.commands), putting each stem it sends into a slot of the stem table (`Shelf`);
`Desk.collect` lets go of the stems the core released, as the control thread emptied
Engine.graveyard. The readers (`track_busy`, `queued_start`, `next_turn`, `snapshot`)
answer what Engine's did, from the arrays the core writes and the records not yet taken;
like Engine's, their answers may be a block old.

One Python thread sends and collects (the engine's control thread); any thread may read.
Not real-time code: it allocates, raises EngineError on what it cannot send, and never
runs on the audio thread.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from hoot.engine import core
from hoot.engine.kernel import commands as cm
from hoot.engine.kernel import players as pl
from hoot.engine.kernel import tempo
from hoot.errors import EngineError
from hoot.music.time import TempoMap

UNKNOWN = -2
"""The name of a stem id the desk never sent: it matches no player (and not -1, "none")."""


class Shelf:
    """The stem table's slots: which LoadedStem each holds, kept alive while the core reads
    it, and the integer names the core compares instead of stem ids."""

    def __init__(self, table: pl.StemTable) -> None:
        self.table = table
        self.held: list[tuple | None] = [None] * len(table.length_beats)
        self.free: deque[int] = deque(range(len(table.length_beats)))
        self.names: dict[str, int] = {}

    def name(self, stem_id: str) -> int:
        return self.names.get(stem_id, UNKNOWN)

    def stem(self, slot: int) -> core.LoadedStem | None:
        held = self.held[slot] if 0 <= slot < len(self.held) else None
        return None if held is None else held[0]

    def put(self, stem: core.LoadedStem) -> int:
        """A slot holding `stem`, for one command."""
        self.collect()
        if not self.free:
            raise EngineError(
                f"the engine holds {len(self.held)} stems already; stop some tracks first"
            )
        row = np.zeros(pl.STEM_COLUMNS, np.int64)
        if stem.audio is not None:
            audio = np.ascontiguousarray(stem.audio, np.float32)
            if audio.ndim != 2 or audio.shape[1] != 2 or len(audio) == 0:
                raise EngineError(f"stem {stem.id!r} is not stereo audio; load it again")
            keep: tuple = (stem, audio)
            row[pl.AUDIO], row[pl.FRAMES] = audio.ctypes.data, len(audio)
        else:
            if not stem.length_beats > 0:
                raise EngineError(f"MIDI stem {stem.id!r} has no length; load it again")
            on_beats = np.ascontiguousarray(stem.on_beats, np.float64)
            on_pitch = np.ascontiguousarray(stem.on_pitch, np.int64)
            on_velocity = np.ascontiguousarray(stem.on_velocity, np.int64)
            off_beats = np.ascontiguousarray(stem.off_beats, np.float64)
            off_pitch = np.ascontiguousarray(stem.off_pitch, np.int64)
            for pitches in (on_pitch, off_pitch):
                if len(pitches) and not (0 <= pitches.min() and pitches.max() <= 127):
                    raise EngineError(f"MIDI stem {stem.id!r} holds a pitch beyond 0-127")
            keep = (stem, on_beats, on_pitch, on_velocity, off_beats, off_pitch)
            row[pl.MIDI] = 1
            row[pl.ON_BEATS], row[pl.ON_PITCH] = on_beats.ctypes.data, on_pitch.ctypes.data
            row[pl.ON_VELOCITY], row[pl.ONS] = on_velocity.ctypes.data, len(on_beats)
            row[pl.OFF_BEATS], row[pl.OFF_PITCH] = off_beats.ctypes.data, off_pitch.ctypes.data
            row[pl.OFFS] = len(off_beats)
        slot = self.free.popleft()
        row[pl.PATCH] = stem.patch
        row[pl.NAME] = self.names.setdefault(stem.id, len(self.names))
        row[pl.GENERATION] = self.table.i[slot, pl.GENERATION] + 1
        row[pl.REFS] = 0
        self.held[slot] = keep
        self.table.length_beats[slot] = stem.length_beats
        self.table.i[slot] = row
        return slot

    def collect(self) -> int:
        """Let go of the stems the core released; how many."""
        at = self.table.released_at
        read, written = int(at[pl.READ]), int(at[pl.WRITE])
        ring = self.table.released
        for k in range(read, written):
            slot = int(ring[k % len(ring)])
            self.held[slot] = None
            self.free.append(slot)
        at[pl.READ] = written
        return written - read


class Desk:
    """Commands to the compiled players, and what they play, for the engine's other threads."""

    def __init__(
        self,
        tracks: tuple[str, ...],
        tempo_map: TempoMap,
        max_players: int = 64,
        slots: int = 256,
        ring: int = 1024,
    ) -> None:
        self.tracks = tuple(tracks)
        self.players = pl.make_players(len(self.tracks), max_players)
        self.stems = pl.make_stem_table(slots)
        self.maps = tempo.make_maps(tempo_map, capacity=tempo.CAPACITY)
        self.ring = cm.make_ring(ring)
        self.shelf = Shelf(self.stems)
        self._tempo_maps: list[TempoMap | None] = [None] * len(self.maps.buffers)
        self._tempo_maps[0] = tempo_map

    # ---- sending ---------------------------------------------------------------------

    def send(self, cmd: object) -> None:
        """Write one of engine.core's Start, Stop, Unqueue, Swap, NewMap, Panic, Mix."""
        ring = self.ring
        capacity = len(ring.i)
        write = int(ring.at[cm.WRITE])
        if write - int(ring.at[cm.READ]) >= capacity:
            raise EngineError(
                f"the engine has not taken the last {capacity} commands; is its audio running?"
            )
        track = getattr(cmd, "track", 0)
        if not 0 <= track < len(self.tracks):
            raise EngineError(f"track {track} does not exist; there are {len(self.tracks)}")
        rec = np.zeros(cm.INT_COLUMNS, np.int64)
        rec[cm.TRACK] = track
        flo = np.array([math.nan, 0.0, 0.0])
        if isinstance(cmd, core.Start | core.Stop):
            rec[cm.KIND] = cm.START if isinstance(cmd, core.Start) else cm.STOP
            rec[cm.SAMPLE] = cmd.sample
            rec[cm.QUANTUM] = self._quantum(cmd.quantum)
            flo[cm.BEAT] = cmd.beat
            if isinstance(cmd, core.Start):
                rec[cm.SLOT] = self.shelf.put(cmd.stem)
        elif isinstance(cmd, core.Unqueue):
            rec[cm.KIND], rec[cm.NAME] = cm.UNQUEUE, self.shelf.name(cmd.stem)
        elif isinstance(cmd, core.Swap):
            rec[cm.KIND], rec[cm.NAME] = cm.SWAP, self.shelf.name(cmd.replaces)
            rec[cm.SLOT] = self.shelf.put(cmd.stem)
        elif isinstance(cmd, core.NewMap):
            buffer = tempo.free_buffer(self.maps, self._pending_maps())
            tempo.encode_map(cmd.tempo_map, self.maps.buffers[buffer])
            self._tempo_maps[buffer] = cmd.tempo_map
            rec[cm.KIND], rec[cm.BUFFER] = cm.NEW_MAP, buffer
        elif isinstance(cmd, core.Panic):
            rec[cm.KIND] = cm.PANIC
        elif isinstance(cmd, core.Mix):
            rec[cm.KIND], rec[cm.AT_ONCE] = cm.MIX, bool(cmd.at_once)
            flo[cm.LEFT], flo[cm.RIGHT] = cmd.left, cmd.right
        else:
            raise EngineError(f"{type(cmd).__name__} is not a command the players take")
        self.send_record(rec, flo)

    def send_record(self, rec: np.ndarray, flo: np.ndarray) -> int:
        """Write one record (any kind, kernel.commands' columns); returns its number, which
        the core has taken once `ring.at[READ]` is past it."""
        ring = self.ring
        capacity = len(ring.i)
        write = int(ring.at[cm.WRITE])
        if write - int(ring.at[cm.READ]) >= capacity:
            raise EngineError(
                f"the engine has not taken the last {capacity} commands; is its audio running?"
            )
        k = write % capacity
        ring.i[k] = rec
        ring.f[k] = flo
        ring.at[cm.WRITE] = write + 1  # last: the record is whole before the core sees it
        return write

    def collect(self) -> int:
        """Let go of the stems the core released; how many (the control thread, often)."""
        return self.shelf.collect()

    @staticmethod
    def _quantum(quantum: str) -> int:
        if quantum not in tempo.QUANTA:
            raise EngineError(f"unknown boundary {quantum!r}; use beat, bar or phrase")
        return tempo.QUANTA[quantum]

    def _pending(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The records sent and not yet taken, oldest first (copies)."""
        ring = self.ring
        capacity = len(ring.i)
        read, write = int(ring.at[cm.READ]), int(ring.at[cm.WRITE])
        return [
            (ring.i[k % capacity].copy(), ring.f[k % capacity].copy()) for k in range(read, write)
        ]

    def _pending_maps(self) -> tuple[int, ...]:
        return tuple(int(r[cm.BUFFER]) for r, _ in self._pending() if r[cm.KIND] == cm.NEW_MAP)

    # ---- reading (any thread; values may be one block old) ---------------------------

    @property
    def position(self) -> int:
        return int(self.players.reg[pl.POSITION])

    @property
    def faults(self) -> int:
        return int(self.players.reg[pl.FAULTS])

    @property
    def state_version(self) -> int:
        return int(self.players.reg[pl.STATE_VERSION])

    @property
    def tempo_map(self) -> TempoMap:
        """The map that plays."""
        return self._tempo_maps[int(self.maps.active[0])]

    def _playing(self):
        """(player, stem) for each active player, from copies of the arrays."""
        ps = self.players
        active = ps.active.copy()
        slots = ps.stem.copy()
        for p in np.flatnonzero(active):
            stem = self.shelf.stem(int(slots[p]))
            if stem is not None:
                yield int(p), stem

    def track_busy(self, track: int) -> bool:
        """Engine.track_busy: whether anything plays on `track`, or is queued to."""
        ps = self.players
        position = self.position
        for p, _ in self._playing():
            if ps.track[p] == track and ps.stop[p] > position:
                return True
        return any(r[cm.KIND] == cm.START and r[cm.TRACK] == track for r, _ in self._pending())

    def queued_start(self, track: int, stem_id: str, after: int) -> int | None:
        """Engine.queued_start: the start of `stem_id` on `track` at or after `after`."""
        ps = self.players
        for p, stem in self._playing():
            if ps.track[p] == track and stem.id == stem_id and ps.start[p] >= after:
                return int(ps.start[p])
        for r, _ in self._pending():
            if r[cm.KIND] == cm.START and r[cm.TRACK] == track:
                stem = self.shelf.stem(int(r[cm.SLOT]))
                if stem is not None and stem.id == stem_id:
                    return int(r[cm.SAMPLE])
        return None

    def next_turn(self, track: int, stem_id: str, after: int) -> int | None:
        """Engine.next_turn: the first sample of the first turn of loop `stem_id` on
        `track` at or after `after`, by the map that plays; None if it does not play."""
        ps = self.players
        tm = self.tempo_map
        for p, stem in self._playing():
            if not (ps.track[p] == track and stem.id == stem_id):
                continue
            start, start_beat = int(ps.start[p]), float(ps.start_beat[p])
            if stem.length_beats <= 0 or start >= after:
                return start
            if start_beat != start_beat:
                start_beat = tm.beat_at(start)
            k = math.ceil((tm.beat_at(after) - start_beat) / stem.length_beats - 1e-9)
            return tm.sample_at(start_beat + k * stem.length_beats)
        return None

    def oldest_turn(self, now: int) -> int:
        """The earliest sample a beat-locked stem that plays still reads the map at: the
        first sample of the turn `now` falls in, found as the core finds it
        (players._turn: from the estimate, back while it lies after `now`; an estimate
        one turn short only makes this earlier). `now` when none plays; a queued stem
        starts after `now`, so it needs nothing older."""
        ps = self.players
        tm = self.tempo_map
        oldest = now
        for p, stem in self._playing():
            start, start_beat = int(ps.start[p]), float(ps.start_beat[p])
            beats = stem.length_beats
            if beats <= 0 or start >= now:
                continue
            if start_beat != start_beat:
                start_beat = tm.beat_at(start)
            k = max(0, math.floor((tm.beat_at(now) - start_beat) / beats))
            turn = start if k == 0 else tm.sample_at(start_beat + k * beats)
            while k > 0 and turn > now:
                k -= 1
                turn = start if k == 0 else tm.sample_at(start_beat + k * beats)
            oldest = min(oldest, turn)
        return oldest

    def snapshot(self) -> list[dict]:
        """Engine.snapshot: what plays and what is queued, per player."""
        ps = self.players
        position = self.position
        rows = []
        for p, stem in self._playing():
            stop = int(ps.stop[p])
            rows.append(
                {
                    "track": self.tracks[int(ps.track[p])],
                    "stem": stem.id,
                    "start": int(ps.start[p]),
                    "stop": None if stop >= core.NEVER else stop,
                    "state": "queued" if ps.start[p] > position else "playing",
                }
            )
        for r, _ in self._pending():
            stem = self.shelf.stem(int(r[cm.SLOT]))
            if r[cm.KIND] == cm.START and stem is not None:
                rows.append(
                    {
                        "track": self.tracks[int(r[cm.TRACK])],
                        "stem": stem.id,
                        "start": int(r[cm.SAMPLE]),
                        "stop": None,
                        "state": "queued",
                    }
                )
        return rows
