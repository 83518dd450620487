"""Notochord's cost per event on one thread: what a harmonizer pays between a key and its
answer.

    python benchmarks/notochord_cost.py [--events 600] [--checkpoint PATH]

One event is one `feed` of the player's key (instrument 1, a pitch of a C major line, its
delta-time and velocity) plus one constrained harmony query: the voice's instrument fixed,
time 0 ("with the key"), its velocity fixed, pitches limited to C major in the octave and a
half below the key. That is what hoot.realtime's harmonizer does per key and voice; its
deadline is one audio block (2.7 ms at 128 frames, 48 kHz), so the target is p95 <= 2 ms
for the embedded model. Each answer is fed back too (a harmonizer tells the model what its
voice played), outside the timed span, so the state the next event sees is realistic.

Rows: the embedded checkpoint (models/notochord-hoot.ckpt) and the official default size
(emb 512, GRU 1024 x 2, random weights: the published lakh model's size, which costs the
same as the real weights). p50/p95/max in ms, and in units of the reference workload
(benchmarks/reference.py) timed in the same run, since these shared VMs differ ~3x.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch
from reference import reference_seconds, repository_on_path

repository_on_path()
from hoot.realtime.notochord import EMBEDDED, Notochord, load_notochord  # noqa: E402

C_MAJOR = {0, 2, 4, 5, 7, 9, 11}
TARGET_P95_MS = 2.0


def per_event_ms(model: Notochord, events: int, voices: list[int],
                 seed: int = 0) -> list[float]:
    """Times from a key's feed to its last voice's answer over `events` keys of a random C
    major line: feed, query (one voice); feed, query, feed, query (two: the first voice's
    answer is fed before the second is asked, so they do not double)."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model.reset()
    pitch, times = 67, []
    for k in range(events + 20):  # the first 20 warm caches and are not counted
        pitch = min(84, max(60, pitch + rng.choice((-2, -1, 1, 2, 0, 3, -3))))
        while pitch % 12 not in C_MAJOR:
            pitch += 1
        dt = rng.choice((0.25, 0.5, 0.5, 0.75, 1.0)) * 0.6
        below = [p for p in range(pitch - 18, pitch) if p % 12 in C_MAJOR]
        started = time.perf_counter()
        model.feed(1, pitch, dt, 80.0)
        answers = []
        for voice in voices:
            if answers:
                model.feed(**answers[-1])
            answers.append(model.query(next_inst=voice, next_time=0.0, next_vel=70.0,
                                       include_pitch=below))
        elapsed = time.perf_counter() - started
        model.feed(**answers[-1])
        if k >= 20:
            times.append(elapsed * 1e3)
    return times


def row(name: str, times: list[float], ref_ms: float) -> str:
    ordered = sorted(times)
    p50 = statistics.median(ordered)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    worst = ordered[-1]
    return (f"{name:<42} p50 {p50:6.3f} ms  p95 {p95:6.3f} ms  max {worst:6.3f} ms   "
            f"({p50 / ref_ms:5.2f} / {p95 / ref_ms:5.2f} ref)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=600)
    ap.add_argument("--checkpoint", type=Path, default=EMBEDDED)
    args = ap.parse_args()
    torch.set_num_threads(1)

    before = reference_seconds()
    embedded = load_notochord(args.checkpoint)
    voices = embedded.hoot_meta.get("voice_insts", [49, 50])[:2]
    size = embedded.kw
    torch.manual_seed(0)
    official = Notochord()
    official.eval()
    measured = [
        (f"embedded (emb {size['emb_size']}, GRU {size['rnn_hidden']} x {size['rnn_layers']})",
         per_event_ms(embedded, args.events, voices[:1])),
        ("  the same, a key with 2 voices", per_event_ms(embedded, args.events, voices)),
        ("official default (emb 512, GRU 1024 x 2)",
         per_event_ms(official, args.events, [49])),
    ]
    after = reference_seconds()
    ref_ms = (before + after) / 2 * 1e3
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, {args.events} events "
          f"per row; one event = feed + harmonize query; target p95 <= {TARGET_P95_MS} ms "
          "(embedded)")
    print(f"reference workload: {before * 1e6:.0f} us at the start, {after * 1e6:.0f} us "
          "at the end")
    for name, times in measured:
        print(row(name, times, ref_ms))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
