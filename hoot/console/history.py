"""What the performer ran, kept whole (a multi-line block is one entry) and saved as it happens.

The file is JSON lines, one `{"time": ..., "source": ...}` object per entry, only ever appended
to (and flushed) so a crash mid-set loses at most the entry being written; a torn last line is
skipped when loading. When the file grows past twice the limit it is rewritten with the newest
entries through a temporary file and an atomic rename.

Navigation is IPython-like prefix search: with "perf.t" typed, `previous("perf.t")` steps back
through the entries starting with "perf.t", `next("perf.t")` forward again, and None from
`next` means "past the newest entry: show the draft again".
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path


class History:
    """The entries of one session, newest last, at most `limit` of them."""

    def __init__(self, path: Path | None, limit: int = 2000) -> None:
        self.path = Path(path) if path is not None else None
        self.limit = max(1, limit)
        # The last failure to read or write the file; the console keeps working without it.
        self.error: str | None = None
        self._lock = threading.Lock()
        self._entries: list[str] = []
        self._cursor = 0  # index of the entry shown; len(entries) means the draft
        if self.path is not None:
            self._load()
        self._cursor = len(self._entries)

    @property
    def entries(self) -> list[str]:
        """A copy of the entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def append(self, source: str) -> None:
        """Record `source` (blank input and a repeat of the newest entry are not recorded)."""
        entry = source.rstrip()
        with self._lock:
            self._cursor = len(self._entries)
            if not entry.strip() or (self._entries and self._entries[-1] == entry):
                return
            self._entries.append(entry)
            if len(self._entries) > self.limit:
                del self._entries[: len(self._entries) - self.limit]
            self._cursor = len(self._entries)
            self._write(entry)

    def previous(self, prefix: str = "") -> str | None:
        """The next older entry starting with `prefix`, or None (and no move) if there is none."""
        with self._lock:
            shown = self._shown(prefix)
            for index in range(min(self._cursor, len(self._entries)) - 1, -1, -1):
                entry = self._entries[index]
                # Skipping what is on screen already makes each key press visibly do something.
                if entry.startswith(prefix) and entry != shown:
                    self._cursor = index
                    return entry
            return None

    def next(self, prefix: str = "") -> str | None:
        """The next newer entry starting with `prefix`; None when back at the draft."""
        with self._lock:
            shown = self._shown(prefix)
            for index in range(self._cursor + 1, len(self._entries)):
                entry = self._entries[index]
                if entry.startswith(prefix) and entry != shown:
                    self._cursor = index
                    return entry
            self._cursor = len(self._entries)
            return None

    def reset(self) -> None:
        """Forget the navigation position (the next `previous` starts from the newest entry)."""
        with self._lock:
            self._cursor = len(self._entries)

    def _shown(self, prefix: str) -> str:
        if self._cursor < len(self._entries):
            return self._entries[self._cursor]
        return prefix

    # ---- the file -----------------------------------------------------------------------

    def _load(self) -> None:
        assert self.path is not None
        try:
            with self.path.open(encoding="utf-8", errors="replace") as file:
                lines = file.readlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            self.error = f"could not read the history {self.path}: {exc}"
            return
        for line in lines:
            entry = _parse(line)
            if entry and not (self._entries and self._entries[-1] == entry):
                self._entries.append(entry)
        del self._entries[: max(0, len(self._entries) - self.limit)]
        if len(lines) > 2 * self.limit:
            self._compact()

    def _write(self, entry: str) -> None:
        if self.path is None:
            return
        record = json.dumps({"time": _now(), "source": entry}, ensure_ascii=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write of one whole line, flushed: the append-only file stays readable even
            # if the process dies right after.
            with self.path.open("a", encoding="utf-8") as file:
                file.write(record + "\n")
                file.flush()
        except OSError as exc:
            self.error = f"could not save the history to {self.path}: {exc}"

    def _compact(self) -> None:
        """Rewrite the file with the kept entries only (temporary file, then atomic rename)."""
        assert self.path is not None
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            with temporary.open("w", encoding="utf-8") as file:
                for entry in self._entries:
                    record = {"time": None, "source": entry}
                    file.write(json.dumps(record, ensure_ascii=False) + "\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            self.error = f"could not compact the history {self.path}: {exc}"


def _parse(line: str) -> str | None:
    """The source of one saved line; None for a torn or foreign line."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    source = record.get("source") if isinstance(record, dict) else record
    return source if isinstance(source, str) and source.strip() else None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())
