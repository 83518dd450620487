"""perf.generate as a performer uses it: batches, candidates, the worker pool, picking."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import soundfile as sf

from hoot.engine.client import LocalEngine
from hoot.errors import HootError
from hoot.generate.batch import Status
from hoot.performance import Performance
from hoot.render import render
from hoot.session import Session

SR = 48000
FAKES = "tests.generate.fakes"


@pytest.fixture
def session(tmp_path):
    return Session(tmp_path / "gen")


@pytest.fixture
def perf(session):
    p = Performance(LocalEngine(SR, session_dir=session.dir), session)
    p.on_message = lambda m: None
    yield p
    p.close()


def test_generate_returns_at_once_and_six_candidates_become_ready(perf, session):
    perf.key = "D minor"
    perf.chords = "i VI III VII"
    started = time.perf_counter()
    batch = perf.generate("bass", n=6, seed=11)
    assert time.perf_counter() - started < 0.5, "generate() must not wait for the music"
    assert len(batch) == 6
    assert {c.status for c in batch} <= {Status.PENDING, Status.RENDERING}
    batch.wait(timeout=120)
    assert [c.status for c in batch] == [Status.READY] * 6, [c.reason for c in batch]
    for c in batch:
        meta = json.loads(c.mid.with_suffix(".json").read_text())
        assert (meta["generator"], meta["seed"], meta["index"]) == ("default", 11, c.index)
        assert meta["key"] == "D minor" and meta["request"]["chords"] == ["Dm", "Bb", "F", "C"]
        audio, sr = sf.read(str(c.wav))
        assert sr == SR and len(audio) == round(4 * 4 * 60 / 120 * SR)
        assert c.notes is not None and len(c.notes) > 0
        assert c.wav.parent == perf.picker.spool, "audio waits in memory until it is picked"
    assert not list(session.stems.glob("*.wav")), "nothing big was written to the session"
    assert perf.picker["bass"] is batch
    assert batch[1] is batch.candidates[0] and batch[6].number == 6 and batch[-1] is batch[6]
    with pytest.raises(HootError, match="numbered from 1"):
        batch[0]
    with pytest.raises(HootError, match="1 to 6"):
        batch[7]


def test_a_generator_that_raises_fails_only_its_candidates(perf):
    batch = perf.generate("lead", n=6, using=f"{FAKES}:Exploding").wait(timeout=120)
    assert [c.status for c in batch] == [
        Status.READY,
        Status.FAILED,
        Status.READY,
        Status.FAILED,
        Status.READY,
        Status.READY,
    ]
    assert "boom in candidate 1" in batch[2].reason


def test_a_killed_worker_fails_only_its_candidate_and_is_replaced(perf):
    batch = perf.generate("bass", n=5, using=f"{FAKES}:Killer").wait(timeout=120)
    assert batch[3].status is Status.FAILED
    assert "worker process died" in batch[3].reason
    assert [c.status for c in batch if c.number != 3] == [Status.READY] * 4
    again = perf.generate("bass", n=2, using=f"{FAKES}:Exploding").wait(timeout=120)
    assert again[1].status is Status.READY, "the pool replaced the dead worker"


def test_a_batch_can_be_cancelled(perf):
    batch = perf.generate("pad", n=3, using=f"{FAKES}:Slow")
    time.sleep(1.0)
    batch.cancel()
    batch.wait(timeout=20)
    assert [c.status for c in batch] == [Status.FAILED] * 3
    assert all(c.reason == "cancelled" for c in batch)


def test_unavailable_and_unknown_generators_say_why(perf):
    batch = perf.generate("bass", n=1, using=f"{FAKES}:Unavailable").wait(timeout=60)
    assert batch[1].status is Status.FAILED
    assert "no checkpoint in models/" in batch[1].reason
    with pytest.raises(HootError, match="not available"):
        perf.generate("bass", using="orpheus")
    assert "no Orpheus" in perf.generators["orpheus"]
    with pytest.raises(HootError, match="no role 'bas' \\(did you mean 'bass'\\?\\)"):
        perf.generate("bas")
    with pytest.raises(HootError, match="no role 'kazoo'; roles are drums, bass"):
        perf.generate("kazoo")
    with pytest.raises(HootError, match="1 to 16"):
        perf.generate("bass", n=0)


def test_batches_persist_in_the_session(session):
    first = Performance(LocalEngine(SR, session_dir=session.dir), session)
    first.on_message = lambda m: None
    made = first.generate("chords", n=3, seed=5).wait(timeout=120)
    first.close()
    again = Performance(LocalEngine(SR, session_dir=session.dir), session)
    try:
        restored = again.picker["chords"]
        assert restored.id == made.id
        assert [c.status for c in restored] == [Status.READY] * 3
        assert [c.seed for c in restored] == [5] * 3
        assert restored[1].queue(at="now") == again.now
    finally:
        again.close()


def test_export_writes_the_wav_and_midi(perf, tmp_path):
    c = perf.generate("lead", n=1, seed=2)[1].wait(timeout=60)
    files = c.export(tmp_path / "out")
    assert sorted(p.suffix for p in files) == [".json", ".mid", ".wav"]


def test_a_pick_starts_exactly_at_the_phrase_boundary(session):
    expected = {}

    def script(perf):
        perf.on_message = lambda m: None
        batch = perf.generate("bass", n=2, seed=3, bars=2).wait(timeout=120)
        perf.wait(beats=5.5)
        expected["at"] = perf.tempo_map().next_boundary(perf.now, "phrase")
        assert perf.pick("bass", 2) is batch[2]
        assert batch[2].queued == expected["at"]
        assert batch[2].kept is not None or batch[2].wav.exists()
        assert "bass #2 ready, queued for bar 5" in repr(batch[2])
        perf.wait(bars=3)  # past the boundary at bar 5
        assert "bass #2 ready, playing since bar 5" in repr(batch[2])
        assert "bass #1 ready, seed" in repr(batch[1]), "the other one is just ready"
        perf.close()

    audio = render(script, bars=6, session=session)
    at = expected["at"]
    assert at == 16 * 24000
    assert np.abs(audio[:at]).max() == 0.0, "nothing before the boundary"
    assert np.abs(audio[at]).max() > 0.0, "the stem's first sample is at the boundary"
    assert np.abs(audio[at : at + 4 * 24000]).max() > 0.05, "and the bass plays in that bar"


def test_queue_before_ready_starts_at_the_first_boundary_after(perf):
    said = []
    perf.on_message = said.append
    batch = perf.generate("drums", n=1, seed=4)
    assert batch[1].queue() is None
    assert "will start" in said[-1]
    batch.wait(timeout=60)
    deadline = time.monotonic() + 5
    while batch[1].queued is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert batch[1].queued is not None
    assert [p.stem for p in perf.tracks.drums.playing] == [batch[1].name]


def test_fixed_seeds_give_identical_audio_for_every_role(perf):
    from hoot.generate.loudness import integrated_loudness
    from hoot.music import ROLES

    for role in ROLES:
        a = perf.generate(role, n=1, seed=21, bars=2)[1].wait(timeout=60)
        b = perf.generate(role, n=1, seed=21, bars=2)[1].wait(timeout=60)
        assert a.status is Status.READY and b.status is Status.READY, (a.reason, b.reason)
        assert np.array_equal(a.audio, b.audio), f"{role}: same seed, same sound"
        assert a.notes == b.notes
        lufs = integrated_loudness(a.audio, SR, loop=True)
        assert abs(lufs - -14.0) <= 0.5, f"{role}: {lufs:.2f} LUFS, measured as it loops"


def test_a_track_can_sound_through_a_soundfont(perf):
    from hoot.generate.loudness import integrated_loudness

    perf.tracks.chords.sound = "soundfont:48"  # General MIDI strings
    c = perf.generate("chords", n=1, seed=8, bars=2)[1].wait(timeout=120)
    assert c.status is Status.READY, c.reason
    assert c.meta["render"]["sound"] == "soundfont:48" and c.request.sound == "soundfont:48"
    assert abs(integrated_loudness(c.audio, SR, loop=True) - -14.0) <= 0.5
    with pytest.raises(HootError, match="did you mean 'saw_lead'"):
        perf.tracks.lead.sound = "saw_led"
    with pytest.raises(HootError, match="0 to 127"):
        perf.tracks.lead.sound = "soundfont:300"
    perf.tracks.chords.sound = None
    assert perf.tracks.chords.sound is None


def test_by_phrase_tells_the_performer_what_will_be_late(perf):
    said = []
    perf.on_message = said.append
    batch = perf.generate("pad", n=2, using=f"{FAKES}:Slow", by="phrase")
    assert batch.deadline == perf.first_moment().sample
    perf.wait(bars=5)  # offline time passes the boundary while the candidates still render
    deadline = time.monotonic() + 5
    while not said and time.monotonic() < deadline:
        time.sleep(0.01)
    assert said and "#1, #2 will not be ready for the phrase at bar" in said[0]
    batch.cancel()


def wait_for(predicate, timeout: float = 60.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"waited {timeout:g} s for {what or predicate}")


def test_a_picked_candidate_is_kept_in_the_session(perf, session):
    batch = perf.generate("bass", n=2, bars=1, seed=6).wait(timeout=60)
    assert not (session.stems / f"{batch[2].name}.wav").exists()
    batch[2].queue(at="now")
    kept = wait_for(lambda: batch[2].kept, what="the pick to be copied into the session")
    assert kept == session.stems / f"{batch[2].name}.wav" and kept.exists()
    path = session.dir / "batches" / f"{batch.id}.json"  # saved just after `kept` is set

    def manifest_says_kept() -> bool:
        try:
            return json.loads(path.read_text())["candidates"][1]["kept"] == str(kept)
        except (OSError, ValueError):
            return False

    assert wait_for(manifest_says_kept, what="the batch's manifest to say it is kept")
    assert not (session.stems / f"{batch[1].name}.wav").exists(), "only what was picked"


def test_a_candidate_whose_audio_left_the_spool_is_rendered_again_when_picked(perf):
    said = []
    perf.on_message = said.append
    old = perf.generate("chords", n=2, bars=1, seed=7).wait(timeout=60)
    new = perf.generate("chords", n=2, bars=1, seed=8).wait(timeout=60)
    wait_for(lambda: old[1].name not in perf._loaded, what="the old batch to leave the engine")
    perf.picker._trim_spool(budget=0)  # memory is short: the old batch's audio goes first
    assert not old[1].wav.exists() and new[1].wav.exists(), "the latest batch stays"
    assert old[1].queue(at="now") is None
    assert "rendered again" in said[-1]
    wait_for(lambda: old[1].queued is not None, what="the re-rendered candidate to start")
    assert [p.stem for p in perf.tracks.chords.playing] == [old[1].take_id]


def test_after_a_tempo_change_a_playing_loop_is_made_again_and_stays_whole(session):
    seen = {}

    def script(perf):
        perf.on_message = lambda m: None
        for track in perf.tracks:
            track.gain = 0
        c = perf.generate("bass", n=1, bars=1, seed=9).wait(timeout=60)[1]
        c.queue(at="bar")
        perf.wait(bars=1.5)
        perf.set_tempo(150, at="bar")  # bar 2 on: each turn is shorter than the loop
        # offline, time stands still while the pool renders: the new take is there before
        # the new tempo begins
        wait_for(lambda: c.take_bpm == 150, what="the take at 150 BPM")
        seen["take"], _ = sf.read(str(c.take_path), dtype="float32", always_2d=True)
        seen["first"] = c.audio
        perf.wait(bars=6)
        seen["map"] = perf.tempo_map()
        perf.close()

    out = render(script, bars=8, session=session)
    tm, take, first = seen["map"], seen["take"], seen["first"]
    assert len(take) == round(4 * 60 / 150 * SR) < len(first)
    turns = [tm.sample_at(4.0 * k) for k in range(9)]
    # bars 0 and 1 play the take made at 120; from bar 2, at 150 BPM, every turn is the
    # whole take made at 150: not the old one cut short
    for k in (0, 1):
        assert np.allclose(out[turns[k] : turns[k + 1]], first, atol=1e-6)
    for k in range(2, 8):
        assert np.allclose(out[turns[k] : turns[k + 1]], take, atol=1e-6), f"bar {k}"


def test_a_batch_is_made_for_the_grid_in_force_where_it_can_first_play(perf):
    perf.phrase = 4
    perf.wait(bars=5)  # mid-set: a change now waits for the next phrase boundary
    perf.phrase = 2
    perf.meter = "7/8"
    perf.tempo = 96
    assert perf.phrase == 4, "the old phrase lasts until the boundary"
    batch = perf.generate("bass", n=1, seed=1)
    r = batch.request
    assert (r.bars, r.meter, r.bpm) == (2, "7/8", 96.0), "what is in force when it can play"
    assert "2 bars of 7/8 at 96 BPM" in repr(batch)
    batch.cancel()
