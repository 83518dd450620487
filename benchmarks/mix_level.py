"""The default mix: six generated stems (one per role) summed at the tracks' default levels.

    .venv/bin/python benchmarks/mix_level.py [--styles house techno ...] [--seeds 3]

Every stem is loudness-matched to -14 LUFS on its own. Summed at 0 dB, five of them reach
about -7.5 LUFS with peaks over 0 dBFS, and the master limiter pumps. The tracks start at
their role's level (hoot/music/roles.py); this prints what the sum measures at those
levels, per style and seed: integrated loudness (the loop measured as it plays), sample
peak and the true peak before the master limiter, beside the same sum at 0 dB.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np

from hoot.generate.loudness import integrated_loudness, true_peak
from hoot.music import ROLES
from hoot.music.roles import LEVELS
from hoot.session import Session
from hoot.stage import Stage

SR = 48000


def mix(stems: dict[str, np.ndarray], levels: dict[str, float]) -> np.ndarray:
    out = np.zeros_like(next(iter(stems.values())), dtype=np.float64)
    for role, audio in stems.items():
        out += audio * 10 ** (levels.get(role, 0.0) / 20)
    return out


def db(x: float) -> float:
    return 20 * np.log10(max(x, 1e-12))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--styles", nargs="+", default=["house", "techno", "dnb", "hiphop",
                                                      "ambient", "jazz"])  # fmt: skip
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        stage = Stage.offline(Session(Path(tmp) / "mix"))
        perf = stage.perf
        perf.on_message = lambda m: None
        try:
            for style in a.styles:
                perf.vibe(style=style)
                for seed in range(a.seeds):
                    batches = {role: perf.generate(role, n=1, bars=4, seed=seed) for role in ROLES}
                    stems = {}
                    for role, batch in batches.items():
                        c = batch.wait(timeout=120)[1]
                        if c.audio is None:
                            raise SystemExit(f"{role} failed: {c.reason}")
                        stems[role] = c.audio.astype(np.float64)
                    at_levels = mix(stems, LEVELS)
                    at_unity = mix(stems, {})
                    rows.append((
                        style, seed,
                        integrated_loudness(at_levels, SR, loop=True), db(np.abs(at_levels).max()),
                        true_peak(at_levels, SR, loop=True),
                        integrated_loudness(at_unity, SR, loop=True), db(np.abs(at_unity).max()),
                    ))  # fmt: skip
                    print(f"{style:8} seed {seed}: at the default levels "
                          f"{rows[-1][2]:6.1f} LUFS, peak {rows[-1][3]:5.1f} dBFS "
                          f"({rows[-1][4]:5.1f} dBTP); all at 0 dB {rows[-1][5]:6.1f} LUFS, "
                          f"peak {rows[-1][6]:5.1f} dBFS", flush=True)  # fmt: skip
        finally:
            stage.close()
    lufs = [r[2] for r in rows]
    print(f"\nsix stems at the default levels ({', '.join(f'{k} {v:g}' for k, v in LEVELS.items())}"
          f" dB): median {statistics.median(lufs):.1f} LUFS (range {min(lufs):.1f} to "
          f"{max(lufs):.1f}), highest peak {max(r[3] for r in rows):.1f} dBFS, "
          f"{max(r[4] for r in rows):.1f} dBTP; the master limiter holds -0.3 dBFS")
    print(f"the same stems at 0 dB: median {statistics.median(r[5] for r in rows):.1f} LUFS, "
          f"highest peak {max(r[6] for r in rows):.1f} dBFS")


if __name__ == "__main__":
    main()
