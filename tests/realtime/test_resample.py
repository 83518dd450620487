"""The streaming resampler: block by block is one shot, counts are exact, a sine comes
through at its stated delay, and two in a row can be made a whole number of samples late."""

from __future__ import annotations

import numpy as np
import pytest

from hoot.realtime.resample import StreamResampler


def in_blocks(resampler: StreamResampler, x: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 400))
        out.append(resampler.process(x[i : i + n]))
        i += n
    return np.concatenate(out)


@pytest.mark.parametrize("src,dst", [(44100, 48000), (48000, 44100), (48000, 24000),
                                     (48000, 48000)])  # fmt: skip
def test_block_by_block_equals_one_shot_with_exact_counts(src, dst):
    x = np.random.default_rng(1).standard_normal((9000, 2)).astype(np.float32)
    whole = StreamResampler(src, dst).process(x)
    blocks = in_blocks(StreamResampler(src, dst), x)
    assert len(whole) == len(blocks) == -(-9000 * dst // src)
    np.testing.assert_allclose(blocks, whole, atol=1e-6)


@pytest.mark.parametrize("src,dst", [(44100, 48000), (48000, 44100)])
def test_a_sine_comes_through_at_the_stated_delay(src, dst):
    resampler = StreamResampler(src, dst, channels=1)
    t = np.arange(src) / src
    y = resampler.process(np.sin(2 * np.pi * 1000 * t).astype(np.float32)[:, None])[:, 0]
    when = (np.arange(len(y)) - resampler.delay) / dst
    settled = when > 0.01  # past the sine's switch-on
    assert np.abs(y[settled] - np.sin(2 * np.pi * 1000 * when[settled])).max() < 1e-4


def test_a_longer_delay_can_be_asked_so_a_round_trip_is_whole_samples():
    there = StreamResampler(48000, 44100, channels=1)
    first = there.delay * 48000 / 44100
    total = int(np.ceil(first + StreamResampler(44100, 48000).delay))
    back = StreamResampler(44100, 48000, channels=1, delay=total - first)
    x = np.zeros((4800, 1), np.float32)
    x[1000] = 1.0
    y = back.process(there.process(x))[:, 0]
    assert int(np.argmax(y)) == 1000 + total
    with pytest.raises(ValueError, match="under this filter"):
        StreamResampler(44100, 48000, delay=1.0)


def test_reset_starts_again_from_silence():
    resampler = StreamResampler(44100, 48000)
    x = np.random.default_rng(2).standard_normal((500, 2)).astype(np.float32)
    first = resampler.process(x)
    resampler.process(np.ones((300, 2), np.float32))
    resampler.reset()
    np.testing.assert_array_equal(resampler.process(x), first)
