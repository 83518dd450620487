"""Compile the engine's core into numba's cache now, so that the next engine starts warm.

    python -m hoot.engine.warm

`scripts/setup` runs it after installing hoot (so `make run` and `make test` start warm);
it takes about two minutes the first time on a 2-core VM and about a second once the
cache holds the core. An engine that starts with a cold cache compiles by itself and says
so; this only moves those minutes out of the performer's way.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def warm(say=print) -> float:
    """Build an engine as the server does, render a block from Python and make its
    PortAudio callback; returns the seconds it took."""
    from hoot.engine.core import Engine
    from hoot.engine.inputs import INPUT_ROWS
    from hoot.music import TRACKS

    began = time.perf_counter()
    engine = Engine(48000, tuple(TRACKS), inputs=INPUT_ROWS)
    engine.forward(np.zeros((256, 2), np.float32))  # the offline and null drivers' path
    engine.core.callback(on_message=say)  # PortAudio's
    return time.perf_counter() - began


def main() -> int:
    seconds = warm(lambda line: print(f"hoot: {line}", file=sys.stderr))
    print(f"hoot: the engine's core is ready ({seconds:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
