"""Keys, chords and progressions: the harmony every generator shares.

    key = Key.parse("D minor")            # also "Dm", "d", "F# dorian", "Bb", "C# harmonic minor"
    key.scale                             # (2, 4, 5, 7, 9, 10, 0): pitch classes from the tonic
    chords = parse_progression("i VI III VII", key)   # or "Dm Bb F C", "ii7 V7 Imaj7", "Bb/D"
    [c.name for c in chords]              # ['Dm', 'Bb', 'F', 'C']
    chord_at(chords, bar=5)               # the progression repeats: bar 5 plays 'Bb'

Pitch classes count semitones above C (C = 0, C# = 1, ... B = 11); pitches are MIDI
note numbers (middle C = 60). Roman numerals are read against the key's own scale,
so in D minor "VI" is Bb and "VII" is C; upper case makes a major chord and lower
case a minor one. Names keep the spelling a musician expects: Bb in D minor, A# in
F# major.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

LETTERS: dict[str, int] = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
"""The natural notes' pitch classes."""

ACCIDENTALS: dict[str, int] = {"#": 1, "♯": 1, "b": -1, "♭": -1}

# The spelling used when nothing says otherwise: the accidentals of the common keys.
_PLAIN_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_LETTER_ORDER = "CDEFGAB"

MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic minor": (0, 2, 3, 5, 7, 9, 11),
    "major pentatonic": (0, 2, 4, 7, 9),
    "minor pentatonic": (0, 3, 5, 7, 10),
}
"""Every mode hoot knows, as semitones above the tonic."""

# A pentatonic key reads Roman numerals and spells notes through its seven-note parent.
_PARENT_MODE = {"major pentatonic": "major", "minor pentatonic": "minor"}

# Which degree of its relative major each seven-note mode starts on (in semitones), to
# find the key signature that decides between sharps and flats.
_MODE_OFFSET = {
    "major": 0,
    "dorian": 2,
    "phrygian": 4,
    "lydian": 5,
    "mixolydian": 7,
    "minor": 9,
    "locrian": 11,
    "harmonic minor": 9,
    "melodic minor": 9,
}
_FLAT_MAJORS = {5, 10, 3, 8, 1, 6}  # F, Bb, Eb, Ab, Db, Gb major

_MODE_WORDS: dict[str, str] = {
    "": "major",
    "maj": "major",
    "major": "major",
    "ionian": "major",
    "ion": "major",
    "m": "minor",
    "min": "minor",
    "minor": "minor",
    "aeolian": "minor",
    "aeo": "minor",
    "natural minor": "minor",
    "nat minor": "minor",
    "dor": "dorian",
    "dorian": "dorian",
    "phr": "phrygian",
    "phryg": "phrygian",
    "phrygian": "phrygian",
    "lyd": "lydian",
    "lydian": "lydian",
    "mix": "mixolydian",
    "mixo": "mixolydian",
    "mixolydian": "mixolydian",
    "loc": "locrian",
    "locrian": "locrian",
    "harmonic minor": "harmonic minor",
    "harmonic": "harmonic minor",
    "harm minor": "harmonic minor",
    "harm min": "harmonic minor",
    "harmonic min": "harmonic minor",
    "m harmonic": "harmonic minor",
    "melodic minor": "melodic minor",
    "melodic": "melodic minor",
    "mel minor": "melodic minor",
    "mel min": "melodic minor",
    "melodic min": "melodic minor",
    "jazz minor": "melodic minor",
    "m melodic": "melodic minor",
    "major pentatonic": "major pentatonic",
    "maj pentatonic": "major pentatonic",
    "major pent": "major pentatonic",
    "maj pent": "major pentatonic",
    "pentatonic major": "major pentatonic",
    "minor pentatonic": "minor pentatonic",
    "min pentatonic": "minor pentatonic",
    "m pentatonic": "minor pentatonic",
    "minor pent": "minor pentatonic",
    "min pent": "minor pentatonic",
    "m pent": "minor pentatonic",
    "pentatonic minor": "minor pentatonic",
}

CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "m": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "5": (0, 7),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "69": (0, 4, 7, 9, 14),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "mMaj7": (0, 3, 7, 11),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "aug7": (0, 4, 8, 10),
    "maj7#5": (0, 4, 8, 11),
    "7b5": (0, 4, 6, 10),
    "7sus4": (0, 5, 7, 10),
    "add9": (0, 4, 7, 14),
    "madd9": (0, 3, 7, 14),
    "9": (0, 4, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "m9": (0, 3, 7, 10, 14),
    "7b9": (0, 4, 7, 10, 13),
    "7#9": (0, 4, 7, 10, 15),
    "11": (0, 4, 7, 10, 14, 17),
    "m11": (0, 3, 7, 10, 14, 17),
    "maj7#11": (0, 4, 7, 11, 18),
    "13": (0, 4, 7, 10, 14, 21),
}
"""Chord qualities by the suffix hoot writes after the root, as semitones above the root."""

_QUALITY_WORDS: dict[str, str] = {
    "M": "",
    "maj": "",
    "major": "",
    "min": "m",
    "mi": "m",
    "minor": "m",
    "°": "dim",
    "o": "dim",
    "+": "aug",
    "sus": "sus4",
    "M6": "6",
    "min6": "m6",
    "6add9": "69",
    "6/9": "69",
    "dom7": "7",
    "M7": "maj7",
    "Maj7": "maj7",
    "ma7": "maj7",
    "Δ": "maj7",
    "Δ7": "maj7",
    "min7": "m7",
    "mi7": "m7",
    "mmaj7": "mMaj7",
    "mM7": "mMaj7",
    "minmaj7": "mMaj7",
    "ø": "m7b5",
    "ø7": "m7b5",
    "min7b5": "m7b5",
    "°7": "dim7",
    "o7": "dim7",
    "+7": "aug7",
    "7#5": "aug7",
    "7+": "aug7",
    "M7#5": "maj7#5",
    "add2": "add9",
    "M9": "maj9",
    "Maj9": "maj9",
    "min9": "m9",
    "min11": "m11",
    "M7#11": "maj7#11",
    "sus47": "7sus4",
}

_NOTE = r"[A-G][#b♯♭]{0,2}"
_CHORD_NAME = re.compile(rf"^({_NOTE})(.*?)(?:/({_NOTE}))?$")
_ROMAN = re.compile(r"^([b#♭♯]?)(VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)(.*)$")
_ROMAN_DEGREES = {"I": 0, "II": 1, "III": 2, "IV": 3, "V": 4, "VI": 5, "VII": 6}
_SEPARATORS = re.compile(r"[\s,|\-–]+")

# Suffixes after a Roman numeral whose meaning depends on the numeral's case:
# upper case (major) quality, lower case (minor) quality.
_ROMAN_SUFFIXES: dict[str, tuple[str, str]] = {
    "": ("", "m"),
    "7": ("7", "m7"),
    "6": ("6", "m6"),
    "9": ("9", "m9"),
    "11": ("11", "m11"),
    "add9": ("add9", "madd9"),
    "maj7": ("maj7", "mMaj7"),
    "M7": ("maj7", "mMaj7"),
    "Δ": ("maj7", "mMaj7"),
    "Δ7": ("maj7", "mMaj7"),
    "maj9": ("maj9", "maj9"),
    "7b5": ("7b5", "m7b5"),
}


def pitch_class(name: str) -> int:
    """The pitch class of a note name: pitch_class("F#") == 6, pitch_class("Bb") == 10."""
    text = name.strip()
    if not text or text[0].upper() not in LETTERS:
        raise ValueError(f"note {name!r} is not a note name; write it like 'C', 'F#' or 'Bb'")
    shift = 0
    for mark in text[1:]:
        if mark not in ACCIDENTALS:
            raise ValueError(f"note {name!r} is not a note name; write it like 'C', 'F#' or 'Bb'")
        shift += ACCIDENTALS[mark]
    return (LETTERS[text[0].upper()] + shift) % 12


def note_name(pc: int, letter: str | None = None) -> str:
    """The name of pitch class `pc`, spelled on `letter` when that takes at most two
    accidentals (note_name(10, "A") == "A#"); otherwise the common spelling ("Bb")."""
    pc %= 12
    if letter:
        shift = (pc - LETTERS[letter] + 6) % 12 - 6
        if abs(shift) <= 2:
            return letter + ("#" * shift if shift > 0 else "b" * -shift)
    return _PLAIN_NAMES[pc]


def _shift_letter(letter: str, steps: int) -> str:
    return _LETTER_ORDER[(_LETTER_ORDER.index(letter) + steps) % 7]


def _ascii(text: str) -> str:
    return text.replace("♯", "#").replace("♭", "b")


@dataclass(frozen=True)
class Key:
    """A key: a tonic pitch class (0 = C ... 11 = B) and a mode ("minor", "dorian"...).

    `spelling` remembers how the tonic was written ("A#" or "Bb") so names come back
    the way you wrote them; it plays no part in comparing keys.
    """

    tonic: int
    mode: str = "major"
    spelling: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.tonic, bool) or not isinstance(self.tonic, int):
            raise ValueError(f"a key's tonic is a pitch class 0 to 11, got {self.tonic!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        object.__setattr__(self, "tonic", self.tonic % 12)

    @classmethod
    def parse(cls, text: str | Key) -> Key:
        """A key from words: "D minor", "D min", "Dm", "d" (lower case: minor), "Bb" (major),
        "F# dorian", "C# harmonic minor", "A aeolian", "E minor pentatonic". A Key passes
        through unchanged. Raises ValueError saying how to write a key."""
        if isinstance(text, Key):
            return text
        match = re.match(r"^\s*([A-Ga-g])([#b♯♭]?)\s*(.*?)\s*$", str(text))
        if not match:
            raise ValueError(f"key {text!r} is not a key; write it like 'D minor' or 'F# dorian'")
        letter, accidental, rest = match.groups()
        words = re.sub(r"[\s_\-]+", " ", rest).strip()
        words = re.sub(r"\s*\bmode$", "", words)
        if words == "M":
            mode = "major"
        elif not words and letter.islower():
            mode = "minor"  # a lower-case tonic alone means minor, as in "d" for D minor
        elif words.lower() == "pentatonic" or words.lower() == "pent":
            mode = "minor pentatonic" if letter.islower() else "major pentatonic"
        elif words.lower() in _MODE_WORDS:
            mode = _MODE_WORDS[words.lower()]
        else:
            if words[:1] in ("#", "♯", "♭"):
                raise ValueError(
                    f"key {text!r} is not a key; write it like 'D minor' or 'F# dorian'"
                )
            raise ValueError(
                f"key {text!r}: {words!r} is not a mode; use major, minor, dorian, phrygian, "
                "lydian, mixolydian, locrian, harmonic minor, melodic minor, "
                "major pentatonic or minor pentatonic"
            )
        spelling = letter.upper() + _ascii(accidental)
        return cls(pitch_class(spelling), mode, spelling)

    # Names --------------------------------------------------------------------------

    @property
    def tonic_name(self) -> str:
        """The tonic as written, or as its key signature spells it ("Bb" in Bb major)."""
        if self.spelling:
            return self.spelling
        offset = _MODE_OFFSET[_PARENT_MODE.get(self.mode, self.mode)]
        relative_major = (self.tonic - offset) % 12
        if relative_major in _FLAT_MAJORS:
            return ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")[self.tonic]
        return ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")[self.tonic]

    def __str__(self) -> str:
        return f"{self.tonic_name} {self.mode}"

    # Scales -------------------------------------------------------------------------

    @cached_property  # composing asks for it on every note
    def scale(self) -> tuple[int, ...]:
        """The key's pitch classes in scale order, starting on the tonic."""
        return tuple((self.tonic + step) % 12 for step in MODES[self.mode])

    @cached_property
    def parent_scale(self) -> tuple[int, ...]:
        """The seven-note scale Roman numerals count in (a pentatonic key's parent mode)."""
        return tuple((self.tonic + step) % 12 for step in MODES[self._parent])

    @property
    def _parent(self) -> str:
        return _PARENT_MODE.get(self.mode, self.mode)

    def contains(self, pitch: int) -> bool:
        """Whether a MIDI pitch (or pitch class) belongs to the key's scale."""
        return pitch % 12 in self.scale

    def nearest_in_scale(self, pitch: int) -> int:
        """The scale pitch nearest to `pitch` (itself if in the scale); a tie goes down."""
        scale = set(self.scale)
        for distance in range(7):
            for candidate in (pitch - distance, pitch + distance):
                if candidate % 12 in scale:
                    return candidate
        return pitch  # unreachable: every mode has a note within a fifth

    def pitches(self, low: int, high: int) -> list[int]:
        """Every scale pitch from `low` to `high`, both included, lowest first."""
        scale = set(self.scale)
        return [p for p in range(low, high + 1) if p % 12 in scale]

    def step(self, pitch: int, steps: int) -> int:
        """Move `steps` scale steps up (or down, if negative) from `pitch`.

        A pitch outside the scale first moves to its nearest scale note.
        """
        size = len(self.scale)
        position = self._position(self.nearest_in_scale(pitch)) + steps
        octave, index = divmod(position, size)
        return self.tonic + 12 * octave + MODES[self.mode][index]

    def _position(self, pitch: int) -> int:
        """Scale steps from the tonic of octave -1 (MIDI 0..11) to a scale pitch."""
        octave, pc_offset = divmod(pitch - self.tonic, 12)
        return octave * len(self.scale) + MODES[self.mode].index(pc_offset)

    def degree_of(self, pitch: int) -> int | None:
        """The scale degree (0 = tonic) of a pitch, or None outside the scale."""
        offset = (pitch - self.tonic) % 12
        steps = MODES[self.mode]
        return steps.index(offset) if offset in steps else None

    # Chords -------------------------------------------------------------------------

    def _degree_letter(self, degree: int) -> str:
        return _shift_letter(self.tonic_name[0], degree)

    def diatonic_chord(self, degree: int, sevenths: bool = False) -> Chord:
        """The chord built in thirds from the scale on `degree` (0 = I), a triad or a
        seventh chord. A pentatonic key builds it from its seven-note parent mode."""
        parent = MODES[self._parent]
        size = len(parent)
        stack = (0, 2, 4, 6) if sevenths else (0, 2, 4)
        steps = [parent[(degree + i) % size] + 12 * ((degree + i) // size) for i in stack]
        intervals = tuple(step - steps[0] for step in steps)
        quality = _quality_of(intervals)
        root = (self.tonic + steps[0]) % 12
        return Chord(root, quality, name=note_name(root, self._degree_letter(degree)) + quality)

    def roman(self, numeral: str) -> Chord:
        """One Roman numeral read in this key: key.roman("bVII"), key.roman("V7/V")."""
        return _parse_roman(numeral, self, numeral)


def _quality_of(intervals: tuple[int, ...]) -> str:
    for quality, known in CHORD_QUALITIES.items():
        if known == intervals:
            return quality
    raise ValueError(f"no chord quality has the intervals {intervals}")


@dataclass(frozen=True)
class Chord:
    """A chord: a root pitch class, a quality ("m7", "" for major...), and a bass pitch
    class that differs from the root in a slash chord ("Bb/D").

    `name` is how the chord is written ("Dm7"); it is worked out when not given and
    plays no part in comparing chords.
    """

    root: int
    quality: str = ""
    bass: int | None = None
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.quality not in CHORD_QUALITIES:
            raise ValueError(
                f"chord quality {self.quality!r} is not one of {', '.join(CHORD_QUALITIES)}"
            )
        object.__setattr__(self, "root", self.root % 12)
        bass = self.root if self.bass is None else self.bass % 12
        object.__setattr__(self, "bass", bass)
        if not self.name:
            name = _PLAIN_NAMES[self.root] + self.quality
            if bass != self.root:
                name += "/" + _PLAIN_NAMES[bass]
            object.__setattr__(self, "name", name)

    @property
    def intervals(self) -> tuple[int, ...]:
        """Semitones above the root, including extensions above the octave (9 = 14)."""
        return CHORD_QUALITIES[self.quality]

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """The chord's pitch classes, root first; a slash chord's bass note comes last."""
        found: list[int] = []
        for interval in self.intervals:
            pc = (self.root + interval) % 12
            if pc not in found:
                found.append(pc)
        if self.bass not in found:
            found.append(self.bass)  # type: ignore[arg-type]
        return tuple(found)

    def tones(self, low: int, high: int) -> list[int]:
        """Every MIDI pitch of the chord from `low` to `high`, both included, lowest first."""
        pcs = set(self.pitch_classes)
        return [p for p in range(max(0, low), min(127, high) + 1) if p % 12 in pcs]

    def interval_pc(self, semitones: int) -> int | None:
        """The chord's tone that lies `semitones` above the root, as a pitch class, or None.

        chord.interval_pc(7) is the fifth of a major chord; for a diminished chord, ask
        for 6. Extensions count modulo the octave (9ths as 2).
        """
        for interval in self.intervals:
            if interval % 12 == semitones % 12:
                return (self.root + interval) % 12
        return None

    def __str__(self) -> str:
        return self.name


def _chord_quality(suffix: str, token: str) -> str:
    cleaned = _ascii(suffix).replace("(", "").replace(")", "").replace(" ", "")
    if cleaned in CHORD_QUALITIES:
        return cleaned
    if cleaned in _QUALITY_WORDS:
        return _QUALITY_WORDS[cleaned]
    if suffix in _QUALITY_WORDS:
        return _QUALITY_WORDS[suffix]
    raise ValueError(
        f"chord {token!r}: {suffix!r} is not a chord quality hoot knows "
        "(try m, 7, m7, maj7, m7b5, dim, aug, sus4, add9, 6, 9)"
    )


def parse_chord(token: str) -> Chord:
    """One chord name: "Dm7", "F#m7b5", "Bb/D", "Csus4", "Eadd9", "G7b9"."""
    match = _CHORD_NAME.match(token.strip())
    if not match:
        raise ValueError(
            f"chord {token!r} is neither a chord name like 'Dm7' nor a Roman numeral like 'ii7'"
        )
    root_name, suffix, bass_name = match.groups()
    root_name = _ascii(root_name)
    quality = _chord_quality(suffix, token)
    root = pitch_class(root_name)
    name = root_name + quality
    bass = None
    if bass_name:
        bass_name = _ascii(bass_name)
        bass = pitch_class(bass_name)
        if bass != root:
            name += "/" + bass_name
    return Chord(root, quality, bass, name=name)


def _alter_degree(key: Key, degree: int, accidental: str) -> tuple[int, str]:
    """The root pitch class and letter of a scale degree with an optional accidental.

    The accidental moves the key's own degree a semitone, except that a flat on a degree
    the key already flattens (bVII in minor) or a sharp on one it already raises (#IV in
    lydian) just says so: bVII is C in both D minor and D major.
    """
    parent = MODES[key._parent]
    major = MODES["major"]
    own = parent[degree]
    if accidental in ("b", "♭"):
        own = own if own < major[degree] else own - 1
    elif accidental in ("#", "♯"):
        own = own if own > major[degree] else own + 1
    return (key.tonic + own) % 12, key._degree_letter(degree)


def _parse_roman(token: str, key: Key, whole: str) -> Chord:
    numeral_part, _, target = token.partition("/")
    if target:
        if _ROMAN.match(target):
            # A secondary chord, "V/V": the numeral read in the key of the target chord.
            # Secondary chords borrow from the target's major key, so vii°/ii has the
            # leading tone of ii whatever the key's mode.
            aim = _parse_roman(target, key, whole)
            spelling = aim.name.split("/")[0]
            spelling = re.match(_NOTE, spelling).group(0)  # type: ignore[union-attr]
            return _parse_roman(numeral_part, Key(aim.root, "major", spelling), whole)
        chord = _parse_roman(numeral_part, key, whole)
        try:
            bass_name = _ascii(target.strip())
            bass = pitch_class(bass_name)
        except ValueError:
            raise ValueError(
                f"chord {whole!r}: after '/' write a Roman numeral (V/V) or a bass note (I/E)"
            ) from None
        if bass == chord.root:
            return chord
        return Chord(chord.root, chord.quality, bass, name=f"{chord.name}/{bass_name}")
    match = _ROMAN.match(numeral_part)
    if not match:
        raise ValueError(
            f"chord {whole!r} is neither a chord name like 'Dm7' nor a Roman numeral like 'ii7'"
        )
    accidental, numeral, suffix = match.groups()
    if suffix[:1] in ("I", "V", "i", "v"):
        raise ValueError(
            f"chord {whole!r}: write a Roman numeral all in upper case (major, 'VI') "
            "or all in lower case (minor, 'vi')"
        )
    degree = _ROMAN_DEGREES[numeral.upper()]
    minor = numeral.islower()
    root, letter = _alter_degree(key, degree, accidental)
    cleaned = _ascii(suffix)
    if cleaned in _ROMAN_SUFFIXES:
        quality = _ROMAN_SUFFIXES[cleaned][1 if minor else 0]
    else:
        try:
            quality = _chord_quality(suffix, whole)
        except ValueError:
            raise ValueError(
                f"chord {whole!r}: {suffix!r} after the numeral is not a chord quality hoot "
                "knows (try 7, maj7, 6, 9, °, ø, +, sus4, add9)"
            ) from None
    return Chord(root, quality, name=note_name(root, letter) + quality)


def parse_progression(text: str | list[str] | tuple[str, ...], key: Key) -> list[Chord]:
    """Chords from Roman numerals in `key` ("i VI III VII", "ii7 V7 Imaj7", "bVII", "V/V")
    or chord names ("Dm Bb F C", "Dm7 G7 Cmaj7", "F#m7b5", "Bb/D"), mixed freely.

    Separate chords with spaces, commas, "-" or "|"; "%" repeats the chord before.
    Raises ValueError naming the token it cannot read.
    """
    items = [text] if isinstance(text, str) else list(text)
    tokens = [token for item in items for token in _SEPARATORS.split(str(item)) if token]
    chords: list[Chord] = []
    for token in tokens:
        if token == "%":
            if not chords:
                raise ValueError("'%' repeats the chord before it, but nothing comes before it")
            chords.append(chords[-1])
        elif _ROMAN.match(token):
            chords.append(_parse_roman(token, key, token))
        else:
            chords.append(parse_chord(token))
    return chords


# Seven-note modes: scale degrees (0 = I) of a four-chord loop that says the mode.
_DEFAULT_DEGREES: dict[str, tuple[int, ...]] = {
    "major": (0, 4, 5, 3),  # I V vi IV
    "minor": (0, 5, 2, 6),  # i VI III VII
    "dorian": (0, 3, 0, 6),  # i IV i VII: the major IV is dorian's colour
    "phrygian": (0, 1, 0, 6),  # i bII i vii
    "lydian": (0, 1, 0, 6),  # I II I vii: the major II carries the raised fourth
    "mixolydian": (0, 6, 3, 0),  # I bVII IV I
    "locrian": (0, 1, 6, 5),  # i° bII vii bVI
    "harmonic minor": (0, 5, 3, 4),  # i VI iv V
    "melodic minor": (0, 3, 0, 4),  # i IV i V
}
# Pentatonic keys use only chords whose every note lies in the five-note scale.
_DEFAULT_PENTATONIC = {
    "major pentatonic": "I vi7 IIsus4 Vsus4",
    "minor pentatonic": "i7 III VIIsus2 ivsus4",
}


def default_progression(key: Key, sevenths: bool = False) -> list[Chord]:
    """A four-chord loop that suits the key's mode: I V vi IV in major, i VI III VII in
    minor, i IV i VII in dorian, I bVII IV I in mixolydian... With `sevenths`, each
    chord gets its diatonic seventh (Imaj7 V7 vi7 IVmaj7), for jazzier harmony."""
    if key.mode in _DEFAULT_PENTATONIC:
        return parse_progression(_DEFAULT_PENTATONIC[key.mode], key)
    return [key.diatonic_chord(d, sevenths) for d in _DEFAULT_DEGREES[key.mode]]


def chord_at(progression: list[Chord], bar: int, bars_per_chord: int = 1) -> Chord:
    """The chord playing in `bar` (counting from 0) when each chord lasts `bars_per_chord`
    bars and the progression repeats."""
    if not progression:
        raise ValueError("the progression is empty; give at least one chord")
    if bars_per_chord < 1:
        raise ValueError(f"bars_per_chord must be at least 1, got {bars_per_chord!r}")
    return progression[(bar // bars_per_chord) % len(progression)]
