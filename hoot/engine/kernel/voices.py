"""The synth voice pool, compiled: engine.synth.VoicePool as numba functions over arrays.

Real-time code (every function here but `make_voices` and the status readers): no
allocation, no exceptions, no Python objects. Bad arguments are dropped and counted in
`registers[FAULTS]`, with `registers[LAST_FAULT]` saying which kind (FAULT_SENTENCES).

Same behaviour as VoicePool, voice for voice: `max_voices` notes sound at once, a new one
steals the oldest (released ones first), which fades out in SILENCE_SECONDS in one of the
`2 * max_voices` slots; bends split rendering at their sample; drums are one-shots; pluck,
pad, bass and drum tones darken; envelopes are products of stages. It reuses VoicePool's
tables (`synth._sounds`: wavetables, drum kit, per-(timbre, pitch) patch rows), so a note's
parameters are the very numbers VoicePool copies.

Where VoicePool computes all voices as one (voices x frames) array, this is a loop over
voices, then over samples, and keeps only a (tracks x max_block) mix buffer. Each sample is
computed by the same IEEE operations in the same precision as VoicePool's array code:

* phase (float64) = since * inc + phase offset, since = samples since note-on counting the
  note-on sample as 1, exact in float64; the table index is floor(phase) masked, the
  fraction phase - floor(phase) rounded to float32;
* wave (float32) = table + slope * fraction, plus (darker + darker slope * fraction) *
  t / (t + darken time) for voices that darken, t = since as float32;
* envelope (float32) = min(t * attack rate, 1) * decay stage * release ramp * kill ramp *
  gain, where a stage a voice is not in would be exactly 1 and is skipped;
* each track's voices are summed in note-on order from +0.0, then added to the track.

A voice is computed only on the samples in [note-on, end), outside of which VoicePool's
formulas give exact zeros, and a sum from +0.0 is unchanged by adding zeros: so the
output is VoicePool's, and identical to the bit whatever the block size (save the one case
VoicePool documents: more than `2 * max_voices` voices starting and ending within one
block, counted here in `registers[OVERWRITES]`). Slots stay in note-on order, even after
an overwrite (the victim's slot is closed up and the new voice goes last).

The same precision holds because numba compiles without fastmath: LLVM neither reorders
nor fuses `stage * depth + sustain` into one FMA, so it rounds twice, as numpy does (checked
on an AVX-512 machine with FMA: tests/engine/test_kernel_voices.py finds no bit changed).
Where it differs from VoicePool, on purpose: `silence` takes track -1 for every track (not
None); a release or silence of a track that does not exist, and a negative frame count,
are counted as faults (VoicePool ignores them); tracks without voices are left untouched
(VoicePool adds +0.0 to them, which only a -0.0 in the buffer would show).

Cost (benchmarks/kernel_voices.py, 32 voices, a shared 2-core VM): 0.66-1.0 % of the
period at 256-64 frames, against VoicePool's 1.6-2.9 %; about 4 ns per voice and sample.
The first compile of every function takes 11-17 s here (numba's cache then loads it in
about 1.3 s, numba's import included).

Calling convention, as VoicePool's: for the block `[s0, s0 + frames)`, first the block's
events (or `dispatch` of an events.Events), then `render(vs, s0, frames, tracks)`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hoot.engine.kernel import events as ev_columns
from hoot.engine.kernel.jit import jit
from hoot.engine.synth import (
    _ATTACK_RATE,
    _BASE,
    _BASE_INC,
    _DARKEN_TIME,
    _DECAY_DEPTH,
    _DECAY_RATE,
    _END,
    _F64_ROWS,
    _FLOAT_ROWS,
    _GAIN,
    _INC,
    _INT_ROWS,
    _KEY,
    _KILL,
    _MASK,
    _NATURAL,
    _OFF,
    _ON,
    _ONE_SHOT,
    _PHASE,
    _RELEASE,
    _RELEASE_RATE,
    _SERIAL,
    _SUSTAIN,
    _TIME_LIMIT,
    _TRACK,
    NEVER,
    SILENCE_SECONDS,
    _sounds,
)
from hoot.errors import HootError

# Registers (int64): the pool's changing scalars and its fixed sizes.
N, SERIAL, POS, FAULTS, LAST_FAULT, OVERWRITES = range(6)
BEND_HEAD, BEND_COUNT, MAX_VOICES, KILL_LEN = range(6, 10)
_REGISTERS = 10

# Fault kinds, in registers[LAST_FAULT].
NOTE_DROPPED, BEND_DROPPED, BENDS_FULL, TRACK_DROPPED, BAD_RENDER, BAD_EVENT = range(1, 7)
FAULT_SENTENCES = {
    NOTE_DROPPED: "a note was dropped: its track, pitch or timbre is out of range",
    BEND_DROPPED: "a bend was dropped: its track is out of range or its amount not finite",
    BENDS_FULL: "a bend was dropped: too many bends waiting for one block",
    TRACK_DROPPED: "a release or silence was dropped: its track is out of range",
    BAD_RENDER: "a block was left silent: the buffer is too small or the frame count negative",
    BAD_EVENT: "an event was dropped: its kind or track is out of range",
}
"""What each fault kind means, for the console (off the audio thread)."""

_ONE32 = np.float32(1.0)
_ZERO32 = np.float32(0.0)


class VoiceState(NamedTuple):
    table: np.ndarray  # float32: wavetables, then the drum kit (shared, read-only)
    slope: np.ndarray  # float32: next sample minus this one, over the wavetables
    darker: np.ndarray  # float32: dark minus bright wavetables
    darker_slope: np.ndarray  # float32
    patch_int: np.ndarray  # int64 (timbres, 128, int rows): a note's int column
    patch_f64: np.ndarray  # float64 (timbres, 128, 1): its increment
    patch_f32: np.ndarray  # float32 (timbres, 128, float rows): its envelope and gain
    velocity_gain: np.ndarray  # float64 (128,)
    ints: np.ndarray  # int64 (int rows, 2 * max_voices): the voices, in note-on order
    f64: np.ndarray  # float64 (3, 2 * max_voices): increment, patch increment, phase offset
    f32: np.ndarray  # float32 (float rows, 2 * max_voices)
    bend_ratio: np.ndarray  # float64 (tracks,): each track's bend now
    bend_at: np.ndarray  # int64 (bend capacity, 2): waiting bends' (sample, track), a ring
    bend_by: np.ndarray  # float64 (bend capacity,): their ratios
    mix: np.ndarray  # float32 (tracks, max_block): each track's voices summed
    sounding: np.ndarray  # bool (tracks,): tracks with a voice in the table
    registers: np.ndarray  # int64 (_REGISTERS,)


def make_voices(
    samplerate: int, n_tracks: int, max_voices: int = 32, max_block: int = 4096
) -> VoiceState:
    """A voice pool for `n_tracks` tracks at `samplerate`, holding `max_voices` sounding
    notes; render works in pieces of at most `max_block` frames. Built once, off the audio
    thread (the tables are shared with every pool at this rate)."""
    if samplerate < 8000 or n_tracks < 1 or max_voices < 1 or max_block < 1:
        raise HootError(
            f"a voice pool needs a sample rate of at least 8000 Hz and at least one track, "
            f"voice and frame; got samplerate={samplerate}, n_tracks={n_tracks}, "
            f"max_voices={max_voices}, max_block={max_block}"
        )
    sounds = _sounds(int(samplerate), int(max_block))
    cap = 2 * max_voices
    registers = np.zeros(_REGISTERS, np.int64)
    registers[POS] = -NEVER
    registers[MAX_VOICES] = max_voices
    registers[KILL_LEN] = max(1, round(SILENCE_SECONDS * samplerate))
    return VoiceState(
        sounds.table,
        sounds.slope,
        sounds.darker,
        sounds.darker_slope,
        sounds.patch_int,
        sounds.patch_f64,
        sounds.patch_f32,
        sounds.velocity_gain,
        np.zeros((_INT_ROWS, cap), np.int64),
        np.zeros((_F64_ROWS, cap), np.float64),
        np.zeros((_FLOAT_ROWS, cap), np.float32),
        np.ones(n_tracks, np.float64),
        np.zeros((8 * max_voices, 2), np.int64),
        np.zeros(8 * max_voices, np.float64),
        np.zeros((n_tracks, max_block), np.float32),
        np.zeros(n_tracks, np.bool_),
        registers,
    )


def active(vs: VoiceState) -> int:
    """Voices sounding, fading or waiting to start (VoicePool.active)."""
    return int(vs.registers[N])


def faults(vs: VoiceState) -> tuple[int, str]:
    """How many events and blocks were dropped, and what the last one was."""
    count = int(vs.registers[FAULTS])
    return count, FAULT_SENTENCES.get(int(vs.registers[LAST_FAULT]), "")


# Voice bookkeeping ------------------------------------------------------------------
# Helpers take only the arrays they touch: numba types and compiles each one for its
# arguments, and with the 17-array state in every helper's signature note_on's first
# compile took 9.6 s here, against 4.4 s this way.


@jit
def _fault(registers: np.ndarray, kind: int) -> None:
    registers[FAULTS] += 1
    registers[LAST_FAULT] = kind


@jit
def _lower_end(ints: np.ndarray, v: int, end: int) -> None:
    if end < ints[_END, v]:
        ints[_END, v] = end


@jit
def _release(ints: np.ndarray, v: int, sample: int) -> None:
    """Start voice v's release at `sample` if it is held and not a one-shot."""
    if ints[_OFF, v] == NEVER and ints[_ONE_SHOT, v] == 0:
        ints[_OFF, v] = sample
        _lower_end(ints, v, ints[_RELEASE, v] + sample + 1)


@jit
def _kill(ints: np.ndarray, v: int, sample: int, kill_len: int) -> None:
    """Fade voice v out from `sample`, keeping an earlier fade."""
    if ints[_KILL, v] > sample:
        ints[_KILL, v] = sample
        _lower_end(ints, v, sample + kill_len + 1)


@jit
def _cancel(ints: np.ndarray, v: int, kill_len: int) -> None:
    """Silence voice v before it starts: its fade is over by its note-on."""
    ints[_KILL, v] = ints[_ON, v] - kill_len - 1
    _lower_end(ints, v, ints[_ON, v])


@jit
def _make_room(ints: np.ndarray, registers: np.ndarray, sample: int) -> None:
    """Steal the oldest released voice, else the oldest, if max_voices sound at `sample`
    (fading voices do not count). Slots are in note-on order: the first found is oldest."""
    busy = 0
    oldest = -1
    oldest_released = -1
    for v in range(registers[N]):
        if ints[_END, v] > sample and ints[_KILL, v] == NEVER:
            busy += 1
            if oldest < 0:
                oldest = v
            if oldest_released < 0 and ints[_OFF, v] <= sample:
                oldest_released = v
    if busy >= registers[MAX_VOICES]:
        victim = oldest_released if oldest_released >= 0 else oldest
        _kill(ints, victim, sample, registers[KILL_LEN])


@jit
def _move(ints: np.ndarray, f64: np.ndarray, f32: np.ndarray, to: int, source: int) -> None:
    """Copy voice `source` into slot `to`."""
    for row in range(ints.shape[0]):
        ints[row, to] = ints[row, source]
    for row in range(f64.shape[0]):
        f64[row, to] = f64[row, source]
    for row in range(f32.shape[0]):
        f32[row, to] = f32[row, source]


@jit
def _free_slot(ints: np.ndarray, f64: np.ndarray, f32: np.ndarray, registers: np.ndarray) -> int:
    n = registers[N]
    if n < ints.shape[1]:
        registers[N] = n + 1
        return n
    # Every slot is taken within one block: the voice ending first gives way (VoicePool's
    # one block-size-dependent case). The voices after it close up, keeping note-on order.
    victim = 0
    for v in range(1, n):
        if ints[_END, v] < ints[_END, victim]:
            victim = v
    for v in range(victim, n - 1):
        _move(ints, f64, f32, v, v + 1)
    registers[OVERWRITES] += 1
    return n - 1


@jit
def _reap(ints: np.ndarray, f64: np.ndarray, f32: np.ndarray, registers: np.ndarray, now: int):
    """Free the slots of voices silent from `now` on, keeping note-on order."""
    kept = 0
    for v in range(registers[N]):
        if ints[_END, v] > now:
            if kept != v:
                _move(ints, f64, f32, kept, v)
            kept += 1
    registers[N] = kept


@jit
def _apply_bend(
    ints: np.ndarray, f64: np.ndarray, n: int, sample: int, track: int, ratio: float
) -> None:
    """Tonal voices of `track` play at `ratio` times their patch's increment from `sample`;
    a sounding voice's phase offset moves so its wave is continuous there."""
    for v in range(n):
        if ints[_TRACK, v] != track or ints[_ONE_SHOT, v] != 0:
            continue
        new_inc = f64[_BASE_INC, v] * ratio
        since = np.float64(sample - ints[_ON, v] + 1)
        if since > 0:
            f64[_PHASE, v] += since * (f64[_INC, v] - new_inc)
        else:
            f64[_PHASE, v] = 0.0
        f64[_INC, v] = new_inc


@jit
def _note_off(ints: np.ndarray, registers: np.ndarray, sample: int, key: int) -> None:
    sample = max(sample, registers[POS])
    for v in range(registers[N]):
        if ints[_KEY, v] == key and ints[_ON, v] <= sample:
            _release(ints, v, sample)


# Events -----------------------------------------------------------------------------


@jit
def note_off(vs: VoiceState, sample: int, key: int) -> None:
    """Release, at `sample`, the held voices started with `key` at or before it (drum hits
    ring out)."""
    _note_off(vs.ints, vs.registers, sample, key)


@jit
def note_on(
    vs: VoiceState, sample: int, track: int, pitch: int, velocity: int, timbre: int, key: int
) -> None:
    """Start a note at absolute `sample` on `track`; `key` names it for note_off. Velocity
    0 is a note-off; out-of-range tracks, pitches and timbres are dropped and counted."""
    if not (
        0 <= track < vs.bend_ratio.shape[0]
        and 0 <= pitch < 128
        and 0 <= timbre < vs.patch_int.shape[0]
    ):
        _fault(vs.registers, NOTE_DROPPED)
        return
    ints, f64, f32 = vs.ints, vs.f64, vs.f32
    if velocity <= 0:
        _note_off(ints, vs.registers, sample, key)
        return
    velocity = min(velocity, 127)
    sample = max(sample, vs.registers[POS])
    _make_room(ints, vs.registers, sample)
    v = _free_slot(ints, f64, f32, vs.registers)
    patch_int, patch_f32 = vs.patch_int[timbre, pitch], vs.patch_f32[timbre, pitch]
    for row in range(ints.shape[0]):
        ints[row, v] = patch_int[row]
    for row in range(f32.shape[0]):
        f32[row, v] = patch_f32[row]
    base_inc = vs.patch_f64[timbre, pitch, _INC]
    f64[_BASE_INC, v] = base_inc
    f64[_PHASE, v] = 0.0
    f64[_INC, v] = base_inc if ints[_ONE_SHOT, v] else base_inc * vs.bend_ratio[track]
    # As VoicePool: the float32 gain times the float64 velocity gain, rounded to float32.
    f32[_GAIN, v] = np.float32(np.float64(f32[_GAIN, v]) * vs.velocity_gain[velocity])
    natural = ints[_NATURAL, v]
    ints[_ON, v] = sample
    ints[_OFF, v] = NEVER
    ints[_KILL, v] = NEVER
    ints[_END, v] = sample + natural if natural < NEVER else NEVER
    ints[_SERIAL, v] = vs.registers[SERIAL]
    ints[_KEY, v] = key
    ints[_TRACK, v] = track
    vs.registers[SERIAL] += 1


@jit
def release_track(vs: VoiceState, sample: int, track: int) -> None:
    """Release every held voice on `track` at `sample`; notes set to start later are
    cancelled. Drum hits ring out."""
    if not 0 <= track < vs.bend_ratio.shape[0]:
        _fault(vs.registers, TRACK_DROPPED)
        return
    sample = max(sample, vs.registers[POS])
    ints = vs.ints
    for v in range(vs.registers[N]):
        if ints[_TRACK, v] == track:
            if ints[_ON, v] > sample:
                _cancel(ints, v, vs.registers[KILL_LEN])
            else:
                _release(ints, v, sample)


@jit
def silence(vs: VoiceState, sample: int, track: int) -> None:
    """Fade out every voice of `track` (-1: of every track) in SILENCE_SECONDS from
    `sample`, drums included; notes set to start later are cancelled."""
    if not -1 <= track < vs.bend_ratio.shape[0]:
        _fault(vs.registers, TRACK_DROPPED)
        return
    sample = max(sample, vs.registers[POS])
    ints = vs.ints
    for v in range(vs.registers[N]):
        if track == -1 or ints[_TRACK, v] == track:
            if ints[_ON, v] > sample:
                _cancel(ints, v, vs.registers[KILL_LEN])
            else:
                _kill(ints, v, sample, vs.registers[KILL_LEN])


@jit
def bend(vs: VoiceState, sample: int, track: int, semitones: float) -> None:
    """From `sample` on, play `track`'s tonal voices `semitones` away from their pitch (a
    pitch wheel); waits in a ring of 8 * max_voices bends until render reaches it."""
    ratio = 2.0 ** (semitones / 12.0)
    if not (0 <= track < vs.bend_ratio.shape[0] and np.isfinite(ratio)):
        _fault(vs.registers, BEND_DROPPED)
        return
    capacity = vs.bend_by.shape[0]
    count = vs.registers[BEND_COUNT]
    if count >= capacity:
        _fault(vs.registers, BENDS_FULL)
        return
    slot = (vs.registers[BEND_HEAD] + count) % capacity
    vs.bend_at[slot, 0] = max(sample, vs.registers[POS])
    vs.bend_at[slot, 1] = track
    vs.bend_by[slot] = ratio
    vs.registers[BEND_COUNT] = count + 1


@jit
def dispatch(vs: VoiceState, ev: ev_columns.Events, use: np.ndarray) -> None:
    """Apply `ev`'s events in order to the tracks t where use[t]: ON, OFF, RELEASE_TRACK,
    SILENCE (track -1: every track), BEND, and ALL_OFF as RELEASE_TRACK."""
    for k in range(ev.count[0]):
        row = ev.i[k]
        kind = row[ev_columns.KIND]
        track = row[ev_columns.TRACK]
        sample = row[ev_columns.SAMPLE]
        if kind == ev_columns.SILENCE and track == -1:
            silence(vs, sample, -1)
            continue
        if not (0 <= track < use.shape[0] and ev_columns.ON <= kind <= ev_columns.ALL_OFF):
            _fault(vs.registers, BAD_EVENT)
            continue
        if not use[track]:
            continue
        if kind == ev_columns.ON:
            note_on(
                vs,
                sample,
                track,
                row[ev_columns.PITCH],
                row[ev_columns.VELOCITY],
                row[ev_columns.TIMBRE],
                row[ev_columns.KEY],
            )
        elif kind == ev_columns.OFF:
            note_off(vs, sample, row[ev_columns.KEY])
        elif kind == ev_columns.SILENCE:
            silence(vs, sample, track)
        elif kind == ev_columns.BEND:
            bend(vs, sample, track, ev.f[k])
        else:
            release_track(vs, sample, track)


# Rendering --------------------------------------------------------------------------


@jit
def _ramp_down(since: int, rate: np.float32) -> np.float32:
    """clip(1 - since * rate, 0, 1) in float32, `since` clamped so float32 holds it."""
    t = np.float32(min(since, _TIME_LIMIT)) * rate
    t = _ONE32 - t
    if t > _ONE32:
        t = _ONE32
    if t < _ZERO32:
        t = _ZERO32
    return t


@jit
def _add_voice(
    vs_tables: tuple,
    ints: np.ndarray,
    f64: np.ndarray,
    f32: np.ndarray,
    mix: np.ndarray,
    v: int,
    start: int,
    frames: int,
    kill_rate: np.float32,
) -> None:
    """Add voice v's samples in [start, start + frames) to its track's row of `mix`."""
    table, slope, darker, darker_slope = vs_tables
    on = ints[_ON, v]
    first = max(on, start)
    last = min(ints[_END, v], start + frames)
    if first >= last:
        return
    row = mix[ints[_TRACK, v]]
    table_top = table.shape[0] - 1
    slope_top = slope.shape[0] - 1
    mask, base = ints[_MASK, v], ints[_BASE, v]
    off, kill = ints[_OFF, v], ints[_KILL, v]
    inc, phase0 = f64[_INC, v], f64[_PHASE, v]
    attack_rate, decay_rate = f32[_ATTACK_RATE, v], f32[_DECAY_RATE, v]
    sustain, depth = f32[_SUSTAIN, v], f32[_DECAY_DEPTH, v]
    darken, release_rate, gain = f32[_DARKEN_TIME, v], f32[_RELEASE_RATE, v], f32[_GAIN, v]
    darkens = darken < np.inf
    decays = decay_rate > _ZERO32
    for s in range(first, last):
        since = np.float64(s - on + 1)
        phase = since * inc + phase0
        whole = np.floor(phase)
        frac = np.float32(phase - whole)
        index = (np.int64(whole) & mask) + base
        at = min(index, table_top)
        at_slope = min(index, slope_top)
        wave = table[at] + slope[at_slope] * frac
        t = np.float32(since)
        if darkens:
            dark = darker[at_slope] + darker_slope[at_slope] * frac
            wave = wave + dark * (t / (t + darken))
        env = t * attack_rate
        if env > _ONE32:
            env = _ONE32
        if decays:
            stage = _ONE32 - t * decay_rate
            if stage < _ZERO32:
                stage = _ZERO32
            stage = stage * stage
            stage = stage * stage
            env = env * (stage * depth + sustain)
        if s > off:
            env = env * _ramp_down(s - off, release_rate)
        if s > kill:
            env = env * _ramp_down(s - kill, kill_rate)
        env = env * gain
        i = s - start
        row[i] = row[i] + wave * env


@jit
def _render_chunk(vs: VoiceState, start: int, frames: int, tracks: np.ndarray, at: int) -> None:
    ints, mix, sounding = vs.ints, vs.mix, vs.sounding
    n = vs.registers[N]
    sounding[:] = False
    for v in range(n):
        sounding[ints[_TRACK, v]] = True
    for t in range(sounding.shape[0]):
        if sounding[t]:
            mix[t, :frames] = _ZERO32
    kill_rate = np.float32(1.0 / vs.registers[KILL_LEN])
    tables = (vs.table, vs.slope, vs.darker, vs.darker_slope)
    for v in range(n):
        _add_voice(tables, ints, vs.f64, vs.f32, mix, v, start, frames, kill_rate)
    for t in range(sounding.shape[0]):
        if sounding[t]:
            row = mix[t]
            block = tracks[t]
            for i in range(frames):
                block[at + i, 0] += row[i]
                block[at + i, 1] += row[i]


@jit
def render(vs: VoiceState, s0: int, frames: int, tracks: np.ndarray) -> None:
    """Add the voices' sound for samples [s0, s0 + frames) into tracks[t, :frames, :]
    (float32 (tracks, >= frames, 2)), both channels alike. A buffer too small leaves the
    block silent (counted); time moves on either way."""
    registers = vs.registers
    if frames < 0:
        _fault(registers, BAD_RENDER)
        return
    writable = (
        tracks.shape[0] >= vs.mix.shape[0] and tracks.shape[1] >= frames and tracks.shape[2] == 2
    )
    if not writable:
        _fault(registers, BAD_RENDER)
    capacity = vs.bend_by.shape[0]
    done = 0
    while done < frames:
        chunk = min(frames - done, vs.mix.shape[1])
        start = s0 + done
        while registers[BEND_COUNT] > 0:
            head = registers[BEND_HEAD]
            sample, track = vs.bend_at[head, 0], vs.bend_at[head, 1]
            if sample > start:
                if sample < start + chunk:
                    chunk = sample - start
                break
            vs.bend_ratio[track] = vs.bend_by[head]
            _apply_bend(vs.ints, vs.f64, registers[N], sample, track, vs.bend_by[head])
            registers[BEND_HEAD] = (head + 1) % capacity
            registers[BEND_COUNT] -= 1
        if writable and registers[N] > 0:
            _render_chunk(vs, start, chunk, tracks, done)
        registers[POS] = start + chunk
        _reap(vs.ints, vs.f64, vs.f32, registers, start + chunk)
        done += chunk
