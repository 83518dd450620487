"""The score of what the stems play (hoot/realtime/score.py), built from a real offline stage:
a generated bass candidate's notes, loop and turn; every note of turn k sounds at the tempo
map's sample for start_beat + k * length + its offset, across turns and tempo changes; a
stem stopped at once ends the notes a voice was hearing."""

from __future__ import annotations

from pathlib import Path

import pytest

from hoot.realtime.score import Follow, instrument_of
from hoot.session import Session
from hoot.stage import Stage
from tests import stemfiles
from tests.waiting import PATIENCE

SR = 48000


@pytest.fixture
def stage(tmp_path: Path):
    stage = Stage.offline(Session(tmp_path / "set"), SR)
    stage.perf.on_message = lambda m: None
    yield stage
    stage.close()


def entry(score: dict, track: str) -> dict:
    (found,) = [t for t in score["tracks"] if t["track"] == track]
    return found


def sample_of(score: dict, wall: float) -> float:
    """The engine sample a score's clock renders at monotonic `wall` (the exact inverse)."""
    clock = score["clock"]
    return clock["sample"] + (wall - clock["wall"]) * score["tempo_map"]["samplerate"]


def heard(score: dict, track: str, seconds: float) -> list[tuple[float, int, int]]:
    """(sample, pitch, vel) of the notes a voice following `track` hears in the next
    `seconds` of the score."""
    follow = Follow(hears={track})
    now = score["clock"]["wall"]
    follow.update(score, now)
    return [(sample_of(score, e.time), e.pitch, e.vel) for e in follow.take(now + seconds)]


def test_a_generated_bass_candidate_is_in_the_score_with_its_notes_loop_and_turn(stage):
    perf = stage.perf
    batch = perf.generate("bass", n=1, bars=1, seed=3).wait(timeout=PATIENCE * 10)
    candidate = batch[1]
    assert candidate.status == "ready", candidate.reason
    perf.wait(beats=1)
    candidate.queue(at="bar")
    assert entry(perf.score, "bass")["start"] > perf.now, "queued: in the score already"
    perf.wait(beats=13)  # beat 14: into its third turn (it started on beat 4)
    score = perf.score
    bass = entry(score, "bass")
    notes = candidate.notes
    assert bass["notes"] == [
        [round(float(s), 6), round(float(d), 6), int(p), int(v)]
        for s, d, p, v in zip(notes.start, notes.duration, notes.pitch, notes.velocity)
    ]
    assert bass["length"] == 4.0 and bass["inst"] == instrument_of("bass") == 33
    assert bass["bpm"] == pytest.approx(perf.tempo), "rendered at the tempo of now"
    assert bass["start_beat"] == int(bass["start_beat"]), "it started on a boundary's beat"
    assert bass["turn_beat"] == bass["start_beat"] + 2 * 4.0
    assert score["facts"]["beat_s"] == pytest.approx(60 / perf.tempo)
    tm = perf.tempo_map()
    ons = [(s, p) for s, p, v in heard(score, "bass", 60 / perf.tempo * 8) if v > 0]
    expected = [
        (tm.sample_at(bass["start_beat"] + k * 4.0 + offset), pitch)
        for k in (2, 3, 4)
        for offset, _, pitch, _ in bass["notes"]
    ]
    expected = [(s, p) for s, p in expected if score["clock"]["sample"] <= s < ons[-1][0] + 1]
    assert len(ons) == len(expected) >= len(bass["notes"])
    for (got, pitch), (want, want_pitch) in zip(ons, expected):
        assert pitch == want_pitch and abs(got - want) <= 1, "within a sample of the map's"


def midi_stem(tmp_path: Path) -> Path:
    """A 1-bar bass line that plays its MIDI (no audio): its beats follow the map at once."""
    notes = [(0.0, 0.5, 40, 100), (1.0, 0.5, 43, 90), (2.5, 1.0, 45, 80)]
    return stemfiles.midi(tmp_path / "line.mid", notes, 4.0, bars=1, role="bass")


def test_loops_turn_every_length_and_a_tempo_change_moves_every_later_note(stage, tmp_path):
    perf = stage.perf
    stem = perf.load(midi_stem(tmp_path), role="bass")
    stem.queue(at="bar")
    perf.wait(bars=3.25)
    first = perf.score
    line = entry(first, "bass")
    assert line["bpm"] is None, "a MIDI stem: its notes follow the tempo map"
    turn = line["turn_beat"]
    assert (turn - line["start_beat"]) % 4 == 0 and turn <= perf.tempo_map().beat_at(perf.now)
    perf.set_tempo(90, at="bar")
    score = perf.score
    tm = perf.tempo_map()
    assert tm.tempi[-1].bpm == 90
    got = [(s, p) for s, p, v in heard(score, "bass", 6.0) if v > 0]
    k0 = int((turn - line["start_beat"]) / 4)
    want = [
        (tm.sample_at(line["start_beat"] + k * 4.0 + offset), pitch)
        for k in range(k0, k0 + 4)
        for offset, _, pitch, _ in line["notes"]
    ]
    # the heard samples went through wall time and back: the last can sit a hair below its
    # exact sample, so the window's end allows half a sample
    want = [(s, p) for s, p in want if score["clock"]["sample"] <= s <= got[-1][0] + 0.5]
    assert len(got) == len(want) >= 6, "across the tempo change, turn after turn"
    assert all(abs(a - b) <= 1e-6 and p == q for (a, p), (b, q) in zip(got, want))
    change = tm.tempi[-1].sample
    assert got[0][0] < change < got[-1][0], "notes on both sides of the change"
    offs = [(s, p) for s, p, v in heard(score, "bass", 6.0) if v == 0]
    assert offs and all(any(q == p and s2 < s for s2, q in got) for s, p in offs)


def test_a_stem_stopped_at_once_ends_the_notes_a_voice_was_hearing(stage, tmp_path):
    perf = stage.perf
    long_notes = [(0.0, 3.5, 40, 100)]
    stem = perf.load(stemfiles.midi(tmp_path / "drone.mid", long_notes, 4.0, bars=1), "bass")
    stem.queue(at="bar")
    perf.wait(beats=5.5)  # into the second turn, its note sounding
    score = perf.score
    follow = Follow(hears={"bass"})
    now = score["clock"]["wall"]
    follow.update(score, now - 1.0)  # listening since a second ago: it heard the note begin
    assert [e.vel > 0 for e in follow.take(now)] == [True]
    perf.tracks.bass.stop(at="now")
    perf.wait(beats=0.25)
    ends = follow.update(perf.score, now)
    assert [(e.pitch, e.vel) for e in ends] == [(40, 0)], "no note left hanging"
    assert follow.take(now + 5.0) == []
