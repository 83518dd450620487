"""Orpheus behind hoot's generator protocol: a whole batch decoded together, kept warm.

`perf.generate("bass", n=6, using="orpheus-small")` lands here, in the model worker (the pool
keeps this object, and so the model's weights, between batches). The six candidates share
one prime (the moment: hoot.generate.orpheus.moment) and are decoded together with a KV
cache, each with its own instrument of the role and its own random stream, so they differ;
a candidate the model leaves empty, or too close to another of the batch (the embedded
generator's floor: moment.DIFFERENT), is asked again once. `orpheus` runs the official
checkpoints (models/Orpheus*.pth, see models/README.md), `orpheus-small` hoot's own
(models/orpheus-hoot.pth); the same code path runs both.

On a CPU the first candidate is decoded alone and the rest together after it: one stream
is faster a step than six, so the performer hears something sooner; on a GPU a step costs
the same at batch 1 and 6, and all go together.

Speculative decoding: an official Orpheus on a CPU has hoot's small model (same tokens)
draft `DRAFT_TOKENS` tokens a round that the big one checks in one call; what comes out is
distributed exactly as the big model's own sampling (decode.sample_speculative), only
sooner. On a GPU the big model's compiled step is the faster road, so it decodes alone.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hoot.generate.base import BatchProgress, GeneratorError, Request, Take
from hoot.generate.orpheus import moment as mo
from hoot.music.sounds import MODELS_DIR

SMALL = "orpheus-hoot.pth"
OFFICIAL_PATTERNS = ("Orpheus*.pth", "orpheus*.pth")
TOP_P = 0.96
DRAFT_TOKENS = 4


def temperature_of(request: Request) -> float:
    """The vibe's complexity loosens the sampling: 0.85 (plain) to 1.1 (adventurous)."""
    complexity = float((request.vibe or {}).get("complexity", 0.5))
    return 0.85 + 0.25 * min(1.0, max(0.0, complexity))


class OrpheusGenerator:
    """Orpheus Music Transformer checkpoints (480 M medium, 748 M large) in models/."""

    name = "orpheus"
    warm = True

    def __init__(self, checkpoint: str | Path | None = None) -> None:
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self._models: dict[str, Any] = {}  # device -> OrpheusModel

    # ---- which file -------------------------------------------------------------------

    def find(self) -> Path | None:
        if self.checkpoint is not None:
            return self.checkpoint
        if not MODELS_DIR.is_dir():
            return None
        found = sorted(
            {p for pattern in OFFICIAL_PATTERNS for p in MODELS_DIR.glob(pattern)}
            - {MODELS_DIR / SMALL},
            key=lambda p: ("large" in p.name.lower(), p.name),  # medium first: twice as fast
        )
        return found[0] if found else None

    def available(self) -> tuple[bool, str]:
        path = self.find()
        if path is None:
            return False, (
                "no Orpheus checkpoint in models/ (put an official Orpheus_Music_Transformer"
                "_*.pth there, see models/README.md; orpheus-small needs none)"
            )
        if not path.is_file():
            return False, f"{path} is not a file"
        if importlib.util.find_spec("x_transformers") is None:  # asked, not imported: no torch
            return False, "x-transformers is not installed (pip install 'hoot[models]')"
        return True, f"{path.name}"

    # ---- the protocol -----------------------------------------------------------------

    def generate(self, request: Request) -> Take:
        for _, take in self.generate_batch([request], BatchProgress(1)):
            if isinstance(take, BaseException):
                raise take
            return take
        raise GeneratorError("the model made nothing")

    def generate_batch(
        self, requests: list[Request], progress: Any
    ) -> Iterator[tuple[int, Take | GeneratorError]]:
        """Each candidate as it is made: (its index, its Take), or (index, the error that
        fails it alone)."""
        from hoot.generate.orpheus.decode import Rules, sample, sample_speculative

        if not requests:
            return
        model = self.model(requests[0].device, progress)
        draft = self.draft(model)
        stats: dict[str, int] = {}
        plans = [mo.plan(r) for r in requests]
        for p in plans:
            p.prime = p.prime[-(model.config.get("max_seq_len", 8192) - p.max_new) :]
        started = time.perf_counter()
        todo = list(range(len(requests)))
        groups = [todo[:1], todo[1:]] if self._first_alone(model, todo) else [todo]
        made: dict[int, Any] = {}
        for group in groups:
            if not group:
                continue
            for tries in range(2):
                alive = [i for i in group if not progress.cancelled(i)]
                if not alive:
                    break
                asked = dict(
                    temperature=temperature_of(requests[alive[0]]),
                    top_p=TOP_P,
                    seed=requests[alive[0]].seed * 1009 + alive[0] + 7919 * tries,
                    on_step=lambda fractions, alive=alive: [
                        progress.update(i, 0.05 + 0.85 * f, "decoding")
                        for i, f in zip(alive, fractions)
                    ],
                    cancelled=lambda alive=alive: {
                        k for k, i in enumerate(alive) if progress.cancelled(i)
                    },
                )
                primes = [plans[i].prime for i in alive]
                rules = [
                    Rules(
                        plans[i].notes,
                        end_steps=plans[i].end_steps,
                        eos=False,
                        harmony=plans[i].harmony,
                        downbeat=plans[i].downbeat,
                    )
                    for i in alive
                ]
                longest = max(plans[i].max_new for i in alive)
                try:
                    if draft is None:
                        tokens = sample(model, primes, rules, longest, **asked)
                    else:
                        tokens, counts = sample_speculative(
                            draft, model, primes, rules, longest, DRAFT_TOKENS, **asked
                        )
                        for name, value in counts.items():
                            stats[name] = stats.get(name, 0) + int(value)
                except RuntimeError as error:  # torch's OutOfMemoryError is one too
                    raise self._failed(error, model, len(alive)) from None
                again = []
                for i, new in zip(alive, tokens):
                    if progress.cancelled(i):
                        continue
                    clip = mo.fit(plans[i], new)
                    fresh = clip is not None and mo.different_enough(
                        clip, list(made.values()), plans[i].role
                    )
                    if not fresh and tries == 0:
                        again.append(i)  # empty, or a copy of another: ask once more
                        continue
                    if clip is None:
                        yield (
                            i,
                            GeneratorError(
                                f"the model wrote no {plans[i].role} notes in two tries"
                            ),
                        )
                        continue
                    made[i] = clip
                    take = self._take(requests[i], plans[i], clip, new, model, started)
                    if stats:
                        take.params["speculative"] = dict(stats, draft=Path(draft.path).name)
                    yield i, take
                group = again
                if not group:
                    break

    # ---- the model ----------------------------------------------------------------------

    def model(self, device: str = "auto", progress: Any = None):
        """The model on `device`, loaded once (the pool keeps this object warm)."""
        from hoot.generate.orpheus.model import best_device, load

        where = best_device() if device in (None, "", "auto") else device
        if where not in self._models:
            path = self.find()
            if path is None:
                raise GeneratorError(self.available()[1])
            if progress is not None:
                progress.stage("loading model")
            began = time.perf_counter()
            model = load(path, device=where)
            self._models[where] = model
            if progress is not None:
                progress.loaded(
                    {
                        "name": self.name,
                        "path": str(path),
                        "device": str(model.device),
                        "dtype": str(model.dtype).replace("torch.", ""),
                        "bytes": int(model.bytes),
                        "params": int(model.params),
                        "seconds": round(time.perf_counter() - began, 3),
                    }
                )
        return self._models[where]

    def draft(self, model: Any):
        """hoot's small model as the draft for a big one on a CPU (None: decode alone)."""
        if not str(model.device).startswith("cpu") or model.config.get("dim", 0) <= 512:
            return None
        small = SmallOrpheusGenerator()
        if small.find() is None:
            return None
        return small.model("cpu")  # not reported as loaded: it serves the big one

    def unload(self) -> None:
        self._models.clear()

    def _failed(self, error: RuntimeError, model: Any, n: int) -> GeneratorError:
        """One sentence for a device that gave out mid-batch; the model is dropped, so the
        next batch loads it afresh (on the device then asked for)."""
        device = str(model.device)
        self._models = {k: m for k, m in self._models.items() if m is not model}
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "out of memory" in first.lower():
            return GeneratorError(
                f"{self.name} ran out of memory on {device} decoding {n} candidate"
                f"{'s' if n != 1 else ''}: ask for fewer (n=3), or perf.model_device = 'cpu'"
            )
        return GeneratorError(
            f"{self.name} failed on {device} while decoding ({first[:120]}); it is unloaded "
            "and the next batch loads it again"
        )

    def _first_alone(self, model: Any, todo: list[int]) -> bool:
        return len(todo) > 2 and str(model.device).startswith("cpu")

    def _take(self, request, p, clip, new, model, started) -> Take:
        return Take(
            notes=clip,
            params={
                "generator": self.name,
                "model": Path(str(model.path)).name,
                "device": str(model.device),
                "role": p.role,
                "patch": p.patch,
                "prime_tokens": len(p.prime),
                "tokens": len(new),
                "bars_made": p.made_bars,
                "key": str(p.moment.key),
                "chords": [c.name for c in p.moment.progression],
                "temperature": round(temperature_of(request), 3),
                "seconds_decoding": round(time.perf_counter() - started, 3),
                "notes_per_bar": round(len(clip) / p.moment.grid.bars, 2),
            },
        )


class SmallOrpheusGenerator(OrpheusGenerator):
    """hoot's own model in Orpheus's format (models/orpheus-hoot.pth, made by
    models/train_orpheus.py): no download, fast enough on a laptop's CPU."""

    name = "orpheus-small"

    def find(self) -> Path | None:
        if self.checkpoint is not None:
            return self.checkpoint
        path = MODELS_DIR / SMALL
        return path if path.is_file() else None

    def available(self) -> tuple[bool, str]:
        if self.find() is None:
            return False, f"{SMALL} is missing from models/ (models/train_orpheus.py makes it)"
        if importlib.util.find_spec("x_transformers") is None:  # asked, not imported: no torch
            return False, "x-transformers is not installed (pip install 'hoot[models]')"
        return True, "embedded (hoot's own, no download)"
