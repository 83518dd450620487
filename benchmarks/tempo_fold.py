"""A set of hours under a sync source: every tempo change taken, the tempo map bounded.

    python benchmarks/tempo_fold.py [--minutes 60] [--per-second 4] [--whole]

Offline (the engine in this process, 8 kHz, time moving only as the script waits): a
follower proposes a wobbling tempo `--per-second` times a second (MIDI clock in steers up
to 4 a second, the band follower about 2) for `--minutes` of music, with a 13-bar loop
playing throughout. Printed: the changes taken, the most tempo segments the engine's map
held (before the fold, engine.control `_folded`, the engine refused every change past 256,
about a minute at 4 a second), the cost of one change on the control side (the command's
round trip: new map, fold, encode into the engine's buffer; p50 and p99 in the first and
the last minute, which should match) and the size of the map in the engine's state
message, beside the reference workload. --whole: as before, the map never folded and 256
segments held; printed, when the engine first refused a change.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from reference import reference_seconds  # noqa: E402

from hoot.engine import control  # noqa: E402
from hoot.engine.kernel import tempo  # noqa: E402
from hoot.errors import HootError  # noqa: E402
from hoot.session import Session  # noqa: E402
from hoot.stage import Stage  # noqa: E402
from tests import stemfiles  # noqa: E402

SR = 8000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--per-second", type=float, default=4.0)
    ap.add_argument("--whole", action="store_true", help="never fold the map (as before)")
    a = ap.parse_args()
    if a.whole:
        control.FOLD_AT, tempo.CAPACITY = 10**9, 256
    print(f"reference workload: {reference_seconds() * 1e6:.0f} us; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Stage.offline(Session(Path(tmp) / "gig"), SR, blocksize=500)
        perf = stage.perf
        perf.on_message = lambda line: None
        try:
            audio = 0.1 * np.random.default_rng(2).standard_normal((13 * 4 * SR // 2, 2))
            loop = stemfiles.write_wav(Path(tmp) / "loop.wav", audio, SR, bars=13)
            perf.load(loop, role="pad").queue(at="bar")
            gap = 1.0 / a.per_second
            changes = round(a.minutes * 60 * a.per_second)
            per_minute = round(60 * a.per_second)
            costs, most, size = [], 0, 0
            for k in range(changes):
                bpm = 120 + 6 * math.sin(k / 50) + rng.uniform(-0.5, 0.5)
                t0 = time.perf_counter()
                try:
                    perf.follow_tempo(bpm)
                except HootError as e:
                    print(f"change {k + 1}, {perf.now / SR:.0f} s in, refused: {e}")
                    return
                costs.append(time.perf_counter() - t0)
                perf.wait(seconds=gap)
                if k % 100 == 0 or k == changes - 1:
                    state = perf._state().tempo_map
                    most = max(most, len(state["tempi"]))
                    size = max(size, len(json.dumps(state)))
        finally:
            stage.close()
    ms = np.array(costs) * 1000
    first, last = ms[:per_minute], ms[-per_minute:]
    print(f"{a.minutes:g} minutes at {a.per_second:g} changes a second: {changes} changes, "
          f"all taken; the map held at most {most} tempo segments "
          f"({size} bytes in a state)")  # fmt: skip
    for name, part in (("first minute", first), ("last minute", last)):
        print(f"one change, {name}: p50 {np.percentile(part, 50):.2f} "
              f"p99 {np.percentile(part, 99):.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
