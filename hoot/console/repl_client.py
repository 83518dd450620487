"""`hoot repl`: a ptpython prompt attached to the running `hoot tui`'s console.

The prompt is ptpython's own (editing, multi-line input, syntax highlighting, history kept
per session in `<session>/repl_history`), but nothing is evaluated here: each entry is sent
to the TUI over its private socket (see `hoot.console.repl_server`) and runs there, in the
same namespace as the TUI's console and queued with its runs. What comes back is printed:
prints and results as they are, an error as one red line.

Keys and commands at the prompt:

    %tb  or  F5     show the full traceback of the last error
    Ctrl-C          during a run: interrupt it (a second Ctrl-C stops waiting for it)
    Ctrl-D, exit()  leave the repl (the TUI, its set and its namespace carry on)
    !command        run a shell command here, in the repl's terminal (ptpython's own)

ptpython's other keys work as usual (F2 options, F3 history, F4 vi/emacs, F6 paste mode),
and `~/.config/ptpython/config.py` is applied if present.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from hoot.console.repl_server import POINTER_NAME, peer_uid, repl_socket_path
from hoot.errors import HootError

HISTORY_NAME = "repl_history"
TRACEBACK_KEY = "f5"
# Completion runs while the performer types: better no menu than a frozen prompt.
COMPLETION_TIMEOUT = 2.0
CONNECT_TIMEOUT = 5.0
_IDENTIFIER_TAIL = re.compile(r"[A-Za-z_0-9]*$")
_LEAVE_WORDS = {"exit", "exit()", "quit", "quit()"}


class ReplUnavailable(HootError):
    """No hoot tui listens on the session's repl socket."""


class ReplRefused(HootError):
    """The server (or the file system) refused this connection."""


class ReplConnectionLost(HootError):
    """The TUI went away while the repl was attached."""


class ReplRequestFailed(HootError):
    """The server answered a request with an error."""


@dataclass(frozen=True)
class RemoteOutput:
    """One output of a remote run, as `hoot.console.executor.Output`: kind is one of
    "input", "stdout", "stderr", "result", "error", "info"."""

    kind: str
    text: str
    traceback: str = ""
    run_id: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RemoteOutput:
        return cls(
            kind=str(data.get("kind", "")),
            text=str(data.get("text", "")),
            traceback=str(data.get("traceback", "") or ""),
            run_id=int(data.get("run_id", 0) or 0),
        )


class _Pending:
    """A request waiting for its reply (or for the connection to fail)."""

    def __init__(self, request_id: int) -> None:
        self.request_id = request_id
        self.done = threading.Event()
        self.reply: dict[str, Any] | None = None
        self.failure: HootError | None = None


class ReplConnection:
    """A connection to a `ReplServer`, without any prompt: safe to use from many threads at
    once (a reader thread matches replies to requests by id)."""

    def __init__(self, sock: socket.socket, address: Path) -> None:
        self.address = address
        self.server_info: dict[str, Any] = {}
        self._sock = sock
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._failure: HootError | None = None
        self._reader = threading.Thread(
            target=self._read_loop, name="hoot-repl-reader", daemon=True
        )
        self._reader.start()

    @classmethod
    def open(cls, address: Path, timeout: float = CONNECT_TIMEOUT) -> ReplConnection:
        """Connect to the server at `address`, make sure it runs as this user, and greet it.

        Raises ReplUnavailable when nothing listens there and ReplRefused when the server or
        the socket's permissions turn this user away.
        """
        address = Path(address)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(address))
        except (FileNotFoundError, ConnectionRefusedError) as e:
            sock.close()
            raise ReplUnavailable(f"nothing listens on {address}") from e
        except PermissionError as e:
            sock.close()
            raise ReplRefused(f"permission denied on {address}: it belongs to another user") from e
        except OSError as e:
            sock.close()
            raise ReplUnavailable(f"cannot connect to {address}: {e}") from e
        # The same check the server makes, the other way round: code typed here must never go
        # to another user's process, even if someone pointed repl.json at their socket.
        uid = peer_uid(sock)
        if uid != os.getuid():
            sock.close()
            raise ReplRefused(f"{address} is served by uid {uid}, not by you; not sending code")
        sock.settimeout(None)
        connection = cls(sock, address)
        try:
            connection.server_info = connection.request("hello", timeout=timeout)
        except TimeoutError as e:
            connection.close()
            raise ReplUnavailable(f"{address} did not answer as a hoot repl would") from e
        except HootError:
            connection.close()
            raise
        return connection

    # ---- requests ---------------------------------------------------------------------

    def request(self, op: str, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send one request and wait for its reply; raises ReplRequestFailed if the server
        answered with an error, TimeoutError if it did not answer within `timeout`."""
        pending = self._send(op, fields)
        return self._wait(pending, timeout)

    def run(self, source: str) -> list[RemoteOutput]:
        """Run `source` in the TUI's namespace and return its outputs.

        A Ctrl-C (KeyboardInterrupt) while waiting asks the server to interrupt the run and
        keeps waiting for its outputs; a second one stops waiting and is re-raised.
        """
        pending = self._send("run", {"source": source})
        interrupted = False
        while True:
            try:
                reply = self._wait(pending, None)
                break
            except KeyboardInterrupt:
                if interrupted:
                    self._forget(pending)
                    raise
                interrupted = True
                self._send("interrupt", {})  # the reply is not waited for: it says nothing new
        return [RemoteOutput.from_json(o) for o in reply.get("outputs", [])]

    def complete(self, source: str, cursor: int, timeout: float | None = None) -> list[str]:
        """Completions at `cursor` in `source`, from the TUI's live namespace."""
        reply = self.request("complete", timeout=timeout, source=source, cursor=cursor)
        return [str(c) for c in reply.get("completions", [])]

    def is_complete(self, source: str) -> bool:
        """Whether `source` is a complete statement (else it wants more lines)."""
        return bool(self.request("is_complete", source=source).get("complete"))

    def interrupt(self) -> bool:
        """Interrupt the run the TUI's executor is busy with, if this connection has a run
        queued or running (else nothing happens); False if nothing was interrupted."""
        return bool(self.request("interrupt").get("interrupted"))

    @property
    def alive(self) -> bool:
        return self._failure is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()
        self._reader.join(timeout=2)

    def __enter__(self) -> ReplConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing ---------------------------------------------------------------------

    def _send(self, op: str, fields: dict[str, Any]) -> _Pending:
        with self._lock:
            if self._failure is not None:
                raise self._failure
            pending = _Pending(next(self._ids))
            self._pending[pending.request_id] = pending
        data = (json.dumps({"id": pending.request_id, "op": op, **fields}) + "\n").encode()
        try:
            with self._write_lock:
                self._sock.sendall(data)
        except OSError as e:
            self._fail(ReplConnectionLost(f"the connection to the hoot tui broke: {e}"))
        return pending

    def _wait(self, pending: _Pending, timeout: float | None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        # Short waits in a loop: Ctrl-C lands between them at once, whatever the platform
        # does with signals during a long blocking wait.
        while not pending.done.wait(0.1):
            if deadline is not None and time.monotonic() > deadline:
                self._forget(pending)
                raise TimeoutError(f"the hoot tui did not answer within {timeout:g} s")
        if pending.failure is not None:
            raise pending.failure
        reply = pending.reply or {}
        if not reply.get("ok", False):
            raise ReplRequestFailed(str(reply.get("error", "the hoot tui refused the request")))
        return reply

    def _forget(self, pending: _Pending) -> None:
        with self._lock:
            self._pending.pop(pending.request_id, None)

    def _read_loop(self) -> None:
        failure: HootError = ReplConnectionLost("the hoot tui closed the connection")
        try:
            with self._sock.makefile("rb") as stream:
                for line in stream:
                    try:
                        message = json.loads(line)
                    except ValueError:
                        continue  # not ours to answer; the request it belongs to will time out
                    if not isinstance(message, dict):
                        continue
                    if message.get("op") == "refused":
                        failure = ReplRefused(str(message.get("message", "refused")))
                        break
                    self._deliver(message)
        except (OSError, ValueError):
            pass  # closed from our side, or broken: either way every waiter is told below
        self._fail(failure)

    def _deliver(self, message: dict[str, Any]) -> None:
        with self._lock:
            pending = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
        if pending is not None:
            pending.reply = message
            pending.done.set()

    def _fail(self, failure: HootError) -> None:
        with self._lock:
            if self._failure is None:
                self._failure = failure
            waiting = list(self._pending.values())
            self._pending.clear()
        for pending in waiting:
            pending.failure = self._failure
            pending.done.set()


# ---- finding the TUI ----------------------------------------------------------------------


def find_socket(session_dir: Path) -> Path:
    """The repl socket of the TUI serving `session_dir`: the one its `repl.json` names, else
    where a TUI for that folder would put it."""
    pointer = Path(session_dir) / POINTER_NAME
    try:
        named = json.loads(pointer.read_text()).get("socket")
    except (OSError, ValueError, AttributeError):
        named = None
    return Path(named) if isinstance(named, str) and named else repl_socket_path(session_dir)


def connect(session_dir: Path, session_name: str | None = None) -> ReplConnection:
    """Connect to the TUI running `session_dir`, or raise a HootError saying how to start it."""
    name = session_name or Path(session_dir).name
    try:
        return ReplConnection.open(find_socket(session_dir))
    except ReplUnavailable as e:
        raise ReplUnavailable(
            f"no hoot tui is running for session '{name}'; start one with "
            f"`hoot tui --session {name}`"
        ) from e


# ---- the prompt ---------------------------------------------------------------------------


class RemoteError(Exception):
    """An error raised by a remote run: its one-line text, with the full traceback kept."""

    def __init__(self, text: str, traceback: str) -> None:
        super().__init__(text)
        self.text = text
        self.remote_traceback = traceback


class RemoteResult:
    """A remote run's result, already turned into text by the TUI. ptpython displays it
    through its own printer (highlighting, output prompt) by calling repr()."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class PromptClasses(NamedTuple):
    """The prompt's ptpython and prompt_toolkit subclasses (see `prompt_classes`)."""

    completer: type
    validator: type
    repl: type


@functools.cache
def prompt_classes() -> PromptClasses:
    """Build the prompt's classes on first use. ptpython is an optional dependency (the `tui`
    extra) and slow to import, and the CLI imports this module for every command just to
    register `hoot repl`: only running the prompt should pay for it."""
    from prompt_toolkit.completion import CompleteEvent, Completer, Completion
    from prompt_toolkit.document import Document
    from ptpython.repl import PythonRepl, ReplExit
    from ptpython.validator import PythonValidator

    class RemoteCompleter(Completer):
        """Completions from the TUI's namespace: the word before the cursor is replaced by
        each name the server offers."""

        def __init__(self, connection: ReplConnection) -> None:
            self.connection = connection

        def get_completions(
            self, document: Document, complete_event: CompleteEvent
        ) -> Iterable[Completion]:
            if not self.connection.alive:
                return
            try:
                names = self.connection.complete(
                    document.text, document.cursor_position, timeout=COMPLETION_TIMEOUT
                )
            except (HootError, TimeoutError):
                return  # a slow or failing completion must never break typing
            typed = _IDENTIFIER_TAIL.search(document.text_before_cursor)
            prefix = typed.group() if typed else ""
            for name in names:
                yield Completion(name, start_position=-len(prefix))

    class ReplValidator(PythonValidator):
        """ptpython's syntax check, letting the repl's own `%` commands through."""

        def validate(self, document: Document) -> None:
            if document.text.strip().startswith("%"):
                return
            super().validate(document)

    class RemoteRepl(PythonRepl):
        """ptpython's REPL with evaluation replaced: `eval` sends the code to the TUI and
        turns what comes back into ptpython's usual result or error display."""

        def __init__(self, connection: ReplConnection, history_filename: str | None) -> None:
            # The local namespace only feeds ptpython's own machinery (compiler flags, its
            # `exit` helper); user code never runs in it.
            local_namespace: dict[str, Any] = {"__name__": "__hoot_repl__"}
            self.connection = connection
            self.last_traceback = ""
            self.connection_lost = False
            super().__init__(
                get_globals=lambda: local_namespace,
                history_filename=history_filename,
                _completer=RemoteCompleter(connection),
                _validator=ReplValidator(self.get_compiler_flags),
                extra_key_bindings=self._traceback_key(),
            )

        def _traceback_key(self) -> Any:
            from prompt_toolkit.application import run_in_terminal
            from prompt_toolkit.key_binding import KeyBindings

            bindings = KeyBindings()

            @bindings.add(TRACEBACK_KEY)
            def _(event: Any) -> None:
                run_in_terminal(self.show_last_traceback)

            return bindings

        # -- evaluation (the only path ptpython's run loop takes to run code) ----------

        def eval(self, line: str) -> object:
            stripped = line.strip()
            if stripped in _LEAVE_WORDS:
                # Sent to the TUI, `exit()` would ask it to stop the set: here it means "leave
                # this prompt", as in any Python REPL.
                raise ReplExit
            if stripped.startswith("%"):
                self._run_command(stripped)
                return None
            if stripped.startswith("!"):
                os.system(stripped[1:])  # ptpython's shell escape, kept local on purpose
                return None
            try:
                outputs = self.connection.run(line)
            except ReplConnectionLost as e:
                self.connection_lost = True
                self._say(f"{e}; leaving the repl", "ansired")
                raise ReplExit from e
            return self._show_outputs(outputs)

        async def eval_async(self, line: str) -> object:
            # ptpython's asyncio loop would otherwise evaluate locally; run it remotely too.
            return self.eval(line)

        def _show_outputs(self, outputs: list[RemoteOutput]) -> object:
            """Print prints and infos in order; return the result (ptpython shows it) or
            raise the error (ptpython hands it to `_handle_exception`)."""
            result: object = None
            error: RemoteError | None = None
            for output in outputs:
                if output.kind in ("stdout", "stderr"):
                    # The executor sends whole lines without their final newline (and an
                    # unterminated rest at the end of a run, which ends its line here too).
                    stream = sys.stdout if output.kind == "stdout" else sys.stderr
                    stream.write(output.text + "\n")
                    stream.flush()
                elif output.kind == "info":
                    self._say(output.text, "ansibrightblack")
                elif output.kind == "result":
                    result = RemoteResult(output.text)
                elif output.kind == "error":
                    error = RemoteError(output.text, output.traceback)
                # "input" echoes the code back for the TUI's log: the performer just typed it.
            if error is not None:
                raise error
            return result

        def _handle_exception(self, e: BaseException) -> None:
            if isinstance(e, RemoteError):
                self.last_traceback = e.remote_traceback
                # The executor sends one line; should it ever send more, the stage gets one.
                lines = e.text.strip().splitlines() or ["error"]
                self._say(lines[0], "ansired")
                return
            if isinstance(e, HootError):
                self._say(str(e), "ansired")
                return
            super()._handle_exception(e)

        # -- the repl's own commands -------------------------------------------------

        def _run_command(self, command: str) -> None:
            if command == "%tb":
                self.show_last_traceback()
            else:
                self._say(f"unknown command {command}; %tb shows the last traceback", "ansired")

        def show_last_traceback(self) -> None:
            """Print the full traceback of the last remote error, highlighted."""
            if not self.last_traceback:
                self._say("no traceback yet", "ansibrightblack")
                return
            from prompt_toolkit.formatted_text import PygmentsTokens
            from prompt_toolkit.shortcuts import print_formatted_text
            from pygments import lex
            from pygments.lexers import PythonTracebackLexer

            tokens = list(lex(self.last_traceback, PythonTracebackLexer()))
            print_formatted_text(PygmentsTokens(tokens), style=self._current_style, end="")

        # -- printing ----------------------------------------------------------------

        def _say(self, text: str, style: str) -> None:
            from prompt_toolkit.formatted_text import FormattedText
            from prompt_toolkit.shortcuts import print_formatted_text

            print_formatted_text(FormattedText([(style, text)]))

    return PromptClasses(RemoteCompleter, ReplValidator, RemoteRepl)


def run_repl(session_dir: Path, session_name: str | None = None) -> int:
    """Attach a ptpython prompt to the TUI running `session_dir` until Ctrl-D; returns the
    exit status (1 if the TUI went away meanwhile). Raises HootError if no TUI runs there."""
    from ptpython.repl import run_config

    session_dir = Path(session_dir)
    name = session_name or session_dir.name
    # Ctrl-C interrupts a run: that needs Python's own SIGINT handler, which Python does not
    # install when the process started with SIGINT ignored (a launcher's background job,
    # some IDEs and wrappers pass that on); then Ctrl-C only echoed ^C and the run went on
    signal.signal(signal.SIGINT, signal.default_int_handler)
    connection = connect(session_dir, name)
    try:
        repl = prompt_classes().repl(connection, history_filename=str(session_dir / HISTORY_NAME))
        repl.confirm_exit = False  # Ctrl-D leaves at once: the TUI keeps everything anyway
        repl.terminal_title = f"hoot repl: {name}"
        run_config(repl)
        print(
            f"hoot repl: attached to session '{name}' (hoot tui pid "
            f"{connection.server_info.get('pid', '?')}); {TRACEBACK_KEY.upper()} or %tb shows "
            "the last traceback, Ctrl-C interrupts a run, Ctrl-D leaves",
            flush=True,
        )
        repl.run()
        return 1 if repl.connection_lost else 0
    finally:
        connection.close()


# ---- the command line ---------------------------------------------------------------------


def _cmd_repl(args: argparse.Namespace) -> int:
    from hoot.session import session_dir

    folder = session_dir(args.session)  # only found, never made: a typo is not a session
    return run_repl(folder, session_name=args.session)


def add_repl_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `hoot repl [--session NAME]` on the CLI's subparsers; its `func` runs it."""
    parser = subparsers.add_parser(
        "repl",
        help="a Python prompt in the running `hoot tui`'s console (same namespace)",
        description=(
            "Attach a ptpython prompt to the `hoot tui` running the session: code runs in the "
            "TUI's namespace. %%tb or F5 shows the last traceback, Ctrl-C interrupts a run, "
            "Ctrl-D leaves."
        ),
    )
    parser.add_argument(
        "--session", default="default", help="session name or folder (default: default)"
    )
    parser.set_defaults(func=_cmd_repl)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m hoot.console.repl_client [--session NAME]`: the same as `hoot repl`."""
    parser = argparse.ArgumentParser(prog="hoot repl")
    subparsers = parser.add_subparsers(dest="command")
    add_repl_command(subparsers)
    args = parser.parse_args(["repl", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except HootError as e:
        print(f"hoot: {e}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
