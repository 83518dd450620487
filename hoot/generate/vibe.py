"""The vibe of the moment: a few numbers generators read, set in words or directly.

    perf.vibe("darker, more tension")      # words move the numbers
    perf.vibe(density=0.8, style="techno") # or set them
    perf.vibe("sparse, swung", bars=16)    # for 16 bars, then back

Numbers run from 0 to 1: density, energy, brightness, swing, complexity, register.
`style` is one of STYLES.
"""

from __future__ import annotations

import re

from hoot.errors import HootError

PARAMS = ("density", "energy", "brightness", "swing", "complexity", "register")
STYLES = ("house", "techno", "dnb", "hiphop", "ambient", "jazz")
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


def default_vibe(style: str = "house") -> dict:
    """Where a style starts: its numbers come from the embedded generator, which knows
    what each style wants (jazz swings, ambient is sparse)."""
    from hoot.generate.default import default_vibe as style_vibe

    return style_vibe(style)


def check_vibe(params: dict) -> dict:
    """Validate vibe numbers and style; returns a clean copy. Raises HootError."""
    out = {}
    for name, value in params.items():
        if name == "style":
            style = STYLE_WORDS.get(str(value).lower().strip(), str(value))
            if style not in STYLES:
                raise HootError(
                    f"style {value!r} is not one hoot knows; styles: {', '.join(STYLES)}"
                )
            out["style"] = style
        elif name == "timbre":
            out["timbre"] = str(value)
        elif name == "groove":
            if isinstance(value, bool) or not isinstance(value, int):
                raise HootError(f"groove must be a whole number (a seed), not {value!r}")
            out["groove"] = value
        elif name in PARAMS:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise HootError(f"vibe {name} must be a number from 0 to 1, not {value!r}")
            if not 0.0 <= value <= 1.0:
                raise HootError(f"vibe {name} = {value!r} is out of range: use 0 to 1")
            out[name] = float(value)
        else:
            raise HootError(f"the vibe has no {name!r}; it has {', '.join(PARAMS)}, style")
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
            elif word not in (
                "more",
                "a",
                "bit",
                "little",
                "the",
                "some",
                "with",
                "feel",
                "vibe",
                "please",
                "slightly",
                "of",
            ):
                unknown.append(word)
    return vibe, unknown
