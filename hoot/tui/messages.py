"""Messages of the stage screen."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from hoot.stage.view import SetView


@dataclass
class ViewUpdated(Message):
    """A new view of the set. A newer one replaces one still waiting, so a slow screen
    skips views instead of falling behind."""

    view: SetView

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ViewUpdated)


class HeightChanged(Message):
    """A panel now wants a different number of lines (hoot.tui.widgets.LineWidget)."""


@dataclass
class CandidateChosen(Message):
    """The performer clicked candidate `index` (from 0) of the `role` batch."""

    role: str
    index: int


@dataclass
class ConsoleOutput(Message):
    """Output of the console's evaluation thread (or a note for the performer)."""

    kind: str
    text: str
    traceback: str = ""


@dataclass
class RunCode(Message):
    """The performer ran `source` from the console's input."""

    source: str


@dataclass
class Hint(Message):
    """What the console's hint line should say about completion ("" for nothing)."""

    text: str


@dataclass
class Completions(Message):
    """The names completion found for `source` with the cursor at `offset` (posted from the
    completion worker)."""

    source: str
    offset: int
    names: list[str]


class ExitRequested(Message):
    """`exit()` was typed: ask before leaving the set."""


@dataclass
class Ready(Message):
    """The engine is attached and perf is ready (or `error` says why not)."""

    error: str | None = None
