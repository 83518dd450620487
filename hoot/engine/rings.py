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

import mmap
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hoot.engine.kernel.jit import jit
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
