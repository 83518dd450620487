"""Loudness (ITU-R BS.1770-4), true peak and normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from hoot.generate.loudness import (
    integrated_loudness,
    k_weighting,
    normalize,
    normalize_measured,
    true_peak,
)

SR = 48000


def sine(freq: float, seconds: float, level_db: float = 0.0, sr: int = SR, phase: float = 0.0):
    t = np.arange(round(seconds * sr)) / sr
    return 10.0 ** (level_db / 20.0) * np.sin(2.0 * np.pi * freq * t + phase)


def kick_loop(seconds: float = 8.0, sr: int = SR) -> np.ndarray:
    """Very peaky material: short low thumps every half second over faint noise."""
    rng = np.random.default_rng(7)
    frames = round(seconds * sr)
    audio = 0.003 * rng.standard_normal((frames, 2))
    t = np.arange(round(0.25 * sr)) / sr
    thump = np.sin(2 * np.pi * (50 * t + 2.0 * (1 - np.exp(-t / 0.02)))) * np.exp(-t / 0.03)
    thump += 0.8 * np.sin(2 * np.pi * 1800 * t) * np.exp(-t / 0.003)
    for start in range(0, frames - t.size, sr // 2):
        audio[start : start + t.size] += thump[:, None]
    return audio


def test_k_weighting_at_48k_is_the_standards_filter() -> None:
    sos = k_weighting(48000)
    assert np.allclose(sos[0, :3], [1.53512485958697, -2.69169618940638, 1.19839281085285])
    assert np.allclose(sos[0, 3:], [1.0, -1.69065929318241, 0.73248077421585])
    assert np.allclose(sos[1], [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621])


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
def test_full_scale_997_hz_sine_reads_minus_3_01_lufs(sr: int) -> None:
    assert integrated_loudness(sine(997, 10, sr=sr), sr) == pytest.approx(-3.01, abs=0.1)


def test_level_moves_loudness_one_for_one() -> None:
    assert integrated_loudness(sine(997, 10, -20.0), SR) == pytest.approx(-23.01, abs=0.1)


def test_stereo_channels_are_summed_in_power() -> None:
    tone = sine(997, 10)
    one_side = np.stack([tone, np.zeros_like(tone)], axis=1)
    both = np.stack([tone, tone], axis=1)
    assert integrated_loudness(one_side, SR) == pytest.approx(-3.01, abs=0.1)
    # Two equal channels carry twice the power: 3 dB more, i.e. 0 LUFS.
    assert integrated_loudness(both, SR) == pytest.approx(0.0, abs=0.1)


def test_gating_ignores_silence() -> None:
    tone = sine(997, 10, -12.0)
    short = np.concatenate([np.zeros(SR * 2), tone, np.zeros(SR * 2)])
    long = np.concatenate([np.zeros(SR * 5), tone, np.zeros(SR * 40)])
    # However much silence surrounds it, the tone reads the same; only the few blocks that
    # straddle its edges (partly tone, so they pass the gates) pull it down a little.
    assert integrated_loudness(long, SR) == pytest.approx(integrated_loudness(short, SR), abs=0.01)
    assert integrated_loudness(long, SR) == pytest.approx(integrated_loudness(tone, SR), abs=0.2)


def test_relative_gate_drops_quiet_passages() -> None:
    loud = sine(997, 10, -10.0)
    quiet = sine(997, 10, -45.0)  # above the absolute gate, far under the relative one
    both = np.concatenate([loud, quiet])
    # Without the relative gate the quiet half would pull the reading down 3 dB.
    assert integrated_loudness(both, SR) == pytest.approx(integrated_loudness(loud, SR), abs=0.15)


def test_silence_and_short_clips() -> None:
    assert integrated_loudness(np.zeros((SR, 2)), SR) == float("-inf")
    assert true_peak(np.zeros((SR, 2)), SR) == float("-inf")
    # Shorter than one 400 ms block: measured as one block instead of being silent.
    assert integrated_loudness(sine(997, 0.2), SR) == pytest.approx(-3.01, abs=0.2)


def test_true_peak_finds_peaks_between_samples() -> None:
    # A quarter-rate sine at 45 degrees: every sample is at 0.707, the wave reaches 1.0.
    tone = sine(SR / 4, 1.0, phase=np.pi / 4)
    assert 20 * np.log10(np.abs(tone).max()) == pytest.approx(-3.01, abs=0.01)
    assert true_peak(tone, SR) == pytest.approx(0.0, abs=0.2)
    assert true_peak(sine(100, 1.0, -6.0), SR) == pytest.approx(-6.0, abs=0.05)


def test_normalize_plain_material_hits_the_target() -> None:
    rng = np.random.default_rng(3)
    chord = sum(sine(f, 6, -30.0) for f in (220, 277, 330)) + 0.001 * rng.standard_normal(6 * SR)
    stereo = np.stack([chord, 0.8 * chord], axis=1)
    out, gain_db = normalize(stereo, SR, target_lufs=-14.0)
    assert out.dtype == np.float32 and out.shape == stereo.shape
    assert integrated_loudness(out, SR) == pytest.approx(-14.0, abs=0.1)
    assert gain_db == pytest.approx(-14.0 - integrated_loudness(stereo, SR), abs=1e-6)
    assert true_peak(out, SR) <= -1.0


def test_normalize_peaky_material_stays_near_target_under_the_ceiling() -> None:
    audio = kick_loop()
    before = integrated_loudness(audio, SR)
    out, gain_db = normalize(audio, SR, target_lufs=-14.0, ceiling_dbtp=-1.0)
    # Plain gain would put the thumps far over the ceiling...
    assert true_peak(audio, SR) + (-14.0 - before) > 3.0
    # ...so the limiter takes them down and the loudness still lands within 1 LU.
    assert true_peak(out, SR) <= -1.0 + 0.01
    assert integrated_loudness(out, SR) == pytest.approx(-14.0, abs=1.0)
    assert np.isfinite(gain_db)


def test_normalize_measured_reports_the_result_loudness() -> None:
    for audio in (kick_loop(), sine(440, 5, -20.0)):
        out, _, lufs = normalize_measured(audio, SR, target_lufs=-16.0)
        assert lufs == pytest.approx(integrated_loudness(out, SR), abs=1e-6)


def test_normalize_keeps_a_loop_seamless() -> None:
    audio = kick_loop(4.0)
    audio = np.roll(audio, 100, axis=0)  # a thump right across the seam
    out, _ = normalize(audio, SR, loop=True)
    steps = np.abs(np.diff(out, axis=0))
    seam = np.abs(out[0] - out[-1])
    assert np.all(seam <= np.percentile(steps, 99.9, axis=0) + 1e-6)


def test_normalize_leaves_silence_alone_and_keeps_mono_shape() -> None:
    silent, gain = normalize(np.zeros(SR), SR)
    assert gain == 0.0 and silent.shape == (SR,) and not silent.any()
    mono, _ = normalize(sine(997, 3, -30.0), SR, target_lufs=-20.0)
    assert mono.shape == (3 * SR,)
    assert integrated_loudness(mono, SR) == pytest.approx(-20.0, abs=0.1)


def test_non_finite_input_is_made_silent_not_propagated() -> None:
    audio = sine(997, 3, -20.0)
    audio[1000] = np.nan
    audio[2000] = np.inf
    out, _ = normalize(audio, SR)
    assert np.isfinite(out).all()
