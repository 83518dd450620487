"""The live-note table in shared memory: a model's process plays a track through a slot of
its own exactly as a keyboard does (one host block after each message's arrival), letting
the slot go ends its notes, a killed writer holds nothing up, and a passive reader in
another process hears a keyboard's notes with their arrival stamps while the engine plays
them. First an offline engine with injected block stamps (exact to the sample), then the
real engine process on JACK with a virtual keyboard."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numba
import numpy as np
import pytest

from hoot import runtime
from hoot.engine import core, rings
from hoot.engine import protocol as p
from hoot.engine.client import EngineClient, LocalEngine
from hoot.engine.core import Engine
from hoot.engine.kernel import world as kw
from hoot.engine.live_midi import LiveNotes
from hoot.errors import EngineError
from hoot.midi.ports import MidiPorts
from hoot.session import Session
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
SR = 48000
BLOCK = 256
ORIGIN = 1000.0  # the monotonic time at which sample 0 renders (offline)


def python(script: str, **kw) -> subprocess.Popen:
    """Another process, importing this worktree's hoot."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=REPO, text=True, **kw
    )


def write_in_another_process(path: str, slot: int, messages: list[tuple[float, bytes]]) -> None:
    """A model's process: it opens the slot, writes `messages` (arrival, bytes) and exits."""
    proc = python(f"""
        from hoot.engine.rings import NoteWriter
        writer = NoteWriter({path!r}, {slot})
        for arrived, message in {messages!r}:
            writer.write(message, arrived)
        writer.close()
    """)
    assert proc.wait(timeout=120) == 0


class Offline:
    """A LocalEngine whose blocks begin at known wall times (ORIGIN + sample / SR)."""

    def __init__(self) -> None:
        self.link = LocalEngine(SR, blocksize=BLOCK)
        self.engine = self.link.engine
        self.engine.clock.now = lambda: ORIGIN + self.engine.position / SR

    def play(self, frames: int) -> np.ndarray:
        return self.link.advance(frames)[:, 0]

    def close(self) -> None:
        self.link.close()


def first_sound(signal: np.ndarray) -> int:
    return int(np.flatnonzero(signal)[0]) - Engine(SR).limiter.latency


def test_the_live_table_is_one_shared_file_the_kernel_types_as_before() -> None:
    engine = Engine(SR)
    path = Path(engine.notes_path)
    assert path.parent == runtime.runtime_dir() and path.suffix == ".notes"
    assert path.stat().st_size == rings.note_size(kw.LIVE_SLOTS, 4096)
    fresh = kw.make_live_table()
    for shared, own in zip(engine.core.live, fresh, strict=True):
        assert numba.typeof(shared) == numba.typeof(own), "no new compile for shared memory"
        assert shared.shape == own.shape and shared.dtype == own.dtype
    out = np.zeros((BLOCK, 2), np.float32)
    engine.forward(out)
    compiled = len(kw.process.signatures)
    world = engine.core.world()
    clock = kw.kclock.make_clock(SR)
    kw.process(world._replace(live=fresh, clock=clock), out[:, :0], out, BLOCK, 0)
    assert len(kw.process.signatures) == compiled, "one machine code for both"
    del engine
    gc.collect()
    assert not path.exists(), "an offline engine's table goes with it"


def test_a_model_in_another_process_plays_a_track_as_a_keyboard_would() -> None:
    model, keys = Offline(), Offline()
    try:
        slot = model.link.send(p.ModelNotes(track="lead", name="harmony", sound="square"))
        assert isinstance(slot, p.NoteSlot) and slot.track == "lead"
        assert slot.path == model.engine.notes_path and 0 <= slot.slot < kw.LIVE_SLOTS
        assert slot.track_index == model.engine.tracks.index("lead")
        keyboard = LiveNotes(slot.track_index, model.engine.core.live.regs[slot.slot, 1])
        keys.engine.inbox.append(core.Live((keyboard,)))
        model.play(4 * BLOCK)
        keys.play(4 * BLOCK)
        # two notes arriving in one block, a note off, then a note whose place was already
        # rendered when its message came: the next block's first sample
        on_time = [
            (ORIGIN + (4 * BLOCK + 37) / SR, bytes((0x90, 60, 100))),
            (ORIGIN + (4 * BLOCK + 200) / SR, bytes((0x90, 67, 90))),
            (ORIGIN + (4 * BLOCK + 230) / SR, bytes((0x80, 60, 0))),
        ]
        late = [(ORIGIN + (SR // 4) / SR, bytes((0x90, 64, 80)))]
        for messages in (on_time, late):
            write_in_another_process(slot.path, slot.slot, messages)
            for arrived, message in messages:
                keyboard.receive(message, arrived)
            heard, expected = model.play(SR // 4), keys.play(SR // 4)
            assert heard.tobytes() == expected.tobytes(), "exactly what a keyboard plays"
            if messages is on_time:
                assert first_sound(heard) == 37 + BLOCK, "one block after its arrival"
        assert model.engine.core.live.regs[slot.slot, 6] == 3  # notes started
    finally:
        model.close()
        keys.close()


def test_letting_the_slot_go_ends_its_held_notes_and_its_writer_falls_silent() -> None:
    model = Offline()
    try:
        slot = model.link.send(p.ModelNotes(track="lead", name="improviser"))
        assert model.link.send(p.ModelNotes(track="lead", name="improviser")) == slot
        writer = rings.NoteWriter(slot.path, slot.slot)
        writer.write(bytes((0x90, 60, 100)), ORIGIN)
        writer.write(bytes((0x90, 64, 100)), ORIGIN)
        assert model.play(SR // 4)[-BLOCK:].any(), "held"
        assert model.engine.core.voice_count() > 0
        gone = model.link.send(p.ModelNotes(track="lead", on=False, name="improviser"))
        assert gone.slot == -1
        assert not writer.mine
        writer.write(bytes((0x90, 67, 100)), ORIGIN + model.engine.position / SR)
        assert writer.stale == 1, "the slot is the engine's again: ignored"
        assert not model.play(SR // 4)[-BLOCK:].any(), "every note ended"
        assert model.engine.core.voice_count() == 0
        writer.close()
    finally:
        model.close()


def test_a_model_slot_is_not_a_port_and_another_slot_is_refused() -> None:
    model = Offline()
    try:
        slot = model.link.send(p.ModelNotes(track="keys", name="harmony"))
        info = model.link.send(p.NoteTable())
        assert info == p.NoteTableInfo(model.engine.notes_path, model.engine.tracks)
        reader = rings.NoteReader(info.path, info.tracks.index("keys"))
        writer = rings.NoteWriter(slot.path, slot.slot)
        writer.write(bytes((0x90, 60, 100)), ORIGIN)
        model.play(BLOCK)
        assert reader.read() == [], "a reader hears keyboards, not models"
        with pytest.raises(EngineError, match="not a model"):
            rings.NoteWriter(slot.path, (slot.slot + 1) % kw.LIVE_SLOTS)
        with pytest.raises(EngineError, match="no live-note table"):
            rings.NoteReader(str(runtime.runtime_dir() / "nothing.notes"), 0)
    finally:
        model.close()


def test_a_passive_reader_hears_a_keyboard_from_the_start_of_each_slot_without_taking() -> None:
    model = Offline()
    try:
        engine = model.engine
        lead = engine.tracks.index("lead")
        reader = rings.NoteReader(engine.notes_path, lead)
        first = LiveNotes(lead, 0, None, "first keys")
        engine.inbox.append(core.Live((first,)))
        model.play(BLOCK)  # the core takes the slot: its TRACK register is lead's
        first.receive(bytes((0x90, 60, 100)), ORIGIN + 10 / SR)
        assert reader.read() == [(ORIGIN + 10 / SR, 0x90, 60, 100)]
        first.receive(bytes((0x80, 60, 0)), ORIGIN + 20 / SR)
        model.play(BLOCK)  # the audio thread reads the same records, its count untouched
        assert engine.core.live.index[engine.core.live_slot(first), 1] == 2
        second = LiveNotes(lead, 0, None, "replugged keys")  # re-routed: a new slot
        engine.inbox.append(core.Live((second,)))
        second.receive(bytes((0x90, 62, 90)), ORIGIN + 300 / SR)
        assert reader.read() == [(ORIGIN + 20 / SR, 0x80, 60, 0)], "the old one to its end"
        other = LiveNotes(engine.tracks.index("bass"), 0, None, "bass keys")
        engine.inbox.append(core.Live((second, other)))
        other.receive(bytes((0x90, 40, 90)), ORIGIN + 310 / SR)
        model.play(BLOCK)
        assert reader.read() == [(ORIGIN + 300 / SR, 0x90, 62, 90)], "followed, bass not"
        for k in range(5000):  # round the ring of 4096 before the reader looks again
            second.receive(bytes((0x90, 60 + k % 2, 90)), ORIGIN + 400 / SR)
            if k % 1000 == 0:
                model.play(BLOCK)
        model.play(BLOCK)
        got = reader.read()
        assert reader.lost + len(got) == 5000 and reader.lost > 0
        assert reader.sample_at(ORIGIN + 300 / SR) == 300
    finally:
        model.close()


def test_a_dead_engines_table_is_cleaned_and_a_finished_one_leaves_none() -> None:
    finished = python(
        """
        from hoot.engine.client import LocalEngine
        link = LocalEngine()
        print(link.engine.notes_path, flush=True)
        """,
        stdout=subprocess.PIPE,
    )
    out, _ = finished.communicate(timeout=300)
    assert finished.returncode == 0
    assert not Path(out.strip()).exists(), "an offline engine's table goes at exit"
    killed = python(
        """
        import time
        from hoot.engine import rings
        rings.create_note_table("test-killed.notes", 8, 16)
        print("made", flush=True)
        time.sleep(600)
        """,
        stdout=subprocess.PIPE,
    )
    try:
        assert killed.stdout.readline().strip() == "made"
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    left = runtime.runtime_dir() / "test-killed.notes"
    assert left.exists()
    assert left in runtime.clean()
    assert not left.exists()


# The real engine on JACK ----------------------------------------------------------------


@pytest.fixture
def live(jack_server, tmp_path) -> Iterator[EngineClient]:
    session = Session(tmp_path / "live")
    client = EngineClient.spawn(session.dir, backend="sounddevice", idle_timeout=60)
    assert client.info.backend == "sounddevice", client.messages()  # PortAudio
    yield client
    client.shutdown()


PROBE = 30  # a pitch sent until the engine hears the port, left out of what is compared


def got_notes(records: list[tuple[float, int, int, int]]) -> list[tuple[int, int, int]]:
    return [r[1:] for r in records]


def is_in_order(sent: list[tuple[int, int, int]], records: list) -> bool:
    """Whether `sent` messages appear in `records` in that order (a port may deliver one
    twice on a busy machine; the ring holds what came, and the reader must too)."""
    notes = iter(got_notes(records))
    return all(any(note == x for x in notes) for note in sent)


def meter(client: EngineClient, track: str):
    index = client.tracks.index(track)
    return lambda: float(client.status().meters[index, 0])


@pytest.mark.jack
def test_a_killed_model_never_holds_the_engine_up_and_its_slot_ends_its_note(live) -> None:
    slot = live.send(p.ModelNotes(track="lead", name="harmony", sound="pulse_lead"))
    path = Path(slot.path)
    assert path.exists()
    writer = python(
        f"""
        import time
        from hoot.engine.rings import NoteWriter
        writer = NoteWriter({slot.path!r}, {slot.slot})
        writer.write(bytes((0x90, 64, 100)), time.monotonic())
        print("held", flush=True)
        while True:  # a model busy writing when it is killed
            writer.write(bytes((0xE0, 0, 64)), time.monotonic())
            time.sleep(0.001)
        """,
        stdout=subprocess.PIPE,
    )
    lead = meter(live, "lead")
    try:
        assert writer.stdout.readline().strip() == "held"
        assert wait_until(lambda: lead() > 0.02), "the model's note sounds"
    finally:
        writer.kill()
        writer.wait()
    start = live.status().position
    assert wait_until(lambda: live.status().position - start > 0.3 * SR), "plays on"
    assert lead() > 0.02, "the note is held still: nobody let go"
    live.send(p.ModelNotes(track="lead", on=False, name="harmony"))
    assert wait_until(lambda: lead() == 0.0), "letting the slot go ends it"
    live.shutdown()
    assert not path.exists(), "the table goes with the engine"


@pytest.mark.jack
def test_a_reader_in_another_process_hears_a_keyboard_in_order_with_its_stamps(
    live, jack_server
) -> None:
    with MidiPorts(api="jack") as studio:
        keys = studio.virtual_output("hoot-test-note-keys:out")
        route = live.send(p.PlayFrom(track="keys", port="hoot-test-note-keys"))
        assert route.port == "hoot-test-note-keys:out"
        info = live.send(p.NoteTable())
        reader = rings.NoteReader(info.path, info.tracks.index("keys"))
        played = meter(live, "keys")

        def connected() -> bool:  # JACK connects the engine's port to ours in its own time:
            keys.send(bytes((0x90, PROBE, 1)))  # what is sent before that is lost (a full
            keys.send(bytes((0x80, PROBE, 0)))  # suite's CI run lost the notes below once)
            return any(r[2] == PROBE for r in reader.read())

        assert wait_until(connected)
        sent = time.monotonic()
        keys.send(bytes((0x90, 60, 110)))
        keys.send(bytes((0x90, 64, 100)))
        keys.send(b"\xf8")  # clock: not a note, not in the table
        keys.send(bytes((0x80, 60, 0)))
        got: list[tuple[float, int, int, int]] = []
        table, _, _ = rings._open_note_table(info.path, writable=False)  # what the core did
        (k,) = np.flatnonzero(table.kind == rings.PORT)
        sent_notes = [(0x90, 60, 110), (0x90, 64, 100), (0x80, 60, 0)]
        assert wait_until(lambda: got.extend(reader.read()) or is_in_order(sent_notes, got))
        got += reader.read()
        written = int(table.index[k, 0])
        ring = [
            (float(table.arrived[k, j]), *(int(x) for x in table.message[k, j]))
            for j in range(written)
        ]
        got, ring = ([r for r in rs if r[2] != PROBE] for rs in (got, ring))
        assert got == ring[: len(got)], "every record, in order, with the core's stamps"
        stamps = [r[0] for r in got]
        assert sent <= stamps[0] and stamps == sorted(stamps) and stamps[-1] <= time.monotonic()
        assert wait_until(lambda: played() > 0.0), "the engine plays them all the same"
        assert wait_until(lambda: table.index[k, 1] >= written), "it read them: its own count"
        keys.send(bytes((0x80, 64, 0)))
        assert wait_until(lambda: got.extend(reader.read()) or (0x80, 64, 0) in got_notes(got))
        live.send(p.PlayFrom(track="keys", port=None))
        live.send(p.PlayFrom(track="keys", port="hoot-test-note-keys"))
        keys.send(bytes((0x90, 72, 90)))  # re-routed: a new slot, followed
        assert wait_until(lambda: got.extend(reader.read()) or (0x90, 72, 90) in got_notes(got))
        assert reader.lost == 0
        keys.send(bytes((0x80, 72, 0)))
        assert os.path.exists(info.path)
