"""Render note clips to loopable stereo audio: hoot's own synthesizers and drum kits.

This is the sound of hoot's embedded generator, rendered off the real-time path (in
worker processes) so it can spend numpy freely, but quickly, because the performer waits
for it. `render_clip` turns a `NoteClip` into exactly one loop of float32 stereo; whatever
rings past the loop's end (releases, echoes, reverb) is folded back onto its start, so
the loop plays seamlessly. `render_stem` also brings it to a target loudness.

How the sounds are made, and why that way:

* Oscillators read band-limited wavetables (additive, one set per 4 semitones, so no
  harmonic passes Nyquist) with integer phase accumulators. A filter sweep is a *morph*
  through tables of the same wave already filtered at cutoffs a third of an octave apart,
  each with the filter's magnitude and phase applied to every harmonic: the steady-state
  sound of a resonant sweep, with no per-sample recursion, so whole notes are a handful of
  vectorised numpy operations.
* Drums are synthesised once per (sound, velocity bucket, brightness, variant, sample
  rate) and cached; a pattern is then a sum of shifted copies.
* Everything after the notes (filters, chorus, echoes, reverb, DC and mono-bass filters)
  works on the loop as a periodic signal: filters start from the state the loop's own end
  leaves them in, delays and convolution wrap around, and modulation runs a whole number
  of cycles per loop. That is what makes the seam inaudible.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import fft, signal

from hoot.generate.loudness import normalize_measured
from hoot.music.clip import NoteClip
from hoot.music.sounds import ROLE_SOUNDS, SOUNDS, check_sound

# Wavetables ----------------------------------------------------------------------------

_TABLE_BITS = 11
_TABLE_SIZE = 1 << _TABLE_BITS
_FRACTION_BITS = 32 - _TABLE_BITS
_FRACTION_MASK = np.uint32((1 << _FRACTION_BITS) - 1)
_FRACTION_SCALE = np.float32(1.0 / (1 << _FRACTION_BITS))
_PHASE_ONE = float(1 << 32)

_BAND_SEMITONES = 4
"""Notes share a wavetable band 4 semitones wide; narrower bands would waste memory, wider
ones would dull the bottom of each band (its harmonics stop where the top note's must)."""

_LEVELS_PER_OCTAVE = 3
_LEVELS = 31
"""Filtered tables per band: cutoffs from half the fundamental up to 512 harmonics."""

_HARMONIC_LIMIT_HZ = 19000.0
"""No table harmonic goes above this (or 0.45 of the sample rate, if lower)."""

_WARM_SECONDS = 0.25
"""History a loop filter runs over before the loop itself, to start in its periodic state."""


def _hz(pitch: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - 69.0) / 12.0)


def _ladder(x: np.ndarray, feedback: float) -> np.ndarray:
    """Four-pole ladder low-pass with resonance, unity gain at DC; peak at x = 1."""
    return (1.0 + feedback) / ((1.0 + 1j * x) ** 4 + feedback)


def _two_pole(x: np.ndarray, q: float) -> np.ndarray:
    """Two-pole (12 dB/octave) low-pass with resonance q."""
    return 1.0 / (1.0 - x * x + 1j * x / q)


_RESPONSES: dict[str, Callable[[np.ndarray], np.ndarray] | None] = {
    "open": None,
    "acid": lambda x: _ladder(x, 3.0),
    "lead": lambda x: _two_pole(x, 1.6),
    "soft": lambda x: _two_pole(x, 0.9),
}
"""Filter responses baked into table sets: `x` is harmonic frequency over cutoff."""


@functools.lru_cache(maxsize=96)
def _wavetables(response: str, band: int, samplerate: int) -> tuple[np.ndarray, np.ndarray]:
    """Saw tables for one pitch band: `(values, slopes)`, each `levels * _TABLE_SIZE` float32.

    Level l is the saw through `response` at a cutoff of 2^(l/3 - 1) harmonics; "open" has
    one unfiltered level. Slopes (next value minus this one) make linear interpolation one
    multiply-add.
    """
    top = float(_hz((band + 1) * _BAND_SEMITONES + 1))  # a semitone of room for bends
    limit = min(_HARMONIC_LIMIT_HZ, 0.45 * samplerate)
    harmonics = int(np.clip(limit // top, 1, _TABLE_SIZE // 2 - 1))
    h = np.arange(1, harmonics + 1, dtype=np.float64)
    # A rising saw is -(2/pi) sum sin(2 pi h phase) / h; a sine term is -1j in the spectrum.
    coefficients = (_TABLE_SIZE / 2) * (-1j) * (-(2.0 / np.pi) / h)
    shape = _RESPONSES[response]
    if shape is None:
        gains = np.ones((1, harmonics), dtype=np.complex128)
    else:
        cutoffs = 2.0 ** (np.arange(_LEVELS) / _LEVELS_PER_OCTAVE - 1.0)
        gains = shape(h[None, :] / cutoffs[:, None])
    spectrum = np.zeros((gains.shape[0], _TABLE_SIZE // 2 + 1), dtype=np.complex128)
    spectrum[:, 1 : harmonics + 1] = coefficients * gains
    values = fft.irfft(spectrum, n=_TABLE_SIZE, axis=1)
    slopes = np.roll(values, -1, axis=1) - values
    values, slopes = values.astype(np.float32).ravel(), slopes.astype(np.float32).ravel()
    values.setflags(write=False)
    slopes.setflags(write=False)
    return values, slopes


def _band(pitch: float) -> int:
    return int(max(0, math.floor(pitch)) // _BAND_SEMITONES)


_counts_cache: list[np.ndarray] = [np.arange(0, dtype=np.uint32)]


def _counts(length: int) -> np.ndarray:
    """0, 1, 2, ... as uint32, from a shared array grown on demand (read-only)."""
    counts = _counts_cache[0]
    if counts.size < length:
        counts = np.arange(max(length, 2 * counts.size), dtype=np.uint32)
        counts.setflags(write=False)
        _counts_cache[0] = counts
    return counts[:length]


def _seconds(length: int, samplerate: int) -> np.ndarray:
    return _counts(length).astype(np.float32) * np.float32(1.0 / samplerate)


def _phase(cycles_per_sample: float | np.ndarray, length: int, start: float) -> np.ndarray:
    """Oscillator phase as uint32 (2^32 = one cycle), wrapping for free in integer maths.

    A constant rate is one multiply; a changing one (glides, vibrato) is a running sum.
    """
    first = np.uint32(int(start % 1.0 * _PHASE_ONE) & 0xFFFFFFFF)
    if np.ndim(cycles_per_sample) == 0:
        step = np.uint32(int(float(cycles_per_sample) % 1.0 * _PHASE_ONE) & 0xFFFFFFFF)
        return _counts(length) * step + first
    # Rates stay under Nyquist (half a cycle per sample), so they fit in uint32 directly.
    steps = (cycles_per_sample * np.float32(_PHASE_ONE)).astype(np.uint32)
    steps[0] = first
    return np.cumsum(steps, dtype=np.uint32)


_PLAIN_BITS = 13
"""The unfiltered saw is read without interpolation from a table of 8192 points: its
truncation noise stays about 70 dB down, and the pad it serves is low-passed anyway."""


@functools.lru_cache(maxsize=48)
def _plain_table(band: int, samplerate: int) -> np.ndarray:
    """The band-limited saw for one pitch band, 8192 points, for `_read_plain`."""
    top = float(_hz((band + 1) * _BAND_SEMITONES + 1))
    limit = min(_HARMONIC_LIMIT_HZ, 0.45 * samplerate)
    size = 1 << _PLAIN_BITS
    harmonics = int(np.clip(limit // top, 1, size // 2 - 1))
    spectrum = np.zeros(size // 2 + 1, dtype=np.complex128)
    spectrum[1 : harmonics + 1] = (size / 2) * 1j * (2.0 / np.pi) / np.arange(1, harmonics + 1)
    table = fft.irfft(spectrum, n=size).astype(np.float32)
    table.setflags(write=False)
    return table


def _read_plain(table: np.ndarray, phase: np.ndarray) -> np.ndarray:
    return table.take((phase >> np.uint32(32 - _PLAIN_BITS)).astype(np.intp))


def _read(tables: tuple[np.ndarray, np.ndarray], phase: np.ndarray) -> np.ndarray:
    """Wavetable output at `phase`, linearly interpolated."""
    values, slopes = tables
    index = (phase >> np.uint32(_FRACTION_BITS)).astype(np.intp)
    fraction = (phase & _FRACTION_MASK).astype(np.float32)
    fraction *= _FRACTION_SCALE
    out = values.take(index)
    out += fraction * slopes.take(index)
    return out


@dataclass(frozen=True)
class _Morph:
    """A filter sweep through a table set, worked out once per note for all its voices:
    per sample, the offset of the lower table level and the blend towards the next one,
    until `settled`; from there on one table blended at the final level."""

    tables: tuple[np.ndarray, np.ndarray]
    offset: np.ndarray
    blend: np.ndarray
    settled: int
    fixed: tuple[np.ndarray, np.ndarray]


def _morph(tables: tuple[np.ndarray, np.ndarray], level: np.ndarray, settled: int) -> _Morph:
    """Prepare `_read_morph` for a level curve that stops moving at sample `settled`."""
    values, slopes = tables
    moving = np.clip(level[:settled], 0.0, _LEVELS - 1.0).astype(np.float32)
    lower = np.minimum(moving.astype(np.intp), _LEVELS - 2)
    blend = moving - lower.astype(np.float32)
    final = float(np.clip(level[min(settled, level.size - 1)], 0.0, _LEVELS - 1.0))
    row = min(int(final), _LEVELS - 2)
    weight = np.float32(final - row)
    pair = slice(row * _TABLE_SIZE, (row + 2) * _TABLE_SIZE)
    pair_values = values[pair].reshape(2, _TABLE_SIZE)
    pair_slopes = slopes[pair].reshape(2, _TABLE_SIZE)
    fixed = (
        pair_values[0] + weight * (pair_values[1] - pair_values[0]),
        pair_slopes[0] + weight * (pair_slopes[1] - pair_slopes[0]),
    )
    return _Morph(tables, lower * _TABLE_SIZE, blend, settled, fixed)


def _read_morph(morph: _Morph, phase: np.ndarray) -> np.ndarray:
    """Wavetable output at `phase`, morphing between filter levels as `morph` says."""
    values, slopes = morph.tables
    head = morph.settled
    out = np.empty(phase.size, np.float32)
    index = (phase[:head] >> np.uint32(_FRACTION_BITS)).astype(np.intp)
    fraction = (phase[:head] & _FRACTION_MASK).astype(np.float32)
    fraction *= _FRACTION_SCALE
    index += morph.offset
    lower = values.take(index)
    lower += fraction * slopes.take(index)
    index += _TABLE_SIZE
    upper = values.take(index)
    upper += fraction * slopes.take(index)
    upper -= lower
    upper *= morph.blend
    lower += upper
    out[:head] = lower
    out[head:] = _read(morph.fixed, phase[head:])
    return out


def _cutoff_level(harmonics: float) -> float:
    """Table level of a cutoff given in harmonics of the note."""
    return _LEVELS_PER_OCTAVE * (math.log2(harmonics) + 1.0)


def _sweep(
    length: int, samplerate: int, floor: float, octaves: float, seconds: float
) -> tuple[np.ndarray, int]:
    """A filter envelope as table levels: `octaves` above the `floor` cutoff (in harmonics),
    falling exponentially with time constant `seconds`. Also returns the sample from which
    it has reached the floor, so `_read_morph` can stop morphing there."""
    base = _cutoff_level(floor)
    span = _LEVELS_PER_OCTAVE * octaves
    # Within a twentieth of a level (a sixtieth of an octave) the sweep is over, audibly.
    settled = min(length, round(seconds * math.log(max(span / 0.05, 1.0)) * samplerate))
    level = np.full(length, base, np.float32)
    level[:settled] += span * np.exp(_seconds(settled, samplerate) * np.float32(-1.0 / seconds))
    return level, settled


# Envelopes -------------------------------------------------------------------------------


def _release_curve(length: int, samplerate: int) -> np.ndarray:
    """From 1 down to exactly 0 over `length` samples, exponential-looking (no click at 0)."""
    if length <= 0:
        return np.zeros(0, np.float32)
    x = _seconds(length, samplerate) * np.float32(samplerate / max(length - 1, 1))
    return ((np.exp(-4.0 * x) - math.exp(-4.0)) / (1.0 - math.exp(-4.0))).astype(np.float32)


def _envelope(
    gate: int,
    samplerate: int,
    attack: float,
    decay: float,
    sustain: float,
    release: float,
    soft_attack: bool = False,
) -> np.ndarray:
    """ADSR over `gate` samples plus the release: starts and ends at exactly zero.

    The release starts from wherever the note is when its gate ends (even mid-attack), so
    short notes are not cut. `soft_attack` eases in (fast at first, gentle at the top), the
    pad's swell; otherwise the attack is linear, which reads as a crisp onset.
    """
    tail = max(1, round(release * samplerate))
    t = _seconds(gate, samplerate)
    rise = np.minimum(t * np.float32(1.0 / max(attack, 1e-3)), 1.0)
    if soft_attack:
        rise = 1.0 - (1.0 - rise) ** 2
    if sustain < 1.0:
        after = np.maximum(t - np.float32(attack), 0.0)
        rise *= sustain + (1.0 - sustain) * np.exp(after * np.float32(-1.0 / decay))
    level = float(rise[-1]) if gate else 0.0
    return np.concatenate([rise, level * _release_curve(tail, samplerate)]).astype(np.float32)


def _velocity_gain(velocity: float, curve: float = 1.5) -> float:
    return float(velocity) ** curve


def _pan_gains(pan: float) -> tuple[float, float]:
    """Equal-power pan that leaves the centre at unity in both channels."""
    angle = (min(max(pan, -1.0), 1.0) + 1.0) * math.pi / 4.0
    return math.sqrt(2.0) * math.cos(angle), math.sqrt(2.0) * math.sin(angle)


def _start_phase(seed: int, pitch: int, voice: int) -> float:
    """A fixed start phase per (seed, pitch, voice): repeatable, so equal notes sound equal."""
    return ((seed * 7919 + pitch * 131 + voice * 31) * 0.6180339887498949) % 1.0


# Notes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Notes:
    """A clip's notes in samples: onsets, gate lengths, pitches and velocities (0..1)."""

    on: np.ndarray
    gate: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    frames: int

    def __len__(self) -> int:
        return len(self.on)

    def next_onset(self) -> np.ndarray:
        """For each note, the next later onset, wrapping round the loop (periodic)."""
        onsets = np.unique(self.on)
        if onsets.size == 0:
            return np.zeros(0, np.int64)
        wrapped = np.concatenate([onsets, onsets + self.frames])
        return wrapped[np.searchsorted(wrapped, self.on, side="right")]


@dataclass(frozen=True)
class _Setting:
    """What a render needs besides the notes."""

    samplerate: int
    frames: int
    brightness: float
    seed: int
    samples_per_beat: float


def _add(buffer: np.ndarray, start: int, audio: np.ndarray, left: float, right: float) -> None:
    end = start + audio.shape[-1]
    if audio.ndim == 1:
        buffer[0, start:end] += left * audio
        buffer[1, start:end] += right * audio
    else:
        buffer[0, start:end] += left * audio[0]
        buffer[1, start:end] += right * audio[1]


def _render_notes(
    notes: _Notes,
    setting: _Setting,
    voice: Callable[[int, int, float, _Setting], np.ndarray],
    pan_of: Callable[[int], float] = lambda pitch: 0.0,
) -> np.ndarray:
    """Sum one `voice(pitch, gate, velocity, setting)` per note, memoised within the render:
    a riff repeats notes, and an equal note renders to equal audio."""
    made: dict[tuple[int, int, float], np.ndarray] = {}
    placed = []
    for on, gate, pitch, velocity in zip(
        notes.on.tolist(), notes.gate.tolist(), notes.pitch.tolist(), notes.velocity.tolist()
    ):
        key = (pitch, gate, velocity)
        if key not in made:
            made[key] = voice(pitch, gate, velocity, setting)
        placed.append((on, made[key], pitch))
    end = max([setting.frames] + [on + audio.shape[-1] for on, audio, _ in placed])
    buffer = np.zeros((2, end), np.float32)
    for on, audio, pitch in placed:
        _add(buffer, on, audio, *_pan_gains(pan_of(pitch)))
    return buffer


# Melodic voices ---------------------------------------------------------------------------


def _sub_bass(pitch: int, gate: int, velocity: float, setting: _Setting) -> np.ndarray:
    """Sine with a little second harmonic, a short attack and a slight pitch drop at onset."""
    sr, bright = setting.samplerate, setting.brightness
    envelope = _envelope(gate, sr, attack=0.004, decay=0.6, sustain=0.85, release=0.035)
    t = _seconds(envelope.size, sr).astype(np.float64)
    f0 = float(_hz(pitch))
    drop, settle = 2.0 ** (1.5 / 12.0) - 1.0, 0.018
    cycles = f0 * (t + drop * settle * (1.0 - np.exp(-t / settle)))
    angle = (2.0 * np.pi * (cycles - np.floor(cycles))).astype(np.float32)
    sine = np.sin(angle)
    wave = sine + (0.1 + 0.25 * bright) * (2.0 * sine * np.cos(angle))
    drive = 1.0 + 3.0 * max(0.0, bright - 0.3)
    # Gentle saturation adds odd harmonics, so the line is heard on small speakers too.
    wave = np.tanh(drive * wave) / math.tanh(drive)
    return (0.5 * velocity**0.8) * wave * envelope


def _glide(target: np.ndarray, seconds: float, samplerate: int, start: float) -> np.ndarray:
    """One-pole glide towards `target` (a slide, in semitones), from `start`."""
    pole = math.exp(-1.0 / (seconds * samplerate))
    glided, _ = signal.lfilter([1.0 - pole], [1.0, -pole], target, zi=[pole * start])
    return glided


def _acid_phrase(
    notes: list[tuple[int, int, int, float]], setting: _Setting
) -> tuple[int, np.ndarray]:
    """One slide chain of a 303-style line: saw through a resonant four-pole low-pass whose
    cutoff jumps on the first note and decays, sliding in pitch between tied notes.

    `notes` are `(on, gate, pitch, velocity)` in order, each overlapping the next. Returns
    the chain's first sample and its audio (mono).
    """
    sr, bright = setting.samplerate, setting.brightness
    first = notes[0][0]
    release = round(0.02 * sr)
    gate = notes[-1][0] + notes[-1][1] - first
    length = gate + release
    # The pitch steps at each tied onset and glides there (the 303's slide).
    target = np.empty(length)
    for (on, _, pitch, _), nxt in zip(notes, notes[1:] + [None]):
        stop = length if nxt is None else nxt[0] - first
        target[on - first : stop] = pitch
    pitch = target if len(notes) == 1 else _glide(target, 0.045, sr, notes[0][2])
    f0 = 440.0 * np.exp2((pitch - 69.0) / 12.0)
    velocity = notes[0][3]
    accent = velocity >= 100 / 127
    t = _seconds(length, sr)
    decay = (0.18 + 0.5 * bright) * (0.55 if accent else 1.0)
    sweep = np.exp(t * np.float32(-1.0 / decay))
    depth = 2.2 + 2.0 * bright + (1.3 if accent else 0.0)
    base = math.log2(160.0) + 2.6 * bright
    cutoff = base + depth * sweep - np.log2(f0).astype(np.float32)
    level = _LEVELS_PER_OCTAVE * (cutoff + 1.0)
    tables = _wavetables("acid", _band(max(n[2] for n in notes)), sr)
    wave = _read_morph(_morph(tables, level, length), _phase(f0 / sr, length, 0.0))
    # The resonant saw peaks near 2.4; scaled to about 1 it saturates gently (grit, not
    # fuzz), more with brightness and on accents.
    drive = 0.4 * (1.0 + 1.5 * bright + (0.8 if accent else 0.0))
    wave = np.tanh(drive * wave)
    # A touch of sine under the saw keeps weight on a PA when the filter is closed.
    cycles = np.cumsum(f0 / sr)
    wave += 0.22 * np.sin(2.0 * np.pi * (cycles - np.floor(cycles))).astype(np.float32)
    envelope = np.ones(length, np.float32)
    attack = min(round(0.003 * sr), length)
    envelope[:attack] = np.linspace(0.0, 1.0, attack, endpoint=False)
    envelope[gate:] = _release_curve(release, sr)
    gain = (0.32 if accent else 0.22) * (0.6 + 0.4 * velocity)
    return first, gain * wave * envelope


def _render_acid(notes: _Notes, setting: _Setting) -> np.ndarray:
    """The monophonic acid line: notes that overlap the next one slide into it."""
    # A monophonic voice plays the lowest of notes that start together.
    order = np.lexsort((notes.pitch, notes.on))
    keep = order[np.concatenate([[True], np.diff(notes.on[order]) > 0])] if len(order) else order
    on, gate = notes.on[keep], notes.gate[keep]
    pitch, velocity = notes.pitch[keep], notes.velocity[keep]
    following = np.append(on[1:], on[0] + setting.frames) if len(on) else on
    overlaps = on + gate > following
    # The last note may tie over the seam, but it cannot slide into the next loop's first
    # note; it hands over with a retrigger there instead.
    last = np.arange(len(on)) == len(on) - 1
    gate = np.where(overlaps & last, following - on, gate)
    overlaps &= ~last
    chains: list[list[tuple[int, int, int, float]]] = []
    for index in range(len(on)):
        note = (int(on[index]), int(gate[index]), int(pitch[index]), float(velocity[index]))
        if chains and index > 0 and overlaps[index - 1]:
            chains[-1].append(note)
        else:
            chains.append([note])
    rendered = [_acid_phrase(chain, setting) for chain in chains]
    end = max([setting.frames] + [first + audio.size for first, audio in rendered])
    buffer = np.zeros((2, end), np.float32)
    for first, audio in rendered:
        _add(buffer, first, audio, 1.0, 1.0)
    return buffer


_VIBRATO_DELAY = 0.3
"""A held lead note starts straight; vibrato fades in after this many seconds, as a
player's would. Shorter notes keep a constant pitch (and the cheaper constant phase)."""


def _vibrato(length: int, samplerate: int, depth: float) -> np.ndarray | None:
    """Pitch ratio per sample: 1 for 0.3 s, then a 5.5 Hz vibrato of `depth` semitones
    fading in over 0.4 s; None for notes too short to reach it."""
    if length <= _VIBRATO_DELAY * samplerate:
        return None
    t = _seconds(length, samplerate)
    fade = np.clip((t - np.float32(_VIBRATO_DELAY)) * np.float32(1.0 / 0.4), 0.0, 1.0)
    semitones = (depth / 12.0) * fade * np.sin(np.float32(2.0 * np.pi * 5.5) * t)
    return np.exp2(semitones)


def _detuned_rates(
    f0: float, bend: np.ndarray | None, cents: tuple[float, ...], sr: int
) -> list[float | np.ndarray]:
    """Per voice, cycles per sample: `f0` detuned by `cents`, times `bend` (a pitch ratio
    per sample, float32) when given. Kept under Nyquist so the phase maths stays exact."""
    rates: list[float | np.ndarray] = []
    for detune in cents:
        rate = min(f0 * 2.0 ** (detune / 1200.0) / sr, 0.45)
        rates.append(rate if bend is None else np.float32(rate) * bend)
    return rates


def _saw_lead(pitch: int, gate: int, velocity: float, setting: _Setting) -> np.ndarray:
    """Three detuned band-limited saws through a resonant filter with its own envelope."""
    sr, bright = setting.samplerate, setting.brightness
    envelope = _envelope(gate, sr, attack=0.006, decay=0.3, sustain=0.75, release=0.18)
    length = envelope.size
    f0 = float(_hz(pitch))
    level, settled = _sweep(length, sr, 2.0 ** (1.0 + 3.5 * bright), 1.8 + 1.5 * velocity, 0.25)
    tables = _wavetables("lead", _band(pitch), sr)
    sweep = _morph(tables, level, settled)
    voices = [
        _read_morph(sweep, _phase(rate, length, _start_phase(setting.seed, pitch, k)))
        for k, rate in enumerate(
            _detuned_rates(f0, _vibrato(length, sr, 0.16), (0.0, 9.0, -9.0), sr)
        )
    ]
    centre, up, down = voices
    gain = 0.2 * _velocity_gain(velocity) * envelope
    left = (centre + 0.8 * up + 0.35 * down) * gain
    right = (centre + 0.35 * up + 0.8 * down) * gain
    return np.stack([left, right])


def _pulse_lead(pitch: int, gate: int, velocity: float, setting: _Setting) -> np.ndarray:
    """Two slightly detuned pulses whose width sweeps slowly (PWM), through a soft filter."""
    sr, bright = setting.samplerate, setting.brightness
    envelope = _envelope(gate, sr, attack=0.004, decay=0.15, sustain=0.8, release=0.12)
    length = envelope.size
    f0 = float(_hz(pitch))
    t = _seconds(length, sr)
    level, settled = _sweep(length, sr, 2.0 ** (2.0 + 3.0 * bright), 1.5, 0.2)
    tables = _wavetables("soft", _band(pitch), sr)
    # A pulse is a saw minus the same saw shifted by the pulse width.
    width = 0.33 - 0.17 * np.sin(np.float32(2.0 * np.pi * 0.8) * t)
    shift = (width * np.float32(_PHASE_ONE)).astype(np.uint32)
    sweep = _morph(tables, level, settled)
    channels = []
    for k, rate in enumerate(_detuned_rates(f0, _vibrato(length, sr, 0.14), (-6.0, 6.0), sr)):
        phase = _phase(rate, length, _start_phase(setting.seed, pitch, k))
        pulse = _read_morph(sweep, phase)
        pulse -= _read_morph(sweep, phase + shift)
        channels.append(pulse)
    gain = 0.17 * _velocity_gain(velocity) * envelope
    left = (channels[0] + 0.45 * channels[1]) * gain
    right = (channels[1] + 0.45 * channels[0]) * gain
    return np.stack([left, right])


def _pad(pitch: int, gate: int, velocity: float, setting: _Setting) -> np.ndarray:
    """Three detuned saws, slow swell and long release; each side hears a different pair."""
    sr, bright = setting.samplerate, setting.brightness
    attack = min(0.45, 0.5 * gate / sr)
    envelope = _envelope(gate, sr, attack, decay=1.0, sustain=1.0, release=0.9, soft_attack=True)
    length = envelope.size
    f0 = float(_hz(pitch))
    table = _plain_table(_band(pitch), sr)
    spread = 11.0 + 8.0 * bright
    low, mid, high = (
        _read_plain(table, _phase(rate, length, _start_phase(setting.seed, pitch, k)))
        for k, rate in enumerate(_detuned_rates(f0, None, (-spread, 0.0, spread * 0.93), sr))
    )
    gain = 0.11 * (0.45 + 0.55 * velocity) * envelope
    return np.stack([(low + 0.6 * mid) * gain, (high + 0.6 * mid) * gain])


def _keys(pitch: int, gate: int, velocity: float, setting: _Setting) -> np.ndarray:
    """Electric piano by FM: a 1:1 pair for the body (bright when struck hard, mellowing as
    it rings) and a 1:14 pair for the tine's bell-like attack."""
    sr, bright = setting.samplerate, setting.brightness
    f0 = float(_hz(pitch))
    ring = 2.6 * (220.0 / f0) ** 0.35
    audible = min(gate / sr, 5.0 * ring)  # past this the note has died away anyway
    length = round(audible * sr) + round(0.25 * sr)
    t64 = _seconds(length, sr).astype(np.float64)
    t = t64.astype(np.float32)
    body = np.exp(t * np.float32(-1.0 / ring))
    strike = np.exp(t * np.float32(-1.0 / 0.25))
    amplitude = 0.35 * strike + 0.65 * body
    release_at = round(audible * sr)
    amplitude[release_at:] *= _release_curve(length - release_at, sr)
    attack = max(1, round(0.0015 * sr))
    amplitude[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False, dtype=np.float32)
    cycles = f0 * t64
    angle = (2.0 * np.pi * (cycles - np.floor(cycles))).astype(np.float32)
    bark = (0.5 + 1.7 * velocity) * (0.45 + 1.1 * bright)
    index = bark * (0.8 * np.exp(t * np.float32(-1.0 / 0.4)) + 0.2)
    wave = np.sin(angle + index * np.sin(angle))
    # The tine pair fades out for high notes, whose sidebands would pass Nyquist.
    room = max(0.0, 1.0 - 15.0 * f0 / (0.45 * sr))
    if room > 0.0:
        tine_cycles = 14.0 * cycles
        tine = (2.0 * np.pi * (tine_cycles - np.floor(tine_cycles))).astype(np.float32)
        tine_index = (
            room * (0.3 + 0.9 * velocity) * (0.4 + bright) * np.exp(t * np.float32(-1.0 / 0.045))
        )
        wave += 0.45 * np.sin(angle + tine_index * np.sin(tine))
    return (0.16 * _velocity_gain(velocity, 1.2)) * wave * amplitude


def _pluck(pitch: int, gate: int, velocity: float, setting: _Setting) -> np.ndarray:
    """Two saws whose filter snaps shut after the pick, the classic synth pluck."""
    sr, bright = setting.samplerate, setting.brightness
    f0 = float(_hz(pitch))
    ring = 0.38 * (220.0 / f0) ** 0.25
    audible = min(gate / sr, 5.0 * ring)
    release = round(0.06 * sr)
    length = round(audible * sr) + release
    t = _seconds(length, sr)
    amplitude = np.exp(t * np.float32(-1.0 / ring))
    held = length - release
    amplitude[held:] *= _release_curve(release, sr)
    attack = max(1, round(0.002 * sr))
    amplitude[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False, dtype=np.float32)
    level, settled = _sweep(length, sr, 1.2, 2.5 + 3.5 * bright + 1.5 * velocity, 0.09)
    sweep = _morph(_wavetables("soft", _band(pitch), sr), level, settled)
    a, b = (
        _read_morph(sweep, _phase(rate, length, _start_phase(setting.seed, pitch, k)))
        for k, rate in enumerate(_detuned_rates(f0, None, (-4.0, 4.0), sr))
    )
    gain = 0.26 * _velocity_gain(velocity) * amplitude
    return np.stack([(a + 0.5 * b) * gain, (b + 0.5 * a) * gain])


def _render_sub(notes: _Notes, setting: _Setting) -> np.ndarray:
    """Sub bass is monophonic in time: a note ends where the next one starts (notes that
    start together still sound together)."""
    gate = np.minimum(notes.gate, notes.next_onset() - notes.on)
    mono = _Notes(notes.on, np.maximum(gate, 1), notes.pitch, notes.velocity, notes.frames)
    return _render_notes(mono, setting, _sub_bass)


def _keyboard_pan(pitch: int) -> float:
    """Low notes a little left, high notes a little right, as on a stage piano."""
    return float(np.clip((pitch - 60) / 48.0, -0.25, 0.25))


# Drums ------------------------------------------------------------------------------------

_VELOCITY_BUCKETS = 8
_BRIGHTNESS_STEPS = 20
_VARIANTS = 3
"""Each drum sound has this many takes (different noise), so repeated hits are not
machine-gun identical."""


def _noise(rng: np.random.Generator, length: int) -> np.ndarray:
    return rng.standard_normal(length)


def _band_pass(x: np.ndarray, low: float, high: float, sr: int, order: int = 2) -> np.ndarray:
    nyquist = 0.5 * sr
    high = min(high, 0.45 * sr)
    low = min(low, 0.9 * high)
    sos = signal.butter(order, [low / nyquist, high / nyquist], btype="bandpass", output="sos")
    return signal.sosfilt(sos, x)


def _high_pass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    sos = signal.butter(order, min(cutoff, 0.45 * sr) / (0.5 * sr), btype="highpass", output="sos")
    return signal.sosfilt(sos, x)


def _low_pass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    sos = signal.butter(order, min(cutoff, 0.45 * sr) / (0.5 * sr), btype="lowpass", output="sos")
    return signal.sosfilt(sos, x)


def _time(seconds: float, sr: int) -> np.ndarray:
    return np.arange(round(seconds * sr)) / sr


def _decay(t: np.ndarray, tau: float) -> np.ndarray:
    return np.exp(-t / tau)


def _sweep_sine(t: np.ndarray, start: float, end: float, tau: float) -> np.ndarray:
    """Sine gliding exponentially from `start` to `end` Hz (a drum head settling)."""
    cycles = end * t + (start - end) * tau * (1.0 - np.exp(-t / tau))
    return np.sin(2.0 * np.pi * cycles)


def _metal(t: np.ndarray, freqs: tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    """A cluster of square waves at inharmonic frequencies: the cymbal and cowbell source."""
    phases = rng.random(len(freqs))
    return sum(np.sign(np.sin(2.0 * np.pi * (f * t + p))) for f, p in zip(freqs, phases))


_HAT_FREQS = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)
_CYMBAL_FREQS = (263.0, 400.0, 421.0, 474.0, 587.0, 845.0, 1141.0, 1293.0)


def _kick(v: float, b: float, rng: np.random.Generator, sr: int, deep: bool = False) -> np.ndarray:
    ring = 0.16 if deep else 0.12  # about 300 ms to -25 dB (a little longer for 35)
    t = _time(7.0 * ring, sr)
    floor = 41.0 if deep else 45.0
    body = _sweep_sine(t, 150.0 + 40.0 * v, floor, 0.035)
    body *= 0.75 * _decay(t, ring) + 0.25 * _decay(t, 0.03)
    body = np.tanh(1.8 * body) / math.tanh(1.8)
    click = _band_pass(_noise(rng, t.size), 1500.0, 6000.0 + 6000.0 * b, sr)
    click *= _decay(t, 0.0015) * (0.15 + 0.35 * b) * (0.4 + 0.6 * v)
    return body + click


def _snare(
    v: float, b: float, rng: np.random.Generator, sr: int, tight: bool = False
) -> np.ndarray:
    t = _time(0.7, sr)
    tone = _sweep_sine(t, 215.0, 185.0, 0.02) * _decay(t, 0.07)
    tone += 0.5 * _sweep_sine(t, 360.0, 330.0, 0.015) * _decay(t, 0.04)
    rattle = _band_pass(_noise(rng, t.size), 1500.0, 7000.0 + 6000.0 * b, sr)
    rattle *= _decay(t, 0.12 if tight else 0.16)
    rattle /= np.abs(rattle).max()
    return 0.6 * tone + (0.55 + 0.35 * v) * rattle


def _clap(v: float, b: float, rng: np.random.Generator, sr: int) -> np.ndarray:
    t = _time(0.8, sr)
    hits = np.zeros(t.size)
    for k in range(4):
        at = 0.0095 * k + rng.uniform(-0.0015, 0.0015) if k else 0.0
        hits += np.where(t >= at, _decay(np.maximum(t - at, 0.0), 0.004), 0.0)
    tail = np.where(t >= 0.028, _decay(np.maximum(t - 0.028, 0.0), 0.11), 0.0)
    source = _band_pass(_noise(rng, t.size), 850.0, 3200.0 + 2500.0 * b, sr)
    return source * (hits + 0.8 * tail) * (0.8 + 0.2 * v)


def _hat(v: float, b: float, rng: np.random.Generator, sr: int, hold: float) -> np.ndarray:
    t = _time(max(0.15, hold * 7.0), sr)
    source = 0.6 * _metal(t, _HAT_FREQS, rng) + 0.8 * _noise(rng, t.size)
    source = _high_pass(source, 6500.0 if hold < 0.05 else 5500.0, sr, order=4)
    source = _low_pass(source, 10000.0 + 7000.0 * b + 2000.0 * v, sr)
    return source * _decay(t, hold)


def _cymbal(v: float, b: float, rng: np.random.Generator, sr: int, hold: float) -> np.ndarray:
    t = _time(hold * 7.0, sr)
    source = _metal(t, _CYMBAL_FREQS, rng) + 1.2 * _noise(rng, t.size)
    source = _band_pass(source, 3500.0, 12000.0 + 6000.0 * b, sr)
    shimmer = _high_pass(_noise(rng, t.size), 9000.0, sr) * _decay(t, hold * 0.4)
    return (source + 0.5 * shimmer) * _decay(t, hold)


def _ride(v: float, b: float, rng: np.random.Generator, sr: int, bell: bool = False) -> np.ndarray:
    t = _time(3.5, sr)
    partials = (760.0, 1530.0, 2840.0, 4300.0) if bell else (530.0, 1480.0, 2680.0, 3870.0)
    ping = sum(
        np.sin(2.0 * np.pi * f * t + rng.random() * 6.28) / (k + 1) for k, f in enumerate(partials)
    )
    ping *= _decay(t, 0.6 if bell else 0.35) * (1.0 if bell else 0.6)
    wash = _high_pass(_metal(t, _CYMBAL_FREQS, rng) + _noise(rng, t.size), 5000.0, sr)
    wash = _low_pass(wash, 11000.0 + 6000.0 * b, sr) * _decay(t, 0.5) * (0.2 if bell else 0.35)
    return ping + wash


def _membrane(
    v: float,
    b: float,
    rng: np.random.Generator,
    sr: int,
    freq: float,
    ring: float,
    slap: float = 0.2,
    bend: float = 1.08,
) -> np.ndarray:
    """A struck drum head: falling fundamental, an inharmonic overtone, a slap of noise."""
    t = _time(max(0.1, 7.0 * ring), sr)
    head = _sweep_sine(t, freq * bend, freq, 0.02) * _decay(t, ring)
    head += 0.3 * _sweep_sine(t, freq * 1.59 * bend, freq * 1.59, 0.015) * _decay(t, ring * 0.5)
    hit = _band_pass(_noise(rng, t.size), 1500.0, 5000.0 + 4000.0 * b, sr) * _decay(t, 0.004)
    return head + slap * (0.6 + 0.4 * v) * hit / max(np.abs(hit).max(), 1e-9)


def _tom(v: float, b: float, rng: np.random.Generator, sr: int, freq: float) -> np.ndarray:
    ring = 0.18 + 0.1 * min(1.0, 82.0 / freq)
    t = _time(7.0 * ring, sr)
    head = _sweep_sine(t, freq * 1.6, freq, 0.05) * _decay(t, ring)
    thud = _low_pass(_noise(rng, t.size), 2500.0 + 2500.0 * b, sr) * _decay(t, 0.01)
    return head + 0.25 * thud / max(np.abs(thud).max(), 1e-9)


def _bell(
    t: np.ndarray, partials: tuple[float, ...], ring: float, rng: np.random.Generator
) -> np.ndarray:
    return sum(
        np.sin(2.0 * np.pi * f * t + rng.random() * 6.28)
        * _decay(t, ring / (1.0 + 0.5 * k))
        / (k + 1)
        for k, f in enumerate(partials)
    )


_TRIANGLE_PARTIALS = (1250.0, 3400.0, 5100.0, 6800.0)


def _struck(
    v: float, b: float, rng: np.random.Generator, sr: int, partials: tuple[float, ...], ring: float
) -> np.ndarray:
    """Wood, metal and bells: a few inharmonic partials, higher ones dying sooner."""
    return _bell(_time(min(7.0 * ring + 0.05, 5.0), sr), partials, ring, rng)


def _cowbell(v: float, b: float, rng: np.random.Generator, sr: int) -> np.ndarray:
    t = _time(0.85, sr)
    tone = _band_pass(_metal(t, (540.0, 800.0), rng), 600.0, 2500.0 + 1500.0 * b, sr)
    return tone * (0.6 * _decay(t, 0.012) + 0.4 * _decay(t, 0.12))


def _shaker(
    v: float, b: float, rng: np.random.Generator, sr: int, low: float, length: float
) -> np.ndarray:
    t = _time(length * 1.75 + 0.008, sr)
    grains = _band_pass(_noise(rng, t.size), low, low * 2.2 + 3000.0 * b, sr)
    swell = np.minimum(t / 0.008, 1.0) * _decay(np.maximum(t - 0.008, 0.0), length / 4.0)
    return grains * swell


def _tambourine(v: float, b: float, rng: np.random.Generator, sr: int) -> np.ndarray:
    t = _time(0.65, sr)
    jingles = _bell(t, (5200.0, 6500.0, 7800.0, 9100.0, 11000.0), 0.09, rng)
    hiss = _high_pass(_noise(rng, t.size), 6000.0 + 2000.0 * b, sr) * _decay(t, 0.05)
    return 0.5 * jingles + hiss


def _scrape(
    v: float, b: float, rng: np.random.Generator, sr: int, length: float, rate: float
) -> np.ndarray:
    """A train of short noise grains: guiro scrape, vibraslap rattle."""
    t = _time(length, sr)
    train = np.zeros(t.size)
    at = 0.0
    while at < length * 0.9:
        start = round(at * sr)
        train[start : start + round(0.003 * sr)] += 1.0
        at += 1.0 / rate * rng.uniform(0.85, 1.15)
    grains = _band_pass(_noise(rng, t.size) * train, 1800.0, 5000.0 + 3000.0 * b, sr)
    return grains * _decay(t, length * 0.6)


def _whistle(v: float, b: float, rng: np.random.Generator, sr: int, length: float) -> np.ndarray:
    t = _time(length + 0.03, sr)
    # 2350 Hz with a fast 2 % trill: the pea rattling in the whistle.
    cycles = 2350.0 * t - 47.0 * np.cos(2.0 * np.pi * 28.0 * t) / (2.0 * np.pi * 28.0)
    tone = np.sin(2.0 * np.pi * cycles) + 0.15 * _high_pass(_noise(rng, t.size), 3000.0, sr)
    gate = np.clip(np.minimum(t / 0.01, (length + 0.03 - t) / 0.02), 0.0, 1.0)
    return tone * gate


def _cuica(v: float, b: float, rng: np.random.Generator, sr: int, open_: bool) -> np.ndarray:
    length = 0.35 if open_ else 0.14
    t = _time(length, sr)
    glide = 480.0 + (430.0 * np.sin(np.pi * t / length) if open_ else 350.0 * t / length)
    cycles = np.cumsum(glide) / sr
    voice = np.tanh(2.5 * np.sin(2.0 * np.pi * cycles))
    return voice * np.sin(np.pi * np.minimum(t / length, 1.0)) ** 0.5


def _perc_kick(v: float, b: float, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Hand-drum bass tone (djembe/surdo-like): a low head with a soft thump."""
    t = _time(1.4, sr)
    head = _sweep_sine(t, 120.0, 88.0, 0.03) * _decay(t, 0.2)
    thump = _low_pass(_noise(rng, t.size), 500.0, sr) * _decay(t, 0.01)
    return head + 0.4 * thump / max(np.abs(thump).max(), 1e-9)


@dataclass(frozen=True)
class _DrumSound:
    """How one drum sound is made and placed."""

    make: Callable[[float, float, np.random.Generator, int], np.ndarray]
    level: float
    pan: float = 0.0
    send: float = 0.0
    choke: str | None = None


def _sound(make, level, pan=0.0, send=0.0, choke=None, **params) -> _DrumSound:
    return _DrumSound(
        functools.partial(make, **params) if params else make, level, pan, send, choke
    )


_SOUNDS: dict[str, _DrumSound] = {
    "kick": _sound(_kick, 1.0),
    "kick_deep": _sound(_kick, 1.0, deep=True),
    "snare": _sound(_snare, 1.1, send=0.12),
    "snare_tight": _sound(_snare, 1.1, send=0.12, tight=True),
    "clap": _sound(_clap, 0.95, send=0.2),
    "rim": _sound(_membrane, 0.7, -0.1, 0.1, freq=1700.0, ring=0.007, slap=0.6, bend=1.0),
    "hat_closed": _sound(_hat, 0.42, 0.28, 0.03, "hat", hold=0.02),
    "hat_pedal": _sound(_hat, 0.31, 0.28, 0.03, "hat", hold=0.013),
    "hat_open": _sound(_hat, 0.33, 0.3, 0.05, "hat", hold=0.16),
    "crash": _sound(_cymbal, 0.36, -0.35, 0.08, hold=0.55),
    "china": _sound(_cymbal, 0.34, -0.45, 0.08, hold=0.4),
    "splash": _sound(_cymbal, 0.32, 0.4, 0.08, hold=0.2),
    "ride": _sound(_ride, 0.3, 0.35, 0.06),
    "ride_bell": _sound(_ride, 0.24, 0.35, 0.06, bell=True),
    "tambourine": _sound(_tambourine, 0.38, 0.45, 0.1),
    "cowbell": _sound(_cowbell, 0.5, -0.25, 0.1),
    "vibraslap": _sound(_scrape, 0.3, -0.3, 0.12, length=1.0, rate=28.0),
    "bongo_high": _sound(_membrane, 0.5, 0.35, 0.12, freq=420.0, ring=0.08, slap=0.3),
    "bongo_low": _sound(_membrane, 0.5, 0.2, 0.12, freq=310.0, ring=0.11, slap=0.3),
    "conga_mute": _sound(_membrane, 0.7, -0.2, 0.12, freq=300.0, ring=0.05, slap=0.5),
    "conga_open": _sound(_membrane, 0.38, -0.25, 0.12, freq=300.0, ring=0.22, slap=0.2),
    "conga_low": _sound(_membrane, 0.38, -0.35, 0.12, freq=210.0, ring=0.28, slap=0.2),
    "conga_slap": _sound(_membrane, 0.55, 0.0, 0.14, freq=330.0, ring=0.06, slap=0.9),
    "timbale_high": _sound(_membrane, 0.36, 0.25, 0.14, freq=410.0, ring=0.25, slap=0.4, bend=1.02),
    "timbale_low": _sound(_membrane, 0.36, 0.15, 0.14, freq=280.0, ring=0.25, slap=0.4, bend=1.02),
    "agogo_high": _sound(_struck, 0.3, -0.3, 0.12, partials=(920.0, 2540.0, 4970.0), ring=0.3),
    "agogo_low": _sound(_struck, 0.3, -0.15, 0.12, partials=(690.0, 1900.0, 3730.0), ring=0.3),
    "cabasa": _sound(_shaker, 0.42, 0.5, 0.08, low=3000.0, length=0.15),
    "maracas": _sound(_shaker, 0.42, 0.4, 0.08, low=4500.0, length=0.11),
    "whistle_short": _sound(_whistle, 0.13, 0.1, 0.15, length=0.1),
    "whistle_long": _sound(_whistle, 0.13, 0.1, 0.15, length=0.45),
    "guiro_short": _sound(_scrape, 0.38, -0.4, 0.1, length=0.18, rate=90.0),
    "guiro_long": _sound(_scrape, 0.38, -0.4, 0.1, length=0.45, rate=70.0),
    "claves": _sound(_struck, 0.35, 0.3, 0.12, partials=(2500.0, 6800.0), ring=0.03),
    "block_high": _sound(_struck, 0.35, -0.3, 0.1, partials=(1000.0, 2900.0), ring=0.035),
    "block_low": _sound(_struck, 0.35, -0.2, 0.1, partials=(760.0, 2200.0), ring=0.04),
    "cuica_mute": _sound(_cuica, 0.14, 0.2, 0.12, "cuica", open_=False),
    "cuica_open": _sound(_cuica, 0.14, 0.2, 0.12, "cuica", open_=True),
    "triangle_mute": _sound(
        _struck, 0.15, 0.5, 0.1, "triangle", partials=_TRIANGLE_PARTIALS, ring=0.04
    ),
    "triangle_open": _sound(
        _struck, 0.15, 0.5, 0.1, "triangle", partials=_TRIANGLE_PARTIALS, ring=0.7
    ),
    "perc_kick": _sound(_perc_kick, 0.9),
}
"""Every drum sound, by name: its synthesis, level, pan (-1 left .. 1 right), reverb send,
and choke group (a hit silences the still-ringing hits of its group: open hats)."""

_TOMS = {41: 82.0, 43: 98.0, 45: 110.0, 47: 131.0, 48: 147.0, 50: 175.0}

_GM_KIT: dict[int, str] = {
    35: "kick_deep", 36: "kick", 37: "rim", 38: "snare", 39: "clap", 40: "snare_tight",
    42: "hat_closed", 44: "hat_pedal", 46: "hat_open", 49: "crash", 51: "ride", 52: "china",
    53: "ride_bell", 54: "tambourine", 55: "splash", 56: "cowbell", 57: "crash", 58: "vibraslap",
    59: "ride", 60: "bongo_high", 61: "bongo_low", 62: "conga_mute", 63: "conga_open",
    64: "conga_low", 65: "timbale_high", 66: "timbale_low", 67: "agogo_high", 68: "agogo_low",
    69: "cabasa", 70: "maracas", 71: "whistle_short", 72: "whistle_long", 73: "guiro_short",
    74: "guiro_long", 75: "claves", 76: "block_high", 77: "block_low", 78: "cuica_mute",
    79: "cuica_open", 80: "triangle_mute", 81: "triangle_open",
}  # fmt: skip
"""GM drum notes to sounds, for "kit" (toms are pitched separately)."""

_GM_PERC: dict[int, str] = {
    **_GM_KIT,
    35: "perc_kick", 36: "perc_kick", 37: "claves", 38: "conga_slap", 40: "conga_slap",
    41: "conga_low", 43: "conga_low", 45: "conga_open", 47: "conga_open", 48: "bongo_low",
    50: "bongo_high", 42: "maracas", 44: "cabasa", 46: "tambourine", 49: "tambourine",
    57: "tambourine", 52: "tambourine", 55: "tambourine", 51: "agogo_high", 59: "agogo_low",
    53: "cowbell",
}  # fmt: skip
"""For "perc_kit": a drum-kit pattern played on hand percussion (kicks on a low drum, hats
on shakers, toms on congas and bongos), so any drum clip can move to the perc kit."""


def _drum_sound(timbre: str, note: int) -> tuple[str, float | None]:
    """The sound for a GM note and, for toms and unmapped notes, their pitch in Hz."""
    table = _GM_PERC if timbre == "perc_kit" else _GM_KIT
    if note in table:
        return table[note], None
    if note in _TOMS:
        return "tom", _TOMS[note]
    # Outside the GM map: a tom tuned to the note, so nothing is silently dropped.
    return "tom", float(np.clip(_hz(note), 50.0, 1200.0))


@functools.lru_cache(maxsize=512)
def _shot(name: str, tuning: float, bucket: int, bright: int, variant: int, sr: int) -> np.ndarray:
    """One drum hit, float32 mono at peak 1, faded in over 0.3 ms and out to exactly 0.

    Cached: a pattern reuses a handful of these. Velocity (bucket) and brightness shape the
    tone here; the hit's exact velocity scales its level when mixing.
    """
    velocity = (bucket + 0.5) / _VELOCITY_BUCKETS
    brightness = bright / _BRIGHTNESS_STEPS
    rng = np.random.default_rng([variant, bucket, bright, sr, round(tuning), sum(map(ord, name))])
    if name == "tom":
        audio = _tom(velocity, brightness, rng, sr, tuning)
    else:
        audio = _SOUNDS[name].make(velocity, brightness, rng, sr)
    audio = np.asarray(audio, dtype=np.float64)
    # Sounds are made long enough to ring out; what is 60 dB down is cut (with a fade),
    # so the mix does not spend time adding silence.
    audible = np.flatnonzero(np.abs(audio) > np.abs(audio).max() * 1e-3)
    fade_out = max(1, round(0.005 * sr))
    audio = audio[: min(audio.size, int(audible[-1]) + 1 + fade_out)]
    audio -= np.linspace(0.0, audio[-1], audio.size)  # end exactly at zero
    fade_in = max(1, round(0.0003 * sr))
    audio[:fade_in] *= np.linspace(0.0, 1.0, fade_in, endpoint=False)
    fade_out = min(audio.size, fade_out)
    audio[-fade_out:] *= np.linspace(1.0, 0.0, fade_out)
    audio /= max(float(np.abs(audio).max()), 1e-9)
    shot = audio.astype(np.float32)
    shot.setflags(write=False)
    return shot


def _render_drums(notes: _Notes, setting: _Setting, timbre: str) -> tuple[np.ndarray, np.ndarray]:
    """Mix cached one-shots: returns the dry stereo buffer and the mono reverb send."""
    sr = setting.samplerate
    rng = np.random.default_rng(setting.seed)
    variants = rng.integers(0, _VARIANTS, size=len(notes))
    bright = round(setting.brightness * _BRIGHTNESS_STEPS)
    hits = []
    for index, (on, pitch, velocity) in enumerate(
        zip(notes.on.tolist(), notes.pitch.tolist(), notes.velocity.tolist())
    ):
        name, tuning = _drum_sound(timbre, pitch)
        bucket = min(_VELOCITY_BUCKETS - 1, int(velocity * _VELOCITY_BUCKETS))
        shot = _shot(name, tuning or 0.0, bucket, bright, int(variants[index]), sr)
        sound = _SOUNDS.get(name)
        if sound is None:  # a tom: level, pan and send follow its pitch
            pan = float(np.clip((tuning - 120.0) / 200.0, -0.35, 0.35))
            sound = _DrumSound(_tom, 0.3, pan, 0.12)
        hits.append((on, shot, sound, velocity))

    # Choke groups: a hit cuts the ringing hits of its group, also across the seam.
    ends = [on + shot.size for on, shot, _, _ in hits]
    for group in {sound.choke for _, _, sound, _ in hits if sound.choke}:
        members = sorted(i for i, hit in enumerate(hits) if hit[2].choke == group)
        onsets = [hits[i][0] for i in members]
        for position, i in enumerate(members):
            later = [on for on in onsets[position + 1 :] if on > hits[i][0]]
            cut = later[0] if later else onsets[0] + setting.frames
            ends[i] = min(ends[i], max(cut, hits[i][0] + 1))

    end = max([setting.frames] + ends)
    dry = np.zeros((2, end), np.float32)
    send = np.zeros(end, np.float32)
    fade = max(1, round(0.006 * sr))
    for (on, shot, sound, velocity), stop in zip(hits, ends):
        audio = shot
        if stop < on + shot.size:
            audio = shot[: stop - on].copy()
            tail = min(fade, audio.size)
            audio[-tail:] *= np.linspace(1.0, 0.0, tail, dtype=np.float32)
        gain = sound.level * _velocity_gain(velocity, 1.4)
        left, right = _pan_gains(sound.pan)
        _add(dry, on, audio, gain * left, gain * right)
        if sound.send:
            send[on : on + audio.size] += (gain * sound.send) * audio
    return dry, send


# Loop processing -----------------------------------------------------------------------------


def _fold(buffer: np.ndarray, frames: int) -> np.ndarray:
    """Fold everything past the loop's end back onto its start (as often as it wraps).

    Works on the last axis (time), channels-first; returns a new float32 array.
    """
    total = buffer.shape[-1]
    if total <= frames:
        loop = np.zeros(buffer.shape[:-1] + (frames,), np.float32)
        loop[..., :total] = buffer
        return loop
    if total <= 2 * frames:
        loop = np.array(buffer[..., :frames], dtype=np.float32)
        loop[..., : total - frames] += buffer[..., frames:]
        return loop
    laps = -(-total // frames)
    padded = np.zeros(buffer.shape[:-1] + (laps * frames,), np.float32)
    padded[..., :total] = buffer
    return padded.reshape(buffer.shape[:-1] + (laps, frames)).sum(axis=-2)


def _loop_filter(sos: np.ndarray, loop: np.ndarray, samplerate: int) -> np.ndarray:
    """Filter a loop (time on the last axis) as the periodic signal it is: the filter first
    runs over the loop's own end (repeated if the loop is short), so it enters the start
    in its steady state and the seam stays seamless."""
    frames = loop.shape[-1]
    warm = max(1, round(_WARM_SECONDS * samplerate))
    if frames >= warm:
        history = loop[..., -warm:]
    else:
        history = np.concatenate([loop] * -(-warm // frames), axis=-1)[..., -warm:]
    state = np.zeros((sos.shape[0],) + loop.shape[:-1] + (2,), np.float32)
    _, state = signal.sosfilt(sos, history, zi=state)
    filtered, _ = signal.sosfilt(sos, loop, zi=state)
    return filtered.astype(np.float32, copy=False)


@functools.lru_cache(maxsize=64)
def _butter(order: int, cutoff: float, kind: str, samplerate: int) -> np.ndarray:
    return signal.butter(order, min(cutoff, 0.45 * samplerate), kind, fs=samplerate, output="sos")


def _cycles(rate_hz: float, frames: int, samplerate: int) -> int:
    """Whole LFO cycles per loop nearest to `rate_hz`, so modulation meets itself at the seam."""
    return max(1, round(rate_hz * frames / samplerate))


def _lfo(cycles: int, frames: int, offset: float = 0.0) -> np.ndarray:
    """`cycles` sine cycles over the loop, float32.

    In float32 a frame count is exact below 2^24 and the phase error stays under a
    millionth of a cycle, far below anything audible in a slow modulation.
    """
    turns = _counts(frames).astype(np.float32)
    turns *= np.float32(cycles / frames)
    turns -= np.floor(turns)  # np.floor is vectorised; a float modulo is not
    turns *= np.float32(2.0 * np.pi)
    if offset:
        turns += np.float32(offset)
    return np.sin(turns)


_CHUNK = 1 << 15
"""Frames per chunk in the bus effects that make several passes: the temporaries of a
chunk stay in the processor's cache, which here is worth more than the extra calls."""


def _chorus(loop: np.ndarray, samplerate: int, mix: float) -> np.ndarray:
    """Stereo chorus: the mid signal read through slowly swinging delays (quadrature L/R),
    wrapping round the loop."""
    frames = loop.shape[-1]
    mid = 0.5 * (loop[0] + loop[1])
    base, depth = 0.011 * samplerate, 0.004 * samplerate
    reach = int(base + depth) + 2
    # The mid signal with the loop's end before its start, so delayed reads need no wrap.
    history = np.concatenate([mid.take(np.arange(-reach, 0) % frames), mid])
    cycles = _cycles(0.35, frames, samplerate)
    out = loop.copy()
    for channel, offset in ((0, 0.0), (1, 0.5 * np.pi)):
        swing = _lfo(cycles, frames, offset)
        for first in range(0, frames, _CHUNK):
            last = min(frames, first + _CHUNK)
            delay = swing[first:last] * np.float32(depth) + np.float32(base)
            whole = delay.astype(np.intp)
            fraction = delay - whole.astype(np.float32)
            index = _counts(last - first).astype(np.intp) + (first + reach)
            index -= whole
            newer = history.take(index)
            older = history.take(index - 1)
            older -= newer
            older *= fraction
            newer += older
            newer *= np.float32(mix)
            out[channel, first:last] += newer
    return out


def _tremolo(loop: np.ndarray, samplerate: int, depth: float, rate: float) -> np.ndarray:
    """Auto-pan: the level swings gently between the sides, a stage piano's tremolo."""
    frames = loop.shape[-1]
    swing = depth * _lfo(_cycles(rate, frames, samplerate), frames)
    return np.stack([loop[0] * (1.0 + swing), loop[1] * (1.0 - swing)])


def _echo(loop: np.ndarray, setting: _Setting, level: float) -> np.ndarray:
    """Tempo-synced ping-pong echo (dotted eighths), wrapped round the loop."""
    mid = 0.5 * (loop[0] + loop[1])
    out = loop.copy()
    for repeat, (channel, gain) in enumerate(((0, 1.0), (1, 0.6), (0, 0.35)), start=1):
        delay = round(0.75 * repeat * setting.samples_per_beat) % loop.shape[-1]
        out[channel] += (level * gain) * np.roll(mid, delay)
    return out


@functools.lru_cache(maxsize=4)
def _room_impulse(samplerate: int, size: str) -> np.ndarray:
    """A synthetic stereo room: early reflections, then decorrelated noise whose highs die
    faster than its lows. Unit energy per channel."""
    decay_low, decay_high, length = (1.6, 0.7, 2.0) if size == "hall" else (0.7, 0.35, 1.0)
    rng = np.random.default_rng(1770)
    frames = round(length * samplerate)
    t = np.arange(frames) / samplerate
    predelay = round(0.012 * samplerate)
    impulse = np.zeros((2, frames))
    for channel in range(2):
        noise = rng.standard_normal(frames)
        low = _low_pass(noise, 1500.0, samplerate) * np.exp(-6.9 * t / decay_low)
        high = _high_pass(noise, 1500.0, samplerate) * np.exp(-6.9 * t / decay_high)
        tail = (low + 0.7 * high) * np.minimum(t / 0.03, 1.0)
        for _ in range(6):
            at = rng.integers(round(0.003 * samplerate), round(0.035 * samplerate))
            tail[at] += rng.uniform(-1.0, 1.0) * 3.0
        tail[-round(0.05 * samplerate) :] *= np.linspace(1.0, 0.0, round(0.05 * samplerate))
        impulse[channel, predelay:] = tail[: frames - predelay]
        impulse[channel] /= math.sqrt(float(np.sum(impulse[channel] ** 2)))
    return impulse.astype(np.float32)


@functools.lru_cache(maxsize=4)
def _room_spectrum(samplerate: int, size: str, length: int) -> np.ndarray:
    return fft.rfft(_room_impulse(samplerate, size), n=length, axis=-1)


def _reverb(send: np.ndarray, samplerate: int, size: str) -> np.ndarray:
    """Circular convolution of a mono send with the room: the tail wraps round the loop.
    Returns `(2, frames)` float32."""
    frames = send.shape[-1]
    impulse = _room_impulse(samplerate, size)
    full = frames + impulse.shape[-1] - 1
    length = fft.next_fast_len(full, real=True)
    spectrum = fft.rfft(send.astype(np.float32), n=length)
    wet = fft.irfft(spectrum[None, :] * _room_spectrum(samplerate, size, length), n=length)
    return _fold(wet[:, :full], frames)


def _mid_side(loop: np.ndarray, samplerate: int, width: float) -> np.ndarray:
    """Final stage: mid high-passed at 20 Hz (no DC, no rumble), side high-passed at 120 Hz
    (bass is mono, as a PA wants it) and scaled by `width`."""
    mid = 0.5 * (loop[0] + loop[1])
    mid = _loop_filter(_butter(2, 20.0, "highpass", samplerate), mid, samplerate)
    if width == 0.0:
        return np.stack([mid, mid])
    side = 0.5 * (loop[0] - loop[1])
    side = _loop_filter(_butter(2, 120.0, "highpass", samplerate), side, samplerate)
    side *= width
    return np.stack([mid + side, mid - side])


# The timbres ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Timbre:
    """A timbre's bus: stereo width (of what is above 120 Hz), reverb send and room.

    The kits send each drum sound to the room at its own level (`_DrumSound.send`)."""

    width: float
    reverb: float = 0.0
    room: str = "room"


_TIMBRE_BUS: dict[str, _Timbre] = {
    "sub_bass": _Timbre(width=0.0),
    "acid_bass": _Timbre(width=0.3, reverb=0.05),
    "saw_lead": _Timbre(width=0.7, reverb=0.2, room="hall"),
    "pulse_lead": _Timbre(width=0.7, reverb=0.18, room="hall"),
    "pad": _Timbre(width=0.65, reverb=0.35, room="hall"),
    "keys": _Timbre(width=0.8, reverb=0.22, room="hall"),
    "pluck": _Timbre(width=0.8, reverb=0.22, room="hall"),
    "kit": _Timbre(width=1.0, room="room"),
    "perc_kit": _Timbre(width=1.0, room="room"),
}


def _voice_buffer(notes: _Notes, setting: _Setting, timbre: str) -> np.ndarray:
    if timbre == "sub_bass":
        return _render_sub(notes, setting)
    if timbre == "acid_bass":
        return _render_acid(notes, setting)
    voices = {
        "saw_lead": _saw_lead,
        "pulse_lead": _pulse_lead,
        "pad": _pad,
        "keys": _keys,
        "pluck": _pluck,
    }
    pan = _keyboard_pan if timbre == "keys" else (lambda pitch: 0.0)
    return _render_notes(notes, setting, voices[timbre], pan)


def _bus(loop: np.ndarray, setting: _Setting, timbre: str) -> np.ndarray:
    """Timbre-specific loop effects before the reverb."""
    sr, bright = setting.samplerate, setting.brightness
    if timbre == "pad":
        cutoff = 900.0 * 2.0 ** (3.0 * bright)
        loop = _loop_filter(_butter(2, cutoff, "lowpass", sr), loop, sr)
        loop = _chorus(loop, sr, mix=0.45)
    elif timbre == "keys":
        loop = _tremolo(loop, sr, depth=0.18, rate=3.5)
    elif timbre == "pluck":
        loop = _echo(loop, setting, level=0.3)
    return loop


# Public API ----------------------------------------------------------------------------------


def _check(
    clip: NoteClip, bpm: float, samplerate: int, role: str, timbre: str | None, brightness: float
) -> str:
    if not isinstance(clip, NoteClip):
        raise ValueError(f"render a NoteClip, not {type(clip).__name__}")
    if not (isinstance(bpm, numbers.Real) and math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"tempo must be a positive number of beats per minute, got {bpm!r}")
    if isinstance(samplerate, bool) or not isinstance(samplerate, (int, np.integer)):
        raise ValueError(f"sample rate must be a whole number of Hz, got {samplerate!r}")
    if not 8000 <= samplerate <= 384000:
        raise ValueError(f"sample rate {samplerate} Hz is outside 8000..384000")
    if role not in ROLE_SOUNDS:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLE_SOUNDS)}")
    chosen = ROLE_SOUNDS[role][0] if timbre is None else check_sound(timbre)
    if not (isinstance(brightness, numbers.Real) and 0.0 <= brightness <= 1.0):
        raise ValueError(f"brightness runs from 0 to 1, got {brightness!r}")
    return chosen


def render_clip(
    clip: NoteClip,
    bpm: float,
    samplerate: int,
    role: str,
    timbre: str | None = None,
    brightness: float = 0.5,
    seed: int = 0,
    beats_per_second: float | None = None,
) -> np.ndarray:
    """Render `clip` as one seamless loop: float32 stereo, `(frames, 2)`.

    `frames` is exactly `round(clip.length * 60 / bpm * samplerate)`. Sound that rings past
    the loop's end is folded back onto its start, so the result loops without a click.
    `timbre` (a sound of hoot.music.sounds) defaults to the role's first in `ROLE_SOUNDS`;
    any sound may play any role ("kit" and "perc_kit" read pitches as GM drum notes).
    `brightness` (0..1) opens filters and adds harmonics. `seed` picks drum takes and
    oscillator phases; the same arguments always give the same audio. `beats_per_second`,
    when given, is the tempo instead of `bpm` (`bpm = 60 * beats_per_second`), for callers
    that keep tempo as a rate.

    Raises ValueError for an unknown role or timbre, or a tempo, sample rate or brightness
    out of range.
    """
    if beats_per_second is not None:
        if not (
            isinstance(beats_per_second, numbers.Real)
            and math.isfinite(beats_per_second)
            and beats_per_second > 0
        ):
            raise ValueError(f"beats_per_second must be positive, got {beats_per_second!r}")
        bpm = 60.0 * float(beats_per_second)
    chosen = _check(clip, bpm, samplerate, role, timbre, brightness)
    samplerate = int(samplerate)
    samples_per_beat = 60.0 / float(bpm) * samplerate
    frames = round(clip.length * samples_per_beat)
    if frames < 1:
        raise ValueError(f"a {clip.length:g}-beat clip at {bpm:g} BPM is shorter than one sample")
    setting = _Setting(samplerate, frames, float(brightness), int(seed), samples_per_beat)
    if len(clip) == 0:
        return np.zeros((frames, 2), np.float32)

    on = np.rint(clip.start * samples_per_beat).astype(np.int64)
    off = np.rint((clip.start + clip.duration) * samples_per_beat).astype(np.int64)
    notes = _Notes(
        on=np.minimum(on, frames - 1),
        gate=np.maximum(off - on, max(1, round(0.005 * samplerate))),
        pitch=clip.pitch.astype(np.int64),
        velocity=clip.velocity.astype(np.float64) / 127.0,
        frames=frames,
    )
    bus = _TIMBRE_BUS[chosen]
    if SOUNDS[chosen].drum_map:
        dry, send = _render_drums(notes, setting, chosen)
        loop = _fold(dry, frames)
        if send.any():
            loop += _reverb(_fold(send, frames), samplerate, bus.room)
    else:
        loop = _bus(_fold(_voice_buffer(notes, setting, chosen), frames), setting, chosen)
        if bus.reverb:
            loop += bus.reverb * _reverb(0.5 * (loop[0] + loop[1]), samplerate, bus.room)
    loop = _mid_side(loop, samplerate, bus.width)
    # Channels-first inside; callers get (frames, 2). Nothing here makes NaN, but a stem
    # must never carry one to the PA.
    audio = np.ascontiguousarray(loop.T)
    if not np.isfinite(audio).all():
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    return audio


def render_stem(
    clip: NoteClip,
    bpm: float,
    samplerate: int,
    role: str,
    timbre: str | None = None,
    brightness: float = 0.5,
    seed: int = 0,
    target_lufs: float = -14.0,
) -> tuple[np.ndarray, dict]:
    """`render_clip`, then loudness-normalised to `target_lufs` with true peaks at or under
    -1 dBTP (a smooth limiter steps in for peaky material; see `loudness.normalize`).

    Returns the audio and `{"lufs": loudness after, "gain_db": gain applied, "timbre": name}`;
    a silent clip stays silent, with `lufs` of -inf and a gain of 0 dB.
    """
    chosen = _check(clip, bpm, samplerate, role, timbre, brightness)
    audio = render_clip(clip, bpm, samplerate, role, chosen, brightness, seed)
    audio, gain_db, lufs = normalize_measured(audio, samplerate, target_lufs, loop=True)
    return audio, {"lufs": lufs, "gain_db": gain_db, "timbre": chosen}
