"""hoot models: checkpoints read without torch and without running their pickled code.

The files are written here with torch itself, in exactly the formats hoot meets: the
Notochord trainer's dict (a PosixPath and numpy's RNG state inside, as real files have), a
TorchScript module with encode/decode (RAVE / nn~), an Orpheus-like state_dict; and a
checkpoint whose pickle would run a command."""

from __future__ import annotations

import pickle
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

from hoot.cli import main
from hoot.realtime.checkpoints import Tensor, find, inspect


def notochord_checkpoint(path: Path) -> None:
    model = torch.nn.ModuleDict({"pitch_emb": torch.nn.Embedding(130, 8),
                                 "rnn": torch.nn.GRU(8, 16)})  # fmt: skip
    torch.save(
        {
            "kw": {
                "model": {"emb_size": 8, "rnn_hidden": 16, "rnn_layers": 1},
                "log_dir": Path("/tmp/runs/noto"),
                "hoot": {"player_inst": 1, "voice_insts": [49, 50], "corpus": "music21 bach"},
            },
            "model_state": model.state_dict(),
            "optimizer_state": {},
            "step": (1000, 10, 1),
            "random_state": (random.getstate(), np.random.get_state(), torch.get_rng_state()),
        },
        path,
    )


class Rave(torch.nn.Module):
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z / 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class Shell:
    def __reduce__(self):
        return (subprocess.call, (["touch", str(Shell.mark)],))


def test_a_notochord_trainer_checkpoint_says_its_config_params_and_training(tmp_path):
    notochord_checkpoint(tmp_path / "noto.ckpt")
    found = inspect(tmp_path / "noto.ckpt")
    assert found.kind == "notochord"
    assert found.params == 130 * 8 + 3 * 16 * (8 + 16) + 2 * 3 * 16
    assert found.details["model"] == {"emb_size": 8, "rnn_hidden": 16, "rnn_layers": 1}
    assert found.details["hoot"]["voice_insts"] == [49, 50]
    assert found.line().startswith("noto.ckpt  notochord  ")
    assert "harmonize" in found.line() and "music21 bach" in found.line()


def test_torchscript_orpheus_and_other_files_are_named_for_what_they_do(tmp_path):
    torch.jit.save(torch.jit.script(Rave()), str(tmp_path / "rave.ts"))
    orpheus = {"net.token_emb.emb.weight": torch.zeros(18820, 4),
               "net.to_logits.weight": torch.zeros(18820, 4)}  # fmt: skip
    torch.save(orpheus, tmp_path / "orpheus.pth")
    torch.save({"w": torch.zeros(3, 5, dtype=torch.float16)}, tmp_path / "other.pt")
    (tmp_path / "old.pt").write_bytes(b"\x80\x02not a zip")
    rave = inspect(tmp_path / "rave.ts")
    assert rave.kind == "torchscript" and "RAVE" in rave.what
    assert inspect(tmp_path / "orpheus.pth").kind == "orpheus"
    assert inspect(tmp_path / "orpheus.pth").params == 2 * 18820 * 4
    other = inspect(tmp_path / "other.pt")
    assert other.kind == "state_dict" and other.params == 15
    assert inspect(tmp_path / "old.pt").kind == "unknown"


def test_a_pickle_that_would_run_a_command_is_refused_and_never_run(tmp_path):
    Shell.mark = tmp_path / "ran"
    with zipfile.ZipFile(tmp_path / "evil.pt", "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps({"model_state": Shell()}))
    found = inspect(tmp_path / "evil.pt")
    assert found.kind == "unknown" and "subprocess.call" in found.what
    assert not Shell.mark.exists()


def test_tensors_are_read_as_shapes_and_dtypes_only(tmp_path):
    torch.save({"a": torch.zeros(2, 3, dtype=torch.int64)}, tmp_path / "a.pt")
    with zipfile.ZipFile(tmp_path / "a.pt") as z:
        z.testzip()
    assert inspect(tmp_path / "a.pt").details == {} and Tensor((2, 3), "int64").numel == 6


def test_hoot_models_lists_models_and_a_given_path_without_importing_torch(tmp_path):
    notochord_checkpoint(tmp_path / "noto.ckpt")
    (tmp_path / "sub").mkdir()
    torch.jit.save(torch.jit.script(Rave()), str(tmp_path / "sub" / "rave.ts"))
    (tmp_path / "notes.txt").write_text("not a model")
    assert [p.name for p in find([tmp_path])] == ["noto.ckpt", "rave.ts"]
    code = (
        "import sys; from hoot.cli import main; rc = main(['models', sys.argv[1]]); "
        "print('torch imported' if 'torch' in sys.modules else 'no torch'); sys.exit(rc)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1] == "no torch"
    assert any(line.startswith("noto.ckpt  notochord") for line in lines)
    assert any(line.startswith("rave.ts  torchscript") for line in lines)


def test_hoot_models_says_so_when_there_are_none(tmp_path, capsys):
    assert main(["models", str(tmp_path)]) == 0
    assert f"no checkpoints in {tmp_path}" in capsys.readouterr().out


def test_a_rave_model_is_described_from_its_record_and_sizes_without_unpickling(tmp_path):
    from hoot.realtime import nn_tilde

    record = {"name": "rave-hoot", "instrument": "trombone", "sr": 48000, "ratio": 128,
              "latent": 8, "dims": {"0": "energy"}, "made_by": "models/train_rave.py"}  # fmt: skip
    nn_tilde.build("conv", tmp_path / "ours.ts", latent=8, meta=record)
    nn_tilde.build("conv", tmp_path / "theirs.ts", latent=8)
    ours, theirs = inspect(tmp_path / "ours.ts"), inspect(tmp_path / "theirs.ts")
    assert ours.kind == theirs.kind == "torchscript"
    assert ours.details["hoot"] == record
    assert ours.what.startswith("hoot's RAVE model rave-hoot of trombone (48000 Hz, 128 "
                                "samples a frame, 8 latent dims): perf.transfer")  # fmt: skip
    assert theirs.what.startswith("a RAVE / nn~ TorchScript model (encode, decode)")
    assert theirs.details["methods"] == ["encode", "decode", "forward"]
    assert theirs.details["tensor_bytes"] > 4 * 1000  # the conv's weights, as stored
