"""What a voice writes for what it reads, with stand-ins for the model's music logic and the
engine's note table and a clock the test moves: harmony carries its key's arrival stamp,
late answers are dropped and counted, note-offs always follow; an improviser's notes are
stamped one block before they must sound, on the grid, from the next phrase."""

from __future__ import annotations

from hoot.realtime.voice import LATE_S, HarmonyVoice, ImproviseVoice


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Table:
    """A keyboard's slot (what NoteReader reads) and a model's slot (what NoteWriter writes)."""

    def __init__(self) -> None:
        self.played: list[tuple[float, int, int, int]] = []
        self.written: list[tuple[bytes, float]] = []
        self.releases = 0
        self.lost = 0

    def read(self):
        played, self.played = self.played, []
        return played

    def write(self, message: bytes, arrived: float) -> None:
        self.written.append((message, arrived))

    def release(self, arrived=None) -> None:
        self.releases += 1


class Thirds:
    """A harmonizer that answers a third and a fifth below, taking `cost` seconds."""

    def __init__(self, clock: Clock, cost: float = 0.002) -> None:
        self.clock, self.cost, self.held = clock, cost, {}

    def note_on(self, pitch, vel, dt):
        self.clock.now += self.cost
        self.held[pitch] = [pitch - 4, pitch - 7]
        return self.held[pitch]

    def note_off(self, pitch, dt):
        return self.held.pop(pitch, [])

    def release(self):
        return [p for ps in self.held.values() for p in ps]


def harmony(cost: float = 0.002):
    clock, table = Clock(), Table()
    return clock, table, HarmonyVoice(Thirds(clock, cost), table, table, clock=clock)


def test_harmony_carries_the_keys_own_arrival_stamp_and_ends_with_it() -> None:
    clock, table, voice = harmony()
    table.played = [(99.999, 0x90, 60, 100)]
    voice.step()
    assert table.written == [(bytes((0x90, 56, 100)), 99.999), (bytes((0x90, 53, 100)), 99.999)]
    assert voice.status()["playing"] == [53, 56]
    assert voice.status()["p50_ms"] == 3.0  # 1 ms to be read, 2 ms to answer
    table.written.clear()
    table.played = [(100.5, 0x80, 60, 0)]
    voice.step()
    assert table.written == [(bytes((0x80, 56, 0)), 100.5), (bytes((0x80, 53, 0)), 100.5)]
    assert voice.status()["playing"] == []


def test_an_answer_later_than_20_ms_is_dropped_counted_and_never_ended() -> None:
    clock, table, voice = harmony(cost=LATE_S + 0.001)
    table.played = [(100.0, 0x90, 64, 90)]
    voice.step()
    assert table.written == [] and voice.status()["late"] == 1
    table.played = [(100.3, 0x90, 64, 0)]  # a note-on of velocity 0 ends the key
    voice.step()
    assert table.written == [], "no note-off for a note never sounded"


def test_the_sustain_pedal_holds_the_harmony_too_and_release_ends_everything() -> None:
    clock, table, voice = harmony()
    table.played = [(100.0, 0xB0, 64, 127)]
    voice.step()
    assert table.written == [(bytes((0xB0, 64, 127)), 100.0)]
    voice.release()
    assert table.releases == 1


class Steady:
    """An improviser that plays pitch 72 then ends it, 0.3 s apart, and remembers."""

    def __init__(self) -> None:
        self.on, self.heard, self.played_ = False, [], []

    def plan(self, dt):
        return (0.3, 72, 0 if self.on else 80)

    def played(self, pitch, vel, dt):
        self.on = vel > 0
        self.played_.append((pitch, vel))

    def hear(self, inst, pitch, vel, dt):
        self.heard.append((inst, pitch, vel))

    def release(self):
        return [72] if self.on else []

    def set(self, **params):
        pass


def test_an_improviser_starts_at_the_phrase_on_the_grid_stamped_a_block_early() -> None:
    clock, table = Clock(100.0), Table()
    facts = {"beat_s": 0.5, "beat_wall": 100.25, "phrase_wall": 98.25, "phrase_beats": 16}
    voice = ImproviseVoice(Steady(), [table], table, block_s=0.005, at="phrase",
                           clock_facts=facts, clock=clock)  # fmt: skip
    assert voice.begin == 106.25  # 98.25 + 8 s of phrase
    while not table.written:
        clock.now += 0.001
        voice.step()
    ((message, stamp),) = table.written
    assert message == bytes((0x90, 72, 80))
    assert abs(stamp - (106.25 - 0.005)) < 1e-9, "sounds on the phrase's first sixteenth"
    table.played = [(clock.now, 0x90, 60, 100)]
    voice.step()
    assert voice.improviser.heard == [(1, 60, 100)], "hears the keyboard as the player"
    voice.stop(clock.now)
    voice.step()
    assert voice.finished and table.releases == 1
