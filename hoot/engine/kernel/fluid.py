"""A track's SoundFont voice in the compiled core: fluid.SoundFontVoice's events and render,
calling libfluidsynth from nopython code.

The control side still builds the synth (fluid.SoundFontVoice: settings, the font, the
program); `make_font_voice` takes its C pointer as an integer address, and from then on only
the audio thread touches it (the synth is made with synth.threadsafe-api off). The functions
here are SoundFontVoice's, step for step: note events wait in sample order in preallocated
arrays; `render` plays the block in chunks between the events' samples (fluidsynth renders
[a, b), then the event, then on), fades over core.FADE frames after an all_off and then ends
every voice, and adds the block into the track's buffer. The float32 arithmetic is the same,
so the output is the same to the bit (tests/engine/test_kernel_midi.py).

libfluidsynth's functions are called through their addresses (hoot.engine.kernel.cfunc), kept
in the voice's `functions`: the machine code is cached, and a machine without libfluidsynth
still loads the core.

REAL-TIME CODE: `note_on`, `note_off`, `bend`, `all_off`, `play_event` and `render` run on
the audio thread: no allocation, no Python, nothing raises.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import types

from hoot.engine.core import FADE
from hoot.engine.fluid import ALL_OFF, BEND, EVENTS, NOTE_OFF, NOTE_ON, SoundFontVoice, library
from hoot.engine.kernel import events as kev
from hoot.engine.kernel.cfunc import address, c_function, void_pointer
from hoot.engine.kernel.jit import jit

SYNTH, CHANNEL, TRACK, FADE_FROM, HUSHED, COUNT, FAULTS, PLAYED = range(8)
"""`FontVoice.regs`: the fluid_synth_t's address, its MIDI channel, the track, the first
sample of a running all_off's fade (-1: none), whether the voice is hushed (before the first
note, and after a fade until the next: the reverb idles at ~1e-8), events waiting, floods
played out of time, notes started."""

NOTEON, NOTEOFF, PITCH_BEND, ALL_SOUNDS_OFF, WRITE_FLOAT = range(5)
"""`FontVoice.functions`: the addresses of libfluidsynth's functions of those names."""

_i, _p = types.intc, types.voidptr
_noteon = c_function(_i, _p, _i, _i, _i)
_noteoff = c_function(_i, _p, _i, _i)
_pitch_bend = c_function(_i, _p, _i, _i)
_all_sounds_off = c_function(_i, _p, _i)
_write_float = c_function(_i, _p, _i, _p, _i, _i, _p, _i, _i)


class FontVoice(NamedTuple):
    regs: np.ndarray  # int64 (8,): SYNTH .. PLAYED
    functions: np.ndarray  # int64 (5,): NOTEON .. WRITE_FLOAT
    at: np.ndarray  # int64 (EVENTS,): the waiting events' samples, in order
    kind: np.ndarray  # int64 (EVENTS,): fluid.NOTE_ON, NOTE_OFF, BEND, ALL_OFF
    a: np.ndarray  # int64 (EVENTS,): pitch, or the wheel (0 .. 16383)
    b: np.ndarray  # int64 (EVENTS,): velocity
    out: np.ndarray  # float32 (max_block, 2): the block as fluidsynth renders it
    fade: np.ndarray  # float32 (FADE,): the all_off fade's gains


def make_font_voice(voice: SoundFontVoice, max_block: int = 4096) -> FontVoice:
    """The compiled core's side of `voice`'s synth. `voice` stays alive (it owns the synth
    and frees it on close) and is never rendered by Python after this."""
    lib = library()
    functions = [
        lib.fluid_synth_noteon,
        lib.fluid_synth_noteoff,
        lib.fluid_synth_pitch_bend,
        lib.fluid_synth_all_sounds_off,
        lib.fluid_synth_write_float,
    ]
    regs = np.zeros(8, np.int64)
    regs[SYNTH] = voice._synth
    regs[CHANNEL], regs[TRACK] = voice.channel, voice.track
    regs[FADE_FROM], regs[HUSHED] = -1, 1
    fade = (0.5 * (1 + np.cos(np.linspace(0, np.pi, FADE + 1)[1:]))).astype(np.float32)
    return FontVoice(
        regs,
        np.array([address(function) for function in functions], np.int64),
        np.zeros(EVENTS, np.int64),
        np.zeros(EVENTS, np.int64),
        np.zeros(EVENTS, np.int64),
        np.zeros(EVENTS, np.int64),
        np.zeros((max_block, 2), np.float32),
        fade,
    )


# ---- the sink's calls, as SoundFontVoice's --------------------------------------------------


@jit
def _apply(fv: FontVoice, kind: int, a: int, b: int) -> None:
    regs = fv.regs
    synth, channel = void_pointer(regs[SYNTH]), np.intc(regs[CHANNEL])
    if kind == NOTE_ON:
        regs[HUSHED] = 0
        _noteon(fv.functions[NOTEON], synth, channel, np.intc(a), np.intc(b))
        regs[PLAYED] += 1
    elif kind == NOTE_OFF:
        _noteoff(fv.functions[NOTEOFF], synth, channel, np.intc(a))
    elif kind == BEND:
        _pitch_bend(fv.functions[PITCH_BEND], synth, channel, np.intc(a))


@jit
def _event(fv: FontVoice, sample: int, kind: int, a: int, b: int) -> None:
    regs = fv.regs
    n = regs[COUNT]
    if n == fv.at.shape[0]:  # a flood: play it now, out of time, rather than lose a note-off
        _apply(fv, kind, a, b)
        regs[FAULTS] += 1
        return
    at, kinds, first, second = fv.at, fv.kind, fv.a, fv.b
    while n > 0 and at[n - 1] > sample:  # keep sample order; equal samples keep theirs
        n -= 1
        at[n + 1], kinds[n + 1] = at[n], kinds[n]
        first[n + 1], second[n + 1] = first[n], second[n]
    at[n], kinds[n], first[n], second[n] = sample, kind, a, b
    regs[COUNT] += 1


@jit
def note_on(fv: FontVoice, sample: int, pitch: int, velocity: int) -> None:
    """As SoundFontVoice.note_on. REAL-TIME."""
    _event(fv, sample, NOTE_ON, pitch & 127, min(max(velocity, 0), 127))


@jit
def note_off(fv: FontVoice, sample: int, key: int) -> None:
    """As SoundFontVoice.note_off; the pitch is the key's low seven bits. REAL-TIME."""
    _event(fv, sample, NOTE_OFF, key & 127, 0)


@jit
def bend(fv: FontVoice, sample: int, semitones: float) -> None:
    """As SoundFontVoice.bend: the wheel, +-2 semitones at its ends. REAL-TIME."""
    _event(fv, sample, BEND, min(max(round(8192 + semitones / 2.0 * 8192), 0), 16383), 0)


@jit
def all_off(fv: FontVoice, sample: int) -> None:
    """As SoundFontVoice.all_off: fade out over FADE frames, then end every voice. REAL-TIME."""
    _event(fv, sample, ALL_OFF, 0, 0)


@jit
def play_event(fv: FontVoice, ev: kev.Events, k: int) -> None:
    """Event row `k` of `ev`, as the Python core calls a SoundFontVoice for it: notes, bends,
    and ALL_OFF (panic, a sink change); RELEASE_TRACK and SILENCE are VoicePool's. REAL-TIME."""
    row = ev.i[k]
    kind = row[kev.KIND]
    if kind == kev.ON:
        note_on(fv, row[kev.SAMPLE], row[kev.PITCH], row[kev.VELOCITY])
    elif kind == kev.OFF:
        note_off(fv, row[kev.SAMPLE], row[kev.KEY])
    elif kind == kev.BEND:
        bend(fv, row[kev.SAMPLE], ev.f[k])
    elif kind == kev.ALL_OFF:
        all_off(fv, row[kev.SAMPLE])


# ---- the block ---------------------------------------------------------------------------


@jit
def render(fv: FontVoice, s0: int, n: int, dst: np.ndarray) -> None:
    """Add block [s0, s0 + n) of the synth into `dst` (the track's (n, 2) float32 buffer),
    each event at its sample, as SoundFontVoice.render. REAL-TIME."""
    regs = fv.regs
    at, kind, a, b = fv.at, fv.kind, fv.a, fv.b
    end = s0 + n
    done = 0  # frames of this block rendered
    i = 0
    count = regs[COUNT]
    while i < count and at[i] < end:
        upto = max(at[i] - s0, done)  # one already due plays at once
        if upto > done:
            _write(fv, s0, done, upto)
            done = upto
        k = kind[i]
        if k == ALL_OFF:
            if regs[FADE_FROM] < 0:
                regs[FADE_FROM] = s0 + done
        else:
            _apply(fv, k, a[i], b[i])
        i += 1
    if done < n:
        _write(fv, s0, done, n)
    if i:  # what lies beyond this block waits for the next
        rest = count - i
        for j in range(rest):
            at[j], kind[j] = at[i + j], kind[i + j]
            a[j], b[j] = a[i + j], b[i + j]
        regs[COUNT] = rest
    out = fv.out
    for j in range(n):
        dst[j, 0] += out[j, 0]
        dst[j, 1] += out[j, 1]


@jit
def _write(fv: FontVoice, s0: int, lo: int, hi: int) -> None:
    """Render frames [lo, hi) of the block into `out`, fading while an all_off runs."""
    regs, out = fv.regs, fv.out
    synth = void_pointer(regs[SYNTH])
    buffer = void_pointer(np.int64(out.ctypes.data))
    _write_float(
        fv.functions[WRITE_FLOAT],
        synth,
        np.intc(hi - lo),
        buffer,
        np.intc(2 * lo),
        np.intc(2),
        buffer,
        np.intc(2 * lo + 1),
        np.intc(2),
    )
    if regs[HUSHED]:
        out[lo:hi] = 0
        return
    start = regs[FADE_FROM]
    if start < 0:
        return
    first, last = s0 + lo, s0 + hi  # absolute samples of this chunk
    f0 = max(first, start)
    f1 = min(last, start + FADE)
    fade = fv.fade
    for s in range(f0, f1):
        gain = fade[s - start]
        out[s - s0, 0] *= gain
        out[s - s0, 1] *= gain
    if last > start + FADE:  # the fade is over: silence, and end every voice
        out[max(first, start + FADE) - s0 : hi] = 0
        _all_sounds_off(fv.functions[ALL_SOUNDS_OFF], synth, np.intc(-1))
        regs[FADE_FROM] = -1
        regs[HUSHED] = 1
