"""Following a band from the performer's side: `perf.follow` with input names, the tap-tempo
and "this is one" actions in every mode, the grid's sync text, and the follower's thread
reading a real engine's input ring (a stand-in tracker takes the place of hoot.beats's
until the tracker is merged; tests/control/test_follow_e2e.py runs the real one)."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from hoot.control.beat_follow import BeatFollow
from hoot.engine.client import EngineClient, process_alive
from hoot.errors import HootError
from hoot.session import Session
from hoot.stage import Stage
from tests.control.standin_tracker import StandInTracker, band
from tests.waiting import wait_until

SR = 48000


def with_standin(stage, tracker, listen: bool = False) -> None:
    """perf.follow(inputs) starts a band follower with `tracker` in place of hoot.beats's."""
    stage.perf.open_sync = lambda source, _listen=None: BeatFollow(
        stage.perf, source, tracker=tracker, thread=listen
    )


@pytest.fixture
def stage(tmp_path):
    stage = Stage.offline(Session(tmp_path / "gig"))
    stage.said = []
    stage.on_message = stage.said.append
    stage.perf.input("kit", signal="clicks 124")
    stage.perf.input("piano", signal="sine 220")
    yield stage
    stage.close()


def test_three_taps_set_hoots_tempo_from_the_next_beat(stage):
    actions, perf = stage.actions, stage.perf
    assert actions.tap(at=100.0) == "tap 1: 2 more for a tempo"
    assert actions.tap(at=100.48) == "tap 2: 1 more for a tempo"
    assert actions.tap(at=100.96) == "tap: 125 BPM from the next beat"
    perf.wait(beats=1.01)
    assert perf.tempo == pytest.approx(125.0)
    # a pause of 2 s starts the count again; a late tap changes nothing (the median)
    said = [actions.tap(at=t) for t in (110.0, 110.6, 111.2, 111.9, 112.5)]
    assert said[:2] == ["tap 1: 2 more for a tempo", "tap 2: 1 more for a tempo"]
    assert said[-1] == "tap: 100 BPM from the next beat"


def test_taps_while_following_a_band_also_hint_its_tracker(stage):
    tracker = StandInTracker([])
    with_standin(stage, tracker)
    assert stage.perf.follow(["kit", "piano"]) == "band: kit + piano"
    for t in (5.0, 5.5, 6.0):
        said = stage.actions.tap(at=t)
    assert said == "tap: 120 BPM, and a hint to the band: kit + piano follower"
    assert tracker.hints == [120.0]


def test_this_is_one_starts_a_phrase_on_the_beat_heard_and_tells_the_tracker(stage):
    perf = stage.perf
    tracker = StandInTracker([])
    with_standin(stage, tracker)
    perf.follow("kit")
    follower = perf.follower
    follower.round_trip = 480
    perf.wait(beats=6.1)  # just after beat 3 of bar 2
    follower.hear(0, np.zeros(perf.now, np.float32))  # the ring from sample 0 on
    assert stage.actions.one() == "one: a phrase starts at bar 3"  # bar 2 was cut short
    pos = perf.position
    assert pos.bar_in_phrase == 0 and pos.beat_in_bar == pytest.approx(0.1, abs=0.01)
    assert tracker.ones == [pytest.approx((perf.now + 480) / SR)]


def test_follow_takes_input_names_saves_them_and_goes_back_to_the_internal_clock(stage):
    perf = stage.perf
    with_standin(stage, StandInTracker([]))
    assert perf.follow(["kit", "piano"]) == "band: kit + piano"
    assert stage.session.read_settings()["follow"] == ["kit", "piano"]
    assert perf.follow(("kit",)) == "band: kit" and not perf.locked
    assert stage.session.read_settings()["follow"] == "kit"
    with pytest.raises(HootError, match="bass is no input to follow; inputs are kit, piano"):
        perf.follow(["kit", "bass"])
    with pytest.raises(HootError, match=r"follow\(\[\]\): an input track"):
        perf.follow([])
    assert perf.follow(None) == "internal" and perf.follower is None
    assert "follow" not in stage.session.read_settings()


def test_the_view_shows_the_band_its_lock_and_confidence(stage):
    perf = stage.perf
    times = band([(124.0, 12)])
    with_standin(stage, StandInTracker(times))
    perf.follow("kit")
    views = []
    stage.start_view(views.append, hz=50)
    assert wait_until(lambda: views and views[-1].sync == "band: kit")
    assert views[-1].sync_state == "listening" and not views[-1].locked
    perf.wait(seconds=times[6])
    perf.follower.hear(0, np.zeros(perf.now, np.float32))
    assert wait_until(lambda: views[-1].sync_state == "locked" and views[-1].locked)
    assert views[-1].confidence == pytest.approx(0.9)


@pytest.mark.jack
def test_a_name_that_is_neither_an_input_nor_a_midi_input_is_refused_naming_both(
    jack_server, tmp_path
):
    session = Session(tmp_path / "live")
    stage = Stage.live(session, backend="null", idle_timeout=30)
    try:
        stage.perf.input("kit", signal="clicks 120")
        with pytest.raises(HootError) as refused:
            stage.perf.follow("trumpet")
        assert str(refused.value).startswith(
            "'trumpet' is no input track (inputs: kit) and no MIDI input matches it (MIDI inputs: "
        )
        assert stage.perf.sync == "internal"
    finally:
        stage.close()
        EngineClient(session.dir).shutdown()


def test_the_followers_thread_reads_a_live_engines_ring_and_feeds_the_tracker_again_after_a_crash(
    tmp_path,
):
    session = Session(tmp_path / "live")
    stage = Stage.live(session, backend="null", idle_timeout=30)
    try:
        perf = stage.perf
        perf.input("kit", signal="clicks 120")
        tracker = StandInTracker([])
        follower = BeatFollow(perf, "kit", tracker=tracker)
        try:
            assert wait_until(lambda: tracker.fed > SR // 2)
            ring, rows = perf.input_ring()
            assert ring and rows == {"kit": rows["kit"]}
            # the tracker's clock is the ring's: its time 0 is a sample the engine played
            assert 0 <= follower._origin <= perf.now
            pid = stage.link.info.pid
            os.kill(pid, signal.SIGKILL)  # the engine crashes mid-set
            assert wait_until(lambda: not process_alive(pid))
            perf.tempo = 121  # the performer's next command brings it back, with the input
            assert stage.link.info.pid != pid
            # a new stream: the tracker starts afresh on the new engine's ring
            assert wait_until(lambda: tracker.resets >= 1 and tracker.fed > SR // 2)
            assert follower._origin <= perf.now
        finally:
            follower.close()
    finally:
        stage.close()
        EngineClient(session.dir).shutdown()


def test_the_followed_band_comes_back_with_the_session_or_says_why_not(stage):
    perf, session = stage.perf, stage.session
    with_standin(stage, StandInTracker([]))
    session.update_settings(follow=["kit", "piano"])
    stage.restore_sync()
    assert perf.sync == "band: kit + piano"
    perf.follow(None)
    session.update_settings(follow=["kit", "trumpet"])
    stage.restore_sync()
    assert perf.sync == "internal"
    assert stage.said[-1] == (
        "following ['kit', 'trumpet'] is not restored: trumpet is no input to follow; inputs "
        "are kit, piano"
    )


def test_follow_listens_with_the_beat_network_or_onsets_as_asked_and_keeps_the_choice(stage):
    perf, session = stage.perf, stage.session
    perf.follow("kit")
    assert perf.follower.tracker.listen == "onsets" and perf.follower.tracker.note == ""
    assert "follow_listen" not in session.read_settings()
    perf.follow("kit", listen="learned")
    assert perf.follower.tracker.listen == "learned" and perf.follower.tracker.note == ""
    assert session.read_settings()["follow_listen"] == "learned"
    with pytest.raises(HootError, match=r"listen='ears'\): the beat tracker listens with"):
        perf.follow("kit", listen="ears")
    assert perf.follower.tracker.listen == "learned"  # a typo loses nothing
    perf.follow(None)
    assert "follow_listen" not in session.read_settings()
    session.update_settings(follow="kit", follow_listen="learned")
    stage.restore_sync()
    assert perf.sync == "band: kit" and perf.follower.tracker.listen == "learned"
    perf.follow(None)
