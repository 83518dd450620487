"""Every stem as it plays: true peak at or under -1 dBTP and -14 LUFS, checked against
measurements of their own (`tests.generate.references`): the loop's spectrum delayed by
sixteenths of a sample, and the loop tiled eight times.

The stems are composed by the default generator and rendered as the worker pool renders
them (`pool.render_take`), for every role and every sound that suits it.
"""

from __future__ import annotations

import numpy as np
import pytest

from hoot.generate.base import Request, load_generator
from hoot.generate.loudness import true_peak
from hoot.generate.render import render_stem
from hoot.music.sounds import ROLE_SOUNDS
from tests.generate.references import reference_peak, tiled_loudness

pytestmark = pytest.mark.slow

STYLES = ("house", "techno", "ambient", "dnb")
METERS = ("4/4", "3/4", "7/8")


def rendered(request: Request, sound: str | None) -> tuple[np.ndarray, dict]:
    """A candidate's stem, as `pool.render_take` renders it."""
    take = load_generator("default").generate(request)
    return render_stem(
        take.notes,
        request.bpm,
        request.samplerate,
        request.role,
        timbre=sound,
        brightness=float(request.vibe.get("brightness", 0.5)),
        seed=request.seed + request.index,
    )


def plays_within_limits(audio: np.ndarray, samplerate: int) -> float:
    """Asserts the stem's true peak and looped loudness; returns the peak (dBTP)."""
    peak = reference_peak(audio)
    assert peak <= -1.0
    # Eight passes: the first and last, read as a one-off's, move it by 0.1 LU at most.
    assert tiled_loudness(audio, samplerate, times=8) == pytest.approx(-14.0, abs=0.5)
    return peak


PAIRS = [(role, sound) for role, sounds in ROLE_SOUNDS.items() for sound in sounds]


@pytest.mark.parametrize(("role", "sound"), PAIRS, ids=[f"{r}-{s}" for r, s in PAIRS])
def test_every_sound_on_every_role_plays_under_the_ceiling_at_the_target(
    role: str, sound: str
) -> None:
    n = PAIRS.index((role, sound))
    request = Request(
        role=role,
        bars=2,
        bpm=(90.0, 124.0, 174.0)[n % 3],
        key="F# dorian",
        meter=METERS[n % 3],
        vibe={"style": STYLES[n % 4], "brightness": (0.2, 0.5, 0.9)[n % 3]},
        seed=524208 + n,
        samplerate=(48000, 44100)[n % 2],
    )
    audio, info = rendered(request, sound)
    assert info["timbre"] == sound
    plays_within_limits(audio, request.samplerate)


@pytest.mark.parametrize("index", range(6))
def test_a_house_perc_batch_with_a_tambourine_plays_under_the_ceiling(index: int) -> None:
    # Candidate 5 of this batch once peaked at +0.55 dBTP between samples: its tambourine
    # hissed right up to Nyquist, where the old 8-tap interpolator saw nothing. Candidates
    # 2, 4 and 6 read 0.7 to 0.85 LU louder looped than measured.
    request = Request(
        role="perc",
        bpm=90,
        key="F# dorian",
        meter="4/4",
        vibe={"style": "house"},
        seed=524208,
        n=6,
        index=index,
    )
    audio, _ = rendered(request, None)
    peak = plays_within_limits(audio, request.samplerate)
    # hoot's own meter reads the same peak, and keeps it 0.1 dB under the ceiling.
    assert true_peak(audio, request.samplerate, loop=True) == pytest.approx(peak, abs=0.05)


ONCE_OVER = {
    "drums-perc_kit-techno-3/4-90-3": "peaked 0.51 dB over: hand percussion on a drum clip",
    "perc-perc_kit-house-3/4-174-5": "played 1.4 LU louder looped, and peaked 0.92 dB over",
    "perc-perc_kit-house-3/4-90-5": "peaked 2.51 dB over, the worst of 432 stems",
    "bass-acid_bass-techno-4/4-124-3": "peaked 0.02 dB over: saturation's partials",
}
"""Stems that broke a limit before true peak and looped loudness were measured as here,
"role-sound-style-meter-BPM-candidate" (of a batch at seed 524208 in F# dorian), and how."""


@pytest.mark.parametrize("case", list(ONCE_OVER))
def test_stems_that_once_broke_a_limit_play_within_it(case: str) -> None:
    role, sound, style, meter, bpm, candidate = case.split("-")
    request = Request(
        role=role,
        bpm=float(bpm),
        key="F# dorian",
        meter=meter,
        vibe={"style": style},
        seed=524208,
        n=6,
        index=int(candidate) - 1,
    )
    audio, _ = rendered(request, sound)
    plays_within_limits(audio, request.samplerate)
