"""Stem files for tests, written for real with soundfile and mido."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 48000


def unity(perf) -> None:
    """Every fader at 0 dB (tracks start at their role's level), so a stem's samples reach
    the master as they are."""
    for track in perf.tracks:
        track.gain = 0


def write_wav(path: Path, audio: np.ndarray, samplerate: int = SR, **meta) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio.astype(np.float32), samplerate, subtype="FLOAT")
    if meta:
        path.with_suffix(".json").write_text(json.dumps(meta))
    return path


def impulse(path: Path, frames: int = 4800, value: float = 0.5) -> Path:
    """One sample of `value` at the stem's first frame, then silence."""
    audio = np.zeros((frames, 2), np.float32)
    audio[0] = value
    return write_wav(path, audio)


def tone(
    path: Path, seconds: float = 2.0, freq: float = 110.0, level: float = 0.3, samplerate: int = SR
) -> Path:
    """A sine loop that fits its length exactly (whole cycles), so its seam is seamless."""
    n = int(seconds * samplerate)
    cycles = max(1, round(freq * n / samplerate))
    t = np.arange(n) / n
    x = level * np.sin(2 * np.pi * cycles * t)
    return write_wav(path, np.stack([x, x * 0.8], axis=1), samplerate)


def noise(path: Path, seconds: float = 1.0, level: float = 0.2, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    return write_wav(path, level * rng.standard_normal((int(seconds * SR), 2)))


def midi(path: Path, notes: list[tuple[float, float, int, int]], length: float, **meta) -> Path:
    from hoot.music.clip import NoteClip

    path.parent.mkdir(parents=True, exist_ok=True)
    NoteClip.from_notes(notes, length).write_midi(path)
    if meta:
        path.with_suffix(".json").write_text(json.dumps(meta))
    return path
