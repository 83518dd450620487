"""MIDI clock out, the compiled core's part: each block says where it is, and nothing more.

ClockOut's paths (hoot.engine.clock_out) used to compute their ticks in the audio callback.
Ticks depend only on the tempo map, whose changes all lie in the future (EngineControl puts
every tempo, meter and transport change at least its margin, 50 ms plus 2048 frames, after
the engine's position), so they can be computed off the audio thread. The audio thread only
publishes, for each block, `(s0, n, origin, frame)` into the path's ring:

- s0, n: the block's first sample and its frames;
- origin: the block clock's origin after this block's stamp (hoot.engine.kernel.clock), so
  sample s renders at origin + s / samplerate: the rtmidi path stamps its ticks by it;
- frame: JACK's `jack_last_frame_time` at the block's start (the JACK path: engine sample s
  goes out at JACK frame s + frame - s0), read by calling libjack from nopython code through
  the function's address (hoot.engine.kernel.cfunc: a machine without JACK still loads the
  core); 0 on the rtmidi path.

The path's own thread (the rtmidi sender; JACK's process callback for the JACK path) reads
the ring. RING blocks (64) are 0.34 s at 256 frames, while the reader looks every
millisecond (rtmidi) or every JACK period; a full ring drops the newest block and counts
it in `dropped`: the reader keeps the clock of the last one it read.

REAL-TIME CODE: `publish`, `publish_clock` and `publish_jack` run on the audio thread:
no allocation, nothing raises.
"""

from __future__ import annotations

import ctypes.util
from typing import NamedTuple

import numpy as np
from numba import types

from hoot.engine.kernel import clock as kclock
from hoot.engine.kernel.cfunc import address, c_function, void_pointer
from hoot.engine.kernel.jit import jit
from hoot.engine.kernel.rings import fence

RING = 64

WRITTEN, READ, DROPPED = range(3)
"""`BlockRing.index`: blocks written (the audio thread), read (the path's thread), dropped
because the ring was full."""

_last_frame_time = c_function(types.uint32, types.voidptr)


class BlockRing(NamedTuple):
    s0: np.ndarray  # int64 (RING,)
    n: np.ndarray  # int64 (RING,)
    origin: np.ndarray  # float64 (RING,)
    frame: np.ndarray  # int64 (RING,)
    index: np.ndarray  # int64 (3,): WRITTEN, READ, DROPPED


def make_block_ring(ring: int = RING) -> BlockRing:
    return BlockRing(
        np.zeros(ring, np.int64),
        np.zeros(ring, np.int64),
        np.zeros(ring, np.float64),
        np.zeros(ring, np.int64),
        np.zeros(3, np.int64),
    )


def jack_client(client) -> np.ndarray:
    """For `publish_jack`: the addresses of a JACK-Client `jack.Client`'s C client and of
    libjack's `jack_last_frame_time`. The caller keeps `client` open for as long as the
    audio thread may publish with it."""
    import jack

    libjack = ctypes.CDLL(ctypes.util.find_library("jack") or "libjack.so.0")
    client_address = int(jack._ffi.cast("uintptr_t", client._ptr))
    return np.array([client_address, address(libjack.jack_last_frame_time)], np.int64)


# ---- the audio thread ---------------------------------------------------------------------


@jit
def publish(ring: BlockRing, s0: int, n: int, origin: float, frame: int) -> None:
    """Block [s0, s0 + n) began; sample s renders at origin + s / samplerate, and (JACK) the
    cycle began at `frame`. REAL-TIME."""
    index = ring.index
    written = index[WRITTEN]
    size = ring.s0.shape[0]
    if written - index[READ] >= size:
        index[DROPPED] += 1
        return
    k = written % size
    ring.s0[k] = s0
    ring.n[k] = n
    ring.origin[k] = origin
    ring.frame[k] = frame
    fence()  # the record before the count that publishes it
    index[WRITTEN] = written + 1


@jit
def publish_clock(ring: BlockRing, clock: kclock.Clock, s0: int, n: int) -> None:
    """The rtmidi path's record, after the block clock's stamp. REAL-TIME."""
    publish(ring, s0, n, clock.f[kclock.ORIGIN], 0)


@jit
def publish_jack(ring: BlockRing, jack: np.ndarray, s0: int, n: int) -> None:
    """The JACK path's record: `jack` from `jack_client`. REAL-TIME."""
    frame = _last_frame_time(jack[1], void_pointer(jack[0]))
    publish(ring, s0, n, 0.0, np.int64(frame))


# ---- the path's thread --------------------------------------------------------------------


@jit
def take(ring: BlockRing, blocks: np.ndarray, origins: np.ndarray) -> int:
    """Copy the blocks published since the last take (at most len(origins)), oldest first:
    rows (s0, n, frame) of int64 `blocks`, and `origins`; free their places; returns how
    many."""
    index = ring.index
    written = index[WRITTEN]
    fence()  # the count before the records it publishes
    read = index[READ]
    size = ring.s0.shape[0]
    count = min(written - read, origins.shape[0])
    for j in range(count):
        k = (read + j) % size
        blocks[j, 0] = ring.s0[k]
        blocks[j, 1] = ring.n[k]
        blocks[j, 2] = ring.frame[k]
        origins[j] = ring.origin[k]
    fence()  # the copies before the places are given back
    index[READ] = read + count
    return count
