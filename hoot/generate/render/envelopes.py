"""Envelopes and the per-note numbers every voice shares: ADSR, release, velocity, pan.

Envelopes start and end at exactly zero, so a note never clicks, however short.
"""

from __future__ import annotations

import math

import numpy as np

from hoot.generate.render.oscillators import seconds


def release_curve(length: int, samplerate: int) -> np.ndarray:
    """From 1 down to exactly 0 over `length` samples, exponential-looking (no click at 0)."""
    if length <= 0:
        return np.zeros(0, np.float32)
    x = seconds(length, samplerate) * np.float32(samplerate / max(length - 1, 1))
    return ((np.exp(-4.0 * x) - math.exp(-4.0)) / (1.0 - math.exp(-4.0))).astype(np.float32)


def adsr(
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
    t = seconds(gate, samplerate)
    rise = np.minimum(t * np.float32(1.0 / max(attack, 1e-3)), 1.0)
    if soft_attack:
        rise = 1.0 - (1.0 - rise) ** 2
    if sustain < 1.0:
        after = np.maximum(t - np.float32(attack), 0.0)
        rise *= sustain + (1.0 - sustain) * np.exp(after * np.float32(-1.0 / decay))
    level = float(rise[-1]) if gate else 0.0
    return np.concatenate([rise, level * release_curve(tail, samplerate)]).astype(np.float32)


def velocity_gain(velocity: float, curve: float = 1.5) -> float:
    return float(velocity) ** curve


def pan_gains(pan: float) -> tuple[float, float]:
    """Equal-power pan that leaves the centre at unity in both channels."""
    angle = (min(max(pan, -1.0), 1.0) + 1.0) * math.pi / 4.0
    return math.sqrt(2.0) * math.cos(angle), math.sqrt(2.0) * math.sin(angle)


def start_phase(seed: int, pitch: int, voice: int) -> float:
    """A fixed start phase per (seed, pitch, voice): repeatable, so equal notes sound equal."""
    return ((seed * 7919 + pitch * 131 + voice * 31) * 0.6180339887498949) % 1.0
