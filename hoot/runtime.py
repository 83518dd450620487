"""The private runtime folder: sockets, status files and the candidate spool, in memory.

Everything a running hoot keeps outside its session folder lives here, in one folder per
user, named by the session it serves:

    <runtime>/hoot-<uid>/
        <key>.sock          the engine's command socket
        <key>.status        the engine's shared-memory status
        <key>.notes         the engine's live-note table (hoot.engine.rings)
        engine-<pid>-<n>.notes  an in-process (offline) engine's
        <key>.repl.sock     the running `hoot tui`'s socket for `hoot repl`
        spool-<key>/        generated candidates' audio until one is picked

It must be memory, not disk: the engine's status thread writes its mapped file 120 times
a second holding the GIL, and on a disk file system such a write can wait for the journal
while other programs write files (ext4 made the audio callback wait 26 ms for the GIL
during a generation). And on these machines any file written to disk makes JACK clients
late (benchmarks/io_floor.py), so generated audio waits here until the performer picks it.

`clean()` removes what dead processes left: status files and live-note tables of engines
that are gone,
sockets nobody listens on, spools of sessions no process holds, and multiprocessing
semaphores no process maps.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import struct
import tempfile
import time
from pathlib import Path

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def peer_uid(conn: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket, as the kernel saw it when
    it connected; None where the platform cannot say (then the caller must refuse)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    _pid, uid, _gid = _UCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, option, _UCRED.size))
    return uid


def runtime_dir() -> Path:
    """This user's private runtime folder: under $XDG_RUNTIME_DIR (memory, /run/user/UID)
    where it is set, else /dev/shm, and the temporary folder only where neither exists."""
    base = os.environ.get("XDG_RUNTIME_DIR") or (
        "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else tempfile.gettempdir()
    )
    d = Path(base) / f"hoot-{os.getuid()}"
    d.mkdir(mode=0o700, exist_ok=True)
    os.chmod(d, 0o700)
    return d


def session_key(session_dir: Path) -> str:
    """A short name for a session folder (Unix socket paths must stay short)."""
    return hashlib.sha1(str(Path(session_dir).resolve()).encode()).hexdigest()[:16]


def spool_dir(session_dir: Path) -> Path:
    """Where generated audio of `session_dir` waits until it is picked (see the module)."""
    d = runtime_dir() / f"spool-{session_key(session_dir)}"
    d.mkdir(mode=0o700, exist_ok=True)
    return d


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _listening(path: Path) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


STARTING_S = 60.0  # an engine writes its pid into its status file within this of making it
_STATUS_PID_SLOT = 11  # hoot.engine.status.F_PID: float64 slots into the file
_NOTES_PID_SLOT = 1  # hoot.engine.rings.N_PID: int64 slots into the file
_RETURN_PID_SLOT = 7  # hoot.engine.rings.R_PID: the same, in a model's return ring


def _engine_gone(status: Path) -> bool:
    """Whether the engine a status file belongs to is gone: no status (an engine removes it
    last but one, then its input ring), or its pid is dead. A status whose pid is not
    written yet belongs to an engine starting now, for a minute."""
    try:
        age = time.time() - status.stat().st_mtime
    except FileNotFoundError:
        return True
    pid = _status_pid(status)
    return age > STARTING_S if pid == 0 else not pid_alive(pid)


def _status_pid(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            f.seek(8 * _STATUS_PID_SLOT)
            return int(struct.unpack("<d", f.read(8))[0])
    except (OSError, struct.error, ValueError):
        return 0


def _notes_pid(path: Path, slot: int | None = None) -> int:
    """The pid a live-note table (or, at `slot`, a model's return ring) was made by."""
    try:
        with open(path, "rb") as f:
            f.seek(8 * (_NOTES_PID_SLOT if slot is None else slot))
            return struct.unpack("=q", f.read(8))[0]
    except (OSError, struct.error):
        return 0


def hold(folder: Path) -> None:
    """Mark a spool as this process's: clean() leaves it while this process lives."""
    (folder / "owner").write_text(str(os.getpid()))


def _spool_owner(folder: Path) -> int:
    try:
        return int((folder / "owner").read_text())
    except (OSError, ValueError):
        return 0


def clean(keep: Path | None = None) -> list[Path]:
    """Remove what dead hoot processes left in the runtime folder (and their semaphores);
    `keep` names a spool the caller is about to use. Returns what was removed."""
    removed: list[Path] = []
    d = runtime_dir()
    for path in list(d.iterdir()):
        try:
            if path.suffix == ".status":
                stale = _engine_gone(path)
            elif path.suffix == ".inputs":  # an engine's input ring; its status names it
                stale = _engine_gone(path.with_suffix(".status"))
            elif path.suffix == ".log" and path.name.startswith("voice-"):
                # a real-time model's stderr (hoot.realtime.layer: voice-<host pid>-<name>):
                # kept while its host lives, and after if it says something (a crash)
                host = path.name.split("-")[1]
                stale = host.isdigit() and path.stat().st_size == 0 and not pid_alive(int(host))
            elif path.suffix in (".notes", ".return"):  # pid 0: being made right now
                maker = _notes_pid(path, _RETURN_PID_SLOT if path.suffix == ".return" else None)
                stale = maker > 0 and not pid_alive(maker)
            elif path.suffix == ".sock":
                stale = not _listening(path)
            elif path.is_dir() and path.name.startswith("spool-"):
                stale = path != keep and not pid_alive(_spool_owner(path))
            else:
                continue
            if stale:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink()
                removed.append(path)
        except OSError:
            continue
    removed += clean_semaphores()
    return removed


def clean_semaphores(shm: Path = Path("/dev/shm")) -> list[Path]:
    """multiprocessing's named semaphores (sem.mp-*) of this user that no live process maps:
    leaked by processes killed before they could unlink them. A semaphore in use is
    mapped by every process that opened it, so one that nobody maps is nobody's."""
    if not shm.is_dir() or not Path("/proc/self/maps").exists():
        return []
    mine = [
        p for p in shm.glob("sem.mp-*")
        if _owned(p)
    ]  # fmt: skip
    if not mine:
        return []
    mapped: set[str] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for line in (proc / "maps").read_text().splitlines():
                if "/dev/shm/sem." in line:
                    mapped.add(line.rsplit("/", 1)[-1].split()[0])
    removed = []
    for p in mine:
        if p.name not in mapped:
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


def _owned(path: Path) -> bool:
    try:
        return path.stat().st_uid == os.getuid()
    except OSError:
        return False
