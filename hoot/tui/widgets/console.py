"""The live-coding console: a Python editor over an output log.

Enter runs the buffer when it is a complete statement (and the cursor is at its end),
and otherwise starts a new, indented line, as IPython does. Alt+Enter (or Ctrl+E)
runs the whole buffer whatever it holds. Tab completes from the live namespace;
Up and Down on the first and last line walk the history (matching what is typed).

Code never runs here: the widget hands it to the Executor's evaluation thread, and
output comes back as messages.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import RichLog, Static, TextArea

STYLES = {
    "input": "bold cyan",
    "stdout": "",
    "stderr": "yellow",
    "result": "green",
    "error": "bold red",
    "info": "magenta",
}


class CodeInput(TextArea):
    """The editor line(s). Posts `Run` when the performer runs code."""

    class Run(Message):
        def __init__(self, source: str) -> None:
            super().__init__()
            self.source = source

    def __init__(self, executor, past, **kw) -> None:
        super().__init__(
            language="python", soft_wrap=True, show_line_numbers=False, tab_behavior="indent", **kw
        )
        self.executor = executor
        self.past = past  # console history (TextArea.history is its undo stack)
        self._browsing: str | None = None  # what was typed before walking the history
        self.hint = ""

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        if key in ("alt+enter", "ctrl+e", "escape+enter"):
            event.stop()
            event.prevent_default()
            self._submit()
            return
        if key == "enter":
            event.stop()
            event.prevent_default()
            row, col = self.cursor_location
            at_end = row == self.document.line_count - 1 and col == len(self.document[row])
            if at_end and self.text.strip() and self.executor.is_complete(self.text):
                self._submit()
            else:
                self._newline()
            return
        if key == "tab" and self._before_cursor().strip():
            event.stop()
            event.prevent_default()
            self._complete()
            return
        if key in ("up", "down") and self._at_history_edge(key):
            event.stop()
            event.prevent_default()
            self._walk_history(-1 if key == "up" else 1)
            return
        self._browsing = None
        await super()._on_key(event)

    def _before_cursor(self) -> str:
        row, col = self.cursor_location
        return self.document[row][:col]

    def _newline(self) -> None:
        row, col = self.cursor_location
        line = self.document[row][:col]
        indent = line[: len(line) - len(line.lstrip())]
        if line.rstrip().endswith((":", "(", "[", "{")):
            indent += "    "
        self.insert("\n" + indent)

    def _submit(self) -> None:
        source = self.text.rstrip()
        if not source.strip():
            return
        self._browsing = None
        self.load_text("")
        self.post_message(self.Run(source))

    def _complete(self) -> None:
        row, col = self.cursor_location
        offset = sum(len(self.document[r]) + 1 for r in range(row)) + col
        names = self.executor.complete(self.text, offset)
        word = _trailing_name(self._before_cursor())
        if not names:
            self.hint = "no completions"
        elif len(names) == 1:
            self.insert(names[0][len(word) :] if names[0].startswith(word) else "")
            self.hint = ""
        else:
            common = _common_prefix(names)
            if len(common) > len(word) and common.startswith(word):
                self.insert(common[len(word) :])
            self.hint = "  ".join(names[:12]) + ("  …" if len(names) > 12 else "")
        self.post_message(self.Hint(self.hint))

    class Hint(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def _at_history_edge(self, key: str) -> bool:
        row, _ = self.cursor_location
        return (key == "up" and row == 0) or (key == "down" and row == self.document.line_count - 1)

    def _walk_history(self, step: int) -> None:
        if self._browsing is None:
            self._browsing = self.text
        found = (
            self.past.previous(self._browsing) if step < 0 else self.past.next(self._browsing)
        )
        if found is None:
            if step > 0:
                self.load_text(self._browsing)
                self._browsing = None
            return
        self.load_text(found)
        self.move_cursor((self.document.line_count - 1, len(self.document[-1])))


def _trailing_name(text: str) -> str:
    i = len(text)
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
        i -= 1
    return text[i:]


def _common_prefix(names: list[str]) -> str:
    first, last = min(names), max(names)
    i = 0
    while i < len(first) and i < len(last) and first[i] == last[i]:
        i += 1
    return first[:i]


class Console(Vertical):
    """Output log above, code input below, a hint line for completions."""

    DEFAULT_CSS = """
    Console { height: 1fr; }
    Console RichLog { height: 1fr; border: none; background: $surface; }
    Console #hint { height: 1; color: $text-muted; }
    Console CodeInput { height: auto; max-height: 8; min-height: 3; }
    """

    def __init__(self, executor, past, **kw) -> None:
        super().__init__(**kw)
        self.executor = executor
        self.past = past
        self.last_traceback = ""

    def compose(self) -> ComposeResult:
        yield RichLog(id="output", wrap=True, markup=False, max_lines=5000)
        yield Static("", id="hint")
        yield CodeInput(self.executor, self.past, id="code")

    def write(self, kind: str, text: str, traceback: str = "") -> None:
        """Show one piece of output (from the executor, via the app)."""
        log = self.query_one("#output", RichLog)
        if kind == "input":
            for i, line in enumerate(text.splitlines() or [""]):
                log.write(Text(("» " if i == 0 else "… ") + line, style=STYLES["input"]))
            return
        if kind == "error":
            self.last_traceback = traceback or text
            log.write(Text(text + "   (F2: traceback)", style=STYLES["error"]))
            return
        log.write(Text(text.rstrip("\n"), style=STYLES.get(kind, "")))

    def on_code_input_hint(self, message: CodeInput.Hint) -> None:
        self.query_one("#hint", Static).update(message.text)
