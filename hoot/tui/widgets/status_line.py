"""One line of engine health: what a performer glances at.

     ENGINE LOST  demo  jack · system    5.3 ms  no RT  xruns 2  cpu 12%  lim -1.5 dB  ● REC

Backend and device, session at the left; latency, "no RT" (when a device plays from an
audio thread the system would not make real-time: `hoot doctor` says how to allow it),
xruns, engine CPU, faults (when any), limiter gain reduction (when limiting) and REC at
the right. When the engine is
lost, "ENGINE LOST" leads and the widget gets the `-lost` class. Pieces that do not fit
drop out, least needed first.
"""

from __future__ import annotations

from textual.geometry import Size

from hoot.stage.view import SetView
from hoot.tui.widgets import LineWidget, Piece
from hoot.tui.widgets.queue import middle

DEVICE_MAX = 24
CPU_WARN, CPU_HOT = 0.7, 0.9


class StatusLine(LineWidget):
    """Audio backend and device, latency, xruns, CPU, session, REC and ENGINE LOST."""

    COMPONENT_CLASSES = {
        "status--lost",
        "status--session",
        "status--audio",
        "status--value",
        "status--warn",
        "status--hot",
        "status--rec",
    }

    def update(self, view: SetView) -> None:
        self.set_class(not view.engine_alive, "-lost")
        self.set_class(view.recording, "-recording")
        super().update(view)

    def natural_height(self, width: int) -> int:
        return 1

    def lay_out(self, size: Size) -> tuple:
        v = self.view
        cpu = "status--hot" if v.cpu >= CPU_HOT else "status--warn" if v.cpu >= CPU_WARN else ""
        audio = " · ".join(s for s in (v.backend, middle(v.device, DEVICE_MAX)) if s)
        lim = f"lim {v.limiter_db:.1f} dB" if v.limiter_db <= -0.05 else ""
        # (priority, at the right, text, classes): the lowest priority drops out first
        wanted: list[_Field] = [
            (9, False, "" if v.engine_alive else " ENGINE LOST ", "status--lost"),
            (5, False, v.session, "status--session"),
            (4, False, audio, "status--audio"),
            (6, True, f"{v.latency_ms:.1f} ms", "status--value"),
            (6, True, "no RT" if v.realtime == 0 and v.backend != "null" else "", "status--warn"),
            (8, True, f"xruns {v.xruns}", "status--warn" if v.xruns else "status--value"),
            (7, True, f"cpu {round(v.cpu * 100)}%", cpu or "status--value"),
            (7, True, f"faults {v.faults}" if v.faults else "", "status--warn"),
            (3, True, lim, "status--value"),
            (9, True, "● REC" if v.recording else "", "status--rec"),
        ]
        fields = [f for f in wanted if f[2]]
        while fields and _width(fields) > size.width:
            fields.remove(min(fields, key=lambda f: f[0]))
        fields = [f for f in fields if not f[1]] + [f for f in fields if f[1]]
        spare = max(size.width - _width(fields), 0)
        line: list[Piece] = []
        for i, (_, right, text, classes) in enumerate(fields):
            if right and (i == 0 or not fields[i - 1][1]):
                gap = spare + 2 if i else spare
            else:
                gap = 2 if i else 0
            if gap:
                line.append((" " * gap, ""))
            line.append((text, classes))
        return (tuple(line),)


_Field = tuple[int, bool, str, str]


def _width(fields: list[_Field]) -> int:
    """Cells for `fields` two apart."""
    return sum(len(f[2]) for f in fields) + 2 * max(len(fields) - 1, 0)
