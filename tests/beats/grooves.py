"""Little drum grooves made with numpy, with the beat known exactly, for the tracker's tests."""

from __future__ import annotations

import numpy as np

SR = 48000


def _kick(sr: int) -> np.ndarray:
    t = np.arange(int(0.3 * sr)) / sr
    f = 50 + 100 * np.exp(-t / 0.03)
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.12)


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.2 * sr)) / sr
    tone = np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.04)
    return 0.5 * tone + 0.6 * np.diff(rng.standard_normal(len(t)), prepend=0.0) * np.exp(-t / 0.05)


def _hat(sr: int, rng: np.random.Generator, decay: float) -> np.ndarray:
    t = np.arange(int(5 * decay * sr)) / sr
    x = np.diff(np.diff(rng.standard_normal(len(t)), prepend=0.0), prepend=0.0)
    return 0.3 * x * np.exp(-t / decay)


def groove(
    beats: np.ndarray,
    seconds: float,
    kick: str = "x.x.",
    snare: str = ".x.x",
    hats: float = 0.3,
    offbeat_hats: float = 0.0,
    sr: int = SR,
    seed: int = 1,
) -> np.ndarray:
    """Mono audio of a groove on these beat times: the kick and snare patterns say which
    beats of a bar (4 or 3 letters) they play, `hats` the closed hat on every beat,
    `offbeat_hats` an open hat on every "and" (louder than the kick at 1.5 or so)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * sr) + sr)
    sounds = {"kick": _kick(sr), "snare": _snare(sr, rng), "hat": _hat(sr, rng, 0.03),
              "open": _hat(sr, rng, 0.15)}  # fmt: skip

    def put(time: float, sound: np.ndarray, gain: float) -> None:
        at = int(round(time * sr))
        if 0 <= at < len(out):
            n = min(len(sound), len(out) - at)
            out[at : at + n] += gain * sound[:n]

    meter = len(kick)
    for i, beat in enumerate(beats):
        place = i % meter
        if kick[place] == "x":
            put(beat, sounds["kick"], 0.8)
        if snare[place] == "x":
            put(beat, sounds["snare"], 0.6)
        if hats:
            put(beat, sounds["hat"], hats)
        if offbeat_hats and i + 1 < len(beats):
            put((beat + beats[i + 1]) / 2, sounds["open"], offbeat_hats)
    return (0.5 * out[: int(seconds * sr)]).astype(np.float32)


def grid(bpm: float, start: float, end: float) -> np.ndarray:
    """Beat times at a steady tempo from `start` up to `end` (s)."""
    return np.arange(start, end, 60.0 / bpm)
