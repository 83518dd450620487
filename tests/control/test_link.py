"""Ableton Link, end to end: hoot (a live stage on the null backend) and a second Link peer
(a plain LinkPython-extern process, tests/control/link_peer.py) find each other; hoot at
120 joins a session at 93 without moving it; a tempo change goes each way; hoot's grid
agrees with the peer's beat time within a millisecond; start/stop sync stops hoot's tracks
and brings them back on the session's bar; a vanished peer leaves hoot on its tempo with
one sentence; a source hoot follows is published to the session; no network is one
sentence; the session comes back with the set.

Every test that runs Link runs inside a network namespace of its own with only loopback
(`unshare -n`, as root, as CI runs): the test reruns itself there (`in_a_namespace`). Link
never runs on the host's network; where no namespace can be made the test is skipped and
says why.
"""

from __future__ import annotations

import functools
import os
import shutil
import statistics
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from hoot.control.link_sync import link_to_monotonic, monotonic_to_link
from hoot.engine.client import EngineClient
from hoot.errors import HootError
from hoot.session import Session
from tests import stemfiles
from tests.control.link_peer import Peer, phase_ms
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
INSIDE = "HOOT_TEST_NETNS"  # set to the test's name inside its namespace


def namespace_problem() -> str | None:
    """Why no loopback-only network namespace can be made here, or None."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "no network namespace here: the unshare and ip commands are missing"
    made = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if made.returncode:
        return f"no network namespace can be made here (unshare -n: {made.stderr.strip()})"
    return None


def in_a_namespace(loopback: bool = True):
    """Run the test in a network namespace of its own (only loopback, up; or nothing at all
    with loopback=False): outside, it reruns itself there and passes if that run passes."""

    def wrap(test):
        @functools.wraps(test)
        def run(*args, **kwargs):
            if os.environ.get(INSIDE) == test.__name__:
                return test(*args, **kwargs)
            problem = namespace_problem()
            if problem:
                pytest.skip(problem)
            up = "ip link set lo up && " if loopback else ""
            script = up + 'exec "$0" -m pytest -q -x -p no:cacheprovider "$1"'
            node = f"{Path(__file__).relative_to(ROOT)}::{test.__name__}"
            done = subprocess.run(
                ["unshare", "-n", "sh", "-c", script, sys.executable, node],
                cwd=ROOT,
                env={**os.environ, INSIDE: test.__name__},
                capture_output=True,
                text=True,
                timeout=280,
            )
            assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]

        return run

    return wrap


@contextmanager
def live_stage(tmp_path: Path, name: str = "live", **settings):
    from hoot.stage.stage import Stage

    session = Session(tmp_path / name)
    if settings:
        session.update_settings(**settings)
    said: list[str] = []
    stage = Stage.live(session, on_message=said.append, backend="null", idle_timeout=30)
    stage.said = said
    try:
        yield stage
    finally:
        stage.close()
        EngineClient(session.dir).shutdown()


@contextmanager
def a_peer(bpm: float):
    peer = Peer(bpm)
    try:
        yield peer
    finally:
        peer.close()


def in_agreement(perf, peer: Peer, n: int = 40) -> bool:
    """Whether hoot's grid is within a millisecond of the peer's beat: the median of `n`
    readings back to back, and nine in ten of them (a reading is a round trip to the
    engine's status and to the peer, on a shared 2-core machine). The test waits for such a
    run: after an underrun the null backend's pacing starts again from the wall clock, and
    the sample heard at a time is known again only as fresh status readings come in."""
    readings = sorted(abs(phase_ms(perf, peer)) for _ in range(n))
    return statistics.median(readings) <= 1.0 and readings[n * 9 // 10] <= 1.0


def settled(perf, peer: Peer, bpm: float) -> bool:
    return (
        abs(perf.tempo - bpm) <= 0.01
        and abs(float(peer.ask("tempo")) - bpm) <= 0.01
        and abs(perf.link.tempo - bpm) <= 0.01
    )


@in_a_namespace()
def test_hoot_at_120_joins_a_session_at_93_without_moving_it(tmp_path):
    with a_peer(93.0) as peer, live_stage(tmp_path) as stage:
        perf = stage.perf
        assert perf.tempo == 120 and perf.sync == "internal"
        perf.sync = "link"
        tempi = []

        def found() -> bool:  # the session's tempo, read all the while hoot joins
            tempi.append(float(peer.ask("tempo")))
            return perf.sync == "Link (1 peer)"

        assert wait_until(found) and wait_until(lambda: peer.ask("peers") == "1")
        assert wait_until(lambda: settled(perf, peer, 93.0))
        tempi.append(float(peer.ask("tempo")))
        assert all(abs(t - 93.0) < 1e-3 for t in tempi), "joining must not move the session"
        assert stage.session.read_settings()["link"] == {"on": True, "start_stop": False}
        assert wait_until(lambda: in_agreement(perf, peer))
        perf.sync = "internal"
        assert perf.sync == "internal" and not perf.link.joined
        assert abs(perf.tempo - 93.0) <= 0.05, "leaving keeps the tempo"
        assert stage.session.read_settings()["link"]["on"] is False


@in_a_namespace()
def test_a_tempo_change_goes_each_way_and_the_grid_stays_within_a_millisecond(tmp_path):
    with a_peer(93.0) as peer, live_stage(tmp_path) as stage:
        perf = stage.perf
        perf.sync = "link"
        assert wait_until(lambda: settled(perf, peer, 93.0))
        peer.ask("tempo 100")  # theirs reaches hoot
        assert wait_until(lambda: settled(perf, peer, 100.0))
        assert wait_until(lambda: in_agreement(perf, peer))
        perf.tempo = 128  # hoot's reaches them
        assert wait_until(lambda: settled(perf, peer, 128.0))
        assert wait_until(lambda: in_agreement(perf, peer))
        assert stage.session.read_settings()["tempo"] == 128


@in_a_namespace()
def test_alone_hoots_tempo_becomes_the_session_and_a_peer_that_vanishes_is_one_sentence(
    tmp_path,
):
    with live_stage(tmp_path) as stage:
        perf = stage.perf
        perf.tempo = 110
        perf.sync = "link"
        assert wait_until(lambda: perf.sync == "Link (alone)")
        assert wait_until(lambda: abs(perf.link.tempo - 110) <= 0.01)
        with a_peer(140.0) as peer:  # a younger session: it takes hoot's
            assert wait_until(lambda: perf.link.peers == 1 and settled(perf, peer, 110.0))
            assert wait_until(lambda: in_agreement(perf, peer))
        assert wait_until(lambda: any("peers left" in line for line in stage.said))
        assert perf.sync == "Link (alone)"
        left = [line for line in stage.said if "peers left" in line]
        assert len(left) == 1 and "110.0 BPM" in left[0], stage.said
        assert abs(perf.link.tempo - 110) <= 0.01  # the session, hoot's own now, carries on
        assert wait_until(lambda: abs(perf.tempo - 110) <= 0.01)  # once any nudge is done


@in_a_namespace()
def test_start_and_stop_stop_hoots_tracks_and_bring_them_back_on_the_sessions_bar(tmp_path):
    with a_peer(120.0) as peer, live_stage(tmp_path) as stage:
        perf = stage.perf
        bass = perf.load(stemfiles.tone(tmp_path / "bass.wav", seconds=2.0), role="bass")
        bass.queue("bar")
        assert wait_until(lambda: any(x.state == "playing" for x in perf.tracks.bass.playing))
        perf.link.start_stop = True
        perf.sync = "link"
        assert wait_until(lambda: settled(perf, peer, 120.0) and in_agreement(perf, peer))
        peer.ask("play 4")
        assert wait_until(lambda: perf.link.playing)
        peer.ask("stop")
        assert wait_until(lambda: "(stopped)" in perf.sync)
        assert wait_until(lambda: not perf.tracks.bass.playing), "the Stop stops the track"
        start = int(peer.ask("play 4"))  # at the session's next bar
        assert wait_until(lambda: perf.tracks.bass.playing), "the Start brings it back"
        player = perf.tracks.bass.playing[0]
        tm = perf.tempo_map()
        beat = tm.beat_at(player.start)  # a hair either side of a whole beat
        grid = tm.grid_at_beat(round(beat))
        assert grid.beat == round(tm.beat_at(perf.link.clock.sample(link_to_monotonic(start))))
        on_bar = (beat - grid.beat) % 4
        assert min(on_bar, 4 - on_bar) <= 0.004, "on hoot's new bar one ..."
        heard = monotonic_to_link(perf.link.clock.wall(player.start))
        session = float(peer.ask(f"beat {heard} 4")) % 4
        assert min(session, 4 - session) <= 0.004, "... which is the session's bar (2 ms)"
        perf.link.stop()  # hoot's own Stop reaches the peer
        assert wait_until(lambda: peer.ask("playing") == "0")


@in_a_namespace()
def test_a_source_hoot_follows_is_published_to_the_session(tmp_path):
    class Band:  # the shape of perf._follower (ClockIn, the band follower)
        sync, locked = "the band", True

        def close(self):
            pass

    with a_peer(93.0) as peer, live_stage(tmp_path) as stage:
        perf = stage.perf
        perf.sync = "link"
        assert wait_until(lambda: settled(perf, peer, 93.0))
        perf._follower = Band()
        perf.follow_tempo(104.0)  # the band sped up
        assert perf.sync == "the band + Link (1 peer)"
        assert wait_until(lambda: settled(perf, peer, 104.0))
        assert wait_until(lambda: in_agreement(perf, peer))
        perf._follower = None


@in_a_namespace(loopback=False)
def test_no_network_at_all_is_one_sentence_and_hoot_plays_on(tmp_path):
    with live_stage(tmp_path) as stage:
        perf = stage.perf
        perf.sync = "link"
        assert wait_until(lambda: perf.sync == "Link (alone)")
        said = [line for line in stage.said if "no network" in line]
        assert len(said) == 1 and perf.tempo == 120


@in_a_namespace()
def test_the_session_rejoins_with_the_set_and_bad_settings_are_one_sentence(tmp_path):
    link = {"on": True, "start_stop": True, "quantum": 8.0}
    with a_peer(93.0) as peer, live_stage(tmp_path, link=link) as stage:
        perf = stage.perf
        assert perf.link.joined and perf.link.quantum == 8.0 and perf.link.start_stop
        assert wait_until(lambda: settled(perf, peer, 93.0))
        with pytest.raises(HootError, match="quantum"):
            perf.link.quantum = -1
        with pytest.raises(HootError, match="'link' or 'internal'"):
            perf.sync = "midi"


def test_a_torn_status_reading_does_not_move_the_heard_clock():
    import numpy as np

    from hoot.performance import _freshest

    rng = np.random.default_rng(0)
    true = 1000.0  # samples ahead of the wall clock, just after a block
    aheads = list(true - rng.uniform(0, 256, 120))  # a second of readings, 5.3 ms blocks
    aheads.append(true + 400)  # new position, previous heartbeat: 8 ms too far ahead
    assert true - 48 <= _freshest(aheads, 48000) <= true


def test_an_offline_set_cannot_join(tmp_path):
    from hoot.stage.stage import Stage

    stage = Stage.offline(Session(tmp_path / "offline"))
    try:
        with pytest.raises(HootError, match="live set"):
            stage.perf.sync = "link"
        assert stage.perf.sync == "internal"
    finally:
        stage.close()
