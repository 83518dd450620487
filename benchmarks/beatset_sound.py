"""The two sounds of the beat tracker's evaluation set: numpy voices and a GM SoundFont.

benchmarks/beatset.py writes a score (notes at exact seconds); this module plays it.
`synth` renders it with small numpy instruments: drum voices (a pitch-swept kick, a
noise-and-tone snare, metallic hats and ride), a bass, electric-piano-like keys, a slow
pad, a brass-like line (brightness that rises over ~70 ms, as a trombone's does) and a
voice-like line (harmonics shaped by vowel formants, a ~90 ms swell and vibrato): the soft
onsets that trackers miss. `soundfont` writes the same score as a MIDI file and renders it
with the `fluidsynth` program on FluidR3_GM (scripts/setup installs both); a 30 s clip
renders in ~0.4 s, and the render is kept under ~/.cache/hoot/beatset keyed by a hash of
the MIDI file, because fluidsynth is not bit-exact from run to run (differences of ~1e-5):
read back from the cache, the same seed gives the same samples.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

DRUMS = ("kick", "snare", "hat", "openhat", "pedal", "ride", "crash", "rim", "clap", "shaker")
PITCHED = ("bass", "keys", "guitar", "pad", "brass", "voice")

GM_DRUM = {"kick": 36, "snare": 38, "hat": 42, "openhat": 46, "pedal": 44, "ride": 51,
           "crash": 49, "rim": 37, "clap": 39, "shaker": 70}  # fmt: skip
"""General MIDI percussion keys (channel 10) for the drum parts."""

PAN = {"kick": 0.0, "snare": -0.1, "hat": 0.3, "openhat": 0.3, "pedal": 0.3, "ride": -0.35,
       "crash": 0.4, "rim": -0.1, "clap": 0.1, "shaker": 0.45, "bass": 0.0, "keys": -0.3,
       "guitar": 0.35, "pad": 0.0, "brass": 0.15, "voice": -0.05}  # fmt: skip

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
CACHE = Path.home() / ".cache" / "hoot" / "beatset"
_TICKS = 20000  # per beat of 1 s (tempo 1,000,000 us): one tick is 50 us
_LATENCY_FRAMES = 64  # fluidsynth plays an event one 64-frame block late (hoot.generate.soundfont)


@dataclass(frozen=True)
class Note:
    """One note of a score: `time` and `length` in seconds, `velocity` 0..1; drum parts
    ignore `pitch`."""

    time: float
    part: str
    pitch: int
    velocity: float
    length: float


def _hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def _drum(part: str, sr: int, rng: np.random.Generator, tune: float,
          design: dict[str, float] | None = None) -> np.ndarray:  # fmt: skip
    """One hit of a drum voice at full velocity, mono float32. `design` (the train split's,
    `_design`) reshapes the voice: kick pitch, sweep, length and click; snare tone, noise
    and length; cymbal metal and length."""
    d = {"base": 48.0, "sweep": 110.0, "sweep_tau": 0.035, "body": 0.16, "click": 0.3,
         "tone_hz": 190.0, "tone": 0.6, "noise": 0.7, "noise_tau": 0.07, "metal": 0.5,
         "length": 1.0, **(design or {})}  # fmt: skip

    def noise(seconds: float) -> np.ndarray:
        return rng.standard_normal(int(seconds * sr))

    def highpass(x: np.ndarray) -> np.ndarray:
        return np.diff(x, prepend=0.0)

    if part == "kick":
        seconds = max(0.45, 2.8 * d["body"])
        t = np.arange(int(seconds * sr)) / sr
        f = d["base"] * tune + d["sweep"] * np.exp(-t / d["sweep_tau"])
        body = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / d["body"])
        click = highpass(noise(seconds)) * np.exp(-t / 0.004) * d["click"]
        out = body + click
    elif part == "snare":
        t = np.arange(int(0.3 * sr)) / sr
        tone = np.sin(2 * np.pi * d["tone_hz"] * tune * t) * np.exp(-t / 0.05)
        out = d["tone"] * tone + d["noise"] * highpass(noise(0.3)) * np.exp(-t / d["noise_tau"])
    elif part in ("hat", "openhat", "pedal", "shaker"):
        decay = {"hat": 0.035, "openhat": 0.22, "pedal": 0.02, "shaker": 0.05}[part] * d["length"]
        t = np.arange(int(max(0.12, 5 * decay) * sr)) / sr
        metal = sum(np.sign(np.sin(2 * np.pi * f * tune * t)) for f in (3140, 4230, 5870, 7310))
        x = highpass(highpass(d["metal"] * metal + rng.standard_normal(len(t))))
        attack = np.minimum(1.0, t / 0.012) if part == "shaker" else 1.0
        out = 0.35 * x * np.exp(-t / decay) * attack
    elif part in ("ride", "crash"):
        decay = 0.9 if part == "ride" else 1.4
        t = np.arange(int(3 * decay * sr)) / sr
        partials = (2460, 3170, 3960, 5140, 6620) if part == "ride" else (2110, 3550, 4780, 6930)
        metal = sum(np.sin(2 * np.pi * f * tune * t + k) for k, f in enumerate(partials))
        wash = highpass(noise(len(t) / sr)) * (0.2 if part == "ride" else 0.6)
        ping = np.exp(-t / 0.02) * 0.5 if part == "ride" else 0.0
        out = 0.3 * (metal * (0.3 + ping) + wash) * np.exp(-t / decay)
    elif part == "rim":
        t = np.arange(int(0.08 * sr)) / sr
        click = np.sin(2 * np.pi * 1700 * tune * t) + 0.5 * highpass(noise(0.08))
        out = click * np.exp(-t / 0.01)
    else:  # clap: three quick bursts of band-limited noise, then a short tail
        t = np.arange(int(0.25 * sr)) / sr
        bursts = sum(np.exp(-np.maximum(t - d, 0) / 0.006) * (t >= d) for d in (0, 0.011, 0.022))
        out = 0.8 * highpass(noise(0.25)) * (bursts + 0.4 * np.exp(-t / 0.06))
    return (out / np.max(np.abs(out))).astype(np.float32)


def _tone(part: str, pitch: int, seconds: float, sr: int) -> np.ndarray:
    """One pitched note at full velocity, mono float32, with its release."""
    f0 = _hz(pitch)
    release = {"bass": 0.05, "keys": 0.15, "guitar": 0.1, "pad": 0.5, "brass": 0.08,
               "voice": 0.12}[part]  # fmt: skip
    n = int((seconds + release) * sr)
    t = (np.arange(n) / sr).astype(np.float32)
    gate = np.clip((seconds + release - t) / release, 0.0, 1.0)
    out = np.zeros(n, np.float32)
    if part in ("bass", "keys", "guitar"):
        decay = {"bass": 0.6, "keys": 0.9, "guitar": 0.5}[part]
        for k in range(1, 9):
            if f0 * k > sr / 2.2:
                break
            amp = (1 / k ** (1.3 if part == "bass" else 1.8)) * np.exp(-t * k / (decay * 3))
            out += amp * np.sin(2 * np.pi * f0 * k * t)
        out *= np.exp(-t / decay) * np.minimum(1.0, t / 0.004)
    elif part == "pad":
        for k in range(1, 7):
            for detune in (0.997, 1.003):
                out += np.sin(2 * np.pi * f0 * k * detune * t + k) / k
        out *= np.minimum(1.0, t / 0.4) * 0.4
    else:
        attack = 0.07 if part == "brass" else 0.09
        swell = np.minimum(1.0, t / attack)
        vibrato = 1 + 0.006 * np.sin(2 * np.pi * 5.2 * t) * np.clip((t - 0.25) / 0.3, 0, 1)
        phase = 2 * np.pi * f0 * np.cumsum(vibrato) / sr
        formants = ((600, 1.0), (1040, 0.45), (2250, 0.25)) if part == "voice" else ()
        for k in range(1, 20):
            fk = f0 * k
            if fk > sr / 2.2:
                break
            if part == "brass":
                amp = np.exp(-(k - 1) / (1.0 + 4.0 * swell))  # brighter as the note opens
            else:
                amp = sum(g * np.exp(-(((fk - f) / 130.0) ** 2)) for f, g in formants) + 0.02 / k
            out += amp * np.sin(k * phase)
        out *= swell
    return (out * gate).astype(np.float32)


def synth(notes: list[Note], seconds: float, sr: int, seed: int, vary: bool = False) -> np.ndarray:
    """The score played by the numpy voices: float32 (frames, 2), not normalised. `vary`
    (the train split): each drum voice shaped anew (`_design`) and tuned on its own over a
    wider range, about a third of the clips' drums played by hoot's own renderer instead
    (`_hoot_drums`), and each part's level moved by -9 to +4 dB (hats, ride and shaker up
    to +10 dB), so a model cannot learn one kit and one mix."""
    rng = np.random.default_rng(seed)
    frames = int(round(seconds * sr))
    choke = sr // 100
    tune = float(rng.uniform(0.9, 1.12))
    played = {note.part for note in notes}
    shape = np.random.default_rng(seed + 101)  # the train split's kit design, its own draws
    designs = {part: _design(part, shape) if vary else None for part in DRUMS}
    kit = {
        part: [_drum(part, sr, rng, float(rng.uniform(0.7, 1.4)) if vary else tune,
                     designs[part]) for _ in range(3)]
        for part in DRUMS if part in played
    }  # fmt: skip
    hoot_kit = str(shape.choice(["kit", "perc_kit"], p=[0.8, 0.2])) if vary else None
    if vary and shape.random() < 0.35:  # hoot's own drum kit (hoot.generate.render)
        kit = {}
    # the train split's mix: each part moved by -9 to +4 dB; hats and cymbals up to +10 dB
    # (open hats on the "and" louder than the kick, the classic way to lose the beat)
    loud = {"hat": 10.0, "openhat": 10.0, "ride": 10.0, "shaker": 10.0}
    moved = {part: 10 ** (float(rng.uniform(-9, loud.get(part, 4.0))) / 20) if vary else 1.0
             for part in PAN}  # fmt: skip
    parts: dict[str, np.ndarray] = {}
    tones: dict[tuple[str, int, int], np.ndarray] = {}
    for note in notes:
        start = int(round(note.time * sr))
        if start >= frames or start < 0:
            continue
        if note.part in DRUMS and note.part not in kit:  # hoot's kit plays them, below
            continue
        if note.part in kit:
            hit = kit[note.part][int(rng.integers(3))]
        else:
            key = (note.part, note.pitch, int(round(note.length * 40)))  # 25 ms steps
            if key not in tones:
                tones[key] = _tone(note.part, note.pitch, key[2] / 40, sr)
            hit = tones[key]
        if note.part in kit and note.length * sr < len(hit):  # choked: a 10 ms fade
            hit = hit[: int(note.length * sr) + choke].copy()
            hit[-choke:] *= np.linspace(1.0, 0.0, choke, dtype=np.float32)
        if note.part not in parts:
            parts[note.part] = np.zeros(frames, np.float32)
        track = parts[note.part]
        end = min(frames, start + len(hit))
        track[start:end] += note.velocity**1.5 * hit[: end - start]
    level = {"kick": 1.0, "snare": 0.7, "hat": 0.35, "openhat": 0.35, "pedal": 0.25,
             "ride": 0.35, "crash": 0.4, "rim": 0.8, "clap": 0.6, "shaker": 0.25, "bass": 0.6,
             "keys": 0.18, "guitar": 0.2, "pad": 0.1, "brass": 0.3, "voice": 0.35}  # fmt: skip
    out = np.zeros((frames, 2), np.float32)
    for part, track in parts.items():
        pan = PAN[part]
        out[:, 0] += moved[part] * level[part] * (1 - pan) * track
        out[:, 1] += moved[part] * level[part] * (1 + pan) * track
    if vary and not kit and hoot_kit is not None:
        drums = [n for n in notes if n.part in DRUMS and 0 <= n.time * sr < frames]
        if drums:
            out += _hoot_drums(drums, frames, sr, seed, hoot_kit, float(shape.uniform(0.2, 0.9)),
                               moved)  # fmt: skip
    return out


def _design(part: str, rng: np.random.Generator) -> dict[str, float]:
    """A drum voice's shape for one train clip, so a model hears many kits, not one."""
    if part == "kick":
        return {"base": float(rng.uniform(36, 75)), "sweep": float(rng.uniform(30, 260)),
                "sweep_tau": float(rng.uniform(0.008, 0.08)), "body": float(rng.uniform(0.05, 0.6)),
                "click": float(rng.choice([0.0, rng.uniform(0.05, 0.6)]))}  # fmt: skip
    if part == "snare":
        return {"tone_hz": float(rng.uniform(140, 300)), "tone": float(rng.uniform(0.1, 1.0)),
                "noise": float(rng.uniform(0.3, 1.0)),
                "noise_tau": float(rng.uniform(0.03, 0.16))}  # fmt: skip
    if part in ("hat", "openhat", "pedal", "shaker"):
        return {"metal": float(rng.uniform(0.0, 1.0)), "length": float(rng.uniform(0.5, 2.2))}
    return {}


def _hoot_drums(notes: list[Note], frames: int, sr: int, seed: int, kit: str,
                brightness: float, moved: dict[str, float]) -> np.ndarray:  # fmt: skip
    """The score's drum parts played by hoot's own drum renderer (the kits its stems use):
    float32 (frames, 2), at about the numpy kit's level."""
    from hoot.generate.render.drums import render_drums
    from hoot.generate.render.notes import Notes, Setting

    on = np.array([int(round(n.time * sr)) for n in notes], np.int64)
    gate = np.array([max(1, int(min(n.length, 4.0) * sr)) for n in notes], np.int64)
    pitch = np.array([GM_DRUM[n.part] for n in notes], np.int64)
    velocity = np.array([n.velocity * moved[n.part] ** 0.5 for n in notes], np.float64)
    setting = Setting(samplerate=sr, frames=frames, brightness=brightness, seed=seed,
                      samples_per_beat=float(sr) / 2)  # fmt: skip
    dry, send = render_drums(Notes(on, gate, pitch, np.clip(velocity, 0.05, 1.0), frames),
                             setting, kit)  # fmt: skip
    out = dry[:, :frames].T + 0.15 * send[:frames, None]
    return (0.6 * out).astype(np.float32)


def soundfont(notes: list[Note], programs: dict[str, int], seconds: float, sr: int) -> np.ndarray:
    """The score played on FluidR3_GM by fluidsynth (`programs`: GM program per pitched
    part): float32 (frames, 2), not normalised. Cached; see the module's docstring."""
    midi = _midi(notes, programs, seconds)
    key = hashlib.sha256(midi + f"{sr} {SOUNDFONT} {SOUNDFONT.stat().st_size}".encode())
    cached = CACHE / f"{key.hexdigest()[:24]}.flac"
    frames = int(round(seconds * sr))
    if not cached.is_file():
        fluidsynth = shutil.which("fluidsynth")
        if fluidsynth is None:
            raise RuntimeError("no fluidsynth program: run scripts/setup")
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="hoot-beatset-") as folder:
            mid, wav = Path(folder) / "clip.mid", Path(folder) / "clip.wav"
            mid.write_bytes(midi)
            subprocess.run(
                [fluidsynth, "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", "0.6", "-r", str(sr),
                 "-o", "synth.dynamic-sample-loading=1", "-F", str(wav), "-T", "wav",
                 "-O", "float", str(SOUNDFONT), str(mid)],
                check=True, capture_output=True, timeout=300,
            )  # fmt: skip
            audio, _ = sf.read(str(wav), dtype="float32", always_2d=True)
            audio = audio[_LATENCY_FRAMES : _LATENCY_FRAMES + frames]
            partial = cached.with_suffix(".part")
            sf.write(str(partial), audio, sr, format="FLAC", subtype="PCM_24")
            partial.replace(cached)
    audio, _ = sf.read(str(cached), dtype="float32", always_2d=True)
    out = np.zeros((frames, 2), np.float32)
    out[: len(audio)] = audio[:frames]
    return out


def _midi(notes: list[Note], programs: dict[str, int], seconds: float) -> bytes:
    """The score as a type 0 MIDI file at one beat a second, 50 us a tick."""
    channels = {part: i if i < 9 else i + 1 for i, part in enumerate(sorted(programs))}
    head = [mido.MetaMessage("set_tempo", tempo=1_000_000, time=0)]
    for part, channel in channels.items():
        head.append(mido.Message("program_change", channel=channel, program=programs[part]))
        pan = int(round(64 + 63 * PAN[part]))
        head.append(mido.Message("control_change", channel=channel, control=10, value=pan))
    events = []
    for note in notes:
        drum = note.part in GM_DRUM
        channel = 9 if drum else channels[note.part]
        pitch = GM_DRUM[note.part] if drum else note.pitch
        velocity = max(1, min(127, int(round(note.velocity * 127))))
        on = int(round(note.time * _TICKS))
        off = max(on + 1, int(round((note.time + (0.1 if drum else note.length)) * _TICKS)))
        events.append((on, 1, mido.Message("note_on", channel=channel, note=pitch,
                                           velocity=velocity)))  # fmt: skip
        events.append((off, 0, mido.Message("note_off", channel=channel, note=pitch)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack(head)
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    end = int((seconds + 1) * _TICKS)
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    file = mido.MidiFile(type=0, ticks_per_beat=_TICKS)
    file.tracks.append(track)
    with tempfile.TemporaryFile() as buffer:
        file.save(file=buffer)
        buffer.seek(0)
        return buffer.read()
