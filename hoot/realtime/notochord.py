"""Notochord: a recurrent model of MIDI events, reimplemented so official checkpoints drop in.

Notochord (Shepardson et al., AIMC 2022; the `notochord` package 0.8, MIT) reads one MIDI
event at a time, (instrument, pitch, delta-time, velocity), through a GRU, and predicts the
next event one part at a time in any order: whatever the caller fixes first (the instrument
and "now" for a harmony voice), then what it constrains (a key's pitches), then the rest.
That partial-event conditioning is what makes it an instrument: a harmonizer asks "which
pitch would a string player start together with this key?" and gets an answer in about a
millisecond on one core.

This module is our own code with the official constructor arguments and the official
state_dict keys, so a trainer checkpoint (`notochord_lakh_50G_deep.pt`, or the one
models/train_notochord.py writes) loads into it unchanged:

    instrument_emb, pitch_emb          embeddings of the event's instrument and pitch
    time_emb, vel_emb                  sine embeddings (buffer `fs`, Linear `proj`)
    rnn.rnn                            the GRU (or LSTM/Elman) backbone
    initial_state.<k>                  its learned initial state, one per state component
    cell_state_<k>                     buffers: the running state between events
    h_proj, projections.<m>            GLU MLPs: hidden -> context; context -> each part
    end_proj                           "this was the piece's last event"
    time_dist, vel_dist                censored logistic mixtures (param `bias`, buffers lo/hi)

Instruments are the official ids: 1-128 General MIDI melodic (program + 1), 129-256 drum
kits, 257-288 anonymous melodic, 289-320 anonymous drums, 0 the start token.

Per event, a harmony voice costs one `feed` (embeddings, one GRU step) and one `query`
with the instrument, time and velocity fixed (h_proj, one head, one categorical draw):
benchmarks/notochord_cost.py measures it on one thread.
"""

from __future__ import annotations

import math
import pathlib
import pickle
import random
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hoot.errors import HootError

EMBEDDED = Path(__file__).resolve().parent.parent.parent / "models" / "notochord-hoot.ckpt"

START_INSTRUMENT = 0
N_MODALITIES = 4  # instrument, pitch, time, velocity


class SineEmbedding(nn.Module):
    """A scalar (seconds, velocity) as sines of n wavelengths from w0 to w1, projected."""

    def __init__(self, n: int, hidden: int, w0: float, w1: float, scale: str = "log"):
        super().__init__()
        if scale == "log":
            wavelengths = torch.linspace(math.log(w0), math.log(w1), n).exp()
        else:
            wavelengths = torch.linspace(w0, w1, n)
        self.register_buffer("fs", 2 * math.pi / wavelengths)
        self.proj = nn.Linear(n, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.sin(x[..., None] * self.fs))

    def infer(self, value: float) -> torch.Tensor:
        """One value's embedding [hidden], without the module call's overhead."""
        return F.linear(torch.sin(self.fs * value), self.proj.weight, self.proj.bias)


class GLU(nn.Module):
    """Half the channels gate the other half (no parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, -1)
        return a * torch.sigmoid(b)


class GLUMLP(nn.Module):
    """`layers` blocks of [dropout] Linear GLU [LayerNorm], then a Linear out (scaled 1e-2
    at init so a fresh model starts near uniform). Keys: net.<block>.<i>, net.<layers>."""

    def __init__(self, inputs: int, hidden: int, outputs: int, layers: int,
                 dropout: float = 0.0, norm: str | None = None):
        super().__init__()
        blocks: list[nn.Module] = []
        steps = []
        width = inputs
        for _ in range(layers):
            linear = nn.Linear(width, hidden * 2)
            layer_norm = nn.LayerNorm(hidden) if norm == "layer" else None
            parts = [nn.Dropout(dropout)] if dropout > 0 else []
            parts += [linear, GLU()] + ([layer_norm] if layer_norm is not None else [])
            blocks.append(nn.Sequential(*parts))
            steps.append((linear, layer_norm))
            width = hidden
        blocks.append(nn.Linear(width, outputs))
        self.net = nn.Sequential(*blocks)
        self._steps = tuple(steps)  # the same modules again, for `infer`
        with torch.no_grad():
            self.net[-1].weight.mul_(1e-2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        """`forward` in eval mode as plain functional calls: the 9 module calls of a
        2-layer MLP cost ~50 us of Python on their own, a third of a harmony query."""
        for linear, layer_norm in self._steps:
            a, b = F.linear(x, linear.weight, linear.bias).chunk(2, -1)
            x = a * torch.sigmoid(b)
            if layer_norm is not None:
                x = F.layer_norm(x, layer_norm.normalized_shape, layer_norm.weight,
                                 layer_norm.bias, layer_norm.eps)
        out = self.net[-1]
        return F.linear(x, out.weight, out.bias)


class Backbone(nn.Module):
    """The recurrent core; the official wrapper keeps the torch RNN under `.rnn`, so the
    keys read `rnn.rnn.weight_ih_l0`. State is a tuple: (h,) for GRU/Elman, (h, c) LSTM."""

    KINDS = {"gru": nn.GRU, "lstm": nn.LSTM, "elman": nn.RNN}

    def __init__(self, kind: str, inputs: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        if kind not in self.KINDS:
            raise HootError(f"Notochord's rnn kind {kind!r} is not one hoot knows: "
                            f"use one of {', '.join(self.KINDS)}.")
        self.kind = kind
        self.num_layers = layers
        self.rnn = self.KINDS[kind](inputs, hidden, num_layers=layers, batch_first=True,
                                    dropout=dropout if layers > 1 else 0.0)

    def step(self, x: torch.Tensor, state: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """One event through every layer with the cell functions (no sequence machinery),
        updating `state` ([layers, 1, hidden] each) in place; the top layer's output [1,
        hidden]."""
        rnn = self.rnn
        for layer in range(self.num_layers):
            weights = (getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}"),
                       getattr(rnn, f"bias_ih_l{layer}"), getattr(rnn, f"bias_hh_l{layer}"))
            if self.kind == "lstm":
                h, c = torch.lstm_cell(x, (state[0][layer], state[1][layer]), *weights)
                state[1][layer].copy_(c)
            elif self.kind == "gru":
                h = torch.gru_cell(x, state[0][layer], *weights)
            else:
                h = torch.rnn_tanh_cell(x, state[0][layer], *weights)
            state[0][layer].copy_(h)
            x = h
        return x

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, ...]):
        if self.kind == "lstm":
            out, new = self.rnn(x, state)
            return out, tuple(new)
        out, h = self.rnn(x, state[0])
        return out, (h,)


class CensoredMixtureLogistic(nn.Module):
    """A mixture of n logistics over [lo, hi], with the mass beyond each bound piled on it
    (censored), discretized at `res`: delta-times (res 10 ms) and velocities (res 1).

    `bias` (3n: mixture logits, locations, sharpness) is added to the network's output, so
    its init sets where a fresh model puts its mass: times log-spaced 1 ms..10 s, velocities
    spread over 0..127."""

    def __init__(self, n: int, res: float = 1e-2, lo: float = -math.inf, hi: float = math.inf,
                 sharp_bounds: tuple[float, float] = (1e-4, 2e3), init: str | None = None):
        super().__init__()
        self.n = n
        self.res = res
        self.sharp_bounds = sharp_bounds
        self.register_buffer("lo", torch.tensor(float(lo)))
        self.register_buffer("hi", torch.tensor(float(hi)))
        if init == "time":
            locations = torch.logspace(-3, 1, n)
        elif init == "velocity":
            locations = torch.linspace(0, 127, n)
        else:
            locations = torch.randn(n)
        self.bias = nn.Parameter(torch.cat((torch.zeros(n), locations, torch.zeros(n))))

    @property
    def n_params(self) -> int:
        return self.n * 3

    def params(self, h: torch.Tensor):
        """(log mixture weights, locations, sharpnesses) from the head's raw output."""
        logit_pi, loc, raw_s = torch.chunk(h + self.bias, 3, -1)
        log_pi = logit_pi - logit_pi.logsumexp(-1, keepdim=True)
        loc = loc.clamp(self.lo - 10 * self.res, self.hi + 10 * self.res)
        s = F.softplus(raw_s).clamp(*self.sharp_bounds)
        return log_pi, loc, s

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> dict:
        """{'log_prob': log-likelihood of x}: the mass of the bin of width res around x,
        everything below lo (above hi) for a value at the bound."""
        log_pi, loc, s = self.params(h)
        half = self.res / 2
        x = x.clamp(self.lo, self.hi)[..., None]
        z = (x - loc) * s
        sd = s * half
        at_lo = x <= self.lo + half
        at_hi = x >= self.hi - half
        # log(sigmoid(z + sd) - sigmoid(z - sd)) in a stable form, with censored ends
        width = torch.where(at_lo | at_hi, torch.ones_like(s), sd.exp() - (-sd).exp()).log()
        below = torch.where(at_hi, -sd, F.softplus(-sd - z))
        above = torch.where(at_lo, torch.zeros_like(s), z + F.softplus(sd - z))
        return {"log_prob": (log_pi + width - below - above).logsumexp(-1)}

    def cdf(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        log_pi, loc, s = self.params(h)
        return (torch.sigmoid((x[..., None] - loc) * s) * log_pi.exp()).sum(-1)

    def sample(self, h: torch.Tensor, lo: float = -math.inf, hi: float = math.inf,
               component_temp: float | None = None, weight_top_p: float | None = None,
               eps: float = 1e-9) -> torch.Tensor:
        """One draw from the mixture truncated to [lo, hi] (h: [1, 1, 3n]).

        component_temp scales each logistic's width (0: its location exactly);
        weight_top_p filters the mixture weights as `reweight` does (the official
        rhythm_temp / timing_temp and velocity_temp)."""
        if lo == hi:
            return torch.tensor(float(lo))
        log_pi, loc, s = (t.reshape(-1) for t in self.params(h))
        if component_temp is not None:
            s = s / component_temp
        bounds = torch.tensor([lo, hi])
        cdfs = torch.sigmoid((bounds[:, None] - loc) * s)  # [bound, component]
        probs = log_pi.exp() * (cdfs[1] - cdfs[0])
        if weight_top_p is not None:
            probs = reweight(probs + eps, weight_top_p)
        c = torch.multinomial(probs.clamp(eps, 1), 1)[0]
        u = torch.rand(()) * (cdfs[1, c] - cdfs[0, c]) + cdfs[0, c]
        u = u.clamp(eps, 1 - eps)
        x = loc[c] - torch.log(1 / u - 1) / s[c]
        return x.clamp(self.lo, self.hi).clamp(lo, hi)


def reweight(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """The official sampling "temperature": at most 1 it is nucleus (top-p) filtering (0:
    the likeliest only, 1: unchanged); above 1 it flattens, probs ** (1 / t)."""
    if top_p > 1:
        probs = probs ** (1 / top_p)
        return probs / probs.sum(-1, keepdim=True)
    ordered, order = probs.sort(-1, descending=True)
    cut = (ordered.cumsum(-1) >= top_p).roll(1, -1)
    cut[..., 0] = False  # the likeliest always stays
    kept = torch.where(cut.gather(-1, order.argsort(-1)), torch.zeros_like(probs), probs)
    return kept / kept.sum(-1, keepdim=True)


def _allowed(domain: int, start: int, include, exclude, what: str) -> torch.Tensor:
    if include is None and exclude is None:
        return torch.tensor([v for v in range(domain) if v != start])
    allowed = set(range(domain)) - {start} if include is None else _as_set(include)
    allowed -= _as_set(exclude) | {start}  # the start token is never an answer
    allowed &= set(range(domain))
    if not allowed:
        raise HootError(f"every {what} was excluded from the query: "
                        f"loosen include_{what} / exclude_{what}.")
    return torch.tensor(sorted(allowed))


def _as_set(x) -> set[int]:
    if x is None:
        return set()
    if isinstance(x, Iterable):
        return {int(v) for v in x}
    return {int(x)}


def _categorical(logits: torch.Tensor, allowed: torch.Tensor, top_p: float | None) -> int:
    """A draw among the `allowed` ids only (softmax over them: the same distribution as
    masking the rest to -inf, cheaper)."""
    probs = torch.softmax(logits.reshape(-1)[allowed], -1)
    if top_p is not None:
        probs = reweight(probs, top_p)
    return int(allowed[torch.multinomial(probs.nan_to_num(1e-5), 1)[0]])


class Notochord(nn.Module):
    """The model. Constructor arguments are the official ones, with their defaults (the
    largest published size; a checkpoint says its own in kw["model"])."""

    def __init__(self, emb_size: int = 512, rnn_hidden: int = 1024, rnn_layers: int = 2,
                 kind: str = "gru", mlp_layers: int = 2, dropout: float = 0.1,
                 norm: str | None = "layer", num_pitches: int = 128, num_instruments: int = 320,
                 time_sines: int = 128, vel_sines: int = 128,
                 time_bounds: tuple[float, float] = (0.0, 10.0), time_components: int = 32,
                 time_res: float = 1e-2, vel_components: int = 16):
        super().__init__()
        self.kw = dict(emb_size=emb_size, rnn_hidden=rnn_hidden, rnn_layers=rnn_layers,
                       kind=kind, mlp_layers=mlp_layers, dropout=dropout, norm=norm,
                       num_pitches=num_pitches, num_instruments=num_instruments,
                       time_sines=time_sines, vel_sines=vel_sines,
                       time_bounds=tuple(time_bounds), time_components=time_components,
                       time_res=time_res, vel_components=vel_components)
        self.hoot_meta: dict = {}
        self.instrument_domain = num_instruments + 1
        self.pitch_start = num_pitches
        self.pitch_domain = num_pitches + 1

        self.time_dist = CensoredMixtureLogistic(
            time_components, time_res, lo=time_bounds[0], hi=time_bounds[1],
            sharp_bounds=(1e-4, 2e3), init="time")
        self.vel_dist = CensoredMixtureLogistic(
            vel_components, 1.0, lo=0.0, hi=127.0, sharp_bounds=(1e-3, 128), init="velocity")

        self.instrument_emb = nn.Embedding(self.instrument_domain, emb_size)
        self.pitch_emb = nn.Embedding(self.pitch_domain, emb_size)
        self.time_emb = SineEmbedding(time_sines, emb_size, 1e-3, 30, scale="log")
        self.vel_emb = SineEmbedding(vel_sines, emb_size, 2, 512, scale="lin")

        self.rnn = Backbone(kind, emb_size, rnn_hidden, rnn_layers, dropout)
        components = 2 if kind == "lstm" else 1
        self.initial_state = nn.ParameterList([
            nn.Parameter(torch.randn(rnn_layers, 1, rnn_hidden) * rnn_hidden ** -0.5)
            for _ in range(components)])

        self.h_proj = GLUMLP(rnn_hidden, emb_size, emb_size, mlp_layers, dropout, norm)
        self.projections = nn.ModuleList([
            GLUMLP(emb_size, emb_size, out, mlp_layers, dropout, norm)
            for out in (self.instrument_domain, self.pitch_domain,
                        self.time_dist.n_params, self.vel_dist.n_params)])
        self.end_proj = nn.Linear(rnn_hidden, 2)
        with torch.no_grad():
            for head in self.projections:
                head.net[-1].weight.mul_(1e-2)

        for name, t in zip(self._state_names(), self.initial_state):
            self.register_buffer(name, t.detach().clone())
        self._h: torch.Tensor | None = None  # the top layer's output after the last event
        self._context: torch.Tensor | None = None  # h_proj of it, cached per event
        self.step = 0

    # --- state -----------------------------------------------------------------------

    def _state_names(self) -> tuple[str, ...]:
        return tuple(f"cell_state_{i}" for i in range(len(self.initial_state)))

    def _cell_state(self) -> tuple[torch.Tensor, ...]:
        return tuple(getattr(self, n) for n in self._state_names())

    def reset(self, state: dict | None = None) -> None:
        """Forget the past: the learned initial state plus the start token, or a state from
        `get_state` (then no start token, as officially)."""
        self.step = 0
        self._context = None
        with torch.inference_mode():
            pairs = (zip(self._state_names(), self.initial_state) if state is None
                     else state.items())
            for name, t in pairs:
                getattr(self, name).copy_(t)
        if state is None:
            self.feed(START_INSTRUMENT, self.pitch_start, 0.0, 0.0)

    def get_state(self) -> dict[str, torch.Tensor]:
        """The running state (copies), for `reset(state)`; `feed` after it recomputes the
        output a query reads, so feed one event after restoring before querying."""
        return {n: getattr(self, n).clone() for n in self._state_names()}

    def feed(self, inst: int, pitch: int, time: float, vel: float) -> None:
        """Advance by one event: `time` is seconds since the previous event, vel 0 a
        note-off."""
        with torch.inference_mode():
            x = (self.instrument_emb.weight[int(inst)] + self.pitch_emb.weight[int(pitch)]
                 + self.time_emb.infer(float(time)) + self.vel_emb.infer(float(vel)))
            self._h = self.rnn.step(x.view(1, -1), self._cell_state())
            self._context = None
        self.step += 1

    # --- sampling ----------------------------------------------------------------------

    def query(self, *, next_inst: int | None = None, next_pitch: int | None = None,
              next_time: float | None = None, next_vel: float | None = None,
              include_pitch=None, exclude_pitch=None, include_inst=None, exclude_inst=None,
              min_time: float | None = None, max_time: float | None = None,
              min_vel: float | None = None, max_vel: float | None = None,
              instrument_temp: float | None = None, pitch_temp: float | None = None,
              rhythm_temp: float | None = None, timing_temp: float | None = None,
              velocity_temp: float | None = None) -> dict:
        """Sample the next event, {'inst', 'pitch', 'time', 'vel'} as plain numbers.

        Fixed parts (next_*) condition everything sampled; then the constrained parts are
        sampled, then the free ones, each in the order instrument, pitch, time, velocity,
        each conditioned on all before it. The temperatures are the official ones (see
        `reweight`; None: as the model says)."""
        fixed = (next_inst, next_pitch, next_time, next_vel)
        constrained = (
            any(v is not None for v in (include_inst, exclude_inst, instrument_temp)),
            any(v is not None for v in (include_pitch, exclude_pitch, pitch_temp)),
            any(v is not None for v in (min_time, max_time, rhythm_temp, timing_temp)),
            any(v is not None for v in (min_vel, max_vel, velocity_temp)))
        inst_allowed = (None if next_inst is not None else _allowed(
            self.instrument_domain, START_INSTRUMENT, include_inst, exclude_inst, "inst"))
        pitch_allowed = (None if next_pitch is not None else _allowed(
            self.pitch_domain, self.pitch_start, include_pitch, exclude_pitch, "pitch"))

        def draw(m: int, params: torch.Tensor) -> float:
            if m == 0:
                return _categorical(params, inst_allowed, instrument_temp)
            if m == 1:
                return _categorical(params, pitch_allowed, pitch_temp)
            if m == 2:
                return float(self.time_dist.sample(
                    params, -math.inf if min_time is None else min_time,
                    math.inf if max_time is None else max_time, timing_temp, rhythm_temp))
            return float(self.vel_dist.sample(
                params, -math.inf if min_vel is None else min_vel,
                math.inf if max_vel is None else max_vel, velocity_temp))

        with torch.inference_mode():
            if self._context is None:
                self._context = self.h_proj.infer(self._h)
            context = self._context
            values: list[float | None] = list(fixed)
            for m, v in enumerate(fixed):
                if v is not None:
                    context = context + self._embed(m, v)
            order = ([m for m in range(N_MODALITIES) if fixed[m] is None and constrained[m]]
                     + [m for m in range(N_MODALITIES)
                        if fixed[m] is None and not constrained[m]])
            for k, m in enumerate(order):
                values[m] = draw(m, self.projections[m].infer(torch.tanh(context)))
                if k + 1 < len(order):
                    context = context + self._embed(m, values[m])
        return {"inst": int(values[0]), "pitch": int(values[1]),
                "time": float(values[2]), "vel": float(values[3])}

    def _embed(self, m: int, value) -> torch.Tensor:
        if m == 0:
            return self.instrument_emb.weight[int(value)]
        if m == 1:
            return self.pitch_emb.weight[int(value)]
        return (self.time_emb if m == 2 else self.vel_emb).infer(float(value))

    # --- training ----------------------------------------------------------------------

    def forward(self, instruments: torch.Tensor, pitches: torch.Tensor, times: torch.Tensor,
                velocities: torch.Tensor, ends: torch.Tensor,
                ar_mask: torch.Tensor | None = None) -> dict:
        """Teacher-forced log-likelihoods of batches [batch, time] (the official trainer's
        loss): each event's parts are predicted from the state before it plus a random
        subset of its other parts (every order a query may use is trained), and whether the
        previous event was the last. Returns {'<part>_log_probs': [batch, time - 1]}."""
        embs = (self.instrument_emb(instruments), self.pitch_emb(pitches),
                self.time_emb(times), self.vel_emb(velocities))
        x = sum(embs)
        start = tuple(t.expand(self.rnn.num_layers, x.shape[0], -1).contiguous()
                      for t in self.initial_state)
        h, _ = self.rnn(x, start)
        before = h[:, :-1]
        n = N_MODALITIES
        if ar_mask is None:
            ar_mask = torch.randint(2, (*before.shape[:2], n, n), dtype=torch.bool)
            ar_mask &= ~torch.eye(n, dtype=torch.bool)
        ar_mask = torch.cat((ar_mask.new_ones(*ar_mask.shape[:-2], 1, n), ar_mask), -2).float()
        sources = torch.stack((self.h_proj(before), *(e[:, 1:] for e in embs)), -1)
        hidden = torch.tanh(sources @ ar_mask).unbind(-1)
        inst_p, pitch_p, time_p, vel_p = (p(x) for p, x in zip(self.projections, hidden))
        end_logits = F.log_softmax(self.end_proj(h[:, 1:]), -1)
        return {
            "instrument_log_probs": F.log_softmax(inst_p, -1).gather(
                -1, instruments[:, 1:, None])[..., 0],
            "pitch_log_probs": F.log_softmax(pitch_p, -1).gather(
                -1, pitches[:, 1:, None])[..., 0],
            "time_log_probs": self.time_dist(time_p, times[:, 1:])["log_prob"],
            "velocity_log_probs": self.vel_dist(vel_p, velocities[:, 1:])["log_prob"],
            "end_log_probs": end_logits.gather(-1, ends[:, 1:, None])[..., 0],
        }


# --- checkpoints -------------------------------------------------------------------------

def _safe_globals() -> list:
    """Exactly what a trainer checkpoint pickles besides tensors and plain containers:
    pathlib paths in kw (the trainer's folders) and numpy's RNG state (an ndarray of
    uint32) in random_state, under the names numpy 1 and 2 and Python 3.11-3.13 write."""
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    allowed: list = [pathlib.PosixPath, pathlib.PurePosixPath, np.ndarray, np.dtype,
                     reconstruct, (reconstruct, "numpy.core.multiarray._reconstruct"),
                     (reconstruct, "numpy._core.multiarray._reconstruct"),
                     (pathlib.PosixPath, "pathlib._local.PosixPath")]
    if hasattr(np, "dtypes"):  # numpy 1.25+ may name the RNG key's dtype by its class
        allowed.append(np.dtypes.UInt32DType)
    scalar_reconstruct = np.float64(0).__reduce__()[0]
    allowed += [(scalar_reconstruct, "numpy.core.multiarray.scalar"),
                (scalar_reconstruct, "numpy._core.multiarray.scalar")]
    return allowed


_OPTIONAL_KEYS = ("time_emb.fs", "vel_emb.fs", "time_dist.lo", "time_dist.hi",
                  "vel_dist.lo", "vel_dist.hi")


def load_notochord(path: str | Path) -> Notochord:
    """A Notochord from a trainer checkpoint, read without running any pickled code (only
    tensors, plain containers and the few types `_safe_globals` names), ready to feed.

    Buffers the constructor already fixes (the sine frequencies, the distributions'
    bounds) and the running state (reset sets it) may be absent, as the official loader
    tolerates; every weight must be there with its shape."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise HootError(f"no Notochord checkpoint at {path}: give the path of a .pt/.ckpt "
                        "file, or make hoot's own with models/train_notochord.py.")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise HootError(f"{path} holds Python objects a Notochord checkpoint never has "
                        f"({first[:120]}); hoot does not run them: use a notochord trainer "
                        "checkpoint.") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, AttributeError,
            TypeError, KeyError, IndexError, ImportError, NotImplementedError) as e:
        raise HootError(f"{path} is not a readable torch checkpoint ({type(e).__name__}): "
                        "give a notochord trainer checkpoint (.pt/.ckpt).") from None
    if not (isinstance(ckpt, dict) and isinstance(ckpt.get("kw"), dict)
            and isinstance(ckpt["kw"].get("model"), dict)
            and isinstance(ckpt.get("model_state"), dict)):
        raise HootError(f"{path} is a torch file but not a Notochord trainer checkpoint "
                        "(it lacks kw['model'] and model_state).")
    try:
        model = Notochord(**ckpt["kw"]["model"])
    except TypeError as e:
        raise HootError(f"{path} asks for a Notochord hoot cannot build ({e}).") from None
    state = ckpt["model_state"]
    missing = set(model.state_dict()) - set(state)
    unexpected = set(state) - set(model.state_dict())
    missing -= set(_OPTIONAL_KEYS) | set(model._state_names())
    if missing:
        raise HootError(f"{path} is not a Notochord of the shape its kw['model'] says: "
                        f"{len(missing)} weight{'s' * (len(missing) > 1)} missing "
                        f"(e.g. {', '.join(sorted(missing)[:3])}"
                        f"{'; and ' + str(len(unexpected)) + ' unknown' if unexpected else ''}).")
    # keys this Notochord has no place for are left out, as the official loader leaves them
    # (strict=False): a checkpoint from another version may carry a buffer more
    state = {k: v for k, v in state.items() if k not in unexpected}
    try:
        model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        raise HootError(f"{path} has weights of the wrong shape for its kw['model'] "
                        f"({str(e).splitlines()[-1].strip()[:120]}).") from None
    hoot = ckpt["kw"].get("hoot", {})
    model.hoot_meta = dict(hoot) if isinstance(hoot, dict) else {}
    model.ignored = tuple(sorted(unexpected))  # what the file had that this model has not
    model.eval()
    model.reset()
    return model


def save_trainer_checkpoint(model: Notochord, path: str | Path, *,
                            kw_extra: dict | None = None, step: tuple = (0, 0, 0)) -> None:
    """Write the official trainer's dict: kw (kw['model'] the constructor arguments, plus
    kw_extra, e.g. {'hoot': {...}}), model_state, step (exposure, iteration, epoch) and
    random_state (python, numpy, torch RNG states). The optimizer state is left out: it
    would triple the file and only resuming a run needs it."""
    kw = {"model": dict(model.kw), **(kw_extra or {})}
    torch.save({
        "kw": kw,
        "model_state": model.state_dict(),
        "step": tuple(step),
        "random_state": (random.getstate(), np.random.get_state(), torch.get_rng_state()),
    }, Path(path))
