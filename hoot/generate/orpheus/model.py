"""Orpheus checkpoints: build the architecture through PyPI x-transformers and load weights.

Orpheus (asigalov61) is lucidrains' x-transformers 2.3.1 `TransformerWrapper` + `Decoder`
(rotary, flash attention) inside an `AutoregressiveWrapper`; its checkpoints are plain
state_dicts of that wrapper, and they load strict into PyPI x-transformers 2.31 with
bit-identical logits (research/models.md §3). So a checkpoint carries its own shape: dim from
the embedding, depth from the layer count, heads from `to_q`'s width / 64 (dim_head 64 in
both official sizes), tied logits when `net.to_logits.weight` is absent. A sidecar
`<checkpoint>.json` may say what shapes cannot (heads, max_seq_len, a name).

Loading goes through `torch.load(weights_only=True, mmap=True)` (no pickled code runs; the
1.9 GB medium file is paged, not read twice) into a model built on the meta device (no
random init of 480 M parameters), strict. Every way a file can be wrong is one sentence
(`CheckpointError`), because a performer picked the file and the music keeps playing.

Runs only in the model worker process (torch is never imported by the UI or the engine).
"""

from __future__ import annotations

import json
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from x_transformers import AutoregressiveWrapper, Decoder, TransformerWrapper

from hoot.errors import HootError

VOCAB = 18820
PAD = 18819
MAX_SEQ_LEN = 8192
DIM_HEAD = 64
SIZES = {
    "medium": dict(dim=2048, depth=8, heads=32),
    "large": dict(dim=2048, depth=16, heads=16),
}


class CheckpointError(HootError):
    """An Orpheus checkpoint is missing, unreadable, of another shape, or does not fit."""


def build(
    dim: int,
    depth: int,
    heads: int,
    max_seq_len: int = MAX_SEQ_LEN,
    tie_embedding: bool = False,
) -> AutoregressiveWrapper:
    """Orpheus's architecture at the given size, exactly as the official app builds it."""
    net = TransformerWrapper(
        num_tokens=VOCAB,
        max_seq_len=max_seq_len,
        tie_embedding=tie_embedding,
        attn_layers=Decoder(
            dim=dim, depth=depth, heads=heads, rotary_pos_emb=True, attn_flash=True
        ),
    )
    return AutoregressiveWrapper(net, ignore_index=PAD, pad_value=PAD)


def best_device() -> str:
    """Where a model runs fastest here: "cuda", then "mps", else "cpu"."""
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


@dataclass
class OrpheusModel:
    """A loaded Orpheus model: the x-transformers wrapper (eval, on its device) and what the
    picker shows about it (params, bytes in memory)."""

    path: Path
    name: str
    device: str
    dtype: torch.dtype
    config: dict
    wrapper: AutoregressiveWrapper = field(repr=False)
    params: int = 0
    bytes: int = 0

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """x-transformers' own forward: (batch, n) tokens -> (batch, n, VOCAB) float32."""
        with torch.inference_mode():
            out = self.wrapper.net(tokens.to(self.device))
        return out.float()


def read_config(path: str | Path) -> dict:
    """The checkpoint's configuration: dim, depth, heads, max_seq_len, tie_embedding (and
    whatever else its sidecar says), read from the state_dict's shapes and the sidecar."""
    path = Path(path)
    return _config(_read_state(path), path)


def load(path: str | Path, device: str = "auto", dtype: torch.dtype | None = None) -> OrpheusModel:
    """Load a checkpoint strict onto `device` ("auto": `best_device()`), in `dtype` (bf16 on
    cuda, float32 elsewhere, by default)."""
    path = Path(path)
    device = best_device() if device == "auto" else device
    if dtype is None:
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    state = _read_state(path)
    config = _config(state, path)
    _check_shapes(state, config, path)
    try:
        state = _place(state, device, dtype)
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and "memory" not in str(error).lower():
            raise
        need = sum(t.numel() for t in state.values()) * torch.finfo(dtype).bits // 8
        raise CheckpointError(
            f"{path.name} does not fit on {device}: it needs about {need / 2**30:.1f} GiB in "
            f"{_dtype_name(dtype)}; free memory, pick a smaller model, or load it on the cpu"
        ) from None
    with torch.device("meta"):
        wrapper = build(
            config["dim"],
            config["depth"],
            config["heads"],
            config["max_seq_len"],
            config["tie_embedding"],
        )
    wrapper.load_state_dict(state, strict=True, assign=True)
    wrapper.eval()
    buffers = [t for t in wrapper.state_dict().values() if torch.is_tensor(t)]
    return OrpheusModel(
        path=path,
        name=str(config.get("name", path.stem)),
        device=device,
        dtype=dtype,
        config=config,
        wrapper=wrapper,
        params=_params(wrapper),
        bytes=sum(t.numel() * t.element_size() for t in buffers),
    )


def _place(
    state: dict[str, torch.Tensor], device: str, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """Copy each tensor off the memory-mapped file onto the device in the dtype, one at a
    time (peak memory: the model plus one tensor). Always a copy: a model still mapped
    onto its file would change, or fault, when the file is saved again (the training script
    rewrites models/orpheus-hoot.pth while a worker holds it)."""
    return {
        key: t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype, copy=True)
        for key, t in state.items()
    }


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(
            f"no Orpheus checkpoint at {path}: check the path or put the .pth in models/"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as error:
        if "weights only" in str(error).lower() or "weights_only" in str(error):
            raise CheckpointError(
                f"{path.name} is not a plain state_dict (it pickles code, which hoot does not "
                f"run): save it again with torch.save(model.state_dict(), path)"
            ) from None
        raise _unreadable(path) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile):
        raise _unreadable(path) from None
    if (
        not isinstance(state, Mapping)
        or not state
        or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items())
    ):
        raise CheckpointError(
            f"{path.name} holds a {type(state).__name__}, not a state_dict of tensors: save it "
            f"with torch.save(model.state_dict(), path)"
        )
    if "net.token_emb.emb.weight" not in state:
        raise CheckpointError(
            f"{path.name} is not an Orpheus checkpoint: it has no net.token_emb.emb.weight "
            f"(its first keys: {', '.join(list(state)[:3])})"
        )
    return dict(state)


def _unreadable(path: Path) -> CheckpointError:
    return CheckpointError(
        f"{path.name} cannot be read as a torch checkpoint (truncated or corrupt, "
        f"{path.stat().st_size:,} bytes): download or save it again"
    )


_LAYER = re.compile(r"^net\.attn_layers\.layers\.(\d+)\.")


def _config(state: Mapping[str, torch.Tensor], path: Path) -> dict:
    vocab, dim = state["net.token_emb.emb.weight"].shape
    layers = {int(m.group(1)) for key in state if (m := _LAYER.match(key))}
    to_q = state.get("net.attn_layers.layers.0.1.to_q.weight")
    width = int(to_q.shape[0]) if to_q is not None else int(dim)
    config = {
        "dim": int(dim),
        "depth": max(1, len(layers) // 2),
        "heads": max(1, width // DIM_HEAD),
        "max_seq_len": MAX_SEQ_LEN,
        "tie_embedding": "net.to_logits.weight" not in state,
        "vocab": int(vocab),
    }
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        try:
            extra = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            raise CheckpointError(
                f"{sidecar.name} (beside the checkpoint) is not valid JSON"
            ) from None
        if not isinstance(extra, dict):
            raise CheckpointError(f"{sidecar.name} (beside the checkpoint) is not a JSON object")
        config.update({k: v for k, v in extra.items() if k not in ("dim", "depth", "vocab")})
        config["tie_embedding"] = "net.to_logits.weight" not in state
    return config


def _check_shapes(state: Mapping[str, torch.Tensor], config: dict, path: Path) -> None:
    """Compare with the architecture the shapes imply, so a mismatch is one sentence that
    says which size the file looks like and what differs (strict loading's own message
    lists every key)."""
    with torch.device("meta"):
        try:
            want = build(
                config["dim"],
                config["depth"],
                config["heads"],
                config["max_seq_len"],
                config["tie_embedding"],
            ).state_dict()
        except (AssertionError, ValueError, RuntimeError):
            want = None
    looks = _looks_like(config)
    if want is None:
        raise CheckpointError(f"{path.name} looks like {looks}, which x-transformers cannot build")
    missing = [k for k in want if k not in state]
    extra = [k for k in state if k not in want]
    shapes = [
        f"{k} is {tuple(state[k].shape)}, expected {tuple(want[k].shape)}"
        for k in want
        if k in state and state[k].shape != want[k].shape
    ]
    if not (missing or extra or shapes):
        return
    parts = []
    if shapes:
        parts.append(_few(shapes))
    if missing:
        parts.append(f"missing {_few(missing)}")
    if extra:
        parts.append(f"unexpected {_few(extra)}")
    raise CheckpointError(
        f"{path.name} looks like {looks} but does not match it: {'; '.join(parts)}"
    )


def _looks_like(config: dict) -> str:
    shape = dict(dim=config["dim"], depth=config["depth"], heads=config["heads"])
    named = next((name for name, size in SIZES.items() if size == shape), None)
    text = f"dim {shape['dim']}, depth {shape['depth']}, heads {shape['heads']}"
    return f"Orpheus {named} ({text})" if named else f"an Orpheus-format model ({text})"


def _few(items: list[str], n: int = 2) -> str:
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def _params(wrapper: torch.nn.Module) -> int:
    return sum(p.numel() for p in wrapper.parameters())


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
