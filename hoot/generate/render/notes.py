"""A clip's notes in samples, what a render needs besides them, and mixing voices.

`render_notes` renders each distinct note once (a riff repeats notes, and an equal note
renders to equal audio) and mixes the copies into a buffer long enough for every tail;
the loop processing folds what rings past the loop's end back onto its start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hoot.generate.render.envelopes import pan_gains


@dataclass(frozen=True)
class Notes:
    """A clip's notes in samples: onsets, gate lengths, pitches and velocities (0..1)."""

    on: np.ndarray
    gate: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    frames: int

    def __len__(self) -> int:
        return len(self.on)

    def next_onset(self) -> np.ndarray:
        """For each note, the next later onset, wrapping round the loop (periodic)."""
        onsets = np.unique(self.on)
        if onsets.size == 0:
            return np.zeros(0, np.int64)
        wrapped = np.concatenate([onsets, onsets + self.frames])
        return wrapped[np.searchsorted(wrapped, self.on, side="right")]


@dataclass(frozen=True)
class Setting:
    """What a render needs besides the notes."""

    samplerate: int
    frames: int
    brightness: float
    seed: int
    samples_per_beat: float


def mix_into(buffer: np.ndarray, start: int, audio: np.ndarray, left: float, right: float) -> None:
    """Add mono or stereo `audio` into a `(2, frames)` buffer from `start`, at these gains."""
    end = start + audio.shape[-1]
    if audio.ndim == 1:
        buffer[0, start:end] += left * audio
        buffer[1, start:end] += right * audio
    else:
        buffer[0, start:end] += left * audio[0]
        buffer[1, start:end] += right * audio[1]


def render_notes(
    notes: Notes,
    setting: Setting,
    voice: Callable[[int, int, float, Setting], np.ndarray],
    pan_of: Callable[[int], float] = lambda pitch: 0.0,
) -> np.ndarray:
    """Sum one `voice(pitch, gate, velocity, setting)` per note, memoised within the render:
    a riff repeats notes, and an equal note renders to equal audio."""
    made: dict[tuple[int, int, float], np.ndarray] = {}
    placed = []
    for on, gate, pitch, velocity in zip(
        notes.on.tolist(), notes.gate.tolist(), notes.pitch.tolist(), notes.velocity.tolist()
    ):
        key = (pitch, gate, velocity)
        if key not in made:
            made[key] = voice(pitch, gate, velocity, setting)
        placed.append((on, made[key], pitch))
    end = max([setting.frames] + [on + audio.shape[-1] for on, audio, _ in placed])
    buffer = np.zeros((2, end), np.float32)
    for on, audio, pitch in placed:
        mix_into(buffer, on, audio, *pan_gains(pan_of(pitch)))
    return buffer
