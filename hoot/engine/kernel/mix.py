"""The mixer's tail, compiled: guard the tracks, apply their gains, sum them to the master,
limit it and meter it. REAL-TIME CODE (see the package docstring for the rules).

Ports of the Python core's `Engine._guard_tracks`, `_apply_gains`, the master sum,
`Limiter.process` and `Engine._meter`, which stay as the tests' oracle. The arithmetic is
theirs, operation for operation, so the output is identical to the bit across block sizes,
and against the oracle the only difference is in the limiter's `log2` and `exp2`: numpy's
SIMD versions and the C library's (which numba calls) differ by at most one unit in the
last place of a float64 (measured on 4 million arguments, 0.09 % of `log2`s and 5 % of
`exp2`s), a gain error near 1e-16, which float32 output rounding nearly always hides.

Per block the work is two passes over the tracks (clamp and look for NaN; then gain, meter
and sum in one) and one over the master (the limiter, whose `log2` and `exp2` are skipped,
exactly, where no reduction is needed): about 5 us for 8 tracks at 64 frames, 0.4 % of the
period (benchmarks/kernel_mix.py). The limiter's lookahead is a delay line in
`MixState.delay` whose last `n` rows receive the master sum directly.

Delay compensation: with `i[COMPENSATE]` = D > 0, every track that is not `direct` (a
model's return row) is summed into `comp`, a ring of MAX_COMPENSATE + max_block frames
indexed by absolute sample, and reaches the master D samples later; direct tracks are
summed straight in. So a model's output written D samples after its input lines up with
the tracks it was played against, to the sample. The ring is zeroed (160 KB, in place)
when compensation is switched on from 0; at D = 0 the mix is the oracle's, bit for bit.

Gains glide as in the Python core: a track's gain at absolute frame s is
`old + (new - old) * clip((s - since) / GAIN_RAMP, 0, 1)`, computed in float64 and rounded
to float32 at the same two steps, and the steady-state gains come from the same formula,
so a frame's gain does not depend on whether its block lies inside a glide.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from hoot.engine.core import GAIN_RAMP, TRACK_CLAMP
from hoot.engine.kernel.jit import jit
from hoot.engine.limiter import UNITS, Limiter
from hoot.engine.protocol import MAX_COMPENSATE

GLIDES_END, FAULTS, CARRY, RELEASE, LOOKAHEAD, COMPENSATE = range(6)
"""Columns of `MixState.i` (int64): the first sample at which every glide has ended; faults
(a track silenced for NaN or inf, a bad mix command); the limiter's running max of
need + release * sample; its release in log2 units per sample; its lookahead in frames;
the delay compensation in frames (0: off)."""

REDUCTION_DB, TARGET, CEILING = range(3)
"""Columns of `MixState.f` (float64): the limiter's latest gain reduction in dB (for the
meters); the level it limits to and the ceiling it clips at, linear."""

PEAK_L, PEAK_R, RMS_L, RMS_R = range(4)
"""Columns of `MixState.meters` (float32): rows are the tracks, then the master."""

_INV_RAMP = 1.0 / GAIN_RAMP  # the oracle multiplies by this rather than dividing
_FLOOR = np.float32(1e-12)  # the quietest peak the limiter takes a log of
_NO_CARRY = -(1 << 62)


class MixState(NamedTuple):
    gain_old: np.ndarray  # float64 (T, 2): where each glide starts
    gain_new: np.ndarray  # float64 (T, 2): where it ends
    gain_since: np.ndarray  # float64 (T,): the sample it starts at
    gain_delta: np.ndarray  # float64 (T, 2): new - old
    gain_final: np.ndarray  # float32 (T, 2): the gains once every glide has ended
    meters: np.ndarray  # float32 (T + 1, 4)
    i: np.ndarray  # int64 registers (GLIDES_END...)
    f: np.ndarray  # float64 registers (REDUCTION_DB...)
    delay: np.ndarray  # float32 (lookahead - 1 + max_block, 2): the limiter's input
    mag: np.ndarray  # float32 (lookahead - 1 + max_block,): its stereo-linked magnitude
    peak: np.ndarray  # float32 (lookahead - 1 + max_block,): window maxima (scratch)
    hold: np.ndarray  # int64 (lookahead - 1 + max_block,): reduction held, log2 units
    to_master: np.ndarray  # uint8 (T,): 1 where the track is summed into the master (an
    # input whose player hears themselves acoustically is 0: metered, recorded, not heard)
    direct: np.ndarray  # uint8 (T,): 1 where the track skips delay compensation (a return)
    comp: np.ndarray  # float32 (MAX_COMPENSATE + max_block, 2): compensated sums, s % len


def make_mix(samplerate: int, n_tracks: int, max_block: int) -> MixState:
    """A mixer at rest: every gain 1, nothing gliding, the limiter's delay line silent."""
    limiter = Limiter(samplerate, 1)  # its settings, so that there is one source of them
    size = limiter.lookahead - 1 + max_block
    i = np.zeros(6, np.int64)
    i[GLIDES_END] = 0
    i[CARRY] = _NO_CARRY
    i[RELEASE] = limiter.release
    i[LOOKAHEAD] = limiter.lookahead
    f = np.zeros(3, np.float64)
    f[TARGET] = limiter.target
    f[CEILING] = limiter.ceiling
    return MixState(
        np.ones((n_tracks, 2), np.float64),
        np.ones((n_tracks, 2), np.float64),
        np.full(n_tracks, -float(GAIN_RAMP), np.float64),
        np.zeros((n_tracks, 2), np.float64),
        np.ones((n_tracks, 2), np.float32),
        np.zeros((n_tracks + 1, 4), np.float32),
        i,
        f,
        np.zeros((size, 2), np.float32),
        np.zeros(size, np.float32),
        np.zeros(size, np.float32),
        np.zeros(size, np.int64),
        np.ones(n_tracks, np.uint8),
        np.zeros(n_tracks, np.uint8),
        np.zeros((MAX_COMPENSATE + max_block, 2), np.float32),
    )


@jit
def set_compensation(ms: MixState, samples: int) -> None:
    """Delay the tracks that are not direct by `samples` (0: off) from this block on; the
    delay line starts silent when switched on. Beyond MAX_COMPENSATE: a fault, unchanged."""
    if not 0 <= samples <= MAX_COMPENSATE:
        ms.i[FAULTS] += 1
        return
    if ms.i[COMPENSATE] == 0 and samples > 0:
        ms.comp[:] = np.float32(0.0)
    ms.i[COMPENSATE] = samples


@jit
def _glide_gain(tt: float, delta: float, old: float) -> np.float32:
    """The gain `tt` frames into a glide: the oracle's `_glide_gains`, rounding where it does."""
    x = tt * _INV_RAMP
    x = min(x, 1.0)
    x = max(x, 0.0)
    return np.float32(np.float64(np.float32(x * delta)) + old)


@jit
def set_mix(ms: MixState, track: int, left: float, right: float, at_once: bool, s0: int) -> None:
    """Set a track's linear gains: they glide there over GAIN_RAMP frames from sample `s0`,
    from wherever the current glide has reached, or jump there `at_once` (before any sound).
    A track out of range or a gain that is not finite is dropped and counted as a fault."""
    n_tracks = ms.gain_old.shape[0]
    if track < 0 or track >= n_tracks or not (math.isfinite(left) and math.isfinite(right)):
        ms.i[FAULTS] += 1
        return
    if at_once:
        cur_l = left
        cur_r = right
    else:
        frac = min(max((s0 - ms.gain_since[track]) / GAIN_RAMP, 0.0), 1.0)
        cur_l = ms.gain_old[track, 0] + (ms.gain_new[track, 0] - ms.gain_old[track, 0]) * frac
        cur_r = ms.gain_old[track, 1] + (ms.gain_new[track, 1] - ms.gain_old[track, 1]) * frac
    ms.gain_old[track, 0] = cur_l
    ms.gain_old[track, 1] = cur_r
    ms.gain_new[track, 0] = left
    ms.gain_new[track, 1] = right
    ms.gain_since[track] = s0
    for t in range(n_tracks):
        for c in range(2):
            delta = ms.gain_new[t, c] - ms.gain_old[t, c]
            ms.gain_delta[t, c] = delta
            ms.gain_final[t, c] = _glide_gain(2.0 * GAIN_RAMP, delta, ms.gain_old[t, c])
    # past since + RAMP the glide clips to exactly 1.0 (at RAMP itself it may round below)
    ms.i[GLIDES_END] = max(ms.i[GLIDES_END], s0 + GAIN_RAMP + 1)


@jit
def _guard(ms: MixState, tracks: np.ndarray, n: int) -> None:
    """Clamp every sample to +-TRACK_CLAMP; silence a track holding NaN (inf became the
    clamp) and count a fault. Without branches: a sample within the clamp is written back
    as it was, to the bit."""
    clamp = np.float32(TRACK_CLAMP)
    low = -clamp
    for t in range(tracks.shape[0]):
        bad = False
        for k in range(n):
            for c in range(2):
                v = tracks[t, k, c]
                bad |= v != v
                tracks[t, k, c] = min(max(v, low), clamp)
        if bad:
            for k in range(n):
                tracks[t, k, 0] = np.float32(0.0)
                tracks[t, k, 1] = np.float32(0.0)
            ms.i[FAULTS] += 1


@jit
def _gain_and_sum(ms: MixState, tracks: np.ndarray, s0: int, n: int) -> None:
    """Apply the gains in place, meter each track, and sum the tracks heard in the master
    into the limiter's delay line (the first one first, then adding the next...: the order
    numpy reduces them in)."""
    h = ms.i[LOOKAHEAD] - 1
    master = ms.delay
    late = ms.i[COMPENSATE]
    if late > 0:
        _compensated_sum(ms, tracks, s0, n, late)
        return
    steady = s0 >= ms.i[GLIDES_END]
    inv_n = np.float32(1.0 / n)
    summed = False
    for t in range(tracks.shape[0]):
        heard = ms.to_master[t] != 0
        first = heard and not summed
        summed = summed or heard
        g_l = ms.gain_final[t, 0]
        g_r = ms.gain_final[t, 1]
        if steady:  # one gain for the block: loops without a branch inside
            for k in range(n):
                tracks[t, k, 0] = tracks[t, k, 0] * g_l
                tracks[t, k, 1] = tracks[t, k, 1] * g_r
        else:
            for k in range(n):
                tt = np.float64(s0 + k) - ms.gain_since[t]
                g_l = _glide_gain(tt, ms.gain_delta[t, 0], ms.gain_old[t, 0])
                g_r = _glide_gain(tt, ms.gain_delta[t, 1], ms.gain_old[t, 1])
                tracks[t, k, 0] = tracks[t, k, 0] * g_l
                tracks[t, k, 1] = tracks[t, k, 1] * g_r
        if first:
            for k in range(n):
                master[h + k, 0] = tracks[t, k, 0]
                master[h + k, 1] = tracks[t, k, 1]
        elif heard:
            for k in range(n):
                master[h + k, 0] += tracks[t, k, 0]
                master[h + k, 1] += tracks[t, k, 1]
        _meter(ms.meters, t, tracks[t], n, inv_n)
    if not summed:
        for k in range(n):
            master[h + k, 0] = np.float32(0.0)
            master[h + k, 1] = np.float32(0.0)


@jit
def _compensated_sum(ms: MixState, tracks: np.ndarray, s0: int, n: int, late: int) -> None:
    """_gain_and_sum with compensation on: the tracks heard that are not direct are summed
    into `comp` at their own samples, and the master takes them `late` samples later, plus
    the direct tracks now."""
    h = ms.i[LOOKAHEAD] - 1
    master = ms.delay
    comp = ms.comp
    size = comp.shape[0]
    steady = s0 >= ms.i[GLIDES_END]
    inv_n = np.float32(1.0 / n)
    for k in range(n):
        j = (s0 + k) % size
        comp[j, 0] = np.float32(0.0)
        comp[j, 1] = np.float32(0.0)
        master[h + k, 0] = np.float32(0.0)
        master[h + k, 1] = np.float32(0.0)
    for t in range(tracks.shape[0]):
        heard = ms.to_master[t] != 0
        direct = ms.direct[t] != 0
        g_l = ms.gain_final[t, 0]
        g_r = ms.gain_final[t, 1]
        for k in range(n):
            if not steady:
                tt = np.float64(s0 + k) - ms.gain_since[t]
                g_l = _glide_gain(tt, ms.gain_delta[t, 0], ms.gain_old[t, 0])
                g_r = _glide_gain(tt, ms.gain_delta[t, 1], ms.gain_old[t, 1])
            left = tracks[t, k, 0] * g_l
            right = tracks[t, k, 1] * g_r
            tracks[t, k, 0] = left
            tracks[t, k, 1] = right
            if heard and direct:
                master[h + k, 0] += left
                master[h + k, 1] += right
            elif heard:
                j = (s0 + k) % size
                comp[j, 0] += left
                comp[j, 1] += right
        _meter(ms.meters, t, tracks[t], n, inv_n)
    for k in range(n):
        j = (s0 + k - late + size) % size  # written this block or before: size >= late + n
        master[h + k, 0] += comp[j, 0]
        master[h + k, 1] += comp[j, 1]


@jit
def _set_meter(meters, row, peak_l, peak_r, sq_l, sq_r, inv_n) -> None:
    """Peaks as they are; rms as the oracle rounds it: float32 mean square, float32 root.
    The squares are summed in float64 (numpy sums float32 pairwise: the two agree within
    float32 rounding)."""
    meters[row, PEAK_L] = peak_l
    meters[row, PEAK_R] = peak_r
    meters[row, RMS_L] = np.sqrt(np.float32(sq_l) * inv_n)
    meters[row, RMS_R] = np.sqrt(np.float32(sq_r) * inv_n)


@jit
def _meter(meters, row, block, n, inv_n) -> None:
    """Meter block[:n] (float32 (>= n, 2)) into meters[row]: peaks exactly; the squares
    summed in float64 in two interleaved runs per side (independent additions the processor
    overlaps; the sum differs from one run's only in float64 rounding, far below float32)."""
    zero = np.float32(0.0)
    p_l0, p_l1, p_r0, p_r1 = zero, zero, zero, zero
    s_l0, s_l1, s_r0, s_r1 = 0.0, 0.0, 0.0, 0.0
    pairs = n // 2
    for j in range(pairs):
        a_l = block[2 * j, 0]
        a_r = block[2 * j, 1]
        b_l = block[2 * j + 1, 0]
        b_r = block[2 * j + 1, 1]
        p_l0 = max(p_l0, abs(a_l))
        p_r0 = max(p_r0, abs(a_r))
        p_l1 = max(p_l1, abs(b_l))
        p_r1 = max(p_r1, abs(b_r))
        s_l0 += a_l * a_l
        s_r0 += a_r * a_r
        s_l1 += b_l * b_l
        s_r1 += b_r * b_r
    if n % 2:
        a_l = block[n - 1, 0]
        a_r = block[n - 1, 1]
        p_l0 = max(p_l0, abs(a_l))
        p_r0 = max(p_r0, abs(a_r))
        s_l0 += a_l * a_l
        s_r0 += a_r * a_r
    _set_meter(meters, row, max(p_l0, p_l1), max(p_r0, p_r1), s_l0 + s_l1, s_r0 + s_r1, inv_n)


@jit
def _limit(ms: MixState, out: np.ndarray, s0: int, n: int) -> None:
    """`Limiter.process` on the master in `ms.delay[h : h + n]`, into `out[:n]`, delayed by
    h = lookahead - 1 frames. Its docstring derives the method."""
    L = ms.i[LOOKAHEAD]
    h = L - 1
    x, mag, pk, hold = ms.delay, ms.mag, ms.peak, ms.hold
    m = h + n
    for k in range(h, m):
        mag[k] = max(abs(x[k, 0]), abs(x[k, 1]))
    # peak over the L-frame window ending at each new frame, by doubling the width in place
    for k in range(m):
        pk[k] = mag[k]
    width = 1
    step = 1
    while step < L:  # afterwards pk[j] = max(mag[j : j + 2 * step])
        for j in range(m - width - step + 1):
            pk[j] = max(pk[j], pk[j + step])
        width += step
        step *= 2
    # needed reduction in integer log2 units, held and released (all integer from here)
    target = np.float32(ms.f[TARGET])
    release = ms.i[RELEASE]
    run = ms.i[CARRY]
    for k in range(n):
        q = max(pk[k], _FLOOR) / target
        need = 0
        if q > np.float32(1.0):  # below, log2 <= 0 and the need is 0: skip it exactly
            need = np.int64(math.ceil(np.log2(np.float64(q)) * UNITS))
        idx = (s0 + k) * release
        run = max(run, need + idx)
        hold[h + k] = max(run - idx, 0)
    ms.i[CARRY] = run
    # smooth attack: the gain of output frame k comes from the mean hold over [k, k + L)
    total = 0
    for j in range(L - 1):
        total += hold[j]
    ceiling = np.float32(ms.f[CEILING])
    scale = -1.0 / (UNITS * L)
    for k in range(n):
        total += hold[k + L - 1]
        gain = 1.0 if total == 0 else np.exp2(np.float64(total) * scale)  # exp2(-0.0) is 1
        for c in range(2):
            v = np.float32(np.float64(x[k, c]) * gain)
            out[k, c] = min(max(v, -ceiling), ceiling)
        total -= hold[k]
    ms.f[REDUCTION_DB] = 6.0206 * np.float64(total + hold[n - 1]) / (UNITS * L)
    # keep the last h frames for the next block
    for j in range(h):
        x[j, 0] = x[n + j, 0]
        x[j, 1] = x[n + j, 1]
        mag[j] = mag[n + j]
        hold[j] = hold[n + j]


@jit
def mix_block(ms: MixState, tracks: np.ndarray, out: np.ndarray, s0: int, n: int) -> None:
    """Mix `tracks[:, :n]` (float32 (T, >= n, 2), this block's track buffers, starting at
    absolute sample s0) into `out[:n]` (float32 (>= n, 2)): the limited master, delayed by
    the limiter's lookahead - 1 frames. The tracks are left guarded and gained (what the
    recorder taps); `ms.meters` holds this block's levels. A block longer than the state's
    max_block (or than the buffers given), or a number of tracks other than the state's, is
    refused: silence, and a fault counted."""
    if (
        n <= 0
        or n > ms.delay.shape[0] - ms.i[LOOKAHEAD] + 1
        or min(tracks.shape[1], out.shape[0]) < n
        or tracks.shape[0] != ms.gain_old.shape[0]
    ):
        for k in range(min(max(n, 0), out.shape[0])):
            out[k, 0] = np.float32(0.0)
            out[k, 1] = np.float32(0.0)
        ms.i[FAULTS] += 1
        return
    _guard(ms, tracks, n)
    _gain_and_sum(ms, tracks, s0, n)
    _limit(ms, out, s0, n)
    _meter(ms.meters, tracks.shape[0], out, n, np.float32(1.0 / n))
