"""Measurements of loops by routes of their own, to check `hoot.generate.loudness` against.

They share none of its shortcuts (no polyphase interpolator, no blocks worked out only
where they matter, no gating blocks wrapped round a seam) and are too slow for a render.
"""

from __future__ import annotations

import numpy as np
from scipy import fft

from hoot.generate.loudness import integrated_loudness


def reference_peak(loop: np.ndarray, oversampling: int = 16) -> float:
    """True peak (dBTP) of a loop: its spectrum, delayed by every 1/`oversampling` of a
    sample, back to samples. That is exact band-limited interpolation of the periodic
    signal right up to Nyquist; points 1/16 of a sample apart miss at most 0.04 dB, 1/32
    at most 0.01 dB."""
    samples = np.asarray(loop, np.float32).reshape(len(loop), -1)
    frames = samples.shape[0]
    spectrum = fft.rfft(samples, axis=0)
    turns = np.arange(spectrum.shape[0])[:, None] / (oversampling * frames)
    step = np.exp(2j * np.pi * turns).astype(np.complex64)  # a delay of 1/oversampling
    peak = float(np.abs(samples).max())
    for _ in range(1, oversampling):
        spectrum *= step
        peak = max(peak, float(np.abs(fft.irfft(spectrum, n=frames, axis=0)).max()))
    return 20.0 * np.log10(peak)


def tiled_loudness(loop: np.ndarray, sr: int, times: int | None = None) -> float:
    """What a loop reads played round `times` times (default: for two minutes, 8 times at
    least), measured as one long clip. Its first and last pass read as a one-off's; over
    two minutes they weigh a fortieth or less."""
    times = times or max(8, round(120 * sr / len(loop)))
    return integrated_loudness(np.tile(loop, (times,) + (1,) * (np.ndim(loop) - 1)), sr)
