"""The harmonizer: every key the player strikes gets harmony voices from Notochord.

    harmony = Harmonizer(model, voices=2, below=True, key="D minor", span=12)
    harmony.note_on(62, vel=90, dt=0.0)      # [57, 53]: start these with the D
    harmony.note_off(62, dt=0.4)             # [57, 53]: end them with it
    harmony.release()                        # [] : whatever still sounds (stop, panic)

How one key is answered (Notochord's harmonizer app, read, not copied): the player's note is
fed to the model first, so every voice is conditioned on the pitch at the moment it is
played; then, voice by voice, one query fixes the voice's instrument, time 0 (sounding with
the key) and the key's velocity, and hands the model the only pitches it may choose from;
the answer is fed back, so the next voice hears the one before it. Note-offs follow the
player's: the harmony of a key ends when the key does, and the model hears both.

The pitches a voice may choose from (the rule-based guard, hoot.realtime.steer):
- within `span` semitones below the played pitch (or above it, with below=False);
- in the key (perf.key's words; key=None lets any pitch through);
- never the played pitch, never a pitch already sounding (the player's held keys and every
  harmony note still on), never a pitch another voice of this key just took;
- with consonant=True (the default), among those, the ones forming a third, sixth, fifth,
  unison or octave with the played pitch (steer.CONSONANT), whenever one is left; the
  model's learnt choice among them is what remains. In a seven-note mode a third and a
  sixth below an in-key note are always in key, so two voices find room unless other
  notes already sound there. The
  benchmark (benchmarks/harmony_quality.py) prints the shares with and without this steer,
  so what the model does by itself is on record.
- A played note outside the key (a chromatic passing note) is harmonized inside the key
  anyway: harmony notes stay in key, and the consonance steer picks, among the in-key
  pitches, those consonant with the passing note (F# in C major gets D or A below), so the
  harmony agrees with the passing note without leaving the key. A key with no allowed pitch
  in reach (span 1 on a scale step) gets fewer voices, never a wrong note.

Whatever a model answers, a pitch outside the set is put back on the nearest allowed one:
the guard holds for any checkpoint, not only for a model that honours include_pitch.

Instruments: the player is fed as `player_inst` and voice k as `voice_inst[k]` (cycled);
when the caller gives none, they come from the checkpoint's `hoot_meta` (the instruments
it was trained with, contract E), else GM piano (1) for the player and strings (49).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hoot.errors import HootError
from hoot.realtime import steer
from hoot.realtime.steer import Model

PLAYER_INST = 1
"""GM acoustic grand piano + 1: how a keyboard player is fed unless told (contract A)."""
VOICE_INST = 49
"""GM string ensemble 1 + 1: the harmony voices' instrument unless told."""
MOST_VOICES = 8
LONGEST_SPAN = 36


class Harmonizer:
    """Harmony voices for a player's keys, from a Notochord model; see the module docstring.

    `dt` everywhere is the seconds since the player's previous event (note-on or note-off),
    as Notochord's `feed` counts time. Harmony notes sound with the key (time 0).
    """

    def __init__(
        self,
        model: Model,
        *,
        voices: int = 2,
        below: bool = True,
        key: str | None = "C major",
        span: int = 12,
        player_inst: int | None = None,
        voice_inst: int | Sequence[int] | None = None,
        temperature: float = 1.0,
        consonant: bool = True,
    ) -> None:
        self.model = model
        meta = getattr(model, "hoot_meta", None) or {}
        if player_inst is None:
            player_inst = meta.get("player_inst", PLAYER_INST)
        if voice_inst is None:
            voice_inst = meta.get("voice_insts") or VOICE_INST
        self.player_inst = steer.instrument(player_inst, "player_inst")
        insts = [voice_inst] if isinstance(voice_inst, int) else list(voice_inst)
        if not insts:
            raise HootError("voice_inst needs at least one instrument id")
        self.voice_insts = tuple(steer.instrument(i, "voice_inst") for i in insts)
        self.voices = 2
        self.below = True
        self.key = steer.key_of("C major")
        self.span = 12
        self.temperature = 1.0
        self.consonant = True
        self.set(
            voices=voices,
            below=below,
            key=key,
            span=span,
            temperature=temperature,
            consonant=consonant,
        )
        # each held key -> its harmony notes, (pitch, instrument), in voice order
        self._keys: dict[int, list[tuple[int, int]]] = {}
        self._unfed = 0.0  # seconds of events the model was not fed (a stray note-off)

    # Steering ------------------------------------------------------------------------

    def set(self, **params: Any) -> None:
        """Change voices, below, key, span, temperature or consonant while playing; held
        keys keep the harmony they have, the next key gets the new settings."""
        unknown = set(params) - {"voices", "below", "key", "span", "temperature", "consonant"}
        if unknown:
            raise HootError(
                f"the harmonizer has no setting {', '.join(sorted(unknown))}; "
                "set voices, below, key, span, temperature or consonant"
            )
        if "voices" in params:
            self.voices = steer.whole(params["voices"], "voices", 0, MOST_VOICES)
        if "below" in params:
            self.below = bool(params["below"])
        if "key" in params:
            self.key = steer.key_of(params["key"])
        if "span" in params:
            self.span = steer.whole(params["span"], "span", 1, LONGEST_SPAN)
        if "temperature" in params:
            self.temperature = steer.number(params["temperature"], "temperature", 0.0, 10.0)
        if "consonant" in params:
            self.consonant = bool(params["consonant"])

    @property
    def playing(self) -> tuple[int, ...]:
        """Every harmony pitch sounding now, lowest first."""
        return tuple(sorted(p for notes in self._keys.values() for p, _ in notes))

    # The player's events ----------------------------------------------------------------

    def answer(self, pitch: int, vel: int, dt: float) -> list[tuple[int, int]]:
        """The harmony's answer to one of the player's events, (pitch, velocity) pairs in the
        order to write them, velocity 0 ending a note. vel 0 is the player's note-off. A key
        struck again while held (two sources on one track) ends its old harmony first."""
        pitch = steer.whole(pitch, "pitch", 0, 127)
        vel = steer.whole(vel, "velocity", 0, 127)
        if vel == 0:
            return [(p, 0) for p in self.note_off(pitch, dt)]
        ended = []
        if pitch in self._keys:
            ended, dt = self.note_off(pitch, dt), 0.0
        self._keys[pitch] = self._strike(pitch, vel, dt)
        return [(p, 0) for p in ended] + [(p, vel) for p, _ in self._keys[pitch]]

    def note_on(self, pitch: int, vel: int, dt: float) -> list[int]:
        """The harmony pitches to start with this key, at the key's velocity.

        A key struck again while still held keeps its old harmony sounding (this call can
        only start notes) and adds the new one: the key's note_off then ends both, so
        nothing hangs. `answer` ends the old harmony at once instead."""
        pitch = steer.whole(pitch, "pitch", 0, 127)
        vel = steer.whole(vel, "velocity", 1, 127)
        if pitch in self._keys:  # the model hears the key lift and fall again
            self.model.feed(self.player_inst, pitch, self._time(dt), 0.0)
            dt = 0.0
        started = self._strike(pitch, vel, dt)
        self._keys[pitch] = self._keys.get(pitch, []) + started
        return [p for p, _ in started]

    def note_off(self, pitch: int, dt: float) -> list[int]:
        """The harmony pitches to end with this key: exactly the ones started for it (none
        for a key the harmonizer never saw struck)."""
        pitch = steer.whole(pitch, "pitch", 0, 127)
        notes = self._keys.pop(pitch, None)
        if notes is None:
            self._unfed += max(0.0, float(dt))
            return []
        self.model.feed(self.player_inst, pitch, self._time(dt), 0.0)
        for harmony, inst in notes:
            self.model.feed(inst, harmony, 0.0, 0.0)
        return [p for p, _ in notes]

    def release(self) -> list[int]:
        """End every harmony note (stop, panic): the pitches to send note-offs for. Keys
        still held stay known, so their note-offs later end nothing more."""
        ended = []
        for key_pitch, notes in self._keys.items():
            for harmony, inst in notes:
                self.model.feed(inst, harmony, 0.0, 0.0)
                ended.append(harmony)
            self._keys[key_pitch] = []
        return ended

    # Choosing the voices ----------------------------------------------------------------

    def _time(self, dt: float) -> float:
        time, self._unfed = self._unfed + max(0.0, float(dt)), 0.0
        return time

    def _strike(self, pitch: int, vel: int, dt: float) -> list[tuple[int, int]]:
        """Feed the key, then query and feed each voice: the key's new harmony notes,
        (pitch, instrument)."""
        self.model.feed(self.player_inst, pitch, self._time(dt), float(vel))
        low, high = (pitch - self.span, pitch - 1) if self.below else (pitch + 1, pitch + self.span)
        allowed = steer.in_key(self.key, low, high)
        allowed -= set(self._keys) | {pitch} | set(self.playing)
        chosen: list[tuple[int, int]] = []
        for voice in range(self.voices):
            choices = allowed - {p for p, _ in chosen}
            if self.consonant:
                choices = steer.consonant_with(pitch, choices) or choices
            if not choices:
                break
            inst = self.voice_insts[voice % len(self.voice_insts)]
            harmony = self._ask(inst, vel, choices)
            self.model.feed(inst, harmony, 0.0, float(vel))
            chosen.append((harmony, inst))
        return chosen

    def _ask(self, inst: int, vel: int, choices: set[int]) -> int:
        if len(choices) == 1:  # nothing to choose; Notochord warns when asked to
            return next(iter(choices))
        answer = self.model.query(
            next_inst=inst,
            next_time=0.0,
            next_vel=float(vel),
            include_pitch=choices,
            pitch_temp=self.temperature,
        )
        harmony = int(answer["pitch"])
        return harmony if harmony in choices else steer.nearest(harmony, choices)
