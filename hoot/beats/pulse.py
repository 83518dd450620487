"""The beat-pointer forward filter: where in the beat we are, and how fast beats come.

The state space is Krebs, Böck & Widmer's (ISMIR 2015) for one beat: for every whole beat
length from 28 to 109 frames (215 to 55 BPM at 100 frames a second, 82 tempi) one state
per frame of the beat, 5,600 states in all. Each frame the pointer moves one frame on;
only at the end of a beat may it change tempo, and then mostly to a neighbour
(exp(-100 |ratio - 1|), as madmom does) with a small chance of any tempo (so a band that
jumps from 100 to 130 BPM is found again within a bar or two, not after a slow glide).
Every beat boundary also weighs the tempo, lightly, by a prior: flat from 70 to 185 BPM,
falling gently below and steeply above (eighth notes heard as beats are the commonest
octave error), or, after a tap-tempo hint, a narrow bump around the hint.

The observation is a likelihood ratio: the twelfth of a beat centred on each beat is
`evidence` times likelier than the rest of the beat, where the tracker makes evidence from
the onset strength (above 1 for a clear onset, below 1 for none, so a beat where nothing
happens costs). Only the forward pass runs (the past only), so the estimate at a frame
never changes when later audio arrives. Silent frames carry no observation at all: the
pointer runs on by itself, which is what a flywheel through a break needs.
"""

from __future__ import annotations

import numpy as np

SLOWEST_BPM = 55.0
FASTEST_BPM = 215.0
PRIOR_SLOW, PRIOR_FAST = 70.0, 185.0  # the prior is flat between these
PRIOR_OCTAVES = 0.3  # how it falls below PRIOR_SLOW (one standard deviation, in octaves)
FAST_OCTAVES = 0.1  # and, much faster, above PRIOR_FAST: eighth notes heard as beats
HINT_OCTAVES = 0.15  # how tight a tap-tempo hint holds the prior
PRIOR_WEIGHT = 0.02  # how strongly the prior pulls at each beat boundary
NEIGHBOUR_LAMBDA = 100.0  # madmom's tempo-change sharpness
JUMP = 1e-4  # the chance, at a beat boundary, of leaving for any tempo
BEAT_REGION = 12  # the 1/12 of a beat around the beat expects its onset


class BeatPointer:
    """The forward filter over (tempo, position in the beat)."""

    def __init__(self, fps: float, reach: int | None = None) -> None:
        """`reach`: the beat expects its observation within this many frames either side at
        every tempo (the learned activation, whose peak is as wide at 60 BPM as at 180);
        None: within the BEAT_REGION-th of a beat around it (an onset envelope)."""
        self.fps = fps
        shortest = int(np.floor(60.0 * fps / FASTEST_BPM))
        longest = int(np.ceil(60.0 * fps / SLOWEST_BPM))
        self.lengths = np.arange(shortest, longest + 1)
        self.starts = np.concatenate(([0], np.cumsum(self.lengths)[:-1]))
        self.ends = self.starts + self.lengths - 1
        n = int(self.lengths.sum())
        self.tempo_of = np.repeat(np.arange(len(self.lengths)), self.lengths)
        self.position = np.arange(n) - self.starts[self.tempo_of]
        self.phase = self.position / self.lengths[self.tempo_of]
        length = self.lengths[self.tempo_of]
        if reach is None:
            half = np.maximum(1, length // (2 * BEAT_REGION))
            self.in_beat = (self.position < half) | (self.position >= length - half)
        else:
            self.in_beat = (self.position <= reach) | (self.position >= length - reach)
        self._in_beat = np.flatnonzero(self.in_beat)  # indexing by position is faster
        ratio = self.lengths[None, :] / self.lengths[:, None]
        neighbours = np.exp(-NEIGHBOUR_LAMBDA * np.abs(ratio - 1.0))
        neighbours /= neighbours.sum(axis=1, keepdims=True)
        self._moves = (1.0 - JUMP) * neighbours + JUMP / len(self.lengths)
        self.hint(None)
        self.reset()

    def bpm_of(self, tempo: int) -> float:
        return 60.0 * self.fps / float(self.lengths[tempo])

    def hint(self, bpm: float | None) -> None:
        """Centre the tempo prior on `bpm` (tight), or on the default (wide) with None."""
        tempi = 60.0 * self.fps / self.lengths
        if bpm is None:
            below = np.minimum(np.log2(tempi / PRIOR_SLOW), 0.0) / PRIOR_OCTAVES
            above = np.maximum(np.log2(tempi / PRIOR_FAST), 0.0) / FAST_OCTAVES
            prior = np.exp(-0.5 * (below**2 + above**2))
        else:
            prior = np.exp(-0.5 * (np.log2(tempi / bpm) / HINT_OCTAVES) ** 2)
        self.prior = prior / prior.sum()
        self._transition = self._moves * (self.prior / self.prior.max()) ** PRIOR_WEIGHT

    def reset(self) -> None:
        """Any tempo (weighed by the prior), any position."""
        self.p = self.prior[self.tempo_of] / self.lengths[self.tempo_of]
        self.p /= self.p.sum()

    def fold(self, bpm: float) -> None:
        """Move the belief to the tempo octave nearest `bpm`, keeping the beat's phase where
        it is: a doubled or halved tempo becomes the hinted one at once."""
        tempo, position = self.best()
        factor = 2.0 ** round(np.log2(bpm / self.bpm_of(tempo)))
        if factor != 1.0:
            self.move(self.lengths[tempo] / factor, position)

    def move(self, length: float, position: int) -> None:
        """Put most of the belief on the beat length nearest `length` (frames), `position`
        frames into the beat."""
        target = int(np.argmin(np.abs(self.lengths - length)))
        keep = min(position, int(self.lengths[target]) - 1)
        self.p *= 0.05
        self.p[self.starts[target] + keep] += 0.95
        self.p /= self.p.sum()

    def step(self, evidence: float | None) -> None:
        """One frame on; `evidence` is how much likelier what was heard is at a beat than
        between beats (1: no preference), None is nothing heard."""
        p = self.p
        wrapped = p[self.ends] @ self._transition
        p = np.concatenate((p[-1:], p[:-1]))  # one frame on (each beat's end wraps, below)
        p[self.starts] = wrapped
        if evidence is not None:
            p[self._in_beat] *= evidence
        total = p.sum()
        self.p = p / total if total > 0 else self.prior[self.tempo_of] / self.lengths[self.tempo_of]

    def best(self) -> tuple[int, int]:
        """(tempo index, position in the beat) of the most probable state."""
        s = int(np.argmax(self.p))
        return int(self.tempo_of[s]), int(self.position[s])

    def concentration(self, phase: float) -> float:
        """The belief's mass within 1/16 of a beat of `phase`: near 1 when it is sure where
        the beat is, near 1/8 when it has no idea."""
        distance = np.abs(self.phase - phase)
        near = np.minimum(distance, 1.0 - distance) <= 1.0 / BEAT_REGION
        return float(self.p[near].sum())
