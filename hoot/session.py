"""A session folder: where a set keeps its settings, stems, recordings and event log.

sessions/<name>/
    session.toml     everything the performer set: tempo, meter, phrase, key, chords, the
                     vibe (and a timed vibe), each track's gain, pan, mute, solo and sound,
                     the picker's selection; written atomically, types kept
    stems/           NAME.wav, NAME.mid, NAME.json
    batches/         one JSON manifest per generated batch
    recordings/      master and track recordings
    log.jsonl        one line per thing that happened, for replay and forensics

The settings are what bring a set back: after the UI crashes (a new `hoot tui` reattaches
to the engine, which kept playing), after the engine crashes (a new engine is started and
given them), and the next day.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hoot.errors import HootError


def sessions_root() -> Path:
    """Where sessions live: $HOOT_SESSIONS, else ./sessions."""
    return Path(os.environ.get("HOOT_SESSIONS", "sessions")).expanduser().resolve()


def session_dir(name_or_path: str | Path) -> Path:
    """The folder of a session given by name (under sessions_root()) or by path."""
    p = Path(name_or_path)
    if p.is_absolute() or len(p.parts) > 1:
        return p.expanduser().resolve()
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(name_or_path)):
        raise HootError(
            f"session name {str(name_or_path)!r} may use letters, digits, '-', '_' and '.'"
        )
    return sessions_root() / str(name_or_path)


class Session:
    """The folder of one set, created on first use (`create=False` only finds one)."""

    def __init__(self, name_or_path: str | Path = "default", create: bool = True) -> None:
        self.dir = session_dir(name_or_path)
        self.name = self.dir.name
        if not create and not self.dir.is_dir():
            raise HootError(f"there is no session {str(name_or_path)!r} (no folder {self.dir})")
        if create:
            for d in (self.dir, self.stems, self.recordings):
                d.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    @property
    def stems(self) -> Path:
        return self.dir / "stems"

    @property
    def recordings(self) -> Path:
        return self.dir / "recordings"

    @property
    def settings_path(self) -> Path:
        return self.dir / "session.toml"

    @property
    def is_new(self) -> bool:
        """True until the session has settings: nothing was ever set or played in it."""
        return not self.settings_path.exists()

    def log(self, event: str, **data) -> None:
        """Append one event to log.jsonl (a line is written whole or not at all)."""
        line = json.dumps({"t": round(time.time(), 3), "event": event, **data}, default=str)
        with open(self.dir / "log.jsonl", "a") as f:
            f.write(line + "\n")

    def read_settings(self) -> dict[str, Any]:
        """The saved settings (empty when there are none, or they cannot be read)."""
        import tomllib

        try:
            return tomllib.loads(self.settings_path.read_text())
        except (OSError, ValueError):
            return {}

    def write_settings(self, settings: dict[str, Any]) -> None:
        """Save `settings` whole, atomically: nested tables, lists, numbers, strings and
        booleans keep their types; None means "not set" and is left out."""
        with self._lock:
            atomic_write(self.settings_path, to_toml(settings))

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into the saved settings (nested dicts merge key by key; a None
        value removes the key) and save; returns the result."""
        with self._lock:
            settings = self.read_settings()
            _merge(settings, changes)
            atomic_write(self.settings_path, to_toml(settings))
            return settings


    def put_setting(self, key: str, value: Any) -> None:
        """Replace one top-level setting whole (a table with all it holds); None removes it."""
        with self._lock:
            settings = self.read_settings()
            if value is None:
                settings.pop(key, None)
            else:
                settings[key] = value
            atomic_write(self.settings_path, to_toml(settings))


def _merge(into: dict, changes: dict) -> None:
    for key, value in changes.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, dict):
            into[key] = {}
            _merge(into[key], value)
        else:
            into[key] = value


# ---- TOML, written --------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        text = repr(v)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v if x is not None) + "]"
    if isinstance(v, Path):
        return json.dumps(str(v), ensure_ascii=False)
    raise TypeError(f"cannot save {type(v).__name__} {v!r} in session.toml")


def to_toml(data: dict[str, Any]) -> str:
    """`data` as TOML that tomllib reads back to the same values (None values left out)."""
    lines: list[str] = []

    def table(path: list[str], d: dict[str, Any]) -> None:
        scalars = [(k, v) for k, v in d.items() if v is not None and not isinstance(v, dict)]
        tables = [(k, v) for k, v in d.items() if isinstance(v, dict)]
        if path and (scalars or not tables):
            lines.append("")
            lines.append("[" + ".".join(_key(p) for p in path) + "]")
        for k, v in scalars:
            lines.append(f"{_key(k)} = {_value(v)}")
        for k, v in tables:
            table([*path, str(k)], v)

    table([], data)
    return "\n".join(lines).lstrip("\n") + "\n"


def atomic_write(path: Path, text: str) -> None:
    """Write a file so that a crash leaves either the old or the new content, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
