"""Orpheus's token format: single tokens, the app's quantisation rules, round trips through
streams and MIDI files (built here with mido, and a few music21 corpus pieces), and a
decoder that survives malformed streams."""

from __future__ import annotations

import random

import mido
import pytest

from hoot.errors import HootError
from hoot.generate.orpheus import tokens as ot
from hoot.generate.orpheus.tokens import Event
from hoot.music.clip import NoteClip
from hoot.music.roles import ROLES

PLAYED_VELOCITIES = [15 * (k + 1) for k in range(8)]


def ordered(events):
    return sorted(events, key=lambda e: (e.start_ms, e.patch, e.pitch))


# Single tokens -----------------------------------------------------------------------------


def test_note_tokens_carry_patch_and_pitch():
    for patch in (0, 1, 33, 127, 128):
        for pitch in (0, 1, 60, 127):
            token = ot.note_token(patch, pitch)
            assert token in ot.NOTE
            assert (ot.patch_of(token), ot.pitch_of(token)) == (patch, pitch)
    assert ot.note_token(0, 0) == 256 and ot.note_token(128, 127) == 16767
    with pytest.raises(HootError):
        ot.note_token(129, 60)
    with pytest.raises(HootError):
        ot.note_token(0, 128)


def test_durvel_tokens_carry_length_and_octo_velocity():
    assert ot.durvel_token(1, 8) == 16768 + 8
    assert ot.durvel_token(255, 127) == 18815
    # round(vel/15) - 1 after clamping to 8-127: the class edges sit at 22/23, 37/38...
    assert [ot.vel8_of(v) for v in (1, 8, 22, 23, 37, 38, 112, 113, 127)] == [
        0,
        0,
        0,
        1,
        1,
        2,
        6,
        7,
        7,
    ]
    for dur in (1, 100, 255):
        for vel in range(1, 128):
            token = ot.durvel_token(dur, vel)
            assert ot.dur_of(token) == dur
            assert ot.vel_of(token) == (ot.vel8_of(vel) + 1) * 15
    for vel in PLAYED_VELOCITIES:  # a played velocity comes back as itself
        assert ot.vel_of(ot.durvel_token(3, vel)) == vel
    with pytest.raises(HootError):
        ot.durvel_token(0, 64)
    with pytest.raises(HootError):
        ot.durvel_token(256, 64)
    with pytest.raises(HootError):
        ot.durvel_token(4, 0)


def test_vocabulary_layout():
    assert (ot.SOS, ot.OUTRO, ot.EOS, ot.PAD, ot.VOCAB) == (18816, 18817, 18818, 18819, 18820)
    assert ot.TIME.stop == ot.NOTE.start and ot.NOTE.stop == ot.DURVEL.start == 16768
    assert ot.DURVEL.stop == ot.SOS and ot.STEP_MS == 16


# The app's quantisation ------------------------------------------------------------------


def test_chord_order_is_melodic_high_to_low_then_drums():
    events = [
        Event(0, 160, 128, 36, 100),
        Event(0, 160, 0, 60, 100),
        Event(0, 160, 128, 42, 100),
        Event(0, 160, 33, 40, 100),
        Event(0, 160, 0, 67, 100),
        Event(0, 160, 24, 67, 100),
    ]
    stream = ot.encode(events)
    assert stream[:2] == [ot.SOS, 0]
    notes = [(ot.patch_of(t), ot.pitch_of(t)) for t in stream[2::2]]
    assert notes == [(0, 67), (24, 67), (0, 60), (33, 40), (128, 42), (128, 36)]


def test_duplicates_in_a_chord_keep_the_first():
    events = [Event(0, 320, 0, 60, 120), Event(5, 160, 0, 60, 30), Event(8, 48, 0, 62, 30)]
    decoded = ot.decode(ot.encode(events))
    assert decoded == [Event(0, 48, 0, 62, 30), Event(0, 320, 0, 60, 120)]


def test_a_note_ends_where_its_patch_plays_its_pitch_again_but_drums_do_not():
    events = [
        Event(0, 1000, 0, 60, 90),
        Event(480, 200, 0, 60, 90),
        Event(0, 1000, 1, 60, 90),  # another patch: untouched
        Event(0, 1000, 128, 38, 90),
        Event(480, 1000, 128, 38, 90),  # drums overlap...
        Event(0, 1000, 128, 42, 90),
        Event(480, 200, 128, 42, 90),  # ...but a hit nested in another cannot be written
    ]
    decoded = ordered(ot.decode(ot.encode(events)))
    durations = {(e.start_ms, e.patch, e.pitch): e.dur_ms for e in decoded}
    assert durations[(0, 0, 60)] == 480
    assert durations[(0, 1, 60)] == 992
    assert durations[(0, 128, 38)] == 992
    assert durations[(0, 128, 42)] == 480 + 192


def test_long_gaps_clip_to_255_steps_and_long_notes_to_255():
    events = [Event(0, 60_000, 0, 60, 90), Event(100_000, 16, 0, 62, 90)]
    stream = ot.encode(events)
    assert stream == [ot.SOS, 0, ot.note_token(0, 60), ot.durvel_token(255, 90)] + [
        255,
        ot.note_token(0, 62),
        ot.durvel_token(1, 90),
    ]
    assert ot.decode(stream)[1].start_ms == 255 * 16


def test_steps_floor_and_pitch_zero_becomes_one():
    stream = ot.encode([Event(47, 47, 5, 0, 200)])
    assert stream == [ot.SOS, 2, ot.note_token(5, 1), ot.durvel_token(2, 127)]
    assert ot.encode([Event(47, 5, 5, 3, 64)], lead_in=False, sos=False)[:1] == [0]
    assert ot.encode([]) == [ot.SOS] and ot.encode([], sos=False) == []


def random_grid_events(rng: random.Random, count: int) -> list[Event]:
    """Events the format keeps exactly: on the grid, gaps and lengths within 255 steps,
    one note per (patch, pitch) at a time, pitches 1-127, played velocities."""
    patches = rng.sample([*range(128), ot.DRUMS], 5)
    events: list[Event] = []
    free: dict[tuple[int, int], int] = {}
    step = rng.randrange(0, 256)
    for _ in range(count):
        for _ in range(rng.choice([1, 1, 2, 4])):
            patch, pitch = rng.choice(patches), rng.randrange(1, 128)
            dur = rng.choice([1, 2, 8, 30, 255])
            if free.get((patch, pitch), -1) > step:
                continue
            free[(patch, pitch)] = step + dur
            events.append(Event(step * 16, dur * 16, patch, pitch, rng.choice(PLAYED_VELOCITIES)))
        step += rng.choice([1, 3, 16, 100, 255])
    return events


@pytest.mark.parametrize("seed", range(30))
def test_events_on_the_grid_come_back_exactly(seed):
    events = random_grid_events(random.Random(seed), 60)
    stream = ot.encode(events)
    assert ordered(ot.decode(stream)) == ordered(events)
    assert ot.encode(ot.decode(stream)) == stream


def random_events(rng: random.Random, count: int) -> list[Event]:
    """Anything: off the grid, long gaps and notes, overlaps, duplicates, velocity edges."""
    return [
        Event(
            rng.choice([0, rng.randrange(0, 30_000), rng.randrange(0, 200)]),
            rng.choice([0, 5, rng.randrange(1, 9_000)]),
            rng.choice([0, 1, 33, 81, 128]),
            rng.choice([0, 60, 127, rng.randrange(0, 128)]),
            rng.choice([1, 7, 8, 22, 23, 127, rng.randrange(1, 128)]),
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("seed", range(30))
def test_a_decoded_stream_encodes_to_itself(seed):
    stream = ot.encode(random_events(random.Random(seed), 80))
    assert ot.encode(ot.decode(stream)) == stream
    assert all(t in range(ot.VOCAB) for t in stream)


# Malformed streams -------------------------------------------------------------------------


def test_decode_survives_every_truncation():
    stream = ot.encode(random_events(random.Random(7), 40))
    full = ot.decode(stream)
    for cut in range(len(stream) + 1):
        part = ot.decode(stream[:cut])
        assert part == full[: len(part)]


def test_decode_skips_what_does_not_parse():
    note, durvel = ot.note_token(0, 60), ot.durvel_token(4, 90)
    assert ot.decode([ot.SOS, 0, durvel, note]) == []  # DURVEL without NOTE; NOTE at the end
    assert ot.decode([ot.SOS, 4, note, 3, durvel]) == []  # TIME between them
    assert ot.decode([ot.SOS, note, ot.note_token(0, 62), durvel]) == [Event(0, 64, 0, 62, 90)]
    assert ot.decode([-5, 99_999, ot.PAD, ot.OUTRO, 2, note, durvel]) == [Event(32, 64, 0, 60, 90)]
    assert ot.decode([note, durvel, ot.EOS, note, durvel]) == [Event(0, 64, 0, 60, 90)]
    assert ot.decode([note, ot.DURVEL.start + 3]) == [Event(0, 16, 0, 60, 60)]  # length 0


# MIDI files ----------------------------------------------------------------------------------


def write_random_midi(path, seed: int) -> None:
    """A type 1 file: a tempo track with changes, melodic tracks with program changes and
    chords, drums on channel 10, overlapping repeated pitches, long gaps and notes."""
    rng = random.Random(seed)
    tpb = rng.choice([96, 480, 960])
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    conductor = mido.MidiTrack()
    tick = 0
    for _ in range(rng.randrange(1, 5)):
        conductor.append(
            mido.MetaMessage("set_tempo", tempo=rng.randrange(300_000, 1_200_000), time=tick)
        )
        tick = rng.randrange(1, 8 * tpb)
    midi.tracks.append(conductor)
    channels = rng.sample([c for c in range(16) if c != 9], 3) + [9]
    for channel in channels:
        absolute = []
        if channel != 9:
            absolute.append(
                (0, mido.Message("program_change", channel=channel, program=rng.randrange(128)))
            )
            later = rng.randrange(4 * tpb, 40 * tpb)
            absolute.append(
                (later, mido.Message("program_change", channel=channel, program=rng.randrange(128)))
            )
        start = rng.randrange(0, 2 * tpb)
        for _ in range(rng.randrange(10, 40)):
            size = rng.choice([1, 1, 3]) if channel != 9 else rng.choice([1, 2])
            base = rng.randrange(30, 90)
            for pitch in {base + rng.choice([0, 3, 4, 7, 12]) for _ in range(size)}:
                length = rng.choice([tpb // 4, tpb, 3 * tpb, 20 * tpb, 0])
                vel = rng.choice([1, 8, 22, 23, 64, 126, 127])
                absolute.append(
                    (start, mido.Message("note_on", channel=channel, note=pitch, velocity=vel))
                )
                absolute.append(
                    (start + length, mido.Message("note_off", channel=channel, note=pitch))
                )
            start += rng.choice([tpb // 8, tpb // 2, tpb, 2 * tpb, 30 * tpb])
        absolute.sort(key=lambda item: item[0])
        track = mido.MidiTrack()
        now = 0
        for at, message in absolute:
            track.append(message.copy(time=at - now))
            now = at
        midi.tracks.append(track)
    midi.save(path)


@pytest.mark.parametrize("seed", range(12))
def test_midi_tokens_midi_tokens_is_identical(tmp_path, seed):
    source, again = tmp_path / "source.mid", tmp_path / "again.mid"
    write_random_midi(source, seed)
    stream = ot.midi_to_tokens(source)
    assert len(stream) > 30
    assert {ot.DRUMS} < {ot.patch_of(t) for t in stream if t in ot.NOTE}
    ot.tokens_to_midi(stream, again)
    assert ot.midi_to_tokens(again) == stream
    assert ordered(ot.midi_to_events(again)) == ordered(ot.decode(stream))
    plain = ot.midi_to_tokens(source, lead_in=False)
    assert plain[1] == 0 and plain[2:] == stream[2:]


def save(track_lists, path, tpb=480):
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    for messages in track_lists:
        midi.tracks.append(mido.MidiTrack(messages))
    midi.save(path)


def test_times_follow_the_tempo_map(tmp_path):
    path = tmp_path / "tempo.mid"
    conductor = [
        mido.MetaMessage("set_tempo", tempo=500_000, time=480 * 4),  # beats 0-4 at default
        mido.MetaMessage("set_tempo", tempo=1_000_000, time=480),  # 120 BPM for beat 4-5
    ]
    notes = [
        mido.Message("note_on", note=60, velocity=90, time=480 * 6),
        mido.Message("note_off", note=60, time=480),
    ]
    save([conductor, notes], path)
    # 5 beats at 500 ms, then one at 1000 ms: starts at 3500, lasts 1000.
    assert ot.midi_to_events(path) == [Event(3500, 1000, 0, 60, 90)]


def test_programs_drums_pedal_and_unended_notes(tmp_path):
    path = tmp_path / "misc.mid"
    track = [
        mido.Message("program_change", channel=2, program=33, time=0),
        mido.Message("control_change", channel=2, control=64, value=127, time=0),
        mido.Message("note_on", channel=2, note=40, velocity=100, time=0),
        mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
        mido.Message("note_off", channel=2, note=40, time=96),  # 100 ms, pedal down
        mido.Message("note_on", channel=9, note=36, velocity=0, time=0),
        mido.Message("control_change", channel=2, control=64, value=0, time=864),  # up at 1 s
        mido.Message("note_on", channel=2, note=52, velocity=50, time=0),  # never ends
        mido.Message("note_on", channel=2, note=52, velocity=51, time=480),
        mido.Message("note_off", channel=2, note=52, time=480),  # ends the first one
        mido.MetaMessage("end_of_track", time=960),
    ]
    save([track], path)
    assert ordered(ot.midi_to_events(path)) == [
        Event(0, 1000, 33, 40, 100),
        Event(0, 100, 128, 36, 100),
        Event(1000, 1000, 33, 52, 50),
        Event(1500, 1500, 33, 52, 51),
    ]


def test_unreadable_files_are_one_sentence(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi")
    with pytest.raises(HootError, match="not a readable MIDI file"):
        ot.midi_to_tokens(bad)


def test_music21_corpus_pieces_round_trip(tmp_path):
    corpus = pytest.importorskip("music21.corpus")
    for index, name in enumerate(("bach/bwv66.6", "bach/bwv7.7", "schoenberg/opus19/movement2")):
        source, again = tmp_path / f"{index}.mid", tmp_path / f"{index}-again.mid"
        corpus.parse(name).write("midi", fp=source)
        stream = ot.midi_to_tokens(source)
        assert len(stream) > 100
        ot.tokens_to_midi(stream, again)
        assert ot.midi_to_tokens(again) == stream


# Clips and roles -----------------------------------------------------------------------------


def test_clip_events_and_notes_invert_each_other():
    clip = NoteClip.from_notes([(0, 1, 60, 100), (0.5, 0.25, 64, 30), (3, 1, 67, 127)], 4)
    events = ot.clip_to_events(clip, 120.0, 81, offset_beats=4)
    assert events[0] == Event(2000, 500, 81, 60, 100)
    assert ot.events_to_notes(events, 120.0, offset_ms=2000) == [
        (0.0, 1.0, 60, 100, 81),
        (0.5, 0.25, 64, 30, 81),
        (3.0, 1.0, 67, 127, 81),
    ]
    assert ot.events_to_notes(events, 120.0, offset_ms=2500) == [(2.0, 1.0, 67, 127, 81)]
    # At 512 ms a beat, sixteenths sit on the 16 ms grid: through tokens and back unchanged.
    bpm = 60_000 / 512
    notes = ot.events_to_notes(ot.decode(ot.encode(ot.clip_to_events(clip, bpm, 81))), bpm)
    played = {(s, d, p, v) for s, d, p, v, _patch in notes}
    assert played == {(0.0, 1.0, 60, 105), (0.5, 0.25, 64, 30), (3.0, 1.0, 67, 120)}
    with pytest.raises(HootError):
        ot.clip_to_events(clip, 0, 0)


def test_roles_and_patches():
    for role in (*ROLES, "keys"):
        assert ot.DEFAULT_PATCH[role] in ot.ROLE_PATCHES[role]
    assert ot.ROLE_PATCHES["bass"] == tuple(range(32, 40))
    assert ot.ROLE_PATCHES["drums"] == ot.ROLE_PATCHES["perc"] == (128,)
    expected = {33: "bass", 128: "drums", 0: "chords", 19: "chords", 26: "chords", 81: "lead"}
    expected |= {73: "lead", 56: "lead", 65: "lead", 40: "lead", 89: "pad", 48: "pad"}
    for patch, role in expected.items():
        assert ot.role_of_patch(patch) == role
    assert ot.role_of_patch(125) is None  # helicopter
