"""The live-coding console: the output log (or a sheet over it), a hint line, the input.

    » perf.tempo
    120.0
    » perf.load("strings.wav").queue(at="now")
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
from hoot.tui.widgets.sheet import Sheet

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
        self._completion_note = ""
        self._busy_since: float | None = None
        self._running_note = ""

    def compose(self) -> ComposeResult:
        yield ConsoleLog(id="output")
        yield Sheet(id="sheet")
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

    def show_sheet(self, topic: str, title: str, text: str) -> None:
        """Show a page of text (hoot.tui.widgets.sheet) in place of the log; the same
        topic again puts it away."""
        sheet = self.query_one(Sheet)
        if sheet.topic == topic:
            self.put_sheet_away()
            return
        sheet.show(topic, title, text)
        self.query_one(ConsoleLog).display = False

    def put_sheet_away(self) -> None:
        self.query_one(Sheet).put_away()
        self.query_one(ConsoleLog).display = True

    @property
    def sheet_shown(self) -> bool:
        return bool(self.query_one(Sheet).topic)

    def page(self, pages: int) -> None:
        """PageUp/PageDown: scroll the sheet when it is shown, else the log."""
        sheet = self.query_one(Sheet)
        if not sheet.topic:
            self.query_one(ConsoleLog).page(pages)
        elif pages > 0:
            sheet.scroll_page_up(animate=False)
        else:
            sheet.scroll_page_down(animate=False)

    def on_hint(self, message: Hint) -> None:
        self._completion_note = message.text
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
        if running != self._running_note:
            self._running_note = running
            self._show_hint()

    def _show_hint(self) -> None:
        text = "   ".join(part for part in (self._running_note, self._completion_note) if part)
        self.query_one("#hint", Static).update(text, layout=False)
