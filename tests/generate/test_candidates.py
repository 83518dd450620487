"""A batch of candidates as a performer picks from it: n ideas, never one idea twice.

Candidates are composed one at a time (one a worker), so each must know the ones
before it. Asking for more candidates keeps the first ones: a batch of six is the
start of a batch of sixteen.
"""

from __future__ import annotations

import itertools

import pytest

from hoot.generate.base import Request
from hoot.generate.compose import DefaultGenerator
from hoot.music import ROLES
from hoot.music.clip import NoteClip
from hoot.music.vibe import STYLES, default_vibe

GENERATOR = DefaultGenerator()
METERS = ("4/4", "3/4", "7/8", "5/4", "6/8", "12/8", "5/8")
SEEDS = (0, 1, 7)


def struck(clip: NoteClip) -> frozenset[tuple[int, int]]:
    """What a listener tells candidates apart by: when each note starts and which note
    it is (a forty-eighth of a beat catches swing and triplets; velocity does not count)."""
    ticks = (clip.start * 48).round().astype(int).tolist()
    return frozenset(zip(ticks, clip.pitch.astype(int).tolist()))


def batch(role: str, style: str, meter: str, seed: int, n: int) -> list[NoteClip]:
    """perf.generate(role, n=n) as the pool asks for it: candidate by candidate."""
    asked = Request(
        role=role, n=n, bars=4, meter=meter, key="D minor", vibe=default_vibe(style), seed=seed
    )
    return [GENERATOR.compose(asked.candidate(index))[0] for index in range(n)]


@pytest.mark.parametrize("role", ROLES)
def test_no_two_candidates_of_a_batch_play_the_same_notes(role: str, report) -> None:
    same = []
    for style, meter, seed in itertools.product(STYLES, METERS, SEEDS):
        first = None
        for n in (6, 12, 16):
            clips = batch(role, style, meter, seed, n)
            heard = [struck(clip) for clip in clips]
            same += [
                (style, meter, seed, n, i, j)
                for (i, a), (j, b) in itertools.combinations(enumerate(heard), 2)
                if a == b
            ]
            if first is not None:
                assert clips[: len(first)] == first, "more candidates keep the first ones"
            first = clips
    report(f"{role}: {len(same)} pairs of identical candidates")
    assert not same, same[:8]
