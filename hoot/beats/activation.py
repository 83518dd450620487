"""The learned beat activation: how likely it is, frame by frame, that a beat (and a bar's
"one") is sounding now, from what has been heard so far.

A hand-made onset envelope (onsets.py) hears *that* something started; whether it was a
beat is a musical question: in funk and hip hop the loudest hits fall on the 16ths around the
beat, in a one-drop the kick is on 3, a bass and keys duo has no drums at all. A small
recurrent network, trained by hoot on its own seeded grooves (models/train_beats.py, the
"train" split of benchmarks/beatset.py, whose seeds and pattern variants the evaluation
split never sees), learns which onsets are beats from the rhythm around them.

Input, 100 frames a second, causally: the window of 2048 samples at 44.1/48 kHz (about
43 ms; the next power of two above 42 ms at other rates) that *ends* at the hop's last
sample, its magnitude spectrum scaled by the music's recent peak level (instant attack, 10 s
release, as onsets.py does, so -30 dBFS looks like -3 dBFS), folded into BANDS log-spaced
bands from 30 Hz to 16 kHz (six an octave; a band narrower than a bin takes its nearest bin;
bands above the Nyquist frequency stay 0), compressed as log(1 + 10 x), and the positive
part of each band's rise since the previous frame: 2 x BANDS numbers, standardised by the
training set's means and deviations. Silent frames (below -70 dBFS) are all zeros.

The network: two GRU layers (torch.nn.GRU's equations, run here in numpy: torch never loads
in the tracker) and a linear layer to two sigmoids, P(beat) and P(downbeat), trained to
fire LAG frames after the beat (a hit needs a couple of frames of the window to be heard);
`delay` says how many seconds the activation lags the music, for the tracker to take off.

The weights are `models/beats-hoot.npz`, read with allow_pickle=False (no code runs). About
22 us a frame here (numpy's overhead, not arithmetic), 0.2 % of one core.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from hoot.beats.onsets import Hops
from hoot.errors import HootError

EMBEDDED = Path(__file__).resolve().parent.parent.parent / "models" / "beats-hoot.npz"
LOW_HZ, HIGH_HZ = 30.0, 16000.0
PER_OCTAVE = 6
BANDS = int(np.floor(np.log2(HIGH_HZ / LOW_HZ) * PER_OCTAVE))  # 54
COMPRESS = 10.0


class Features:
    """Blocks of mono audio in, one feature vector per hop out (block-size free)."""

    def __init__(self, samplerate: int) -> None:
        self.samplerate = samplerate
        self._hops = Hops(samplerate, 0.042)
        self.hop, self.fps, self.size = self._hops.hop, self._hops.fps, self._hops.size
        self._window = np.hanning(self.size)
        bank = filterbank(np.fft.rfftfreq(self.size, 1.0 / samplerate))
        self._bins = int(np.flatnonzero(bank.any(axis=0)).max()) + 1  # bins above 16 kHz: 0
        self._bank = np.ascontiguousarray(bank[:, : self._bins])
        self._spectrum = np.empty(self.size // 2 + 1, dtype=np.complex128)
        self.reset()

    @property
    def width(self) -> int:
        return 2 * BANDS

    def reset(self) -> None:
        self._hops.reset()
        self._previous = np.zeros(BANDS)

    def feed(self, mono: np.ndarray) -> list[tuple[np.ndarray, bool]]:
        """The frames this block completed: (feature vector, silent) each; a silent frame's
        vector is zeros."""
        return [self._frame(x, silent) for x, silent in self._hops.feed(mono)]

    def _frame(self, x: np.ndarray, silent: bool) -> tuple[np.ndarray, bool]:
        if silent:
            self._previous = np.zeros(BANDS)
            return np.zeros(2 * BANDS), True
        spectrum = np.fft.rfft(x * self._window, out=self._spectrum)[: self._bins]
        spectrum = np.abs(spectrum) / (self.size * self._hops.level)
        bands = np.log1p(COMPRESS * (self._bank @ spectrum))
        rise = np.maximum(bands - self._previous, 0.0)
        self._previous = bands
        return np.concatenate((bands, rise)), False


def filterbank(freqs: np.ndarray) -> np.ndarray:
    """(BANDS, bins): each band sums its bins; one narrower than a bin takes the nearest
    bin; a band above the top bin is empty (zeros)."""
    edges = LOW_HZ * 2.0 ** (np.arange(BANDS + 1) / PER_OCTAVE)
    bank = np.zeros((BANDS, len(freqs)))
    for b in range(BANDS):
        lo, hi = edges[b], edges[b + 1]
        if lo > freqs[-1]:
            continue
        inside = (freqs >= lo) & (freqs < hi)
        if inside.any():
            bank[b, inside] = 1.0
        else:
            bank[b, int(np.argmin(np.abs(freqs - np.sqrt(lo * hi))))] = 1.0
    return bank


class Network:
    """The GRU stack and its output layer, one frame at a time."""

    def __init__(self, weights: dict[str, np.ndarray], meta: dict) -> None:
        self.meta = meta
        self.mean = weights["input_mean"]
        self.scale = 1.0 / np.maximum(weights["input_std"], 1e-6)
        self.layers = []
        layer = 0
        while f"gru.weight_ih_l{layer}" in weights:
            w_ih = weights[f"gru.weight_ih_l{layer}"]
            w_hh = weights[f"gru.weight_hh_l{layer}"]
            b_ih = weights[f"gru.bias_ih_l{layer}"]
            b_hh = weights[f"gru.bias_hh_l{layer}"]
            self.layers.append((w_ih, w_hh, b_ih, b_hh))
            layer += 1
        if not self.layers:
            raise HootError("the beat model has no GRU layers")
        self.out_w = weights["out.weight"]
        self.out_b = weights["out.bias"]
        self.reset()

    def reset(self) -> None:
        self.h = [np.zeros(w_hh.shape[1]) for _, w_hh, _, _ in self.layers]

    def step(self, x: np.ndarray) -> tuple[float, float]:
        """One frame's (P(beat), P(downbeat))."""
        x = (x - self.mean) * self.scale
        for i, (w_ih, w_hh, b_ih, b_hh) in enumerate(self.layers):
            h = self.h[i]
            n = len(h)
            gi = w_ih @ x + b_ih
            gh = w_hh @ h + b_hh
            rz = 1.0 / (1.0 + np.exp(-(gi[: 2 * n] + gh[: 2 * n])))
            cand = np.tanh(gi[2 * n :] + rz[:n] * gh[2 * n :])
            z = rz[n:]
            h = cand + z * (h - cand)
            self.h[i] = h
            x = h
        out = 1.0 / (1.0 + np.exp(-(self.out_w @ x + self.out_b)))
        return float(out[0]), float(out[1])


def load(path: Path | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """The weights and metadata of a beat model (.npz, no pickles)."""
    path = Path(path) if path is not None else EMBEDDED
    try:
        with np.load(path, allow_pickle=False) as data:
            weights = {k: np.asarray(data[k], dtype=np.float64) for k in data.files if k != "meta"}
            meta = json.loads(bytes(data["meta"]).decode()) if "meta" in data.files else {}
    except FileNotFoundError:
        raise HootError(f"no beat model at {path}") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise HootError(f"cannot read the beat model {path}: {e}") from None
    needed = ("input_mean", "input_std", "out.weight", "out.bias", "gru.weight_ih_l0")
    missing = [k for k in needed if k not in weights]
    if missing:
        raise HootError(f"the beat model {path} lacks {', '.join(missing)}")
    return weights, meta


_CACHE: dict[str, tuple[dict[str, np.ndarray], dict]] = {}


class BeatActivation:
    """Audio in, (P(beat), P(downbeat), silent) per frame out. The network hears silent
    frames too (as zeros, as in training), so its sense of time runs on through them."""

    def __init__(self, samplerate: int, path: Path | None = None) -> None:
        key = str(path or EMBEDDED)
        if key not in _CACHE:
            _CACHE[key] = load(path)
        weights, meta = _CACHE[key]
        self.features = Features(samplerate)
        if weights["input_mean"].shape != (self.features.width,):
            raise HootError(
                f"the beat model takes {weights['input_mean'].shape[0]} features a frame, "
                f"this hoot makes {self.features.width}"
            )
        self.network = Network(weights, meta)
        self.fps = self.features.fps
        lag = int(meta.get("lag_frames", 0))
        # seconds from a beat to the frame the activation marks it in: the trained lag, from
        # the hop that holds the beat's time (the window ends at the hop's end)
        self.delay = lag / self.fps

    def reset(self) -> None:
        self.features.reset()
        self.network.reset()

    def feed(self, mono: np.ndarray) -> list[tuple[float, float, bool]]:
        return [(*self.network.step(x), silent) for x, silent in self.features.feed(mono)]
