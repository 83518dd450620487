"""The embedded timbre model, models/rave-hoot.ts, as any RAVE host sees it: it loads with
plain torch.jit.load, speaks the nn~ interface, streams (block by block == one shot), and
what its "hoot.json" says about latency and latent dims is true."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

MODEL = Path(__file__).resolve().parents[2] / "models" / "rave-hoot.ts"
SR = 48000


@pytest.fixture(scope="module")
def shipped():
    extra = {"hoot.json": ""}
    module = torch.jit.load(str(MODEL), map_location="cpu", _extra_files=extra)
    return module, json.loads(extra["hoot.json"])


def played(seconds: float = 1.0, hz: float = 220.0, level: float = 0.2) -> torch.Tensor:
    """A bowed-like test tone: a band-limited sawtooth with 5 Hz vibrato, swelling in."""
    t = np.arange(int(seconds * SR) // 128 * 128) / SR
    f = hz * 2 ** (0.2 / 12 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    saw = sum(np.sin(k * phase) / k for k in range(1, 30))
    env = np.minimum(1.0, t / 0.1)
    x = (level * env * saw / 1.7).astype(np.float32)
    return torch.from_numpy(x).reshape(1, 1, -1)


def through(module, x: torch.Tensor, block: int) -> torch.Tensor:
    module.reset()
    with torch.inference_mode():
        return torch.cat(
            [module.forward(x[:, :, i : i + block]) for i in range(0, x.shape[2], block)], 2
        )


def test_it_loads_with_plain_torch_and_speaks_the_nn_tilde_interface(shipped):
    module, facts = shipped
    assert module.get_methods() == ["encode", "decode", "forward"]
    latent, ratio = facts["latent"], facts["ratio"]
    assert module.encode_params.tolist() == [1, 1, latent, ratio]
    assert module.decode_params.tolist() == [latent, ratio, 1, 1]
    assert module.forward_params.tolist() == [1, 1, 1, 1]
    assert module.sr == module.get_sample_rate() == SR == facts["sr"]
    assert module.latent_size == module.full_latent_size == latent
    assert module.n_channels == module.target_channels == 1
    assert module.get_attributes() == []
    assert ratio <= 128
    # nn~'s own test run: zeros of 8192 // ratio frames, a 3-D float answer, batch 4 too
    with torch.inference_mode():
        for batch in (1, 4):
            z = module.encode(torch.zeros(batch, 1, 8192))
            assert z.shape == (batch, latent, 8192 // ratio) and z.dtype == torch.float32
            y = module.decode(torch.zeros(batch, latent, 8192 // ratio))
            assert y.shape == (batch, 1, 8192)


def test_its_card_says_what_it_is(shipped):
    _, facts = shipped
    assert facts["name"] == "rave-hoot" and facts["made_by"] == "models/train_rave.py"
    assert "cello" in facts["instrument"]
    assert sorted(facts["dims"]) == [str(d) for d in range(facts["latent"])]
    assert facts["dims"]["0"].startswith("pitch") and facts["dims"]["1"].startswith("loudness")
    assert facts["lookahead_samples"] == 0 and facts["latency_samples"] == facts["ratio"]
    assert MODEL.stat().st_size < 5_000_000


@pytest.mark.parametrize("block", [128, 256, 384])
def test_block_by_block_equals_one_shot(shipped, block):
    module, _ = shipped
    x = played(1.0)
    whole = through(module, x, x.shape[2])
    blocks = through(module, x, block)
    assert whole.shape == blocks.shape == x.shape
    assert float(whole.abs().max()) > 0.01
    assert float((whole - blocks).abs().max()) < 1e-4


def test_encode_and_decode_stream_apart_too(shipped):
    module, facts = shipped
    x = played(0.5)
    with torch.inference_mode():
        module.reset()
        z_whole = module.encode(x)
        y_whole = module.decode(z_whole)
        module.reset()
        z = torch.cat([module.encode(x[:, :, i : i + 128]) for i in range(0, x.shape[2], 128)], 2)
        y = torch.cat([module.decode(z[:, :, f : f + 1]) for f in range(z.shape[2])], 2)
    assert z.shape == (1, facts["latent"], x.shape[2] // facts["ratio"])
    assert float((z - z_whole).abs().max()) < 1e-4
    assert float((y - y_whole).abs().max()) < 1e-4


def test_no_lookahead_and_one_frame_of_latency(shipped):
    """Changing the input from sample n on leaves every output frame before n's unchanged
    (no lookahead) and changes n's own frame (it answers within one ratio of samples)."""
    module, facts = shipped
    ratio = facts["ratio"]
    quiet = played(0.5)
    n = 40 * ratio + 17
    loud = quiet.clone()
    loud[:, :, n:] *= 4.0
    a, b = through(module, quiet, 128), through(module, loud, 128)
    start = (n // ratio) * ratio
    assert torch.equal(a[:, :, :start], b[:, :, :start])
    assert (
        float((a[:, :, start : start + ratio] - b[:, :, start : start + ratio]).abs().max()) > 1e-4
    )


def test_the_pitch_and_loudness_dims_mean_what_the_card_says(shipped):
    module, _ = shipped
    x = played(0.5, hz=220.0, level=0.2)
    module.reset()
    with torch.inference_mode():
        z = module.encode(x)[0, :, 100:]  # after the 2048-sample window has filled
    assert abs(float(z[0].median()) - math.log2(220.0 / 261.6256)) < 0.02  # octaves from C4
    rms_db = 10 * math.log10(float(x[0, 0, -512:].pow(2).mean()))
    assert abs(float(z[1, -1]) - (rms_db + 40) / 20) < 0.01


def test_a_pitch_walked_in_the_latent_is_the_pitch_it_plays(shipped):
    """Drones set dim 0 directly: decoding a held latent at A3 sounds 220 Hz."""
    module, facts = shipped
    frames = 200
    z = torch.zeros(1, facts["latent"], frames)
    z[0, 0] = math.log2(220.0 / 261.6256)
    z[0, 1] = 1.0  # -20 dBFS
    z[0, 2] = 1.0  # a clean tone
    module.reset()
    with torch.inference_mode():
        y = module.decode(z)[0, 0, -8192:].numpy().astype(np.float64)
    assert np.sqrt(np.mean(y**2)) > 1e-3
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y)), 1 << 16))
    ac = np.fft.irfft(spectrum**2)
    lo, hi = SR // 1000, SR // 60
    lag = lo + int(np.argmax(ac[lo:hi]))
    assert abs(SR / lag - 220.0) < 4.0


def test_a_tail_short_of_a_frame_is_dropped_not_an_error(shipped):
    module, facts = shipped
    with torch.inference_mode():
        module.reset()
        assert module.encode(torch.zeros(1, 1, 100)).shape == (1, facts["latent"], 0)
        assert module.decode(torch.zeros(1, facts["latent"], 0)).shape == (1, 1, 0)
        assert module.encode(torch.zeros(1, 1, 300)).shape == (1, facts["latent"], 2)


def test_it_runs_128_sample_blocks_on_one_thread(shipped):
    module, _ = shipped
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = played(0.25)
        y = through(module, x, 128)
    finally:
        torch.set_num_threads(threads)
    assert y.shape == x.shape and bool(torch.isfinite(y).all())


def test_a_drone_on_it_holds_the_keys_tonic_on_its_pitch_dim():
    """Its card's roles make a drone a note: D minor's tonic, low (D3), whatever the walk,
    the LFO and the vibe do to its other dims."""
    import warnings

    from hoot.realtime.audio_voice import model_dims
    from hoot.realtime.rave import LatentPlayer, load_rave
    from hoot.realtime.trajectory import Grid, Trajectory

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_rave(MODEL)
    roles = model_dims(MODEL, "roles")
    assert roles["pitch"]["dim"] == 0
    grid = Grid(48000, beat_s=0.5, phrase_sample=4 * 48000, phrase_beats=8)
    path = Trajectory(model.latent, grid, seed=1, walk=0.5, lfo=4, roles=roles, key="D minor")
    y = LatentPlayer(model, 48000).render(path.frames(0, 3 * 375, 128))[:, 0]
    part = y[48000 : 48000 + 8192]
    heard = np.correlate(part, part, "full")[len(part) - 1 :]
    lag = 100 + int(np.argmax(heard[100:1000]))
    assert 48000 / lag == pytest.approx(146.83, rel=0.02)  # D3
    assert np.abs(y).max() < 1.0, "room under full scale before the drone's level"
