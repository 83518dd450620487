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
"""

from __future__ import annotations

import importlib
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


class GeneratorError(Exception):
    """A generator is unknown or unavailable; the message says why and what to do."""


def known_generators() -> dict[str, str]:
    """name -> "module:attribute", for hoot's own generators and installed plugins."""
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def load_generator(name: str) -> Generator:
    """Import and construct the generator called `name` (in a worker process)."""
    target = known_generators().get(name) or (name if ":" in name else None)
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
