"""`perf`: the one object a performer live-codes against.

    perf.tempo = 124
    perf.meter = "4/4"
    perf.phrase = 4                      # bars per phrase
    kick = perf.load("stems/kick.wav", role="drums")
    kick.queue()                         # starts on the first sample of the next phrase
    perf.tracks.drums.gain = -6          # dB
    perf.tracks["bass"].mute = True
    perf.record()
    perf.wait(bars=4)                    # in a script: later lines happen 4 bars later
    perf.key = "D minor"
    perf.chords = "i VI III VII"         # one chord a bar, shared by every generator
    b = perf.generate("bass", n=6)       # returns at once; six candidates render meanwhile
    b[3].queue()                         # or perf.pick(3), or F8 on the third: next phrase
    perf.vibe("darker, more tension")

The Performance talks to the sound server through an engine link
(hoot.engine.protocol.EngineLink): a live engine process, or an offline one for
`hoot render` and tests. It keeps no audio itself. Everything the performer sets is
saved in the session (session.toml) as it is set, so a crash or tomorrow's set finds it.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import random
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hoot.engine import protocol as p
from hoot.engine.protocol import EngineLink
from hoot.errors import HootError
from hoot.generate.base import (
    BUILTIN,
    GeneratorError,
    Request,
    is_warm,
    known_generators,
    load_generator,
    model_backends,
)
from hoot.music import ROLES
from hoot.music.harmony import Key, default_progression, parse_progression
from hoot.music.roles import LIVE_TRACKS
from hoot.music.sounds import MODELS_DIR, SoundError, check_sound, is_soundfont
from hoot.music.time import Meter, Position, TempoMap
from hoot.music.vibe import VibeError, apply_words, check_vibe, default_vibe
from hoot.realtime.checkpoints import inspect as inspect_model
from hoot.realtime.layer import RealtimeLayer
from hoot.realtime.score import DRUMS, ScoreWatch, StemNotes, build_score, read_stem_notes
from hoot.realtime.status import AUDIO_KINDS, Models, ModelStatus
from hoot.session import Session

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".caf", ".w64",
                  ".rf64", ".mp3", ".opus")  # fmt: skip
MIDI_SUFFIXES = (".mid", ".midi")


class Stem:
    """A stem loaded into the engine. `queue()` it to play it on its role's track."""

    def __init__(self, perf: Performance, stem_id: str, path: Path, role: str, info) -> None:
        self._perf = perf
        self.id = stem_id
        self.path = path
        self.role = role
        self.frames: int = info.frames
        self.midi: bool = info.midi

    def queue(self, at: str | int = "phrase", track: str | None = None) -> int:
        """Start this stem on its role's track at the next phrase boundary (clip-launcher style:
        it replaces what plays there at that moment). Returns the start sample.

        at: "phrase" (default), "bar", "beat", "now", or an absolute sample number.
        track: play it on another track than its role's.
        """
        track = track or self.role
        result = self._perf._send(p.Queue(track=track, stem=self.id, at=at))
        self._perf.session.log("queue", stem=self.id, track=track, sample=result.sample)
        return result.sample

    def __repr__(self) -> str:
        kind = "MIDI" if self.midi else f"{self.frames} frames"
        return f"<Stem {self.id!r} on {self.role}: {kind}>"


class Track:
    """One mixer channel: `gain` (dB), `pan` (-1 left .. 1 right), `mute`, `solo`, `sound`,
    `stop()`; MIDI: `play_from(port)` (a keyboard plays it), `midi_out` (it plays hardware)."""

    def __init__(self, perf: Performance, name: str) -> None:
        self._perf = perf
        self.name = name

    def _settings(self) -> p.TrackMix:
        return self._perf._state().tracks[self.name]

    def _set(self, **kw: Any) -> None:
        mix = self._perf._send(p.Mix(track=self.name, **kw))
        self._perf._remember_track(
            self.name, gain=mix.gain, pan=mix.pan, mute=mix.mute, solo=mix.solo
        )
        self._perf.session.log("mix", track=self.name, **kw)

    @property
    def gain(self) -> float:
        """Fader level in dB (0 is unity; -120 or less is silence; at most +24). Tracks start
        at their role's level (hoot.music.roles.LEVELS), a balanced mix near -14 LUFS."""
        return self._settings().gain

    @gain.setter
    def gain(self, db: float) -> None:
        self._set(gain=db)

    @property
    def pan(self) -> float:
        """Balance from -1 (left) through 0 (centre, unity both sides) to 1 (right)."""
        return self._settings().pan

    @pan.setter
    def pan(self, value: float) -> None:
        self._set(pan=value)

    @property
    def mute(self) -> bool:
        return self._settings().mute

    @mute.setter
    def mute(self, value: bool) -> None:
        self._set(mute=bool(value))

    @property
    def solo(self) -> bool:
        """When any track is soloed, only soloed tracks are heard."""
        return self._settings().solo

    @solo.setter
    def solo(self, value: bool) -> None:
        self._set(solo=bool(value))

    def stop(self, at: str | int = "phrase") -> int:
        """Stop this track at the next phrase boundary (or "bar", "beat", "now": at once, with a
        short fade). Returns the sample from which it is silent."""
        result = self._perf._send(p.Stop(track=self.name, at=at))
        self._perf.session.log("stop", track=self.name, sample=result.sample)
        return result.sample

    @property
    def sound(self) -> str | None:
        """How generated candidates for this track are rendered, and how its MIDI stems play:
        a built-in sound ("sub_bass", "acid_bass", "saw_lead", "pulse_lead", "pad", "keys",
        "pluck", "kit", "perc_kit"; hoot.music.sounds), or a SoundFont: "soundfont" (the
        role's General MIDI program), "soundfont:48" (program 48),
        "soundfont:/path/to/font.sf2:48". None: the role's default sound."""
        return self._perf._sounds.get(self.name)

    @sound.setter
    def sound(self, value: str | None) -> None:
        self._perf._set_sound(self.name, value)

    def play_from(self, port: str | None, channel: int | None = None) -> str | None:
        """Play this track from a MIDI keyboard: `port` is any unique part of the input's name
        (`perf.midi` lists them); None stops it. `channel` (1-16) takes only that channel's
        notes; None takes all. Notes play the track's sound: a built-in sound on hoot's synth,
        a SoundFont program on its own live SoundFont synth (libfluidsynth; where the engine
        lacks it, one sentence says what to install and the role's built-in sound plays), or
        the track's MIDI output when `midi_out` is set; with velocity, sustain pedal and pitch
        bend (+-2 semitones), metered and recorded like any track. Setting `sound` while a
        keyboard plays the track changes what the keys play. Returns the port's full name.

            perf.tracks.keys.play_from("Keystation")     # the track for a player
            perf.tracks.keys.play_from(None)
        """
        perf = self._perf
        route = perf._send(
            p.PlayFrom(track=self.name, port=port, channel=channel, sound=self.sound)
        )
        perf._midi_in[self.name] = (port, channel) if port is not None else None
        perf._remember_track(self.name, play_from=port, play_channel=channel)
        perf.session.log("play_from", track=self.name, port=route.port, channel=channel)
        return route.port

    @property
    def midi_out(self) -> str | None:
        """The MIDI output this track plays (any unique part of its name), or None: hoot's synth.

        While it is set, the track's MIDI stems and the notes a keyboard plays on it go to the
        hardware instead of hoot's synth, scheduled so that they sound with the audio, on
        `midi_channel`, `midi_latency_ms` early. Stop, panic, a change of output and the
        engine's exit all end its notes (note-offs, then all-notes-off).

            perf.tracks.bass.midi_out = "Minilogue"
            perf.tracks.bass.midi_out = ("Minilogue", 2)     # with its channel
            perf.tracks.bass.midi_out = None                 # back to hoot's synth
        """
        return self._perf._midi_out.get(self.name, {}).get("port")

    @midi_out.setter
    def midi_out(self, value: str | tuple[str, int] | None) -> None:
        if isinstance(value, tuple):
            port, channel = value
            self._send_midi_out(port=port, channel=channel)
        else:
            self._send_midi_out(port=value)

    @property
    def midi_channel(self) -> int:
        """The MIDI channel (1-16) `midi_out` sends on; 1 until set."""
        return self._perf._midi_out.get(self.name, {}).get("channel", 1)

    @midi_channel.setter
    def midi_channel(self, channel: int) -> None:
        self._send_midi_out(channel=channel)

    @property
    def midi_latency_ms(self) -> float:
        """How much earlier (ms) notes go to `midi_out`, for the device's own delay, so it
        sounds on the grid with the audio stems (0 until set)."""
        return self._perf._midi_out.get(self.name, {}).get("latency_ms", 0.0)

    @midi_latency_ms.setter
    def midi_latency_ms(self, ms: float) -> None:
        self._send_midi_out(latency_ms=ms)

    def _send_midi_out(self, **change: Any) -> None:
        perf = self._perf
        now = {"port": self.midi_out, "channel": self.midi_channel,
               "latency_ms": self.midi_latency_ms, **change}  # fmt: skip
        if now["port"] is None and "port" not in change:  # set before the port: remembered
            channel = now["channel"]
            if isinstance(channel, bool) or channel not in range(1, 17):
                raise HootError(f"MIDI channel {channel!r} is out of range; channels are 1 to 16")
            perf._midi_out[self.name] = now
        else:
            perf._send(p.MidiOut(track=self.name, **now))
            perf._midi_out[self.name] = now
        perf._remember_track(self.name, midi_out=now)
        perf.session.log("midi_out", track=self.name, **now)

    @property
    def playing(self) -> list[p.PlayerState]:
        """What plays or is queued on this track."""
        return self._perf._state().playing_on(self.name)

    def __repr__(self) -> str:
        s = self._settings()
        flags = "".join([" muted" if s.mute else "", " solo" if s.solo else ""])
        sound = self.sound
        return (
            f"<Track {self.name}: {s.gain:+.1f} dB, pan {s.pan:+.2f}{flags}"
            f"{', sound ' + sound if sound else ''}>"
        )


class InputTrack(Track):
    """A track a player plays into: a device's input channel (or two), or a file or a signal
    standing in for one. Mixed, metered and recorded like any track; `monitor` says whether
    it is heard through hoot's outputs; `remove()` lets the channel go."""

    def __init__(self, perf: Performance, name: str, source: dict[str, Any]) -> None:
        super().__init__(perf, name)
        self.source = source  # channels, file, signal, monitor: as saved in session.toml

    @property
    def channels(self) -> tuple[int, ...]:
        """The device's input channels it listens to, numbered from 1 (empty for a file or
        a signal)."""
        return tuple(self.source["channels"])

    @property
    def monitor(self) -> bool:
        """Whether the input is heard through hoot's outputs. False for a player who hears
        themselves acoustically: still metered, recorded and sent to the beat tracker."""
        return bool(self.source["monitor"])

    @monitor.setter
    def monitor(self, on: bool) -> None:
        perf = self._perf
        perf._send(p.Monitor(name=self.name, on=bool(on)))
        self.source = {**self.source, "monitor": bool(on)}
        perf.session.update_settings(inputs={self.name: {"monitor": bool(on)}})
        perf.session.log("monitor", track=self.name, on=bool(on))

    def remove(self) -> None:
        """Let the input go: its track leaves the mixer, its settings leave the session."""
        self._perf.remove_input(self.name)

    def stop(self, at: str | int = "phrase") -> int:
        """An input plays while its player plays: mute it, or remove() it."""
        raise HootError(
            f"{self.name} is an input, it plays while its player plays: "
            f"perf.tracks.{self.name}.mute = True, or perf.tracks.{self.name}.remove()"
        )

    def __repr__(self) -> str:
        s = self._settings()
        flags = "".join([" muted" if s.mute else "", " solo" if s.solo else ""])
        heard = "monitored" if self.monitor else "not monitored"
        return (
            f"<Input {self.name} ({_source_words(self.source)}, {heard}): {s.gain:+.1f} dB, "
            f"pan {s.pan:+.2f}{flags}>"
        )


class ModelTrack(Track):
    """The track a model sounds on (perf.transfer, perf.drone, perf.echo): the engine plays
    it as an input row whose audio the model's voice writes, so it has gain, pan, mute,
    solo, meters, a clip lamp and its own file in perf.record(tracks=True), like an input.
    It plays while its model plays: perf.model(NAME).stop() ends both."""

    def __init__(self, perf: Performance, name: str, kind: str) -> None:
        super().__init__(perf, name)
        self.kind = kind  # "transfer", "drone" or "echo"

    def stop(self, at: str | int = "phrase") -> int:
        """A model's track plays while its model plays: stop the model, or mute it."""
        raise HootError(
            f"{self.name} plays while its {self.kind} plays: perf.model({self.name!r}).stop(), "
            f"or perf.tracks[{self.name!r}].mute = True"
        )

    def __repr__(self) -> str:
        s = self._settings()
        flags = "".join([" muted" if s.mute else "", " solo" if s.solo else ""])
        return f"<{self.kind.capitalize()} {self.name}: {s.gain:+.1f} dB, pan {s.pan:+.2f}{flags}>"


class Tracks:
    """The mixer's tracks, by name: `perf.tracks.bass` or `perf.tracks["bass"]`. The
    generated and played tracks come first, then the inputs (`perf.input`)."""

    def __init__(self, perf: Performance, names: tuple[str, ...]) -> None:
        self._perf = perf
        self._tracks: dict[str, Track] = {n: Track(perf, n) for n in names}

    def __getitem__(self, name: str) -> Track:
        try:
            return self._tracks[name]
        except KeyError:
            raise HootError(
                f"no track {name!r}{_did_you_mean(name, self._tracks)}; "
                f"tracks are {', '.join(self._tracks)}"
            ) from None

    def __getattr__(self, name: str) -> Track:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __iter__(self) -> Iterator[Track]:
        return iter(self._tracks.values())

    def __len__(self) -> int:
        return len(self._tracks)

    def __contains__(self, name: object) -> bool:
        return name in self._tracks

    def __dir__(self) -> list[str]:
        return list(self._tracks)

    @property
    def inputs(self) -> list[InputTrack]:
        """The input tracks, in the order they were taken."""
        return [t for t in self._tracks.values() if isinstance(t, InputTrack)]

    def _take(self, track: Track) -> None:
        self._tracks[track.name] = track

    def _let_go(self, name: str) -> None:
        self._tracks.pop(name, None)

    def __repr__(self) -> str:
        return f"<Tracks {', '.join(self._tracks)}>"



STATUS_WINDOW = 1.0  # seconds of engine status readings behind the wall-to-sample map


class HeardClock:
    """Which engine sample is heard at a monotonic time, and when a sample is heard, from the
    engine's status readings (position and heartbeat, 120 times a second): the freshest
    reading (the largest position ahead of the wall clock) within the last second, less the
    output latency. A reading is trusted only when two others lie within a millisecond
    below it: the engine writes the position and then the heartbeat, so a reader that
    catches it in between sees a new position with the previous heartbeat, ahead by up to
    a status period (8 ms); kept for a second, such a reading moved Link's grid off the
    session's by 4-13 ms. Link, MIDI clock in, the band follower and the tap keys all read
    it (`perf.heard_clock`)."""

    def __init__(self, perf) -> None:
        self.perf = perf
        self._readings: deque[tuple[float, int]] = deque()  # (monotonic, engine position)
        self._guard = threading.Lock()  # the steering thread and the console both read it

    def _origin(self) -> tuple[float, float, int]:
        """(the sample written at monotonic 0, the output latency, the sample rate)."""
        status = self.perf._link.status()
        now = time.monotonic()
        beat_at = status.heartbeat - (time.time() - now)  # heartbeat is wall-clock time
        sr = status.samplerate or self.perf.samplerate
        with self._guard:
            self._readings.append((beat_at, status.position))
            while self._readings and self._readings[0][0] < now - STATUS_WINDOW:
                self._readings.popleft()
            aheads = [pos - sr * t for t, pos in self._readings]
        return _freshest(aheads, sr), status.latency, sr

    def sample(self, wall: float) -> int:
        """The engine sample heard at monotonic time `wall`."""
        ahead, latency, sr = self._origin()
        return int(math.floor(ahead + sr * (wall - latency)))

    def wall(self, sample: int) -> float:
        """The monotonic time at which engine sample `sample` is heard."""
        ahead, latency, sr = self._origin()
        return (sample - ahead) / sr + latency


def _freshest(aheads: list[float], samplerate: int) -> float:
    """The largest of `aheads` with at least two others within a millisecond below it (in
    a second of readings, some twenty lie within a millisecond of the top: readings fall
    anywhere in a 5.3 ms block); the largest of all where there are too few readings."""
    ranked = sorted(aheads, reverse=True)
    band = samplerate / 1000
    for i, top in enumerate(ranked[:-2]):
        if ranked[i + 2] >= top - band:
            return top
    return ranked[0]


class Performance:
    """The set being played. See the module docstring, or help() on any attribute."""

    def __init__(self, link: EngineLink, session: Session | None = None) -> None:
        self._link = link
        self.session = session or Session()
        self.tracks = Tracks(self, tuple(link.info.tracks))
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        settings = self.session.read_settings()
        self._key = str(settings.get("key", "C minor"))
        self._chord_text: str | list[str] = settings.get("chords_text", settings.get("chords", []))
        self._chords: list[str] = [str(c) for c in settings.get("chords", [])]
        vibe = settings.get("vibe")
        if isinstance(vibe, dict):
            self._vibe = {**default_vibe(str(vibe.get("style", "house"))), **_plain(vibe)}
        else:
            self._vibe = default_vibe(str(settings.get("style", "house")))
        if "groove" not in settings:  # one kick grid a session: drums and bass lock
            settings["groove"] = random.randrange(1 << 31)
            self.session.update_settings(groove=settings["groove"])
        self._vibe["groove"] = int(settings["groove"])
        self._vibe_until: tuple[int, dict] | None = _timed_vibe(vibe, link)
        tracks = settings.get("tracks", {})
        self._sounds: dict[str, str] = {
            name: str(t["sound"])
            for name, t in tracks.items()
            if isinstance(t, dict) and t.get("sound")
        }
        self._midi_out: dict[str, dict] = {
            name: dict(t["midi_out"])
            for name, t in tracks.items()
            if isinstance(t, dict) and isinstance(t.get("midi_out"), dict)
        }
        self._midi_in: dict[str, tuple[str, int | None] | None] = {
            name: (t["play_from"], t.get("play_channel"))
            for name, t in tracks.items()
            if isinstance(t, dict) and t.get("play_from")
        }
        self._picker = None
        device = settings.get("model_device", "auto")
        self._model_device = device if device in MODEL_DEVICES else "auto"
        self._follower = None  # the sync source perf.follow started, or None
        self.heard_clock = HeardClock(self)  # the engine sample heard at a time, and back
        # how perf.follow starts one: set by the stage (hoot.control.clock_in), since perf
        # imports no MIDI; called with the port's name, it returns an object with .sync,
        # .locked, .bpm and .close()
        self.open_sync: Callable[[Any, str | None], Any] | None = None
        # Ableton Link's settings and session (hoot.control.link_sync.LinkSync), set by a
        # live stage; None offline, where time is not the room's
        self.link: Any = None
        self._loaded: set[str] = set()
        self._recording: bool | None = None  # tracks=..., while a recording runs
        self._recording_paths: list[Path] = []
        self._realtime: RealtimeLayer | None = None  # the models' voices, made when first asked
        self._lives: dict[tuple[str, str], Live] = {}  # ("harmonize", "keys"): its Live
        self._score_watch: ScoreWatch | None = None  # tells the models what the stems play
        saved_realtime = settings.get("realtime", {})
        self._compensate = bool(isinstance(saved_realtime, dict)
                                and saved_realtime.get("compensate", False))  # fmt: skip
        self._compensated: int | None = None  # the delay last sent to the engine
        self._compensating = threading.Lock()  # the console and the voices' listeners
        self._said_too_late: set[str] = set()  # transfers later than the engine can delay
        self.messages: deque[str] = deque(maxlen=200)
        self.on_message: Callable[[str], None] = lambda m: print(m, file=sys.stderr)

    # ---- plumbing ----------------------------------------------------------------------

    def _send(self, command: p.Command) -> Any:
        with self._lock:
            return self._link.send(command)

    def _state(self) -> p.EngineState:
        return self._send(p.State())

    @property
    def offline(self) -> bool:
        """True when time moves only through wait() (hoot render, tests)."""
        return self._link.offline

    @property
    def samplerate(self) -> int:
        return self._link.info.samplerate

    def tempo_map(self) -> TempoMap:
        """The engine's current tempo map (tempo, meter and phrase grid)."""
        return TempoMap.from_dict(self._state().tempo_map)

    # ---- time --------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The engine's position: the absolute sample it is about to play."""
        return self._link.status().position

    @property
    def position(self) -> Position:
        """Bar, beat and phrase of now (counted from 0)."""
        return self.tempo_map().position(self.now)

    @property
    def tempo(self) -> float:
        """Beats per minute. Setting it changes tempo on the next beat; every later boundary
        follows. `perf.set_tempo(bpm, at="bar")` picks another moment.

        Generated stems keep to the grid: each turn of their loop starts on its beat, and
        the candidates that play or wait in the queue are rendered again at the new tempo in
        the background and take over at the start of a turn, so every loop stays whole."""
        return self.tempo_map().bpm_at(self.now)

    @tempo.setter
    def tempo(self, bpm: float) -> None:
        self.set_tempo(bpm)

    def set_tempo(self, bpm: float, at: str = "beat") -> float:
        """Change tempo at the next "beat" (default), "bar" or "phrase"; returns that beat."""
        result = self._send(p.Tempo(bpm=bpm, at=at))
        self.session.update_settings(tempo=result.bpm)
        self.session.log("tempo", bpm=result.bpm, beat=result.beat, sample=result.sample)
        if self._picker is not None:
            self._picker.follow_tempo(result.bpm)
        self._retime_models()
        return result.beat

    @property
    def meter(self) -> str:
        """Time signature, like "4/4" or "7/8". A change takes effect at the next phrase."""
        return str(self.tempo_map().position(self.now).meter)

    @meter.setter
    def meter(self, value: str) -> None:
        try:
            meter = Meter.parse(value)  # fail here, in the performer's words
        except ValueError as e:
            raise HootError(str(e)) from None
        result = self._send(p.SetMeter(meter=str(meter)))
        self.session.update_settings(meter=str(meter))
        self.session.log("meter", meter=str(meter), beat=result.beat, sample=result.sample)
        self._retime_models()

    @property
    def phrase(self) -> int:
        """Bars per phrase: where queued stems start. A change takes effect at the next phrase
        (generate() already uses it: its candidates first play there)."""
        return self.tempo_map().position(self.now).phrase_bars

    @phrase.setter
    def phrase(self, bars: int) -> None:
        result = self._send(p.SetPhrase(bars=bars))
        self.session.update_settings(phrase=bars)
        self.session.log("phrase", bars=bars, beat=result.beat, sample=result.sample)
        self._retime_models()

    def follow(self, source: str | list[str] | None, listen: str | None = None) -> str:
        """Follow a band, or a MIDI clock; hoot's tempo and bars glide onto theirs.

        `perf.follow("drums")`, `perf.follow(["bass", "keys"])`: input tracks (perf.input
        made them) a beat tracker listens to; hoot's beats land with the band's in the room
        (the round trip, perf.latency, is made up for), its bars on the band's downbeats
        once the tracker has held them for a bar; without a lock hoot keeps its tempo and
        says so. F6 taps a tempo (a hint to the tracker), F7 says "this is one".
        `listen="learned"` adds hoot's beat network to the tracker's onset envelope
        (`listen="onsets"`, the default): far surer on syncopated grooves and quicker to
        lock, at about 1.8 times the CPU, still unsure of some sparse machine grooves
        (README).

        `perf.follow("Drum machine")`: the MIDI clock of a drum machine, a DAW or another
        laptop (any unique part of the input's name; `perf.midi` lists the inputs). hoot's
        tempo locks to it within two beats and its beats slide onto the master's with small
        tempo nudges; the master's Start restarts hoot's phrase on the whole beat nearest its
        downbeat, and Continue on its Song Position Pointer's; its Stop leaves hoot playing
        on at the last tempo. Unplugged, hoot free-runs at the last tempo and says so;
        plugged back in, it locks again.

        `perf.follow(None)` goes back to hoot's own tempo (the last one followed). What is
        followed is saved with the session, and followed again when the set starts. Returns
        the sync source, as the beat grid shows it (`perf.sync`; `perf.locked` says whether
        it holds)."""
        if isinstance(source, tuple):
            source = list(source)
        if isinstance(source, list) and len(source) == 1:
            source = source[0]
        if source is not None and not (
            (isinstance(source, str) and source.strip())
            or (isinstance(source, list) and source and all(isinstance(n, str) for n in source))
        ):
            raise HootError(
                f"follow({source!r}): an input track ('drums'), several (['bass', 'keys']), "
                "a MIDI input's name, or None"
            )
        if listen not in (None, "learned", "onsets"):
            raise HootError(f"follow(..., listen={listen!r}): the beat tracker listens with "
                            "'learned' (hoot's beat network) or 'onsets'")  # fmt: skip
        if source is not None and self.open_sync is None:
            raise HootError("following a band or a MIDI clock needs a live set (hoot tui or "
                            "hoot play)")  # fmt: skip
        if self._follower is not None:
            self._follower.close()
            self._follower = None
        if source is not None:
            self._follower = self.open_sync(source, listen)
        self.session.update_settings(follow=source, follow_listen=listen if source else None)
        self.session.log("follow", port=source)
        return self.sync

    @property
    def follower(self) -> Any:
        """The sync source perf.follow started (its .sync, .locked, .bpm), or None."""
        return self._follower

    @property
    def sync(self) -> str:
        """Where hoot's tempo comes from: "internal", "MIDI clock: <port>", "band: drums",
        "Link (2 peers)", or a followed source hoot publishes to Link: "band: drums + Link
        (2 peers)".

        `perf.sync = "link"` joins the Ableton Link session on the network: hoot waits for it
        and takes its tempo and bar phase (it never imposes its own), and its own tempo
        changes reach the other peers; alone, hoot's tempo becomes the session's. While
        `perf.follow(...)` drives hoot, hoot publishes that tempo and phase to the session
        instead. `perf.link` has the quantum, start/stop sync and the peers.
        `perf.sync = "internal"` (or None) leaves Link; hoot keeps its tempo."""
        follower, link = self._follower, self.link
        shared = link.sync if link is not None and link.joined else ""
        if follower is None:
            return shared or "internal"
        return f"{follower.sync} + {shared}" if shared else follower.sync

    @sync.setter
    def sync(self, source: str | None) -> None:
        if source in (None, "internal"):
            if self.link is not None and self.link.joined:
                self.link.leave()
                self.session.log("sync", source="internal")
            return
        if source != "link":
            raise HootError(f"perf.sync is 'link' or 'internal', not {source!r} (a MIDI clock: "
                            "perf.follow('port'))")  # fmt: skip
        if self.link is None:
            raise HootError("joining Link needs a live set (hoot tui or hoot play)")
        self.link.join()
        self.session.log("sync", source="link")

    @property
    def locked(self) -> bool:
        """Whether hoot is locked to its sync source (always, on its own tempo)."""
        follower, link = self._follower, self.link
        if follower is not None:
            return follower.locked
        return link.locked if link is not None and link.joined else True

    def follow_tempo(self, bpm: float, settled: float | None = None) -> None:
        """A sync source's tempo from the next beat. `settled` (the source's tempo, when it
        has moved far enough) is saved and the playing candidates are retaken at it."""
        self._send(p.Tempo(bpm=bpm, at="beat"))
        if settled is not None:
            self.session.update_settings(tempo=settled)
            if self._picker is not None:
                self._picker.follow_tempo(settled)
            self._retime_models()

    def downbeat(self, beat: float) -> None:
        """A sync source's downbeat: a new phrase starts on whole beat `beat`."""
        self._send(p.Downbeat(beat=beat))
        self._retime_models()

    def clock_out(self, port: str | None, start: str | None = "phrase") -> p.ClockState:
        """Send MIDI clock (24 ticks a quarter note) to a drum machine or synth:
        `perf.clock_out("Drum machine")` (any unique part of the port's name; saved with
        the session, and sent to again when the set starts). Ticks follow
        every tempo change to the sample; a Start goes out on the next `start` boundary
        ("phrase", "bar", "beat"; None for ticks only), so the gear starts its pattern on
        hoot's downbeat. On JACK the ticks are written at exact frames; elsewhere they are
        sent at the moment their sample is heard. `perf.clock_out(None)` sends Stop and
        lets the port go. `perf.clock_send("stop")` and `("continue")` drive the gear's
        transport while hoot plays on."""
        state = self._send(p.ClockOut(port=port, start=start))
        self.session.update_settings(clock_out=port)
        self.session.log("clock_out", port=state.port or None, path=state.path)
        return state

    def clock_send(self, action: str, at: str = "bar") -> int:
        """Send the clock's "start", "stop" or "continue" (with its song position) on the
        next `at` boundary; returns that sample."""
        return self._send(p.ClockTransport(action=action, at=at)).sample

    def wait(self, bars: float = 0, beats: float = 0, seconds: float = 0) -> int:
        """Let time pass: `perf.wait(bars=4)`. Offline (hoot render) this renders the music up
        to that point, so later lines of a script happen later. Live, it sleeps until then.
        Returns the sample reached."""
        start = self.now
        target = self.wait_target(bars, beats, seconds)
        if target < start:
            raise HootError("wait() takes a positive amount of time")
        if self.offline:
            self._link.advance(target - start)
        else:
            while self.now < target:
                time.sleep(min(0.01, (target - self.now) / self.samplerate))
        return target

    def bar_of(self, sample: int) -> int:
        """The bar (counted from 1, as the screen shows it) in which `sample` sounds."""
        return self.tempo_map().position(sample).bar + 1

    # ---- stems -------------------------------------------------------------------------

    def load(self, path: str | Path, role: str | None = None, name: str | None = None) -> Stem:
        """Load a stem for `role` ("drums", "bass", "chords", "lead", "pad", "perc"): audio in
        any format libsndfile reads (WAV, FLAC, Ogg/Vorbis, AIFF, CAF, W64, RF64...), or a
        MIDI file the synth plays with the track's sound. Relative paths are looked up in the
        session's stems/ folder, then from the current folder, then among the one-shots hoot
        ships (kick, snare, clap, hat, open-hat, rim, conga, shaker: "kick.wav").
        Returns a Stem to `queue()`."""
        p_ = _find_stem_file(Path(path).expanduser(), self.session.stems)
        role = role or _guess_role(p_.stem)
        if isinstance(self.tracks._tracks.get(role), InputTrack):
            raise HootError(
                f"{role} is an input: its player fills it; load {p_.name} for one of "
                f"{', '.join(ROLES)}"
            )
        if role not in self.tracks:
            raise HootError(
                f"no track {role!r}{_did_you_mean(role, ROLES)} to load {p_.name} on; "
                f"roles are {', '.join(ROLES)}"
            )
        stem_id = f"{name or p_.stem}-{next(self._ids)}"
        info = self._send(p.Load(stem_id=stem_id, path=str(p_), role=role))
        self.session.log("load", stem=stem_id, path=str(p_), role=role)
        return Stem(self, stem_id, p_, role, info)

    # ---- live inputs ---------------------------------------------------------------------

    @property
    def inputs(self) -> InputChannels:
        """The device's input channels, numbered from 1 as `perf.input` takes them (on JACK,
        with the ports they are), or the sentence that says why there are none."""
        found = self._send(p.Inputs())
        return InputChannels(tuple(found.ports), bool(found.duplex), str(found.reason))

    def input(
        self,
        name: str,
        channel: int | tuple[int, ...] | None = None,
        file: str | Path | None = None,
        signal: str | None = None,
        monitor: bool = True,
    ) -> InputTrack:
        """A track a player plays into, named after them: gain, pan, mute and solo like any
        track, metered with a clip lamp, recorded with perf.record(tracks=True).

            perf.input("trombone", channel=1)             # the device's first input
            perf.input("keys", channel=(3, 4))            # a stereo pair
            perf.input("trombone", file="take.wav")       # rehearsal: a file plays the part
            perf.input("voice", signal="sine 220")        # or a signal stands in for it
            perf.input("sax", channel=2, monitor=False)   # heard acoustically, not through hoot

        `perf.inputs` lists the channels. Files are looked up as perf.load looks them up.
        Taking a name again changes its source and keeps its mix. Saved with the session:
        a new UI or a new engine takes the inputs again. Returns the track
        (perf.tracks.trombone); perf.tracks.trombone.remove() lets it go."""
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise HootError(
                f"input name {name!r}: a name like 'trombone' (letters, digits and _), so "
                "that perf.tracks.trombone finds it"
            )
        existing = self.tracks._tracks.get(name)
        if isinstance(existing, ModelTrack):
            raise HootError(f"{name} is the track a {existing.kind} plays; name the input "
                            "after its player, like 'trombone' or 'voice'")  # fmt: skip
        if existing is not None and not isinstance(existing, InputTrack):
            raise HootError(
                f"{name} is a generated track; name the input after its player, like "
                "'trombone' or 'voice'"
            )
        source = self._input_source(channel, file, signal, monitor)
        track = self._take_input(name, source)
        self.session.update_settings(inputs={name: source})
        self.session.log("input", track=name, **source)
        return track

    def remove_input(self, name: str) -> None:
        """Let the input `name` go (perf.tracks.NAME.remove() does the same)."""
        track = self.tracks[name]
        if not isinstance(track, InputTrack):
            inputs = ", ".join(t.name for t in self.tracks.inputs) or "none yet"
            raise HootError(f"{name} is not an input; inputs are {inputs}")
        self._send(p.RemoveInput(name=name))
        self.tracks._let_go(name)
        self.session.update_settings(inputs={name: None}, tracks={name: None})
        self.session.log("remove_input", track=name)

    @property
    def latency(self) -> RoundTrip:
        """The round trip from an input to the monitored output, in ms and frames, and how
        it was found: measured on a JACK loopback (hoot's output played into its own input)
        where the engine can, else the figure the device reports."""
        found = self._send(p.MeasureLatency())
        return RoundTrip(float(found.ms), int(found.frames), bool(found.measured), str(found.how))

    def input_ring(self) -> tuple[str, dict[str, int]]:
        """The engine's input ring (hoot.engine.rings opens it by this name; "" when there
        is none) and each input track's row in it, for sync sources that listen to inputs."""
        found = self._send(p.Inputs())
        return str(found.ring), {t.name: int(t.row) for t in found.tracks}

    def heard(self, wall: float | None = None) -> int:
        """The sample the audience hears at `wall` (time.monotonic(); None: now): the
        engine's position at its freshest status, carried on to `wall`, less the output
        latency (`perf.heard_clock`). Offline, now."""
        if self.offline:
            return self.now
        return self.heard_clock.sample(time.monotonic() if wall is None else wall)

    def _input_source(self, channel, file, signal, monitor) -> dict[str, Any]:
        """What an input listens to, checked, as session.toml keeps it."""
        given = [what for what, x in (("channel", channel), ("file", file), ("signal", signal))
                 if x is not None]  # fmt: skip
        if len(given) != 1:
            raise HootError(
                "an input takes one of channel=1 (or (1, 2)), file='take.wav' or "
                f"signal='sine 220'; {'nothing' if not given else ' and '.join(given)} was given"
            )
        channels: tuple = ()
        if channel is not None:
            channels = channel if isinstance(channel, (tuple, list)) else (channel,)
            if not 1 <= len(channels) <= 2 or any(
                isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in channels
            ):
                raise HootError(
                    f"channel={channel!r}: one channel number from 1, or a stereo pair like "
                    "(1, 2); perf.inputs lists them"
                )
        path = ""
        if file is not None:
            path = str(_find_stem_file(Path(file).expanduser(), self.session.stems))
        if signal is not None and (not isinstance(signal, str) or not signal.strip()):
            raise HootError(f"signal={signal!r}: a signal like 'sine 220', 'noise' or 'clicks 120'")
        return {"channels": list(channels), "file": path, "signal": signal or "",
                "monitor": bool(monitor)}  # fmt: skip

    def _take_input(self, name: str, source: dict[str, Any]) -> InputTrack:
        """Ask the engine for the input and put its track in perf.tracks, with the mix the
        session saved for it."""
        self._send(
            p.AddInput(
                name=name,
                channels=tuple(source["channels"]),
                file=source["file"],
                signal=source["signal"],
                monitor=source["monitor"],
            )
        )
        track = InputTrack(self, name, source)
        self.tracks._take(track)
        self._saved_mix(name)
        return track

    def _saved_mix(self, name: str) -> None:
        """Give a track the engine has just made the mix the session saved for it."""
        row = self.session.read_settings().get("tracks", {}).get(name)
        mix = {k: row[k] for k in ("gain", "pan", "mute", "solo") if k in row} if isinstance(
            row, dict) else {}  # fmt: skip
        if mix:
            self._send(p.Mix(track=name, **mix))

    def _saved_inputs(self) -> dict[str, dict[str, Any]]:
        """The inputs session.toml keeps (a row the file spoils is left out)."""
        saved = self.session.read_settings().get("inputs", {})
        inputs = {}
        for name, row in saved.items() if isinstance(saved, dict) else ():
            if not isinstance(row, dict) or not str(name).isidentifier():
                continue
            channels = row.get("channels", [])
            if not isinstance(channels, list) or not all(isinstance(c, int) for c in channels):
                continue
            inputs[str(name)] = {
                "channels": channels,
                "file": str(row.get("file", "")),
                "signal": str(row.get("signal", "")),
                "monitor": bool(row.get("monitor", True)),
            }
        return inputs

    def _restore_inputs(self) -> list[str]:
        """Take the session's inputs again on a new engine; say which could not be (they
        stay saved, for when the device that has them is back)."""
        said, again = [], []
        for name, source in self._saved_inputs().items():
            if name in self.tracks and not isinstance(self.tracks[name], InputTrack):
                continue
            try:
                self._take_input(name, source)
                again.append(name)
            except HootError as e:
                self.tracks._let_go(name)
                said.append(f"{name} is not listening again ({e})")
        if again:
            said.insert(0, f"{', '.join(again)} listening again")
        return said

    # ---- harmony and vibe --------------------------------------------------------------

    @property
    def key(self) -> str:
        """The key every generator plays in: "D minor", "F# dorian", "Bb"..."""
        return self._key

    @key.setter
    def key(self, text: str) -> None:
        try:
            key = Key.parse(text)
        except ValueError as e:
            raise HootError(str(e)) from None
        self._key = str(key)
        if self._chords:  # keep Roman numerals meaning the same degrees in the new key
            self._chords = [c.name for c in parse_progression(self._chord_text, key)]
        self.session.update_settings(key=self._key, chords=self._chords or None)
        for live in list(self._lives.values()):  # the models steered by perf.key follow it
            if live.follows_key and self._realtime is not None:
                self._realtime.set(live.out, key=self._key)

    @property
    def chords(self) -> list[str]:
        """The chord progression all generators share, one chord a bar, repeating. Set it in
        Roman numerals relative to the key ("i VI III VII") or chord names ("Dm Bb F C")."""
        if self._chords:
            return list(self._chords)
        return [c.name for c in default_progression(Key.parse(self._key))]

    @chords.setter
    def chords(self, text: str | list[str]) -> None:
        try:
            progression = parse_progression(text, Key.parse(self._key))
        except ValueError as e:
            raise HootError(str(e)) from None
        if not progression:
            raise HootError('a progression needs at least one chord, like "i VI III VII"')
        self._chord_text = text if isinstance(text, str) else [str(c) for c in text]
        self._chords = [c.name for c in progression]
        self.session.update_settings(chords=self._chords, chords_text=self._chord_text)

    def vibe(self, text: str | None = None, bars: float | None = None, **params: Any) -> dict:
        """The vibe generators follow: numbers from 0 to 1 for density, energy, brightness,
        swing, complexity and register, and a style (house, techno, dnb, hiphop, ambient, jazz).
        Words move it: perf.vibe("darker, more tension"); numbers set it:
        perf.vibe(density=0.8, style="techno"). With `bars`, it lasts that long, then the
        previous vibe returns. With no arguments, returns the vibe of the moment."""
        current = self.current_vibe()
        if text is None and not params:
            return current
        try:
            params = check_vibe(params)
        except VibeError as e:
            raise HootError(str(e)) from None
        new = dict(current)
        unknown: list[str] = []
        if text:
            new, unknown = apply_words(new, text)
        style = params.get("style", new.get("style"))
        if style != current.get("style"):  # a new style starts from that style's feel
            fresh = {**default_vibe(style), "groove": current.get("groove", 0)}
            new, unknown = apply_words(fresh, text) if text else (fresh, [])
        if text:
            if new == current and not params:
                raise HootError(
                    f"no vibe words in {text!r}; try darker, brighter, sparse, busy, harder, "
                    "calm, swung, straight, complex, simple, higher, lower, or a style"
                )
            if unknown:
                self.say(f"vibe: ignored {', '.join(repr(w) for w in unknown)}")
        new.update(params)
        if bars:
            until = self.wait_target(bars=bars)
            self._vibe_until = (until, current)
            saved = {**_plain(new), "until": {"sample": until, "engine": self._link.info.pid,
                                              "previous": _plain(current)}}  # fmt: skip
        else:
            self._vibe_until = None
            saved = _plain(new)
        self._vibe = new
        self._vibe_to_drones()
        self.session.put_setting("vibe", saved)
        self.session.log("vibe", **_plain(new))
        return dict(new)

    def current_vibe(self) -> dict:
        """The vibe in force now (a timed vibe ends by itself)."""
        if self._vibe_until is not None and self.now >= self._vibe_until[0]:
            self._vibe, self._vibe_until = self._vibe_until[1], None
            self.session.put_setting("vibe", _plain(self._vibe))
            self._vibe_to_drones()
        return dict(self._vibe)

    def _set_sound(self, track: str, value: str | None) -> None:
        self.tracks[track]  # an unknown track fails here
        if value is None:
            self._sounds.pop(track, None)
        else:
            try:
                value = check_sound(str(value))
            except SoundError as e:
                raise HootError(str(e)) from None
            if is_soundfont(value) and ":" not in value.removeprefix("soundfont:"):
                from hoot.generate.soundfont import soundfont_available

                ok, why = soundfont_available()
                if not ok:
                    raise HootError(f"SoundFont rendering is not available: {why}")
            self._sounds[track] = value
        self._remember_track(track, sound=value)
        route = self._midi_in.get(track)
        if route:  # a keyboard plays this track: the keys play the new sound from now on
            port, channel = route
            self._send(p.PlayFrom(track=track, port=port, channel=channel, sound=value))

    def _remember_track(self, track: str, **values: Any) -> None:
        self.session.update_settings(tracks={track: values})

    # ---- generation ----------------------------------------------------------------------

    @property
    def picker(self):
        """The latest batch for each role: perf.picker["bass"][3].queue()."""
        if self._picker is None:
            from hoot.generate.batch import Picker

            self._picker = Picker(self.session, _PickerHost(self))
            # candidates made at another tempo are retaken: compare with the tempo the map
            # ends on, not the tempo of now (a change set for the next beat counts already)
            self._picker.bpm = self.tempo_map().tempi[-1].bpm
        return self._picker

    @property
    def generators(self) -> dict[str, str]:
        """Which generators are here, and for each: available, loading, loaded on DEVICE
        (N MB), or why it is not available. A model generator is asked in the model worker
        (the first time starts it: its imports, never its weights)."""
        found = {name: "available" for name in known_generators()}
        found["default"] = "available (embedded: no downloads, runs on the CPU)"
        for name, (_, why) in model_backends().items():
            found[name] = why
        warm = [name for name in known_generators() if is_warm(name)]
        models = self.picker.pool.models if warm or self._picker is not None else {}
        asked = [name for name in warm if name not in models]
        for name, (ok, why) in self._availability(asked).items():
            found[name] = "available" if ok else why
        for name, info in models.items():
            found[name] = _model_state(info)
        return found

    def _availability(self, names: list[str]) -> dict[str, tuple[bool, str]]:
        """Whether model generators are available: hoot's own are asked here (their
        `available()` looks at files, never imports torch: a test holds them to it); a
        plug-in's in the model worker, since its module may import anything."""
        found, plugins = {}, []
        for name in names:
            if name not in BUILTIN:
                plugins.append(name)
                continue
            try:
                found[name] = load_generator(name).available()
            except GeneratorError as e:
                found[name] = (False, str(e))
        if plugins:
            found.update(self.picker.pool.probe(plugins))
        return found

    @property
    def model_device(self) -> str:
        """Where model generators run: "auto" (the best here: cuda, then mps, then cpu),
        "cuda" (ROCm too, through torch's cuda device), "mps" or "cpu". A model already
        loaded elsewhere is loaded again there on its next batch (perf.unload frees it)."""
        return self._model_device

    @model_device.setter
    def model_device(self, device: str) -> None:
        if device not in MODEL_DEVICES:
            raise HootError(
                f"perf.model_device = {device!r}: say one of {', '.join(map(repr, MODEL_DEVICES))}"
            )
        self._model_device = device
        self.session.update_settings(model_device=device)

    def unload(self, name: str | None = None) -> None:
        """Free a model generator's weights (None: every model's); its next batch loads it
        again. A batch being made finishes first."""
        if name is not None and name not in known_generators() and ":" not in name:
            raise HootError(
                f"no generator called {name!r}; perf.generators lists them "
                f"({', '.join(known_generators())})"
            )
        models = self._picker.pool.models if self._picker is not None else {}
        freed = [n for n in models if name in (None, n)]
        if not freed:
            self.say(f"{name} is not loaded" if name else "no model is loaded")
            return
        self._picker.pool.unload(name)
        size = sum(int(models[n].get("bytes") or 0) for n in freed)
        self.say(f"unloaded {', '.join(freed)} ({size / 1e6:.0f} MB freed)")

    def generate(
        self,
        role: str,
        n: int = 6,
        bars: int | None = None,
        seed: int | None = None,
        vibe: str | dict | None = None,
        sound: str | None = None,
        using: str | None = None,
        by: str | None = None,
        *,
        prompt: dict | None = None,
    ):
        """Ask a generator for `n` variations for `role` in the current tempo, key, chords and
        vibe. Returns a Batch at once; candidates render in the background and appear in
        perf.picker, numbered from 1 as on screen (b[1] is the first).

        They are made for the moment they can first play, the next phrase boundary: a tempo,
        meter or phrase length set just before counts. `bars` defaults to that phrase length;
        `seed` makes it repeatable; `vibe` (words or a dict) and `sound` (see
        perf.tracks.bass.sound) apply to this batch only; `using` names a generator
        (perf.generators lists them) or points at your own class as "module:Class".
        With by="phrase", you are told which candidates will not be ready by the next phrase
        boundary (a pick plays only once fully made)."""
        if isinstance(self.tracks._tracks.get(role), InputTrack):
            raise HootError(
                f"{role} is an input: it is played, not generated; generate for {', '.join(ROLES)}"
            )
        if role not in self.tracks:
            raise HootError(
                f"no role {role!r}{_did_you_mean(role, self.tracks._tracks)}; "
                f"roles are {', '.join(self.tracks._tracks)}"
            )
        if role in LIVE_TRACKS and (using or "default") == "default":
            raise HootError(
                f"{role} is played live, not generated: perf.tracks.{role}.play_from"
                f"('your keyboard'); generate for {', '.join(ROLES)}"
            )
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 16:
            raise HootError(f"n={n!r}: ask for 1 to 16 candidates")
        using = using or "default"
        if using not in known_generators() and ":" not in using:
            why = model_backends().get(using, (False, "not installed"))[1]
            raise HootError(
                f"generator {using!r} is not available ({why}); "
                f"available: {', '.join(known_generators())}"
            )
        if by not in (None, "phrase"):
            raise HootError("by= takes 'phrase' (or nothing)")
        if is_warm(using) and using not in self.picker.pool.models:
            ok, why = self._availability([using]).get(using, (True, ""))
            if not ok:
                raise HootError(f"generator {using!r} is not available ({why})")
        the_vibe = self.current_vibe()
        try:
            if isinstance(vibe, str):
                the_vibe, _ = apply_words(the_vibe, vibe)
            elif isinstance(vibe, dict):
                the_vibe.update(check_vibe(vibe))
            the_sound = check_sound(sound) if sound else self._sounds.get(role)
        except (VibeError, SoundError) as e:
            raise HootError(str(e)) from None
        moment = self.first_moment()
        bars = moment.phrase_bars if bars is None else bars
        if isinstance(bars, bool) or not isinstance(bars, int) or not 1 <= bars <= 64:
            raise HootError(f"bars={bars!r}: a whole number of bars from 1 to 64")
        request = Request(
            role=role,
            n=n,
            bars=bars,
            bpm=moment.bpm,
            meter=str(moment.meter),
            key=self._key,
            chords=tuple(self.chords),
            vibe=the_vibe,
            seed=random.randrange(1 << 31) if seed is None else int(seed),
            samplerate=self.samplerate,
            sound=the_sound,
            device=self._model_device,
            context=self._context_for(role, moment, prompt),
        )
        batch = self.picker.new_batch(request, using)
        self.session.log("generate", batch=batch.id, **request.to_dict())
        if by == "phrase":
            batch.deadline = moment.sample
            threading.Thread(target=self._watch_deadline, args=(batch,), daemon=True).start()
        return batch

    def continue_(
        self,
        track: str,
        n: int = 6,
        bars: int | None = None,
        role: str | None = None,
        heard: int | None = None,
        seed: int | None = None,
        vibe: str | dict | None = None,
        using: str = "orpheus-small",
    ):
        """Ask a model to go on from what `track` plays: a stem's loop, or what a keyboard
        just played on a live track (its last `heard` bars, 2 by default). Returns a Batch of
        `n` candidates for `role` (the track itself when it is a role, else "lead"), made
        for the next phrase like perf.generate's.

            perf.continue_("lead")                   # six ways the lead line goes on
            perf.continue_("keys", role="chords")    # what the keyboard played, as chords
        """
        if isinstance(self.tracks._tracks.get(track), InputTrack):
            raise HootError(
                f"{track} is an audio input: a continuation needs notes (a stem, or a track a "
                f"keyboard plays: {', '.join(LIVE_TRACKS)})"
            )
        if track not in self.tracks:
            raise HootError(
                f"no track {track!r}{_did_you_mean(track, self.tracks._tracks)}; "
                f"tracks are {', '.join(self.tracks._tracks)}"
            )
        role = role or (track if track in ROLES else "lead")
        if role not in ROLES:
            raise HootError(f"role={role!r}: continue as one of {', '.join(ROLES)}")
        if (using or "default") == "default":
            raise HootError(
                "the default generator does not continue a line: continue_ with a model, "
                "using='orpheus-small' (hoot's own) or 'orpheus'"
            )
        moment = self.first_moment()
        beats_per_bar = moment.meter.beats
        if track in LIVE_TRACKS or track in self.played:
            heard = 2 if heard is None else heard
            if isinstance(heard, bool) or not isinstance(heard, int) or not 1 <= heard <= 16:
                raise HootError(f"heard={heard!r}: the bars to listen back, 1 to 16")
            notes = self._played(track, heard * beats_per_bar)
            length = float(heard * beats_per_bar)
            if not notes:
                raise HootError(
                    f"nothing was played on {track} in the last {heard} bars: play a phrase, "
                    "then continue it"
                )
        else:
            line = next((t for t in self.score["tracks"] if t["track"] == track), None)
            if line is None:
                raise HootError(
                    f"nothing plays on {track}: continue a track that plays a stem, or one a "
                    "keyboard plays"
                )
            length = float(line["length"])
            notes = _rotated(line["notes"], length, self._phase_at(line, moment))
        prompt = {"track": track, "role": role, "notes": notes, "length": length}
        return self.generate(role, n=n, bars=bars, seed=seed, vibe=vibe, using=using,
                             prompt=prompt)  # fmt: skip

    def _context_for(self, role: str, moment: Position, prompt: dict | None) -> dict:
        """What plays around a candidate made for `moment`, for generators that listen:
        every other track's loop turned to where it will be at that boundary (so its note at
        beat 0 plays on the boundary), the audio files that play, and a continuation's
        prompt."""
        try:
            score = self.score
            players = self._state().players
        except HootError:
            return {"prompt": prompt} if prompt else {}
        tracks = {}
        for line in score["tracks"]:
            if line["track"] == role or line["stop"] is not None and line["stop"] <= moment.sample:
                continue
            length = float(line["length"])
            tracks[line["track"]] = {
                "role": line["track"],
                "notes": _rotated(line["notes"], length, self._phase_at(line, moment)),
                "length": length,
            }
        audio = [pl.path for pl in players if pl.path and pl.track != role]
        context: dict = {"tracks": tracks, "audio": audio}
        if prompt:
            context["prompt"] = prompt
        return context

    def _phase_at(self, line: dict, moment: Position) -> float:
        """Where in its loop a score line is at `moment` (beats from the loop's start)."""
        return (moment.beat - float(line["start_beat"])) % float(line["length"])

    def _played(self, track: str, beats: float) -> list[list[float]]:
        """What a keyboard played on `track` in the last `beats` beats, as [start, length,
        pitch, velocity] from the window's start; the window ends on the bar line after the
        last note played (a phrase is heard whole), notes still held end there."""
        from hoot.engine.rings import NoteReader

        table = self._send(p.NoteTable())
        if track not in table.tracks:
            return []
        reader = NoteReader(table.path, table.tracks.index(track), history=True)
        try:
            records = reader.read()
            tm = self.tempo_map()
            beat_of = [tm.beat_at(reader.sample_at(arrived)) for arrived, *_ in records]
        finally:
            reader.close()
        held: dict[int, tuple[float, int]] = {}
        played = []
        for at, (_, status, pitch, velocity) in zip(beat_of, records):
            kind = status & 0xF0
            if kind == 0x90 and velocity > 0:
                held[pitch] = (at, velocity)
            elif kind in (0x80, 0x90) and pitch in held:
                start, vel = held.pop(pitch)
                played.append((start, at - start, pitch, vel))
        if not played and not held:
            return []
        last = max([s for s, *_ in played] + [s for s, _ in held.values()])
        where = tm.position(round(tm.sample_at(last)))
        end = last - where.beat_in_bar + where.meter.beats
        played += [(s, end - s, pitch, vel) for pitch, (s, vel) in held.items()]
        begin = end - beats
        return sorted(
            [[s - begin, min(d, end - s), pitch, vel] for s, d, pitch, vel in played
             if begin <= s < end]
        )  # fmt: skip

    def first_moment(self) -> Position:
        """Where a candidate asked for now can first play: the next phrase boundary (with the
        engine's safety margin), with the tempo, meter and phrase length in force there."""
        tm = self.tempo_map()
        start = tm.next_boundary(self.now + round(0.1 * self.samplerate), "phrase")
        return tm.position(start)

    def pick(self, role_or_number: str | int, number: int | None = None, at: str = "phrase"):
        """Queue a candidate of the latest batch at the next phrase. Candidates are numbered
        from 1, as the picker shows them: perf.pick(3) queues the third of the newest batch,
        perf.pick("bass", 3) the third of the latest bass batch (F8 on it does the same).
        Returns the candidate."""
        if isinstance(role_or_number, str):
            if number is None:
                raise HootError('which candidate? perf.pick("bass", 3) picks bass #3')
            batch = self.picker[role_or_number]
        else:
            batch, number = self.picker.newest, role_or_number
        candidate = batch[number]
        candidate.queue(at)
        return candidate

    def say(self, message: str) -> None:
        """Tell the performer something (the console shows it)."""
        self.messages.append(message)
        try:
            self.on_message(message)
        except Exception:  # noqa: BLE001 - a broken display must not stop the set
            pass

    def _watch_deadline(self, batch) -> None:
        while self.now < batch.deadline and not batch.settled:
            time.sleep(0.01)
        late = [c for c in batch if c.status.value not in ("ready", "failed")]
        if late:
            self.say(
                f"{batch.role}: {', '.join('#' + str(c.number) for c in late)} will not "
                f"be ready for the phrase at bar {self.bar_of(batch.deadline)}; picked, "
                "they start a phrase later"
            )

    def wait_target(self, bars: float = 0, beats: float = 0, seconds: float = 0) -> int:
        """The sample `bars`/`beats`/`seconds` from now."""
        tm = self.tempo_map()
        beat = tm.beat_at(self.now)
        if bars:
            beats += bars * tm.grid_at_beat(beat).beats_per_bar
        target = tm.sample_at(beat + beats) if beats else self.now
        return target + round(seconds * self.samplerate)

    def close(self) -> None:
        """Stop the generation workers, the real-time models and any sync source (the
        engine plays on)."""
        if self._score_watch is not None:
            self._score_watch.close()
        if self._realtime is not None:
            self._realtime.close()
        if self._follower is not None:
            self._follower.close()
            self._follower = None
        if self.link is not None:
            self.link.close()
        if self._picker is not None:
            self._picker.close()

    # ---- real-time models (hoot/realtime: one voice process each, torch there) ----------

    def harmonize(
        self,
        track: str,
        voices: int | None = 2,
        below: bool = True,
        sound: str | None = "strings",
        *,
        out: str = "harmony",
        key: str | None = None,
        span: int = 12,
        temperature: float = 1.0,
        model: str | Path | None = None,
        consonant: bool = True,
    ) -> Live | None:
        """Harmony voices for every note played on `track` (a keyboard's, or the notes of
        the stem playing there), from Notochord.

        Each key gets `voices` harmony notes (1-4), `below` or above it within `span`
        semitones, in `key` (None: perf.key, and it follows when perf.key changes),
        chosen by the model at the moment the key is played; they start with the key (the
        engine places them where it placed the key when the model answers within a block,
        about 1-2 ms; an answer later than 20 ms is dropped) and end when it comes up.
        A stem's notes are known ahead: each is harmonized 30 ms before it sounds and its
        harmony starts exactly with it (perf.harmonize("bass") with no keyboard on bass:
        harmony for the bass line; a keyboard and a stem on one track: both).
        They play on the track `out` ("harmony", a live track of its own) with `sound`, a
        built-in sound ("pad", "keys", "pluck", "saw_lead"...; "strings" is the pad, the
        synth's string section; None: the track's sound). `temperature` below 1 keeps to
        the model's likelier notes, above 1 takes less likely ones. `consonant` (default)
        keeps each voice on a third, sixth, fifth or octave of the key when the key allows;
        False leaves the choice among the key's notes to the model. `model`: a Notochord
        checkpoint (default: the one hoot ships, models/notochord-hoot.ckpt).

            perf.tracks.keys.play_from("Keystation")
            perf.harmonize("keys")                            # 2 voices below, strings
            perf.harmonize("keys", 3, below=False)            # changes the running one
            perf.harmonize("keys", None)                      # stops it (or .stop())

        The model runs in a process of its own; if it crashes or stalls it is restarted
        and the console says so in one line, while the music plays on. `perf.models`
        shows each running model, its latency and what it plays. Returns a Live.
        """
        name = ("harmonize", track)
        if voices is None:
            live = self._lives.get(name)
            if live is not None:
                live.stop()
            return None
        self._live_ready("harmonize", track)
        voices, span, temperature = (
            _whole(voices, "voices", 1, 4), _whole(span, "span", 1, 48), _warmth(temperature)
        )  # fmt: skip
        follows = key is None
        key = self._key if follows else _key_text(key)
        if out not in self.tracks:
            self.tracks[out]  # the performer's sentence, with a did-you-mean
        for other in self._lives.values():
            if other.out == out and other.key != name:
                raise HootError(f"{out} already plays {other.does}; give this one another "
                                "track with out=")  # fmt: skip
        checkpoint = _checkpoint(model)
        settings = {"voices": voices, "below": bool(below), "key": key, "span": span,
                    "temperature": temperature, "consonant": bool(consonant)}  # fmt: skip
        sound = self._harmony_sound(out, sound)
        does = (f"harmonizes {track}: {voices} voice{'s' if voices > 1 else ''} "
                f"{'below' if below else 'above'}, {sound or 'its sound'}")  # fmt: skip
        saved = {"voices": voices, "below": bool(below), "sound": sound, "out": out,
                 "key": None if follows else key, "span": span, "temperature": temperature,
                 "consonant": bool(consonant),
                 "model": str(checkpoint) if checkpoint else None}  # fmt: skip
        live = self._lives.get(name)
        if self._playing(live) and live.out == out and live.checkpoint == checkpoint:
            self._layer().set(out, does=does, **settings)  # the running voice, changed live
            if sound != live.settings.get("sound"):  # the same slot, its new sound
                self._send(p.ModelNotes(track=out, on=True, name=live.label,
                                        sound=None if is_soundfont(sound) else sound))  # fmt: skip
            live.settings, live.does, live.follows_key = saved, does, follows
        else:
            if live is not None:
                live.stop()
            table = self._send(p.NoteTable())
            if track not in table.tracks:
                raise HootError(f"{track} is not a track a keyboard or a stem plays; "
                                f"harmonize one of {', '.join(table.tracks)}")  # fmt: skip
            keyboard = track in LIVE_TRACKS or track in self.played
            readers = [table.tracks.index(track)] if keyboard else []
            start = {"kind": "harmonize", "track": track, "hears": [track],
                     "settings": settings, "stems": [track], "score": self.score,
                     "table": {"path": table.path, "tracks": readers}}  # fmt: skip
            live = Live(self, name, out, does, checkpoint, saved, follows)
            self._arm(live, start)
        self.session.update_settings(realtime={"harmonize": {track: saved}})
        self.session.log("harmonize", track=track, **saved)
        return live

    def improvise(
        self,
        track: str = "lead",
        *,
        instrument: int | None = None,
        density: float = 0.5,
        register: tuple[int, int] = (48, 84),
        temperature: float = 1.0,
        listen: list[str] | str | None = None,
        grid: bool = True,
        at: str = "phrase",
        polyphony: int = 3,
    ) -> Live:
        """Notochord plays `track` on its own, hearing the players as they play.

        `instrument`: the General MIDI program (1-128) it plays as, which shapes its
        phrasing (None: the model's own melodic voice); `density` from 0 (sparse) to 1
        (busy); `register` (lowest, highest) MIDI pitches; `temperature` above 1 takes
        less likely notes; `listen`: the tracks it hears, their keyboards' notes and their
        stems' notes as they sound (default: every keyboard, and every track playing a
        stem with notes but its own and the drums, as stems come and go); `grid`: its
        notes on sixteenths of the beat (False: free time); `at`: "phrase" (default: it
        starts, and stops, at a phrase boundary) or "now"; `polyphony`: the most notes it
        holds at once (1: a monophonic line). It plays in perf.key and follows it. A second
        call on the same track changes the running one live.

            perf.improvise("lead", density=0.3, register=(60, 84))
            perf.improvise("lead", grid=False)               # changes it while it plays
            perf.models                                      # what it plays now
            perf.model("lead").stop()                        # at the next phrase
        """
        self._live_ready("improvise", track)
        if at not in ("phrase", "now"):
            raise HootError(f'improvise starts at "phrase" or "now", not {at!r}')
        if not 0.0 <= float(density) <= 1.0:
            raise HootError(f"density goes from 0 (sparse) to 1 (busy), not {density!r}")
        low, high = (int(x) for x in register)
        if not 0 <= low < high <= 127:
            raise HootError(f"register is (lowest, highest) MIDI pitches, like (48, 84), not "
                            f"{register!r}")  # fmt: skip
        if instrument is not None:
            instrument = _whole(instrument, "instrument", 1, 128)
        table = self._send(p.NoteTable())
        keyboards = [t for t in dict.fromkeys((*LIVE_TRACKS, *self.played))
                     if t in table.tracks and t != track]  # fmt: skip
        named = None if listen is None else [listen] if isinstance(listen, str) else list(listen)
        for heard_track in named or ():
            if heard_track not in table.tracks:
                raise HootError(f"improvise can listen to {', '.join(table.tracks)}, not "
                                f"{heard_track!r}")  # fmt: skip
        score = self.score
        if named is None:  # the stems: whatever plays with notes, as it comes and goes
            stems = dict.fromkeys(t["track"] for t in score["tracks"])
            heard = keyboards + [t for t in stems if t != track and t not in DRUMS
                                 and t not in keyboards]  # fmt: skip
        else:
            keyboards = [t for t in named if t in LIVE_TRACKS or t in self.played]
            heard = named
        settings = {"instrument": instrument, "density": float(density),
                    "register": [low, high], "temperature": _warmth(temperature),
                    "polyphony": _whole(polyphony, "polyphony", 1, 8),
                    "key": self._key}  # fmt: skip
        hearing = ", ".join(heard) if named is not None else ", ".join(
            [*keyboards, "the stems"])  # fmt: skip
        does = (f"improvises on {track}, density {float(density):g}, "
                f"{'on the grid' if grid else 'free'}"
                + (f", hearing {hearing}" if hearing else ""))  # fmt: skip
        saved = {**settings, "listen": named, "grid": bool(grid), "at": at}
        saved.pop("key")
        name = ("improvise", track)
        live = self._lives.get(name)
        if self._playing(live) and live.settings["listen"] == named:
            changed = {k: v for k, v in settings.items() if k != "instrument"}
            self._layer().set(track, does=does, **changed)
            live.settings, live.does = saved, does
        else:
            if live is not None:
                live.stop(at="now")
            start = {"kind": "improvise", "track": track, "hears": heard,
                     "settings": {**settings, "grid": bool(grid), "at": at},
                     "table": {"path": table.path,
                               "tracks": [table.tracks.index(t) for t in keyboards]},
                     "stems": named, "score": score, "clock": self._clock_facts()}  # fmt: skip
            live = Live(self, name, track, does, None, saved, True)
            self._arm(live, start)
        self.session.update_settings(realtime={"improvise": {track: saved}})
        self.session.log("improvise", track=track, **saved)
        return live

    def model(self, track: str) -> Live | None:
        """The model that plays `track` ("harmony", "lead"...), to change or stop it; None if
        no model plays it.

            perf.model("lead").set(density=0.8)
            perf.model("lead").stop()          # at the next phrase; .stop("now"): at once
        """
        for live in self._lives.values():
            if live.out == track:
                return live
        return None

    @property
    def played(self) -> tuple[str, ...]:
        """The tracks a keyboard plays (`perf.tracks.keys.play_from(...)`), keys first: what
        the real-time layer can answer, and the columns of the Launchpad's live rows."""
        order = list(self.tracks._tracks)
        tracks = [t for t, route in self._midi_in.items() if route is not None and t in order]
        return tuple(sorted(tracks, key=lambda t: (t != "keys", order.index(t))))

    @property
    def models(self) -> list[ModelStatus]:
        """Every running model: what it does, its latency from key to answer (p50/p95 ms),
        what it plays now, answers dropped as late, and restarts. A transfer, drone or echo
        shows its declared latency (`latency_ms`, what perf.compensate waits for), its
        processing per block (p50/p95) and its output level (`level_db`)."""
        return Models(self._realtime.models if self._realtime is not None else [])

    def _playing(self, live: Live | None) -> bool:
        """Whether `live`'s voice plays, or will again (loading, restarting): not failed."""
        return live is not None and self._layer().state(live.out) not in (None, "failed")

    def _layer(self) -> RealtimeLayer:
        if self._realtime is None:
            self._realtime = RealtimeLayer(self.say)
        return self._realtime

    def _live_ready(self, what: str, track: str) -> None:
        """The performer's sentence when this cannot play live."""
        if self.offline:
            raise HootError(f"{what} plays live, and this set renders offline; use hoot tui "
                            "or hoot play")  # fmt: skip
        self.tracks[track]  # an unknown track: one sentence with a did-you-mean
        if importlib.util.find_spec("torch") is None:
            raise HootError(f"{what} needs torch: pip install 'hoot[neural]' (from a "
                            "checkout: make run NEURAL=1)")  # fmt: skip

    def _harmony_sound(self, out: str, sound: str | None) -> str | None:
        """Set the harmony track's sound ("strings": the pad, the synth's string section)."""
        if sound == "strings":
            sound = "pad"
        if sound is not None and sound != self._sounds.get(out):
            self._set_sound(out, sound)
        return sound or self._sounds.get(out)

    def _arm(self, live: Live, start: dict[str, Any]) -> None:
        """A slot of the engine's note table for the model, and its voice process."""
        self._layer().stop(live.out)  # one stopping at the phrase on this track: now
        sound = self._sounds.get(live.out)
        slot = self._send(
            p.ModelNotes(track=live.out, on=True, name=live.label,
                         sound=None if is_soundfont(sound) else sound)
        )  # fmt: skip
        status = self._link.status()
        start.update(
            slot={"path": slot.path, "slot": slot.slot},
            model=str(live.checkpoint) if live.checkpoint else None,
            block_s=(status.blocksize or 256) / self.samplerate,
        )
        self._lives[live.key] = live
        self._layer().start(live.out, start, does=live.does, model=live.model_name,
                            on_gone=lambda: self._disarm(live))  # fmt: skip
        if self._score_watch is None:
            self._score_watch = ScoreWatch(lambda: self._link.status().state_version,
                                           self._score_for_models, self._send_score)  # fmt: skip
        self._score_watch.poke()

    def _disarm(self, live: Live) -> None:
        """The voice is gone: its slot goes back to the engine (called by the layer). A
        failed one stays listed, as perf.models shows it, until it is stopped or restarted."""
        if live.key[0] in AUDIO_KINDS:
            self._disarm_audio(live)
            return
        failed = self._realtime is not None and self._realtime.state(live.out) == "failed"
        if self._lives.get(live.key) is live and not failed:
            del self._lives[live.key]
        try:
            self._send(p.ModelNotes(track=live.out, on=False, name=live.label))
        except HootError:
            pass  # an engine gone has no slot to free

    def _stop_live(self, live: Live, at: str) -> None:
        if self._lives.get(live.key) is not live or self._realtime is None:
            return
        del self._lives[live.key]
        kind, track = live.key
        phrase = kind in ("improvise", "drone", "echo") and at == "phrase"
        when = self._clock_facts()["phrase_wall"] if phrase else None
        self._realtime.stop(live.out, at=when)
        self.session.update_settings(realtime={kind: {track: None}})
        self.session.log("stop_model", kind=kind, track=track)

    @property
    def score(self) -> dict[str, Any]:
        """What the stems play, as the models hear it (hoot/realtime/score.py): for each
        track playing (or queued to play) a stem with notes, its notes as [beat offset in
        the loop, length in beats, pitch, velocity], the loop's length and the beat its
        turn started on, its General MIDI instrument, and the clock (the tempo map from
        now on, the time the engine renders a sample). The models get it again whenever
        it changes: a stem starts or stops, a take is swapped in, the tempo moves.

            [t["track"] for t in perf.score["tracks"]]        # ["bass", "chords"]
        """
        state = self._state()
        tm = TempoMap.from_dict(state.tempo_map)
        now = state.position
        return build_score(state.players, tm, now, self._notes_of, self._render_wall(),
                           self._clock_facts(tm, now))  # fmt: skip

    def _render_wall(self) -> Callable[[int], float]:
        """The monotonic time at which the engine starts rendering a sample, as its core's
        clock counts it (the clock that places a model's notes: a record stamped a block
        before it sounds plays exactly there). The heard clock's reading less the output
        latency is a block earlier than that, less the status thread's lag: the engine
        writes its position (the next block's first sample) after it rendered a block, so
        the freshest reading is that block's start plus its rendering time, with the next
        block's sample. Measured on JACK at 256 frames: 200 samples early without the
        block (tests/realtime/test_harmonize_stems_live.py), within 60 with it."""
        status = self._link.status()
        shift = (status.blocksize or 0) / self.samplerate - status.latency
        return lambda sample: self.heard_clock.wall(sample) + shift

    def _notes_of(self, player: p.PlayerState) -> StemNotes | None:
        """A playing stem's notes: a candidate's from its .mid in the session (its audio
        and JSON may be a retake in the spool), any other stem's from beside its file."""
        c = self._picker.candidate(player.stem) if self._picker is not None else None
        if c is not None:
            return read_stem_notes(player.path or c.take_path, mid=c.mid)
        return read_stem_notes(player.path) if player.path else None

    def _score_for_models(self) -> dict[str, Any] | None:
        """The score, when a running model hears stems (the score watch's build)."""
        return self.score if self._lives else None

    def _send_score(self, score: dict[str, Any]) -> None:
        if self._realtime is None:
            return
        for live in list(self._lives.values()):
            self._realtime.tell(live.out, score, keep="score")

    def _clock_facts(self, tm: TempoMap | None = None, now: int | None = None) -> dict[str, float]:
        """What an improviser needs to meet the grid: the beat period, and the monotonic
        times at which the engine renders the next beat and the next phrase boundary."""
        tm = tm or self.tempo_map()
        now = self.now if now is None else now
        beat = tm.next_boundary_beat(now, "beat")
        phrase = tm.next_boundary_beat(now, "phrase")
        wall = self._render_wall()
        return {
            "cmd": "clock",
            "beat_s": 60.0 / tm.bpm_at(tm.sample_at(beat)),
            "beat_wall": wall(tm.sample_at(beat)),
            "phrase_wall": wall(tm.sample_at(phrase)),
            "beat_sample": tm.sample_at(beat),  # the voice reads the engine's own clock
            "phrase_sample": tm.sample_at(phrase),
            "phrase_beats": float(tm.grid_at_beat(phrase).beats_per_phrase),
            "bar_beats": float(tm.grid_at_beat(phrase).beats_per_bar),  # an echo's bars
        }

    def _retime_models(self) -> None:
        """The tempo or the grid changed: improvisers, drones and echoes hear of it."""
        for live in list(self._lives.values()):
            if live.key[0] in ("improvise", "drone", "echo") and self._realtime is not None:
                self._realtime.tell(live.out, self._clock_facts(), keep="clock")

    def _restore_models(self) -> list[str]:
        """Start again the models the session had running (a restarted UI or engine)."""
        said = []
        saved = self.session.read_settings().get("realtime", {})
        for track, row in saved.get("harmonize", {}).items():
            try:
                self.harmonize(track, **{k: v for k, v in row.items() if k != "out"},
                               out=row.get("out", "harmony"))  # fmt: skip
                said.append(f"the harmonizer on {track} listens again")
            except (HootError, TypeError) as e:
                said.append(f"the harmonizer on {track} is not listening again ({e})")
        for track, row in saved.get("improvise", {}).items():
            try:
                self.improvise(track, **row)
                said.append(f"the improviser on {track} plays again from the next phrase")
            except (HootError, TypeError) as e:
                said.append(f"the improviser on {track} is not playing again ({e})")
        return said + self._restore_audio(saved)

    # ---- models that sound (issue 13: RAVE in a voice process, its audio on a track) ----

    def transfer(
        self,
        source: str,
        model: str | Path | None = None,
        mix: float = 1.0,
        *,
        name: str | None = None,
        bias: float | list[float] | None = None,
        scale: float | list[float] | None = None,
        noise: float | None = None,
    ) -> Live:
        """A live input played through a RAVE model, as it plays: timbre transfer.

        `source` is an input track (perf.input makes one); the model's output plays on a
        track of its own, `name` (default "trombone~" for "trombone"), mixed like an input:
        perf.tracks["trombone~"].gain, pan, mute, solo, its meter, perf.record(tracks=True).
        `model`: a RAVE / nn~ TorchScript file, by path or by name in models/ ("rave-hoot");
        None: the one hoot ships (models/rave-hoot.ts, a few ms). `mix`: 1 the model alone,
        0 the input passed through, between them both. The latent controls: `bias` added to
        the model's latent (one number for every dimension, or a list, one per dimension),
        `scale` multiplying it (1: as encoded), `noise` the spread of random noise added
        (0: none). All of them change live:

            perf.input("trombone", channel=1)
            perf.transfer("trombone")                       # rave-hoot
            perf.transfer("trombone", model="violin", mix=0.7, noise=0.3)
            perf.model("trombone~").set(bias=[0.5, -1.0])   # first two dims; or a knob:
            perf.midi.map(cc=21, to="trombone~.noise")
            perf.compensate = True                          # the rest of the mix waits for it
            perf.model("trombone~").stop()

        The output lags the input by the model's latency (perf.models shows it, in ms);
        perf.compensate delays the rest of the mix by as much, so they line up. Several
        inputs may each have their own. Saved with the session: a new UI or engine starts
        it again. Returns a Live."""
        self._audio_ready("transfer")
        self._heard_input(source, "transfer")
        name = self._model_track("transfer", f"{source}~" if name is None else name)
        path = _audio_model(model)
        controls = {"bias": _latent(bias, "bias"), "scale": _latent(scale, "scale"),
                    "noise": _noise(noise)}  # fmt: skip
        settings = {"mix": _share(mix, "mix"), **_neutral(controls), "latency": None}
        saved = {"source": source, "model": _saved_model(model, path), "mix": settings["mix"],
                 **controls}  # fmt: skip
        does = f"transfers {source} -> {path.stem}"
        return self._play_audio("transfer", name, path, saved, settings, does, source)

    def drone(
        self,
        model: str | Path | None = None,
        *,
        name: str = "drone",
        walk: float = 0.3,
        lfo: float | None = None,
        change: str | None = "phrase",
        level: float = -12.0,
    ) -> Live:
        """A RAVE model's decoder playing on its own: a drone, a texture that moves.

        Its latent wanders: `walk` from 0 (still) to 1 (restless); `lfo` sways it once
        every that many beats (locked to the bars; None: no sway); `change="phrase"` moves
        it somewhere new on every phrase boundary (None: it only wanders). perf.vibe's
        energy and brightness steer it as the vibe changes. `level` is its output in dB,
        before the track's fader. It plays on the track `name`, mixed like an input.

            perf.drone()                                    # rave-hoot, on "drone"
            perf.drone("violin", name="bed", walk=0.1, lfo=16)
            perf.vibe("darker")                             # the drone follows
            perf.model("drone").set(walk=0.8)
            perf.model("drone").stop()                      # at the next phrase

        Returns a Live."""
        self._audio_ready("drone")
        name = self._model_track("drone", name)
        path = _audio_model(model)
        change = _change(change)
        if lfo is not None and (isinstance(lfo, bool) or not isinstance(lfo, int | float)
                                or not 0 < lfo <= 1024):  # fmt: skip
            raise HootError(f"lfo is beats per sway, like 16 (four bars of 4/4), or None; "
                            f"not {lfo!r}")  # fmt: skip
        if isinstance(level, bool) or not isinstance(level, int | float) or not (
            -60 <= level <= 6
        ):
            raise HootError(f"level is dB from -60 to +6, not {level!r}")
        vibe = self._vibe
        settings = {"walk": _share(walk, "walk"), "lfo": None if lfo is None else float(lfo),
                    "change": change, "level": float(level),
                    "energy": float(vibe.get("energy", 0.5)),
                    "brightness": float(vibe.get("brightness", 0.5)),
                    "key": self._key}  # fmt: skip
        saved = {"model": _saved_model(model, path), "walk": settings["walk"],
                 "lfo": settings["lfo"], "change": change or False,
                 "level": settings["level"]}  # fmt: skip
        does = (f"drones from {path.stem}, walk {settings['walk']:g}"
                + (f", sways every {lfo:g} beats" if lfo else "")
                + (", moves each phrase" if change else ""))  # fmt: skip
        return self._play_audio("drone", name, path, saved, settings, does)

    def echo(
        self,
        source: str,
        bars: int = 4,
        model: str | Path | None = None,
        *,
        name: str | None = None,
        walk: float = 0.0,
        mix: float = 1.0,
    ) -> Live:
        """A generative delay: what `source` played over the last `bars` bars comes back,
        transformed by a RAVE model, on the grid, phrase after phrase until stopped. It
        starts on the first phrase boundary whose last `bars` bars it heard whole: the
        next one when the engine's input history (2.7 s) covers them, else the first one
        that many bars after you start it, so a phrase never comes back cut. `walk` from
        0 (the model's timbre transfer of the phrase) to 1 (a wander around its latent
        encoding); `mix`: 1 the model's output alone, 0 the phrase as played. It plays on
        `name` (default "keys~echo").

            perf.echo("keys", bars=4)
            perf.echo("trombone", bars=2, walk=0.5)
            perf.model("keys~echo").stop()

        Returns a Live."""
        self._audio_ready("echo")
        self._heard_input(source, "echo")
        bars = _whole(bars, "bars", 1, 64)
        name = self._model_track("echo", f"{source}~echo" if name is None else name)
        path = _audio_model(model)
        settings = {"bars": bars, "walk": _share(walk, "walk"), "mix": _share(mix, "mix")}
        saved = {"source": source, "model": _saved_model(model, path), **settings}
        does = (f"echoes {source} {bars} bar{'s' if bars > 1 else ''} later through "
                f"{path.stem}" + (f", walk {settings['walk']:g}" if settings["walk"] else ""))
        return self._play_audio("echo", name, path, saved, settings, does, source)

    @property
    def compensate(self) -> bool:
        """Whether the rest of the mix waits for the transfers: True delays every track
        that is not a model's by the largest latency a running transfer declares (to the
        sample; perf.models shows each), and follows it as transfers come, go or change;
        False (the default, for players monitoring themselves live) delays nothing.
        Saved with the session.

            perf.compensate = True
        """
        return self._compensate

    @compensate.setter
    def compensate(self, on: bool) -> None:
        if not isinstance(on, bool):
            raise HootError(f"perf.compensate is True or False, not {on!r}")
        self._compensate = on
        self.session.update_settings(realtime={"compensate": on})
        self.session.log("compensate", on=on)
        self._compensate_models()

    def _audio_ready(self, what: str) -> None:
        """The performer's sentence when a model cannot sound here."""
        if self.offline:
            raise HootError(f"{what} plays live, and this set renders offline; use hoot tui "
                            "or hoot play")  # fmt: skip
        if importlib.util.find_spec("torch") is None:
            raise HootError(f"{what} needs torch: pip install 'hoot[neural]' (from a "
                            "checkout: make run NEURAL=1)")  # fmt: skip

    def _heard_input(self, source: object, what: str) -> None:
        """`source` must be a live input (perf.input): the model reads its row of the
        engine's input ring."""
        if isinstance(self.tracks._tracks.get(source), InputTrack):
            return
        inputs = ", ".join(t.name for t in self.tracks.inputs)
        raise HootError(
            f"{what} hears a live input, and {source!r} is not one "
            f"({'inputs: ' + inputs if inputs else 'no inputs yet'}); "
            f"perf.input({str(source)!r}, channel=1) makes one"
        )

    def _model_track(self, kind: str, name: object) -> str:
        """The track a model of `kind` sounds on, checked: free, or its own already."""
        if not isinstance(name, str) or not name.strip() or any(
            c.isspace() or c == "." for c in name
        ):
            raise HootError(f"a model's track needs a name without spaces or dots, like "
                            f"'trombone~' or 'drone', not {name!r}")  # fmt: skip
        track = self.tracks._tracks.get(name)
        if track is not None and not isinstance(track, ModelTrack):
            what = "an input" if isinstance(track, InputTrack) else "a generated track"
            raise HootError(f"{name} is {what}; give the {kind} another track with name=")
        for live in self._lives.values():
            if live.out == name and live.key != (kind, name):
                raise HootError(f"{name} already plays {live.does}; give the {kind} another "
                                "track with name=")  # fmt: skip
        return name

    def _play_audio(self, kind: str, name: str, path: Path, saved: dict[str, Any],
                    settings: dict[str, Any], does: str, source: str | None = None) -> Live:
        """Change the running model of `kind` on `name` live, or arm a new one (a new
        model, source or engine); save it either way."""
        key = (kind, name)
        live = self._lives.get(key)
        same = (self._playing(live) and live.checkpoint == path
                and live.settings.get("source") == source
                and live.engine == self._link.info.pid)  # fmt: skip
        if same:
            self._layer().set(name, does=does, **settings)
            live.settings, live.does = saved, does
        else:
            start = {"kind": kind, "model": str(path), "track": source or name,
                     "hears": [source] if source else [], "settings": settings,
                     "clock": self._clock_facts()}  # fmt: skip
            if source is not None:
                rows = {i.name: i.row for i in self._state().inputs}
                start["source_row"] = int(rows[source])
            # a drone holds perf.key's tonic when its model has a pitch dim: it follows
            live = Live(self, key, name, does, path, saved, kind == "drone")
            self._arm_audio(live, start)
        self.session.update_settings(realtime={kind: {name: saved}})
        self.session.log(kind, track=name, **{k: v for k, v in saved.items() if v is not None})
        return live

    def _arm_audio(self, live: Live, start: dict[str, Any]) -> None:
        """An input row of the engine for the model's output (ModelAudio: its return ring),
        its track in perf.tracks, and its voice process."""
        self._lives[live.key] = live  # first: the voice it replaces leaves the row alone
        self._layer().stop(live.out)
        try:
            slot = self._send(p.ModelAudio(name=live.out, on=True))
        except HootError:
            if self._lives.get(live.key) is live:
                del self._lives[live.key]
            raise
        start["audio"] = {"path": slot.path, "row": slot.row, "track": slot.track,
                          "ring": slot.ring, "samplerate": slot.samplerate,
                          "block": slot.block}  # fmt: skip
        live.engine = self._link.info.pid
        self.tracks._take(ModelTrack(self, live.out, live.key[0]))
        self._saved_mix(live.out)
        layer = self._layer()
        layer.on_latency = self._compensate_models
        layer.start(live.out, start, does=live.does, model=live.model_name,
                    on_gone=lambda: self._disarm(live))  # fmt: skip

    def _disarm_audio(self, live: Live) -> None:
        """An audio voice is gone: its row goes back to the engine and its track leaves
        perf.tracks, unless a new voice already took the same track."""
        holder = self._lives.get(live.key)
        if holder is not None and holder is not live:
            return
        failed = self._realtime is not None and self._realtime.state(live.out) == "failed"
        if holder is live and not failed:
            del self._lives[live.key]
        if isinstance(self.tracks._tracks.get(live.out), ModelTrack):
            self.tracks._let_go(live.out)
        try:
            self._send(p.ModelAudio(name=live.out, on=False))
        except HootError:
            pass  # an engine gone has no row to free
        self._compensate_models()

    def _set_audio(self, live: Live, params: dict[str, Any]) -> Live:
        """Live.set for a transfer, drone or echo: its own words, changed live."""
        kind = live.key[0]
        words = AUDIO_WORDS[kind]
        unknown = sorted(set(params) - set(words))
        if unknown:
            raise HootError(f"a {kind} takes {', '.join(words)}; not {', '.join(unknown)}")
        merged = {**live.settings, **params}
        if kind == "drone":
            if merged.get("change") is False:
                merged["change"] = None
            return self.drone(name=live.out, **merged)
        source = merged.pop("source")
        return getattr(self, kind)(source, name=live.out, **merged)

    def _steer(self, track: str, control: str, value: float, save: bool = False) -> None:
        """A knob on a model's latent control ("noise", "scale", "mix", "walk", "bias3":
        the third latent dimension's bias), sent to its voice at once; saved only when
        `save` (a resting knob: MIDI maps call this 60 times a second while it turns)."""
        live = self.model(track)
        if live is None or live.key[0] not in AUDIO_KINDS:
            raise HootError(f"no transfer, drone or echo plays {track}")
        word, dim = control, None
        if control.startswith("bias") and control[4:].isdigit():
            word, dim = "bias", int(control[4:])
        if word not in AUDIO_WORDS[live.key[0]]:
            raise HootError(f"a {live.key[0]} has no {word}; it takes "
                            f"{', '.join(AUDIO_WORDS[live.key[0]])}")  # fmt: skip
        value = float(value)
        if dim is not None:
            bias = live.settings.get("bias")
            dims = list(bias) if isinstance(bias, list) else [float(bias)] * 8 if bias else []
            dims += [0.0] * (dim - len(dims))
            dims[dim - 1] = value
            value = dims
        if save:
            live.set(**{word: value})
            return
        sent = {"noise": _noise, "bias": _latent, "scale": _latent}.get(word, _share)(value, word)
        self._layer().set(track, **{word: sent})
        live.settings = {**live.settings, word: sent}

    def _sounding(self) -> tuple[str, ...]:
        """The tracks transfers, drones and echoes play, or will when the session's saved
        ones start again (MIDI maps check a latent knob's target against them)."""
        names = [live.out for live in self._lives.values() if live.key[0] in AUDIO_KINDS]
        saved = self.session.read_settings().get("realtime", {})
        for kind in AUDIO_KINDS:
            rows = saved.get(kind, {}) if isinstance(saved, dict) else {}
            names += list(rows) if isinstance(rows, dict) else []
        return tuple(dict.fromkeys(names))

    def _compensate_models(self) -> None:
        """Send the engine the delay perf.compensate asks for now: the largest latency a
        running transfer declares, or 0; only when it changed."""
        if self.offline:
            return
        with self._compensating:
            want, late = 0, []
            if self._compensate:
                for m in self.models:
                    if m.kind == "transfer" and m.state in ("loading", "running"):
                        want = max(want, m.latency_samples or 0)
                        if (m.latency_samples or 0) > p.MAX_COMPENSATE:
                            late.append(m.name)
            for name in set(late) - self._said_too_late:
                self.say(f"{name} lags more than the mix can wait ({p.MAX_COMPENSATE} "
                         "samples); the mix waits that long")  # fmt: skip
            self._said_too_late = set(late)
            want = min(want, p.MAX_COMPENSATE)
            if want == self._compensated:
                return
            try:
                self._compensated = int(self._send(p.Compensate(samples=want)).samples)
            except HootError as e:
                self.say(f"compensation: {e}")

    def _vibe_to_drones(self) -> None:
        """The vibe changed: drones hear its energy and brightness."""
        if self._realtime is None:
            return
        energy = float(self._vibe.get("energy", 0.5))
        brightness = float(self._vibe.get("brightness", 0.5))
        for live in list(self._lives.values()):
            if live.key[0] == "drone" and self._realtime.state(live.out) is not None:
                self._realtime.set(live.out, energy=energy, brightness=brightness)

    def _restore_audio(self, saved: dict[str, Any]) -> list[str]:
        """Start again the transfers, drones and echoes the session had running."""
        said = []
        for kind in AUDIO_KINDS:
            rows = saved.get(kind, {})
            for name, row in rows.items() if isinstance(rows, dict) else ():
                try:
                    if not isinstance(row, dict):
                        raise TypeError("a spoiled row")
                    row = dict(row)
                    if kind == "drone":
                        row["change"] = row.get("change") or None
                        self.drone(name=name, **row)
                    else:
                        getattr(self, kind)(row.pop("source", None), name=name, **row)
                    said.append(f"the {kind} on {name} plays again")
                except (HootError, TypeError) as e:
                    said.append(f"the {kind} on {name} is not playing again ({e})")
        return said

    # ---- a new engine for the session --------------------------------------------------

    def adopt(self, state: p.EngineState) -> None:
        """Take in what a running engine was doing when this performance attached to it."""
        if state.recording:
            self._recording = len(state.recording) > 1
            self._recording_paths = [Path(x) for x in state.recording]
        saved = self._saved_inputs()
        for listening in state.inputs:  # the engine played on: its inputs listen on
            if _from_model(listening):
                continue  # a model's track: its voice died with the UI; re-armed below
            source = saved.pop(listening.name, None) or _source_of(listening)
            source["monitor"] = listening.monitor
            self.tracks._take(InputTrack(self, listening.name, source))
        for name, source in saved.items():  # saved, but the engine lost them: take again
            if name not in self.tracks:
                try:
                    self._take_input(name, source)
                except HootError as e:
                    self.say(f"{name} is not listening again ({e})")
        self._compensated = None  # the engine may delay the mix by what the last UI asked
        for line in self._restore_models():  # their voices died with the UI before this one
            self.say(line)
        for listening in state.inputs:  # a model's track no saved model plays any more
            if _from_model(listening) and self.model(listening.name) is None:
                try:
                    self._send(p.ModelAudio(name=listening.name, on=False))
                except HootError:
                    pass
        self._compensate_models()

    def restore_engine(self, playing: tuple[p.PlayerState, ...] = ()) -> list[str]:
        """Give a newly started engine the mix the performer set (it started on the session's
        tempo, meter and phrase length), start again what was playing, at the next phrase,
        and the recording. Returns what it did, in words."""
        done = []
        self._loaded.clear()
        done.extend(self._restore_inputs())
        settings = self.session.read_settings()
        for name, row in settings.get("tracks", {}).items():
            if name in self.tracks and isinstance(row, dict):
                mix = {k: row[k] for k in ("gain", "pan", "mute", "solo") if k in row}
                if mix:
                    try:
                        self._send(p.Mix(track=name, **mix))
                    except HootError:
                        pass
        done.append("tempo, meter and mix as they were")
        done.extend(self._restore_midi())
        again = []
        for player in playing:
            if player.path is None or player.track not in self.tracks:
                continue
            try:
                self._send(p.Load(stem_id=player.stem, path=player.path, role=player.track))
                self._loaded.add(player.stem)
                self._send(p.Queue(track=player.track, stem=player.stem, at="phrase"))
                again.append(player.track)
            except HootError:
                continue
        if again:
            done.append(f"{', '.join(again)} playing again from the next phrase")
        self._compensated = None  # a new engine delays nothing
        done.extend(self._restore_models())
        self._compensate_models()
        if self._recording is not None:
            before = self._recording_paths[0].name if self._recording_paths else "the take"
            try:
                self.record(tracks=self._recording)
                done.append(f"the recording up to the crash is in {before}, and it records "
                            f"again to {self._recording_paths[0].name}")  # fmt: skip
            except HootError as e:
                done.append(f"the recording up to the crash is in {before}; recording again "
                            f"failed ({e})")  # fmt: skip
        return done

    def _restore_midi(self) -> list[str]:
        """Reconnect the keyboards and hardware the tracks had; say what could not be."""
        said = []
        for name, out in self._midi_out.items():
            if out.get("port") and name in self.tracks:
                try:
                    self._send(p.MidiOut(track=name, **out))
                except HootError as e:
                    said.append(f"{name} cannot play {out['port']} again ({e})")
        for name, route in self._midi_in.items():
            if route and name in self.tracks:
                port, channel = route
                try:
                    self._send(p.PlayFrom(track=name, port=port, channel=channel,
                                          sound=self._sounds.get(name)))  # fmt: skip
                except HootError as e:
                    said.append(f"{name} cannot play from {port} again ({e})")
        return said

    # ---- recording and safety ----------------------------------------------------------

    def record(self, tracks: bool = False, name: str | None = None) -> list[Path]:
        """Record the master (and each track when `tracks=True`) to the session's recordings/
        folder as WAV. Headers are kept current every second, so a crash loses at most about
        a second. Returns the files being written."""
        paths = [Path(x) for x in self._send(p.Record(tracks=tracks, name=name)).paths]
        self._recording, self._recording_paths = tracks, paths
        self.session.log("record", paths=[str(x) for x in paths])
        return paths

    def stop_recording(self) -> list[Path]:
        """Finish the recording; returns the finished files."""
        paths = [Path(x) for x in self._send(p.StopRecording()).paths]
        self._recording, self._recording_paths = None, []
        self.session.log("stop_recording", paths=[str(x) for x in paths])
        return paths

    def panic(self) -> None:
        """Everything stops at once, with a short fade; anything queued is forgotten."""
        self._send(p.Panic())
        self.session.log("panic")

    def __repr__(self) -> str:
        try:
            pos = self.position
            return (
                f"<Performance {self.session.name}: {pos.bpm:g} BPM {pos.meter}, "
                f"bar {pos.bar + 1} beat {math.floor(pos.beat_in_bar) + 1}>"
            )
        except HootError:
            return f"<Performance {self.session.name}>"


class Live:
    """A model playing live, as perf.harmonize and perf.improvise return it: `stop()` ends
    it, `set(**params)` changes it while it plays (the same words as the call that
    started it), `status` is what perf.models shows for it."""

    def __init__(self, perf: Performance, key: tuple[str, str], out: str, does: str,
                 checkpoint: Path | None, settings: dict[str, Any],
                 follows_key: bool) -> None:  # fmt: skip
        self._perf = perf
        self.key = key  # ("harmonize", "keys") or ("improvise", "lead")
        self.out = out  # the track it plays, and its voice's name
        self.does = does
        self.checkpoint = checkpoint
        self.settings = settings
        self.follows_key = follows_key
        self.label = f"{key[0]} {key[1]}"
        self.model_name = (
            "notochord-hoot (embedded)" if checkpoint is None else checkpoint.stem
        )
        self.engine = 0  # an audio model's engine (its pid): a new engine arms it again

    def stop(self, at: str = "phrase") -> None:
        """End it: a harmonizer or a transfer at once (its notes, or its track, end with
        it); an improviser, a drone or an echo at the next phrase boundary, or at once with
        at="now"."""
        self._perf._stop_live(self, at)

    def set(self, **params: Any) -> Live | None:
        """Change it while it plays: live.set(voices=3), live.set(density=0.8); a transfer's
        live.set(noise=0.5, bias=[0.3, -1]), a drone's live.set(walk=0.8)."""
        kind, track = self.key
        if kind in AUDIO_KINDS:
            return self._perf._set_audio(self, params)
        merged = {**self.settings, **params}
        if kind == "harmonize":
            return self._perf.harmonize(track, **merged)
        return self._perf.improvise(track, **merged)

    @property
    def status(self) -> ModelStatus | None:
        for model in self._perf.models:
            if model.name == self.out:
                return model
        return None

    def __repr__(self) -> str:
        status = self.status
        return f"<Live {status.line() if status else self.out + ': stopped'}>"


class InputChannels(tuple):
    """The device's input channels: `channels[0]` is channel 1's port name. Its repr is
    what the console shows for `perf.inputs`."""

    def __new__(cls, ports: tuple[str, ...], duplex: bool, reason: str) -> InputChannels:
        channels = super().__new__(cls, ports)
        channels.duplex, channels.reason = duplex, reason
        return channels

    def __repr__(self) -> str:
        if not self:
            return f"<no input channels: {self.reason or 'the device has none'}>"
        rows = "\n".join(f"  {number:>2}  {port}" for number, port in enumerate(self, 1))
        return f"<input channels (perf.input('trombone', channel=1)):\n{rows}>"


class RoundTrip:
    """The round trip from an input to the monitored output (`perf.latency`)."""

    def __init__(self, ms: float, frames: int, measured: bool, how: str) -> None:
        self.ms, self.frames, self.measured, self.how = ms, frames, measured, how

    def __repr__(self) -> str:
        return f"<round trip {self.ms:.1f} ms ({self.frames} frames): {self.how}>"


def _source_of(track: p.InputTrack) -> dict[str, Any]:
    """An engine's input, as session.toml keeps it."""
    kind, _, rest = track.source.partition(" ")
    return {"channels": list(track.channels), "file": rest if kind == "file" else "",
            "signal": rest if kind == "signal" else "", "monitor": track.monitor}  # fmt: skip


def _source_words(source: dict[str, Any]) -> str:
    """Where an input's sound comes from, as the performer said it."""
    if source.get("file"):
        return f"file {Path(source['file']).name}"
    if source.get("signal"):
        return f"signal {source['signal']}"
    channels = source.get("channels", [])
    if len(channels) == 2:
        return f"channels {channels[0]}+{channels[1]}"
    return f"channel {channels[0]}" if channels else "no source"


MODEL_DEVICES = ("auto", "cuda", "mps", "cpu")


def _model_state(info: dict) -> str:
    """ "loaded on cuda (1024 MB)", "loading on cpu": a model as perf.generators says it."""
    device = info.get("device") or "auto"
    if info.get("state") != "loaded":
        return f"loading on {device}"
    size = int(info.get("bytes") or 0)
    return f"loaded on {device} ({size / 1e6:.0f} MB)" if size else f"loaded on {device}"


class _PickerHost:
    """The picker's view of the performance (hoot.generate.batch.PickerHost)."""

    def __init__(self, perf: Performance) -> None:
        self.perf = perf

    def load(self, c, path: Path, stem_id: str) -> None:
        perf = self.perf
        with perf._lock:  # the preload thread and a pick may race for the same candidate
            if stem_id not in perf._loaded:
                perf._send(p.Load(stem_id=stem_id, path=str(path), role=c.role))
                perf._loaded.add(stem_id)

    def unload(self, stem_id: str) -> None:
        perf = self.perf
        with perf._lock:
            if stem_id in perf._loaded:
                perf._send(p.Unload(stem_id=stem_id))
                perf._loaded.discard(stem_id)

    def start(self, c, at: str | int) -> int:
        self.load(c, c.take_path, c.take_id)
        result = self.perf._send(p.Queue(track=c.role, stem=c.take_id, at=at))
        self.perf.session.log("queue", stem=c.take_id, track=c.role, sample=result.sample)
        return result.sample

    def swap(self, c, path: Path, stem_id: str) -> int | None:
        """Play `path` (the candidate made again at the tempo of now) in place of what of it
        plays or waits, from the next turn of its loop. Returns that sample, or None."""
        self.load(c, path, stem_id)
        result = self.perf._send(p.Swap(track=c.role, stem=stem_id, replaces=c.take_id))
        if result.sounding:
            self.perf.session.log("swap", stem=stem_id, replaces=c.take_id, sample=result.sample)
            return result.sample
        return None

    def unqueue(self, c) -> bool:
        result = self.perf._send(p.Unqueue(track=c.role, stem=c.take_id))
        if result.sounding:
            self.perf.session.log("unqueue", stem=c.take_id, track=c.role)
        return result.sounding

    def players(self) -> dict[str, tuple[str, int]]:
        return {pl.stem: (pl.state, pl.start) for pl in self.perf._state().players}

    def bar_of(self, sample: int) -> int:
        return self.perf.bar_of(sample)

    def say(self, message: str) -> None:
        self.perf.say(message)


def _whole(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise HootError(f"{what} is a whole number from {low} to {high}, not {value!r}")
    return value


def _warmth(temperature: Any) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not (
        0.05 <= temperature <= 4.0
    ):
        raise HootError(f"temperature goes from 0.05 (safest) to 4 (wildest), not "
                        f"{temperature!r}; 1 is the model's own")  # fmt: skip
    return float(temperature)


def _key_text(text: str) -> str:
    try:
        return str(Key.parse(text))
    except ValueError as e:
        raise HootError(str(e)) from None


def _checkpoint(model: str | Path | None) -> Path | None:
    """A checkpoint the performer named, checked to exist (None: the embedded one)."""
    if model is None:
        return None
    path = Path(model).expanduser()
    if not path.is_file():
        raise HootError(f"no model at {path}; give a Notochord checkpoint (.ckpt or .pt), or "
                        "leave model= out for the one hoot ships")  # fmt: skip
    return path.resolve()


EMBEDDED_AUDIO = MODELS_DIR / "rave-hoot.ts"  # the RAVE-style model hoot ships (issue 13)
# what Live.set takes for each audio model (the words of the call that started it)
AUDIO_WORDS = {
    "transfer": ("mix", "bias", "scale", "noise", "model"),
    "drone": ("walk", "lfo", "change", "level", "model"),
    "echo": ("bars", "walk", "mix", "model"),
}
LATENT_DIMS = 512  # a bias or scale list longer than any RAVE latent is a mistake


def _from_model(track: p.InputTrack) -> bool:
    """Whether an engine's input row is a model's output (ModelAudio), not a player's."""
    return track.source.split(" ", 1)[0] == "model"


def _audio_model(model: str | Path | None) -> Path:
    """The RAVE / nn~ TorchScript file the performer named: a path, or a name in models/
    (with or without .ts); None: the embedded one. Checked without torch (its archive's
    layout: hoot.realtime.checkpoints), so a wrong file is one sentence here, not a voice
    that fails to load a second later."""
    if model is None:
        path = EMBEDDED_AUDIO
        if not path.is_file():
            raise HootError(f"the model hoot ships ({path.name}) is not in models/ here; give "
                            f"one with model=: {_listed_models()}")  # fmt: skip
    else:
        given = Path(model).expanduser()
        tries = [given]
        if len(given.parts) == 1:
            tries += [MODELS_DIR / given.name, MODELS_DIR / f"{given.name}.ts"]
        path = next((t for t in tries if t.is_file()), None)
        if path is None:
            raise HootError(f"no model {str(model)!r}: {_listed_models()}")
    found = inspect_model(path)
    if found.kind != "torchscript" or "decode" not in found.details.get("methods", ()):
        raise HootError(f"{path.name} is not a RAVE / nn~ model ({found.what}); "
                        f"{_listed_models()}")  # fmt: skip
    return path.resolve()


def _listed_models() -> str:
    """What models/ offers, in words."""
    names = sorted(f.stem for f in MODELS_DIR.glob("*.ts")) if MODELS_DIR.is_dir() else []
    if not names:
        return "models/ has no .ts models; give a path to a RAVE model exported for nn~"
    return f"models/ has {', '.join(names)}, or give a path to a .ts file"


def _saved_model(model: str | Path | None, path: Path) -> str | None:
    """The model as session.toml keeps it: None for the embedded one, else its path."""
    return None if model is None else str(path)


def _share(value: Any, what: str) -> float:
    """A number from 0 to 1 (mix, walk)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise HootError(f"{what} goes from 0 to 1, not {value!r}")
    return float(value)


def _latent(value: Any, what: str) -> float | list[float] | None:
    """A bias or scale: one number for every latent dimension, a list of one per
    dimension (the dimensions left out keep neutral), or None (neutral)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value):
            return float(value)
    elif isinstance(value, list | tuple) and 0 < len(value) <= LATENT_DIMS and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in value
    ):
        return [float(v) for v in value]
    raise HootError(f"{what} is a number, or a list of numbers, one per latent dimension "
                    f"(like [0.5, -1.0]), not {value!r}")  # fmt: skip


def _noise(value: Any, what: str = "noise") -> float | None:
    """The spread of the noise added to the latent: 0 or more; None: none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10:
        raise HootError(f"{what} is 0 (none) or more, up to 10, not {value!r}")
    return float(value)


def _neutral(controls: dict[str, Any]) -> dict[str, Any]:
    """Latent controls as a voice takes them: None made neutral (bias 0, scale 1, noise 0)."""
    neutral = {"bias": 0.0, "scale": 1.0, "noise": 0.0}
    return {k: neutral[k] if v is None else v for k, v in controls.items()}


def _change(change: Any) -> str | None:
    """When a drone moves somewhere new: "phrase", or None (it only wanders)."""
    if change in (None, False, "none"):
        return None
    if change != "phrase":
        raise HootError(f'change is "phrase" (a new place each phrase) or None, not {change!r}')
    return "phrase"


def _rotated(notes: list, length: float, phase: float) -> list[list[float]]:
    """A loop's notes turned so that its beat `phase` comes first (at 0)."""
    out = [[(float(n[0]) - phase) % length, *n[1:]] for n in notes]
    return sorted(out)


def _did_you_mean(name: object, names) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), list(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _plain(vibe: dict) -> dict:
    """A vibe's values that belong in session.toml (no nested timing)."""
    return {k: v for k, v in vibe.items() if k != "until" and not isinstance(v, dict)}


def _timed_vibe(saved: Any, link: EngineLink) -> tuple[int, dict] | None:
    """A timed vibe saved by an earlier run against this same engine; a timed vibe of an
    engine that has gone ends with it (the engine's clock started again)."""
    if not isinstance(saved, dict) or not isinstance(saved.get("until"), dict):
        return None
    until = saved["until"]
    if until.get("engine") != link.info.pid or not isinstance(until.get("previous"), dict):
        return None
    return int(until.get("sample", 0)), _plain(until["previous"])


def _find_stem_file(path: Path, stems: Path) -> Path:
    """The file a performer means by `path`: in the session's stems/ folder, or from here;
    a name without a suffix finds NAME.wav, NAME.flac, NAME.mid... Raises HootError saying
    where it looked."""
    shipped = Path(__file__).with_name("samples")
    places = [path] if path.is_absolute() else [stems / path, path.resolve(), shipped / path]
    for place in places:
        if place.is_file():
            return place
        if not place.suffix:
            for suffix in (*AUDIO_SUFFIXES, *MIDI_SUFFIXES, ".json"):
                if place.with_suffix(suffix).is_file():
                    return place.with_suffix(suffix)
    where = " or ".join(str(x) for x in places[:2])
    raise HootError(f"no file at {where}: check the path")


def _guess_role(name: str) -> str:
    for role in ROLES:
        if re.search(role, name, re.IGNORECASE):
            return role
    raise HootError(
        f'which track should {name!r} play on? say so: perf.load(..., role="bass"); '
        f"roles are {', '.join(ROLES)}"
    )
