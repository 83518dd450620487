"""The musical checks, side by side: the embedded rule-based generator and hoot's own neural
model (orpheus-small) on the same moments.

    python benchmarks/generate_quality.py [--seeds 3] [--using orpheus-small]

For every pitched role and drums, in several styles, keys and meters, each generator makes a
batch of six 8-bar candidates for the same request, and each candidate is checked as the
tests check the rule-based ones (tests/generate/test_default.py):

- in key: the share of note-time on the key's scale (pitched roles; target >= 95 %);
- chord tones: the share of note-time on the chord of its bar (pitched roles; no target,
  it says how well a generator follows the progression);
- on the grid: the share of onsets on the meter's 16th grid after the vibe's swing;
- loop-clean: every note starts in the loop and ends by its end;
- different: the smallest pairwise difference in a batch (onsets and pitches, the tests'
  measure; the rule-based floor is 0.3 for pitched roles, 0.2 for drums).

With `--unmasked` the neural model runs without its key mask and without its lean to each
bar's chord (the model alone, steered only by its prime), so what it knows by itself is on
record.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np
from reference import reference_seconds

from hoot.generate.base import BatchProgress, Request, load_generator
from hoot.generate.compose.moment import Moment
from hoot.generate.orpheus import moment as mo
from hoot.music.clip import NoteClip
from hoot.music.harmony import Key
from hoot.music.vibe import default_vibe

ROLES = ("bass", "chords", "lead", "pad", "drums")
MOMENTS = [
    ("house", "A minor", "4/4", 124),
    ("hiphop", "F major", "4/4", 92),
    ("jazz", "Bb major", "4/4", 140),
    ("techno", "E minor", "4/4", 130),
    ("ambient", "D dorian", "3/4", 80),
]


def batch_of(name: str, generator, requests: list[Request]) -> list[NoteClip]:
    if hasattr(generator, "generate_batch"):
        out: dict[int, NoteClip] = {}
        for i, take in generator.generate_batch(requests, BatchProgress(len(requests))):
            if isinstance(take, BaseException):
                raise SystemExit(f"{name}: candidate {i + 1} failed: {take}")
            out[i] = take.notes
        return [out[i] for i in range(len(requests))]
    return [generator.generate(r).notes for r in requests]


def in_key(clip: NoteClip, key: Key) -> float:
    inside = np.array([key.contains(int(p)) for p in clip.pitch])
    return float(clip.duration[inside].sum() / clip.duration.sum())


def chord_tones(clip: NoteClip, m: Moment) -> float:
    bar_beats = m.grid.length / m.grid.bars
    on = [
        int(p) % 12 in m.chord(int(s // bar_beats)).pitch_classes
        for s, p in zip(clip.start, clip.pitch)
    ]
    return float(clip.duration[np.array(on)].sum() / clip.duration.sum())


def on_grid(clip: NoteClip, m: Moment) -> float:
    places = {round(m.swung(step), 6) for step in range(m.grid.total_steps)}
    return float(np.mean([round(float(s), 6) in places for s in clip.start]))


def clean(clip: NoteClip) -> bool:
    ends = clip.start + clip.duration
    return bool(np.all(clip.start >= 0) and np.all(ends <= clip.length + 1e-9))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--using", default="orpheus-small")
    ap.add_argument("--unmasked", action="store_true",
                    help="the model without its key mask and chord lean")  # fmt: skip
    a = ap.parse_args()
    ref = reference_seconds()
    generators = {"default": load_generator("default"), a.using: load_generator(a.using)}
    if a.unmasked:
        mo.KEY_MASK = False
        mo.HARMONY_WEIGHT = 0.0
    print(f"6 candidates of 8 bars per moment; {len(MOMENTS)} moments x {a.seeds} seeds")
    header = f"{'generator':>14} {'role':>7} {'in key':>7} {'chord':>6} {'grid':>6} "
    print(header + f"{'clean':>6} {'min diff':>9} {'notes/bar':>9} {'s/batch':>8}")
    for role in ROLES:
        for name, generator in generators.items():
            rows = []
            for (style, key, meter, bpm), seed in itertools.product(MOMENTS, range(a.seeds)):
                base = Request(role=role, n=6, bars=8, bpm=bpm, meter=meter, key=key,
                               vibe=default_vibe(style), seed=seed)  # fmt: skip
                requests = [base.candidate(i) for i in range(6)]
                started = time.perf_counter()
                clips = batch_of(name, generator, requests)
                seconds = time.perf_counter() - started
                m = Moment.of(base)
                k = Key.parse(key)
                rows.append(
                    (
                        statistics.mean(in_key(c, k) for c in clips),
                        statistics.mean(chord_tones(c, m) for c in clips),
                        statistics.mean(on_grid(c, m) for c in clips),
                        all(clean(c) for c in clips),
                        min(mo.difference(x, y, role) for x, y in itertools.combinations(clips, 2)),
                        statistics.mean(len(c) / 8 for c in clips),
                        seconds,
                    )
                )
            key_share, chord, grid, ok, diff, density, secs = zip(*rows)
            pitched = role != "drums"
            print(
                f"{name:>14} {role:>7} "
                + (f"{min(key_share) * 100:>6.1f}% " if pitched else f"{'-':>7} ")
                + (f"{statistics.mean(chord) * 100:>5.1f}% " if pitched else f"{'-':>6} ")
                + f"{min(grid) * 100:>5.1f}% {'yes' if all(ok) else 'NO':>6} {min(diff):>9.2f} "
                f"{statistics.mean(density):>9.1f} {statistics.mean(secs):>8.2f}"
            )
    print("in key, grid: the worst batch's mean; chord: the mean; min diff: the closest pair")
    print(f"reference workload (benchmarks/reference.py): 1 ref = {ref * 1e6:.0f} us")


if __name__ == "__main__":
    main()
