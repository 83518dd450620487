"""Contract A's numbers, until branch tok's hoot.generate.orpheus.tokens lands (temporary)."""

from __future__ import annotations

from dataclasses import dataclass

SOS, OUTRO, EOS, PAD = 18816, 18817, 18818, 18819
VOCAB = 18820
STEP_MS = 16
ROLE_PATCHES = {
    "bass": tuple(range(32, 40)),
    "drums": (128,),
    "perc": (128,),
    "lead": tuple(range(80, 88)) + (56, 65, 71, 73),
    "chords": tuple(range(0, 8)) + tuple(range(16, 21)),
    "pad": tuple(range(48, 52)) + tuple(range(88, 96)),
    "keys": tuple(range(0, 8)),
}


@dataclass(frozen=True)
class Event:
    start_ms: int
    dur_ms: int
    patch: int
    pitch: int
    vel: int


def encode(events, sos=True):
    out = [SOS] if sos else []
    evs = sorted(events, key=lambda e: (e.start_ms // STEP_MS, e.patch == 128, -e.pitch, e.patch))
    prev = 0
    last = None
    for e in evs:
        t = e.start_ms // STEP_MS
        if t != last:
            out.append(min(255, t - prev))
            prev, last = t, t
        dur = max(1, min(255, round(e.dur_ms / STEP_MS)))
        vel8 = max(0, min(7, round(e.vel / 15) - 1))
        out += [256 + 128 * e.patch + e.pitch, 16768 + 8 * dur + vel8]
    return out


def decode(tokens):
    evs, t, patch, pitch = [], 0, None, None
    for tok in tokens:
        if tok < 256:
            t += tok
        elif tok < 16768:
            patch, pitch = divmod(tok - 256, 128)
        elif tok < 18816 and patch is not None:
            dur, vel8 = divmod(tok - 16768, 8)
            evs.append(Event(t * STEP_MS, dur * STEP_MS, patch, pitch, (vel8 + 1) * 15))
            patch = None
    return evs
