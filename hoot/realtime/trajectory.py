"""Latent paths on the engine's grid: where a drone's latent goes, frame by frame, and the
walk an echo's controls take. numpy only, deterministic with a seed.

A RAVE latent is trained towards a unit gaussian prior, so every size here is in its
standard deviations: the walk stays within BOUND (2.5: 99% of the prior), the vibe moves
its dims by up to VIBE (1.5) each way, the LFO by LFO_DEPTH (1.0).

Time is the engine's samples. `Grid` holds the clock facts perf sends (the beat period,
the next phrase boundary's sample, beats per phrase and per bar); a frame evaluated at
sample s sees:

- the walk: z moves towards a target (time constant GLIDE_S, 2 s) plus a gaussian step of
  walk * STEP_PER_S per square-root second (a Brownian path whose spread does not depend
  on the frame rate: 375 frames a second at ratio 128, 23 at 2048). Its target is drawn
  at the start (spread walk * TARGET) and, with change="phrase", again at every phrase
  boundary: the first frame whose sample is at or after the boundary takes it, so a frame
  that starts on the boundary changes there exactly.
- the LFO: a sine of `lfo` beats per cycle whose phase is counted from the last phrase
  boundary, so its cycle restarts on the grid even when it does not divide the phrase.
- the vibe: energy and brightness (0..1, 0.5 neutral) on the dims the model documents.

A model whose latent means something (hoot's own: pitch, loudness, periodicity, timbre)
says so in its hoot.json "roles": {"pitch": {"dim": 0, "ref": 60} (octaves from MIDI note
`ref`), "energy": {"dim": 1, "center": 0.8}, "brightness": {"dim": 3, "sign": -1},
"centers": {"2": 0.8}} (a role may also scale its dim's walk and LFO, "walk", and how far
the vibe moves it, "vibe"). Then the drone is a note, not a glide through every pitch: the
pitch dim is never walked, it holds the key's tonic low (G2..F#3), and with
change="phrase" each boundary may move it to the fifth or the octave; `centers` (and a
role's "center") are where the walk of a dim is centred.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

BOUND = 2.5  # the walk stays within this many prior standard deviations
STEP_PER_S = 1.2  # the walk's gaussian step per square-root second, at walk = 1
TARGET = 1.5  # spread of a new target, at walk = 1
GLIDE_S = 2.0  # the walk reaches 63% of the way to its target in this long
VIBE = 1.5  # energy or brightness 0 / 1 move their dim this far down / up
LFO_DEPTH = 1.0  # the LFO's swing on the energy dim
DIMS = {"energy": 0, "brightness": 1}  # until the model documents its own
DRONE_LOW = 43  # a pitched drone's tonic sits from G2 (MIDI 43) up to F#3
TONES = (0, 0, 7, 12)  # what a phrase boundary may move it to: the tonic (twice as likely),
# the fifth, the octave


@dataclass(frozen=True)
class Roles:
    """What a model's hoot.json "roles" say (see the module docstring)."""

    pitch: int | None = None  # the dim holding pitch, in octaves from MIDI note `ref`
    ref: float = 60.0
    signs: tuple[tuple[str, float], ...] = ()  # ("brightness", -1.0): up is down
    centers: tuple[tuple[int, float], ...] = ()  # (dim, value): where a dim's walk is centred
    scales: tuple[tuple[int, float], ...] = ()  # (dim, factor) on its walk and LFO
    vibes: tuple[tuple[str, float], ...] = ()  # ("energy", 0.5): the vibe moves it this far


def read_roles(roles: dict[str, Any] | None, latent: int) -> tuple[Roles, dict[str, int]]:
    """Roles from a model's "roles" entry, and the energy and brightness dims it names."""
    roles = roles if isinstance(roles, dict) else {}

    def dim(entry: Any) -> int | None:
        value = entry.get("dim") if isinstance(entry, dict) else entry
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < latent:
            return int(value)
        return None

    named = {name: d for name in DIMS if (d := dim(roles.get(name))) is not None}
    centers: dict[int, float] = {}
    signs, scales, vibes = [], [], []
    for name in ("energy", "brightness"):
        entry = roles.get(name)
        if isinstance(entry, dict) and name in named:
            if isinstance(entry.get("center"), int | float):
                centers[named[name]] = float(entry["center"])
            if entry.get("sign") in (-1, 1):
                signs.append((name, float(entry["sign"])))
            if isinstance(entry.get("walk"), int | float):
                scales.append((named[name], float(entry["walk"])))
            if isinstance(entry.get("vibe"), int | float):
                vibes.append((name, float(entry["vibe"])))
    for key, value in (roles.get("centers") or {}).items():
        d = dim(int(key)) if str(key).isdigit() else None
        if d is not None and isinstance(value, int | float):
            centers[d] = float(value)
    pitch = roles.get("pitch")
    ref = pitch.get("ref", 60.0) if isinstance(pitch, dict) else 60.0
    return Roles(dim(pitch), float(ref), tuple(signs), tuple(centers.items()), tuple(scales),
                 tuple(vibes)), named  # fmt: skip


@dataclass(frozen=True)
class Grid:
    """The engine's beat grid in samples, from perf's clock facts."""

    samplerate: int
    beat_s: float = 0.5
    phrase_sample: int = 0  # a phrase boundary (the next one when perf sent it)
    phrase_beats: float = 16.0
    bar_beats: float = 4.0

    @classmethod
    def from_facts(cls, facts: dict[str, Any] | None, samplerate: int) -> Grid:
        """perf._clock_facts' dict (beat_s, phrase_sample, phrase_beats; bar_beats when it
        carries it, else 4); no facts: 120 bpm from sample 0."""
        facts = facts or {}
        return cls(
            samplerate=int(samplerate),
            beat_s=float(facts.get("beat_s") or 0.5),
            phrase_sample=int(facts.get("phrase_sample") or 0),
            phrase_beats=float(facts.get("phrase_beats") or 16.0),
            bar_beats=float(facts.get("bar_beats") or 4.0),
        )

    @property
    def beat(self) -> float:
        """Samples per beat."""
        return self.beat_s * self.samplerate

    @property
    def phrase(self) -> float:
        """Samples per phrase."""
        return self.beat * self.phrase_beats

    def boundary(self, k: int) -> int:
        """The k-th phrase boundary from the one perf named (k may be negative)."""
        return round(self.phrase_sample + k * self.phrase)

    def next_phrase(self, s: int) -> int:
        """The first phrase boundary at or after `s`, never before the one perf named (the
        phrase length given is the one from that boundary on)."""
        k = max(0, math.ceil((s - self.phrase_sample) / self.phrase - 1e-9))
        while self.boundary(k) < s:
            k += 1
        return self.boundary(k)

    def last_phrase(self, s: float) -> int:
        """The latest phrase boundary at or before `s` (counted back past perf's too)."""
        k = math.floor((s - self.phrase_sample) / self.phrase + 1e-9)
        while self.boundary(k) > s:
            k -= 1
        return self.boundary(k)

    def bars(self, n: float) -> int:
        """`n` bars in samples."""
        return round(n * self.bar_beats * self.beat)


def read_dims(dims: dict[str, Any] | None) -> dict[str, int]:
    """The energy and brightness dims from a model's "dims" entry ({"energy": 0, ...} or
    {"energy": {"dim": 0, ...}, ...}); DIMS where it names none."""
    found = dict(DIMS)
    for name in DIMS:
        value = (dims or {}).get(name)
        if isinstance(value, dict):
            value = value.get("dim")
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[name] = int(value)
    return found


class Trajectory:
    """Latent frames for a model of `latent` dims, evaluated in order (frames() continues
    where the last call ended; chunking does not change the path)."""

    def __init__(self, latent: int, grid: Grid, *, seed: int = 0, walk: float = 0.3,
                 lfo: float | None = None, change: str | None = "phrase",
                 energy: float = 0.5, brightness: float = 0.5,
                 dims: dict[str, Any] | None = None, roles: dict[str, Any] | None = None,
                 key: str | None = None) -> None:  # fmt: skip
        self.latent = int(latent)
        self.grid = grid
        self.roles, named = read_roles(roles, self.latent)
        found = {**read_dims(dims), **named}
        self.dims = {k: min(max(v, 0), self.latent - 1) for k, v in found.items()}
        self.signs, self.vibes = dict(self.roles.signs), dict(self.roles.vibes)
        self.centers, self.scales = np.zeros(self.latent), np.ones(self.latent)
        for d, value in self.roles.centers:
            self.centers[d] = value
        for d, value in self.roles.scales:
            self.scales[d] = value
        self.walk, self.lfo, self.change = 0.0, None, None
        self.energy, self.brightness = 0.5, 0.5
        self.tonic, self.tone = 0, 0  # the key's tonic (pitch class); the tone above it
        self.set(walk=walk, lfo=lfo, change=change, energy=energy, brightness=brightness,
                 key=key)  # fmt: skip
        self._steps = np.random.default_rng([seed, 0])
        self._targets = np.random.default_rng([seed, 1])
        self._tones = np.random.default_rng([seed, 2])
        self._spread = self._targets.standard_normal(self.latent)  # unit target, scaled by walk
        self.z = np.zeros(self.latent)
        self.last: float | None = None  # the sample of the last frame evaluated
        self.changes: list[int] = []  # the boundaries at which the target changed

    def set(self, **settings: Any) -> None:
        """Change walk, lfo, change, energy or brightness from the next frame on."""
        if "walk" in settings:
            self.walk = min(max(float(settings["walk"]), 0.0), 1.0)
        if "lfo" in settings:
            lfo = settings["lfo"]
            self.lfo = float(lfo) if lfo else None
        if "change" in settings:
            self.change = settings["change"] or None
        for name in ("energy", "brightness"):
            if name in settings:
                setattr(self, name, min(max(float(settings[name]), 0.0), 1.0))
        if settings.get("key"):
            from hoot.music.harmony import Key

            self.tonic = Key.parse(settings["key"]).tonic

    @property
    def pitch(self) -> float | None:
        """The pitch dim's value now (octaves from the model's reference note), or None
        when the model has no pitch dim."""
        if self.roles.pitch is None:
            return None
        midi = DRONE_LOW + (self.tonic - DRONE_LOW) % 12 + self.tone
        return (midi - self.roles.ref) / 12.0

    def retime(self, grid: Grid) -> None:
        """A new tempo or phrase grid, from the next frame on."""
        self.grid = grid

    @property
    def target(self) -> np.ndarray:
        return self._spread * self.walk * TARGET

    def frames(self, s0: float, count: int, hop: float) -> np.ndarray:
        """`count` frames, frame k at engine sample s0 + k * hop: (latent, count) float32."""
        out = np.empty((self.latent, count), np.float32)
        hop_s = hop / self.grid.samplerate
        glide = 1.0 - math.exp(-hop_s / GLIDE_S)
        step = STEP_PER_S * math.sqrt(hop_s)
        for k in range(count):
            s = s0 + k * hop
            if self.change == "phrase" and self.last is not None:
                b = self.grid.next_phrase(math.floor(self.last) + 1)
                if b <= s:
                    self._spread = self._targets.standard_normal(self.latent)
                    self.tone = int(self._tones.choice(TONES))
                    self.changes.append(b)
            self.last = s
            noise = self._steps.standard_normal(self.latent)
            self.z += (self.target - self.z) * glide + noise * (self.walk * step)
            np.clip(self.z, -BOUND, BOUND, out=self.z)
            out[:, k] = (self.z + self._sway(s)) * self.scales + self.centers + self._vibe()
            if self.roles.pitch is not None:  # a note: held, never walked or swayed
                out[self.roles.pitch, k] = self.pitch
        return out

    def _vibe(self) -> np.ndarray:
        """The vibe's energy and brightness on their dims (VIBE each way, or the role's)."""
        shape = np.zeros(self.latent)
        for name in ("energy", "brightness"):
            reach = self.vibes.get(name, VIBE) * self.signs.get(name, 1.0)
            shape[self.dims[name]] += (getattr(self, name) - 0.5) * 2.0 * reach
        return shape

    def _sway(self, s: float) -> np.ndarray:
        """The LFO at sample s, on the energy dim."""
        shape = np.zeros(self.latent)
        shape[self.dims["energy"]] = LFO_DEPTH * math.sin(2.0 * math.pi * self.phase(s))
        return shape

    def phase(self, s: float) -> float:
        """The LFO's phase (0..1) at sample s: 0 on every phrase boundary; 0 without an LFO."""
        if not self.lfo:
            return 0.0
        since = s - self.grid.last_phrase(s)
        return (since / (self.grid.beat * self.lfo)) % 1.0
