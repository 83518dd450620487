"""The engine's MIDI connections: inputs that play tracks, tracks that play outputs.

`MidiRoutes` runs on the control side of the engine (EngineControl's threads, never the audio
thread). It opens ports through hoot.midi.ports, builds the audio thread's objects
(live_midi.LiveNotes, midi_out.MidiOutTrack and its port's MidiSender) and hands them over
with the engine's commands (core.Live, core.Sink), so only the audio thread changes what
plays.

Every way a connection ends leaves no note hanging:
- `play_from(track, None)` or another port: the old input's notes end at the next block;
- an input unplugged: its notes end at the arrival of the news (the keyboard's notes are
  gone with it); plugged back, it plays again;
- `midi_out` changed: the old output gets a note-off for every note it sounds and
  all-notes-off (CC 123) on each channel used, at once;
- an output unplugged and back: all-notes-off there, for what it may have missed;
- the engine's exit (its shutdown path, SIGTERM, or atexit for any other exit): every
  output is silenced the same way before its port closes. A SIGKILL cannot be answered.
A model's slot (`model_notes`: a real-time model's process writes its notes into the
live-note table, hoot.engine.rings.NoteWriter) is a live input without a port: it plays its
track with the track's live patch like a keyboard, takes the new patch when a keyboard on
the track is given a new sound, and ends its notes at the next block when it is let go.
A client (the UI) that dies changes nothing here: the engine plays on, a held key ends when
the keyboard lets go of it or goes away, and the stems' scheduled note-offs are still sent.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable

from hoot.engine import core
from hoot.engine.live_midi import LiveNotes
from hoot.engine.midi_out import MidiOutTrack, MidiSender
from hoot.errors import EngineError

CLIENT = "hoot-engine"  # the engine's MIDI client name, as other programs see it


class _Output:
    """An output port shared by the tracks that play it."""

    def __init__(self, port, sender: MidiSender) -> None:
        self.port = port
        self.sender = sender
        self.tracks: set[int] = set()


class MidiRoutes:
    """Live inputs and MIDI outputs for one Engine.

    `latency()` is the audio path's output latency in seconds (the backend's, which changes
    if the device is lost); `say` gets a sentence when a port comes or goes; `ports` is a
    hoot.midi.ports.MidiPorts (opened on first use when None).
    """

    def __init__(
        self,
        engine: core.Engine,
        latency: Callable[[], float] = lambda: 0.0,
        say: Callable[[str], None] = print,
        ports=None,
    ) -> None:
        self.engine = engine
        self.latency = latency
        self.say = say
        self._ports = ports
        self._own_ports = ports is None
        self._lock = threading.RLock()
        self.inputs: dict[int, tuple[LiveNotes, object]] = {}  # track -> (notes, MidiIn)
        self.outputs: dict[str, _Output] = {}  # port name -> output
        self.routes_out: dict[int, tuple[MidiOutTrack, str, int, float]] = {}
        self.models: dict[tuple[int, str], LiveNotes] = {}  # (track, name) -> model slot
        self.model_synths: dict[int, object] = {}  # track -> SoundFontVoice its models play
        self._closed = False
        atexit.register(self.close)

    @property
    def ports(self):
        if self._ports is None:
            from hoot.midi.ports import MidiPorts

            self._ports = MidiPorts()
        return self._ports

    # ---- inputs ------------------------------------------------------------------------

    def play_from(
        self,
        track: int,
        port: str | None,
        channel: int | None = None,
        patch: int = 0,
        synth=None,
    ) -> tuple[str | None, int | None]:
        """Play `track` from the input named by `port` (None: stop). Its notes play `synth`
        (a hoot.engine.fluid.SoundFontVoice: the track's SoundFont program) or, when None, the
        engine's synth on `patch`. Returns (full port name, channel)."""
        if channel is not None:
            channel = _channel(channel)
        with self._lock:
            self._check_open()
            live = midi_in = None
            if port is not None:
                live = LiveNotes(track, patch, None if channel is None else channel - 1)
                midi_in = self.ports.open_input(str(port), live.receive, client=CLIENT)
                live.port = midi_in.name
                midi_in.on_change(self._input_changed(live))
            old = self.inputs.pop(track, None)
            if live is not None:
                self.inputs[track] = (live, midi_in)
                self._repatch(track, patch, synth)  # the track's models play its new sound
            # the audio thread ends the old input's notes, and fades the old synth out, when
            # it takes these in
            if live is None:
                synth = self.model_synths.get(track)
            self.engine.inbox.append(core.Synth(track, synth))
            self._send_live()
            if old is not None:
                old[1].close()
            return (live.port if live else None), channel

    def _send_live(self) -> None:
        """Every input that plays now, keyboards and models (one not listed ends)."""
        inputs = tuple(x for x, _ in self.inputs.values()) + tuple(self.models.values())
        self.engine.inbox.append(core.Live(inputs))

    def _repatch(self, track: int, patch: int, synth) -> None:
        """`track`'s models play `patch` (and `synth`, a SoundFont, or None) from now on."""
        from hoot.engine.kernel.midi_in import PATCH

        for (t, _), live in self.models.items():
            if t == track:
                live.patch = patch
                if live.kernel is not None:
                    live.kernel.regs[PATCH] = patch  # one int the audio thread reads whole
        if any(t == track for t, _ in self.models):
            self.model_synths[track] = synth

    def model_notes(self, track: int, name: str, on: bool, patch: int = 0, synth=None) -> int:
        """Give model `name` a live slot that plays `track` on `patch` (or `synth`, a
        SoundFontVoice, when no keyboard plays the track), or let it go (`on` False: its
        notes end at the next block). The same (track, name) again keeps its slot and takes
        the new sound. Returns the slot (-1 when let go)."""
        key = (track, str(name))
        with self._lock:
            self._check_open()
            live = self.models.get(key)
            if not on:
                if live is None:
                    return -1
                del self.models[key]
                if not any(t == track for t, _ in self.models):
                    if self.model_synths.pop(track, None) is not None and track not in self.inputs:
                        self.engine.inbox.append(core.Synth(track, None))
                self._send_live()
                return -1
            keyboard = self.inputs.get(track)
            if keyboard is not None:  # a keyboard plays the track: its sound is the track's
                patch = keyboard[0].patch
                synth = self.engine.core.synths[track]
            if live is None:
                live = LiveNotes(track, patch, None, f"model {name}", model=True)
                self.models[key] = live
                try:
                    self._send_live()
                except EngineError:
                    del self.models[key]
                    raise
            self._repatch(track, patch, synth)
            if keyboard is None:
                self.engine.inbox.append(core.Synth(track, synth))
            return self.engine.live_slot(live)

    def _input_changed(self, live: LiveNotes) -> Callable[[bool, str], None]:
        def changed(connected: bool, sentence: str) -> None:
            if not connected:
                live.end_all()
            self.say(sentence)

        return changed

    # ---- outputs -----------------------------------------------------------------------

    def midi_out(
        self, track: int, port: str | None, channel: int = 1, latency_ms: float = 0.0
    ) -> str | None:
        """Send `track`'s notes to the output named by `port` on `channel` (1-16), `latency_ms`
        early; None sends them back to the synth. Returns the port's full name."""
        channel = _channel(channel)
        latency_ms = float(latency_ms)
        if not 0.0 <= latency_ms <= 500.0:
            raise EngineError(f"MIDI latency {latency_ms:g} ms is out of range; use 0 to 500 ms")
        with self._lock:
            self._check_open()
            sink = None
            name = None
            if port is not None:
                output = self._output(str(port))
                name = output.port.name
                # heard when the audio of the same sample is: after the output's latency and
                # the master limiter's lookahead, less what the device itself takes
                engine = self.engine
                heard = self.latency() + engine.limiter.latency / engine.samplerate
                shift = heard - latency_ms / 1000.0
                sink = MidiOutTrack(output.sender, self.engine.clock, channel - 1, shift)
                output.tracks.add(track)
            old = self.routes_out.pop(track, None)
            if sink is not None:
                self.routes_out[track] = (sink, name, channel, latency_ms)
            self.engine.inbox.append(core.Sink(track, sink))
            if old is not None:
                self._let_go(track, old[1], keep=name)
            return name

    def _output(self, part: str) -> _Output:
        existing = self.outputs.get(self.ports.find_output(part))
        if existing is not None:  # another track plays it already: share its sender
            return existing
        port = self.ports.open_output(part, client=CLIENT)
        sender = MidiSender(port, port.name)
        output = _Output(port, sender)
        port.on_change(self._output_changed(output))
        self.outputs[port.name] = output
        return output

    def _output_changed(self, output: _Output) -> Callable[[bool, str], None]:
        def changed(connected: bool, sentence: str) -> None:
            if connected:  # whatever it missed while away, nothing of ours sounds there now
                output.sender.all_off_now()
            self.say(sentence)

        return changed

    def _let_go(self, track: int, name: str, keep: str | None) -> None:
        """`track` no longer plays output `name`: silence the output if no track plays it."""
        output = self.outputs.get(name)
        if output is None:
            return
        output.tracks.discard(track)
        if output.tracks or name == keep:
            return
        del self.outputs[name]
        output.sender.close()  # note-offs and all-notes-off, now
        output.port.close()

    # ---- the end -----------------------------------------------------------------------

    def close(self) -> None:
        """End every note on every output and close every port. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for _, midi_in in self.inputs.values():
                midi_in.close()
            self.inputs.clear()
            self.models.clear()
            for output in self.outputs.values():
                output.sender.close()
                output.port.close()
            self.outputs.clear()
            self.routes_out.clear()
            if self._own_ports and self._ports is not None:
                self._ports.close()
        atexit.unregister(self.close)

    def _check_open(self) -> None:
        if self._closed:
            raise EngineError("the engine is shutting down; its MIDI ports are closed")


def _channel(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16:
        raise EngineError(f"MIDI channel {value!r} is out of range; channels are 1 to 16")
    return value
