"""The improviser plays beside the players: in register and key, as dense as asked, and it
ends every note it starts.

A performance here is simulated time: the improviser's plan is played when its moment comes
unless a player's event comes first, which is heard and makes it plan again.
"""

from __future__ import annotations

import random

import pytest

from hoot.errors import HootError
from hoot.music.harmony import Key
from hoot.realtime.improvise import Improviser
from tests.realtime.standin import Rogue, StandIn


def perform(
    lead: Improviser, seconds: float, players: list[tuple[float, int, int]] = ()
) -> list[tuple[float, int, int]]:
    """Run `lead` for `seconds` beside the players' (time, pitch, vel) events: its own
    events, (time, pitch, vel), in order."""
    heard = sorted(players)
    clock = last = 0.0
    played = []
    while clock < seconds:
        wait, pitch, vel = lead.plan(clock - last)
        when = clock + wait
        if heard and heard[0][0] <= when:
            at, key, key_vel = heard.pop(0)
            lead.hear(1, key, key_vel, at - last)
            clock = last = at
            continue
        lead.played(pitch, vel, when - last)
        played.append((when, pitch, vel))
        clock = last = when
    return played


def notes(events: list[tuple[float, int, int]]) -> list[tuple[int, float, float | None]]:
    """(pitch, start, end) of every note; end None for a note still held; asserts that no
    pitch is struck twice while sounding and none is ended without sounding."""
    sounding: dict[int, float] = {}
    found = []
    for when, pitch, vel in events:
        if vel:
            assert pitch not in sounding, f"double note-on of {pitch} at {when:.3f}"
            sounding[pitch] = when
        else:
            assert pitch in sounding, f"note-off of {pitch} at {when:.3f}, not sounding"
            found.append((pitch, sounding.pop(pitch), when))
    return found + [(pitch, start, None) for pitch, start in sounding.items()]


def test_it_plays_in_its_register_and_key():
    lead = Improviser(StandIn(seed=1), instrument=74, register=(60, 72), key="D dorian")
    events = perform(lead, 60.0)
    dorian = Key.parse("D dorian")
    struck = [pitch for _, pitch, vel in events if vel]
    assert len(struck) > 20
    assert all(60 <= p <= 72 and dorian.contains(p) for p in struck)


def test_it_hears_the_players_and_itself():
    model = StandIn(seed=2)
    lead = Improviser(model, instrument=74)
    perform(lead, 5.0, players=[(0.5, 60, 90), (1.5, 60, 0), (2.0, 64, 80)])
    clock, fed = 0.0, []
    for inst, pitch, time, vel in model.fed:  # each time counts from the event before
        clock += time
        fed.append((inst, pitch, round(clock, 6), vel))
    heard = [event for event in fed if event[0] == 1]
    assert heard == [(1, 60, 0.5, 90.0), (1, 60, 1.5, 0.0), (1, 64, 2.0, 80.0)]
    assert {inst for inst, *_ in model.fed} == {1, 74}
    assert all(q["next_inst"] == 74 for q in model.queries)


def test_a_plan_holds_until_something_is_heard_then_it_plans_again():
    model = StandIn(seed=3)
    lead = Improviser(model, instrument=74, density=0.0)
    wait, pitch, vel = lead.plan(0.0)
    asked = len(model.queries)
    assert lead.plan(0.1) == (pytest.approx(wait - 0.1), pitch, vel)
    assert len(model.queries) == asked
    lead.hear(1, 60, 90, 0.1)
    lead.plan(0.0)
    assert len(model.queries) > asked


def test_density_shapes_how_often_it_plays():
    def gaps(density: float) -> list[float]:
        lead = Improviser(StandIn(seed=4), instrument=74, density=density, longest=60.0)
        events = perform(lead, 120.0)
        return [b[0] - a[0] for a, b in zip(events, events[1:], strict=False)]

    sparse, busy = gaps(0.0), gaps(1.0)
    assert min(sparse) >= 0.4 - 1e-9 and max(sparse) <= 4.0 + 1e-9
    assert min(busy) >= 0.05 - 1e-9 and max(busy) <= 0.25 + 1e-9
    assert len(busy) > 5 * len(sparse)


def test_a_sparse_improviser_still_plays_beside_a_busy_player():
    lead = Improviser(StandIn(seed=5), instrument=74, density=0.0, longest=60.0)
    player = [(t * 0.1, 60, 0 if t % 2 else 90) for t in range(600)]
    events = perform(lead, 60.0, players=player)
    assert len(events) > 10


def test_it_ends_every_note_within_its_longest_and_never_holds_too_many():
    lead = Improviser(StandIn(seed=6), instrument=74, density=0.8, longest=1.5, polyphony=2)
    events = perform(lead, 120.0)
    held = 0
    for _, _, vel in events:
        held += 1 if vel else -1
        assert held <= 2
    for pitch, start, end in notes(events):
        if end is not None:
            assert end - start <= 1.5 + 1e-9, (pitch, start, end)


def test_release_ends_what_it_holds():
    lead = Improviser(StandIn(seed=7), instrument=74, density=1.0, longest=30.0)
    events = perform(lead, 3.0)
    holding = sorted(pitch for pitch, _, end in notes(events) if end is None)
    assert lead.playing == tuple(holding)
    assert lead.release() == holding
    assert lead.playing == () and lead.release() == []


def test_settings_steer_it_while_it_plays():
    lead = Improviser(StandIn(seed=8), instrument=74, density=1.0, register=(40, 50))
    before = perform(lead, 10.0)
    holding = {pitch for pitch, _, end in notes(before) if end is None}
    lead.set(register=(80, 90), key="E minor")
    after = perform(lead, 10.0)
    e_minor = Key.parse("E minor")
    assert all(80 <= p <= 90 and e_minor.contains(p) for _, p, v in after if v)
    ended = {p for _, p, v in after if not v}
    assert holding <= ended  # the old register's notes still end


def test_bad_settings_get_one_sentence():
    lead = Improviser(StandIn(), instrument=74)
    for bad in (
        {"density": 2},
        {"register": (70, 60)},
        {"register": 60},
        {"key": "X major"},
        {"instrument": 1},
        {"register": (61, 61), "key": "C major"},
    ):
        with pytest.raises(HootError):
            lead.set(**bad)
    with pytest.raises(HootError):
        Improviser(StandIn(), instrument=0)


@pytest.mark.parametrize("model_class", [StandIn, Rogue])
def test_no_performance_leaves_a_note_hanging_or_doubled(model_class):
    for seed in range(20):
        rng = random.Random(seed)
        lead = Improviser(
            model_class(seed=seed),
            instrument=rng.choice([1, 41, 74, 257]),
            density=rng.random(),
            register=(rng.randint(30, 60), rng.randint(61, 100)),
            key=rng.choice([None, "C major", "G minor", "A mixolydian"]),
            polyphony=rng.randint(1, 4),
            longest=rng.uniform(0.2, 5.0),
        )
        player = [
            (rng.uniform(0, 20), rng.randint(40, 80), rng.choice([0, 90]))
            for _ in range(rng.randint(0, 80))
        ]
        events = perform(lead, 20.0, players=player)
        register = lead.register
        assert all(register[0] <= p <= register[1] for _, p, v in events if v)
        holding = sorted(pitch for pitch, _, end in notes(events) if end is None)
        assert lead.release() == holding
