"""Master-bus limiter. REAL-TIME CODE: runs inside Engine.forward on the audio thread.

Rules here: every array is preallocated; numpy calls write through `out=`;
no logging, no locks, nothing raises out of `process`.

Design, and why: a lookahead peak limiter (1.3 ms) whose gain never lets a
sample past the ceiling, with a smooth attack (a moving average over the
lookahead window) and a steady release. The gain computation is done in
integer units of log2-gain, so that the result for a sample depends only on
the signal, never on where the audio blocks happen to be cut: offline renders
with any block size are identical to the bit, which is how hoot tests timing.

    peak[k]   = max |x| over the window of L samples ending at k       (exact)
    need[k]   = ceil(U * log2(peak[k] / target)), at least 0            (integer)
    hold[k]   = max(need[k], hold[k-1] - d)  = max_j<=k (need[j] + d*j) - d*k
    reduce[m] = (sum of hold over [m, m+L-1]) / L                       (exact sum)
    y[m]      = x[m] * 2 ** (-reduce[m] / U),  then clipped to the ceiling

y is x delayed by L-1 samples. Every window that ends in [m, m+L-1] contains
sample m, so reduce[m] is at least need(m): the ceiling holds before the clip.
"""

from __future__ import annotations

import numpy as np

CEILING_DB = -0.3
UNITS = 1 << 16  # integer units per doubling of gain reduction


class Limiter:
    """Stereo-linked lookahead limiter with a hard ceiling at `ceiling_db` dBFS."""

    def __init__(
        self,
        samplerate: int,
        max_block: int,
        lookahead: int = 64,
        ceiling_db: float = CEILING_DB,
        target_db: float = -0.5,
        release_db_per_s: float = 60.0,
    ) -> None:
        self.lookahead = L = int(lookahead)
        self.ceiling_db = float(ceiling_db)
        self.ceiling = float(10 ** (ceiling_db / 20))
        self.target = float(10 ** (target_db / 20))
        # release in integer units per sample
        self.release = max(1, round(UNITS * (release_db_per_s / 6.0206) / samplerate))
        h = L - 1
        n = max_block
        self._x = np.zeros((h + n, 2), np.float32)  # delay line: h old frames + block
        self._mag = np.zeros(h + n, np.float32)  # |x| for the peak windows
        self._peak = np.zeros(n, np.float32)
        self._logs = np.zeros(n, np.float64)
        self._need = np.zeros(n, np.int64)
        self._idx = np.zeros(n, np.int64)
        self._ramp = np.arange(n, dtype=np.int64)
        self._hold = np.zeros(h + n, np.int64)  # h old values + block
        self._sum = np.zeros(n, np.int64)
        self._gain = np.zeros((n, 1), np.float64)
        self._carry = np.int64(-(1 << 62))  # running max of need[j] + d*j
        if L & (L - 1):
            raise ValueError("the lookahead must be a power of two")
        self._steps = [1 << i for i in range(L.bit_length() - 1)]  # window doublings
        self._ping = np.zeros(h + n, np.float32)
        self._pong = np.zeros(h + n, np.float32)
        self._prefix = np.zeros(h + n + 1, np.int64)
        self.reduction_db = 0.0  # latest gain reduction, for the meters

    @property
    def latency(self) -> int:
        return self.lookahead - 1

    def process(self, block: np.ndarray, out: np.ndarray, s0: int, n: int) -> None:
        """Limit `block[:n]` (input samples s0..s0+n) into `out[:n]`, delayed by `latency`."""
        h = self.lookahead - 1
        x, mag, hold = self._x, self._mag, self._hold
        x[h : h + n] = block[:n]
        # stereo-linked magnitude of the new frames
        np.abs(x[h : h + n], out=block[:n])
        np.maximum(block[:n, 0], block[:n, 1], out=mag[h : h + n])
        # peak over the L-sample window ending at each new frame
        self._window_max(h + n)
        # needed reduction in integer log2 units
        np.maximum(self._peak[:n], 1e-12, out=self._peak[:n])
        np.divide(self._peak[:n], self.target, out=self._logs[:n])
        np.log2(self._logs[:n], out=self._logs[:n])
        np.multiply(self._logs[:n], UNITS, out=self._logs[:n])
        np.ceil(self._logs[:n], out=self._logs[:n])
        np.maximum(self._logs[:n], 0.0, out=self._logs[:n])
        need = self._need[:n]
        need[:] = self._logs[:n]
        # release: hold[k] = max_j<=k (need[j] + d*j) - d*k, j and k absolute
        idx = self._idx[:n]
        np.add(self._ramp[:n], s0, out=idx)
        np.multiply(idx, self.release, out=idx)
        np.add(need, idx, out=need)
        np.maximum.accumulate(need, out=need)
        np.maximum(need, self._carry, out=need)
        self._carry = need[n - 1]
        np.subtract(need, idx, out=hold[h : h + n])
        np.maximum(hold[h : h + n], 0, out=hold[h : h + n])
        # smooth attack: mean of hold over the window starting at each output frame
        # exact integer window sums from a prefix sum (its offset cancels out)
        prefix = self._prefix[: h + n + 1]
        np.cumsum(hold[: h + n], out=prefix[1:])
        np.subtract(prefix[self.lookahead : self.lookahead + n], prefix[:n], out=self._sum[:n])
        g = self._gain[:n, 0]
        np.multiply(self._sum[:n], -1.0 / (UNITS * self.lookahead), out=g)
        np.exp2(g, out=g)
        self.reduction_db = 6.0206 * float(self._sum[n - 1]) / (UNITS * self.lookahead)
        # delayed output: the frames that entered h samples ago
        np.multiply(x[:n], self._gain[:n], out=out[:n], casting="unsafe")
        np.minimum(out[:n], self.ceiling, out=out[:n])
        np.maximum(out[:n], -self.ceiling, out=out[:n])
        # keep the last h frames for the next block
        x[:h] = x[n : n + h]
        mag[:h] = mag[n : n + h]
        hold[:h] = hold[n : n + h]

    def _window_max(self, m: int) -> None:
        """peak[j] = max(mag[j : j + L]) for the m - L + 1 windows, by doubling the width."""
        src, a, b = self._mag, self._ping, self._pong
        width = 1
        for k in self._steps:  # after each step, a[j] = max over a window of 2k
            np.maximum(src[: m - width - k + 1], src[k : m - width + 1], out=a[: m - width - k + 1])
            width += k
            src, a, b = a, b, a
        n = m - self.lookahead + 1
        self._peak[:n] = src[:n]

    def reset(self) -> None:
        self._x.fill(0)
        self._mag.fill(0)
        self._hold.fill(0)
        self._carry = np.int64(-(1 << 62))
