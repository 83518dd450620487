"""Where the compiled core keeps its machine code, so that only the first start compiles.

numba's `cache=True` writes next to the source (`hoot/engine/kernel/__pycache__`) when that
folder is writable: a checkout, or a virtual environment the performer owns. When hoot is
installed where the performer cannot write (a system or shared environment), numba would
fall back to its own folder; hoot names the folder instead, under the user's cache folder
(`~/.cache/hoot/numba` on Linux), so `hoot doctor` can say where it is and one `rm -r`
clears it. A NUMBA_CACHE_DIR the performer set wins over both.

The audio callback's unpacking code is generated per layout of the core's state and must
live in a real file for numba to cache it; those files go to `kernel_dir()` (also under
the user's cache folder), with their caches beside them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numba


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


def package_writable() -> bool:
    """Whether numba can cache next to the kernel's own source files."""
    here = Path(__file__).parent
    cache = here / "__pycache__"
    return os.access(cache if cache.is_dir() else here, os.W_OK | os.X_OK)


def configure_numba() -> str:
    """Point numba's cache at the user's cache folder when the package folder is read-only
    (and NUMBA_CACHE_DIR is unset); return where the kernel's cache lives now."""
    if numba.config.CACHE_DIR:
        return numba.config.CACHE_DIR
    if package_writable():
        return str(Path(__file__).parent / "__pycache__")
    folder = user_cache_dir() / "numba"
    folder.mkdir(parents=True, exist_ok=True)
    numba.config.CACHE_DIR = str(folder)
    return numba.config.CACHE_DIR
