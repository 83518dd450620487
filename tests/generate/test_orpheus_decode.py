"""Batched Orpheus decoding: our cached forward pass gives x-transformers' logits; sampling
follows the grammar, stops, reports and cancels per candidate; speculative decoding draws
from exactly the target's distribution."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from scipy.stats import chi2

from hoot.errors import HootError
from hoot.generate.orpheus import decode as d
from hoot.generate.orpheus import model as om

TOL = 2e-5


def _model(seed=0, dim=64, depth=2, heads=4, tie=False, max_seq_len=8192, spread=0.02):
    torch.manual_seed(seed)
    wrapper = om.build(dim, depth, heads, max_seq_len=max_seq_len, tie_embedding=tie).eval()
    with torch.no_grad():  # the gammas start at 0 (offsets from 1): make every weight count
        for p in wrapper.parameters():
            p.add_(torch.randn_like(p) * spread)
    return wrapper


def _reference(wrapper, tokens) -> torch.Tensor:
    with torch.inference_mode():
        return wrapper.net(torch.tensor([tokens]))[0, -1]


def _primes(lengths, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [[d.SOS] + torch.randint(0, 18816, (n - 1,), generator=g).tolist() for n in lengths]


@pytest.mark.parametrize("tie", [False, True])
@pytest.mark.parametrize("static", [False, True])
def test_prefill_and_each_step_give_x_transformers_logits(tie, static):
    wrapper = _model(tie=tie)
    primes = _primes([9, 5, 12])  # left-padded to 12: rotary sees only distances
    decoder = d.KVDecoder(wrapper, 3, 20, static=static)
    seqs = [list(p) for p in primes]
    g = torch.Generator().manual_seed(2)
    with torch.inference_mode():
        got = decoder.logits(decoder.prefill(primes))
        for at in range(12, 18):
            for b, seq in enumerate(seqs):
                assert torch.allclose(got[b], _reference(wrapper, seq), atol=TOL), (at, b)
            tokens = torch.randint(0, 18816, (3,), generator=g)
            for seq, tok in zip(seqs, tokens.tolist(), strict=True):
                seq.append(tok)
            pos = torch.full((3,), at)
            got = decoder.logits(decoder.feed(tokens[:, None], pos, uniform=at)[:, -1])


def test_logits_over_chosen_rows_are_those_rows():
    wrapper = _model(tie=True)
    rows = [0, 17, 300, 16800, d.EOS]
    decoder = d.KVDecoder(wrapper, 1, 8, rows=rows)
    with torch.inference_mode():
        got = decoder.logits(decoder.prefill([[d.SOS, 5, 300]]))[0]
    assert torch.allclose(got, _reference(wrapper, [d.SOS, 5, 300])[rows], atol=TOL)


def test_several_tokens_at_different_positions_per_candidate():
    """A speculative round: candidates sit at different cache lengths and feed k+1 tokens;
    what lies past a candidate's length is stale and is written over (the rollback)."""
    wrapper = _model(depth=1)
    primes = _primes([6, 6])
    decoder = d.KVDecoder(wrapper, 2, 20)
    with torch.inference_mode():
        decoder.prefill(primes)
        junk = torch.randint(0, 18816, (2, 3))
        decoder.feed(junk, torch.tensor([6, 6]))  # stale entries at slots 6-8
        more = [[11, 400, 17000], [12, 401, 17001]]
        # candidate 0 kept one of the junk tokens, candidate 1 none
        seqs = [primes[0] + [int(junk[0, 0])] + more[0], primes[1] + more[1]]
        hidden = decoder.feed(torch.tensor(more), torch.tensor([7, 6]))
        logits = decoder.logits(hidden)
    for b, seq in enumerate(seqs):
        for j in range(3):
            want = _reference(wrapper, seq[: len(seq) - 2 + j])
            assert torch.allclose(logits[b, j], want, atol=TOL), (b, j)


BASS = [256 + 128 * 33 + p for p in range(28, 52)]


def _check_grammar(prime, tokens, rules):
    track = d._Track(rules, prime)
    for tok in tokens:
        assert not track.done, "a token after the candidate ended"
        assert tok in rules.allowed(track.state), (tok, track.state)
        track.take(tok)
    return track


def test_sampling_follows_the_rules_and_stops_at_end_steps():
    wrapper = _model(depth=1)
    rules = d.Rules(BASS, times=range(0, 40), end_steps=200, max_chord=2, eos=False)
    primes = [[d.SOS], [d.SOS, 10, BASS[3], 16900], [d.SOS, 5, BASS[0]]]
    out = d.sample(wrapper, primes, rules, 400, seed=3)
    for prime, tokens in zip(primes, out, strict=True):
        track = _check_grammar(prime, tokens, rules)
        assert track.done and track.elapsed >= 200 and tokens[-1] in d.TIME
        assert track.elapsed - tokens[-1] < 200
        chord = 0
        for tok in tokens:
            chord = 0 if tok in d.TIME else chord + (tok in d.NOTE)
            assert chord <= 2
    assert out[2][0] in d.DURVEL  # the prime ended on a NOTE


def test_eos_ends_a_candidate_and_max_new_bounds_it():
    wrapper = _model(depth=1)
    ended = d.sample(
        wrapper, [[d.SOS]] * 4, d.Rules(BASS, times=[0], durvels=[16800]), 60, seed=4, temperature=0
    )
    cut = d.sample(wrapper, [[d.SOS]] * 2, d.Rules(BASS, eos=False), 7, seed=4)
    assert all(len(t) == 7 for t in cut)
    for tokens in ended:
        assert len(tokens) == 60 or tokens[-1] == d.EOS
        assert d.EOS not in tokens[:-1]


def test_the_same_seed_gives_the_same_candidates_and_each_rule_its_own():
    wrapper = _model(depth=1)
    rules = [
        d.Rules(BASS, eos=False),
        d.Rules([256 + 128 * 128 + 36, 256 + 128 * 128 + 38], eos=False),
    ]
    a = d.sample(wrapper, [[d.SOS]] * 2, rules, 30, seed=5)
    assert a == d.sample(wrapper, [[d.SOS]] * 2, rules, 30, seed=5)
    assert a != d.sample(wrapper, [[d.SOS]] * 2, rules, 30, seed=6)
    assert {t for t in a[0] if t in d.NOTE} <= set(BASS)
    assert {t for t in a[1] if t in d.NOTE} <= {256 + 128 * 128 + 36, 256 + 128 * 128 + 38}


def test_progress_per_candidate_and_cancel_per_candidate():
    wrapper = _model(depth=1)
    seen: list[list[float]] = []
    rules = d.Rules(BASS, times=range(1, 20), end_steps=150, eos=False)

    def cancelled():
        return {1} if len(seen) >= 5 else set()

    out = d.sample(
        wrapper, [[d.SOS]] * 3, rules, 300, seed=7, on_step=seen.append, cancelled=cancelled
    )
    assert all(len(f) == 3 for f in seen)
    for b in range(3):
        series = [f[b] for f in seen]
        assert series == sorted(series) and series[-1] == 1.0
    # asked after the 6th token (5 reports seen), candidate 1 stops there; the others go on
    assert len(out[1]) == 6 and len(out[0]) > 6 and len(out[2]) > 6
    assert _check_grammar([d.SOS], out[0], rules).elapsed >= 150


def test_a_prime_too_long_for_the_model_is_cut_from_the_left():
    wrapper = _model(depth=1, max_seq_len=32)
    out = d.sample(wrapper, _primes([60]), d.Rules(BASS, eos=False), 8, seed=1)
    assert len(out[0]) == 8
    with pytest.raises(HootError, match="do not fit"):
        d.sample(wrapper, [[d.SOS]], d.Rules(BASS), 40)


def test_bad_rules_are_one_sentence():
    with pytest.raises(HootError, match="no notes"):
        d.Rules([])
    with pytest.raises(HootError, match="must lie in 256-16767"):
        d.Rules([5])
    with pytest.raises(HootError, match="neither TIME nor EOS"):
        d.Rules(BASS, times=[], eos=False)
    with pytest.raises(HootError, match="3 rules for 2 primes"):
        d.sample(_model(depth=1), [[d.SOS]] * 2, [d.Rules(BASS)] * 3, 4)


# Speculative decoding: the output distribution is the target's.

TINY_RULES = d.Rules(
    [256 + 60, 256 + 64], durvels=[16768 + 80, 16768 + 161], times=[0, 12], eos=False
)
LENGTH = 4


def _exact(wrapper, temperature, top_p) -> dict[tuple[int, ...], float]:
    """Every grammatical 4-token continuation of [SOS] and its probability under the
    target's masked, tempered, nucleus distribution (x-transformers' own forward)."""
    rows = sorted(set(TINY_RULES.times + TINY_RULES.notes + TINY_RULES.durvels))
    out = {}

    def walk(prefix, track, prob):
        if len(prefix) == LENGTH:
            out[tuple(prefix)] = prob
            return
        logits = _reference(wrapper, [d.SOS] + prefix)[rows]
        allowed = torch.tensor([r in TINY_RULES.allowed(track.state) for r in rows])
        p = d.probabilities(logits[None], allowed[None], temperature, top_p)[0]
        for i, tok in enumerate(rows):
            if p[i] > 0:
                nxt = d._Track(TINY_RULES, [d.SOS])
                for t in prefix + [tok]:
                    nxt.take(t)
                walk(prefix + [tok], nxt, prob * float(p[i]))

    walk([], d._Track(TINY_RULES, [d.SOS]), 1.0)
    return out


def _p_value(samples, exact) -> float:
    counts = Counter(tuple(s) for s in samples)
    assert set(counts) <= set(exact)
    n = len(samples)
    common = {key: p for key, p in exact.items() if n * p >= 5}
    rare = 1 - sum(common.values())  # cells expected under 5 times pool into one
    cells = [(counts[key], n * p) for key, p in common.items()]
    cells.append((n - sum(c for c, _ in cells), n * rare))
    stat = sum((seen - want) ** 2 / want for seen, want in cells if want > 0)
    return float(chi2.sf(stat, len(cells) - 1))


@pytest.mark.parametrize("temperature,top_p", [(1.0, 1.0), (1.5, 0.9)])
def test_speculative_samples_the_targets_distribution(temperature, top_p):
    target = _model(seed=10, dim=64, depth=1, heads=1)
    draft = _model(seed=11, dim=64, depth=1, heads=1)
    exact = _exact(target, temperature, top_p)
    assert abs(sum(exact.values()) - 1) < 1e-5
    n = 6000
    tokens, stats = d.sample_speculative(
        draft,
        target,
        [[d.SOS]] * n,
        TINY_RULES,
        LENGTH,
        k=2,
        temperature=temperature,
        top_p=top_p,
        seed=12,
    )
    assert all(len(t) == LENGTH for t in tokens)
    assert _p_value(tokens, exact) > 1e-3
    assert 0 < stats["accepted"] < stats["drafted"]  # some drafts refused: the rule ran
    # the test can tell distributions apart: the draft's own samples fail it
    drafted = d.sample(
        draft, [[d.SOS]] * n, TINY_RULES, LENGTH, temperature=temperature, top_p=top_p, seed=13
    )
    assert _p_value(drafted, exact) < 1e-6
    plain = d.sample(
        target, [[d.SOS]] * n, TINY_RULES, LENGTH, temperature=temperature, top_p=top_p, seed=14
    )
    assert _p_value(plain, exact) > 1e-3


def test_speculative_with_the_target_as_its_own_draft_accepts_nearly_all():
    wrapper = _model(depth=1)
    rules = d.Rules(BASS, times=range(0, 30), end_steps=120, eos=False)
    seen = []
    tokens, stats = d.sample_speculative(
        wrapper, wrapper, [[d.SOS]] * 3, rules, 200, k=4, seed=8, on_step=seen.append
    )
    assert stats["accepted"] >= 0.95 * stats["drafted"] > 0
    assert stats["target_calls"] < sum(len(t) for t in tokens) / 3
    for t in tokens:
        assert _check_grammar([d.SOS], t, rules).done
    assert seen[-1] == [1.0, 1.0, 1.0]


def test_speculative_with_a_small_draft_follows_the_rules_and_cancels():
    target = _model(seed=1, depth=2)
    draft = _model(seed=2, dim=64, depth=1, heads=1)
    rules = d.Rules(BASS, times=range(0, 30), max_chord=3, eos=False)
    rounds = []
    tokens, stats = d.sample_speculative(
        draft,
        target,
        [[d.SOS], [d.SOS, 3, BASS[1], 16800]],
        rules,
        40,
        k=3,
        seed=9,
        on_step=rounds.append,
        cancelled=lambda: {0} if len(rounds) >= 2 else set(),
    )
    assert len(tokens[1]) == 40 and 0 < len(tokens[0]) < 40
    _check_grammar([d.SOS], tokens[0], rules)
    _check_grammar([d.SOS, 3, BASS[1], 16800], tokens[1], rules)
    assert set(stats) == {"drafted", "accepted", "target_calls"}


def test_the_fast_path_static_shapes_draws_the_same_candidates(monkeypatch):
    """fast=True (the cuda default) attends over the whole static cache under a mask and
    compiles the step; here the compile is left out (no GPU, and it takes minutes on 2
    cores), so what is checked is that the static-shape step gives the same candidates."""
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda f, **kw: compiled.append(kw) or f)
    wrapper = _model(depth=1)
    primes = [[d.SOS], [d.SOS, 4, BASS[2], 16900]]
    rules = d.Rules(BASS, eos=False)
    fast = d.sample(wrapper, primes, rules, 25, seed=15, fast=True)
    assert compiled == [{"mode": "reduce-overhead"}]
    assert fast == d.sample(wrapper, primes, rules, 25, seed=15, fast=False)


def test_ended_candidates_leave_the_batch_and_the_rest_decode_as_if_alone():
    """Greedy, so each candidate's tokens depend only on its own logits: a batch whose
    candidates end at different times (and are dropped from the cache) gives what each
    prime gives alone."""
    wrapper = _model(depth=2)
    rules = d.Rules(BASS, times=range(0, 40), end_steps=60, eos=False)
    primes = [[d.SOS], [d.SOS, 10, BASS[3], 16900], [d.SOS, 5, BASS[0]], _primes([7])[0]]
    together = d.sample(wrapper, primes, rules, 80, temperature=0)
    assert len({len(t) for t in together}) > 1
    for prime, tokens in zip(primes, together, strict=True):
        assert d.sample(wrapper, [prime], rules, 80, temperature=0) == [tokens]


def test_bf16_matmuls_stay_close_to_float32():
    wrapper = _model(tie=True)
    primes = _primes([9, 12])
    exact = d.KVDecoder(wrapper, 2, 16)
    half = d.KVDecoder(wrapper, 2, 16, matmul_dtype=torch.bfloat16)
    with torch.inference_mode():
        want = exact.logits(exact.prefill(primes))
        got = half.logits(half.prefill(primes))
        step = torch.tensor([[7], [300]])
        want2 = exact.logits(exact.feed(step, torch.tensor([12, 12]), uniform=12))
        got2 = half.logits(half.feed(step, torch.tensor([12, 12]), uniform=12))
    assert half.k.dtype == torch.float32 and half.out.dtype == torch.bfloat16
    assert (got - want).abs().max() < 0.05 * want.abs().max()
    assert (got2 - want2).abs().max() < 0.05 * want2.abs().max()
    tokens = d.sample(wrapper, [[d.SOS]], d.Rules(BASS), 12, seed=1, matmul_dtype=torch.bfloat16)
    _check_grammar([d.SOS], tokens[0], d.Rules(BASS))


def test_a_loaded_checkpoint_decodes(tmp_path):
    """What the generator does: load() a plain fp16 state_dict with a sidecar, sample."""
    wrapper = _model(tie=True, max_seq_len=1024)
    path = tmp_path / "orpheus-hoot.pth"
    torch.save({k: v.half() for k, v in wrapper.state_dict().items()}, path)
    path.with_suffix(".json").write_text('{"heads": 4, "max_seq_len": 1024}')
    loaded = om.load(path, device="cpu")
    rules = d.Rules(BASS, end_steps=100)
    out = d.sample(loaded, [[d.SOS], [d.SOS, 2, BASS[0], 16800]], rules, 64, seed=2)
    assert len(out) == 2 and all(out)
    _check_grammar([d.SOS], out[0], rules)


def test_the_nucleus_from_the_likeliest_rows_equals_the_nucleus_from_a_full_sort():
    g = torch.Generator().manual_seed(3)
    allowed = torch.rand(4, 3000, generator=g) > 0.2
    peaked = torch.randn(4, 3000, generator=g) * 6  # top 256 rows hold top_p: the fast way
    flat = torch.randn(4, 3000, generator=g) * 0.1  # they do not: the full sort
    for logits in (peaked, flat):
        got = d.probabilities(logits, allowed, 1.0, 0.9)
        probs = torch.softmax(logits.masked_fill(~allowed, -float("inf")), -1)
        ordered, order = probs.sort(-1, descending=True)
        keep = (ordered.cumsum(-1) - ordered) < 0.9
        want = torch.zeros_like(probs).scatter(-1, order, ordered * keep)
        assert torch.allclose(got, want / want.sum(-1, keepdim=True), atol=1e-6)
        assert not got[~allowed].any()
    assert (d.probabilities(peaked, allowed, 1.0, 0.9) > 0).sum(-1).max() < 256
    assert (d.probabilities(flat, allowed, 1.0, 0.9) > 0).sum(-1).min() > 256


def _bars_and_pitches(tokens, bar_steps):
    """(bar reached, pitch class) of every NOTE in a candidate's new tokens."""
    elapsed, out = 0, []
    for tok in tokens:
        if tok in d.TIME:
            elapsed += tok
        elif tok in d.NOTE:
            out.append((int(elapsed // bar_steps), (tok - 256) % 128 % 12))
    return out


@pytest.mark.parametrize("speculative", [False, True])
def test_harmony_leans_each_bar_to_its_chord(speculative):
    chords = [{0, 4, 7}, {2, 5, 9}, {7, 11, 2}]
    notes = [256 + 128 * 33 + p for p in range(36, 60)]  # every pitch of a bass, chromatic
    times = range(5, 40)
    lean = d.Rules(notes, times=times, eos=False, end_steps=600, harmony=(100, chords, 30.0))
    plain = d.Rules(notes, times=times, eos=False, end_steps=600)
    target = _model(seed=3, dim=64)
    primes = _primes([6] * 4, seed=4)
    for rules, strict in ((lean, True), (plain, False)):
        if speculative:
            out, _ = d.sample_speculative(_model(seed=5, dim=32, heads=2), target, primes,
                                          rules, 300, k=3, seed=6)  # fmt: skip
        else:
            out = d.sample(target, primes, rules, 300, seed=6)
        heard = [x for tokens in out for x in _bars_and_pitches(tokens, 100)]
        on_chord = sum(pc in chords[bar % 3] for bar, pc in heard) / len(heard)
        if strict:
            assert len(heard) > 20 and on_chord == 1.0, "weight 30: chord tones only"
        else:
            assert on_chord < 0.6, "without the lean, notes fall anywhere (the test can tell)"


def test_downbeat_makes_the_first_token_a_note_on_the_boundary():
    notes = [256 + 128 * 33 + p for p in range(36, 60)]
    primes = _primes([7] * 5, seed=8)
    for prime in primes:  # each prime ends after a whole note, where a TIME could come
        prime[-2:] = [256 + 128 * 48 + 60, 16768 + 8 * 20 + 3]
    for rules in (d.Rules(notes, eos=False, end_steps=300, downbeat=True),
                  d.Rules(notes, eos=False, end_steps=300, downbeat=True, max_chord=1)):
        out = d.sample(_model(seed=9), primes, rules, 40, seed=10)
        assert all(tokens[0] in d.NOTE for tokens in out), "a note first, on the boundary"
    free = d.sample(_model(seed=9), primes, d.Rules(notes, eos=False, end_steps=300), 40,
                    seed=10)  # fmt: skip
    assert any(tokens[0] in d.TIME for tokens in free), "without it, a rest may come first"
