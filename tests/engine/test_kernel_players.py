"""The compiled players play what the Python engine's players played, to the bit.

Each set is a list of (sample, command) that both are sent before the block that starts at
or after that sample: the Python Engine through its inbox, the kernel through a Desk and
its command ring, its Mix records handed to kernel.mix. Audio stems' track buffers (and
the limited master after them) must be identical to the bit, MIDI stems' note events
identical to what the Engine told a recording sink, and the readers must agree, at
several block sizes.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from numba.core.runtime import _nrt_python, rtsys

from hoot.engine import core
from hoot.engine.kernel import commands as cm
from hoot.engine.kernel import events as ev
from hoot.engine.kernel import mix as mx
from hoot.engine.kernel import players as pl
from hoot.engine.kernel.desk import Desk
from hoot.errors import EngineError
from hoot.music.time import TempoMap
from tests.engine import oracle

SR = 48000
TRACKS = ("drums", "bass", "chords", "lead", "pad", "perc")
BLOCKINGS = [[256], [1000], [7, 300, 1, 4096, 64], "random"]


class RecordingSink:
    """What the Engine tells a synth or a MIDI output, in the kernel's event words."""

    def __init__(self, log: list, track: int = -1) -> None:
        self.log, self.track = log, track

    def note_on(self, sample, track, pitch, velocity, timbre, key) -> None:
        self.log.append((sample, ev.ON, track, pitch, velocity, timbre, key))

    def note_off(self, sample, key) -> None:
        self.log.append((sample, ev.OFF, key))

    def silence(self, sample, track=None) -> None:
        self.log.append((sample, ev.SILENCE, -1))

    def all_off(self, sample) -> None:
        self.log.append((sample, ev.ALL_OFF, self.track))

    def render(self, s0, n, out) -> None:
        pass

    def release_track(self, sample, track) -> None:
        self.log.append((sample, ev.RELEASE_TRACK, track))

    def bend(self, sample, track, semitones) -> None:
        self.log.append((sample, ev.BEND, track))


def kernel_words(events: ev.Events) -> list[tuple]:
    words = []
    for row in events.i[: events.count[0]]:
        s, kind, track, pitch, velocity, timbre, key = (int(x) for x in row)
        if kind == ev.ON:
            words.append((s, kind, track, pitch, velocity, timbre, key))
        elif kind == ev.OFF:
            words.append((s, kind, key))
        else:
            words.append((s, kind, track))
    return words


def sink(log: list, track: int) -> RecordingSink:
    return RecordingSink(log, track)


def blocks(blocking, total: int, seed: int):
    """(s0, n) covering [0, total) in the blocking's sizes."""
    rng = np.random.default_rng(seed)
    s0, k = 0, 0
    while s0 < total:
        n = int(rng.integers(1, 2049)) if blocking == "random" else blocking[k % len(blocking)]
        n = min(n, total - s0)
        yield s0, n
        s0 += n
        k += 1


def render_both(tm, script, total, blocking, hardware=(), max_players=64, check=None, log=None):
    """Render `script` through the Engine and the kernel; (tracks, tracks, log, log)."""
    engine = oracle.Engine(SR, TRACKS, max_block=4096, max_players=max_players, tempo_map=tm)
    log: list = [] if log is None else log
    fake = RecordingSink(log)
    engine.voices = fake
    engine.synths = [fake] * len(TRACKS)
    engine.sinks = [RecordingSink(log, t) if t in hardware else fake for t in range(len(TRACKS))]
    desk = Desk(TRACKS, tm, max_players=max_players)
    desk.players.hardware[list(hardware)] = True
    events = ev.make_events()
    tracks = np.zeros((len(TRACKS), 4096, 2), np.float32)
    out = np.zeros((4096, 2), np.float32)
    py = np.zeros((len(TRACKS), total, 2), np.float32)
    kn = np.zeros_like(py)
    ms = mx.make_mix(SR, len(TRACKS), 4096)
    kout = np.zeros((4096, 2), np.float32)
    masters = np.zeros((2, total, 2), np.float32)
    klog: list = []
    todo = sorted(script, key=lambda x: x[0])
    for s0, n in blocks(blocking, total, seed=len(script)):
        ev.clear(events)
        while todo and todo[0][0] <= s0:
            cmd = todo.pop(0)[1]
            engine.inbox.append(cmd)
            if isinstance(cmd, core.Sink):  # what the sinks' part does, then the players'
                hw = cmd.sink is not None
                if desk.players.hardware[cmd.track]:
                    ev.push(events, s0, ev.ALL_OFF, cmd.track)
                else:
                    ev.push(events, s0, ev.RELEASE_TRACK, cmd.track)
                    ev.push(events, s0, ev.BEND, cmd.track)
                pl.forget_notes(desk.players, cmd.track)
                desk.players.hardware[cmd.track] = hw
                desk.players.reg[pl.STATE_VERSION] += 1
                continue
            desk.send(cmd)
            if check:
                check(engine, desk)
        while kind := cm.take_commands(desk.ring, desk.players, desk.stems, desk.maps, s0, events):
            if kind == cm.MIX:
                r, f = desk.ring.mix_i, desk.ring.mix_f
                mx.set_mix(ms, r[cm.TRACK], f[cm.LEFT], f[cm.RIGHT], r[cm.AT_ONCE] != 0, s0)
        tracks[:, :n] = 0
        pl.play(desk.players, desk.stems, desk.maps, s0, n, tracks, events)
        mx.mix_block(ms, tracks, kout, s0, n)
        klog += kernel_words(events)
        engine.forward(out[:n])
        py[:, s0 : s0 + n] = engine.track_buf
        kn[:, s0 : s0 + n] = tracks[:, :n]
        masters[0, s0 : s0 + n] = out[:n]
        masters[1, s0 : s0 + n] = kout[:n]
        desk.collect()
        if check:
            check(engine, desk)
    assert desk.faults == engine.faults
    assert desk.state_version == engine.state_version
    assert events.dropped[0] == 0
    assert np.array_equal(masters[0], masters[1]), "the mixer's master should match too"
    held = {int(s) for s in desk.players.stem[desk.players.active]}
    held |= {int(s) for s in desk.players.next_stem[desk.players.active] if s >= 0}
    assert {k for k, h in enumerate(desk.shelf.held) if h is not None} == held
    return py, kn, log, klog


def agree(engine: oracle.Engine, desk: Desk) -> None:
    ids = {p.stem.id for p in engine.players if p.active} | {"nothing"}
    for c in engine.inbox:
        if isinstance(c, core.Start):
            ids.add(c.stem.id)
    after = engine.position + 777
    for t in range(len(TRACKS)):
        assert desk.track_busy(t) == engine.track_busy(t)
        for stem_id in ids:
            assert desk.queued_start(t, stem_id, after) == engine.queued_start(t, stem_id, after)
            assert desk.next_turn(t, stem_id, after) == engine.next_turn(t, stem_id, after)
    key = lambda r: (r["track"], r["stem"], r["start"], str(r["stop"]), r["state"])  # noqa: E731
    assert sorted(desk.snapshot(), key=key) == sorted(engine.snapshot(), key=key)


# ---- stems ----------------------------------------------------------------------------


def noise(stem_id: str, frames: int, seed: int, beats: float = 0.0) -> core.LoadedStem:
    rng = np.random.default_rng(seed)
    audio = (rng.uniform(-0.5, 0.5, (frames, 2))).astype(np.float32)
    return core.LoadedStem(id=stem_id, audio=audio, length_beats=beats)


def notes(stem_id: str, seed: int, beats: float = 4.0, patch: int = 3) -> core.LoadedStem:
    rng = np.random.default_rng(seed)
    k = 12
    on = np.sort(rng.choice(np.arange(0, beats, 0.25), k))
    dur = rng.choice([0.25, 0.5, 1.0, 3.0], k)
    pitch = rng.integers(36, 84, k)
    off = on + dur
    order = np.argsort(off, kind="stable")
    return core.LoadedStem(
        id=stem_id,
        on_beats=on.astype(np.float64),
        on_pitch=pitch.astype(np.int16),
        on_velocity=rng.integers(1, 128, k).astype(np.int16),
        off_beats=off[order].astype(np.float64),
        off_pitch=pitch[order].astype(np.int16),
        length_beats=beats,
        patch=patch,
    )


def at(tm: TempoMap, now: int, quantum: str) -> dict:
    beat = tm.next_boundary_beat(now, quantum)
    return {"sample": tm.sample_at(beat), "beat": beat, "quantum": quantum}


# ---- the sets -------------------------------------------------------------------------


def a_launch_set(tm: TempoMap) -> list:
    """Starts on boundaries, queued replacements, stops with fades, an unqueue."""
    a, b, c = noise("a", 7000, 1), noise("b", 20011, 2), noise("c", 3001, 3)
    d = noise("d", 999, 4)
    return [
        (0, core.Start(0, a, 0)),
        (0, core.Start(1, b, 100, math.nan, "")),
        (3000, core.Start(0, b, **at(tm, 3000, "bar"))),
        (5000, core.Start(2, c, **at(tm, 5000, "beat"))),
        (9000, core.Start(2, d, **at(tm, 9000, "bar"))),  # queued: c will be cut
        (9500, core.Unqueue(2, "d")),  # c plays on
        (12000, core.Start(3, d, 12000 + 40)),  # too close to a sounding nothing: on time
        (30000, core.Start(3, c, 30010)),  # cuts d with a fade 256 frames early
        (40000, core.Stop(1, **at(tm, 40000, "bar"))),
        (41000, core.Stop(0, 0)),  # now: fades from the next block on
        (50000, core.Start(4, a, **at(tm, 50000, "phrase"))),
        (52000, core.Start(4, b, **at(tm, 60000, "bar"))),
        (53000, core.Start(4, c, **at(tm, 56000, "beat"))),  # retires b's queued start
        (70000, core.Stop(2, **at(tm, 70000, "beat"))),
        (71000, core.Unqueue(2, "never sent")),
    ]


def a_locked_set(tm: TempoMap) -> tuple[list, TempoMap]:
    """Beat-locked loops through tempo changes, swaps at turns, a map that re-places a
    queued start and a queued stop by their beats."""
    spb = 60 * SR / 160.0
    loop = noise("loop", int(4 * spb), 5, beats=4.0)
    take = noise("loop", int(4 * spb) - 3, 6, beats=4.0)  # the same loop, taken again
    other = noise("other", int(2 * spb) + 5, 7, beats=2.0)
    script = [(0, core.Start(0, loop, 0)), (0, core.Start(1, other, 50))]
    faster = tm.with_tempo(200.0, 6.0)
    script.append((2000, core.NewMap(faster)))
    script.append((9000, core.Swap(0, take, "loop")))
    script.append((9000, core.Start(2, loop, **at(faster, 20000, "bar"))))
    script.append((9100, core.Stop(1, **at(faster, 70000, "bar"))))
    slower = faster.with_tempo(97.0, faster.next_boundary_beat(30000, "beat"))
    script.append((30000, core.NewMap(slower)))  # re-places the Start on track 2 and the Stop
    script.append((40000, core.Swap(2, noise("loop", int(4 * spb) + 20, 8, beats=4.0), "loop")))
    script.append((60000, core.Swap(1, noise("other2", 5000, 9, beats=2.0), "other")))
    script.append((61000, core.Swap(3, noise("x", 500, 10), "nothing plays here")))
    return script, slower


def a_panic_set(tm: TempoMap) -> list:
    a, b = noise("a", 5003, 11), noise("b", 8000, 12, beats=4.0)
    return [
        (0, core.Start(0, a, 0)),
        (0, core.Start(1, b, 10)),
        (1000, core.Start(2, a, **at(tm, 20000, "bar"))),
        (15000, core.Panic()),
        (15000, core.Mix(0, 0.5, 0.5)),
        (16000, core.Start(0, b, 16000)),
        (30000, core.Stop(0, 30000)),
    ]


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_launches_replacements_stops_and_unqueues_play_to_the_bit(blocking) -> None:
    tm = TempoMap(SR, 133.0, "4/4", 2)
    py, kn, _, _ = render_both(tm, a_launch_set(tm), 90000, blocking, check=agree)
    assert np.abs(py).max() > 0.1
    assert np.array_equal(py, kn)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_beat_locked_loops_swap_and_follow_tempo_changes_to_the_bit(blocking) -> None:
    tm = TempoMap(SR, 160.0, "3/4", 2)
    script, _ = a_locked_set(tm)
    py, kn, _, _ = render_both(tm, script, 120000, blocking, check=agree)
    assert np.abs(py[2]).max() > 0.1, "the re-placed start should sound"
    assert np.array_equal(py, kn)


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_panic_fades_everything_and_forgets_the_queue_to_the_bit(blocking) -> None:
    tm = TempoMap(SR, 120.0)
    py, kn, log, klog = render_both(tm, a_panic_set(tm), 40000, blocking, hardware=(1,))
    assert np.array_equal(py, kn)
    assert klog == log
    assert [w[1:] for w in klog] == [(ev.SILENCE, -1), (ev.ALL_OFF, 1)]  # at the block start


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_midi_stems_tell_their_sinks_the_same_notes_in_the_same_order(blocking) -> None:
    tm = TempoMap(SR, 150.0)
    keys, bass = notes("keys", 20), notes("bass", 21, beats=3.0, patch=7)
    faster = tm.with_tempo(190.0, 5.0)
    script = [
        (0, core.Start(2, keys, 0)),
        (0, core.Start(1, bass, **at(tm, 0, "beat"))),
        (3000, core.Start(0, notes("hits", 22, beats=1.0), 4000)),
        (20000, core.NewMap(faster)),
        (40000, core.Start(2, notes("keys2", 23), **at(faster, 40000, "bar"))),
        (60000, core.Stop(1, **at(faster, 60000, "beat"))),  # a MIDI output: all notes off
        (70000, core.Swap(0, notes("hits2", 24, beats=1.0), "hits")),
        (90000, core.Panic()),
    ]
    _, _, log, klog = render_both(tm, script, 110000, blocking, hardware=(1,), check=agree)
    assert sum(1 for w in log if w[1] == ev.ON) > 40
    assert klog == log


@pytest.mark.parametrize("blocking", BLOCKINGS)
def test_a_track_that_changes_sink_starts_its_notes_afresh(blocking) -> None:
    """A keyboard's track moves to a MIDI output and back: the stems' notes that sounded
    are ended by the sink change, not again by the stem."""
    tm = TempoMap(SR, 150.0)
    log: list = []
    out = RecordingSink(log, 2)
    script = [
        (0, core.Start(2, notes("keys", 30), 0)),
        (10000, core.Sink(2, out)),
        (30000, core.Sink(2, None)),
        (45000, core.Stop(2, **at(tm, 45000, "bar"))),
    ]
    _, _, log, klog = render_both(tm, script, 60000, blocking, log=log)
    assert klog == log
    assert [w[1:] for w in klog if w[1] not in (ev.ON, ev.OFF)] == [
        (ev.RELEASE_TRACK, 2),
        (ev.BEND, 2),
        (ev.ALL_OFF, 2),  # leaving the MIDI output; the synth's Stop needs none
    ]


def test_a_full_player_pool_counts_a_fault_and_lets_the_stem_go() -> None:
    tm = TempoMap(SR, 120.0)
    script = [(0, core.Start(t, noise(f"s{t}", 3000 + t, t), 0)) for t in range(5)]
    script.append((9000, core.Stop(0, 9000)))
    script.append((20000, core.Start(5, noise("late", 3000, 9), 20000)))
    py, kn, _, _ = render_both(tm, script, 30000, [512], max_players=4)
    assert np.array_equal(py, kn)
    assert not np.any(py[4]) and np.any(py[5])


@pytest.mark.parametrize("seed", range(12))
def test_random_sets_play_to_the_bit(seed) -> None:
    """Every command at random moments, on random maps, with random blockings."""
    rng = np.random.default_rng(seed)
    tm = TempoMap(SR, float(rng.uniform(70, 200)), str(rng.choice(["4/4", "3/4", "7/8"])), 2)
    first = tm
    script: list = []
    stems: list = []
    now = 0
    for k in range(40):
        now += int(rng.integers(0, 6000))
        track = int(rng.integers(0, 4))
        what = rng.random()
        quantum = str(rng.choice(["", "beat", "bar", "phrase"]))
        when = at(tm, now + int(rng.integers(0, 20000)), quantum) if quantum else {"sample": now}
        if what < 0.35 or not stems:
            beats = float(rng.choice([0.0, 1.0, 2.0, 4.0]))
            frames = int(rng.integers(100, 30000)) if not beats else int(beats * 60 * SR / 120)
            stem = noise(f"s{k}", frames, 100 * seed + k, beats=beats)
            if rng.random() < 0.25:
                stem = notes(f"m{k}", 100 * seed + k, beats=float(rng.choice([1.0, 4.0])))
            stems.append(stem)
            script.append((now, core.Start(track, stem, **when)))
        elif what < 0.5:
            script.append((now, core.Stop(track, **when)))
        elif what < 0.6:
            script.append((now, core.Unqueue(track, stems[int(rng.integers(len(stems)))].id)))
        elif what < 0.75:
            old = stems[int(rng.integers(len(stems)))]
            take = noise(old.id, int(rng.integers(1000, 30000)), 7 + k, beats=old.length_beats)
            script.append((now, core.Swap(track, take, old.id)))
        elif what < 0.9:
            beat = tm.boundary_after(tm.beat_at(now) + float(rng.uniform(0, 4)), "beat")
            tm = tm.with_tempo(float(rng.uniform(60, 240)), beat)
            script.append((now, core.NewMap(tm)))
        elif what < 0.95:
            script.append((now, core.Panic()))
        else:
            script.append((now, core.Mix(track, 0.5, 0.7)))
    blocking = ["random", [128], [1, 4096, 33]][seed % 3]
    py, kn, log, klog = render_both(
        first, script, now + 30000, blocking, hardware=(3,), check=agree
    )
    assert np.array_equal(py, kn)
    assert klog == log


def test_what_the_players_cannot_take_is_refused_in_a_sentence() -> None:
    desk = Desk(TRACKS, TempoMap(SR))
    with pytest.raises(EngineError, match="track 9 does not exist"):
        desk.send(core.Stop(9, 0))
    with pytest.raises(EngineError, match="not a command the players take"):
        desk.send(core.Live(()))
    with pytest.raises(EngineError, match="unknown boundary"):
        desk.send(core.Stop(0, 0, 1.0, "bars"))
    empty = core.LoadedStem(id="e", on_beats=np.zeros(0), length_beats=0.0)
    with pytest.raises(EngineError, match="has no length"):
        desk.send(core.Start(0, empty, 0))
    small = Desk(TRACKS, TempoMap(SR), ring=2)
    small.send(core.Panic())
    small.send(core.Panic())
    with pytest.raises(EngineError, match="has not taken the last 2 commands"):
        small.send(core.Panic())


@numba.njit
def _blocks(ring, ps, st, maps, s0, n, count, tracks, events) -> None:
    for _ in range(count):
        ev.clear(events)
        while cm.take_commands(ring, ps, st, maps, s0, events):
            pass
        pl.play(ps, st, maps, s0, n, tracks, events)
        s0 += n


def test_the_players_allocate_nothing_however_many_blocks_they_play() -> None:
    """numba counts its allocations: a call for 1 block with no command, one for 1 block
    taking every kind of command, and one for 300 blocks playing audio, loops and notes
    make the same number: those of handing the arrays over at the call."""
    tm = TempoMap(SR, 133.0, "4/4", 2)
    script, _ = a_locked_set(tm)
    sets = a_launch_set(tm) + script + [(0, core.Mix(0, 1.0, 1.0))]
    sets.append((0, core.Start(5, notes("keys", 1), 0)))
    events = ev.make_events()
    tracks = np.zeros((len(TRACKS), 512, 2), np.float32)
    counts = []
    _nrt_python.memsys_enable_stats()
    try:
        for commands, count in (([], 1), (sets + [(0, core.Panic())], 1), (sets, 300)):
            desk = Desk(TRACKS, tm)
            for _, cmd in commands:
                desk.send(cmd)
            args = (desk.ring, desk.players, desk.stems, desk.maps)
            before = rtsys.get_allocation_stats().alloc
            _blocks(*args, 0, 512, count, tracks, events)
            counts.append(rtsys.get_allocation_stats().alloc - before)
    finally:
        _nrt_python.memsys_disable_stats()
    assert counts[0] == counts[1] == counts[2]
    assert desk.players.active.sum() >= 4, "the players should still play at the end"
