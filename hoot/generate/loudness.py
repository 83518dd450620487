"""Loudness and peak measurement, and loudness normalisation, for rendered stems.

`integrated_loudness` follows ITU-R BS.1770-4: K-weighting, 400 ms blocks overlapping by
75 %, an absolute gate at -70 LUFS and a relative gate 10 LU under the loudness of the
blocks that pass it. `true_peak` estimates the inter-sample peak by 4x oversampling, as
in the standard's Annex 2. `normalize` brings a stem to a target loudness and keeps its
true peak under a ceiling with a smooth, offline gain envelope (the stems are rendered in
worker processes, so the whole clip is at hand and no lookahead delay is needed).

Audio is `(frames,)` mono or `(frames, channels)`; channels are L, R, C, then surrounds.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import ndimage, signal

ABSOLUTE_GATE_LUFS = -70.0
"""Blocks quieter than this never count: the standard's absolute gate."""

RELATIVE_GATE_LU = -10.0
"""Blocks more than 10 LU under the loudness of the absolutely gated blocks do not count."""

BLOCK_SECONDS = 0.4
"""Length of a gating block."""

BLOCK_STEP_SECONDS = 0.1
"""Hop between gating blocks: 75 % overlap."""

OVERSAMPLING = 4
"""True-peak oversampling factor. Points a quarter sample apart can miss the peak between
them by up to about 0.5 dB, and only for content near 18 kHz (at 48 kHz)."""

_REFERENCE_RATE = 48000.0
"""Rate at which BS.1770-4 tabulates the K-weighting biquads."""

# BS.1770-4, Table 1 (the shelving pre-filter) and Table 2 (the RLB high-pass), at 48 kHz.
_PRE_FILTER_48K = (
    (1.53512485958697, -2.69169618940638, 1.19839281085285),
    (1.0, -1.69065929318241, 0.73248077421585),
)
_RLB_FILTER_48K = ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621))

_SURROUND_WEIGHT = 1.41
"""Channel weight of the left and right surrounds (BS.1770-4, Table 3)."""

_LOUDNESS_OFFSET = -0.691
"""The standard's constant: it makes a 997 Hz sine at 0 dBFS in one channel read -3.01 LUFS."""

_LIMIT_MAKEUP_DB = 20.0
"""The limiter never takes off more than this: a stem that would need more is left quieter
than the target rather than squashed flat."""

_LIMIT_HOP = 32
"""The limiter's gain envelope is worked out on blocks of this many frames."""

_LIMIT_SMOOTH_SECONDS = 0.004
"""Width of each of the two box filters that round the limiter's gain envelope: gain dips
fade in and out over about 8 ms, slow enough not to buzz on bass notes."""

_LIMIT_MARGIN_DB = 0.1
"""The limiter aims this far under the ceiling, so smoothing its gain cannot overshoot it."""


# K-weighting ------------------------------------------------------------------------------


def _analog_biquad(b: tuple[float, ...], a: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Undo the bilinear transform of a 48 kHz biquad: polynomials in u = s / (2 * 48000).

    Substituting z^-1 = (1 - u) / (1 + u) and multiplying through by (1 + u)^2 turns
    b0 + b1 z^-1 + b2 z^-2 into the coefficients of 1, u and u^2 below.
    """

    def to_u(c: tuple[float, ...]) -> np.ndarray:
        return np.array([c[0] + c[1] + c[2], 2.0 * (c[0] - c[2]), c[0] - c[1] + c[2]])

    return to_u(b), to_u(a)


def _digital_biquad(numerator: np.ndarray, denominator: np.ndarray, rate: float) -> np.ndarray:
    """Bilinear transform of an analog biquad in u back to a digital one at `rate`: one sos row.

    At the target rate u = r (1 - z^-1) / (1 + z^-1) with r = rate / 48000, so at 48 kHz this
    gives back the standard's coefficients exactly, and at any other rate the same analog
    filter (the two differ only by frequency warping near Nyquist, far above the shelf).
    """
    r = rate / _REFERENCE_RATE

    def to_z(c: np.ndarray) -> np.ndarray:
        return np.array(
            [
                c[0] + c[1] * r + c[2] * r * r,
                2.0 * c[0] - 2.0 * c[2] * r * r,
                c[0] - c[1] * r + c[2] * r * r,
            ]
        )

    b, a = to_z(numerator), to_z(denominator)
    return np.concatenate([b / a[0], a / a[0]])


@functools.lru_cache(maxsize=16)
def k_weighting(samplerate: int) -> np.ndarray:
    """The K-weighting filter at `samplerate` as second-order sections (shelf, then high-pass)."""
    if samplerate <= 0:
        raise ValueError(f"sample rate must be positive, got {samplerate!r}")
    sos = np.vstack(
        [
            _digital_biquad(*_analog_biquad(*_PRE_FILTER_48K), samplerate),
            _digital_biquad(*_analog_biquad(*_RLB_FILTER_48K), samplerate),
        ]
    )
    sos.setflags(write=False)
    return sos


def _as_channels(audio: np.ndarray) -> np.ndarray:
    """`audio` as float64, channels first: `(channels, frames)`, NaN and inf made silent."""
    array = np.asarray(audio)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"audio must be (frames,) or (frames, channels), got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"audio must be numbers, got {array.dtype}")
    samples = np.ascontiguousarray(array.T, dtype=np.float64)
    if not np.isfinite(samples).all():
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    return samples


def _channel_weights(channels: int) -> np.ndarray:
    """BS.1770 weights: 1 for L, R, C; 1.41 for the surrounds; the LFE of 5.1 is left out."""
    if channels == 5:  # L R C Ls Rs
        return np.array([1.0, 1.0, 1.0, _SURROUND_WEIGHT, _SURROUND_WEIGHT])
    if channels == 6:  # L R C LFE Ls Rs
        return np.array([1.0, 1.0, 1.0, 0.0, _SURROUND_WEIGHT, _SURROUND_WEIGHT])
    return np.ones(channels)


def _weighted_energy(samples: np.ndarray, samplerate: int) -> np.ndarray:
    """Per frame, the channel-weighted sum of squares of the K-weighted channels."""
    # sosfilt wants writable coefficients; the cached ones are read-only.
    sos = k_weighting(samplerate).copy()
    energy = np.zeros(samples.shape[1])
    for channel, weight in zip(samples, _channel_weights(samples.shape[0])):
        if weight:
            weighted = signal.sosfilt(sos, channel)
            weighted *= weighted
            energy += weight * weighted
    return energy


def _block_powers(energy: np.ndarray, samplerate: int) -> np.ndarray:
    """Mean weighted energy of each 400 ms gating block, blocks 100 ms apart.

    Each block is four 100 ms steps, so summing steps once gives every block. A clip
    shorter than one block is measured as a single block of what there is, so a short
    one-shot still gets a loudness instead of silence.
    """
    frames = energy.size
    if frames == 0:
        return np.zeros(0)
    step = max(1, round(BLOCK_STEP_SECONDS * samplerate))
    per_block = round(BLOCK_SECONDS / BLOCK_STEP_SECONDS)
    steps = frames // step
    if steps < per_block:
        return np.array([energy.sum() / frames])
    sums = energy[: steps * step].reshape(steps, step).sum(axis=1)
    blocks = np.lib.stride_tricks.sliding_window_view(sums, per_block).sum(axis=1)
    return blocks / (per_block * step)


def _gated_loudness(powers: np.ndarray) -> float:
    """Integrated loudness from block powers, with the absolute and relative gates."""
    with np.errstate(divide="ignore"):
        block_lufs = _LOUDNESS_OFFSET + 10.0 * np.log10(powers)
    loud = powers[block_lufs > ABSOLUTE_GATE_LUFS]
    if loud.size == 0:
        return float("-inf")
    relative_gate = _LOUDNESS_OFFSET + 10.0 * math.log10(loud.mean()) + RELATIVE_GATE_LU
    kept = powers[block_lufs > max(relative_gate, ABSOLUTE_GATE_LUFS)]
    if kept.size == 0:
        return float("-inf")
    return _LOUDNESS_OFFSET + 10.0 * math.log10(kept.mean())


def integrated_loudness(audio: np.ndarray, samplerate: int) -> float:
    """Integrated loudness of `audio` in LUFS (ITU-R BS.1770-4); `-inf` for silence.

    `audio` is `(frames,)` or `(frames, channels)` in full scale (1.0 = 0 dBFS); channels
    are weighted as L, R, C (1.0) and surrounds (1.41), and the LFE of a 6-channel
    (5.1) file is ignored. A 0 dBFS 997 Hz sine in one channel reads -3.01 LUFS.
    """
    samples = _as_channels(audio)
    return _gated_loudness(_block_powers(_weighted_energy(samples, samplerate), samplerate))


# True peak -------------------------------------------------------------------------------


_TAPS_PER_PHASE = 8
"""Taps of each interpolating phase (a 31-tap filter): within about 0.2 dB of the true
peak up to 17 kHz at 48 kHz, like the standard's 48-tap example, for two thirds of the work."""

_BEFORE = _TAPS_PER_PHASE // 2 - 1
_AFTER = _TAPS_PER_PHASE // 2
"""Frames an interpolated point between n and n + 1 reads before n and after n."""


@functools.lru_cache(maxsize=1)
def _interpolator() -> tuple[np.ndarray, float]:
    """Taps of the three in-between phases of a 4x interpolator, `(3, 8)` float32, and the
    largest sum of a phase's absolute taps: no interpolated point exceeds the samples it
    is made of by more than that factor.

    A Kaiser-windowed sinc cut at the original Nyquist: its fourth phase is a unit impulse
    (the original samples), so only the points a quarter, half and three quarters of the
    way to the next sample need computing. Row p, tap k weighs sample n + 4 - k in the
    point at n + (p + 1) / 4.
    """
    length = 4 * _TAPS_PER_PHASE - 1
    taps = signal.firwin(length, 1.0 / OVERSAMPLING, window=("kaiser", 5.0)) * OVERSAMPLING
    phases = np.stack([taps[phase::OVERSAMPLING][:_TAPS_PER_PHASE] for phase in range(3)])
    return phases.astype(np.float32), float(np.abs(phases).sum(axis=1).max())


class _PeakEnvelope:
    """Per frame n, the largest magnitude over channels of the 4x-oversampled signal at
    n, n + 1/4, n + 1/2 and n + 3/4, worked out only where it matters.

    `at_least(threshold)` interpolates every block of frames that could reach `threshold`
    (its samples and their neighbours times the interpolator's bound) and has not been
    interpolated yet; elsewhere the envelope is the sample magnitude, already known to
    be under the threshold. A kick-and-hats stem then costs a few blocks instead of the
    whole clip. With `loop`, the signal is periodic and the seam is interpolated from
    the clip's own start.
    """

    BLOCK = 256

    def __init__(self, samples: np.ndarray, loop: bool) -> None:
        channels, self.frames = samples.shape
        block = self.BLOCK
        self.blocks = -(-self.frames // block)
        total = self.blocks * block
        # float32 channels padded to whole blocks, plus the interpolator's reach either side
        # (the loop's own other end when it is a loop, silence otherwise).
        padded = np.zeros((channels, _BEFORE + total + _AFTER), np.float32)
        padded[:, _BEFORE : _BEFORE + self.frames] = samples
        if loop and self.frames:
            padded[:, :_BEFORE] = samples[:, np.arange(-_BEFORE, 0) % self.frames]
            after = np.arange(self.frames, total + _AFTER) % self.frames
            padded[:, _BEFORE + self.frames :] = samples[:, after]
        self.padded = padded
        body = slice(_BEFORE, _BEFORE + total)
        envelope = np.abs(padded[0, body])
        for channel in padded[1:]:
            np.maximum(envelope, np.abs(channel[body]), out=envelope)
        self.full = envelope
        self.envelope = envelope[: self.frames]
        peaks = envelope.reshape(self.blocks, block).max(axis=1)
        # A block's interpolation reads a few frames of its neighbours.
        self.reach_peak = peaks.copy()
        if self.blocks > 1:
            np.maximum(self.reach_peak[1:], peaks[:-1], out=self.reach_peak[1:])
            np.maximum(self.reach_peak[:-1], peaks[1:], out=self.reach_peak[:-1])
        self.done = np.zeros(self.blocks, dtype=bool)

    def at_least(self, threshold: float) -> np.ndarray:
        """The envelope, exact wherever it could be `threshold` or more."""
        phases, bound = _interpolator()
        hot = np.flatnonzero(~self.done & (self.reach_peak * bound >= threshold))
        if hot.size == 0:
            return self.envelope
        self.done[hot] = True
        if hot.size * 3 >= self.blocks:
            # Dense material: one pass over everything beats gathering most of it.
            self._interpolate_all(phases)
            self.done[:] = True
            return self.envelope
        block = self.BLOCK
        span = block + _TAPS_PER_PHASE - 1
        columns = hot[:, None] * block + np.arange(span)
        best = np.zeros((hot.size, block), np.float32)
        reach = _TAPS_PER_PHASE - 1
        for channel in self.padded:
            rows = channel.take(columns)
            for taps in phases:
                point = np.zeros((hot.size, block), np.float32)
                for k, tap in enumerate(taps):
                    point += tap * rows[:, reach - k : reach - k + block]
                np.maximum(best, np.abs(point), out=best)
        rows_of_frames = self.full.reshape(self.blocks, block)
        rows_of_frames[hot] = np.maximum(rows_of_frames[hot], best)
        return self.envelope

    def _interpolate_all(self, phases: np.ndarray) -> None:
        total = self.full.size
        reach = _TAPS_PER_PHASE - 1
        point = np.empty(total, np.float32)
        product = np.empty(total, np.float32)
        for channel in self.padded:
            for taps in phases:
                point.fill(0.0)
                for k, tap in enumerate(taps):
                    np.multiply(channel[reach - k : reach - k + total], tap, out=product)
                    point += product
                np.abs(point, out=point)
                np.maximum(self.full, point, out=self.full)


def true_peak(audio: np.ndarray, samplerate: int) -> float:
    """True peak of `audio` in dBTP, estimated by 4x oversampling; `-inf` for silence.

    `samplerate` is accepted for symmetry with `integrated_loudness`: the interpolator is
    specified relative to the sample rate, so the estimate does not depend on it.
    """
    del samplerate
    samples = _as_channels(audio)
    if samples.size == 0:
        return float("-inf")
    meter = _PeakEnvelope(samples, loop=False)
    sample_peak = float(meter.envelope.max())
    if sample_peak == 0.0:
        return float("-inf")
    return 20.0 * math.log10(float(meter.at_least(sample_peak).max()))


# Normalisation -------------------------------------------------------------------------------


def _limiter_blocks(block_peaks: np.ndarray, ceiling: float, box: int, loop: bool) -> np.ndarray:
    """The limiter's gain per block of `_LIMIT_HOP` frames, given each block's peak.

    A running minimum of the needed gain B + 1 blocks either side, then two box filters
    of B blocks: every box averages only values that are already at most the gain needed
    at its centre (that is what the wider minimum is for), so no peak gets through, and
    the gain glides instead of jumping. The extra block of minimum leaves room for the
    final 1-block smoothing at full rate in `_limiter_frames`.
    """
    needed = np.minimum(1.0, ceiling / np.maximum(block_peaks, 1e-12))
    mode = "wrap" if loop else "nearest"
    gain = ndimage.minimum_filter1d(needed, 2 * box + 3, mode=mode)
    gain = ndimage.uniform_filter1d(gain, box, mode=mode)
    return ndimage.uniform_filter1d(gain, box, mode=mode)


def _limiter_frames(block_gain: np.ndarray, frames: int, loop: bool) -> np.ndarray:
    """Block gains back at full rate, gliding linearly from one block to the next.

    Each frame's gain lies between its own block's gain and its neighbour's, and both are
    at most what the frame needs (the running minimum in `_limiter_blocks` reaches one
    block further than its smoothing), so the glide lets no peak through either.
    """
    following = block_gain[:1] if loop else block_gain[-1:]
    ends = np.concatenate([block_gain, following]).astype(np.float32)
    ramp = (np.arange(_LIMIT_HOP, dtype=np.float32) + 0.5) / _LIMIT_HOP
    glide = ends[:-1, None] + (ends[1:] - ends[:-1])[:, None] * ramp[None, :]
    return glide.ravel()[:frames]


def _blocked(values: np.ndarray, hop: int, reduce: str) -> np.ndarray:
    """`values` in blocks of `hop`, each block's max or sum (the last block may be short)."""
    whole = values.size // hop
    blocks = values[: whole * hop].reshape(whole, hop)
    parts = [blocks.max(axis=1) if reduce == "max" else blocks.sum(axis=1)]
    if values.size > whole * hop:
        rest = values[whole * hop :]
        parts.append(np.array([rest.max() if reduce == "max" else rest.sum()]))
    return np.concatenate(parts).astype(np.float64)


def _blocked_loudness(block_energy: np.ndarray, samplerate: int) -> float:
    """Gated loudness from the K-weighted energy summed over `_LIMIT_HOP`-frame blocks.

    Gating blocks are rounded to whole limiter blocks: close enough to steer the
    limiter, and a hundred times cheaper than measuring the audio again.
    """
    per = max(1, round(BLOCK_SECONDS * samplerate / _LIMIT_HOP))
    step = max(1, round(BLOCK_STEP_SECONDS * samplerate / _LIMIT_HOP))
    running = np.concatenate([[0.0], np.cumsum(block_energy)])
    count = block_energy.size
    if count < per:
        starts, per = np.array([0]), count
    else:
        starts = np.arange(0, count - per + 1, step)
    powers = (running[starts + per] - running[starts]) / (per * _LIMIT_HOP)
    return _gated_loudness(np.maximum(powers, 0.0))


def normalize(
    audio: np.ndarray,
    samplerate: int,
    target_lufs: float = -14.0,
    ceiling_dbtp: float = -1.0,
    *,
    loop: bool = False,
) -> tuple[np.ndarray, float]:
    """Bring `audio` to `target_lufs` with its true peak at or under `ceiling_dbtp`.

    Returns `(audio, gain_db)`: float32 audio of the input's shape, and the static gain
    applied in dB. When that gain would push the true peak over the ceiling, a smooth
    limiter (its gain envelope computed over the whole clip, gliding over ~8 ms) takes the
    peaks down, and the static gain rises until the loudness is back on target, with at
    most 20 dB of limiting: material that would need more ends up quieter than the target
    rather than flattened. With `loop=True` the audio is a loop: the limiter and the peak
    measurement wrap around the seam, so the loop stays seamless.
    Silence comes back unchanged with a gain of 0 dB.
    """
    result, gain_db, _ = normalize_measured(audio, samplerate, target_lufs, ceiling_dbtp, loop=loop)
    return result, gain_db


def normalize_measured(
    audio: np.ndarray,
    samplerate: int,
    target_lufs: float = -14.0,
    ceiling_dbtp: float = -1.0,
    *,
    loop: bool = False,
) -> tuple[np.ndarray, float, float]:
    """`normalize`, also returning the integrated loudness of the result (LUFS).

    Cheaper than measuring afterwards: without limiting, the result's loudness follows
    from the block powers already measured.
    """
    if not math.isfinite(target_lufs) or not math.isfinite(ceiling_dbtp):
        raise ValueError("target loudness and peak ceiling must be finite numbers of dB")
    shape = np.shape(audio)
    samples = _as_channels(audio)
    energy = _weighted_energy(samples, samplerate)
    powers = _block_powers(energy, samplerate)
    loudness = _gated_loudness(powers)
    if not math.isfinite(loudness):
        return _shaped(samples, shape), 0.0, loudness

    gain_db = target_lufs - loudness
    ceiling = 10.0 ** (ceiling_dbtp / 20.0)
    meter = _PeakEnvelope(samples, loop)
    linear = 10.0 ** (gain_db / 20.0)
    if meter.at_least(ceiling / linear).max() * linear <= ceiling:
        after = _gated_loudness(powers * linear**2)
        return _shaped(samples * linear, shape), gain_db, after

    aim = ceiling * 10.0 ** (-_LIMIT_MARGIN_DB / 20.0)
    limit_db = gain_db + _LIMIT_MAKEUP_DB
    box = max(1, round(_LIMIT_SMOOTH_SECONDS * samplerate / _LIMIT_HOP))
    # The limited signal's loudness is estimated from block energies of the K-weighted
    # signal: the weighting is nearly memoryless next to an 8 ms gain envelope, so
    # weighting the limited signal is close to limiting the weighted one.
    block_energy = _blocked(energy, _LIMIT_HOP, "sum")
    goal = target_lufs
    for _ in range(2):
        gain_db, block_gain = _limit_to(
            goal, gain_db, limit_db, block_energy, meter, aim, box, samplerate, loop
        )
        gain = _limiter_frames(block_gain, samples.shape[1], loop) * 10.0 ** (gain_db / 20.0)
        result = samples * gain
        after = _gated_loudness(_block_powers(_weighted_energy(result, samplerate), samplerate))
        # The estimate steers; the measurement decides. One correction covers what the
        # estimate misses (mostly the K-weighting's memory at low frequencies).
        if abs(target_lufs - after) < 0.25 or gain_db >= limit_db:
            break
        goal += target_lufs - after
    return _shaped(result, shape), gain_db, after


def _limit_to(
    goal: float,
    gain_db: float,
    limit_db: float,
    block_energy: np.ndarray,
    meter: _PeakEnvelope,
    aim: float,
    box: int,
    samplerate: int,
    loop: bool,
) -> tuple[float, np.ndarray]:
    """The static gain (from `gain_db` up to `limit_db`) and limiter block gains whose
    estimated loudness is `goal`."""
    tried: list[tuple[float, float]] = []
    block_gain = np.ones(block_energy.size)
    for _ in range(10):
        linear = 10.0 ** (gain_db / 20.0)
        # Only peaks that this gain could push over the aim need interpolating.
        peaks = _blocked(meter.at_least(aim / linear), _LIMIT_HOP, "max")
        block_gain = _limiter_blocks(peaks * linear, aim, box, loop)
        reached = _blocked_loudness(block_energy * (block_gain * linear) ** 2, samplerate)
        error = goal - reached
        if abs(error) < 0.02 or (error > 0 and gain_db >= limit_db):
            break
        tried.append((gain_db, reached))
        step = error
        if len(tried) >= 2:
            # Limiting flattens loudness against gain; a secant step follows the curve.
            (g0, l0), (g1, l1) = tried[-2], tried[-1]
            if l1 > l0:
                step = error * (g1 - g0) / (l1 - l0)
        gain_db = min(gain_db + float(np.clip(step, -12.0, 12.0)), limit_db)
    return gain_db, block_gain


def _shaped(samples: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Channels-first float64 back to the caller's `(frames,)` or `(frames, channels)`."""
    return np.ascontiguousarray(samples.T, dtype=np.float32).reshape(shape)
