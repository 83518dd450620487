"""The compiled core's MIDI against the Python oracle: a keyboard's messages become the note
events LiveNotes' sink calls were, at the same samples (and a virtual keyboard on JACK fills
the ring through hoot.midi); a track that plays hardware gets the records MidiOutTrack
stamped; each block publishes where it is for clock out's threads (the JACK and rtmidi paths
themselves are checked by tests/midi/test_clock_out.py); a SoundFont voice renders what
SoundFontVoice renders, to the bit; the block clock agrees with BlockClock to the bit and
reads time.monotonic()'s clock."""

from __future__ import annotations

import itertools
import random
import time
from collections import deque
from types import SimpleNamespace

import numpy as np
import pytest

from hoot.engine.fluid import SoundFontVoice
from hoot.engine.kernel import clock as kclock
from hoot.engine.kernel import clock_out as kco
from hoot.engine.kernel import events as kev
from hoot.engine.kernel import fluid as kfluid
from hoot.engine.kernel import midi_in
from hoot.engine.kernel import midi_out as kout
from hoot.engine.live_midi import BlockClock, LiveNotes
from hoot.engine.midi_out import MidiOutTrack, MidiSender
from hoot.midi.ports import MidiPorts
from tests.waiting import wait_until

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
    kclock.now()  # compiled (or loaded) before timing
    before = time.monotonic()
    now = kclock.now()
    after = time.monotonic()
    assert before <= now <= after
    kclock.stamp(kc, 480, 256)
    assert before - 0.01 <= kc.f[kclock.ORIGIN] + 480 / SR <= time.monotonic()
    assert np.isfinite(kc.f[kclock.ORIGIN])


class Queue:
    """MidiSender's side that MidiOutTrack writes: its deque and its order."""

    def __init__(self) -> None:
        self.queue: deque = deque()
        self.next_order = itertools.count().__next__


def test_midi_out_records_equal_what_midi_out_track_stamps() -> None:
    rng = random.Random(9)
    clock = BlockClock(SR)
    kc = kclock.make_clock(SR)
    sender = Queue()
    ring = kout.make_out_ring()
    tracks = [(MidiOutTrack(sender, clock, ch, shift), kout.make_out_track(ring, ch, shift))
              for ch, shift in ((2, 0.0071), (9, -0.0123))]  # fmt: skip
    due = np.zeros(kout.RING, np.float64)
    message = np.zeros((kout.RING, 3), np.int64)
    expected, got = [], []
    for b in range(200):
        s0 = b * 256
        now = ORIGIN + s0 / SR + rng.choice((0.0, 0.0007, 0.0023))
        clock.now = lambda now=now: now
        clock.stamp(s0, 256)
        kclock.stamp_at(kc, s0, 256, now)
        ev = kev.make_events(64)
        for _ in range(rng.randint(0, 6)):
            t = rng.randrange(2)
            sample = s0 + rng.randrange(256)
            kind = rng.choice((kev.ON, kev.OFF, kev.BEND, kev.ALL_OFF, kev.SILENCE))
            pitch, velocity = rng.randint(0, 127), rng.randint(-5, 140)
            key = t * 128 + pitch
            semitones = rng.choice((0.0, 2.0, -2.0, 0.5, rng.uniform(-2.5, 2.5), 1 / 8192))
            kev.push(ev, sample, kind, t, pitch, velocity, 0, key, semitones)
            python = tracks[t][0]
            if kind == kev.ON:
                python.note_on(sample, t, pitch, velocity, 0, key)
            elif kind == kev.OFF:
                python.note_off(sample, key)
            elif kind == kev.BEND:
                python.bend(sample, t, semitones)
            elif kind == kev.ALL_OFF:
                python.all_off(sample)
        for k in range(ev.count[0]):  # each event to its track's sink, in order
            kout.play_event(tracks[ev.i[k, kev.TRACK]][1], kc, ev, k)
        n = kout.take(ring, due, message)
        got += [(float(due[k]), bytes(message[k].tolist())) for k in range(n)]
    expected = [(when, m) for when, _, m in sender.queue]
    assert len(expected) > 300
    assert got == expected
    assert ring.index[kout.DROPPED] == 0


def test_the_sender_sends_what_the_kernel_wrote_when_it_is_due() -> None:
    port = SimpleNamespace(sent=[], send=lambda m: port.sent.append((time.monotonic(), m)))
    sender = MidiSender(port, "fake synth")
    try:
        kc = kclock.make_clock(SR)
        kclock.stamp(kc, 0, 256)
        out = kout.make_out_track(sender.ring, 1, 0.0)
        kout.note_on(out, kc, 2400, 60, 100)  # 50 ms from the block's start
        kout.note_off(out, kc, 4800, 60)
        kout.all_off(out, kc, 4800)
        assert wait_until(lambda: len(port.sent) == 3)
    finally:
        sender.close()
    times = [t for t, _ in port.sent[:3]]
    assert [m for _, m in port.sent[:3]] == [b"\x91\x3c\x64", b"\x81\x3c\x00", b"\xb1\x7b\x00"]
    assert times[0] >= kclock.wall_at(kc, 2400) and times[1] >= kclock.wall_at(kc, 4800)
    assert sender.ring.index[kout.READ] == 3


def test_each_block_publishes_where_it_is_for_the_clock_out_thread() -> None:
    kc = kclock.make_clock(SR)
    ring = kco.make_block_ring(4)
    for b in range(6):
        kclock.stamp_at(kc, b * 256, 256, ORIGIN + b * 256 / SR)
        kco.publish_clock(ring, kc, b * 256, 256)
    blocks = np.zeros((8, 3), np.int64)
    origins = np.zeros(8, np.float64)
    assert kco.take(ring, blocks, origins) == 4 and ring.index[kco.DROPPED] == 2
    assert blocks[:4].tolist() == [[b * 256, 256, 0] for b in range(4)]
    assert origins[:4].tolist() == [ORIGIN] * 4
    kco.publish(ring, 9000, 128, 1.5, 77)
    assert kco.take(ring, blocks, origins) == 1 and blocks[0].tolist() == [9000, 128, 77]


def font_events(seed: int, frames: int) -> list[tuple]:
    """A chord player's evening on a SoundFont: notes with velocities beyond MIDI's range,
    bends, a panic's all_off in the middle of it and notes after it."""
    rng = random.Random(seed)
    plan = []
    for _ in range(frames // 900):
        sample = rng.randrange(frames)
        pick = rng.random()
        pitch = rng.randint(48, 72)
        if pick < 0.5:
            plan.append((sample, kev.ON, pitch, rng.randint(-3, 140), 0.0))
        elif pick < 0.8:
            plan.append((sample, kev.OFF, pitch, 0, 0.0))
        elif pick < 0.97:
            plan.append((sample, kev.BEND, 0, 0, rng.uniform(-2.2, 2.2)))
        else:
            plan.append((sample, kev.ALL_OFF, 0, 0, 0.0))
    plan.append((frames // 2 + 37, kev.ALL_OFF, 0, 0, 0.0))
    return sorted(plan, key=lambda e: e[0])


def render_python(plan, frames: int, block: int, ahead: int) -> np.ndarray:
    """SoundFontVoice.render, each event told `ahead` blocks before its own."""
    voice = SoundFontVoice(LEAD, "soundfont:48", "chords", SR)
    out = np.zeros((frames, 2), np.float32)
    try:
        pending = list(plan)
        for s0 in range(0, frames, block):
            while pending and pending[0][0] < s0 + (1 + ahead) * block:
                sample, kind, pitch, velocity, semitones = pending.pop(0)
                if kind == kev.ON:
                    voice.note_on(sample, LEAD, pitch, velocity, 0, pitch)
                elif kind == kev.OFF:
                    voice.note_off(sample, 5 * 128 + pitch)
                elif kind == kev.BEND:
                    voice.bend(sample, LEAD, semitones)
                else:
                    voice.all_off(sample)
            tb = np.zeros((LEAD + 1, block, 2), np.float32)
            voice.render(s0, block, tb)
            out[s0 : s0 + block] = tb[LEAD]
        assert voice.faults == 0
    finally:
        voice.close()
    return out


def render_kernel(plan, frames: int, block: int, ahead: int) -> np.ndarray:
    """The same plan through Events and the kernel's FontVoice."""
    voice = SoundFontVoice(LEAD, "soundfont:48", "chords", SR)
    fv = kfluid.make_font_voice(voice)
    ev = kev.make_events()
    out = np.zeros((frames, 2), np.float32)
    try:
        pending = list(plan)
        for s0 in range(0, frames, block):
            kev.clear(ev)
            while pending and pending[0][0] < s0 + (1 + ahead) * block:
                sample, kind, pitch, velocity, semitones = pending.pop(0)
                kev.push(ev, sample, kind, LEAD, pitch, velocity, 0, 5 * 128 + pitch, semitones)
            for k in range(ev.count[0]):
                kfluid.play_event(fv, ev, k)
            tb = np.zeros((LEAD + 1, block, 2), np.float32)
            kfluid.render(fv, s0, block, tb[LEAD])
            out[s0 : s0 + block] = tb[LEAD]
        assert fv.regs[kfluid.FAULTS] == 0
        assert fv.regs[kfluid.PLAYED] > 0 and voice.played == 0  # only the kernel played
    finally:
        voice.close()
    return out


def test_the_kernel_plays_a_soundfont_as_soundfont_voice_renders_it_to_the_bit() -> None:
    frames = 188 * 256  # a second
    plan = font_events(11, frames)
    python = render_python(plan, frames, 256, 1)
    assert np.abs(python).max() > 0.01
    assert render_kernel(plan, frames, 256, 1).tobytes() == python.tobytes()
    # SoundFontVoice itself is not the same at every block size (fluidsynth's output moves
    # by up to 0.006 after a note struck at 64 frames a block rather than 256), so each
    # block size is compared with the oracle at that size
    small = render_python(plan, frames, 64, 4)
    assert render_kernel(plan, frames, 64, 4).tobytes() == small.tobytes()


@pytest.mark.jack
def test_a_keyboard_on_jack_fills_the_ring_and_plays_one_block_after_its_arrival(
    jack_server,
) -> None:
    with MidiPorts(api="jack") as studio, MidiPorts(api="jack") as hoot_side:
        keyboard = studio.virtual_output("hoot-test-kernel-keys:out")
        keys = LiveNotes(LEAD, 7, None, "kernel keys")
        live = keys.use_kernel()
        port = hoot_side.open_input("kernel-keys", keys.receive)
        assert wait_until(lambda: port.connected)
        kc = kclock.make_clock(SR)
        kclock.stamp(kc, 0, 256)  # the block clock: sample 0 renders now
        keyboard.send(bytes((0x90, 64, 99)))
        keyboard.send(b"\xf8")  # clock: not for the ring
        keyboard.send(bytes((0x80, 64, 0)))
        assert wait_until(lambda: live.index[midi_in.WRITTEN] == 2)
        arrived = live.arrived[:2].copy()
        assert (arrived >= kclock.wall_at(kc, 0)).all() and (arrived <= time.monotonic()).all()
        ev = kev.make_events()
        last = max(kclock.sample_at(kc, t) for t in arrived) + 256
        midi_in.live_block(live, kc, 0, last + 1, ev)  # one long block reaching them both
    base = midi_in.LIVE_KEYS + LEAD * 128
    assert rows(ev) == [
        (kclock.sample_at(kc, arrived[0]) + 256, kev.ON, LEAD, 64, 99, 7, base + 64, 0.0),
        (kclock.sample_at(kc, arrived[1]) + 256, kev.OFF, LEAD, 64, 0, 0, base + 64, 0.0),
    ]
    assert not keys.events, "the deque stays empty once the kernel is in use"
