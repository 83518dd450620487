"""Train hoot's own Notochord on Bach chorales and write models/notochord-hoot.ckpt.

    python models/train_notochord.py --minutes 40        # the shipped checkpoint
    python models/train_notochord.py --minutes 1 --out /tmp/try.ckpt   # a smoke run

Why chorales: hoot's harmonizer asks "the player pressed this key; which pitch would a
voice below start with it?", and four-part chorales are the densest free record of exactly
that (music21's corpus holds ~370 of Bach's, no download). Each chorale becomes one stream
of Notochord events with fixed instruments, so the model learns the voices as players:

    soprano -> 1 (GM piano: the performer's part)    alto -> 41 (violin)
    tenor   -> 42 (viola)                            bass -> 43 (cello)

At one instant the note-offs come first, then the note-ons from the top voice down, so
"the player's key, then the voices at time 0" is the order the model sees in training too.
Each training window is transposed by -6..+5 semitones (keys are the model's business only
relatively) and played at 60-120 quarter notes a minute; velocities (chorales have none)
are a level per piece with a little jitter per note.

Training is the official trainer's loss (Notochord.forward: every part's likelihood under a
random subset of the others) with AdamW, on ONE CPU thread (the machine is shared), for
--minutes of wall time; the pieces are split 95/5 by piece, and the checkpoint kept is the
one with the lowest validation loss. Seeded: --seed fixes the split, the init and the
batches (the wall-clock budget makes the number of steps machine-dependent).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hoot.realtime.notochord import Notochord, save_trainer_checkpoint  # noqa: E402

PARTS = {"soprano": 1, "alto": 41, "tenor": 42, "bass": 43}
PLAYER = PARTS["soprano"]
VOICES = [PARTS["alto"], PARTS["tenor"], PARTS["bass"]]
START = (0, 128, 0.0, 0.0)  # the official start token: instrument 0, pitch 128
MODEL = dict(emb_size=128, rnn_hidden=384, rnn_layers=1, mlp_layers=2, dropout=0.1)


def chorale_notes(path: str) -> list[tuple[float, float, int, int]] | None:
    """(onset, offset in quarter notes, instrument, pitch) of the four voices, or None when
    the file has no soprano/alto/tenor/bass parts."""
    from music21 import corpus

    score = corpus.parse(path)
    named = {}
    for part in score.parts:
        name = (part.partName or "").strip().lower()
        if name in PARTS and name not in named:
            named[name] = part
    if len(named) < 4:
        if len(score.parts) != 4:
            return None
        named = dict(zip(PARTS, score.parts))
    notes = []
    for name, part in named.items():
        for n in part.stripTies().flatten().notes:
            onset = float(n.offset)
            offset = onset + float(n.quarterLength)
            if offset <= onset:
                continue
            for p in n.pitches:
                notes.append((onset, offset, PARTS[name], int(p.midi)))
    return notes or None


def to_events(notes, rng: random.Random, transpose: int, tempo: float):
    """Notochord events (inst, pitch, dt seconds, vel) for one rendering of a chorale."""
    order = {inst: k for k, inst in enumerate(PARTS.values())}
    level = rng.uniform(55, 100)
    points = []
    for onset, offset, inst, pitch in notes:
        p = pitch + transpose
        if not 0 <= p < 128:
            continue
        vel = min(127.0, max(1.0, level + rng.gauss(0, 6)))
        points.append((onset, 1, order[inst], inst, p, vel))
        points.append((offset, 0, order[inst], inst, p, 0.0))
    points.sort(key=lambda e: (e[0], e[1], e[2]))  # offs first, then top voice down
    seconds = 60.0 / tempo
    events, last = [START], 0.0
    for t, _, _, inst, p, vel in points:
        events.append((inst, p, (t - last) * seconds, vel))
        last = t
    return events


def window(events, length: int, rng: random.Random):
    """A random stretch of `length` events (padded with the last event, end marked)."""
    n = len(events)
    start = rng.randrange(max(1, n - length + 1))
    chunk = events[start:start + length]
    ends = [0] * len(chunk)
    if start + len(chunk) == n:
        ends[-1] = 1
    while len(chunk) < length:
        chunk.append(chunk[-1])
        ends.append(1)
    return chunk, ends


def batch(pieces, size: int, length: int, rng: random.Random):
    rows, end_rows = [], []
    for _ in range(size):
        notes = pieces[rng.randrange(len(pieces))]
        events = to_events(notes, rng, rng.randrange(-6, 6), rng.uniform(60, 120))
        chunk, ends = window(events, length, rng)
        rows.append(chunk)
        end_rows.append(ends)
    cols = list(zip(*[list(zip(*r)) for r in rows]))
    return (torch.tensor(cols[0]), torch.tensor(cols[1]),
            torch.tensor(cols[2], dtype=torch.float32), torch.tensor(cols[3],
                                                                     dtype=torch.float32),
            torch.tensor(end_rows))


def loss_of(result: dict) -> tuple[torch.Tensor, dict]:
    parts = {k.replace("_log_probs", ""): -v.mean() for k, v in result.items()}
    return sum(parts.values()), {k: float(v.detach()) for k, v in parts.items()}


def validate(model, pieces, seed: int, batches: int, size: int, length: int) -> dict:
    """Mean losses over fixed batches (same windows, masks and transpositions every time)."""
    rng = random.Random(seed)
    generator_state = torch.get_rng_state()
    torch.manual_seed(seed)
    model.eval()
    totals: dict = {}
    with torch.no_grad():
        for _ in range(batches):
            _, parts = loss_of(model(*batch(pieces, size, length, rng)))
            for k, v in parts.items():
                totals[k] = totals.get(k, 0.0) + v / batches
    model.train()
    torch.set_rng_state(generator_state)
    totals["total"] = sum(totals.values())
    return totals


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=40.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "notochord-hoot.ckpt")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--length", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--pieces", type=int, default=0, help="use only this many (0: all)")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    from music21 import corpus

    t0 = time.monotonic()
    paths = sorted(str(p) for p in corpus.getComposer("bach"))
    if args.pieces:
        paths = paths[:args.pieces]
    pieces = [n for n in map(chorale_notes, paths) if n]
    random.Random(args.seed).shuffle(pieces)
    n_valid = max(2, len(pieces) // 20)
    valid, train = pieces[:n_valid], pieces[n_valid:]
    print(f"{len(pieces)} chorales ({len(train)} train, {len(valid)} valid) "
          f"read in {time.monotonic() - t0:.0f} s", flush=True)

    model = Notochord(**MODEL)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), args.lr, weight_decay=0.01)
    budget = args.minutes * 60
    start = time.monotonic()
    rng = random.Random(args.seed + 1)
    best, best_state, step, every = math.inf, None, 0, 200
    history = []

    def check() -> None:
        nonlocal best, best_state
        v = validate(model, valid, args.seed + 2, 8, args.batch, args.length)
        history.append((step, v["total"]))
        mark = ""
        if v["total"] < best:
            best, best_state = v["total"], {k: t.clone() for k, t in
                                            model.state_dict().items()}
            mark = " *"
        print(f"step {step} {time.monotonic() - start:.0f}s valid "
              + " ".join(f"{k} {x:.3f}" for k, x in v.items()) + mark, flush=True)

    while time.monotonic() - start < budget:
        lr = args.lr * min(1.0, (step + 1) / 200) * (
            0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, (time.monotonic() - start)
                                                           / budget))))
        for g in opt.param_groups:
            g["lr"] = lr
        loss, parts = loss_of(model(*batch(train, args.batch, args.length, rng)))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step} {time.monotonic() - start:.0f}s train {float(loss.detach()):.3f} "
                  + " ".join(f"{k} {x:.3f}" for k, x in parts.items()), flush=True)
        if step % every == 0:
            check()
    check()

    model.load_state_dict(best_state)
    model.eval()
    meta = {
        "player_inst": PLAYER,
        "voice_insts": VOICES,
        "parts": dict(PARTS),
        "corpus": f"music21 Bach chorales ({len(train)} train, {len(valid)} valid), "
                  "transposed -6..+5, 60-120 qpm",
        "valid_loss": round(best, 4),
        "steps": step,
        "minutes": args.minutes,
        "seed": args.seed,
        "script": "models/train_notochord.py",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_trainer_checkpoint(
        model, args.out, step=(step * args.batch * args.length, step, 0),
        kw_extra={"experiment": "notochord-hoot", "model_dir": args.out.parent,
                  "batch_size": args.batch, "batch_len": args.length, "lr": args.lr,
                  "seed": args.seed, "hoot": meta})
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB): best valid "
          f"{best:.3f} after {step} steps", flush=True)


if __name__ == "__main__":
    main()
