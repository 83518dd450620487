"""Audio generators on a GPU: MusicGen and ACE-Step 1.5 write a stem as audio, the whole
batch in one call, from a checkpoint folder in models/ that stays loaded between batches.

    perf.generate("bass", n=4, using="musicgen")    # models/musicgen-small/ (transformers)
    perf.generate("bass", n=4, using="ace-step")    # models/ace-step*/ (diffusers)

MusicGen (transformers' `MusicgenForConditionalGeneration`) hears a text prompt made from
the vibe, the role, the tempo and the key; its n candidates are one `generate` call (a batch
of n, doubled for classifier-free guidance). ACE-Step 1.5 (diffusers' `AceStepPipeline`)
hears the same words and, when the request carries what plays (`context["audio"]`: wav
paths), runs its "lego" task, "Generate the BASS track based on the audio context", on
their mix cut to the loop; with nothing playing it writes the stem from text alone.

Both are GPU models: musicgen-small runs about 11x slower than real time on 2 CPU cores
(210 ms per 20 ms step, research/models.md §4), so a 4-bar loop at 120 BPM (8 s) takes
about 90 s there; on one H200, six 7.9 s clips took 25.6 s. ACE-Step 1.5 writes a song in
under 2 s on an A100. They still run on a CPU when a checkpoint is there (the tests run tiny
ones), and `available()` says how slow that would be.

torch, transformers and diffusers are imported inside the functions that need them, so this
module (and `available()`) may be imported where torch must not be; the generators run in
the pool's model worker (`warm = True`), which keeps the weights loaded between batches.
hoot never downloads: a performer copies a checkpoint folder into models/ (on a machine
online: `hf download facebook/musicgen-small --local-dir models/musicgen-small`, or
`hf download <an ACE-Step 1.5 diffusers repo> --local-dir models/ace-step`).
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hoot.errors import HootError
from hoot.generate.base import BatchProgress, Request, Take
from hoot.generate.loops import stereo_loop
from hoot.music.sounds import MODELS_DIR

SEAM_SECONDS = 0.02
"""Each take is made this much longer than its loop; the extra fades out over a fade-in of
the loop's start and is folded onto it (loops.stereo_loop), so the seam is a 20 ms
crossfade: long enough to hide the jump between the end and the start, short enough not
to smear a downbeat."""

ROLE_WORDS = {
    "drums": "drum loop",
    "bass": "bass line",
    "chords": "chord progression",
    "lead": "lead melody",
    "pad": "sustained synth pad",
    "perc": "percussion loop",
    "keys": "keyboard part",
    "harmony": "harmony part",
}
"""How a prompt names each role."""

ACE_TRACKS = {
    "drums": "drums",
    "bass": "bass",
    "chords": "keyboard",
    "lead": "synth",
    "pad": "synth",
    "perc": "percussion",
    "keys": "keyboard",
    "harmony": "keyboard",
}
"""ACE-Step's track names (the stems its lego task was trained to write: vocals,
backing_vocals, drums, percussion, bass, guitar, keyboard, synth, strings, brass, woodwinds,
fx) for hoot's roles."""

STYLE_WORDS = {"dnb": "drum and bass", "hiphop": "hip hop"}
"""Styles whose prompt words differ from hoot's style names."""

VIBE_WORDS = (
    ("brightness", "dark", "bright"),
    ("energy", "calm", "energetic"),
    ("density", "sparse", "busy"),
    ("complexity", "simple", "intricate"),
    ("register", "low", "high"),
)
"""A vibe number below 0.35 or above 0.65 becomes its word in the prompt (the words that
move it in perf.vibe); between, the prompt leaves it to the model."""


class AudioModelError(HootError):
    """An audio model cannot be loaded or cannot finish a batch; the message says why."""


class _Cancelled(Exception):
    """Every candidate of the batch was cancelled: the model stops at its next step."""


def describe(request: Request) -> str:
    """The text prompt for a request: the vibe's words, the style, the role, tempo, key.

    >>> describe(Request(role="bass", bpm=124, key="A minor", vibe={"brightness": 0.2}))
    'dark bass line, 124 BPM, A minor, 4/4, instrumental loop'
    """
    vibe = request.vibe
    words = []
    for param, low, high in VIBE_WORDS:
        value = vibe.get(param)
        if isinstance(value, (int, float)) and value < 0.35:
            words.append(low)
        elif isinstance(value, (int, float)) and value > 0.65:
            words.append(high)
    if isinstance(vibe.get("swing"), (int, float)) and vibe["swing"] > 0.4:
        words.append("swung")
    style = vibe.get("style")
    if isinstance(style, str):
        words.append(STYLE_WORDS.get(style, style))
    words.append(ROLE_WORDS.get(request.role, f"{request.role} part"))
    return (
        f"{' '.join(words)}, {request.bpm:g} BPM, {request.key}, {request.meter}, instrumental loop"
    )


def gpu_here() -> str | None:
    """The kind of GPU this machine seems to have ("cuda", "rocm", "mps"), without torch:
    the device files its drivers make. The worker asks torch; this only lets `available()`
    say, in a process that may not import torch, whether a run would be fast."""
    if Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia/version").exists():
        return "cuda"
    if Path("/dev/kfd").exists():
        return "rocm"
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return "mps"
    return None


def pick_device(asked: str) -> str:
    """The torch device for a request's `device`: "auto" is cuda, then mps, then cpu."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if asked == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if asked == "cuda" and not torch.cuda.is_available():
        raise AudioModelError(
            f"no CUDA or ROCm GPU is visible to torch {torch.__version__} here: "
            'use perf.model_device = "auto" or "cpu"'
        )
    if asked == "mps" and not has_mps:
        raise AudioModelError('no Apple GPU (mps) here: use perf.model_device = "auto" or "cpu"')
    if asked not in ("cuda", "mps", "cpu"):
        raise AudioModelError(f"device {asked!r} is not one hoot knows: auto, cuda, mps or cpu")
    return asked


class _Steps:
    """Reports a model's steps as every live candidate's progress, and stops the model when
    the performer has cancelled the whole batch (a candidate cancelled alone rides along to
    the end, since a batched step cannot drop one row, and is not handed back)."""

    def __init__(self, count: int, progress: Any, total: int, stage: str) -> None:
        self.count, self.progress, self.total, self.label = count, progress, total, stage

    def __call__(self, done: int) -> None:
        live = [i for i in range(self.count) if not self.progress.cancelled(i)]
        if not live:
            raise _Cancelled
        for i in live:
            self.progress.update(i, min(1.0, done / max(1, self.total)), self.label)


class _AudioModel:
    """What MusicGen and ACE-Step share: finding the folder, the device and dtype, keeping the
    model warm, the batch protocol, and turning a model's output into exact loops."""

    name = ""
    what = ""  # the model's name in sentences
    pattern = ""  # its folders in models/
    marker = ""  # the file that makes a folder a checkpoint
    example = ""  # the folder a performer would put there, in available()'s sentence
    cpu_note = ""  # how slow a CPU is, in available()'s sentence
    warm = True

    def __init__(self, path: str | Path | None = None, models_dir: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self.models_dir = Path(models_dir) if models_dir is not None else MODELS_DIR
        self.model: Any = None
        self.device: str | None = None
        self.info: dict[str, Any] = {}

    @property
    def checkpoint(self) -> Path | None:
        """The folder this generator loads: the one it was given, else the first checkpoint
        folder in models/ (one with the marker file), else None."""
        if self.path is not None:
            return self.path
        if not self.models_dir.is_dir():
            return None
        folders = sorted(p for p in self.models_dir.glob(self.pattern) if p.is_dir())
        return next((p for p in folders if (p / self.marker).is_file()), None)

    def available(self) -> tuple[bool, str]:
        """Whether a checkpoint is here, and whether a GPU will make it fast. Torch-free."""
        folder = self.checkpoint
        if folder is None:
            return False, (f"no {self.what} checkpoint folder in models/: put {self.example}")
        if not (folder / self.marker).is_file():
            return False, f"{folder} has no {self.marker}: it is not a {self.what} folder"
        gpu = gpu_here()
        if gpu is None:
            return True, (
                f"{folder.name} is ready, but it runs on a GPU and would be far slower than "
                f"real time on this CPU ({self.cpu_note})"
            )
        return True, f"{folder.name} is ready for the GPU ({gpu})"

    def generate(self, request: Request) -> Take:
        """One candidate (a batch of one)."""
        for _, take in self.generate_batch([request], BatchProgress(1)):
            return take
        raise AudioModelError(f"{self.what} made no candidate")

    def generate_batch(
        self, requests: Sequence[Request], progress: Any
    ) -> Iterator[tuple[int, Take]]:
        """The batch in one model call; yields (index, take) for every candidate not
        cancelled. The requests are one call's candidates: they share the moment."""
        if not requests:
            return
        first = requests[0]
        self.load(first.device, progress)
        started = time.perf_counter()
        try:
            audio, rate, params = self._make(list(requests), progress)
        except _Cancelled:
            return
        except AudioModelError:
            raise
        except Exception as e:  # noqa: BLE001 - out of memory and lost GPUs get a sentence
            raise self._failure(e, len(requests), first) from e
        params.update(
            generator=self.name,
            checkpoint=str(self.checkpoint),
            device=self.device,
            seconds=round(time.perf_counter() - started, 3),
        )
        progress.stage("making loops")
        for i, request in enumerate(requests):
            if progress.cancelled(i):
                continue
            loop = make_loop(audio[i], rate, request.samplerate, request.frames)
            yield i, Take(audio=loop, params=dict(params, prompt=describe(request)))

    def unload(self) -> None:
        """Free the weights (and the GPU memory they held)."""
        self.model, self.device, self.info = None, None, {}
        if "torch" in sys.modules:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def load(self, device: str = "auto", progress: Any = None) -> dict:
        """Load the checkpoint onto `device` (kept warm: a second call on the same device
        does nothing); returns the model's info, also given to `progress.loaded`."""
        progress = progress or BatchProgress(1)
        where = pick_device(device)
        if self.model is not None and self.device == where:
            return self.info
        self.unload()
        folder = self.checkpoint
        if folder is None:
            raise AudioModelError(self.available()[1])
        progress.stage("loading model")
        started = time.perf_counter()
        dtype = self._dtype(where)
        self._check_folder(folder)
        try:
            model = self._load(folder, where, dtype)
        except AudioModelError:
            raise
        except Exception as e:  # noqa: BLE001 - every broken folder gets one sentence
            raise _load_failure(self.what, folder, e) from None
        modules = self._modules(model)
        params = sum(p.numel() for m in modules for p in m.parameters())
        size = sum(p.numel() * p.element_size() for m in modules for p in m.parameters())
        self.model, self.device = model, where
        self.info = {
            "name": self.name,
            "device": where,
            "dtype": str(dtype).removeprefix("torch."),
            "bytes": int(size),
            "params": int(params),
            "seconds": round(time.perf_counter() - started, 3),
        }
        progress.loaded(dict(self.info))
        return self.info

    def _check_folder(self, folder: Path) -> None:
        if not folder.is_dir():
            raise AudioModelError(
                f"no {self.what} checkpoint at {folder}: put {self.example} (or pass its path)"
            )
        if not (folder / self.marker).is_file():
            raise AudioModelError(
                f"{folder} has no {self.marker}: it is not a {self.what} folder "
                f"(put {self.example})"
            )

    def _failure(self, e: Exception, n: int, request: Request) -> AudioModelError:
        import torch

        text = f"{type(e).__name__}: {e}"
        device = self.device
        if isinstance(e, torch.OutOfMemoryError) or "out of memory" in text.lower():
            self.unload()
            return AudioModelError(
                f"{self.what} ran out of memory on {device} making {n} candidates of "
                f"{request.frames / request.samplerate:.1f} s: ask for fewer candidates or "
                "fewer bars, or use a smaller checkpoint"
            )
        if device in ("cuda", "mps") and any(w in text for w in ("CUDA", "HIP", "MPS")):
            self.unload()
            return AudioModelError(
                f"the GPU failed while {self.what} was generating ({_first_line(e)}): "
                'ask again, or use perf.model_device = "cpu"'
            )
        return AudioModelError(f"{self.what} failed while generating ({_first_line(e)})")

    # what each model does
    def _dtype(self, device: str) -> Any:
        raise NotImplementedError

    def _load(self, folder: Path, device: str, dtype: Any) -> Any:
        raise NotImplementedError

    def _modules(self, model: Any) -> list:
        raise NotImplementedError

    def _make(self, requests: list[Request], progress: Any) -> tuple[np.ndarray, int, dict]:
        """(audio: candidates x channels x samples at `rate`, rate, params for the takes)."""
        raise NotImplementedError


class MusicGenGenerator(_AudioModel):
    """Meta's MusicGen through transformers: a T5 text encoder, a decoder over EnCodec
    tokens (4 codebooks at 50 Hz for 32 kHz audio), classifier-free guidance 3."""

    name = "musicgen"
    what = "MusicGen"
    pattern = "musicgen*"
    marker = "config.json"
    example = (
        "a transformers MusicGen folder (e.g. facebook/musicgen-small saved with "
        "save_pretrained) at models/musicgen-small/"
    )
    cpu_note = "musicgen-small: about 11 s for each second of audio on 2 cores"
    guidance = 3.0

    def _dtype(self, device: str) -> Any:
        import torch

        return torch.float16 if device in ("cuda", "mps") else torch.float32

    def _load(self, folder: Path, device: str, dtype: Any) -> Any:
        from transformers import AutoTokenizer, MusicgenForConditionalGeneration

        kind = json.loads((folder / "config.json").read_text()).get("model_type")
        if kind != "musicgen":
            raise AudioModelError(
                f"{folder} holds a {kind!r} model, not MusicGen (its config.json must say "
                'model_type "musicgen")'
            )
        if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
            raise AudioModelError(f"{folder} has no weights (model.safetensors): copy them in")
        if not any((folder / f).is_file() for f in ("tokenizer.json", "spiece.model")):
            raise AudioModelError(
                f"{folder} has no tokenizer (tokenizer.json or spiece.model): save the model's "
                "processor into the same folder"
            )
        model, loading = MusicgenForConditionalGeneration.from_pretrained(
            folder, dtype=dtype, output_loading_info=True
        )
        missing = loading.get("missing_keys") or []
        mismatched = loading.get("mismatched_keys") or []
        if missing or mismatched:
            some = sorted(missing or [m[0] if isinstance(m, tuple) else m for m in mismatched])
            raise AudioModelError(
                f"{folder}'s weights do not match its config.json ({len(some)} tensors "
                f"missing or of another shape, e.g. {some[0]}): copy the whole folder again"
            )
        tokenizer = AutoTokenizer.from_pretrained(folder)
        return model.to(device).eval(), tokenizer

    def _modules(self, model: Any) -> list:
        return [model[0]]

    def _make(self, requests: list[Request], progress: Any) -> tuple[np.ndarray, int, dict]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        model, tokenizer = self.model
        first = requests[0]
        codec = model.config.audio_encoder
        rate = int(codec.sampling_rate)
        hop = int(np.prod(codec.upsampling_ratios))
        codebooks = int(model.decoder.num_codebooks)
        seconds = first.frames / first.samplerate + SEAM_SECONDS
        frames = math.ceil(seconds * rate / hop)
        new_tokens = frames + codebooks - 1  # the delay pattern spends one step per codebook
        limit = int(model.config.decoder.max_position_embeddings)
        if new_tokens + 1 > limit:
            raise AudioModelError(
                f"MusicGen makes at most {(limit - codebooks) * hop / rate:.0f} s of audio and "
                f"this loop is {seconds:.1f} s: ask for fewer bars"
            )
        prompts = [describe(r) for r in requests]
        text = tokenizer(prompts, return_tensors="pt", padding=True)
        steps = _Steps(len(requests), progress, new_tokens, "generating audio")
        start = 1  # the decoder start token

        class Report(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                steps(input_ids.shape[-1] - start)
                return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

        torch.manual_seed(first.seed)
        with torch.inference_mode():
            out = model.generate(
                input_ids=text["input_ids"].to(self.device),
                attention_mask=text["attention_mask"].to(self.device),
                do_sample=True,
                guidance_scale=self.guidance,
                max_new_tokens=new_tokens,
                stopping_criteria=StoppingCriteriaList([Report()]),
            )
        audio = out.float().cpu().numpy()
        return audio, rate, {"model_rate": rate, "tokens": new_tokens, "guidance": self.guidance}


class AceStepGenerator(_AudioModel):
    """ACE-Step 1.5 through diffusers: a flow-matching transformer over the latents of an
    Oobleck autoencoder (48 kHz stereo, 25 latents a second), conditioned on a Qwen3 text
    encoder and, for the lego task, on the latents of what plays."""

    name = "ace-step"
    what = "ACE-Step"
    pattern = "ace-step*"
    marker = "model_index.json"
    example = (
        "a diffusers ACE-Step 1.5 folder (e.g. ACE-Step/acestep-v15-xl-turbo-diffusers, "
        "saved with save_pretrained) at models/ace-step/"
    )
    cpu_note = "ACE-Step 1.5 is a 2 to 4 B-parameter diffusion model: minutes per loop here"
    turbo_steps = 8  # what its guidance-distilled "turbo" checkpoints are made for
    base_steps = 32  # base/SFT checkpoints (with guidance) want more

    def _dtype(self, device: str) -> Any:
        import torch

        if device == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32

    def _load(self, folder: Path, device: str, dtype: Any) -> Any:
        from diffusers import AceStepPipeline

        kind = json.loads((folder / "model_index.json").read_text()).get("_class_name")
        if kind != "AceStepPipeline":
            raise AudioModelError(
                f"{folder} holds a {kind!r} pipeline, not ACE-Step (its model_index.json must "
                'say "_class_name": "AceStepPipeline")'
            )
        pipe = AceStepPipeline.from_pretrained(folder, dtype=dtype)
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(device)

    def _modules(self, model: Any) -> list:
        return [m for m in model.components.values() if hasattr(m, "parameters")]

    def context_audio(self, request: Request, rate: int) -> np.ndarray | None:
        """What plays (request.context["audio"]), mixed, at `rate`, exactly one loop long
        (channels x samples), or None when nothing plays."""
        import soundfile as sf

        paths = request.context.get("audio") or []
        if not paths:
            return None
        length = round(request.frames / request.samplerate * rate)
        mix = np.zeros((2, length), np.float32)
        for path in paths:
            try:
                audio, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
            except Exception as e:  # noqa: BLE001 - any unreadable file is one sentence
                raise AudioModelError(
                    f"what plays cannot be heard: {path} ({_first_line(e)})"
                ) from None
            audio = resample(audio.T, file_rate, rate)
            if audio.shape[0] == 1:
                audio = np.repeat(audio, 2, axis=0)
            if audio.shape[1] == 0:
                continue
            laps = -(-length // audio.shape[1])
            mix += np.tile(audio[:2], (1, laps))[:, :length]
        peak = float(np.abs(mix).max(initial=0.0))
        return mix / peak if peak > 1.0 else mix

    def _make(self, requests: list[Request], progress: Any) -> tuple[np.ndarray, int, dict]:
        import torch

        pipe = self.model
        first = requests[0]
        rate = int(pipe.sample_rate)
        context = self.context_audio(first, rate)
        steps_count = self.turbo_steps if pipe.is_turbo else self.base_steps
        steps = _Steps(len(requests), progress, steps_count, "generating audio")
        seeds = [
            torch.Generator(device=self.device).manual_seed(first.seed + r.index) for r in requests
        ]
        options: dict[str, Any] = {}
        if context is None:
            task = "text2music"
            seconds = first.frames / first.samplerate + SEAM_SECONDS
        else:
            task = "lego"
            seconds = context.shape[1] / rate
            options = {
                "src_audio": torch.from_numpy(context),
                "track_name": ACE_TRACKS.get(first.role, first.role),
            }

        def on_step(pipeline, step, timestep, tensors):
            steps(step + 1)
            return {}

        result = pipe(
            prompt=[describe(r) for r in requests],
            lyrics=["[Instrumental]"] * len(requests),
            audio_duration=seconds,
            num_inference_steps=steps_count,
            generator=seeds,
            bpm=round(first.bpm),
            keyscale=first.key,
            timesignature=first.meter.split("/")[0],
            task_type=task,
            output_type="np",
            callback_on_step_end=on_step,
            **options,
        )
        params = {"model_rate": rate, "task": task, "steps": steps_count}
        return np.asarray(result.audios, np.float32), rate, params


def resample(audio: np.ndarray, rate: int, to: int) -> np.ndarray:
    """Audio (channels x samples) from `rate` to `to` Hz, polyphase (exact ratios: 32 kHz
    to 48 kHz is up 3, down 2)."""
    if rate == to:
        return np.asarray(audio, np.float32)
    from scipy.signal import resample_poly

    g = math.gcd(int(rate), int(to))
    return resample_poly(audio, to // g, rate // g, axis=-1).astype(np.float32)


def make_loop(audio: np.ndarray, rate: int, samplerate: int, frames: int) -> np.ndarray:
    """A model's take (channels x samples at `rate`) as an exact stereo loop of `frames` at
    `samplerate`: resampled, its start faded in and what runs past the loop faded out over
    SEAM_SECONDS and folded onto the start, so the seam is a crossfade."""
    audio = resample(audio, rate, samplerate)
    seam = min(round(SEAM_SECONDS * samplerate), frames // 8, max(0, audio.shape[1] - frames))
    if seam > 0:
        audio = np.array(audio[:, : frames + seam], np.float32)
        ramp = np.sin(np.linspace(0.0, np.pi / 2, seam, dtype=np.float32)) ** 2
        audio[:, :seam] *= ramp
        audio[:, frames : frames + seam] *= ramp[::-1]
    return stereo_loop(audio.T, frames)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def _load_failure(what: str, folder: Path, e: Exception) -> AudioModelError:
    """One sentence for a checkpoint folder that would not load."""
    text = f"{type(e).__name__}: {e}".lower()
    if any(w in text for w in ("deserializ", "incomplete", "truncat", "header", "eof")):
        return AudioModelError(
            f"{folder}'s weights are truncated or corrupt ({_first_line(e)}): copy them again"
        )
    if "mismatch" in text or "shape" in text:
        return AudioModelError(
            f"{folder}'s weights do not match its config ({_first_line(e)}): copy the whole "
            "folder again"
        )
    if isinstance(e, (OSError, ValueError, KeyError)):
        return AudioModelError(
            f"{folder} is not a complete {what} folder ({_first_line(e)}): copy the whole "
            "folder again"
        )
    return AudioModelError(f"{what} could not load {folder} ({_first_line(e)})")
