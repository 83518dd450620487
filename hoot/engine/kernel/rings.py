"""The memory fences of the kernel's single-producer, single-consumer rings.

A ring is preallocated numpy arrays plus an int64 index array: the producer writes a record,
then bumps its write count; the consumer reads records up to that count, then bumps its read
count; neither ever waits. On x86 the stores are seen in program order anyway; on arm64 (Apple
silicon) they need a release fence before the count is published and an acquire fence after
it is read, or the consumer could read a record before its bytes. Both sides of every ring
are therefore `@jit` functions that put these fences in, even where Python calls them from an
input's thread (kernel.midi_in.write: 1.6 us a message, measured on a shared 2-core VM).
"""

from __future__ import annotations

from numba import types
from numba.extending import intrinsic


@intrinsic
def fence(typingctx):
    """A sequentially consistent memory fence (one instruction; no GIL, no allocation)."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return sig, codegen
