"""A toy compiled core for the callback's tests: a sine whose phase lives in an array, and
the live inputs copied to the outputs they share a number with."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hoot.engine.kernel.jit import jit


class Sine(NamedTuple):
    phase: np.ndarray  # float64 (1,): cycles
    step: np.ndarray  # float64 (1,): cycles a sample


class Toy(NamedTuple):
    sine: Sine
    gain: np.ndarray  # float32 (1,)
    blocks: np.ndarray  # int64 (1,): blocks processed


def make_toy(frequency: float = 440.0, samplerate: int = 48000, gain: float = 0.25) -> Toy:
    sine = Sine(np.zeros(1), np.array([frequency / samplerate]))
    return Toy(sine, np.array([gain], np.float32), np.zeros(1, np.int64))


@jit
def process(world: Toy, inp: np.ndarray, out: np.ndarray, frames: int, in_channels: int) -> None:
    phase = world.sine.phase[0]
    step = world.sine.step[0]
    gain = world.gain[0]
    for i in range(frames):
        tone = np.float32(np.sin(2.0 * np.pi * phase)) * gain
        for c in range(out.shape[1]):
            out[i, c] = inp[i, c] if c < in_channels else tone
        phase += step
        if phase >= 1.0:
            phase -= 1.0
    world.sine.phase[0] = phase
    world.blocks[0] += 1
