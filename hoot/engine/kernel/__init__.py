"""The engine's compiled core: the per-block work of `forward()` as numba-compiled code that
an audio callback runs without the GIL (issue 10).

Why numba, not a C extension: numba ships as wheels for CPython 3.10-3.13 on Linux, macOS
and Windows (x86_64 and arm64), so installing hoot needs no compiler on the performer's
machine; `cache=True` keeps the machine code in hoot's cache folder (kernel.cache), and
hoot ships that cache built for the platforms it can (kernel.shipped: Linux x86-64 with
Python 3.11 and 3.12 today), so no first start there compiles; elsewhere only the first
start does. A C extension would need wheels built per platform by us, or a compiler at
install time. The cost is numba plus llvmlite, about 210 MB installed
(research/controllers-sync.md §1.1, §2.4).

How the core is built (every module here follows it):

* State is a `typing.NamedTuple` of preallocated numpy arrays, made once in Python by the
  module's `make_*` function. Scalars that change live in small arrays (a named index into
  an int64 or float64 "registers" array), because a NamedTuple is immutable.
* Per-block functions are `@jit` (hoot.engine.kernel.jit): nopython, no GIL, cached. They
  take states and plain arrays, never Python objects; they allocate nothing, raise nothing
  (bad input is dropped and counted in a faults register), and write only their own state
  and the buffers they are given.
* A call passes its states by value: a function that takes the whole `World` copies every
  array's descriptor (146 arrays: about a microsecond a call on these VMs). What runs every
  block takes only the parts it uses, or is called only when it has work (world._block).
* Every sample is a function of absolute sample indices, so output is identical to the
  bit whatever the block size, as the Python core's was.
* Python stays in charge of what is not per-sample: it writes commands into preallocated
  slots the core reads at the start of a block, and reads status from arrays the core
  writes.
* Note events travel inside a block through `events.Events` (this package): players and
  live inputs append, the sinks (synth voices, SoundFont voices, MIDI outputs) consume in
  order.

The Python classes this core replaces (engine.core.Engine's per-block code,
engine.synth.VoicePool, engine.limiter.Limiter) remain only as the tests' oracle.
"""

COMPILING = "compiling the engine's core (first start only; about two minutes)"
"""What the engine says when its numba cache is cold (kernel.callback), and what
EngineClient.spawn looks for in its log to wait on. Numba-free, so the client need not
import numba to read it."""
