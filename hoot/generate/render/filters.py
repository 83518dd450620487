"""Butterworth filters, for one-shots (starting from rest) and for loops (periodic).

A one-shot is filtered from silence, as a struck drum starts. A loop is filtered as the
periodic signal it is: the filter first runs over the loop's own end, so it enters the
start in its steady state and the seam stays seamless. Cutoffs stop at 0.45 of the
sample rate, where a Butterworth design is still well behaved.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import signal

_WARM_SECONDS = 0.25
"""History a loop filter runs over before the loop itself, to start in its periodic state."""


# One-shots ---------------------------------------------------------------------------------


def band_pass(x: np.ndarray, low: float, high: float, sr: int, order: int = 2) -> np.ndarray:
    nyquist = 0.5 * sr
    high = min(high, 0.45 * sr)
    low = min(low, 0.9 * high)
    sos = signal.butter(order, [low / nyquist, high / nyquist], btype="bandpass", output="sos")
    return signal.sosfilt(sos, x)


def high_pass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    sos = signal.butter(order, min(cutoff, 0.45 * sr) / (0.5 * sr), btype="highpass", output="sos")
    return signal.sosfilt(sos, x)


def low_pass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    sos = signal.butter(order, min(cutoff, 0.45 * sr) / (0.5 * sr), btype="lowpass", output="sos")
    return signal.sosfilt(sos, x)


@functools.lru_cache(maxsize=8)
def _top_cut(samplerate: int) -> np.ndarray:
    return signal.iirdesign(
        0.42 * samplerate, 0.45 * samplerate, 0.05, 50.0, ftype="ellip", fs=samplerate, output="sos"
    )


def band_limit(x: np.ndarray, sr: int) -> np.ndarray:
    """Everything up to 0.42 of the sample rate (within 0.05 dB), 50 dB less from 0.45 up.

    Noise and hard-edged waves reach up to Nyquist, where their peaks between samples can
    rise 2.6 dB over the samples (a tambourine's hiss did) yet hide from a true-peak meter
    (`hoot.generate.loudness` is flat to 0.45 of the rate). A sixth-order elliptic filter
    delays the band below 10 kHz by 0.02 ms: hits still land on their sample.
    """
    return signal.sosfilt(_top_cut(sr), x)


# Loops -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def butter(order: int, cutoff: float, kind: str, samplerate: int) -> np.ndarray:
    """Second-order sections of a Butterworth filter, for `loop_filter` (cached)."""
    return signal.butter(order, min(cutoff, 0.45 * samplerate), kind, fs=samplerate, output="sos")


def loop_filter(sos: np.ndarray, loop: np.ndarray, samplerate: int) -> np.ndarray:
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
