"""The one place the performer's namespace is built; the TUI console, `hoot repl` and
`hoot render` scripts all start from it."""

from __future__ import annotations

from typing import Any

from hoot.music import ROLES
from hoot.music.time import Meter


def make_namespace(perf: Any, **extra: Any) -> dict[str, Any]:
    """`perf`, its `tracks`, `wait`, and the few music names a performer needs."""
    ns: dict[str, Any] = {
        "__name__": "__hoot__",
        "perf": perf,
        "tracks": perf.tracks,
        "wait": perf.wait,
        "ROLES": ROLES,
        "Meter": Meter,
    }
    ns.update(extra)
    return ns
