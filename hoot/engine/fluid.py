"""A track's live notes on a SoundFont program: libfluidsynth, called through ctypes.

    perf.tracks.chords.sound = "soundfont:48"
    perf.tracks.chords.play_from("Keystation")     # the strings, live

The offline renderer (hoot.generate.soundfont) runs the `fluidsynth` program on a MIDI file;
live notes cannot wait for a process, so the engine loads the same library that program is
built on (Debian's libfluidsynth3, which `apt-get install fluidsynth` brings) and plays it
in `forward()`. Our own binding of the dozen calls we need, not a Python package: ctypes
releases the GIL for each C call, so the control thread runs while fluidsynth renders.

`SoundFontVoice` is one fluidsynth synth playing one track. The control side builds it (the
font's file is read here, ~0.1 s for FluidR3_GM with its samples loaded per program), then
the audio thread takes it as the track's synth (core.Synth) in place of the engine's
VoicePool, with the same calls: note_on, note_off, bend, all_off. Those calls only write the
event into preallocated arrays; `render` then plays the block in chunks between the events'
samples (fluidsynth renders [a, b), then the event, then on), so a note starts at its own
offset inside the block, not at the block's start. fluidsynth itself renders 64-frame
blocks and starts a note at the first of its blocks after the call: a note therefore sounds
0 to 63 frames after its sample (at most 1.3 ms at 48 kHz), never before.

Sustain is the keyboard's (LiveNotes holds the note-offs while the pedal is down, for every
sink alike); pitch bend is fluidsynth's wheel at its default range of 2 semitones, hoot's
range. `all_off` (panic, the track's synth or output changed) fades the track out over
core.FADE frames and then ends every voice; the reverb's tail (-42 dB a second after a held
string section) stays unheard until the next note: no note hangs, nothing rings on.

REAL-TIME CODE: `note_on`, `note_off`, `bend`, `all_off` and `render` run on the audio
thread: preallocated numpy buffers whose addresses are taken once, ctypes calls with ints,
no locks (the synth is made with synth.threadsafe-api off: after the hand-over only the
audio thread touches it), nothing raises.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import numpy as np

from hoot.engine.core import FADE
from hoot.errors import HootError
from hoot.music.sounds import find_soundfonts, no_soundfont, parse_soundfont

LIBRARY = "libfluidsynth.so.3"
INSTALL_LIBFLUIDSYNTH = "sudo apt-get install libfluidsynth3 (or fluidsynth, which brings it)"

GAIN = 0.6
"""fluidsynth's master gain, as the offline renderer's: its default, 0.2, leaves a GM piano
at about -27 dBFS."""

POLYPHONY = 128
"""Voices one track's synth may sound at once (a SoundFont note is often 2 to 4 voices)."""

EVENTS = 4096
"""Events one block may hold (notes and bends). A flood beyond them is played at once, out
of time, rather than dropped: a dropped note-off would hang."""

DRUM_CHANNEL = 9  # General MIDI's percussion channel (10, counted from 1)
DRUM_BANK = 128  # SoundFonts keep drum kits in bank 128

NOTE_ON, NOTE_OFF, BEND, ALL_OFF = 0, 1, 2, 3

_lib = None
_missing = ""


def library():
    """libfluidsynth, loaded once; raises HootError saying what to install."""
    global _lib, _missing
    if _lib is not None:
        return _lib
    if _missing:
        raise HootError(_missing)
    name = ctypes.util.find_library("fluidsynth") or LIBRARY
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        _missing = f"no libfluidsynth for live SoundFont notes: {INSTALL_LIBFLUIDSYNTH}"
        raise HootError(_missing) from None
    p, i, d, f = ctypes.c_void_p, ctypes.c_int, ctypes.c_double, ctypes.c_float
    s = ctypes.c_char_p
    for fn, args, result in (
        ("new_fluid_settings", (), p),
        ("delete_fluid_settings", (p,), None),
        ("fluid_settings_setnum", (p, s, d), i),
        ("fluid_settings_setint", (p, s, i), i),
        ("new_fluid_synth", (p,), p),
        ("delete_fluid_synth", (p,), None),
        ("fluid_synth_sfload", (p, s, i), i),
        ("fluid_synth_program_select", (p, i, i, i, i), i),
        ("fluid_synth_noteon", (p, i, i, i), i),
        ("fluid_synth_noteoff", (p, i, i), i),
        ("fluid_synth_pitch_bend", (p, i, i), i),
        ("fluid_synth_all_sounds_off", (p, i), i),
        ("fluid_synth_set_gain", (p, f), None),
        ("fluid_synth_write_float", (p, i, p, i, i, p, i, i), i),
    ):
        function = getattr(lib, fn)
        function.argtypes = args
        function.restype = result
    _lib = lib
    return lib


def soundfont_for(sound: str) -> Path:
    """The .sf2 file a "soundfont..." sound plays: its own, or the first one found, as the
    offline renderer chooses. HootError says what to install when there is none."""
    spec = parse_soundfont(sound)
    if spec.font is not None:
        return spec.font
    fonts = find_soundfonts()
    if not fonts:
        raise HootError(f"{no_soundfont()} (live SoundFont notes)")
    return fonts[0]


class SoundFontVoice:
    """One fluidsynth synth playing track number `track` with a SoundFont `sound`
    ("soundfont", "soundfont:48", "soundfont:/path/font.sf2:48") as role `role` would.

    Raises HootError (one sentence: what to install) when libfluidsynth or the SoundFont
    is missing, or when the font cannot be read. Close it (or drop it) off the audio thread.
    """

    def __init__(
        self, track: int, sound: str, role: str, samplerate: int, max_block: int = 4096
    ) -> None:
        lib = library()
        font = soundfont_for(sound)
        spec = parse_soundfont(sound)
        drums = role in ("drums", "perc")
        self.track = track
        self.sound = sound
        self.program = spec.program_for(role)
        self.channel = DRUM_CHANNEL if drums else 0
        self._lib = lib
        self._settings = lib.new_fluid_settings()
        self._synth = None
        if not self._settings:
            raise HootError("libfluidsynth could not make its settings (out of memory?)")
        for name, value in (("synth.sample-rate", float(samplerate)), ("synth.gain", GAIN)):
            lib.fluid_settings_setnum(self._settings, name.encode(), value)
        for name, value in (
            ("synth.polyphony", POLYPHONY),
            ("synth.threadsafe-api", 0),
            ("synth.dynamic-sample-loading", 1),  # only the chosen program's samples
        ):
            lib.fluid_settings_setint(self._settings, name.encode(), value)
        self._synth = lib.new_fluid_synth(self._settings)
        if not self._synth:
            self.close()
            raise HootError("libfluidsynth could not make a synth (out of memory?)")
        font_id = lib.fluid_synth_sfload(self._synth, str(font).encode(), 1)
        if font_id < 0:
            self.close()
            raise HootError(f"libfluidsynth could not read the SoundFont {font}")
        bank = DRUM_BANK if drums else 0
        if lib.fluid_synth_program_select(self._synth, self.channel, font_id, bank, self.program):
            self.close()
            raise HootError(f"{font.name} has no program {self.program} in bank {bank}")
        self.font = font
        # the block's events, in sample order: (sample, kind, a, b)
        self._at = np.zeros(EVENTS, np.int64)
        self._kind = np.zeros(EVENTS, np.int32)
        self._a = np.zeros(EVENTS, np.int32)
        self._b = np.zeros(EVENTS, np.int32)
        self._count = 0
        self._out = np.zeros((max_block, 2), np.float32)
        self._out_ptr = self._out.ctypes.data  # taken once: render passes ints
        self._fade = (0.5 * (1 + np.cos(np.linspace(0, np.pi, FADE + 1)[1:]))).astype(np.float32)
        self.fade_from = -1  # all_off: the fade's first sample; -1 when none runs
        self.hushed = True  # before the first note, and after all_off until the next: the
        # reverb idles at ~1e-8, which would keep the track's meter off zero
        self.faults = 0
        self.played = 0

    # ---- the audio thread: the sink's calls, as VoicePool's --------------------------------

    def _event(self, sample: int, kind: int, a: int, b: int) -> None:
        n = self._count
        if n == EVENTS:  # a flood: play it now, out of time, rather than lose a note-off
            self._apply(kind, a, b)
            self.faults += 1
            return
        at, kinds, first, second = self._at, self._kind, self._a, self._b
        while n > 0 and at[n - 1] > sample:  # keep sample order; equal samples keep theirs
            n -= 1
            at[n + 1], kinds[n + 1] = at[n], kinds[n]
            first[n + 1], second[n + 1] = first[n], second[n]
        at[n], kinds[n], first[n], second[n] = sample, kind, a, b
        self._count += 1

    def note_on(
        self, sample: int, track: int, pitch: int, velocity: int, timbre: int, key: int
    ) -> None:
        """As VoicePool.note_on (`timbre` is the built-in patch, not used). REAL-TIME."""
        self._event(sample, NOTE_ON, pitch & 127, min(max(int(velocity), 0), 127))

    def note_off(self, sample: int, key: int) -> None:
        """As VoicePool.note_off; the pitch is the key's low seven bits. REAL-TIME."""
        self._event(sample, NOTE_OFF, key & 127, 0)

    def bend(self, sample: int, track: int, semitones: float) -> None:
        """As VoicePool.bend: the wheel, +-2 semitones at its ends. REAL-TIME."""
        wheel = min(max(round(8192 + semitones / 2.0 * 8192), 0), 16383)
        self._event(sample, BEND, wheel, 0)

    def all_off(self, sample: int) -> None:
        """Fade out over FADE frames from `sample`, then end every voice. REAL-TIME."""
        self._event(sample, ALL_OFF, 0, 0)

    def _apply(self, kind: int, a: int, b: int) -> None:
        lib, synth = self._lib, self._synth
        if kind == NOTE_ON:
            self.hushed = False
            lib.fluid_synth_noteon(synth, self.channel, a, b)
            self.played += 1
        elif kind == NOTE_OFF:
            lib.fluid_synth_noteoff(synth, self.channel, a)
        elif kind == BEND:
            lib.fluid_synth_pitch_bend(synth, self.channel, a)

    def render(self, s0: int, n: int, tb: np.ndarray) -> None:
        """Add this block [s0, s0 + n) of the synth into track buffer `tb[track]`, each event
        at its sample. REAL-TIME: never raises."""
        try:
            self._render(s0, n, tb[self.track])
        except Exception:  # noqa: BLE001 - the callback must never die
            self.faults += 1
            self._count = 0

    def _render(self, s0: int, n: int, dst: np.ndarray) -> None:
        lib, synth, ptr = self._lib, self._synth, self._out_ptr
        write = lib.fluid_synth_write_float
        end = s0 + n
        at, kind, a, b = self._at, self._kind, self._a, self._b
        done = 0  # frames of this block rendered
        i = 0
        count = self._count
        while i < count and at[i] < end:
            upto = max(int(at[i]) - s0, done)  # one already due plays at once
            if upto > done:
                self._write(write, synth, ptr, s0, done, upto)
                done = upto
            k = int(kind[i])
            if k == ALL_OFF:
                if self.fade_from < 0:
                    self.fade_from = s0 + done
            else:
                self._apply(k, int(a[i]), int(b[i]))
            i += 1
        if done < n:
            self._write(write, synth, ptr, s0, done, n)
        if i:  # what lies beyond this block waits for the next
            rest = count - i
            if rest:
                at[:rest] = at[i:count]
                kind[:rest] = kind[i:count]
                a[:rest] = a[i:count]
                b[:rest] = b[i:count]
            self._count = rest
        out = self._out[:n]
        np.add(dst, out, out=dst)

    def _write(self, write, synth, ptr: int, s0: int, lo: int, hi: int) -> None:
        """Render frames [lo, hi) of the block into `_out`, fading while an all_off runs."""
        write(synth, hi - lo, ptr, 2 * lo, 2, ptr, 2 * lo + 1, 2)
        if self.hushed:
            self._out[lo:hi].fill(0)
            return
        start = self.fade_from
        if start < 0:
            return
        a, b = s0 + lo, s0 + hi  # absolute samples of this chunk
        f0 = max(a, start)
        f1 = min(b, start + FADE)
        if f1 > f0:
            chunk = self._out[f0 - s0 : f1 - s0]
            np.multiply(chunk, self._fade[f0 - start : f1 - start, None], out=chunk)
        if b > start + FADE:  # the fade is over: silence, and end every voice
            self._out[max(a, start + FADE) - s0 : hi].fill(0)
            self._lib.fluid_synth_all_sounds_off(synth, -1)
            self.fade_from = -1
            self.hushed = True

    @property
    def pending(self) -> int:
        """Events waiting to be played (tests)."""
        return self._count

    # ---- off the audio thread ------------------------------------------------------------

    def close(self) -> None:
        """Free the synth. Never on the audio thread; safe to call twice."""
        if self._synth:
            self._lib.delete_fluid_synth(self._synth)
            self._synth = None
        if self._settings:
            self._lib.delete_fluid_settings(self._settings)
            self._settings = None

    def __del__(self) -> None:
        self.close()
