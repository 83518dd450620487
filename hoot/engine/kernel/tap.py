"""The recorder's tap, compiled: copy each block into the ring the writer process drains.
REAL-TIME CODE (see the package docstring for the rules).

A port of `Recorder.tap` (hoot/engine/recorder.py, which stays as the tests' oracle) over
the recorder's own arrays, so the writer side is unchanged: the same ring (row 0 the
master, row 1 + i track i), the same running totals of frames in `pos` ([0] put in, which
the tap publishes only after the copy; [1] taken out, which the writer publishes), the same
rule when the ring lacks room (the whole block is dropped and counted). The recorder's
armed, tap-tracks, in-tap and dropped-frames attributes live in its `_flags` array, which
this tap reads and writes without the GIL.

Ordering, which numpy could not give the Python tap: a release fence between the copy and
the publish (a compiler barrier on x86-64, a real barrier on ARM), and a full fence between
raising the in-tap flag and reading the armed flag, the tap's half of the handshake with
`Recorder.stop` (which lowers armed, then waits for in-tap to fall).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import types
from numba.extending import intrinsic

from hoot.engine.kernel.jit import jit
from hoot.engine.recorder import ARMED, DROPPED, IN_TAP, TAP_TRACKS


class TapState(NamedTuple):
    ring: np.ndarray  # float32 (1 + T, capacity, 2), in the memory the writer maps
    pos: np.ndarray  # int64 (2,): frames ever put in, frames ever taken out
    flags: np.ndarray  # int64 (4,): ARMED, TAP_TRACKS, IN_TAP, DROPPED (frames)


def _fence_intrinsic(ordering: str):
    @intrinsic
    def fence(typingctx):
        """A memory fence: no load or store moves across it, in the compiler or the CPU."""

        def codegen(context, builder, signature, args):
            builder.fence(ordering)
            return context.get_dummy_value()

        return types.void(), codegen

    return fence


_release = _fence_intrinsic("release")
_full = _fence_intrinsic("seq_cst")


@jit
def tap(ts: TapState, master: np.ndarray, tracks: np.ndarray, frames: int) -> None:
    """Copy the first `frames` frames of the block into the ring when the recorder is armed:
    `master` float32 (>= frames, 2), `tracks` float32 (T, >= frames, 2), copied only when
    the recording takes tracks. A block the ring has no room for, or shorter buffers than
    `frames`, is dropped whole and its frames counted in DROPPED."""
    flags = ts.flags
    flags[IN_TAP] = 1
    _full()
    if flags[ARMED] != 0 and frames > 0:
        ring, pos = ts.ring, ts.pos
        capacity = ring.shape[1]
        write = pos[0]
        short = master.shape[0] < frames or (flags[TAP_TRACKS] != 0 and tracks.shape[1] < frames)
        if short or frames > capacity - (write - pos[1]):
            flags[DROPPED] += frames
        else:
            start = write % capacity
            first = min(frames, capacity - start)  # frames before the ring wraps
            _copy(ring, 0, master, start, first, frames)
            if flags[TAP_TRACKS] != 0:
                for t in range(min(tracks.shape[0], ring.shape[0] - 1)):
                    _copy(ring, 1 + t, tracks[t], start, first, frames)
            _release()  # the copy is visible before the new total is
            pos[0] = write + frames
    _full()
    flags[IN_TAP] = 0


@jit
def _copy(ring, row, block, start, first, frames) -> None:
    """block[:frames] into ring[row] from slot `start`, wrapping after `first` frames."""
    for k in range(first):
        ring[row, start + k, 0] = block[k, 0]
        ring[row, start + k, 1] = block[k, 1]
    for k in range(first, frames):
        ring[row, k - first, 0] = block[k, 0]
        ring[row, k - first, 1] = block[k, 1]
