"""`render_clip` and `render_stem`: a NoteClip to one seamless, loudness-matched loop.

The order a render takes: notes to a voice (`voices`) or a kit (`drums`), the tails
folded onto the loop's start, the sound's bus and its reverb (`buses`, `effects`), the
mid/side stage, and for a stem the loudness normalisation (`hoot.generate.loudness`).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from hoot.generate.loops import fold
from hoot.generate.loudness import normalize_measured
from hoot.generate.render.buses import BUSES, insert_effects
from hoot.generate.render.drums import render_drums
from hoot.generate.render.effects import mid_side, reverb
from hoot.generate.render.notes import Notes, Setting
from hoot.generate.render.voices import render_voices
from hoot.music.clip import NoteClip
from hoot.music.sounds import ROLE_SOUNDS, SOUNDS, check_sound


def _check(
    clip: NoteClip, bpm: float, samplerate: int, role: str, sound: str | None, brightness: float
) -> str:
    """The sound to render with (its canonical name), once every argument is known good."""
    if not isinstance(clip, NoteClip):
        raise ValueError(f"render a NoteClip, not {type(clip).__name__}")
    if not (isinstance(bpm, numbers.Real) and math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"tempo must be a positive number of beats per minute, got {bpm!r}")
    if isinstance(samplerate, bool) or not isinstance(samplerate, (int, np.integer)):
        raise ValueError(f"sample rate must be a whole number of Hz, got {samplerate!r}")
    if not 8000 <= samplerate <= 384000:
        raise ValueError(f"sample rate {samplerate} Hz is outside 8000..384000")
    if role not in ROLE_SOUNDS:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLE_SOUNDS)}")
    chosen = ROLE_SOUNDS[role][0] if sound is None else check_sound(sound)
    if not (isinstance(brightness, numbers.Real) and 0.0 <= brightness <= 1.0):
        raise ValueError(f"brightness runs from 0 to 1, got {brightness!r}")
    return chosen


def render_clip(
    clip: NoteClip,
    bpm: float,
    samplerate: int,
    role: str,
    timbre: str | None = None,
    brightness: float = 0.5,
    seed: int = 0,
    beats_per_second: float | None = None,
) -> np.ndarray:
    """Render `clip` as one seamless loop: float32 stereo, `(frames, 2)`.

    `frames` is exactly `round(clip.length * 60 / bpm * samplerate)`. Sound that rings past
    the loop's end is folded back onto its start, so the result loops without a click.
    `timbre` (a sound of hoot.music.sounds) defaults to the role's first in `ROLE_SOUNDS`;
    any sound may play any role ("kit" and "perc_kit" read pitches as GM drum notes).
    `brightness` (0..1) opens filters and adds harmonics. `seed` picks drum takes and
    oscillator phases; the same arguments always give the same audio. `beats_per_second`,
    when given, is the tempo instead of `bpm` (`bpm = 60 * beats_per_second`), for callers
    that keep tempo as a rate.

    Raises ValueError for an unknown role or timbre, or a tempo, sample rate or brightness
    out of range.
    """
    if beats_per_second is not None:
        if not (
            isinstance(beats_per_second, numbers.Real)
            and math.isfinite(beats_per_second)
            and beats_per_second > 0
        ):
            raise ValueError(f"beats_per_second must be positive, got {beats_per_second!r}")
        bpm = 60.0 * float(beats_per_second)
    chosen = _check(clip, bpm, samplerate, role, timbre, brightness)
    samplerate = int(samplerate)
    samples_per_beat = 60.0 / float(bpm) * samplerate
    frames = round(clip.length * samples_per_beat)
    if frames < 1:
        raise ValueError(f"a {clip.length:g}-beat clip at {bpm:g} BPM is shorter than one sample")
    setting = Setting(samplerate, frames, float(brightness), int(seed), samples_per_beat)
    if len(clip) == 0:
        return np.zeros((frames, 2), np.float32)

    on = np.rint(clip.start * samples_per_beat).astype(np.int64)
    off = np.rint((clip.start + clip.duration) * samples_per_beat).astype(np.int64)
    notes = Notes(
        on=np.minimum(on, frames - 1),
        gate=np.maximum(off - on, max(1, round(0.005 * samplerate))),
        pitch=clip.pitch.astype(np.int64),
        velocity=clip.velocity.astype(np.float64) / 127.0,
        frames=frames,
    )
    bus = BUSES[chosen]
    if SOUNDS[chosen].drum_map:
        dry, send = render_drums(notes, setting, chosen)
        loop = fold(dry, frames)
        if send.any():
            loop += reverb(fold(send, frames), samplerate, bus.room)
    else:
        loop = insert_effects(fold(render_voices(notes, setting, chosen), frames), setting, chosen)
        if bus.reverb:
            loop += bus.reverb * reverb(0.5 * (loop[0] + loop[1]), samplerate, bus.room)
    loop = mid_side(loop, samplerate, bus.width)
    # Channels-first inside; callers get (frames, 2). Nothing here makes NaN, but a stem
    # must never carry one to the PA.
    audio = np.ascontiguousarray(loop.T)
    if not np.isfinite(audio).all():
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    return audio


def render_stem(
    clip: NoteClip,
    bpm: float,
    samplerate: int,
    role: str,
    timbre: str | None = None,
    brightness: float = 0.5,
    seed: int = 0,
    target_lufs: float = -14.0,
) -> tuple[np.ndarray, dict]:
    """`render_clip`, then loudness-normalised to `target_lufs` with true peaks at or under
    -1 dBTP (a smooth limiter steps in for peaky material; see `loudness.normalize`).

    Returns the audio and `{"lufs": loudness after, "gain_db": gain applied, "timbre": name}`;
    a silent clip stays silent, with `lufs` of -inf and a gain of 0 dB.
    """
    chosen = _check(clip, bpm, samplerate, role, timbre, brightness)
    audio = render_clip(clip, bpm, samplerate, role, chosen, brightness, seed)
    audio, gain_db, lufs = normalize_measured(audio, samplerate, target_lufs, loop=True)
    return audio, {"lufs": lufs, "gain_db": gain_db, "timbre": chosen}
