"""The default mix: every stem is -14 LUFS on its own, and the tracks' default levels sum
six of them to a balanced mix near -14 LUFS that the master limiter barely touches."""

from __future__ import annotations

import numpy as np
import pytest

from hoot.generate.loudness import integrated_loudness
from hoot.music import ROLES
from hoot.music.roles import LEVELS
from hoot.session import Session
from hoot.stage import Stage

SR = 48000


@pytest.mark.parametrize("style", ["house", "hiphop"])
def test_six_stems_at_the_default_levels_sit_near_minus_14_lufs_with_headroom(
    tmp_path, style, report
):
    stage = Stage.offline(Session(tmp_path / "mix"))
    perf = stage.perf
    perf.on_message = lambda m: None
    try:
        perf.vibe(style=style)
        assert {t.name: t.gain for t in perf.tracks} == LEVELS, "tracks start at their levels"
        batches = [perf.generate(role, n=1, bars=4, seed=3) for role in ROLES]
        stems = {b.role: b.wait(timeout=120)[1].audio.astype(np.float64) for b in batches}
    finally:
        stage.close()
    for role, audio in stems.items():
        lufs = integrated_loudness(audio, SR, loop=True)
        assert abs(lufs + 14) <= 0.5, f"{role} alone is -14 LUFS, not {lufs:.2f}"
    mix = sum(audio * 10 ** (LEVELS[role] / 20) for role, audio in stems.items())
    unity = sum(stems.values())
    lufs, peak = integrated_loudness(mix, SR, loop=True), 20 * np.log10(np.abs(mix).max())
    report(f"{style}: six stems at the default levels {lufs:.1f} LUFS, peak {peak:.1f} dBFS "
           f"(at 0 dB: {integrated_loudness(unity, SR, loop=True):.1f} LUFS)")  # fmt: skip
    assert -16.0 <= lufs <= -13.0
    assert peak <= 0.5, "the limiter (-0.3 dBFS) has little or nothing to do"
    assert integrated_loudness(unity, SR, loop=True) > -9.0, "at 0 dB the sum would be far too hot"
