"""How well a Notochord checkpoint harmonizes the chorales it never saw.

    python models/eval_notochord.py [--checkpoint models/notochord-hoot.ckpt]

The validation chorales of models/train_notochord.py (same seed, same split), untransposed
at 90 quarter notes a minute, are played to the model event by event. Whenever a lower
voice (alto, tenor, bass) starts a note together with the event before it, the model is
asked first, as hoot's harmonizer asks it: that voice's instrument, time 0 and the true
velocity fixed, the pitch its own to choose. Printed: how often its likeliest pitch (pitch_temp
0) is Bach's, how often a draw at temperature 1 is, and beside them the baseline "the voice
repeats its previous pitch" (a strong one in chorales, where inner voices often hold).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from train_notochord import VOICES, chorale_notes, to_events  # noqa: E402

from hoot.realtime.notochord import EMBEDDED, load_notochord  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path, default=EMBEDDED)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    from music21 import corpus

    model = load_notochord(args.checkpoint)
    paths = sorted(str(p) for p in corpus.getComposer("bach"))
    pieces = [n for n in map(chorale_notes, paths) if n]
    random.Random(args.seed).shuffle(pieces)
    valid = pieces[:max(2, len(pieces) // 20)]

    asked = likeliest = drawn = repeated = 0
    for notes in valid:
        events = to_events(notes, random.Random(0), 0, 90.0)
        model.reset()
        previous: dict[int, int] = {}
        for k, (inst, pitch, dt, vel) in enumerate(events):
            if k > 1 and inst in VOICES and vel > 0 and dt == 0.0:
                fixed = dict(next_inst=inst, next_time=0.0, next_vel=vel)
                asked += 1
                likeliest += model.query(**fixed, pitch_temp=0.0)["pitch"] == pitch
                drawn += model.query(**fixed)["pitch"] == pitch
                repeated += previous.get(inst) == pitch
            if vel > 0:
                previous[inst] = pitch
            model.feed(inst, pitch, dt, vel)
    print(f"{len(valid)} unseen chorales, {asked} voice entries asked for")
    print(f"model's likeliest pitch is Bach's: {likeliest / asked:.1%}")
    print(f"model's draw (temperature 1) is Bach's: {drawn / asked:.1%}")
    print(f"baseline, the voice repeats its pitch: {repeated / asked:.1%}")


if __name__ == "__main__":
    main()
