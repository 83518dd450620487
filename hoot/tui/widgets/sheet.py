"""A page of text over the console's log: the keys (F1) or the last traceback (F2).

It covers only the log, so the beat grid, the meters, the picker and the queue stay in
sight, and the input below it still takes code. Escape (or the same key again) puts it
away; PageUp and PageDown scroll it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static


class Sheet(VerticalScroll):
    """Shows `text` under a title, in place of the console's log."""

    DEFAULT_CSS = """
    Sheet {
        display: none; height: 1fr; border-top: solid $accent; padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    Sheet > Static { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, can_focus=False)
        self.topic = ""  # what it shows ("keys", "traceback"), or "" when put away

    def compose(self) -> ComposeResult:
        yield Static("", markup=False)

    def show(self, topic: str, title: str, text: str) -> None:
        self.topic = topic
        self.border_title = title
        self.query_one(Static).update(text)
        self.display = True
        self.scroll_home(animate=False)

    def put_away(self) -> None:
        self.topic = ""
        self.display = False
