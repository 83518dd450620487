"""Each sound's bus: the insert effects its loop goes through, its stereo width and room.

The sounds themselves are named in `hoot.music.sounds`; this is how the renderer mixes
each one once its notes are played and folded into the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hoot.generate.render.effects import chorus, echo, tremolo
from hoot.generate.render.filters import butter, loop_filter
from hoot.generate.render.notes import Setting


@dataclass(frozen=True)
class Bus:
    """A sound's bus: stereo width (of what is above 120 Hz), reverb send and room.

    The kits send each drum to the room at its own level (`drums.Drum.send`)."""

    width: float
    reverb: float = 0.0
    room: str = "room"


BUSES: dict[str, Bus] = {
    "sub_bass": Bus(width=0.0),
    "acid_bass": Bus(width=0.3, reverb=0.05),
    "saw_lead": Bus(width=0.7, reverb=0.2, room="hall"),
    "pulse_lead": Bus(width=0.7, reverb=0.18, room="hall"),
    "pad": Bus(width=0.65, reverb=0.35, room="hall"),
    "keys": Bus(width=0.8, reverb=0.22, room="hall"),
    "pluck": Bus(width=0.8, reverb=0.22, room="hall"),
    "kit": Bus(width=1.0, room="room"),
    "perc_kit": Bus(width=1.0, room="room"),
}
"""Every sound of `hoot.music.sounds.SOUNDS`, by name."""


def insert_effects(loop: np.ndarray, setting: Setting, sound: str) -> np.ndarray:
    """The sound's own loop effects, before the reverb: the pad's low-pass and chorus, the
    keys' tremolo, the pluck's echo."""
    sr, bright = setting.samplerate, setting.brightness
    if sound == "pad":
        cutoff = 900.0 * 2.0 ** (3.0 * bright)
        loop = loop_filter(butter(2, cutoff, "lowpass", sr), loop, sr)
        loop = chorus(loop, sr, mix=0.45)
    elif sound == "keys":
        loop = tremolo(loop, sr, depth=0.18, rate=3.5)
    elif sound == "pluck":
        loop = echo(loop, setting, level=0.3)
    return loop
