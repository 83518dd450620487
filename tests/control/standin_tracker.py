"""A stand-in for hoot.beats.BeatTracker (the interface issue 11 agreed on): it reports a band
whose beats are known, each `delay` seconds after it was played, the way a causal tracker
reports them, so the band follower's steering can be tested on exact beats."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Beat:
    time: float
    known: float
    bpm: float
    confidence: float
    bar_beat: int | None
    holding: bool


def band(steps: list[tuple[float, int]], first: float = 0.3) -> np.ndarray:
    """Beat times (s) of a band playing `steps` [(bpm at the end of the step, beats)]: the
    tempo moves linearly from the previous step's to this one's (equal: steady)."""
    times, t, bpm = [], first, steps[0][0]
    for target, beats in steps:
        for i in range(beats):
            now = bpm + (target - bpm) * (i + 0.5) / beats
            times.append(t)
            t += 60.0 / now
        bpm = target
    return np.array(times)


class StandInTracker:
    """Reports `beats` (seconds on the stream's clock; `bars[i]` the bar beat of each, or
    None) once `delay` has passed; locked from the `lock_after`-th beat on, "holding" (the
    beats predicted, not heard) from `hold_from` seconds, and "listening" once the beats
    run out. Records what the keys told it."""

    def __init__(self, beats, bars=None, samplerate: int = 48000, delay: float = 0.08,
                 lock_after: int = 4, hold_from: float = float("inf")) -> None:  # fmt: skip
        self.beats = list(beats)
        self.bars = list(bars) if bars is not None else [None] * len(self.beats)
        self.samplerate, self.delay, self.lock_after = samplerate, delay, lock_after
        self.hold_from = hold_from
        self.fed = 0
        self.state = "listening"
        self.bpm: float | None = None
        self.confidence = 0.0
        self.hints: list[float | None] = []
        self.ones: list[float] = []
        self.resets = 0
        self._next = 0

    @property
    def locked(self) -> bool:
        return self.state == "locked"

    def feed(self, block: np.ndarray) -> list[Beat]:
        self.fed += len(block)
        now = self.fed / self.samplerate
        out = []
        while self._next < len(self.beats) and self.beats[self._next] + self.delay <= now:
            i = self._next
            t = self.beats[i]
            if i:
                self.bpm = 60.0 / (t - self.beats[i - 1])
            holding = t >= self.hold_from
            if holding:
                self.state, self.confidence = "holding", 0.3
            elif i + 1 >= self.lock_after:
                self.state, self.confidence = "locked", 0.9
            if self.bpm is not None:
                out.append(Beat(t, now, self.bpm, self.confidence, self.bars[i], holding))
            self._next += 1
        if self._next >= len(self.beats) and self.beats and now > self.beats[-1] + 1.0:
            self.state, self.confidence = "listening", 0.0
        return out

    def hint(self, bpm: float | None) -> None:
        self.hints.append(bpm)

    def set_one(self, time: float) -> None:
        self.ones.append(time)

    def reset(self) -> None:
        self.resets += 1
        self.fed, self._next, self.state = 0, 0, "listening"
