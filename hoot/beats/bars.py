"""The bar counter: which beat is the "one".

Given the meter (beats per bar, from the performer or the session: the instrument knows its
own grid), the counter keeps a score for each place in the bar and calls the best-scoring
place the downbeat. Every beat adds to its place's score:

- the low band's onset strength at the beat (a kick or a bass note lands on the one more
  often than anywhere else), and
- the harmonic change at the beat: the cosine distance between the pitch classes of the
  beat before and the beat after (chords and bass lines change at bar lines);

each over its mean at the last two bars' beats, so noise-like chroma (drums alone) adds the
same to every place and moves nothing.

Both are known only once the beat is over, so they are credited at the next beat, to the
place where they happened.

Scores fade by half in 8 bars, and another place must beat the current one by a margin
(MARGIN) before the counter moves the one, so a fill or a syncopated bar does not flip the
bar. A band that starts after silence usually starts on the one: that beat gets a head
start (START_BONUS) that the music can overrule. set_one() is the performer's word and
wins outright (SET_BONUS, fading like the rest).
"""

from __future__ import annotations

import numpy as np

HALF_LIFE_BARS = 8.0
MARGIN = 1.25  # a challenger's score over the current one's before the one moves
LOW_WEIGHT = 1.0
CHANGE_WEIGHT = 1.0
DOWN_WEIGHT = 3.0  # the learned P(downbeat) at the beat (when the tracker has the network)
START_BONUS = 3.0
SET_BONUS = 50.0


class BarCounter:
    """Counts beats into bars and learns where the bar starts."""

    def __init__(self, meter: int) -> None:
        self.meter = meter
        self._fade = 0.5 ** (1.0 / (HALF_LIFE_BARS * meter))
        self.reset()

    def reset(self) -> None:
        self.count = -1  # the number of the latest beat since the start
        self.scores = np.zeros(self.meter)
        self.one = 0  # count % meter of the downbeats
        self._chroma: list[np.ndarray] = []
        self._lows: list[float] = []  # the low band at the last two bars' beats
        self._changes: list[float] = []  # the harmonic change at the last two bars' beats
        self._downs: list[float] = []  # P(downbeat) at the last two bars' beats

    def heard(self, low: float, chroma: np.ndarray, down: float | None = None) -> None:
        """What the latest beat sounded like, known once it is over: its low-band onset
        strength, the pitch classes from it to the next beat and, with the learned
        activation, its P(downbeat)."""
        if self.count < 0:
            return
        place = self.count % self.meter
        if down is not None:
            self._downs = [*self._downs[-2 * self.meter + 1 :], down]
            self.scores[place] += DOWN_WEIGHT * _share(down, self._downs)
        self._lows = [*self._lows[-2 * self.meter + 1 :], low]
        self.scores[place] += LOW_WEIGHT * _share(low, self._lows)
        self._chroma = [*self._chroma[-1:], chroma]
        if len(self._chroma) == 2:
            before, after = self._chroma
            norm = float(np.linalg.norm(before) * np.linalg.norm(after))
            change = 1.0 - float(before @ after) / norm if norm > 0 else 0.0
            self._changes = [*self._changes[-2 * self.meter + 1 :], change]
            self.scores[place] += CHANGE_WEIGHT * _share(change, self._changes)

    def advance(self, steps: int) -> int:
        """A new beat, `steps` beats after the latest; its number in the bar (1 = one)."""
        steps = max(1, steps)
        if steps > 1:
            self._chroma = []
        self.count += steps
        self.scores *= self._fade**steps
        self._choose()
        return self.number(self.count)

    def _choose(self) -> None:
        best = int(np.argmax(self.scores))
        if self.scores[best] > MARGIN * self.scores[self.one]:
            self.one = best

    def started(self, steps_ago: int) -> None:
        """The band started `steps_ago` beats before the latest beat: likely on a one."""
        self.scores[(self.count - steps_ago) % self.meter] += START_BONUS
        self._choose()

    def number(self, count: int) -> int:
        return (count - self.one) % self.meter + 1

    def set_one(self, count: int) -> None:
        """The beat numbered `count` is a downbeat: the performer said so."""
        self.one = count % self.meter
        self.scores[self.one] += SET_BONUS


def _share(value: float, recent: list[float]) -> float:
    """0..1: how far `value` stands above the recent ones (1 at three times their mean or
    more); the same at every beat when nothing stands out, so it moves no bar line."""
    typical = float(np.mean(recent))
    return min(value / typical, 3.0) / 3.0 if typical > 0 else 0.0
