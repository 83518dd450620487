"""The tempo map: beats to samples and back, boundaries, tempo and grid changes."""

import pytest

from hoot.music.time import Meter, TempoMap, TimeError

SR = 48000


def test_boundaries_at_constant_tempo():
    tm = TempoMap(SR, 120, "4/4", phrase=4)  # a beat is 24000 samples, a phrase 16 beats
    assert tm.sample_at(1) == 24000
    assert tm.next_boundary(0, "phrase") == 0
    assert tm.next_boundary(1, "phrase") == 16 * 24000
    assert tm.next_boundary(1, "bar") == 4 * 24000
    assert tm.next_boundary(24000, "beat") == 24000
    assert tm.next_boundary(24001, "beat") == 48000


def test_tempo_change_moves_every_later_boundary():
    tm = TempoMap(SR, 120).with_tempo(150, at_beat=5)
    assert tm.sample_at(5) == 5 * 24000
    assert tm.sample_at(6) == 5 * 24000 + 19200
    assert tm.next_boundary(5 * 24000 + 1, "phrase") == 5 * 24000 + 11 * 19200
    assert tm.bpm_at(5 * 24000 - 1) == 120 and tm.bpm_at(5 * 24000) == 150


def test_fractional_samples_per_beat_do_not_drift():
    tm = TempoMap(SR, 124)
    spb = 60 * SR / 124
    for beat in (1, 7, 1000, 123457):
        assert tm.sample_at(beat) == round(beat * spb)
        b = tm.next_boundary_beat(tm.sample_at(beat), "beat")
        assert b == beat
        assert tm.next_boundary(tm.sample_at(beat) + 1, "beat") == tm.sample_at(beat + 1)


def test_meter_and_phrase_change_at_a_phrase_boundary():
    tm = TempoMap(SR, 120, "4/4", 4).with_grid(16, meter="7/8", phrase=2)
    pos = tm.position(tm.sample_at(16))
    assert (pos.bar, pos.phrase, pos.bar_in_phrase, str(pos.meter)) == (4, 1, 0, "7/8")
    assert tm.next_boundary(tm.sample_at(16) + 1, "bar") == tm.sample_at(23)
    assert tm.next_boundary(tm.sample_at(16) + 1, "phrase") == tm.sample_at(30)
    # before the change, the old grid: a boundary can not lie beyond the change
    assert tm.next_boundary(tm.sample_at(13) + 1, "phrase") == tm.sample_at(16)
    assert tm.bar_beat(5) == 23


@pytest.mark.parametrize("bpm", [0, 10_000, -5, float("nan"), "fast"])
def test_unplayable_tempo_is_a_clear_error(bpm):
    with pytest.raises(TimeError, match="tempo"):
        TempoMap(SR, 120).with_tempo(bpm, 4)


@pytest.mark.parametrize("text", ["4", "0/4", "4/3", "x/y", "99/4"])
def test_bad_meter(text):
    with pytest.raises(TimeError, match="meter"):
        Meter.parse(text)


def test_round_trip_through_dict():
    tm = TempoMap(SR, 120).with_tempo(90, 8).with_grid(16, meter="3/4")
    again = TempoMap.from_dict(tm.to_dict())
    assert again.tempi == tm.tempi and again.grids == tm.grids


def test_a_boundary_sample_is_in_the_boundary_bar_whatever_the_rounding():
    # the performer's case: after a tempo change a boundary's sample rounded down, and
    # position() put it in the bar before (beat 175.99998, "bar 44" for the grid's bar 45)
    rng = __import__("random").Random(5)
    for _ in range(300):
        tm = TempoMap(SR, rng.uniform(60, 200), rng.choice(["4/4", "7/8", "3/4", "5/4"]))
        beat = 0
        for _ in range(rng.randint(1, 6)):
            beat += rng.randint(1, 40)
            if rng.random() < 0.5:
                tm = tm.with_tempo(rng.uniform(40, 240), beat)
            else:
                grid = tm.grid_at_beat(beat)
                step = grid.beats_per_phrase
                at = grid.beat + step * (1 + (beat - grid.beat) // step)
                tm = tm.with_grid(at, meter=rng.choice(["4/4", "7/8", "3/4"]),
                                  phrase=rng.choice([1, 2, 4, 16]))
                beat = int(at)
        for b in range(0, beat + 40):
            s = tm.sample_at(b)
            pos = tm.position(s)
            assert tm.whole_beat(s) == b and pos.beat == b
            assert tm.position(s - 1).beat < b <= pos.beat
            bar_start = tm.bar_beat(pos.bar)
            assert bar_start <= b < bar_start + pos.meter.beats, (b, pos)
