"""`perf.midi`: the set's MIDI ports and its maps, in the console.

    perf.midi                                    # the inputs, the outputs, the maps
    perf.midi.map(cc=21, to="bass.gain", range=(-40, 6), port="nano")
    perf.midi.map(note=36, to="trombone~.noise", range=(0, 2))   # a pad, held
    perf.midi.learn("bass.pan")                  # turn a knob or hit a pad within 30 s
    perf.midi.maps                               # what is mapped
    perf.midi.unmap("bass.gain")                 # or unmap(cc=21), unmap(note=36)

The stage makes one MidiRig and opens MIDI only when something asks for it (a map, learn,
a look at the ports): a machine with no MIDI starts as before, and `hoot tui` loads no
rtmidi when no MIDI is used. While maps exist the rig listens to every input (new ones are
found within a second) and hands each CC and each pad's Note On and Note Off to the
MapRunner (hoot.control.maps), which
applies it off the MIDI thread. The maps are saved in session.toml (`midi_maps`) and the
stage restores them when it starts.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from hoot.control.maps import LEARN_TIMEOUT, MapRunner, MidiMap, make_map
from hoot.errors import HootError

SCAN_INTERVAL = 1.0  # seconds between looks for new inputs while maps listen
SETTING = "midi_maps"


class Maps(list):
    """The maps, one a line."""

    def __repr__(self) -> str:
        if not self:
            return (
                'no MIDI maps: perf.midi.map(cc=21, to="bass.gain"), a pad with '
                'perf.midi.map(note=36, to="bass.gain") or perf.midi.learn(...)'
            )
        return "\n".join(str(m) for m in self)


class MidiRig:
    """The set's MIDI: its ports (`ports`, `inputs()`, `outputs()`) and its maps (`map`,
    `learn`, `maps`, `unmap`). See the module docstring."""

    def __init__(self, stage: Any) -> None:
        self._perf = stage.perf
        self._session = stage.session
        self._say = stage.say
        self._ports = None
        self._lock = threading.RLock()
        self._maps: list[MidiMap] = []
        self._by_cc: dict[int, tuple[MidiMap, ...]] = {}
        self._by_note: dict[int, tuple[MidiMap, ...]] = {}
        self._listening: dict[str, Any] = {}  # input name -> MidiIn
        self._learning: tuple[str, tuple[float, float] | None, float] | None = None
        self._learned: tuple[str, int, str, int] | None = None  # port, channel, cc|note, n
        self._next_scan = 0.0
        self._closed = False
        self.runner = MapRunner(stage.perf, stage.link.send, stage.say)
        self.runner.idle = self._turn

    @property
    def _tracks(self) -> tuple[str, ...]:
        """The tracks a knob may move, live inputs (perf.input) among them."""
        return tuple(track.name for track in self._perf.tracks)

    @property
    def _models(self) -> tuple[str, ...]:
        """The tracks models sound on (perf.transfer, drone, echo), running or saved to
        start again, whose latent controls a knob may drive."""
        return self._perf._sounding()

    # ---- ports -----------------------------------------------------------------------

    @property
    def ports(self):
        """The MidiPorts (hoot.midi.ports) the set uses, opened on first use."""
        with self._lock:
            if self._closed:
                raise HootError("the stage has closed its MIDI ports")
            if self._ports is None:
                from hoot.midi.ports import MidiPorts

                self._ports = MidiPorts()
            return self._ports

    @property
    def api(self) -> str:
        """The MIDI API in use ("JACK", "ALSA", "CoreMIDI", "WinMM")."""
        return self.ports.api

    def inputs(self) -> list[str]:
        """The MIDI inputs there are now (ports hoot can listen to)."""
        return self.ports.inputs()

    def outputs(self) -> list[str]:
        """The MIDI outputs there are now (ports hoot can send to)."""
        return self.ports.outputs()

    # ---- maps ------------------------------------------------------------------------

    def map(
        self,
        cc: int | None = None,
        to: str | None = None,
        range: tuple[float, float] | None = None,  # noqa: A002 - the performer's word
        port: str | None = None,
        channel: int | None = None,
        *,
        note: int | None = None,
    ) -> MidiMap:
        """Let controller knob `cc` (0..127) drive `to` from range[0] (CC 0) to range[1]
        (CC 127), or pad `note` (0..127) hold it at range[0] + (range[1] - range[0]) *
        velocity / 127 while pressed, back to where it was on release (on mute and solo a
        press toggles). Give one of cc= and note=.

        `to` is a string: "TRACK.gain" (dB, default range (-40, 6)), "TRACK.pan" (-1..1),
        "TRACK.mute" or "TRACK.solo" (a press, a value of 64 or more, toggles),
        "vibe.density" (or energy, brightness, swing, complexity, register; 0..1) or "tempo"
        (default 60..180 BPM). `port`: any unique part of an input's name (None: every
        input); `channel`: 1..16 (None: every channel). The same knob and target mapped
        again replaces the old range. Saved with the session.

            perf.midi.map(cc=21, to="bass.gain", range=(-40, 6), port="nano")
            perf.midi.map(note=36, to="trombone~.noise", range=(0, 2), channel=10)
        """
        # the words are checked before a port= opens MIDI
        make_map(cc, to, self._tracks, range, None, channel, self._models, note)
        if port is not None:
            self.ports.find_input(port)  # a typo fails now, with the inputs listed
        midi_map = make_map(cc, to, self._tracks, range, port, channel, self._models, note)
        self._add(midi_map)
        return midi_map

    def learn(self, to: str, range: tuple[float, float] | None = None,  # noqa: A002
              timeout: float = LEARN_TIMEOUT) -> None:  # fmt: skip
        """Map `to` to the next knob moved or pad hit on any input, within `timeout`
        seconds.

        Returns at once; one sentence says which knob or pad it bound (its CC or note,
        channel and port), or that nothing moved in time. `to` and `range` are as for map().
        """
        make_map(0, to, self._tracks, range, models=self._models)  # check the target now
        self._listen()
        with self._lock:
            self._learned = None
            self._learning = (to, range, time.monotonic() + timeout)
        self.runner.start()
        self._say(f"turn the knob or hit the pad for {to} within {timeout:g} s")

    @property
    def maps(self) -> Maps:
        """The maps, in the order they were made."""
        with self._lock:
            return Maps(self._maps)

    def unmap(self, to: str | MidiMap | None = None, cc: int | None = None,
              note: int | None = None) -> int:  # fmt: skip
        """Remove the maps that drive `to` (a target string or a MidiMap) and/or listen to
        knob `cc` or pad `note`; returns how many went. HootError when none matches."""
        with self._lock:
            gone = [
                m
                for m in self._maps
                if (to is None or m == to or m.to == to)
                and (cc is None or m.cc == cc)
                and (note is None or m.note == note)
            ]
            if not gone or (to is None and cc is None and note is None):
                asked = f"{to or ''}{'' if cc is None else f' cc={cc}'}"
                asked += "" if note is None else f" note={note}"
                raise HootError(
                    f"no MIDI map matches {asked.strip()}; "
                    f"the maps are: {'; '.join(map(str, self._maps)) or 'none'}"
                )
            self._maps = [m for m in self._maps if m not in gone]
            self._changed()
        return len(gone)

    def restore(self) -> None:
        """Bring back the maps session.toml keeps; a bad one or no MIDI is said, not raised."""
        saved = self._session.read_settings().get(SETTING)
        if not isinstance(saved, dict) or not saved:
            return
        maps = []
        for entry in saved.values():
            try:
                maps.append(
                    make_map(
                        None if entry.get("cc") is None else int(entry["cc"]),
                        entry["to"],
                        self._tracks,
                        (entry["low"], entry["high"]),
                        entry.get("port"),
                        entry.get("channel"),
                        self._models,
                        None if entry.get("note") is None else int(entry["note"]),
                    )  # fmt: skip
                )
            except (HootError, KeyError, TypeError, ValueError) as error:
                self._say(f"a saved MIDI map is left out: {error}")
        with self._lock:
            self._maps = maps
            self._by_cc, self._by_note = _by_number(maps)
            self.runner.mapped = frozenset(maps)
        try:
            self._listen()
        except HootError as error:
            self._say(f"the session's MIDI maps wait for MIDI: {error}")
            return
        self.runner.start()

    def close(self) -> None:
        """Stop listening and save what the knobs moved; the stage calls this as it closes."""
        with self._lock:
            self._closed = True
            ports, self._ports = self._ports, None
        self.runner.close()
        if ports is not None:
            ports.close()

    def __repr__(self) -> str:
        try:
            ports = self.ports
            lines = [
                f"MIDI through {ports.api}",
                f"  inputs:  {', '.join(ports.inputs()) or 'none'}",
                f"  outputs: {', '.join(ports.outputs()) or 'none'}",
            ]
        except HootError as error:
            lines = [f"MIDI: {error}"]
        maps = self.maps
        lines.append(f"  maps:    {maps[0] if maps else 'none'}")
        lines += [f"           {m}" for m in maps[1:]]
        return "\n".join(lines)

    # ---- inside ----------------------------------------------------------------------

    def _add(self, midi_map: MidiMap) -> None:
        self._listen()
        with self._lock:
            key = (midi_map.cc, midi_map.note, midi_map.to, midi_map.port, midi_map.channel)
            self._maps = [
                m for m in self._maps if (m.cc, m.note, m.to, m.port, m.channel) != key
            ] + [midi_map]
            self._changed()
        self.runner.start()

    def _changed(self) -> None:
        self._by_cc, self._by_note = _by_number(self._maps)
        self.runner.mapped = frozenset(self._maps)
        table = {str(n): m.settings() for n, m in enumerate(self._maps, 1)}
        self._session.put_setting(SETTING, table or None)

    def _listen(self) -> None:
        """Open every input not yet listened to (raises HootError when MIDI is unusable)."""
        ports = self.ports
        self._next_scan = time.monotonic() + SCAN_INTERVAL
        for name in ports.inputs():
            if name in self._listening:
                continue
            heard = _Heard(self)
            try:
                heard.port = ports.open_input(name, heard)
            except HootError:
                continue  # gone between the list and the open
            self._listening[name] = heard.port

    def _heard(self, port: Any, message: bytes) -> None:
        """On the MIDI thread: one message from `port`. Only CCs (knobs) and Note On and
        Note Off (pads; a Note On of velocity 0 is a release) matter here."""
        kind = message[0] & 0xF0 if len(message) == 3 else 0
        if kind not in (0xB0, 0x90, 0x80):
            return
        channel, number, value = (message[0] & 0x0F) + 1, message[1], message[2]
        velocity = value if kind == 0x90 else 0
        if self._learning is not None and self._learned is None:
            if kind == 0xB0 or velocity:  # a pad is learned by its press, not its release
                self._learned = (port.name, channel, "cc" if kind == 0xB0 else "note", number)
                self.runner.wake()
            return
        if kind == 0xB0:
            for midi_map in self._by_cc.get(number, ()):
                if midi_map.hears(port.name, channel, number):
                    self.runner.hear(midi_map, value)
            return
        for midi_map in self._by_note.get(number, ()):
            if midi_map.hears(port.name, channel, number):
                self.runner.hit(midi_map, (port.name, channel), velocity)

    def _turn(self) -> None:
        """On the runner's thread, each turn: finish or time out a learn; find new inputs."""
        learning, learned = self._learning, self._learned
        if learning is not None:
            to, range_, deadline = learning
            if learned is not None:
                from hoot.midi.ports import label

                name, channel, kind, number = learned
                with self._lock:
                    self._learning = self._learned = None
                midi_map = make_map(
                    number if kind == "cc" else None, to, self._tracks, range_, label(name),
                    channel, self._models, number if kind == "note" else None,
                )  # fmt: skip
                self._add(midi_map)
                self._say(f"{to} follows {midi_map.control} on channel {channel} of "
                          f"{label(name)}.")  # fmt: skip
            elif time.monotonic() > deadline:
                with self._lock:
                    self._learning = None
                self._say(
                    f"no pad was hit and no knob moved, so {to} is not mapped; "
                    f"perf.midi.learn({to!r}) tries again."
                )
        if (self._maps or self._learning) and time.monotonic() >= self._next_scan:
            try:
                self._listen()
            except HootError:
                self._next_scan = time.monotonic() + SCAN_INTERVAL


class _Heard:
    """An input's callback, which knows its port once open (its name follows a replug)."""

    def __init__(self, rig: MidiRig) -> None:
        self.rig = rig
        self.port: Any = None

    def __call__(self, message: bytes, arrived: float) -> None:
        if self.port is not None:
            self.rig._heard(self.port, message)


def _by_number(
    maps: list[MidiMap],
) -> tuple[dict[int, tuple[MidiMap, ...]], dict[int, tuple[MidiMap, ...]]]:
    """The knob maps by CC and the pad maps by note, for the MIDI thread's look-up."""
    ccs: dict[int, list[MidiMap]] = {}
    notes: dict[int, list[MidiMap]] = {}
    for midi_map in maps:
        if midi_map.pad:
            notes.setdefault(midi_map.note, []).append(midi_map)
        else:
            ccs.setdefault(midi_map.cc, []).append(midi_map)
    return {n: tuple(ms) for n, ms in ccs.items()}, {n: tuple(ms) for n, ms in notes.items()}
