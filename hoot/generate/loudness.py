"""Loudness and peak measurement, and loudness normalisation, for rendered stems.

`integrated_loudness` follows ITU-R BS.1770-4: K-weighting, 400 ms blocks overlapping by
75 %, an absolute gate at -70 LUFS and a relative gate 10 LU under the loudness of the
blocks that pass it. `true_peak` finds the peaks between samples by oversampling, as in
the standard's Annex 2, with an interpolator that is flat to 0.45 of the sample rate.
`normalize` brings a stem to a target loudness and keeps its true peak under a ceiling
with a smooth, offline gain envelope (the stems are rendered in worker processes, so the
whole clip is at hand and no lookahead delay is needed).

A loop is measured as it plays (`loop=True`): the K-weighting starts in the state the
loop's own end leaves it in, gating blocks that cross the seam read on from the loop's
start (round and round, for a loop shorter than a block), and the interpolation between
samples wraps round the seam too. Measured as a one-off clip instead, a sparse 4-bar
perc loop read 1.4 LU quieter than it plays: the downbeat at its sample 0 falls in one
gating block instead of four.

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

LOOP_STEP_SECONDS = 0.01
"""Hop between the gating blocks of a loop. As a loop plays on, the standard's 100 ms
blocks fall at ever different places in it (unless it lasts a whole number of 100 ms),
and which blocks pass the gates depends on where they fall: sparse 4-bar perc loops read
up to 0.34 LU apart. Blocks every 10 ms read what many passes of the loop average to."""

OVERSAMPLING = 8
"""True-peak oversampling factor: the standard asks for at least 4. Points an eighth of a
sample apart miss the peak between them by at most 0.14 dB, for a sine at 0.45 of the
sample rate (21.6 kHz at 48 kHz), 0.03 dB at 10 kHz; a quarter sample apart, up to 0.55 dB."""

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

BLOCK_FRAMES = 32
"""The peak meter and the limiter's gain envelope work on blocks of this many frames (at
least the interpolator's reach, 16 frames, so a block's points read only its neighbours)."""

_LIMIT_SMOOTH_SECONDS = 0.004
"""Width of each of the two box filters that round the limiter's gain envelope: gain dips
fade in and out over about 8 ms, slow enough not to buzz on bass notes."""

PEAK_MARGIN_DB = 0.1
"""`normalize` keeps true peaks this far under the ceiling: what eighth-sample points can
miss of a peak between them. A sine at 0.45 of the sample rate could hide 0.14 dB there;
rendered stems, whose peaks are made of lower partials, hide under 0.05 dB."""

_WARM_SECONDS = 0.1
"""History the K-weighting runs over before a loop: its slowest pole (the 38 Hz high-pass)
forgets the state it started in by 60 dB in 29 ms."""


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


def _weighted_energy(samples: np.ndarray, samplerate: int, loop: bool) -> np.ndarray:
    """Per frame, the channel-weighted sum of squares of the K-weighted channels.

    With `loop`, the filters first run over the loop's last `_WARM_SECONDS` (round again,
    for a shorter loop), so they enter its start as they do when it plays round.
    """
    # sosfilt wants writable coefficients; the cached ones are read-only.
    sos = k_weighting(samplerate).copy()
    frames = samples.shape[1]
    history = np.arange(-round(_WARM_SECONDS * samplerate), 0) % max(frames, 1)
    energy = np.zeros(frames)
    for channel, weight in zip(samples, _channel_weights(samples.shape[0])):
        if weight:
            state = np.zeros((sos.shape[0], 2))
            if loop and frames:
                _, state = signal.sosfilt(sos, channel[history], zi=state)
            weighted, _ = signal.sosfilt(sos, channel, zi=state)
            weighted *= weighted
            energy += weight * weighted
    return energy


def _window_sums(values: np.ndarray, hop: int, hops: int, loop: bool) -> np.ndarray:
    """Sums of `hops * hop` consecutive values, one starting every `hop`: the windows that
    fit in the clip, or with `loop` one for each start in the loop, reading on round the
    seam (as often as it takes, for a loop shorter than a window)."""
    if loop:
        starts = -(-values.size // hop)
        values = np.resize(values, (starts + hops - 1) * hop)  # np.resize repeats: it plays on
    steps = values.size // hop
    running = np.concatenate([[0.0], np.cumsum(values[: steps * hop].reshape(steps, hop).sum(1))])
    return np.maximum(running[hops:] - running[:-hops], 0.0)


def _block_powers(energy: np.ndarray, samplerate: int, loop: bool) -> np.ndarray:
    """Mean weighted energy of each 400 ms gating block, blocks 100 ms apart.

    A clip shorter than one block is measured as a single block of what there is, so a
    short one-shot still gets a loudness instead of silence. A loop is measured round its
    seam (see `_window_sums`), with blocks `LOOP_STEP_SECONDS` apart.
    """
    if energy.size == 0:
        return np.zeros(0)
    step_seconds = LOOP_STEP_SECONDS if loop else BLOCK_STEP_SECONDS
    step = max(1, round(step_seconds * samplerate))
    steps = round(BLOCK_SECONDS / step_seconds)
    if not loop and energy.size < step * steps:
        return np.array([energy.mean()])
    return _window_sums(energy, step, steps, loop) / (step * steps)


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


def integrated_loudness(audio: np.ndarray, samplerate: int, *, loop: bool = False) -> float:
    """Integrated loudness of `audio` in LUFS (ITU-R BS.1770-4); `-inf` for silence.

    `audio` is `(frames,)` or `(frames, channels)` in full scale (1.0 = 0 dBFS); channels
    are weighted as L, R, C (1.0) and surrounds (1.41), and the LFE of a 6-channel
    (5.1) file is ignored. A 0 dBFS 997 Hz sine in one channel reads -3.01 LUFS.
    With `loop=True`, `audio` is measured as a loop playing round: what the same audio
    tiled many times reads (see the module's docstring).
    """
    samples = _as_channels(audio)
    energy = _weighted_energy(samples, samplerate, loop)
    return _gated_loudness(_block_powers(energy, samplerate, loop))


# True peak -------------------------------------------------------------------------------


_TAPS = 32
"""Taps of each interpolating phase: a Kaiser-windowed sinc (beta 5) this long is within
0.005 (0.04 dB) of a perfect fractional delay up to 0.45 of the sample rate, at every
phase. The standard's example, 12 taps a phase, falls off long before that."""

_KAISER_BETA = 5.0

_BEFORE = _TAPS // 2 - 1
_AFTER = _TAPS // 2
"""Frames a point between n and n + 1 reads before n and after n."""

_QUARTER_GRID_RISE = 1.0 / math.cos(math.pi / 8)
"""How far a signal band-limited to half the sample rate can rise above the largest of
points a quarter sample apart (1 / cos(pi * 1/2 * 1/4), 0.69 dB): where the quarter
points stay further than that under a threshold, the eighths between need no working out."""


@functools.lru_cache(maxsize=1)
def _fractional_delays() -> np.ndarray:
    """`(OVERSAMPLING - 1, _TAPS)`: row p - 1 weighs frames n - 15 .. n + 16 into the point
    p / OVERSAMPLING of the way from frame n to n + 1. Each row sums to 1 (DC stays put)."""
    offsets = np.arange(-_BEFORE, _AFTER + 1)[None, :] - (
        np.arange(1, OVERSAMPLING)[:, None] / OVERSAMPLING
    )
    window = np.i0(_KAISER_BETA * np.sqrt(1.0 - (offsets / (_TAPS / 2)) ** 2))
    taps = np.sinc(offsets) * window
    taps /= taps.sum(axis=1, keepdims=True)
    taps.setflags(write=False)
    return taps


@functools.lru_cache(maxsize=2)
def _block_interpolator(phases: tuple[int, ...]) -> np.ndarray:
    """The points `phases` (in eighths of a sample) of a whole block as one matrix:
    `(BLOCK_FRAMES + _TAPS - 1, len(phases) * BLOCK_FRAMES)` float32, so that a block's
    frames and their neighbours, as a row, times it give all those points in one BLAS call."""
    taps = _fractional_delays()
    matrix = np.zeros((BLOCK_FRAMES + _TAPS - 1, len(phases) * BLOCK_FRAMES), np.float32)
    for column, phase in enumerate(phases):
        for frame in range(BLOCK_FRAMES):
            matrix[frame : frame + _TAPS, column * BLOCK_FRAMES + frame] = taps[phase - 1]
    matrix.setflags(write=False)
    return matrix


_QUARTERS = (2, 4, 6)
_ODD_EIGHTHS = (1, 3, 5, 7)

_GEMM_BLOCKS = 16
"""Blocks per matrix product. numpy hands a stack of small products to BLAS one by one,
and OpenBLAS works a product under 2^18 multiply-adds out in the calling thread: with
more, it wakes a thread per core, and two render workers sharing two cores then ran the
meter 2 to 3 times slower than one thread does."""


class _PeakMeter:
    """Per block of `BLOCK_FRAMES` frames, the largest magnitude over channels of the
    8x-oversampled signal from its first frame up to the next block's, worked out only
    where it matters.

    `at_least(threshold)` makes the block peaks exact wherever they could reach
    `threshold`: blocks whose samples (and their neighbours', times the interpolator's
    largest gain) could reach it get their quarter-sample points, and of those, blocks
    whose quarter points come within `_QUARTER_GRID_RISE` of it get the eighths between.
    Elsewhere the peak is known to stay under the threshold. A kick-and-hats stem then
    costs a few blocks; a pad far under the ceiling, the quarters only. With `loop`, the
    signal is periodic and the seam is interpolated from the clip's own start.
    """

    def __init__(self, samples: np.ndarray, loop: bool) -> None:
        channels, frames = samples.shape
        self.blocks = -(-frames // BLOCK_FRAMES)
        total = self.blocks * BLOCK_FRAMES
        # float32 channels padded to whole blocks, plus the interpolator's reach either side
        # (the loop's own other end when it is a loop, silence otherwise).
        padded = np.zeros((channels, _BEFORE + total + _AFTER), np.float32)
        padded[:, _BEFORE : _BEFORE + frames] = samples
        if loop and frames:
            padded[:, :_BEFORE] = samples[:, np.arange(-_BEFORE, 0) % frames]
            after = np.arange(frames, total + _AFTER) % frames
            padded[:, _BEFORE + frames :] = samples[:, after]
        # Row b: the frames block b's points are made of (a view: nothing is copied).
        self.rows = [
            np.lib.stride_tricks.sliding_window_view(channel, BLOCK_FRAMES + _TAPS - 1)[
                ::BLOCK_FRAMES
            ]
            for channel in padded
        ]
        body = np.abs(padded[:, _BEFORE : _BEFORE + total])
        self.peaks = body.reshape(channels, self.blocks, BLOCK_FRAMES).max(axis=(0, 2))
        self.bound = float(np.abs(_fractional_delays()).sum(axis=1).max())
        self.level = np.zeros(self.blocks, np.int8)  # 0 samples, 1 quarters, 2 eighths

    def _reach(self) -> np.ndarray:
        """Per block, the peak over it and its neighbours (whose frames its points read,
        and whose first frame ends its last frame's span)."""
        reach = self.peaks.copy()
        if self.blocks > 1:
            np.maximum(reach[1:], self.peaks[:-1], out=reach[1:])
            np.maximum(reach[:-1], self.peaks[1:], out=reach[:-1])
        return reach

    def at_least(self, threshold: float) -> np.ndarray:
        """The block peaks, float32, exact wherever they could be `threshold` or more."""
        hot = np.flatnonzero((self.level == 0) & (self._reach() * self.bound >= threshold))
        self._interpolate(hot, _QUARTERS)
        self.level[hot] = 1
        hot = np.flatnonzero((self.level == 1) & (self._reach() * _QUARTER_GRID_RISE >= threshold))
        self._interpolate(hot, _ODD_EIGHTHS)
        self.level[hot] = 2
        return self.peaks

    def _interpolate(self, hot: np.ndarray, phases: tuple[int, ...]) -> None:
        if hot.size == 0:
            return
        matrix = _block_interpolator(phases)
        # Whole stacks of _GEMM_BLOCKS (the last block repeated to fill the last stack).
        stacked = np.resize(hot, -(-hot.size // _GEMM_BLOCKS) * _GEMM_BLOCKS)
        stacked[hot.size :] = hot[-1]
        for rows in self.rows:
            points = rows[stacked].reshape(-1, _GEMM_BLOCKS, rows.shape[1]) @ matrix
            np.abs(points, out=points)
            best = points.reshape(stacked.size, -1).max(axis=1)[: hot.size]
            self.peaks[hot] = np.maximum(self.peaks[hot], best)


def true_peak(audio: np.ndarray, samplerate: int, *, loop: bool = False) -> float:
    """True peak of `audio` in dBTP, by 8x oversampling; `-inf` for silence.

    The interpolator is flat to 0.45 of the sample rate, so peaks of content up to there
    (20 kHz at 44.1 kHz) are found within 0.14 dB, most within a few hundredths; content
    above it (hoot's renderer leaves none) is not followed. With `loop=True` the audio is
    a loop and the peaks over its seam count too; otherwise it has silence either side.
    `samplerate` is accepted for symmetry with `integrated_loudness`: the interpolator is
    specified relative to the sample rate, so the measurement does not depend on it.
    """
    del samplerate
    samples = _as_channels(audio)
    if samples.size == 0:
        return float("-inf")
    meter = _PeakMeter(samples, loop)
    sample_peak = float(meter.peaks.max())
    if sample_peak == 0.0:
        return float("-inf")
    return 20.0 * math.log10(float(meter.at_least(sample_peak).max()))


# Normalisation -------------------------------------------------------------------------------


def _limiter_blocks(block_peaks: np.ndarray, ceiling: float, box: int, loop: bool) -> np.ndarray:
    """The limiter's gain per block of `BLOCK_FRAMES` frames, given each block's peak.

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
    ramp = (np.arange(BLOCK_FRAMES, dtype=np.float32) + 0.5) / BLOCK_FRAMES
    glide = ends[:-1, None] + (ends[1:] - ends[:-1])[:, None] * ramp[None, :]
    return glide.ravel()[:frames]


def _blocked_loudness(block_energy: np.ndarray, samplerate: int, loop: bool) -> float:
    """Gated loudness from the K-weighted energy summed over `BLOCK_FRAMES`-frame blocks.

    Gating blocks are rounded to whole limiter blocks: close enough to steer the
    limiter, and a hundred times cheaper than measuring the audio again.
    """
    step_seconds = LOOP_STEP_SECONDS if loop else BLOCK_STEP_SECONDS
    step = max(1, round(step_seconds * samplerate / BLOCK_FRAMES))
    steps = round(BLOCK_SECONDS / step_seconds)
    if not loop and block_energy.size < step * steps:
        powers = np.array([block_energy.mean() / BLOCK_FRAMES])
    else:
        powers = _window_sums(block_energy, step, steps, loop) / (step * steps * BLOCK_FRAMES)
    return _gated_loudness(powers)


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
    rather than flattened. Peaks are kept `PEAK_MARGIN_DB` under the ceiling, as
    `true_peak` measures them. With `loop=True` the audio is a loop: its loudness is
    measured as it plays round (`integrated_loudness(..., loop=True)`), and the limiter
    and the peak measurement wrap around the seam, so the loop stays seamless.
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
    """`normalize`, also returning the integrated loudness of the result (LUFS), measured
    the same way (as a loop with `loop=True`).

    Cheaper than measuring afterwards: without limiting, the result's loudness follows
    from the block powers already measured.
    """
    if not math.isfinite(target_lufs) or not math.isfinite(ceiling_dbtp):
        raise ValueError("target loudness and peak ceiling must be finite numbers of dB")
    shape = np.shape(audio)
    samples = _as_channels(audio)
    energy = _weighted_energy(samples, samplerate, loop)
    powers = _block_powers(energy, samplerate, loop)
    loudness = _gated_loudness(powers)
    if not math.isfinite(loudness):
        return _shaped(samples, shape), 0.0, loudness

    gain_db = target_lufs - loudness
    aim = 10.0 ** ((ceiling_dbtp - PEAK_MARGIN_DB) / 20.0)
    meter = _PeakMeter(samples, loop)
    linear = 10.0 ** (gain_db / 20.0)
    if meter.at_least(aim / linear).max() * linear <= aim:
        after = _gated_loudness(powers * linear**2)
        return _shaped(samples * linear, shape), gain_db, after

    limit_db = gain_db + _LIMIT_MAKEUP_DB
    box = max(1, round(_LIMIT_SMOOTH_SECONDS * samplerate / BLOCK_FRAMES))
    # The limited signal's loudness is estimated from block energies of the K-weighted
    # signal: the weighting is nearly memoryless next to an 8 ms gain envelope, so
    # weighting the limited signal is close to limiting the weighted one.
    whole = -(-energy.size // BLOCK_FRAMES) * BLOCK_FRAMES
    block_energy = np.pad(energy, (0, whole - energy.size)).reshape(-1, BLOCK_FRAMES).sum(1)
    goal = target_lufs
    for _ in range(2):
        gain_db, block_gain = _limit_to(
            goal, gain_db, limit_db, block_energy, meter, aim, box, samplerate, loop
        )
        gain = _limiter_frames(block_gain, samples.shape[1], loop) * 10.0 ** (gain_db / 20.0)
        result = samples * gain
        weighted = _weighted_energy(result, samplerate, loop)
        after = _gated_loudness(_block_powers(weighted, samplerate, loop))
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
    meter: _PeakMeter,
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
        peaks = meter.at_least(aim / linear)
        block_gain = _limiter_blocks(peaks * linear, aim, box, loop)
        reached = _blocked_loudness(block_energy * (block_gain * linear) ** 2, samplerate, loop)
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
