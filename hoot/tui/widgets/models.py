"""The real-time layer's running models, one line each (issue 12).

    harmony  harmonizes keys: 2 voices below, strings  notochord-hoot  p50 1.2 p95 1.9 ms  E4 C4
    lead     improvises on lead: density 0.5  notochord-hoot  restarting  1 restart
    trombone~  transfers trombone -> rave-hoot, 5.3 ms  p50 0.8 p95 1.4 ms  -14 dB

What each does, its latency from a key's arrival to its answer (p50/p95), and the notes it
sounds now; a state other than running, late answers and restarts in warning colours. The
widget has no lines (and so no height) while nothing runs, as the meters show inputs only
when there are some. What does not fit goes: the model's name first, then the counts, then
the latency's words (p50/p95 as "1.2/1.9 ms"), then the end of what it does.

A model that sounds audio (issue 13: transfer, drone, echo) names its model in what it
does, adds the latency it declares (what perf.compensate waits for) and shows its output
level where a note model shows its notes.
"""

from __future__ import annotations

from textual.geometry import Size

from hoot.realtime.status import ModelStatus, level_words, pitch_name
from hoot.stage.view import SetView
from hoot.tui.widgets import LineWidget, Piece

NAME_MAX = 10
WANTED = 16  # cells of what a model does worth dropping the other fields for
STATE_LOOKS = {
    "loading": "models--info",
    "restarting": "models--warn",
    "failed": "models--failed",
    "stopped": "models--dim",
}


def _clip(text: str, width: int) -> str:
    """`text` in at most `width` cells, its end replaced by "…" when too long."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…" if width > 0 else ""


class ModelsView(LineWidget):
    """One line per running model (see the module docstring)."""

    COMPONENT_CLASSES = {
        "models--name",
        "models--does",
        "models--model",
        "models--latency",
        "models--playing",
        "models--info",
        "models--warn",
        "models--failed",
        "models--dim",
    }

    def looks(self, view: SetView) -> tuple:
        return view.models

    def natural_height(self, width: int) -> int:
        return len(self.view.models)

    def lay_out(self, size: Size) -> tuple:
        models = self.view.models
        if not models:
            return ()
        name_w = min(NAME_MAX, max(len(m.name) for m in models))
        return tuple(self._line(m, name_w, size.width) for m in models)

    def _line(self, m: ModelStatus, name_w: int, width: int) -> tuple:
        state = [(f"  {m.state}", STATE_LOOKS.get(m.state, "models--warn"))]
        if m.state == "running":
            state = []
        latency: list[Piece] = []
        short: list[Piece] = []
        if m.p50_ms is not None and m.p95_ms is not None:
            latency = [(f"  p50 {m.p50_ms:.1f} p95 {m.p95_ms:.1f} ms", "models--latency")]
            short = [(f"  {m.p50_ms:.1f}/{m.p95_ms:.1f} ms", "models--latency")]
        counts: list[Piece] = []
        if m.late:
            counts.append((f"  {m.late} late", "models--warn"))
        if m.restarts:
            plural = "s" if m.restarts > 1 else ""
            counts.append((f"  {m.restarts} restart{plural}", "models--warn"))
        playing = [("  " + " ".join(pitch_name(p) for p in m.playing), "models--playing")]
        if not m.playing:
            playing = []
        if m.audio and m.level_db is not None and m.state == "running":
            playing = [(f"  {level_words(m.level_db)}", "models--playing")]
        model = [] if m.audio else [(f"  {m.model}", "models--model")]
        says = f"{m.does}, {m.latency_ms:.1f} ms" if m.latency_ms else m.does
        head = (f"{_clip(m.name, name_w):<{name_w}}  ", "models--name")
        # what gives way first: the model's name, the counts, the latency's words; then
        # `does` is cut
        tails = (model + state + latency + counts, state + latency + counts, state + latency,
                 state + short)  # fmt: skip
        for tail in tails:
            pieces = [*tail, *playing]
            room = width - len(head[0]) - sum(len(text) for text, _ in pieces)
            if room >= min(len(says), WANTED):
                break
        does = (_clip(says, max(room, 1)), "models--does")
        return (head, does, *pieces)
