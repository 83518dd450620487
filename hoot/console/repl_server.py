"""The TUI's console, served to `hoot repl` clients over a private Unix socket.

`hoot tui` starts a `ReplServer` on the console's `Executor`; `hoot repl` in another terminal
connects and types into the same namespace. Every run goes through that one executor, so a
repl's runs queue behind (and never overlap) the TUI's own.

Only the user running the TUI may connect, checked twice:

- the socket lives in a folder only that user can enter (mode 0700) and is itself mode 0600;
- every accepted connection's peer uid is read from the kernel (SO_PEERCRED) and a different
  uid is refused with a one-line message before any request is read. This holds even if the
  file modes were loosened by hand.

Protocol: newline-delimited JSON, one request per line: {"id": ..., "op": ..., fields}. The
reply repeats the id; replies may come out of order (a long run never holds up a completion).

    op           fields                       reply fields (besides "id" and "ok": true)
    hello        -                            "server": "hoot", "protocol", "pid"
    run          "source"                     "outputs": [output, ...] once the run has ended
    complete     "source", "cursor" (offset)  "completions": [name, ...]
    is_complete  "source"                     "complete": bool
    interrupt    -                            "interrupted": bool

An output is {"kind", "text", "traceback", "run_id"}, as `hoot.console.executor.Output`.
`interrupt` acts only while the asking connection has a run queued or running, so an idle
repl cannot stop what the TUI runs. A bad request gets {"id", "ok": false, "error"}; a refused
peer gets the one line {"op": "refused", "message"} and the connection is closed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import selectors
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from hoot.errors import HootError
from hoot.runtime import peer_uid
from hoot.session import atomic_write

PROTOCOL = 1
POINTER_NAME = "repl.json"
# A request line longer than this is refused: no one types 4 MiB of code, and an unbounded
# readline would let a confused client grow the TUI's memory without limit.
MAX_REQUEST_BYTES = 4 * 1024 * 1024
# How much a refused peer may send before it is cut off regardless.
_REFUSED_DRAIN_BYTES = 1024 * 1024


class ExecutorLike(Protocol):
    """What the server needs of `hoot.console.executor.Executor`."""

    def is_complete(self, source: str) -> bool: ...

    def run_sync(self, source: str, timeout: float | None = None) -> list[Any]: ...

    def interrupt(self) -> bool: ...

    def complete(self, source: str, cursor: int) -> list[str]: ...


def repl_socket_path(session_dir: Path) -> Path:
    """Where the TUI serving `session_dir` listens for `hoot repl`: beside the engine's socket
    in the private runtime folder, so the path stays short enough for a Unix socket."""
    from hoot.runtime import runtime_dir, session_key

    return runtime_dir() / f"{session_key(session_dir)}.repl.sock"


def output_to_json(output: Any) -> dict[str, Any]:
    """One executor `Output` as a JSON object (kind, text, traceback, run_id)."""
    if dataclasses.is_dataclass(output) and not isinstance(output, type):
        data = dataclasses.asdict(output)
    else:
        data = dict(vars(output))
    return {
        "kind": str(data.get("kind", "")),
        "text": str(data.get("text", "")),
        "traceback": str(data.get("traceback", "") or ""),
        "run_id": int(data.get("run_id", 0) or 0),
    }


class _Client:
    """One accepted connection: a reader thread, and one thread per request so a long run
    never delays a completion or the interrupt meant to stop it."""

    def __init__(self, server: ReplServer, conn: socket.socket, number: int) -> None:
        self.server = server
        self.conn = conn
        self.number = number
        self._write_lock = threading.Lock()
        self._closed = threading.Event()
        self._runs_lock = threading.Lock()
        self._runs_in_flight = 0
        self.thread = threading.Thread(
            target=self._serve, name=f"hoot-repl-client-{number}", daemon=True
        )

    def send(self, message: dict[str, Any]) -> None:
        """Write one reply line; a client that has gone away is simply dropped."""
        data = (json.dumps(message) + "\n").encode()
        with self._write_lock:
            if self._closed.is_set():
                return
            try:
                self.conn.sendall(data)
            except OSError:
                self.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Count this client's runs while they are queued or running."""
        with self._runs_lock:
            self._runs_in_flight += 1
        try:
            yield
        finally:
            with self._runs_lock:
                self._runs_in_flight -= 1

    @property
    def has_runs(self) -> bool:
        with self._runs_lock:
            return self._runs_in_flight > 0

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        # shutdown() first: it wakes the reader thread blocked in recv, which close() does not.
        with contextlib.suppress(OSError):
            self.conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.conn.close()

    def _serve(self) -> None:
        try:
            with self.conn.makefile("rb") as stream:
                while not self._closed.is_set():
                    line = stream.readline(MAX_REQUEST_BYTES + 1)
                    if not line:
                        break
                    if len(line) > MAX_REQUEST_BYTES:
                        self.send({"id": None, "ok": False, "error": "request too long"})
                        break
                    self._dispatch(line)
        except (OSError, ValueError):
            pass  # the connection broke or was closed by stop(): nothing left to answer
        finally:
            self.close()
            self.server._forget(self)

    def _dispatch(self, line: bytes) -> None:
        try:
            request = json.loads(line)
        except ValueError:
            self.send({"id": None, "ok": False, "error": "request is not JSON"})
            return
        if not isinstance(request, dict):
            self.send({"id": None, "ok": False, "error": "request is not a JSON object"})
            return
        threading.Thread(
            target=self._answer,
            args=(request,),
            name=f"hoot-repl-{self.number}-{request.get('op')}",
            daemon=True,
        ).start()

    def _answer(self, request: dict[str, Any]) -> None:
        request_id = request.get("id")
        try:
            reply = self.server._handle(request, self)
        except (KeyError, TypeError, ValueError) as e:
            reply = {"ok": False, "error": f"bad request: {e}"}
        except Exception as e:  # noqa: BLE001 - a failing handler must still answer its client
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        self.send({"id": request_id, **reply})


class ReplServer:
    """Serves one executor to `hoot repl` clients on a Unix socket, from its own threads.

    `start()` binds and listens, `stop()` closes every connection and removes the socket (and
    the session's pointer file, if this server wrote it). `address` is the socket path.
    """

    def __init__(self, executor: ExecutorLike, socket_path: Path) -> None:
        self.executor = executor
        self.address = Path(socket_path)
        self._listener: socket.socket | None = None
        self._socket_inode: int | None = None
        self._pointer: Path | None = None
        self._clients: set[_Client] = set()
        self._clients_lock = threading.Lock()
        self._accept_thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._stopping = threading.Event()
        self._count = 0

    # ---- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Bind the socket (mode 0600 in a private folder) and start accepting connections."""
        if self._listener is not None:
            return
        folder = self.address.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_private_folder(folder)
        self._remove_stale_socket()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.address))
            # chmod before listen(): until listen() every connect is refused, so there is no
            # moment when the socket is both reachable and still carries the umask's mode.
            os.chmod(self.address, 0o600)
            listener.listen(16)
        except OSError as e:
            listener.close()
            raise HootError(f"cannot serve the repl on {self.address}: {e}") from e
        self._socket_inode = os.stat(self.address).st_ino
        self._listener = listener
        self._stopping.clear()
        self._wake_r, self._wake_w = os.pipe()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name="hoot-repl-accept", daemon=True
        )
        self._accept_thread.start()

    def stop(self) -> None:
        """Stop accepting, close every client, remove the socket and pointer. Runs already in
        the executor finish there; their replies are dropped."""
        if self._listener is None:
            return
        self._stopping.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        self._listener.close()
        self._listener = None
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        with self._clients_lock:
            clients = list(self._clients)
        for client in clients:
            client.close()
        for client in clients:
            client.thread.join(timeout=2)
        self._remove_own_socket()
        self._remove_own_pointer()

    def write_pointer(self, session_dir: Path) -> Path:
        """Write `session_dir/repl.json` naming this server's socket, so `hoot repl --session`
        finds it; `stop()` removes it again if it still names this server."""
        path = Path(session_dir) / POINTER_NAME
        pointer = {"socket": str(self.address), "pid": os.getpid(), "protocol": PROTOCOL}
        atomic_write(path, json.dumps(pointer) + "\n")
        self._pointer = path
        return path

    @property
    def client_count(self) -> int:
        """How many repl clients are connected now."""
        with self._clients_lock:
            return len(self._clients)

    def __enter__(self) -> ReplServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- accepting --------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        # A selector on the listener and a wake pipe: closing a socket from another thread
        # does not reliably wake a blocked accept(), a byte on the pipe always does.
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _events in selector.select():
                    if key.fileobj is self._listener and not self._stopping.is_set():
                        self._accept_one()

    def _accept_one(self) -> None:
        assert self._listener is not None
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        uid = peer_uid(conn)
        if uid != os.getuid():
            # On a thread of its own: a stranger must not be able to stall the accept loop.
            threading.Thread(
                target=_refuse, args=(conn, uid), name="hoot-repl-refuse", daemon=True
            ).start()
            return
        self._count += 1
        client = _Client(self, conn, self._count)
        with self._clients_lock:
            self._clients.add(client)
        client.thread.start()

    def _forget(self, client: _Client) -> None:
        with self._clients_lock:
            self._clients.discard(client)

    # ---- requests ---------------------------------------------------------------------

    def _handle(self, request: dict[str, Any], client: _Client) -> dict[str, Any]:
        """Answer one request (without its id) from `client`. Raises KeyError/TypeError/
        ValueError for a malformed one."""
        op = request.get("op")
        if op == "hello":
            return {
                "ok": True,
                "server": "hoot",
                "protocol": PROTOCOL,
                "pid": os.getpid(),
            }
        if op == "run":
            source = _text_field(request, "source")
            with client.running():
                outputs = self.executor.run_sync(source)
            return {"ok": True, "outputs": [output_to_json(o) for o in outputs]}
        if op == "complete":
            source = _text_field(request, "source")
            cursor = request.get("cursor", len(source))
            if not isinstance(cursor, int) or not 0 <= cursor <= len(source):
                raise ValueError("'cursor' must be an index into 'source'")
            return {"ok": True, "completions": list(self.executor.complete(source, cursor))}
        if op == "is_complete":
            source = _text_field(request, "source")
            return {"ok": True, "complete": bool(self.executor.is_complete(source))}
        if op == "interrupt":
            # Only a client waiting for a run of its own may press Ctrl-C: an idle repl must not
            # stop what the TUI is running.
            if not client.has_runs:
                return {"ok": True, "interrupted": False}
            return {"ok": True, "interrupted": bool(self.executor.interrupt())}
        raise ValueError(f"unknown op {op!r}")

    # ---- the socket file --------------------------------------------------------------

    def _remove_stale_socket(self) -> None:
        """Remove a socket left by a TUI that died; refuse to replace a live one or a file
        that is not a socket."""
        try:
            mode = os.lstat(self.address).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise HootError(f"{self.address} exists and is not a socket; remove it by hand")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.address))
        except OSError:
            self.address.unlink(missing_ok=True)  # nobody listens: a leftover
            return
        finally:
            probe.close()
        raise HootError(f"another hoot tui already serves the repl on {self.address}")

    def _remove_own_socket(self) -> None:
        # Only if it is still ours: a newer server may have replaced a socket we left behind.
        with contextlib.suppress(OSError):
            if os.lstat(self.address).st_ino == self._socket_inode:
                self.address.unlink()

    def _remove_own_pointer(self) -> None:
        if self._pointer is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if json.loads(self._pointer.read_text()).get("socket") == str(self.address):
                self._pointer.unlink()
        self._pointer = None


def _refuse(conn: socket.socket, uid: int | None) -> None:
    """Tell a stranger (or a peer whose uid cannot be read) why, in one line, and hang up.

    What it sent is read and thrown away unparsed before closing: closing a Unix socket with
    unread data resets the connection, and the peer would lose the message with it.
    """
    if uid is None:
        message = "refused: this platform cannot tell who is connecting, so hoot admits no one"
    else:
        message = f"refused: this hoot session belongs to another user (you are uid {uid})"
    conn.settimeout(1.0)  # a peer that neither reads nor hangs up is given a second, no more
    try:
        conn.sendall((json.dumps({"op": "refused", "message": message}) + "\n").encode())
        conn.shutdown(socket.SHUT_WR)
        discarded = 0
        while discarded < _REFUSED_DRAIN_BYTES:
            chunk = conn.recv(65536)
            if not chunk:
                break
            discarded += len(chunk)
    except OSError:
        pass  # it hung up or went quiet: either way it is done with
    finally:
        conn.close()


def _text_field(request: dict[str, Any], name: str) -> str:
    value = request[name]
    if not isinstance(value, str):
        raise TypeError(f"{name!r} must be a string")
    return value


def _check_private_folder(folder: Path) -> None:
    """Refuse to listen in a folder other users could enter: the mode bits are the first lock
    on the door (the peer-uid check is the second)."""
    info = os.stat(folder)
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise HootError(
            f"refusing to serve the repl from {folder}: the folder must belong to you "
            f"and be private (chmod 700 {folder})"
        )
