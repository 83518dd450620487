"""Where the engine's samples are in wall time, kept by the compiled core: live_midi.BlockClock
without Python.

Each host block stamps the moment it starts rendering; the origin (the monotonic time at
which sample 0 would have rendered) is the earliest of the last live_midi.WINDOW seconds'
stamps, in two halves, and starts again when a block comes live_midi.JUMP later than the
clock expects. The arithmetic is BlockClock's, in the same order, so `sample_at` and
`wall_at` agree with it to the bit for the same stamps (tests/engine/test_kernel_midi.py).

The stamp reads CLOCK_MONOTONIC itself: clock_gettime, declared to numba as an external
function by its C name, so the machine code calls libc directly and can be cached (a ctypes
function object would be a "dynamic global" numba refuses to cache, and every engine start
would compile it again). It turns it into seconds as
CPython's time.monotonic() does (whole nanoseconds, then one division by 1e9), so a
message the input thread stamped with time.monotonic() compares with it exactly. Linux and
macOS only: macOS's time.monotonic() is mach_absolute_time, which is CLOCK_UPTIME_RAW.

REAL-TIME CODE: `stamp`, `stamp_at`, `sample_at`, `wall_at` and `monotonic` run on the audio
thread: no allocation (the timespec lives in the state), nothing raises.
"""

from __future__ import annotations

import math
import sys
from typing import NamedTuple

import numpy as np
from numba import types

from hoot.engine.kernel.jit import i64_pointer, jit
from hoot.engine.live_midi import JUMP, WINDOW

ORIGIN, EARLIER, CURRENT, TURN = range(4)
"""Columns of `Clock.f`: the origin, the earliest origin of the previous half window and of
this one, and the monotonic time this half window ends."""

SAMPLERATE, BLOCK = range(2)
"""Columns of `Clock.i`: samples a second, frames in the latest host block (the constant
delay of live notes)."""

CLOCK_ID = 8 if sys.platform == "darwin" else 1  # CLOCK_UPTIME_RAW, CLOCK_MONOTONIC

_clock_gettime = types.ExternalFunction(
    "clock_gettime", types.intc(types.intc, types.CPointer(types.int64))
)


class Clock(NamedTuple):
    f: np.ndarray  # float64 (4,): ORIGIN, EARLIER, CURRENT, TURN
    i: np.ndarray  # int64 (2,): SAMPLERATE, BLOCK
    timespec: np.ndarray  # int64 (2,): seconds, nanoseconds, clock_gettime's answer


def make_clock(samplerate: int) -> Clock:
    f = np.array([math.inf, math.inf, math.inf, -math.inf], np.float64)
    return Clock(f, np.array([samplerate, 0], np.int64), np.zeros(2, np.int64))


@jit
def monotonic(clock: Clock) -> float:
    """time.monotonic(), to the bit, from nopython code. REAL-TIME."""
    ts = clock.timespec
    _clock_gettime(CLOCK_ID, i64_pointer(np.int64(ts.ctypes.data)))
    ns = ts[0] * 1000000000 + ts[1]
    return ns / 1e9


@jit
def stamp_at(clock: Clock, s0: int, frames: int, now: float) -> None:
    """A host block of `frames` from sample `s0` began rendering at monotonic time `now`."""
    f = clock.f
    origin = now - s0 / clock.i[SAMPLERATE]
    if origin - f[ORIGIN] > JUMP:  # the stream started again: so does the clock
        f[EARLIER] = np.inf
        f[CURRENT] = np.inf
        f[TURN] = -np.inf
    if now >= f[TURN]:
        f[EARLIER] = f[CURRENT]
        f[CURRENT] = origin
        f[TURN] = now + WINDOW / 2
    elif origin < f[CURRENT]:
        f[CURRENT] = origin
    f[ORIGIN] = min(f[EARLIER], f[CURRENT])
    clock.i[BLOCK] = frames


@jit
def stamp(clock: Clock, s0: int, frames: int) -> None:
    """A host block of `frames` from sample `s0` begins rendering now. REAL-TIME."""
    stamp_at(clock, s0, frames, monotonic(clock))


@jit
def sample_at(clock: Clock, wall: float) -> int:
    """The sample rendering at monotonic time `wall`."""
    return math.floor((wall - clock.f[ORIGIN]) * clock.i[SAMPLERATE] + 0.5)


@jit
def wall_at(clock: Clock, sample: int) -> float:
    """The monotonic time at which `sample` renders."""
    return clock.f[ORIGIN] + sample / clock.i[SAMPLERATE]
