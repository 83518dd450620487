"""One line of engine health: what a performer glances at.

     demo  jack · system                       5.3 ms  no RT  xruns 2  cpu 12%  lim -1.5 dB  ● REC
     ENGINE LOST: press F5 or run a command to start it again                 xruns 2  ● REC

Backend and device, session at the left; latency, "no RT" (when a device plays from an
audio thread the system would not make real-time: `hoot doctor` says how to allow it),
xruns, engine CPU, faults (when any), limiter gain reduction (when limiting) and REC at
the right. When the engine is lost, what to do about it leads (F5 or the next command
starts a new engine, hoot.stage.link) and the widget gets the `-lost` class.

Nothing is ever cut mid-word: what does not fit is shortened a whole word at a time
(the device name, the engine-lost sentence) or dropped, the least needed first.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from textual.geometry import Size

from hoot.stage.view import SetView
from hoot.tui.widgets import LineWidget, Piece

CPU_WARN, CPU_HOT = 0.7, 0.9
LOST = (
    "ENGINE LOST: press F5 or run a command to start it again",
    "ENGINE LOST: F5 starts it again",
    "ENGINE LOST",
)


@dataclass
class _Field:
    """A piece of the line: its texts, longest first, each with how much it is wanted
    (the least wanted text on the line is shortened or dropped first)."""

    texts: tuple[tuple[str, float], ...]
    classes: str
    right: bool = False

    @property
    def text(self) -> str:
        return self.texts[0][0]

    @property
    def wanted(self) -> float:
        return self.texts[0][1]


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

    def looks(self, view: SetView) -> tuple:
        return tuple((f.texts, f.classes, f.right) for f in _fields(view))

    def update(self, view: SetView) -> None:
        self.set_class(not view.engine_alive, "-lost")
        self.set_class(view.recording, "-recording")
        super().update(view)

    def natural_height(self, width: int) -> int:
        return 1

    def lay_out(self, size: Size) -> tuple:
        fields = _fit(_fields(self.view), size.width)
        fields = [f for f in fields if not f.right] + [f for f in fields if f.right]
        spare = max(size.width - _width(fields), 0)
        line: list[Piece] = []
        for i, f in enumerate(fields):
            if f.right and (i == 0 or not fields[i - 1].right):
                gap = spare + 2 if i else spare
            else:
                gap = 2 if i else 0
            if gap:
                line.append((" " * gap, ""))
            line.append((f.text, f.classes))
        return (tuple(line),)


def _fields(v: SetView) -> list[_Field]:
    """Everything the line would say with room enough."""
    cpu = "status--hot" if v.cpu >= CPU_HOT else "status--warn" if v.cpu >= CPU_WARN else ""
    audio = tuple((text, 4.0) for text in _shorter(v.backend, v.device))
    wanted: list[_Field] = [
        _Field(tuple(zip(LOST, (7.5, 8.5, 10.0))) if not v.engine_alive else (), "status--lost"),
        _Field(((v.session, 5.0),), "status--session"),
        _Field(audio, "status--audio"),
        _Field(((f"{v.latency_ms:.1f} ms", 6.0),), "status--value", right=True),
        _Field(
            (("no RT", 6.0),) if v.realtime == 0 and v.backend != "null" else (),
            "status--warn",
            right=True,
        ),
        _Field(
            ((f"xruns {v.xruns}", 8.0),),
            "status--warn" if v.xruns else "status--value",
            right=True,
        ),
        _Field(((f"cpu {round(v.cpu * 100)}%", 7.0),), cpu or "status--value", right=True),
        _Field(((f"faults {v.faults}", 7.0),) if v.faults else (), "status--warn", right=True),
        _Field(
            ((f"lim {v.limiter_db:.1f} dB", 3.0),) if v.limiter_db <= -0.05 else (),
            "status--value",
            right=True,
        ),
        _Field((("● REC", 9.0),) if v.recording else (), "status--rec", right=True),
    ]
    return [f for f in wanted if f.texts and f.text]


def _shorter(backend: str, device: str) -> list[str]:
    """ "jack · HDA Intel PCH", then a whole word of the device fewer at a time, then the
    backend alone."""
    words = device.split()
    texts = [
        " · ".join(s for s in (backend, " ".join(words[:n]) + ("…" if n < len(words) else "")) if s)
        for n in range(len(words), 0, -1)
    ]
    return texts + [backend] if backend else texts


def _fit(fields: list[_Field], width: int) -> list[_Field]:
    """Shorten or drop the least wanted text until the line fits in `width`."""
    fields = list(fields)
    while fields and _width(fields) > width:
        least = min(fields, key=lambda f: f.wanted)
        i = fields.index(least)
        if len(least.texts) > 1:
            fields[i] = _Field(least.texts[1:], least.classes, least.right)
        else:
            del fields[i]
    return fields


def _width(fields: list[_Field]) -> int:
    """Cells for `fields` two apart."""
    return sum(cell_len(f.text) for f in fields) + 2 * max(len(fields) - 1, 0)
