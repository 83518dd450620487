"""Batched Orpheus decoding: a grammar over its tokens, a static KV cache, our own step.

Why our own forward pass: x-transformers' `generate` at batch 6 on a 2-core VM takes about
16 ms a step for the dim-256 depth-4 model (4.5 ms of it the full 18,820-row logits, the
rest per-op overhead), and six 8-bar candidates are about 300 new tokens each, so the 3 s
budget wants about 3 ms a step. The step here reads the same weights (the x-transformers
`Decoder` that Orpheus is: pre-norm, bias-less LayerNorm times `gamma`, interleaved rotary
on the first dim_head/2 dims of q and k with base 10000, SDPA at dim_head^-0.5, GELU
feed-forward with biases, a final norm, separate or tied logits) with a few ops per layer:
one fused qkv matmul, the rotary as one complex multiply, a preallocated cache written in
place, and logits computed only over the rows the `Rules` allow (a candidate's next token is
a TIME, NOTE, DURVEL or EOS of its role: a few hundred to a few thousand rows, not 18,820).
tests/generate/test_orpheus_decode.py holds it to x-transformers' logits on random weights.

The cache is static (batch x heads x length x dim_head per layer, allocated once for prime +
new tokens), which is what CUDA graphs and torch.compile(mode="reduce-overhead") want: with
`fast=True` (the default on cuda) attention runs over the whole cache under a mask, so every
step has the same shapes, and the step is compiled. On the CPU attention reads only the
filled part of the cache and runs eager.

Primes of different lengths are left-padded; rotary attention depends only on the distance
between positions, so a padded candidate's logits equal its unpadded ones (within float
error), and its padding is masked out of every key.

Runs only in the model worker process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

from hoot.errors import HootError

SOS, OUTRO, EOS, PAD = 18816, 18817, 18818, 18819
TIME = range(0, 256)
NOTE = range(256, 16768)
DURVEL = range(16768, 18816)
MAX_SEQ_LEN = 8192

NUCLEUS_ROWS = 256

# Grammar states: what the last token was, so what may follow.
OPEN, FULL, TIMED, NOTED, DONE = range(5)
_KIND_TIME, _KIND_NOTE, _KIND_DURVEL, _KIND_EOS = range(4)


class Rules:
    """What a candidate may say next: a grammar over Orpheus tokens.

    After SOS or a DURVEL: a TIME (a new chord), a NOTE (the same chord, while it has fewer
    than `max_chord` notes) or EOS; after a TIME: a NOTE; after a NOTE: its DURVEL. A
    candidate ends at EOS or when its elapsed time (the sum of its TIME tokens, 16 ms steps)
    reaches `end_steps`. `notes` are the NOTE tokens a role may play (its patches' pitches).

    `harmony` leans a candidate towards the chord of the moment: (steps a bar lasts, one set
    of pitch classes a bar, in order, looping, and a weight): a NOTE whose pitch class is in
    the chord of the bar the candidate has reached gets `weight` added to its logit (2.0
    makes a chord tone e^2 = 7.4 times as likely as it was, against the other notes).
    `downbeat`: the first thing a candidate writes is a note where its prime ends (as if a
    TIME of 0 had been read): a bass, a chord or a kit that sounds on the boundary.
    """

    def __init__(
        self,
        notes: Iterable[int],
        durvels: Iterable[int] | None = None,
        times: Iterable[int] | None = None,
        end_steps: int | None = None,
        max_chord: int = 8,
        eos: bool = True,
        harmony: tuple[float, Sequence[Iterable[int]], float] | None = None,
        downbeat: bool = False,
    ):
        self.notes = sorted(set(int(t) for t in notes))
        self.harmony = harmony
        self.downbeat = downbeat
        if harmony is not None and (harmony[0] <= 0 or not harmony[1]):
            raise HootError("harmony needs a bar length in steps above 0 and one chord or more")
        self.durvels = sorted(set(int(t) for t in (DURVEL if durvels is None else durvels)))
        self.times = sorted(set(int(t) for t in (TIME if times is None else times)))
        self.end_steps = end_steps
        self.max_chord = max_chord
        self.eos = eos
        for name, tokens, span in (
            ("notes", self.notes, NOTE),
            ("durvels", self.durvels, DURVEL),
            ("times", self.times, TIME),
        ):
            if not tokens and name != "times":
                raise HootError(f"the rules allow no {name}: a candidate could not go on")
            if tokens and not (span.start <= tokens[0] and tokens[-1] < span.stop):
                raise HootError(
                    f"the rules' {name} must lie in {span.start}-{span.stop - 1} (got {tokens[0]}"
                    f"-{tokens[-1]})"
                )
        if not self.times and not eos:
            raise HootError("the rules allow neither TIME nor EOS: a full chord could not go on")
        if max_chord < 1:
            raise HootError("max_chord must be at least 1")

    def allowed(self, state: int) -> list[int]:
        """The tokens allowed in a grammar state."""
        eos = [EOS] if self.eos else []
        if state == OPEN:
            return self.times + self.notes + eos
        if state == FULL:
            return self.times + eos
        if state == TIMED:
            return self.notes
        return self.durvels if state == NOTED else []


class _Track:
    """One candidate's place in the grammar: its state, notes in the current chord, elapsed
    16 ms steps, and whether it has ended."""

    __slots__ = ("rules", "state", "chord", "elapsed", "done", "tokens")

    def __init__(self, rules: Rules, prime: Sequence[int]):
        self.rules = rules
        self.tokens: list[int] = []
        self.elapsed = 0
        self.chord = 0
        for tok in reversed(prime):
            if tok in TIME or tok == SOS:
                break
            self.chord += tok in NOTE
        last = prime[-1] if prime else SOS
        self.state = TIMED if last in TIME else NOTED if last in NOTE else OPEN
        if self.state == OPEN and self.chord >= rules.max_chord:
            self.state = FULL
        if rules.downbeat and self.state in (OPEN, FULL):
            self.state, self.chord = TIMED, 0  # a note on the boundary, its own chord
        self.done = False

    def take(self, tok: int) -> None:
        self.tokens.append(tok)
        if tok == EOS:
            self.done = True
        elif tok in TIME:
            self.elapsed += tok
            self.chord = 0
            self.state = TIMED
            end = self.rules.end_steps
            self.done = end is not None and self.elapsed >= end
        elif tok in NOTE:
            self.chord += 1
            self.state = NOTED
        else:
            self.state = OPEN if self.chord < self.rules.max_chord else FULL

    def fraction(self, max_new: int) -> float:
        if self.done:
            return 1.0
        end = self.rules.end_steps
        by_time = self.elapsed / end if end else 0.0
        return min(1.0, max(by_time, len(self.tokens) / max_new))


def _net(model) -> torch.nn.Module:
    """The TransformerWrapper inside an OrpheusModel, an AutoregressiveWrapper, or itself."""
    model = getattr(model, "wrapper", model)
    return getattr(model, "net", model)


def _linear(x: torch.Tensor, wt: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """x @ wt (+ b) with `wt` stored transposed (in, out): MKL's small-batch fp32 GEMM took
    96 us for a 6 x 256 by 256 x 1024 product that way against 133 us as F.linear (on this
    AMD EPYC, weights not in cache). In the weights' dtype, the result in the activations'
    (a no-op cast when they agree)."""
    flat = x.reshape(-1, x.shape[-1]).to(wt.dtype)
    out = torch.mm(flat, wt) if b is None else torch.addmm(b, flat, wt)
    return out.view(*x.shape[:-1], wt.shape[1]).to(x.dtype)


def _t(w: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return w.t().to(dtype).contiguous()


def _gamma(norm: torch.nn.Module) -> torch.Tensor:
    """A norm's effective scale: x-transformers' Decoder stores LayerNorm gammas as offsets
    from 1 (norm_add_unit_offset, its default) and multiplies by gamma + 1."""
    return (norm.gamma.detach() + float(getattr(norm, "unit_offset", False))).contiguous()


class KVDecoder:
    """The forward pass over a static KV cache, for `batch` candidates and `length` slots.

    `rows` are the vocabulary rows whose logits `logits()` computes (default: all).
    `static`: attend over the whole cache under a mask (same shapes every step, for CUDA
    graphs); otherwise over the filled part only. `matmul_dtype`: the dtype the weight
    matrices are held and multiplied in (default: the model's).
    """

    def __init__(
        self,
        model,
        batch: int,
        length: int,
        rows: Sequence[int] | None = None,
        static: bool = False,
        matmul_dtype: torch.dtype | None = None,
    ):
        net = _net(model)
        state = net.state_dict()
        weight = state["token_emb.emb.weight"]
        self.device, self.dtype = weight.device, weight.dtype
        mm = matmul_dtype or self.dtype
        self.emb = weight
        self.rows = (
            torch.arange(weight.shape[0], device=self.device)
            if rows is None
            else torch.as_tensor(list(rows), device=self.device)
        )
        if "to_logits.weight" in state:
            self.out = _t(state["to_logits.weight"][self.rows], mm)
        else:  # tied: x-transformers scales the shared embedding by tie_embedding_scale
            self.out = _t(weight[self.rows] * net.tie_embedding_scale, mm)
        layers = net.attn_layers.layers
        self.layers = []
        for i in range(len(layers) // 2):
            a, f = f"attn_layers.layers.{2 * i}.", f"attn_layers.layers.{2 * i + 1}."
            qkv = torch.cat([state[a + f"1.to_{x}.weight"] for x in "qkv"])
            wo = state.get(a + "1.to_out.weight")
            self.layers.append(
                (
                    _gamma(layers[2 * i][0][0]),
                    _t(qkv, mm),
                    None if wo is None else _t(wo, mm),
                    _gamma(layers[2 * i + 1][0][0]),
                    _t(state[f + "1.ff.0.0.weight"], mm),
                    state[f + "1.ff.0.0.bias"].to(mm),
                    _t(state[f + "1.ff.2.weight"], mm),
                    state[f + "1.ff.2.bias"].to(mm),
                )
            )
        self.final = _gamma(net.attn_layers.final_norm)
        self.dim = weight.shape[1]
        self.heads = net.attn_layers.layers[0][1].heads
        self.dim_head = self.layers[0][1].shape[1] // 3 // self.heads
        inv_freq = state["attn_layers.rotary_pos_emb.inv_freq"].float()
        self.rot = 2 * inv_freq.numel()
        angles = torch.arange(length, device=self.device, dtype=torch.float32)[:, None] * inv_freq
        self.cis = torch.polar(torch.ones_like(angles), angles)
        self.batch, self.length, self.static = batch, length, static
        shape = (len(self.layers), batch, self.heads, length, self.dim_head)
        self.k = torch.zeros(shape, device=self.device, dtype=self.dtype)
        self.v = torch.zeros(shape, device=self.device, dtype=self.dtype)
        self.valid = torch.ones(batch, length, device=self.device, dtype=torch.bool)
        self.padded = False
        self.slots = torch.arange(length, device=self.device)

    def prefill(self, primes: Sequence[Sequence[int]]) -> torch.Tensor:
        """Run the primes (left-padded to the longest) into the cache from slot 0; the last
        position's normed hidden state, (batch, dim)."""
        width = max(len(p) for p in primes)
        tokens = torch.full((self.batch, width), PAD, dtype=torch.long)
        self.valid.fill_(True)
        for b, prime in enumerate(primes):
            tokens[b, width - len(prime) :] = torch.as_tensor(prime)
            self.valid[b, : width - len(prime)] = False
        self.padded = any(len(p) < width for p in primes)
        pos = torch.zeros(self.batch, dtype=torch.long, device=self.device)
        return self.feed(tokens.to(self.device), pos, uniform=0)[:, -1]

    def feed(
        self, tokens: torch.Tensor, pos: torch.Tensor, uniform: int | None = None
    ) -> torch.Tensor:
        """Write (batch, S) tokens at slots pos..pos+S-1 of each candidate and return their
        normed hidden states (batch, S, dim). `uniform`: every pos equals this int (a
        cheaper cache write); a candidate's slots from pos on are overwritten, which is how a
        speculative round rolls back."""
        B, S = tokens.shape
        H, D, R = self.heads, self.dim_head, self.rot
        x = F.embedding(tokens, self.emb)
        q_slots = pos[:, None] + torch.arange(S, device=self.device)
        cis = self.cis[q_slots][:, :, None, None, :]
        if self.static:
            n = self.length
        elif uniform is not None:
            n = uniform + S
        else:
            n = int(pos.max()) + S
        keys = self.slots[:n]
        if self.static or self.padded or uniform is None:
            mask = ((keys <= q_slots[..., None]) & self.valid[:, None, :n]) | (
                keys == q_slots[..., None]
            )
            mask, causal = mask[:, None], False
        else:
            mask, causal = None, S > 1
        rows = torch.arange(B, device=self.device)[:, None].expand(B, S)
        for i, (g1, wqkv, wo, g2, w1, b1, w2, b2) in enumerate(self.layers):
            h = F.layer_norm(x, (self.dim,), g1)
            qkv = _linear(h, wqkv).view(B, S, 3, H, D)
            qk = qkv[:, :, :2, :, :R]
            turned = torch.view_as_complex(qk.float().reshape(B, S, 2, H, R // 2, 2)) * cis
            qk.copy_(torch.view_as_real(turned).flatten(-2))
            k_new, v_new = qkv[:, :, 1], qkv[:, :, 2]
            if uniform is not None and not self.static:
                self.k[i, :, :, uniform : uniform + S] = k_new.transpose(1, 2)
                self.v[i, :, :, uniform : uniform + S] = v_new.transpose(1, 2)
            else:
                self.k[i][rows, :, q_slots] = k_new
                self.v[i][rows, :, q_slots] = v_new
            att = F.scaled_dot_product_attention(
                qkv[:, :, 0].transpose(1, 2),
                self.k[i, :, :, :n],
                self.v[i, :, :, :n],
                attn_mask=mask,
                is_causal=causal,
            )
            att = att.transpose(1, 2).reshape(B, S, H * D)
            x = x + (att if wo is None else _linear(att, wo))  # None: one head as wide as dim
            x = x + _linear(F.gelu(_linear(F.layer_norm(x, (self.dim,), g2), w1, b1)), w2, b2)
        return F.layer_norm(x, (self.dim,), self.final)

    def tensors(self) -> list[torch.Tensor]:
        """Every tensor a step reads or writes: weights, rotary table, cache, masks."""
        held = [self.emb, self.out, self.final, self.cis, self.k, self.v, self.valid, self.slots]
        return held + [t for layer in self.layers for t in layer if t is not None]

    def keep(self, rows: list[int]) -> None:
        """Keep only these candidates (one copy of the cache), so that ended candidates stop
        costing: a batch-6 step of the dim-256 model costs about 3x a batch-1 step here
        (4.8 against 1.6 ms), and copying the cache once costs about one step."""
        index = torch.as_tensor(rows, device=self.device)
        self.k = self.k.index_select(1, index)
        self.v = self.v.index_select(1, index)
        self.valid = self.valid.index_select(0, index)
        self.batch = len(rows)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits over `rows` only, float32."""
        return _linear(hidden.to(self.out.dtype), self.out).float()


class _Batch:
    """What sample() and sample_speculative() share: the allowed rows (the union over every
    candidate's rules), each candidate's allowed mask per grammar state, the tracks."""

    def __init__(
        self,
        primes: list[list[int]],
        rules: Rules | list[Rules],
        max_new: int,
        device: torch.device,
    ):
        if not primes:
            raise HootError("no primes: give each candidate a prime (at least [SOS])")
        rules = rules if isinstance(rules, list) else [rules] * len(primes)
        if len(rules) != len(primes):
            raise HootError(f"{len(rules)} rules for {len(primes)} primes: give one each, or one")
        self.rules = rules
        union = sorted(
            set().union(
                *(
                    set(r.times) | set(r.notes) | set(r.durvels) | ({EOS} if r.eos else set())
                    for r in rules
                )
            )
        )
        self.rows = union
        where = {tok: i for i, tok in enumerate(union)}
        table = torch.zeros(len(primes), DONE + 1, len(union), dtype=torch.bool)
        for b, r in enumerate(rules):
            for state in (OPEN, FULL, TIMED, NOTED):
                table[b, state, [where[t] for t in r.allowed(state)]] = True
            table[b, DONE, 0] = True
        self.table = table.to(device)
        self.leans = None  # per candidate: (steps a bar, bars x rows of logit bias)
        if any(r.harmony for r in rules):
            pcs = torch.as_tensor([(t - NOTE.start) % 128 % 12 if t in NOTE else -1
                                   for t in union])  # fmt: skip
            self.leans = []
            for r in rules:
                if r.harmony is None:
                    self.leans.append(None)
                    continue
                bar_steps, chords, weight = r.harmony
                bias = torch.zeros(len(chords), len(union))
                for bar, chord in enumerate(chords):
                    tones = torch.as_tensor(sorted({int(c) % 12 for c in chord}))
                    bias[bar, torch.isin(pcs, tones)] = float(weight)
                self.leans.append((float(bar_steps), bias.to(device)))
        self.tokens = torch.as_tensor(union, device=device)
        self.tracks = [_Track(r, p) for r, p in zip(rules, primes, strict=True)]
        self.index = torch.arange(len(primes), device=device)
        self.max_new = max_new

    def states(self, live: list[int] | None = None) -> list[int]:
        tracks = self.tracks if live is None else [self.tracks[b] for b in live]
        return [DONE if t.done else t.state for t in tracks]

    def mask(self, states: list[int], live: list[int] | None = None) -> torch.Tensor:
        index = self.index if live is None else self.index[live]
        return self.table[index, torch.as_tensor(states, device=self.table.device)]

    def stop(self, cancelled: Callable[[], set[int]] | None) -> None:
        for b in cancelled() if cancelled else ():
            if 0 <= b < len(self.tracks):
                self.tracks[b].done = True
        for t in self.tracks:
            if len(t.tokens) >= self.max_new:
                t.done = True

    def lean(self, tracks: Sequence[_Track], live: list[int] | None = None) -> torch.Tensor | float:
        """The harmony bias each candidate's logits get now (0.0: none): the row of the
        chord of the bar its elapsed time has reached."""
        if self.leans is None:
            return 0.0
        index = range(len(tracks)) if live is None else live
        rows = []
        for b, track in zip(index, tracks, strict=True):
            lean = self.leans[b]
            if lean is None:
                rows.append(torch.zeros(len(self.rows), device=self.table.device))
                continue
            bar_steps, bias = lean
            rows.append(bias[int(track.elapsed // bar_steps) % bias.shape[0]])
        return torch.stack(rows)

    def report(self, on_step: Callable[[list[float]], None] | None) -> None:
        if on_step is not None:
            on_step([t.fraction(self.max_new) for t in self.tracks])

    @property
    def finished(self) -> bool:
        return all(t.done for t in self.tracks)


def _fit(primes: list[list[int]], max_new: int, extra: int, limit: int) -> list[list[int]]:
    """Cut primes from the left so prime + new tokens fit the model's max_seq_len."""
    room = limit - max_new - extra
    if room < 1:
        raise HootError(f"{max_new} new tokens do not fit a model of max_seq_len {limit}")
    return [list(p[-room:]) if p else [SOS] for p in primes]


def probabilities(
    logits: torch.Tensor, allowed: torch.Tensor, temperature: float, top_p: float
) -> torch.Tensor:
    """The distribution a step samples from: masked to the allowed rows, tempered, cut to
    the smallest set holding `top_p` of the mass (nucleus), renormalized. temperature <= 0
    is greedy."""
    logits = logits.masked_fill(~allowed, -math.inf)
    if temperature <= 0:
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p >= 1.0:
        return probs
    # The nucleus is every row at or above a threshold: the probability of its last token.
    # That comes from the 256 likeliest rows when they hold top_p in every row (topk: 46 us
    # at batch 6 over 2,569 rows), else from sorting the values alone (numpy: 220 us on the
    # CPU, where torch.sort with its indices takes 600-1,200 us on one thread).
    ordered = probs.topk(min(NUCLEUS_ROWS, probs.shape[-1]), dim=-1).values
    mass = ordered.cumsum(-1)
    if ordered.shape[-1] < probs.shape[-1] and not bool((mass[..., -1] >= top_p).all()):
        if probs.device.type == "cpu":
            ordered = torch.from_numpy(np.sort(probs.numpy(), axis=-1)[..., ::-1].copy())
        else:
            ordered = probs.sort(dim=-1, descending=True).values
        mass = ordered.cumsum(-1)
    kept = ((mass - ordered) < top_p).sum(-1, keepdim=True)
    probs = probs * (probs >= ordered.gather(-1, kept - 1))
    return probs / probs.sum(-1, keepdim=True)


def _draw(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One index per row, drawn from each row's (unnormalized) distribution by inverting its
    cumulative sum at a uniform draw: one uniform per row, no host round trip, about 20 us
    at batch 6 over 2,569 rows where torch.multinomial or an exponential race over every
    row take about 450 us on one CPU thread."""
    cdf = probs.cumsum(-1)
    u = (
        torch.rand(
            (*probs.shape[:-1], 1), generator=generator, device=probs.device, dtype=cdf.dtype
        )
        * cdf[..., -1:]
    )
    return torch.searchsorted(cdf, u, right=True)[..., 0].clamp_max(probs.shape[-1] - 1)


def _generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    if seed is None:
        return None
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def _max_seq_len(model) -> int:
    config = getattr(model, "config", None) or {}
    net = _net(model)
    return int(config.get("max_seq_len", getattr(net, "max_seq_len", MAX_SEQ_LEN)))


def _default_fast(device: torch.device) -> bool:
    return device.type == "cuda"


@contextmanager
def _one_thread(device: torch.device):
    """Decode on one CPU thread. A step is ~100 small ops (a 6 x 256 by 256 x 1024 matmul is
    ~0.3 ms): on a 2-core machine that also runs the engine and render workers, torch's
    second OpenMP thread waits on a busy core at every op, and a step measured 126 ms with
    two threads against 9.5 ms with one (dim 256, depth 4, batch 6, load 7 on 2 cores)."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Stepper:
    """One decode step (feed one token per candidate, logits over the allowed rows), eager
    or, with `fast`, compiled with mode="reduce-overhead" (CUDA graphs over the static
    cache). Kept apart so the GPU path is one small, switchable piece."""

    def __init__(self, decoder: KVDecoder, fast: bool):
        self.decoder = decoder
        self.fast = fast
        if fast:
            # The cache and weights are attributes, so dynamo makes them graph inputs; CUDA
            # graph trees copy every ordinary input into the graph's own memory before each
            # replay (the weights: ~1 GB a step for the medium model) and skip graphs
            # altogether for a graph that writes into an input ("mutated inputs"), unless
            # the input's address is marked static. Unguarded: a new decoder's tensors
            # re-record the graph rather than recompile the step.
            for tensor in decoder.tensors():
                torch._dynamo.mark_static_address(tensor)
        self.run = torch.compile(self._step, mode="reduce-overhead") if fast else self._step

    def _step(self, tokens: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        return self.decoder.logits(self.decoder.feed(tokens, pos)[:, -1])

    def __call__(self, tokens: torch.Tensor, pos: torch.Tensor, at: int) -> torch.Tensor:
        if self.fast:
            # A new iteration: the last replay's output (already cloned) may be overwritten.
            torch.compiler.cudagraph_mark_step_begin()
            return self.run(tokens[:, None], pos).clone()
        return self.decoder.logits(self.decoder.feed(tokens[:, None], pos, uniform=at)[:, -1])


def sample(
    model,
    primes: list[list[int]],
    rules: Rules | list[Rules],
    max_new: int,
    *,
    temperature: float = 1.0,
    top_p: float = 0.96,
    seed: int | None = None,
    on_step: Callable[[list[float]], None] | None = None,
    cancelled: Callable[[], set[int]] | None = None,
    fast: bool | None = None,
    matmul_dtype: torch.dtype | None = None,
) -> list[list[int]]:
    """Continue each prime under its rules, all candidates in one batch; each candidate's
    new tokens (ending with EOS when it chose to end). `on_step` gets each candidate's
    fraction done (of end_steps, else of max_new) after every step; `cancelled()` names
    candidates to stop now (they keep what they have). `fast` (default: on cuda): static
    shapes and a compiled step. `matmul_dtype=torch.bfloat16` on a CPU with AVX512-BF16
    runs the matmuls in bf16 (cache, attention, norms stay float32): a batch-6 step of the
    dim-256 model took 3.4 ms against 4.5 ms here, at the cost of logits ~1e-2 off."""
    primes = _fit(primes, max_new, 0, _max_seq_len(model))
    device = _net(model).token_emb.emb.weight.device
    fast = _default_fast(device) if fast is None else fast
    batch = _Batch(primes, rules, max_new, device)
    width = max(len(p) for p in primes)
    decoder = KVDecoder(
        model, len(primes), width + max_new, batch.rows, static=fast, matmul_dtype=matmul_dtype
    )
    step = _Stepper(decoder, fast)
    generator = _generator(seed, device)
    live = list(range(len(primes)))  # the candidate in each row of the cache
    with torch.inference_mode(), _one_thread(device):
        logits = decoder.logits(decoder.prefill(primes))
        at = width
        while True:
            lean = batch.lean([batch.tracks[b] for b in live], live)
            probs = probabilities(logits + lean, batch.mask(batch.states(live), live),
                                  temperature, top_p)  # fmt: skip
            chosen = batch.tokens[_draw(probs, generator)]
            for b, tok in zip(live, chosen.tolist(), strict=True):
                if not batch.tracks[b].done:
                    batch.tracks[b].take(tok)
            batch.stop(cancelled)
            batch.report(on_step)
            if batch.finished:
                break
            going = [row for row, b in enumerate(live) if not batch.tracks[b].done]
            if not fast and len(going) < len(live):  # the static (fast) cache keeps its shape
                decoder.keep(going)
                chosen = chosen[going]
                live = [live[row] for row in going]
            pos = torch.full((len(live),), at, dtype=torch.long, device=device)
            logits = step(chosen, pos, at)
            at += 1
    return [t.tokens for t in batch.tracks]


def sample_speculative(
    draft,
    target,
    primes: list[list[int]],
    rules: Rules | list[Rules],
    max_new: int,
    k: int = 4,
    *,
    temperature: float = 1.0,
    top_p: float = 0.96,
    seed: int | None = None,
    on_step: Callable[[list[float]], None] | None = None,
    cancelled: Callable[[], set[int]] | None = None,
) -> tuple[list[list[int]], dict]:
    """sample() from `target`, with `draft` (same vocabulary, smaller) proposing k tokens a
    round that the target checks in one call. Each drafted token is kept with probability
    min(1, p/q) (p, q: the target's and draft's masked, tempered, nucleus distributions);
    at the first refusal the token is drawn from norm(max(0, p - q)), and after k
    acceptances one more comes from p: so the output is distributed exactly as sampling the
    target. Candidates advance by different amounts; each keeps its own cache length, and a
    refused suffix is rolled back by writing over it. stats: drafted and accepted tokens,
    target calls (the prefill included)."""
    limit = min(_max_seq_len(draft), _max_seq_len(target))
    primes = _fit(primes, max_new, k + 1, limit)
    device = _net(target).token_emb.emb.weight.device
    batch = _Batch(primes, rules, max_new, device)
    B, width = len(primes), max(len(p) for p in primes)
    length = width + max_new + k + 1
    small = KVDecoder(draft, B, length, batch.rows)
    big = KVDecoder(target, B, length, batch.rows)
    generator = _generator(seed, device)
    stats = {"drafted": 0, "accepted": 0, "target_calls": 1}
    with torch.inference_mode(), _one_thread(device):
        small.prefill(primes)
        logits = big.logits(big.prefill(primes)) + batch.lean(batch.tracks)
        probs = probabilities(logits, batch.mask(batch.states()), temperature, top_p)
        pending = batch.tokens[_draw(probs, generator)]
        for track, tok in zip(batch.tracks, pending.tolist(), strict=True):
            track.take(tok)
        batch.stop(cancelled)
        batch.report(on_step)
        filled = torch.full((B,), width, dtype=torch.long, device=device)
        while not batch.finished:
            # Draft k tokens (the grammar followed on copies of the tracks), then feed the
            # last one too, so that the draft's cache holds every accepted token.
            shadow = [_Track.__new__(_Track) for _ in batch.tracks]
            for s, t in zip(shadow, batch.tracks, strict=True):
                for slot in _Track.__slots__:
                    setattr(s, slot, getattr(t, slot))
                s.tokens = list(t.tokens)
            states, leans, drafts, q = [], [], [], []
            fed = pending
            for i in range(k + 1):
                hidden = small.feed(fed[:, None], filled + i)[:, -1]
                if i == k:
                    break
                states.append([DONE if s.done else s.state for s in shadow])
                leans.append(batch.lean(shadow))
                q_i = probabilities(small.logits(hidden) + leans[-1], batch.mask(states[-1]),
                                    temperature, top_p)  # fmt: skip
                fed = _draw(q_i, generator)
                q.append(q_i)
                drafts.append(fed)
                for s, tok in zip(shadow, batch.tokens[fed].tolist(), strict=True):
                    if not s.done:
                        s.take(tok)
                fed = batch.tokens[fed]
            states.append([DONE if s.done else s.state for s in shadow])
            leans.append(batch.lean(shadow))
            # The target scores the pending token and the k drafts in one call.
            chain = torch.stack([pending] + [batch.tokens[d] for d in drafts], dim=1)
            p_logits = big.logits(big.feed(chain, filled))
            if batch.leans is not None:
                p_logits = p_logits + torch.stack(leans, dim=1)
            stats["target_calls"] += 1
            allowed = torch.stack([batch.mask(s) for s in states], dim=1)
            p = probabilities(p_logits, allowed, temperature, top_p)
            q_all = torch.stack(q, dim=1)
            d_all = torch.stack(drafts, dim=1)
            p_d = p[:, :k].gather(-1, d_all[..., None])[..., 0]
            q_d = q_all.gather(-1, d_all[..., None])[..., 0]
            u = torch.rand(p_d.shape, generator=generator, device=device)
            keep = (u * q_d < p_d).tolist()
            residual = (p[:, :k] - q_all).clamp_min(0.0)
            fix = _draw(residual / residual.sum(-1, keepdim=True).clamp_min(1e-30), generator)
            bonus = _draw(p[:, k], generator)
            drafts_host = d_all.tolist()
            fix_host, bonus_host = fix.tolist(), bonus.tolist()
            next_pending = []
            for b, track in enumerate(batch.tracks):
                if track.done:
                    next_pending.append(0)
                    continue
                stats["drafted"] += k
                n = 0
                while n < k and keep[b][n]:
                    n += 1
                stats["accepted"] += n
                taken = drafts_host[b][:n] + [fix_host[b][n] if n < k else bonus_host[b]]
                for index in taken:
                    if track.done or len(track.tokens) >= max_new:
                        break  # an ended candidate's cache stays put, within its length
                    track.take(batch.rows[index])
                    filled[b] += 1
                next_pending.append(taken[-1])
            pending = batch.tokens[torch.as_tensor(next_pending, device=device)]
            batch.stop(cancelled)
            batch.report(on_step)
    return [t.tokens for t in batch.tracks], stats
