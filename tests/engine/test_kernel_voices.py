"""The compiled voice pool: bit-identical at any block size, VoicePool's output to the bit,
bad arguments counted, and dispatch of an Events buffer the same as calling the functions."""

from __future__ import annotations

import numpy as np
import pytest

from hoot.engine.kernel import events as ev
from hoot.engine.kernel import voices as kv
from hoot.engine.synth import _END, _KILL, NEVER, PATCHES, SILENCE_SECONDS, VoicePool

SR = 48000
TRACKS = 4
SINE, SAW, DRUMS = (PATCHES.index(name) for name in ("sine", "saw", "drums"))
KIT = [35, 36, 38, 39, 40, 42, 44, 46]
"""The drum kit's pitches; other pitches of the drums timbre play its pitched tone."""
BLOCK_SIZES = (1, 7, 64, 128, 256, 1000, 4096)


def evening(seed: int, total: int, notes: int = 300) -> list[tuple]:
    """A long random evening over four tracks, as `(sample, function, *args)` in the order
    given: notes of every timbre and every drum, releases, notes beyond max_voices (so
    voices are stolen), velocity-0 note-offs, glides, track releases and silences."""
    rng = np.random.default_rng(seed)
    events: list[tuple] = []
    for key in range(notes):
        start = int(rng.integers(0, total - 4000))
        timbre = key % len(PATCHES)
        pitch = int(rng.choice(KIT + [24, 60])) if timbre == DRUMS else int(rng.integers(0, 128))
        track = int(rng.integers(0, TRACKS))
        velocity = int(rng.integers(1, 128))
        events.append((start, "note_on", track, pitch, velocity, timbre, key))
        if rng.random() < 0.1:
            events.append((start + int(rng.integers(0, 9000)), "note_on", track, pitch, 0, 0, key))
        elif rng.random() < 0.85:
            events.append((start + int(rng.integers(0, 30000)), "note_off", key))
    for _ in range(8):  # glides, a bend every 53 samples
        at, track = int(rng.integers(0, total - 4000)), int(rng.integers(0, TRACKS))
        depth = float(rng.uniform(-12, 12))
        events += [(at + 53 * k, "bend", track, depth * k / 40) for k in range(41)]
    for _ in range(5):
        events.append((int(rng.integers(0, total)), "release_track", int(rng.integers(0, 4))))
        events.append((int(rng.integers(0, total)), "silence", int(rng.integers(0, 4))))
    events.append((total // 3, "silence", -1))
    events.append((total // 3, "note_on", 2, 64, 100, SAW, notes))  # right after the panic
    events.sort(key=lambda e: e[0])
    return events


def play_kernel(
    events: list[tuple], total: int, blocks, max_voices: int = 16, max_block: int = 4096
) -> tuple[np.ndarray, kv.VoiceState]:
    """Per block, the events that fall in it (in list order), then render: as the engine."""
    vs = kv.make_voices(SR, TRACKS, max_voices, max_block)
    out = np.zeros((TRACKS, total, 2), np.float32)
    queue = list(events)
    for s0, frames in spans(total, blocks):
        while queue and queue[0][0] < s0 + frames:
            sample, name, *args = queue.pop(0)
            getattr(kv, name)(vs, sample, *args)
        block = np.zeros((TRACKS, frames, 2), np.float32)
        kv.render(vs, s0, frames, block)
        out[:, s0 : s0 + frames] = block
    return out, vs


def play_oracle(
    events: list[tuple], total: int, blocks, max_voices: int = 16, max_block: int = 4096
) -> tuple[np.ndarray, VoicePool]:
    pool = VoicePool(SR, TRACKS, max_voices, max_block)
    out = np.zeros((TRACKS, total, 2), np.float32)
    queue = list(events)
    for s0, frames in spans(total, blocks):
        while queue and queue[0][0] < s0 + frames:
            sample, name, *args = queue.pop(0)
            if name == "silence" and args[0] == -1:
                args = [None]
            getattr(pool, name)(sample, *args)
        block = np.zeros((TRACKS, frames, 2), np.float32)
        pool.render(s0, frames, block)
        out[:, s0 : s0 + frames] = block
    return out, pool


def spans(total: int, blocks) -> list[tuple[int, int]]:
    """(first sample, frames) of each block: a fixed size, or a list of sizes repeated."""
    sizes = [blocks] if isinstance(blocks, int) else list(blocks)
    found, s0, k = [], 0, 0
    while s0 < total:
        frames = min(int(sizes[k % len(sizes)]), total - s0)
        found.append((s0, frames))
        s0, k = s0 + frames, k + 1
    return found


def bits(audio: np.ndarray) -> bytes:
    return audio.tobytes()


@pytest.fixture(scope="module")
def long_evening() -> tuple[list[tuple], int, np.ndarray]:
    total = 5 * SR
    events = evening(17, total)
    reference, vs = play_kernel(events, total, 256)
    assert vs.registers[kv.FAULTS] == 0
    assert vs.registers[kv.OVERWRITES] == 0
    return events, total, reference


# Block-size invariance ------------------------------------------------------------------


@pytest.mark.parametrize("blocks", BLOCK_SIZES)
def test_output_is_bit_identical_for_any_block_size(long_evening, blocks: int) -> None:
    events, total, reference = long_evening
    assert np.abs(reference).max() > 0.1
    out, vs = play_kernel(events, total, blocks)
    assert vs.registers[kv.FAULTS] == 0
    assert vs.registers[kv.OVERWRITES] == 0
    assert bits(out) == bits(reference)


def test_uneven_blocks_and_blocks_longer_than_max_block_change_no_bit(long_evening) -> None:
    events, total, reference = long_evening
    uneven = np.random.default_rng(3).integers(1, 700, size=500)
    out, _ = play_kernel(events, total, uneven)
    assert bits(out) == bits(reference)
    pieces, vs = play_kernel(events, total, 1500, max_block=256)
    assert vs.registers[kv.OVERWRITES] == 0
    assert bits(pieces) == bits(reference)


def test_every_timbre_drum_and_stealing_are_in_the_evening(long_evening) -> None:
    events, _, _ = long_evening
    ons = [e for e in events if e[1] == "note_on" and e[4] > 0]
    assert {e[5] for e in ons} == set(range(len(PATCHES)))
    assert set(KIT) <= {e[3] for e in ons if e[5] == DRUMS}
    vs = kv.make_voices(SR, TRACKS, max_voices=16)
    most = 0
    queue = list(events)
    for s0, frames in spans(5 * SR, 256):
        while queue and queue[0][0] < s0 + frames:
            sample, name, *args = queue.pop(0)
            getattr(kv, name)(vs, sample, *args)
        n = kv.active(vs)
        held = (vs.ints[_END, :n] > s0 + frames) & (vs.ints[_KILL, :n] == NEVER)
        most = max(most, int(held.sum()))
        kv.render(vs, s0, frames, np.zeros((TRACKS, frames, 2), np.float32))
    assert most == 16  # the pool filled up, so later notes stole


# Against the VoicePool oracle -------------------------------------------------------------


@pytest.mark.parametrize("blocks", [64, 1000])
def test_output_is_voicepools_to_the_bit(long_evening, blocks: int) -> None:
    events, total, reference = long_evening
    oracle, pool = play_oracle(events, total, blocks)
    assert pool.faults == 0
    difference = np.abs(oracle.astype(np.float64) - reference).max()
    assert difference == 0.0, f"max difference {difference:.3g}"
    assert bits(oracle) == bits(reference)


def test_a_full_table_overwrites_as_voicepool_does() -> None:
    """More than 2 * max_voices notes within one block: VoicePool's one block-size-dependent
    case. The kernel counts it and still sounds as VoicePool."""
    events = [(k * 3, "note_on", k % TRACKS, 40 + k, 100, k % 6, k) for k in range(12)]
    events += [(40 + k, "silence", k % TRACKS) for k in range(4)]
    out, vs = play_kernel(events, 6000, 512, max_voices=4)
    oracle, pool = play_oracle(events, 6000, 512, max_voices=4)
    assert vs.registers[kv.OVERWRITES] > 0
    assert pool.faults == 0
    assert bits(out) == bits(oracle)


# Robustness -----------------------------------------------------------------------------


def test_bad_arguments_are_counted_not_raised() -> None:
    vs = kv.make_voices(SR, 2)
    kv.note_on(vs, 0, 5, 60, 100, SAW, 1)  # no track 5
    kv.note_on(vs, 0, -1, 60, 100, SAW, 1)
    kv.note_on(vs, 0, 0, 60, 100, 99, 1)  # no timbre 99
    kv.note_on(vs, 0, 0, 60, 100, -1, 1)
    kv.note_on(vs, 0, 0, 200, 100, SAW, 1)  # no pitch 200
    kv.release_track(vs, 0, 7)
    kv.silence(vs, 0, -2)
    kv.bend(vs, 0, 3, 1.0)
    kv.bend(vs, 0, 0, float("nan"))
    assert kv.faults(vs) == (9, kv.FAULT_SENTENCES[kv.BEND_DROPPED])
    assert kv.active(vs) == 0

    kv.note_on(vs, 0, 1, 60, 100, SAW, 1)
    kv.render(vs, 0, 256, np.zeros((1, 256, 2), np.float32))  # too few tracks
    kv.render(vs, 256, 256, np.zeros((2, 100, 2), np.float32))  # too few frames
    kv.render(vs, 512, -5, np.zeros((2, 256, 2), np.float32))
    assert kv.faults(vs) == (12, kv.FAULT_SENTENCES[kv.BAD_RENDER])
    out = np.zeros((2, 256, 2), np.float32)
    kv.render(vs, 512, 256, out)
    assert kv.faults(vs)[0] == 12
    assert np.abs(out[1]).max() > 0.05 and not out[0].any()

    for k in range(8 * 32):  # the bend ring holds 8 * max_voices
        kv.bend(vs, 10_000 + k, 0, 0.5)
    kv.bend(vs, 20_000, 0, 0.5)
    assert kv.faults(vs) == (13, kv.FAULT_SENTENCES[kv.BENDS_FULL])


def test_make_voices_refuses_an_impossible_pool_in_one_sentence() -> None:
    from hoot.errors import HootError

    with pytest.raises(HootError, match="at least 8000 Hz"):
        kv.make_voices(4000, 2)


def test_status_says_how_many_voices_sound() -> None:
    vs = kv.make_voices(SR, 2)
    for key in range(3):
        kv.note_on(vs, 0, 0, 60 + key, 100, SINE, key)
    assert kv.active(vs) == 3
    kv.silence(vs, 100, -1)
    kv.render(vs, 0, 100 + round(SILENCE_SECONDS * SR) + 1, np.zeros((2, 400, 2), np.float32))
    assert kv.active(vs) == 0
    assert kv.faults(vs) == (0, "")


# Dispatch --------------------------------------------------------------------------------

KINDS = {"note_on": ev.ON, "note_off": ev.OFF, "release_track": ev.RELEASE_TRACK}
KINDS |= {"silence": ev.SILENCE, "bend": ev.BEND, "all_off": ev.ALL_OFF}


def as_rows(events: list[tuple]) -> list[tuple]:
    """The evening as Events rows (sample, kind, track, pitch, velocity, timbre, key,
    semitones), with an ALL_OFF now and then and two rows that must be refused."""
    track_of: dict[int, int] = {}
    rows = []
    for sample, name, *args in events:
        if name == "note_on":
            track, pitch, velocity, timbre, key = args
            track_of[key] = track
            rows.append((sample, ev.ON, track, pitch, velocity, timbre, key, 0.0))
        elif name == "note_off":
            rows.append((sample, ev.OFF, track_of[args[0]], 0, 0, 0, args[0], 0.0))
        elif name == "bend":
            rows.append((sample, ev.BEND, args[0], 0, 0, 0, 0, args[1]))
        else:
            rows.append((sample, KINDS[name], args[0], 0, 0, 0, 0, 0.0))
    rows.append((SR, ev.ALL_OFF, 3, 0, 0, 0, 0, 0.0))
    rows.append((SR + 1, 99, 0, 0, 0, 0, 0, 0.0))  # no such kind
    rows.append((SR + 2, ev.ON, TRACKS, 60, 100, SINE, 0, 0.0))  # no such track
    rows.sort(key=lambda row: row[0])
    return rows


def test_dispatch_is_calling_the_functions_for_the_tracks_in_use() -> None:
    total = 2 * SR
    rows = as_rows(evening(29, total, notes=120))
    use = np.array([True, False, True, True])
    names = {ev.ON: "note_on", ev.RELEASE_TRACK: "release_track", ev.ALL_OFF: "release_track"}

    direct = kv.make_voices(SR, TRACKS, 16)
    by_events = kv.make_voices(SR, TRACKS, 16)
    buffer = ev.make_events(64)
    expected = np.zeros((TRACKS, total, 2), np.float32)
    out = np.zeros((TRACKS, total, 2), np.float32)
    queue = list(rows)
    for s0, frames in spans(total, 333):
        ev.clear(buffer)
        while queue and queue[0][0] < s0 + frames:
            sample, kind, track, pitch, velocity, timbre, key, semitones = queue.pop(0)
            ev.push(buffer, sample, kind, track, pitch, velocity, timbre, key, semitones)
            if kind == ev.SILENCE and track == -1:
                kv.silence(direct, sample, -1)
            elif not (0 <= track < TRACKS and kind in KINDS.values()) or not use[track]:
                continue
            elif kind == ev.ON:
                kv.note_on(direct, sample, track, pitch, velocity, timbre, key)
            elif kind == ev.OFF:
                kv.note_off(direct, sample, key)
            elif kind == ev.SILENCE:
                kv.silence(direct, sample, track)
            elif kind == ev.BEND:
                kv.bend(direct, sample, track, semitones)
            else:
                getattr(kv, names[kind])(direct, sample, track)
        kv.dispatch(by_events, buffer, use)
        for vs, into in ((direct, expected), (by_events, out)):
            block = np.zeros((TRACKS, frames, 2), np.float32)
            kv.render(vs, s0, frames, block)
            into[:, s0 : s0 + frames] = block
    assert buffer.dropped[0] == 0
    assert kv.faults(by_events)[0] == 2  # the unknown kind and the missing track
    assert np.abs(out).max() > 0.1 and not out[1].any()
    assert bits(out) == bits(expected)
