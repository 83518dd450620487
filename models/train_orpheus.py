"""Train hoot's small Orpheus-format model and write models/orpheus-hoot.pth (+ .json).

    python models/train_orpheus.py --minutes 45          # the shipped model
    python models/train_orpheus.py --minutes 1 --out /tmp/try.pth   # a smoke run

The model is Orpheus's architecture at a laptop's size: x-transformers' TransformerWrapper
(vocabulary 18,820: Orpheus's tokens exactly, so the same tokenizer, rules and decoder
serve both), dim 256, 4 layers, 4 heads of 64, rotary positions, tied input/output
embedding (the embedding is 4.8 M of its 8 M parameters; tying halves the file), 1,024
positions. It learns from models/orpheus_data.py's corpus: every batch is fresh renderings
(arrangement, key, tempo, patches drawn anew), so the 2,000-odd pieces do not wear out.

Training runs for --minutes of wall time on 2 torch threads (the machine is shared), under
bf16 autocast (this CPU has AVX-512 BF16: 2-3x the fp32 rate, measured here), AdamW, lr 2e-3
with 50 warm-up steps and a cosine decay to a tenth over the budget. Every few minutes it
writes `<out>.resume.pt` (weights, optimizer, step, minutes spent); run it again with the
same --out and it goes on from there, the minutes already spent counted. At the end it
measures the loss on the held-out pieces (5%, split by piece, fixed renderings), saves a
PLAIN state_dict of the AutoregressiveWrapper in fp16 (the loader casts) with a sidecar
JSON, and samples 6 bass continuations of a held-out groove to say how they came out.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hoot.generate.orpheus.tokens import DURVEL, PAD, VOCAB, decode, encode  # noqa: E402
from models import orpheus_data as data  # noqa: E402

CONFIG = dict(dim=256, depth=4, heads=4, max_seq_len=1024, tie_embedding=True)
BATCHES = ((4, 512), (4, 512), (4, 512), (2, 1024))
"""(windows, tokens per window) of successive steps, round and round: 2,048 tokens a step
(about 5 s on 2 shared cores), mostly half-length windows for more steps in the budget,
every fourth step full length so that all 1,024 positions are trained."""
LR = 2e-3
WARMUP = 50
HELD_OUT_WINDOWS = 48
SAVE_EVERY_S = float(os.environ.get("HOOT_SAVE_EVERY_S", 180))


def build():
    """The wrapper, exactly as contract D and the loader (model.build) construct it."""
    from x_transformers import AutoregressiveWrapper, Decoder, TransformerWrapper

    net = TransformerWrapper(
        num_tokens=VOCAB, max_seq_len=CONFIG["max_seq_len"], tie_embedding=CONFIG["tie_embedding"],
        attn_layers=Decoder(dim=CONFIG["dim"], depth=CONFIG["depth"], heads=CONFIG["heads"],
                            rotary_pos_emb=True, attn_flash=True),
    )
    return AutoregressiveWrapper(net, ignore_index=PAD, pad_value=PAD)


def batch(pieces: list[data.Piece], rng: random.Random, size: int,
          length: int = data.WINDOW) -> torch.Tensor:
    """`size` windows (at most `length` tokens) of fresh renderings, PAD to the longest."""
    rows = [data.window(data.rendering(data.pick(pieces, rng), rng), rng, length)
            for _ in range(size)]
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows], dtype=torch.long)


@torch.no_grad()
def held_out_loss(model, windows: list[torch.Tensor]) -> float:
    """Mean loss per token over the held-out windows (nats)."""
    model.eval()
    total, count = 0.0, 0
    for x in windows:
        n = int((x[:, 1:] != PAD).sum())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            total += float(model(x)) * n
        count += n
    model.train()
    return total / max(count, 1)


def key_share(prime_events, new_events) -> float:
    """The share of the new notes whose pitch class lies in the prime's key: the major
    scale (any of 12) that holds most of the prime's pitched notes."""
    major = (0, 2, 4, 5, 7, 9, 11)
    pcs = [e.pitch % 12 for e in prime_events if e.patch != 128]
    best = max(range(12), key=lambda t: sum((p - t) % 12 in major for p in pcs))
    scale = {(best + m) % 12 for m in major}
    if not new_events:
        return 0.0
    return sum(e.pitch % 12 in scale for e in new_events) / len(new_events)


@torch.no_grad()
def sample_bass(model, pieces: list[data.Piece], rng: random.Random, log) -> list[dict]:
    """6 bass continuations of a held-out groove: its drums+bass+chords (the first half)
    as the prime, then 150 tokens sampled (top-p 0.96) with every note outside the bass
    patches (32-39) masked, as a bass stem is asked for; for each, how many bass notes it
    wrote and their share in the prime's key."""
    from x_transformers.autoregressive_wrapper import top_p

    grooves = [p for p in pieces if p.kind == "hoot"] or pieces
    piece = rng.choice(grooves)
    tokens = encode(data.render(piece, ("drums", "bass", "chords"), rng, bpm=110.0,
                                repeats=2), sos=True)
    prime = tokens[: min(len(tokens) // 2, 600)]
    while prime and prime[-1] not in DURVEL:
        prime.pop()
    banned = torch.ones(VOCAB, dtype=torch.bool)
    banned[:256] = False
    banned[256 + 128 * 32: 256 + 128 * 40] = False
    banned[DURVEL.start:DURVEL.stop] = False

    def bass_only(logits: torch.Tensor, thres: float) -> torch.Tensor:
        return top_p(logits.masked_fill(banned.to(logits.device), float("-inf")), thres=thres)

    model.eval()
    out = model.generate(torch.tensor([prime] * 6), 150, temperature=1.0,
                         filter_logits_fn=bass_only, filter_kwargs={"thres": 0.96})
    model.train()
    prime_events = decode(prime)
    results = []
    for row in out.tolist():
        bass = [e for e in decode(row) if 32 <= e.patch <= 39]
        pitches = [e.pitch for e in bass]
        res = {"bass_notes": len(bass), "in_key": round(key_share(prime_events, bass), 2),
               "range": [min(pitches), max(pitches)] if pitches else [],
               "seconds": round((bass[-1].start_ms - bass[0].start_ms) / 1000, 1) if bass else 0}
        results.append(res)
        log(f"sample ({piece.source}): {res}")
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=45.0)
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "orpheus-hoot.pth")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    def log(text: str) -> None:
        print(text, flush=True)

    pieces = data.corpus_pieces(log=log)
    train, test = data.split(pieces)
    figs = data.figures(train)
    log(f"corpus: {json.dumps(figs)}; held out {len(test)} pieces")

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    model = build()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01, betas=(0.9, 0.98))
    params = sum(p.numel() for p in model.parameters())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    resume = args.out.with_suffix(".resume.pt")
    step, spent, tokens_seen, curve = 0, 0.0, 0, []
    if resume.exists():
        state = torch.load(resume, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, spent, tokens_seen, curve = (state["step"], state["minutes"] * 60,
                                           state["tokens"], state["curve"])
        rng.setstate(state["rng"])
        log(f"resumed at step {step}, {spent / 60:.1f} minutes spent")
    log(f"model: {params / 1e6:.2f} M parameters, {CONFIG}")

    held_rng = random.Random(1234)
    held = [batch(test, held_rng, 4) for _ in range(HELD_OUT_WINDOWS // 4)]
    budget = args.minutes * 60.0
    started = time.monotonic() - spent
    saved = time.monotonic()
    recent: list[float] = []
    model.train()
    while time.monotonic() - started < budget:
        frac = (time.monotonic() - started) / budget
        lr = LR * min(1.0, (step + 1) / WARMUP) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        x = batch(train, rng, *BATCHES[step % len(BATCHES)])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += int((x != PAD).sum())
        recent.append(loss.item())
        if step % 25 == 0:
            minutes = (time.monotonic() - started) / 60
            mean = sum(recent) / len(recent)
            recent = []
            curve.append([step, round(minutes, 2), round(mean, 4)])
            log(f"step {step}  {minutes:5.1f} min  loss {mean:.3f}  lr {lr:.2e}  "
                f"tokens {tokens_seen}")
        if time.monotonic() - saved > SAVE_EVERY_S:
            saved = time.monotonic()
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                        "minutes": (saved - started) / 60, "tokens": tokens_seen,
                        "curve": curve, "rng": rng.getstate()}, resume)
    minutes = (time.monotonic() - started) / 60
    train_loss = held_out_loss(model, [batch(train, random.Random(99), 4) for _ in range(12)])
    test_loss = held_out_loss(model, held)
    log(f"done: {step} steps, {minutes:.1f} min; "
        f"loss train {train_loss:.3f} held-out {test_loss:.3f}")
    samples = sample_bass(model, test, random.Random(7), log)

    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save(state, args.out)
    sidecar = dict(CONFIG, num_tokens=VOCAB, rotary_pos_emb=True, attn_flash=True,
                   dtype="float16", made_by="models/train_orpheus.py", params=params,
                   corpus=figs | {"held_out_pieces": len(test)},
                   steps=step, batches=BATCHES, window=data.WINDOW, tokens=tokens_seen,
                   train_loss=round(train_loss, 4), held_out_loss=round(test_loss, 4),
                   minutes=round(minutes, 1), torch=torch.__version__, seed=args.seed,
                   curve=curve[:: max(1, len(curve) // 40)], bass_samples=samples)
    args.out.with_suffix(".json").write_text(json.dumps(sidecar, indent=1) + "\n")
    log(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
