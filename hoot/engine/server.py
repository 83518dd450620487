"""The sound server process: `python -m hoot.engine.server --session DIR`.

It owns the Engine, the audio backend, the recorder and the stem loader, and
serves commands on a Unix socket (newline-delimited JSON, one request and one
reply per line) in a private 0700 folder. Status goes to a shared-memory file
(see status.py). It never imports Textual or torch.

The server outlives its clients: a client that dies or hangs only loses its
connection, and a new client reattaches to the same music. With no client for
`--idle-timeout` seconds it shuts down cleanly, finalising any recording.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np

from hoot.engine import protocol as p
from hoot.engine import realtime, rings
from hoot.engine import status as st
from hoot.engine.control import EngineControl
from hoot.engine.core import Engine
from hoot.engine.inputs import INPUT_ROWS
from hoot.engine.latency import measure_round_trip
from hoot.engine.midi_routes import MidiRoutes
from hoot.engine.recorder import RecorderProcess, repair_folder
from hoot.errors import HootError
from hoot.music import TRACKS
from hoot.music.time import TempoMap
from hoot.runtime import peer_uid, session_key


def set_switch_interval() -> float:
    """Make other threads of the engine process hand the GIL back to the audio callback
    sooner: with the default 5 ms, the recorder's writer delayed blocks by up to 5 ms
    (benchmarks/forward_cost.py measured p99.9 fall from 444 % to 102 % of a 128-frame
    period at 0.5 ms). HOOT_SWITCH_INTERVAL (seconds) overrides it."""
    interval = float(os.environ.get("HOOT_SWITCH_INTERVAL", "0.0005"))
    sys.setswitchinterval(interval)
    return interval


class EngineServer:
    def __init__(
        self,
        session_dir: Path,
        backend: str = "auto",
        device: str | None = None,
        samplerate: int = 48000,
        blocksize: int = 0,
        idle_timeout: float = 600.0,
        tracks: tuple[str, ...] = TRACKS,
        bpm: float = 120.0,
        meter: str = "4/4",
        phrase: int = 4,
        log=None,
    ) -> None:
        self.session_dir = Path(session_dir).resolve()
        self.recordings = self.session_dir / "recordings"
        self.idle_timeout = idle_timeout
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.socket_path, self.status_path = st.addresses(self.session_dir)
        self.engine = Engine(
            samplerate, tracks, tempo_map=TempoMap(samplerate, bpm, meter, phrase),
            inputs=INPUT_ROWS, notes=f"{session_key(self.session_dir)}.notes",
        )  # fmt: skip
        self.recorder = RecorderProcess(
            samplerate, len(self.engine.tracks), list(self.engine.tracks)
        )
        self.engine.recorder = self.recorder
        self.routes = MidiRoutes(self.engine, self._output_latency, self.say)
        self.control = EngineControl(self.engine, self.recorder, self.recordings,
                                     routes=self.routes)  # fmt: skip
        self.control.latency_probe = self.measure_latency
        self.control.host_block = self.host_block
        self.ring_name = f"{session_key(self.session_dir)}.inputs"
        self.backend_kind, self.device, self.blocksize = backend, device, blocksize
        self.supervisor = None
        self.clients = 0
        self.last_client = time.monotonic()
        self.stopping = threading.Event()
        self.messages: list[str] = []  # device trouble etc., for clients to show
        self.said = 0  # sentences said so far: the status file carries it, so a client asks
        # for messages only when there are new ones
        self._sock: socket.socket | None = None

    # ---- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        if self.recordings.is_dir():
            for path in repair_folder(self.recordings):
                self.say(f"repaired recording {path.name} left by a crash")
        e = self.engine
        self.status = st.create_status(self.status_path, e.generated, len(e.tracks) - e.generated)
        e.use_ring(rings.create_ring(self.ring_name, len(e.tracks) - e.generated, e.samplerate))
        self.control.deck.ring = self.ring_name
        self.status[st.F_SAMPLERATE] = self.engine.samplerate
        self.status[st.F_PID] = os.getpid()
        self._open_backend()
        self.recorder.start_writer()
        self.last_client = time.monotonic()  # idle from now: a compile (a cold cache) is not
        self._listen()
        for target in (self._status_loop, self._watchdog):
            threading.Thread(target=target, daemon=True, name=target.__name__).start()
        gc.collect()
        gc.freeze()  # what exists now is never scanned again: shorter GC pauses later

    def _open_backend(self) -> None:
        from hoot.engine.backends import Supervisor

        # PortAudio calls the compiled core itself: no GIL on the audio path; the null
        # backend calls the same machine code through ctypes, which lets go of the GIL too
        callback = self.engine.core.callback(on_message=self._compiling)
        self.supervisor = Supervisor(
            callback.call,
            kind=self.backend_kind,
            samplerate=self.engine.samplerate,
            blocksize=self.blocksize,
            device=self.device,
            on_message=self.say,
            duplex=True,
            callback=callback,
        )
        self.supervisor.start()
        self.control.clock.use_backend(self.supervisor.backend, self.say)
        deck, b = self.control.deck, self.supervisor.backend
        deck.ports, deck.reason = b.input_ports, b.input_reason

    def _compiling(self, message: str) -> None:
        """The core compiles (a cold cache): the performer reads why the start takes long,
        and the log says so too, which tells a waiting EngineClient.spawn to wait on."""
        self.say(message)
        print(message, flush=True)

    def measure_latency(self) -> p.Latency:
        """The round trip input -> output on the device playing now (latency.py)."""
        return measure_round_trip(self.engine, self.backend)

    def host_block(self) -> int:
        """The host block size the device runs at (what the status file reports), 0 before
        it opens."""
        b = self.backend
        return int(getattr(b, "last_block", 0) or b.blocksize or 0) if b is not None else 0

    def _output_latency(self) -> float:
        b = self.backend
        return b.latency if b is not None else 0.0

    @property
    def backend(self):
        """The audio backend playing now (it changes if the device is lost)."""
        return self.supervisor.backend if self.supervisor is not None else None

    def say(self, message: str) -> None:
        self.messages.append(message)
        del self.messages[:-20]
        self.said += 1
        self.log(f"hoot engine: {message}")

    def serve_forever(self) -> None:
        self.start()
        self.log(f"hoot engine: serving {self.session_dir} on {self.socket_path}")
        try:
            while not self.stopping.is_set():
                self._accept_once()
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.stopping.set()
        self.routes.close()  # first: hardware hears its note-offs while the engine still runs
        try:
            self.recorder.close()
        finally:
            if self.supervisor is not None:
                self.supervisor.stop()
            self.control.close()
            self.engine.close_notes()  # models that map it keep their mapping
            for path in (self.socket_path, self.status_path, rings.ring_path(self.ring_name)):
                try:
                    path.unlink()  # clients that map the status keep their mapping
                except FileNotFoundError:
                    pass
            if self._sock is not None:
                self._sock.close()

    # ---- socket ------------------------------------------------------------------------

    def _listen(self) -> None:
        if self.socket_path.exists():
            self.socket_path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.socket_path))
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        sock.listen(8)
        sock.settimeout(0.5)
        self._sock = sock

    def _accept_once(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except TimeoutError:
            return
        except OSError:
            if not self.stopping.is_set():
                raise
            return
        threading.Thread(target=self._serve_client, args=(conn,), daemon=True).start()

    def _serve_client(self, conn: socket.socket) -> None:
        if peer_uid(conn) != os.getuid():  # file modes guard the socket; this checks anyway
            try:
                conn.sendall(json.dumps({"ok": False, "kind": "EngineError",
                                         "error": "refused: this engine belongs to another "
                                         "user"}).encode() + b"\n")
            finally:
                conn.close()
            return
        self.clients += 1
        self.last_client = time.monotonic()
        try:
            reader = conn.makefile("rb")
            for line in reader:
                reply = self._handle(line)
                conn.sendall(json.dumps(reply).encode() + b"\n")
                if reply.get("bye"):
                    break
        except OSError:
            pass  # the client went away; the music does not care
        finally:
            self.clients -= 1
            self.last_client = time.monotonic()
            conn.close()

    def _handle(self, line: bytes) -> dict:
        rid = None
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("a request is a JSON object")
            rid = req.get("id")
            command = p.decode_command(req.get("cmd"), req.get("args"))
            if isinstance(command, p.Hello):
                reply = self.hello()
            elif isinstance(command, p.GetTiming):
                reply = self.timing()
            elif isinstance(command, p.GetMessages):
                reply, self.messages = p.Messages(tuple(self.messages)), []
            elif isinstance(command, p.Shutdown):
                self.stopping.set()
                return {"id": rid, "ok": True, "result": {}, "bye": True}
            else:
                reply = self.control.handle(command)
            return {"id": rid, "ok": True, "result": reply.to_wire()}
        except HootError as e:
            return {"id": rid, "ok": False, "kind": type(e).__name__, "error": str(e)}
        except Exception as e:  # noqa: BLE001 - a bad request must not take the server down
            return {
                "id": rid,
                "ok": False,
                "kind": "EngineError",
                "error": f"the engine could not do that ({type(e).__name__}: {e})",
            }

    def hello(self) -> p.EngineInfo:
        b = self.backend
        return p.EngineInfo(
            protocol=p.PROTOCOL,
            pid=os.getpid(),
            session=str(self.session_dir),
            tracks=tuple(self.engine.tracks[: self.engine.generated]),
            samplerate=self.engine.samplerate,
            status=str(self.status_path),
            backend=b.name if b else "none",
            device=b.device if b else "none",
            latency=b.latency if b else 0.0,
            ceiling_db=self.engine.limiter.ceiling_db,
            inputs=len(self.engine.tracks) - self.engine.generated,
        )

    def timing(self) -> p.Timing:
        """How long the audio thread's last blocks (up to 4096) took to render, as shares
        of the block period: the tail shows what the status line's average hides."""
        b = self.backend
        times = b.recent_callback_times() if b is not None else []
        if not len(times) or not b.last_block:
            return p.Timing(blocks=0)
        share = np.asarray(times) * (b.samplerate / b.last_block)
        return p.Timing(
            blocks=len(share),
            p50=float(np.percentile(share, 50)),
            p99=float(np.percentile(share, 99)),
            p999=float(np.percentile(share, 99.9)),
            max=float(share.max()),
        )

    # ---- background ------------------------------------------------------------------

    def _status_loop(self) -> None:
        e, s = self.engine, self.status
        G, T = e.generated, len(e.tracks)
        live = st.HEADER + (G + 1) * 4
        while not self.stopping.is_set():
            b = self.backend
            s[st.F_POSITION] = e.position
            s[st.F_BLOCKS] = e.blocks
            s[st.F_FAULTS] = e.faults + self.recorder.faults
            s[st.F_STATE_VERSION] = e.state_version
            s[st.F_HEARTBEAT] = time.time()
            s[st.F_LIMITER_DB] = e.limiter.reduction_db
            s[st.F_RECORDING] = 1.0 if self.recorder.recording else 0.0
            s[st.F_DROPPED] = self.recorder.dropped_frames
            s[st.F_MESSAGES] = self.said
            if b is not None:
                s[st.F_XRUNS] = b.xruns
                s[st.F_CPU] = b.cpu_load
                s[st.F_CPU_PEAK] = getattr(b, "cpu_peak", b.cpu_load)
                s[st.F_LATENCY] = b.latency
                s[st.F_BLOCKSIZE] = self.host_block()
                s[st.F_REALTIME] = b.realtime_priority
            s[st.HEADER : st.HEADER + G * 4] = e.meters[:G].reshape(-1)
            s[live - 4 : live] = e.meters[T]
            s[live : live + (T - G) * 4] = e.meters[G:T].reshape(-1)
            s[live + (T - G) * 4 : live + (T - G) * 5] = e.clips()
            e.graveyard.clear()  # let go of retired stems here, off the audio thread
            time.sleep(1 / 120)

    def _watchdog(self) -> None:
        while not self.stopping.is_set():
            time.sleep(0.25)
            idle = time.monotonic() - self.last_client
            if self.clients == 0 and idle > self.idle_timeout:
                self.log(f"hoot engine: no client for {self.idle_timeout:g} s; shutting down")
                self.stopping.set()


def raise_priority() -> int:
    """Ask the OS to run the engine before ordinary processes (generation workers, the UI,
    a browser): nice -10 where allowed (root, or CAP_SYS_NICE), HOOT_ENGINE_NICE to change
    it. Returns the niceness in force."""
    wanted = int(os.environ.get("HOOT_ENGINE_NICE", "-10"))
    try:
        return os.nice(wanted - os.nice(0))
    except OSError:
        return os.nice(0)  # not allowed: play at normal priority


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hoot-engine", description=__doc__.splitlines()[0])
    ap.add_argument("--session", required=True, type=Path, help="session folder")
    ap.add_argument("--backend", default="auto", choices=("auto", "sounddevice", "null"))
    ap.add_argument("--device", default=None)
    ap.add_argument("--samplerate", type=int, default=48000)
    ap.add_argument("--blocksize", type=int, default=0)
    ap.add_argument("--idle-timeout", type=float, default=600.0)
    ap.add_argument("--bpm", type=float, default=120.0)
    ap.add_argument("--meter", default="4/4")
    ap.add_argument("--phrase", type=int, default=4)
    ap.add_argument("--tracks", default=",".join(TRACKS))
    a = ap.parse_args(argv)
    set_switch_interval()
    raise_priority()
    realtime.raise_engine_threads()  # first: every thread started later inherits it
    a.session.mkdir(parents=True, exist_ok=True)
    server = EngineServer(
        a.session,
        a.backend,
        a.device,
        a.samplerate,
        a.blocksize,
        a.idle_timeout,
        tuple(t for t in a.tracks.split(",") if t),
        a.bpm,
        a.meter,
        a.phrase,
    )

    def _terminate(signum, frame):  # finish the recording on a polite kill
        server.stopping.set()

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the performer's terminal is not ours
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
