"""The compiled core's MIDI against the Python oracle: a keyboard's messages become the note
events LiveNotes' sink calls were, at the same samples; a track that plays hardware gets the
records MidiOutTrack stamped; the block clock agrees with BlockClock to the bit and reads
time.monotonic()'s clock."""

from __future__ import annotations

import random
import time
from types import SimpleNamespace

import numpy as np

from hoot.engine.kernel import clock as kclock
from hoot.engine.kernel import events as kev
from hoot.engine.kernel import midi_in
from hoot.engine.live_midi import BlockClock, LiveNotes

SR = 48000
ORIGIN = 1000.0  # the monotonic time at which sample 0 renders
LEAD = 3


class Recorder:
    """A sink that writes down the calls LiveNotes makes, as event rows."""

    def __init__(self, track: int) -> None:
        self.track = track
        self.calls: list[tuple] = []

    def note_on(self, sample, track, pitch, velocity, timbre, key) -> None:
        self.calls.append((sample, kev.ON, track, pitch, velocity, timbre, key, 0.0))

    def note_off(self, sample, key) -> None:
        self.calls.append((sample, kev.OFF, self.track, key & 127, 0, 0, key, 0.0))

    def bend(self, sample, track, semitones) -> None:
        self.calls.append((sample, kev.BEND, track, 0, 0, 0, 0, semitones))


def rows(ev: kev.Events) -> list[tuple]:
    n = int(ev.count[0])
    return [(*(int(x) for x in ev.i[k]), float(ev.f[k])) for k in range(n)]


def a_performance(seed: int, blocks: int, block: int) -> list[tuple[float, bytes]]:
    """A keyboard's messages with their arrival times: notes struck again, the pedal, the
    wheel, all notes off, other channels, clock ticks, a program change and a torn message."""
    rng = random.Random(seed)
    stream = []
    for _ in range(blocks * 3):
        at = ORIGIN + rng.uniform(0, blocks * block) / SR
        pick = rng.random()
        channel = 0 if rng.random() < 0.9 else 5
        if pick < 0.45:
            message = bytes((0x90 | channel, rng.randint(55, 70), rng.randint(0, 127)))
        elif pick < 0.7:
            message = bytes((0x80 | channel, rng.randint(55, 70), 0))
        elif pick < 0.8:
            message = bytes((0xB0 | channel, 64, rng.choice((0, 30, 64, 127))))
        elif pick < 0.9:
            message = bytes((0xE0 | channel, rng.randint(0, 127), rng.randint(0, 127)))
        elif pick < 0.93:
            message = bytes((0xB0 | channel, rng.choice((120, 123)), 0))
        elif pick < 0.96:
            message = rng.choice((b"\xf8", b"\xc0\x05", b"\x90\x40", b"\x80\x41", b"\xf0\x7e\xf7"))
        else:
            message = b""  # the input went away
        stream.append((at, message))
    return sorted(stream, key=lambda m: m[0])


def play_both(stream, channel, block: int, blocks: int, late: list[float]):
    """The stream through LiveNotes (into a Recorder) and through the kernel (into Events),
    the blocks starting at the same late times; returns (calls, rows, keys, live)."""
    clock = BlockClock(SR)
    sink = Recorder(LEAD)
    engine = SimpleNamespace(clock=clock, sinks={LEAD: sink})
    keys = LiveNotes(LEAD, 7, channel, "test keys")
    kc = kclock.make_clock(SR)
    live = midi_in.make_live_input(LEAD, 7, channel)
    ev = kev.make_events()
    got = []
    pending = list(stream)
    for b in range(blocks):
        s0 = b * block
        now = ORIGIN + s0 / SR + late[b % len(late)]
        # what arrived before this block began is in both queues
        while pending and pending[0][0] <= now:
            at, message = pending.pop(0)
            if message:
                keys.receive(message, at)
                midi_in.write(live, message, at)
            else:
                keys.end_all(at)
                midi_in.end_all(live, at)
        clock.now = lambda now=now: now
        clock.stamp(s0, block)
        kclock.stamp_at(kc, s0, block, now)
        keys.forward(engine, s0, block)
        kev.clear(ev)
        midi_in.live_block(live, kc, s0, block, ev)
        got += rows(ev)
    return sink.calls, got, keys, live


def test_the_kernel_plays_a_keyboard_as_live_notes_does_at_the_same_samples() -> None:
    late = [0.0, 0.0004, 0.0011, 0.0, 0.0021, 0.0003, 0.0]
    for seed, channel, block in ((1, None, 256), (2, 0, 128), (3, None, 1024), (4, 5, 64)):
        blocks = 8192 // block * 4
        stream = a_performance(seed, blocks, block)
        calls, got, keys, live = play_both(stream, channel, block, blocks, late)
        assert len(calls) > 50
        assert got == calls
        assert live.regs[midi_in.FAULTS] == keys.faults
        assert live.regs[midi_in.PLAYED] == keys.played
        assert midi_in.sounding(live) == keys.sounding


def test_a_message_whose_place_lies_beyond_the_block_waits_in_the_ring() -> None:
    kc = kclock.make_clock(SR)
    live = midi_in.make_live_input(LEAD, 0)
    ev = kev.make_events()
    kclock.stamp_at(kc, 0, 256, ORIGIN)
    midi_in.write(live, bytes((0x90, 60, 100)), ORIGIN + 5 / SR)  # during block 0
    midi_in.live_block(live, kc, 0, 256, ev)
    assert ev.count[0] == 0 and live.index[midi_in.READ] == 0
    kclock.stamp_at(kc, 256, 256, ORIGIN + 256 / SR)
    midi_in.live_block(live, kc, 256, 256, ev)
    assert rows(ev)[0][:2] == (256 + 5, kev.ON)


def test_release_all_ends_held_and_sustained_notes_and_centres_the_wheel() -> None:
    kc = kclock.make_clock(SR)
    live = midi_in.make_live_input(LEAD, 0)
    ev = kev.make_events()
    kclock.stamp_at(kc, 0, 256, ORIGIN)
    for message in ((0xB0, 64, 127), (0x90, 60, 90), (0x80, 60, 0), (0x90, 64, 90), (0xE0, 0, 80)):
        midi_in.write(live, bytes(message), ORIGIN - 0.01)
    midi_in.live_block(live, kc, 0, 256, ev)
    kev.clear(ev)
    midi_in.release_all(live, 300, ev)
    base = midi_in.LIVE_KEYS + LEAD * 128
    assert rows(ev) == [
        (300, kev.OFF, LEAD, 60, 0, 0, base + 60, 0.0),
        (300, kev.OFF, LEAD, 64, 0, 0, base + 64, 0.0),
        (300, kev.BEND, LEAD, 0, 0, 0, 0, 0.0),
    ]
    assert midi_in.sounding(live) == 0


def test_a_full_ring_drops_the_newest_message_and_counts_it() -> None:
    live = midi_in.make_live_input(LEAD, 0, ring=4)
    for pitch in range(6):
        midi_in.write(live, bytes((0x90, pitch, 100)), ORIGIN)
    assert live.index[midi_in.WRITTEN] == 4 and live.index[midi_in.DROPPED] == 2


def test_live_notes_feed_the_kernel_ring_once_it_is_in_use() -> None:
    keys = LiveNotes(LEAD, 0, None, "test keys")
    live = keys.use_kernel()
    keys.receive(bytes((0x90, 60, 100)), ORIGIN)
    keys.end_all(ORIGIN + 1)
    assert not keys.events
    assert live.index[midi_in.WRITTEN] == 2
    assert live.message[1, midi_in.STATUS] == midi_in.RELEASE


def test_the_kernel_clock_agrees_with_block_clock_to_the_bit() -> None:
    rng = random.Random(5)
    clock = BlockClock(SR)
    kc = kclock.make_clock(SR)
    for b in range(2000):
        s0 = b * 256
        late = rng.choice((0.0, 0.0, rng.uniform(0, 0.003), rng.uniform(0, 0.03)))
        now = ORIGIN + (s0 + (96000 if b > 1500 else 0)) / SR + late  # a restart at 1500
        clock.now = lambda now=now: now
        clock.stamp(s0, 256)
        kclock.stamp_at(kc, s0, 256, now)
        assert kc.f[kclock.ORIGIN] == clock.origin
        wall = now + rng.uniform(-0.01, 0.01)
        assert kclock.sample_at(kc, wall) == clock.sample_at(wall)
        assert kclock.wall_at(kc, s0 + 77) == clock.wall_at(s0 + 77)


def test_the_kernel_reads_the_clock_time_monotonic_reads() -> None:
    kc = kclock.make_clock(SR)
    kclock.monotonic(kc)  # compiled (or loaded) before timing
    before = time.monotonic()
    now = kclock.monotonic(kc)
    after = time.monotonic()
    assert before <= now <= after
    kclock.stamp(kc, 480, 256)
    assert before - 0.01 <= kc.f[kclock.ORIGIN] + 480 / SR <= time.monotonic()
    assert np.isfinite(kc.f[kclock.ORIGIN])
