"""hoot's embedded timbre model: a small causal pitch/loudness autoencoder with a harmonic
oscillator bank (DDSP-flavoured, BRAVE-sized latency), in the nn~ TorchScript interface.

Why this design (models/README.md says more): one CPU hour is too little for a waveform
VAE to learn a timbre, but a decoder that only has to say "how loud is each harmonic and
each noise band now" learns it in minutes, and pitch and loudness computed in the graph
make the latent dims mean something a drone can walk.

    encode  x [B, 1, T] -> z [B, 5, T/128]        (T a multiple of RATIO = 128: 2.7 ms)
        dim 0  pitch: octaves from middle C (261.6 Hz); causal YIN over the last 2,048
               samples (42.7 ms), held through silence and noise
        dim 1  loudness: (dB RMS of the last 512 samples + 40) / 20 (0: -40 dBFS)
        dim 2  periodicity: 2 * (1 - YIN's dip) - 1 (1: a clean tone, -1: noise)
        dims 3, 4  timbre: learned (a VAE pair, about N(0, 1)) from a 32-band log-mel
               shape of the last 1,024 samples, loudness removed
    decode  z [B, 5, F] -> y [B, 1, F * 128]
        causal dilated convolutions over latent frames (each sees the last 31 frames,
        83 ms) -> the level of 64 harmonics and 16 noise bands per frame; the
        oscillators run on a phase kept between calls, levels ramp linearly from the
        previous frame's to this frame's over its 128 samples; noise is a looped table of
        band-limited noise read at a position kept between calls.

Streaming: every call continues the last (the encoder's last 1,920 input samples, the
held pitch, each convolution's last frames, the phase, the previous frame's levels, the
noise position), so calling block by block gives exactly the one-shot result. No
lookahead: frame f's output samples depend on input up to the end of frame f, so the only
algorithmic latency is one frame (128 samples) of buffering.
"""

import math

import torch
from torch import Tensor, nn

SR = 48000
RATIO = 128
WINDOW = 2048  # YIN window: the longest period tracked (TAU_MAX) plus the integration span
TAU_MIN, TAU_MAX = 20, 960  # 2,400 Hz .. 50 Hz
SPAN = WINDOW - TAU_MAX  # YIN integration span, 1,088 samples
NFFT = 2048  # enough: the lags used (j + tau <= 1087 + 960 = 2047) never wrap
LOUD_N = 512
MEL_N = 1024
N_MELS = 32
N_HARM = 64
N_NOISE = 16
NOISE_LEN = 16384
TIMBRE = 2
LATENT = 3 + TIMBRE
HIDDEN = 192
CHANNELS = 128
KERNEL = 3
DILATIONS = (1, 2, 4, 8)
YIN_THRESHOLD = 0.2
VOICING = 0.5  # a frame whose YIN dip is below this updates the held pitch
MIDDLE_C = 261.6256


def mel_bank(
    n_fft: int = MEL_N, n_mels: int = N_MELS, lo: float = 40.0, hi: float = 16000.0
) -> Tensor:
    """Triangular mel filters [n_fft // 2 + 1, n_mels]."""

    def mel(f: float) -> float:
        return 2595.0 * math.log10(1.0 + f / 700.0)

    edges = torch.linspace(mel(lo), mel(hi), n_mels + 2)
    hz = 700.0 * (10.0 ** (edges / 2595.0) - 1.0)
    bins = torch.fft.rfftfreq(n_fft, 1.0 / SR)
    bank = torch.zeros(bins.numel(), n_mels)
    for m in range(n_mels):
        a, b, c = hz[m], hz[m + 1], hz[m + 2]
        up = (bins - a) / (b - a)
        down = (c - bins) / (c - b)
        bank[:, m] = torch.clamp(torch.minimum(up, down), min=0.0)
    return bank / bank.sum(0, keepdim=True).clamp(min=1e-8)


def noise_table(seed: int = 7) -> Tensor:
    """N_NOISE looped noises [N_NOISE, NOISE_LEN], each band-limited to one of 16 log-spaced
    bands (40 Hz - 24 kHz) and of unit RMS; circular, so the loop has no seam."""
    g = torch.Generator().manual_seed(seed)
    white = torch.randn(NOISE_LEN, generator=g)
    spec = torch.fft.rfft(white)
    freqs = torch.fft.rfftfreq(NOISE_LEN, 1.0 / SR)
    edges = torch.logspace(math.log10(40.0), math.log10(SR / 2), N_NOISE + 1)
    edges[0] = 0.0
    bands = []
    for b in range(N_NOISE):
        mask = (freqs >= edges[b]) & (freqs < edges[b + 1] + (1.0 if b == N_NOISE - 1 else 0.0))
        x = torch.fft.irfft(spec * mask, n=NOISE_LEN)
        bands.append(x / x.pow(2).mean().sqrt().clamp(min=1e-8))
    return torch.stack(bands)


def scale_fn(x: Tensor) -> Tensor:
    """DDSP's positive gain: 2 * sigmoid(x) ** ln(10) + 1e-7."""
    return 2.0 * torch.sigmoid(x) ** 2.302585093 + 1e-7


class Analysis(nn.Module):
    """The encoder's fixed part: pitch, loudness, periodicity and a mel shape per frame, from
    windows that end at each frame's last sample (no lookahead)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mel", mel_bank())
        self.register_buffer("hann", torch.hann_window(MEL_N))
        self.register_buffer("taus", torch.arange(TAU_MIN - 1, TAU_MAX + 1, dtype=torch.float32))
        self.span, self.tau_min, self.tau_max, self.nfft = SPAN, TAU_MIN, TAU_MAX, NFFT
        self.loud_n, self.mel_n, self.threshold, self.sr = LOUD_N, MEL_N, YIN_THRESHOLD, float(SR)
        self.voicing = VOICING

    def forward(self, windows: Tensor) -> list[Tensor]:
        """windows [N, WINDOW] -> f0 Hz [N], voiced [N] bool, loudness dB [N],
        periodicity [N], log-mel shape [N, N_MELS]."""
        x = windows
        a = x[:, : self.span]
        r = torch.fft.irfft(
            torch.fft.rfft(x, self.nfft) * torch.conj(torch.fft.rfft(a, self.nfft)), self.nfft
        )[:, : self.tau_max + 1]
        c = torch.nn.functional.pad(torch.cumsum(x * x, dim=1), (1, 0))
        energy = c[:, self.span : self.span + self.tau_max + 1] - c[:, : self.tau_max + 1]
        d = (energy[:, :1] + energy - 2.0 * r).clamp(min=0.0)[:, 1:]
        tau = torch.arange(1, self.tau_max + 1, dtype=x.dtype, device=x.device)
        cmnd = d * tau / (torch.cumsum(d, dim=1) + 1e-7)  # cmnd[:, k] is lag k + 1
        span = cmnd[:, self.tau_min - 2 : self.tau_max]  # lags self.tau_min - 1 .. self.tau_max
        mid = span[:, 1:-1]
        dip = (mid < self.threshold) & (mid <= span[:, :-2]) & (mid <= span[:, 2:])
        first = torch.argmax(dip.to(torch.int32), dim=1)
        best = torch.argmin(mid, dim=1)
        k = torch.where(dip.any(dim=1), first, best) + 1  # index into span
        left = span.gather(1, (k - 1).unsqueeze(1)).squeeze(1)
        here = span.gather(1, k.unsqueeze(1)).squeeze(1)
        right = span.gather(1, (k + 1).unsqueeze(1)).squeeze(1)
        curve = left - 2.0 * here + right
        shift = torch.where(
            curve > 1e-6, 0.5 * (left - right) / curve.clamp(min=1e-6), torch.zeros_like(curve)
        )
        lag = self.taus[k] + shift.clamp(-0.5, 0.5)
        f0 = self.sr / lag
        periodicity = (1.0 - here).clamp(0.0, 1.0)
        loud = 10.0 * torch.log10(x[:, -self.loud_n :].pow(2).mean(dim=1) + 1e-10)
        voiced = (here < self.voicing) & (loud > -60.0)
        spec = torch.fft.rfft(x[:, -self.mel_n :] * self.hann).abs()
        logmel = torch.log(spec @ self.mel + 1e-6)
        shape = logmel - logmel.mean(dim=1, keepdim=True)
        return [f0, voiced, loud, periodicity, shape]


class TimbreEncoder(nn.Module):
    """mel shape [.., N_MELS] -> mean and log-variance of the learned timbre dims."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shape_mean", torch.zeros(N_MELS))
        self.register_buffer("shape_std", torch.ones(N_MELS))
        self.net = nn.Sequential(
            nn.Linear(N_MELS, 64), nn.LeakyReLU(0.1), nn.Linear(64, 2 * TIMBRE)
        )
        self.n = TIMBRE

    def forward(self, shape: Tensor) -> list[Tensor]:
        out = self.net((shape - self.shape_mean) / self.shape_std)
        return [out[..., : self.n], out[..., self.n :].clamp(-8.0, 4.0)]


def latent_from(f0_held: Tensor, loud: Tensor, periodicity: Tensor, timbre: Tensor) -> Tensor:
    """The documented latent [.., LATENT] from held f0 Hz, loudness dB, periodicity, timbre."""
    pitch = torch.log2(f0_held / 261.6256)  # MIDDLE_C
    level = (loud.clamp(min=-100.0) + 40.0) / 20.0
    per = 2.0 * periodicity - 1.0
    return torch.cat([pitch.unsqueeze(-1), level.unsqueeze(-1), per.unsqueeze(-1), timbre], dim=-1)


class CausalConv(nn.Module):
    """A frame-rate Conv1d padded on the left only; in streaming mode the left context is
    the previous call's last frames (kept as a buffer), so calls chain exactly."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, KERNEL, dilation=dilation)
        self.pad = (KERNEL - 1) * dilation
        self.dilation, self.kernel = dilation, KERNEL
        self.stream = False
        self.register_buffer("cache", torch.zeros(1, channels, self.pad))
        self.register_buffer("folded", torch.zeros(0), persistent=False)
        self.register_buffer("folded_bias", torch.zeros(0), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if not self.stream:
            xx = torch.nn.functional.pad(x, (self.pad, 0))
            return torch.nn.functional.conv1d(
                xx, self.conv.weight, self.conv.bias, dilation=self.dilation
            )
        if self.cache.shape[0] != x.shape[0]:
            self.cache = torch.zeros(x.shape[0], x.shape[1], self.pad)
        xx = torch.cat([self.cache, x], dim=2)
        self.cache = xx[:, :, xx.shape[2] - self.pad :]
        # streaming: the taps side by side and one matmul with the folded weights: torch's
        # dilated Conv1d takes a slow path on CPU (0.4 ms a call at one frame, most of a
        # 128-sample block's budget)
        f = x.shape[2]
        taps = torch.cat(
            [xx[:, :, k * self.dilation : k * self.dilation + f] for k in range(self.kernel)], 1
        )
        return torch.matmul(self.folded, taps) + self.folded_bias

    def fold(self) -> None:
        """Freeze the weights for streaming: [out, kernel * in] and [out, 1]."""
        w = self.conv.weight.detach()
        self.folded = w.permute(0, 2, 1).reshape(w.shape[0], -1).contiguous()
        bias = self.conv.bias
        assert bias is not None
        self.folded_bias = bias.detach().unsqueeze(1).clone()

    def reset(self) -> None:
        self.cache = torch.zeros_like(self.cache)


class Decoder(nn.Module):
    """latent frames -> per-frame harmonic levels [.., N_HARM] and noise levels [.., N_NOISE],
    through causal dilated convolutions over frames (dilations 1, 2, 4, 8: each frame sees
    the 31 frames up to it, 83 ms), which train in parallel where a GRU would not."""

    def __init__(self) -> None:
        super().__init__()
        self.pre = nn.Sequential(nn.Linear(LATENT, CHANNELS), nn.LeakyReLU(0.1))
        self.convs = nn.ModuleList([CausalConv(CHANNELS, d) for d in DILATIONS])
        self.post = nn.Sequential(
            nn.Linear(CHANNELS + LATENT, HIDDEN),
            nn.LeakyReLU(0.1),
            nn.Linear(HIDDEN, 1 + N_HARM + N_NOISE),
        )
        self.n_harm, self.nyquist, self.middle_c = N_HARM, SR / 2 - 200.0, MIDDLE_C

    def forward(self, z: Tensor) -> list[Tensor]:
        """z [B, F, LATENT] -> harmonic levels [B, F, N_HARM], noise levels [B, F, N_NOISE]."""
        h = self.pre(z).transpose(1, 2)
        for conv in self.convs:
            h = h + torch.nn.functional.leaky_relu(conv(h), 0.1)
        o = self.post(torch.cat([h.transpose(1, 2), z], dim=-1))
        f0 = self.middle_c * torch.pow(2.0, z[..., 0])
        k = torch.arange(1, self.n_harm + 1, dtype=z.dtype, device=z.device)
        audible = (f0.unsqueeze(-1) * k < self.nyquist).to(z.dtype)
        dist = torch.softmax(o[..., 1 : 1 + self.n_harm], dim=-1) * audible
        dist = dist / dist.sum(dim=-1, keepdim=True).clamp(min=1e-7)
        harm = scale_fn(o[..., :1]) * dist
        noise = 0.02 * scale_fn(o[..., 1 + self.n_harm :] - 5.0)
        return [harm, noise]

    def stream(self, on: bool) -> None:
        for conv in self.convs:
            conv.stream = on


class Synth(nn.Module):
    """Frames -> audio: the harmonic bank on a running phase plus band noise."""

    def __init__(self) -> None:
        super().__init__()
        self.ratio, self.n_harm, self.n_noise, self.noise_len = RATIO, N_HARM, N_NOISE, NOISE_LEN
        self.step = 2.0 * math.pi / SR

    def forward(
        self,
        f0: Tensor,
        harm: Tensor,
        noise: Tensor,
        phase: Tensor,
        f0_prev: Tensor,
        harm_prev: Tensor,
        noise_prev: Tensor,
        table: Tensor,
        pos: Tensor,
    ) -> list[Tensor]:
        """f0 [B, F] Hz, harm [B, F, N_HARM], noise [B, F, N_NOISE]; phase [B] (radians,
        before the first sample), *_prev: the frame before the first (levels ramp from it
        to each frame's over its RATIO samples), table [NOISE_LEN, N_NOISE] (the noise
        bands side by side), pos [B] int64: the noise table position.
        Returns audio [B, F * RATIO] and the phase after the last sample."""
        b, f = f0.shape[0], f0.shape[1]
        r = self.ratio
        ramp = (torch.arange(r, dtype=f0.dtype, device=f0.device) + 1.0) / r
        f0_a = torch.cat([f0_prev.unsqueeze(1), f0[:, :-1]], dim=1)
        freq = (f0_a.unsqueeze(-1) + (f0 - f0_a).unsqueeze(-1) * ramp).reshape(b, f * r)
        run = phase.to(torch.float64).unsqueeze(1) + torch.cumsum(
            freq.to(torch.float64) * self.step, dim=1
        )
        run = torch.remainder(run, 2.0 * math.pi)
        k = torch.arange(1, self.n_harm + 1, dtype=f0.dtype, device=f0.device)
        s = torch.sin(run.to(f0.dtype).reshape(b, f, r, 1) * k)  # [B, F, R, H]
        # each sample's level ramps from the previous frame's (a) by the frame's change (d):
        # one batched matmul gives sum_k s_k * a_k and sum_k s_k * d_k side by side
        h_a = torch.cat([harm_prev.unsqueeze(1), harm[:, :-1]], dim=1)
        both = torch.matmul(s, torch.stack([h_a, harm - h_a], dim=-1))  # [B, F, R, 2]
        tone = both[..., 0] + ramp * both[..., 1]
        idx = (pos.unsqueeze(1) + torch.arange(f * r, device=f0.device)) % self.noise_len  # [B, N]
        nz = table[idx].reshape(b, f, r, self.n_noise)
        n_a = torch.cat([noise_prev.unsqueeze(1), noise[:, :-1]], dim=1)
        both = torch.matmul(nz, torch.stack([n_a, noise - n_a], dim=-1))
        hiss = both[..., 0] + ramp * both[..., 1]
        return [(tone + hiss).reshape(b, f * r), run[:, -1].to(f0.dtype)]


class HootRave(nn.Module):
    """The trainable whole: Analysis (fixed), TimbreEncoder, Decoder, synthesis."""

    def __init__(self) -> None:
        super().__init__()
        self.analysis = Analysis()
        self.timbre = TimbreEncoder()
        self.decoder = Decoder()
        self.synth = Synth()
        self.register_buffer("table", noise_table())


class Scripted(nn.Module):
    """The exported module: the nn~ interface (encode / decode / forward with *_params
    buffers, sr, latent_size, full_latent_size, n_channels, target_channels, get_methods,
    get_attributes, get_sample_rate) around a trained HootRave, with streaming state."""

    sr: int
    latent_size: int
    full_latent_size: int
    n_channels: int
    target_channels: int

    def __init__(self, model: HootRave) -> None:
        super().__init__()
        self.analysis = model.analysis
        self.timbre = model.timbre
        self.decoder = model.decoder
        self.decoder.stream(True)
        self.synth = model.synth
        self.register_buffer("table", model.table.t().contiguous())  # [NOISE_LEN, N_NOISE]
        for conv in self.decoder.convs:
            conv.fold()
        self.sr = SR
        self.latent_size = LATENT
        self.full_latent_size = LATENT
        self.n_channels = 1
        self.target_channels = 1
        self.register_buffer("encode_params", torch.tensor([1, 1, LATENT, RATIO]))
        self.register_buffer("decode_params", torch.tensor([LATENT, RATIO, 1, 1]))
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))
        self._methods = ["encode", "decode", "forward"]
        self.ratio, self.window, self.n_harm, self.n_noise = RATIO, WINDOW, N_HARM, N_NOISE
        self.noise_len, self.n_mels, self.middle_c, self.top = (
            NOISE_LEN,
            N_MELS,
            MIDDLE_C,
            SR / 2 - 200.0,
        )
        self._attributes = torch.jit.Attribute([], list[str])
        # streaming state (batch 1 until a call with another batch size resets it)
        self.register_buffer("past", torch.zeros(1, WINDOW - RATIO))
        self.register_buffer("held", torch.full((1,), MIDDLE_C / 2))
        self.register_buffer("phase", torch.zeros(1))
        self.register_buffer("f0_prev", torch.full((1,), MIDDLE_C / 2))
        self.register_buffer("harm_prev", torch.zeros(1, N_HARM))
        self.register_buffer("noise_prev", torch.zeros(1, N_NOISE))
        self.register_buffer("pos", torch.zeros(1, dtype=torch.long))

    @torch.jit.export
    def get_methods(self) -> list[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> list[str]:
        return self._attributes

    @torch.jit.export
    def get_sample_rate(self) -> int:
        return self.sr

    @torch.jit.export
    def reset(self) -> None:
        """Silence in every cache (a new stream). New tensors, not in-place fills: a host
        that streamed under torch.inference_mode holds inference tensors, which may not
        be written in place outside it."""
        self.past = torch.zeros_like(self.past)
        self.held = torch.full_like(self.held, self.middle_c / 2)
        for conv in self.decoder.convs:
            conv.reset()
        self.phase = torch.zeros_like(self.phase)
        self.f0_prev = torch.full_like(self.f0_prev, self.middle_c / 2)
        self.harm_prev = torch.zeros_like(self.harm_prev)
        self.noise_prev = torch.zeros_like(self.noise_prev)
        self.pos = torch.zeros_like(self.pos)

    def _batch(self, b: int) -> None:
        if self.past.shape[0] != b:
            self.past = torch.zeros(b, self.window - self.ratio)
            self.held = torch.full((b,), self.middle_c / 2)
        if self.phase.shape[0] != b:
            self.phase = torch.zeros(b)
            self.f0_prev = torch.full((b,), self.middle_c / 2)
            self.harm_prev = torch.zeros(b, self.n_harm)
            self.noise_prev = torch.zeros(b, self.n_noise)
            self.pos = torch.zeros(b, dtype=torch.long)

    def analyse(self, x: Tensor) -> list[Tensor]:
        """x [B, 1, T] -> held f0 Hz [B, F], loudness dB [B, F], periodicity [B, F], mel
        shape [B, F, self.n_mels]; advances the encoder's state."""
        b = x.shape[0]
        if self.past.shape[0] != b:
            self.past = torch.zeros(b, self.window - self.ratio)
            self.held = torch.full((b,), self.middle_c / 2)
        f = x.shape[2] // self.ratio
        xx = torch.cat([self.past, x[:, 0, : f * self.ratio]], dim=1)
        self.past = xx[:, xx.shape[1] - (self.window - self.ratio) :]
        windows = xx.unfold(1, self.window, self.ratio).reshape(b * f, self.window)
        a = self.analysis(windows)
        f0, voiced, loud, per, shape = a[0], a[1], a[2], a[3], a[4]
        f0 = f0.reshape(b, f)
        voiced = voiced.reshape(b, f)
        idx = torch.where(
            voiced, torch.arange(f).expand(b, f), torch.full((b, f), -1, dtype=torch.long)
        )
        last = torch.cummax(idx, dim=1)[0]
        held = torch.where(
            last >= 0, f0.gather(1, last.clamp(min=0)), self.held.unsqueeze(1).expand(b, f)
        )
        self.held = held[:, -1].clone()
        return [held, loud.reshape(b, f), per.reshape(b, f), shape.reshape(b, f, self.n_mels)]

    @torch.jit.export
    def encode(self, x: Tensor) -> Tensor:
        """x [B, 1, T] -> z [B, LATENT, T // RATIO]; a tail short of a frame is dropped (nn~
        hosts send whole frames)."""
        if x.shape[2] < self.ratio:
            return torch.zeros(x.shape[0], self.latent_size, 0)
        a = self.analyse(x)
        mu = self.timbre(a[3])[0]
        return latent_from(a[0], a[1], a[2], mu).transpose(1, 2)

    @torch.jit.export
    def decode(self, z: Tensor) -> Tensor:
        b = z.shape[0]
        if z.shape[2] == 0:
            return torch.zeros(b, 1, 0)
        self._batch(b)
        zt = z.transpose(1, 2)
        d = self.decoder(zt)
        harm, noise = d[0], d[1]
        f0 = self.middle_c * torch.pow(2.0, zt[..., 0]).clamp(max=self.top)
        out = self.synth(
            f0,
            harm,
            noise,
            self.phase,
            self.f0_prev,
            self.harm_prev,
            self.noise_prev,
            self.table,
            self.pos,
        )
        self.phase = out[1]
        self.f0_prev = f0[:, -1].clone()
        self.harm_prev = harm[:, -1].clone()
        self.noise_prev = noise[:, -1].clone()
        self.pos = (self.pos + zt.shape[1] * self.ratio) % self.noise_len
        return out[0].unsqueeze(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))
