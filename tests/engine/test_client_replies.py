"""EngineClient keeps each reply with its command: a command whose reply came too late, or
whose wait was interrupted, leaves nothing that could answer the next one."""

from __future__ import annotations

import itertools
import json
import socket
import threading

import pytest

from hoot.engine import protocol as p
from hoot.engine.client import EngineClient
from hoot.errors import EngineError


class SlowEngine:
    """A Unix socket that answers `timing` lines with their own id and blocks=id, holding
    the reply to the request numbered `late` until `release` is set."""

    def __init__(self, path, late: int) -> None:
        self.path, self.late = path, late
        self.release = threading.Event()
        self.connections = 0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(4)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        with conn, conn.makefile("rb") as lines:
            for line in lines:
                rid = json.loads(line)["id"]
                if rid == self.late:
                    self.release.wait(10)
                reply = {"id": rid, "ok": True, "result": {"blocks": rid}}
                try:
                    conn.sendall((json.dumps(reply) + "\n").encode())
                except OSError:
                    return

    def close(self) -> None:
        self.release.set()
        self.listener.close()


def client_of(path, timeout: float) -> EngineClient:
    client = EngineClient.__new__(EngineClient)  # no Hello, no status: the socket alone
    client.socket_path, client.session_dir, client.timeout = path, path.parent, timeout
    client._ids, client._lock = itertools.count(1), threading.Lock()
    client._connect()
    return client


@pytest.fixture
def slow(tmp_path):
    engine = SlowEngine(tmp_path / "engine.sock", late=2)
    yield engine
    engine.close()


def test_a_reply_that_comes_too_late_never_answers_the_next_command(slow):
    client = client_of(slow.path, timeout=0.3)
    assert client.send(p.GetTiming()).blocks == 1
    with pytest.raises(EngineError, match="did not answer"):
        client.send(p.GetTiming())  # request 2: held past the timeout
    slow.release.set()  # its reply now arrives, on the connection the client let go
    assert client.send(p.GetTiming()).blocks == 3, "the third command gets its own reply"
    assert client.send(p.GetTiming()).blocks == 4
    assert slow.connections == 2


def test_an_interrupted_wait_leaves_no_reply_behind(slow):
    client = client_of(slow.path, timeout=5.0)
    assert client.send(p.GetTiming()).blocks == 1

    def interrupted() -> bytes:
        raise KeyboardInterrupt  # Ctrl-C in the console thread while it waits

    client._reader.readline = interrupted
    with pytest.raises(KeyboardInterrupt):
        client.send(p.GetTiming())  # request 2: its reply is held, then comes unread
    slow.release.set()
    assert client.send(p.GetTiming()).blocks == 3
    assert slow.connections == 2
