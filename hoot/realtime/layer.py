"""The real-time layer, language side: one voice process per running model, supervised.

torch never enters the language process (the UI imports this module), so each running
model lives in a voice process of its own (`python -m hoot.realtime.voice`, torch there)
that reads the keys from the engine's live-note table and writes its notes into a slot of
that table; the engine never waits for it (docs/architecture.md, "The real-time layer").
This module starts those processes and watches them:

- commands go down as JSON lines on the voice's stdin (`start` first, then `set`,
  `clock`, `stop`); statuses come up as JSON lines on its stdout, at least every
  HEARTBEAT_S (0.25 s): the heartbeat. stderr goes to a log in the runtime folder.
- a voice that exits, crashes or stalls (no heartbeat for STALL_S, 1 s: four missed beats;
  a SIGSTOP looks like that) is killed, its slot released (the supervisor writes the
  RELEASE record itself once the voice is gone: it is then the slot's only writer, so
  no note hangs), and started again with the same settings after a short backoff; after
  FAILURES failures within WINDOW_S it stays stopped. Either way the performer reads one
  sentence through `say`. The music never stops: the engine plays the other slots on.
- a voice dies with its parent: stdin reaching its end tells it (and on Linux the kernel
  sends it SIGTERM, PR_SET_PDEATHSIG), and it ends its notes first, so a crashed UI leaves
  no voice behind and no harmony note held in the engine, which plays on.

Loading is slower than the heartbeat allows: importing torch and reading a checkpoint
takes 2-5 s on these machines and may hold the GIL for a second at a time, so a voice
that has not yet said "running" has LOAD_S before it counts as stalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from hoot.realtime.status import ModelStatus
from hoot.runtime import runtime_dir

HEARTBEAT_S = 0.25  # a voice says how it is at least this often
STALL_S = 1.0  # this long without a heartbeat: the voice stalled
LOAD_S = 60.0  # a loading voice's patience (import torch, read the checkpoint)
FAILURES, WINDOW_S = 3, 30.0  # this many failures in this many seconds: it stays stopped
BACKOFF_S = (0.1, 0.5, 2.0)  # wait before the 1st, 2nd, 3rd restart of a spell
WATCH_S = 0.05  # how often the supervisor looks (a stall is found within STALL_S + this)
EXIT_S = 2.0  # how long a voice told to stop may take to release and exit

VOICE = (sys.executable, "-m", "hoot.realtime.voice")


def release_slot(path: str, slot: int) -> None:
    """End every note of a model's slot (the RELEASE record of hoot.engine.rings)."""
    from hoot.engine.rings import NoteWriter  # numpy and the ring layout, no torch

    writer = NoteWriter(path, slot)
    try:
        writer.release()
    finally:
        writer.close()


class Voice:
    """One supervised voice process and what the performer sees of it."""

    def __init__(self, name: str, start: dict[str, Any], does: str, model: str,
                 on_gone: Callable[[], None]) -> None:  # fmt: skip
        self.name = name
        self.start = start  # the `start` command: a restart sends it again, settings included
        self.does = does
        self.model = model
        self.on_gone = on_gone  # called once when the voice is gone for good (frees its slot)
        self.process: subprocess.Popen | None = None
        self.state = "loading"
        self.status: dict[str, Any] = {}
        self.beat = time.monotonic()  # the last heartbeat
        self.restarts = 0
        self.failures: deque[float] = deque()
        self.restart_at: float | None = None  # when a restarting voice starts again
        self.stop_by: float | None = None  # told to stop: gone by then
        self.error = ""  # a sentence the voice said before it gave up
        self.why = ""  # what went wrong, for the sentence said when it starts again
        self.log: IO[bytes] | None = None

    def describe(self) -> ModelStatus:
        s = self.status
        p50, p95 = s.get("p50_ms"), s.get("p95_ms")
        latency, level = self.latency, s.get("level_db")
        rate = int(self.start.get("audio", {}).get("samplerate") or 0)
        return ModelStatus(
            name=self.name,
            does=self.does,
            model=self.model,
            state=self.state,
            p50_ms=None if p50 is None else float(p50),
            p95_ms=None if p95 is None else float(p95),
            playing=tuple(int(x) for x in s.get("playing", ())) if self.state == "running" else (),
            late=int(s.get("late", 0)),
            restarts=self.restarts,
            kind=str(self.start.get("kind", "")),
            hears=tuple(self.start.get("hears", ())),
            latency_samples=latency,
            latency_ms=None if latency is None or not rate else 1000.0 * latency / rate,
            level_db=None if level is None else float(level),
        )

    @property
    def latency(self) -> int | None:
        """The latency an audio voice declares (engine samples; its heartbeat's
        "latency_samples"), None before it says or for a voice that plays notes."""
        declared = self.status.get("latency_samples")
        return None if declared is None else int(declared)


class RealtimeLayer:
    """Every running model's voice process, started, told, watched and ended from here.

    `say` tells the performer (perf.say); `release(path, slot)` ends a slot's notes
    (release_slot; tests pass their own); `command` is the voice program (tests run a fake).
    `on_latency` is called (from a listening thread, outside the layer's lock) when an audio
    voice declares a new latency, so perf.compensate can follow it.
    """

    def __init__(
        self,
        say: Callable[[str], None],
        *,
        release: Callable[[str, int], None] = release_slot,
        command: tuple[str, ...] = VOICE,
        stall_s: float = STALL_S,
        load_s: float = LOAD_S,
    ) -> None:
        self.say = say
        self.release = release
        self.command = command
        self.stall_s = stall_s
        self.load_s = load_s
        self._voices: dict[str, Voice] = {}
        self.on_latency: Callable[[], None] = lambda: None
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="realtime-layer", daemon=True)
        self._watcher.start()

    # ---- what perf calls ---------------------------------------------------------------

    def start(self, name: str, start: dict[str, Any], *, does: str, model: str,
              on_gone: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        """Start a voice called `name` (the track it plays): `start` is its first command,
        {"kind": "harmonize" | "improvise", "slot": {"path", "slot"}, ...} or, for a model
        that sounds audio, {"kind": "transfer" | "drone" | "echo", "audio": {...}, ...}
        (voice.py).
        A voice of that name already running is stopped first."""
        self.stop(name)
        voice = Voice(name, {"cmd": "start", **start}, does, model, on_gone)
        with self._lock:
            self._voices[name] = voice
            self._spawn(voice)

    def set(self, name: str, does: str | None = None, **params: Any) -> None:
        """Change a running voice's settings live; a restart keeps them."""
        with self._lock:
            voice = self._voices[name]
            voice.start.setdefault("settings", {}).update(params)
            if does is not None:
                voice.does = does
            self._tell(voice, {"cmd": "set", **params})

    def tell(self, name: str, message: dict[str, Any], keep: str | None = None) -> None:
        """Send a voice a command; `keep` names a key of its start command that takes the
        message's value for restarts (the clock, for instance)."""
        with self._lock:
            voice = self._voices.get(name)
            if voice is None:
                return
            if keep is not None:
                voice.start[keep] = message
            self._tell(voice, message)

    def stop(self, name: str, at: float | None = None) -> None:
        """End a voice: its notes end (at the monotonic time `at`, or now) and its process
        exits; the supervisor kills it if it takes longer than EXIT_S past that."""
        with self._lock:
            voice = self._voices.get(name)
            if voice is None:
                return
            if voice.stop_by is not None:  # already stopping later
                if at is None:
                    voice.stop_by = 0.0  # now, then: the supervisor ends it at its next look
            elif voice.state in ("restarting", "failed"):
                voice.stop_by = 0.0
            else:
                wait = max(0.0, (at or 0.0) - time.monotonic())
                voice.stop_by = time.monotonic() + wait + EXIT_S
                self._tell(voice, {"cmd": "stop", "at": at})
        if at is None:  # stopping now: the caller may rely on it being gone
            deadline = time.monotonic() + EXIT_S + 1.0
            while name in self._voices and self._voices[name] is voice:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)

    def state(self, name: str) -> str | None:
        """A voice's state ("loading", "running", "restarting", "failed"), None when gone."""
        with self._lock:
            voice = self._voices.get(name)
            return voice.state if voice is not None else None

    def running(self, name: str) -> bool:
        with self._lock:
            voice = self._voices.get(name)
            return voice is not None and voice.stop_by is None

    @property
    def models(self) -> list[ModelStatus]:
        """What each voice is doing, in the order they started."""
        with self._lock:
            return [v.describe() for v in self._voices.values()]

    def pid(self, name: str) -> int | None:
        """The process id of a voice (tests kill it)."""
        with self._lock:
            voice = self._voices.get(name)
            return voice.process.pid if voice and voice.process else None

    def close(self) -> None:
        """Stop every voice (their notes end) and the supervisor."""
        for name in list(self._voices):
            self.stop(name)
        self._closed.set()
        self._watcher.join(timeout=2.0)

    # ---- processes ---------------------------------------------------------------------

    def _spawn(self, voice: Voice) -> None:
        slot = voice.start.get("slot")
        if slot:  # a voice before this one may have died holding notes
            self._release(voice)
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # this hoot, not another install
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
        if voice.log is None:
            log = runtime_dir() / f"voice-{os.getpid()}-{_safe(voice.name)}.log"
            voice.log = open(log, "ab")  # noqa: SIM115 - held open for the voice's life
        voice.process = subprocess.Popen(
            list(self.command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=voice.log,
            env=env,
            close_fds=True,
        )
        voice.state, voice.status, voice.restart_at = "loading", {}, None
        voice.beat = time.monotonic()
        self._tell(voice, voice.start)
        threading.Thread(
            target=self._listen, args=(voice, voice.process), name=f"voice-{voice.name}",
            daemon=True,
        ).start()  # fmt: skip

    def _tell(self, voice: Voice, message: dict[str, Any]) -> None:
        process = voice.process
        if process is None or process.stdin is None:
            return
        try:
            process.stdin.write((json.dumps(message) + "\n").encode())
            process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # it died: the supervisor sees that and restarts it

    def _listen(self, voice: Voice, process: subprocess.Popen) -> None:
        """Read a voice's status lines until its stdout ends (it exited or was killed)."""
        assert process.stdout is not None
        for line in process.stdout:
            try:
                status = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                if voice.process is not process:
                    return
                voice.beat = time.monotonic()
                if status.get("error"):
                    voice.error = str(status["error"])
                declared = voice.latency
                voice.status = status
                moved = voice.latency != declared
                if voice.state in ("loading", "running") and status.get("state") in (
                    "loading",
                    "running",
                ):
                    voice.state = status["state"]
            if moved:
                try:
                    self.on_latency()
                except Exception as e:  # noqa: BLE001 - the listener must go on hearing
                    print(f"realtime layer: {voice.name}'s latency: {e!r}", file=sys.stderr)

    def _watch(self) -> None:
        while not self._closed.wait(WATCH_S):
            with self._lock:
                for voice in list(self._voices.values()):
                    try:
                        self._check(voice)
                    except Exception as e:  # noqa: BLE001 - the supervisor must go on
                        print(f"realtime layer: {voice.name}: {e!r}", file=sys.stderr)

    def _check(self, voice: Voice) -> None:
        now = time.monotonic()
        process = voice.process
        if voice.stop_by is not None:
            if process is None or process.poll() is not None or now > voice.stop_by:
                self._end(voice)
                self._gone(voice, "stopped")
            return
        if voice.state == "restarting":
            if voice.restart_at is not None and now >= voice.restart_at:
                self._spawn(voice)
                self.say(f"{self._what(voice)} {voice.why}; restarted it")
            return
        if voice.state == "failed" or process is None:
            return
        patience = self.load_s if voice.state == "loading" else self.stall_s
        if process.poll() is not None:
            code = process.returncode
            why = "crashed" if code and code < 0 else "stopped"
            if code == 0:
                why = "quit by itself"
        elif now - voice.beat > patience:
            why = "stopped answering"
        else:
            return
        failure = voice.status.get("failure")
        if failure:  # it said what went wrong while playing (and exited, or was slow to,
            # as torch's teardown is on a loaded machine): say it with the restart
            why = f"failed ({str(failure).rstrip('.')})"
        self._end(voice)
        if voice.error:  # it said why: a restart would say it again
            self._gone(voice, "failed")
            self.say(f"{self._what(voice)} stopped: {voice.error}")
            return
        voice.failures.append(now)
        while voice.failures and voice.failures[0] < now - WINDOW_S:
            voice.failures.popleft()
        if len(voice.failures) >= FAILURES:
            self._gone(voice, "failed")
            self.say(f"{self._what(voice)} {why} {FAILURES} times in {WINDOW_S:g} s; "
                     "it stays stopped until you start it again")  # fmt: skip
            return
        voice.state, voice.why = "restarting", why
        voice.restarts += 1
        voice.restart_at = now + BACKOFF_S[min(len(voice.failures), len(BACKOFF_S)) - 1]

    def _end(self, voice: Voice) -> None:
        """Kill the process (SIGKILL also ends a stopped one) and end its notes."""
        process = voice.process
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
            process.wait()
            for pipe in (process.stdin, process.stdout):
                with contextlib.suppress(OSError):
                    pipe and pipe.close()
        voice.process = None
        self._release(voice)

    def _release(self, voice: Voice) -> None:
        slot = voice.start.get("slot")
        if not slot:
            return
        try:
            self.release(slot["path"], int(slot["slot"]))
        except Exception as e:  # noqa: BLE001 - an engine gone has no notes to end
            print(f"realtime layer: releasing {voice.name}: {e!r}", file=sys.stderr)

    def _gone(self, voice: Voice, state: str) -> None:
        voice.state = state
        if voice.log is not None:
            voice.log.close()
            voice.log = None
        if state == "stopped":
            self._voices.pop(voice.name, None)
        on_gone, voice.on_gone = voice.on_gone, lambda: None  # its slot is freed once
        try:
            on_gone()
        except Exception as e:  # noqa: BLE001 - an engine gone has no slot to free
            print(f"realtime layer: freeing {voice.name}: {e!r}", file=sys.stderr)

    @staticmethod
    def _what(voice: Voice) -> str:
        kind = voice.start.get("kind", "model")
        listens = voice.start.get("track", "")
        if kind == "harmonize":
            return f"the harmonizer on {listens}"
        if kind in ("transfer", "drone", "echo"):
            return f"the {kind} on {voice.name}"
        return f"the improviser on {voice.name}"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
