"""The one decorator every kernel function uses.

nopython (no Python objects, so no GIL), `nogil=True` (a kernel called from a Python thread
lets the others run), `cache=True` (compiled once per machine, then loaded from the cache in
well under a second), IEEE arithmetic (no fastmath: reassociation would make output depend
on the block size), no bounds checks on the audio path (indices are checked where they
enter, by the Python side or by explicit tests in the kernel).
"""

from __future__ import annotations

import numba
from numba import types
from numba.extending import intrinsic

from hoot.engine.kernel.cache import configure_numba

configure_numba()  # before any kernel function compiles: see cache.py
jit = numba.njit(cache=True, nogil=True, fastmath=False, boundscheck=False, error_model="numpy")
"""Decorate a kernel function: `@jit`."""


def _pointer_intrinsic(element: types.Type):
    @intrinsic
    def pointer(typingctx, address):
        """An int64 address as a typed pointer, for `numba.carray` (no GIL, no copy)."""
        sig = types.CPointer(element)(types.int64)

        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

        return sig, codegen

    return pointer


f32_pointer = _pointer_intrinsic(types.float32)
f64_pointer = _pointer_intrinsic(types.float64)
i64_pointer = _pointer_intrinsic(types.int64)
b1_pointer = _pointer_intrinsic(types.boolean)
i32_pointer = _pointer_intrinsic(types.int32)
u8_pointer = _pointer_intrinsic(types.uint8)
"""`numba.carray(f32_pointer(address), shape)` views memory Python handed over as an integer
address (`array.ctypes.data`): stem audio, shared-memory rings. The Python side keeps the
array alive for as long as the kernel may read it."""
