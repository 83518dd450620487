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
    def __init__(self, ctx) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=worker_main, args=(child,), daemon=True, name="hoot-generate"
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
            (self._pending.appendleft if first else self._pending.append)(task)

    def cancel(self, task_id: str) -> None:
        """Cancel a task: dropped if waiting; its worker is replaced if it is running."""
        with self._lock:
            self._cancelled.add(task_id)

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    def close(self) -> None:
        with self._lock:
            self._running = False
        if self._thread is not None:
            self._thread.join(timeout=3)
        for w in self._workers:
            w.send(None)
        for w in self._workers:
            w.stop()
        self._workers = []

    # ---- the dispatcher thread ---------------------------------------------------------

    def _dispatch(self) -> None:
        while self._running:
            self._assign()
            with self._lock:
                conns = {w.conn: w for w in self._workers}
                sentinels = {w.process.sentinel: w for w in self._workers}
            try:
                ready = wait([*conns, *sentinels], timeout=0.02)
            except OSError:
                ready = []
            for r in ready:
                worker = conns.get(r)
                if worker is None:
                    continue
                try:
                    while worker.conn.poll():
                        self._handle(worker, worker.conn.recv())
                except (EOFError, OSError):
                    pass  # it died mid-message: _check_workers replaces it
            self._check_workers()

    def _assign(self) -> None:
        with self._lock:
            for w in self._workers:
                while w.current is None and self._pending:
                    task = self._pending.popleft()
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
    name = task["generator"]
    if retake:
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
