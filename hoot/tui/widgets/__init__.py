"""The stage screen's display widgets, each fed by `update(view: SetView)`.

meters.Meters, beat_grid.BeatGrid, picker.StemPicker, queue.QueueView and
status_line.StatusLine draw with Textual's line API on `LineWidget` below: a view
becomes a tuple of small hashable line models, only the lines whose model changed
are repainted, and each drawn line is cached by its model and width; a view that
changes nothing a widget shows (`looks`) costs it one comparison. Their colours
are in `STYLESHEET`; an app loads it with `CSS_PATH = STYLESHEET`.
"""

from __future__ import annotations

from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from hoot.stage.view import EMPTY, SetView
from hoot.tui.messages import HeightChanged

STYLESHEET = Path(__file__).resolve().parent.parent / "hoot.tcss"

Piece = tuple[str, str]
"""Text and the component classes that style it (space-separated; "" for the widget's)."""


class LineWidget(Widget):
    """A widget drawn as lines, each a hashable model. Subclasses give `lay_out` (the
    line models for the current view and a size) and `natural_height`; the default
    `draw` shows a line of `Piece`s."""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.view: SetView = EMPTY
        self._looks: object = None
        self._lines: tuple = ()
        self._height = -1
        self._strips: LRUCache[tuple, Strip] = LRUCache(1024)
        self._styles: dict[str, Style] = {}

    # ---- what subclasses give -------------------------------------------------------------

    def lay_out(self, size: Size) -> tuple:
        """The line models that show `self.view` in `size`."""
        raise NotImplementedError

    def natural_height(self, width: int) -> int:
        """How many lines `self.view` wants at `width` (the height for `height: auto`)."""
        raise NotImplementedError

    def draw(self, line, width: int) -> Strip:
        """One line model as a strip `width` cells wide; a model is a tuple of Pieces here."""
        segments = [Segment(text, self.style_of(classes)) for text, classes in line]
        return Strip(segments).adjust_cell_length(width, self.rich_style)

    # ---- feeding ----------------------------------------------------------------------------

    def looks(self, view: SetView) -> object:
        """What of `view` this widget shows; a view that looks the same as the last is
        not laid out again (views come 30 times a second, most change only the meters)."""
        return view

    def update(self, view: SetView) -> None:
        """Show `view`; repaint only the lines that look different."""
        looks = self.looks(view)
        if looks == self._looks:
            return
        self._looks = looks
        self.view = view
        self.show_lines()

    def show_lines(self) -> None:
        """Lay out the current view again and repaint the lines that changed."""
        height = self.natural_height(self.size.width)
        if height != self._height:
            self._height = height
            self.refresh(layout=True)
            self.post_message(HeightChanged())
        self.repaint(self.lay_out(self.size))

    def repaint(self, lines: tuple) -> None:
        """Show `lines` (line models), repainting only those that differ from the shown."""
        old, self._lines = self._lines, lines
        if len(old) != len(lines):
            self.refresh()
            return
        width = self.size.width
        changed = [Region(0, y, width, 1) for y, (a, b) in enumerate(zip(old, lines)) if a != b]
        if changed:
            self.refresh(*changed)

    def on_resize(self) -> None:
        self.show_lines()
        self.refresh()

    # ---- drawing ----------------------------------------------------------------------------

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self.natural_height(width)

    def notify_style_update(self) -> None:
        self._strips.clear()
        self._styles.clear()
        super().notify_style_update()

    def style_of(self, classes: str) -> Style:
        """The style of space-separated component classes, the first as the base."""
        style = self._styles.get(classes)
        if style is None:
            names = classes.split()
            if not names:
                style = self.rich_style
            else:
                style = self.get_component_rich_style(names[0])
                for extra in names[1:]:
                    style += self.get_component_rich_style(extra, partial=True)
            self._styles[classes] = style
        return style

    @property
    def wanted_height(self) -> int:
        """The lines the current view wants at the current width (as last laid out)."""
        return max(self._height, 0)

    @property
    def lines(self) -> tuple:
        """The line models on screen now."""
        return self._lines

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        line = self._lines[y] if 0 <= y < len(self._lines) else ()
        key = (line, width)
        strip = self._strips.get(key)
        if strip is None:
            strip = self.draw(line, width)
            self._strips[key] = strip
        return strip

    def text(self) -> str:
        """What the widget shows, as plain text (for tests and logs)."""
        return "\n".join(self.render_line(y).text.rstrip() for y in range(self.size.height)).rstrip(
            "\n"
        )
