"""Cost of one block of a live SoundFont voice (hoot.engine.fluid) with 8 held notes.

    python benchmarks/soundfont_voice.py [--seconds 10]

One SoundFontVoice on FluidR3_GM (the strings, program 48: every note is two or more
sampled voices, and they sustain, so the load holds for the whole run), 8 notes held, its
reverb and chorus on; `render` called for 128-frame blocks back to back, each block also
carrying one event (a pitch-bend, as a wheel in motion sends), so the chunked rendering
between events is part of the cost. Prints p50, p99.9 and max as a share of the 2.67 ms
period, p50 and p99.9 in units of the reference workload (benchmarks/reference.py, timed at
the start and the end), and the last block's level (dBFS RMS: the notes still sound). This is
the cost added to forward() for each track a keyboard plays on a SoundFont;
benchmarks/forward_cost.py has the rest of the block.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np
from reference import reference_seconds

from hoot.engine.fluid import SoundFontVoice

SR = 48000
BLOCK = 128
CHORD = (48, 55, 60, 64, 67, 72, 76, 79)


def measure(seconds: float, program: int) -> tuple[np.ndarray, float, int]:
    voice = SoundFontVoice(0, f"soundfont:{program}", "chords", SR)
    for pitch in CHORD:
        voice.note_on(0, 0, pitch, 100, 0, pitch)
    tb = np.zeros((6, BLOCK, 2), np.float32)
    s0 = 0
    for _ in range(200):  # past the attacks, into the sustain
        tb.fill(0)
        voice.render(s0, BLOCK, tb)
        s0 += BLOCK
    n = int(seconds * SR / BLOCK)
    times = np.zeros(n)
    clock = time.perf_counter
    gc.collect()
    gc.freeze()
    for i in range(n):
        voice.bend(s0 + 37, 0, 0.01 * (i % 50))
        tb.fill(0)
        t0 = clock()
        voice.render(s0, BLOCK, tb)
        times[i] = clock() - t0
        s0 += BLOCK
    level = 10 * np.log10(max(float(np.mean(np.square(tb[0]))), 1e-20))  # the last block
    faults = voice.faults
    voice.close()
    return times / (BLOCK / SR) * 100, level, faults


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="audio time per measurement")
    a = ap.parse_args()
    before = reference_seconds()
    rows = [(name, *measure(a.seconds, program)) for name, program in (("strings", 48),
                                                                       ("piano", 0))]  # fmt: skip
    after = reference_seconds()
    ref = (before + after) / 2
    period = BLOCK / SR
    print(
        f"reference workload: {before * 1e6:.0f} us at the start, {after * 1e6:.0f} us at the end"
    )
    print(f"SoundFont voice, 8 held notes, one bend a block, {BLOCK}-frame blocks:")
    print(
        f"{'program':>8} {'p50':>7} {'p99.9':>7} {'max':>7}  {'p50':>8} {'p99.9':>8}  level faults"
    )
    for name, share, level, faults in rows:
        p50, p999 = np.percentile(share, 50), np.percentile(share, 99.9)
        units = [p / 100 * period / ref for p in (p50, p999)]
        print(
            f"{name:>8} {p50:>6.1f}% {p999:>6.1f}% {share.max():>6.1f}%  "
            f"{units[0]:>4.2f} ref {units[1]:>4.2f} ref  {level:>5.0f}dB {faults:>5}"
        )


if __name__ == "__main__":
    main()
