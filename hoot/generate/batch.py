"""Batches of candidates, as the performer sees them, and the picker that holds them.

`perf.generate("bass", n=6)` returns a Batch at once; its Candidates render in the
worker pool and move from "pending" through "rendering" to "ready" (or "failed",
with a reason). Candidates are numbered from 1, as the picker shows them and as pads
are laid out: `batch[1]` is the first, `perf.pick("bass", 3)` the third.

Where their files go, and why. A batch is six stems of several MB each, and on the
project's machines writing files to disk makes the audio late (benchmarks/io_floor.py).
So a candidate's audio is rendered into the spool, a folder in memory (hoot.runtime),
and only its notes and metadata (a few KB) go to the session's stems/ folder. A
candidate the performer picks is copied into stems/ in the background, so the set's
choices are kept. Every batch's manifest is kept in `batches/<id>.json`; a session
reloaded tomorrow offers the same candidates: audio from the session or the spool where
it still is, and otherwise rendered again from their notes when picked.

After a tempo change, the candidates that play or wait in the queue are rendered again
from their notes at the new tempo ("retakes", first in the pool's queue) and take over
at the start of their loop's next turn, so every loop stays whole.

A batch goes to the pool whole (`submit_batch`): a model generator's candidates are
decoded together in the model worker, while a model loads each shows the stage
"loading model", and each is rendered as soon as it is decoded.
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from hoot.errors import HootError
from hoot.generate.base import Request

SPOOL_BYTES = 768 << 20
"""The most generated audio kept in the spool (memory). Older candidates that were not
picked leave it first; picked one again, they are rendered again from their notes."""


class Status(StrEnum):
    """Where a candidate is: "pending", "rendering", "ready" or "failed"."""

    PENDING = "pending"
    RENDERING = "rendering"
    READY = "ready"
    FAILED = "failed"


SETTLED = (Status.READY, Status.FAILED)


class NoSuchCandidate(HootError, IndexError):
    """A pick outside a batch (an IndexError too, so iteration works)."""


class PickerHost(Protocol):
    """What the picker needs from the performance: the engine, the clock, a voice."""

    def load(self, c: Candidate, path: Path, stem_id: str) -> None: ...

    def unload(self, stem_id: str) -> None: ...

    def start(self, c: Candidate, at: str | int) -> int: ...

    def swap(self, c: Candidate, path: Path, stem_id: str) -> int | None: ...

    def unqueue(self, c: Candidate) -> bool: ...

    def players(self) -> dict[str, tuple[str, int]]: ...

    def bar_of(self, sample: int) -> int: ...

    def say(self, message: str) -> None: ...


def candidate_of(stem_id: str) -> str:
    """The candidate name a stem id in the engine belongs to ("bass-1-3@130" -> "bass-1-3")."""
    return stem_id.split("@", 1)[0]


class Candidate:
    """One generated variation, numbered from 1 in its batch. `queue()` it to hear it at
    the next phrase."""

    def __init__(self, batch: Batch, index: int, request: Request) -> None:
        self.batch = batch
        self.index = index  # from 0, for code; `number` is what the performer sees
        self.request = request
        self.name = f"{batch.id}-{index + 1}"
        self.status = Status.PENDING
        self.reason: str | None = None
        self.progress = 0.0
        self.stage = ""
        self.meta: dict[str, Any] = {}
        self.queued: int | None = None  # the sample it was last queued to start at, if any
        self.wants_queue: str | int | None = None  # queue() asked before it was ready
        self.kept: Path | None = None  # its audio in the session's stems/, once picked
        # the take that plays: the first render, or a retake at a later tempo
        self.take_bpm = request.bpm
        self.take_id = self.name
        self._settled = threading.Event()

    # ---- what it is --------------------------------------------------------------------

    @property
    def number(self) -> int:
        """Its number in the batch, from 1, as the picker and the pads show it."""
        return self.index + 1

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
        """Its audio as first made: kept in the session once picked, else in the spool."""
        if self.kept is not None:
            return self.kept
        return self.batch.picker.spool / f"{self.name}.wav"

    @property
    def mid(self) -> Path:
        return self.batch.folder / f"{self.name}.mid"

    @property
    def take_path(self) -> Path:
        """The audio file of the take that plays (see `take_bpm`)."""
        if self.take_id == self.name:
            return self.wav
        return self.batch.picker.spool / f"{self.take_id}.wav"

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

        if self.status is not Status.READY or not self.wav.exists():
            return None
        return sf.read(str(self.wav), dtype="float32", always_2d=True)[0]

    # ---- what a performer does with it ------------------------------------------------

    def queue(self, at: str | int = "phrase") -> int | None:
        """Play it on its role's track from the next phrase boundary (or "bar", "beat", a sample).
        Not ready yet: it starts at the first boundary after it is ready, never half-made.
        Returns the start sample, or None when it will start later."""
        return self.batch.picker.queue(self, at)

    def unqueue(self) -> bool:
        """Take it back out of the queue before it starts (what was playing plays on).
        Returns True if it was waiting to start."""
        return self.batch.picker.unqueue(self)

    def cancel(self) -> None:
        """Stop making it, if it is not ready yet: it fails as "cancelled"; the rest of its
        batch goes on."""
        if self.status not in SETTLED:
            self.batch.picker.pool.cancel(f"{self.batch.id}/{self.index}")

    def wait(self, timeout: float | None = None) -> Candidate:
        """Block until it is ready or failed (or `timeout` seconds pass); returns itself."""
        self._settled.wait(timeout)
        return self

    def export(self, folder: str | Path) -> list[Path]:
        """Copy its WAV and MIDI (and metadata) into `folder`; returns the new files."""
        if self.status is not Status.READY or not self.wav.exists():
            raise HootError(f"{self.label} is {self.status}; export it once it is ready")
        dest = Path(folder).expanduser()
        dest.mkdir(parents=True, exist_ok=True)
        out = []
        for src in (self.wav, self.mid, self.mid.with_suffix(".json")):
            if src.exists():
                out.append(Path(shutil.copy2(src, dest / src.name)))
        return out

    @property
    def label(self) -> str:
        return f"{self.role} #{self.number}"

    def where(self) -> tuple[str, int] | None:
        """("playing" or "queued", start sample) while the engine plays it or waits to."""
        return self.batch.picker.sounding(self)

    def __repr__(self) -> str:
        extra = ""
        if self.status is Status.RENDERING:
            extra = f" {self.progress:.0%}"
            if self.stage and self.stage != "rendering":
                extra += f" ({self.stage})"
        elif self.status is Status.FAILED:
            extra = f": {self.reason}"
        elif self.status is Status.READY:
            try:
                found = self.where()
            except HootError:
                found = None
            if found is not None:
                state, start = found
                bar = self.batch.picker.host.bar_of(start)
                extra = f", playing since bar {bar}" if state == "playing" else (
                    f", queued for bar {bar}")  # fmt: skip
        shown = "rendering" if self.status is Status.RENDERING else str(self.status)
        return (
            f"<{self.label} {shown}{extra}, seed {self.seed}, "
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
            "kept": str(self.kept) if self.kept else None,
        }


class Batch:
    """The candidates of one `perf.generate(...)` call, numbered from 1 as on screen:
    `batch[1]` is the first (batch[-1] the last); `for c in batch` walks them all."""

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

    def __getitem__(self, number: int) -> Candidate:
        if isinstance(number, bool) or not isinstance(number, int):
            raise NoSuchCandidate(f"candidates are numbered: {self.role} batch[1] is the first")
        n = len(self.candidates)
        if number == 0 or not -n <= number <= n:
            raise NoSuchCandidate(
                f"this {self.role} batch has candidates 1 to {n} (numbered from 1, as on "
                f"screen): {self.role} #{number} is not one of them"
            )
        return self.candidates[number - 1 if number > 0 else number]

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
        r = self.request
        lines = [
            f"<Batch {self.id}: {len(self)} {self.role} candidates by {self.generator}, "
            f"{r.bars} bars of {r.meter} at {r.bpm:g} BPM in {r.key}>"
        ]
        lines += [f"  [{c.number}] {c!r}" for c in self.candidates]
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

    def __init__(self, session, host: PickerHost, workers: int | None = None) -> None:
        from hoot import runtime
        from hoot.generate.pool import WorkerPool

        self.session = session
        self.host = host
        self.stems: Path = session.stems
        self.batches_dir: Path = session.dir / "batches"
        runtime.clean(keep=runtime.spool_dir(session.dir))
        self.spool = runtime.spool_dir(session.dir)
        runtime.hold(self.spool)
        self.pool = WorkerPool(workers, on_event=self._on_event)
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hoot-preload")
        self.latest: dict[str, Batch] = {}
        self.history: list[Batch] = []
        self._tasks: dict[str, Candidate] = {}
        self._retakes: dict[str, tuple[Candidate, float, bool]] = {}
        self._counter = itertools.count(1)
        self._lock = threading.RLock()
        self.bpm: float | None = None  # the tempo of now, once perf has told us one
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

    def sounding(self, c: Candidate) -> tuple[str, int] | None:
        """How the engine has `c` (any take of it): ("playing" or "queued", start), or None."""
        for stem_id, found in self.host.players().items():
            if candidate_of(stem_id) == c.name:
                return found
        return None

    def candidate(self, stem_id: str) -> Candidate | None:
        """The candidate a stem id in the engine plays (any take of it)."""
        name = candidate_of(stem_id)
        with self._lock:
            for batch in reversed(self.history):
                if name.startswith(batch.id + "-"):
                    return next((c for c in batch if c.name == name), None)
        return None

    # ---- making ---------------------------------------------------------------------------

    def new_batch(self, request: Request, generator: str) -> Batch:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        batch_id = f"{request.role}-{stamp}-{next(self._counter)}"
        batch = Batch(self, batch_id, request, generator, self.stems)
        with self._lock:
            superseded = self.latest.get(request.role)
            self.latest[request.role] = batch
            self.history.append(batch)
            for c in batch.candidates:
                self._tasks[f"{batch.id}/{c.index}"] = c
        self._save(batch)
        self.pool.submit_batch([self._task(c) for c in batch.candidates])
        if superseded is not None:
            self._background.submit(self._let_go, superseded)
        return batch

    def _task(self, c: Candidate, retake: dict | None = None) -> dict:
        task = {
            "id": f"{c.batch.id}/{c.index}",
            "generator": c.batch.generator,
            "request": c.request.to_dict(),
            "folder": str(self.stems),
            "audio_folder": str(self.spool),
            "name": c.name,
        }
        if retake is not None:
            task["id"] += f"@{retake['bpm']:g}"
            task["retake"] = retake
        return task

    def queue(self, c: Candidate, at: str | int) -> int | None:
        if c.status is Status.FAILED:
            raise HootError(f"{c.label} failed ({c.reason}); pick another")
        with self._lock:  # readiness and this request must not cross
            later = c.status is not Status.READY
            if later:
                c.wants_queue = at
        if later:
            self.host.say(
                f"{c.label} is still {c.status}; it will start at the first "
                f"{at if isinstance(at, str) else 'phrase'} after it is ready"
            )
            return None
        if not c.take_path.exists():  # its audio left the spool: render it again first
            if self._retake(c, self.bpm or c.request.bpm, start=at):
                self.host.say(f"{c.label} is being rendered again; it starts once it is made")
                return None
            raise HootError(f"{c.label}'s audio is gone and it has no notes to render again")
        c.queued = self.host.start(c, at)
        self._notify(c)
        self._background.submit(self._keep, c)
        if self.bpm is not None and abs(c.take_bpm - self.bpm) > 1e-6:
            self._retake(c, self.bpm)  # made at another tempo: a take at this one takes over
        return c.queued

    def unqueue(self, c: Candidate) -> bool:
        """Take a queued (not yet playing) candidate back out of the queue."""
        with self._lock:
            if c.wants_queue is not None:
                c.wants_queue = None
                return True
        return self.host.unqueue(c)

    def follow_tempo(self, bpm: float) -> None:
        """The tempo changed: render what plays or waits of ours again at `bpm`."""
        self.bpm = float(bpm)
        try:
            sounding = self.host.players()
        except HootError:
            return
        for stem_id in sounding:
            c = self.candidate(stem_id)
            if c is not None and abs(c.take_bpm - self.bpm) > 1e-6:
                self._retake(c, self.bpm)

    def _retake(self, c: Candidate, bpm: float, start: str | int | None = None) -> bool:
        """Render `c` again from its notes at `bpm`; when done it replaces the take that
        plays (or, with `start`, is queued then). False when it has no notes."""
        if not c.mid.exists():
            return False
        take_id = f"{c.name}@{bpm:g}"
        task = self._task(c, {"bpm": bpm, "mid": str(c.mid), "name": take_id})
        with self._lock:
            if task["id"] in self._retakes:
                return True
            self._retakes[task["id"]] = (c, bpm, start)
            if start is not None:
                c.wants_queue = start
        self.pool.submit(task, first=True)
        return True

    def close(self) -> None:
        self.pool.close()
        self._background.shutdown(wait=True, cancel_futures=True)

    # ---- events from the pool's dispatcher thread ----------------------------------------

    def _on_event(self, kind: str, task_id: str, *details: Any) -> None:
        if task_id in self._retakes:
            self._on_retake(kind, task_id, *details)
            return
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
            self._background.submit(self._ready, c)
        elif kind == "failed":
            c._settle(Status.FAILED, str(details[0]))
            if c.wants_queue is not None:
                c.wants_queue = None
                self.host.say(f"{c.label} failed ({c.reason}), so it will not start")
        if kind in ("done", "failed") and c.batch.settled:
            self._background.submit(self._settled, c.batch)
        self._notify(c)

    def _on_retake(self, kind: str, task_id: str, *details: Any) -> None:
        if kind not in ("done", "failed"):
            return
        with self._lock:
            c, bpm, start = self._retakes.pop(task_id)
        if kind == "failed":
            if start is not None:
                c.wants_queue = None
            self.host.say(
                f"{c.label} could not be rendered at {bpm:g} BPM ({details[0]}); "
                "it plays on as it was"
            )
            return
        self._background.submit(self._take_over, c, bpm, start)

    def _take_over(self, c: Candidate, bpm: float, start: str | int | None) -> None:
        """A retake is made: it becomes the candidate's take, and replaces the old one in the
        engine (or starts, if the performer was waiting for it). Runs on the background thread."""
        if self.bpm is not None and abs(bpm - self.bpm) > 1e-6 and start is None:
            return  # the tempo moved on again; a newer retake is on its way
        take_id = f"{c.name}@{bpm:g}"
        path = self.spool / f"{take_id}.wav"
        try:
            if start is not None:
                with self._lock:
                    at, c.wants_queue = c.wants_queue, None
                c.take_id, c.take_bpm = take_id, bpm
                if at is not None:
                    c.queued = self.host.start(c, at)
                    self.host.say(f"{c.label} starts at bar {self.host.bar_of(c.queued)}")
            else:
                self.host.swap(c, path, take_id)
                c.take_id, c.take_bpm = take_id, bpm
        except HootError as e:
            self.host.say(f"{c.label} at {bpm:g} BPM could not take over: {e}")
        self._notify(c)

    def _ready(self, c: Candidate) -> None:
        """Load a ready candidate into the engine (so a pick is instant), and start it if the
        performer asked for it before it was ready. Runs on the background thread."""
        if self.latest.get(c.role) is not c.batch and c.wants_queue is None:
            return  # a newer batch took its place: load it if it is picked
        try:
            self.host.load(c, c.wav, c.name)
        except HootError as e:
            c._settle(Status.FAILED, f"the engine could not load it: {e}")
            self._notify(c)
            return
        with self._lock:
            at, c.wants_queue = c.wants_queue, None
        if at is not None:
            try:
                self.queue(c, at)
                if c.queued is not None:
                    self.host.say(f"{c.label} is ready and starts at bar "
                                  f"{self.host.bar_of(c.queued)}")  # fmt: skip
            except HootError as e:
                self.host.say(f"{c.label} is ready but could not be queued: {e}")
            self._notify(c)

    def _settled(self, batch: Batch) -> None:
        self._save(batch)
        self._trim_spool()

    def _keep(self, c: Candidate) -> None:
        """A picked candidate's audio belongs to the set: copy it into the session."""
        if c.kept is not None:
            return
        src = self.spool / f"{c.name}.wav"
        dest = self.stems / f"{c.name}.wav"
        try:
            if src.exists():
                shutil.copyfile(src, dest)  # its JSON (bars, tempo) is in stems/ already
                c.kept = dest
                self._save(c.batch)
        except OSError as e:
            self.host.say(f"{c.label} could not be kept in the session ({e}); it plays anyway")

    def _let_go(self, batch: Batch) -> None:
        """A newer batch took this one's place in the picker: the engine frees the memory of
        its candidates (one that plays keeps playing; picked again, it is loaded again)."""
        try:
            sounding = self.host.players()
        except HootError:
            return
        for c in batch:
            if c.status is Status.READY and c.take_id not in sounding:
                self.host.unload(c.take_id)

    def _trim_spool(self, budget: int = SPOOL_BYTES) -> None:
        """Keep the spool within `budget` bytes: the oldest audio of batches that are no
        longer the latest of their role leaves first (never a take that plays)."""
        try:
            files = sorted(self.spool.glob("*.wav"), key=lambda p: p.stat().st_mtime)
            total = sum(p.stat().st_size for p in files)
        except OSError:
            return
        if total <= budget:
            return
        with self._lock:
            latest = {c.name for b in self.latest.values() for c in b}
        try:
            sounding = {candidate_of(s) for s in self.host.players()}
        except HootError:
            return
        for path in files:
            if total <= budget:
                break
            name = candidate_of(path.stem)
            if name in latest or name in sounding:
                continue
            try:
                size = path.stat().st_size
                path.unlink()
                total -= size
            except OSError:
                continue

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
                    if saved.get("kept") and Path(saved["kept"]).exists():
                        c.kept = Path(saved["kept"])
                    elif (self.stems / f"{c.name}.wav").exists():  # sessions before the spool
                        c.kept = self.stems / f"{c.name}.wav"
                    playable = c.wav.exists() or c.mid.exists()
                    if saved["status"] == "ready" and playable:
                        c._settle(Status.READY)
                    elif saved["status"] == "failed":
                        c._settle(Status.FAILED, saved.get("reason"))
                    elif saved["status"] == "ready":
                        c._settle(Status.FAILED, "its files are gone")
                    else:
                        c._settle(Status.FAILED, "interrupted: hoot stopped before it was made")
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a damaged manifest costs that batch, not the session
            self.latest[batch.role] = batch
            self.history.append(batch)
            for c in batch.candidates:
                self._tasks[f"{batch.id}/{c.index}"] = c
