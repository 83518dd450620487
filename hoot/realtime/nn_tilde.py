"""TorchScript modules with exactly the nn~ interface, built here for tests and benchmarks.

A RAVE model reaches hoot as a `.ts` file exported for nn~ (acids-ircam's Max/Pd external):
TorchScript whose methods `encode` [B, n_channels, T] -> [B, latent, T/ratio] and `decode`
[B, latent, T/ratio] -> [B, target_channels, T] are described by int buffers
`<method>_params = [in_channels, in_ratio, out_channels, out_ratio]`, with attributes `sr`,
`latent_size`, `full_latent_size`, `n_channels`, `target_channels` and exported
`get_methods()`, `get_attributes()`, `get_sample_rate()`, `set_stereo_mode(bool)`.
Streaming models keep their convolutions' left context in buffers between calls ("cached"
convolutions), so calling block by block equals one call on the whole signal.

This module writes such files from our own code (RAVE, nn_tilde and cached_conv are
CC BY-NC; we read them to learn the interface, nothing is copied), so hoot's adapter
(hoot.realtime.rave) is tested without downloads against every property it relies on:

    identity  encode packs each `ratio` samples into the latent exactly, decode unpacks:
              output == input to the sample, no algorithmic delay (latent >= ratio*channels)
    conv      cached causal convolutions with random weights: block by block == one shot
    raise     identity whose decode raises RuntimeError after `fail_after` calls
    v2        RAVE-v2-sized (our reading of its config: 16 bands, CAPACITY 96, RATIOS
              [4, 4, 4, 2] -> ratio 2048, residual units of dilations 1, 3, 9 at widths 96 to
              768, a 1536-wide bottleneck, latent 128 of which 16 are exposed (its fidelity
              cut), about 36 M parameters, random weights): what a published model costs

Batch 1 streams (the caches hold one signal); nn~ runs batch 1 too for one instrument.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

KINDS = ("identity", "conv", "raise", "v2")
V2_RATIOS = (4, 4, 4, 2)
V2_BANDS = 16
V2_CAPACITY = 96
V2_DILATIONS = (1, 3, 9)
V2_LATENT, V2_FULL_LATENT = 16, 128


class CachedPad(nn.Module):
    """The last `size` samples of the previous call, put before this call's: a causal
    convolution's left context that survives block edges."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.size = size
        self.register_buffer("cache", torch.zeros(1, channels, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return x
        x = torch.cat([self.cache.expand(x.shape[0], -1, -1), x], -1)
        self.cache.copy_(x[:1, :, x.shape[-1] - self.size :])
        return x


class CausalConv(nn.Module):
    """A convolution that sees only the past: T samples in, T/stride out, streaming."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.pad = CachedPad(c_in, (kernel - 1) * dilation + 1 - stride)
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pad(x))


class Upsample(nn.Module):
    """One frame in, `ratio` samples out: a causal convolution to ratio*c_out channels,
    each frame's channels laid out in time (a 1-D pixel shuffle)."""

    def __init__(self, c_in: int, c_out: int, ratio: int, kernel: int = 3):
        super().__init__()
        self.ratio, self.c_out = ratio, c_out
        self.conv = CausalConv(c_in, c_out * ratio, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        b, frames = y.shape[0], y.shape[-1]
        y = y.reshape(b, self.c_out, self.ratio, frames).permute(0, 1, 3, 2)
        return y.reshape(b, self.c_out, frames * self.ratio)


class Residual(nn.Module):
    """x + 1x1(act(dilated conv(act(x)))): RAVE-v2's dilated unit, causal."""

    def __init__(self, width: int, dilation: int):
        super().__init__()
        self.conv = CausalConv(width, width, 3, dilation=dilation)
        self.mix = nn.Conv1d(width, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(nn.functional.leaky_relu(x, 0.2))
        return x + self.mix(nn.functional.leaky_relu(y, 0.2))


class Interface(nn.Module):
    """What every nn~ model carries: the params buffers, attributes and exported queries."""

    def __init__(self, sr: int, channels_in: int, channels_out: int, ratio: int, latent: int,
                 full_latent: int):  # fmt: skip
        super().__init__()
        self.sr = sr
        self.latent_size = latent
        self.full_latent_size = full_latent
        self.n_channels = channels_in
        self.target_channels = channels_out
        self.stereo = False
        self._methods = ["encode", "decode", "forward"]
        self._attributes = torch.jit.Attribute([], list[str])
        self.register_buffer("encode_params", torch.tensor([channels_in, 1, latent, ratio]))
        self.register_buffer("decode_params", torch.tensor([latent, ratio, channels_out, 1]))
        self.register_buffer("forward_params", torch.tensor([channels_in, 1, channels_out, 1]))
        self.encode_input_labels = [f"(signal) channel {c + 1}" for c in range(channels_in)]
        self.encode_output_labels = [f"(signal) latent {d + 1}" for d in range(latent)]
        self.decode_input_labels = self.encode_output_labels
        self.decode_output_labels = [f"(signal) channel {c + 1}" for c in range(channels_out)]
        self.forward_input_labels = self.encode_input_labels
        self.forward_output_labels = self.decode_output_labels

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
    def set_stereo_mode(self, stereo: bool) -> None:
        self.stereo = stereo

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class Identity(Interface):
    def __init__(self, sr: int, channels: int, ratio: int, latent: int, fail_after: int = -1):
        if latent < ratio * channels:
            raise ValueError(f"identity needs latent >= ratio * channels ({ratio * channels})")
        super().__init__(sr, channels, channels, ratio, latent, latent)
        self.ratio, self.channels = ratio, channels
        self.fail_after, self.calls = fail_after, 0

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        b, frames = x.shape[0], x.shape[-1] // self.ratio
        z = x.reshape(b, self.channels, frames, self.ratio).permute(0, 1, 3, 2)
        z = z.reshape(b, self.channels * self.ratio, frames)
        spare = self.latent_size - self.channels * self.ratio
        return torch.cat([z, torch.zeros(b, spare, frames)], 1)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.fail_after >= 0 and self.calls > self.fail_after:
            raise RuntimeError("this test model's decode fails on purpose")
        b, frames = z.shape[0], z.shape[-1]
        x = z[:, : self.channels * self.ratio].reshape(b, self.channels, self.ratio, frames)
        return x.permute(0, 1, 3, 2).reshape(b, self.channels, frames * self.ratio)


class Conv(Interface):
    def __init__(self, sr: int, channels_in: int, channels_out: int, ratio: int, latent: int):
        super().__init__(sr, channels_in, channels_out, ratio, latent, latent)
        self.down = CausalConv(channels_in, latent, 2 * ratio, stride=ratio)
        self.context = CausalConv(latent, latent, 3)
        self.up = Upsample(latent, channels_out, ratio, kernel=2)
        self.smooth = CausalConv(channels_out, channels_out, 5)

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.context(self.down(x)))

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.smooth(self.up(z)))


class V2(Interface):
    def __init__(self, sr: int, channels_in: int, channels_out: int, latent: int,
                 full_latent: int):  # fmt: skip
        ratio = V2_BANDS
        for r in V2_RATIOS:
            ratio *= r
        super().__init__(sr, channels_in, channels_out, ratio, latent, full_latent)
        width = V2_CAPACITY
        encoder: list[nn.Module] = [
            CausalConv(channels_in, V2_BANDS, 8 * V2_BANDS, stride=V2_BANDS),  # the band split
            CausalConv(V2_BANDS, width, 7),
        ]
        for r in V2_RATIOS:
            encoder += [Residual(width, d) for d in V2_DILATIONS]
            encoder.append(CausalConv(width, 2 * width, 2 * r, stride=r))
            width *= 2
        encoder.append(CausalConv(width, 2 * full_latent, 3))  # mean and scale
        self.encoder = nn.Sequential(*encoder)
        self.pca = nn.Conv1d(full_latent, full_latent, 1, bias=False)
        decoder: list[nn.Module] = [CausalConv(full_latent, width, 3)]
        for r in reversed(V2_RATIOS):
            decoder.append(Upsample(width, width // 2, r))
            width //= 2
            decoder += [Residual(width, d) for d in V2_DILATIONS]
        decoder += [CausalConv(width, V2_BANDS, 7), Upsample(V2_BANDS, channels_out, V2_BANDS, 8)]
        self.decoder = nn.Sequential(*decoder)

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        mean = self.encoder(x)[:, : self.full_latent_size]
        return self.pca(mean)[:, : self.latent_size]

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        rest = torch.randn(z.shape[0], self.full_latent_size - self.latent_size, z.shape[-1])
        full = torch.cat([z, rest], 1)
        full = nn.functional.conv1d(full, self.pca.weight.transpose(0, 1))
        return torch.tanh(self.decoder(full))


def build(kind: str, path: str | Path, *, sr: int = 48000, channels_in: int = 1,
          channels_out: int = 1, ratio: int = 128, latent: int = 128, full_latent: int = 128,
          fail_after: int = 3, seed: int = 0, meta: dict | None = None) -> Path:  # fmt: skip
    """Script a module of `kind` (KINDS, see the module docstring) and save it at `path`,
    with `meta` as the JSON extra file "hoot.json" when given. "v2" has its own shape
    (ratio 2048, latent 16 of 128) and ignores `ratio`, `latent` and `full_latent`."""
    torch.manual_seed(seed)
    if kind in ("identity", "raise"):
        if channels_in != channels_out:
            raise ValueError("an identity model has as many channels out as in")
        module: Interface = Identity(sr, channels_in, ratio, latent,
                                     fail_after if kind == "raise" else -1)  # fmt: skip
    elif kind == "conv":
        module = Conv(sr, channels_in, channels_out, ratio, latent)
    elif kind == "v2":
        module = V2(sr, channels_in, channels_out, V2_LATENT, V2_FULL_LATENT)
    else:
        raise ValueError(f"no test model kind {kind!r}; kinds: {', '.join(KINDS)}")
    module.eval()
    path = Path(path)
    extra = {"hoot.json": json.dumps(meta)} if meta is not None else {}
    with warnings.catch_warnings():  # torch 2.13 calls TorchScript deprecated; nn~ reads it
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(module), str(path), _extra_files=extra)
    return path
