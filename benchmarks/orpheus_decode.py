"""Orpheus decoding cost per step: x-transformers' generate against hoot's own batched step.

    python benchmarks/orpheus_decode.py [--prime 200] [--steps 48] [--dim 256 --depth 4]

The target (issue 14): six 8-bar candidates, about 250-350 new tokens each, in at most 3 s
on a laptop CPU, so about 3 ms a step at batch 6 for the embedded model's size (dim 256,
depth 4, heads 4, tied embedding; random weights cost the same as trained ones). Rows:
x-transformers' `AutoregressiveWrapper.generate` (all 18,820 logits, top-p 0.96) with its
KV cache on and off, and hoot.generate.orpheus.decode.sample (logits over a bass role's
allowed rows only: 8 bass patches x 33 pitches + every TIME, DURVEL and EOS, 2,569 rows)
with the KV cache on (float32, and with bf16 matmuls), and off (the whole sequence
recomputed every step), at batch 1 and 6. Prefill is timed apart. Both run on one torch
thread by default (--threads sets x-transformers'): on a busy 2-core VM a second thread
waits on a busy core at every small op and made x-transformers' step 5-17x slower here.
Figures in ms/step and in units of the reference workload (benchmarks/reference.py) timed
in the same run, since these shared VMs differ ~3x.
"""

from __future__ import annotations

import argparse
import time

import torch
from reference import reference_seconds, repository_on_path

repository_on_path()
from x_transformers.autoregressive_wrapper import top_p  # noqa: E402

from hoot.generate.orpheus import decode, model  # noqa: E402

TARGET_MS = 3.0
BASS = [256 + 128 * patch + pitch for patch in range(32, 40) for pitch in range(28, 61)]


def primes(batch: int, length: int, seed: int = 0) -> list[list[int]]:
    """Grammatical primes: TIME, then NOTE DURVEL pairs, repeated."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(batch):
        p = [decode.SOS]
        while len(p) < length:
            p += [int(torch.randint(0, 40, (1,), generator=g)),
                  BASS[int(torch.randint(0, len(BASS), (1,), generator=g))],
                  16768 + int(torch.randint(0, 2048, (1,), generator=g))]
        out.append(p[:length])
    return out


def xt_ms(wrapper, batch: int, prime: int, steps: int, cache: bool) -> float:
    x = torch.tensor(primes(batch, prime))
    with torch.inference_mode():
        t0 = time.perf_counter()
        wrapper.generate(x, 1, filter_logits_fn=top_p, filter_kwargs={"thres": 0.96},
                         cache_kv=cache)
        t1 = time.perf_counter()
        wrapper.generate(x, steps + 1, filter_logits_fn=top_p, filter_kwargs={"thres": 0.96},
                         cache_kv=cache)
        t2 = time.perf_counter()
    return 1000 * ((t2 - t1) - (t1 - t0)) / steps


def ours_ms(wrapper, batch: int, prime: int, steps: int, matmul_dtype=None
            ) -> tuple[float, float]:
    """(prefill ms, ms/step) of decode.sample with the KV cache."""
    rules = decode.Rules(BASS, eos=False)
    p = primes(batch, prime)
    t0 = time.perf_counter()
    decode.sample(wrapper, p, rules, 1, seed=1, matmul_dtype=matmul_dtype)
    t1 = time.perf_counter()
    decode.sample(wrapper, p, rules, steps + 1, seed=1, matmul_dtype=matmul_dtype)
    t2 = time.perf_counter()
    return 1000 * (t1 - t0), 1000 * ((t2 - t1) - (t1 - t0)) / steps


def ours_nocache_ms(wrapper, batch: int, prime: int, steps: int) -> float:
    """The same forward with no cache: every step reruns the whole sequence."""
    batch_rules = decode._Batch(primes(batch, prime), decode.Rules(BASS, eos=False), steps,
                                torch.device("cpu"))
    seqs = primes(batch, prime)
    with torch.inference_mode():
        t0 = time.perf_counter()
        for _ in range(steps):
            dec = decode.KVDecoder(wrapper, batch, len(seqs[0]), batch_rules.rows)
            logits = dec.logits(dec.prefill(seqs))
            probs = decode.probabilities(logits, batch_rules.mask(batch_rules.states()), 1.0,
                                         0.96)
            chosen = batch_rules.tokens[decode._draw(probs, None)].tolist()
            for s, tok, track in zip(seqs, chosen, batch_rules.tracks, strict=True):
                s.append(tok)
                track.take(tok)
        return 1000 * (time.perf_counter() - t0) / steps


def whole_batch_s(wrapper, prime: int, new: int, matmul_dtype=None) -> float:
    """Seconds for what a performer waits on: six candidates of `new` tokens, prefill
    included (random weights never choose to end, so every candidate runs to `new`)."""
    t0 = time.perf_counter()
    decode.sample(wrapper, primes(6, prime), decode.Rules(BASS, eos=False), new, seed=2,
                  matmul_dtype=matmul_dtype)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prime", type=int, default=200)
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for x-transformers (hoot's sampler uses one)")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    wrapper = model.build(args.dim, args.depth, args.heads, max_seq_len=1024,
                          tie_embedding=True).eval()
    ref = reference_seconds() * 1000
    print(f"model dim {args.dim} depth {args.depth} heads {args.heads} (tied), prime "
          f"{args.prime}, {args.steps} steps, torch threads {torch.get_num_threads()}; "
          f"reference workload {ref:.3f} ms")
    print(f"{'path':<44} {'batch':>5} {'ms/step':>8} {'ref':>8}")
    for batch in (1, 6):
        rows = [
            ("x-transformers generate, KV cache", xt_ms(wrapper, batch, args.prime, args.steps,
                                                         True)),
            ("x-transformers generate, no cache", xt_ms(wrapper, batch, args.prime,
                                                         max(4, args.steps // 4), False)),
        ]
        prefill, step = ours_ms(wrapper, batch, args.prime, args.steps)
        rows.append(("hoot decode.sample, KV cache", step))
        rows.append(("hoot decode.sample, KV cache, bf16 matmul",
                     ours_ms(wrapper, batch, args.prime, args.steps, torch.bfloat16)[1]))
        rows.append(("hoot decode, no cache", ours_nocache_ms(wrapper, batch, args.prime,
                                                              max(4, args.steps // 4))))
        for name, ms in rows:
            print(f"{name:<44} {batch:>5} {ms:>8.2f} {ms / ref:>8.1f}")
        print(f"{'hoot prefill (whole prime, once)':<44} {batch:>5} {prefill:>8.1f} ms")
    for name, dtype in (("float32", None), ("bf16 matmul", torch.bfloat16)):
        seconds = whole_batch_s(wrapper, args.prime, 300, dtype)
        print(f"six candidates x 300 new tokens, {name}: {seconds:.2f} s (target 3 s)")
    print(f"target: {TARGET_MS} ms/step at batch 6 (six candidates x ~300 tokens in 3 s)")


if __name__ == "__main__":
    main()
