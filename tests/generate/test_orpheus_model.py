"""Orpheus checkpoints: small models of the official class, saved as plain state_dicts,
load strict with their shape read from the file; every bad file is one sentence."""

from __future__ import annotations

import json

import pytest
import torch

from hoot.errors import HootError
from hoot.generate.orpheus import model as om

SMALL = dict(dim=64, depth=2, heads=4)


def _save(tmp_path, name="small.pth", tie=False, max_seq_len=8192, sidecar=None, **size):
    torch.manual_seed(0)
    wrapper = om.build(**{**SMALL, **size}, max_seq_len=max_seq_len, tie_embedding=tie)
    path = tmp_path / name
    torch.save(wrapper.state_dict(), path)
    if sidecar is not None:
        path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path, wrapper


def test_a_small_checkpoint_loads_strict_and_gives_the_same_logits(tmp_path):
    path, wrapper = _save(tmp_path)
    model = om.load(path, device="cpu")
    assert model.config == {**SMALL, "max_seq_len": 8192, "tie_embedding": False, "vocab": 18820}
    assert model.device == "cpu" and model.dtype == torch.float32
    assert model.name == "small"
    assert model.params == sum(p.numel() for p in wrapper.parameters())
    assert model.bytes == sum(t.numel() * 4 for t in wrapper.state_dict().values())
    tokens = torch.tensor([[18816, 0, 300, 17000, 12, 301, 17001]])
    with torch.inference_mode():
        want = wrapper.eval().net(tokens)
    assert torch.equal(model.logits(tokens), want)
    assert not model.wrapper.training


def test_a_tied_embedding_checkpoint_reads_as_tied_and_the_sidecar_fills_in(tmp_path):
    sidecar = {"heads": 4, "max_seq_len": 1024, "name": "orpheus-hoot", "steps": 10}
    path, wrapper = _save(tmp_path, tie=True, max_seq_len=1024, sidecar=sidecar)
    assert "net.to_logits.weight" not in wrapper.state_dict()
    config = om.read_config(path)
    assert config["tie_embedding"] and config["max_seq_len"] == 1024 and config["steps"] == 10
    model = om.load(path, device="cpu")
    assert model.name == "orpheus-hoot"
    tokens = torch.tensor([[18816, 3, 400, 17100]])
    with torch.inference_mode():
        assert torch.equal(model.logits(tokens), wrapper.eval().net(tokens))


def test_heads_come_from_to_q_width_and_depth_from_the_layers(tmp_path):
    path, _ = _save(tmp_path, dim=128, depth=3, heads=2)
    assert om.read_config(path) == {
        "dim": 128,
        "depth": 3,
        "heads": 2,
        "max_seq_len": 8192,
        "tie_embedding": False,
        "vocab": 18820,
    }


def test_fp16_file_is_cast_to_the_asked_dtype(tmp_path):
    wrapper = om.build(**SMALL, tie_embedding=True)
    path = tmp_path / "half.pth"
    torch.save({k: v.half() for k, v in wrapper.state_dict().items()}, path)
    model = om.load(path, device="cpu")
    assert {p.dtype for p in model.wrapper.parameters()} == {torch.float32}
    model = om.load(path, device="cpu", dtype=torch.bfloat16)
    assert model.dtype == torch.bfloat16
    assert model.bytes == sum(t.numel() * 2 for t in wrapper.state_dict().values())


def test_best_device_is_one_of_three():
    assert om.best_device() in ("cuda", "mps", "cpu")


def _error(path) -> str:
    with pytest.raises(om.CheckpointError) as caught:
        om.load(path, device="cpu")
    assert isinstance(caught.value, HootError)
    text = str(caught.value)
    assert "\n" not in text
    return text


def test_a_missing_file_says_so(tmp_path):
    assert "no Orpheus checkpoint at" in _error(tmp_path / "nothing.pth")


def test_a_truncated_file_says_so(tmp_path):
    path, _ = _save(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in _error(path)


def test_garbage_says_so(tmp_path):
    path = tmp_path / "noise.pth"
    path.write_bytes(b"\x00not a checkpoint" * 100)
    assert "truncated or corrupt" in _error(path)


def test_a_pickled_module_is_not_a_state_dict(tmp_path):
    path = tmp_path / "module.pth"
    torch.save({"model": torch.nn.Linear(4, 4)}, path)
    assert "not a plain state_dict" in _error(path)


def test_a_list_of_tensors_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(3)], path)
    assert "holds a list, not a state_dict" in _error(path)


def test_another_models_state_dict_is_not_orpheus(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(torch.nn.Linear(4, 4).state_dict(), path)
    assert "not an Orpheus checkpoint" in _error(path)


def test_a_missing_layer_key_is_named(tmp_path):
    path, wrapper = _save(tmp_path)
    state = wrapper.state_dict()
    del state["net.attn_layers.layers.1.1.ff.2.bias"]
    torch.save(state, path)
    text = _error(path)
    assert "looks like an Orpheus-format model (dim 64, depth 2, heads 4)" in text
    assert "missing net.attn_layers.layers.1.1.ff.2.bias" in text


def test_a_wrong_shape_is_named_with_what_was_expected(tmp_path):
    path, wrapper = _save(tmp_path)
    state = wrapper.state_dict()
    state["net.attn_layers.layers.1.1.ff.0.0.weight"] = torch.zeros(128, 64)
    torch.save(state, path)
    text = _error(path)
    assert "net.attn_layers.layers.1.1.ff.0.0.weight is (128, 64), expected (256, 64)" in text


def test_a_sidecar_that_contradicts_the_shapes_is_caught(tmp_path):
    path, _ = _save(tmp_path, sidecar={"heads": 8})
    text = _error(path)
    assert "heads 8" in text and "to_q.weight is (256, 64), expected (512, 64)" in text


def test_a_broken_sidecar_says_so(tmp_path):
    path, _ = _save(tmp_path)
    path.with_suffix(".json").write_text("{nope")
    assert "not valid JSON" in _error(path)


def test_the_official_sizes_are_named(tmp_path):
    state = {
        "net.token_emb.emb.weight": torch.zeros(18820, 2048),
        "net.attn_layers.layers.0.1.to_q.weight": torch.zeros(2048, 2048),
    }
    state.update({f"net.attn_layers.layers.{i}.0.0.gamma": torch.zeros(2048) for i in range(16)})
    path = tmp_path / "fake-medium.pth"
    torch.save(state, path)
    assert "looks like Orpheus medium (dim 2048, depth 8, heads 32)" in _error(path)


def test_out_of_memory_on_the_device_is_one_sentence(tmp_path, monkeypatch):
    path, _ = _save(tmp_path)

    def no_room(state, device, dtype):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(om, "_place", no_room)
    text = _error(path)
    assert text.startswith("small.pth does not fit on cpu: it needs about")
    assert "float32" in text


def test_a_loaded_model_is_its_own_copy_when_the_file_is_saved_again(tmp_path):
    path, wrapper = _save(tmp_path)
    model = om.load(path, device="cpu")
    tokens = torch.tensor([[18816, 0, 300, 17000]])
    before = model.logits(tokens)
    torch.save(om.build(**SMALL).state_dict(), path)  # the trainer writes a new one
    assert torch.equal(model.logits(tokens), before)
