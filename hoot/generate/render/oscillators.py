"""Oscillators: band-limited wavetables read by integer phase accumulators, and filter sweeps.

Every table is additive (one set per 4 semitones, so no harmonic passes Nyquist) and read
with a uint32 phase that wraps for free. A filter sweep is a *morph* through tables of the
same wave already filtered at cutoffs a third of an octave apart, each with the filter's
magnitude and phase applied to every harmonic: the steady-state sound of a resonant
sweep with no per-sample recursion, so a whole note is a handful of vectorised numpy
operations. Also here: pitch to Hz and the sample clock (`counts`, `seconds`) that
everything else in the renderer counts time with.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import fft

_TABLE_BITS = 11
_TABLE_SIZE = 1 << _TABLE_BITS
_FRACTION_BITS = 32 - _TABLE_BITS
_FRACTION_MASK = np.uint32((1 << _FRACTION_BITS) - 1)
_FRACTION_SCALE = np.float32(1.0 / (1 << _FRACTION_BITS))
PHASE_ONE = float(1 << 32)

_BAND_SEMITONES = 4
"""Notes share a wavetable band 4 semitones wide; narrower bands would waste memory, wider
ones would dull the bottom of each band (its harmonics stop where the top note's must)."""

LEVELS_PER_OCTAVE = 3
_LEVELS = 31
"""Filtered tables per band: cutoffs from half the fundamental up to 512 harmonics."""

_HARMONIC_LIMIT_HZ = 19000.0
"""No table harmonic goes above this (or 0.45 of the sample rate, if lower)."""


def hz(pitch: np.ndarray | float) -> np.ndarray | float:
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
def wavetables(response: str, band: int, samplerate: int) -> tuple[np.ndarray, np.ndarray]:
    """Saw tables for one pitch band: `(values, slopes)`, each `levels * _TABLE_SIZE` float32.

    Level l is the saw through `response` at a cutoff of 2^(l/3 - 1) harmonics; "open" has
    one unfiltered level. Slopes (next value minus this one) make linear interpolation one
    multiply-add.
    """
    top = float(hz((band + 1) * _BAND_SEMITONES + 1))  # a semitone of room for bends
    limit = min(_HARMONIC_LIMIT_HZ, 0.45 * samplerate)
    harmonics = int(np.clip(limit // top, 1, _TABLE_SIZE // 2 - 1))
    h = np.arange(1, harmonics + 1, dtype=np.float64)
    # A rising saw is -(2/pi) sum sin(2 pi h phase) / h; a sine term is -1j in the spectrum.
    coefficients = (_TABLE_SIZE / 2) * (-1j) * (-(2.0 / np.pi) / h)
    shape = _RESPONSES[response]
    if shape is None:
        gains = np.ones((1, harmonics), dtype=np.complex128)
    else:
        cutoffs = 2.0 ** (np.arange(_LEVELS) / LEVELS_PER_OCTAVE - 1.0)
        gains = shape(h[None, :] / cutoffs[:, None])
    spectrum = np.zeros((gains.shape[0], _TABLE_SIZE // 2 + 1), dtype=np.complex128)
    spectrum[:, 1 : harmonics + 1] = coefficients * gains
    values = fft.irfft(spectrum, n=_TABLE_SIZE, axis=1)
    slopes = np.roll(values, -1, axis=1) - values
    values, slopes = values.astype(np.float32).ravel(), slopes.astype(np.float32).ravel()
    values.setflags(write=False)
    slopes.setflags(write=False)
    return values, slopes


def pitch_band(pitch: float) -> int:
    return int(max(0, math.floor(pitch)) // _BAND_SEMITONES)


_counts_cache: list[np.ndarray] = [np.arange(0, dtype=np.uint32)]


def counts(length: int) -> np.ndarray:
    """0, 1, 2, ... as uint32, from a shared array grown on demand (read-only)."""
    counts = _counts_cache[0]
    if counts.size < length:
        counts = np.arange(max(length, 2 * counts.size), dtype=np.uint32)
        counts.setflags(write=False)
        _counts_cache[0] = counts
    return counts[:length]


def seconds(length: int, samplerate: int) -> np.ndarray:
    return counts(length).astype(np.float32) * np.float32(1.0 / samplerate)


def oscillator_phase(
    cycles_per_sample: float | np.ndarray, length: int, start: float
) -> np.ndarray:
    """Oscillator phase as uint32 (2^32 = one cycle), wrapping for free in integer maths.

    A constant rate is one multiply; a changing one (glides, vibrato) is a running sum.
    """
    first = np.uint32(int(start % 1.0 * PHASE_ONE) & 0xFFFFFFFF)
    if np.ndim(cycles_per_sample) == 0:
        step = np.uint32(int(float(cycles_per_sample) % 1.0 * PHASE_ONE) & 0xFFFFFFFF)
        return counts(length) * step + first
    # Rates stay under Nyquist (half a cycle per sample), so they fit in uint32 directly.
    steps = (cycles_per_sample * np.float32(PHASE_ONE)).astype(np.uint32)
    steps[0] = first
    return np.cumsum(steps, dtype=np.uint32)


_PLAIN_BITS = 13
"""The unfiltered saw is read without interpolation from a table of 8192 points: its
truncation noise stays about 70 dB down, and the pad it serves is low-passed anyway."""


@functools.lru_cache(maxsize=48)
def plain_table(band: int, samplerate: int) -> np.ndarray:
    """The band-limited saw for one pitch band, 8192 points, for `read_plain`."""
    top = float(hz((band + 1) * _BAND_SEMITONES + 1))
    limit = min(_HARMONIC_LIMIT_HZ, 0.45 * samplerate)
    size = 1 << _PLAIN_BITS
    harmonics = int(np.clip(limit // top, 1, size // 2 - 1))
    spectrum = np.zeros(size // 2 + 1, dtype=np.complex128)
    spectrum[1 : harmonics + 1] = (size / 2) * 1j * (2.0 / np.pi) / np.arange(1, harmonics + 1)
    table = fft.irfft(spectrum, n=size).astype(np.float32)
    table.setflags(write=False)
    return table


def read_plain(table: np.ndarray, phase: np.ndarray) -> np.ndarray:
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


def morph(tables: tuple[np.ndarray, np.ndarray], level: np.ndarray, settled: int) -> _Morph:
    """Prepare `read_morph` for a level curve that stops moving at sample `settled`."""
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


def read_morph(morph: _Morph, phase: np.ndarray) -> np.ndarray:
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
    return LEVELS_PER_OCTAVE * (math.log2(harmonics) + 1.0)


def filter_sweep(
    length: int, samplerate: int, floor: float, octaves: float, decay: float
) -> tuple[np.ndarray, int]:
    """A filter envelope as table levels: `octaves` above the `floor` cutoff (in harmonics),
    falling exponentially with a time constant of `decay` seconds. Also returns the sample
    from which it has reached the floor, so `read_morph` can stop morphing there."""
    base = _cutoff_level(floor)
    span = LEVELS_PER_OCTAVE * octaves
    # Within a twentieth of a level (a sixtieth of an octave) the sweep is over, audibly.
    settled = min(length, round(decay * math.log(max(span / 0.05, 1.0)) * samplerate))
    level = np.full(length, base, np.float32)
    level[:settled] += span * np.exp(seconds(settled, samplerate) * np.float32(-1.0 / decay))
    return level, settled
