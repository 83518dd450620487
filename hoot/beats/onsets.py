"""The causal onset envelope: what the beat tracker hears, 100 frames a second.

Every hop (samplerate / 100: 480 samples at 48 kHz) one frame is made from the window of
1024 samples (21 ms at 48 kHz) that *ends* at the hop's last sample, so a frame never sees
audio after its own time. Its magnitude spectrum is folded into 12 log-spaced bands an
octave from 30 Hz up, compressed as log(1 + 100 x) and differenced against the previous
frame: the positive part of that difference (spectral flux) rises where a note or a hit
begins. Three groups of bands are kept apart, because drums spread over them unevenly:

- low (< 200 Hz): kick and bass (and below 120 Hz alone, under a snare's body, the bar
  counter's cue: the bar's "one" usually lands on the kick);
- mid (200 Hz - 5 kHz): snare body, keys, voice, brass;
- high (> 5 kHz): hats and cymbals, often the loudest part of a mix on the off-beat.

Each group's flux is divided by its own running mean (about 3 s), so a hat that is louder
than the kick cannot drown the kick's rhythm, and a clip at -30 dBFS looks like one at
-3 dBFS: the spectrum itself is also scaled by a running peak of the level (instant
attack, 10 s release) before the log. Frames below -70 dBFS are silent (no flux at all).

A chord's pitch classes (chroma, 55 Hz - 2 kHz) are summed between beats, for the bar
counter's harmonic-change cue.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

FRAMES_PER_SECOND = 100
SILENCE_DB = -70.0  # frame RMS below this is silence: no onsets, the beat is not heard
LOW_HZ = 200.0
SUB_HZ = 120.0  # under a snare's body (about 190 Hz): the bar counter's kick
HIGH_HZ = 5000.0
MEAN_SECONDS = 3.0  # the running mean each band group is divided by
RELEASE_SECONDS = 10.0  # how fast the level reference falls after the music gets quieter
FLUX_FLOOR = 0.001  # a group's running mean never counts as smaller than this
LOG_SCALE = 1.0  # log(1 + LOG_SCALE x): near-linear, so a loud hit outweighs a soft chord


class Hops:
    """The framing both the onset envelope and the beat network hear through: blocks of
    mono audio in (any size), and at the end of every hop (samplerate / 100 samples) the
    window of `size` samples that ends there, with the music's peak level (instant attack,
    RELEASE_SECONDS release) and whether the window is silent (RMS under SILENCE_DB)."""

    def __init__(self, samplerate: int, seconds: float) -> None:
        self.samplerate = samplerate
        self.hop = max(1, round(samplerate / FRAMES_PER_SECOND))
        self.fps = samplerate / self.hop
        self.size = 1 << int(np.ceil(np.log2(samplerate * seconds)))
        self._release = np.exp(-1.0 / (RELEASE_SECONDS * self.fps))
        self._silence = 10 ** (SILENCE_DB / 20)
        self.reset()

    def reset(self) -> None:
        self._buffer = np.zeros(self.size, dtype=np.float64)
        self._incoming = np.zeros(self.hop, dtype=np.float64)  # this hop's samples so far
        self._pending = 0  # samples since the last hop
        self.level = 0.0

    def feed(self, mono: np.ndarray) -> Iterator[tuple[np.ndarray, bool]]:
        """(window, silent) at each hop this block completes; the window is the framer's
        own buffer, good until the next one."""
        at, n = 0, len(mono)
        while at < n:
            take = min(self.hop - self._pending, n - at)
            self._incoming[self._pending : self._pending + take] = mono[at : at + take]
            self._pending += take
            at += take
            if self._pending == self.hop:
                self._pending = 0
                x = self._buffer  # the window slides once a hop, not once a block
                x[: -self.hop] = x[self.hop :]
                x[-self.hop :] = self._incoming
                rms = float(np.sqrt(np.add.reduce(x * x) / self.size))
                self.level = max(rms, self.level * self._release)
                yield x, rms < self._silence


@dataclass(frozen=True)
class Frame:
    """One hop's worth of hearing: flux per band group, normalised (about 1 on average)."""

    low: float
    mid: float
    high: float
    silent: bool
    sub: float = 0.0  # the flux below SUB_HZ alone (kick and bass fundamentals)


class OnsetEnvelope:
    """Turns blocks of mono audio into Frames, one per hop, causally and block-size free."""

    def __init__(self, samplerate: int) -> None:
        self.samplerate = samplerate
        self._hops = Hops(samplerate, 0.021)
        self.hop, self.fps, self.size = self._hops.hop, self._hops.fps, self._hops.size
        self._window = np.hanning(self.size).astype(np.float64)
        freqs = np.fft.rfftfreq(self.size, 1.0 / samplerate)
        self._bands, self._group, centres = _bands(freqs)
        self._sub = int(np.count_nonzero(centres < SUB_HZ))  # the lowest bands, in order
        # the bands and the pitch classes in one product (rows: bands, then 12 classes)
        self._fold = np.vstack((self._bands, _chroma_matrix(freqs)))
        self._spectrum = np.empty(self.size // 2 + 1, dtype=np.complex128)
        self._mean_decay = np.exp(-1.0 / (MEAN_SECONDS * self.fps))
        self.reset()

    def reset(self) -> None:
        self._hops.reset()
        self._quiet = np.zeros(len(self._group))  # the bands of silence
        self._previous: np.ndarray | None = None
        self._means = np.full(4, FLUX_FLOOR)
        self._flux = np.zeros(4)
        self.span_chroma = np.zeros(12)

    def take_chroma(self) -> np.ndarray:
        """The pitch classes summed since the last call (the bar counter calls it per beat)."""
        chroma, self.span_chroma = self.span_chroma, np.zeros(12)
        return chroma

    def feed(self, mono: np.ndarray) -> list[Frame]:
        """The frames completed by this block of mono samples (float)."""
        return [self._frame(x, silent) for x, silent in self._hops.feed(mono)]

    def _frame(self, x: np.ndarray, silent: bool) -> Frame:
        if silent:
            self._previous = self._quiet
            return Frame(0.0, 0.0, 0.0, True)
        spectrum = np.abs(np.fft.rfft(x * self._window, out=self._spectrum))
        folded = self._fold @ (spectrum / (self.size * self._hops.level))
        self.span_chroma += folded[-12:]
        bands = np.log1p(LOG_SCALE * folded[:-12])
        previous, self._previous = self._previous, bands
        if previous is None:
            return Frame(0.0, 0.0, 0.0, False)
        rise = np.maximum(bands - previous, 0.0)
        flux = self._flux
        flux[:3] = np.bincount(self._group, weights=rise, minlength=3)
        flux[3] = rise[: self._sub].sum()
        self._means = np.maximum(
            self._means * self._mean_decay + flux * (1.0 - self._mean_decay), FLUX_FLOOR
        )
        low, mid, high, sub = flux / self._means
        return Frame(float(low), float(mid), float(high), False, float(sub))


def _bands(freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A (bands, bins) matrix of 12-a-octave bands from 30 Hz (a band is at least one bin
    wide, so the lowest ones are single bins), each band's group (0 low, 1 mid, 2 high) and
    its centre (Hz)."""
    top = min(16000.0, freqs[-1])
    edges = 30.0 * 2.0 ** (np.arange(0, np.log2(top / 30.0) * 12 + 1) / 12)
    bins = np.unique(np.searchsorted(freqs, edges))
    rows, centres = [], []
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        row = np.zeros(len(freqs))
        row[lo:hi] = 1.0
        rows.append(row)
        centres.append(freqs[lo:hi].mean())
    centres = np.array(centres)
    group = np.where(centres < LOW_HZ, 0, np.where(centres < HIGH_HZ, 1, 2))
    return np.array(rows), group, centres


def _chroma_matrix(freqs: np.ndarray) -> np.ndarray:
    """(12, bins): each bin from 55 Hz to 2 kHz to its nearest pitch class."""
    matrix = np.zeros((12, len(freqs)))
    for i, f in enumerate(freqs):
        if 55.0 <= f <= 2000.0:
            matrix[round(12 * np.log2(f / 440.0)) % 12, i] = 1.0
    return matrix
