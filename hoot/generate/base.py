"""The one protocol every generator speaks, and the registry that finds them.

A generator is asked for one candidate at a time: a `Request` says the role, the
moment (tempo, meter, key, chords), the vibe, the seed, how many candidates the
performer asked for (`n`) and which one this is (`index`), so a generator can make
the candidates of one call differ on purpose. It answers with a `Take`: MIDI notes,
audio, or both. hoot renders notes to audio itself when a take has none.

    class MyGenerator:
        name = "mine"
        def available(self) -> tuple[bool, str]:
            return True, "ready"
        def generate(self, request: Request) -> Take:
            ...

Generators are found by name: hoot's own, any installed package's entry points in
the group `hoot.generators` (see docs/generators.md), or "module:Class" directly.
They run in worker processes, never in the performer's process, so they may import
torch freely.

A model is faster asked for the whole batch at once (six candidates decoded together cost
about what one does while a step is bound by launching its kernels: models.md §9(b)), and
its weights (1 GB for Orpheus-medium in bf16) are too heavy to load in every worker or
for every batch. Such a generator says `warm = True` in its class body and MAY answer

        def generate_batch(self, requests, progress: BatchProgress):
            for index, request in ...:          # in any order, each as soon as it is made
                yield index, Take(...)          # or `yield index, error` to fail that one

It then runs in the pool's one model worker, which keeps it (and its weights) between
batches, keyed by (name, device). `warm = True` is read from the source without
importing the module (the performer's process never imports torch), so it must be
written literally in the class body (or in a base class in the same module).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hoot.music.clip import NoteClip
from hoot.music.sounds import MODELS_DIR

ENTRY_POINT_GROUP = "hoot.generators"
BUILTIN = {
    "default": "hoot.generate.compose:DefaultGenerator",
    "musicgen": "hoot.generate.audio_models:MusicGenGenerator",
    "ace-step": "hoot.generate.audio_models:AceStepGenerator",
    "orpheus": "hoot.generate.orpheus.generator:OrpheusGenerator",
    "orpheus-small": "hoot.generate.orpheus.generator:SmallOrpheusGenerator",
}


@dataclass(frozen=True)
class Request:
    """What the performer asked for, and which candidate of the batch this is: the role, the
    moment it will first play in (tempo, meter, key, chords), the vibe, the track's sound."""

    role: str
    n: int = 6
    index: int = 0
    bars: int = 4
    bpm: float = 120.0
    meter: str = "4/4"
    key: str = "C minor"
    chords: tuple[str, ...] = ()
    vibe: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    samplerate: int = 48000
    sound: str | None = None  # the track's sound (hoot.music.sounds); None: the role's default
    # what plays around it (issue 14), for generators that listen: {"tracks": {track: {"role",
    # "notes": [[start_beat, dur_beats, pitch, vel], ...], "length": beats}}, "audio": [wav
    # paths of what plays], "prompt": {"track", "role", "notes", "length"} for a continuation}
    context: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"  # where a model generator runs: "auto", "cuda", "mps", "cpu"

    def candidate(self, index: int) -> Request:
        return replace(self, index=index)

    @property
    def beats_per_bar(self) -> int:
        return int(self.meter.split("/")[0])

    @property
    def beats(self) -> float:
        return self.bars * self.beats_per_bar

    @property
    def frames(self) -> int:
        """Length of the loop in samples."""
        return round(self.beats * 60.0 / self.bpm * self.samplerate)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["chords"] = list(self.chords)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Request:
        d = dict(d)
        d["chords"] = tuple(d.get("chords", ()))
        vibe = dict(d.get("vibe") or {})
        if "timbre" in vibe:  # batches saved before the sound was a field of its own
            d.setdefault("sound", vibe.pop("timbre"))
            d["vibe"] = vibe
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class Take:
    """One candidate as a generator made it: notes (beats), audio (frames x 2), or both."""

    notes: NoteClip | None = None
    audio: np.ndarray | None = None
    params: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Generator(Protocol):
    name: str

    def available(self) -> tuple[bool, str]: ...

    def generate(self, request: Request) -> Take: ...


class BatchProgress:
    """What a batch generator tells about its candidates, and asks: which were cancelled.

    `report(kind, *details)` receives ("progress", index, fraction, stage), ("stage", text)
    (every candidate at once), ("loaded", info); `poll()` returns the indices cancelled
    since it was last asked (it reads the model worker's pipe, so cancel arrives between
    steps). Both optional: a generator run directly (a test, a benchmark) gets a quiet one.
    """

    def __init__(
        self,
        n: int,
        report: Callable[..., None] | None = None,
        poll: Callable[[], Iterable[int]] | None = None,
    ) -> None:
        self.n = n
        self._report = report or (lambda *a: None)
        self._poll = poll
        self._cancelled: set[int] = set()

    def update(self, index: int, fraction: float, stage: str = "composing") -> None:
        """Candidate `index` (from 0) is `fraction` (0..1) made."""
        self._report("progress", int(index), min(max(float(fraction), 0.0), 1.0), stage)

    def stage(self, text: str) -> None:
        """Every candidate of the batch is at `text`, e.g. "loading model"."""
        self._report("stage", str(text))

    def loaded(self, info: dict) -> None:
        """A model is in memory: {"name", "device", "dtype", "bytes", "params", "seconds"}."""
        self._report("loaded", dict(info))

    def cancel(self, index: int) -> None:
        self._cancelled.add(int(index))

    def cancelled(self, index: int) -> bool:
        """Whether candidate `index` was cancelled: stop spending steps on it."""
        if self._poll is not None:
            self._cancelled.update(self._poll())
        return int(index) in self._cancelled

    def all_cancelled(self) -> bool:
        return all(self.cancelled(i) for i in range(self.n))


def make_batch(
    generator: Any, requests: list[Request], progress: BatchProgress
) -> Iterator[tuple[int, Take | BaseException]]:
    """A batch from any generator: its own `generate_batch`, or `generate` per candidate
    (skipping the cancelled ones; one that raises fails alone)."""
    whole = getattr(generator, "generate_batch", None)
    if callable(whole):
        yield from whole(requests, progress)
        return
    for i, request in enumerate(requests):
        if progress.cancelled(i):
            continue
        progress.update(i, 0.0)
        try:
            yield i, generator.generate(request)
        except Exception as e:  # noqa: BLE001 - one candidate's failure is its own
            yield i, e


class GeneratorError(Exception):
    """A generator is unknown or unavailable; the message says why and what to do."""


def known_generators() -> dict[str, str]:
    """name -> "module:attribute", for hoot's own generators and installed plugins."""
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def target_of(name: str) -> str | None:
    """The "module:attribute" a generator name stands for, or None for an unknown name."""
    return known_generators().get(name) or (name if ":" in name else None)


_warm: dict[str, bool] = {}


def is_warm(name: str) -> bool:
    """Whether generator `name` declares `warm = True`, read from its module's source
    (never imported here: the performer's process must not import torch)."""
    target = target_of(name)
    if target is None:
        return False
    if target not in _warm:
        _warm[target] = _declares_warm(*target.partition(":")[::2])
    return _warm[target]


def _declares_warm(module: str, attr: str) -> bool:
    try:
        spec = importlib.util.find_spec(module)
        source = spec.loader.get_source(module) if spec and spec.loader else None
        tree = ast.parse(source or "")
    except (ImportError, SyntaxError, ValueError, AttributeError, OSError):
        return False
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    seen: set[str] = set()
    while attr in classes and attr not in seen:
        seen.add(attr)
        node = classes[attr]
        for stmt in node.body:
            target = (
                stmt.targets[0] if isinstance(stmt, ast.Assign) else getattr(stmt, "target", None)
            )
            value = getattr(stmt, "value", None)
            if isinstance(target, ast.Name) and target.id == "warm":
                return isinstance(value, ast.Constant) and value.value is True
        bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
        attr = bases[0] if bases else ""
    return False


def load_generator(name: str) -> Generator:
    """Import and construct the generator called `name` (in a worker process)."""
    target = target_of(name)
    if target is None:
        raise GeneratorError(
            f"no generator called {name!r}; perf.generators lists them "
            f"({', '.join(known_generators())})"
        )
    module, _, attr = target.partition(":")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except Exception as e:  # noqa: BLE001 - a broken plugin must say so, not crash the pool
        raise GeneratorError(
            f"generator {name!r} failed to load ({type(e).__name__}: {e})"
        ) from None
    generator = obj() if isinstance(obj, type) else obj
    if not hasattr(generator, "generate") and hasattr(generator, "compose"):
        generator = _Composer(generator)
    return generator


class _Composer:
    """Adapts a generator that composes notes (`compose(request) -> (NoteClip, params)`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name

    def available(self) -> tuple[bool, str]:
        return self.inner.available()

    def generate(self, request: Request) -> Take:
        notes, params = self.inner.compose(request)
        return Take(notes=notes, params=params)


def model_backends() -> dict[str, tuple[bool, str]]:
    """Model backends hoot knows of but does not ship, and why each is not available here."""
    reasons = {}
    checkpoints = {
        "orpheus": ("orpheus*", "Orpheus music transformer"),
    }
    for name, (pattern, what) in checkpoints.items():
        if name in known_generators():
            continue
        found = sorted(MODELS_DIR.glob(pattern)) if MODELS_DIR.is_dir() else []
        if not found:
            reasons[name] = (False, f"no {what} checkpoint in models/")
        else:
            reasons[name] = (
                False,
                f"{found[0].name} is in models/, but no installed package provides the "
                f"{name!r} generator (entry point group {ENTRY_POINT_GROUP!r})",
            )
    return reasons
