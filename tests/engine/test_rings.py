"""The input ring: every input block, stamped, for readers in other processes that may stall."""

from __future__ import annotations

import os

import numpy as np
import pytest

from hoot.engine import protocol as p
from hoot.engine import rings
from hoot.engine.client import LocalEngine
from hoot.errors import EngineError

SR = 48000


@pytest.fixture
def ring_name():
    name = f"test-ring-{os.getpid()}"
    yield name
    rings.ring_path(name).unlink(missing_ok=True)


def blocks(sizes, rows=2):
    """Blocks of a signal that is its own sample index, so any lost or shifted frame shows."""
    s = 0
    for n in sizes:
        k = np.arange(s, s + n, dtype=np.float32)
        yield s, n, np.stack([np.stack([k + r, -k - r], axis=1) for r in range(rows)])
        s += n


def test_a_reader_gets_every_block_stamped_with_its_first_sample(ring_name):
    ring = rings.create_ring(ring_name, 2, SR)
    reader = rings.RingReader(ring_name)
    sizes = [64, 256, 1000, 3, 4096, 128]
    for s0, n, block in blocks(sizes):
        rings.write_block(ring, block, s0, n)
    got = []
    while (item := reader.read()) is not None:
        got.append(item)
    assert reader.lost == 0
    stamps = [s for s, _ in got]
    audio = np.concatenate([a for _, a in got], axis=1)
    assert stamps[0] == 0 and all(len(a[0]) <= rings.SLOT_FRAMES for _, a in got)
    assert np.array_equal(np.diff(stamps), [len(a[0]) for _, a in got][:-1])
    whole = np.concatenate([b for _, _, b in blocks(sizes)], axis=1)
    assert np.array_equal(audio, whole)


def test_a_reader_that_falls_behind_loses_the_oldest_blocks_and_counts_them(ring_name):
    ring = rings.create_ring(ring_name, 1, SR, slots=16)
    reader = rings.RingReader(ring_name)
    for s0, n, block in blocks([128] * 40, rows=1):
        rings.write_block(ring, block, s0, n)
    first = reader.read()
    assert reader.lost == 40 - 15  # the 15 newest are whole; the slot written next may not be
    assert first[0] == (40 - 15) * 128
    rest = 0
    while reader.read() is not None:
        rest += 1
    assert rest == 14 and reader.lost == 25


def test_a_ring_that_is_not_there_is_refused_in_one_sentence():
    with pytest.raises(EngineError, match="no input ring 'nothing-here'"):
        rings.RingReader("nothing-here")


def test_a_stalled_reader_does_not_disturb_the_engine(ring_name):
    """A reader that never reads while the engine plays 20 s: the engine's output is the
    same to the bit as without a ring, and the reader, when it wakes, counts what it lost
    and gets the newest blocks whole."""

    def render(ring=None) -> tuple[np.ndarray, LocalEngine]:
        link = LocalEngine(SR, blocksize=256)
        if ring is not None:
            link.engine.use_ring(ring)
        link.send(p.AddInput("bass guitar", signal="sine 110"))
        return link.advance(20 * SR), link

    plain, _ = render()
    ring = rings.create_ring(ring_name, 8, SR)
    reader = rings.RingReader(ring_name)
    ringed, link = render(ring)
    assert np.array_equal(plain, ringed)
    assert link.engine.faults == 0
    s0, block = reader.read()
    blocks_written = 20 * SR // 256
    assert reader.lost == blocks_written - (rings.SLOTS - 1)
    assert s0 == (blocks_written - rings.SLOTS + 1) * 256
    t = np.arange(s0, s0 + 256)  # the input plays from the first block, sample 0
    sine = 0.5 * np.sin(2 * np.pi * 110 * (t % SR) / SR)
    assert np.allclose(block[0, :, 0], sine, atol=1e-6)
    assert not block[1:].any()  # free rows are silent
