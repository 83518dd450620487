"""The input ring: every live input block, shared with other processes, stamped in samples.

The beat tracker and the real-time models (issues 11-13) live in their own processes and
need the inputs as they arrive. The engine writes each input block once into a ring in a
named shared-memory file in hoot's runtime folder (memory, not disk: hoot/runtime.py);
readers in any process open it by name with `RingReader` and follow it. Nothing else of
the inputs is copied on the audio thread, and no reader can hold the engine up: the writer
never looks at its readers. A reader that falls behind by more than the ring holds loses
the oldest blocks, and counts them.

Layout (one file, native byte order): a header of int64 (`H_*`), then per slot an int64
stamp row (SAMPLE: the engine's sample index of the block's first frame, FRAMES, SEQ: the
block number written there, -1 while being written), then float32 audio
(slots x rows x SLOT_FRAMES x 2). A host block longer than a slot takes several slots,
each stamped with its own first sample. 512 slots of 256 frames hold 2.7 s at 256-frame
blocks and 0.68 s at 64-frame blocks; 8 stereo rows take 8 MB.

REAL-TIME: `write_block` runs on the audio thread (compiled, no GIL, nothing allocated).
The order of its stores (SEQ -1, audio, stamp, SEQ, then the header's count) is what lets
a reader tell a torn slot from a whole one; on x86 stores are seen in program order.
"""

from __future__ import annotations

import math
import mmap
import os
import time
import weakref
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hoot.engine.kernel.jit import jit
from hoot.engine.kernel.rings import fence
from hoot.errors import EngineError
from hoot.runtime import runtime_dir

MAGIC = 0x686F6F7472696E67  # "hootring"
SLOT_FRAMES = 256
SLOTS = 512
H_MAGIC, H_WRITTEN, H_ROWS, H_SLOTS, H_SLOT_FRAMES, H_SAMPLERATE = range(6)
HEADER = 8  # int64 slots
SAMPLE, FRAMES, SEQ = range(3)


class Ring(NamedTuple):
    """The ring's arrays, views of its shared memory (what `write_block` takes)."""

    head: np.ndarray  # int64 (HEADER,)
    stamps: np.ndarray  # int64 (slots, 3)
    audio: np.ndarray  # float32 (slots, rows, SLOT_FRAMES, 2)


def ring_size(rows: int, slots: int = SLOTS, slot_frames: int = SLOT_FRAMES) -> int:
    return 8 * HEADER + 8 * 3 * slots + 4 * slots * rows * slot_frames * 2


def _views(buffer, rows: int, slots: int, slot_frames: int) -> Ring:
    head = np.ndarray((HEADER,), np.int64, buffer)
    stamps = np.ndarray((slots, 3), np.int64, buffer, 8 * HEADER)
    audio = np.ndarray(
        (slots, rows, slot_frames, 2), np.float32, buffer, 8 * HEADER + 8 * 3 * slots
    )
    return Ring(head, stamps, audio)


def ring_path(name: str) -> Path:
    """The file of the ring called `name` (a bare name lives in the runtime folder)."""
    path = Path(name)
    return path if path.is_absolute() else runtime_dir() / name


def create_ring(
    name: str, rows: int, samplerate: int, slots: int = SLOTS, slot_frames: int = SLOT_FRAMES
) -> Ring:
    """Create (or reset) the ring file `name` and map it for writing; every page is touched
    here, so the audio thread never takes a first-touch page fault."""
    path = ring_path(name)
    size = ring_size(rows, slots, slot_frames)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.ftruncate(fd, size)
        memory = mmap.mmap(fd, size)
    finally:
        os.close(fd)
    ring = _views(memory, rows, slots, slot_frames)
    ring.audio.fill(0.0)
    ring.stamps.fill(-1)
    ring.head[:] = 0
    ring.head[H_ROWS], ring.head[H_SLOTS], ring.head[H_SLOT_FRAMES] = rows, slots, slot_frames
    ring.head[H_SAMPLERATE] = samplerate
    ring.head[H_MAGIC] = MAGIC  # last: a reader that sees it sees the rest
    return ring


@jit
def write_block(ring: Ring, block: np.ndarray, s0: int, n: int) -> None:
    """Put the first `n` frames of `block` (rows x >=n x 2 float32), whose first frame is
    the engine's sample `s0`, into the ring. REAL-TIME."""
    head, stamps, audio = ring.head, ring.stamps, ring.audio
    slots = audio.shape[0]
    rows = min(audio.shape[1], block.shape[0])
    slot_frames = audio.shape[2]
    done = 0
    while done < n:
        m = min(n - done, slot_frames)
        count = head[H_WRITTEN]
        slot = count % slots
        stamps[slot, SEQ] = -1
        for r in range(rows):
            for i in range(m):
                audio[slot, r, i, 0] = block[r, done + i, 0]
                audio[slot, r, i, 1] = block[r, done + i, 1]
        stamps[slot, SAMPLE] = s0 + done
        stamps[slot, FRAMES] = m
        stamps[slot, SEQ] = count
        head[H_WRITTEN] = count + 1
        done += m


def _fresh_memory(path: Path, size: int) -> mmap.mmap:
    """A new file of `size` bytes at `path`, mapped for writing. A file left under that
    name is unlinked first, so a process still mapping it keeps its own memory and never
    sees this one being laid out."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.ftruncate(fd, size)
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


class RingReader:
    """Follow a ring from another process (or thread): `read()` returns the next block as
    (sample, audio rows x frames x 2), or None when it has caught up. `lost` counts the
    blocks (slots) it fell too far behind to read. It starts at the newest block written,
    or at the oldest still held (`from_oldest`)."""

    def __init__(self, name: str, from_oldest: bool = False) -> None:
        path = ring_path(name)
        try:
            with open(path, "rb") as f:
                memory = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        except (OSError, ValueError) as e:
            raise EngineError(
                f"no input ring {name!r} to read ({e}); is the engine running?"
            ) from None
        head = np.ndarray((HEADER,), np.int64, memory)
        if head[H_MAGIC] != MAGIC:
            raise EngineError(f"{path} is not a hoot input ring")
        self.rows, self.slots = int(head[H_ROWS]), int(head[H_SLOTS])
        self.slot_frames = int(head[H_SLOT_FRAMES])
        self.samplerate = int(head[H_SAMPLERATE])
        self.name = name
        self._ring = _views(memory, self.rows, self.slots, self.slot_frames)
        written = int(head[H_WRITTEN])
        self.next = max(0, written - self.slots) if from_oldest else written
        self.lost = 0

    @property
    def written(self) -> int:
        """Blocks (slots) the engine has written since the ring was made."""
        return int(self._ring.head[H_WRITTEN])

    def read(self) -> tuple[int, np.ndarray] | None:
        ring = self._ring
        while True:
            written = int(ring.head[H_WRITTEN])
            oldest = written - self.slots + 1  # the slot being written next may be torn
            if self.next < oldest:
                self.lost += oldest - self.next
                self.next = oldest
            if self.next >= written:
                return None
            slot = self.next % self.slots
            stamp = ring.stamps[slot].copy()
            if stamp[SEQ] == self.next:
                audio = ring.audio[slot, :, : int(stamp[FRAMES])].copy()
                if ring.stamps[slot, SEQ] == self.next:  # not overwritten while copied
                    self.next += 1
                    return int(stamp[SAMPLE]), audio
            self.lost += 1  # overwritten under us: the writer lapped this reader
            self.next += 1

    def close(self) -> None:
        self._ring = None


# ---- the live-note table ------------------------------------------------------------------
#
# The compiled core's live MIDI inputs (kernel.world.LiveTable: one ring per slot, written by
# a keyboard's thread, read by the audio thread) live in a named shared-memory file too, so
# that real-time models in processes of their own can play a slot (`NoteWriter`) and hear a
# keyboard's notes as they arrive (`NoteReader`). The arrays keep LiveTable's dtypes and
# shapes, so the kernel code is the same; the audio thread never looks at who writes.
#
# Layout (one file, native byte order, every array 8-byte aligned): a header of int64
# (`N_*`), then per slot its `kind` (FREE, PORT: a MIDI input, MODEL: a model process) and
# `gen` (bumped each time the slot is given to an input), the block clock (kernel.clock.Clock's
# f and i: where the engine's samples are in monotonic time), then LiveTable's arrays:
# arrived (slots x ring float64), message (slots x ring x 3 int64), index (slots x 3),
# regs (slots x 7), held and sustained (slots x 128 uint8). 8 slots of 4096 records: 1.1 MB.

NOTE_MAGIC = 0x686F6F746E6F7465  # "hootnote"
N_MAGIC, N_PID, N_SLOTS, N_RING = range(4)
NOTE_HEADER = 8  # int64 slots
FREE, PORT, MODEL = 0, 1, 2
"""`NoteMemory.kind`: what writes a slot: nothing, a MIDI input's thread, a model process."""
REGS = 7  # kernel.midi_in.LiveInput.regs
CLOCK_F, CLOCK_I = 4, 2  # kernel.clock.Clock's arrays


class NoteMemory(NamedTuple):
    """The live-note table's arrays, views of its shared memory."""

    head: np.ndarray  # int64 (NOTE_HEADER,)
    kind: np.ndarray  # int64 (slots,): FREE, PORT, MODEL
    gen: np.ndarray  # int64 (slots,): bumped when the slot is given to an input
    clock_f: np.ndarray  # float64 (4,): kernel.clock.Clock.f
    clock_i: np.ndarray  # int64 (2,): kernel.clock.Clock.i
    arrived: np.ndarray  # float64 (slots, ring)
    message: np.ndarray  # int64 (slots, ring, 3)
    index: np.ndarray  # int64 (slots, 3): WRITTEN, READ, DROPPED
    regs: np.ndarray  # int64 (slots, REGS)
    held: np.ndarray  # uint8 (slots, 128)
    sustained: np.ndarray  # uint8 (slots, 128)


def _note_layout(slots: int, ring: int) -> list[tuple[str, tuple[int, ...], type]]:
    return [
        ("head", (NOTE_HEADER,), np.int64),
        ("kind", (slots,), np.int64),
        ("gen", (slots,), np.int64),
        ("clock_f", (CLOCK_F,), np.float64),
        ("clock_i", (CLOCK_I,), np.int64),
        ("arrived", (slots, ring), np.float64),
        ("message", (slots, ring, 3), np.int64),
        ("index", (slots, 3), np.int64),
        ("regs", (slots, REGS), np.int64),
        ("held", (slots, 128), np.uint8),
        ("sustained", (slots, 128), np.uint8),
    ]


def note_size(slots: int, ring: int) -> int:
    return sum(
        int(np.prod(shape)) * np.dtype(dtype).itemsize
        for _, shape, dtype in _note_layout(slots, ring)
    )


def _note_views(buffer, slots: int, ring: int) -> NoteMemory:
    arrays, offset = [], 0
    for _, shape, dtype in _note_layout(slots, ring):
        arrays.append(np.ndarray(shape, dtype, buffer, offset))
        offset += int(np.prod(shape)) * np.dtype(dtype).itemsize
    return NoteMemory(*arrays)


def create_note_table(name: str, slots: int, ring: int) -> NoteMemory:
    """Create the live-note table file `name` (a bare name lives in the runtime folder) for
    `slots` slots of `ring` records, owned by this process, every slot free, every page
    touched (the audio thread takes no first-touch fault). A file left under that name is
    unlinked first: a model still mapping it keeps its old memory, never the new table."""
    from hoot.engine.kernel import midi_in  # numba's world: only where an engine is made

    path = ring_path(name)
    memory = _fresh_memory(path, note_size(slots, ring))
    table = _note_views(memory, slots, ring)
    for array in table[1:]:
        array.fill(0)
    table.regs[:, midi_in.TRACK] = -1
    table.head[:] = 0
    table.head[N_PID], table.head[N_SLOTS], table.head[N_RING] = os.getpid(), slots, ring
    table.head[N_MAGIC] = NOTE_MAGIC  # last: a reader that sees it sees the rest
    return table


def remove_owned(path: str | Path, owner: int) -> None:
    """Unlink the file at `path` (a live-note table, a return ring) if this process is
    `owner` (a forked child that drops its copy of an engine leaves the parent's file
    alone)."""
    if os.getpid() == owner:
        Path(path).unlink(missing_ok=True)


def _open_note_table(path: str, writable: bool) -> tuple[NoteMemory, int, int]:
    try:
        with open(ring_path(path), "r+b" if writable else "rb") as f:
            prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
            memory = mmap.mmap(f.fileno(), 0, prot=prot)
    except (OSError, ValueError) as e:
        raise EngineError(f"no live-note table at {path} ({e}); is the engine running?") from None
    head = np.ndarray((NOTE_HEADER,), np.int64, memory)
    if len(memory) < 8 * NOTE_HEADER or head[N_MAGIC] != NOTE_MAGIC:
        raise EngineError(f"{path} is not a hoot live-note table")
    slots, ring = int(head[N_SLOTS]), int(head[N_RING])
    if len(memory) < note_size(slots, ring):
        raise EngineError(f"{path} is cut short: not a whole live-note table")
    return _note_views(memory, slots, ring), slots, ring


class NoteWriter:
    """The one writer of model slot `slot` of the live-note table at `path`, in a model's
    process: `write(message, arrived)` puts a MIDI message into the slot's ring exactly as a
    keyboard's thread does (kernel.midi_in.write: the same fences), and the engine plays it
    at `arrived` plus one host block, or at the next block's first sample when that place is
    already rendered. `arrived` is time.monotonic() (CLOCK_MONOTONIC, one clock for every
    process of the machine): a harmony written with the key's own stamp sounds with the key.

    It never waits: a full ring (4096 records) drops the newest message and counts it in
    `dropped`. Once the engine takes the slot back (ModelNotes off, or the engine ended),
    writes are ignored and counted in `stale`: the slot may be a keyboard's by then."""

    def __init__(self, path: str, slot: int) -> None:
        from hoot.engine.kernel import midi_in

        table, slots, _ = _open_note_table(path, writable=True)
        if not 0 <= slot < slots:
            raise EngineError(f"there is no live slot {slot}; the table has {slots}")
        if table.kind[slot] != MODEL:
            raise EngineError(f"live slot {slot} is not a model's: ask the engine for one")
        self.path, self.slot = path, slot
        self.stale = 0
        self._table = table
        self._gen = int(table.gen[slot])
        self._live = midi_in.LiveInput(
            table.arrived[slot], table.message[slot], table.index[slot],
            table.held[slot], table.sustained[slot], table.regs[slot],
        )  # fmt: skip
        self._write, self._end = midi_in.write, midi_in.end_all
        self._dropped = midi_in.DROPPED

    @property
    def mine(self) -> bool:
        """Whether the slot is still this writer's (the engine has not taken it back)."""
        t = self._table
        return t is not None and t.gen[self.slot] == self._gen and t.kind[self.slot] == MODEL

    @property
    def dropped(self) -> int:
        """Messages dropped because the ring was full (the engine's audio stalled)."""
        return int(self._live.index[self._dropped])

    def write(self, message: bytes, arrived: float) -> None:
        if not self.mine:
            self.stale += 1
            return
        self._write(self._live, message, arrived)

    def release(self, arrived: float | None = None) -> None:
        """End every note of the slot (and centre its wheel): the RELEASE record."""
        if not self.mine:
            self.stale += 1
            return
        self._end(self._live, time.monotonic() if arrived is None else arrived)

    def sample_at(self, arrived: float) -> int:
        """The engine sample that renders at monotonic time `arrived` (its block clock); a
        message stamped `arrived` sounds one host block later (`block` frames)."""
        return _sample_at(self._table, arrived)

    def wall_at(self, sample: int) -> float:
        """The monotonic time the engine renders `sample` (its block clock, sample_at's
        inverse); inf until the engine has rendered a block."""
        return float(self._table.clock_f[0] + sample / self._table.clock_i[0])

    @property
    def block(self) -> int:
        return int(self._table.clock_i[1])

    @property
    def samplerate(self) -> int:
        return int(self._table.clock_i[0])

    def close(self) -> None:
        self._table = None


class NoteReader:
    """A passive second reader, in another process, of every keyboard (PORT) slot of the
    live-note table at `path` whose TRACK register is `track`: `read()` returns the records
    written since the last read as (arrived, status, data1, data2), in arrival order; with
    `history`, the first read starts from the oldest record the rings still hold (the last
    4096 of each slot: what a player just played, for a continuation).

    It reads only the slots' write counts and records, with its own cursors, and writes
    nothing: the audio thread reads and plays exactly as if it were not there. The slots are
    looked at afresh on every read, so a keyboard plugged in, replugged or routed to the
    track later is followed from its first record, and one let go is read to its last. A
    record overwritten before it was read (the writer went round the ring of 4096) is
    counted in `lost`."""

    def __init__(self, path: str, track: int, history: bool = False) -> None:
        table, slots, ring = _open_note_table(path, writable=False)
        self.path, self.track = path, int(track)
        self.lost = 0
        self._table, self._ring = table, ring
        self._gen = table.gen.copy()
        self._cursor = table.index[:, 0].copy()  # from now on
        if history:  # from the oldest record each slot's ring still holds (what was played)
            self._cursor = np.maximum(self._cursor - ring, 0)
        self._ours = np.zeros(slots, np.bool_)  # the slot's input plays our track
        self._arrived = np.zeros(ring, np.float64)
        self._message = np.zeros((ring, 3), np.int64)

    def read(self) -> list[tuple[float, int, int, int]]:
        from hoot.engine.kernel import midi_in

        t = self._table
        if t is None:
            return []
        got: list[tuple[float, int, int, int]] = []
        for k in range(len(self._cursor)):
            gen = t.gen[k]
            if gen != self._gen[k]:  # given to a new input since: it starts at record 0
                self._gen[k], self._cursor[k], self._ours[k] = gen, 0, False
            if t.kind[k] == PORT and t.regs[k, midi_in.TRACK] == self.track:
                self._ours[k] = True  # and stays ours until the slot's next input
            if not self._ours[k]:
                continue
            n, start, lost = _peek(t.arrived[k], t.message[k], t.index[k], int(self._cursor[k]),
                                   self._arrived, self._message)  # fmt: skip
            self.lost += lost
            self._cursor[k] = start + n
            got += [
                (float(self._arrived[j]), *(int(x) for x in self._message[j])) for j in range(n)
            ]
        got.sort(key=lambda record: record[0])
        return got

    def sample_at(self, arrived: float) -> int:
        """The engine sample that renders at monotonic time `arrived` (its block clock)."""
        return _sample_at(self._table, arrived)

    def close(self) -> None:
        self._table = None


def _sample_at(table: NoteMemory, arrived: float) -> int:
    return math.floor((arrived - table.clock_f[0]) * table.clock_i[0] + 0.5)


@jit
def _peek(
    arrived: np.ndarray, message: np.ndarray, index: np.ndarray, cursor: int,
    out_arrived: np.ndarray, out_message: np.ndarray,
) -> tuple[int, int, int]:  # fmt: skip
    """Copy records [cursor, written) of one slot's ring without touching its READ count:
    (copied, first copied, lost). A count that went back (the slot was reset) starts again
    at 0; a record the writer may have overwritten while it was copied is lost."""
    size = arrived.shape[0]
    written = index[0]
    fence()  # the count before the records it publishes
    if written < cursor:
        cursor = 0
    lost = 0
    if written - cursor > size:
        lost = written - cursor - size
        cursor = written - size
    n = written - cursor
    for j in range(n):
        k = (cursor + j) % size
        out_arrived[j] = arrived[k]
        out_message[j, 0] = message[k, 0]
        out_message[j, 1] = message[k, 1]
        out_message[j, 2] = message[k, 2]
    fence()
    again = index[0]  # records the writer reached while we copied may be torn
    torn = again - size - cursor
    if torn > 0:
        torn = min(torn, n)
        lost += torn
        for j in range(n - torn):
            out_arrived[j] = out_arrived[j + torn]
            out_message[j, 0] = out_message[j + torn, 0]
            out_message[j, 1] = out_message[j + torn, 1]
            out_message[j, 2] = out_message[j + torn, 2]
        return n - torn, cursor + torn, lost
    return n, cursor, lost


# ---- the return ring ----------------------------------------------------------------------
#
# A real-time model's audio comes back to the engine through a return ring: one named
# shared-memory file per model output, written by the model's process (`ReturnWriter`, plain
# numpy), read by the compiled core as an input row of kind RETURN (hoot.engine.inputs
# `play_return`). The ring is indexed by engine sample: sample s lives at audio[s % frames],
# so the writer says *when* each sample plays by where it puts it, and the core never waits:
# a sample not written by the time its block renders plays as silence and is counted.
#
# Layout (one file, native byte order): a header of 8 int64 (`R_*`), then float32 audio
# (frames x 2). R_WRITTEN: the engine sample up to which (exclusive) audio is written;
# R_FROM: the first sample of the writer's current run (-1: nothing written yet); R_PLAYED:
# the first sample of the core's next block; R_MISSING: samples the core needed (R_FROM >= 0)
# and found unwritten. The writer owns R_WRITTEN and R_FROM, the core R_PLAYED and R_MISSING.
# Sample s plays iff R_FROM <= s < R_WRITTEN and s >= R_WRITTEN - frames. The writer stores
# the audio before it publishes R_WRITTEN (x86 keeps stores in program order), and never
# writes more than frames - RETURN_SLACK ahead of R_PLAYED: the slots it overwrites then hold
# samples at least RETURN_SLACK (8192) behind the core, which reads at most a max_block
# (4096) part at a time. 32768 frames: 0.68 s at 48 kHz, 256 KB.

RETURN_MAGIC = 0x686F6F7472657475  # "hootretu"
RETURN_FRAMES = 1 << 15
RETURN_SLACK = 8192
R_MAGIC, R_WRITTEN, R_FROM, R_PLAYED, R_MISSING, R_SAMPLERATE, R_FRAMES, R_PID = range(8)
RETURN_HEADER = 8  # int64 slots


class ReturnRing(NamedTuple):
    """A return ring's arrays, views of its shared memory (the engine's side); `path` its
    file, removed once nothing maps it here (the core's row let go of it)."""

    head: np.ndarray  # int64 (RETURN_HEADER,)
    audio: np.ndarray  # float32 (frames, 2): sample s at s % frames
    path: str


def _return_views(memory, frames: int) -> tuple[np.ndarray, np.ndarray]:
    head = np.ndarray((RETURN_HEADER,), np.int64, memory)
    audio = np.ndarray((frames, 2), np.float32, memory, 8 * RETURN_HEADER)
    return head, audio


def create_return(name: str, samplerate: int, frames: int = RETURN_FRAMES) -> ReturnRing:
    """Create the return ring file `name` (a bare name lives in the runtime folder), every
    page touched, nothing written (R_FROM -1). A file left under that name is unlinked
    first (a writer still mapping it keeps its old memory). The file goes when the last
    view of the ring in this process does (or at exit), and only in the process that made
    it."""
    path = ring_path(name)
    memory = _fresh_memory(path, 8 * RETURN_HEADER + 4 * 2 * frames)
    weakref.finalize(memory, remove_owned, path, os.getpid())
    head, audio = _return_views(memory, frames)
    audio.fill(0.0)
    head[:] = 0
    head[R_FROM] = -1
    head[R_SAMPLERATE], head[R_FRAMES] = samplerate, frames
    head[R_PID] = os.getpid()  # runtime.clean() removes the file once its maker is gone
    head[R_MAGIC] = RETURN_MAGIC  # last: a writer that sees it sees the rest
    return ReturnRing(head, audio, str(path))


def reset_return(ring: ReturnRing) -> None:
    """Forget what was written: from the next block the row is silent until a new run."""
    ring.head[R_FROM] = -1  # first: the core then reads nothing, whatever R_WRITTEN says
    ring.head[R_WRITTEN] = 0
    ring.head[R_MISSING] = 0


class ReturnWriter:
    """The one writer of a return ring, in a model's process (numpy only, no engine code
    runs): `write(s0, audio)` puts audio for engine samples [s0, s0 + m); the engine plays
    sample s at s exactly if it is written before the block holding s renders (`played`
    tells where the engine is), and silence otherwise (counted in `missing`)."""

    def __init__(self, path: str) -> None:
        try:
            with open(ring_path(path), "r+b") as f:
                memory = mmap.mmap(f.fileno(), 0)
        except (OSError, ValueError) as e:
            raise EngineError(
                f"no return ring at {path} ({e}); ask the engine for one (ModelAudio)"
            ) from None
        head = np.ndarray((RETURN_HEADER,), np.int64, memory) if len(memory) >= 64 else None
        if head is None or head[R_MAGIC] != RETURN_MAGIC:
            raise EngineError(f"{path} is not a hoot return ring")
        self.path = str(path)
        self.samplerate, self.frames = int(head[R_SAMPLERATE]), int(head[R_FRAMES])
        if len(memory) < 8 * RETURN_HEADER + 8 * self.frames:
            raise EngineError(f"{path} is cut short: not a whole return ring")
        self._head, self._audio = _return_views(memory, self.frames)

    @property
    def played(self) -> int:
        """The first sample of the engine's next block: write at or after it to be heard."""
        return int(self._head[R_PLAYED])

    @property
    def missing(self) -> int:
        """Samples the engine needed and found unwritten since the ring was (re)started."""
        return int(self._head[R_MISSING])

    @property
    def written(self) -> int:
        """The sample up to which (exclusive) audio is written."""
        return int(self._head[R_WRITTEN])

    def write(self, s0: int, audio: np.ndarray) -> None:
        """Audio (m x 2, or m mono, float32) for engine samples [s0, s0 + m). A write that
        does not follow the last one (a gap, a restart) starts a new run: what was written
        before it is no longer played."""
        x = np.asarray(audio, np.float32)
        if x.ndim == 1:
            x = np.repeat(x[:, None], 2, axis=1)
        if x.ndim != 2 or x.shape[1] != 2:
            raise EngineError(f"a return ring takes m x 2 or mono audio, not shape {x.shape}")
        s0, m = int(s0), len(x)
        if m == 0:
            return
        head, frames = self._head, self.frames
        ahead = s0 + m - int(head[R_PLAYED])
        if s0 < 0 or ahead > frames - RETURN_SLACK:
            raise EngineError(
                f"samples [{s0}, {s0 + m}) are too far ahead of the engine (at "
                f"{int(head[R_PLAYED])}): a return ring takes at most "
                f"{frames - RETURN_SLACK} frames ahead"
            )
        if s0 != head[R_WRITTEN] or head[R_FROM] < 0:
            head[R_FROM] = s0
        k = s0 % frames
        first = min(m, frames - k)
        self._audio[k : k + first] = x[:first]
        self._audio[: m - first] = x[first:]
        head[R_WRITTEN] = s0 + m  # after the audio: the core reads nothing unwritten

    def close(self) -> None:
        self._head = self._audio = None
