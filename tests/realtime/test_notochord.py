"""hoot's Notochord: official checkpoints drop in, queries keep their constraints, and a
checkpoint file can never run code.

The fixtures are tiny Notochords (emb 32, GRU 64, one layer) written in exactly the
official trainer's format, a PosixPath and numpy's RNG state inside as real files have.
OFFICIAL_KEYS is the state_dict of notochord 0.8's `Notochord(emb_size=32, rnn_hidden=64,
rnn_layers=1)` as its source builds it (model.py, rnn.py, distributions.py): GLUMLP blocks
are [Dropout, Linear, GLU, LayerNorm] when dropout > 0, so their Linear is `.1` and their
LayerNorm `.3`; the GRU sits under GenericRNN's `.rnn`; cell_state_0 is a buffer.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path, PosixPath

import numpy as np
import pytest
import torch

from hoot.errors import HootError
from hoot.realtime.notochord import (
    EMBEDDED,
    Notochord,
    load_notochord,
    save_trainer_checkpoint,
)

TINY = dict(emb_size=32, rnn_hidden=64, rnn_layers=1)


def _mlp(prefix: str) -> list[str]:
    keys = []
    for block in ("0", "1"):
        for layer in ("1", "3"):  # Linear, LayerNorm (0 is Dropout, 2 is GLU)
            keys += [f"{prefix}.net.{block}.{layer}.weight", f"{prefix}.net.{block}.{layer}.bias"]
    return keys + [f"{prefix}.net.2.weight", f"{prefix}.net.2.bias"]


OFFICIAL_KEYS = (
    ["cell_state_0", "time_dist.bias", "time_dist.lo", "time_dist.hi",
     "vel_dist.bias", "vel_dist.lo", "vel_dist.hi",
     "instrument_emb.weight", "pitch_emb.weight",
     "time_emb.fs", "time_emb.proj.weight", "time_emb.proj.bias",
     "vel_emb.fs", "vel_emb.proj.weight", "vel_emb.proj.bias",
     "rnn.rnn.weight_ih_l0", "rnn.rnn.weight_hh_l0", "rnn.rnn.bias_ih_l0", "rnn.rnn.bias_hh_l0",
     "initial_state.0"]
    + _mlp("h_proj") + [k for m in range(4) for k in _mlp(f"projections.{m}")]
    + ["end_proj.weight", "end_proj.bias"]
)


def tiny(seed: int = 0) -> Notochord:
    torch.manual_seed(seed)
    model = Notochord(**TINY)
    model.eval()
    model.reset()
    return model


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A trainer-format file, as the official Trainer.save writes it (minus the optimizer)."""
    path = tmp_path / "tiny.ckpt"
    np.random.seed(3)
    save_trainer_checkpoint(
        tiny(), path,
        kw_extra={"experiment": "tiny", "model_dir": PosixPath(tmp_path), "batch_size": 4,
                  "hoot": {"player_inst": 1, "voice_insts": [41, 42], "corpus": "none"}})
    return path


def test_the_state_dict_keys_are_the_official_ones():
    model = tiny()
    assert list(model.state_dict()) == OFFICIAL_KEYS
    assert model.state_dict()["time_emb.fs"].shape == (128,)
    assert model.state_dict()["projections.1.net.2.weight"].shape == (129, 32)
    assert model.state_dict()["projections.2.net.2.weight"].shape == (3 * 32, 32)
    assert model.state_dict()["instrument_emb.weight"].shape == (321, 32)


def test_a_trainer_checkpoint_holds_what_the_official_one_holds(checkpoint: Path):
    raw = torch.load(checkpoint, weights_only=False)
    assert set(raw) == {"kw", "model_state", "step", "random_state"}
    assert raw["kw"]["model"]["emb_size"] == 32
    assert raw["kw"]["model"]["num_instruments"] == 320
    assert isinstance(raw["kw"]["model_dir"], PosixPath)
    python_state, numpy_state, torch_state = raw["random_state"]
    assert isinstance(numpy_state[1], np.ndarray) and numpy_state[1].dtype == np.uint32
    assert isinstance(torch_state, torch.Tensor)


def test_a_checkpoint_round_trips_to_the_same_model(checkpoint: Path):
    before = tiny()
    after = load_notochord(checkpoint)
    assert list(after.state_dict()) == OFFICIAL_KEYS
    for k, t in before.state_dict().items():
        assert torch.equal(t, after.state_dict()[k]), k
    assert after.hoot_meta == {"player_inst": 1, "voice_insts": [41, 42], "corpus": "none"}
    assert not after.training
    events = [(1, 60, 0.0, 80.0), (41, 52, 0.0, 70.0), (1, 60, 0.5, 0.0), (1, 62, 0.0, 90.0)]
    answers = []
    for model in (before, after):
        model.reset()
        for e in events:
            model.feed(*e)
        torch.manual_seed(7)
        answers.append([model.query() for _ in range(5)])
    assert answers[0] == answers[1]


@pytest.mark.parametrize("spelling", [
    (b"numpy._core.multiarray\n_reconstruct", b"numpy.core.multiarray\n_reconstruct"),
    (b"pathlib\nPosixPath", b"pathlib._local\nPosixPath"),
])
def test_files_from_numpy_1_and_python_3_13_load(checkpoint: Path, tmp_path: Path,
                                                 spelling: tuple[bytes, bytes]):
    """numpy 1 pickles its arrays' rebuilder as numpy.core..., Python 3.13 its paths as
    pathlib._local...: the same safe objects under other names."""
    old, new = spelling
    rewritten = tmp_path / "other.ckpt"
    with zipfile.ZipFile(checkpoint) as src, zipfile.ZipFile(rewritten, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("data.pkl"):
                assert old in data
                data = data.replace(old, new)
            dst.writestr(item, data)
    assert load_notochord(rewritten).hoot_meta["player_inst"] == 1


def test_a_checkpoint_without_hoot_meta_gives_an_empty_one(tmp_path: Path):
    path = tmp_path / "plain.pt"
    save_trainer_checkpoint(tiny(), path)
    assert load_notochord(path).hoot_meta == {}


def test_buffers_the_constructor_fixes_may_be_absent(tmp_path: Path):
    """The official loader is lenient (strict=False); older files lack some buffers."""
    model = tiny()
    path = tmp_path / "old.pt"
    save_trainer_checkpoint(model, path)
    raw = torch.load(path, weights_only=False)
    for k in ("cell_state_0", "time_emb.fs", "vel_dist.lo", "vel_dist.hi"):
        del raw["model_state"][k]
    torch.save(raw, path)
    loaded = load_notochord(path)
    assert torch.equal(loaded.time_emb.fs, model.time_emb.fs)
    assert torch.equal(loaded.initial_state[0], model.initial_state[0])


def test_the_loss_is_the_trainers_and_it_learns():
    torch.manual_seed(0)
    model = Notochord(**TINY)
    model.train()
    batch, length = 4, 12
    data = (torch.randint(1, 321, (batch, length)), torch.randint(0, 128, (batch, length)),
            torch.rand(batch, length), torch.rand(batch, length) * 127,
            torch.zeros(batch, length, dtype=torch.long))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    losses = []
    for _ in range(20):
        result = model(*data, ar_mask=torch.zeros(4, 4, dtype=torch.bool))
        assert set(result) == {"instrument_log_probs", "pitch_log_probs", "time_log_probs",
                               "velocity_log_probs", "end_log_probs"}
        assert all(v.shape == (batch, length - 1) for v in result.values())
        loss = -sum(v.mean() for v in result.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


# --- queries -----------------------------------------------------------------------------

def test_a_harmony_query_keeps_every_fixed_and_included_part():
    model = tiny()
    model.feed(1, 60, 0.0, 80.0)
    key = [48, 50, 52, 53, 55, 57, 59]
    for _ in range(200):
        e = model.query(next_inst=41, next_time=0.0, next_vel=70, include_pitch=key)
        assert e == {"inst": 41, "pitch": e["pitch"], "time": 0.0, "vel": 70.0}
        assert e["pitch"] in key
        assert isinstance(e["pitch"], int) and isinstance(e["time"], float)


def test_free_parts_keep_their_ranges():
    model = tiny()
    model.feed(1, 60, 0.2, 80.0)
    for _ in range(200):
        e = model.query(min_time=0.1, max_time=0.25, min_vel=1, max_vel=64,
                        include_inst=[41, 42, 43], exclude_pitch=range(0, 100))
        assert 0.1 <= e["time"] <= 0.25
        assert 1 <= e["vel"] <= 64
        assert e["inst"] in (41, 42, 43)
        assert 100 <= e["pitch"] <= 127  # never 128, the start token


def test_unconstrained_queries_never_answer_start_tokens():
    model = tiny()
    for _ in range(100):
        e = model.query()
        assert 1 <= e["inst"] <= 320 and 0 <= e["pitch"] <= 127
        assert 0.0 <= e["time"] <= 10.0 and 0.0 <= e["vel"] <= 127.0
        model.feed(**e)


def test_zero_temperature_is_the_likeliest_answer():
    model = tiny()
    model.feed(1, 60, 0.0, 80.0)
    answers = {model.query(next_inst=41, next_time=0.0, next_vel=70, pitch_temp=0.0)["pitch"]
               for _ in range(20)}
    assert len(answers) == 1


def test_a_fixed_pitch_conditions_what_is_sampled():
    model = tiny()
    model.feed(1, 60, 0.0, 80.0)
    e = model.query(next_pitch=64, next_inst=42)
    assert (e["inst"], e["pitch"]) == (42, 64)


def test_excluding_everything_says_so():
    model = tiny()
    with pytest.raises(HootError, match="every pitch"):
        model.query(include_pitch=[60], exclude_pitch=[60])
    with pytest.raises(HootError, match="every inst"):
        model.query(include_inst=[500])


def test_state_can_be_kept_and_restored():
    model = tiny()
    model.feed(1, 60, 0.0, 80.0)
    kept = model.get_state()
    model.feed(1, 67, 0.5, 80.0)
    assert not torch.equal(model.get_state()["cell_state_0"], kept["cell_state_0"])
    model.reset(kept)
    assert torch.equal(model.get_state()["cell_state_0"], kept["cell_state_0"])
    model.reset()
    fresh = tiny()
    assert torch.equal(model.get_state()["cell_state_0"], fresh.get_state()["cell_state_0"])


# --- files that are not checkpoints ------------------------------------------------------

def test_a_missing_file_says_what_to_do(tmp_path: Path):
    with pytest.raises(HootError, match="no Notochord checkpoint at .*train_notochord"):
        load_notochord(tmp_path / "absent.ckpt")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_corrupt_file_is_one_sentence(checkpoint: Path, damage: str):
    data = checkpoint.read_bytes()
    if damage == "garbage":
        checkpoint.write_bytes(random.Random(0).randbytes(4096))
    elif damage == "truncated":
        checkpoint.write_bytes(data[: len(data) // 2])
    else:
        checkpoint.write_bytes(b"")
    with pytest.raises(HootError) as caught:
        load_notochord(checkpoint)
    assert "\n" not in str(caught.value)


def test_a_torch_file_of_another_kind_is_refused(tmp_path: Path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.zeros(3)}}, path)
    with pytest.raises(HootError, match="not a Notochord trainer checkpoint"):
        load_notochord(path)
    torch.save(torch.zeros(3), path)
    with pytest.raises(HootError, match="not a Notochord trainer checkpoint"):
        load_notochord(path)


def test_weights_of_another_shape_or_missing_are_refused_and_unknown_ones_left_out(tmp_path: Path):
    path = tmp_path / "lies.pt"
    save_trainer_checkpoint(tiny(), path)
    raw = torch.load(path, weights_only=False)
    raw["kw"]["model"]["rnn_hidden"] = 96
    torch.save(raw, path)
    with pytest.raises(HootError, match="wrong shape"):
        load_notochord(path)
    raw["kw"]["model"]["rnn_hidden"] = 64
    raw["model_state"]["surprise.weight"] = torch.zeros(1)
    torch.save(raw, path)
    assert load_notochord(path).ignored == ("surprise.weight",), "left out, as officially"
    del raw["model_state"]["rnn.rnn.weight_hh_l0"]
    torch.save(raw, path)
    with pytest.raises(HootError, match="1 weight missing .*rnn.rnn.weight_hh_l0; and 1 unknown"):
        load_notochord(path)


class Payload:
    """What an attacker pickles: unpickling it calls os.system."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_runs_code_is_refused_and_never_runs(tmp_path: Path):
    marker = tmp_path / "ran"
    payload = Payload(marker)
    as_torch = tmp_path / "evil.ckpt"
    torch.save({"kw": {"model": {}}, "model_state": {}, "x": payload}, as_torch)
    as_pickle = tmp_path / "evil.pkl"
    as_pickle.write_bytes(pickle.dumps({"kw": payload}))
    for path in (as_torch, as_pickle):
        with pytest.raises(HootError, match="does not run them"):
            load_notochord(path)
    assert not marker.exists()


def test_a_torch_zip_with_a_hand_made_pickle_is_refused(tmp_path: Path):
    """The same attack spliced into a genuine checkpoint's data.pkl."""
    good = tmp_path / "good.ckpt"
    save_trainer_checkpoint(tiny(), good)
    marker = tmp_path / "ran"
    evil = tmp_path / "spliced.ckpt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("data.pkl"):
                data = pickle.dumps(Payload(marker), protocol=2)
            dst.writestr(item, data)
    with pytest.raises(HootError):
        load_notochord(evil)
    assert not marker.exists()


def test_the_embedded_checkpoint_knows_its_voices():
    model = load_notochord(EMBEDDED)
    meta = model.hoot_meta
    assert meta["player_inst"] == 1
    assert len(meta["voice_insts"]) >= 2 and meta["player_inst"] not in meta["voice_insts"]
    assert "chorales" in meta["corpus"]
    model.feed(meta["player_inst"], 67, 0.0, 80.0)
    below = list(range(48, 67))
    e = model.query(next_inst=meta["voice_insts"][0], next_time=0.0, next_vel=70,
                    include_pitch=below)
    assert e["pitch"] in below

