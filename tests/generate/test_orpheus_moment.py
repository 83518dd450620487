"""What an Orpheus-format model is told and how its answer becomes a loop
(hoot/generate/orpheus/moment.py): the prime holds the moment and ends on the boundary, the
mask holds only the role's instruments and the key's notes in its register, and any answer
becomes a clean loop of exactly the asked bars on the meter's grid."""

from __future__ import annotations

import numpy as np
import pytest

from hoot.generate.base import Request
from hoot.generate.orpheus import moment as mo
from hoot.generate.orpheus import tokens as tk
from hoot.music.harmony import Key

DRUMS = {
    "role": "drums",
    "length": 4.0,
    "notes": [[0, 0.25, 36, 100], [1, 0.25, 38, 100], [2, 0.25, 36, 100], [3, 0.25, 38, 90]],
}


def ask(role: str = "bass", **fields) -> Request:
    base = dict(role=role, n=6, bars=8, bpm=120.0, key="D minor", seed=3, index=0)
    return Request(**{**base, **fields})


def test_the_prime_is_the_moment_ending_on_the_boundary() -> None:
    p = mo.plan(ask(context={"tracks": {"drums": DRUMS}}, chords=("Dm", "Bb", "F", "C")))
    assert p.prime[0] == tk.SOS
    events = tk.decode(p.prime)
    window = mo.CONTEXT_BARS * 4 * 500  # two bars at 120 bpm, in ms
    boundary = [e for e in events if e.start_ms == window]
    assert {e.patch for e in boundary} == {mo.BED_PATCH, 128}, "the bed's chord and the kick"
    assert max(e.start_ms for e in events) == window, "nothing after the boundary"
    kicks = [e.start_ms for e in events if e.patch == 128 and e.pitch == 36]
    on_steps = [t // tk.STEP_MS * tk.STEP_MS for t in (0, 1000, 2000, 3000, 4000)]
    assert kicks == on_steps, "the drums' loop tiled back over two bars"
    bed = {t: {e.pitch % 12 for e in events if e.patch == 48 and e.start_ms == t}
           for t in (0, 2000, 4000)}  # fmt: skip
    assert bed[4000] == {2, 5, 9}, "Dm, the first bar's chord, at the boundary"
    assert bed[2000] == {0, 4, 7} and bed[0] == {5, 9, 0}, "C and F: the loop's last bars"


def test_the_mask_is_the_roles_instruments_and_the_keys_notes() -> None:
    key = Key.parse("D minor")
    for role in ("bass", "lead", "chords", "pad"):
        for index in range(6):
            p = mo.plan(ask(role, index=index))
            assert p.patch in tk.ROLE_PATCHES[role]
            assert {tk.patch_of(t) for t in p.notes} == {p.patch}
            pitches = [tk.pitch_of(t) for t in p.notes]
            low, high = mo.RANGES[role]
            assert all(key.contains(x) and low <= x <= high for x in pitches)
    patches = {mo.plan(ask("bass", index=i)).patch for i in range(6)}
    assert len(patches) == 6, "candidates of a batch play different basses"
    drums = mo.plan(ask("drums"))
    assert {tk.patch_of(t) for t in drums.notes} == {128}
    assert drums.made_bars == 2 and mo.plan(ask("bass")).made_bars == 8


def answer(p: mo.Plan, notes: list[tuple[int, int, int]], patch: int | None = None) -> list[int]:
    """Tokens as a model writes them: (start in 16 ms steps from the boundary, steps, pitch)."""
    out, now = [], 0
    for start, steps, pitch in notes:
        if start != now or not out:
            out.append(start - now)
            now = start
        out += [tk.note_token(p.patch if patch is None else patch, pitch),
                tk.durvel_token(steps, 96)]  # fmt: skip
    return out


def test_an_answer_becomes_a_clean_loop_on_the_grid() -> None:
    p = mo.plan(ask("bass", bars=4, meter="4/4"))
    # a beat is 500 ms = 31.25 steps; 16ths at 7.8 steps: a little off the grid, as models are
    notes = [(round(i * 31.25) + (1 if i % 3 else 0), 14, 38 + (i % 2) * 7) for i in range(16)]
    notes.append((round(15.5 * 31.25), 60, 45))  # rings past the loop's end: cut there
    clip = mo.fit(p, answer(p, notes) + answer(p, [(0, 5, 40)], patch=128))
    assert clip.length == 16.0
    assert np.allclose(clip.start / 0.25, np.round(clip.start / 0.25)), "on the 16th grid"
    assert np.all(clip.start + clip.duration <= 16.0 + 1e-9), "nothing hangs over the seam"
    assert 40 not in clip.pitch.tolist(), "another instrument's notes are not the role's"
    assert clip.start[:4].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_drums_made_in_two_bars_repeat_to_the_asked_bars() -> None:
    p = mo.plan(ask("drums", bars=8))
    bar = 4 * 31.25
    clip = mo.fit(p, answer(p, [(round(b * bar + k * 31.25), 4, 36 if k % 2 == 0 else 38)
                                for b in range(2) for k in range(4)]))  # fmt: skip
    assert clip.length == 32.0 and len(clip) == 32
    assert np.allclose(np.sort(clip.start), np.arange(32.0))


def test_an_empty_answer_or_only_other_instruments_is_none() -> None:
    p = mo.plan(ask("bass"))
    assert mo.fit(p, []) is None
    assert mo.fit(p, answer(p, [(0, 10, 38)], patch=0)) is None
    assert mo.fit(p, [tk.EOS]) is None


def test_a_continuation_primes_with_the_tracks_own_notes_before_the_boundary() -> None:
    prompt = {"track": "lead", "role": "lead", "length": 8.0,
              "notes": [[i * 1.0, 0.5, 62 + i, 90] for i in range(8)]}  # fmt: skip
    p = mo.plan(ask("lead", context={"prompt": prompt}))
    own = [e for e in tk.decode(p.prime) if e.patch == p.patch]
    assert [e.pitch for e in own] == list(range(62, 70))
    window = 8 * 500
    assert [e.start_ms for e in own] == [
        (window - 4000 + i * 500) // tk.STEP_MS * tk.STEP_MS for i in range(8)
    ]


@pytest.mark.parametrize("meter", ["3/4", "6/8", "7/8"])
def test_every_meter_fits_its_own_grid(meter: str) -> None:
    p = mo.plan(ask("lead", bars=2, meter=meter))
    step_ms = p.beat_ms * p.moment.grid.step
    notes = [(round(i * step_ms / tk.STEP_MS), 6, 69) for i in range(p.moment.grid.total_steps)]
    clip = mo.fit(p, answer(p, notes))
    assert clip.length == p.moment.grid.length
    assert len(clip) == p.moment.grid.total_steps
