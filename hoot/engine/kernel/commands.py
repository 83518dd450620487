"""The command ring: what Python tells the compiled players, taken at a block's start.

Engine.inbox was a deque of dataclasses the callback popped; the core cannot read Python
objects, so each command becomes one record of fixed columns in a preallocated ring
(kernel.desk.Desk writes them). One writer (Python: it writes the record, then bumps
`at[WRITE]`) and one reader (the core: it applies the record, then bumps `at[READ]`), so no
lock: each index is written by one side only and a record is complete before the index
that shows it moves. 1024 records hold some 20 seconds of a flooding MIDI controller's
mix moves at the 60 a second the control side sends at most.

A MIX record is not the players' business: `take_commands` copies it into `mix_i` and
`mix_f`, consumes it and returns MIX, and the caller hands it to the mixer (kernel.mix's
set_mix) before calling `take_commands` again, so commands still apply in the order sent.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hoot.engine.kernel import events as ev
from hoot.engine.kernel import players as pl
from hoot.engine.kernel.jit import jit
from hoot.engine.kernel.tempo import Maps

START, STOP, UNQUEUE, SWAP, NEW_MAP, PANIC, MIX = range(1, 8)
"""Record kinds: engine.core's Start, Stop, Unqueue, Swap, NewMap, Panic, Mix."""

FOREIGN = 16
"""Kinds from FOREIGN on belong to other parts of the core (kernel.world): handed on as MIX
is."""

KIND, TRACK, SLOT, SAMPLE, QUANTUM, NAME, BUFFER, AT_ONCE = range(8)
INT_COLUMNS = 8
"""Integer columns: SLOT is a stem table slot (Start, Swap), NAME a stem's name (Unqueue's
stem, Swap's `replaces`), BUFFER the map buffer a NEW_MAP names, AT_ONCE a Mix's flag."""

BEAT, LEFT, RIGHT = range(3)
FLOAT_COLUMNS = 3
"""Float columns: a Start's or Stop's beat (NaN for none), a Mix's gains."""

WRITE, READ = pl.WRITE, pl.READ


class CommandRing(NamedTuple):
    i: np.ndarray  # int64 (capacity, INT_COLUMNS)
    f: np.ndarray  # float64 (capacity, FLOAT_COLUMNS)
    at: np.ndarray  # int64 (2,): WRITE (Python), READ (the core)
    mix_i: np.ndarray  # int64 (INT_COLUMNS,): the MIX record handed on
    mix_f: np.ndarray  # float64 (FLOAT_COLUMNS,)


def make_ring(capacity: int = 1024) -> CommandRing:
    return CommandRing(
        np.zeros((capacity, INT_COLUMNS), np.int64),
        np.zeros((capacity, FLOAT_COLUMNS), np.float64),
        np.zeros(2, np.int64),
        np.zeros(INT_COLUMNS, np.int64),
        np.zeros(FLOAT_COLUMNS, np.float64),
    )


@jit
def take_commands(
    ring: CommandRing,
    ps: pl.PlayerState,
    st: pl.StemTable,
    maps: Maps,
    s0: int,
    events: ev.Events,
) -> int:
    """Apply the records sent before this block (Engine._apply); stop at a MIX or a FOREIGN
    kind and return it (its record in `ring.mix_i`, `ring.mix_f`), after a PANIC return
    PANIC, or return 0 when none is left."""
    capacity = ring.i.shape[0]
    tracks = ps.hardware.shape[0]
    while ring.at[READ] < ring.at[WRITE]:
        k = ring.at[READ] % capacity
        r = ring.i[k]
        kind = r[KIND]
        track = r[TRACK]
        if kind != NEW_MAP and kind != PANIC and kind < FOREIGN and not 0 <= track < tracks:
            ps.reg[pl.FAULTS] += 1  # Python checks tracks; a stray record is dropped
            ring.at[READ] += 1
            continue
        if kind == START:
            pl.start(ps, st, maps, track, r[SLOT], r[SAMPLE], ring.f[k, BEAT], r[QUANTUM], s0)
        elif kind == STOP:
            pl.stop(ps, st, maps, track, r[SAMPLE], ring.f[k, BEAT], r[QUANTUM], s0, events)
        elif kind == UNQUEUE:
            pl.unqueue(ps, st, track, r[NAME], s0)
        elif kind == SWAP:
            pl.swap(ps, st, maps, track, r[SLOT], r[NAME], s0)
        elif kind == NEW_MAP:
            pl.new_map(ps, maps, r[BUFFER], s0)
        elif kind == PANIC:
            pl.panic(ps, st, s0, events)
            ps.reg[pl.STATE_VERSION] += 1
            ring.at[READ] += 1
            return PANIC  # the caller ends the live inputs' notes too
        elif kind == MIX or kind >= FOREIGN:
            ring.mix_i[:] = r
            ring.mix_f[:] = ring.f[k]
            ring.at[READ] += 1
            ps.reg[pl.STATE_VERSION] += 1
            return kind
        else:
            ps.reg[pl.FAULTS] += 1
            ring.at[READ] += 1
            continue
        ps.reg[pl.STATE_VERSION] += 1
        ring.at[READ] += 1
    return 0
