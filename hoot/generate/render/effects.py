"""Loop processing: folding tails onto the start, then effects on the periodic loop.

Everything after the notes works on the loop as a periodic signal: delays and
convolution wrap around, filters start from the state the loop's own end leaves them in
(`filters.loop_filter`), and modulation runs a whole number of cycles per loop. That is
what makes the seam inaudible.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import fft

from hoot.generate.loops import fold
from hoot.generate.render.filters import butter, high_pass, loop_filter, low_pass
from hoot.generate.render.notes import Setting
from hoot.generate.render.oscillators import counts


def _cycles(rate_hz: float, frames: int, samplerate: int) -> int:
    """Whole LFO cycles per loop nearest to `rate_hz`, so modulation meets itself at the seam."""
    return max(1, round(rate_hz * frames / samplerate))


def _lfo(cycles: int, frames: int, offset: float = 0.0) -> np.ndarray:
    """`cycles` sine cycles over the loop, float32.

    In float32 a frame count is exact below 2^24 and the phase error stays under a
    millionth of a cycle, far below anything audible in a slow modulation.
    """
    turns = counts(frames).astype(np.float32)
    turns *= np.float32(cycles / frames)
    turns -= np.floor(turns)  # np.floor is vectorised; a float modulo is not
    turns *= np.float32(2.0 * np.pi)
    if offset:
        turns += np.float32(offset)
    return np.sin(turns)


_CHUNK = 1 << 15
"""Frames per chunk in the bus effects that make several passes: the temporaries of a
chunk stay in the processor's cache, which here is worth more than the extra calls."""


def chorus(loop: np.ndarray, samplerate: int, mix: float) -> np.ndarray:
    """Stereo chorus: the mid signal read through slowly swinging delays (quadrature L/R),
    wrapping round the loop."""
    frames = loop.shape[-1]
    mid = 0.5 * (loop[0] + loop[1])
    base, depth = 0.011 * samplerate, 0.004 * samplerate
    reach = int(base + depth) + 2
    # The mid signal with the loop's end before its start, so delayed reads need no wrap.
    history = np.concatenate([mid.take(np.arange(-reach, 0) % frames), mid])
    cycles = _cycles(0.35, frames, samplerate)
    out = loop.copy()
    for channel, offset in ((0, 0.0), (1, 0.5 * np.pi)):
        swing = _lfo(cycles, frames, offset)
        for first in range(0, frames, _CHUNK):
            last = min(frames, first + _CHUNK)
            delay = swing[first:last] * np.float32(depth) + np.float32(base)
            whole = delay.astype(np.intp)
            fraction = delay - whole.astype(np.float32)
            index = counts(last - first).astype(np.intp) + (first + reach)
            index -= whole
            newer = history.take(index)
            older = history.take(index - 1)
            older -= newer
            older *= fraction
            newer += older
            newer *= np.float32(mix)
            out[channel, first:last] += newer
    return out


def tremolo(loop: np.ndarray, samplerate: int, depth: float, rate: float) -> np.ndarray:
    """Auto-pan: the level swings gently between the sides, a stage piano's tremolo."""
    frames = loop.shape[-1]
    swing = depth * _lfo(_cycles(rate, frames, samplerate), frames)
    return np.stack([loop[0] * (1.0 + swing), loop[1] * (1.0 - swing)])


def echo(loop: np.ndarray, setting: Setting, level: float) -> np.ndarray:
    """Tempo-synced ping-pong echo (dotted eighths), wrapped round the loop."""
    mid = 0.5 * (loop[0] + loop[1])
    out = loop.copy()
    for repeat, (channel, gain) in enumerate(((0, 1.0), (1, 0.6), (0, 0.35)), start=1):
        delay = round(0.75 * repeat * setting.samples_per_beat) % loop.shape[-1]
        out[channel] += (level * gain) * np.roll(mid, delay)
    return out


@functools.lru_cache(maxsize=4)
def _room_impulse(samplerate: int, size: str) -> np.ndarray:
    """A synthetic stereo room: early reflections, then decorrelated noise whose highs die
    faster than its lows. Unit energy per channel."""
    decay_low, decay_high, length = (1.6, 0.7, 2.0) if size == "hall" else (0.7, 0.35, 1.0)
    rng = np.random.default_rng(1770)
    frames = round(length * samplerate)
    t = np.arange(frames) / samplerate
    predelay = round(0.012 * samplerate)
    impulse = np.zeros((2, frames))
    for channel in range(2):
        noise = rng.standard_normal(frames)
        low = low_pass(noise, 1500.0, samplerate) * np.exp(-6.9 * t / decay_low)
        high = high_pass(noise, 1500.0, samplerate) * np.exp(-6.9 * t / decay_high)
        tail = (low + 0.7 * high) * np.minimum(t / 0.03, 1.0)
        for _ in range(6):
            at = rng.integers(round(0.003 * samplerate), round(0.035 * samplerate))
            tail[at] += rng.uniform(-1.0, 1.0) * 3.0
        tail[-round(0.05 * samplerate) :] *= np.linspace(1.0, 0.0, round(0.05 * samplerate))
        impulse[channel, predelay:] = tail[: frames - predelay]
        impulse[channel] /= math.sqrt(float(np.sum(impulse[channel] ** 2)))
    return impulse.astype(np.float32)


@functools.lru_cache(maxsize=4)
def _room_spectrum(samplerate: int, size: str, length: int) -> np.ndarray:
    return fft.rfft(_room_impulse(samplerate, size), n=length, axis=-1)


def reverb(send: np.ndarray, samplerate: int, size: str) -> np.ndarray:
    """Circular convolution of a mono send with the room: the tail wraps round the loop.
    Returns `(2, frames)` float32."""
    frames = send.shape[-1]
    impulse = _room_impulse(samplerate, size)
    full = frames + impulse.shape[-1] - 1
    length = fft.next_fast_len(full, real=True)
    spectrum = fft.rfft(send.astype(np.float32), n=length)
    wet = fft.irfft(spectrum[None, :] * _room_spectrum(samplerate, size, length), n=length)
    return fold(wet[:, :full], frames)


def mid_side(loop: np.ndarray, samplerate: int, width: float) -> np.ndarray:
    """Final stage: mid high-passed at 20 Hz (no DC, no rumble), side high-passed at 120 Hz
    (bass is mono, as a PA wants it) and scaled by `width`."""
    mid = 0.5 * (loop[0] + loop[1])
    mid = loop_filter(butter(2, 20.0, "highpass", samplerate), mid, samplerate)
    if width == 0.0:
        return np.stack([mid, mid])
    side = 0.5 * (loop[0] - loop[1])
    side = loop_filter(butter(2, 120.0, "highpass", samplerate), side, samplerate)
    side *= width
    return np.stack([mid + side, mid - side])
