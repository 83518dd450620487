"""C functions called from the compiled core through their addresses.

The kernel calls libfluidsynth (SoundFont voices) and libjack (clock out's frame time), both
optional: a machine without JACK, or without libfluidsynth, must still run the core. A
function numba knows by its C name (`types.ExternalFunction`) is linked when the machine
code is loaded, so the whole core would fail to load where the library is absent; a ctypes
function object would be a "dynamic global" numba refuses to cache. So the Python side takes
each function's address once (`address`), keeps it in the state's int64 arrays, and the
kernel calls through it (`c_function`): cached, linked to nothing, and a library that is
never loaded is never asked for.

Arguments are passed with exactly the declared numba types (np.intc(...) for a C int, a
`void_pointer(...)` for a pointer): no conversion happens on the way.
"""

from __future__ import annotations

import ctypes

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


def address(function: ctypes._CFuncPtr) -> int:
    """The address of a ctypes function, for `c_function`'s first argument."""
    return ctypes.cast(function, ctypes.c_void_p).value


def c_function(restype: types.Type, *argtypes: types.Type):
    """A kernel-callable `call(address, *args)` for a C function of this signature."""
    signature = restype(types.int64, types.StarArgTuple.from_types(argtypes))

    @intrinsic
    def call(typingctx, function, *args):
        def codegen(context, builder, sig, llargs):
            llvm_type = ir.FunctionType(
                context.get_value_type(restype), [context.get_value_type(t) for t in argtypes]
            )
            pointer = builder.inttoptr(llargs[0], llvm_type.as_pointer())
            values = [builder.extract_value(llargs[1], k) for k in range(len(argtypes))]
            return builder.call(pointer, values)

        return signature, codegen

    return call


@intrinsic
def void_pointer(typingctx, value):
    """An int64 address as a C `void *` (no GIL, no copy)."""
    sig = types.voidptr(types.int64)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.voidptr))

    return sig, codegen
