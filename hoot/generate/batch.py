"""Batches of candidates, as the performer sees them, and the picker that holds them.

`perf.generate("bass", n=6)` returns a Batch at once; its Candidates render in the
worker pool and move from "pending" through "rendering" to "ready" (or "failed",
with a reason). Every batch is kept in the session folder (`batches/<id>.json`, and
each candidate's WAV, MIDI and JSON in `stems/`), so a session reloaded tomorrow
offers the same candidates.
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import Any

from hoot.errors import HootError
from hoot.generate.base import Request


class Status(StrEnum):
    """Where a candidate is: "pending", "rendering", "ready" or "failed"."""

    PENDING = "pending"
    RENDERING = "rendering"
    READY = "ready"
    FAILED = "failed"


SETTLED = (Status.READY, Status.FAILED)


class NoSuchCandidate(HootError, IndexError):
    """A pick past the end of a batch (an IndexError too, so iteration works)."""


class Candidate:
    """One generated variation. `queue()` it to hear it at the next phrase."""

    def __init__(self, batch: Batch, index: int, request: Request) -> None:
        self.batch = batch
        self.index = index
        self.request = request
        self.name = f"{batch.id}-{index + 1}"
        self.status = Status.PENDING
        self.reason: str | None = None
        self.progress = 0.0
        self.stage = ""
        self.meta: dict[str, Any] = {}
        self.queued: int | None = None  # the sample it was queued to start at, if any
        self.wants_queue: str | int | None = None  # queue() asked before it was ready
        self._settled = threading.Event()

    # ---- what it is --------------------------------------------------------------------

    @property
    def role(self) -> str:
        return self.request.role

    @property
    def seed(self) -> int:
        return self.request.seed

    @property
    def params(self) -> dict:
        """Everything it was made from: the request and what the generator chose."""
        return {**self.request.to_dict(), **self.meta.get("params", {})}

    @property
    def wav(self) -> Path:
        return self.batch.folder / f"{self.name}.wav"

    @property
    def mid(self) -> Path:
        return self.batch.folder / f"{self.name}.mid"

    @property
    def notes(self):
        """Its MIDI notes (a NoteClip) once ready, or None for an audio-only candidate."""
        from hoot.music.clip import NoteClip

        if self.status is not Status.READY or not self.mid.exists():
            return None
        return NoteClip.read_midi(self.mid, length=self.request.beats)

    @property
    def audio(self):
        """Its audio (frames x 2 float32) once ready."""
        import soundfile as sf

        if self.status is not Status.READY:
            return None
        return sf.read(str(self.wav), dtype="float32", always_2d=True)[0]

    # ---- what a performer does with it ------------------------------------------------

    def queue(self, at: str | int = "phrase") -> int | None:
        """Play it on its role's track from the next phrase boundary (or "bar", "beat", a sample).
        Not ready yet: it starts at the first boundary after it is ready, never half-made.
        Returns the start sample, or None when it will start later."""
        return self.batch.picker.queue(self, at)

    def wait(self, timeout: float | None = None) -> Candidate:
        """Block until it is ready or failed (or `timeout` seconds pass); returns itself."""
        self._settled.wait(timeout)
        return self

    def export(self, folder: str | Path) -> list[Path]:
        """Copy its WAV and MIDI (and metadata) into `folder`; returns the new files."""
        if self.status is not Status.READY:
            raise HootError(f"{self.label} is {self.status}; export it once it is ready")
        dest = Path(folder).expanduser()
        dest.mkdir(parents=True, exist_ok=True)
        out = []
        for src in (self.wav, self.mid, self.wav.with_suffix(".json")):
            if src.exists():
                out.append(Path(shutil.copy2(src, dest / src.name)))
        return out

    @property
    def label(self) -> str:
        return f"{self.role} #{self.index + 1}"

    def __repr__(self) -> str:
        extra = ""
        if self.status is Status.RENDERING:
            extra = f" {self.progress:.0%} {self.stage}"
        elif self.status is Status.FAILED:
            extra = f": {self.reason}"
        elif self.queued is not None:
            extra = " (queued)"
        return (
            f"<{self.label} {self.status}{extra}, seed {self.seed}, "
            f"{self.request.bars} bars {self.request.key}>"
        )

    # ---- updates from the pool (picker thread) ------------------------------------------

    def _settle(self, status: Status, reason: str | None = None) -> None:
        self.status = status
        self.reason = reason
        self.progress = 1.0 if status is Status.READY else self.progress
        self._settled.set()

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "meta": self.meta,
        }


class Batch(Sequence[Candidate]):
    """The candidates of one `perf.generate(...)` call, list-like: `batch[2].queue()`."""

    def __init__(
        self, picker: Picker, batch_id: str, request: Request, generator: str, folder: Path
    ) -> None:
        self.picker = picker
        self.id = batch_id
        self.request = request
        self.generator = generator
        self.folder = folder
        self.created = time.time()
        self.deadline: int | None = None  # by="phrase": the sample it should be ready by
        self.candidates = [Candidate(self, i, request.candidate(i)) for i in range(request.n)]

    @property
    def role(self) -> str:
        return self.request.role

    def __getitem__(self, i):  # type: ignore[override]
        try:
            return self.candidates[i]
        except IndexError:
            raise NoSuchCandidate(
                f"this {self.role} batch has {len(self)} candidates: pick 0 to {len(self) - 1}"
            ) from None

    def __len__(self) -> int:
        return len(self.candidates)

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self.candidates)

    def wait(self, timeout: float | None = None) -> Batch:
        """Block until every candidate is ready or failed (or `timeout` seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for c in self.candidates:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            c.wait(left)
        return self

    def cancel(self) -> None:
        """Stop making the candidates that are not ready yet; they fail as "cancelled"."""
        for c in self.candidates:
            if c.status not in SETTLED:
                self.picker.pool.cancel(f"{self.id}/{c.index}")

    @property
    def ready(self) -> list[Candidate]:
        return [c for c in self.candidates if c.status is Status.READY]

    @property
    def settled(self) -> bool:
        return all(c.status in SETTLED for c in self.candidates)

    def __repr__(self) -> str:
        lines = [
            f"<Batch {self.id}: {len(self)} {self.role} candidates by {self.generator}, "
            f"{self.request.bars} bars at {self.request.bpm:g} BPM in {self.request.key}>"
        ]
        lines += [f"  [{c.index}] {c!r}" for c in self.candidates]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "generator": self.generator,
            "created": self.created,
            "request": self.request.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
        }


class Picker:
    """The latest batch for each role, and the pool that makes them: `perf.picker["bass"]`."""

    def __init__(
        self,
        stems: Path,
        batches: Path,
        load: Callable[[Candidate], None],
        start: Callable[[Candidate, str | int], int],
        say: Callable[[str], None],
        workers: int | None = None,
    ) -> None:
        from hoot.generate.pool import WorkerPool

        self.stems = stems
        self.batches_dir = batches
        self._load, self._start, self._say = load, start, say
        self.pool = WorkerPool(workers, on_event=self._on_event)
        self._preload = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hoot-preload")
        self.latest: dict[str, Batch] = {}
        self.history: list[Batch] = []
        self._tasks: dict[str, Candidate] = {}
        self._counter = itertools.count(1)
        self._lock = threading.RLock()
        self.listeners: list[Callable[[Candidate], None]] = []  # e.g. the UI, a controller
        self._restore()

    # ---- reading ---------------------------------------------------------------------------

    def __getitem__(self, role: str) -> Batch:
        try:
            return self.latest[role]
        except KeyError:
            raise HootError(f"no {role} batch yet: perf.generate({role!r}) makes one") from None

    def __iter__(self) -> Iterator[Batch]:
        return iter(self.latest.values())

    def __len__(self) -> int:
        return len(self.latest)

    def __repr__(self) -> str:
        if not self.latest:
            return "<Picker: empty; perf.generate('bass') makes a batch>"
        return "\n".join(repr(b) for b in self.latest.values())

    @property
    def newest(self) -> Batch:
        if not self.history:
            raise HootError("nothing generated yet: perf.generate('bass') makes a batch")
        return self.history[-1]

    # ---- making ---------------------------------------------------------------------------

    def new_batch(self, request: Request, generator: str) -> Batch:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        batch_id = f"{request.role}-{stamp}-{next(self._counter)}"
        batch = Batch(self, batch_id, request, generator, self.stems)
        with self._lock:
            self.latest[request.role] = batch
            self.history.append(batch)
            for c in batch.candidates:
                self._tasks[f"{batch.id}/{c.index}"] = c
        self._save(batch)
        for c in batch.candidates:
            self.pool.submit(
                {
                    "id": f"{batch.id}/{c.index}",
                    "generator": generator,
                    "request": c.request.to_dict(),
                    "folder": str(self.stems),
                    "name": c.name,
                }
            )
        return batch

    def queue(self, c: Candidate, at: str | int) -> int | None:
        if c.status is Status.FAILED:
            raise HootError(f"{c.label} failed ({c.reason}); pick another")
        with self._lock:  # readiness and this request must not cross
            later = c.status is not Status.READY
            if later:
                c.wants_queue = at
        if later:
            self._say(
                f"{c.label} is still {c.status}; it will start at the first "
                f"{at if isinstance(at, str) else 'phrase'} after it is ready"
            )
            return None
        c.queued = self._start(c, at)
        self._notify(c)
        return c.queued

    def close(self) -> None:
        self.pool.close()
        self._preload.shutdown(wait=True, cancel_futures=True)

    # ---- events from the pool's dispatcher thread ----------------------------------------

    def _on_event(self, kind: str, task_id: str, *details: Any) -> None:
        c = self._tasks.get(task_id)
        if c is None:
            return
        if kind == "started":
            c.status = Status.RENDERING
        elif kind == "progress":
            c.status = Status.RENDERING
            c.progress, c.stage = float(details[0]), str(details[1])
        elif kind == "done":
            c.meta = details[0]
            with self._lock:
                c._settle(Status.READY)
            self._preload.submit(self._ready, c)
        elif kind == "failed":
            c._settle(Status.FAILED, str(details[0]))
            if c.wants_queue is not None:
                c.wants_queue = None
                self._say(f"{c.label} failed ({c.reason}), so it will not start")
        if kind in ("done", "failed"):
            self._save(c.batch)
        self._notify(c)

    def _ready(self, c: Candidate) -> None:
        """Load a ready candidate into the engine (so a pick is instant), and start it if the
        performer asked for it before it was ready. Runs on the preload thread."""
        try:
            self._load(c)
        except HootError as e:
            c._settle(Status.FAILED, f"the engine could not load it: {e}")
            self._save(c.batch)
            self._notify(c)
            return
        with self._lock:
            at, c.wants_queue = c.wants_queue, None
        if at is not None:
            try:
                c.queued = self._start(c, at)
                self._say(f"{c.label} is ready and starts at sample {c.queued}")
            except HootError as e:
                self._say(f"{c.label} is ready but could not be queued: {e}")
            self._notify(c)

    def _notify(self, c: Candidate) -> None:
        for listener in list(self.listeners):
            try:
                listener(c)
            except Exception:  # noqa: BLE001 - a broken listener must not stop generation
                pass

    # ---- persistence ----------------------------------------------------------------------

    def _save(self, batch: Batch) -> None:
        from hoot.session import atomic_write

        self.batches_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.batches_dir / f"{batch.id}.json", json.dumps(batch.to_dict(), indent=1))

    def _restore(self) -> None:
        """Offer the batches a previous run of this session made."""
        if not self.batches_dir.is_dir():
            return
        manifests = sorted(self.batches_dir.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for path in manifests:
            try:
                data = json.loads(path.read_text())
                batch = Batch(
                    self,
                    data["id"],
                    Request.from_dict(data["request"]),
                    data["generator"],
                    self.stems,
                )
                batch.created = data.get("created", batch.created)
                for saved, c in zip(data["candidates"], batch.candidates):
                    c.meta = saved.get("meta") or {}
                    if saved["status"] == "ready" and c.wav.exists():
                        c._settle(Status.READY)
                    elif saved["status"] == "failed":
                        c._settle(Status.FAILED, saved.get("reason"))
                    else:
                        c._settle(Status.FAILED, "interrupted: hoot stopped before it was made")
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a damaged manifest costs that batch, not the session
            self.latest[batch.role] = batch
            self.history.append(batch)
