"""NoteClip: building, checking, and the trip through Standard MIDI Files."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from hoot.music.clip import TICKS_PER_BEAT, NoteClip

TICK = 1 / TICKS_PER_BEAT

RIFF = [
    (0.0, 0.5, 60, 100),
    (0.5, 0.25, 63, 90),
    (1.0 / 3.0, 0.2, 67, 80),  # a triplet position, off the tick grid only by rounding
    (2.0, 1.5, 48, 127),
    (2.0, 0.75, 55, 64),
    (3.75, 0.5, 72, 1),  # rings past the clip's end
    (1.1, 0.01, 36, 110),  # shorter than a tick: still a note
]


def test_from_notes_sorts_by_start_then_pitch() -> None:
    clip = NoteClip.from_notes(RIFF, length=4)
    assert len(clip) == len(RIFF)
    assert np.all(np.diff(clip.start) >= 0)
    assert clip.pitch[clip.start == 2.0].tolist() == [48, 55]
    assert clip.start.dtype == np.float64 and clip.duration.dtype == np.float64
    assert clip.pitch.dtype == np.int16 and clip.velocity.dtype == np.int16
    assert clip.length == 4.0


def test_clip_arrays_are_read_only() -> None:
    clip = NoteClip.from_notes(RIFF, length=4)
    with pytest.raises(ValueError):
        clip.pitch[0] = 1


def test_events_gives_on_and_off_beats() -> None:
    clip = NoteClip.from_notes([(1.0, 0.5, 60, 100), (0.0, 2.0, 64, 80)], length=4)
    on, off, pitch, velocity = clip.events()
    assert on.tolist() == [0.0, 1.0]
    assert off.tolist() == [2.0, 1.5]
    assert pitch.tolist() == [64, 60]
    assert velocity.tolist() == [80, 100]


def test_empty_clip() -> None:
    clip = NoteClip.from_notes([], length=8)
    assert len(clip) == 0
    assert [len(a) for a in clip.events()] == [0, 0, 0, 0]


@pytest.mark.parametrize(
    ("notes", "length", "message"),
    [
        ([(4.0, 1.0, 60, 100)], 4, "note 0 starts at beat 4.0"),
        ([(0.0, 1.0, 60, 100), (-0.5, 1.0, 60, 100)], 4, "note 1 starts at beat -0.5"),
        ([(float("nan"), 1.0, 60, 100)], 4, "note 0 starts at beat nan"),
        ([(0.0, 0.0, 60, 100)], 4, "note 0 lasts 0.0 beats"),
        ([(0.0, -1.0, 60, 100)], 4, "positive number of beats"),
        ([(0.0, 1.0, 128, 100)], 4, "note 0 has pitch 128"),
        ([(0.0, 1.0, -1, 100)], 4, "MIDI pitches run 0 to 127"),
        ([(0.0, 1.0, 60.5, 100)], 4, "whole number"),
        ([(0.0, 1.0, 60, 0)], 4, "note 0 has velocity 0"),
        ([(0.0, 1.0, 60, 128)], 4, "velocities run 1 to 127"),
        ([(0.0, 1.0, 60)], 4, "note 0 must be (start, duration, pitch, velocity)"),
        ([("soon", 1.0, 60, 100)], 4, "note 0 must be"),
        ([(0.0, 1.0, 60, 100)], 0, "positive number of beats, got 0"),
        ([(0.0, 1.0, 60, 100)], float("inf"), "clip length"),
    ],
)
def test_from_notes_rejects_bad_notes(notes: list, length: float, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        NoteClip.from_notes(notes, length)


def test_constructor_checks_arrays() -> None:
    with pytest.raises(ValueError, match="sorted"):
        NoteClip(np.array([1.0, 0.0]), np.ones(2), np.array([60, 61]), np.array([9, 9]), 4)
    with pytest.raises(ValueError, match="differ in length"):
        NoteClip(np.array([0.0]), np.ones(2), np.array([60]), np.array([9]), 4)


def test_midi_round_trip(tmp_path) -> None:
    clip = NoteClip.from_notes(RIFF, length=4)
    path = tmp_path / "riff.mid"
    clip.write_midi(path, bpm=93.5, channel=3)

    back = NoteClip.read_midi(path, length=4)
    assert len(back) == len(clip)
    assert back.length == 4.0
    np.testing.assert_allclose(back.start, clip.start, atol=TICK / 2 + 1e-12)
    np.testing.assert_allclose(back.duration, clip.duration, atol=TICK + 1e-12)
    assert back.pitch.tolist() == clip.pitch.tolist()
    assert back.velocity.tolist() == clip.velocity.tolist()

    midi = mido.MidiFile(path)
    assert midi.type == 1
    tempos = [m.tempo for track in midi.tracks for m in track if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(93.5)]
    channels = {m.channel for track in midi.tracks for m in track if not m.is_meta}
    assert channels == {3}


def test_round_trip_keeps_repeated_pitches_apart(tmp_path) -> None:
    # Back-to-back notes of one pitch share a tick: the off must come before the on.
    notes = [(float(beat), 1.0, 60, 70 + beat) for beat in range(4)]
    clip = NoteClip.from_notes(notes, length=4)
    clip.write_midi(tmp_path / "repeat.mid")
    back = NoteClip.read_midi(tmp_path / "repeat.mid")
    assert back == clip


def test_read_midi_default_length_rounds_up_to_whole_bars(tmp_path) -> None:
    clip = NoteClip.from_notes([(0.0, 1.0, 60, 100), (8.5, 1.0, 62, 100)], length=9.5)
    clip.write_midi(tmp_path / "a.mid")
    assert NoteClip.read_midi(tmp_path / "a.mid").length == 12.0
    # An explicit length cuts the notes that start at or after it.
    first_bar = NoteClip.read_midi(tmp_path / "a.mid", length=4)
    assert first_bar.pitch.tolist() == [60]


def test_read_type_0_file_merges_channels(tmp_path) -> None:
    midi = mido.MidiFile(type=0, ticks_per_beat=96)
    midi.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
                mido.Message("note_on", channel=0, note=60, velocity=80, time=48),
                # A note-on with velocity 0 is a note-off, and a zero-length hit keeps a tick.
                mido.Message("note_on", channel=9, note=36, velocity=0, time=0),
                mido.Message("note_on", channel=9, note=38, velocity=90, time=48),
                mido.Message("note_off", channel=9, note=38, velocity=0, time=0),
                mido.Message("note_off", channel=0, note=60, velocity=0, time=96),
                mido.MetaMessage("end_of_track", time=0),
            ]
        )
    )
    path = tmp_path / "type0.mid"
    midi.save(path)
    clip = NoteClip.read_midi(path)
    assert clip.start.tolist() == [0.0, 0.5, 1.0]
    assert clip.pitch.tolist() == [36, 60, 38]
    np.testing.assert_allclose(clip.duration, [0.5, 1.5, 1 / 96])
    assert clip.length == 4.0


def test_read_type_1_merges_tracks(tmp_path) -> None:
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    for pitch, start in ((40, 0), (52, 960)):
        midi.tracks.append(
            mido.MidiTrack(
                [
                    mido.Message("note_on", note=pitch, velocity=99, time=start),
                    mido.Message("note_off", note=pitch, velocity=0, time=480),
                ]
            )
        )
    path = tmp_path / "two.mid"
    midi.save(path)
    clip = NoteClip.read_midi(path)
    assert list(zip(clip.start.tolist(), clip.pitch.tolist())) == [(0.0, 40), (2.0, 52)]


def test_corrupt_file_raises_value_error(tmp_path) -> None:
    garbage = tmp_path / "garbage.mid"
    garbage.write_bytes(b"this is not a MIDI file at all")
    with pytest.raises(ValueError, match="not a readable MIDI file"):
        NoteClip.read_midi(garbage)

    good = tmp_path / "good.mid"
    NoteClip.from_notes(RIFF, length=4).write_midi(good)
    truncated = tmp_path / "truncated.mid"
    truncated.write_bytes(good.read_bytes()[:40])
    with pytest.raises(ValueError, match="not a readable MIDI file"):
        NoteClip.read_midi(truncated)


def test_missing_file_is_not_a_value_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        NoteClip.read_midi(tmp_path / "nowhere.mid")


def test_write_midi_rejects_bad_tempo_and_channel(tmp_path) -> None:
    clip = NoteClip.from_notes(RIFF, length=4)
    with pytest.raises(ValueError, match="tempo"):
        clip.write_midi(tmp_path / "x.mid", bpm=0)
    with pytest.raises(ValueError, match="channel"):
        clip.write_midi(tmp_path / "x.mid", channel=16)
