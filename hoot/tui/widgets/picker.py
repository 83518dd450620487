"""The latest batch per role, a cell per candidate, and the selected candidate's details.

    bass     1●    2◌40% 3✗    4◆    5▶    6·
    drums    1●    2●    3●    4●
    bass #3  failed: generator timed out   C minor · 4 bars · seed 1234 · offbeat

Glyphs: pending ·, rendering ◌ and its progress (the details say "loading model" while
a model generator's weights load), ready ●, failed ✗, queued ◆ (it
flashes), playing ▶. When the cells do not fit (many candidates, a narrow terminal) the
progress shrinks to a bar glyph ▁▂▃▄▅▆▇ and the percentage moves to the details line,
and a batch's cells wrap into even lines. When the lines do not fit, the selected role's
stay in view and a line names the roles out of view ("+ lead pad  F3/F4").
Clicking a cell posts `CandidateChosen`.
"""

from __future__ import annotations

import math
import textwrap

from textual import events
from textual.geometry import Size

from hoot.stage.view import BatchView, CandidateView, SetView
from hoot.tui.messages import CandidateChosen
from hoot.tui.widgets import LineWidget, Piece

GLYPHS = {
    "pending": "·",
    "rendering": "◌",
    "ready": "●",
    "failed": "✗",
    "queued": "◆",
    "playing": "▶",
}
PROGRESS = "▁▂▃▄▅▆▇"
ROLE_MAX = 10
EMPTY_TEXT = "no candidates yet: perf.generate('bass') makes some"


def percent(c: CandidateView) -> str:
    return f"{min(max(round(c.progress * 100), 0), 99)}%"


def glyph(c: CandidateView, wide: bool) -> str:
    if c.status == "rendering" and not wide:
        return PROGRESS[min(int(c.progress * len(PROGRESS)), len(PROGRESS) - 1)]
    return GLYPHS.get(c.status, "?")


def describe(c: CandidateView) -> str:
    """The status in words: "rendering 40%", "loading model", "failed: reason", "ready"."""
    if c.status == "rendering" and c.stage == "loading model":
        return "loading model"  # every candidate of the batch waits on the weights
    if c.status == "rendering":
        return f"rendering {percent(c)}"
    if c.status == "failed":
        return f"failed: {c.reason}" if c.reason else "failed"
    return c.status


class StemPicker(LineWidget):
    """Rows of candidates per role with the selection lit; a details line for the selected
    one. `flash` is the queued cells' blink period in seconds (None: steady)."""

    COMPONENT_CLASSES = {
        "picker--role",
        "picker--role-selected",
        "picker--pending",
        "picker--rendering",
        "picker--ready",
        "picker--failed",
        "picker--queued",
        "picker--queued-flash",
        "picker--playing",
        "picker--selected",
        "picker--detail",
        "picker--reason",
        "picker--empty",
    }

    def __init__(
        self,
        *,
        flash: float | None = 0.5,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.flash = flash
        self._flash_on = False
        self._cells: tuple[int, int] = (0, 1)  # where the first cell starts, cell width
        self._per_line = 1
        self._shown: list[tuple[BatchView, int]] = []  # (batch, first candidate) a line

    def on_mount(self) -> None:
        if self.flash:
            self.set_interval(self.flash, self._blink)

    def _blink(self) -> None:
        self._flash_on = not self._flash_on
        if any(c.status == "queued" for b in self.view.batches for c in b.candidates):
            self.show_lines()

    def looks(self, view: SetView) -> tuple:
        return view.batches, view.selected_role, view.selected_index

    # ---- layout -----------------------------------------------------------------------------

    def natural_height(self, width: int) -> int:
        if not self.view.batches:
            return len(_wrap(EMPTY_TEXT, width))
        return len(self._rows(width)) + 1

    def _shape(self, width: int) -> tuple[int, int, bool, int]:
        """(role column width, cell width, whether cells show progress in numbers, cells
        a line: as many as fit, spread evenly over the lines a batch needs)."""
        batches = self.view.batches
        role_w = min(ROLE_MAX, max((len(b.role) for b in batches), default=4))
        most = max((len(b.candidates) for b in batches), default=0)
        digits = len(str(most)) if most else 1
        wide = role_w + 1 + most * (digits + 5) <= width
        cell_w = digits + (5 if wide else 2)
        fit = max(1, (width - role_w - 1) // cell_w)
        return role_w, cell_w, wide, math.ceil(most / math.ceil(most / fit)) if most else fit

    def _rows(self, width: int) -> list[tuple[BatchView, int]]:
        """(batch, first candidate) of each line of cells: a role's cells wrap when they do
        not fit."""
        per_line = self._shape(width)[3]
        return [
            (b, first)
            for b in self.view.batches
            for first in range(0, max(len(b.candidates), 1), per_line)
        ]

    def lay_out(self, size: Size) -> tuple:
        v = self.view
        if not v.batches:
            self._shown = []
            return tuple(((line, "picker--empty"),) for line in _wrap(EMPTY_TEXT, size.width))
        role_w, cell_w, wide, per_line = self._shape(size.width)
        self._cells, self._per_line = (role_w + 1, cell_w), per_line
        rows = self._rows(size.width)
        room = max(1, size.height - 1)  # and the details line
        self._shown = rows
        if len(rows) > room:  # the selected role's lines stay in view
            keep = max(room - 1, 1)
            first = next((i for i, (b, _) in enumerate(rows) if b.role == v.selected_role), 0)
            while first > 0:  # and whole roles before them, while they fit
                start = first - 1
                while start > 0 and rows[start][1] > 0:
                    start -= 1
                if len(rows) - start > keep:
                    break
                first = start
            self._shown = rows[first : first + keep]
        lines = [
            self._row(b, b.candidates[first : first + per_line], first == 0, role_w, cell_w, wide)
            for b, first in self._shown
        ]
        if len(self._shown) < len(rows):
            lines.append(self._more(rows, role_w, size.width))
        lines.append(self._detail(size.width))
        return tuple(lines)

    def _more(self, rows: list[tuple[BatchView, int]], role_w: int, width: int) -> tuple:
        """ "+ lead pad  F3/F4": the roles with cells out of view, in whole words."""
        hidden = dict.fromkeys(b.role for b, first in rows if (b, first) not in self._shown)
        text = f"{'+':<{role_w}}"
        for role in hidden:
            if len(text) + 1 + len(role) + 2 > width:
                text += " …"
                break
            text += f" {role}"
        if len(text) + 7 <= width:
            text += "  F3/F4"
        return ((text, "picker--empty"),)

    def _row(
        self,
        batch: BatchView,
        cells: tuple[CandidateView, ...],
        first: bool,
        role_w: int,
        cell_w: int,
        wide: bool,
    ) -> tuple:
        v = self.view
        chosen = batch.role == v.selected_role
        role = batch.role if len(batch.role) <= role_w else batch.role[: role_w - 1] + "…"
        pieces: list[Piece] = [
            (
                f"{role if first else '':<{role_w}}",
                "picker--role-selected" if chosen else "picker--role",
            ),
            (" ", ""),
        ]
        digits = cell_w - (5 if wide else 2)
        for c in cells:
            text = f"{c.index + 1:>{digits}}{glyph(c, wide)}"
            if wide and c.status == "rendering":
                text += percent(c)
            status = c.status if c.status in GLYPHS else "pending"
            if status == "queued" and self._flash_on:
                status = "queued-flash"
            classes = f"picker--{status}"
            if chosen and c.index == v.selected_index:
                classes += " picker--selected"
            pieces += [(text, classes), (" " * (cell_w - len(text)), "")]
        return tuple(pieces)

    def _detail(self, width: int) -> tuple:
        v = self.view
        batch = next((b for b in v.batches if b.role == v.selected_role), None)
        if batch is None:
            return ()
        c = next((c for c in batch.candidates if c.index == v.selected_index), None)
        if c is None:
            return ()
        status = "picker--reason" if c.status == "failed" else f"picker--{c.status}"
        pieces: list[Piece] = [
            (f"{batch.role} #{c.index + 1}", "picker--role-selected"),
            ("  ", ""),
            (describe(c), status if c.status in GLYPHS else "picker--pending"),
        ]
        used = sum(len(text) for text, _ in pieces)
        facts = [
            c.key,
            f"{c.bars} bars",
            f"seed {c.seed}",
            c.label,
            batch.generator,
            batch.batch_id,
        ]
        for i, fact in enumerate(f for f in facts if f):
            text = (" · " if i else "  ") + fact
            if used + len(text) > width:
                break
            pieces.append((text, "picker--detail"))
            used += len(text)
        return tuple(pieces)

    # ---- clicks ----------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y >= len(self._shown):
            return
        start, cell_w = self._cells
        batch, first = self._shown[offset.y]
        slot = first + (offset.x - start) // cell_w
        if offset.x >= start and slot < min(len(batch.candidates), first + self._per_line):
            self.post_message(CandidateChosen(batch.role, batch.candidates[slot].index))


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, max(width, 1)) or [""]
