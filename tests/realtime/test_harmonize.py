"""The harmonizer answers a player's keys: in key, in range, never doubled, never hanging.

The model is a seeded stand-in with Notochord's feed/query (tests/realtime/standin.py); the
real model drops into the same calls.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from hoot.errors import HootError
from hoot.music.harmony import Key
from hoot.realtime.harmonize import Harmonizer
from hoot.realtime.steer import CONSONANT
from tests.realtime.standin import Rogue, StandIn

C_MAJOR = Key.parse("C major")
MELODY = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60]


def play(harmony: Harmonizer, melody: list[int], vel: int = 90) -> list[tuple[int, list[int]]]:
    """Each key struck, then lifted before the next: (key, its harmony) in order."""
    answered = []
    for pitch in melody:
        started = harmony.note_on(pitch, vel, 0.25)
        answered.append((pitch, started))
        assert harmony.note_off(pitch, 0.2) == started
    return answered


def test_each_key_gets_two_voices_below_in_key_within_an_octave():
    harmony = Harmonizer(StandIn(seed=1), voices=2, below=True, key="C major", span=12)
    for pitch, started in play(harmony, MELODY):
        assert len(started) == 2 and len(set(started)) == 2
        for note in started:
            assert pitch - 12 <= note < pitch and C_MAJOR.contains(note)


def test_voices_above_stay_above_within_the_span():
    harmony = Harmonizer(StandIn(seed=2), voices=3, below=False, key="D dorian", span=9)
    dorian = Key.parse("D dorian")
    for pitch, started in play(harmony, [62, 65, 69, 67, 64, 62]):
        assert len(started) == 3
        assert all(pitch < note <= pitch + 9 and dorian.contains(note) for note in started)


def test_the_model_hears_the_key_before_its_voices_and_each_voice_after_the_one_before():
    model = StandIn(seed=3)
    harmony = Harmonizer(model, voices=2, key="C major", player_inst=1, voice_inst=[53, 54])
    started = harmony.note_on(67, 100, 0.5)
    assert model.fed == [
        (1, 67, 0.5, 100.0),
        (53, started[0], 0.0, 100.0),
        (54, started[1], 0.0, 100.0),
    ]
    assert [q["next_inst"] for q in model.queries] == [53, 54]
    assert started[0] not in model.queries[1]["include_pitch"]
    harmony.note_off(67, 0.3)
    assert model.fed[3:] == [
        (1, 67, 0.3, 0.0),
        (53, started[0], 0.0, 0.0),
        (54, started[1], 0.0, 0.0),
    ]


def test_a_harmony_note_is_never_the_played_pitch_nor_one_already_sounding():
    harmony = Harmonizer(StandIn(seed=4), voices=3, key="C major", span=7)
    sounding: set[int] = set()
    held: set[int] = set()
    for pitch in (72, 71, 69, 67):  # held one on top of the other
        started = harmony.note_on(pitch, 80, 0.1)
        held.add(pitch)
        assert pitch not in started
        assert not set(started) & sounding
        assert not set(started) & held  # nor a key the player holds
        sounding |= set(started)
    assert set(harmony.playing) == sounding


def test_note_off_ends_exactly_the_harmony_started_for_that_key():
    harmony = Harmonizer(StandIn(seed=5), voices=2, key="A minor")
    first = harmony.note_on(69, 90, 0.0)
    second = harmony.note_on(76, 90, 0.1)
    assert harmony.note_off(69, 0.2) == first
    assert harmony.note_off(69, 0.1) == []  # a key lifted twice ends nothing more
    assert harmony.note_off(76, 0.2) == second
    assert harmony.playing == ()


def test_a_restruck_key_ends_its_old_harmony_before_the_new_one_starts():
    harmony = Harmonizer(StandIn(seed=6), voices=2, key="C major")
    first = harmony.answer(64, 90, 0.0)
    again = harmony.answer(64, 70, 0.3)
    old = [p for p, _ in first]
    assert again[:2] == [(p, 0) for p in old]
    assert [v for _, v in again[2:]] == [70, 70]
    assert harmony.answer(64, 0, 0.2) == [(p, 0) for p, _ in again[2:]]


def test_note_on_on_a_held_key_keeps_its_old_harmony_until_the_key_ends():
    harmony = Harmonizer(StandIn(seed=7), voices=2, key="C major")
    first = harmony.note_on(72, 90, 0.0)
    second = harmony.note_on(72, 90, 0.2)
    assert not set(first) & set(second)
    assert sorted(harmony.note_off(72, 0.1)) == sorted(first + second)


def test_release_ends_everything_and_later_note_offs_end_nothing():
    harmony = Harmonizer(StandIn(seed=8), voices=2, key="C major")
    started = harmony.note_on(60, 90, 0.0) + harmony.note_on(67, 90, 0.0)
    assert sorted(harmony.release()) == sorted(started)
    assert harmony.playing == ()
    assert harmony.note_off(60, 0.1) == [] and harmony.note_off(67, 0.1) == []
    assert harmony.release() == []


def test_the_consonance_steer_answers_with_thirds_sixths_fifths_and_octaves():
    steered = Harmonizer(StandIn(seed=9), voices=2, key="C major", consonant=True)
    for pitch, started in play(steered, MELODY * 4):
        assert all((pitch - note) % 12 in CONSONANT for note in started)
    free = Harmonizer(StandIn(seed=9), voices=2, key="C major", consonant=False)
    intervals = {
        (pitch - note) % 12 for pitch, started in play(free, MELODY * 4) for note in started
    }
    assert intervals - CONSONANT  # left alone, the stand-in also plays seconds and sevenths


def test_a_chromatic_passing_note_gets_in_key_harmony_consonant_with_it():
    harmony = Harmonizer(StandIn(seed=10), voices=2, key="C major")
    for _ in range(20):
        started = harmony.note_on(66, 90, 0.1)  # F# in C major
        assert len(started) == 2 and set(started) <= {62, 59, 57}  # D, B, A below
        harmony.note_off(66, 0.1)


def test_a_key_with_no_room_gets_fewer_voices_never_a_wrong_note():
    harmony = Harmonizer(StandIn(seed=11), voices=2, key="C major", span=1)
    assert harmony.note_on(60, 90, 0.0) == [59]  # only B lies a semitone below C
    assert harmony.note_on(62, 90, 0.1) == []  # C# is not in the key
    assert harmony.note_off(62, 0.1) == []
    assert harmony.note_off(60, 0.1) == [59]


def test_without_a_key_any_pitch_in_the_span_may_answer():
    harmony = Harmonizer(StandIn(seed=12), voices=2, key=None, consonant=False, span=3)
    heard = {note for _, started in play(harmony, [61] * 40) for note in started}
    assert heard == {58, 59, 60}


def test_a_model_that_ignores_its_constraints_is_kept_inside_them():
    harmony = Harmonizer(Rogue(seed=13), voices=2, key="E minor", span=12)
    e_minor = Key.parse("E minor")
    for pitch, started in play(harmony, [64, 66, 67, 71, 76, 74, 72] * 5):
        assert len(set(started)) == len(started) == 2
        for note in started:
            assert pitch - 12 <= note < pitch and e_minor.contains(note)
            assert (pitch - note) % 12 in CONSONANT


def test_instruments_come_from_the_checkpoint_when_not_given():
    meta = {"player_inst": 53, "voice_insts": [54, 42, 33], "corpus": "bach"}
    model = StandIn(seed=14, hoot_meta=meta)
    harmony = Harmonizer(model, voices=3, key="C major")
    harmony.note_on(72, 90, 0.0)
    assert [inst for inst, *_ in model.fed] == [53, 54, 42, 33]
    plain = StandIn(seed=14)
    Harmonizer(plain, voices=2).note_on(72, 90, 0.0)
    assert [inst for inst, *_ in plain.fed] == [1, 49, 49]
    told = StandIn(seed=14, hoot_meta=meta)
    Harmonizer(told, voices=1, player_inst=1, voice_inst=41).note_on(72, 90, 0.0)
    assert [inst for inst, *_ in told.fed] == [1, 41]


def test_a_stray_note_off_keeps_its_time_for_the_next_event():
    model = StandIn(seed=15)
    harmony = Harmonizer(model, voices=1)
    assert harmony.note_off(50, 0.4) == []
    harmony.note_on(60, 90, 0.1)
    assert model.fed[0][:3] == (1, 60, pytest.approx(0.5))


def test_settings_change_while_playing_and_bad_ones_get_one_sentence():
    harmony = Harmonizer(StandIn(seed=16), voices=2, key="C major")
    held = harmony.note_on(60, 90, 0.0)
    harmony.set(key="Eb major", voices=3, below=False, span=12, temperature=0.5)
    started = harmony.note_on(63, 90, 0.1)
    assert len(started) == 3 and all(Key.parse("Eb").contains(p) and p > 63 for p in started)
    assert harmony.note_off(60, 0.1) == held  # the held key keeps the harmony it had
    for bad in (
        {"key": "H minor"},
        {"span": 0},
        {"voices": 9},
        {"tempo": 120},
        {"temperature": -1},
    ):
        with pytest.raises(HootError):
            harmony.set(**bad)
    with pytest.raises(HootError):
        Harmonizer(StandIn(), voice_inst=400)


KEYS = ["C major", "D minor", "F# dorian", "Bb mixolydian", None]


@pytest.mark.parametrize("model_class", [StandIn, Rogue])
def test_no_sequence_of_keys_leaves_a_harmony_note_hanging_or_doubled(model_class):
    """Random on/off/re-strike/set/release sequences; the sounding harmony is tracked from
    what the harmonizer returns alone, as the voice process writes it."""
    for seed in range(40):
        perform_randomly(model_class, seed)


def perform_randomly(model_class: type[StandIn], seed: int) -> None:
    rng = random.Random(seed)
    harmony = Harmonizer(
        model_class(seed=seed),
        voices=rng.randint(1, 4),
        below=rng.random() < 0.5,
        key=rng.choice(KEYS),
        span=rng.randint(1, 24),
    )
    sounding: Counter[int] = Counter()
    held: set[int] = set()

    def start(notes: list[int], pitch: int) -> None:
        key, span, below = harmony.key, harmony.span, harmony.below
        for note in notes:
            assert sounding[note] == 0, f"double note-on {note} (seed {seed})"
            assert note != pitch
            assert (pitch - span <= note < pitch) if below else (pitch < note <= pitch + span)
            assert key is None or key.contains(note)
            sounding[note] += 1

    def end(notes: list[int]) -> None:
        for note in notes:
            assert sounding[note] == 1, f"note-off of {note}, not sounding (seed {seed})"
            sounding[note] -= 1

    for _ in range(200):
        pitch, dt, roll = rng.randint(30, 100), rng.random() * 0.3, rng.random()
        if roll < 0.35:
            events = harmony.answer(pitch, rng.randint(1, 127), dt)
            end([p for p, v in events if v == 0])
            start([p for p, v in events if v], pitch)
            held.add(pitch)
        elif roll < 0.45:
            start(harmony.note_on(pitch, rng.randint(1, 127), dt), pitch)
            held.add(pitch)
        elif roll < 0.85 and held:
            lifted = rng.choice(sorted(held))
            end(
                harmony.note_off(lifted, dt)
                if roll < 0.65
                else [p for p, _ in harmony.answer(lifted, 0, dt)]
            )
            held.discard(lifted)
        elif roll < 0.95:
            harmony.set(
                key=rng.choice(KEYS),
                span=rng.randint(1, 24),
                voices=rng.randint(0, 4),
                below=rng.random() < 0.5,
            )
        else:
            end(harmony.release())
        assert +sounding == Counter(harmony.playing)
    for pitch in sorted(held):
        end(harmony.note_off(pitch, 0.1))
    assert not +sounding and harmony.playing == ()
