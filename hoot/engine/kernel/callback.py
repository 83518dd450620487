"""The audio callback as machine code: PortAudio calls the compiled core without the GIL.

Why: in CPython a Python callback waits for the GIL, and any thread of the engine process
that holds it (a long C call, a busy loop) makes the audio late. Measured on the project's
2-core machine (JACK dummy, 48 kHz, 256 frames): a Python callback ran 13 of about 979
blocks beside a thread holding the GIL in `sum(range(20_000_000))`; a numba `@cfunc` handed
to PortAudio ran 1057 of 1057 (research/controllers-sync.md §2.4).

How: `build_callback(process, world)` makes a C function with PortAudio's
`PaStreamCallback` signature that calls the `@jit` function
`process(world, inp, out, frames, in_channels)`. `world` is a NamedTuple of C-contiguous
numpy arrays (NamedTuples of arrays nest). PortAudio hands the callback one pointer of our
choice, `userData`: it points to the *directory*, an int64 array of every array's address
and shape, in a fixed order. The callback rebuilds each array with `numba.carray` (a view,
no copy, no allocation) and the NamedTuples around them, then calls `process`.

Since numba caches only functions defined in real files, the unpacking code is generated
as a small module per layout (which arrays, their dtypes and dimensions; not their sizes,
which the directory carries) and written to the user's cache folder
(`cache.kernel_dir()`), named by a fingerprint of its own text, the numba and Python
versions and the source of the kernel package and of the modules `process` and the world
come from. numba's cache does not notice when a function the callback calls changes; the
fingerprint does, because a changed kernel gives a new file, hence a cold cache, never a
stale one. A cold cache compiles (the engine says so, and how long it took); a warm one
loads the machine code.

Each callback also keeps `Stats`: callbacks run, frames, PortAudio's status flags (output
underflow, input overflow), and per block, in rings of HISTORY entries, the monotonic time
it started (`now()`, the clock `time.monotonic()` reads, to the bit), the sample index of its
first frame and how long it took.

REAL-TIME CODE: the generated callback, `begin` and `end` run on the audio thread: no
allocation, no Python objects, nothing raises.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numba
import numpy as np
from numba import types
from numba.core.caching import FunctionCache

from hoot.engine.kernel import COMPILING, cache
from hoot.engine.kernel.cfunc import address, c_function, void_pointer
from hoot.engine.kernel.clock import now
from hoot.engine.kernel.jit import jit

HISTORY = 4096  # blocks kept in the rings: 21 s at 256 frames; a power of two so a mask wraps
CALLBACKS, FRAMES, UNDERFLOWS, OVERFLOWS, FLAGS, LAST_FRAMES = range(6)
COUNTERS = 8
"""Columns of `Stats.counters`: callbacks run, frames played, blocks PortAudio flagged as an
output underflow, as an input overflow, every flag seen (OR'd), the last block's frames."""

INPUT_UNDERFLOW, INPUT_OVERFLOW, OUTPUT_UNDERFLOW, OUTPUT_OVERFLOW, PRIMING_OUTPUT = (
    1, 2, 4, 8, 16)  # fmt: skip
"""PortAudio's PaStreamCallbackFlags."""


# PortAudio's `unsigned long` (frameCount, statusFlags): 64 bits on Linux and macOS, 32 on
# Windows.
_ULONG = types.uint64 if ctypes.sizeof(ctypes.c_ulong) == 8 else types.uint32
SIGNATURE = types.int32(
    types.CPointer(types.float32),  # input: interleaved float32, or NULL without inputs
    types.CPointer(types.float32),  # output: interleaved float32
    _ULONG,  # frameCount
    types.CPointer(types.float64),  # timeInfo: adc time, current time, dac time
    _ULONG,  # statusFlags
    types.CPointer(types.int64),  # userData: the directory
)
"""PaStreamCallback, as numba types (float32 samples, the directory as userData)."""

HEADER = 2  # directory: input channels, output channels, then every array
POINTERS = {
    np.dtype(np.float32): "f32_pointer",
    np.dtype(np.float64): "f64_pointer",
    np.dtype(np.int64): "i64_pointer",
    np.dtype(np.int32): "i32_pointer",
    np.dtype(np.uint8): "u8_pointer",
    np.dtype(np.bool_): "b1_pointer",
}
"""dtypes an array of the world may have, with the intrinsic that makes their pointer."""

Process = Callable[..., None]

GETSCHEDULER, GETPARAM, SETSCHEDULER, WANTED, KEEP, PRIORITY = range(6)
"""`Stats.sched`: the addresses of libc's sched_getscheduler, sched_getparam and
sched_setscheduler (0 where the platform has none), the SCHED_FIFO priority hoot asks for,
whether to keep any real-time priority the thread already has (a JACK client's), and the
priority the audio thread runs at once its first block has asked (-1 until then, or where
the platform cannot say): realtime.raise_this_thread, from compiled code."""
SCHED_FIFO, SCHED_RR, SCHED_RESET_ON_FORK = 1, 2, 0x40000000

_c_int = types.intc
_sched_get = c_function(_c_int, _c_int)
_sched_getparam = c_function(_c_int, _c_int, types.voidptr)
_sched_set = c_function(_c_int, _c_int, _c_int, types.voidptr)


class Stats(NamedTuple):
    counters: np.ndarray  # int64 (COUNTERS,)
    block_time: np.ndarray  # float64 (HISTORY,): monotonic seconds when the block began
    block_sample: np.ndarray  # int64 (HISTORY,): frames played before the block
    render_time: np.ndarray  # float64 (HISTORY,): seconds the callback took
    sched: np.ndarray  # int64 (6,): GETSCHEDULER .. PRIORITY
    param: np.ndarray  # int32 (2,): a struct sched_param


def _libc_address(name: str) -> int:
    if not sys.platform.startswith("linux"):
        return 0  # macOS's and Windows' audio threads are real-time by other means
    try:
        return address(getattr(ctypes.CDLL(None), name))
    except (AttributeError, OSError):
        return 0


def make_stats(priority: int = 0, keep_realtime: bool = True) -> Stats:
    """Stats for one stream; its first block makes the audio thread SCHED_FIFO at
    `priority` (0: never ask) unless, with `keep_realtime`, it already runs real-time."""
    sched = np.array(
        [
            _libc_address("sched_getscheduler"),
            _libc_address("sched_getparam"),
            _libc_address("sched_setscheduler"),
            priority,
            1 if keep_realtime else 0,
            -1,
        ],
        np.int64,
    )
    return Stats(
        np.zeros(COUNTERS, np.int64),
        np.zeros(HISTORY, np.float64),
        np.zeros(HISTORY, np.int64),
        np.zeros(HISTORY, np.float64),
        sched,
        np.zeros(2, np.int32),
    )


@jit
def _this_thread(stats: Stats) -> int:
    """realtime.this_thread: 1-99 under SCHED_FIFO/RR, 0 normal, -1 unknown."""
    s = stats.sched
    if s[GETSCHEDULER] == 0 or s[GETPARAM] == 0:
        return -1
    policy = _sched_get(s[GETSCHEDULER], np.intc(0))
    if policy < 0:
        return -1
    policy = policy & ~np.intc(SCHED_RESET_ON_FORK)
    if policy != SCHED_FIFO and policy != SCHED_RR:
        return 0
    if _sched_getparam(s[GETPARAM], np.intc(0), void_pointer(np.int64(stats.param.ctypes.data))):
        return -1
    return np.int64(stats.param[0])


@jit
def raise_priority(stats: Stats) -> None:
    """realtime.raise_this_thread for the audio thread, from its first block. REAL-TIME
    (one system call, once)."""
    s = stats.sched
    current = _this_thread(stats)
    wanted = s[WANTED]
    if wanted > 0 and current >= 0 and current < wanted and not (current and s[KEEP]):
        if s[SETSCHEDULER] != 0:
            stats.param[0] = np.int32(wanted)
            _sched_set(s[SETSCHEDULER], np.intc(0), np.intc(SCHED_FIFO),
                       void_pointer(np.int64(stats.param.ctypes.data)))  # fmt: skip
            current = _this_thread(stats)
    s[PRIORITY] = current


@jit
def begin(stats: Stats, frames: int, flags: int) -> float:
    """Stamp the block that starts now; return the time. REAL-TIME."""
    c = stats.counters
    if c[CALLBACKS] == 0:
        raise_priority(stats)
    began = now()
    k = c[CALLBACKS] & (HISTORY - 1)
    stats.block_time[k] = began
    stats.block_sample[k] = c[FRAMES]
    if flags & OUTPUT_UNDERFLOW:
        c[UNDERFLOWS] += 1
    if flags & INPUT_OVERFLOW:
        c[OVERFLOWS] += 1
    c[FLAGS] |= flags
    c[LAST_FRAMES] = frames
    return began


@jit
def end(stats: Stats, frames: int, began: float) -> None:
    """Account for the block that began at `began`. REAL-TIME. The count goes up last, so a
    reader that sees it sees the block's figures."""
    c = stats.counters
    stats.render_time[c[CALLBACKS] & (HISTORY - 1)] = now() - began
    c[FRAMES] += frames
    c[CALLBACKS] += 1


class Layout(NamedTuple):
    """What the generated code depends on: the source of the world's constructor, the
    imports it needs and the arrays in directory order."""

    expression: str
    imports: dict[str, tuple[str, str]]  # alias -> (module, qualified name)
    arrays: list[np.ndarray]


def layout(world: Any, stats: Stats) -> Layout:
    """Walk `world` (and `stats`, first) into the directory's order; a world the callback
    cannot carry raises ValueError saying what to change."""
    imports: dict[str, tuple[str, str]] = {}
    arrays: list[np.ndarray] = []
    slot = [HEADER]

    def walk(node: Any, where: str) -> str:
        if isinstance(node, np.ndarray):
            if node.dtype not in POINTERS:
                raise ValueError(
                    f"{where} is {node.dtype}; the callback carries "
                    f"{', '.join(str(d) for d in POINTERS)} arrays"
                )
            if node.ndim < 1 or not node.flags.c_contiguous or not node.flags.writeable:
                raise ValueError(f"{where} must be a writeable C-contiguous array of 1+ dims")
            at = slot[0]
            slot[0] += 1 + node.ndim
            arrays.append(node)
            shape = "".join(f"d[{at + 1 + i}], " for i in range(node.ndim))
            return f"carray({POINTERS[node.dtype]}(d[{at}]), ({shape}))"
        cls = type(node)
        if type(node) is tuple and node:  # a plain tuple (a map's buffers): each item walked
            items = ", ".join(walk(x, f"{where}[{k}]") for k, x in enumerate(node))
            return f"({items},)"
        if not (isinstance(node, tuple) and hasattr(cls, "_fields")):
            raise ValueError(f"{where} is a {cls.__name__}; a world holds arrays and NamedTuples")
        module = sys.modules.get(cls.__module__)
        if module is None or getattr(module, cls.__qualname__, None) is not cls:
            raise ValueError(
                f"{cls.__qualname__} must be defined at the top of a module, so that the "
                "generated callback can import it"
            )
        alias = f"T{len(imports)}"
        for name, (mod, qual) in imports.items():
            if (mod, qual) == (cls.__module__, cls.__qualname__):
                alias = name
        imports[alias] = (cls.__module__, cls.__qualname__)
        fields = (walk(getattr(node, f), f"{where}.{f}") for f in cls._fields)
        return f"{alias}({', '.join(fields)})"

    stats_expression = walk(stats, "stats")
    expression = walk(world, "world")
    return Layout(f"{stats_expression}\n    world = {expression}", imports, arrays)


def directory(arrays: list[np.ndarray], in_channels: int, out_channels: int) -> np.ndarray:
    """The int64 array userData points to: channels, then each array's address and shape."""
    entries = [in_channels, out_channels]
    for a in arrays:
        entries += [a.ctypes.data, *a.shape]
    return np.array(entries, np.int64)


def _source(process: Process, shape: Layout, size: int) -> str:
    imports = "\n".join(
        f"from {mod} import {qual} as {alias}" for alias, (mod, qual) in shape.imports.items()
    )
    return f'''"""Generated by hoot.engine.kernel.callback: PortAudio's callback for
{process.__module__}.{process.__qualname__}. Do not edit; a changed kernel gives a new file."""
import numpy as np
from numba import carray

from hoot.engine.kernel import callback as kc
from hoot.engine.kernel.jit import (
    b1_pointer, f32_pointer, f64_pointer, i32_pointer, i64_pointer, u8_pointer
)
from {process.__module__} import {process.__qualname__} as process
{imports}


def callback(inp, out, frame_count, time_info, status_flags, user):
    d = carray(user, ({size},))
    frames = np.int64(frame_count)
    stats = {shape.expression}
    began = kc.begin(stats, frames, np.int64(status_flags))
    in_channels = d[0]
    process(world, carray(inp, (frames, in_channels)), carray(out, (frames, d[1])), frames,
            in_channels)
    kc.end(stats, frames, began)
    return 0
'''


def _fingerprint(source: str, process: Process, shape: Layout) -> str:
    """What the compiled callback depends on: a change in any of it means a new file."""
    digest = hashlib.sha256(source.encode())
    # Python's minor version, not its build: the shipped core (kernel.shipped) names the
    # same file on every 3.11 (numba checks each function's bytecode itself)
    digest.update(f"{numba.__version__} {sys.implementation.name} {sys.version_info[:2]}".encode())
    files = set(Path(__file__).parent.glob("*.py"))
    modules = {process.__module__, *(mod for mod, _ in shape.imports.values())}
    for name in modules:
        path = getattr(sys.modules.get(name), "__file__", None)
        if path:
            files.add(Path(path))
    for path in sorted(files):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _module(source: str, name: str, folder: Path) -> Any:
    """Write the generated module once (atomically: two engines may start together) and
    import it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        partial = folder / f".{name}.{os.getpid()}.tmp"
        partial.write_text(source)
        os.replace(partial, path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _warm(function: Callable[..., Any]) -> bool:
    """Whether numba's cache holds machine code for `function` (current numba, same file)."""
    try:
        return bool(FunctionCache(function)._cache_file._load_index())
    except (AttributeError, OSError):  # numba's private layout changed: assume cold
        return False


class Callback:
    """A compiled PortAudio callback over one world, and everything it points to.

    `address` is the C function pointer and `userdata` the directory's address, for
    `sounddevice._StreamBase(callback=..., userdata=...)`. The object keeps the world, the
    stats and the directory alive: drop it only after the stream is closed. `render` runs
    the same `process` from Python (the offline driver, tests, `hoot render`).
    """

    def __init__(
        self,
        process: Process,
        world: Any,
        stats: Stats,
        in_channels: int,
        out_channels: int,
        cfunc: Any,
        cold: bool,
        seconds: float,
        path: Path,
    ) -> None:
        self.process = process
        self.world = world
        self.stats = stats
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.cold = cold
        self.compile_seconds = seconds
        self.path = path
        self._cfunc = cfunc
        self.directory = directory(layout(world, stats).arrays, in_channels, out_channels)
        self.address: int = cfunc.address
        ulong = ctypes.c_ulong
        pointer = ctypes.c_void_p
        # the same machine code PortAudio calls; ctypes lets go of the GIL around it
        self._call = ctypes.CFUNCTYPE(ctypes.c_int32, pointer, pointer, ulong, pointer, ulong,
                                      pointer)(self.address)  # fmt: skip
        self.userdata: int = self.directory.ctypes.data
        self._silence = np.zeros((0, in_channels), np.float32)

    def render(self, out: np.ndarray, inp: np.ndarray | None = None) -> None:
        """Run `process` on one block from Python: `out` (frames, out_channels) float32;
        `inp` (frames, in_channels), silence when None."""
        frames = out.shape[0]
        if inp is None:
            if self._silence.shape[0] < frames:
                self._silence = np.zeros((frames, self.in_channels), np.float32)
            inp = self._silence[:frames]
        self.process(self.world, inp, out, frames, self.in_channels)

    def call(self, out: np.ndarray) -> None:
        """Run the compiled callback itself on one block (inputs silent), as PortAudio would:
        the null backend's way, so that it too renders without holding the GIL. `out` is
        C-contiguous float32 (frames, out_channels)."""
        if not (out.flags.c_contiguous and out.dtype == np.float32):
            raise ValueError("call() needs a C-contiguous float32 block")
        frames = out.shape[0]
        inp = None
        if self.in_channels:  # a device's inputs were open: they are silent now
            if self._silence.shape[0] < frames:
                self._silence = np.zeros((frames, self.in_channels), np.float32)
            inp = self._silence.ctypes.data
        self._call(inp, out.ctypes.data, frames, None, 0, self.userdata)

    def use_inputs(self, channels: int) -> None:
        """The stream hands the callback `channels` input channels (0: output only). Before
        the stream starts: the compiled code reads the count from the directory."""
        self.in_channels = int(channels)
        self.directory[0] = self.in_channels
        self._silence = np.zeros((0, self.in_channels), np.float32)

    def counter(self, column: int) -> int:
        return int(self.stats.counters[column])

    def recent(self, ring: np.ndarray) -> np.ndarray:
        """A copy of one of the stats' rings, oldest block first (up to HISTORY blocks)."""
        count = min(self.counter(CALLBACKS), HISTORY)
        head = self.counter(CALLBACKS) & (HISTORY - 1)
        return np.roll(ring, -head)[HISTORY - count :].copy()


def build_callback(
    process: Process,
    world: Any,
    in_channels: int = 0,
    out_channels: int = 2,
    stats: Stats | None = None,
    on_message: Callable[[str], None] | None = None,
    folder: Path | None = None,
) -> Callback:
    """Compile (or load) PortAudio's callback for `process` over `world`.

    `process(world, inp, out, frames, in_channels)` must be `@jit`; `inp` is
    (frames, in_channels) float32, `out` (frames, out_channels) float32, both interleaved
    as PortAudio hands them. Pass `stats` to share the arrays with the world (a process
    that reads its own block's start time, say); otherwise new ones are made. When the
    cache is cold, `on_message` hears that the core is compiling, then how long it took.
    """
    stats = stats if stats is not None else make_stats()
    shape = layout(world, stats)
    size = len(directory(shape.arrays, in_channels, out_channels))
    source = _source(process, shape, size)
    name = f"hoot_callback_{_fingerprint(source, process, shape)}"
    module = _module(source, name, folder or cache.kernel_dir())
    cold = not _warm(module.callback)
    if cold and on_message is not None:
        on_message(COMPILING)
    began = time.perf_counter()
    cfunc = numba.cfunc(SIGNATURE, cache=True, nopython=True, nogil=True, error_model="numpy")(
        module.callback
    )
    seconds = time.perf_counter() - began
    if cold and on_message is not None:
        on_message(f"compiled the engine's core in {seconds:.1f} s")
    return Callback(
        process, world, stats, in_channels, out_channels, cfunc, cold, seconds,
        Path(module.__file__),
    )  # fmt: skip
