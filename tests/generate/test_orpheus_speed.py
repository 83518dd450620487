"""The speed benchmark (benchmarks/orpheus_speed.py) runs on the CPU and prints every row
with numbers, as CI runs it; speculative decoding with a small draft and a larger target
gives grammatical streams and counts that add up; the GPU step marks what CUDA graphs need.
No timing is asserted here: the benchmark prints figures, tests check behaviour."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hoot.generate.orpheus import decode as d
from hoot.generate.orpheus import model as om

ROOT = Path(__file__).resolve().parents[2]
BASS = [256 + 128 * patch + pitch for patch in range(32, 40) for pitch in range(28, 61)]
NUMBER = r"[\d.]+"


def _model(dim, depth, heads, seed):
    torch.manual_seed(seed)
    wrapper = om.build(dim, depth, heads, max_seq_len=1024).eval()
    with torch.no_grad():  # the gammas start at 0 (offsets from 1): make every weight count
        for p in wrapper.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return wrapper


def test_the_benchmark_prints_every_row_with_numbers():
    run = subprocess.run(
        [
            sys.executable,
            "benchmarks/orpheus_speed.py",
            "--device",
            "cpu",
            "--shape",
            "64x1x1",
            "--draft",
            "64x1x1",
            "--target",
            "128x2x2",
            "--prime",
            "16",
            "--new",
            "10",
            "--batch",
            "1,2",
            "--recompute-steps",
            "3",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert re.search(rf"reference workload {NUMBER} ms", out)
    assert re.search(rf"weights {NUMBER} MiB", out)
    rows = [
        "x-transformers generate, KV cache",
        "hoot sample, eager, KV cache",
        r"hoot forward, no cache \(3 steps\)",
    ]
    for row in rows:
        for batch in (1, 2):
            line = rf"^cpu\s+{row}\s+{batch}\s+\d+\s+{NUMBER}\s+\d+\s+{NUMBER}\s+{NUMBER}\s+-$"
            assert re.search(line, out, re.M), (row, batch, out)
    for row in ("target alone, hoot sample eager", r"speculative, draft \+ target, k=4"):
        assert re.search(rf"^cpu\s+{row}\s+2\s+20\s+{NUMBER}\s+\d+\s+{NUMBER}", out, re.M), out
    stats = re.search(
        r"drafted (\d+), accepted (\d+), target calls (\d+) .*acceptance "
        rf"({NUMBER})%; speed-up ({NUMBER})x",
        out,
    )
    assert stats, out
    drafted, accepted, calls = (int(stats.group(i)) for i in (1, 2, 3))
    assert 0 <= accepted <= drafted and drafted % 4 == 0 and calls >= 2
    assert abs(float(stats.group(4)) - 100 * accepted / drafted) < 0.1
    assert "random, so the draft and target agree by accident" in out
    assert "hoot sample, fast" not in out  # no cuda here, and --fast-cpu was not asked


def test_the_benchmark_names_a_device_that_is_not_here():
    run = subprocess.run(
        [sys.executable, "benchmarks/orpheus_speed.py", "--device", "tpu"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "no tpu device here" in run.stderr


def _follows(rules, prime, tokens) -> bool:
    track = d._Track(rules, prime)
    for tok in tokens:
        if track.done or tok not in rules.allowed(track.state):
            return False
        track.take(tok)
    return True


@pytest.mark.parametrize("k", [2, 4])
def test_speculative_with_a_small_draft_and_a_larger_target_counts_add_up(k):
    draft = _model(64, 1, 1, seed=1)
    target = _model(128, 2, 2, seed=2)
    rules = d.Rules(BASS, times=range(0, 30), max_chord=3, eos=False)
    primes = [[d.SOS], [d.SOS, 3, BASS[1], 16800], [d.SOS, 7, BASS[5], 17000, BASS[9]]]
    rounds = []
    tokens, stats = d.sample_speculative(
        draft, target, primes, rules, 30, k=k, seed=4, on_step=rounds.append
    )
    assert [len(t) for t in tokens] == [30, 30, 30]
    assert all(_follows(rules, p, t) for p, t in zip(primes, tokens, strict=True))
    # One target call for the prefill (one token each), one a round after it.
    assert stats["target_calls"] == len(rounds)
    assert stats["drafted"] % k == 0
    pairs = stats["drafted"] // k  # (round, live candidate) pairs
    verify_rounds = stats["target_calls"] - 1
    assert verify_rounds <= pairs <= len(primes) * verify_rounds
    assert 0 <= stats["accepted"] <= stats["drafted"]
    # Each pair keeps its accepted drafts plus one token (a fix or the bonus), except
    # what the last round of a candidate cuts at max_new (at most k each).
    most = len(primes) + stats["accepted"] + pairs
    assert most - len(primes) * k <= sum(len(t) for t in tokens) <= most


def test_the_compiled_step_marks_its_cache_and_weights_static(monkeypatch):
    """CUDA graph trees replay a step only when every input it writes (the KV cache) has
    a static address, and copy every other input in before each replay: so the fast path
    marks all the decoder's tensors, and tells the graphs where each step begins."""
    monkeypatch.setattr(torch, "compile", lambda f, **kw: f)
    begins = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: begins.append(1))
    wrapper = _model(64, 2, 2, seed=3)
    decoder = d.KVDecoder(wrapper, 2, 12, BASS, static=True)
    d._Stepper(decoder, fast=True)
    assert all(
        getattr(t, "_dynamo_static_input_type", None) == "unguarded" for t in decoder.tensors()
    )
    held = {id(t) for t in decoder.tensors()}
    assert id(decoder.k) in held and id(decoder.v) in held and id(decoder.out) in held
    assert len(held) == 8 + 8 * 2  # emb, out, final, rotary, k, v, masks; 8 a layer
    d.sample(wrapper, [[d.SOS], [d.SOS, 3]], d.Rules(BASS, eos=False), 6, seed=1, fast=True)
    assert len(begins) == 5  # the prefill gives the first token; five steps give the rest
