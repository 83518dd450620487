"""Tracks play hardware: a track's MIDI stems and live notes go to a MIDI output, scheduled from
the sample clock, and no note ever hangs (stop, panic, a change of output, the sender's end).
First the Engine with a port that writes down what it is sent, then the real engine process
on JACK with a virtual synth port."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from hoot.engine import core
from hoot.engine.client import EngineClient
from hoot.engine.core import Engine
from hoot.engine.live_midi import LiveNotes
from hoot.engine.midi_out import MidiOutTrack, MidiSender
from hoot.engine.stems import load_stem
from hoot.midi.ports import MidiPorts
from hoot.performance import Performance
from hoot.session import Session
from tests import stemfiles
from tests.waiting import wait_until

SR = 48000
BLOCK = 256
BASS = 1
NOTES = [(0, 0.5, 36, 100), (1, 0.5, 43, 90), (2, 1, 48, 80), (3.5, 0.25, 36, 70)]  # beats
BEAT = SR // 2  # 120 BPM


class Synth:
    """A MIDI output that writes down every message it is sent."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[bytes] = []
        self.name = "test synth"

    def send(self, message: bytes) -> None:
        with self.lock:
            self.messages.append(bytes(message))

    def got(self) -> list[bytes]:
        with self.lock:
            return list(self.messages)

    def wait_for(self, message: bytes, count: int = 1) -> list[bytes]:
        assert wait_until(lambda: self.got().count(message) >= count), (message, self.got())
        return self.got()


def held(messages: list[bytes], channel: int) -> set[int]:
    """The pitches a synth hearing `messages` still sounds on `channel` (0-15)."""
    on: set[int] = set()
    for m in messages:
        if m[0] == 0x90 | channel and m[2] > 0:
            on.add(m[1])
        elif m[0] in (0x80 | channel, 0x90 | channel):
            on.discard(m[1])
        elif m[0] == 0xB0 | channel and m[1] == 123:
            on.clear()
    return on


@pytest.fixture
def rig(tmp_path):
    """An Engine whose bass track plays `synth` on channel 2, its clock's sample 0 far enough
    in the past that every message is due at once, in order."""
    engine = Engine(SR)
    engine.clock.now = lambda: 100.0 + engine.position / SR
    synth = Synth()
    sender = MidiSender(synth, "test synth")
    sender.log = []
    engine.inbox.append(core.Sink(BASS, MidiOutTrack(sender, engine.clock, 1, 0.0)))
    path = stemfiles.midi(tmp_path / "bass.mid", NOTES, length=4)
    stem = load_stem(path, SR, "bass-1", 4, "bass")
    yield engine, synth, sender, stem
    sender.close()


def render(engine: Engine, frames: int) -> np.ndarray:
    out = np.zeros((frames, 2), np.float32)
    for k in range(0, frames, BLOCK):
        engine.forward(out[k : k + BLOCK])
    return out


def test_a_stems_notes_go_out_in_order_with_their_note_offs_at_their_samples(rig) -> None:
    engine, synth, sender, stem = rig
    engine.inbox.append(core.Start(BASS, stem, 0, 0.0))
    render(engine, 4 * BEAT + BLOCK)  # one turn of the loop and the first note of the next
    got = synth.wait_for(bytes((0x91, 36, 100)), count=2)
    expected = []
    for start, length, pitch, velocity in NOTES:
        expected += [(start * BEAT, bytes((0x91, pitch, velocity))),
                     ((start + length) * BEAT, bytes((0x81, pitch, 0)))]  # fmt: skip
    expected.append((4 * BEAT, bytes((0x91, 36, 100))))
    expected.sort(key=lambda e: e[0])
    assert got == [m for _, m in expected]
    # each was due when its sample renders: the clock's time of the sample (shift 0 here)
    dues = [round((due - 100.0) * SR) for due, _, _ in sender.log]
    assert dues == [s for s, _ in expected]
    assert not engine.meters[BASS].any(), "hoot's synth is silent on a track that plays hardware"


@pytest.mark.parametrize("how", ["stop", "panic", "back to the synth", "the sender closes"])
def test_no_note_hangs_on_the_hardware(rig, how: str) -> None:
    engine, synth, sender, stem = rig
    engine.inbox.append(core.Start(BASS, stem, 0, 0.0))
    keys = LiveNotes(BASS, 0, None, "keys")  # a keyboard on the same track holds a note too
    engine.inbox.append(core.Live((keys,)))
    render(engine, BLOCK)
    keys.receive(bytes((0x90, 72, 100)), 100.0)
    render(engine, 2 * BEAT + BEAT // 2)  # inside the long note at beat 2
    synth.wait_for(bytes((0x91, 48, 80)))
    synth.wait_for(bytes((0x91, 72, 100)))
    assert held(synth.got(), 1) == {48, 72}
    if how == "stop":
        engine.inbox.append(core.Stop(BASS, engine.position))
    elif how == "panic":
        engine.inbox.append(core.Panic())
    elif how == "back to the synth":
        engine.inbox.append(core.Sink(BASS, None))
    if how == "the sender closes":  # the engine exits, or the track's output changed
        sender.close()
    else:
        render(engine, BEAT)
    got = synth.wait_for(bytes((0xB1, 123, 0)))
    assert held(got, 1) == set()
    end = got.index(bytes((0xB1, 123, 0)))
    # explicit note-offs come before the all-notes-off, for synths that ignore CC 123
    assert {m[1] for m in got[:end] if m[0] == 0x81} >= {48, 72}


def test_a_port_that_comes_back_gets_all_notes_off() -> None:
    synth = Synth()
    sender = MidiSender(synth, "test synth")
    sender.queue.append((0.0, sender.next_order(), bytes((0x93, 60, 100))))
    synth.wait_for(bytes((0x93, 60, 100)))
    sender.all_off_now()
    got = synth.wait_for(bytes((0xB3, 123, 0)))
    assert got[-2:] == [bytes((0x83, 60, 0)), bytes((0xB3, 123, 0))]
    sender.close()


def test_notes_are_sent_when_due_by_the_wall_clock() -> None:
    synth = Synth()
    sender = MidiSender(synth, "test synth")
    sender.log = []
    due = time.monotonic() + 0.05
    sender.queue.append((due, sender.next_order(), bytes((0x90, 60, 100))))
    synth.wait_for(bytes((0x90, 60, 100)))
    (logged_due, sent_at, _), = sender.log
    assert sent_at >= logged_due == due
    sender.close()


# The real engine on JACK, a virtual synth ------------------------------------------------


class Inbox:
    """A virtual synth's input: collects what the engine sends it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[bytes] = []

    def __call__(self, message: bytes, arrived: float) -> None:
        with self.lock:
            self.messages.append(message)

    def got(self) -> list[bytes]:
        with self.lock:
            return list(self.messages)

    def wait_for(self, message: bytes, count: int = 1) -> list[bytes]:
        assert wait_until(lambda: self.got().count(message) >= count), (message, self.got())
        return self.got()


@pytest.fixture
def studio(jack_server) -> Iterator[MidiPorts]:
    with MidiPorts(api="jack") as ports:
        yield ports


@pytest.mark.jack
def test_a_track_plays_a_virtual_synth_and_every_way_out_ends_its_notes(
    jack_server, studio, tmp_path
) -> None:
    synth = Inbox()
    port = studio.virtual_input("hoot-test-synth:in", synth)
    session = Session(tmp_path / "live")
    client = EngineClient.spawn(session.dir, backend="sounddevice", idle_timeout=60)
    try:
        perf = Performance(client, session)
        perf.tracks.bass.midi_out = ("test-synth", 2)
        assert perf.tracks.bass.midi_out == "test-synth" and perf.tracks.bass.midi_channel == 2
        stem = perf.load(stemfiles.midi(tmp_path / "bass.mid", NOTES, length=4), role="bass")
        off = bytes((0xB1, 123, 0))

        # the stem's notes, in order, each followed by its note-off
        stem.queue(at="now")
        got = synth.wait_for(bytes((0x81, 36, 0)), count=2)
        first = got[: got.index(bytes((0x91, 43, 90))) + 1]
        assert first == [bytes((0x91, 36, 100)), bytes((0x81, 36, 0)), bytes((0x91, 43, 90))]
        perf.tracks.bass.stop(at="now")
        assert held(synth.wait_for(off, 1), 1) == set(), "stop"

        stem.queue(at="now")
        synth.wait_for(bytes((0x91, 36, 100)), count=3)
        perf.panic()
        assert held(synth.wait_for(off, 2), 1) == set(), "panic"

        stem.queue(at="now")
        synth.wait_for(bytes((0x91, 36, 100)), count=4)
        perf.tracks.bass.midi_out = None  # track switch: back to hoot's synth
        assert held(synth.wait_for(off, 3), 1) == set(), "back to the synth"

        perf.tracks.bass.midi_out = "hoot-test-synth"  # its channel is remembered
        stem.queue(at="now")
        synth.wait_for(bytes((0x91, 36, 100)), count=5)
        port.close()  # unplugged...
        assert wait_until(lambda: any("unplugged" in x for x in client.messages()))
        synth = Inbox()
        port = studio.virtual_input("hoot-test-synth:in", synth)  # ...and back
        synth.wait_for(off)
        synth.wait_for(bytes((0x91, 36, 100)))  # it plays on
    finally:
        client.shutdown()  # the engine's exit
    got = synth.wait_for(off, 2)
    assert held(got, 1) == set(), "the engine's exit"


@pytest.mark.jack
def test_sigterm_silences_the_hardware(jack_server, studio, tmp_path) -> None:
    synth = Inbox()
    studio.virtual_input("hoot-test-synth:in", synth)
    session = Session(tmp_path / "live")
    client = EngineClient.spawn(session.dir, backend="sounddevice", idle_timeout=60)
    perf = Performance(client, session)
    perf.tracks.chords.midi_out = ("hoot-test-synth", 5)
    long_chord = [(0, 4, 60, 100), (0, 4, 64, 100), (0, 4, 67, 100)]
    perf.load(stemfiles.midi(tmp_path / "c.mid", long_chord, length=4), role="chords").queue("now")
    synth.wait_for(bytes((0x94, 67, 100)))
    os.kill(client.info.pid, signal.SIGTERM)
    got = synth.wait_for(bytes((0xB4, 123, 0)))
    assert held(got, 4) == set()
    assert wait_until(lambda: not client.socket_path.exists())
