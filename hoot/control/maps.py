"""MIDI maps: any knob or pad on any controller moves a track's gain or pan, mute, solo, a
vibe number, the tempo or a model's latent controls.

    perf.midi.map(cc=21, to="bass.gain", range=(-40, 6))            # any input, any channel
    perf.midi.map(cc=22, to="vibe.density", port="nano", channel=1)
    perf.midi.learn("bass.pan")     # the next knob moved on any input is mapped to it
    perf.midi.map(cc=23, to="trombone~.noise")                      # a model's latent
    perf.midi.map(note=36, to="trombone~.noise", range=(0, 2))      # a pad: hold for noise

Targets are strings: "TRACK.gain" (dB), "TRACK.pan" (-1..1), "TRACK.mute" and "TRACK.solo"
(a press, a value going to 64 or more, toggles), "vibe.PARAM" (0..1) and "tempo" (BPM).
On the track of a model that sounds (perf.transfer, perf.drone, perf.echo: issue 13) a
knob also drives its controls: "TRACK.noise" (0..1), "TRACK.scale" (0..2), "TRACK.mix"
and "TRACK.walk" (0..1), "TRACK.bias1".."TRACK.bias8" (-2..2: the bias of latent dimension
1..8). They reach the model's voice as the knob moves (one JSON line each, at most
APPLY_HZ a second) and are saved when it rests.

A pad (Note On with a velocity, Note Off on release; a Note On of velocity 0 is a release, as
running status makes it) is momentary on a continuous target: a press sets
low + (high - low) * velocity / 127, the release brings back the value the target had before
the press, as a "hold for more noise" pad should. Pads held together on one target: the
last pressed wins; releasing it brings back the one pressed before it, still held, and the
release of the last one held brings back the value from before the first press. A held
value is played, never saved: session.toml keeps the value the pads return to, and a knob
turned on the same target while a pad holds it changes that value (heard on release), not
the held one. On mute and solo a pad's press toggles, its release does nothing.
Strings, because `perf.tracks.bass.gain` is a number by the time map() sees it. hoot's
mixer has no sends yet (hoot.engine.protocol.Mix: gain, pan, mute, solo), so there is no
send target.

Why the values travel as they do: a controller can send thousands of CCs a second (a
fast-turned encoder, a flood from a broken device), and each engine command is a round trip
over the socket. So the MIDI thread only writes the newest value of each map into a dict (a
toggle counts its presses, so a press and its release within one frame still toggle; pads
queue their presses and releases in order, since the order decides what sounds) and wakes
the runner thread, which applies what changed at most APPLY_HZ times a second: 10,000
CCs a second become at most 60 commands. Gain, pan and tempo go to the engine as the knob
moves; once a knob has rested SETTLE seconds its value is saved in session.toml (one atomic
write, not 60 a second) and, for the tempo, the candidates are rendered again at it (once,
not per step). Vibe numbers only matter to the next generation, so they are set when the
knob rests (a pad sets them as it is pressed and released: a hold is short).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hoot.engine import protocol as p
from hoot.errors import HootError
from hoot.music.vibe import PARAMS

APPLY_HZ = 60.0  # engine commands a second at most, per runner, whatever arrives
SETTLE = 0.5  # seconds a knob rests before its value is saved
LEARN_TIMEOUT = 30.0  # seconds learn() waits for a knob or a pad
TRACK_PARAMS = ("gain", "pan", "mute", "solo")
BIASES = 8  # latent dimensions a knob's bias reaches: a controller's row of eight knobs
MODEL_PARAMS = ("noise", "scale", "mix", "walk", *(f"bias{d}" for d in range(1, BIASES + 1)))
TOGGLES = ("mute", "solo")
DEFAULT_RANGES: dict[str, tuple[float, float]] = {
    "gain": (-40.0, 6.0),
    "pan": (-1.0, 1.0),
    "tempo": (60.0, 180.0),
    "vibe": (0.0, 1.0),
    "mute": (0.0, 1.0),
    "solo": (0.0, 1.0),
    "noise": (0.0, 1.0),  # the std of the noise added to the latent: 1 is a lot
    "scale": (0.0, 2.0),  # 1 (the middle of the knob): the latent as encoded
    "mix": (0.0, 1.0),
    "walk": (0.0, 1.0),
    "bias": (-2.0, 2.0),  # a RAVE latent dimension mostly lies within +-2
}
# what a model's control is while the performer has not set it (hoot.performance._neutral)
NEUTRAL = {"noise": 0.0, "scale": 1.0, "bias": 0.0, "mix": 1.0, "walk": 0.0}


@dataclass(frozen=True)
class MidiMap:
    """One knob (a CC) or pad (a note), on a port and channel or any, driving one target
    over a range. A pad map has `note` and no `cc`."""

    cc: int | None
    to: str
    low: float
    high: float
    port: str | None = None  # any unique part of an input's name; None: every input
    channel: int | None = None  # 1..16; None: every channel
    note: int | None = None  # a pad's note 0..127 (then cc is None)

    @property
    def toggles(self) -> bool:
        return self.to.rsplit(".", 1)[-1] in TOGGLES

    @property
    def pad(self) -> bool:
        return self.note is not None

    @property
    def control(self) -> str:
        """What the performer touches, in words: "CC 21" or "note 36"."""
        return f"note {self.note}" if self.pad else f"CC {self.cc}"

    def value(self, cc_value: int) -> float:
        """The target's value for a CC value or a velocity 0..127."""
        return self.low + (self.high - self.low) * cc_value / 127.0

    def hears(self, port: str, channel: int, number: int) -> bool:
        """Whether a CC (a knob map) or a note (a pad map) `number` from input `port` on
        `channel` moves this map."""
        return (
            number == (self.note if self.pad else self.cc)
            and (self.channel is None or channel == self.channel)
            and (self.port is None or self.port.lower() in port.lower())
        )

    def settings(self) -> dict[str, Any]:
        """As saved in session.toml (None left out)."""
        return {"cc": self.cc, "note": self.note, "to": self.to, "low": self.low,
                "high": self.high, "port": self.port, "channel": self.channel}  # fmt: skip

    def __str__(self) -> str:
        where = f" on {self.port}" if self.port else ""
        channel = f" channel {self.channel}" if self.channel else ""
        span = "toggles" if self.toggles else f"{self.low:g}..{self.high:g}"
        span += " while held" if self.pad and not self.toggles else ""
        return f"{self.control}{channel}{where} -> {self.to} ({span})"

    def __repr__(self) -> str:
        return f"<MidiMap {self}>"


def valid_targets(tracks: tuple[str, ...], models: tuple[str, ...] = ()) -> list[str]:
    """Every target a map may drive, for `tracks` and the tracks `models` sound on."""
    return (
        [f"{track}.{param}" for track in tracks for param in TRACK_PARAMS]
        + [f"{track}.{param}" for track in models for param in MODEL_PARAMS]
        + [f"vibe.{param}" for param in PARAMS]
        + ["tempo"]
    )


def check_target(to: object, tracks: tuple[str, ...], models: tuple[str, ...] = ()) -> str:
    """`to` as a target string, or a HootError that lists the valid ones."""
    target = str(to).strip() if isinstance(to, str) else ""
    if target in valid_targets(tracks, models):
        return target
    track, _, param = target.rpartition(".")
    if param in MODEL_PARAMS and track not in models:
        sounding = ", ".join(models) or "none yet"
        raise HootError(
            f"{target!r}: {param} is a control of a model that sounds, and no transfer, drone "
            f"or echo plays {track!r} (they play: {sounding})"
        )
    raise HootError(
        f"a MIDI map cannot drive {to!r}; it drives TRACK.gain, TRACK.pan, TRACK.mute or "
        f"TRACK.solo (tracks: {', '.join(tracks)}), vibe.{', vibe.'.join(PARAMS)} or tempo, "
        "and on a model's track TRACK.noise, scale, mix, walk or bias1..bias8, "
        'given as a string like "bass.gain" (hoot\'s mixer has no sends yet)'
    )


def make_map(
    cc: int | None,
    to: object,
    tracks: tuple[str, ...],
    range: tuple[float, float] | None = None,  # noqa: A002 - the performer's word for it
    port: str | None = None,
    channel: int | None = None,
    models: tuple[str, ...] = (),
    note: int | None = None,
) -> MidiMap:
    """A checked MidiMap, of a knob (`cc`) or a pad (`note`): exactly one is given; HootError
    in one sentence for a bad CC, note, channel, range or target. `models` names the tracks
    models sound on, whose latent controls a knob or pad may drive."""
    if (cc is None) == (note is None):
        given = "both" if cc is not None else "neither"
        raise HootError(f"a MIDI map listens to one knob or one pad: give cc= (a knob, 0..127) "
                        f"or note= (a pad, 0..127), not {given}")  # fmt: skip
    target = check_target(to, tracks, models)
    for word, number in (("CC", cc), ("note", note)):
        if number is not None and (
            isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 127
        ):
            raise HootError(f"a {word} number runs from 0 to 127, not {number!r}")
    if channel is not None and (
        isinstance(channel, bool) or not isinstance(channel, int) or not 1 <= channel <= 16
    ):
        raise HootError(f"a MIDI channel runs from 1 to 16 (or None for all), not {channel!r}")
    kind = "vibe" if target.startswith("vibe.") else target.rsplit(".", 1)[-1]
    kind = "bias" if kind.startswith("bias") else kind
    try:
        low, high = (float(x) for x in (range or DEFAULT_RANGES[kind]))
    except (TypeError, ValueError):
        raise HootError(
            f"range is two numbers, low and high, like (-40, 6), not {range!r}"
        ) from None
    return MidiMap(cc, target, low, high, port or None, channel, note)


class MapRunner:
    """Applies the maps' newest values to the set, off the MIDI thread, at most APPLY_HZ a
    second; saves a value once its knob has rested. See the module docstring.

    `perf` is the stage's Performance, `send` the stage's engine link's send, `say` tells
    the performer. `applied` counts the engine commands sent, for tests and benchmarks.
    """

    def __init__(self, perf: Any, send: Callable[[p.Command], Any],
                 say: Callable[[str], None]) -> None:  # fmt: skip
        self.perf = perf
        self.send = send
        self.say = say
        self.applied = 0
        self._newest: dict[MidiMap, int] = {}  # written by the MIDI thread
        self._presses: dict[MidiMap, int] = {}
        self._last_cc: dict[MidiMap, int] = {}
        self._moved: dict[MidiMap, tuple[float, float]] = {}  # map -> (when, value), unsaved
        self._hits: list[tuple[MidiMap, Any, int]] = []  # pads' (map, pad, velocity), in order
        self._held: dict[str, dict[Any, tuple[MidiMap, float]]] = {}  # target -> pads held
        self._before: dict[str, float] = {}  # target -> the value its pads return to
        self._turned: set[str] = set()  # held targets a knob moved: saved on release
        self.mapped: frozenset[MidiMap] = frozenset()  # the rig's maps: an unmapped pad lets go
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # starting the thread
        self._values = threading.Lock()  # the dicts the MIDI thread writes, swapped each turn
        self.idle: Callable[[], None] = lambda: None  # called each turn (learn's timeout)

    # ---- the MIDI thread ---------------------------------------------------------------

    def hear(self, midi_map: MidiMap, cc_value: int) -> None:
        """A CC reached `midi_map`: remember its newest value (cheap, never blocks)."""
        with self._values:
            if midi_map.toggles:
                if cc_value >= 64 and self._last_cc.get(midi_map, 0) < 64:
                    self._presses[midi_map] = self._presses.get(midi_map, 0) + 1
                self._last_cc[midi_map] = cc_value
            else:
                self._newest[midi_map] = cc_value
        self._wake.set()

    def hit(self, midi_map: MidiMap, pad: Any, velocity: int) -> None:
        """A pad map's note came: pressed with `velocity`, or released (velocity 0). `pad`
        tells one physical pad from another (its port and channel), so that pads held
        together on one target are told apart. Cheap, never blocks."""
        with self._values:
            if midi_map.toggles:
                if velocity:
                    self._presses[midi_map] = self._presses.get(midi_map, 0) + 1
            else:
                self._hits.append((midi_map, (midi_map, pad), velocity))
        self._wake.set()

    # ---- the runner thread -------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(target=self._run, name="midi-maps", daemon=True)
                self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        """Stop the runner; values that moved but were not saved yet are saved now (a knob
        turned under a held pad among them: its value, not the held one)."""
        self._closed.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5.0)
        self._settle(force=True)
        for target in sorted(self._turned):
            try:
                self._save(target, self._before[target])
            except HootError as error:
                self.say(f"MIDI map on {target}: {error}")

    def _run(self) -> None:
        period = 1.0 / APPLY_HZ
        while not self._closed.is_set():
            self._wake.wait(0.1)
            self._wake.clear()
            began = time.monotonic()
            try:
                self._apply()
                self._settle()
                self.idle()
            except Exception as error:  # noqa: BLE001 - the runner must outlive one bad turn
                self.say(f"MIDI maps: {error}")
            self._closed.wait(max(0.0, period - (time.monotonic() - began)))

    def _apply(self) -> None:
        with self._values:
            newest, self._newest = self._newest, {}
            presses, self._presses = self._presses, {}
            hits, self._hits = self._hits, []
        hits += [(m, pad, 0) for held in list(self._held.values())
                 for pad, (m, _) in held.items() if m not in self.mapped]  # fmt: skip
        for midi_map, cc_value in newest.items():
            if midi_map.to in self._held:  # pads hold it: the knob moves what they return to
                self._before[midi_map.to] = midi_map.value(cc_value)
                self._turned.add(midi_map.to)
            else:
                self._set(midi_map, midi_map.value(cc_value))
        for midi_map, count in presses.items():
            if count % 2:
                self._toggle(midi_map)
        self._press(hits)

    def _press(self, hits: list[tuple[MidiMap, Any, int]]) -> None:
        """Play the pads' presses and releases in the order they came; each target they
        touched gets one value this turn: the last pad still held, or the value from
        before the first press once none is."""
        touched: dict[str, MidiMap] = {}
        for midi_map, pad, velocity in hits:
            target = midi_map.to
            held = self._held.get(target)
            if velocity:
                if held is None:
                    try:
                        self._before[target] = self._current(target)
                    except (HootError, KeyError, TypeError, ValueError) as error:
                        self.say(f"MIDI map {midi_map}: {error}")
                        continue
                    held = self._held[target] = {}
                held.pop(pad, None)  # pressed again: it is the last pressed now
                held[pad] = (midi_map, midi_map.value(velocity))
            elif held is None or held.pop(pad, None) is None:
                continue  # a release of a press this map never saw
            touched[target] = midi_map
        for target, midi_map in touched.items():
            held = self._held[target]
            if held:
                last, value = next(reversed(held.values()))
                self._hold(last, value)
            else:
                del self._held[target]
                save = target in self._turned
                self._turned.discard(target)
                self._hold(midi_map, self._before.pop(target), save)

    def _hold(self, midi_map: MidiMap, value: float, save: bool = False) -> None:
        """A pad's value, played at once and saved only when `save` (a knob moved what the
        pads return to); a vibe number is set now, since a hold is short."""
        if midi_map.to.startswith("vibe."):
            try:
                self._save(midi_map.to, value)
                self.applied += 1
            except HootError as error:
                self.say(f"MIDI map {midi_map}: {error}")
        else:
            self._set(midi_map, value, save)

    def _current(self, target: str) -> float:
        """The value `target` has now: what a pad's release returns to."""
        if target == "tempo":
            return float(self.perf.tempo)
        if target.startswith("vibe."):
            return float(self.perf.vibe()[target.split(".", 1)[1]])
        track, param = target.rsplit(".", 1)
        if param not in MODEL_PARAMS:
            return float(getattr(self.perf.tracks[track], param))
        live = self.perf.model(track)
        if live is None:
            raise HootError(f"no transfer, drone or echo plays {track}")
        word = "bias" if param.startswith("bias") else param
        value = live.settings.get(word)
        if word == "bias" and isinstance(value, list):
            dim = int(param[4:])
            value = value[dim - 1] if dim <= len(value) else None
        return float(value) if isinstance(value, int | float) else NEUTRAL[word]

    def _set(self, midi_map: MidiMap, value: float, save: bool = True) -> None:
        target = midi_map.to
        try:
            if target == "tempo":
                self.send(p.Tempo(bpm=value))
                self.applied += 1
            elif target.startswith("vibe."):
                pass  # set when the knob rests: only the next generation reads it
            elif target.rsplit(".", 1)[1] in MODEL_PARAMS:
                track, param = target.rsplit(".", 1)
                self.perf._steer(track, param, value)  # to the voice; saved when it rests
                self.applied += 1
            else:
                track, param = target.split(".")
                self.send(p.Mix(track=track, **{param: value}))
                self.applied += 1
        except HootError as error:
            self.say(f"MIDI map {midi_map}: {error}")
            return
        if save:
            self._moved[midi_map] = (time.monotonic(), value)

    def _toggle(self, midi_map: MidiMap) -> None:
        track, param = midi_map.to.split(".")
        try:
            current = getattr(self.perf.tracks[track], param)
            setattr(self.perf.tracks[track], param, not current)  # saved by perf, as F-keys do
            self.applied += 1
        except HootError as error:
            self.say(f"MIDI map {midi_map}: {error}")

    def _settle(self, force: bool = False) -> None:
        now = time.monotonic()
        for midi_map, (when, value) in list(self._moved.items()):
            if not force and (now - when < SETTLE or midi_map.to in self._held):
                continue  # a held target is saved once its pads are released
            del self._moved[midi_map]
            try:
                self._save(midi_map.to, value)
            except HootError as error:
                self.say(f"MIDI map {midi_map}: {error}")

    def _save(self, target: str, value: float) -> None:
        if target == "tempo":
            self.perf.set_tempo(value)  # saved, and the candidates follow once
        elif target.startswith("vibe."):
            self.perf.vibe(**{target.split(".", 1)[1]: value})
        elif target.rsplit(".", 1)[1] in MODEL_PARAMS:
            track, param = target.rsplit(".", 1)
            self.perf._steer(track, param, value, save=True)
        else:
            track, param = target.split(".")
            self.perf.session.update_settings(tracks={track: {param: value}})
