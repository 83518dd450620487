"""Train hoot's beat activation (models/beats-hoot.npz) on hoot's own seeded grooves.

    pip install -e '.[neural]'            # torch, for training only; the tracker runs numpy
    python models/train_beats.py [--minutes 25] [--seed 0] [--out models/beats-hoot.npz]

Data: the "train" split of benchmarks/beatset.py (396 clips of 30 s, 22 a category, two
categories of them machine-tight drum loops; its own seeds, tempi spread wider than the
styles' ranges, each clip's drum patterns varied and bars dropping hits or adding fills, kits
of many shapes, hoot's own drum renderer on a third of the numpy clips, and a random
speaker-and-microphone EQ, so the network cannot learn twelve patterns or one kit), and
the "tune" split (48 clips) to choose the best weights by; the "eval" split, on which
benchmarks/beats.py reports, is never read here. Features are hoot.beats.activation's, made
by the same code the live tracker runs. Targets: 1 on the frame LAG frames after each
reference beat, 0.5 on its neighbours (the beat's frame is uncertain by one); downbeats the
same, on their own output.

Model: torch.nn.GRU(108, HIDDEN, 2 layers) and a linear layer to two logits, trained with
binary cross-entropy on random 12 s crops (half of them from the clip's start, so locking
from silence is learned), Adam. The weights are saved as plain arrays (.npz, with a JSON
"meta" entry): hoot/beats/activation.py runs them in numpy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from hoot.beats.activation import Features  # noqa: E402

HIDDEN = 48
LAYERS = 2
LAG = 2  # frames after the beat that the network is asked to mark it
CROP = 1200  # frames a training sequence
BATCH = 16
DROPOUT = 0.2  # between the GRU layers, while training
NOISE = 0.1  # standard deviations of Gaussian noise on the (standardised) inputs, training
LEARNING_RATE = 2e-3  # falling along a cosine to a tenth of it by the deadline


def clip_arrays(clip) -> tuple[np.ndarray, np.ndarray]:
    """(features (frames, 108), targets (frames, 2)) of one beatset clip."""
    features = Features(clip.samplerate)
    mono = clip.audio.astype(np.float64).mean(axis=1)
    x = np.array([v for v, _ in features.feed(mono)], dtype=np.float32)
    y = np.zeros((len(x), 2), dtype=np.float32)
    for column, times in ((0, clip.beats), (1, clip.downbeats)):
        for t in times:
            f = int(np.floor(t * features.fps)) + LAG
            for d, v in ((-1, 0.5), (0, 1.0), (1, 0.5)):
                if 0 <= f + d < len(y):
                    y[f + d, column] = max(y[f + d, column], v)
    return x, y


def dataset(split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """A split's (features, targets), cached under ~/.cache/hoot/beat-features by a hash of
    the code that makes them (the set, its sounds, the features, LAG)."""
    import hashlib

    from beatset import clips

    code = [ROOT / "hoot/beats/activation.py", ROOT / "benchmarks/beatset.py",
            ROOT / "benchmarks/beatset_sound.py", Path(__file__)]  # fmt: skip
    key = hashlib.sha256(b"".join(p.read_bytes() for p in code)).hexdigest()[:16]
    cached = Path.home() / ".cache" / "hoot" / "beat-features" / f"{split}-{key}.npz"
    if cached.is_file():
        with np.load(cached, allow_pickle=False) as data:
            n = len(data.files) // 2
            return [(data[f"x{i}"], data[f"y{i}"]) for i in range(n)]
    made = clips(split)
    with ThreadPoolExecutor(max_workers=2) as pool:
        pairs = list(pool.map(clip_arrays, made))
    cached.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"{k}{i}": a for i, pair in enumerate(pairs) for k, a in zip("xy", pair, strict=True)}
    np.savez(cached.with_suffix(".part.npz"), **arrays)
    cached.with_suffix(".part.npz").replace(cached)
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=25.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "beats-hoot.npz")
    a = ap.parse_args()

    import torch

    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(a.seed)
    t0 = time.perf_counter()
    train, tune = dataset("train"), dataset("tune")
    print(f"features: {len(train)} train, {len(tune)} tune clips in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    every = np.concatenate([x for x, _ in train])
    mean, std = every.mean(axis=0), every.std(axis=0) + 1e-3

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = torch.nn.GRU(
                every.shape[1], HIDDEN, LAYERS, batch_first=True, dropout=DROPOUT
            )
            self.out = torch.nn.Linear(HIDDEN, 2)

        def forward(self, x):
            return self.out(self.gru(x)[0])

    model = Model()
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=1e-4)
    loss_of = torch.nn.BCEWithLogitsLoss()
    norm = (torch.tensor(mean), torch.tensor(std))

    def batch(pairs, starts):
        xs = [(x[s : s + CROP] - mean) / std for (x, _), s in zip(pairs, starts, strict=True)]
        ys = [y[s : s + CROP] for (_, y), s in zip(pairs, starts, strict=True)]
        return torch.tensor(np.stack(xs)), torch.tensor(np.stack(ys))

    def validate() -> float:
        model.eval()
        total, frames = 0.0, 0
        with torch.no_grad():
            for x, y in tune:
                out = model(((torch.tensor(x) - norm[0]) / norm[1])[None])[0]
                total += float(loss_of(out, torch.tensor(y))) * len(x)
                frames += len(x)
        model.train()
        return total / frames

    best, best_state, step = float("inf"), None, 0
    deadline = time.perf_counter() + a.minutes * 60
    while time.perf_counter() < deadline:
        pick = rng.integers(len(train), size=BATCH)
        pairs = [train[i] for i in pick]
        starts = [0 if rng.random() < 0.5 else int(rng.integers(len(x) - CROP)) for x, _ in pairs]
        x, y = batch(pairs, starts)
        x = x + NOISE * torch.randn_like(x)
        left = max(0.0, (deadline - time.perf_counter()) / (a.minutes * 60))
        for group in optimiser.param_groups:
            group["lr"] = LEARNING_RATE * (0.1 + 0.45 * (1 + np.cos(np.pi * (1 - left))))
        loss = loss_of(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        step += 1
        if step % 50 == 0:
            score = validate()
            mark = ""
            if score < best:
                best, mark = score, " *"
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                save(a.out, best_state, mean, std, {"steps": step, "tune_loss": round(best, 5),
                                                    "seed": a.seed})  # fmt: skip
            print(f"step {step:5d}  train {float(loss.detach()):.4f}  tune {score:.4f}{mark}",
                  flush=True)  # fmt: skip
    if best_state is None:
        raise SystemExit("trained too briefly to validate once: give it more --minutes")
    print(f"wrote {a.out} ({a.out.stat().st_size / 1024:.0f} KB), tune loss {best:.4f}")


def save(path: Path, state: dict, mean: np.ndarray, std: np.ndarray, about: dict) -> None:
    """The weights as plain float32 arrays and a JSON "meta" entry (written whole, then
    moved into place, so a reader never sees half a file)."""
    arrays = {k: v.numpy().astype(np.float32) for k, v in state.items()}
    arrays["input_mean"] = mean.astype(np.float32)
    arrays["input_std"] = std.astype(np.float32)
    meta = {"lag_frames": LAG, "hidden": HIDDEN, "layers": LAYERS, "fps": 100, **about,
            "made_by": "models/train_beats.py"}  # fmt: skip
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    partial = path.with_name(path.name + ".part.npz")
    np.savez_compressed(partial, **arrays)
    partial.replace(path)


if __name__ == "__main__":
    main()
