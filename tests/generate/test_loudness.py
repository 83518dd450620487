"""Loudness (ITU-R BS.1770-4), true peak and normalisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import fft

from hoot.generate.loudness import (
    integrated_loudness,
    k_weighting,
    normalize,
    normalize_measured,
    true_peak,
)
from tests.generate.references import reference_peak, tiled_loudness

SR = 48000


def hits_in_three_four(sr: int = SR, bpm: float = 124.0, bars: int = 1) -> np.ndarray:
    """A sparse percussion loop in 3/4: a drum on each downbeat (the first at sample 0), a
    softer one on the third beat, a faint tone between; what rings past the end plays on
    at the start."""
    beat = 60.0 / bpm * sr
    frames = round(3 * bars * beat)
    t = np.arange(frames) / sr
    loop = np.repeat(0.003 * np.sin(2 * np.pi * 330 * t)[:, None], 2, axis=1)
    d = np.arange(round(0.3 * sr)) / sr
    drum = np.sin(2 * np.pi * 200 * d) * np.exp(-d / 0.05)
    drum += 0.5 * np.sin(2 * np.pi * 3100 * d) * np.exp(-d / 0.008)
    for bar in range(bars):
        for at, level in ((0, 1.0), (2, 0.3)):
            ringing = (round((3 * bar + at) * beat) + np.arange(d.size)) % frames
            np.add.at(loop, ringing, level * drum[:, None])
    return loop


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


@pytest.mark.parametrize("sr", [44100, 48000])
@pytest.mark.parametrize(("over", "under"), [(1, 4), (1, 3), (2, 5), (3, 7), (4, 9)])
def test_true_peak_reads_the_sines_the_samples_hide(sr: int, over: int, under: int) -> None:
    # A sine at over/under of the sample rate puts its samples at `under` phases only; at
    # the worst start they all miss its crest, by 3 dB at sr/4 and 0.13 dB at 4/9 sr
    # (21.3 kHz at 48 kHz), where only a long interpolator still follows the wave.
    frames = under * (sr // 10 // under)
    t = np.arange(frames) / sr
    starts = np.linspace(0.0, np.pi, 48, endpoint=False)
    start = min(starts, key=lambda s: np.abs(np.sin(2 * np.pi * over / under * sr * t + s)).max())
    tone = np.sin(2 * np.pi * over / under * sr * t + start)
    assert 20 * np.log10(np.abs(tone).max()) < -0.1
    truth = reference_peak(tone, oversampling=32)
    assert truth == pytest.approx(0.0, abs=0.01)
    measured = true_peak(tone, sr, loop=True)
    # Eighth-sample points miss at most 0.14 dB at 0.45 of the rate, 0.05 dB below 0.4.
    assert truth - (0.15 if over / under > 0.4 else 0.05) <= measured <= truth + 0.05


def test_true_peak_follows_noise_up_to_the_top_of_the_band() -> None:
    rng = np.random.default_rng(5)
    noise = rng.standard_normal((SR, 2))
    spectrum = fft.rfft(noise, axis=0)
    spectrum[np.fft.rfftfreq(SR, 1 / SR) > 0.45 * SR] = 0.0  # what a stem may hold
    loop = 0.25 * fft.irfft(spectrum, n=SR, axis=0)
    assert true_peak(loop, SR, loop=True) == pytest.approx(reference_peak(loop), abs=0.05)


def test_true_peak_of_a_loop_counts_the_peak_over_its_seam() -> None:
    # A burst at a quarter of the rate whose crest falls half-way from the last sample to
    # the first: every sample of it misses the crest by 3 dB.
    frames = SR // 2
    t = (np.arange(frames) + 0.5) / SR
    t = np.where(t > 0.25, t - frames / SR, t)  # time from the crest, both ways round
    burst = np.cos(2 * np.pi * SR / 4 * t) * np.exp(-((t / 0.002) ** 2))
    assert 20 * np.log10(np.abs(burst).max()) < -3.0
    assert reference_peak(burst, oversampling=32) == pytest.approx(0.0, abs=0.01)
    assert true_peak(burst, SR, loop=True) == pytest.approx(0.0, abs=0.05)


def test_a_loop_reads_what_it_plays_round_and_round() -> None:
    loop = hits_in_three_four()
    played = tiled_loudness(loop, SR)
    assert integrated_loudness(loop, SR, loop=True) == pytest.approx(played, abs=0.1)
    # As a one-off clip its downbeat, at sample 0, counts in one gating block instead of
    # four, and the softer drum on beat 3 in all of its own: it reads 3 LU quieter.
    assert integrated_loudness(loop, SR) < played - 1.0


def test_a_loop_shorter_than_a_gating_block_is_measured_round_and_round() -> None:
    loop = hits_in_three_four(bpm=720.0)  # a 250 ms loop whose drums ring round it
    assert loop.shape[0] < 0.4 * SR
    assert integrated_loudness(loop, SR, loop=True) == pytest.approx(
        tiled_loudness(loop, SR), abs=0.02
    )


def test_normalize_puts_a_loop_on_target_as_it_plays() -> None:
    loop = hits_in_three_four()
    out, _, lufs = normalize_measured(loop, SR, target_lufs=-14.0, loop=True)
    assert lufs == pytest.approx(integrated_loudness(out, SR, loop=True), abs=1e-6)
    assert tiled_loudness(out, SR) == pytest.approx(-14.0, abs=0.1)
    assert reference_peak(out) <= -1.0


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
