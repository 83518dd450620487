"""Continuations and the moment a model hears (perf.continue_, perf.generate's context): a
stem's loop, or what a keyboard just played on JACK, becomes the prompt a model goes on
from, and every other track's loop reaches the generator turned to where it will be at the
boundary the candidates are made for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hoot.errors import HootError
from hoot.generate.batch import Status
from hoot.session import Session
from hoot.stage import Stage
from tests import stemfiles
from tests.generate.orpheus_fakes import write_tiny
from tests.waiting import PATIENCE, wait_until

SR = 48000
TINY = "tests.generate.orpheus_fakes:Tiny"
LEAD = [(0.0, 0.5, 72, 100), (1.0, 0.5, 74, 90), (2.0, 1.0, 76, 80), (3.5, 0.5, 79, 70)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return write_tiny(tmp_path_factory.mktemp("orpheus") / "tiny.pth")


@pytest.fixture
def stage(tmp_path: Path, tiny: str, monkeypatch) -> Iterator[Stage]:
    monkeypatch.setenv("HOOT_TEST_ORPHEUS", tiny)
    stage = Stage.offline(Session(tmp_path / "set"), SR)
    stage.perf.on_message = lambda m: None
    yield stage
    stage.close()


def test_a_stem_goes_on_from_its_own_loop(stage, tmp_path) -> None:
    perf = stage.perf
    perf.key = "C major"
    stem = perf.load(stemfiles.midi(tmp_path / "lead.mid", LEAD, 4.0, bars=1), "lead")
    stem.queue(at="bar")
    perf.wait(bars=1.5)
    batch = perf.continue_("lead", n=2, bars=4, using=TINY).wait(PATIENCE * 4)
    assert [c.status for c in batch] == [Status.READY] * 2, [c.reason for c in batch]
    prompt = batch.request.context["prompt"]
    assert prompt["track"] == "lead" and prompt["length"] == 4.0
    # the loop turned to where it is at the boundary: a whole bar loop is at its start there
    assert [tuple(n) for n in prompt["notes"]] == [tuple(map(float, n)) for n in LEAD]
    assert all(c.notes.length == 16.0 for c in batch)


def test_the_other_tracks_reach_the_generator_turned_to_the_boundary(stage, tmp_path) -> None:
    perf = stage.perf
    # a 2-bar loop started on bar 1 is half-way through at the phrase boundary (bar 4)
    notes = [(0.0, 0.5, 40, 100), (1.0, 0.5, 43, 90), (5.0, 0.5, 45, 80)]
    bass = perf.load(stemfiles.midi(tmp_path / "bass.mid", notes, 8.0, bars=2), "bass")
    perf.wait(beats=1)
    bass.queue(at="bar")
    perf.wait(bars=1.25)
    moment = perf.first_moment()
    batch = perf.generate("lead", n=1, bars=4, using=TINY)
    line = batch.request.context["tracks"]["bass"]
    (entry,) = [t for t in perf.score["tracks"] if t["track"] == "bass"]
    phase = (moment.beat - entry["start_beat"]) % 8.0
    assert phase == 4.0, "the test's premise: the loop is mid-way at the boundary"
    assert [[n[0], n[2]] for n in line["notes"]] == [[1.0, 45], [4.0, 40], [5.0, 43]]
    assert line["length"] == 8.0 and "lead" not in batch.request.context["tracks"]
    assert batch.wait(PATIENCE * 4)[1].status is Status.READY


def test_what_cannot_be_continued_says_why(stage) -> None:
    perf = stage.perf
    with pytest.raises(HootError, match="does not continue a line"):
        perf.continue_("lead", using="default")
    with pytest.raises(HootError, match="nothing plays on bass"):
        perf.continue_("bass", using=TINY)
    with pytest.raises(HootError, match="no track 'bas'"):
        perf.continue_("bas", using=TINY)
    with pytest.raises(HootError, match="nothing was played on keys in the last 2 bars"):
        perf.continue_("keys", role="lead", using=TINY)
    with pytest.raises(HootError, match="heard=0"):
        perf.continue_("keys", heard=0, using=TINY)


@pytest.mark.jack
def test_what_a_keyboard_just_played_is_the_prompt(jack_server, tmp_path, tiny, monkeypatch):
    from hoot.engine.client import EngineClient
    from hoot.midi.ports import MidiPorts
    from hoot.performance import Performance

    monkeypatch.setenv("HOOT_TEST_ORPHEUS", tiny)
    session = Session(tmp_path / "live")
    client = EngineClient.spawn(session.dir, backend="sounddevice", idle_timeout=60)
    perf = Performance(client, session)
    perf.on_message = lambda m: None
    try:
        with MidiPorts(api="jack") as ports:
            keyboard = ports.virtual_output("hoot-test-keys:out")
            perf.tracks.keys.play_from("test-keys")

            def probe() -> bool:  # JACK makes a new connection live in its own cycle
                keyboard.send(bytes((0x90, 30, 10)))
                keyboard.send(bytes((0x80, 30, 0)))
                return bool(perf._played("keys", 8.0))

            assert wait_until(probe)
            played = [60, 64, 67, 72]
            for pitch in played:
                keyboard.send(bytes((0x90, pitch, 100)))
                keyboard.send(bytes((0x80, pitch, 0)))
            assert wait_until(lambda: {60, 72} <= {n[2] for n in perf._played("keys", 8.0)})
            batch = perf.continue_("keys", role="lead", n=2, bars=4, using=TINY)
            prompt = batch.request.context["prompt"]
            assert [n[2] for n in prompt["notes"] if n[2] != 30] == played
            assert prompt["length"] == 8.0 and all(0 <= n[0] < 8.0 for n in prompt["notes"])
            batch.wait(PATIENCE * 4)
            assert [c.status for c in batch] == [Status.READY] * 2, [c.reason for c in batch]
    finally:
        perf.close()
        client.shutdown()
