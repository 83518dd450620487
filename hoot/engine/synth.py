"""A polyphonic synth voice pool that runs on the real-time audio thread.

The engine plays MIDI stems (and, later, a live harmonizer) through one
`VoicePool`. Everything here except `__init__` is real-time code, called from the
audio callback, and follows these rules:

* No allocation of audio-sized memory after `__init__`: every buffer is made
  there, and `render` works with in-place numpy (`out=` arguments and slice
  assignment) on views of those buffers. Only small Python ints, floats and
  views are created per block.
* No locks, no logging, no I/O, and no exception escapes: each public method
  catches everything, counts it in `faults` and drops the event or, in
  `render`, adds nothing for the failing block.
* All sounding voices are computed together as one (voices x frames) array; the
  only Python loops walk over events or over the voice table when it changes.
* Output is bit-identical whatever the block size. Every sample of a voice is a
  pure function of its absolute sample index, measured from the voice's note-on,
  note-off and silence samples, and of parameters fixed when the note started.
  The only value carried from block to block is each voice's count of samples
  since note-on, an exact integer in float64, so carrying it is exact.
  Oscillators and drums are read from precomputed tables with linear
  interpolation (only +, *, floor and integer masks), because SIMD and scalar
  builds of sin/exp may round differently at array tails; envelopes use only
  +, *, / and min/max on exact sample counts. Each track's voices are summed in
  note-on order from +0.0, so voices that have ended but are not yet freed
  (which depends on where blocks split) add exact zeros and change nothing.

Calling convention, from the engine's `forward()`: for the block of absolute
samples `[s0, s0 + frames)`, first give the block's events (`note_on`,
`note_off`, `release_track`, `silence`, `bend`) with their own sample numbers (which may
also lie in a later block), then call `render(s0, frames, out)`. Give the events
of one sample in order, note-offs before note-ons. An event for a sample that is
already rendered takes effect at the next unrendered sample.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from hoot.music.sounds import LIVE_PATCHES as PATCHES

# The synth's patches, by number; hoot.music.sounds says which sound each one plays.
SINE, SAW, SQUARE, PLUCK, PAD, BASS, DRUMS = range(len(PATCHES))

TABLE_SIZE = 2048
"""Samples in one cycle of a wavetable: room for 1023 harmonics."""

OCTAVE_BANDS = 11
"""Wavetables per timbre: one per octave of MIDI pitch, each with only the harmonics that
stay below Nyquist for the octave's top note, so high notes do not alias."""

START_PHASE = 0.25
"""Wavetables start a quarter cycle in, away from where the waves cross zero, so a note's
first sample (read one step past the start) is already audible: the note lands exactly on
its note-on sample, softly, as the attack begins."""

SILENCE_SECONDS = 0.005
"""Fade length of `silence()` and of a stolen voice: short, yet not a click."""

PEAK = 0.5
"""A voice at full velocity peaks at or below this (-6 dBFS), leaving headroom for chords."""

NEVER = 2**62
"""Sample number of an event that has not happened (a held note's note-off)."""

_TIME_LIMIT = 2**23
"""Envelopes see times clamped to this many samples, so float32 holds them exactly; every
envelope has settled long before (it is 174 s at 48 kHz)."""

# Rows of the int64 voice table. OFF and KILL must stay adjacent: render turns both
# into block-relative times with one subtraction.
_ON, _OFF, _KILL, _END, _SERIAL, _KEY, _TRACK = range(7)
_BASE, _MASK, _ATTACK, _RELEASE, _NATURAL, _ONE_SHOT = range(7, 13)
_INT_ROWS = 13
# Rows of the float64 table: table samples advanced per output sample (the patch's, times
# the track's pitch bend), the patch's own increment, and the phase offset that keeps the
# wave continuous where a bend changed the increment.
_INC, _BASE_INC, _PHASE = range(3)
_F64_ROWS = 3
# Rows of the float32 table: envelope rates (1 / length in samples), the darkening time
# in samples (infinite for a steady tone) and the gain.
_ATTACK_RATE, _DECAY_RATE, _SUSTAIN, _DECAY_DEPTH, _DARKEN_TIME, _RELEASE_RATE, _GAIN = range(7)
_FLOAT_ROWS = 7


@dataclass(frozen=True)
class _Patch:
    """How one timbre plays: envelope times in seconds, and a level (times PEAK)."""

    attack: float
    release: float
    level: float
    decay: float = 0.0  # 0: no decay; else seconds to fall to `sustain`
    sustain: float = 1.0
    darken: float = 0.0  # 0: a steady tone; else seconds for the tone to get half dark


_PATCHES = {
    SINE: _Patch(attack=0.005, release=0.08, level=1.0),
    # Saw and square are full of harmonics and sound louder than a sine at the same peak.
    SAW: _Patch(attack=0.004, release=0.06, level=0.6),
    SQUARE: _Patch(attack=0.004, release=0.06, level=0.55),
    PLUCK: _Patch(attack=0.002, release=0.15, level=0.9, decay=1.6, sustain=0.0, darken=0.08),
    PAD: _Patch(attack=0.45, release=0.9, level=0.6, darken=1.5),
    BASS: _Patch(attack=0.004, release=0.07, level=0.9, decay=0.6, sustain=0.6, darken=0.15),
}
_DRUM_TONE = _Patch(attack=0.001, release=0.0, level=0.8, decay=0.25, sustain=0.0, darken=0.03)


def _harmonics(kind: str, count: int) -> np.ndarray:
    """Sine amplitudes of harmonics 1..count of a named wave."""
    h = np.arange(1, count + 1, dtype=np.float64)
    odd = h % 2 == 1
    if kind == "sine":
        return (h == 1).astype(np.float64)
    if kind == "saw":
        return 1 / h
    if kind == "square":
        return np.where(odd, 1 / h, 0.0)
    if kind == "pluck":
        # A string plucked a fifth of the way along loses the harmonics with a node there.
        return np.abs(np.sin(np.pi * h * 0.2)) / h
    if kind == "pluck_dark":
        return np.abs(np.sin(np.pi * h * 0.2)) / h / (1 + (h / 2) ** 4)
    if kind == "pad":
        return np.where(odd, 1.0, 0.6) / h**1.3
    if kind == "pad_dark":
        return np.where(odd, 1.0, 0.5) / h**2.5
    if kind == "bass":
        # A strong fundamental (the sub) under a saw and square blend.
        return np.where(h == 1, 1.0, 0.45 / h + np.where(odd, 0.25 / h, 0.0))
    if kind == "bass_dark":
        return _harmonics("bass", count) / (1 + (h / 2.5) ** 4)
    if kind == "tone":
        return np.where(odd, 1 / h**2, 0.0)
    raise ValueError(f"no harmonic recipe {kind!r}")


def _wavetable(amplitudes: np.ndarray) -> np.ndarray:
    """One cycle of the sum of sine harmonics, starting at START_PHASE, peak 1."""
    spectrum = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    h = np.arange(1, len(amplitudes) + 1)
    spectrum[h] = amplitudes * (-1j) * np.exp(2j * np.pi * h * START_PHASE) * (TABLE_SIZE / 2)
    table = np.fft.irfft(spectrum, n=TABLE_SIZE)
    return table / np.max(np.abs(table))


def _pitch_hz(pitch: np.ndarray | int) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - 69) / 12)


def _smooth(signal: np.ndarray, width: int) -> np.ndarray:
    """A moving average: a cheap lowpass for shaping noise."""
    return np.convolve(signal, np.ones(width) / width, mode="same")


def _drum_kit(samplerate: int) -> dict[int, tuple[np.ndarray, float]]:
    """One-shot drum sounds by GM pitch: (samples, level). Built once, with a fixed seed."""
    sr = samplerate
    noise_gen = np.random.default_rng(20240611)

    def times(seconds: float) -> np.ndarray:
        return np.arange(int(seconds * sr)) / sr

    def noise(t: np.ndarray) -> np.ndarray:
        return noise_gen.uniform(-1.0, 1.0, len(t))

    def hiss(t: np.ndarray) -> np.ndarray:
        # Noise with its lows removed twice over: the sizzle of cymbals.
        white = noise(t)
        bright = white - _smooth(white, 3)
        return bright - _smooth(bright, 5)

    def kick(seconds: float, low: float, sweep: float, sweep_time: float, ring: float):
        t = times(seconds)
        hz = low + sweep * np.exp(-t / sweep_time)
        phase = 2 * np.pi * (np.cumsum(hz) - hz[0]) / sr
        click = hiss(t) * np.exp(-t / 0.002) * 0.3
        return np.cos(phase) * np.exp(-t / ring) + click

    def snare(seconds: float, body: float, rattle: float):
        t = times(seconds)
        tone = np.cos(2 * np.pi * body * t) * 0.6 + np.cos(2 * np.pi * body * 1.8 * t) * 0.3
        wires = noise(t) - _smooth(noise(t), 4)
        return tone * np.exp(-t / 0.05) + wires * np.exp(-t / rattle)

    def clap():
        t = times(0.35)
        band = _smooth(noise(t), 3) - _smooth(noise(t), 12)
        bursts = sum(
            np.where(t >= start, np.exp(-(t - start) / 0.004), 0.0) for start in (0, 0.011, 0.022)
        )
        tail = np.where(t >= 0.033, np.exp(-(t - 0.033) / 0.09), 0.0)
        return band * (bursts + tail)

    def hat(seconds: float, ring: float):
        t = times(seconds)
        # Square waves at inharmonic ratios add the metallic ring of a drum machine's hats.
        metal = sum(np.sign(np.sin(2 * np.pi * hz * t + 0.3)) for hz in (205, 304, 370, 523, 800))
        metal = metal - _smooth(metal, 4)
        return (hiss(t) + metal * 0.15) * np.exp(-t / ring)

    kit = {
        35: (kick(0.6, 40.0, 100.0, 0.05, 0.3), 1.0),
        36: (kick(0.5, 48.0, 120.0, 0.04, 0.22), 1.0),
        38: (snare(0.35, 185.0, 0.11), 0.85),
        40: (snare(0.4, 205.0, 0.15), 0.85),
        39: (clap(), 0.75),
        42: (hat(0.09, 0.018), 0.45),
        44: (hat(0.16, 0.035), 0.45),
        46: (hat(0.7, 0.2), 0.5),
    }
    shaped = {}
    for pitch, (sound, level) in kit.items():
        sound = np.asarray(sound, dtype=np.float64)
        # Ramp in over a few samples from a nonzero first sample, and out to exact zero.
        fade_in = min(8, len(sound))
        sound[:fade_in] *= np.arange(1, fade_in + 1) / fade_in
        fade_out = min(len(sound), max(1, int(0.01 * sr)))
        sound[-fade_out:] *= np.linspace(1.0, 0.0, fade_out)
        shaped[pitch] = (sound / np.max(np.abs(sound)), level)
    return shaped


class _Sounds:
    """Wavetables, drum samples and per-(timbre, pitch) voice parameters for one sample
    rate and block size. Built once, off the audio thread, and shared by pools."""

    def __init__(self, samplerate: int, max_block: int) -> None:
        self._build_tables(samplerate, max_block)
        self._build_patches(samplerate)
        for array in (self.table, self.slope, self.darker, self.darker_slope):
            array.setflags(write=False)  # shared by every pool at this rate

    def _build_tables(self, sr: int, max_block: int) -> None:
        tops = _pitch_hz(np.arange(OCTAVE_BANDS) * 12 + 11)
        counts = np.clip((0.45 * sr / tops).astype(int), 1, TABLE_SIZE // 2 - 1)
        bright: list[np.ndarray] = []
        dark: list[np.ndarray] = []

        def add(kind: str, dark_kind: str | None) -> list[int]:
            first = len(bright)
            for count in counts:
                bright.append(_wavetable(_harmonics(kind, count)))
                dark.append(_wavetable(_harmonics(dark_kind or kind, count)))
            return [(first + band) * TABLE_SIZE for band in range(OCTAVE_BANDS)]

        self.band_bases = {
            SINE: add("sine", None),
            SAW: add("saw", None),
            SQUARE: add("square", None),
            PLUCK: add("pluck", "pluck_dark"),
            PAD: add("pad", "pad_dark"),
            BASS: add("bass", "bass_dark"),
            DRUMS: add("tone", "sine"),
        }
        tonal = np.concatenate(bright)
        dark_tonal = np.concatenate(dark)

        kit = _drum_kit(sr)
        longest = max(len(sound) for sound, _ in kit.values())
        # Each drum gets a power-of-two slot so the same index mask that wraps a wavetable
        # keeps a drum's reads inside its slot; the slot's tail is silent, longer than a block.
        drum_slot = 1 << int(longest + max_block + 2).bit_length()
        drums = np.zeros(len(kit) * drum_slot)
        self.drums: dict[int, tuple[int, int, int, float]] = {}
        for number, (pitch, (sound, level)) in enumerate(sorted(kit.items())):
            start = number * drum_slot
            # Slot index 1 plays on the note-on sample (`since` counts it as 1).
            drums[start + 1 : start + 1 + len(sound)] = sound
            self.drums[pitch] = (len(tonal) + start, drum_slot - 1, len(sound) + 1, level)

        def slopes(tables: np.ndarray) -> np.ndarray:
            cycles = tables.reshape(-1, TABLE_SIZE)
            return (np.roll(cycles, -1, axis=1) - cycles).ravel()

        self.table = np.concatenate([tonal, drums]).astype(np.float32)
        # Drums are read at whole samples (fraction exactly 0), so their slope is never
        # used: the slope tables stop at the wavetables and take(mode="clip") stays inside.
        self.slope = slopes(tonal).astype(np.float32)
        # Darkening adds w * (dark - bright), so keep the difference and its slope.
        darker = dark_tonal - tonal
        self.darker = darker.astype(np.float32)
        self.darker_slope = slopes(darker).astype(np.float32)

    def _build_patches(self, sr: int) -> None:
        """Every voice parameter for each (timbre, pitch), so note_on only copies a column."""
        n_timbres = len(PATCHES)
        self.patch_int = np.zeros((n_timbres, 128, _INT_ROWS), dtype=np.int64)
        self.patch_f64 = np.zeros((n_timbres, 128, 1), dtype=np.float64)
        self.patch_f32 = np.zeros((n_timbres, 128, _FLOAT_ROWS), dtype=np.float32)
        self.patch_f32[:, :, _DARKEN_TIME] = np.inf  # a steady tone unless a patch darkens
        for timbre in range(n_timbres):
            for pitch in range(128):
                self._fill_patch(timbre, pitch, sr)
        self.velocity_gain = (np.arange(128) / 127.0) ** 1.5

    def _fill_patch(self, timbre: int, pitch: int, sr: int) -> None:
        ints = self.patch_int[timbre, pitch]
        floats = self.patch_f32[timbre, pitch]
        if timbre == DRUMS and pitch in self.drums:
            base, mask, length, level = self.drums[pitch]
            ints[[_BASE, _MASK, _ATTACK, _NATURAL, _ONE_SHOT]] = (base, mask, 1, length, 1)
            self.patch_f64[timbre, pitch, _INC] = 1.0  # whole samples: the fraction stays 0
            floats[[_ATTACK_RATE, _SUSTAIN, _GAIN]] = (1.0, 1.0, PEAK * level)
            return
        patch = _DRUM_TONE if timbre == DRUMS else _PATCHES[timbre]
        band = min(pitch // 12, OCTAVE_BANDS - 1)
        ints[_BASE] = self.band_bases[timbre][band]
        ints[_MASK] = TABLE_SIZE - 1
        self.patch_f64[timbre, pitch, _INC] = float(_pitch_hz(pitch)) * TABLE_SIZE / sr

        attack = max(1, round(patch.attack * sr))
        release = max(1, round(patch.release * sr))
        decay_seconds = patch.decay
        if timbre == PLUCK:
            # High strings die away sooner than low ones.
            decay_seconds = float(np.clip(decay_seconds * 2 ** (-(pitch - 60) / 30), 0.25, 4.0))
        ints[_ATTACK] = attack
        ints[_RELEASE] = release
        ints[_NATURAL] = NEVER
        floats[_ATTACK_RATE] = 1.0 / attack
        floats[_RELEASE_RATE] = 1.0 / release
        floats[_SUSTAIN] = patch.sustain
        floats[_DECAY_DEPTH] = 1.0 - patch.sustain
        floats[_GAIN] = PEAK * patch.level
        if decay_seconds > 0:
            decay = max(1, round(decay_seconds * sr))
            floats[_DECAY_RATE] = 1.0 / decay
            if patch.sustain == 0:
                # The decay reaches exact zero one sample after its length: the note is over.
                ints[_NATURAL] = decay + 1
        if patch.darken > 0:
            floats[_DARKEN_TIME] = patch.darken * sr
        if timbre == DRUMS:
            ints[_ONE_SHOT] = 1


@functools.lru_cache(maxsize=4)
def _sounds(samplerate: int, max_block: int) -> _Sounds:
    return _Sounds(samplerate, max_block)


class VoicePool:
    """A fixed pool of synth voices, rendered together into per-track stereo buffers.

    `max_voices` notes sound at once; a note beyond that steals the oldest one
    (preferring notes already released), which fades out in SILENCE_SECONDS.
    Fading voices use spare slots, so the pool holds up to `2 * max_voices`. If more
    than that many voices start and end within one block, the voice ending first is
    overwritten: the only case in which output depends on the block size.

    Not thread-safe by design (no locks): call every method from the audio thread.
    Buffers are sized for `max_block` frames; a longer render is done in pieces.
    """

    def __init__(
        self, samplerate: int, n_tracks: int, max_voices: int = 32, max_block: int = 4096
    ) -> None:
        if samplerate < 8000 or n_tracks < 1 or max_voices < 1 or max_block < 1:
            raise ValueError(
                f"VoicePool needs samplerate >= 8000 and at least one track, voice and frame; "
                f"got samplerate={samplerate}, n_tracks={n_tracks}, max_voices={max_voices}, "
                f"max_block={max_block}"
            )
        self.samplerate = int(samplerate)
        self.n_tracks = int(n_tracks)
        self.max_voices = int(max_voices)
        self.max_block = int(max_block)
        self.faults = 0
        """Events dropped and blocks left silent because something went wrong."""
        self.last_fault = ""
        """What went wrong most recently, for the console to show off the audio thread."""

        self._kill_len = max(1, round(SILENCE_SECONDS * self.samplerate))
        self._kill_rate = np.float32(1.0 / self._kill_len)
        sounds = _sounds(self.samplerate, self.max_block)
        self._table, self._slope = sounds.table, sounds.slope
        self._darker, self._darker_slope = sounds.darker, sounds.darker_slope
        self._patch_int, self._patch_f64 = sounds.patch_int, sounds.patch_f64
        self._patch_f32, self._velocity_gain = sounds.patch_f32, sounds.velocity_gain

        cap = 2 * self.max_voices
        self._cap = cap
        self._n = 0  # voices in slots [0, n), in note-on order except after an overload
        self._serial = 0
        self._pos = -NEVER  # first sample not yet rendered
        self._int = np.zeros((_INT_ROWS, cap), dtype=np.int64)
        self._f64 = np.zeros((_F64_ROWS, cap), dtype=np.float64)
        self._f32 = np.zeros((_FLOAT_ROWS, cap), dtype=np.float32)
        self._int_spare = np.zeros_like(self._int)
        self._f64_spare = np.zeros_like(self._f64)
        self._f32_spare = np.zeros_like(self._f32)
        self._hit = np.zeros(cap, dtype=bool)
        self._hit2 = np.zeros(cap, dtype=bool)
        self._scratch = np.zeros(cap, dtype=np.int64)
        self._offsets = np.zeros(2 * cap, dtype=np.int64)
        self._offsets32 = np.zeros(2 * cap, dtype=np.float32)
        self._block_since = np.zeros(cap, dtype=np.float64)
        # Bumped whenever a slot changes hands; caches below are valid for one version.
        self._version = 0

        # Summaries of the voice table that let render skip envelope stages no voice is
        # in. Skipping is exact: a skipped stage would multiply by exactly 1.
        self._earliest_end = NEVER
        self._attack_until = -NEVER
        self._latest_on = -NEVER
        self._first_off = NEVER
        self._first_kill = NEVER
        self._any_decay = False
        self._any_sustain_level = False
        self._any_darken = False
        self._any_phase = False  # some voice has a phase offset from a bend

        # Pitch bend: the ratio each track's tonal voices play at now, and bends given for
        # later samples, (sample, track, ratio) in the order given; render splits its
        # chunks at them, so a bend lands on its sample whatever the block size.
        self._bend_ratio = np.ones(self.n_tracks, dtype=np.float64)
        self._bends: list[tuple[int, int, float]] = []

        # Routing (see _route): the rows to gather for mixing, and how they are laid out.
        self._routed_version = -1
        self._mix_rows = 2 * (cap + self.n_tracks)
        self._rowmap = np.zeros(self._mix_rows, dtype=np.intp)
        self._rows = 0
        self._ranks = 0  # > 0: a rank-major layout of that many ranks; 0: a reduceat layout
        self._starts = np.zeros(self.n_tracks, dtype=np.intp)

        size = cap * self.max_block
        # Samples since each voice's note-on, (voices x frames). Exact integers in float64,
        # so moving them on by a block is exact: render adds `frames` while the voices
        # and block size stay the same, and recomputes them otherwise.
        self._since = np.zeros(size, dtype=np.float64)
        self._since_key = (-1, -1, 0)  # (version, frames, first sample of the next block)
        # Per-voice parameters spread over (voices x frames), refreshed when the voices or
        # the block size change: elementwise ops run far faster than broadcasting ones.
        self._spreads = {
            "inc": np.zeros(size, dtype=np.float64),
            "phase": np.zeros(size, dtype=np.float64),
            "mask": np.zeros(size, dtype=np.intp),
            "base": np.zeros(size, dtype=np.intp),
        }
        for name in ("attack", "decay", "sustain", "depth", "darken", "release", "gain", "count"):
            self._spreads[name] = np.zeros(size, dtype=np.float32)
        self._spreads["count from 1"] = np.zeros(size, dtype=np.float64)
        self._spread_sources: dict[str, tuple[np.ndarray, int | None]] = {
            "inc": (self._f64, _INC),
            "phase": (self._f64, _PHASE),
            "mask": (self._int, _MASK),
            "base": (self._int, _BASE),
            "attack": (self._f32, _ATTACK_RATE),
            "decay": (self._f32, _DECAY_RATE),
            "sustain": (self._f32, _SUSTAIN),
            "depth": (self._f32, _DECAY_DEPTH),
            "darken": (self._f32, _DARKEN_TIME),
            "release": (self._f32, _RELEASE_RATE),
            "gain": (self._f32, _GAIN),
            # Not per-voice: the block's sample counts, the same on every voice's row.
            "count": (np.arange(self.max_block, dtype=np.float32), None),
            "count from 1": (np.arange(1, self.max_block + 1, dtype=np.float64), None),
        }
        self._block_key = (-1, -1)
        self._block: _BlockViews | None = None
        self._phase = np.zeros(size, dtype=np.float64)
        self._floor = np.zeros(size, dtype=np.float64)
        self._index = np.zeros(size, dtype=np.intp)
        self._frac = np.zeros(size, dtype=np.float32)
        self._since_on = np.zeros(size, dtype=np.float32)
        self._env = np.zeros(size, dtype=np.float32)
        self._work = np.zeros(size, dtype=np.float32)
        self._work2 = np.zeros(size, dtype=np.float32)
        self._dark = np.zeros(size, dtype=np.float32)
        self._voices = np.zeros(size + self.max_block, dtype=np.float32)  # + the zero row
        self._sorted = np.zeros(self._mix_rows * self.max_block, dtype=np.float32)
        self._mix = np.zeros(self.n_tracks * self.max_block, dtype=np.float32)
        self._stereo = np.zeros(self.n_tracks * self.max_block * 2, dtype=np.float32)
        self._sounding_tracks: list[int] = []

    # Events ---------------------------------------------------------------------------

    def note_on(
        self, sample: int, track: int, pitch: int, velocity: int, timbre: int, key: int
    ) -> None:
        """Start a note at absolute `sample` on `track`; `key` names it for `note_off`.

        A velocity of 0 is a note-off, as in MIDI. Out-of-range tracks, pitches or timbres
        are dropped and counted in `faults`.
        """
        try:
            sample, track, pitch, velocity = int(sample), int(track), int(pitch), int(velocity)
            timbre, key = int(timbre), int(key)
            # The voice table holds int64: refuse what does not fit before taking a slot.
            np.int64(sample), np.int64(key)
            if not (0 <= track < self.n_tracks and 0 <= pitch < 128 and 0 <= timbre < len(PATCHES)):
                self._fault(f"note_on dropped: track {track}, pitch {pitch}, timbre {timbre}")
                return
            if velocity <= 0:
                self.note_off(sample, key)
                return
            velocity = min(velocity, 127)
            sample = max(sample, self._pos)
            self._make_room(sample)
            slot = self._free_slot()

            self._int[:, slot] = self._patch_int[timbre, pitch]
            base_inc = self._patch_f64[timbre, pitch, _INC]
            self._f64[_BASE_INC, slot] = base_inc
            self._f64[_PHASE, slot] = 0.0
            one_shot = self._int[_ONE_SHOT, slot]
            self._f64[_INC, slot] = base_inc if one_shot else base_inc * self._bend_ratio[track]
            self._f32[:, slot] = self._patch_f32[timbre, pitch]
            self._f32[_GAIN, slot] *= self._velocity_gain[velocity]
            natural = int(self._int[_NATURAL, slot])
            end = sample + natural if natural < NEVER else NEVER
            column = self._int[:, slot]
            column[_ON] = sample
            column[_OFF] = NEVER
            column[_KILL] = NEVER
            column[_END] = end
            column[_SERIAL] = self._serial
            column[_KEY] = key
            column[_TRACK] = track
            self._serial += 1

            self._earliest_end = min(self._earliest_end, end)
            self._attack_until = max(self._attack_until, sample + int(column[_ATTACK]) + 1)
            self._latest_on = max(self._latest_on, sample)
            floats = self._f32[:, slot]
            self._any_decay |= bool(floats[_DECAY_RATE] > 0)
            self._any_sustain_level |= bool(0 < floats[_SUSTAIN] < 1)
            self._any_darken |= bool(floats[_DARKEN_TIME] < np.inf)
            self._version += 1
        except Exception as exc:  # noqa: BLE001 (nothing may escape to the audio thread)
            self._fault(f"note_on failed: {exc!r}")

    def note_off(self, sample: int, key: int) -> None:
        """Release, at `sample`, the held voices started with `key` at or before `sample`.

        Drum voices ignore note-offs: a hit always rings out.
        """
        try:
            sample = max(int(sample), self._pos)
            n = self._n
            hit, hit2 = self._hit[:n], self._hit2[:n]
            np.equal(self._int[_KEY, :n], int(key), out=hit)
            np.less_equal(self._int[_ON, :n], sample, out=hit2)
            hit &= hit2
            self._release(sample, hit)
        except Exception as exc:  # noqa: BLE001 (nothing may escape to the audio thread)
            self._fault(f"note_off failed: {exc!r}")

    def release_track(self, sample: int, track: int) -> None:
        """Release every held voice on `track` at `sample`; notes set to start later are
        cancelled. Drum hits ring out."""
        try:
            sample = max(int(sample), self._pos)
            n = self._n
            hit, later = self._hit[:n], self._hit2[:n]
            np.equal(self._int[_TRACK, :n], int(track), out=hit)
            np.greater(self._int[_ON, :n], sample, out=later)
            later &= hit
            self._cancel(later)
            np.logical_not(later, out=later)
            hit &= later
            self._release(sample, hit)
        except Exception as exc:  # noqa: BLE001 (nothing may escape to the audio thread)
            self._fault(f"release_track failed: {exc!r}")

    def silence(self, sample: int, track: int | None = None) -> None:
        """Fade out every voice (on `track`, or everywhere if None) in SILENCE_SECONDS from
        `sample`, drums included; notes set to start later are cancelled. The panic button."""
        try:
            sample = max(int(sample), self._pos)
            n = self._n
            hit, later = self._hit[:n], self._hit2[:n]
            if track is None:
                hit[:] = True
            else:
                np.equal(self._int[_TRACK, :n], int(track), out=hit)
            np.greater(self._int[_ON, :n], sample, out=later)
            later &= hit
            self._cancel(later)
            np.logical_not(later, out=later)
            hit &= later
            self._kill(sample, hit)
        except Exception as exc:  # noqa: BLE001 (nothing may escape to the audio thread)
            self._fault(f"silence failed: {exc!r}")

    def bend(self, sample: int, track: int, semitones: float) -> None:
        """From `sample` on, play `track`'s tonal voices (sounding ones and later notes)
        `semitones` away from their pitch, as a pitch wheel does on a hardware synth's
        channel: the wave stays continuous and its frequency steps at the sample. A stream
        of bends is a glide. Drum hits are not bent.

        Bends for samples not yet rendered wait in a short list, in the order given;
        render splits its chunks at them, so output stays bit-identical at any block size.
        """
        try:
            sample, track = int(sample), int(track)
            ratio = float(2.0 ** (float(semitones) / 12.0))
            if not (0 <= track < self.n_tracks and np.isfinite(ratio)):
                self._fault(f"bend dropped: track {track}, {semitones} semitones")
                return
            if len(self._bends) >= self.max_voices * 8:
                self._fault("bend dropped: too many bends waiting for one block")
                return
            self._bends.append((max(sample, self._pos), track, ratio))
        except Exception as exc:  # noqa: BLE001 (nothing may escape to the audio thread)
            self._fault(f"bend failed: {exc!r}")

    @property
    def active(self) -> int:
        """Voices sounding, fading or waiting to start."""
        return self._n

    # Voice bookkeeping ----------------------------------------------------------------

    def _fault(self, what: str) -> None:
        self.faults += 1
        self.last_fault = what

    def _apply_bend(self, sample: int, track: int, ratio: float) -> None:
        """Give `track`'s tonal voices the increment `ratio` times their patch's from
        `sample` on. A sounding voice's phase offset moves so that its wave is continuous
        there: since * inc + phase is the same on both sides of the bend sample."""
        self._bend_ratio[track] = ratio
        n = self._n
        if n == 0:
            return
        ints, f64 = self._int, self._f64
        hit, later = self._hit[:n], self._hit2[:n]
        np.equal(ints[_TRACK, :n], track, out=hit)
        np.equal(ints[_ONE_SHOT, :n], 0, out=later)
        hit &= later
        if not hit.any():
            return
        for voice in np.flatnonzero(hit).tolist():
            base = f64[_BASE_INC, voice]
            new_inc = base * ratio
            since = float(sample - int(ints[_ON, voice]) + 1)
            if since > 0:
                f64[_PHASE, voice] += since * (f64[_INC, voice] - new_inc)
            else:  # not started yet: it starts fresh at the new pitch
                f64[_PHASE, voice] = 0.0
            f64[_INC, voice] = new_inc
        self._any_phase = bool(np.any(f64[_PHASE, :n] != 0.0))
        self._version += 1

    def _release(self, sample: int, hit: np.ndarray) -> None:
        """Start the release of the `hit` voices that are held and not one-shots."""
        n = self._n
        ints = self._int
        held = self._scratch[:n].view(bool)[:n]  # a bool view of spare int memory
        np.equal(ints[_OFF, :n], NEVER, out=held)
        hit &= held
        np.equal(ints[_ONE_SHOT, :n], 0, out=held)
        hit &= held
        if not hit.any():
            return
        np.copyto(ints[_OFF, :n], sample, where=hit)
        self._lower_end(ints[_RELEASE, :n], sample + 1, hit)
        self._first_off = min(self._first_off, sample)

    def _kill(self, sample: int, hit: np.ndarray) -> None:
        """Fade the `hit` voices out from `sample` (keeping an earlier fade if they have one)."""
        n = self._n
        ints = self._int
        later = self._scratch[:n].view(bool)[:n]
        np.greater(ints[_KILL, :n], sample, out=later)
        hit &= later
        if not hit.any():
            return
        np.copyto(ints[_KILL, :n], sample, where=hit)
        ends = self._scratch[:n]
        ends[:] = sample + self._kill_len + 1
        self._lower_end(ends, 0, hit)
        self._first_kill = min(self._first_kill, sample)

    def _cancel(self, hit: np.ndarray) -> None:
        """Silence voices before they start: their fade is over by their note-on."""
        if not hit.any():
            return
        n = self._n
        ints = self._int
        ends = self._scratch[:n]
        np.subtract(ints[_ON, :n], self._kill_len + 1, out=ends)
        np.copyto(ints[_KILL, :n], ends, where=hit)
        self._first_kill = min(self._first_kill, int(np.min(ends, where=hit, initial=NEVER)))
        self._lower_end(ints[_ON, :n], 0, hit)

    def _lower_end(self, lengths: np.ndarray, offset: int, hit: np.ndarray) -> None:
        """END = min(END, lengths + offset) for the `hit` voices."""
        n = self._n
        ends = self._scratch[:n]
        np.add(lengths, offset, out=ends)
        np.minimum(ends, self._int[_END, :n], out=ends)
        np.copyto(self._int[_END, :n], ends, where=hit)
        self._earliest_end = min(self._earliest_end, int(np.min(ends, where=hit, initial=NEVER)))

    def _make_room(self, sample: int) -> None:
        """Steal a voice if `max_voices` are already sounding at `sample`.

        Voices already fading (stolen or silenced) do not count. The victim is the oldest
        released voice, or if none is released, the oldest voice.
        """
        n = self._n
        ints = self._int
        busy, released = self._hit[:n], self._hit2[:n]
        np.greater(ints[_END, :n], sample, out=busy)
        np.equal(ints[_KILL, :n], NEVER, out=released)
        busy &= released
        if np.count_nonzero(busy) < self.max_voices:
            return
        np.less_equal(ints[_OFF, :n], sample, out=released)
        released &= busy
        pool = released if released.any() else busy
        serials = self._scratch[:n]
        serials[:] = NEVER
        np.copyto(serials, ints[_SERIAL, :n], where=pool)
        victim = int(np.argmin(serials))
        pool[:] = False
        pool[victim] = True
        self._kill(sample, pool)

    def _free_slot(self) -> int:
        if self._n < self._cap:
            self._n += 1
            return self._n - 1
        # Every slot is taken by sounding and fading voices within one block: overwrite
        # the voice that ends first. Rare, and the only case that depends on block size.
        slot = int(np.argmin(self._int[_END, : self._n]))
        self._version += 1
        return slot

    def _reap(self, now: int) -> None:
        """Free the slots of voices that are silent from `now` on, keeping note-on order."""
        n = self._n
        keep = self._hit[:n]
        np.greater(self._int[_END, :n], now, out=keep)
        count = int(np.count_nonzero(keep))
        if count < n:
            for table, spare in (
                (self._int, self._int_spare),
                (self._f64, self._f64_spare),
                (self._f32, self._f32_spare),
            ):
                np.compress(keep, table[:, :n], axis=1, out=spare[:, :count])
                table[:, :count] = spare[:, :count]
            self._n = count
            self._version += 1
        self._summarize()

    def _summarize(self) -> None:
        """Recompute the voice-table summaries after voices leave."""
        n = self._n
        if n == 0:
            self._earliest_end = NEVER
            self._attack_until = self._latest_on = -NEVER
            self._first_off = self._first_kill = NEVER
            self._any_decay = self._any_sustain_level = self._any_darken = False
            self._any_phase = False
            return
        ints, floats = self._int, self._f32
        self._earliest_end = int(ints[_END, :n].min())
        ends = self._scratch[:n]
        np.add(ints[_ON, :n], ints[_ATTACK, :n], out=ends)
        self._attack_until = int(ends.max()) + 1
        self._latest_on = int(ints[_ON, :n].max())
        self._first_off = int(ints[_OFF, :n].min())
        self._first_kill = int(ints[_KILL, :n].min())
        self._any_decay = bool(floats[_DECAY_RATE, :n].max() > 0)
        # depth * sustain > 0 exactly when 0 < sustain < 1, as depth = 1 - sustain.
        partial = self._offsets32[:n]
        np.multiply(floats[_DECAY_DEPTH, :n], floats[_SUSTAIN, :n], out=partial)
        self._any_sustain_level = bool(partial.max() > 0)
        self._any_darken = bool(floats[_DARKEN_TIME, :n].min() < np.inf)
        self._any_phase = bool(np.any(self._f64[_PHASE, :n] != 0.0))

    def _route(self) -> None:
        """Lay out the rows that mixing gathers, so every track's voices are summed in
        note-on order starting from +0.0, whichever voices are present.

        That order makes the mix bit-exact whatever the block size: a voice that has
        ended but is not yet freed adds exact zeros, which change no sum. Rank-major
        layout: row `rank * n_tracks + track` holds the track's rank-th voice or the zero
        row, and one reduce over ranks sums all tracks. When one track holds most voices
        that layout would be mostly padding, so instead each track's voices follow a zero
        row and reduceat sums the runs.
        """
        n = self._n
        tracks = self._int[_TRACK, :n].tolist()
        serials = self._int[_SERIAL, :n].tolist()
        by_track: list[list[int]] = [[] for _ in range(self.n_tracks)]
        for voice in sorted(range(n), key=serials.__getitem__):
            by_track[tracks[voice]].append(voice)
        ranks = max(1, max(len(voices) for voices in by_track))
        self._sounding_tracks = [track for track, voices in enumerate(by_track) if voices]
        rowmap = self._rowmap
        zero_row = n  # render keeps a row of zeros after the last voice
        if ranks * self.n_tracks <= self._mix_rows:
            rowmap[: ranks * self.n_tracks] = zero_row
            for track, voices in enumerate(by_track):
                for rank, voice in enumerate(voices):
                    rowmap[rank * self.n_tracks + track] = voice
            self._ranks = ranks
            self._rows = ranks * self.n_tracks
        else:
            row = 0
            for track, voices in enumerate(by_track):
                self._starts[track] = row
                rowmap[row] = zero_row
                rowmap[row + 1 : row + 1 + len(voices)] = voices
                row += 1 + len(voices)
            self._ranks = 0
            self._rows = row
        self._routed_version = self._version

    # Rendering ------------------------------------------------------------------------

    def render(self, s0: int, frames: int, out: np.ndarray) -> None:
        """Add the voices' sound for absolute samples `[s0, s0 + frames)` into
        `out[track, :frames, :]` (float32, shape (n_tracks, >= frames, 2)).

        Each voice is mono and goes to both channels at equal level. Never raises: on an
        error it adds nothing for the failing block and counts a fault.
        """
        try:
            s0, frames = int(s0), int(frames)
        except Exception as exc:  # noqa: BLE001 (nothing may escape to the audio thread)
            self._fault(f"render called with bad arguments: {exc!r}")
            return
        done = 0
        while done < frames:
            chunk = min(frames - done, self.max_block)
            start = s0 + done
            try:
                bends = self._bends
                while bends and bends[0][0] <= start:
                    self._apply_bend(*bends.pop(0))
                if bends and bends[0][0] < start + chunk:
                    chunk = bends[0][0] - start
            except Exception as exc:  # noqa: BLE001 (nothing may escape to the audio thread)
                self._bends.clear()
                self._fault(f"bending failed at sample {start}: {exc!r}")
            try:
                if self._n:
                    self._render_chunk(start, chunk, out, done)
            except Exception as exc:  # noqa: BLE001 (nothing may escape to the audio thread)
                self._fault(f"render failed at sample {start}: {exc!r}")
            try:
                self._pos = start + chunk
                if self._earliest_end <= self._pos:
                    self._reap(self._pos)
            except Exception as exc:  # noqa: BLE001 (nothing may escape to the audio thread)
                self._fault(f"freeing voices failed at sample {start}: {exc!r}")
            done += chunk

    def _views(self, frames: int) -> _BlockViews:
        """Views of the work buffers shaped (voices x frames), made again only when the
        voices or the block size change."""
        key = (self._version, frames)
        if self._block_key != key:
            self._block = _BlockViews(self, frames)
            self._block_key = key
        return self._block

    def _render_chunk(self, s0: int, frames: int, out: np.ndarray, offset: int) -> None:
        n = self._n
        if self._routed_version != self._version:
            self._route()
        end = s0 + frames
        views = self._views(frames)
        spread = views.spread

        # Samples since note-on, counting the note-on sample as 1 (so 0 and below before
        # the note starts).
        since = views.since
        if self._since_key == (self._version, frames, s0):
            np.add(since, frames, out=since)
        else:
            # Broadcasting ufuncs make numpy allocate iteration buffers, so broadcast
            # with copyto (which does not) and then add elementwise.
            since0 = self._block_since[:n]
            np.subtract(s0, self._int[_ON, :n], out=self._scratch[:n])
            np.copyto(since0, self._scratch[:n])
            np.copyto(since, since0[:, None])
            np.add(since, spread("count from 1"), out=since)
        self._since_key = (self._version, frames, end)

        # Oscillator: the table position is `since` * increment, one rounding from exact
        # integers, so it does not depend on where blocks split.
        phase, whole, frac, index = views.phase, views.whole, views.frac, views.index
        np.multiply(since, spread("inc"), out=phase)
        if self._any_phase:
            np.add(phase, spread("phase"), out=phase)
        np.floor(phase, out=whole)
        np.subtract(phase, whole, out=phase)
        np.copyto(frac, phase)
        np.copyto(index, whole, casting="unsafe")
        np.bitwise_and(index, spread("mask"), out=index)
        np.add(index, spread("base"), out=index)
        wave, work = views.wave, views.work
        np.take(self._table, index, out=wave, mode="clip")
        np.take(self._slope, index, out=work, mode="clip")
        np.multiply(work, frac, out=work)
        np.add(wave, work, out=wave)

        attack = s0 < self._attack_until
        since_on = views.since_on
        if self._any_darken or self._any_decay or attack:
            # `since` as float32 for the envelopes, floored at 0 before the note starts.
            # Exact below 2**24 samples; beyond, rounding is the same in every block.
            np.copyto(since_on, since)
            if self._latest_on > s0:
                np.maximum(since_on, 0, out=since_on)

        if self._any_darken:
            # Crossfade towards the dark table by w = t / (t + darken time): add w times
            # (dark - bright). Voices that do not darken (an infinite time) have w == 0
            # exactly and keep the bright wave (drums read the clipped end of the table).
            dark, weight = views.dark, views.weight
            np.take(self._darker, index, out=dark, mode="clip")
            np.take(self._darker_slope, index, out=work, mode="clip")
            np.multiply(work, frac, out=work)
            np.add(dark, work, out=dark)
            np.add(since_on, spread("darken"), out=weight)
            np.divide(since_on, weight, out=weight)
            np.multiply(dark, weight, out=dark)
            np.add(wave, dark, out=wave)

        # The envelope is a product of stages; a stage no voice is in would be exactly 1
        # everywhere, so it is skipped without changing a bit. The first stage computed
        # goes straight into `env`, later ones through `work`.
        env = views.env
        shaped = False
        if attack:
            np.multiply(since_on, spread("attack"), out=env)
            np.minimum(env, 1, out=env)
            shaped = True
        if self._any_decay:
            # (1 - t / decay)^4, clamped at 0: close to exponential, and exactly 0 at the end.
            stage = work if shaped else env
            np.multiply(since_on, spread("decay"), out=stage)
            np.subtract(1, stage, out=stage)
            np.maximum(stage, 0, out=stage)
            np.multiply(stage, stage, out=stage)
            np.multiply(stage, stage, out=stage)
            if self._any_sustain_level:
                np.multiply(stage, spread("depth"), out=stage)
                np.add(stage, spread("sustain"), out=stage)
            if shaped:
                np.multiply(env, work, out=env)
            shaped = True
        releasing, killing = self._first_off < end, self._first_kill < end
        if releasing or killing:
            # Samples since note-off and kill at the block's first sample: exact integers,
            # clamped so float32 holds them (long after every fade has ended).
            offsets = self._offsets[: 2 * n].reshape(2, n)
            np.subtract(s0, self._int[_OFF : _KILL + 1, :n], out=offsets)
            np.maximum(offsets, -_TIME_LIMIT, out=offsets)
            np.minimum(offsets, _TIME_LIMIT, out=offsets)
            offsets32 = self._offsets32[: 2 * n].reshape(2, n)
            np.copyto(offsets32, offsets)
            if releasing:
                stage = work if shaped else env
                self._ramp_down(offsets32[0], spread("release"), spread("count"), stage)
                if shaped:
                    np.multiply(env, work, out=env)
                shaped = True
            if killing:
                stage = work if shaped else env
                self._ramp_down(offsets32[1], self._kill_rate, spread("count"), stage)
                if shaped:
                    np.multiply(env, work, out=env)
                shaped = True
        gain = spread("gain")
        if shaped:
            np.multiply(env, gain, out=env)
            np.multiply(wave, env, out=wave)
        else:
            np.multiply(wave, gain, out=wave)

        # Mix: sum each track's voices in a fixed order, copy the sums to both channels,
        # and add the stereo block to `out`.
        views.zero_row[:] = 0
        ordered, mix, stereo = views.ordered, views.mix, views.stereo
        np.take(views.voices, self._rowmap[: self._rows], axis=0, out=ordered, mode="clip")
        if self._ranks:
            np.add.reduce(views.by_rank, axis=0, out=mix, initial=0.0)
        else:
            np.add.reduceat(ordered, self._starts, axis=0, out=mix)
        np.copyto(stereo[:, :, 0], mix)
        np.copyto(stereo[:, :, 1], mix)
        block = out[: self.n_tracks, offset : offset + frames]
        if block.flags.c_contiguous:
            np.add(block, stereo, out=block)
        else:
            # Track by track each block is contiguous: an elementwise add needs no
            # buffers. Tracks without voices would only add zeros.
            for track in self._sounding_tracks:
                np.add(block[track], stereo[track], out=block[track])

    @staticmethod
    def _ramp_down(
        offsets: np.ndarray, rate: np.ndarray | np.float32, count: np.ndarray, work: np.ndarray
    ) -> None:
        """work = clip(1 - (samples since the ramp began) * rate, 0, 1), from each voice's
        `offsets` at the block's first sample and `count` = 0, 1, 2... along the block."""
        np.copyto(work, offsets[:, None])
        np.add(work, count, out=work)
        np.multiply(work, rate, out=work)
        np.subtract(1, work, out=work)
        np.minimum(work, 1, out=work)
        np.maximum(work, 0, out=work)


class _BlockViews:
    """A VoicePool's work buffers viewed as (voices x frames) arrays for one voice table
    version and block size, and its per-voice parameters spread to that shape on demand.

    Building views allocates small Python objects, so render keeps one set for as long
    as the voices and the block size stay the same.
    """

    def __init__(self, pool: VoicePool, frames: int) -> None:
        n = pool._n
        size = n * frames
        self._pool = pool
        self._n = n
        self._frames = frames
        self._spread: dict[str, np.ndarray] = {}

        def shaped(buffer: np.ndarray) -> np.ndarray:
            return buffer[:size].reshape(n, frames)

        self.since = shaped(pool._since)
        self.phase = shaped(pool._phase)
        self.whole = shaped(pool._floor)
        self.frac = shaped(pool._frac)
        self.index = shaped(pool._index)
        self.since_on = shaped(pool._since_on)
        self.env = shaped(pool._env)
        self.work = shaped(pool._work)
        self.weight = shaped(pool._work2)
        self.dark = shaped(pool._dark)
        # The voices' rows, then one row of zeros that mixing gathers as padding.
        self.voices = pool._voices[: size + frames].reshape(n + 1, frames)
        self.wave = self.voices[:n]
        self.zero_row = self.voices[n]
        rows = pool._rows
        self.ordered = pool._sorted[: rows * frames].reshape(rows, frames)
        self.by_rank = self.ordered.reshape(max(pool._ranks, 1), -1, frames)
        self.mix = pool._mix[: pool.n_tracks * frames].reshape(pool.n_tracks, frames)
        self.stereo = pool._stereo[: pool.n_tracks * frames * 2].reshape(pool.n_tracks, frames, 2)

    def spread(self, name: str) -> np.ndarray:
        """A per-voice parameter repeated across the frames (filled on first use)."""
        view = self._spread.get(name)
        if view is None:
            pool = self._pool
            view = pool._spreads[name][: self._n * self._frames].reshape(self._n, self._frames)
            source, row = pool._spread_sources[name]
            if row is None:
                np.copyto(view, source[None, : self._frames])
            else:
                np.copyto(view, source[row, : self._n, None])
            self._spread[name] = view
        return view
