"""Reading stem files into engine memory, on the loader thread (never the audio thread).

A stem on disk is up to three files sharing a name in a session's `stems/`
folder: audio (`NAME.wav`, or any format libsndfile reads: FLAC, Ogg/Vorbis, AIFF,
CAF, W64, RF64, MP3 where the library has it...), notes (`NAME.mid`) and metadata
(`NAME.json`: role, bars, tempo, key, generator, seed, parameters...). Audio plays
when there is some; a MIDI-only stem plays through the engine's synth voices.

Everything the audio thread will touch is made safe here: float32, C-contiguous,
stereo, the engine's sample rate, finite, within +-4.0, with short fades at the
loop seam so a stem that does not loop cleanly still does not click.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from hoot.engine.core import LoadedStem
from hoot.errors import StemError
from hoot.music.sounds import SoundError, live_patch

SEAM_FADE = 64  # frames faded in and out at the loop seam (1.3 ms at 48 kHz)
MAX_SECONDS = 600  # a stem longer than ten minutes is a mistake, not a loop


AUDIO_SUFFIXES = (
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".caf",
    ".w64", ".rf64", ".mp3", ".au", ".snd",
)  # fmt: skip
MIDI_SUFFIXES = (".mid", ".midi")


def stem_files(path: str | Path) -> tuple[Path | None, Path | None, Path | None]:
    """The (audio, mid, json) files of the stem at `path` (any one of them, or the bare name)."""
    p = Path(path).expanduser()
    known = (*AUDIO_SUFFIXES, *MIDI_SUFFIXES, ".json")
    base = p.with_suffix("") if p.suffix.lower() in known else p

    def first(suffixes: tuple[str, ...]) -> Path | None:
        for suffix in suffixes:
            for candidate in (base.with_suffix(suffix), base.with_suffix(suffix.upper())):
                if candidate.is_file():
                    return candidate
        return None

    audio, mid, meta = first(AUDIO_SUFFIXES), first(MIDI_SUFFIXES), first((".json",))
    if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES:
        audio = p
    elif p.is_file() and p.suffix.lower() not in (*MIDI_SUFFIXES, ".json"):
        audio = p  # any other name: whatever libsndfile makes of it (it says if nothing)
    return audio, mid, meta


def read_metadata(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise StemError(
            f"stem metadata {path} is not readable JSON ({e}); fix or delete it"
        ) from None
    if not isinstance(data, dict):
        raise StemError(f"stem metadata {path} must hold a JSON object")
    return data


def load_stem(
    path: str | Path,
    samplerate: int,
    stem_id: str | None = None,
    beats_per_bar: int = 4,
    role: str | None = None,
) -> LoadedStem:
    """Read the stem at `path` for an engine running at `samplerate`. Raises StemError."""
    wav, mid, meta_path = stem_files(path)
    if wav is None and mid is None:
        raise StemError(
            f"no stem at {path}: expected an audio file (WAV, FLAC, Ogg, AIFF...) or a .mid "
            "file there; check the path (relative paths are looked up in the session's stems/ "
            "folder, then the current folder)"
        )
    meta = read_metadata(meta_path)
    sid = stem_id or Path(path).stem
    name = str(meta.get("name", Path(path).stem))
    if wav is not None and meta.get("play", "audio") != "midi":
        audio = read_audio(wav, samplerate)
        return LoadedStem(id=sid, audio=audio, name=name, length_beats=_beats(meta, beats_per_bar))
    return _midi_stem(mid, meta, sid, name, beats_per_bar, role or meta.get("role"))


CHUNK = 16384  # frames read and cleaned at a time (about 0.3 s at 48 kHz)


def read_audio(path: Path, samplerate: int) -> np.ndarray:
    """A WAV (or any libsndfile format) as engine-ready stereo float32 at `samplerate`.

    This runs in the engine process beside the audio callback, so it works in chunks and
    offers the GIL between them: no single call holds it for more than a fraction of a
    millisecond on a stem of any length."""
    import soundfile as sf

    check_whole(path)
    try:
        with sf.SoundFile(str(path)) as f:
            frames, sr, channels = f.frames, f.samplerate, f.channels
            if frames <= 0:
                raise StemError(f"stem {path} holds no audio; re-render or delete it")
            if frames / sr > MAX_SECONDS:
                raise StemError(
                    f"stem {path} is {frames / sr:.0f} s long; stems loop, "
                    f"so hoot takes at most {MAX_SECONDS} s: cut it shorter"
                )
            data = np.empty((frames, 2), np.float32)
            done = 0
            while done < frames:
                block = f.read(min(CHUNK, frames - done), dtype="float32", always_2d=True)
                if len(block) == 0:
                    break
                part = data[done : done + len(block)]
                part[:] = block[:, :2] if channels >= 2 else block[:, :1]
                np.nan_to_num(part, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
                np.clip(part, -4.0, 4.0, out=part)
                done += len(block)
                time.sleep(0)  # let the audio thread have the GIL
            data = data[:done]
    except StemError:
        raise
    except Exception as e:  # noqa: BLE001 - libsndfile's errors are many; one sentence suffices
        if "format" in str(e).lower() and path.suffix.lower() not in (".wav", ".wave"):
            raise StemError(
                f"{path.name}: hoot reads the audio formats libsndfile reads (WAV, FLAC, "
                f"Ogg/Vorbis, AIFF, CAF, W64, RF64...) and this one is not among them; convert "
                "it to WAV or FLAC"
            ) from None
        raise StemError(
            f"stem {path} is not a readable audio file ({e}); re-render or replace it"
        ) from None
    if len(data) == 0:
        raise StemError(f"stem {path} holds no audio; re-render or delete it")
    if sr != samplerate:
        data = np.clip(np.nan_to_num(resample_loop(data, sr, samplerate)), -4.0, 4.0)
    apply_seam_fades(data)
    return np.ascontiguousarray(data, dtype=np.float32)


def check_whole(path: Path) -> None:
    """Refuse a WAV file cut short: one whose data chunk promises more bytes than the file
    holds (an interrupted copy or download). libsndfile reads what is there and says
    nothing, so a 1 MB take would load as a 25-frame stem. A header that promises less
    than the file holds is a recording that crashed before its header was updated: that
    one the recorder repairs, and it reads fine as it is."""
    import struct

    if path.suffix.lower() not in (".wav", ".wave"):
        return
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return  # RF64 and the rest: libsndfile's checks
            offset = 12
            while offset + 8 <= size:
                f.seek(offset)
                chunk, length = struct.unpack("<4sI", f.read(8))
                if chunk == b"data":
                    if length != 0xFFFFFFFF and offset + 8 + length > size:
                        raise StemError(
                            f"stem {path} is cut short: its header promises {length:,} bytes "
                            f"of audio and the file holds {max(0, size - offset - 8):,}; copy "
                            "it again whole, or re-render it"
                        )
                    return
                offset += 8 + length + (length & 1)
    except OSError:
        return  # libsndfile will say what is wrong


def resample_loop(data: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Resample a loop by its spectrum: a loop is periodic, so this is exact band-limiting."""
    n_to = max(1, round(len(data) * sr_to / sr_from))
    spectrum = np.fft.rfft(data.astype(np.float64), axis=0)
    bins = n_to // 2 + 1
    out = np.zeros((bins, data.shape[1]), np.complex128)
    k = min(bins, len(spectrum))
    out[:k] = spectrum[:k]
    return (np.fft.irfft(out, n=n_to, axis=0) * (n_to / len(data))).astype(np.float32)


def apply_seam_fades(data: np.ndarray, frames: int = SEAM_FADE) -> None:
    """De-click a loop in place, touching only what would click.

    A stem's own first sample is the composer's transient (a kick, an impulse) and plays
    untouched at its boundary, unless the stem begins mid-waveform (a large first value
    that continues smoothly: a cut pad), which gets a short fade-in. A loop whose end does
    not meet its start gets a short fade-out, so the seam clicks no more than the start.
    """
    k = min(frames, len(data) // 2)
    if k < 2:
        return
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, k + 2)[1:-1])).astype(np.float32)[:, None]
    first, second = np.abs(data[0]).max(), np.abs(data[1] - data[0]).max()
    if first > 0.05 and second < 0.25 * first:
        data[:k] *= ramp
    steps = np.abs(np.diff(data[:: max(1, len(data) // 100_000)], axis=0))
    typical = float(np.percentile(steps, 99)) if len(steps) else 0.0
    if np.abs(data[-1] - data[0]).max() > max(0.05, 4 * typical):
        data[len(data) - k :] *= ramp[::-1]


def _beats(meta: dict, beats_per_bar: int) -> float:
    """A stem's musical length in beats from its metadata (bars), 0.0 where it has none."""
    try:
        bars = float(meta.get("bars") or 0)
        beats = bars * float(meta.get("beats_per_bar", beats_per_bar))
    except (TypeError, ValueError):
        return 0.0
    return beats if math.isfinite(beats) and beats > 0 else 0.0


def _midi_stem(
    mid: Path | None, meta: dict, sid: str, name: str, beats_per_bar: int, role: str | None
) -> LoadedStem:
    from hoot.music.clip import NoteClip

    if mid is None:
        raise StemError(f"stem {sid} asks to play its MIDI but has no .mid file beside it")
    length = None
    if meta.get("bars"):
        length = float(meta["bars"]) * float(meta.get("beats_per_bar", beats_per_bar))
    try:
        clip = NoteClip.read_midi(mid, length=length)
    except (OSError, ValueError) as e:
        raise StemError(
            f"stem {mid} is not a readable MIDI file ({e}); re-render or replace it"
        ) from None
    if len(clip) == 0:
        raise StemError(f"stem {mid} holds no notes")
    on, off, pitch, velocity = clip.events()
    off_order = np.argsort(off, kind="stable")
    sound = meta.get("sound") or meta.get("timbre")
    try:
        patch = live_patch(str(sound) if sound else None, role)
    except SoundError as e:
        raise StemError(f"stem {sid}: {e}") from None
    return LoadedStem(
        id=sid,
        on_beats=np.ascontiguousarray(on, np.float64),
        on_pitch=np.ascontiguousarray(pitch, np.int16),
        on_velocity=np.ascontiguousarray(velocity, np.int16),
        off_beats=np.ascontiguousarray(off[off_order], np.float64),
        off_pitch=np.ascontiguousarray(pitch[off_order], np.int16),
        length_beats=float(clip.length),
        patch=patch,
        name=name,
    )
