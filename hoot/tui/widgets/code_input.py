"""Where the performer types: a Python editor of a line or a few.

Enter runs the buffer when it is a complete statement (and the cursor is at its end),
and otherwise starts a new, indented line, as IPython does. Alt+Enter (or Ctrl+E)
runs the whole buffer whatever it holds. Tab completes from the live namespace;
Up and Down on the first and last line walk the history (matching what is typed).

Code never runs here: the widget posts `RunCode` and the app hands it to the Executor's
evaluation thread. Completion asks jedi on a worker thread (its first answer can take a
second): the hint says "completing…" meanwhile, and the answer is applied only if the
text has not changed since Tab was pressed.
"""

from __future__ import annotations

from textual import events, on, work
from textual.widgets import TextArea

from hoot.tui.messages import Completions, Hint, RunCode

HINT_NAMES = 12  # completions listed in the hint


class CodeInput(TextArea):
    """The editor line(s). Posts `RunCode` when the performer runs code, `Hint` with
    completions."""

    def __init__(self, executor, past, **kw) -> None:
        super().__init__(
            language="python", soft_wrap=True, show_line_numbers=False, tab_behavior="indent", **kw
        )
        self.executor = executor
        self.past = past  # console history (TextArea.history is its undo stack)
        self._browsing: str | None = None  # what was typed before walking the history
        self._hinting = False  # the hint line shows completions (until the next key)

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
        if self._hinting:
            self._hint("")
        await super()._on_key(event)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()  # nothing above listens: spare every key two messages up the DOM

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        event.stop()

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
        self._put("")
        self.history.clear()
        self.post_message(RunCode(source))

    def _put(self, text: str) -> None:
        """Replace the whole buffer with `text`, the cursor at its end. An edit, never
        `load_text`: that builds a new document and compiles the highlighting query again,
        20 ms of the UI thread a time."""
        self.replace(text, (0, 0), self.document.end, maintain_selection_offset=False)
        self.move_cursor(self.document.end)

    # ---- completion ---------------------------------------------------------------------------

    def _offset(self) -> int:
        """The cursor as an offset into the text."""
        row, col = self.cursor_location
        return sum(len(self.document[r]) + 1 for r in range(row)) + col

    def _complete(self) -> None:
        self._hint("completing…")
        self._find_completions(self.text, self._offset())

    @work(thread=True, exclusive=True, group="completion")
    def _find_completions(self, source: str, offset: int) -> None:
        self.post_message(Completions(source, offset, self.executor.complete(source, offset)))

    @on(Completions)
    def _completed(self, message: Completions) -> None:
        if (self.text, self._offset()) != (message.source, message.offset):
            self._hint("")  # typed on meanwhile: these names are stale
            return
        names = message.names
        word = _trailing_name(self._before_cursor())
        hint = ""
        if not names:
            hint = "no completions"
        elif len(names) == 1:
            self.insert(names[0][len(word) :] if names[0].startswith(word) else "")
        else:
            common = _common_prefix(names)
            if len(common) > len(word) and common.startswith(word):
                self.insert(common[len(word) :])
            more = "  …" if len(names) > HINT_NAMES else ""
            hint = "  ".join(names[:HINT_NAMES]) + more
        self._hint(hint)

    def _hint(self, text: str) -> None:
        self._hinting = bool(text)
        self.post_message(Hint(text))

    # ---- history ------------------------------------------------------------------------------

    def _at_history_edge(self, key: str) -> bool:
        row, _ = self.cursor_location
        return (key == "up" and row == 0) or (key == "down" and row == self.document.line_count - 1)

    def _walk_history(self, step: int) -> None:
        if self._browsing is None:
            self._browsing = self.text
        found = self.past.previous(self._browsing) if step < 0 else self.past.next(self._browsing)
        if found is None:
            if step > 0:
                self._put(self._browsing)
                self._browsing = None
            return
        self._put(found)


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
