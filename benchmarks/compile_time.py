"""How long the engine's core takes to compile into an empty numba cache, and where.

    python benchmarks/compile_time.py            # NUMBA_OPT=0 python benchmarks/... for O0

Builds the engine as `python -m hoot.engine.warm` does, into a fresh temporary cache, and
prints the total beside numba's own timers for the slowest compiled functions (inclusive:
a function's figure holds what it calls; "llvm" is the LLVM part of it).
"""

from __future__ import annotations

import gc
import os
import tempfile
import time


def main() -> None:
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="hoot-compile-")
    from numba.core.dispatcher import Dispatcher

    from hoot.engine.warm import warm

    began = time.perf_counter()
    warm(lambda line: None)
    total = time.perf_counter() - began
    rows = []
    for obj in gc.get_objects():
        if isinstance(obj, Dispatcher):
            for cres in obj.overloads.values():
                timers = (cres.metadata or {}).get("timers", {})
                name = f"{obj.py_func.__module__}.{obj.py_func.__name__}"
                rows.append((timers.get("compiler_lock", 0.0), timers.get("llvm_lock", 0.0), name))
    rows.sort(reverse=True)
    print(f"engine core, empty cache, NUMBA_OPT={os.environ.get('NUMBA_OPT', '3 (default)')}: "
          f"{total:.1f} s in all, {len(rows)} compiled signatures")  # fmt: skip
    print("  inclusive s   llvm s   function")
    for whole, llvm, name in rows[:12]:
        print(f"  {whole:11.2f} {llvm:8.2f}   {name}")


if __name__ == "__main__":
    main()
