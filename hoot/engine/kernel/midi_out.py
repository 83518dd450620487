"""Tracks that play hardware, from the compiled core: midi_out.MidiOutTrack without Python on
the audio path.

A track whose sink is a MIDI output turns its note events into `(wall time to send, status,
data1, data2)` records in its port's ring; the port's MidiSender thread (hoot.engine.midi_out)
reads them, keeps them in its heap in the order they were written, and sends each when it
is due, with its SETTLE and all-notes-off rules unchanged. The wall time is MidiOutTrack's:

    due = wall_at(sample) + shift     (the kernel clock, hoot.engine.kernel.clock)

and the bytes are its bytes, so the sender cannot tell the two apart
(tests/engine/test_kernel_midi.py). Several tracks may share one port's ring: they are all
written by the audio thread, so it stays single-producer.

Size: the sender empties the ring every millisecond (midi_out.POLL), so it holds only what
a few blocks write; RING records (4096) are 16 tracks writing 256 messages each within one
block. A full ring drops the newest record and counts it in `dropped`.

REAL-TIME CODE: `play_event` and the per-message functions run on the audio
thread: they write only the ring, allocate nothing, raise nothing.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hoot.engine.kernel import clock as kclock
from hoot.engine.kernel import events as kev
from hoot.engine.kernel.jit import jit
from hoot.engine.kernel.rings import fence
from hoot.engine.live_midi import ALL_NOTES_OFF

RING = 4096

STATUS, DATA1, DATA2 = range(3)
"""Columns of `OutRing.message`."""

WRITTEN, READ, DROPPED = range(3)
"""`OutRing.index`: records written (the audio thread), read (the sender), dropped because the
ring was full (the audio thread)."""


class OutRing(NamedTuple):
    due: np.ndarray  # float64 (RING,): the monotonic time to send at
    message: np.ndarray  # int64 (RING, 3): status, data1, data2
    index: np.ndarray  # int64 (3,): WRITTEN, READ, DROPPED


class OutTrack(NamedTuple):
    ring: OutRing  # its port's
    channel: np.ndarray  # int64 (1,): 0-15
    shift: np.ndarray  # float64 (1,): seconds added to each note's render time


def make_out_ring(ring: int = RING) -> OutRing:
    return OutRing(np.zeros(ring, np.float64), np.zeros((ring, 3), np.int64), np.zeros(3, np.int64))


def make_out_track(ring: OutRing, channel: int, shift: float) -> OutTrack:
    """The audio thread's side of a track that plays `ring`'s port on MIDI `channel` (0-15);
    `shift` as MidiOutTrack's: the output latency, less the port's latency compensation."""
    return OutTrack(ring, np.array([channel], np.int64), np.array([shift], np.float64))


# ---- the audio thread ---------------------------------------------------------------------


@jit
def _at(out: OutTrack, clock: kclock.Clock, sample: int, status: int, data1: int, data2: int):
    ring = out.ring
    index = ring.index
    written = index[WRITTEN]
    size = ring.due.shape[0]
    if written - index[READ] >= size:
        index[DROPPED] += 1
        return
    k = written % size
    ring.due[k] = kclock.wall_at(clock, sample) + out.shift[0]
    row = ring.message[k]
    row[STATUS] = status
    row[DATA1] = data1
    row[DATA2] = data2
    fence()  # the record before the count that publishes it
    index[WRITTEN] = written + 1


@jit
def note_on(out: OutTrack, clock: kclock.Clock, sample: int, pitch: int, velocity: int) -> None:
    """As MidiOutTrack.note_on (velocity 0 is a note-off). REAL-TIME."""
    velocity = min(max(velocity, 0), 127)
    _at(out, clock, sample, 0x90 | out.channel[0], pitch & 127, velocity)


@jit
def note_off(out: OutTrack, clock: kclock.Clock, sample: int, key: int) -> None:
    """As MidiOutTrack.note_off; the pitch is the key's low seven bits. REAL-TIME."""
    _at(out, clock, sample, 0x80 | out.channel[0], key & 127, 0)


@jit
def bend(out: OutTrack, clock: kclock.Clock, sample: int, semitones: float) -> None:
    """As MidiOutTrack.bend: +-2 semitones at the wheel's ends (round half to even, as
    Python's round). REAL-TIME."""
    wheel = min(max(round(8192 + semitones / 2.0 * 8192), 0), 16383)
    _at(out, clock, sample, 0xE0 | out.channel[0], wheel & 127, wheel >> 7)


@jit
def all_off(out: OutTrack, clock: kclock.Clock, sample: int) -> None:
    """As MidiOutTrack.all_off: all-notes-off, which the sender precedes with a note-off for
    each note it has sent. REAL-TIME."""
    _at(out, clock, sample, 0xB0 | out.channel[0], ALL_NOTES_OFF, 0)


@jit
def play_event(out: OutTrack, clock: kclock.Clock, ev: kev.Events, k: int) -> None:
    """Event row `k` of `ev`, sent as MidiOutTrack would be called for it. A RELEASE_TRACK or
    SILENCE is the synth's business: the engine ends hardware notes with ALL_OFF. REAL-TIME."""
    row = ev.i[k]
    kind = row[kev.KIND]
    if kind == kev.ON:
        note_on(out, clock, row[kev.SAMPLE], row[kev.PITCH], row[kev.VELOCITY])
    elif kind == kev.OFF:
        note_off(out, clock, row[kev.SAMPLE], row[kev.KEY])
    elif kind == kev.BEND:
        bend(out, clock, row[kev.SAMPLE], ev.f[k])
    elif kind == kev.ALL_OFF:
        all_off(out, clock, row[kev.SAMPLE])


# ---- the sender thread --------------------------------------------------------------------


@jit
def take(ring: OutRing, due: np.ndarray, message: np.ndarray) -> int:
    """Copy the records written since the last take (at most len(due)) into `due` and
    `message`, oldest first, and free their places; returns how many."""
    index = ring.index
    written = index[WRITTEN]
    fence()  # the count before the records it publishes
    read = index[READ]
    size = ring.due.shape[0]
    n = min(written - read, due.shape[0])
    for j in range(n):
        k = (read + j) % size
        due[j] = ring.due[k]
        message[j, 0] = ring.message[k, 0]
        message[j, 1] = ring.message[k, 1]
        message[j, 2] = ring.message[k, 2]
    fence()  # the copies before the places are given back
    index[READ] = read + n
    return n
