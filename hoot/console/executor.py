"""Runs the performer's code: one evaluation thread, one namespace, output as `Output` records.

The TUI console and `hoot repl` both hand code to an `Executor`. It never runs user code on the
caller's thread: `submit()` queues the source and returns a run id at once, and a single
evaluation thread executes the queue in order against the shared namespace. Everything the run
produces (the echo of its input, printed text, the value of a final expression, an error)
reaches the `on_output` callback as `Output` records tagged with the run id.

Output routing. While any executor is open, `sys.stdout` and `sys.stderr` are a routing stream
that decides per write, by the writing thread:

* the evaluation thread: to the run that is executing (and to nobody once that thread was
  abandoned as stuck);
* the main thread (the UI's): to the original stream, untouched;
* any other thread (threads the performer's code started, library and server threads): to the
  console too, as "stdout"/"stderr" with run id 0. A thread cannot be traced back to the code
  that started it, and in the TUI every other destination would draw over the screen anyway.

Text is line buffered (flushed at each newline and at the end of a run) and capped per run, so
`print("x" * 10_000_000)` or a loop printing 100k lines reaches the UI as at most
`max_output_lines` lines / `max_output_chars` characters plus one "info" line counting the rest.

Ctrl-C. `interrupt()` raises KeyboardInterrupt in the evaluation thread, which stops pure Python
code (a `while True: pass`) at once. Code blocked inside C (`time.sleep(100)`, a socket read)
only sees it when the call returns, so if the run has not ended `stuck_after` seconds later the
executor abandons that thread (a daemon; it dies when the call returns and the pending
KeyboardInterrupt fires) and starts a fresh evaluation thread on the same namespace.

Callbacks (`on_output`, `on_exit_request`) are called from the evaluation thread and from other
threads: they must be quick, thread safe and must never wait for the UI thread (post a message
rather than calling into the UI and waiting for the answer).
"""

from __future__ import annotations

import ast
import codeop
import ctypes
import difflib
import io
import linecache
import pickle
import pydoc
import queue
import sys
import threading
import tokenize
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from hoot.console.history import History
from hoot.errors import HootError

# Frames of this file are trimmed from the tracebacks shown to the performer.
_THIS_FILE = __file__


@dataclass(frozen=True)
class Output:
    """One thing to show in the console log.

    kind: "input" (echo of the code run), "stdout", "stderr", "result" (repr of the final
    expression's value), "error" (one line, e.g. "NameError: name 'x' is not defined (line 1)"),
    "info" (a note from the console itself).
    text: for "stdout"/"stderr" one or more complete lines without the final newline (or the
    unterminated rest at the end of a run).
    traceback: for "error", the full traceback without executor frames.
    run_id: the run this belongs to; 0 for output from threads other than the evaluation thread.
    """

    kind: str
    text: str
    traceback: str = ""
    run_id: int = 0


# ---------------------------------------------------------------------------------------------
# Output capping and line buffering


class _Channel:
    """Line buffers and the output budget of one run (or of the background threads).

    Writes arrive from any number of threads; each (thread, stream) has its own partial line so
    two threads printing at once do not mix within a line. Methods return the Outputs to emit;
    the caller emits them outside the lock, so a slow UI callback never blocks other writers.
    """

    def __init__(self, run_id: int, max_lines: int, max_chars: int) -> None:
        self.run_id = run_id
        self._lock = threading.Lock()
        # Partial lines as chunk lists: appending to one growing string would be quadratic
        # for code that writes one character at a time.
        self._partial: dict[tuple[int, str], list[str]] = {}
        self._partial_len: dict[tuple[int, str], int] = {}
        self._lines_left = max_lines
        self._chars_left = max_chars
        self.dropped_lines = 0
        self.dropped_chars = 0
        self._cut_line_open = False  # a line was cut at the cap and its newline is pending

    @property
    def _exhausted(self) -> bool:
        return self._lines_left <= 0 or self._chars_left <= 0

    def write(self, ident: int, kind: str, text: str) -> list[Output]:
        with self._lock:
            if self._exhausted:
                self._count_dropped(text)
                return []
            key = (ident, kind)
            outputs: list[Output] = []
            newline = text.rfind("\n")
            if newline >= 0:
                complete = "".join([*self._partial.pop(key, []), text[:newline]])
                self._partial_len.pop(key, None)
                outputs += self._take(kind, complete, terminated=True)
                text = text[newline + 1 :]
            if text:
                if self._exhausted:
                    self._count_dropped(text)
                    return outputs
                self._partial.setdefault(key, []).append(text)
                size = self._partial_len.get(key, 0) + len(text)
                self._partial_len[key] = size
                if size >= self._chars_left:
                    # An endless line: show what fits, the cap is reached.
                    outputs += self._take(kind, self._pop_partial(key), terminated=False)
            return outputs

    def flush(self, ident: int | None = None) -> list[Output]:
        """Emit the unterminated lines (of one thread, or of all threads)."""
        with self._lock:
            outputs: list[Output] = []
            for key in list(self._partial):
                if ident is None or key[0] == ident:
                    outputs += self._take(key[1], self._pop_partial(key), terminated=False)
            return outputs

    def _pop_partial(self, key: tuple[int, str]) -> str:
        self._partial_len.pop(key, None)
        return "".join(self._partial.pop(key, []))

    def _take(self, kind: str, text: str, terminated: bool) -> list[Output]:
        """Spend the budget on the lines of `text` (without their final newline, which
        `terminated` says was written); count what exceeds it as dropped."""
        newline = "\n" if terminated else ""
        if self._exhausted:
            self._count_dropped(text + newline)
            return []
        lines = text.split("\n")
        if len(lines) > self._lines_left:
            self._count_dropped("\n".join(lines[self._lines_left :]) + newline)
            lines = lines[: self._lines_left]
            newline = ""  # already counted
        kept: list[str] = []
        for index, line in enumerate(lines):
            cost = len(line) + 1  # the newline counts too
            if cost > self._chars_left:
                head = line[: max(0, self._chars_left - 1)]
                kept.append(head)
                self._chars_left = 0
                # The start of this line is shown: its tail counts as characters, and the
                # newline ending it (now or in a later write) does not count as a dropped line.
                self.dropped_chars += len(line) - len(head)
                self._cut_line_open = True
                self._count_dropped("".join("\n" + rest for rest in lines[index + 1 :]) + newline)
                break
            kept.append(line)
            self._chars_left -= cost
        self._lines_left -= len(kept)
        if not kept:
            return []
        return [Output(kind, "\n".join(kept), run_id=self.run_id)]

    def _count_dropped(self, text: str) -> None:
        self.dropped_chars += len(text)
        newlines = text.count("\n")
        if newlines and self._cut_line_open:
            newlines -= 1
            self._cut_line_open = False
        self.dropped_lines += newlines

    def drop_note(self, max_lines: int, max_chars: int) -> Output | None:
        """The one "info" line saying how much output was dropped, if any was."""
        with self._lock:
            if not (self.dropped_lines or self.dropped_chars):
                return None
            if self.dropped_lines:
                dropped = f"{self.dropped_lines:,} more lines ({self.dropped_chars:,} characters)"
            else:
                dropped = f"{self.dropped_chars:,} more characters"
            text = (
                f"output capped at {max_lines:,} lines / {max_chars:,} characters: "
                f"{dropped} not shown"
            )
            return Output("info", text, run_id=self.run_id)


# ---------------------------------------------------------------------------------------------
# The routing stream installed as sys.stdout / sys.stderr


class _RoutingStream:
    """Stands in for sys.stdout or sys.stderr; see the module docstring for where writes go."""

    def __init__(self, original: TextIO, kind: str) -> None:
        self.original = original
        self.kind = kind

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        target = _router.target_for(threading.get_ident())
        if target is None:
            return self.original.write(text)
        if text:
            target.console_write(self.kind, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        # A routed thread's partial line waits for its newline (progress dots stay on one
        # line); only the original stream needs flushing.
        if _router.target_for(threading.get_ident()) is None:
            self.original.flush()

    def isatty(self) -> bool:
        # Libraries colour their output for terminals; the console log is not one.
        if _router.target_for(threading.get_ident()) is not None:
            return False
        return self.original.isatty()

    def __getattr__(self, name: str) -> Any:
        # encoding, fileno (faulthandler), buffer, ...: those of the real stream.
        return getattr(self.original, name)


class _Router:
    """Process-wide table of which thread's writes go to which executor."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._eval_threads: dict[int, _Worker] = {}
        self._executors: list[Executor] = []
        self._local = threading.local()

    def attach(self, executor: Executor) -> None:
        with self._lock:
            self._executors.append(executor)
        self.install()

    def detach(self, executor: Executor) -> None:
        with self._lock:
            if executor in self._executors:
                self._executors.remove(executor)
            last = not self._executors
        if last:
            # Only our own streams are undone: whatever replaced them since is left alone.
            for name in ("stdout", "stderr"):
                stream = getattr(sys, name)
                if isinstance(stream, _RoutingStream):
                    setattr(sys, name, stream.original)

    def install(self) -> None:
        """Put routing streams in place (again: pytest, Textual or user code may swap them)."""
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None and not isinstance(stream, _RoutingStream):
                setattr(sys, name, _RoutingStream(stream, name))

    def add_eval_thread(self, ident: int, worker: _Worker) -> None:
        with self._lock:
            self._eval_threads[ident] = worker

    def remove_eval_thread(self, ident: int, worker: _Worker) -> None:
        with self._lock:
            if self._eval_threads.get(ident) is worker:
                del self._eval_threads[ident]

    def target_for(self, ident: int) -> _Worker | Executor | None:
        """Where a write from thread `ident` goes; None for the original stream."""
        if getattr(self._local, "in_callback", False):
            # A UI callback that prints must not loop back into the console.
            return None
        worker = self._eval_threads.get(ident)
        if worker is not None:
            return worker
        if ident == threading.main_thread().ident:
            return None
        executors = self._executors
        return executors[-1] if executors else None

    def call_back(self, callback: Callable[..., Any], *args: Any) -> None:
        """Call a user-interface callback; its own failures are reported, never raised."""
        outer = getattr(self._local, "in_callback", False)
        self._local.in_callback = True
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - a broken UI callback must not kill the eval thread
            traceback.print_exc()
        finally:
            self._local.in_callback = outer


_router = _Router()

# Held around jedi (process-wide caches, not documented as thread safe) and around ast.parse.
# CPython 3.11's AST constructor keeps its recursion counter per interpreter, not per thread,
# so two threads building AST objects at once can fail with "SystemError: AST constructor
# recursion depth mismatch"; jedi builds them too (inspect.signature parses text signatures).
_parse_lock = threading.Lock()


# ---------------------------------------------------------------------------------------------
# Interrupting a thread


_set_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


def _raise_in_thread(ident: int, exc_type: type[BaseException] | None) -> bool:
    """Schedule `exc_type` in thread `ident` (None clears a pending one). True if it took."""
    pointer = None if exc_type is None else id(exc_type)
    modified = _set_async_exc(ident, pointer)
    if modified > 1:
        # The documented escape hatch: more than one thread state hit means something is badly
        # wrong; undo it rather than interrupt threads we did not mean to.
        _set_async_exc(ident, None)
        return False
    return modified == 1


# ---------------------------------------------------------------------------------------------
# Runs and evaluation threads


class _Run:
    """One submission, from the queue to its last Output."""

    def __init__(self, run_id: int, source: str, channel: _Channel) -> None:
        self.run_id = run_id
        self.source = source
        self.channel = channel
        self.done = threading.Event()
        self.collected: list[Output] | None = None  # set by run_sync
        self.in_user_code = False
        self.watchdog: threading.Timer | None = None
        self.abandoned = False


class _Worker:
    """One evaluation thread. Replaced (and abandoned) when a run is stuck in C."""

    def __init__(self, executor: Executor, number: int) -> None:
        self.executor = executor
        self.abandoned = False
        self.current: _Run | None = None
        self.thread = threading.Thread(target=self._loop, name=f"hoot-eval-{number}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    @property
    def ident(self) -> int:
        return self.thread.ident or 0

    def console_write(self, kind: str, text: str) -> None:
        run = self.current
        if run is None or run.abandoned or self.abandoned:
            return
        self.executor._emit_all(run, run.channel.write(self.ident, kind, text))

    def _loop(self) -> None:
        _router.add_eval_thread(threading.get_ident(), self)
        try:
            while True:
                try:
                    if not self._serve_one():
                        return
                except KeyboardInterrupt:
                    # A Ctrl-C that landed between runs: nothing of the performer's to stop.
                    continue
        finally:
            _router.remove_eval_thread(threading.get_ident(), self)

    def _serve_one(self) -> bool:
        """Run the next queued submission. False when this thread should end."""
        executor = self.executor
        run = executor._queue.get()
        if run is None:
            return False
        with executor._lock:
            self.current = run
        try:
            executor._execute(self, run)
        except Exception as exc:  # noqa: BLE001 - a console bug must not end the eval thread
            note = Output("error", f"internal console error: {exc!r}", run_id=run.run_id)
            executor._emit(run, note)
        finally:
            with executor._lock:
                self.current = None
                keep_going = not self.abandoned
            if run.watchdog is not None:
                run.watchdog.cancel()
            if run.abandoned:
                executor._emit_late_end(run)
            run.done.set()
        return keep_going


# ---------------------------------------------------------------------------------------------
# Names the executor puts into the namespace


_NOTHING = object()


class _Help:
    """`help(obj)` printing pydoc's plain-text page to the console instead of a pager."""

    def __repr__(self) -> str:
        return "Type help(obj) for the documentation of obj, e.g. help(perf)."

    def __call__(self, thing: Any = _NOTHING) -> None:
        if thing is _NOTHING:
            # pydoc's interactive help reads the keyboard, which belongs to the UI.
            print(repr(self))
            return
        if isinstance(thing, str):
            # Keywords ("for"), topics and module names, through pydoc's Helper with a buffer
            # as its output so nothing reaches a pager or reads input.
            buffer = io.StringIO()
            pydoc.Helper(input=io.StringIO(), output=buffer).help(thing)
            print(buffer.getvalue().rstrip("\n"))
            return
        print(pydoc.render_doc(thing, renderer=pydoc.plaintext).rstrip("\n"))


class _ExitCommand:
    """`exit()` / `quit()`: ask the UI to stop the set instead of raising SystemExit."""

    def __init__(self, name: str, executor: Executor) -> None:
        self._name = name
        self._executor = executor

    def __repr__(self) -> str:
        return f"Type {self._name}() to stop the set."

    def __call__(self, *args: Any) -> None:
        callback = self._executor._on_exit_request
        if callback is None:
            print(f"{self._name}() does nothing here: this console cannot stop the set.")
            return
        callback()


def _no_input(*args: Any) -> str:
    """input() would steal keystrokes from the UI (or hang on a closed stdin)."""
    raise HootError("input() cannot read the keyboard in the console: put the value in the code")


# ---------------------------------------------------------------------------------------------
# The executor


class Executor:
    """Runs submitted code on one evaluation thread against `namespace`; see the module doc."""

    def __init__(
        self,
        namespace: dict[str, Any],
        on_output: Callable[[Output], None],
        history: History | None = None,
        on_exit_request: Callable[[], None] | None = None,
        *,
        stuck_after: float = 2.0,
        max_output_lines: int = 2000,
        max_output_chars: int = 200_000,
    ) -> None:
        self.namespace = namespace
        self.history = history
        self._on_output = on_output
        self._on_exit_request = on_exit_request
        self._stuck_after = stuck_after
        self._max_lines = max_output_lines
        self._max_chars = max_output_chars
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Run | None] = queue.SimpleQueue()
        self._next_run_id = 1
        self._workers_started = 0
        self._closed = False
        self._background = _Channel(0, max_output_lines, max_output_chars)

        namespace["help"] = _Help()
        namespace["exit"] = _ExitCommand("exit", self)
        namespace["quit"] = _ExitCommand("quit", self)
        namespace["input"] = _no_input

        _router.attach(self)
        self._worker = self._new_worker()
        _warm_up_jedi_once()

    # ---- public API ---------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while a run executes or waits in the queue."""
        with self._lock:
            return self._worker.current is not None or not self._queue.empty()

    def is_complete(self, source: str) -> bool:
        """Whether Enter should run `source` now (True) or start another line (False).

        Incomplete: an unclosed bracket or string, a trailing backslash, a block header
        without a body (`for i in range(3):`), or a block whose last line is still part of it
        (`for ...:\\n    print(i)`): a blank last line ends the block. Syntax errors count as
        complete, so Enter runs them and shows the error.
        """
        if not source.strip():
            return True
        try:
            with warnings.catch_warnings():
                # Invalid escape sequences and the like warn at every keystroke otherwise.
                warnings.simplefilter("ignore")
                code = codeop.compile_command(source, "<input>", "exec")
        except (SyntaxError, OverflowError, ValueError):
            return True
        if code is None:
            return False
        last_line = source.split("\n")[-1]
        if not last_line.strip():
            return True
        return not _ends_in_open_block(source)

    def submit(self, source: str) -> int:
        """Queue `source` for the evaluation thread; returns its run id at once."""
        return self._enqueue(source, collect=False).run_id

    def run_sync(self, source: str, timeout: float | None = None) -> list[Output]:
        """Submit `source` and wait for that run's Outputs (they reach on_output as well).

        After `timeout` seconds the Outputs so far are returned, followed by an "info" Output
        saying the run goes on. Must not be called from the evaluation thread.
        """
        if threading.get_ident() == self._worker.ident:
            raise RuntimeError("run_sync() called from the evaluation thread would wait forever")
        run = self._enqueue(source, collect=True)
        finished = run.done.wait(timeout)
        with self._lock:
            outputs = list(run.collected or [])
        if not finished:
            note = f"run {run.run_id} is still running after {timeout:g} s"
            outputs.append(Output("info", note, run_id=run.run_id))
        return outputs

    def interrupt(self, run_id: int | None = None) -> bool:
        """Ctrl-C: raise KeyboardInterrupt in the running code (only in run `run_id` if given).

        Returns True if an interrupt was sent. If the run has not ended `stuck_after` seconds
        later (blocked inside C), its thread is abandoned and a fresh one takes over.
        """
        with self._lock:
            worker = self._worker
            run = worker.current
            if run is None or not run.in_user_code or worker.abandoned:
                return False
            if run_id is not None and run.run_id != run_id:
                return False
            # Under the lock: the eval thread clears in_user_code (and any pending interrupt)
            # under the same lock, so the exception cannot land in the executor's own code.
            if not _raise_in_thread(worker.ident, KeyboardInterrupt):
                return False
            if run.watchdog is None:
                run.watchdog = threading.Timer(self._stuck_after, self._check_stuck, (worker, run))
                run.watchdog.daemon = True
                run.watchdog.start()
            return True

    def complete(self, source: str, cursor: int) -> list[str]:
        """Completion names at `cursor` (an offset into `source`), via jedi; [] on any failure.

        Jedi reads the namespace but does not run the performer's code; property getters are
        not evaluated either (jedi's unsafe interpreter executions are off for these calls).
        """
        try:
            line, column = _line_and_column(source, cursor)
            import jedi

            with _parse_lock:
                try:
                    return self._jedi_names(jedi, source, line, column)
                except (EOFError, pickle.UnpicklingError):
                    # a cache file parso was writing when its process was killed: every
                    # later completion would fail on it (parso writes in place)
                    _forget_broken_parser_cache(Path(jedi.settings.cache_directory))
                    return self._jedi_names(jedi, source, line, column)
        except Exception:  # noqa: BLE001 - completion is a convenience; never break typing
            return []

    def _jedi_names(self, jedi: Any, source: str, line: int, column: int) -> list[str]:
        unsafe = jedi.settings.allow_unsafe_interpreter_executions
        jedi.settings.allow_unsafe_interpreter_executions = False
        try:
            script = jedi.Interpreter(source, [dict(self.namespace)])
        finally:
            jedi.settings.allow_unsafe_interpreter_executions = unsafe
        return [completion.name for completion in script.complete(line, column)]

    def close(self) -> None:
        """Stop the evaluation thread (interrupting a running run) and restore the streams."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            worker = self._worker
        self.interrupt()
        # Runs still queued will not run; release anyone waiting for them in run_sync.
        while True:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                break
            if pending is not None:
                pending.done.set()
        self._queue.put(None)
        if threading.get_ident() != worker.ident:
            worker.thread.join(timeout=self._stuck_after)
        _router.detach(self)

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- queueing -----------------------------------------------------------------------

    def _enqueue(self, source: str, collect: bool) -> _Run:
        with self._lock:
            if self._closed:
                raise RuntimeError("the executor is closed")
            run_id = self._next_run_id
            self._next_run_id += 1
            run = _Run(run_id, source, _Channel(run_id, self._max_lines, self._max_chars))
            if collect:
                run.collected = []
        if self.history is not None:
            self.history.append(source)
        self._queue.put(run)
        return run

    def _new_worker(self) -> _Worker:
        self._workers_started += 1
        worker = _Worker(self, self._workers_started)
        worker.start()
        return worker

    # ---- output -------------------------------------------------------------------------

    def _emit(self, run: _Run, output: Output, *, even_if_abandoned: bool = False) -> None:
        if run.abandoned and not even_if_abandoned:
            return
        if run.collected is not None:
            with self._lock:
                run.collected.append(output)
        _router.call_back(self._on_output, output)

    def _emit_all(self, run: _Run, outputs: list[Output]) -> None:
        for output in outputs:
            self._emit(run, output)

    def console_write(self, kind: str, text: str) -> None:
        """Writes from threads other than the evaluation and UI threads (run id 0)."""
        for output in self._background.write(threading.get_ident(), kind, text):
            _router.call_back(self._on_output, output)

    def _reset_background(self) -> None:
        """Give background threads a fresh output budget, once per run."""
        old = self._background
        self._background = _Channel(0, self._max_lines, self._max_chars)
        outputs = old.flush()
        note = old.drop_note(self._max_lines, self._max_chars)
        for output in [*outputs, *([note] if note else [])]:
            _router.call_back(self._on_output, output)

    # ---- running (on the evaluation thread) ---------------------------------------------

    def _execute(self, worker: _Worker, run: _Run) -> None:
        if not run.source.strip():
            return
        _router.install()
        self._reset_background()
        self._emit(run, Output("input", run.source, run_id=run.run_id))
        filename = f"<run {run.run_id}>"
        # Registered so tracebacks show the code, also later from functions defined in it.
        linecache.cache[filename] = (
            len(run.source),
            None,
            [line + "\n" for line in run.source.split("\n")],
            filename,
        )
        try:
            body, last = _compile(run.source, filename)
        except (SyntaxError, ValueError, OverflowError, RecursionError) as exc:
            # Raised by the compiler on the performer's behalf: no frame of it is theirs.
            exc.__traceback__ = None
            self._finish_run(worker, run, None, exc, filename)
            return
        text, error = self._call_user_code(worker, run, body, last)
        self._finish_run(worker, run, text, error, filename)

    def _call_user_code(
        self, worker: _Worker, run: _Run, body: Any, last: Any
    ) -> tuple[str | None, BaseException | None]:
        """Run the compiled code; returns (repr of the final value or None, exception or None).

        The only stretch where interrupt() may raise into this thread; it ends in
        `_leave_user_code`, which closes that window under the executor's lock.
        """
        try:
            with self._lock:
                run.in_user_code = True
            exec(body, self.namespace)
            text = None
            if last is not None:
                value = eval(last, self.namespace)
                if value is not None:
                    # repr() is the performer's code too (a __repr__ can loop): still
                    # interruptible here.
                    text = repr(value)
                    self.namespace["_"] = value
            result: tuple[str | None, BaseException | None] = (text, None)
        except BaseException as exc:  # noqa: BLE001 - everything the code raises is reported
            result = (None, exc)
        while True:
            try:
                self._leave_user_code(worker, run)
                return result
            except KeyboardInterrupt:
                # Ctrl-C pressed as the code was ending: the code has ended anyway.
                continue

    def _leave_user_code(self, worker: _Worker, run: _Run) -> None:
        with self._lock:
            run.in_user_code = False
            _raise_in_thread(worker.ident, None)

    def _finish_run(
        self,
        worker: _Worker,
        run: _Run,
        text: str | None,
        error: BaseException | None,
        filename: str,
    ) -> None:
        self._emit_all(run, run.channel.flush())
        if text is not None:
            self._emit(run, Output("result", _clip(text, self._max_chars), run_id=run.run_id))
        if error is not None:
            self._emit(run, self._describe(error, filename, run.run_id))
        note = run.channel.drop_note(self._max_lines, self._max_chars)
        if note is not None:
            self._emit(run, note)

    def _describe(self, error: BaseException, filename: str, run_id: int) -> Output:
        """The one-line Output for an exception, with its trimmed traceback."""
        if isinstance(error, SystemExit):
            text = f"SystemExit({error.code!r}) ignored: the set goes on (exit() asks to stop it)"
            return Output("info", text, run_id=run_id)
        tb = _trim_traceback(error.__traceback__)
        error.__traceback__ = tb
        if isinstance(error, SyntaxError) and error.text is None:
            # Errors found by compile() (not the parser) come without the line's text.
            error.text = linecache.getline(filename, error.lineno or 0) or None
        full = "".join(traceback.format_exception(type(error), error, tb))
        if isinstance(error, HootError):
            line = _first_line(str(error)) or type(error).__name__
        else:
            if isinstance(error, SyntaxError):
                # Its formatted form starts with the file and code lines; the message is here.
                line = f"{type(error).__name__}: {error.msg}"
            else:
                line = _first_line("".join(traceback.format_exception_only(type(error), error)))
            line += _suggestion(error, tb, line)
            lineno = _user_line(error, tb, filename)
            if lineno is not None:
                line += f" (line {lineno})"
        return Output("error", line, traceback=_clip(full, self._max_chars), run_id=run_id)

    # ---- stuck runs ---------------------------------------------------------------------

    def _check_stuck(self, worker: _Worker, run: _Run) -> None:
        """The watchdog: the run ignored Ctrl-C for `stuck_after` s; replace its thread."""
        with self._lock:
            if worker.current is not run or not run.in_user_code or worker.abandoned:
                return
            if self._closed:
                return
            worker.abandoned = True
            # From here on the abandoned thread emits nothing for this run (see _emit).
            run.abandoned = True
            self._worker = self._new_worker()
        text = (
            f"run {run.run_id} did not stop within {self._stuck_after:g} s of Ctrl-C (blocked "
            "outside Python, e.g. in sleep or a read): abandoned; a fresh evaluation thread is "
            "ready and your variables are kept"
        )
        self._emit(run, Output("info", text, run_id=run.run_id), even_if_abandoned=True)
        run.done.set()

    def _emit_late_end(self, run: _Run) -> None:
        """An abandoned run finally returned from its blocking call."""
        text = f"abandoned run {run.run_id} has ended"
        _router.call_back(self._on_output, Output("info", text, run_id=run.run_id))


# ---------------------------------------------------------------------------------------------
# Helpers


def _forget_broken_parser_cache(folder: Path) -> int:
    """Remove the parser cache files (parso's pickles under jedi's cache folder) that do not
    load: empty or cut short by a process killed while writing one. Returns how many."""
    removed = 0
    for path in folder.rglob("*.pkl"):
        try:
            with path.open("rb") as f:
                pickle.load(f)
        except FileNotFoundError:
            continue
        except Exception:  # noqa: BLE001 - any file that does not load is of no use
            path.unlink(missing_ok=True)
            removed += 1
    return removed


_warm_up = threading.Event()


def _warm_up_jedi_once() -> None:
    """jedi's first completion loads its caches (about a second): do it in the background before
    the first Tab, once per process (jedi's caches are process-wide)."""
    if _warm_up.is_set():
        return
    _warm_up.set()

    def warm_up() -> None:
        try:
            import jedi

            with _parse_lock:
                jedi.Interpreter("pri", [{}]).complete(1, 3)
        except Exception:  # noqa: BLE001 - warming up is optional
            return

    threading.Thread(target=warm_up, name="hoot-jedi-warm-up", daemon=True).start()


def _compile(source: str, filename: str) -> tuple[Any, Any]:
    """Compile `source` like the interactive interpreter would, but for several statements.

    Returns (code for all statements but a final expression, code for that expression or None).
    """
    for attempt in range(_PARSE_ATTEMPTS):
        try:
            with _parse_lock:
                tree = ast.parse(source, filename, "exec")
                last = None
                if tree.body and isinstance(tree.body[-1], ast.Expr):
                    last = ast.Expression(tree.body.pop().value)
                body = compile(tree, filename, "exec")
                return body, (compile(last, filename, "eval") if last is not None else None)
        except SystemError as exc:
            # The race described at _parse_lock, with a thread not taking the lock (the
            # performer's own code, say): it does not repeat, so parse again.
            if "recursion depth mismatch" not in str(exc) or attempt == _PARSE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


_PARSE_ATTEMPTS = 5


def _ends_in_open_block(source: str) -> bool:
    """True if the last logical line is indented, i.e. inside a block that may go on.

    `for i in x: print(i)` on one line is complete; `for i in x:\n    print(i)` may get more
    body lines. Tokens rather than ast: this runs on the UI thread at every Enter, see
    _parse_lock.
    """
    depth = 0
    last_depth = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.INDENT:
                depth += 1
            elif token.type == tokenize.DEDENT:
                depth -= 1
            elif token.type == tokenize.NEWLINE:
                last_depth = depth
    except (tokenize.TokenError, SyntaxError):
        return False
    return last_depth > 0


def _line_and_column(source: str, cursor: int) -> tuple[int, int]:
    """jedi's (1-based line, 0-based column) for an offset into `source`."""
    cursor = max(0, min(cursor, len(source)))
    before = source[:cursor]
    line = before.count("\n") + 1
    column = cursor - (before.rfind("\n") + 1)
    return line, column


def _trim_traceback(tb: TracebackType | None) -> TracebackType | None:
    """Drop the executor's own frames from the start of a traceback."""
    while tb is not None and tb.tb_frame.f_code.co_filename == _THIS_FILE:
        tb = tb.tb_next
    return tb


def _user_line(error: BaseException, tb: TracebackType | None, filename: str) -> int | None:
    """The line of the submitted code where the error arose (innermost frame in that code)."""
    lineno = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    if lineno is None and isinstance(error, SyntaxError) and error.filename == filename:
        lineno = error.lineno
    return lineno


def _suggestion(error: BaseException, tb: TracebackType | None, line: str) -> str:
    """ "Did you mean" for a misspelt name, as Python 3.12 adds it (3.11's traceback does not)."""
    if "Did you mean" in line:
        return ""
    try:
        if isinstance(error, NameError) and error.name and tb is not None:
            while tb.tb_next is not None:
                tb = tb.tb_next
            frame = tb.tb_frame
            candidates = [*frame.f_locals, *frame.f_globals, *frame.f_builtins]
            name = error.name
        elif isinstance(error, AttributeError) and error.name and error.obj is not None:
            candidates = [n for n in dir(error.obj) if not n.startswith("__")]
            name = error.name
        else:
            return ""
        matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.7)
    except Exception:  # noqa: BLE001 - a suggestion is a nicety; dir() may fail
        return ""
    return f". Did you mean: {matches[0]!r}?" if matches else ""


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().split("\n") if line.strip()]
    if not lines:
        return ""
    return lines[0].strip() + (" …" if len(lines) > 1 else "")


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f" … ({len(text) - limit:,} more characters)"
