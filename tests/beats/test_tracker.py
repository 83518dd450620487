"""The beat tracker hears a groove the way a drummer's bandmate would: only the past,
locked within a few beats, holding through a break, never fooled by a drone.

Accuracy gates here are conservative; benchmarks/beats.py reports the real figures.
"""

from __future__ import annotations

import numpy as np
import pytest

from hoot.beats import Beat, BeatTracker
from hoot.errors import HootError
from tests.beats.grooves import SR, grid, groove

HIT = 0.07  # seconds: mir_eval's F-measure window
LISTENING = {"with": "onsets"}  # what the trackers of the test running now listen with
# What the beat network (listen="learned", opt-in) still gets wrong here: these sparse,
# clickless-kick grooves are unlike most of its training. Its filter starts at double tempo
# on the rock groove and says "locked" half a second late, and when the kick plays only the
# one and beat 3 has a soft hat alone it slides to half tempo on the snares, so the bar
# numbers go wrong. Strict: the day one passes, the mark must go (loud open hats on the
# "and" went so, with the hats up to +10 dB in its training mix).
LEARNED_MISSES = {
    "test_a_drum_loop_locks_within_four_beats_and_stays_on_the_beat",
    "test_the_kick_on_one_makes_the_downbeat",
}


@pytest.fixture(autouse=True, params=["onsets", "learned"])
def listen(request):
    """Every test runs with the onsets alone (the default) and with the beat network."""
    if request.param == "learned" and request.node.originalname in LEARNED_MISSES:
        request.applymarker(pytest.mark.xfail(strict=True, reason="the network's known miss"))
    LISTENING["with"] = request.param
    return request.param


def tracker_for(samplerate: int = SR, **kwargs) -> BeatTracker:
    return BeatTracker(samplerate, listen=LISTENING["with"], **kwargs)


def track(audio: np.ndarray, block: int = 256, tracker: BeatTracker | None = None,
          states: list | None = None) -> list[Beat]:  # fmt: skip
    tracker = tracker or tracker_for(SR)
    beats = []
    for at in range(0, len(audio), block):
        beats += tracker.feed(audio[at : at + block])
        if states is not None:
            states.append((tracker.fed / SR, tracker.state))
    return beats


def hits(beats: list[Beat], reference: np.ndarray) -> list[bool]:
    return [bool(np.min(np.abs(reference - b.time)) <= HIT) for b in beats]


def first_lock(beats: list[Beat], reference: np.ndarray) -> float | None:
    """When the first run of four beats in a row on the reference begins."""
    good = hits(beats, reference)
    for i in range(len(beats) - 3):
        if all(good[i : i + 4]):
            return beats[i].time
    return None


@pytest.fixture(scope="module")
def rock() -> tuple[np.ndarray, np.ndarray]:
    reference = grid(120.0, 1.0, 20.0)
    return groove(reference, 20.0), reference


def test_blocks_of_64_256_and_1000_frames_hear_the_same_beats(rock):
    audio, _ = rock
    heard = [[(b.time, b.bar_beat) for b in track(audio[: 8 * SR], n)] for n in (64, 256, 1000)]
    assert heard[0] and heard[0] == heard[1] == heard[2]


def test_cutting_the_audio_at_any_moment_never_changes_the_beats_before_it(rock):
    audio, _ = rock
    whole = track(audio[: 10 * SR])
    for cut in (3.3, 5.0, 7.77):
        part = track(audio[: int(cut * SR)])
        assert [b.time for b in part] == [b.time for b in whole if b.known <= cut + 256 / SR]


def test_no_beat_is_reported_from_the_future(rock):
    audio, _ = rock
    for beat in track(audio[: 10 * SR]):
        assert beat.known >= beat.time - 0.001


def test_a_drum_loop_locks_within_four_beats_and_stays_on_the_beat(rock):
    audio, reference = rock
    tracker = tracker_for(SR)
    states: list = []
    beats = track(audio, tracker=tracker, states=states)
    lock = first_lock(beats, reference)
    assert lock is not None and lock <= reference[0] + 4 * 0.5 + HIT
    assert all(state == "locked" for t, state in states if 4.0 < t < 19.0)
    late = [b for b in beats if b.time > 6.0]
    assert np.mean(hits(late, reference)) >= 0.95
    assert tracker.bpm == pytest.approx(120.0, rel=0.03)
    assert all(b.confidence > 0.5 for b in late)


def test_loud_open_hats_on_the_and_do_not_pull_the_beat_off(rock):
    reference = grid(112.0, 1.0, 20.0)
    audio = groove(reference, 20.0, kick="xxxx", snare=".x.x", offbeat_hats=1.5)
    beats = [b for b in track(audio) if b.time > 6.0]
    assert np.mean(hits(beats, reference)) >= 0.9


def test_a_tempo_step_is_followed_within_two_bars():
    before = grid(100.0, 1.0, 12.0)
    after = np.arange(before[-1] + 60 / 130, 24.0, 60 / 130)
    reference = np.concatenate([before, after])
    beats = track(groove(reference, 24.0))
    step = after[0]
    relocked = first_lock([b for b in beats if b.time >= step], reference)
    assert relocked is not None and relocked <= step + 2 * 4 * 60 / 130 + HIT
    assert beats[-1].bpm == pytest.approx(130.0, rel=0.03)


def test_a_break_says_holding_keeps_the_tempo_and_the_band_comes_back_locked():
    reference = grid(120.0, 1.0, 24.0)
    audio = groove(reference, 24.0)
    audio[int(10.0 * SR) : int(15.0 * SR)] = 0.0  # two and a half bars of nothing
    tracker = tracker_for(SR)
    states: list = []
    beats = track(audio, tracker=tracker, states=states)
    assert any(state == "holding" for t, state in states if 11.0 < t < 15.0)
    held = [b for b in beats if b.holding]
    assert held and all(b.bpm == pytest.approx(120.0, rel=0.03) for b in held)
    assert np.mean(hits(held, reference)) >= 0.9
    assert tracker.state == "locked"


@pytest.mark.parametrize("sound", ["drone", "noise", "silence"])
def test_a_drone_noise_or_silence_never_locks(sound):
    rng = np.random.default_rng(3)
    t = np.arange(20 * SR) / SR
    audio = {
        "drone": 0.3 * (np.sin(2 * np.pi * 110 * t) + 0.5 * np.sin(2 * np.pi * 165.3 * t)),
        "noise": 0.1 * rng.standard_normal(len(t)),
        "silence": np.zeros(len(t)),
    }[sound].astype(np.float32)
    tracker = tracker_for(SR)
    states: list = []
    beats = track(audio, tracker=tracker, states=states)
    assert all(state == "listening" for _, state in states)
    assert all(b.confidence < 0.5 for b in beats)


def test_a_hint_folds_a_doubled_tempo_to_the_one_the_performer_taps():
    reference = grid(180.0, 1.0, 20.0)  # hats on every eighth at 90 BPM
    audio = groove(reference, 20.0, kick="x...", snare="..x.", hats=0.3)
    tracker = tracker_for(SR)
    track(audio[: 10 * SR], tracker=tracker)
    tracker.hint(90.0)
    beats = [b for b in track(audio[10 * SR :], tracker=tracker) if b.time > 3.0]
    assert np.median([b.bpm for b in beats]) == pytest.approx(90.0, rel=0.03)
    assert np.mean(hits(beats, reference[::2])) >= 0.9


def test_the_kick_on_one_makes_the_downbeat():
    reference = grid(110.0, 1.0, 24.0)
    audio = groove(reference, 24.0, kick="x...", snare=".x.x")
    beats = [b for b in track(audio) if b.time > 8.0]
    ones = reference[::4]
    for b in beats:
        assert (b.bar_beat == 1) == bool(np.min(np.abs(ones - b.time)) <= HIT)


def test_a_band_that_starts_after_room_noise_counts_its_first_beat_as_the_one():
    # every beat has the same kick, so nothing in the bar marks the one but the start; the
    # noise before the band is never silence, so the start is found from the beats heard
    reference = grid(118.0, 2.0, 20.0)
    audio = groove(reference, 20.0, kick="xxxx", snare=".x.x")
    audio += 0.01 * np.random.default_rng(5).standard_normal(len(audio)).astype(np.float32)
    beats = [b for b in track(audio) if b.time > 6.0]
    ones = reference[::4]
    assert beats
    for b in beats:
        assert (b.bar_beat == 1) == bool(np.min(np.abs(ones - b.time)) <= HIT)


@pytest.mark.slow
def test_a_beat_the_filter_hears_late_does_not_shift_the_bar_lines():
    # a drum and bass clip of the tune split (172 BPM, drums out for two bars): once the
    # learned filter jumped to 1.5 beat lengths for one beat and the count lost a beat there
    import sys
    from pathlib import Path

    sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import beats as bench
    from beatset import clips

    clip = next(c for c in clips("tune", categories=("break",)) if c.name == "tune-break-2")
    run = bench.track(clip, tracker_for(clip.samplerate))
    assert bench.score(clip, run)["dbF"] >= 0.95


def test_set_one_moves_the_bar_to_the_beat_the_performer_taps():
    reference = grid(120.0, 1.0, 20.0)
    audio = groove(reference, 20.0, kick="xxxx", snare="....", hats=0.3)
    tracker = tracker_for(SR)
    track(audio[: 8 * SR], tracker=tracker)
    tracker.set_one(reference[13])  # the second beat of the fourth bar
    beats = [b for b in track(audio[8 * SR :], tracker=tracker)]
    for b in beats:
        assert b.bar_beat == ((round((b.time + 8.0 - reference[13]) * 2) % 4) + 1)


def test_a_one_tapped_before_the_first_beat_counts_the_bars_from_there():
    reference = grid(120.0, 1.0, 16.0)
    audio = groove(reference, 16.0, kick="xxxx", snare="....", hats=0.3)
    tracker = tracker_for(SR)
    tracker.set_one(reference[2])
    beats = [b for b in track(audio, tracker=tracker) if b.time > 4.0]
    assert beats
    for b in beats:
        assert b.bar_beat == ((round((b.time - reference[2]) * 2) % 4) + 1)


def test_meter_three_counts_three_beats_a_bar():
    reference = grid(120.0, 1.0, 20.0)
    audio = groove(reference, 20.0, kick="x..", snare=".xx")
    beats = [b for b in track(audio, tracker=tracker_for(SR, meter=3)) if b.time > 8.0]
    assert {b.bar_beat for b in beats} == {1, 2, 3}


def test_stereo_blocks_and_other_samplerates_work():
    reference = grid(120.0, 1.0, 12.0)
    mono = groove(reference, 12.0, sr=44100)
    beats = track(np.stack([mono, mono], axis=1), tracker=tracker_for(44100))
    assert np.mean(hits([b for b in beats if b.time > 5.0], reference)) >= 0.9


def test_bad_arguments_are_one_sentence():
    with pytest.raises(HootError, match="BPM"):
        tracker_for(SR).hint(1000.0)
    with pytest.raises(HootError, match="beats"):
        tracker_for(SR, meter=0)


def test_reset_forgets_the_song():
    reference = grid(120.0, 1.0, 10.0)
    tracker = tracker_for(SR)
    track(groove(reference, 10.0), tracker=tracker)
    tracker.reset()
    assert (tracker.state, tracker.bpm, tracker.fed) == ("listening", None, 0)
