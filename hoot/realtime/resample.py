"""A streaming windowed-sinc resampler: any rational ratio, block by block, no clicks.

A RAVE model runs at its own rate (RAVE's configs say 44.1 kHz; our embedded model 48 kHz)
and a session at another, so a live input goes through two of these: to the model's rate
and back. Each output sample is a Kaiser-windowed sinc interpolation of the input around
its position, from a table of L phases (src/dst = M/L in lowest terms: 44.1k -> 48k is
L = 160, M = 147; 16 zero crossings a side, cutoff 0.92 of the lower Nyquist, Kaiser
beta 8.6: about -80 dB stop band, a flat pass band to ~20 kHz at 44.1 kHz).

Streaming rules, which make a block-by-block run equal a one-shot run (to float rounding):

- Output n sits at input position n*M/L - D_in, where D_in >= W (the filter's half width
  in input samples) is the filter's delay, so output n needs no input after floor(n*M/L).
  Output n is written as soon as input floor(n*M/L) has arrived, hence after `count` input
  samples in all, exactly ceil(count*L/M) outputs have been written: the bookkeeping a
  caller (hoot.realtime.rave.Stream) relies on for a fixed, exact latency.
- `delay` is D_in in output samples (D_in * L/M); a caller may ask for more than the
  minimum (`delay=`), e.g. to make the delay of a chain of two resamplers a whole number.
- The last T inputs (T taps) are kept, so a block's first outputs see the previous
  block's tail; the input before the first sample is silence.

Numpy only: the voice process calls it per engine block (128 frames: ~0.1 ms).
"""

from __future__ import annotations

import math

import numpy as np

ZERO_CROSSINGS = 16
CUTOFF = 0.92
KAISER_BETA = 8.6


class StreamResampler:
    """Audio at `src` Hz in, at `dst` Hz out, block by block: see the module docstring."""

    def __init__(self, src: int, dst: int, channels: int = 2, delay: float | None = None):
        if src <= 0 or dst <= 0:
            raise ValueError(f"sample rates must be positive, not {src} and {dst}")
        g = math.gcd(int(src), int(dst))
        self.src, self.dst, self.channels = int(src), int(dst), int(channels)
        self.up, self.down = self.dst // g, self.src // g  # L, M
        cutoff = CUTOFF * min(1.0, self.up / self.down)  # in cycles per input sample * 2
        half = ZERO_CROSSINGS / cutoff  # W: the filter's half width in input samples
        shortest = 0.0 if self.up == self.down else half
        wanted = shortest if delay is None else float(delay) * self.down / self.up
        if wanted < shortest - 1e-9:
            least = half * self.up / self.down
            raise ValueError(
                f"a delay of {delay} output samples is under this filter's {least:.2f}"
            )
        self.delay_in = wanted
        self.delay = wanted * self.up / self.down
        """The filter's delay in output samples: input t comes out at t*L/M + delay."""
        self.taps = int(math.floor(wanted + half)) + 1 if self.up != self.down or wanted else 1
        self._table = self._phases(cutoff, half)
        self._history = np.zeros((self.taps, self.channels), np.float32)  # inputs before base
        self._base = -self.taps  # the input index of _history[0]
        self._count = 0  # inputs taken
        self._made = 0  # outputs written
        self._reach = np.arange(self.taps)

    def _phases(self, cutoff: float, half: float) -> np.ndarray:
        """table[f, j]: the weight of input i - j for the output at input position i + f/L."""
        if self.up == self.down and self.delay_in == 0:
            return np.ones((1, 1), np.float32)
        f = np.arange(self.up)[:, None] / self.up
        t = np.arange(self.taps)[None, :] + f - self.delay_in  # input position minus sample
        edge = np.sqrt(np.clip(1 - (t / half) ** 2, 0, 1))
        window = np.where(np.abs(t) < half, np.i0(KAISER_BETA * edge), 0)
        h = cutoff * np.sinc(cutoff * t) * window / np.i0(KAISER_BETA)
        h /= h.sum(axis=1, keepdims=True)  # each phase passes DC at exactly 1
        return h.astype(np.float32)

    def frames_for(self, count: int) -> int:
        """Outputs written once `count` inputs have been taken, in all: ceil(count*L/M)."""
        return -(-count * self.up // self.down)

    def process(self, x: np.ndarray) -> np.ndarray:
        """The outputs that `x` (m, channels) completes: (k, channels) float32, k >= 0."""
        x = np.asarray(x, np.float32).reshape(-1, self.channels)
        history = np.concatenate([self._history, x])
        self._count += len(x)
        end = self.frames_for(self._count)
        n = np.arange(self._made, end, dtype=np.int64)
        self._made = end
        position = n * self.down
        i, phase = position // self.up, position % self.up
        rows = (i - self._base)[:, None] - self._reach[None, :]
        out = np.einsum("kt,ktc->kc", self._table[phase], history[rows]).astype(np.float32)
        self._history = history[-self.taps :]
        self._base = self._count - self.taps
        return out

    def reset(self) -> None:
        """Forget the input: the next sample is the first, after silence."""
        self._history[:] = 0
        self._base, self._count, self._made = -self.taps, 0, 0
