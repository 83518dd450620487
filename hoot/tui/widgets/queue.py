"""What starts at the next boundary on which track, and what plays now.

    next  bass   ← bass #2  offbeat  at bar 17
    now   drums  ▶ drums #1  since bar 1
          bass   ▶ bass #4  walking  since bar 9
          pad    ▶ pad-loop  since bar 9

Generated stems show as the candidate a performer picked ("bass #2") and its label;
other stems by their name. What does not fit goes: the label first, then the middle of
a long name ("my-lo…-v2"); when the lines do not fit, the last one says how many more
there are.
"""

from __future__ import annotations

from textual.geometry import Size

from hoot.stage.view import QueueItem, SetView
from hoot.tui.widgets import LineWidget, Piece

TRACK_MAX = 10
GROUP_W = 6  # "next  " / "now   "


def middle(text: str, width: int) -> str:
    """`text` in at most `width` cells, its middle replaced by "…" when too long."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = (width - 1) - (width - 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


class QueueView(LineWidget):
    """Queued stems (earliest first), then what plays on each track."""

    COMPONENT_CLASSES = {
        "queue--group",
        "queue--track",
        "queue--queued",
        "queue--playing",
        "queue--label",
        "queue--when",
        "queue--more",
        "queue--empty",
    }

    def _items(self) -> list[QueueItem]:
        queued = sorted(
            (q for q in self.view.queue if q.state == "queued"), key=lambda q: q.start_sample
        )
        return queued + [q for q in self.view.queue if q.state != "queued"]

    def looks(self, view: SetView) -> tuple:
        return view.queue

    def natural_height(self, width: int) -> int:
        return max(len(self.view.queue), 1)

    def lay_out(self, size: Size) -> tuple:
        items = self._items()
        if not items:
            return ((("nothing playing", "queue--empty"),),)
        track_w = min(TRACK_MAX, max(len(q.track) for q in items))
        room = max(size.height, 1)
        shown = items if len(items) <= room else items[: room - 1]
        lines = []
        group = ""
        for q in shown:
            now = "next" if q.state == "queued" else "now"
            lines.append(self._line(q, "" if now == group else now, track_w, size.width))
            group = now
        if len(shown) < len(items):
            lines.append(((f"{'':{GROUP_W}}+{len(items) - len(shown)} more", "queue--more"),))
        return tuple(lines)

    def _line(self, q: QueueItem, group: str, track_w: int, width: int) -> tuple:
        queued = q.state == "queued"
        look = "queue--queued" if queued else "queue--playing"
        name = q.candidate or q.stem
        if q.candidate.startswith(f"{q.track} #"):
            name = q.candidate[len(q.track) + 1 :]  # "#3" on the bass track: bass #3
        room = width - GROUP_W - track_w - 3
        # what gives way first: the start's words (all of them for what already plays),
        # then the label, then the name's middle
        label = f"  {q.label}" if q.label else ""
        when, short = (
            (f"  at bar {q.bar}", f"  bar {q.bar}") if queued else (f"  since bar {q.bar}", "")
        )
        fits = [(label, when), (label, short), ("", when), ("", short)]
        label, when = next(
            (fit for fit in fits if len(name) + len(fit[0]) + len(fit[1]) <= room), fits[-1]
        )
        pieces: list[Piece] = [
            (f"{group:<{GROUP_W}}", "queue--group"),
            (f"{middle(q.track, track_w):<{track_w}} ", "queue--track"),
            ("← " if queued else "▶ ", look),
            (middle(name, max(room - len(label) - len(when), 1)), look),
            (label, "queue--label"),
            (when, "queue--when"),
        ]
        return tuple(pieces)
