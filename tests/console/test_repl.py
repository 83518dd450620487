"""`hoot repl` against a real console executor: results, prints and errors over the socket,
completion, the shared namespace, strangers kept out (file modes and the peer-uid check, with
a real process running as `nobody`), and the ptpython prompt driven through a pseudo-terminal.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pwd
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from hoot.console import repl_client
from hoot.console.executor import Executor, Output
from hoot.console.repl_client import (
    HISTORY_NAME,
    ReplConnection,
    ReplRefused,
    ReplUnavailable,
    add_repl_command,
    connect,
    find_socket,
    prompt_classes,
)
from hoot.console.repl_server import POINTER_NAME, ReplServer, repl_socket_path
from hoot.errors import HootError
from hoot.runtime import runtime_dir
from tests.waiting import PATIENCE, wait_until

REPO = Path(__file__).resolve().parents[2]


class Tui:
    """What `hoot tui` holds: a namespace, its executor (with the log the TUI would show) and
    the repl server on a socket in a private folder."""

    def __init__(self, folder: Path) -> None:
        self.log: list[Output] = []
        self.exit_requests = 0
        self.namespace: dict = {"x": 41}
        self.executor = Executor(self.namespace, self.log.append, on_exit_request=self._exit)
        self.server = ReplServer(self.executor, folder / "repl.sock")
        self.server.start()

    def _exit(self) -> None:
        self.exit_requests += 1

    def close(self) -> None:
        self.server.stop()
        self.executor.close()


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A mode-0700 folder directly in /tmp: unlike pytest's tmp_path (inside a 0700 tree) it
    can be opened to other users by one chmod, which the stranger tests need."""
    folder = Path(tempfile.mkdtemp(prefix="hoot-repl-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def tui(private_dir: Path) -> Iterator[Tui]:
    t = Tui(private_dir)
    yield t
    t.close()


@pytest.fixture
def client(tui: Tui) -> Iterator[ReplConnection]:
    connection = ReplConnection.open(tui.server.address, timeout=PATIENCE)
    yield connection
    connection.close()


def by_kind(outputs, kind: str) -> list:
    return [o for o in outputs if o.kind == kind]


# ---- (1) running code ------------------------------------------------------------------------


def test_hello_names_the_server(client: ReplConnection):
    assert client.server_info["server"] == "hoot"
    assert client.server_info["pid"] == os.getpid()


def test_expression_result_comes_back(client: ReplConnection):
    outputs = client.run("x + 1")
    assert [o.text for o in by_kind(outputs, "result")] == ["42"]
    assert not by_kind(outputs, "error")


def test_print_arrives_as_stdout(client: ReplConnection):
    outputs = client.run("print('hello'); print('there')")
    assert "\n".join(o.text for o in by_kind(outputs, "stdout")) == "hello\nthere"
    assert not by_kind(outputs, "result")


def test_error_is_one_line_with_the_traceback_kept(client: ReplConnection):
    outputs = client.run("def f():\n    return 1 / 0\nf()")
    (error,) = by_kind(outputs, "error")
    assert "\n" not in error.text
    assert error.text.startswith("ZeroDivisionError: division by zero")
    assert error.traceback.startswith("Traceback (most recent call last):")
    assert "return 1 / 0" in error.traceback
    assert error.traceback.rstrip().endswith("ZeroDivisionError: division by zero")


def test_repl_runs_also_reach_the_tui_log(tui: Tui, client: ReplConnection):
    client.run("x - 1")
    assert ("result", "40") in [(o.kind, o.text) for o in tui.log]


def test_is_complete_follows_the_executor(client: ReplConnection):
    assert client.is_complete("x + 1")
    assert not client.is_complete("for i in range(3):")


def test_malformed_requests_get_error_replies(tui: Tui):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(str(tui.server.address))
        raw.settimeout(PATIENCE)
        stream = raw.makefile("rwb")
        replies = []
        for line in (b"not json\n", b'{"id": 7, "op": "dance"}\n', b'{"id": 8, "op": "run"}\n'):
            stream.write(line)
            stream.flush()
            replies.append(json.loads(stream.readline()))
    assert replies[0] == {"id": None, "ok": False, "error": "request is not JSON"}
    assert replies[1]["id"] == 7 and not replies[1]["ok"] and "dance" in replies[1]["error"]
    assert replies[2]["id"] == 8 and not replies[2]["ok"] and "source" in replies[2]["error"]
    assert tui.log == []  # nothing ran


# ---- (2) completion ----------------------------------------------------------------------------


def test_completion_comes_from_the_live_namespace(client: ReplConnection):
    assert "bit_length" in client.complete("x.bit_le", len("x.bit_le"), timeout=PATIENCE)


def test_prompt_completer_replaces_the_typed_word(client: ReplConnection, monkeypatch):
    # The prompt gives up on a completion after 2 s; jedi's first one can take longer on a
    # busy machine, and giving up is not what this test is about.
    monkeypatch.setattr(repl_client, "COMPLETION_TIMEOUT", PATIENCE)
    completer = prompt_classes().completer(client)
    completions = list(completer.get_completions(Document("x.bit_le"), CompleteEvent()))
    assert [(c.text, c.start_position) for c in completions] == [("bit_length", -len("bit_le"))]


# ---- (3) one namespace ---------------------------------------------------------------------


def test_repl_and_tui_share_the_namespace(tui: Tui, client: ReplConnection):
    client.run("y = 5")
    assert tui.namespace["y"] == 5
    tui.executor.run_sync("z = y + 1", timeout=PATIENCE)
    assert [o.text for o in by_kind(client.run("z"), "result")] == ["6"]


def test_several_clients_share_one_executor(tui: Tui):
    address = tui.server.address
    with ReplConnection.open(address, PATIENCE) as a, ReplConnection.open(address, PATIENCE) as b:
        assert wait_until(lambda: tui.server.client_count == 2)
        a.run("shared = []")
        threads = [
            threading.Thread(target=c.run, args=(f"shared.append({i})",))
            for i, c in enumerate((a, b, a, b))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=PATIENCE)
            assert not thread.is_alive()
        assert sorted(tui.namespace["shared"]) == [0, 1, 2, 3]


def test_interrupt_stops_a_repl_run(tui: Tui, client: ReplConnection):
    looping = tui.namespace["looping"] = threading.Event()
    outputs: list = []
    run = "looping.set()\nwhile True:\n    pass\n"
    runner = threading.Thread(target=lambda: outputs.extend(client.run(run)))
    runner.start()
    assert looping.wait(PATIENCE), "the loop never started"
    assert client.interrupt()
    runner.join(timeout=PATIENCE)
    assert not runner.is_alive()
    (error,) = by_kind(outputs, "error")
    assert error.text.startswith("KeyboardInterrupt")
    assert [o.text for o in by_kind(client.run("x"), "result")] == ["41"]


def test_an_idle_repl_cannot_interrupt_the_tuis_run(tui: Tui, client: ReplConnection):
    looping = tui.namespace["looping"] = threading.Event()
    stop = tui.namespace["stop"] = threading.Event()
    tui.executor.submit("looping.set()\nwhile not stop.is_set():\n    pass\n")
    assert looping.wait(PATIENCE), "the loop never started"
    assert client.interrupt() is False
    # The TUI's run goes on until the TUI ends it: ended by `stop`, not by a Ctrl-C.
    stop.set()
    assert wait_until(lambda: not tui.executor.busy)
    assert not [o for o in tui.log if o.kind == "error"], tui.log


# ---- (4) strangers ------------------------------------------------------------------------------

# Runs as `nobody`: connect, send a run at once, print what comes back. Standard library only,
# with -I, so it needs nothing from this checkout.
STRANGER = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES")
    sys.exit(0)
s.sendall(b'{"id": 1, "op": "run", "source": "pwned = 1"}\\n')
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print("CONNECTED " + data.decode())
"""


def python_for_nobody() -> str:
    """A Python interpreter `nobody` may run: this venv's may live under /root (mode 0700)."""
    nobody = pwd.getpwnam("nobody")
    for candidate in (
        os.path.realpath(sys.executable),
        "/usr/bin/python3",
        "/usr/local/bin/python3",
    ):
        try:
            subprocess.run(
                [candidate, "-I", "-c", "pass"],
                user=nobody.pw_uid,
                group=nobody.pw_gid,
                extra_groups=[],
                check=True,
                capture_output=True,
                timeout=PATIENCE,
                cwd="/",
            )
        except (OSError, subprocess.SubprocessError):
            continue
        return candidate
    pytest.fail("no Python interpreter here can run as `nobody`: install Debian's python3")


def run_as_nobody(socket_path: Path) -> str:
    nobody = pwd.getpwnam("nobody")
    done = subprocess.run(
        [python_for_nobody(), "-I", "-c", STRANGER, str(socket_path)],
        user=nobody.pw_uid,
        group=nobody.pw_gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=2 * PATIENCE,  # the stranger itself gives up on the socket after 60 s
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another user needs root")


@needs_root
def test_file_modes_keep_other_users_out(tui: Tui, private_dir: Path):
    socket_path = tui.server.address
    assert os.stat(private_dir).st_mode & 0o777 == 0o700
    assert os.stat(socket_path).st_mode & 0o777 == 0o600
    # The folder alone stops them...
    assert run_as_nobody(socket_path) == "EACCES"
    # ...and so does the socket's own mode when the folder can be passed through.
    os.chmod(private_dir, 0o711)
    assert run_as_nobody(socket_path) == "EACCES"
    assert "pwned" not in tui.namespace
    assert tui.log == []


@needs_root
def test_peer_uid_check_refuses_other_users_when_modes_are_open(tui: Tui, private_dir: Path):
    # As if someone loosened the modes by hand: only SO_PEERCRED stands in the way now.
    os.chmod(private_dir, 0o711)
    os.chmod(tui.server.address, 0o666)
    answer = run_as_nobody(tui.server.address)
    assert answer.startswith("CONNECTED ")
    (line,) = answer.removeprefix("CONNECTED ").splitlines()  # one line, then closed
    refusal = json.loads(line)
    assert refusal["op"] == "refused"
    assert f"uid {pwd.getpwnam('nobody').pw_uid}" in refusal["message"]
    assert "pwned" not in tui.namespace
    assert tui.log == []
    assert tui.server.client_count == 0
    # The owner is still welcome.
    with ReplConnection.open(tui.server.address) as mine:
        assert [o.text for o in by_kind(mine.run("x"), "result")] == ["41"]


# Runs as `nobody`: listen on a socket and accept whoever comes, as a stranger's fake TUI would.
IMPOSTOR = """
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(1)
print("listening", flush=True)
conn, _ = s.accept()
conn.settimeout(60)
try:
    print("received " + repr(conn.recv(4096)), flush=True)
except OSError:
    print("received nothing", flush=True)
"""


@needs_root
def test_client_sends_nothing_to_another_users_socket(private_dir: Path):
    nobody = pwd.getpwnam("nobody")
    os.chown(private_dir, nobody.pw_uid, nobody.pw_gid)
    socket_path = private_dir / "repl.sock"
    impostor = subprocess.Popen(
        [python_for_nobody(), "-I", "-c", IMPOSTOR, str(socket_path)],
        user=nobody.pw_uid,
        group=nobody.pw_gid,
        extra_groups=[],
        stdout=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    try:
        assert impostor.stdout.readline().strip() == "listening"
        with pytest.raises(ReplRefused, match=f"uid {nobody.pw_uid}, not by you"):
            ReplConnection.open(socket_path)
        out, _ = impostor.communicate(timeout=2 * PATIENCE)
    finally:
        impostor.kill()
        impostor.wait()
    assert out.strip() == "received b''"  # connected, then hung up on without a word


def test_server_refuses_a_folder_others_can_enter(private_dir: Path):
    os.chmod(private_dir, 0o755)
    server = ReplServer(executor=None, socket_path=private_dir / "repl.sock")  # type: ignore[arg-type]
    with pytest.raises(HootError, match="private"):
        server.start()


# ---- finding the TUI, starting and stopping -------------------------------------------------


def test_no_tui_running_says_how_to_start_one(tmp_path: Path):
    session_dir = tmp_path / "gig"
    session_dir.mkdir()
    with pytest.raises(ReplUnavailable) as caught:
        connect(session_dir, "gig")
    assert str(caught.value) == (
        "no hoot tui is running for session 'gig'; start one with `hoot tui --session gig`"
    )


def test_pointer_leads_the_client_and_goes_away_on_stop(private_dir: Path, tmp_path: Path):
    session_dir = tmp_path / "gig"
    session_dir.mkdir()
    tui = Tui(private_dir)
    try:
        pointer = tui.server.write_pointer(session_dir)
        assert pointer == session_dir / POINTER_NAME
        assert find_socket(session_dir) == tui.server.address
        with connect(session_dir) as connection:
            assert [o.text for o in by_kind(connection.run("x"), "result")] == ["41"]
    finally:
        tui.close()
    assert not pointer.exists()
    assert not tui.server.address.exists()
    with pytest.raises(ReplUnavailable, match="no hoot tui is running for session 'gig'"):
        connect(session_dir)


def test_a_socket_that_never_answers_is_not_a_tui(private_dir: Path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(str(private_dir / "silent.sock"))
        silent.listen(1)
        with pytest.raises(ReplUnavailable, match="did not answer"):
            ReplConnection.open(private_dir / "silent.sock", timeout=0.5)


def test_default_socket_is_in_the_private_runtime_dir(tmp_path: Path):
    path = repl_socket_path(tmp_path)
    assert path.parent == runtime_dir()
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    assert path.name.endswith(".repl.sock")
    assert find_socket(tmp_path) == path  # no repl.json: where a TUI would listen


def test_stale_socket_is_replaced_and_a_live_one_is_not(private_dir: Path):
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(private_dir / "repl.sock"))
    stale.close()  # the file stays, nobody listens: a TUI that crashed
    tui = Tui(private_dir)
    try:
        with ReplConnection.open(tui.server.address) as connection:
            assert connection.server_info["server"] == "hoot"
        second = ReplServer(tui.executor, tui.server.address)
        with pytest.raises(HootError, match="already serves"):
            second.start()
    finally:
        tui.close()


def test_stop_hangs_up_on_clients(private_dir: Path):
    tui = Tui(private_dir)
    connection = ReplConnection.open(tui.server.address)
    try:
        tui.close()
        assert wait_until(lambda: not connection.alive)
        with pytest.raises(HootError, match="closed the connection"):
            connection.run("x")
    finally:
        connection.close()


def test_add_repl_command_registers_repl():
    parser = argparse.ArgumentParser(prog="hoot")
    add_repl_command(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["repl"]).session == "default"
    args = parser.parse_args(["repl", "--session", "gig"])
    assert args.session == "gig" and callable(args.func)


# ---- (5) the prompt, end to end -----------------------------------------------------------------

# CSI sequences, OSC sequences (titles), and the short ESC ( / ESC = ones.
_ESCAPES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()=>][0-9A-Za-z]?"
)


class Terminal:
    """`python -m hoot.console.repl_client` on a pseudo-terminal: type into it, read what it
    draws (escape sequences removed). The pty is the child's controlling terminal, so Ctrl-C
    reaches it as SIGINT, as in a real terminal."""

    def __init__(self, session_dir: Path, home: Path) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "HOME": str(home),  # no ptpython config of whoever runs the tests
            "PROMPT_TOOLKIT_NO_CPR": "1",  # nothing here answers cursor-position requests
            "PYTHONPATH": str(REPO),
        }
        self.process = subprocess.Popen(
            ["setsid", "--ctty", "--wait", sys.executable, "-m", "hoot.console.repl_client"]
            + ["--session", str(session_dir)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=REPO,
            close_fds=True,
        )
        os.close(slave)
        self.screen = b""
        self.mark = 0  # in the text without escape sequences

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def expect(self, pattern: str, timeout: float = PATIENCE) -> str:
        """Wait until `pattern` appears in what was drawn after the last match; returns that
        stretch of text."""
        deadline = time.monotonic() + timeout
        while True:
            text = _ESCAPES.sub(b"", self.screen).decode(errors="replace")[self.mark :]
            found = re.search(pattern, text)
            if found:
                self.mark += found.end()
                return text[: found.end()]
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} never appeared; the screen shows:\n{text}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.1))
            if ready:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:  # the child has gone and the pty is closed
                    time.sleep(0.05)

    def wait(self, timeout: float = PATIENCE) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:
                    pass
        return self.process.wait(timeout=1)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


@pytest.fixture
def attached(tui: Tui, tmp_path: Path) -> Iterator[tuple[Tui, Terminal, Path]]:
    session_dir = tmp_path / "gig"
    session_dir.mkdir()
    tui.server.write_pointer(session_dir)
    terminal = Terminal(session_dir, home=tmp_path)
    try:
        terminal.expect(r"attached to session")
        terminal.expect(r">>>")
        yield tui, terminal, session_dir
    finally:
        terminal.close()


def test_prompt_evaluates_in_the_tui_and_leaves_on_ctrl_d(attached):
    tui, terminal, session_dir = attached
    # Each step waits for the next prompt before typing: keys typed between two prompts reach
    # a terminal in cooked mode, where Ctrl-D, say, is not a key at all.
    terminal.type("x * 2\r")
    terminal.expect(r"(?m)^\s*82\s*$")
    terminal.expect(r">>>")
    terminal.type("print('from', 'the tui')\r")
    terminal.expect(r"from the tui")
    terminal.expect(r">>>")
    terminal.type("w = x + 1\r")
    terminal.expect(r">>>")
    assert wait_until(lambda: tui.namespace.get("w") == 42)

    terminal.type("1 / 0\r")
    shown = terminal.expect(r"ZeroDivisionError: division by zero \(line 1\)")
    assert "Traceback" not in shown  # one line on stage...
    terminal.expect(r">>>")
    terminal.type("%tb\r")
    terminal.expect(r"Traceback \(most recent call last\)(.|\n)*ZeroDivisionError")  # ...all here
    terminal.expect(r">>>")

    # The prompt gives up on a completion after 2 s: let jedi's first one happen first.
    assert "bit_length" in tui.executor.complete("x.bit_le", len("x.bit_le"))
    terminal.type("x.bit_le\t")
    terminal.expect(r"bit_length")
    terminal.type("\x15")  # Ctrl-U: clear the line again

    looping = threading.Event()

    def runaway() -> None:
        """A loop that never ends, as a performer might type one; says once it runs."""
        looping.set()
        while True:
            pass

    tui.namespace["runaway"] = runaway
    terminal.type("runaway()\r")
    # Running in the TUI: the repl has sent it and waits for its outputs.
    assert looping.wait(PATIENCE), "the loop never started"
    terminal.type("\x03")  # Ctrl-C
    terminal.expect(r"KeyboardInterrupt")
    terminal.expect(r">>>")
    terminal.type("x\r")
    terminal.expect(r"(?m)^\s*41\s*$")
    terminal.expect(r">>>")

    terminal.type("\x04")  # Ctrl-D
    assert terminal.wait() == 0
    history = (session_dir / HISTORY_NAME).read_text()
    assert "x * 2" in history and "w = x + 1" in history
    assert tui.exit_requests == 0
    assert "runaway()" in [o.text for o in tui.log if o.kind == "input"]


def test_exit_leaves_the_repl_and_not_the_set(attached):
    tui, terminal, _session_dir = attached
    terminal.type("exit()\r")
    assert terminal.wait() == 0
    assert tui.exit_requests == 0
    assert wait_until(lambda: tui.server.client_count == 0)


def test_repl_without_a_tui_prints_one_line_and_fails(tmp_path: Path):
    session_dir = tmp_path / "gig"
    session_dir.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "hoot.console.repl_client", "--session", str(session_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"hoot: no hoot tui is running for session '{session_dir}'; "
        f"start one with `hoot tui --session {session_dir}`"
    ]
