"""The drum kits: synthesised one-shots, the GM drum map, and mixing a pattern of hits.

Each drum is synthesised once per (drum, velocity bucket, brightness, variant, sample
rate) and cached, so a pattern is a sum of shifted copies. Three variants (different
noise) keep repeated hits from sounding machine-gun identical. "kit" reads pitches as
the General MIDI drum map; "perc_kit" plays the same notes on hand percussion.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hoot.generate.render.envelopes import pan_gains, velocity_gain
from hoot.generate.render.filters import band_limit, band_pass, high_pass, low_pass
from hoot.generate.render.notes import Notes, Setting, mix_into
from hoot.generate.render.oscillators import hz

_VELOCITY_BUCKETS = 8
_BRIGHTNESS_STEPS = 20
_VARIANTS = 3
"""Each drum has this many takes (different noise), so repeated hits are not
machine-gun identical."""


def _noise(rng: np.random.Generator, length: int) -> np.ndarray:
    return rng.standard_normal(length)


def _time(seconds: float, sr: int) -> np.ndarray:
    return np.arange(round(seconds * sr)) / sr


def _decay(t: np.ndarray, tau: float) -> np.ndarray:
    return np.exp(-t / tau)


def _sweep_sine(t: np.ndarray, start: float, end: float, tau: float) -> np.ndarray:
    """Sine gliding exponentially from `start` to `end` Hz (a drum head settling)."""
    cycles = end * t + (start - end) * tau * (1.0 - np.exp(-t / tau))
    return np.sin(2.0 * np.pi * cycles)


def _metal(t: np.ndarray, freqs: tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    """A cluster of square waves at inharmonic frequencies: the cymbal and cowbell source."""
    phases = rng.random(len(freqs))
    return sum(np.sign(np.sin(2.0 * np.pi * (f * t + p))) for f, p in zip(freqs, phases))


_HAT_FREQS = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)
_CYMBAL_FREQS = (263.0, 400.0, 421.0, 474.0, 587.0, 845.0, 1141.0, 1293.0)


def _kick(v: float, b: float, rng: np.random.Generator, sr: int, deep: bool = False) -> np.ndarray:
    ring = 0.16 if deep else 0.12  # about 300 ms to -25 dB (a little longer for 35)
    t = _time(7.0 * ring, sr)
    floor = 41.0 if deep else 45.0
    body = _sweep_sine(t, 150.0 + 40.0 * v, floor, 0.035)
    body *= 0.75 * _decay(t, ring) + 0.25 * _decay(t, 0.03)
    body = np.tanh(1.8 * body) / math.tanh(1.8)
    click = band_pass(_noise(rng, t.size), 1500.0, 6000.0 + 6000.0 * b, sr)
    click *= _decay(t, 0.0015) * (0.15 + 0.35 * b) * (0.4 + 0.6 * v)
    return body + click


def _snare(
    v: float, b: float, rng: np.random.Generator, sr: int, tight: bool = False
) -> np.ndarray:
    t = _time(0.7, sr)
    tone = _sweep_sine(t, 215.0, 185.0, 0.02) * _decay(t, 0.07)
    tone += 0.5 * _sweep_sine(t, 360.0, 330.0, 0.015) * _decay(t, 0.04)
    rattle = band_pass(_noise(rng, t.size), 1500.0, 7000.0 + 6000.0 * b, sr)
    rattle *= _decay(t, 0.12 if tight else 0.16)
    rattle /= np.abs(rattle).max()
    return 0.6 * tone + (0.55 + 0.35 * v) * rattle


def _clap(v: float, b: float, rng: np.random.Generator, sr: int) -> np.ndarray:
    t = _time(0.8, sr)
    hits = np.zeros(t.size)
    for k in range(4):
        at = 0.0095 * k + rng.uniform(-0.0015, 0.0015) if k else 0.0
        hits += np.where(t >= at, _decay(np.maximum(t - at, 0.0), 0.004), 0.0)
    tail = np.where(t >= 0.028, _decay(np.maximum(t - 0.028, 0.0), 0.11), 0.0)
    source = band_pass(_noise(rng, t.size), 850.0, 3200.0 + 2500.0 * b, sr)
    return source * (hits + 0.8 * tail) * (0.8 + 0.2 * v)


def _hat(v: float, b: float, rng: np.random.Generator, sr: int, hold: float) -> np.ndarray:
    t = _time(max(0.15, hold * 7.0), sr)
    source = 0.6 * _metal(t, _HAT_FREQS, rng) + 0.8 * _noise(rng, t.size)
    source = high_pass(source, 6500.0 if hold < 0.05 else 5500.0, sr, order=4)
    source = low_pass(source, 10000.0 + 7000.0 * b + 2000.0 * v, sr)
    return source * _decay(t, hold)


def _cymbal(v: float, b: float, rng: np.random.Generator, sr: int, hold: float) -> np.ndarray:
    t = _time(hold * 7.0, sr)
    source = _metal(t, _CYMBAL_FREQS, rng) + 1.2 * _noise(rng, t.size)
    source = band_pass(source, 3500.0, 12000.0 + 6000.0 * b, sr)
    shimmer = high_pass(_noise(rng, t.size), 9000.0, sr) * _decay(t, hold * 0.4)
    return (source + 0.5 * shimmer) * _decay(t, hold)


def _ride(v: float, b: float, rng: np.random.Generator, sr: int, bell: bool = False) -> np.ndarray:
    t = _time(3.5, sr)
    partials = (760.0, 1530.0, 2840.0, 4300.0) if bell else (530.0, 1480.0, 2680.0, 3870.0)
    ping = sum(
        np.sin(2.0 * np.pi * f * t + rng.random() * 6.28) / (k + 1) for k, f in enumerate(partials)
    )
    ping *= _decay(t, 0.6 if bell else 0.35) * (1.0 if bell else 0.6)
    wash = high_pass(_metal(t, _CYMBAL_FREQS, rng) + _noise(rng, t.size), 5000.0, sr)
    wash = low_pass(wash, 11000.0 + 6000.0 * b, sr) * _decay(t, 0.5) * (0.2 if bell else 0.35)
    return ping + wash


def _membrane(
    v: float,
    b: float,
    rng: np.random.Generator,
    sr: int,
    freq: float,
    ring: float,
    slap: float = 0.2,
    bend: float = 1.08,
) -> np.ndarray:
    """A struck drum head: falling fundamental, an inharmonic overtone, a slap of noise."""
    t = _time(max(0.1, 7.0 * ring), sr)
    head = _sweep_sine(t, freq * bend, freq, 0.02) * _decay(t, ring)
    head += 0.3 * _sweep_sine(t, freq * 1.59 * bend, freq * 1.59, 0.015) * _decay(t, ring * 0.5)
    hit = band_pass(_noise(rng, t.size), 1500.0, 5000.0 + 4000.0 * b, sr) * _decay(t, 0.004)
    return head + slap * (0.6 + 0.4 * v) * hit / max(np.abs(hit).max(), 1e-9)


def _tom(v: float, b: float, rng: np.random.Generator, sr: int, freq: float) -> np.ndarray:
    ring = 0.18 + 0.1 * min(1.0, 82.0 / freq)
    t = _time(7.0 * ring, sr)
    head = _sweep_sine(t, freq * 1.6, freq, 0.05) * _decay(t, ring)
    thud = low_pass(_noise(rng, t.size), 2500.0 + 2500.0 * b, sr) * _decay(t, 0.01)
    return head + 0.25 * thud / max(np.abs(thud).max(), 1e-9)


def _bell(
    t: np.ndarray, partials: tuple[float, ...], ring: float, rng: np.random.Generator
) -> np.ndarray:
    return sum(
        np.sin(2.0 * np.pi * f * t + rng.random() * 6.28)
        * _decay(t, ring / (1.0 + 0.5 * k))
        / (k + 1)
        for k, f in enumerate(partials)
    )


_TRIANGLE_PARTIALS = (1250.0, 3400.0, 5100.0, 6800.0)


def _struck(
    v: float, b: float, rng: np.random.Generator, sr: int, partials: tuple[float, ...], ring: float
) -> np.ndarray:
    """Wood, metal and bells: a few inharmonic partials, higher ones dying sooner."""
    return _bell(_time(min(7.0 * ring + 0.05, 5.0), sr), partials, ring, rng)


def _cowbell(v: float, b: float, rng: np.random.Generator, sr: int) -> np.ndarray:
    t = _time(0.85, sr)
    tone = band_pass(_metal(t, (540.0, 800.0), rng), 600.0, 2500.0 + 1500.0 * b, sr)
    return tone * (0.6 * _decay(t, 0.012) + 0.4 * _decay(t, 0.12))


def _shaker(
    v: float, b: float, rng: np.random.Generator, sr: int, low: float, length: float
) -> np.ndarray:
    t = _time(length * 1.75 + 0.008, sr)
    grains = band_pass(_noise(rng, t.size), low, low * 2.2 + 3000.0 * b, sr)
    swell = np.minimum(t / 0.008, 1.0) * _decay(np.maximum(t - 0.008, 0.0), length / 4.0)
    return grains * swell


def _tambourine(v: float, b: float, rng: np.random.Generator, sr: int) -> np.ndarray:
    t = _time(0.65, sr)
    jingles = _bell(t, (5200.0, 6500.0, 7800.0, 9100.0, 11000.0), 0.09, rng)
    hiss = high_pass(_noise(rng, t.size), 6000.0 + 2000.0 * b, sr) * _decay(t, 0.05)
    return 0.5 * jingles + hiss


def _scrape(
    v: float, b: float, rng: np.random.Generator, sr: int, length: float, rate: float
) -> np.ndarray:
    """A train of short noise grains: guiro scrape, vibraslap rattle."""
    t = _time(length, sr)
    train = np.zeros(t.size)
    at = 0.0
    while at < length * 0.9:
        start = round(at * sr)
        train[start : start + round(0.003 * sr)] += 1.0
        at += 1.0 / rate * rng.uniform(0.85, 1.15)
    grains = band_pass(_noise(rng, t.size) * train, 1800.0, 5000.0 + 3000.0 * b, sr)
    return grains * _decay(t, length * 0.6)


def _whistle(v: float, b: float, rng: np.random.Generator, sr: int, length: float) -> np.ndarray:
    t = _time(length + 0.03, sr)
    # 2350 Hz with a fast 2 % trill: the pea rattling in the whistle.
    cycles = 2350.0 * t - 47.0 * np.cos(2.0 * np.pi * 28.0 * t) / (2.0 * np.pi * 28.0)
    tone = np.sin(2.0 * np.pi * cycles) + 0.15 * high_pass(_noise(rng, t.size), 3000.0, sr)
    gate = np.clip(np.minimum(t / 0.01, (length + 0.03 - t) / 0.02), 0.0, 1.0)
    return tone * gate


def _cuica(v: float, b: float, rng: np.random.Generator, sr: int, open_: bool) -> np.ndarray:
    length = 0.35 if open_ else 0.14
    t = _time(length, sr)
    glide = 480.0 + (430.0 * np.sin(np.pi * t / length) if open_ else 350.0 * t / length)
    cycles = np.cumsum(glide) / sr
    voice = np.tanh(2.5 * np.sin(2.0 * np.pi * cycles))
    return voice * np.sin(np.pi * np.minimum(t / length, 1.0)) ** 0.5


def _perc_kick(v: float, b: float, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Hand-drum bass tone (djembe/surdo-like): a low head with a soft thump."""
    t = _time(1.4, sr)
    head = _sweep_sine(t, 120.0, 88.0, 0.03) * _decay(t, 0.2)
    thump = low_pass(_noise(rng, t.size), 500.0, sr) * _decay(t, 0.01)
    return head + 0.4 * thump / max(np.abs(thump).max(), 1e-9)


@dataclass(frozen=True)
class Drum:
    """How one drum is made and placed."""

    make: Callable[[float, float, np.random.Generator, int], np.ndarray]
    level: float
    pan: float = 0.0
    send: float = 0.0
    choke: str | None = None


def _drum(make, level, pan=0.0, send=0.0, choke=None, **params) -> Drum:
    return Drum(functools.partial(make, **params) if params else make, level, pan, send, choke)


DRUMS: dict[str, Drum] = {
    "kick": _drum(_kick, 1.0),
    "kick_deep": _drum(_kick, 1.0, deep=True),
    "snare": _drum(_snare, 1.1, send=0.12),
    "snare_tight": _drum(_snare, 1.1, send=0.12, tight=True),
    "clap": _drum(_clap, 0.95, send=0.2),
    "rim": _drum(_membrane, 0.7, -0.1, 0.1, freq=1700.0, ring=0.007, slap=0.6, bend=1.0),
    "hat_closed": _drum(_hat, 0.42, 0.28, 0.03, "hat", hold=0.02),
    "hat_pedal": _drum(_hat, 0.31, 0.28, 0.03, "hat", hold=0.013),
    "hat_open": _drum(_hat, 0.33, 0.3, 0.05, "hat", hold=0.16),
    "crash": _drum(_cymbal, 0.36, -0.35, 0.08, hold=0.55),
    "china": _drum(_cymbal, 0.34, -0.45, 0.08, hold=0.4),
    "splash": _drum(_cymbal, 0.32, 0.4, 0.08, hold=0.2),
    "ride": _drum(_ride, 0.3, 0.35, 0.06),
    "ride_bell": _drum(_ride, 0.24, 0.35, 0.06, bell=True),
    "tambourine": _drum(_tambourine, 0.38, 0.45, 0.1),
    "cowbell": _drum(_cowbell, 0.5, -0.25, 0.1),
    "vibraslap": _drum(_scrape, 0.3, -0.3, 0.12, length=1.0, rate=28.0),
    "bongo_high": _drum(_membrane, 0.5, 0.35, 0.12, freq=420.0, ring=0.08, slap=0.3),
    "bongo_low": _drum(_membrane, 0.5, 0.2, 0.12, freq=310.0, ring=0.11, slap=0.3),
    "conga_mute": _drum(_membrane, 0.7, -0.2, 0.12, freq=300.0, ring=0.05, slap=0.5),
    "conga_open": _drum(_membrane, 0.38, -0.25, 0.12, freq=300.0, ring=0.22, slap=0.2),
    "conga_low": _drum(_membrane, 0.38, -0.35, 0.12, freq=210.0, ring=0.28, slap=0.2),
    "conga_slap": _drum(_membrane, 0.55, 0.0, 0.14, freq=330.0, ring=0.06, slap=0.9),
    "timbale_high": _drum(_membrane, 0.36, 0.25, 0.14, freq=410.0, ring=0.25, slap=0.4, bend=1.02),
    "timbale_low": _drum(_membrane, 0.36, 0.15, 0.14, freq=280.0, ring=0.25, slap=0.4, bend=1.02),
    "agogo_high": _drum(_struck, 0.3, -0.3, 0.12, partials=(920.0, 2540.0, 4970.0), ring=0.3),
    "agogo_low": _drum(_struck, 0.3, -0.15, 0.12, partials=(690.0, 1900.0, 3730.0), ring=0.3),
    "cabasa": _drum(_shaker, 0.42, 0.5, 0.08, low=3000.0, length=0.15),
    "maracas": _drum(_shaker, 0.42, 0.4, 0.08, low=4500.0, length=0.11),
    "whistle_short": _drum(_whistle, 0.13, 0.1, 0.15, length=0.1),
    "whistle_long": _drum(_whistle, 0.13, 0.1, 0.15, length=0.45),
    "guiro_short": _drum(_scrape, 0.38, -0.4, 0.1, length=0.18, rate=90.0),
    "guiro_long": _drum(_scrape, 0.38, -0.4, 0.1, length=0.45, rate=70.0),
    "claves": _drum(_struck, 0.35, 0.3, 0.12, partials=(2500.0, 6800.0), ring=0.03),
    "block_high": _drum(_struck, 0.35, -0.3, 0.1, partials=(1000.0, 2900.0), ring=0.035),
    "block_low": _drum(_struck, 0.35, -0.2, 0.1, partials=(760.0, 2200.0), ring=0.04),
    "cuica_mute": _drum(_cuica, 0.14, 0.2, 0.12, "cuica", open_=False),
    "cuica_open": _drum(_cuica, 0.14, 0.2, 0.12, "cuica", open_=True),
    "triangle_mute": _drum(
        _struck, 0.15, 0.5, 0.1, "triangle", partials=_TRIANGLE_PARTIALS, ring=0.04
    ),
    "triangle_open": _drum(
        _struck, 0.15, 0.5, 0.1, "triangle", partials=_TRIANGLE_PARTIALS, ring=0.7
    ),
    "perc_kick": _drum(_perc_kick, 0.9),
}
"""Every drum, by name: its synthesis, level, pan (-1 left .. 1 right), reverb send,
and choke group (a hit silences the still-ringing hits of its group: open hats)."""

_TOMS = {41: 82.0, 43: 98.0, 45: 110.0, 47: 131.0, 48: 147.0, 50: 175.0}

_GM_KIT: dict[int, str] = {
    35: "kick_deep", 36: "kick", 37: "rim", 38: "snare", 39: "clap", 40: "snare_tight",
    42: "hat_closed", 44: "hat_pedal", 46: "hat_open", 49: "crash", 51: "ride", 52: "china",
    53: "ride_bell", 54: "tambourine", 55: "splash", 56: "cowbell", 57: "crash", 58: "vibraslap",
    59: "ride", 60: "bongo_high", 61: "bongo_low", 62: "conga_mute", 63: "conga_open",
    64: "conga_low", 65: "timbale_high", 66: "timbale_low", 67: "agogo_high", 68: "agogo_low",
    69: "cabasa", 70: "maracas", 71: "whistle_short", 72: "whistle_long", 73: "guiro_short",
    74: "guiro_long", 75: "claves", 76: "block_high", 77: "block_low", 78: "cuica_mute",
    79: "cuica_open", 80: "triangle_mute", 81: "triangle_open",
}  # fmt: skip
"""GM drum notes to drums, for "kit" (toms are pitched separately)."""

_GM_PERC: dict[int, str] = {
    **_GM_KIT,
    35: "perc_kick", 36: "perc_kick", 37: "claves", 38: "conga_slap", 40: "conga_slap",
    41: "conga_low", 43: "conga_low", 45: "conga_open", 47: "conga_open", 48: "bongo_low",
    50: "bongo_high", 42: "maracas", 44: "cabasa", 46: "tambourine", 49: "tambourine",
    57: "tambourine", 52: "tambourine", 55: "tambourine", 51: "agogo_high", 59: "agogo_low",
    53: "cowbell",
}  # fmt: skip
"""For "perc_kit": a drum-kit pattern played on hand percussion (kicks on a low drum, hats
on shakers, toms on congas and bongos), so any drum clip can move to the perc kit."""


def _drum_for(kit: str, note: int) -> tuple[str, float | None]:
    """The drum a GM note plays on `kit` and, for toms and unmapped notes, their pitch in Hz."""
    table = _GM_PERC if kit == "perc_kit" else _GM_KIT
    if note in table:
        return table[note], None
    if note in _TOMS:
        return "tom", _TOMS[note]
    # Outside the GM map: a tom tuned to the note, so nothing is silently dropped.
    return "tom", float(np.clip(hz(note), 50.0, 1200.0))


@functools.lru_cache(maxsize=512)
def _shot(name: str, tuning: float, bucket: int, bright: int, variant: int, sr: int) -> np.ndarray:
    """One drum hit, float32 mono at peak 1, faded in over 0.3 ms and out to exactly 0,
    with nothing above 0.45 of the sample rate (`filters.band_limit`).

    Cached: a pattern reuses a handful of these. Velocity (bucket) and brightness shape the
    tone here; the hit's exact velocity scales its level when mixing.
    """
    velocity = (bucket + 0.5) / _VELOCITY_BUCKETS
    brightness = bright / _BRIGHTNESS_STEPS
    rng = np.random.default_rng([variant, bucket, bright, sr, round(tuning), sum(map(ord, name))])
    if name == "tom":
        audio = _tom(velocity, brightness, rng, sr, tuning)
    else:
        audio = DRUMS[name].make(velocity, brightness, rng, sr)
    audio = band_limit(np.asarray(audio, dtype=np.float64), sr)
    # Sounds are made long enough to ring out; what is 60 dB down is cut (with a fade),
    # so the mix does not spend time adding silence.
    audible = np.flatnonzero(np.abs(audio) > np.abs(audio).max() * 1e-3)
    fade_out = max(1, round(0.005 * sr))
    audio = audio[: min(audio.size, int(audible[-1]) + 1 + fade_out)]
    audio -= np.linspace(0.0, audio[-1], audio.size)  # end exactly at zero
    fade_in = max(1, round(0.0003 * sr))
    audio[:fade_in] *= np.linspace(0.0, 1.0, fade_in, endpoint=False)
    fade_out = min(audio.size, fade_out)
    audio[-fade_out:] *= np.linspace(1.0, 0.0, fade_out)
    audio /= max(float(np.abs(audio).max()), 1e-9)
    shot = audio.astype(np.float32)
    shot.setflags(write=False)
    return shot


def render_drums(notes: Notes, setting: Setting, kit: str) -> tuple[np.ndarray, np.ndarray]:
    """Mix cached one-shots: returns the dry stereo buffer and the mono reverb send."""
    sr = setting.samplerate
    rng = np.random.default_rng(setting.seed)
    variants = rng.integers(0, _VARIANTS, size=len(notes))
    bright = round(setting.brightness * _BRIGHTNESS_STEPS)
    hits = []
    for index, (on, pitch, velocity) in enumerate(
        zip(notes.on.tolist(), notes.pitch.tolist(), notes.velocity.tolist())
    ):
        name, tuning = _drum_for(kit, pitch)
        bucket = min(_VELOCITY_BUCKETS - 1, int(velocity * _VELOCITY_BUCKETS))
        shot = _shot(name, tuning or 0.0, bucket, bright, int(variants[index]), sr)
        drum = DRUMS.get(name)
        if drum is None:  # a tom: level, pan and send follow its pitch
            pan = float(np.clip((tuning - 120.0) / 200.0, -0.35, 0.35))
            drum = Drum(_tom, 0.3, pan, 0.12)
        hits.append((on, shot, drum, velocity))

    # Choke groups: a hit cuts the ringing hits of its group, also across the seam.
    ends = [on + shot.size for on, shot, _, _ in hits]
    for group in {drum.choke for _, _, drum, _ in hits if drum.choke}:
        members = sorted(i for i, hit in enumerate(hits) if hit[2].choke == group)
        onsets = [hits[i][0] for i in members]
        for position, i in enumerate(members):
            later = [on for on in onsets[position + 1 :] if on > hits[i][0]]
            cut = later[0] if later else onsets[0] + setting.frames
            ends[i] = min(ends[i], max(cut, hits[i][0] + 1))

    end = max([setting.frames] + ends)
    dry = np.zeros((2, end), np.float32)
    send = np.zeros(end, np.float32)
    fade = max(1, round(0.006 * sr))
    for (on, shot, drum, velocity), stop in zip(hits, ends):
        audio = shot
        if stop < on + shot.size:
            audio = shot[: stop - on].copy()
            tail = min(fade, audio.size)
            audio[-tail:] *= np.linspace(1.0, 0.0, tail, dtype=np.float32)
        gain = drum.level * velocity_gain(velocity, 1.4)
        left, right = pan_gains(drum.pan)
        mix_into(dry, on, audio, gain * left, gain * right)
        if drum.send:
            send[on : on + audio.size] += (gain * drum.send) * audio
    return dry, send
