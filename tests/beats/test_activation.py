"""The learned beat activation: the shipped model loads without pickles, runs in numpy exactly
as torch runs it, hears only the past at any block size, and a missing or damaged model
leaves the tracker listening to onsets with one sentence."""

from __future__ import annotations

import numpy as np
import pytest

from hoot.beats import BeatTracker
from hoot.beats import activation as act
from hoot.errors import HootError
from tests.beats.grooves import SR, grid, groove


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    return groove(grid(110.0, 0.5, 6.0), 6.0)


def test_the_shipped_model_is_hoots_own_and_plain_arrays():
    weights, meta = act.load()
    assert meta["made_by"] == "models/train_beats.py"
    assert act.EMBEDDED.stat().st_size < 1_000_000
    assert weights["input_mean"].shape == (2 * act.BANDS,)
    with np.load(act.EMBEDDED, allow_pickle=False) as data:  # raises on any object array
        assert all(data[k].dtype != object for k in data.files)


def test_numpy_runs_the_network_as_torch_does(audio):
    torch = pytest.importorskip("torch")
    weights, meta = act.load()
    hidden, layers = int(meta["hidden"]), int(meta["layers"])
    gru = torch.nn.GRU(2 * act.BANDS, hidden, layers, batch_first=True).double()
    gru.load_state_dict({k[4:]: torch.tensor(v) for k, v in weights.items() if k[:4] == "gru."})
    out = torch.nn.Linear(hidden, 2).double()
    out.load_state_dict({"weight": torch.tensor(weights["out.weight"]),
                         "bias": torch.tensor(weights["out.bias"])})  # fmt: skip
    features = act.Features(SR)
    x = np.array([v for v, _ in features.feed(audio)])
    network = act.Network(weights, meta)
    mine = np.array([network.step(v) for v in x])
    scaled = (x - weights["input_mean"]) / np.maximum(weights["input_std"], 1e-6)
    with torch.no_grad():
        theirs = torch.sigmoid(out(gru(torch.tensor(scaled)[None])[0]))[0].numpy()
    assert mine.shape == (len(x), 2) and mine.max() > 0.3  # it hears beats in a groove
    np.testing.assert_allclose(mine, theirs, atol=1e-9)


def test_features_are_the_same_at_any_block_size_and_never_see_ahead(audio):
    mono = audio

    def frames(signal, block):
        f = act.Features(SR)
        out = []
        for at in range(0, len(signal), block):
            out += f.feed(signal[at : at + block])
        return out

    whole = frames(mono, 256)
    for block in (64, 1000, 4801):
        other = frames(mono, block)
        assert len(other) == len(whole)
        assert all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(other, whole))
    cut = frames(mono[: int(2.345 * SR)], 256)  # what came before a cut does not change
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(cut, whole[: len(cut)], strict=False))


def test_silence_is_zeros_and_said_so():
    frames = act.Features(SR).feed(np.zeros(SR // 10))
    assert len(frames) == 10 and all(silent and not v.any() for v, silent in frames)


@pytest.mark.parametrize("rate", [22050, 44100, 96000])
def test_other_rates_make_the_same_features(rate):
    features = act.Features(rate)
    t = np.arange(rate) / rate
    out = features.feed(0.3 * np.sin(2 * np.pi * 440 * t))
    assert len(out) == 100 and out[-1][0].shape == (2 * act.BANDS,)
    loudest = int(np.argmax(out[-1][0][: act.BANDS]))  # the band that holds 440 Hz
    edges = act.LOW_HZ * 2.0 ** (np.array([loudest, loudest + 1]) / act.PER_OCTAVE)
    assert edges[0] <= 440 < edges[1] * 1.06


def test_a_missing_or_damaged_model_is_one_sentence(tmp_path):
    with pytest.raises(HootError, match="no beat model at"):
        act.load(tmp_path / "nothing.npz")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not a zip at all")
    with pytest.raises(HootError, match="cannot read the beat model"):
        act.load(broken)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, input_mean=np.array([object()], dtype=object))
    with pytest.raises(HootError, match="cannot read the beat model"):
        act.load(pickled)
    partial = tmp_path / "partial.npz"
    np.savez(partial, input_mean=np.zeros(3))
    with pytest.raises(HootError, match="lacks"):
        act.load(partial)


def test_without_its_model_the_tracker_listens_to_onsets_and_says_so(tmp_path, monkeypatch, audio):
    monkeypatch.setattr(act, "EMBEDDED", tmp_path / "gone.npz")
    monkeypatch.setattr(act, "_CACHE", {})
    tracker = BeatTracker(SR, listen="learned")
    assert tracker.listen == "onsets"
    assert "no beat model at" in tracker.note and "onsets alone" in tracker.note
    beats = []
    for at in range(0, len(audio), 256):
        beats += tracker.feed(audio[at : at + 256])
    assert len(beats) >= 6  # it still follows the groove


def test_listen_is_checked():
    with pytest.raises(HootError, match="learned or onsets"):
        BeatTracker(SR, listen="ears")
    assert BeatTracker(SR).listen == "onsets" and BeatTracker(SR).note == ""
    assert BeatTracker(SR, listen="learned").listen == "learned"


def test_the_learned_tracker_follows_a_drum_loop(audio):
    reference = grid(120.0, 1.0, 20.0)
    loop = groove(reference, 20.0)
    tracker = BeatTracker(SR, listen="learned")
    assert tracker.listen == "learned"
    beats = []
    for at in range(0, len(loop), 256):
        beats += tracker.feed(loop[at : at + 256])
    late = [b for b in beats if b.time > 6.0]
    assert tracker.locked and tracker.bpm == pytest.approx(120.0, rel=0.03)
    assert np.mean([np.min(np.abs(reference - b.time)) <= 0.07 for b in late]) >= 0.95
    assert all(b.known >= b.time - 0.001 for b in beats)  # never from the future


def test_hoot_models_names_the_beat_network_and_a_broken_one(tmp_path, capsys):
    from hoot.cli import main
    from hoot.realtime.checkpoints import find, inspect

    shipped = inspect(act.EMBEDDED)
    assert shipped.kind == "beats" and shipped.params > 10_000
    assert "the beat tracker of perf.follow and hoot beats" in shipped.what
    (tmp_path / "beats-broken.npz").write_bytes(b"half a file")
    assert [p.name for p in find([tmp_path])] == ["beats-broken.npz"]
    broken = inspect(tmp_path / "beats-broken.npz")
    assert broken.kind == "unknown" and broken.what.startswith("cannot read the beat model")
    assert main(["models", str(tmp_path)]) == 0
    assert "beats-broken.npz  unknown: cannot read the beat model" in capsys.readouterr().out
