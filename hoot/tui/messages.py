"""Messages of the stage screen."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from hoot.tui.view import SetView


@dataclass
class ViewUpdated(Message):
    """A new view of the set. A newer one replaces one still waiting, so a slow screen
    skips views instead of falling behind."""

    view: SetView

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ViewUpdated)


@dataclass
class CandidateChosen(Message):
    """The performer clicked candidate `index` (from 0) of the `role` batch."""

    role: str
    index: int
