"""The live-coding console: the output log, a hint line, and the code input.

    » perf.generate("bass", n=6)
    <Batch bass-20261204-192748-1: 6 candidates, rendering>
    running 2 s… Ctrl+C stops
    ──────────────────────────────────
    perf.tempo = 1█

The hint line says what the console is doing when it is not obvious: a statement that
has run for more than half a second ("running 2 s… Ctrl+C stops", gone when it ends),
a completion being looked up, or the names Tab found.
"""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from hoot.tui.messages import Hint
from hoot.tui.widgets.code_input import CodeInput
from hoot.tui.widgets.console_log import ConsoleLog

QUIET_S = 0.5  # a statement may run this long before the hint says so
POLL_S = 0.1


class Console(Vertical):
    """Output log above, a hint line, code input below."""

    DEFAULT_CSS = """
    Console { height: 1fr; }
    Console ConsoleLog { height: 1fr; }
    Console #hint { height: 1; color: $text-muted; }
    Console CodeInput { height: auto; max-height: 8; min-height: 3; }
    """

    def __init__(self, executor, past, **kw) -> None:
        super().__init__(**kw)
        self.executor = executor
        self.past = past
        self.last_traceback = ""
        self._completion = ""
        self._busy_since: float | None = None
        self._running = ""

    def compose(self) -> ComposeResult:
        yield ConsoleLog(id="output")
        yield Static("", id="hint")
        yield CodeInput(self.executor, self.past, id="code")

    def on_mount(self) -> None:
        self.set_interval(POLL_S, self._watch_running)

    def write(self, kind: str, text: str, traceback: str = "") -> None:
        """Show one piece of output (from the executor, via the app)."""
        log = self.query_one(ConsoleLog)
        if kind == "input":
            lines = text.splitlines() or [""]
            log.write(kind, "\n".join(("» " if i == 0 else "… ") + s for i, s in enumerate(lines)))
        elif kind == "error":
            self.last_traceback = traceback or text
            log.write(kind, text + "   (F2: traceback)")
        else:
            log.write(kind, text.rstrip("\n"))

    def on_hint(self, message: Hint) -> None:
        self._completion = message.text
        self._show_hint()

    def _watch_running(self) -> None:
        """Say so while a statement runs longer than QUIET_S; the executor's `busy` is read
        under its lock, which its threads hold only briefly."""
        now = time.monotonic()
        if not self.executor.busy:
            self._busy_since = None
        elif self._busy_since is None:
            self._busy_since = now
        running = ""
        if self._busy_since is not None and now - self._busy_since >= QUIET_S:
            seconds = int(now - self._busy_since)
            running = f"running {seconds} s… Ctrl+C stops" if seconds else "running… Ctrl+C stops"
        if running != self._running:
            self._running = running
            self._show_hint()

    def _show_hint(self) -> None:
        text = "   ".join(part for part in (self._running, self._completion) if part)
        self.query_one("#hint", Static).update(text, layout=False)
