"""hoot's own neural model (models/orpheus-hoot.pth) passes the checks the embedded
rule-based generator's candidates pass (tests/generate/test_default.py): for every role, six
8-bar candidates of a batch are loop-clean, on the meter's grid after swing, in key (pitched
roles, at least 95 % of note-time), and pairwise different; drums play the kit's notes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hoot.generate.base import BatchProgress, Request
from hoot.generate.compose.moment import Moment
from hoot.generate.orpheus import moment as mo
from hoot.generate.orpheus.generator import SmallOrpheusGenerator
from hoot.music.harmony import Key
from hoot.music.vibe import default_vibe

MOMENTS = [("house", "A minor", "4/4", 124), ("jazz", "Bb major", "4/4", 140),
           ("ambient", "D dorian", "3/4", 84)]  # fmt: skip


@pytest.fixture(scope="module")
def small():
    g = SmallOrpheusGenerator()
    ok, why = g.available()
    assert ok, why
    return g


def on_grid(clip, m: Moment) -> bool:
    places = {round(m.swung(step), 6) for step in range(m.grid.total_steps)}
    return all(round(float(s), 6) in places for s in clip.start)


@pytest.mark.parametrize("role", ["bass", "chords", "lead", "pad", "drums", "perc"])
def test_six_candidates_pass_the_embedded_generators_checks(small, role):
    for style, key, meter, bpm in MOMENTS:
        seed = 1
        base = Request(role=role, n=6, bars=8, bpm=bpm, meter=meter, key=key,
                       vibe=default_vibe(style), seed=seed)  # fmt: skip
        made = dict(small.generate_batch([base.candidate(i) for i in range(6)], BatchProgress(6)))
        assert sorted(made) == list(range(6)), made
        clips = [made[i].notes for i in range(6)]
        m = Moment.of(base)
        for clip in clips:
            assert clip.length == m.grid.length and len(clip) > 0
            assert np.all(clip.start >= 0) and np.all(clip.start + clip.duration <= clip.length)
            assert on_grid(clip, m), (role, style)
            if role in ("drums", "perc"):
                allowed = mo.GM_DRUM_NOTES if role == "drums" else mo.GM_PERC_NOTES
                assert set(clip.pitch.tolist()) <= set(allowed)
            else:
                inside = np.array([Key.parse(key).contains(int(p)) for p in clip.pitch])
                assert clip.duration[inside].sum() >= 0.95 * clip.duration.sum()
        floor = mo.DIFFERENT.get(role, 0.3)
        for a, b in itertools.combinations(clips, 2):
            assert mo.difference(a, b, role) >= floor * 0.5, (role, style, "near copies")
