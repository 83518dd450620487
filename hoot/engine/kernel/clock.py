"""The monotonic clock, read from compiled code without the GIL.

The audio callback stamps each block with the time it started, so that a MIDI note can be
placed in the block by the time it arrived (hoot.midi stamps arrivals with
`time.monotonic()`). On Linux and macOS that is `clock_gettime(CLOCK_MONOTONIC)`, the
clock `time.monotonic()` reads on Linux; `offset()` measures the difference on platforms
where Python reads another one. The call goes to libc by name (resolved when the machine
code is loaded), not through a ctypes pointer, whose address numba would bake into the
code and so refuse to cache. It costs about 20 ns (vDSO), no system call.
"""

from __future__ import annotations

import sys
import time

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from hoot.engine.kernel.jit import jit

CLOCK_MONOTONIC = 6 if sys.platform == "darwin" else 1  # <time.h> on macOS, Linux
NANOSECOND = 1e-9


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
    """Seconds on the monotonic clock, from compiled code or Python."""
    return _monotonic_ns() * NANOSECOND


def offset(reads: int = 5) -> float:
    """`time.monotonic()` minus `now()`, to put the kernel's stamps on Python's clock: about
    0 on Linux (the same clock; the figure is the reads' own error, a few microseconds)."""
    now()  # load the machine code before timing anything
    best, found = float("inf"), 0.0
    for _ in range(reads):
        before = time.monotonic()
        kernel = now()
        after = time.monotonic()
        if after - before < best:
            best, found = after - before, (before + after) / 2 - kernel
    return found
