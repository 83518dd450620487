"""The vibe: a few numbers every generator reads, and the words that move them.

    perf.vibe("darker, more tension")      # words move the numbers
    perf.vibe(density=0.8, style="techno") # or set them
    perf.vibe("sparse, swung", bars=16)    # for 16 bars, then back

Numbers run from 0 to 1: density, energy, brightness, swing, complexity, register.
`style` is one of STYLES; each style starts from its own numbers (jazz swings, ambient is
sparse). This module is the one home of that vocabulary: the performer's side checks and
moves vibes with it, and generators read it.
"""

from __future__ import annotations

import re
from typing import Any

PARAMS: tuple[str, ...] = ("density", "energy", "brightness", "swing", "complexity", "register")
STYLES: tuple[str, ...] = ("house", "techno", "dnb", "hiphop", "ambient", "jazz")

STYLE_VIBES: dict[str, tuple[float, ...]] = {
    #          density energy bright swing complex register
    "house": (0.6, 0.65, 0.6, 0.1, 0.4, 0.5),
    "techno": (0.55, 0.75, 0.5, 0.0, 0.35, 0.45),
    "dnb": (0.65, 0.8, 0.6, 0.05, 0.55, 0.5),
    "hiphop": (0.5, 0.55, 0.4, 0.45, 0.5, 0.45),
    "ambient": (0.2, 0.25, 0.55, 0.0, 0.3, 0.55),
    "jazz": (0.5, 0.45, 0.5, 0.62, 0.65, 0.5),
}
"""Where each style starts, in the order of PARAMS."""

STYLE_TEMPO: dict[str, tuple[float, float]] = {
    "house": (118.0, 128.0),
    "techno": (125.0, 140.0),
    "dnb": (165.0, 178.0),
    "hiphop": (80.0, 98.0),
    "ambient": (60.0, 90.0),
    "jazz": (90.0, 220.0),
}
"""The tempo range (BPM) each style usually lives in; generators play at any tempo."""

STYLE_WORDS = {
    "house": "house",
    "deep house": "house",
    "techno": "techno",
    "dnb": "dnb",
    "drum and bass": "dnb",
    "drum & bass": "dnb",
    "d&b": "dnb",
    "jungle": "dnb",
    "hip hop": "hiphop",
    "hiphop": "hiphop",
    "hip-hop": "hiphop",
    "boom bap": "hiphop",
    "ambient": "ambient",
    "drone": "ambient",
    "jazz": "jazz",
    "jazzy": "jazz",
    "jazz-ish": "jazz",
}
# word -> (parameter, step); "less"/"not" before a word turns it around
WORDS = {
    "dark": ("brightness", -0.25),
    "darker": ("brightness", -0.25),
    "bright": ("brightness", 0.25),
    "brighter": ("brightness", 0.25),
    "tension": ("complexity", 0.2),
    "tense": ("complexity", 0.2),
    "complex": ("complexity", 0.25),
    "intricate": ("complexity", 0.25),
    "weird": ("complexity", 0.3),
    "simple": ("complexity", -0.25),
    "simpler": ("complexity", -0.25),
    "sparse": ("density", -0.25),
    "sparser": ("density", -0.25),
    "minimal": ("density", -0.3),
    "busy": ("density", 0.25),
    "busier": ("density", 0.25),
    "dense": ("density", 0.25),
    "denser": ("density", 0.25),
    "energy": ("energy", 0.25),
    "energetic": ("energy", 0.25),
    "harder": ("energy", 0.25),
    "driving": ("energy", 0.2),
    "hype": ("energy", 0.3),
    "calm": ("energy", -0.25),
    "chill": ("energy", -0.25),
    "softer": ("energy", -0.25),
    "gentle": ("energy", -0.2),
    "swing": ("swing", 0.3),
    "swung": ("swing", 0.3),
    "shuffle": ("swing", 0.35),
    "straight": ("swing", -1.0),
    "higher": ("register", 0.25),
    "high": ("register", 0.2),
    "lower": ("register", -0.25),
    "low": ("register", -0.2),
    "deep": ("register", -0.25),
    "deeper": ("register", -0.25),
}
NEGATIONS = ("less", "not", "no", "fewer")
BOOSTS = ("much", "very", "way", "lots")
FILLER = (
    "more", "a", "bit", "little", "the", "some", "with", "feel", "vibe", "please",
    "slightly", "of",
)  # fmt: skip


class VibeError(ValueError):
    """A vibe value, style or word that hoot cannot use; the message says what it takes."""


def check_style(style: str) -> str:
    """A style's canonical name ("hip hop" -> "hiphop"), or VibeError listing the styles."""
    name = STYLE_WORDS.get(str(style).lower().strip(), str(style))
    if name not in STYLES:
        raise VibeError(f"style {style!r} is not one hoot knows; styles: {', '.join(STYLES)}")
    return name


def default_vibe(style: str = "house") -> dict[str, Any]:
    """The vibe a style starts from: its numbers, and its name under "style"."""
    style = check_style(style)
    vibe: dict[str, Any] = dict(zip(PARAMS, STYLE_VIBES[style]))
    vibe["style"] = style
    return vibe


def check_vibe(params: dict) -> dict:
    """Validate vibe numbers, style and groove; returns a clean copy. Raises VibeError."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name == "style":
            out["style"] = check_style(value)
        elif name == "groove":
            if isinstance(value, bool) or not isinstance(value, int):
                raise VibeError(f"groove must be a whole number (a seed), not {value!r}")
            out["groove"] = value
        elif name in PARAMS:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise VibeError(f"vibe {name} must be a number from 0 to 1, not {value!r}")
            if not 0.0 <= value <= 1.0:
                raise VibeError(f"vibe {name} = {value!r} is out of range: use 0 to 1")
            out[name] = float(value)
        elif name in ("timbre", "sound"):
            raise VibeError(
                "a track's sound is not part of the vibe: set it on the track, "
                'perf.tracks.lead.sound = "saw_lead", or per batch: perf.generate(..., sound=...)'
            )
        else:
            raise VibeError(f"the vibe has no {name!r}; it has {', '.join(PARAMS)}, style")
    return out


def apply_words(base: dict, text: str) -> tuple[dict, list[str]]:
    """Move `base` by the words in `text`; returns (new vibe, words not understood)."""
    vibe = dict(base)
    lowered = text.lower()
    for phrase, style in sorted(STYLE_WORDS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", lowered):
            vibe["style"] = style
            lowered = lowered.replace(phrase, " ")
    unknown = []
    for clause in re.split(r"[,;]|\band\b|\bbut\b", lowered):
        words = re.findall(r"[a-z&'-]+", clause)
        sign, boost = 1.0, 1.0
        for word in words:
            if word in NEGATIONS:
                sign = -1.0
            elif word in BOOSTS:
                boost = 1.5
            elif word in WORDS:
                name, step = WORDS[word]
                value = vibe.get(name, 0.5) + sign * boost * step
                vibe[name] = round(min(1.0, max(0.0, value)), 3)
                sign, boost = 1.0, 1.0
            elif word not in FILLER:
                unknown.append(word)
    return vibe, unknown
