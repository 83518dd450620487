"""Set scripts: a performer's .py file run against `perf`, as `hoot play`, `hoot render` and
`hoot tui --set` do. When one raises, the performer sees the script's own line and frames,
not hoot's."""

from __future__ import annotations

import runpy
import traceback
from pathlib import Path

from hoot.errors import HootError


class ScriptError(HootError):
    """A performer's script raised. `trace` holds the script's own frames (not hoot's)."""

    def __init__(self, message: str, trace: str = "") -> None:
        super().__init__(message)
        self.trace = trace


def run_script(path: Path, namespace: dict) -> None:
    """Run a set script; if it raises, report the script's own frames, not hoot's."""
    try:
        runpy.run_path(str(path), init_globals=namespace, run_name="__hoot__")
    except HootError as e:
        raise type(e)(f"{path.name}{_script_line(e, path)}: {e}") from None
    except Exception as e:  # noqa: BLE001 - any error in the performer's code
        frames = [
            f
            for f in traceback.extract_tb(e.__traceback__)
            if Path(f.filename).resolve() == path.resolve()
        ]
        raise ScriptError(
            f"{path.name}{_script_line(e, path)}: {type(e).__name__}: {e}",
            "".join(traceback.format_list(frames)),
        ) from None


def _script_line(error: BaseException, path: Path) -> str:
    lines = [
        f.lineno
        for f in traceback.extract_tb(error.__traceback__)
        if Path(f.filename).resolve() == path.resolve()
    ]
    return f", line {lines[-1]}" if lines else ""
