"""The compiled core as shipped: numba's cache of it, built by us once per platform, so that
a first start loads machine code instead of compiling for two minutes.

numba compiles for the machine it runs on, and a cached function is keyed by that machine's
CPU name and features, so a cache made on one machine is cold on another. A platform with a
shipped core (`hoot/engine/kernel/shipped/core-<platform>.tar.xz`, made by
`scripts/build_core_cache.py`) therefore compiles for numba's *generic* CPU of its
architecture, in the build and at every start: the same key everywhere. The cost is the
host's newer instructions (AVX and later on x86-64); `benchmarks/forward_cost.py` run both
ways shows what that costs (docs/architecture.md). A platform without one, a numba other
than the one the core was built with, or sources that changed since (a developer's
checkout) compile for the host CPU, as before.

The archive holds numba's cache files (`.nbi` index, `.nbc` data), each under a label for
the folder its source lives in (`hoot/engine/kernel`, or `@callbacks` for the generated
callback modules of `callback.py`). numba names a cache subfolder by a hash of the source
folder's absolute path, so `unpack` puts each file where this installation's numba will
look. numba itself checks what it loads: its version, the function's source (hashed) and
bytecode, the signature and the CPU; anything that disagrees is simply cold and compiles.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import sys
import tarfile
from pathlib import Path

import numba

HERE = Path(__file__).resolve().parent / "shipped"
CALLBACKS = "@callbacks"


def platform_tag() -> str:
    """The platform a shipped core is built for: OS, architecture, Python's minor version."""
    machine = platform.machine().lower().replace("amd64", "x86_64")
    return f"{sys.platform}-{machine}-py{sys.version_info[0]}{sys.version_info[1]}"


def archive_path(tag: str | None = None) -> Path:
    return HERE / f"core-{tag or platform_tag()}.tar.xz"


def manifest_path(tag: str | None = None) -> Path:
    return HERE / f"core-{tag or platform_tag()}.json"


def manifest(tag: str | None = None) -> dict | None:
    """What the shipped core for this platform was built from, or None if there is none."""
    try:
        return json.loads(manifest_path(tag).read_text())
    except (OSError, ValueError):
        return None


def why_not(fingerprint: str) -> str | None:
    """None when the shipped core fits this engine (`fingerprint`: cache.sources_fingerprint,
    which covers numba's version too), else one sentence saying why it does not."""
    shipped = manifest()
    if shipped is None or not archive_path().exists():
        return f"no shipped core for {platform_tag()}"
    if shipped.get("numba") != numba.__version__:
        return f"the shipped core is for numba {shipped.get('numba')}, this is {numba.__version__}"
    if shipped.get("sources") != fingerprint:
        return "the engine's sources changed since the shipped core was built"
    return None


def source_folders(package_root: Path, callbacks: Path) -> dict[str, Path]:
    """Label -> source folder, for every folder numba may cache an engine function from."""
    folders = {CALLBACKS: callbacks}
    for init in sorted(package_root.rglob("__init__.py")):
        folders[init.parent.relative_to(package_root.parent).as_posix()] = init.parent
    return folders


def subfolder(source_folder: Path) -> str:
    """The cache subfolder numba's user-provided cache locator uses for sources in
    `source_folder` (its last name and a hash of its absolute path)."""
    from numba.core.caching import _CacheLocator

    return _CacheLocator.get_suitable_cache_subpath(str(source_folder / "any.py"))


def mark(folder: Path, callbacks: Path) -> Path:
    """The file that says the archive was unpacked into `folder` for this installation:
    two checkouts of the same sources share the folder, not numba's subfolders in it."""
    import hoot

    where = f"{Path(hoot.__file__).resolve().parent}\n{callbacks.resolve()}"
    return folder / f".shipped-{hashlib.sha1(where.encode()).hexdigest()[:16]}"


def unpack(folder: Path, callbacks: Path) -> int:
    """Put the shipped core's cache files into numba's cache `folder`, where this
    installation looks for them; returns how many. Safe when two engines start together:
    each file is written aside and moved into place."""
    import hoot

    places = {
        label: folder / subfolder(path)
        for label, path in source_folders(Path(hoot.__file__).resolve().parent, callbacks).items()
    }
    count = 0
    with tarfile.open(archive_path(), "r:xz") as archive:
        for member in archive.getmembers():
            label, _, name = member.name.rpartition("/")
            if not member.isfile() or label not in places or "/" in name or name.startswith("."):
                continue
            data = archive.extractfile(member)
            assert data is not None
            target = places[label]
            target.mkdir(parents=True, exist_ok=True)
            partial = target / f".{name}.{os.getpid()}.tmp"
            partial.write_bytes(data.read())
            os.replace(partial, target / name)
            count += 1
    mark(folder, callbacks).write_text(json.dumps({"files": count, "tag": platform_tag()}))
    return count


def pack(cache_folder: Path, package_root: Path, callbacks: Path, out: Path) -> int:
    """Write numba's cache `cache_folder` (built with the generic CPU) as an archive whose
    entries are labelled by source folder; returns how many files. Refuses a cache
    subfolder it cannot name (a source folder outside the engine and the callbacks)."""
    labels = {
        subfolder(path): label for label, path in source_folders(package_root, callbacks).items()
    }
    files = []
    for sub in sorted(p for p in cache_folder.iterdir() if p.is_dir()):
        if sub.name not in labels:
            raise ValueError(f"{sub.name}: a cache subfolder from outside hoot's engine")
        cached = (f for f in sorted(sub.iterdir()) if f.suffix in (".nbi", ".nbc"))
        files += [(labels[sub.name], f) for f in cached]
    with tarfile.open(out, "w:xz", preset=9) as archive:
        for label, path in files:
            info = tarfile.TarInfo(f"{label}/{path.name}")
            data = path.read_bytes()
            info.size = len(data)
            info.mtime = 0  # the same build gives the same archive
            archive.addfile(info, io.BytesIO(data))
    return len(files)
