"""RAVE in the voice process: a live input streamed through a model, and latents rendered.

A RAVE model (Caillon & Esling 2021; or BRAVE, or hoot's own models/rave-hoot.ts) comes as
a TorchScript file exported for nn~: `encode` turns [1, channels, T] audio into
[1, latent, T/ratio] frames, `decode` turns them back, and streaming exports keep their
convolutions' context in buffers, so calling them block by block equals one call on the
whole signal (hoot.realtime.nn_tilde writes such files for tests). This module reads that
interface, never RAVE's code (CC BY-NC), and adds what a live instrument needs:

- `Stream`: the engine's blocks (any size, at the session's rate) to the model's rate
  (hoot.realtime.resample), gathered into whole latent frames (`ratio` model samples),
  encode -> the performer's latent controls -> decode, back to the session's rate, and out
  with exactly as many frames as came in, delayed by a fixed, exact `latency`. That
  latency is what the engine's delay compensation needs to line the model's output up
  with the band to the sample: buffering (ratio - 1 samples at equal rates: 127 samples,
  2.6 ms, for a ratio of 128 at 48 kHz; 2047, 43 ms, for RAVE v2's 2048) plus the two
  resamplers' filters (~36 samples, rounded up to a whole sample) where the rates differ.
  The model's own delay (a causal model's receptive field) is not in it: hoot cannot
  know it from the interface.
- `LatentPlayer`: latent frames in, audio out (a drone walks the latent space), and audio
  in, frames out (an echo's latent walk).

Torch is imported here: the voice process only (hoot/realtime/voice.py), never the
engine, the stage or the UI. Callers set torch.set_num_threads(1) (the voice does).
"""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from hoot.errors import HootError
from hoot.music.sounds import MODELS_DIR
from hoot.realtime.resample import StreamResampler

EMBEDDED = MODELS_DIR / "rave-hoot.ts"
"""hoot's own small causal model (models/train_rave.py), the default of every RAVE voice."""


def find_model(name: str | Path | None) -> Path:
    """The model file for `name`: None for the embedded model; a path to a file; or the
    name of a file in models/ with or without ".ts" ("rave-hoot")."""
    if name is None:
        if EMBEDDED.is_file():
            return EMBEDDED
        raise HootError(f"hoot's own RAVE model is not at {EMBEDDED}: make it with "
                        f"models/train_rave.py, or name a .ts file.{_listing()}")  # fmt: skip
    path = Path(name).expanduser()
    if path.is_file():
        return path
    for candidate in (MODELS_DIR / str(name), MODELS_DIR / f"{name}.ts"):
        if candidate.is_file():
            return candidate
    raise HootError(f"no RAVE model {str(name)!r}: give a .ts file's path or the name of one "
                    f"in {MODELS_DIR}.{_listing()}")  # fmt: skip


def _listing() -> str:
    found = sorted(p.name for p in MODELS_DIR.glob("*.ts")) if MODELS_DIR.is_dir() else []
    return f" There: {', '.join(found)}." if found else f" {MODELS_DIR} holds no .ts files."


@dataclass
class RaveModel:
    """A loaded nn~ model and the facts of its interface."""

    path: Path
    name: str
    sr: int
    channels_in: int
    channels_out: int
    ratio: int
    latent: int
    module: torch.jit.ScriptModule
    meta: dict = field(default_factory=dict)  # hoot.json inside the file, when present
    _fresh: list = field(default_factory=list, repr=False)

    def reset(self) -> None:
        """Every buffer back to what the file held (the caches: silence, for a model
        exported fresh), so the next block does not hear the last one."""
        with torch.inference_mode():
            for buffer, saved in self._fresh:
                buffer.copy_(saved)


def load_rave(path: str | Path | None) -> RaveModel:
    """The model at `path` (or a name in models/, or None: EMBEDDED), checked for the nn~
    interface: `encode` and `decode`, their `*_params` buffers of four ints (audio in,
    latent frames of `ratio` samples out, and back) and a sample rate.

    torch.jit.load runs the file's TorchScript in torch's own interpreter, a language of
    tensors without imports or file access; it unpickles no Python objects, unlike
    torch.load of a full checkpoint, so a model file cannot run arbitrary Python."""
    path = find_model(path)
    if not zipfile.is_zipfile(path):
        raise HootError(f"{path} is not a TorchScript model (not a zip archive): export the "
                        "model for nn~ (RAVE's `rave export --streaming`).")  # fmt: skip
    with zipfile.ZipFile(path) as archive:
        if not any("/code/" in n for n in archive.namelist()):
            raise HootError(f"{path} is a torch checkpoint, not TorchScript: RAVE voices need "
                            "a model exported for nn~ (a .ts file).")  # fmt: skip
    extra = {"hoot.json": ""}
    try:
        with warnings.catch_warnings():  # torch 2.13 calls TorchScript deprecated; nn~ uses it
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a damaged file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        raise HootError(f"{path} could not be loaded as TorchScript ({first}): "
                        "is the file whole?") from None  # fmt: skip
    module.eval()
    for method in ("encode", "decode"):
        if not hasattr(module, method):
            raise HootError(f"{path} has no {method} method: hoot plays RAVE / nn~ models "
                            "(encode and decode), and this TorchScript module is another "
                            "kind.")  # fmt: skip
    encode, decode = (_params(module, path, m) for m in ("encode", "decode"))
    if encode[1] != 1 or decode[3] != 1 or encode[3] != decode[1] or encode[2] != decode[0]:
        raise HootError(f"{path}'s encode_params {encode} and decode_params {decode} do not "
                        "describe audio -> latent frames -> audio.")  # fmt: skip
    if encode[0] not in (1, 2) or decode[2] not in (1, 2):
        raise HootError(f"{path} wants {encode[0]} channels in and {decode[2]} out: hoot plays "
                        "mono and stereo models.")  # fmt: skip
    meta = {}
    if extra["hoot.json"]:
        try:
            meta = json.loads(extra["hoot.json"])
        except ValueError:
            meta = {}
    fresh = [(b, b.detach().clone()) for b in module.buffers()]
    return RaveModel(path, path.stem, _sample_rate(module, path), encode[0], decode[2],
                     encode[3], encode[2], module, meta, fresh)  # fmt: skip


def _params(module: torch.jit.ScriptModule, path: Path, method: str) -> list[int]:
    params = getattr(module, f"{method}_params", None)
    if not (isinstance(params, torch.Tensor) and params.numel() == 4):
        raise HootError(
            f"{path} lacks a {method}_params buffer of four ints (in channels, in ratio, "
            "out channels, out ratio): it was not exported for nn~."
        )
    values = [int(v) for v in params.flatten().tolist()]
    if min(values) < 1:
        raise HootError(f"{path}'s {method}_params {values} are not positive.")
    return values


def _sample_rate(module: torch.jit.ScriptModule, path: Path) -> int:
    sr = getattr(module, "sr", None)
    if not isinstance(sr, int) and hasattr(module, "get_sample_rate"):
        sr = module.get_sample_rate()
    if not isinstance(sr, int) or sr <= 0:
        raise HootError(f"{path} says no sample rate (an `sr` attribute or get_sample_rate()).")
    return sr


class _Fifo:
    """Frames in at the back, out at the front, in one growing array."""

    def __init__(self, channels: int, frames: int = 8192):
        self._audio = np.zeros((frames, channels), np.float32)
        self._start = self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    def push(self, x: np.ndarray) -> None:
        if self._end + len(x) > len(self._audio):
            held = self._audio[self._start : self._end]
            if len(held) + len(x) > len(self._audio):
                grown = np.zeros((2 * (len(held) + len(x)), self._audio.shape[1]), np.float32)
                grown[: len(held)] = held
                self._audio = grown
            else:
                self._audio[: len(held)] = held.copy()
            self._start, self._end = 0, len(held)
        self._audio[self._end : self._end + len(x)] = x
        self._end += len(x)

    def pop(self, n: int) -> np.ndarray:
        out = self._audio[self._start : self._start + n].copy()
        self._start += n
        return out

    def clear(self) -> None:
        self._start = self._end = 0


def _model_input(x: np.ndarray, channels: int) -> np.ndarray:
    """(m, 2) session audio as the model hears it: the mean of the two for a mono model."""
    x = np.asarray(x, np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if channels == 1:
        return x.mean(axis=1, keepdims=True) if x.shape[1] > 1 else x
    return x[:, :2] if x.shape[1] >= 2 else np.repeat(x, 2, axis=1)


def _stereo(y: np.ndarray) -> np.ndarray:
    return np.repeat(y, 2, axis=1) if y.shape[1] == 1 else y


def _failed(model: RaveModel, e: Exception) -> HootError:
    first = (str(e).strip().splitlines() or [type(e).__name__])[-1][:160]
    return HootError(f"the RAVE model {model.name} failed while playing ({first}).")


class Stream:
    """One input through the model, block by block at the session's rate (see the module
    docstring): `process(x)` returns len(x) frames, the model's output for the input
    `latency` samples ago (silence at first)."""

    def __init__(self, model: RaveModel, samplerate: int):
        self.model, self.samplerate = model, int(samplerate)
        s, r = self.samplerate, model.sr
        self._to_model = self._to_session = None
        filters = 0
        if s != r:
            self._to_model = StreamResampler(s, r, model.channels_in)
            there = self._to_model.delay * s / r  # in session samples
            least = StreamResampler(r, s, model.channels_out).delay
            filters = int(np.ceil(there + least - 1e-9))
            self._to_session = StreamResampler(r, s, model.channels_out, delay=filters - there)
        # After N session samples in, at least N - (ratio-1)*s/r have come out (the input
        # waits for whole frames; each resampler has written ceil(count * rate ratio)), so
        # this much silence first lets every block return all its frames.
        self._ahead = -(-(model.ratio - 1) * s // r)
        self.latency = self._ahead + filters
        """Session samples the output lags its input by: fixed and exact."""
        self._pending = _Fifo(model.channels_in)
        self._out = _Fifo(model.channels_out)
        self._scale = torch.ones(1, model.latent, 1)
        self._bias = torch.zeros(1, model.latent, 1)
        self._noise = 0.0
        self._neutral = True
        self._draw = torch.Generator().manual_seed(0)
        self.reset()

    def set_controls(self, bias: float | Sequence[float] | None = None,
                     scale: float | Sequence[float] | None = None,
                     noise: float | None = None) -> None:  # fmt: skip
        """Steer the latent: z' = z * scale + bias + noise * N(0, 1), per latent dim.
        bias and scale: one number for every dim, or one per dim (dims not given: bias
        0, scale 1); noise: the gaussian's spread (>= 0). None leaves a control as it is;
        bias 0, scale 1, noise 0 is the model as trained."""
        if bias is not None:
            self._bias[0, :, 0] = torch.from_numpy(self._per_dim(bias, 0.0, "bias"))
        if scale is not None:
            self._scale[0, :, 0] = torch.from_numpy(self._per_dim(scale, 1.0, "scale"))
        if noise is not None:
            if not noise >= 0:
                raise HootError(f"noise is a spread, 0 or more, not {noise}.")
            self._noise = float(noise)
        self._neutral = (self._noise == 0 and bool((self._bias == 0).all())
                         and bool((self._scale == 1).all()))  # fmt: skip

    def _per_dim(self, value: float | Sequence[float], rest: float, what: str) -> np.ndarray:
        latent = self.model.latent
        values = np.full(latent, rest, np.float32)
        try:
            given = np.atleast_1d(np.asarray(value, np.float32))
        except (TypeError, ValueError):
            given = np.array([np.nan], np.float32)
        if given.ndim != 1 or not np.isfinite(given).all():
            raise HootError(f"{what} is a number or a list of numbers, not {value!r}.")
        if given.size == 1 and np.ndim(value) == 0:
            values[:] = given[0]
        elif given.size > latent:
            raise HootError(f"{what} has {given.size} values but {self.model.name} has "
                            f"{latent} latent dims.")  # fmt: skip
        else:
            values[: given.size] = given
        return values

    def reset(self) -> None:
        """Silence in the model's caches and in the buffers: after a gap, the output is
        what the model makes of the new input alone, `latency` samples later."""
        self.model.reset()
        for resampler in (self._to_model, self._to_session):
            if resampler is not None:
                resampler.reset()
        self._pending.clear()
        self._out.clear()
        self._out.push(np.zeros((self._ahead, self.model.channels_out), np.float32))

    def process(self, x: np.ndarray) -> np.ndarray:
        """(m, 2) float32 at the session's rate in; (m, 2) out, `latency` samples late."""
        heard = _model_input(x, self.model.channels_in)
        if self._to_model is not None:
            heard = self._to_model.process(heard)
        self._pending.push(heard)
        whole = len(self._pending) // self.model.ratio * self.model.ratio
        if whole:
            played = self._play(self._pending.pop(whole))
            if self._to_session is not None:
                played = self._to_session.process(played)
            self._out.push(played)
        return _stereo(self._out.pop(len(x)))

    def _play(self, audio: np.ndarray) -> np.ndarray:
        """encode -> controls -> decode on whole frames: (n*ratio, ch) in and out."""
        x = torch.from_numpy(np.ascontiguousarray(audio.T))[None]
        try:
            with torch.inference_mode():
                z = self.model.module.encode(x)
                if not self._neutral:
                    z = z * self._scale + self._bias
                    if self._noise:
                        z = z + self._noise * torch.randn(z.shape, generator=self._draw)
                y = self.model.module.decode(z)
        except (RuntimeError, torch.jit.Error) as e:
            raise _failed(self.model, e) from None
        return y[0].T.numpy()


class LatentPlayer:
    """Latent frames to audio at the session's rate (a drone), and audio to frames (an
    echo's walk). Rendering continues the model's state from the last call, so successive
    renders join without clicks."""

    def __init__(self, model: RaveModel, samplerate: int):
        self.model, self.samplerate = model, int(samplerate)
        s, r = self.samplerate, model.sr
        self.frame_s = model.ratio / r
        """Seconds per latent frame."""
        self._to_session = StreamResampler(r, s, model.channels_out) if s != r else None
        self._to_model = StreamResampler(s, r, model.channels_in) if s != r else None
        self._pending = _Fifo(model.channels_in)

    def render(self, z: np.ndarray) -> np.ndarray:
        """(latent, frames) -> (m, 2) float32: frames*ratio model samples at the session's
        rate (where the rates differ, m follows the resampler's count, ceil of the total)."""
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[0] > self.model.latent:
            raise HootError(f"latent frames are (dims <= {self.model.latent}, frames), "
                            f"not {z.shape}.")  # fmt: skip
        full = np.zeros((self.model.latent, z.shape[1]), np.float32)
        full[: z.shape[0]] = z
        try:
            with torch.inference_mode():
                y = self.model.module.decode(torch.from_numpy(full)[None])[0].T.numpy()
        except (RuntimeError, torch.jit.Error) as e:
            raise _failed(self.model, e) from None
        if self._to_session is not None:
            y = self._to_session.process(y)
        return _stereo(y)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """(m, 2) session audio -> (latent, frames) for the whole frames it completes."""
        heard = _model_input(x, self.model.channels_in)
        if self._to_model is not None:
            heard = self._to_model.process(heard)
        self._pending.push(heard)
        whole = len(self._pending) // self.model.ratio * self.model.ratio
        if not whole:
            return np.zeros((self.model.latent, 0), np.float32)
        audio = torch.from_numpy(np.ascontiguousarray(self._pending.pop(whole).T))[None]
        try:
            with torch.inference_mode():
                return self.model.module.encode(audio)[0].numpy().copy()
        except (RuntimeError, torch.jit.Error) as e:
            raise _failed(self.model, e) from None
