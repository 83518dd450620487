"""Voices that hear the stems (hoot/realtime/score.py followed in hoot/realtime/voice.py),
with stand-ins for the model's music logic and the note table and a clock the test moves:
an improviser hears the stems' notes as they sound, in time order with a keyboard's, each
delta from the event before; a harmonizer on a stem's track answers each note ahead and
stamps its harmony a block before the note sounds, and ends it with the note."""

from __future__ import annotations

from hoot.music.time import TempoMap
from hoot.realtime.score import Follow
from hoot.realtime.voice import PREPARE_S, HarmonyVoice, ImproviseVoice
from tests.realtime.test_voice import Clock, Table, Thirds

SR = 48000
BLOCK_S = 0.005


def score(wall: float, tracks: list[dict], bpm: float = 120.0) -> dict:
    """A score whose sample 0 (beat 0) is rendered at monotonic `wall`."""
    return {
        "cmd": "score",
        "tracks": tracks,
        "tempo_map": TempoMap(SR, bpm=bpm).to_dict(),
        "clock": {"sample": 0, "wall": wall},
        "facts": {},
    }


def bass(notes: list[list], start: int = 0, stop: int | None = None) -> dict:
    return {"track": "bass", "stem": "bass-1-1", "inst": 33, "start": start,
            "start_beat": 0.0, "turn_beat": 0.0, "stop": stop, "length": 4.0, "bpm": None,
            "notes": notes}  # fmt: skip


class Listener:
    """An improviser that only listens: it plans nothing within the test and keeps what it
    heard as (inst, pitch, vel, dt)."""

    def __init__(self) -> None:
        self.heard: list[tuple[int, int, int, float]] = []

    def plan(self, dt):
        return (100.0, 72, 0)

    def played(self, pitch, vel, dt):
        pass

    def hear(self, inst, pitch, vel, dt):
        self.heard.append((inst, pitch, vel, dt))

    def release(self):
        return []

    def set(self, **params):
        pass


def run(clock: Clock, voice, until: float, keys: Table | None = None,
        played: list | None = None) -> None:  # fmt: skip
    """Move the clock a millisecond at a time; a key's message is readable once it arrived."""
    played = list(played or [])
    while clock.now < until:
        clock.now = round(clock.now + 0.001, 9)
        while played and played[0][0] <= clock.now:
            keys.played.append(played.pop(0))
        voice.step()


def test_an_improviser_hears_stem_notes_as_they_sound_in_time_with_the_keyboard() -> None:
    clock, keys, out = Clock(99.9), Table(), Table()
    follow = Follow(own="lead")
    voice = ImproviseVoice(Listener(), [keys], out, block_s=BLOCK_S, at="now", grid=False,
                           follow=follow, clock=clock)  # fmt: skip
    voice.rescore(score(100.0, [bass([[0.0, 0.5, 40, 100], [1.0, 0.5, 43, 90]])]))
    keyboard = [(100.1, 0x90, 60, 80), (100.6, 0x80, 60, 0)]
    run(clock, voice, 100.9, keys, keyboard)
    sounds = [  # (the moment it sounds, inst, pitch, vel): a key sounds a block after it arrived
        (100.0, 33, 40, 100), (100.1 + BLOCK_S, 1, 60, 80), (100.25, 33, 40, 0),
        (100.5, 33, 43, 90), (100.6 + BLOCK_S, 1, 60, 0), (100.75, 33, 43, 0),
    ]  # fmt: skip
    heard = voice.improviser.heard
    assert [h[:3] for h in heard] == [s[1:] for s in sounds], "in time order, stems interleaved"
    times = [99.9] + [s[0] for s in sounds]  # it began (its first, silent, plan) at 99.9
    for (_, _, _, dt), before, at in zip(heard, times, times[1:]):
        assert abs(dt - (at - before)) < 1e-9, "each delta from the event before"
    assert voice.status()["stems"] == ["bass"]


def test_drums_are_heard_only_when_named_and_never_its_own_track() -> None:
    drums = dict(bass([[0.0, 0.1, 36, 100]]), track="drums", inst=129)
    lead = dict(bass([[0.0, 0.5, 72, 100]]), track="lead", inst=81)
    every = Follow(own="lead")
    every.update(score(100.0, [drums, lead, bass([[0.0, 0.5, 40, 100]])]), 99.9)
    assert {e.track for e in every.take(101.0)} == {"bass"}
    named = Follow(hears=["drums"], own="lead")
    named.update(score(100.0, [drums]), 99.9)
    assert [(e.inst, e.pitch, e.vel) for e in named.take(101.0)] == [(129, 36, 100), (129, 36, 0)]


def harmonizer(clock: Clock, asked: list) -> Thirds:
    thirds = Thirds(clock, cost=0.002)
    note_on = thirds.note_on

    def asking(pitch, vel, dt):
        asked.append((clock.now, pitch))
        return note_on(pitch, vel, dt)

    thirds.note_on = asking
    return thirds


def test_a_stem_harmonizer_stamps_each_answer_a_block_before_the_stem_note_and_ends_with_it():
    clock, out, asked = Clock(99.8), Table(), []
    voice = HarmonyVoice(harmonizer(clock, asked), None, out, block_s=BLOCK_S,
                         follow=Follow(hears=["bass"]), clock=clock)  # fmt: skip
    voice.rescore(score(100.0, [bass([[0.0, 0.5, 40, 100], [1.0, 1.0, 43, 90]])]))
    written_at = []
    while clock.now < 101.2:
        clock.now = round(clock.now + 0.001, 9)
        before = len(out.written)
        voice.step()
        written_at += [clock.now] * (len(out.written) - before)
    on, off = 0x90, 0x80
    assert out.written == [
        (bytes((on, 36, 100)), 100.0 - BLOCK_S), (bytes((on, 33, 100)), 100.0 - BLOCK_S),
        (bytes((off, 36, 0)), 100.25 - BLOCK_S), (bytes((off, 33, 0)), 100.25 - BLOCK_S),
        (bytes((on, 39, 90)), 100.5 - BLOCK_S), (bytes((on, 36, 90)), 100.5 - BLOCK_S),
        (bytes((off, 39, 0)), 101.0 - BLOCK_S), (bytes((off, 36, 0)), 101.0 - BLOCK_S),
    ], "the engine places each at its stamp + a block: when the stem's note sounds"  # fmt: skip
    for (_, stamp), at in zip(out.written, written_at):
        assert stamp <= at < stamp + 0.0011, "written when its stamp comes, not ahead"
    for at, pitch in asked:
        sounds = 100.0 if pitch == 40 else 100.5
        assert PREPARE_S - 0.0015 < sounds - at <= PREPARE_S, "asked PREPARE_S ahead"
    assert voice.status()["late"] == 0 and voice.status()["playing"] == []


def test_a_keyboard_and_a_stem_on_one_track_both_get_harmony_and_a_stopped_stem_ends_it():
    clock, keys, out = Clock(99.8), Table(), Table()
    voice = HarmonyVoice(Thirds(clock), keys, out, block_s=BLOCK_S,
                         follow=Follow(hears=["bass"]), clock=clock)  # fmt: skip
    voice.rescore(score(100.0, [bass([[0.0, 3.0, 40, 100]])]))
    run(clock, voice, 100.2, keys, [(100.1, 0x90, 60, 80)])
    assert voice.status()["playing"] == [33, 36, 53, 56], "the stem's and the key's"
    voice.rescore(score(100.0, []))  # the bass stopped at once
    run(clock, voice, 100.3)
    assert voice.status()["playing"] == [53, 56], "the stem's harmony ended, the key's holds"
    assert (bytes((0x80, 36, 0)), 100.2 - BLOCK_S) in out.written
