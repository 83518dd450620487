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
