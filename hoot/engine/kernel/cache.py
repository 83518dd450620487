"""Where the compiled core keeps its machine code, so that only the first start compiles.

numba's `cache=True` would write next to the source (`hoot/engine/kernel/__pycache__`), and
checks a cached function only against its own file's date. hoot names the folder instead,
under the user's cache folder (`~/.cache/hoot/numba-<hash of the engine's sources>` on
Linux): a changed engine compiles into a new folder, never loads stale code, works where
the package is read-only, and `hoot doctor` can say where it is. A NUMBA_CACHE_DIR the
performer set wins.

The audio callback's unpacking code is generated per layout of the core's state and must
live in a real file for numba to cache it; those files go to `kernel_dir()` (also under
the user's cache folder), with their caches beside them.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path

import numba

from hoot.engine.kernel import shipped

STALE_DAYS = 30  # a cache folder no engine has used this long belongs to an older hoot


def user_cache_dir() -> Path:
    """hoot's folder in the user's cache: $XDG_CACHE_HOME/hoot (~/.cache/hoot) on Linux,
    ~/Library/Caches/hoot on macOS, %LOCALAPPDATA%/hoot/Cache on Windows."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "hoot"
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "hoot" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hoot"


def kernel_dir() -> Path:
    """Where generated callback modules (and their numba caches) live."""
    return user_cache_dir() / "kernel"


def sources_fingerprint() -> str:
    """A hash of every engine source file and of numba's version: the name of the folder
    the machine code of this exact engine lives in."""
    digest = hashlib.sha256(numba.__version__.encode())
    engine = Path(__file__).resolve().parent.parent
    for path in sorted(engine.rglob("*.py")):
        digest.update(path.relative_to(engine).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def configure_numba() -> str:
    """Point numba's cache at a folder named by the engine's sources (unless the performer
    set NUMBA_CACHE_DIR); return where the kernel's cache lives now.

    numba checks a cached function against its own file only: a function whose callee in
    another file changed would load stale machine code from `__pycache__`. A folder per
    version of the sources cannot be stale; an upgrade compiles once into a new folder,
    and a folder no engine has used for STALE_DAYS is removed here (another checkout or
    version may still use a younger one).

    Where hoot ships the core for this platform (kernel.shipped), numba compiles for its
    generic CPU and a new folder starts from the shipped cache, so no first start compiles;
    HOOT_SHIPPED_CORE=0 compiles for this machine's CPU instead."""
    if numba.config.CACHE_DIR:
        return numba.config.CACHE_DIR
    fingerprint = sources_fingerprint()
    name = f"numba-{fingerprint}"
    root = user_cache_dir()
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    os.utime(folder)  # in use today
    for old in root.glob("numba-*"):
        if old.name != name and time.time() - old.stat().st_mtime > STALE_DAYS * 86400:
            shutil.rmtree(old, ignore_errors=True)
    numba.config.CACHE_DIR = str(folder)
    if shipped_core_reason(fingerprint) is None and not shipped.mark(folder, kernel_dir()).exists():
        try:
            shipped.unpack(folder, kernel_dir())
        except (OSError, tarfile.TarError, EOFError, lzma.LZMAError):
            pass  # a damaged archive or a full disk: the core compiles, as without one
    return numba.config.CACHE_DIR


def shipped_core_reason(fingerprint: str) -> str | None:
    """None when this process loads the shipped core (and compiles for numba's generic CPU,
    which this sets up the first time it is asked), else why not, in one sentence."""
    if os.environ.get("HOOT_SHIPPED_CORE", "1") == "0":
        return "HOOT_SHIPPED_CORE=0: compiled for this machine's CPU"
    reason = shipped.why_not(fingerprint)
    if reason is not None:
        return reason
    if numba.config.CPU_NAME is not None:
        if numba.config.CPU_NAME == "generic" and not numba.config.CPU_FEATURES:
            return None
        return f"NUMBA_CPU_NAME={numba.config.CPU_NAME} was asked for"
    from numba.core import registry

    if "_toplevel_target_context" in vars(registry.cpu_target):
        # numba made its code generator for this CPU before the engine was imported:
        # naming another CPU now would label this CPU's code as generic in the cache
        return "numba compiled for this machine's CPU before the engine was imported"
    numba.config.CPU_NAME = "generic"
    numba.config.CPU_FEATURES = ""
    return None
