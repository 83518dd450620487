"""The console's output: what was typed, printed, returned and raised, newest at the bottom.

    » perf.tempo = 133
    » 6 * 7
    42
    » x + 1
    NameError: name 'x' is not defined (line 1)   (F2: traceback)

A line API widget with the size the layout gives it. Textual's RichLog grows its virtual
size with every write, and each growth lays out the whole screen again: 18 ms of the UI
thread a write on a 2-core VM, so typing ten lines a second froze the beat grid for up
to half a second. Here a write wraps the new text once and repaints the log's own lines.
The wheel and PageUp/PageDown scroll back; while scrolled back, the last line says how
many newer lines wait below.
"""

from __future__ import annotations

from collections import deque
from itertools import chain, islice

from rich.text import Text
from textual import events
from textual.geometry import Size

from hoot.tui.widgets import LineWidget

KINDS = ("input", "stdout", "stderr", "result", "error", "info")
MAX_ROWS = 5000
WHEEL_ROWS = 3


class ConsoleLog(LineWidget):
    """The console's output as wrapped rows; `write(kind, text)` adds to it."""

    COMPONENT_CLASSES = {f"console-log--{kind}" for kind in KINDS} | {"console-log--newer"}

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._said: deque[tuple[str, str]] = deque(maxlen=MAX_ROWS)  # (kind, text) as written
        self._rows: deque[tuple[str, str]] = deque(maxlen=MAX_ROWS)  # (kind, row) at _width
        self._width = 0
        self.back = 0  # rows scrolled back from the newest; 0 follows the output

    def write(self, kind: str, text: str) -> None:
        """Add `text` (one or more lines) in the style of `kind` (one of KINDS)."""
        self._said.append((kind, text))
        rows = self._wrap(kind, text, self._width)
        if self.back:
            self.back = min(self.back + len(rows), max(len(self._rows) + len(rows) - 1, 0))
        self._rows.extend(rows)
        self.show_lines()

    def scroll_rows(self, rows: int) -> None:
        """Scroll `rows` back (negative: towards the newest)."""
        most = max(len(self._rows) - self.size.height, 0)
        back = min(max(self.back + rows, 0), most)
        if back != self.back:
            self.back = back
            self.show_lines()

    def page(self, pages: int) -> None:
        """Scroll `pages` screens back (negative: towards the newest)."""
        self.scroll_rows(pages * max(self.size.height - 1, 1))

    def all_text(self) -> str:
        """Everything the log holds, unwrapped, as plain text (for tests)."""
        return "\n".join(text for _, text in self._said)

    # ---- layout ---------------------------------------------------------------------------

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height  # the log takes the height it is given, never asks for more

    def lay_out(self, size: Size) -> tuple:
        if size.width != self._width and size.width > 0:
            self._rewrap(size.width)
        height = size.height
        if height <= 0:
            return ()
        end = len(self._rows) - self.back
        start = max(end - height, 0)
        shown = islice(self._rows, start, end)
        lines = [((row, f"console-log--{kind}"),) for kind, row in shown]
        if self.back:
            newer = f"↓ {self.back} newer line{'s' if self.back != 1 else ''}: PageDown"
            lines[-1] = ((newer, "console-log--newer"),)
        return tuple(lines)

    def show_lines(self) -> None:
        # the log's height is the layout's: only its lines change, never its size
        self.repaint(self.lay_out(self.size))

    def _rewrap(self, width: int) -> None:
        self._width = width
        parts, count = [], 0
        for kind, text in reversed(self._said):  # newest first, until the rows are full
            parts.append(self._wrap(kind, text, width))
            count += len(parts[-1])
            if count >= MAX_ROWS:
                break
        self._rows = deque(chain.from_iterable(reversed(parts)), maxlen=MAX_ROWS)
        self.back = min(self.back, max(len(self._rows) - 1, 0))

    def _wrap(self, kind: str, text: str, width: int) -> list[tuple[str, str]]:
        if width <= 0:
            return []
        lines = Text(text).wrap(self.app.console, width)
        return [(kind, line.plain) for line in lines] or [(kind, "")]

    # ---- the wheel ------------------------------------------------------------------------

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_rows(WHEEL_ROWS)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_rows(-WHEEL_ROWS)
