"""Hours of sync-source tempo changes: the engine folds the tempo map's past away
(engine.control `_folded`, TempoMap.since), and nothing a performer hears or sees moves.

The proof is a comparison to the bit: the same set rendered with folding and with a map so
large it never folds. Renders run at 8 kHz so that 2,000 beats take seconds.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from hoot.engine import control
from hoot.engine.kernel import tempo
from hoot.music.time import TempoMap
from hoot.render import render
from hoot.session import Session
from hoot.stage import Stage
from hoot.stage.watcher import SetWatcher
from tests import stemfiles

SR = 8000


def random_map(rng: random.Random, changes: int) -> TempoMap:
    tm = TempoMap(SR, 120)
    beat = 0.0
    for _ in range(changes):
        beat += rng.choice([1, 1, 2, 3, 4])
        if rng.random() < 0.1:
            tm = tm.with_grid(
                beat, meter=rng.choice(["4/4", "3/4", "7/8"]), phrase=rng.randint(1, 8)
            )
        else:
            tm = tm.with_tempo(rng.uniform(60, 200), beat)
    return tm


def test_a_folded_map_answers_every_question_about_now_and_later_to_the_bit():
    rng = random.Random(11)
    for _ in range(20):
        whole = random_map(rng, 300)
        end = whole.sample_at(whole.tempi[-1].beat + 8)
        since = rng.randrange(0, end)
        folded = whole.since(since)
        assert len(folded.tempi) < len(whole.tempi)
        for _ in range(200):
            sample = rng.randrange(since, end + SR * 10)
            assert folded.beat_at(sample) == whole.beat_at(sample)
            assert folded.position(sample) == whole.position(sample)
            for quantum in ("beat", "bar", "phrase"):
                assert folded.next_boundary_beat(sample, quantum) == whole.next_boundary_beat(
                    sample, quantum
                )
            beat = whole.beat_at(sample) + rng.uniform(0, 40)
            assert folded.sample_at(beat) == whole.sample_at(beat)
            assert folded.boundary_after(beat, "bar") == whole.boundary_after(beat, "bar")
        earlier = rng.randrange(0, since + 1)
        assert folded.beat_at(earlier) <= folded.beat_at(since), "the past stays in the past"


def a_followed_set(perf, folder, changes: int, seen: list) -> None:
    """Loops (a 2-bar one, a 13-bar one longer than the 10 s kept, a MIDI one), a one-shot
    stem now and then, a follower's wobbling tempo from every beat and a few downbeats.
    13 bars is 52 beats: the map folds every 64 beats or so, in the middle of a turn, where
    the turn's first sample must come from segments older than 10 s."""
    stemfiles.unity(perf)
    ramp = np.linspace(-0.3, 0.3, 2 * 4 * SR // 2, dtype=np.float32)  # 2 bars at 120 BPM
    short = stemfiles.write_wav(folder / "short.wav", np.c_[ramp, -ramp], SR, bars=2)
    rng = np.random.default_rng(3)
    long_audio = 0.1 * rng.standard_normal((13 * 4 * SR // 2, 2))
    long_loop = stemfiles.write_wav(folder / "long.wav", long_audio, SR, bars=13)
    chords = stemfiles.midi(
        folder / "chords.mid", [(0, 1, 60, 100), (1.5, 0.5, 64, 90), (3, 1, 67, 80)], length=4
    )
    hit = stemfiles.write_wav(folder / "hit.wav", np.full((SR // 10, 2), 0.2), SR)
    perf.load(short, role="pad").queue(at="bar")
    perf.load(long_loop, role="bass").queue(at="bar")
    perf.load(chords, role="chords").queue(at="beat")
    one_shot = perf.load(hit, role="lead")
    wobble = random.Random(5)
    for k in range(changes):
        perf.follow_tempo(300 + 6 * math.sin(k / 9) + wobble.uniform(-0.5, 0.5))
        perf.wait(beats=1)
        if k % 97 == 0:
            one_shot.queue(at="beat")
        if k % 500 == 250:
            tm = perf.tempo_map()
            perf.downbeat(float(round(tm.beat_at(perf.now))) - 1)
            seen.append(("downbeat", tm.position(perf.now).bar))
        if k % 50 == 0:
            pos = perf.tempo_map().position(perf.now)
            seen.append((pos.bar, pos.phrase, pos.beat_in_bar, len(perf.tempo_map().tempi)))


def test_a_set_through_2000_tempo_changes_sounds_the_same_folded_or_whole(tmp_path, monkeypatch):
    changes = 2000
    bars = changes // 4 + 8
    seen_folded: list = []
    folded = render(
        lambda p: a_followed_set(p, tmp_path, changes, seen_folded),
        bars=bars, samplerate=SR, blocksize=500, session=Session(tmp_path / "a"),
    )  # fmt: skip
    monkeypatch.setattr(control, "FOLD_AT", 10**9)
    monkeypatch.setattr(tempo, "CAPACITY", 4 * changes)
    seen_whole: list = []
    whole = render(
        lambda p: a_followed_set(p, tmp_path, changes, seen_whole),
        bars=bars, samplerate=SR, blocksize=500, session=Session(tmp_path / "b"),
    )  # fmt: skip
    assert np.abs(whole).max() > 0.05, "the set should be audible"
    assert max(row[3] for row in seen_whole if len(row) == 4) > 1500, "the whole map grew"
    assert max(row[3] for row in seen_folded if len(row) == 4) <= 200, "the folded one did not"
    strip = [row[:3] for row in seen_folded], [row[:3] for row in seen_whole]
    assert strip[0] == strip[1], "bar, phrase and beat numbers are the performer's as before"
    assert folded.shape == whole.shape
    assert folded.tobytes() == whole.tobytes()


def test_a_follower_stream_of_3000_tempo_proposals_is_all_taken(tmp_path):
    rng = random.Random(7)
    taken = []

    def script(perf):
        for k in range(3000):
            bpm = 240 + 8 * math.sin(k / 40) + rng.uniform(-1, 1)
            perf.follow_tempo(bpm)  # raises if the engine refuses
            perf.wait(beats=0.5)
            if k % 100 == 0:
                tm = perf.tempo_map()
                taken.append(len(tm.tempi))
        assert perf.tempo_map().tempi[-1].bpm == pytest.approx(bpm), "the last one too"

    render(script, bars=380, samplerate=SR, blocksize=1000, session=Session(tmp_path / "s"))
    assert max(taken) <= 2 * control.FOLD_AT, "the map stays small"


def test_a_stem_playing_since_long_before_the_fold_keeps_its_bar_in_the_queue(tmp_path):
    stage = Stage.offline(Session(tmp_path / "q"), SR, blocksize=500)
    perf = stage.perf
    perf.on_message = lambda m: None
    watcher = SetWatcher(stage, post=lambda view: None)
    try:
        ramp = np.linspace(-0.3, 0.3, 4 * SR // 2, dtype=np.float32)
        loop = stemfiles.write_wav(tmp_path / "loop.wav", np.c_[ramp, ramp], SR, bars=1)
        perf.wait(beats=6)
        stem = perf.load(loop, role="pad")
        stem.queue(at="bar")
        shown = [next(q.bar for q in watcher.build().queue if q.stem == stem.id)]
        for k in range(300):
            perf.follow_tempo(200 + 10 * math.sin(k / 5))
            perf.wait(beats=1)
            shown.append(next(q.bar for q in watcher.build().queue if q.stem == stem.id))
        tm = perf.tempo_map()
        assert tm.tempi[0].sample > SR * 30, "the map has folded its first half minute away"
        assert set(shown) == {3}, "queued at bar 3 (1-based), shown there for good"
    finally:
        stage.close()


def test_a_render_shorter_than_its_script_ends_on_its_bar_after_the_fold(tmp_path, monkeypatch):
    def script(perf):
        noise = stemfiles.write_wav(tmp_path / "n.wav", np.full((SR, 2), 0.1), SR)
        perf.load(noise, role="lead").queue()
        for k in range(300):
            perf.follow_tempo(240 + 5 * math.sin(k / 3))
            perf.wait(beats=1)

    folded = render(script, bars=20, samplerate=SR, session=Session(tmp_path / "a"))
    monkeypatch.setattr(control, "FOLD_AT", 10**9)
    whole = render(script, bars=20, samplerate=SR, session=Session(tmp_path / "b"))
    assert len(whole) < 300 * SR // 4, "the script played on past bar 20"
    assert folded.shape == whole.shape
    assert folded.tobytes() == whole.tobytes()
