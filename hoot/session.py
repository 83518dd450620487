"""A session folder: where a set keeps its stems, recordings and event log.

sessions/<name>/
    session.toml     settings worth keeping (tempo, meter, phrase)
    stems/           NAME.wav, NAME.mid, NAME.json
    recordings/      master and track recordings
    log.jsonl        one line per thing that happened, for replay and forensics
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path


def sessions_root() -> Path:
    """Where sessions live: $HOOT_SESSIONS, else ./sessions."""
    return Path(os.environ.get("HOOT_SESSIONS", "sessions")).expanduser().resolve()


class Session:
    """The folder of one set, created on first use."""

    def __init__(self, name_or_path: str | Path = "default") -> None:
        p = Path(name_or_path)
        if p.is_absolute() or len(p.parts) > 1:
            self.dir = p.expanduser().resolve()
        else:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(name_or_path)):
                raise ValueError(
                    f"session name {name_or_path!r} may use letters, digits, '-', '_' and '.'"
                )
            self.dir = sessions_root() / str(name_or_path)
        self.name = self.dir.name
        for d in (self.dir, self.stems, self.recordings):
            d.mkdir(parents=True, exist_ok=True)

    @property
    def stems(self) -> Path:
        return self.dir / "stems"

    @property
    def recordings(self) -> Path:
        return self.dir / "recordings"

    @property
    def settings_path(self) -> Path:
        return self.dir / "session.toml"

    def log(self, event: str, **data) -> None:
        """Append one event to log.jsonl (a line is written whole or not at all)."""
        line = json.dumps({"t": round(time.time(), 3), "event": event, **data}, default=str)
        with open(self.dir / "log.jsonl", "a") as f:
            f.write(line + "\n")

    def read_settings(self) -> dict:
        import tomllib

        try:
            return tomllib.loads(self.settings_path.read_text())
        except (OSError, ValueError):
            return {}

    def write_settings(self, settings: dict) -> None:
        lines = [
            f"{k} = {json.dumps(v)}"
            for k, v in sorted(settings.items())
            if isinstance(v, (int, float, str, bool))
        ]
        atomic_write(self.settings_path, "\n".join(lines) + "\n")


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
