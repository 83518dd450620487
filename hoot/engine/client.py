"""The language side's handle on the sound server: start it, attach to it, command it.

`EngineClient.attach(session_dir)` finds the engine already serving that
session or starts one (a detached process that outlives this one). Commands go
over the Unix socket; `status()` reads the shared-memory status without asking
the engine anything.

`LocalEngine` is the same EngineLink (`send`, `status`) with the engine in this
process, driven offline: it is what `hoot render`, the tests and the benchmarks
use, and time advances only when asked (`advance`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from hoot import errors
from hoot.engine import protocol as p
from hoot.engine import status as st
from hoot.engine.protocol import EngineLink
from hoot.errors import EngineError, EngineLost

COMPILE_WAIT = 600.0
"""Seconds a new engine may take to start when it says its core compiles (a cold numba
cache: 1.5 to 2.5 minutes on a 2-core VM, measured 93-157 s; a machine busy with something
else can double that)."""


def _compiling(log: Path, start: int) -> bool:
    """Whether the engine's log, from byte `start` on, says its core compiles."""
    from hoot.engine.kernel import COMPILING  # numba-free: a string constant

    try:
        with open(log, "rb") as f:
            f.seek(start)
            return COMPILING.encode() in f.read()
    except OSError:
        return False


def _raise(reply: dict) -> None:
    cls = getattr(errors, reply.get("kind", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, errors.HootError)):
        cls = EngineError
    raise cls(reply.get("error", "the engine refused that"))


class EngineClient(EngineLink):
    """A connection to a running engine process."""

    _closed = False  # close() was called: a send raises EngineLost, never reconnects

    def __init__(self, session_dir: Path, timeout: float = 10.0) -> None:
        self.session_dir = Path(session_dir).resolve()
        self.socket_path, self.status_path = st.addresses(self.session_dir)
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._connect()
        self.process: subprocess.Popen | None = None  # set when this client started it
        self.info: p.EngineInfo = self.send(p.Hello())
        try:
            self._status = st.StatusReader(Path(self.info.status))
        except (OSError, ValueError) as e:
            self.close()
            raise EngineError(f"the engine at {self.session_dir} has no status ({e})") from None

    # ---- finding and starting engines ---------------------------------------------

    @classmethod
    def attach(cls, session_dir: Path, spawn: bool = True, **engine_args: Any) -> EngineClient:
        """Reattach to the engine serving `session_dir`, or start one if none is running."""
        try:
            return cls(session_dir)
        except EngineError:
            if not spawn:
                raise
        return cls.spawn(session_dir, **engine_args)

    @classmethod
    def spawn(
        cls,
        session_dir: Path,
        backend: str = "auto",
        device: str | None = None,
        samplerate: int = 48000,
        blocksize: int = 0,
        idle_timeout: float = 600.0,
        bpm: float = 120.0,
        meter: str = "4/4",
        phrase: int = 4,
        wait: float = 20.0,
        log: Path | None = None,
    ) -> EngineClient:
        """Start a detached engine process for `session_dir` and connect to it."""
        session_dir = Path(session_dir).resolve()
        session_dir.mkdir(parents=True, exist_ok=True)
        log = log or session_dir / "engine.log"
        argv = [
            sys.executable,
            "-m",
            "hoot.engine.server",
            "--session",
            str(session_dir),
            "--backend",
            backend,
            "--samplerate",
            str(samplerate),
            "--blocksize",
            str(blocksize),
            "--idle-timeout",
            str(idle_timeout),
            "--bpm",
            str(bpm),
            "--meter",
            str(meter),
            "--phrase",
            str(phrase),
        ]
        if device:
            argv += ["--device", device]
        start = log.stat().st_size if log.exists() else 0
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
            )
        began = time.monotonic()
        deadline = began + wait
        while time.monotonic() < deadline:
            if deadline < began + COMPILE_WAIT and _compiling(log, start):
                deadline = began + COMPILE_WAIT  # a cold cache: the core compiles first
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-800:]
                raise EngineError(
                    f"the engine process exited at start ({proc.returncode}):\n{tail}"
                )
            try:
                client = cls(session_dir)
                client.process = proc
                return client
            except EngineError:
                time.sleep(0.05)
        proc.kill()
        raise EngineError(f"the engine did not start within {wait:g} s; see {log}")

    # ---- talking -------------------------------------------------------------------------

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.socket_path))
        except OSError as e:
            sock.close()
            raise EngineError(f"no engine is serving {self.session_dir} ({e})") from None
        self._sock, self._reader = sock, sock.makefile("rb")

    def _drop_connection(self) -> None:
        """Forget a connection whose reply was not read (a timeout, an interrupt): its
        socket file refuses reads after a timeout, and a reply left in it would answer the
        next command. The next send connects afresh (unless the client was closed)."""
        for part in (self._reader, self._sock):
            if part is not None:
                with contextlib.suppress(OSError):
                    part.close()
        self._sock = self._reader = None

    def send(self, command: p.Command) -> Any:
        """Send one command and return its reply; raises the engine's error as a HootError,
        or EngineLost when the engine has gone."""
        rid = next(self._ids)
        data = json.dumps({"id": rid, **command.to_wire()}).encode() + b"\n"
        with self._lock:
            try:
                if self._sock is None:
                    if self._closed:
                        raise EngineLost("this connection to the engine was closed")
                    self._connect()
                self._sock.sendall(data)
                while True:  # a reply with another id is a stale one: read past it
                    line = self._reader.readline()
                    if not line or json.loads(line).get("id") in (rid, None):
                        break
            except TimeoutError:
                self._drop_connection()
                raise EngineError(
                    f"the engine did not answer {command.verb!r} within {self.timeout:g} s"
                ) from None
            except EngineLost:
                raise
            except EngineError:  # from _connect: nobody listens there any more
                raise EngineLost(
                    f"lost the engine (it no longer listens at {self.socket_path})"
                ) from None
            except (OSError, ValueError) as e:
                self.close()  # the engine has gone: this client stays lost (a new one attaches)
                raise EngineLost(f"lost the engine ({e})") from None
            except BaseException:  # Ctrl-C in the console thread between the send and the read
                self._drop_connection()
                raise
        if not line:
            raise EngineLost("the engine closed the connection; it has stopped")
        reply = json.loads(line)
        if not reply.get("ok"):
            _raise(reply)
        return command.reply.from_wire(reply.get("result"))

    def status(self) -> st.EngineStatus:
        return self._status.read()

    def alive(self, within: float = 1.0) -> bool:
        """True when the engine's status was updated in the last `within` seconds."""
        return time.time() - self.status().heartbeat < within

    def close(self) -> None:
        self._closed = True
        self._drop_connection()

    def shutdown(self) -> None:
        """Ask the engine to stop (finalising any recording) and wait for it to go."""
        pid = self.info.pid
        try:
            self.send(p.Shutdown())
        except EngineError:
            pass
        self.close()
        deadline = time.monotonic() + 10
        while pid and time.monotonic() < deadline and process_alive(pid):
            time.sleep(0.05)


def process_alive(pid: int) -> bool:
    """True while process `pid` runs; an exited child of ours is reaped, not counted."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child: look it up instead
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


class LocalEngine(EngineLink):
    """An engine in this process, rendered offline: time moves only through `advance`."""

    offline = True

    def __init__(
        self,
        samplerate: int = 48000,
        tracks: tuple[str, ...] | None = None,
        blocksize: int | str | list[int] = 256,
        bpm: float = 120.0,
        session_dir: Path | None = None,
        seed: int = 0,
    ) -> None:
        from hoot.engine.backends import OfflineDriver
        from hoot.engine.control import EngineControl
        from hoot.engine.core import Engine
        from hoot.engine.inputs import INPUT_ROWS
        from hoot.engine.recorder import Recorder
        from hoot.music import TRACKS
        from hoot.music.time import TempoMap

        tracks = tuple(tracks or TRACKS)
        self.engine = Engine(
            samplerate, tracks, tempo_map=TempoMap(samplerate, bpm), inputs=INPUT_ROWS
        )
        self.recorder = Recorder(samplerate, len(self.engine.tracks), list(self.engine.tracks))
        self.engine.recorder = self.recorder
        recordings = Path(session_dir) / "recordings" if session_dir else None
        # offline, a command arrives exactly when the script says: no safety margin needed
        self.control = EngineControl(self.engine, self.recorder, recordings, margin=0)
        self.driver = OfflineDriver(self._render, samplerate, blocksize, seed=seed)
        self.info = p.EngineInfo(
            protocol=p.PROTOCOL,
            pid=os.getpid(),
            session=str(session_dir or ""),
            tracks=tracks,
            samplerate=samplerate,
            status="",
            backend="offline",
            device="none",
            latency=0.0,
            ceiling_db=self.engine.limiter.ceiling_db,
            inputs=INPUT_ROWS,
        )

    def _render(self, out: np.ndarray) -> None:
        self.engine.forward(out)
        if self.recorder.recording:
            self.recorder.drain()

    def send(self, command: p.Command) -> Any:
        if isinstance(command, p.Hello):
            return self.info
        if isinstance(command, p.GetMessages):
            return p.Messages(())
        if isinstance(command, p.GetTiming):
            return p.Timing(blocks=0)
        if isinstance(command, p.Shutdown):
            return p.Done()
        return self.control.handle(command)

    def advance(self, frames: int, keep: bool = True) -> np.ndarray | None:
        """Render the next `frames` frames; return them when `keep`."""
        out = np.zeros((frames, 2), np.float32) if keep else None
        self.driver.run(frames, out)
        self.engine.graveyard.clear()
        return out

    @property
    def position(self) -> int:
        return self.engine.position

    def status(self) -> st.EngineStatus:
        e = self.engine
        return st.EngineStatus(
            samplerate=e.samplerate,
            position=e.position,
            blocks=e.blocks,
            xruns=0,
            faults=e.faults + self.recorder.faults,
            cpu=self.driver.cpu_load,
            cpu_peak=self.driver.cpu_load,
            state_version=e.state_version,
            heartbeat=time.time(),
            pid=os.getpid(),
            latency=0.0,
            limiter_db=e.limiter.reduction_db,
            recording=self.recorder.recording,
            dropped=self.recorder.dropped_frames,
            blocksize=0,
            realtime=0,
            meters=np.concatenate([e.meters[: e.generated], e.meters[-1:]]),
            inputs=e.meters[e.generated : -1].copy(),
            clips=e.clips(),
        )

    def close(self) -> None:
        self.recorder.close()
        self.control.close()
