"""The melodic voices: sub and acid bass, saw and pulse leads, pad, keys and pluck.

Each polyphonic voice renders one note `(pitch, gate, velocity, setting)` to mono or
stereo audio that ends at exactly zero; the two basses are monophonic and render a whole
line (the sub cuts each note at the next onset, the acid line slides between tied notes).
`render_voices` is the one way in: a sound's name to its voice.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from hoot.generate.render.envelopes import (
    adsr,
    release_curve,
    start_phase,
    velocity_gain,
)
from hoot.generate.render.notes import Notes, Setting, mix_into, render_notes
from hoot.generate.render.oscillators import (
    LEVELS_PER_OCTAVE,
    PHASE_ONE,
    filter_sweep,
    hz,
    morph,
    oscillator_phase,
    pitch_band,
    plain_table,
    read_morph,
    read_plain,
    seconds,
    wavetables,
)


def _sub_bass(pitch: int, gate: int, velocity: float, setting: Setting) -> np.ndarray:
    """Sine with a little second harmonic, a short attack and a slight pitch drop at onset."""
    sr, bright = setting.samplerate, setting.brightness
    envelope = adsr(gate, sr, attack=0.004, decay=0.6, sustain=0.85, release=0.035)
    t = seconds(envelope.size, sr).astype(np.float64)
    f0 = float(hz(pitch))
    drop, settle = 2.0 ** (1.5 / 12.0) - 1.0, 0.018
    cycles = f0 * (t + drop * settle * (1.0 - np.exp(-t / settle)))
    angle = (2.0 * np.pi * (cycles - np.floor(cycles))).astype(np.float32)
    sine = np.sin(angle)
    wave = sine + (0.1 + 0.25 * bright) * (2.0 * sine * np.cos(angle))
    drive = 1.0 + 3.0 * max(0.0, bright - 0.3)
    # Gentle saturation adds odd harmonics, so the line is heard on small speakers too.
    wave = np.tanh(drive * wave) / math.tanh(drive)
    return (0.5 * velocity**0.8) * wave * envelope


def _glide(target: np.ndarray, lag: float, samplerate: int, start: float) -> np.ndarray:
    """One-pole glide towards `target` (a slide, in semitones), from `start`."""
    pole = math.exp(-1.0 / (lag * samplerate))
    glided, _ = signal.lfilter([1.0 - pole], [1.0, -pole], target, zi=[pole * start])
    return glided


def _acid_phrase(
    notes: list[tuple[int, int, int, float]], setting: Setting
) -> tuple[int, np.ndarray]:
    """One slide chain of a 303-style line: saw through a resonant four-pole low-pass whose
    cutoff jumps on the first note and decays, sliding in pitch between tied notes.

    `notes` are `(on, gate, pitch, velocity)` in order, each overlapping the next. Returns
    the chain's first sample and its audio (mono).
    """
    sr, bright = setting.samplerate, setting.brightness
    first = notes[0][0]
    release = round(0.02 * sr)
    gate = notes[-1][0] + notes[-1][1] - first
    length = gate + release
    # The pitch steps at each tied onset and glides there (the 303's slide).
    target = np.empty(length)
    for (on, _, pitch, _), nxt in zip(notes, notes[1:] + [None]):
        stop = length if nxt is None else nxt[0] - first
        target[on - first : stop] = pitch
    pitch = target if len(notes) == 1 else _glide(target, 0.045, sr, notes[0][2])
    f0 = 440.0 * np.exp2((pitch - 69.0) / 12.0)
    velocity = notes[0][3]
    accent = velocity >= 100 / 127
    t = seconds(length, sr)
    decay = (0.18 + 0.5 * bright) * (0.55 if accent else 1.0)
    sweep = np.exp(t * np.float32(-1.0 / decay))
    depth = 2.2 + 2.0 * bright + (1.3 if accent else 0.0)
    base = math.log2(160.0) + 2.6 * bright
    cutoff = base + depth * sweep - np.log2(f0).astype(np.float32)
    level = LEVELS_PER_OCTAVE * (cutoff + 1.0)
    tables = wavetables("acid", pitch_band(max(n[2] for n in notes)), sr)
    wave = read_morph(morph(tables, level, length), oscillator_phase(f0 / sr, length, 0.0))
    # The resonant saw peaks near 2.4; scaled to about 1 it saturates gently (grit, not
    # fuzz), more with brightness and on accents.
    drive = 0.4 * (1.0 + 1.5 * bright + (0.8 if accent else 0.0))
    wave = np.tanh(drive * wave)
    # A touch of sine under the saw keeps weight on a PA when the filter is closed.
    cycles = np.cumsum(f0 / sr)
    wave += 0.22 * np.sin(2.0 * np.pi * (cycles - np.floor(cycles))).astype(np.float32)
    envelope = np.ones(length, np.float32)
    attack = min(round(0.003 * sr), length)
    envelope[:attack] = np.linspace(0.0, 1.0, attack, endpoint=False)
    envelope[gate:] = release_curve(release, sr)
    gain = (0.32 if accent else 0.22) * (0.6 + 0.4 * velocity)
    return first, gain * wave * envelope


def _render_acid(notes: Notes, setting: Setting) -> np.ndarray:
    """The monophonic acid line: notes that overlap the next one slide into it."""
    # A monophonic voice plays the lowest of notes that start together.
    order = np.lexsort((notes.pitch, notes.on))
    keep = order[np.concatenate([[True], np.diff(notes.on[order]) > 0])] if len(order) else order
    on, gate = notes.on[keep], notes.gate[keep]
    pitch, velocity = notes.pitch[keep], notes.velocity[keep]
    following = np.append(on[1:], on[0] + setting.frames) if len(on) else on
    overlaps = on + gate > following
    # The last note may tie over the seam, but it cannot slide into the next loop's first
    # note; it hands over with a retrigger there instead.
    last = np.arange(len(on)) == len(on) - 1
    gate = np.where(overlaps & last, following - on, gate)
    overlaps &= ~last
    chains: list[list[tuple[int, int, int, float]]] = []
    for index in range(len(on)):
        note = (int(on[index]), int(gate[index]), int(pitch[index]), float(velocity[index]))
        if chains and index > 0 and overlaps[index - 1]:
            chains[-1].append(note)
        else:
            chains.append([note])
    rendered = [_acid_phrase(chain, setting) for chain in chains]
    end = max([setting.frames] + [first + audio.size for first, audio in rendered])
    buffer = np.zeros((2, end), np.float32)
    for first, audio in rendered:
        mix_into(buffer, first, audio, 1.0, 1.0)
    return buffer


_VIBRATO_DELAY = 0.3
"""A held lead note starts straight; vibrato fades in after this many seconds, as a
player's would. Shorter notes keep a constant pitch (and the cheaper constant phase)."""


def _vibrato(length: int, samplerate: int, depth: float) -> np.ndarray | None:
    """Pitch ratio per sample: 1 for 0.3 s, then a 5.5 Hz vibrato of `depth` semitones
    fading in over 0.4 s; None for notes too short to reach it."""
    if length <= _VIBRATO_DELAY * samplerate:
        return None
    t = seconds(length, samplerate)
    fade = np.clip((t - np.float32(_VIBRATO_DELAY)) * np.float32(1.0 / 0.4), 0.0, 1.0)
    semitones = (depth / 12.0) * fade * np.sin(np.float32(2.0 * np.pi * 5.5) * t)
    return np.exp2(semitones)


def _detuned_rates(
    f0: float, bend: np.ndarray | None, cents: tuple[float, ...], sr: int
) -> list[float | np.ndarray]:
    """Per voice, cycles per sample: `f0` detuned by `cents`, times `bend` (a pitch ratio
    per sample, float32) when given. Kept under Nyquist so the phase maths stays exact."""
    rates: list[float | np.ndarray] = []
    for detune in cents:
        rate = min(f0 * 2.0 ** (detune / 1200.0) / sr, 0.45)
        rates.append(rate if bend is None else np.float32(rate) * bend)
    return rates


def _saw_lead(pitch: int, gate: int, velocity: float, setting: Setting) -> np.ndarray:
    """Three detuned band-limited saws through a resonant filter with its own envelope."""
    sr, bright = setting.samplerate, setting.brightness
    envelope = adsr(gate, sr, attack=0.006, decay=0.3, sustain=0.75, release=0.18)
    length = envelope.size
    f0 = float(hz(pitch))
    level, settled = filter_sweep(
        length, sr, 2.0 ** (1.0 + 3.5 * bright), 1.8 + 1.5 * velocity, 0.25
    )
    tables = wavetables("lead", pitch_band(pitch), sr)
    sweep = morph(tables, level, settled)
    voices = [
        read_morph(sweep, oscillator_phase(rate, length, start_phase(setting.seed, pitch, k)))
        for k, rate in enumerate(
            _detuned_rates(f0, _vibrato(length, sr, 0.16), (0.0, 9.0, -9.0), sr)
        )
    ]
    centre, up, down = voices
    gain = 0.2 * velocity_gain(velocity) * envelope
    left = (centre + 0.8 * up + 0.35 * down) * gain
    right = (centre + 0.35 * up + 0.8 * down) * gain
    return np.stack([left, right])


def _pulse_lead(pitch: int, gate: int, velocity: float, setting: Setting) -> np.ndarray:
    """Two slightly detuned pulses whose width sweeps slowly (PWM), through a soft filter."""
    sr, bright = setting.samplerate, setting.brightness
    envelope = adsr(gate, sr, attack=0.004, decay=0.15, sustain=0.8, release=0.12)
    length = envelope.size
    f0 = float(hz(pitch))
    t = seconds(length, sr)
    level, settled = filter_sweep(length, sr, 2.0 ** (2.0 + 3.0 * bright), 1.5, 0.2)
    tables = wavetables("soft", pitch_band(pitch), sr)
    # A pulse is a saw minus the same saw shifted by the pulse width.
    width = 0.33 - 0.17 * np.sin(np.float32(2.0 * np.pi * 0.8) * t)
    shift = (width * np.float32(PHASE_ONE)).astype(np.uint32)
    sweep = morph(tables, level, settled)
    channels = []
    for k, rate in enumerate(_detuned_rates(f0, _vibrato(length, sr, 0.14), (-6.0, 6.0), sr)):
        phase = oscillator_phase(rate, length, start_phase(setting.seed, pitch, k))
        pulse = read_morph(sweep, phase)
        pulse -= read_morph(sweep, phase + shift)
        channels.append(pulse)
    gain = 0.17 * velocity_gain(velocity) * envelope
    left = (channels[0] + 0.45 * channels[1]) * gain
    right = (channels[1] + 0.45 * channels[0]) * gain
    return np.stack([left, right])


def _pad(pitch: int, gate: int, velocity: float, setting: Setting) -> np.ndarray:
    """Three detuned saws, slow swell and long release; each side hears a different pair."""
    sr, bright = setting.samplerate, setting.brightness
    attack = min(0.45, 0.5 * gate / sr)
    envelope = adsr(gate, sr, attack, decay=1.0, sustain=1.0, release=0.9, soft_attack=True)
    length = envelope.size
    f0 = float(hz(pitch))
    table = plain_table(pitch_band(pitch), sr)
    spread = 11.0 + 8.0 * bright
    low, mid, high = (
        read_plain(table, oscillator_phase(rate, length, start_phase(setting.seed, pitch, k)))
        for k, rate in enumerate(_detuned_rates(f0, None, (-spread, 0.0, spread * 0.93), sr))
    )
    gain = 0.11 * (0.45 + 0.55 * velocity) * envelope
    return np.stack([(low + 0.6 * mid) * gain, (high + 0.6 * mid) * gain])


def _keys(pitch: int, gate: int, velocity: float, setting: Setting) -> np.ndarray:
    """Electric piano by FM: a 1:1 pair for the body (bright when struck hard, mellowing as
    it rings) and a 1:14 pair for the tine's bell-like attack."""
    sr, bright = setting.samplerate, setting.brightness
    f0 = float(hz(pitch))
    ring = 2.6 * (220.0 / f0) ** 0.35
    audible = min(gate / sr, 5.0 * ring)  # past this the note has died away anyway
    length = round(audible * sr) + round(0.25 * sr)
    t64 = seconds(length, sr).astype(np.float64)
    t = t64.astype(np.float32)
    body = np.exp(t * np.float32(-1.0 / ring))
    strike = np.exp(t * np.float32(-1.0 / 0.25))
    amplitude = 0.35 * strike + 0.65 * body
    release_at = round(audible * sr)
    amplitude[release_at:] *= release_curve(length - release_at, sr)
    attack = max(1, round(0.0015 * sr))
    amplitude[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False, dtype=np.float32)
    cycles = f0 * t64
    angle = (2.0 * np.pi * (cycles - np.floor(cycles))).astype(np.float32)
    bark = (0.5 + 1.7 * velocity) * (0.45 + 1.1 * bright)
    index = bark * (0.8 * np.exp(t * np.float32(-1.0 / 0.4)) + 0.2)
    wave = np.sin(angle + index * np.sin(angle))
    # The tine pair fades out for high notes, whose sidebands would pass Nyquist.
    room = max(0.0, 1.0 - 15.0 * f0 / (0.45 * sr))
    if room > 0.0:
        tine_cycles = 14.0 * cycles
        tine = (2.0 * np.pi * (tine_cycles - np.floor(tine_cycles))).astype(np.float32)
        tine_index = (
            room * (0.3 + 0.9 * velocity) * (0.4 + bright) * np.exp(t * np.float32(-1.0 / 0.045))
        )
        wave += 0.45 * np.sin(angle + tine_index * np.sin(tine))
    return (0.16 * velocity_gain(velocity, 1.2)) * wave * amplitude


def _pluck(pitch: int, gate: int, velocity: float, setting: Setting) -> np.ndarray:
    """Two saws whose filter snaps shut after the pick, the classic synth pluck."""
    sr, bright = setting.samplerate, setting.brightness
    f0 = float(hz(pitch))
    ring = 0.38 * (220.0 / f0) ** 0.25
    audible = min(gate / sr, 5.0 * ring)
    release = round(0.06 * sr)
    length = round(audible * sr) + release
    t = seconds(length, sr)
    amplitude = np.exp(t * np.float32(-1.0 / ring))
    held = length - release
    amplitude[held:] *= release_curve(release, sr)
    attack = max(1, round(0.002 * sr))
    amplitude[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False, dtype=np.float32)
    level, settled = filter_sweep(length, sr, 1.2, 2.5 + 3.5 * bright + 1.5 * velocity, 0.09)
    sweep = morph(wavetables("soft", pitch_band(pitch), sr), level, settled)
    a, b = (
        read_morph(sweep, oscillator_phase(rate, length, start_phase(setting.seed, pitch, k)))
        for k, rate in enumerate(_detuned_rates(f0, None, (-4.0, 4.0), sr))
    )
    gain = 0.26 * velocity_gain(velocity) * amplitude
    return np.stack([(a + 0.5 * b) * gain, (b + 0.5 * a) * gain])


def _render_sub(notes: Notes, setting: Setting) -> np.ndarray:
    """Sub bass is monophonic in time: a note ends where the next one starts (notes that
    start together still sound together)."""
    gate = np.minimum(notes.gate, notes.next_onset() - notes.on)
    mono = Notes(notes.on, np.maximum(gate, 1), notes.pitch, notes.velocity, notes.frames)
    return render_notes(mono, setting, _sub_bass)


def _keyboard_pan(pitch: int) -> float:
    """Low notes a little left, high notes a little right, as on a stage piano."""
    return float(np.clip((pitch - 60) / 48.0, -0.25, 0.25))


_POLYPHONIC = {
    "saw_lead": _saw_lead,
    "pulse_lead": _pulse_lead,
    "pad": _pad,
    "keys": _keys,
    "pluck": _pluck,
}


def render_voices(notes: Notes, setting: Setting, sound: str) -> np.ndarray:
    """Every note of a melodic `sound`, mixed into a `(2, frames or more)` buffer."""
    if sound == "sub_bass":
        return _render_sub(notes, setting)
    if sound == "acid_bass":
        return _render_acid(notes, setting)
    pan = _keyboard_pan if sound == "keys" else (lambda pitch: 0.0)
    return render_notes(notes, setting, _POLYPHONIC[sound], pan)
