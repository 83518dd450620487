#!/usr/bin/env python
"""Build the shipped compiled core for this platform: hoot/engine/kernel/shipped/.

    .venv/bin/python scripts/build_core_cache.py

Compiles the engine's core (what `python -m hoot.engine.warm` compiles: the engine a server
builds, its Python-called block and its PortAudio callback) for numba's generic CPU into an
empty cache, in a child process with a private cache folder, then packs numba's cache files
as `core-<platform>.tar.xz` with `core-<platform>.json` beside it (the engine sources'
fingerprint and numba's version it fits). Takes as long as a first compile (about two
minutes on a 2-core VM). Run it after any change to hoot/engine, under each Python hoot
ships a core for (`ls hoot/engine/kernel/shipped/`: py311 and py312 today; a venv of that
Python with `pip install -e .` is enough): tests/engine/test_shipped_core.py fails while a
shipped core no longer fits the sources.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys
import numba
from numba.core import registry
from hoot.engine.kernel import cache
from hoot.engine.warm import warm
seconds = warm(lambda line: print('hoot:', line, file=sys.stderr))
context = registry.cpu_target.target_context
print(json.dumps({
    "seconds": seconds,
    "cache": numba.config.CACHE_DIR,
    "callbacks": str(cache.kernel_dir()),
    "magic": list(context.codegen().magic_tuple()),
    "sources": cache.sources_fingerprint(),
    "numba": numba.__version__,
}))
"""


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from hoot.engine.kernel import shipped

    with tempfile.TemporaryDirectory(prefix="hoot-core-") as tmp:
        env = {
            **os.environ,
            "XDG_CACHE_HOME": tmp,  # a private, empty cache: everything compiles
            "NUMBA_CPU_NAME": "generic",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("NUMBA_CACHE_DIR", None)
        env.pop("NUMBA_CPU_FEATURES", None)
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, cwd=tmp, stdout=subprocess.PIPE, text=True
        )
        if done.returncode:
            print("build_core_cache: the compile failed (above)", file=sys.stderr)
            return 1
        built = json.loads(done.stdout.strip().splitlines()[-1])
        if built["magic"][1:] != ["generic", ""]:
            print(f"build_core_cache: compiled for {built['magic']}, not generic", file=sys.stderr)
            return 1
        shipped.HERE.mkdir(parents=True, exist_ok=True)
        tag = shipped.platform_tag()
        for old in shipped.HERE.glob(f"core-{tag}.*"):
            old.unlink()
        count = shipped.pack(
            Path(built["cache"]), ROOT / "hoot", Path(built["callbacks"]), shipped.archive_path(tag)
        )
        shipped.manifest_path(tag).write_text(
            json.dumps(
                {
                    "platform": tag,
                    "sources": built["sources"],
                    "numba": built["numba"],
                    "cpu": "generic",
                    "files": count,
                    "compile_seconds": round(built["seconds"], 1),
                    "built": time.strftime("%Y-%m-%d"),
                },
                indent=1,
            )
            + "\n"
        )
    size = shipped.archive_path(tag).stat().st_size
    print(
        f"build_core_cache: {count} cache files, {size / 1e6:.1f} MB, "
        f"{time.perf_counter() - began:.0f} s -> {shipped.archive_path(tag).relative_to(ROOT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
