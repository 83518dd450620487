"""The players, compiled: what engine.core.Engine's player pool does each block, as
arrays and numba functions (issue 10).

REAL-TIME CODE, like core.py: every array is made once by `make_*`; the `@jit` functions
allocate nothing, raise nothing, and place every sample by absolute sample indices, so a
render is identical to the bit whatever the block size. Each function is the Python
method it names, step for step and in the same order (tests/engine/test_kernel_players.py
renders the same sets through both and compares the bits), so its comments live there.

Stems live in a `StemTable` of slots that Python fills (kernel.desk.Shelf): an audio
stem's float32 (frames, 2) array and a MIDI stem's note arrays are read through their
addresses while Python keeps them alive. A slot counts the players that hold it (as stem
or as the next take of a swap); when the count falls to 0 the core writes the slot number
into the table's `released` ring and Python lets the arrays go, as it emptied
Engine.graveyard. The ring holds as many entries as there are slots, so it never fills.

A player's stem is a slot number (-1 for none); a stem's identity (what Unqueue and Swap
name) is an integer `NAME` Python gives each stem id. Note events go into an
`events.Events` in the order the Python core called its sink.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from hoot.engine.core import FADE, LOCK_SLACK, NEVER
from hoot.engine.kernel import events as ev
from hoot.engine.kernel.jit import f32_pointer, f64_pointer, i64_pointer, jit
from hoot.engine.kernel.tempo import (
    NONE,
    Maps,
    MapState,
    beat_at,
    current,
    next_boundary_beat,
    sample_at,
)

# StemTable.i columns
AUDIO, FRAMES, ON_BEATS, ON_PITCH, ON_VELOCITY, ONS, OFF_BEATS, OFF_PITCH, OFFS = range(9)
PATCH, NAME, GENERATION, REFS, MIDI = range(9, 14)
STEM_COLUMNS = 14

WRITE, READ = 0, 1
"""Rows of a ring's `at`: entries written (by the writer), entries read (by the reader)."""

FAULTS, STATE_VERSION, POSITION = 0, 1, 2
"""Registers of `PlayerState.reg`: faults counted, Engine.state_version, and the sample
after the last block played (Engine.position, for the readers)."""


class StemTable(NamedTuple):
    i: np.ndarray  # int64 (slots, STEM_COLUMNS)
    length_beats: np.ndarray  # float64 (slots,)
    released: np.ndarray  # int64 (slots,): a ring of slot numbers the core let go of
    released_at: np.ndarray  # int64 (2,): WRITE (the core), READ (Python)


class PlayerState(NamedTuple):
    active: np.ndarray  # bool (players,)
    track: np.ndarray  # int64
    stem: np.ndarray  # int64: slot, -1 for none
    start: np.ndarray  # int64
    start_beat: np.ndarray  # float64, NaN when given as a bare sample
    stop: np.ndarray  # int64, NEVER when not stopping
    stop_beat: np.ndarray  # float64
    quantum: np.ndarray  # int64: a tempo quantum code
    sounding: np.ndarray  # bool (players, 128): MIDI pitches each player holds down
    turn_from: np.ndarray  # int64: a beat-locked loop's cached turn [from, to) ...
    turn_to: np.ndarray  # int64
    turn_valid: np.ndarray  # bool: ... valid for the map that plays
    next_stem: np.ndarray  # int64: the slot of the take that replaces stem at swap_at
    swap_at: np.ndarray  # int64
    cut_for: np.ndarray  # int64: the NAME whose queued start cut this stop short, -1
    hardware: np.ndarray  # bool (tracks,): the track's notes go to a MIDI output
    fade: np.ndarray  # float32 (FADE,): Engine.fade_out
    reg: np.ndarray  # int64 (3,): FAULTS, STATE_VERSION, POSITION


def make_stem_table(slots: int = 256) -> StemTable:
    table = StemTable(
        np.zeros((slots, STEM_COLUMNS), np.int64),
        np.zeros(slots, np.float64),
        np.zeros(slots, np.int64),
        np.zeros(2, np.int64),
    )
    table.i[:, NAME] = -1
    return table


def make_players(tracks: int, max_players: int = 64) -> PlayerState:
    fade = 0.5 * (1 + np.cos(np.linspace(0, np.pi, FADE + 1)[1:]))  # as Engine.fade_out
    return PlayerState(
        np.zeros(max_players, np.bool_),
        np.zeros(max_players, np.int64),
        np.full(max_players, -1, np.int64),
        np.zeros(max_players, np.int64),
        np.full(max_players, np.nan, np.float64),
        np.full(max_players, NEVER, np.int64),
        np.full(max_players, np.nan, np.float64),
        np.zeros(max_players, np.int64),
        np.zeros((max_players, 128), np.bool_),
        np.zeros(max_players, np.int64),
        np.zeros(max_players, np.int64),
        np.zeros(max_players, np.bool_),
        np.full(max_players, -1, np.int64),
        np.full(max_players, NEVER, np.int64),
        np.full(max_players, -1, np.int64),
        np.zeros(tracks, np.bool_),
        fade.astype(np.float32),
        np.zeros(3, np.int64),
    )


# ---- stems held and let go -------------------------------------------------------------


@jit
def _hold(st: StemTable, slot: int) -> None:
    st.i[slot, REFS] += 1


@jit
def _release(st: StemTable, slot: int) -> None:
    w = st.released_at[WRITE]
    st.released[w % st.released.shape[0]] = slot
    st.released_at[WRITE] = w + 1


@jit
def _drop(st: StemTable, slot: int) -> None:
    st.i[slot, REFS] -= 1
    if st.i[slot, REFS] == 0:
        _release(st, slot)


@jit
def _settle(st: StemTable, slot: int) -> None:
    """A slot a command brought that no player took (no free player, nothing to swap)."""
    if st.i[slot, REFS] == 0:
        _release(st, slot)


@jit
def _retire(ps: PlayerState, st: StemTable, p: int) -> None:
    ps.active[p] = False
    _drop(st, ps.stem[p])
    if ps.next_stem[p] >= 0:
        _drop(st, ps.next_stem[p])
    ps.stem[p] = -1
    ps.next_stem[p] = -1
    ps.swap_at[p] = NEVER
    ps.reg[STATE_VERSION] += 1


# ---- commands --------------------------------------------------------------------------


@jit
def _sounding(ps: PlayerState, track: int, sample: int, s0: int) -> bool:
    for p in range(ps.active.shape[0]):
        if ps.active[p] and ps.track[p] == track and ps.start[p] < sample and ps.stop[p] > s0:
            return True
    return False


@jit
def _on_time(
    ps: PlayerState, m: MapState, track: int, sample: int, beat: float, quantum: int, s0: int
) -> tuple[int, float]:
    lead = FADE if _sounding(ps, track, sample, s0) else 0
    if sample - lead >= s0:
        return sample, beat
    if quantum == NONE:
        return s0 + lead, np.nan
    b = next_boundary_beat(m, s0 + lead, quantum)
    return sample_at(m, b), b


@jit
def start(
    ps: PlayerState,
    st: StemTable,
    maps: Maps,
    track: int,
    slot: int,
    sample: int,
    beat: float,
    quantum: int,
    s0: int,
) -> None:
    """Engine._start: the stem in `slot` replaces what plays or is queued on `track`."""
    sample, beat = _on_time(ps, current(maps), track, sample, beat, quantum, s0)
    name = st.i[slot, NAME]
    players = ps.active.shape[0]
    for p in range(players):
        if ps.active[p] and ps.track[p] == track:
            if ps.start[p] >= sample:
                _retire(ps, st, p)
            elif ps.stop[p] > sample:
                ps.stop[p] = sample
                ps.stop_beat[p] = beat
                ps.cut_for[p] = name
    for p in range(players):
        if not ps.active[p]:
            ps.active[p] = True
            ps.track[p] = track
            ps.stem[p] = slot
            _hold(st, slot)
            ps.start[p] = sample
            ps.start_beat[p] = beat
            ps.quantum[p] = quantum
            ps.stop[p] = NEVER
            ps.stop_beat[p] = np.nan
            ps.sounding[p, :] = False
            ps.turn_valid[p] = False
            ps.next_stem[p] = -1
            ps.swap_at[p] = NEVER
            ps.cut_for[p] = -1
            return
    ps.reg[FAULTS] += 1  # no free player: the pool size is a setting
    _settle(st, slot)


@jit
def stop(
    ps: PlayerState,
    st: StemTable,
    maps: Maps,
    track: int,
    sample: int,
    beat: float,
    quantum: int,
    s0: int,
    events: ev.Events,
) -> None:
    """Engine._stop: `track` silent from `sample` on; a MIDI output gets all notes off."""
    sample, beat = _on_time(ps, current(maps), track, sample, beat, quantum, s0)
    if ps.hardware[track]:
        ev.push(events, sample, ev.ALL_OFF, track)
    for p in range(ps.active.shape[0]):
        if ps.active[p] and ps.track[p] == track:
            if ps.start[p] >= sample:
                _retire(ps, st, p)
            elif ps.stop[p] > sample:
                ps.stop[p] = sample
                ps.stop_beat[p] = beat
                ps.cut_for[p] = -1


@jit
def unqueue(ps: PlayerState, st: StemTable, track: int, name: int, s0: int) -> None:
    """Engine._unqueue: forget stem `name`'s queued start; what it would have cut plays on."""
    players = ps.active.shape[0]
    for p in range(players):
        if (
            ps.active[p]
            and ps.track[p] == track
            and st.i[ps.stem[p], NAME] == name
            and ps.start[p] >= s0
        ):
            _retire(ps, st, p)
    for p in range(players):
        if (
            ps.active[p]
            and ps.track[p] == track
            and ps.cut_for[p] == name
            and ps.stop[p] - FADE >= s0
        ):
            ps.stop[p] = NEVER
            ps.stop_beat[p] = np.nan
            ps.cut_for[p] = -1


@jit
def swap(
    ps: PlayerState, st: StemTable, maps: Maps, track: int, slot: int, replaces: int, s0: int
) -> None:
    """Engine._swap: the take in `slot` replaces stem `replaces` from its loop's next turn."""
    m = current(maps)
    for p in range(ps.active.shape[0]):
        if not (ps.active[p] and ps.track[p] == track and st.i[ps.stem[p], NAME] == replaces):
            continue
        if ps.stop[p] <= s0:
            continue
        if ps.start[p] >= s0:
            _drop(st, ps.stem[p])
            ps.stem[p] = slot
            _hold(st, slot)
            ps.turn_valid[p] = False
        elif (
            st.length_beats[ps.stem[p]] > 0
            and st.i[ps.stem[p], MIDI] == 0
            and st.i[slot, MIDI] == 0
        ):
            if ps.start_beat[p] != ps.start_beat[p]:
                ps.start_beat[p] = beat_at(m, ps.start[p])
            _, hi = _turn(ps, st, m, p, s0)
            if ps.next_stem[p] >= 0:
                _drop(st, ps.next_stem[p])
            ps.next_stem[p] = slot
            _hold(st, slot)
            ps.swap_at[p] = hi
    _settle(st, slot)


@jit
def new_map(ps: PlayerState, maps: Maps, buffer: int, s0: int) -> None:
    """Engine._new_map: the map in `buffer` plays; what is anchored to beats follows it."""
    maps.active[0] = buffer
    m = current(maps)
    for p in range(ps.active.shape[0]):
        ps.turn_valid[p] = False  # turns were cached for the old map
        if ps.active[p]:
            if ps.start_beat[p] == ps.start_beat[p] and ps.start[p] > s0:
                ps.start[p] = sample_at(m, ps.start_beat[p])
            if ps.stop_beat[p] == ps.stop_beat[p] and ps.stop[p] > s0:
                ps.stop[p] = sample_at(m, ps.stop_beat[p])


@jit
def panic(ps: PlayerState, st: StemTable, s0: int, events: ev.Events) -> None:
    """Engine._panic, the players' part: everything fades out now, the queue is forgotten;
    every voice falls silent (SILENCE on track -1) and every MIDI output gets all notes off.
    Live inputs release their notes in their own part."""
    for p in range(ps.active.shape[0]):
        if ps.active[p]:
            if ps.start[p] >= s0:
                _retire(ps, st, p)
            elif ps.stop[p] > s0 + FADE:
                ps.stop[p] = s0 + FADE
                ps.stop_beat[p] = np.nan
    ev.push(events, s0, ev.SILENCE, -1)
    for t in range(ps.hardware.shape[0]):
        if ps.hardware[t]:
            ev.push(events, s0, ev.ALL_OFF, t)


@jit
def forget_notes(ps: PlayerState, track: int) -> None:
    """Engine._sink's part for the players: the stems on `track` start their notes afresh
    on its new sink (the part that switches sinks ends what sounded on the old one)."""
    for p in range(ps.active.shape[0]):
        if ps.active[p] and ps.track[p] == track:
            ps.sounding[p, :] = False


# ---- the block -------------------------------------------------------------------------


@jit
def play(
    ps: PlayerState,
    st: StemTable,
    maps: Maps,
    s0: int,
    n: int,
    tracks: np.ndarray,
    events: ev.Events,
) -> None:
    """The player loop of Engine._forward: audio players ADD samples [s0, s0 + n) into
    `tracks` (float32 (T, >= n, 2), zeroed by the caller), MIDI players append notes."""
    m = current(maps)
    for p in range(ps.active.shape[0]):
        if ps.active[p]:
            if st.i[ps.stem[p], MIDI]:
                _play_midi(ps, st, m, p, s0, n, events)
            else:
                _play_audio(ps, st, m, p, s0, n, tracks)
    ps.reg[POSITION] = s0 + n


@jit
def _play_audio(
    ps: PlayerState, st: StemTable, m: MapState, p: int, s0: int, n: int, tracks: np.ndarray
) -> None:
    end = s0 + n
    if ps.stop[p] <= s0:
        _retire(ps, st, p)
        return
    a = max(ps.start[p], s0)
    b = min(end, ps.stop[p])
    if a >= b:
        return
    if ps.next_stem[p] >= 0 and ps.swap_at[p] < b:
        if a < ps.swap_at[p]:
            _play_locked(ps, st, m, p, a, ps.swap_at[p], s0, tracks)
            a = ps.swap_at[p]
        _drop(st, ps.stem[p])
        ps.stem[p] = ps.next_stem[p]
        ps.next_stem[p] = -1
        ps.swap_at[p] = NEVER
        ps.turn_valid[p] = False
        ps.reg[STATE_VERSION] += 1
    if st.length_beats[ps.stem[p]] > 0:
        _play_locked(ps, st, m, p, a, b, s0, tracks)
    else:
        _add_looped(ps, st, p, a, b, s0, ps.start[p], 0, tracks)
    if b >= ps.stop[p]:
        _retire(ps, st, p)


@jit
def _add_looped(
    ps: PlayerState,
    st: StemTable,
    p: int,
    a: int,
    b: int,
    s0: int,
    origin: int,
    cut: int,
    tracks: np.ndarray,
) -> None:
    """Engine._add_looped, a sample at a time: the stop fade multiplies first, then the
    cut's, then the sum, as the Python core's in-place numpy calls did."""
    slot = ps.stem[p]
    length = st.i[slot, FRAMES]
    audio = numba.carray(f32_pointer(st.i[slot, AUDIO]), (length, 2))
    dst = tracks[ps.track[p]]
    fade = ps.fade
    stop_from = ps.stop[p] - FADE
    cut_from = cut - FADE if cut else NEVER
    pos = (a - origin) % length
    o = a - s0
    for s in range(a, b):
        left = audio[pos, 0]
        right = audio[pos, 1]
        if s >= stop_from:
            f = fade[s - stop_from]
            left = left * f
            right = right * f
        if s >= cut_from:
            f = fade[s - cut_from]
            left = left * f
            right = right * f
        dst[o, 0] += left
        dst[o, 1] += right
        o += 1
        pos += 1
        if pos == length:
            pos = 0


@jit
def _play_locked(
    ps: PlayerState,
    st: StemTable,
    m: MapState,
    p: int,
    a: int,
    b: int,
    s0: int,
    tracks: np.ndarray,
) -> None:
    if ps.start_beat[p] != ps.start_beat[p]:
        ps.start_beat[p] = beat_at(m, ps.start[p])
    length = st.i[ps.stem[p], FRAMES]
    while a < b:
        lo, hi = _turn(ps, st, m, p, a)
        c = min(b, hi)
        turn = hi - lo
        if abs(turn - length) <= LOCK_SLACK:
            _add_looped(ps, st, p, a, c, s0, lo, 0, tracks)
        elif a - lo < length:
            _add_looped(
                ps, st, p, a, min(c, lo + length), s0, lo, hi if turn < length else 0, tracks
            )
        a = c


@jit
def _turn(ps: PlayerState, st: StemTable, m: MapState, p: int, s: int) -> tuple[int, int]:
    if ps.turn_valid[p] and ps.turn_from[p] <= s < ps.turn_to[p]:
        return ps.turn_from[p], ps.turn_to[p]
    beats = st.length_beats[ps.stem[p]]
    sb = ps.start_beat[p]
    k = max(0, math.floor((beat_at(m, s) - sb) / beats))
    lo = ps.start[p] if k == 0 else sample_at(m, sb + k * beats)
    while k > 0 and lo > s:
        k -= 1
        lo = ps.start[p] if k == 0 else sample_at(m, sb + k * beats)
    hi = sample_at(m, sb + (k + 1) * beats)
    while hi <= s:
        lo = hi
        k += 1
        hi = sample_at(m, sb + (k + 1) * beats)
    ps.turn_from[p] = lo
    ps.turn_to[p] = hi
    ps.turn_valid[p] = True
    return lo, hi


@jit
def _search_left(values: np.ndarray, x: float) -> int:
    """np.searchsorted(values, x), side "left"."""
    lo = 0
    hi = values.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit
def _play_midi(
    ps: PlayerState, st: StemTable, m: MapState, p: int, s0: int, n: int, events: ev.Events
) -> None:
    end = s0 + n
    slot = ps.stem[p]
    row = st.i[slot]
    track = ps.track[p]
    key0 = p * 128
    if ps.start[p] < end and ps.start_beat[p] != ps.start_beat[p]:
        ps.start_beat[p] = beat_at(m, ps.start[p])
    sb = ps.start_beat[p]
    lo = max(s0, ps.start[p])
    cut = ps.stop[p] - FADE
    hi = min(end, cut)
    if lo < hi:
        on_beats = numba.carray(f64_pointer(row[ON_BEATS]), row[ONS])
        on_pitch = numba.carray(i64_pointer(row[ON_PITCH]), row[ONS])
        on_velocity = numba.carray(i64_pointer(row[ON_VELOCITY]), row[ONS])
        off_beats = numba.carray(f64_pointer(row[OFF_BEATS]), row[OFFS])
        off_pitch = numba.carray(i64_pointer(row[OFF_PITCH]), row[OFFS])
        b_lo = beat_at(m, lo) - sb - 1e-6
        b_hi = beat_at(m, hi) - sb + 1e-6
        length = st.length_beats[slot]
        for loop in range(max(0, int(b_lo // length) - 1), int(b_hi // length) + 1):
            base = sb + loop * length
            off_lo = b_lo - loop * length
            off_hi = b_hi - loop * length
            for i in range(_search_left(off_beats, off_lo), _search_left(off_beats, off_hi)):
                s = sample_at(m, base + off_beats[i])
                pitch = off_pitch[i]
                if lo <= s < hi and ps.sounding[p, pitch]:
                    ev.push(events, s, ev.OFF, track, pitch, 0, 0, key0 + pitch)
                    ps.sounding[p, pitch] = False
            for i in range(_search_left(on_beats, off_lo), _search_left(on_beats, off_hi)):
                s = sample_at(m, base + on_beats[i])
                if lo <= s < hi and s >= ps.start[p]:
                    pitch = on_pitch[i]
                    ev.push(
                        events, s, ev.ON, track, pitch, on_velocity[i], row[PATCH], key0 + pitch
                    )
                    ps.sounding[p, pitch] = True
    if cut < end:
        at = max(cut, s0)
        for pitch in range(128):
            if ps.sounding[p, pitch]:
                ev.push(events, at, ev.OFF, track, pitch, 0, 0, key0 + pitch)
                ps.sounding[p, pitch] = False
        _retire(ps, st, p)
