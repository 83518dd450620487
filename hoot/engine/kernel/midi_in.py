"""A keyboard played through the compiled core: live_midi.LiveNotes without Python on the
audio path.

The MIDI input's thread (RtMidi's, through hoot.midi.ports) calls `write` with each message
and its arrival (time.monotonic()); `write` puts `(arrived, status, data1, data2)` into the
input's ring and then bumps the write count (hoot.engine.kernel.rings says why both sides
are compiled). At each block the audio thread's `live_block` reads up to that count and
turns what is due into note events (hoot.engine.kernel.events), exactly as LiveNotes.forward
calls its sink: each message at its arrival's sample plus one host block (the kernel clock,
hoot.engine.kernel.clock), one already passed at the block's first sample, one whose place
lies beyond the block left in the ring for the next. Sustain pedal, pitch bend (+-2
semitones), all notes off and all sound off, velocity, the channel filter: LiveNotes' rules,
kept in the input's own arrays.

Only what LiveNotes plays enters the ring: note on and off, control change, pitch bend.
System messages (clock, SysEx) and program changes never do: clock ticks (24 a quarter note)
would only fill it. A note or control message shorter than three
bytes (a note-off needs two) or with a pitch above 127 is counted in `faults`, as LiveNotes'
IndexError is, and the input's unplugging writes the RELEASE record (status 0, never a
MIDI status byte): every note of the input ends.

Size: a 5-pin MIDI cable carries at most about 1000 three-byte messages a second (31250
baud, 30 bits a message), so RING records (4096) hold 4 s of a saturated cable, while the
audio thread empties the ring every block (5 ms at 256 frames). A full
ring drops the newest message and counts it in `dropped`.

REAL-TIME CODE: `live_block` and `release_all` run on the audio thread: they write only the
input's arrays and the block's Events, allocate nothing, raise nothing.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hoot.engine.kernel import clock as kclock
from hoot.engine.kernel import events as kev
from hoot.engine.kernel.jit import jit
from hoot.engine.kernel.rings import fence
from hoot.engine.live_midi import ALL_NOTES_OFF, ALL_SOUND_OFF, BEND_RANGE, LIVE_KEYS, SUSTAIN

RING = 4096

RELEASE = 0
"""The status of the record an input's unplugging or closing writes: end every note now."""

STATUS, DATA1, DATA2 = range(3)
"""Columns of `LiveInput.message`."""

WRITTEN, READ, DROPPED = range(3)
"""`LiveInput.index`: records written (the input's thread), read (the audio thread), and
dropped because the ring was full (the input's thread)."""

TRACK, PATCH, CHANNEL, PEDAL, BENT, FAULTS, PLAYED = range(7)
"""`LiveInput.regs`: the track, its synth patch, the MIDI channel listened to (-1: every
channel), the sustain pedal (0 or 1), whether the wheel is off centre, messages dropped as
malformed, notes started."""


class LiveInput(NamedTuple):
    arrived: np.ndarray  # float64 (RING,): time.monotonic() at arrival
    message: np.ndarray  # int64 (RING, 3): status, data1, data2
    index: np.ndarray  # int64 (3,): WRITTEN, READ, DROPPED
    held: np.ndarray  # uint8 (128,): keys down
    sustained: np.ndarray  # uint8 (128,): keys up whose note the pedal holds
    regs: np.ndarray  # int64 (7,): TRACK .. PLAYED


def make_live_input(
    track: int, patch: int, channel: int | None = None, ring: int = RING
) -> LiveInput:
    regs = np.zeros(7, np.int64)
    regs[TRACK], regs[PATCH] = track, patch
    regs[CHANNEL] = -1 if channel is None else channel
    return LiveInput(
        np.zeros(ring, np.float64),
        np.zeros((ring, 3), np.int64),
        np.zeros(3, np.int64),
        np.zeros(128, np.uint8),
        np.zeros(128, np.uint8),
        regs,
    )


# ---- the input's thread -------------------------------------------------------------------


@jit
def _put(live: LiveInput, arrived: float, status: int, data1: int, data2: int) -> None:
    index = live.index
    written = index[WRITTEN]
    size = live.arrived.shape[0]
    if written - index[READ] >= size:
        index[DROPPED] += 1
        return
    k = written % size
    live.arrived[k] = arrived
    row = live.message[k]
    row[STATUS] = status
    row[DATA1] = data1
    row[DATA2] = data2
    fence()  # the record before the count that publishes it
    index[WRITTEN] = written + 1


def write(live: LiveInput, message: bytes, arrived: float) -> None:
    """The MIDI input's callback (its own thread): put what LiveNotes plays into the ring."""
    if not message:
        return
    status = message[0]
    if status >= 0xF0 or status & 0xF0 not in (0x80, 0x90, 0xB0, 0xE0):
        return  # clock, SysEx, program changes: left to other listeners
    data1 = message[1] if len(message) > 1 else -1  # -1: missing, counted when read
    data2 = message[2] if len(message) > 2 else -1
    _put(live, arrived, status, data1, data2)


def end_all(live: LiveInput, arrived: float) -> None:
    """Ask the audio thread to end every note of this input (the port went away)."""
    _put(live, arrived, RELEASE, 0, 0)


# ---- the audio thread ---------------------------------------------------------------------


@jit
def live_block(live: LiveInput, clock: kclock.Clock, s0: int, n: int, ev: kev.Events) -> None:
    """Play the messages whose place falls before the end of block [s0, s0 + n), as
    LiveNotes.forward does, into `ev`. After the block's clock stamp. REAL-TIME."""
    index = live.index
    written = index[WRITTEN]
    fence()  # the count before the records it publishes
    size = live.arrived.shape[0]
    end = s0 + n
    delay = clock.i[kclock.BLOCK]
    read = index[READ]
    while read < written:
        k = read % size
        sample = kclock.sample_at(clock, live.arrived[k]) + delay
        if sample >= end:
            break  # arrived during this block: its place is in the next one
        row = live.message[k]
        _play(live, row[STATUS], row[DATA1], row[DATA2], sample if sample > s0 else s0, ev)
        read += 1
    index[READ] = read


@jit
def _play(
    live: LiveInput, status: int, data1: int, data2: int, sample: int, ev: kev.Events
) -> None:
    regs, held, sustained = live.regs, live.held, live.sustained
    if status == RELEASE:
        release_all(live, sample, ev)
        regs[PEDAL] = 0
        return
    channel = regs[CHANNEL]
    if channel >= 0 and status & 0x0F != channel:
        return
    kind = status & 0xF0
    notes = kind == 0x80 or kind == 0x90
    if data1 < 0 or (data2 < 0 and kind != 0x80) or (notes and data1 > 127):
        regs[FAULTS] += 1  # too short, or no pitch: LiveNotes' IndexError
        return
    track = regs[TRACK]
    if kind == 0x90 and data2 > 0:
        key = LIVE_KEYS + track * 128 + data1
        if held[data1] or sustained[data1]:  # struck again: the old note gives way
            kev.push(ev, sample, kev.OFF, track, data1, 0, 0, key, 0.0)
        kev.push(ev, sample, kev.ON, track, data1, data2, regs[PATCH], key, 0.0)
        held[data1] = 1
        sustained[data1] = 0
        regs[PLAYED] += 1
    elif notes:
        if not held[data1]:
            return
        held[data1] = 0
        if regs[PEDAL]:
            sustained[data1] = 1
        else:
            kev.push(ev, sample, kev.OFF, track, data1, 0, 0, LIVE_KEYS + track * 128 + data1, 0.0)
    elif kind == 0xB0:
        if data1 == SUSTAIN:
            down = data2 >= 64
            if regs[PEDAL] and not down:
                key0 = LIVE_KEYS + track * 128
                for pitch in range(128):
                    if sustained[pitch]:
                        sustained[pitch] = 0
                        kev.push(ev, sample, kev.OFF, track, pitch, 0, 0, key0 + pitch, 0.0)
            regs[PEDAL] = 1 if down else 0
        elif data1 == ALL_NOTES_OFF or data1 == ALL_SOUND_OFF:
            release_all(live, sample, ev)
    elif kind == 0xE0:
        wheel = (data2 << 7 | data1) - 8192  # -8192 .. 8191
        semitones = BEND_RANGE * wheel / (8191 if wheel > 0 else 8192)
        kev.push(ev, sample, kev.BEND, track, 0, 0, 0, 0, semitones)
        regs[BENT] = 1 if wheel != 0 else 0


@jit
def release_all(live: LiveInput, sample: int, ev: kev.Events) -> None:
    """End every note this input holds (keys down or held by the pedal) at `sample`, and put
    the wheel back to the middle, as LiveNotes.release_all. REAL-TIME."""
    regs, held, sustained = live.regs, live.held, live.sustained
    track = regs[TRACK]
    key0 = LIVE_KEYS + track * 128
    for pitch in range(128):
        if held[pitch] or sustained[pitch]:
            held[pitch] = 0
            sustained[pitch] = 0
            kev.push(ev, sample, kev.OFF, track, pitch, 0, 0, key0 + pitch, 0.0)
    if regs[BENT]:
        kev.push(ev, sample, kev.BEND, track, 0, 0, 0, 0, 0.0)
        regs[BENT] = 0


def sounding(live: LiveInput) -> int:
    """Notes this input holds now (keys down, or up and held by the pedal)."""
    return int(np.count_nonzero(live.held | live.sustained))
