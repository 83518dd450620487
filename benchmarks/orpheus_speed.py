"""Orpheus decoding speed in tokens per second, per device: the figures of issue 14 §4.

    python benchmarks/orpheus_speed.py                       # CPU (and any GPU), small model
    python benchmarks/orpheus_speed.py --device cuda --shape medium --batch 6 \\
        --prime 512 --new 1024                               # the GPU target's workload
    python benchmarks/orpheus_speed.py --checkpoint models/orpheus-hoot.pth
    python benchmarks/orpheus_speed.py --draft small --target models/Orpheus_medium.pth

Rows, each at every --batch (1 and 6: batching), every candidate running to --new tokens
(random weights never choose to end; the rules are a bass role's, eos off), prefill included:
x-transformers' own `generate` with its KV cache (the reference path: all 18,820 logits,
top-p 0.96); hoot's `decode.sample` eager with the static KV cache; hoot's forward without
a cache (the whole sequence recomputed every step, timed over --recompute-steps steps and
given per token); on cuda the `fast` path (bf16, static cache, the step compiled with
torch.compile(mode="reduce-overhead"), i.e. CUDA graphs), its first call (compile and
capture) timed apart from the steady calls; and speculative decoding (a draft model
proposes --k tokens, the target checks them in one call) against plain sampling of the
target in the same run, with its drafted/accepted/target-call counts.

The issue's GPU target: six candidates x 1,024 new tokens after a 512-token prime in at
most 1.5 s on an H100/H200-class GPU for the Orpheus-medium shape (dim 2048, depth 8,
heads 32); the research measured 9.9 s with x-transformers' eager generate on an H200
(9.7 ms a step, launch-bound: a memory-bound step would take about 0.25 ms). On cuda the
whole-batch seconds are printed against it. Random weights cost what trained ones do, so
speed figures hold; speculative acceptance does not (see the printed note).

Weights: bf16 on cuda, float32 elsewhere (what model.load picks). CPU defaults are small
and short (prime 200, 300 new); cuda/mps default to the target's 512 and 1,024. Figures
are also given in units of the reference workload (benchmarks/reference.py) timed in the
same run, since these shared VMs differ ~3x. Memory: the model's weight bytes, and on cuda
torch.cuda.max_memory_allocated for each row (hoot's decoder holds its own transposed copy
of the weights beside the model's, and its cache).
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from pathlib import Path

import torch
from orpheus_decode import BASS, primes
from reference import reference_seconds, repository_on_path

repository_on_path()
from x_transformers.autoregressive_wrapper import top_p  # noqa: E402

from hoot.generate.orpheus import decode, model  # noqa: E402

GPU_TARGET_S = 1.5
GPU_RESEARCH_S = 9.9
TARGET_WORK = dict(batch=6, prime=512, new=1024)
SHAPES = {
    "small": dict(dim=256, depth=4, heads=4, tie_embedding=True, max_seq_len=1024),
    "medium": dict(model.SIZES["medium"], tie_embedding=False, max_seq_len=model.MAX_SEQ_LEN),
    "large": dict(model.SIZES["large"], tie_embedding=False, max_seq_len=model.MAX_SEQ_LEN),
}
CPU_TARGET = "512x8x8"  # a target 4x wider and 2x deeper than the small draft
ROWS = ("xt", "eager", "recompute", "fast", "spec")
RANDOM_NOTE = ("note: these weights are random, so the draft and target agree by accident "
               "and the acceptance rate (and with it the speed-up) means nothing for trained "
               "models; give --draft and --target checkpoints for figures that do")


def devices(wanted: str) -> list[str]:
    """The devices to measure: "all" is the cpu and whichever of cuda and mps are here."""
    here = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    mps = getattr(torch.backends, "mps", None)
    here += ["mps"] if mps is not None and mps.is_available() else []
    if wanted == "all":
        return here
    chosen = [d.strip() for d in wanted.split(",") if d.strip()]
    for d in chosen:
        if d not in here:
            raise SystemExit(f"no {d} device here (this machine has {', '.join(here)})")
    return chosen


def dtype_of(device: str) -> torch.dtype:
    return torch.bfloat16 if device == "cuda" else torch.float32


def make(spec: str, device: str, seed: int = 0):
    """A model from a shape name ("small", "medium", "large"), "DIMxDEPTHxHEADS" (random
    weights, untied) or a checkpoint path; (the AutoregressiveWrapper, a label, weight
    bytes, whether the weights are random)."""
    dtype = dtype_of(device)
    if spec in SHAPES or re.fullmatch(r"\d+x\d+x\d+", spec):
        if spec in SHAPES:
            shape = SHAPES[spec]
        else:
            dim, depth, heads = (int(v) for v in spec.split("x"))
            shape = dict(dim=dim, depth=depth, heads=heads, tie_embedding=False,
                         max_seq_len=model.MAX_SEQ_LEN)
        torch.manual_seed(seed)
        with torch.device(device):  # initialised where it runs: 480 M parameters on a GPU
            wrapper = model.build(**shape).eval().to(dtype=dtype)
        tied = " tied" if shape["tie_embedding"] else ""
        label = (f"{spec + ' ' if spec in SHAPES else ''}dim {shape['dim']} depth "
                 f"{shape['depth']} heads {shape['heads']}{tied}, random weights")
        random = True
    elif Path(spec).is_file():
        loaded = model.load(spec, device=device, dtype=dtype)
        wrapper, random = loaded.wrapper, False
        c = loaded.config
        label = f"{Path(spec).name} (dim {c['dim']} depth {c['depth']} heads {c['heads']})"
    else:
        raise SystemExit(f"{spec} is neither a shape (small, medium, large, DIMxDEPTHxHEADS) "
                         f"nor a checkpoint file")
    weights = sum(t.numel() * t.element_size() for t in wrapper.state_dict().values())
    return wrapper, f"{label}, {str(dtype).removeprefix('torch.')}", weights, random


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


class Clock:
    """Seconds of one call on `device` and (on cuda) its peak memory."""

    def __init__(self, device: str):
        self.device = device
        self.peak = None

    def __call__(self, work: Callable[[], object]) -> float:
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        sync(self.device)
        t0 = time.perf_counter()
        work()
        sync(self.device)
        seconds = time.perf_counter() - t0
        if self.device == "cuda":
            self.peak = torch.cuda.max_memory_allocated()
        return seconds


def xt_generate(wrapper, device: str, batch: int, prime: int, new: int) -> Callable[[], object]:
    x = torch.tensor(primes(batch, prime), device=device)

    def run():
        with torch.inference_mode():
            return wrapper.generate(x, new, filter_logits_fn=top_p,
                                    filter_kwargs={"thres": 0.96}, cache_kv=True).tolist()
    return run


def hoot_sample(wrapper, batch: int, prime: int, new: int, fast: bool) -> Callable[[], object]:
    p, rules = primes(batch, prime), decode.Rules(BASS, eos=False)
    return lambda: decode.sample(wrapper, p, rules, new, seed=1, fast=fast)


def recompute(wrapper, device: str, batch: int, prime: int, steps: int) -> Callable[[], object]:
    """hoot's forward with no cache: every step runs the whole sequence again."""
    def run():
        seqs = primes(batch, prime)
        dev = torch.device(device)
        grammar = decode._Batch(seqs, decode.Rules(BASS, eos=False), steps, dev)
        with torch.inference_mode():
            for _ in range(steps):
                dec = decode.KVDecoder(wrapper, batch, len(seqs[0]), grammar.rows)
                logits = dec.logits(dec.prefill(seqs))
                probs = decode.probabilities(logits, grammar.mask(grammar.states()), 1.0, 0.96)
                chosen = grammar.tokens[decode._draw(probs, None)].tolist()
                for s, tok, track in zip(seqs, chosen, grammar.tracks, strict=True):
                    s.append(tok)
                    track.take(tok)
    return run


def warm(device: str, wrapper) -> None:
    """One tiny run of each path first (cuBLAS handles, allocator, lazy imports)."""
    xt_generate(wrapper, device, 1, 8, 2)()
    hoot_sample(wrapper, 1, 8, 2, False)()
    sync(device)


class Table:
    def __init__(self, ref_ms: float):
        self.ref_ms = ref_ms
        print(f"{'device':<6} {'path':<50} {'batch':>5} {'tokens':>6} {'seconds':>8} "
              f"{'tok/s':>8} {'ms/step':>8} {'ref':>7} {'peak MiB':>9}")

    def row(self, device: str, path: str, batch: int, steps: int, seconds: float,
            peak: int | None) -> None:
        ms = 1000 * seconds / steps
        mib = f"{peak / 2**20:>9.0f}" if peak is not None else f"{'-':>9}"
        print(f"{device:<6} {path:<50} {batch:>5} {batch * steps:>6} {seconds:>8.3f} "
              f"{batch * steps / seconds:>8.0f} {ms:>8.2f} {ms / self.ref_ms:>7.1f} {mib}")


def measure(device: str, args, table: Table) -> None:
    prime = args.prime or (200 if device == "cpu" else TARGET_WORK["prime"])
    new = args.new or (300 if device == "cpu" else TARGET_WORK["new"])
    wrapper, label, weights, _ = make(args.checkpoint or args.shape, device)
    print(f"-- {device}: {label}; weights {weights / 2**20:.1f} MiB; prime {prime}, "
          f"{new} new tokens a candidate")
    warm(device, wrapper)
    clock = Clock(device)
    for batch in args.batch:
        if "xt" in args.rows:
            seconds = clock(xt_generate(wrapper, device, batch, prime, new))
            table.row(device, "x-transformers generate, KV cache", batch, new, seconds,
                      clock.peak)
        if "eager" in args.rows:
            seconds = clock(hoot_sample(wrapper, batch, prime, new, False))
            table.row(device, "hoot sample, eager, KV cache", batch, new, seconds, clock.peak)
            gpu_target(device, "eager", batch, prime, new, seconds)
        if "recompute" in args.rows:
            steps = min(new, args.recompute_steps)
            seconds = clock(recompute(wrapper, device, batch, prime, steps))
            table.row(device, f"hoot forward, no cache ({steps} steps)", batch, steps, seconds,
                      clock.peak)
        if "fast" in args.rows and (device == "cuda" or args.fast_cpu):
            run = hoot_sample(wrapper, batch, prime, new, True)
            try:
                first = clock(run)
            except Exception as error:  # noqa: BLE001 -- any compiler failure: say it, go on
                reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
                print(f"{device:<6} torch.compile failed here ({type(error).__name__}: {reason}),"
                      f" so the fast path falls back to eager: see the eager row")
                args.rows = [r for r in args.rows if r != "fast"]
                continue
            seconds = min(clock(run) for _ in range(2))
            name = "hoot sample, fast (compiled" + (", CUDA graphs)" if device == "cuda"
                                                   else ", no CUDA graphs on cpu)")
            table.row(device, name, batch, new, seconds, clock.peak)
            print(f"{device:<6} {'  first call (compile; on cuda, capture)':<50} {batch:>5} "
                  f"{batch * new:>6} {first:>8.3f} s, {first - seconds:.1f} s more than a "
                  f"steady call")
            if device == "cuda":
                print(f"{device:<6}   {graphs_used()}")
            gpu_target(device, "fast", batch, prime, new, seconds)
    if "spec" in args.rows:
        speculative(device, args, table, prime, new)


def graphs_used() -> str:
    """Whether inductor replayed the step as CUDA graphs: it counts each time it skips them
    (an input written in place without a static address, a cpu op in the graph...)."""
    from torch._dynamo.utils import counters

    skips = counters["inductor"]["cudagraph_skips"]
    if not skips:
        return "CUDA graphs: used (inductor skipped none)"
    return (f"CUDA graphs: SKIPPED {skips} time(s), so this row ran compiled kernels without "
            f"graphs; TORCH_LOGS=cudagraphs says why")


def gpu_target(device: str, path: str, batch: int, prime: int, new: int,
               seconds: float) -> None:
    if device != "cuda":
        return
    work = dict(batch=batch, prime=prime, new=new)
    same = "" if work == TARGET_WORK else (
        f" (this run: n={batch} x {new} after {prime}; the target's workload is n=6 x 1024 "
        f"after 512)")
    verdict = "meets" if seconds <= GPU_TARGET_S and work == TARGET_WORK else "vs"
    print(f"{device:<6}   {path}: n={batch} x {new} tokens in {seconds:.2f} s {verdict} the "
          f"target {GPU_TARGET_S} s (research: {GPU_RESEARCH_S} s eager x-transformers, "
          f"H200){same}; device {torch.cuda.get_device_name()}")


def speculative(device: str, args, table: Table, prime: int, new: int) -> None:
    """Plain sampling of the target, then speculative decoding with the draft, same run."""
    target_spec = args.target or (args.checkpoint or (
        CPU_TARGET if device == "cpu" else "medium"))
    draft, draft_label, _, draft_random = make(args.draft, device, seed=1)
    target, target_label, target_bytes, target_random = make(target_spec, device, seed=2)
    batch = max(args.batch)
    print(f"-- {device}: speculative decoding, batch {batch}, k={args.k}: draft {draft_label}; "
          f"target {target_label} ({target_bytes / 2**20:.0f} MiB)")
    p, rules = primes(batch, prime), decode.Rules(BASS, eos=False)
    warm(device, target)
    clock = Clock(device)
    plain = clock(lambda: decode.sample(target, p, rules, new, seed=3, fast=False))
    table.row(device, "target alone, hoot sample eager", batch, new, plain, clock.peak)
    out: dict = {}

    def run():
        out["tokens"], out["stats"] = decode.sample_speculative(
            draft, target, p, rules, new, k=args.k, seed=3)
    seconds = clock(run)
    table.row(device, f"speculative, draft + target, k={args.k}", batch, new, seconds,
              clock.peak)
    stats = out["stats"]
    rate = stats["accepted"] / stats["drafted"] if stats["drafted"] else 0.0
    print(f"{device:<6}   drafted {stats['drafted']}, accepted {stats['accepted']}, target calls "
          f"{stats['target_calls']} (plain sampling: {new}); acceptance {100 * rate:.1f}%; "
          f"speed-up {plain / seconds:.2f}x against plain sampling of the target")
    if draft_random or target_random:
        print(f"{device:<6}   {RANDOM_NOTE}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="small",
                        help="small, medium, large or DIMxDEPTHxHEADS (random weights)")
    parser.add_argument("--checkpoint", help="a .pth checkpoint instead of --shape")
    parser.add_argument("--device", default="all", help="all, or a list: cpu,cuda,mps")
    parser.add_argument("--batch", default="1,6",
                        type=lambda s: [int(b) for b in s.split(",")])
    parser.add_argument("--prime", type=int, help="prime tokens (cpu 200, else 512)")
    parser.add_argument("--new", type=int, help="new tokens a candidate (cpu 300, else 1024)")
    parser.add_argument("--recompute-steps", type=int, default=16,
                        help="steps the no-cache row is timed over (each reruns the sequence)")
    parser.add_argument("--rows", default=",".join(ROWS),
                        type=lambda s: [r.strip() for r in s.split(",")],
                        help=f"which rows: {','.join(ROWS)}")
    parser.add_argument("--draft", default="small", help="speculative draft: shape or .pth")
    parser.add_argument("--target",
                        help=f"speculative target: shape or .pth (default: --checkpoint, else "
                             f"{CPU_TARGET} on cpu, medium on a GPU)")
    parser.add_argument("--k", type=int, default=4, help="tokens drafted a round")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch cpu threads for the other rows (a second thread waits on a "
                             "busy core at every small op on a shared 2-core VM)")
    parser.add_argument("--fast-cpu", action="store_true",
                        help="also compile the step on the cpu (inductor's C++, no CUDA graphs)")
    args = parser.parse_args()
    unknown = [r for r in args.rows if r not in ROWS]
    if unknown:
        raise SystemExit(f"unknown rows {', '.join(unknown)}: pick from {', '.join(ROWS)}")
    chosen = devices(args.device)
    torch.set_num_threads(args.threads)
    ref = reference_seconds() * 1000
    print(f"torch {torch.__version__}, {torch.get_num_threads()} cpu threads (hoot's sampler "
          f"uses one on the cpu); reference workload {ref:.3f} ms; ref = ms/step in those units")
    table = Table(ref)
    for device in chosen:
        measure(device, args, table)


if __name__ == "__main__":
    main()
