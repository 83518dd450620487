"""The worker pool: generation and rendering in separate processes, off the critical path.

Workers are started with `spawn` (a clean interpreter: no inherited threads, locks or
audio streams) and warmed up by importing the generators once. Each worker talks to the
pool over its own pipe, so when one dies (a crash, a kill, a model that segfaults), the
pool knows exactly which candidate it was making: that candidate fails with the reason, a
new worker takes its place, and every other candidate and the music go on. Pipes, not
multiprocessing queues: a queue is backed by a named semaphore in /dev/shm that a killed
process leaves behind, a pipe by nothing that outlives its processes.

Two kinds of task. A "take" generates a candidate: notes (and/or audio) from a generator,
rendered and loudness-matched. A "retake" renders a candidate's saved notes again at
another tempo, for a loop that must stay whole after a tempo change. Both write the audio
into `task["audio_folder"]` (the spool in memory: see hoot.runtime) and the small MIDI and
JSON files into `task["folder"]` (the session's stems/).

Events reach the owner through `on_event(kind, task_id, *details)` from the pool's
dispatcher thread: "started", "progress" (fraction, stage), "done" (metadata),
"failed" (reason).

Warm generators (a model: `warm = True`, see hoot.generate.base) get a third way: the
whole batch goes to ONE model worker, a process of its own started when first needed,
which keeps each model loaded between batches (keyed by generator and device: Orpheus-
medium takes ~10 s and 1 GB to load, a batch of six 8-bar stems ~1 s to decode on a GPU).
It only makes takes; each take, as soon as it is made, goes to the ordinary workers first
in their queue to be rendered, so candidate k renders while k+1 decodes. Cancel reaches it
as a message on its pipe, read between decoding steps; if it dies, its unfinished
candidates fail with one sentence and the next batch starts a new one.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

EventFn = Callable[..., None]


def _start_resource_tracker() -> None:
    """Spawning a process starts multiprocessing's resource tracker, passing it sys.stderr's
    file descriptor; under a TUI (or the console's routing stream) stderr is a capture
    object without a usable one. Start it with the real stderr."""
    import sys
    from multiprocessing import resource_tracker

    saved = sys.stderr
    try:
        try:
            ok = saved.fileno() >= 0
        except (AttributeError, OSError, ValueError):
            ok = False
        if not ok:
            sys.stderr = sys.__stderr__
        resource_tracker.ensure_running()
    finally:
        sys.stderr = saved


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class _Worker:
    def __init__(self, ctx, target: Callable | None = None, name: str = "hoot-generate") -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=target or worker_main, args=(child,), daemon=True, name=name
        )
        self.process.start()
        child.close()
        self.current: str | None = None

    def send(self, task: dict | None) -> None:
        try:
            self.conn.send(task)
        except (OSError, ValueError):
            pass  # a dead worker: the dispatcher sees it and replaces it

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=2)
        self.conn.close()


class WorkerPool:
    """`workers` processes making candidates; `submit` tasks, get events back."""

    def __init__(self, workers: int | None = None, on_event: EventFn | None = None) -> None:
        self.size = workers or default_workers()
        self.on_event = on_event or (lambda *a: None)
        self._ctx = mp.get_context("spawn")
        _start_resource_tracker()
        self._workers: list[_Worker] = []
        self._pending: deque[dict] = deque()
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._running = False
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()  # set once every worker has warmed up
        self._warm = 0
        self._first: deque[dict] = deque()  # retakes and takes: before any new candidate
        # the model worker: started when a warm generator is first asked
        self._model: _Worker | None = None
        self._outbox: deque[tuple] = deque()  # for the model worker, sent by the dispatcher
        self._model_tasks: dict[str, dict] = {}  # sent to it, neither taken nor failed yet
        self._model_cancelled: set[str] = set()
        self._sent: set[str] = set()  # of those, the ones the running model worker has
        self._models: dict[str, dict] = {}
        self._probes: dict[int, tuple[threading.Event, dict]] = {}
        self._probe_ids = 0

    def start(self) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
            self._workers = [_Worker(self._ctx) for _ in range(self.size)]
        self._thread = threading.Thread(target=self._dispatch, daemon=True, name="hoot-pool")
        self._thread.start()

    def submit(self, task: dict, first: bool = False) -> None:
        """Queue a task: {"id", "generator", "request" (dict), "folder", "audio_folder",
        "name"}, and for a retake "retake": {"bpm", "mid", "name"}. `first` puts it ahead of
        the waiting ones (a loop that plays now matters more than a new batch)."""
        self.start()
        with self._lock:
            (self._first if first else self._pending).append(task)

    def submit_batch(self, tasks: list[dict]) -> None:
        """Queue the candidates of one batch (tasks as for `submit`, one generator): a warm
        generator's go to the model worker together, any other's one by one as before."""
        if not tasks:
            return
        from hoot.generate.base import is_warm

        if not is_warm(tasks[0]["generator"]):
            for task in tasks:
                self.submit(task)
            return
        self.start()
        with self._lock:
            for task in tasks:
                self._model_tasks[task["id"]] = task
            self._outbox.append(("batch", {"generator": tasks[0]["generator"], "tasks": tasks}))

    def cancel(self, task_id: str) -> None:
        """Cancel a task: dropped if waiting; its worker is replaced if it is running; the
        model worker is told, and stops spending steps on it."""
        with self._lock:
            if task_id in self._model_tasks:
                self._model_cancelled.add(task_id)
                self._outbox.append(("cancel", task_id))
            else:
                self._cancelled.add(task_id)

    @property
    def models(self) -> dict[str, dict]:
        """The models the model worker holds: {generator: {"device", "dtype", "bytes",
        "params", "seconds", "state" ("loading" or "loaded")}}."""
        with self._lock:
            return {name: dict(info) for name, info in self._models.items()}

    def unload(self, name: str | None = None) -> None:
        """Free the weights of generator `name` (None: of all; the model worker, idle,
        exits). A batch being made finishes first."""
        with self._lock:
            if self._model is None:
                self._models.clear()
                return
            self._outbox.append(("unload", name))
            for gone in [n for n in self._models if name in (None, n)]:
                del self._models[gone]

    def probe(self, names: list[str], timeout: float = 30.0) -> dict[str, tuple[bool, str]]:
        """Ask the model worker whether warm generators `names` are available (it imports
        them, so this process need not). Names it did not answer for in time are left out."""
        self.start()
        done = threading.Event()
        answer: dict[str, tuple[bool, str]] = {}
        with self._lock:
            self._probe_ids += 1
            probe_id = self._probe_ids
            self._probes[probe_id] = (done, answer)
            self._outbox.append(("probe", probe_id, list(names)))
        done.wait(timeout)
        with self._lock:
            self._probes.pop(probe_id, None)
        return dict(answer)

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    @property
    def model_pid(self) -> int | None:
        """The model worker's process id, while it runs."""
        model = self._model
        return model.process.pid if model is not None else None

    def close(self) -> None:
        with self._lock:
            self._running = False
        if self._thread is not None:
            self._thread.join(timeout=3)
        workers = [*self._workers, *([self._model] if self._model else [])]
        for w in workers:
            w.send(None)
        for w in workers:
            w.stop()
        self._workers = []
        self._model = None

    # ---- the dispatcher thread ---------------------------------------------------------

    def _dispatch(self) -> None:
        while self._running:
            self._assign()
            self._post()
            with self._lock:
                workers = [*self._workers, *([self._model] if self._model else [])]
                conns = {w.conn: w for w in workers}
                sentinels = {w.process.sentinel: w for w in workers}
            try:
                ready = wait([*conns, *sentinels], timeout=0.02)
            except OSError:
                ready = []
            for r in ready:
                worker = conns.get(r)
                if worker is None:
                    continue
                handle = self._from_model if worker is self._model else self._handle
                try:
                    while worker.conn.poll():
                        handle(worker, worker.conn.recv())
                except (EOFError, OSError):
                    pass  # it died mid-message: _check_workers replaces it
            self._check_workers()
            self._check_model()

    def _assign(self) -> None:
        with self._lock:
            for w in self._workers:
                while w.current is None and (self._first or self._pending):
                    task = (self._first or self._pending).popleft()
                    if task["id"] in self._cancelled:
                        self._cancelled.discard(task["id"])
                        self.on_event("failed", task["id"], "cancelled")
                        continue
                    w.current = task["id"]
                    w.send(task)

    def _handle(self, worker: _Worker, message: tuple) -> None:
        kind, task_id, *details = message
        if kind == "warm":
            self._warm += 1
            if self._warm >= self.size:
                self.ready.set()
            return
        if kind in ("done", "failed"):
            with self._lock:
                if worker.current == task_id:
                    worker.current = None
            if task_id in self._cancelled:
                self._cancelled.discard(task_id)
                kind, details = "failed", ["cancelled"]
        self.on_event(kind, task_id, *details)

    def _check_workers(self) -> None:
        with self._lock:
            for i, w in enumerate(self._workers):
                busy = w.current
                if busy is not None and busy in self._cancelled:
                    w.stop()  # cancelling a running candidate: replace its worker
                    self._cancelled.discard(busy)
                    self._workers[i] = _Worker(self._ctx)
                    self.on_event("failed", busy, "cancelled")
                elif not w.process.is_alive():
                    code = w.process.exitcode
                    w.stop()
                    self._workers[i] = _Worker(self._ctx)
                    if busy is not None:
                        how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
                        self.on_event(
                            "failed", busy, f"the worker process died ({how}) while making it"
                        )

    # ---- the model worker, from the dispatcher thread -------------------------------------

    def _post(self) -> None:
        """Send what waits for the model worker (starting it if a batch or probe needs it)."""
        with self._lock:
            if not self._outbox:
                return
            messages = list(self._outbox)
            self._outbox.clear()
        for message in messages:
            kind = message[0]
            if kind == "unload" and message[1] is None and self._model is not None:
                with self._lock:
                    idle = not self._model_tasks
                if idle:  # nothing in flight: the process goes, and every byte with it
                    self._model.send(None)
                    self._model.stop()
                    self._model = None
                    continue
            if self._model is None:
                if kind in ("unload", "cancel"):
                    continue
                self._model = _Worker(self._ctx, target=model_main, name="hoot-model")
            if kind == "batch":
                with self._lock:
                    self._sent.update(t["id"] for t in message[1]["tasks"])
            self._model.send(message)

    def _from_model(self, worker: _Worker, message: tuple) -> None:
        kind, *details = message
        if kind == "models":
            with self._lock:
                self._models = dict(details[0])
            return
        if kind == "probed":
            probe_id, answer = details
            with self._lock:
                waiting = self._probes.get(probe_id)
            if waiting is not None:
                waiting[1].update({name: tuple(a) for name, a in answer.items()})
                waiting[0].set()
            return
        task_id = details[0]
        if kind == "take":
            with self._lock:
                task = self._model_tasks.pop(task_id, None)
                cancelled = task_id in self._model_cancelled
                self._model_cancelled.discard(task_id)
                self._sent.discard(task_id)
                if task is not None and not cancelled:
                    self._first.append({**task, "take": details[1]})
            if task is not None and cancelled:
                self.on_event("failed", task_id, "cancelled")
            return
        if kind == "failed":
            with self._lock:
                task = self._model_tasks.pop(task_id, None)
                self._model_cancelled.discard(task_id)
                self._sent.discard(task_id)
            if task is None:
                return
        self.on_event(kind, task_id, *details[1:])

    def _check_model(self) -> None:
        model = self._model
        if model is None or model.process.is_alive():
            return
        code = model.process.exitcode
        model.stop()
        with self._lock:
            self._model = None
            lost = [t for t in self._model_tasks if t in self._sent]
            for task_id in lost:
                del self._model_tasks[task_id]
                self._model_cancelled.discard(task_id)
            self._sent.clear()
            self._models.clear()
            for _, answer_to in self._probes.values():
                answer_to.set()
        how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
        for task_id in lost:
            self.on_event("failed", task_id, f"the model worker died ({how}) while making it")


# ---- the worker process ------------------------------------------------------------------


def worker_main(conn: Connection) -> None:
    """Runs in each worker process: warm up, then make candidates until told to stop."""
    try:
        os.nice(10)  # the audio engine and the UI come first
    except OSError:
        pass
    warm_up()
    conn.send(("warm", None))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the pool has gone
        if task is None:
            return
        task_id = task["id"]
        conn.send(("started", task_id))
        try:
            meta = make_candidate(
                task,
                progress=lambda fraction, stage, task_id=task_id: conn.send(
                    ("progress", task_id, fraction, stage)
                ),
            )
            conn.send(("done", task_id, meta))
        except Exception as e:  # noqa: BLE001 - a failing generator fails its candidate only
            tb = traceback.format_exc(limit=8)
            conn.send(("failed", task_id, f"{type(e).__name__}: {e}", tb))


_generators: dict[str, Any] = {}


def warm_up(samplerate: int = 48000) -> None:
    """Import the generators and render one bar per role once, so the first candidate a
    performer waits for does not pay for imports and the renderer's caches."""
    from hoot.generate.base import load_generator
    from hoot.generate.render import render_stem
    from hoot.music import ROLES
    from hoot.music.clip import NoteClip

    _generators["default"] = load_generator("default")
    for role in ROLES:
        pitches = (36, 38, 42) if role in ("drums", "perc") else (50, 57)
        clip = NoteClip.from_notes([(i * 0.5, 0.4, p, 100) for i, p in enumerate(pitches)], 4)
        try:
            render_stem(clip, 120.0, samplerate, role)
        except Exception:  # noqa: BLE001 - warming is an optimisation, never a failure
            pass


def make_candidate(task: dict, progress: Callable[[float, str], None]) -> dict:
    """Generate (or, for a retake, read back), render and write one candidate. Returns its
    metadata (also written as JSON beside its notes)."""
    import dataclasses

    import soundfile as sf

    from hoot.generate.base import GeneratorError, Request, Take, load_generator
    from hoot.music.clip import NoteClip

    started = time.perf_counter()
    request = Request.from_dict(task["request"])
    folder = Path(task["folder"])
    audio_folder = Path(task.get("audio_folder") or folder)
    folder.mkdir(parents=True, exist_ok=True)
    audio_folder.mkdir(parents=True, exist_ok=True)
    retake = task.get("retake")
    took = task.get("take")
    name = task["generator"]
    if took:  # made by the model worker: rendered here
        take = Take(notes=took.get("notes"), params=dict(took.get("params") or {}))
        if took.get("audio"):
            import numpy as np

            take.audio = np.load(took["audio"])
            Path(took["audio"]).unlink(missing_ok=True)
        started -= float(took.get("seconds", 0.0))
        out_name = task["name"]
    elif retake:
        request = dataclasses.replace(request, bpm=float(retake["bpm"]))
        progress(0.1, "reading its notes")
        take = Take(notes=NoteClip.read_midi(Path(retake["mid"]), length=request.beats))
        out_name = retake["name"]
    else:
        if name not in _generators:
            _generators[name] = load_generator(name)
        generator = _generators[name]
        ok, why = generator.available()
        if not ok:
            raise GeneratorError(f"generator {name!r} is not available: {why}")
        progress(0.1, "composing")
        take = generator.generate(request)
        if take.notes is None and take.audio is None:
            raise GeneratorError(f"generator {name!r} returned neither notes nor audio")
        out_name = task["name"]
    base = folder / out_name
    meta: dict[str, Any] = {
        "name": out_name,
        "role": request.role,
        "generator": name,
        "seed": request.seed,
        "index": request.index,
        "bars": request.bars,
        "beats_per_bar": request.beats_per_bar,
        "bpm": request.bpm,
        "key": request.key,
        "meter": request.meter,
        "request": request.to_dict(),
        "sound": request.sound,
        "params": take.params,
    }
    if take.notes is not None and not retake:
        take.notes.write_midi(base.with_suffix(".mid"), bpm=request.bpm)
        meta["midi"] = base.with_suffix(".mid").name
        meta["notes"] = len(take.notes)
    progress(0.4, "rendering")
    audio, meta["render"] = render_take(take, request)
    progress(0.9, "writing")
    wav = audio_folder / f"{out_name}.wav"
    sf.write(str(wav), audio, request.samplerate, subtype="FLOAT")
    meta["wav"] = str(wav)
    meta["seconds_to_make"] = round(time.perf_counter() - started, 4)
    text = json.dumps(meta, indent=1, default=str)
    # beside the audio, for the engine's loader (its bars make the loop beat-locked); and
    # beside the notes, in the session, for the record
    wav.with_suffix(".json").write_text(text)
    if not retake and base.parent != wav.parent:
        base.with_suffix(".json").write_text(text)
    return meta


def render_take(take, request) -> tuple[Any, dict]:
    """A take's loop, exactly `request.frames` long and loudness-matched: its own audio, or
    its notes rendered with the request's sound (built-in, or a SoundFont)."""
    from hoot.generate.loops import stereo_loop
    from hoot.generate.loudness import normalize
    from hoot.generate.render import render_stem
    from hoot.music.sounds import is_soundfont

    if take.audio is not None:
        audio = stereo_loop(take.audio, request.frames)
        audio, gain_db = normalize(audio, request.samplerate, loop=True)
        return audio, {"gain_db": gain_db}
    if is_soundfont(request.sound):
        from hoot.generate.soundfont import render_sound

        raw = render_sound(
            take.notes, request.bpm, request.samplerate, request.role, str(request.sound)
        )
        audio, gain_db = normalize(raw, request.samplerate, loop=True)
        return audio, {"sound": request.sound, "gain_db": gain_db}
    return render_stem(
        take.notes,
        request.bpm,
        request.samplerate,
        request.role,
        timbre=request.sound,
        brightness=float(request.vibe.get("brightness", 0.5)),
        seed=request.seed + request.index,
    )


# ---- the model worker process ------------------------------------------------------------


def model_main(conn: Connection) -> None:
    """Runs in the model worker: make batches of warm generators, keeping them loaded."""
    try:
        os.nice(5)  # behind the engine and the UI, ahead of the render workers' nice 10
    except OSError:
        pass
    _ModelWorker(conn).run()


class _ModelWorker:
    """One process per pool; its generators (and their weights) stay between batches."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.inbox: deque[tuple] = deque()  # batches and unloads, in the order they came
        self.generators: dict[tuple[str, str], Any] = {}  # (name, device) -> generator
        self.probed: dict[str, Any] = {}  # name -> generator, only asked whether available
        self.models: dict[str, dict] = {}  # what pool.models shows
        self.ids: list[str] = []  # the batch being made: its task ids, by index
        self.settled: set[int] = set()  # of those, the ones taken, failed or cancelled
        self.progress: Any = None
        self.name = ""
        self.device = "auto"

    def run(self) -> None:
        while True:
            while not self.inbox:
                self.receive(block=True)
            message = self.inbox.popleft()
            if message[0] == "stop":
                return
            if message[0] == "batch":
                self.batch(message[1])
            elif message[0] == "unload":
                self.unload(message[1])

    def receive(self, block: bool = False) -> list[int]:
        """Read the pipe: cancels and probes are answered now, the rest waits its turn.
        Returns the indices (in the batch being made) cancelled meanwhile."""
        cancelled = []
        while block or self.conn.poll():
            block = False
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                raise SystemExit(0) from None  # the pool has gone
            if message is None:
                self.inbox.append(("stop",))
            elif message[0] == "cancel":
                cancelled += self.cancel(message[1])
            elif message[0] == "probe":
                self.conn.send(("probed", message[1], {n: self.available(n) for n in message[2]}))
            else:
                self.inbox.append(message)
        return cancelled

    def cancel(self, task_id: str) -> list[int]:
        for queued in self.inbox:
            if queued[0] == "batch":
                tasks = queued[1]["tasks"]
                if any(t["id"] == task_id for t in tasks):
                    queued[1]["tasks"] = [t for t in tasks if t["id"] != task_id]
                    self.conn.send(("failed", task_id, "cancelled"))
                    return []
        if task_id in self.ids and self.ids.index(task_id) not in self.settled:
            index = self.ids.index(task_id)
            self.settled.add(index)
            self.conn.send(("failed", task_id, "cancelled"))
            return [index]
        return []

    def available(self, name: str) -> tuple[bool, str]:
        from hoot.generate.base import GeneratorError, load_generator

        try:
            generator = next(
                (g for (n, _), g in self.generators.items() if n == name), None
            ) or self.probed.get(name)
            if generator is None:
                generator = self.probed[name] = load_generator(name)
            ok, why = generator.available()
            return bool(ok), str(why)
        except GeneratorError as e:
            return False, str(e)
        except Exception as e:  # noqa: BLE001 - a broken plugin says so, the worker goes on
            return False, f"{type(e).__name__}: {e}"

    # ---- a batch -------------------------------------------------------------------------

    def report(self, kind: str, *details: Any) -> None:
        """BatchProgress's events, as the pool wants them: per candidate."""
        if kind == "progress":
            index, fraction, stage = details
            if 0 <= index < len(self.ids) and index not in self.settled:
                self.conn.send(("progress", self.ids[index], 0.4 * fraction, stage))
        elif kind == "stage":
            if (
                details[0] == "loading model"
                and self.models.get(self.name, {}).get("state") != "loaded"
            ):
                self.models[self.name] = {"device": self.device, "state": "loading"}
                self.conn.send(("models", self.models))
            for index, task_id in enumerate(self.ids):
                if index not in self.settled:
                    self.conn.send(("progress", task_id, 0.0, details[0]))
        elif kind == "loaded":
            info = dict(details[0])
            self.models[self.name] = {
                "device": str(info.get("device", self.device)),
                "dtype": str(info.get("dtype", "")),
                "bytes": int(info.get("bytes") or 0),
                "params": int(info.get("params") or 0),
                "seconds": float(info.get("seconds") or 0.0),
                "model": str(info.get("name", self.name)),
                "state": "loaded",
            }
            self.conn.send(("models", self.models))

    def batch(self, job: dict) -> None:
        from hoot.generate.base import (
            BatchProgress,
            GeneratorError,
            Request,
            load_generator,
            make_batch,
        )

        tasks = job["tasks"]
        if not tasks:
            return
        started = time.perf_counter()
        self.name = job["generator"]
        requests = [Request.from_dict(t["request"]) for t in tasks]
        self.device = requests[0].device
        self.ids, self.settled = [t["id"] for t in tasks], set()
        self.progress = progress = BatchProgress(len(tasks), self.report, self.receive)
        for task_id in self.ids:
            self.conn.send(("started", task_id))
        key = (self.name, self.device)
        try:
            generator = self.generators.get(key)
            if generator is None:
                progress.stage("loading model")
                generator = self.probed.pop(self.name, None) or load_generator(self.name)
                self.generators[key] = generator
            ok, why = generator.available()
            if not ok:
                raise GeneratorError(f"generator {self.name!r} is not available: {why}")
            for index, take in make_batch(generator, requests, progress):
                self.took(tasks, index, take, time.perf_counter() - started)
                if len(self.settled) == len(tasks):
                    break
            why = "the generator made no take for it"
        except Exception as e:  # noqa: BLE001 - a failing model fails its batch, not the pool
            why = f"{type(e).__name__}: {e}"
        for index, task_id in enumerate(self.ids):
            if index not in self.settled:
                self.conn.send(("failed", task_id, why))
        entry = self.models.get(self.name)
        if entry is not None and entry["state"] == "loading":
            if key in self.generators:  # kept, though it said nothing of its weights
                entry["state"] = "loaded"
            else:
                del self.models[self.name]
            self.conn.send(("models", self.models))
        self.ids, self.settled, self.progress = [], set(), None

    def took(self, tasks: list[dict], index: Any, take: Any, seconds: float) -> None:
        """Hand one take to the pool (its notes in the message, its audio in the spool)."""
        import numpy as np

        if not isinstance(index, int) or not 0 <= index < len(tasks) or index in self.settled:
            return  # cancelled meanwhile, made twice, or not one of ours
        self.settled.add(index)
        task = tasks[index]
        if isinstance(take, BaseException):
            self.conn.send(("failed", task["id"], f"{type(take).__name__}: {take}"))
            return
        if getattr(take, "notes", None) is None and getattr(take, "audio", None) is None:
            self.conn.send(
                ("failed", task["id"], f"generator {self.name!r} returned neither notes nor audio")
            )
            return
        made = {"notes": take.notes, "params": dict(take.params or {}), "seconds": seconds}
        if take.audio is not None:
            folder = Path(task.get("audio_folder") or task["folder"])
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{task['name']}.take.npy"
            np.save(path, np.asarray(take.audio, dtype=np.float32))
            made["audio"] = str(path)
        self.conn.send(("progress", task["id"], 0.4, "queued to render"))
        self.conn.send(("take", task["id"], made))

    def unload(self, name: str | None) -> None:
        import gc
        import sys

        for key in [k for k in self.generators if name in (None, k[0])]:
            generator = self.generators.pop(key)
            release = getattr(generator, "unload", None)
            if callable(release):
                try:
                    release()
                except Exception:  # noqa: BLE001 - the weights go with the object anyway
                    pass
            del generator
        for gone in [n for n in self.models if name in (None, n)]:
            del self.models[gone]
        gc.collect()
        torch = sys.modules.get("torch")  # only if a generator brought it: never imported here
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
        self.conn.send(("models", self.models))
