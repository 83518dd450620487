"""Sounds: the one vocabulary of how a track sounds, for every part of hoot that makes sound.

A track's sound is a name from `SOUNDS` ("acid_bass", "pad", "kit"...) or a SoundFont
program ("soundfont", "soundfont:48", "soundfont:/path/font.sf2:48"). Generated candidates
are rendered with it offline, at full quality, in the worker processes
(`hoot.generate.render`); the engine's real-time synth plays the same names with a lighter
patch of the same character (`Sound.live`) when it plays MIDI stems and live notes.

    perf.tracks.lead.sound = "pulse_lead"
    perf.tracks.chords.sound = "soundfont:48"
    perf.generate("bass", sound="acid_bass")   # this batch only
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sound:
    """One built-in sound. `live` names the real-time synth patch that plays it in the engine;
    `drum_map` sounds read pitches as General MIDI drum notes."""

    name: str
    what: str
    live: str
    drum_map: bool = False


SOUNDS: dict[str, Sound] = {
    s.name: s
    for s in (
        Sound("sub_bass", "a round sine-and-triangle sub bass", live="bass"),
        Sound("acid_bass", "a resonant saw bass with slides and accents", live="bass"),
        Sound("saw_lead", "a detuned saw lead with delayed vibrato", live="saw"),
        Sound("pulse_lead", "a hollow pulse lead", live="square"),
        Sound("pad", "a slow, wide, evolving pad", live="pad"),
        Sound("keys", "an electric-piano-like keyboard", live="pluck"),
        Sound("pluck", "a bright, quickly decaying pluck", live="pluck"),
        Sound("kit", "a drum machine kit (GM drum map)", live="drums", drum_map=True),
        Sound("perc_kit", "hand percussion: congas, shakers, bells (GM drum map)",
              live="drums", drum_map=True),
    )
}  # fmt: skip
"""Every built-in sound, by name."""

LIVE_PATCHES: tuple[str, ...] = ("sine", "saw", "square", "pluck", "pad", "bass", "drums")
"""The engine synth's patches, in the order of its patch numbers."""

ROLE_SOUNDS: dict[str, tuple[str, ...]] = {
    "drums": ("kit", "perc_kit"),
    "bass": ("sub_bass", "acid_bass", "pluck"),
    "chords": ("keys", "pad", "pluck", "saw_lead"),
    "lead": ("saw_lead", "pulse_lead", "pluck", "keys", "acid_bass"),
    "pad": ("pad", "keys", "saw_lead"),
    "perc": ("perc_kit", "kit"),
}
"""Per role, the sounds that suit it; the first is the role's default. Any sound may play
any role."""

LIVE_TRACK_SOUNDS: dict[str, str] = {"keys": "keys", "harmony": "pad"}
"""The sound a live track (hoot.music.roles.LIVE_TRACKS) plays when it names none."""

ALIASES: dict[str, str] = {
    "saw": "saw_lead",
    "square": "pulse_lead",
    "bass": "sub_bass",
    "drums": "kit",
    "sine": "keys",
}
"""Names older stems' metadata used for the synth's patches."""

SOUNDFONT = "soundfont"
GM_PROGRAM_FOR_ROLE = {"bass": 33, "chords": 0, "lead": 80, "pad": 89, "harmony": 48}
"""The General MIDI program a role plays when a SoundFont sound names none."""


class SoundError(ValueError):
    """A sound hoot does not have; the message lists what it has."""


@dataclass(frozen=True)
class SoundFontSound:
    """A SoundFont program: `font` None means the first one found; `program` None means the
    role's General MIDI program (GM_PROGRAM_FOR_ROLE; drums and perc play the drum kit)."""

    font: Path | None
    program: int | None

    def program_for(self, role: str) -> int:
        if self.program is not None:
            return self.program
        return 0 if role in ("drums", "perc") else GM_PROGRAM_FOR_ROLE.get(role, 0)


def default_sound(role: str) -> str:
    """The built-in sound a role (or a live track) plays when its track names none."""
    if role in LIVE_TRACK_SOUNDS:
        return LIVE_TRACK_SOUNDS[role]
    return ROLE_SOUNDS.get(role, ("pluck",))[0]


def check_sound(text: str) -> str:
    """The canonical name of a sound ("saw" -> "saw_lead"; SoundFont specs as written), or
    SoundError saying what exists."""
    value = str(text).strip()
    if value.startswith(SOUNDFONT):
        parse_soundfont(value)
        return value
    value = ALIASES.get(value, value)
    if value not in SOUNDS:
        import difflib

        close = difflib.get_close_matches(value, list(SOUNDS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SoundError(
            f"no sound {text!r}{hint}; built-in: {', '.join(SOUNDS)}, "
            "or 'soundfont', 'soundfont:48', 'soundfont:/path/font.sf2:48'"
        )
    return value


def is_soundfont(sound: str | None) -> bool:
    return bool(sound) and str(sound).startswith(SOUNDFONT)


def parse_soundfont(sound: str) -> SoundFontSound:
    """ "soundfont", "soundfont:48" or "soundfont:/path/font.sf2:48" -> SoundFontSound.
    Raises SoundError naming the accepted forms."""
    parts = sound.split(":")
    if parts[0] != SOUNDFONT or len(parts) > 3:
        raise SoundError(
            f"sound {sound!r}: write 'soundfont', 'soundfont:48' or 'soundfont:/path/font.sf2:48'"
        )
    font = None
    program = None
    for part in parts[1:]:
        if part.isdigit():
            program = int(part)
            if program > 127:
                raise SoundError(f"sound {sound!r}: a General MIDI program is 0 to 127")
        elif part:
            font = Path(part).expanduser()
            if not font.is_file():
                raise SoundError(f"sound {sound!r}: no SoundFont at {font}")
    return SoundFontSound(font, program)


MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
"""The project's models/ folder: weights, and SoundFonts a performer drops in."""

SYSTEM_SOUNDFONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/sounds/sf2"),
    Path("/usr/share/soundfonts"),
)
"""Where Debian's soundfont packages put .sf2 files (fluid-soundfont-gm, timgm6mb...)."""

INSTALL_SOUNDFONT = "sudo apt-get install fluid-soundfont-gm"


def find_soundfonts(models_dir: Path | None = None) -> list[Path]:
    """SoundFonts (.sf2) in `models_dir` (default: the project's `models/`), then in the
    system places, each file once (a symlink such as default-GM.sf2 counts as its target).
    The offline renderer (hoot.generate.soundfont) and the engine's live SoundFont voices
    (hoot.engine.fluid) both look here, so a track sounds the same font both ways."""
    folders = [MODELS_DIR if models_dir is None else Path(models_dir), *SYSTEM_SOUNDFONT_DIRS]
    found: list[Path] = []
    seen: set[Path] = set()
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() != ".sf2" or not path.is_file():
                continue
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                found.append(path)
    return found


def no_soundfont() -> str:
    """Why no SoundFont is found, with what fixes it."""
    places = ", ".join(str(folder) for folder in (MODELS_DIR, *SYSTEM_SOUNDFONT_DIRS))
    return f"no SoundFont (.sf2) in {places}: {INSTALL_SOUNDFONT}, or put one in models/"


def live_patch(sound: str | None, role: str | None = None) -> int:
    """The engine synth's patch number for a sound (the role's default sound when None).
    A SoundFont sound gets the patch of the role's default sound: what its MIDI stems play,
    and what live notes play where the engine has no libfluidsynth (hoot.engine.fluid)."""
    name = sound if sound and not is_soundfont(sound) else default_sound(role or "")
    return LIVE_PATCHES.index(SOUNDS[check_sound(name)].live)
