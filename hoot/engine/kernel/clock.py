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

REAL-TIME CODE: `stamp`, `stamp_at`, `sample_at`, `wall_at` and `now` run on the audio
thread: no allocation (the timespec lives on the stack), nothing raises. `now` is the one
clock of the compiled core: the callback's statistics read it too (kernel.callback).
"""

from __future__ import annotations

import math
import sys
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from hoot.engine.kernel.jit import jit
from hoot.engine.live_midi import JUMP, WINDOW

ORIGIN, EARLIER, CURRENT, TURN = range(4)
"""Columns of `Clock.f`: the origin, the earliest origin of the previous half window and of
this one, and the monotonic time this half window ends."""

SAMPLERATE, BLOCK = range(2)
"""Columns of `Clock.i`: samples a second, frames in the latest host block (the constant
delay of live notes)."""

# The monotonic clock from nopython code, as time.monotonic() reads it: CLOCK_MONOTONIC on
# Linux, CLOCK_UPTIME_RAW (mach_absolute_time) on macOS. clock_gettime is called by its C
# name, resolved when the machine code loads (a ctypes pointer would be an address numba
# bakes into the code and so refuses to cache); the timespec lives on the stack. About
# 20 ns through the vDSO, no system call.
CLOCK_MONOTONIC = 8 if sys.platform == "darwin" else 1


@intrinsic
def _monotonic_ns(typingctx):
    """clock_gettime(CLOCK_MONOTONIC) in nanoseconds; timespec is {int64, int64} on LP64."""
    sig = types.int64()

    def codegen(context, builder, signature, args):
        i32, i64 = ir.IntType(32), ir.IntType(64)
        timespec = ir.LiteralStructType([i64, i64])
        fnty = ir.FunctionType(i32, [i32, timespec.as_pointer()])
        clock_gettime = cgutils.get_or_insert_function(builder.module, fnty, "clock_gettime")
        ts = cgutils.alloca_once(builder, timespec)
        builder.call(clock_gettime, [ir.Constant(i32, CLOCK_MONOTONIC), ts])
        seconds = builder.load(cgutils.gep_inbounds(builder, ts, 0, 0))
        nanoseconds = builder.load(cgutils.gep_inbounds(builder, ts, 0, 1))
        return builder.add(builder.mul(seconds, ir.Constant(i64, 1_000_000_000)), nanoseconds)

    return sig, codegen


@jit
def now() -> float:
    """time.monotonic(), to the bit, from compiled code or Python. REAL-TIME."""
    return _monotonic_ns() / 1e9  # as CPython turns nanoseconds into time.monotonic()




class Clock(NamedTuple):
    f: np.ndarray  # float64 (4,): ORIGIN, EARLIER, CURRENT, TURN
    i: np.ndarray  # int64 (2,): SAMPLERATE, BLOCK


def make_clock(samplerate: int) -> Clock:
    f = np.array([math.inf, math.inf, math.inf, -math.inf], np.float64)
    return Clock(f, np.array([samplerate, 0], np.int64))


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
    stamp_at(clock, s0, frames, now())


@jit
def sample_at(clock: Clock, wall: float) -> int:
    """The sample rendering at monotonic time `wall`."""
    return math.floor((wall - clock.f[ORIGIN]) * clock.i[SAMPLERATE] + 0.5)


@jit
def wall_at(clock: Clock, sample: int) -> float:
    """The monotonic time at which `sample` renders."""
    return clock.f[ORIGIN] + sample / clock.i[SAMPLERATE]
