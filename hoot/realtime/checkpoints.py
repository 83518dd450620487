"""What a checkpoint is for, read without torch and without running its pickled code.

`hoot models` and `hoot doctor` list models/ on machines where torch is absent or where
importing it (~1.5 s, 900 MB installed) would be out of place, so this module reads
torch's own file format by hand:

- `torch.save` (since torch 1.6) writes a zip: `<archive>/data.pkl` is a pickle of the
  saved object in which every tensor's storage is a *persistent id*
  `("storage", <torch.XStorage>, key, location, numel)` whose bytes lie in
  `<archive>/data/<key>`, and tensors are rebuilt by `torch._utils._rebuild_tensor_v2`
  (storage, offset, size, stride, ...). We unpickle data.pkl with an unpickler that
  resolves only the globals such files need (an allowlist: tensor rebuilders, storage
  types, OrderedDict, numpy's array and dtype reconstructors, pathlib paths) to inert
  stand-ins that record shapes and dtypes; any other global (os.system, a model class)
  refuses the file in one sentence. No tensor bytes are read.
- A TorchScript archive (`torch.jit.save`: RAVE and nn~ models, `.ts`) is a zip with
  `<archive>/code/` (the module's TorchScript source) and `constants.pkl`; its data.pkl
  names `__torch__` classes, so it is recognised by its layout and never unpickled. It is
  described by the methods its source defines, its tensors' sizes, and for hoot's own
  models (models/rave-hoot.ts) the JSON record `<archive>/extra/hoot.json` saved with it.

What each kind is for: a Notochord trainer checkpoint (`{'kw': {'model': ctor kwargs, ...},
'model_state': state_dict, ...}`: the real-time layer's harmonize and improvise, issue 12);
a RAVE / nn~ TorchScript model (audio in and out, encode/decode: issue 13); an Orpheus
music-transformer state_dict (`net.token_emb.emb.weight`, ...: MIDI continuation, issue 14);
hoot's beat network (`.npz` of plain arrays, read by hoot.beats.activation with
allow_pickle=False: the beat tracker that `perf.follow` and `hoot beats` run, issue 11).
"""

from __future__ import annotations

import collections
import io
import json
import pickle
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from hoot.music.sounds import MODELS_DIR

__all__ = ["MODELS_DIR", "SUFFIXES", "Checkpoint", "Tensor", "find", "inspect"]

SUFFIXES = (".pt", ".pth", ".ckpt", ".ts", ".bin", ".npz")
"""The files `hoot models` looks at in a folder."""

STORAGE_DTYPES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}


@dataclass(frozen=True)
class Tensor:
    """A tensor as the checkpoint describes it: its shape and dtype, not its numbers."""

    shape: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        n = 1
        for size in self.shape:
            n *= size
        return n


@dataclass(frozen=True)
class _Storage:
    dtype: str
    numel: int


class _Inert:
    """What a numpy array, dtype or scalar becomes: its name and arguments, never its code."""

    def __init__(self, name: str, *args: object) -> None:
        self.name, self.args, self.state = name, args, None

    def __setstate__(self, state: object) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<{self.name}>"


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, *rest: object) -> Tensor:
    return Tensor(tuple(int(s) for s in size), storage.dtype)


def _parameter(data: Tensor, *rest: object) -> Tensor:
    return data


def _inert(name: str):
    return lambda *args: _Inert(name, *args)


def _path(kind):
    return lambda *parts: str(kind(*parts))


_NUMPY = {
    "_reconstruct": _inert("numpy.ndarray"),
    "scalar": _inert("numpy scalar"),
}
ALLOWED: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("_codecs", "encode"): lambda text, encoding="utf-8": str(text).encode(encoding),
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _parameter,
    ("torch", "Size"): tuple,
    ("torch", "device"): str,
    ("numpy", "ndarray"): "numpy.ndarray",
    ("numpy", "dtype"): _inert("numpy.dtype"),
    **{(f"numpy.{core}.multiarray", name): f for core in ("core", "_core")
       for name, f in _NUMPY.items()},  # numpy 2 moved numpy.core to numpy._core
    **{("pathlib", name): _path(PurePosixPath) for name in ("PosixPath", "PurePosixPath")},
    **{("pathlib", name): _path(PureWindowsPath) for name in ("WindowsPath", "PureWindowsPath")},
}  # fmt: skip
"""Every global a checkpoint may name, and the inert stand-in it becomes."""


class _Reader(pickle.Unpickler):
    """Unpickles a torch zip's data.pkl into dicts, lists, numbers and `Tensor`s."""

    def find_class(self, module: str, name: str) -> object:
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        if module == "torch" and name in _TORCH_DTYPES:
            return name
        found = ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name}")
        return found

    def persistent_load(self, pid: object) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"persistent id {pid!r:.60}")
        dtype = pid[1] if isinstance(pid[1], str) else "unknown"
        return _Storage(dtype, int(pid[4]))


_TORCH_DTYPES = {"float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
                 "uint8", "bool", "complex64", "complex128"}  # fmt: skip


@dataclass(frozen=True)
class Checkpoint:
    """One file, as `hoot models` lists it: its kind, what it is for, its size in
    parameters and the details a performer or a loader wants (a model's constructor
    arguments, hoot's training record)."""

    path: Path
    kind: str  # "notochord", "torchscript", "orpheus", "state_dict", "beats", "unknown"
    what: str
    params: int | None = None
    details: dict = field(default_factory=dict)

    def line(self) -> str:
        size = f"  {_count(self.params)} params" if self.params else ""
        return f"{self.path.name}  {self.kind}{size}: {self.what}"


def inspect(path: str | Path) -> Checkpoint:
    """What the checkpoint at `path` is, read safely (see the module docstring)."""
    path = Path(path)
    if path.suffix == ".npz":
        return _beats(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        why = "cannot be read" if isinstance(e, OSError) else "is no torch zip archive"
        return Checkpoint(path, "unknown", f"{why} (torch.save before 1.6, or another file)")
    with archive:
        names = archive.namelist()
        top = {n.split("/", 1)[0] for n in names if "/" in n}
        root = next(iter(top)) if len(top) == 1 else ""
        if any(n.startswith(f"{root}/code/") for n in names):
            return _torchscript(path, archive, root)
        if f"{root}/data.pkl" not in names:
            return Checkpoint(path, "unknown", "a zip without data.pkl: not a torch checkpoint")
        try:
            saved = _Reader(io.BytesIO(archive.read(f"{root}/data.pkl"))).load()
        except pickle.UnpicklingError as e:
            return Checkpoint(
                path, "unknown", f"refused: its pickle asks for {e}, which no checkpoint needs"
            )
        except Exception as e:  # noqa: BLE001 - a corrupt pickle is one sentence, not a crash
            return Checkpoint(path, "unknown", f"a corrupt pickle ({type(e).__name__})")
    return _classify(path, saved)


def _classify(path: Path, saved: object) -> Checkpoint:
    if isinstance(saved, dict) and isinstance(saved.get("kw"), dict) and "model_state" in saved:
        config = saved["kw"].get("model")
        state = saved["model_state"]
        if isinstance(config, dict) and isinstance(state, dict):
            hoot = saved["kw"].get("hoot")
            details = {"model": _plain(config), **({"hoot": _plain(hoot)} if hoot else {})}
            what = "Notochord (trainer checkpoint): perf.harmonize and perf.improvise"
            if isinstance(hoot, dict) and hoot.get("corpus"):
                what += f"; trained here on {hoot['corpus']}"
            return Checkpoint(path, "notochord", what, _params(state), details)
    if isinstance(saved, dict) and saved and all(isinstance(v, Tensor) for v in saved.values()):
        if "net.token_emb.emb.weight" in saved:
            vocab, dim = saved["net.token_emb.emb.weight"].shape[:2]
            depth = len({k.split(".")[3] for k in saved if k.startswith("net.attn_layers.layers.")})
            side = _sidecar(path)
            what = (f"Orpheus music transformer (state_dict, {vocab} tokens, dim {dim}, "
                    f"{depth // 2} layers): perf.generate(role, using=" +
                    ("'orpheus-small')" if path.name == "orpheus-hoot.pth" else "'orpheus')") +
                    " and perf.continue_")  # fmt: skip
            if side.get("made"):
                what += f"; {side['made']}"
            return Checkpoint(path, "orpheus", what, _params(saved),
                              {"vocab": vocab, "dim": dim, **side})  # fmt: skip
        return Checkpoint(
            path, "state_dict", f"a state_dict of {len(saved)} tensors of an unknown model",
            _params(saved),
        )  # fmt: skip
    return Checkpoint(path, "unknown", f"a saved {type(saved).__name__} hoot does not know")


def _beats(path: Path) -> Checkpoint:
    """A beat network (hoot.beats.activation's format): its shape and training record."""
    from hoot.beats.activation import load
    from hoot.errors import HootError

    try:
        weights, meta = load(path)
    except HootError as e:
        return Checkpoint(path, "unknown", str(e))
    params = sum(int(w.size) for k, w in weights.items() if not k.startswith("input_"))
    what = (f"hoot's beat network (GRU {meta.get('layers', '?')} x {meta.get('hidden', '?')}): "
            "the beat tracker of perf.follow and hoot beats")  # fmt: skip
    if meta.get("made_by"):
        what += f"; made by {meta['made_by']}"
    if meta.get("tune_loss") is not None:
        what += f" (tune loss {meta['tune_loss']})"
    return Checkpoint(path, "beats", what, params, {k: _plain(v) for k, v in meta.items()})


def _sidecar(path: Path) -> dict:
    """The JSON record beside a checkpoint (`<name>.json`: hoot's own models say there how
    they were made), or nothing."""
    try:
        found = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _torchscript(path: Path, archive: zipfile.ZipFile, root: str) -> Checkpoint:
    """A TorchScript file described from its source text, its tensors' byte counts and, for
    hoot's own models, the JSON record saved beside them (`extra/hoot.json`, written by
    torch.jit.save's _extra_files): never unpickled."""
    names = archive.namelist()
    code = " ".join(
        archive.read(n).decode("utf-8", "replace")
        for n in names
        if n.startswith(f"{root}/code/") and n.endswith(".py")
    )
    tensors = [n for n in names if n.startswith(f"{root}/data/")]
    size = sum(archive.getinfo(n).file_size for n in tensors)
    details: dict = {"storages": len(tensors), "tensor_bytes": size}
    methods = [m for m in ("encode", "decode", "forward", "prior") if f"def {m}(" in code]
    if "encode" not in methods or "decode" not in methods:
        return Checkpoint(path, "torchscript", "a TorchScript module hoot does not know",
                          None, details)  # fmt: skip
    details["methods"] = methods
    hoot = _hoot_record(archive, f"{root}/extra/hoot.json")
    what = "a RAVE / nn~ TorchScript model (encode, decode)"
    if hoot:
        details["hoot"] = hoot
        what = f"hoot's RAVE model {hoot.get('name', path.stem)}"
        if hoot.get("instrument"):
            what += f" of {hoot['instrument']}"
        units = {"sr": "Hz", "ratio": "samples a frame", "latent": "latent dims"}
        facts = [f"{hoot[k]} {unit}" for k, unit in units.items() if k in hoot]
        if facts:
            what += f" ({', '.join(facts)})"
    what += ": perf.transfer, drone and echo"
    if size:
        what += f"; {size / 1e6:.1f} MB of tensors"
    return Checkpoint(path, "torchscript", what, None, details)


def _hoot_record(archive: zipfile.ZipFile, name: str) -> dict:
    """The JSON record hoot saves inside its own models, or {} (absent, or not JSON)."""
    try:
        record = json.loads(archive.read(name).decode("utf-8"))
    except (KeyError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _params(state: dict) -> int:
    return sum(t.numel for t in state.values() if isinstance(t, Tensor))


def _plain(value: object) -> object:
    """Config values as plain data: inert numpy objects and paths become their names."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def _count(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1_000_000 else f"{n / 1e3:.1f} k" if n >= 1000 else str(n)


def find(places: Iterable[str | Path]) -> list[Path]:
    """The checkpoint files in `places`: a file as given, a folder's files with a
    checkpoint suffix (SUFFIXES), recursively, sorted."""
    found: list[Path] = []
    for place in map(Path, places):
        if place.is_dir():
            found += sorted(p for p in place.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        elif place.exists():
            found.append(place)
    return found
