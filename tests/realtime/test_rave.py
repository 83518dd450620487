"""The RAVE adapter against nn~-interface modules built here (hoot.realtime.nn_tilde):
the interface read from the file, a fixed and exact latency, streaming that equals one
shot, latent controls that do what they say, and bad files that get one sentence."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hoot.errors import HootError
from hoot.realtime import nn_tilde, rave
from hoot.realtime.rave import EMBEDDED, LatentPlayer, Stream, find_model, load_rave


def music(frames: int, samplerate: int = 48000, seed: int = 0, hiss: float = 0.01) -> np.ndarray:
    """Two channels of chords with a little noise: (frames, 2) float32."""
    t = np.arange(frames) / samplerate
    noise = np.random.default_rng(seed).standard_normal((frames, 2)) * hiss
    left = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 330 * t)
    right = 0.3 * np.sin(2 * np.pi * 277 * t) + 0.1 * np.sin(2 * np.pi * 1100 * t)
    return (np.stack([left, right], 1) + noise).astype(np.float32)


def played(stream: Stream, x: np.ndarray, seed: int = 0, most: int = 700) -> np.ndarray:
    """x through the stream in blocks of random sizes, as an engine with odd hosts would."""
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, most))
        block = stream.process(x[i : i + n])
        assert block.shape == (len(x[i : i + n]), 2) and block.dtype == np.float32
        out.append(block)
        i += n
    return np.concatenate(out)


def test_the_interface_is_read_from_the_file(tmp_path):
    meta = {"name": "wind", "dims": {"0": "energy"}}
    path = nn_tilde.build("conv", tmp_path / "wind.ts", sr=44100, channels_in=2, channels_out=2,
                          ratio=64, latent=8, meta=meta)  # fmt: skip
    model = load_rave(path)
    assert (model.name, model.sr, model.ratio, model.latent) == ("wind", 44100, 64, 8)
    assert (model.channels_in, model.channels_out) == (2, 2)
    assert model.meta["dims"] == {"0": "energy"}
    assert model.module.get_methods() == ["encode", "decode", "forward"]
    assert model.module.get_sample_rate() == 44100
    assert model.module.encode_params.tolist() == [2, 1, 8, 64]
    assert model.module.forward_params.tolist() == [2, 1, 2, 1]


@pytest.mark.parametrize("channels,ratio", [(1, 128), (2, 64)])
def test_the_identity_model_gives_the_input_back_exactly_latency_samples_late(
    tmp_path, channels, ratio
):
    model = load_rave(nn_tilde.build("identity", tmp_path / "same.ts", channels_in=channels,
                                     channels_out=channels, ratio=ratio))  # fmt: skip
    stream = Stream(model, 48000)
    assert stream.latency == ratio - 1
    x = music(20000)
    y = played(stream, x)
    heard = x if channels == 2 else np.repeat(x.mean(1, keepdims=True), 2, 1)
    assert not y[: stream.latency].any()
    np.testing.assert_array_equal(y[stream.latency :], heard[: -stream.latency])


def test_a_44k_model_in_a_48k_session_comes_back_after_latency_within_a_small_error(tmp_path):
    model = load_rave(nn_tilde.build("identity", tmp_path / "cd.ts", sr=44100))
    stream = Stream(model, 48000)
    # 127 samples at 44.1k wait for a whole frame (139 at 48k), plus the two filters
    assert stream.latency > 139
    x = music(24000, hiss=0.0)  # all below the filters' 20 kHz
    y = played(stream, x, seed=3)
    late, settled = stream.latency, 2000  # past the chords' switch-on
    error = np.abs(y[late + settled :, 0] - x.mean(1)[settled:-late])
    assert error.max() < 2e-3
    assert np.abs(y[late - 3 + settled :, 0] - x.mean(1)[settled : -late + 3]).max() > 0.05


def test_the_conv_model_block_by_block_equals_one_shot(tmp_path):
    path = nn_tilde.build("conv", tmp_path / "conv.ts", ratio=64, latent=16)
    x = music(12000)
    whole = Stream(load_rave(path), 48000).process(x)
    blocks = played(Stream(load_rave(path), 48000), x, seed=5)
    assert np.abs(whole).max() > 0.01
    np.testing.assert_allclose(blocks, whole, atol=1e-5)


def test_scale_zero_and_a_bias_give_the_decoded_bias(tmp_path):
    path = nn_tilde.build("conv", tmp_path / "conv.ts", ratio=64, latent=16)
    stream = Stream(load_rave(path), 48000)
    bias = np.linspace(-1, 1, 16).astype(np.float32)
    stream.set_controls(bias=bias, scale=0.0)
    y = played(stream, music(64 * 40))
    fresh = load_rave(path).module
    with torch.inference_mode():
        z = torch.from_numpy(np.repeat(bias[:, None], 40, 1))[None]
        expected = fresh.decode(z)[0, 0].numpy()
    late = stream.latency
    np.testing.assert_allclose(y[late:, 0], expected[: len(y) - late], atol=1e-5)


def test_controls_steer_and_neutral_controls_are_the_model_as_trained(tmp_path):
    model = load_rave(nn_tilde.build("identity", tmp_path / "same.ts"))
    x = music(6000)
    plain = Stream(model, 48000).process(x)
    stream = Stream(model, 48000)
    stream.set_controls(scale=[2.0], bias=[0.5, 0.25])  # dims not given: scale 1, bias 0
    steered = stream.process(x)
    late = stream.latency
    z = x.mean(1)[:-late].reshape(-1)
    first, second, third = (steered[late + k :: 128, 0][: len(z[k::128])] for k in range(3))
    np.testing.assert_allclose(first, z[0::128][: len(first)] * 2 + 0.5, atol=1e-6)
    np.testing.assert_allclose(second, z[1::128][: len(second)] + 0.25, atol=1e-6)
    np.testing.assert_allclose(third, z[2::128][: len(third)], atol=1e-6)
    stream.set_controls(noise=0.1)
    assert np.abs(stream.process(x) - plain).max() > 0.01
    stream.set_controls(bias=0.0, scale=1.0, noise=0.0)
    stream.reset()
    np.testing.assert_array_equal(stream.process(x), plain)
    for wrong in ({"noise": -1.0}, {"bias": [0.0] * 129}, {"scale": "loud"}):
        with pytest.raises(HootError):
            stream.set_controls(**wrong)


def test_reset_forgets_what_was_played(tmp_path):
    path = nn_tilde.build("conv", tmp_path / "conv.ts", ratio=64, latent=16)
    x = music(4000, seed=1)
    fresh = Stream(load_rave(path), 48000).process(x)
    stream = Stream(load_rave(path), 48000)
    stream.process(music(5000, seed=2))
    stream.reset()
    np.testing.assert_allclose(stream.process(x), fresh, atol=1e-6)


def test_latent_frames_render_to_audio_and_audio_encodes_to_frames(tmp_path):
    model = load_rave(nn_tilde.build("identity", tmp_path / "same.ts"))
    player = LatentPlayer(model, 48000)
    assert player.frame_s == 128 / 48000
    x = music(128 * 10 + 50)
    z = player.encode(x)
    assert z.shape == (128, 10)
    audio = player.render(z)
    np.testing.assert_array_equal(audio[:, 0], x.mean(1)[: 128 * 10])
    assert player.encode(x[:60]).shape == (128, 0)  # 50 waiting + 60: no whole frame yet
    assert player.encode(x[:20]).shape == (128, 1)
    cd = LatentPlayer(load_rave(nn_tilde.build("conv", tmp_path / "c.ts", sr=44100)), 48000)
    rendered = [cd.render(np.zeros((128, 4), np.float32)) for _ in range(3)]
    assert sum(len(r) for r in rendered) == -(-3 * 4 * 128 * 48000 // 44100)
    with pytest.raises(HootError, match="latent frames"):
        player.render(np.zeros((129, 2)))


def test_a_model_that_fails_while_playing_says_so_in_a_sentence(tmp_path):
    stream = Stream(load_rave(nn_tilde.build("raise", tmp_path / "bad.ts", fail_after=2)), 48000)
    stream.process(np.zeros((256, 2), np.float32))
    with pytest.raises(HootError, match="the RAVE model bad failed while playing"):
        for _ in range(4):
            stream.process(np.zeros((128, 2), np.float32))


class NoDecode(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.sr = 48000
        self.register_buffer("encode_params", torch.tensor([1, 1, 4, 64]))

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, ::64].repeat(1, 4, 1)


class ThreeParams(NoDecode):
    def __init__(self):
        super().__init__()
        self.encode_params = torch.tensor([1, 1, 4])

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script here
def test_bad_files_get_one_sentence(tmp_path, monkeypatch):
    (tmp_path / "notes.ts").write_text("a shopping list")
    torch.save({"w": torch.zeros(3)}, tmp_path / "weights.ts")
    torch.jit.save(torch.jit.script(NoDecode()), str(tmp_path / "half.ts"))
    torch.jit.save(torch.jit.script(ThreeParams()), str(tmp_path / "three.ts"))
    broken = tmp_path / "broken.ts"
    broken.write_bytes(nn_tilde.build("identity", tmp_path / "whole.ts").read_bytes()[:3000])
    cases = {"notes.ts": "not a TorchScript model", "weights.ts": "not TorchScript",
             "half.ts": "has no decode method", "three.ts": "four ints",
             "broken.ts": "could not be loaded|not a TorchScript"}  # fmt: skip
    for name, sentence in cases.items():
        with pytest.raises(HootError, match=sentence):
            load_rave(tmp_path / name)
    monkeypatch.setattr(rave, "MODELS_DIR", tmp_path)
    monkeypatch.setattr(rave, "EMBEDDED", tmp_path / "rave-hoot.ts")
    assert find_model("whole") == find_model("whole.ts") == tmp_path / "whole.ts"
    with pytest.raises(HootError, match=r"no RAVE model 'flute'.*There: broken.ts, half.ts"):
        find_model("flute")
    with pytest.raises(HootError, match="train_rave.py"):
        find_model(None)


@pytest.mark.skipif(not EMBEDDED.is_file(), reason="models/rave-hoot.ts is not trained yet")
def test_the_embedded_model_loads_and_streams():
    model = load_rave(None)
    assert model.path == EMBEDDED and model.sr == 48000 and model.ratio <= 128
    assert (model.channels_in, model.channels_out) == (1, 1)
    meta = model.meta or json.loads("{}")
    assert meta.get("latent", model.latent) == model.latent
    stream = Stream(model, 48000)
    assert stream.latency == model.ratio - 1
    y = played(stream, music(48000 // 2), most=300)
    assert np.isfinite(y).all() and np.abs(y).max() > 1e-4
