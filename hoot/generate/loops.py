"""Making audio exactly one loop long: whatever rings past the end is folded back onto the
start, so the loop plays through its seam as the sound would have gone on.

One home for it: the renderer folds its voices, effects and reverb tails; SoundFont
renders and audio from model generators are folded into stereo loops the same way.
numpy only, so the language side may import it without the renderer's scipy.
"""

from __future__ import annotations

import numpy as np


def fold(buffer: np.ndarray, frames: int) -> np.ndarray:
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


def stereo_loop(audio: np.ndarray, frames: int) -> np.ndarray:
    """Any audio (frames first; mono, stereo or more channels) as exactly `frames` of
    finite float32 stereo, its tail folded onto its start and a short take padded with
    silence."""
    audio = np.asarray(audio, np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    loop = fold(audio[:, :2].T, frames).T
    return np.ascontiguousarray(np.nan_to_num(loop, nan=0.0, posinf=0.0, neginf=0.0))
