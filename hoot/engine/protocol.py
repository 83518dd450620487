"""The wire between the language side and the engine: every command and reply, typed, here.

A command is a small frozen dataclass; `Command.verb` is its name on the wire and
`Command.reply` the type of its answer. The same objects travel in-process (the offline
`LocalEngine` hands them straight to `EngineControl`) and over the engine's Unix socket as
one JSON line each way:

    -> {"id": 7, "cmd": "queue", "args": {"track": "bass", "stem": "b-3", "at": "phrase"}}
    <- {"id": 7, "ok": true, "result": {"sample": 384000, "beat": 16.0}}
    <- {"id": 7, "ok": false, "kind": "StemError", "error": "stem 'b-3' is not loaded..."}

`EngineLink` is what the language side holds: `send(command) -> reply`, the shared-memory
`status()`, and whether time runs by itself (`offline`). Nothing else of the engine's
process is visible to it.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from hoot.errors import EngineError

PROTOCOL = 4  # bumped when a command or reply changes shape


# ---- replies ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """The answer to a command. `from_wire` rebuilds it from its JSON form."""

    def to_wire(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_wire(cls, data: Any) -> Reply:
        if not isinstance(data, dict):
            raise EngineError(f"the engine answered {data!r} where {cls.__name__} was expected")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Done(Reply):
    """A command that has nothing to report."""


@dataclass(frozen=True)
class EngineInfo(Reply):
    """Who the engine is: its process, tracks, rate and audio backend."""

    protocol: int
    pid: int
    session: str
    tracks: tuple[str, ...]
    samplerate: int
    status: str  # path of the shared-memory status file ("" offline)
    backend: str
    device: str
    latency: float  # output latency in seconds, as the backend reports it
    ceiling_db: float = -0.3  # the master limiter's ceiling (dBFS): meters light their lamp there
    inputs: int = 0  # input track rows the engine reserves after `tracks` (see InputList)

    @classmethod
    def from_wire(cls, data: Any) -> EngineInfo:
        info = super().from_wire(data)
        return dataclasses.replace(info, tracks=tuple(info.tracks))


@dataclass(frozen=True)
class Loaded(Reply):
    """A stem in engine memory: its length in frames, or MIDI; its musical length in beats
    where known (0 otherwise)."""

    stem: str
    frames: int
    midi: bool
    beats: float


@dataclass(frozen=True)
class Scheduled(Reply):
    """When something will happen: the absolute sample, and its beat when it falls on one.
    `sounding` says whether anything played or was queued there to be affected (stops)."""

    sample: int
    beat: float | None = None
    sounding: bool = True


@dataclass(frozen=True)
class TrackMix(Reply):
    """A track's fader: gain (dB), pan (-1..1), mute, solo."""

    gain: float = 0.0
    pan: float = 0.0
    mute: bool = False
    solo: bool = False


@dataclass(frozen=True)
class TempoChange(Reply):
    bpm: float
    beat: float
    sample: int


@dataclass(frozen=True)
class GridChange(Reply):
    """A meter or phrase-length change, from `beat` (a phrase boundary) at `sample`."""

    beat: float
    sample: int
    meter: str | None = None
    bars: int | None = None


@dataclass(frozen=True)
class Recording(Reply):
    """The files a recording writes (or wrote, once stopped)."""

    paths: tuple[str, ...]

    @classmethod
    def from_wire(cls, data: Any) -> Recording:
        return cls(tuple(data.get("paths", ())))


@dataclass(frozen=True)
class PlayerState(Reply):
    """A stem playing, or queued, on a track. `stop` is None while it plays on."""

    track: str
    stem: str
    start: int
    stop: int | None
    state: str  # "queued" or "playing"
    path: str | None = None


@dataclass(frozen=True)
class EngineState(Reply):
    """Everything a client needs to draw the set: time, tracks, what plays and is queued."""

    samplerate: int
    position: int
    tempo_map: dict
    tracks: dict[str, TrackMix]
    players: tuple[PlayerState, ...]
    stems: tuple[str, ...]
    recording: tuple[str, ...]
    faults: int
    state_version: int
    inputs: tuple[InputTrack, ...] = ()  # the live inputs; their mixes are in `tracks`
    compensate: int = 0  # frames every track but the models' returns is delayed by

    def to_wire(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_wire(cls, data: Any) -> EngineState:
        base = super().from_wire(data)
        return dataclasses.replace(
            base,
            tracks={k: TrackMix.from_wire(v) for k, v in base.tracks.items()},
            players=tuple(PlayerState.from_wire(p) for p in base.players),
            stems=tuple(base.stems),
            recording=tuple(base.recording),
            inputs=tuple(InputTrack.from_wire(i) for i in base.inputs),
        )

    def playing_on(self, track: str) -> list[PlayerState]:
        return [p for p in self.players if p.track == track]


@dataclass(frozen=True)
class MidiRoute(Reply):
    """Where a track's MIDI comes from (PlayFrom) or goes to (MidiOut): the port's full name
    (None: nowhere), its channel (1-16; None: every channel), the latency compensation."""

    track: str
    port: str | None = None
    channel: int | None = None
    latency_ms: float = 0.0


@dataclass(frozen=True)
class NoteSlot(Reply):
    """A model's live slot (ModelNotes): the live-note table's file `path`, the `slot` a
    hoot.engine.rings.NoteWriter(path, slot) writes (-1: let go), and the track it plays,
    by name and by its index in the engine's tracks (the slots' TRACK register)."""

    path: str
    slot: int
    track: str
    track_index: int


@dataclass(frozen=True)
class AudioSlot(Reply):
    """A model's audio output (ModelAudio): the return ring file `path` its process writes
    with hoot.engine.rings.ReturnWriter(path) ("" once let go), its input `row` (its rows
    in the input ring) and engine `track` index, the input ring `ring` it may read the other
    inputs from (hoot.engine.rings.RingReader), the engine's `samplerate` and its host
    `block` size in frames (0 offline or not known yet)."""

    path: str
    row: int
    track: int
    ring: str
    samplerate: int
    block: int = 0


@dataclass(frozen=True)
class Compensation(Reply):
    """The delay compensation now: frames every track but the models' returns waits."""

    samples: int


@dataclass(frozen=True)
class NoteTableInfo(Reply):
    """Where the live-note table is (`path`, for hoot.engine.rings.NoteReader) and the
    engine's tracks in index order (a slot's TRACK register indexes them)."""

    path: str
    tracks: tuple[str, ...]

    @classmethod
    def from_wire(cls, data: Any) -> NoteTableInfo:
        info = super().from_wire(data)
        return dataclasses.replace(info, tracks=tuple(info.tracks))


@dataclass(frozen=True)
class Position(Reply):
    position: int


@dataclass(frozen=True)
class Timing(Reply):
    """How long the audio thread's last blocks took, as shares of the block period."""

    blocks: int
    p50: float = 0.0
    p99: float = 0.0
    p999: float = 0.0
    max: float = 0.0


@dataclass(frozen=True)
class Messages(Reply):
    """What the engine had to say since it was last asked (device trouble, repairs)."""

    lines: tuple[str, ...]

    @classmethod
    def from_wire(cls, data: Any) -> Messages:
        return cls(tuple(data.get("lines", ())))


@dataclass(frozen=True)
class ClockState(Reply):
    """MIDI clock out: the port it goes to ("" when off), its path ("jack": frame-stamped,
    "rtmidi": sent at wall times), ticks sent and skipped (missed cycles), the last
    transport message sent ("start", "stop", "continue" or ""), faults, and ticks the
    rtmidi path sent more than a millisecond after they were due (`late`). `feeds`: the
    ports (named as asked for) that get ticks only, beside the performer's (a Launchpad's
    animations follow them)."""

    port: str = ""
    path: str = ""
    ticks: int = 0
    skipped: int = 0
    transport: str = ""
    faults: int = 0
    late: int = 0
    feeds: tuple[str, ...] = ()

    @classmethod
    def from_wire(cls, data: Any) -> ClockState:
        state = super().from_wire(data)
        return dataclasses.replace(state, feeds=tuple(state.feeds))


@dataclass(frozen=True)
class InputTrack(Reply):
    """A live input: a track named `name` in engine row `track` (Mix, meters and recording
    address it by name like any track), fed by device input `channels` (numbered from 1 as
    InputList.ports lists them; two for a stereo pair) or by a stand-in `source` ("device",
    "file PATH" or "signal SPEC"). `row`: its row in the input ring (InputList.ring), whose
    blocks carry the input before gain and monitoring. `monitor`: mixed into the master
    (False: recorded, metered and ringed only). `clip`: its lamp, lit while a sample reached
    0.999 in the last 2 s."""

    name: str
    track: int
    channels: tuple[int, ...] = ()
    source: str = "device"
    monitor: bool = True
    row: int = 0
    clip: bool = False

    @classmethod
    def from_wire(cls, data: Any) -> InputTrack:
        track = super().from_wire(data)
        return dataclasses.replace(track, channels=tuple(track.channels))


@dataclass(frozen=True)
class InputList(Reply):
    """The device's input channels, numbered from 1 in the order of `ports` (JACK: the
    physical capture ports' names; else "in 1".."in N"). `duplex` False, with `reason` (one
    sentence), when the device has none or would not open them: outputs play on, and only
    file and signal inputs can be made. `tracks`: the inputs made; `rows`: how many the
    engine can hold; `ring`: the shared-memory ring every input block goes to
    (hoot.engine.rings.RingReader opens it by this name)."""

    ports: tuple[str, ...] = ()
    duplex: bool = False
    reason: str = ""
    tracks: tuple[InputTrack, ...] = ()
    rows: int = 0
    ring: str = ""

    @classmethod
    def from_wire(cls, data: Any) -> InputList:
        base = super().from_wire(data)
        return dataclasses.replace(
            base,
            ports=tuple(base.ports),
            tracks=tuple(InputTrack.from_wire(t) for t in base.tracks),
        )


@dataclass(frozen=True)
class Latency(Reply):
    """The round trip from an input to the monitored output: `frames` at the engine's rate
    and `ms`. `measured`: found by playing a noise marker out of hoot's output into its own
    input (a JACK loopback); else the device's reported input plus output latency. `how`
    says which, in a sentence."""

    frames: int
    ms: float
    measured: bool
    how: str


# ---- commands ---------------------------------------------------------------------------


COMMANDS: dict[str, type[Command]] = {}


@dataclass(frozen=True)
class Command:
    """A request to the engine. Subclasses set `verb` (its name on the wire) and `reply`."""

    verb: ClassVar[str] = ""
    reply: ClassVar[type[Reply]] = Done

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if cls.verb:
            COMMANDS[cls.verb] = cls

    def to_wire(self) -> dict[str, Any]:
        return {"cmd": self.verb, "args": dataclasses.asdict(self)}


At = str | int  # "phrase", "bar", "beat", "now", or an absolute sample


@dataclass(frozen=True)
class Hello(Command):
    verb = "hello"
    reply = EngineInfo


@dataclass(frozen=True)
class Load(Command):
    """Read a stem file into engine memory; answers once it may be queued."""

    verb = "load"
    reply = Loaded
    stem_id: str
    path: str
    role: str | None = None


@dataclass(frozen=True)
class Unload(Command):
    verb = "unload"
    stem_id: str


@dataclass(frozen=True)
class Queue(Command):
    """Start a loaded stem on a track at `at`, replacing what plays there then."""

    verb = "queue"
    reply = Scheduled
    track: str
    stem: str
    at: At = "phrase"


@dataclass(frozen=True)
class Swap(Command):
    """Play `stem` in place of `replaces` on `track` from the next turn of its loop, keeping
    its place on the grid (a re-rendered take of the same loop). Nothing happens if
    `replaces` no longer plays or is queued there."""

    verb = "swap"
    reply = Scheduled
    track: str
    stem: str
    replaces: str


@dataclass(frozen=True)
class Unqueue(Command):
    """Take `stem` back out of `track`'s queue before it starts; what it would have replaced
    plays on. `sounding` in the reply says whether it was still waiting."""

    verb = "unqueue"
    reply = Scheduled
    track: str
    stem: str


@dataclass(frozen=True)
class Stop(Command):
    verb = "stop"
    reply = Scheduled
    track: str
    at: At = "phrase"


@dataclass(frozen=True)
class Mix(Command):
    """Set any of a track's gain (dB), pan, mute and solo; the rest stay."""

    verb = "mix"
    reply = TrackMix
    track: str
    gain: float | None = None
    pan: float | None = None
    mute: bool | None = None
    solo: bool | None = None


@dataclass(frozen=True)
class Tempo(Command):
    verb = "tempo"
    reply = TempoChange
    bpm: float
    at: str = "beat"


@dataclass(frozen=True)
class SetMeter(Command):
    verb = "meter"
    reply = GridChange
    meter: str
    at: str = "phrase"


@dataclass(frozen=True)
class SetPhrase(Command):
    verb = "phrase"
    reply = GridChange
    bars: int
    at: str = "phrase"


@dataclass(frozen=True)
class Panic(Command):
    verb = "panic"
    reply = Scheduled


@dataclass(frozen=True)
class PlayFrom(Command):
    """Play `track` from a MIDI input (`port`: any unique part of its name; None stops it):
    notes on `channel` (1-16; None: every channel) play the track's synth voices with `sound`
    (a hoot.music.sounds name; None: the track's role's), or its MIDI output if it has one."""

    verb = "play_from"
    reply = MidiRoute
    track: str
    port: str | None = None
    channel: int | None = None
    sound: str | None = None


@dataclass(frozen=True)
class ModelNotes(Command):
    """Give a real-time model (named `name`) a live slot that plays `track` as a keyboard
    would: the track's live patch (`sound`, a hoot.music.sounds name; None: the sound a
    keyboard on the track was given, else the track's role's), following a keyboard's new
    sound; its process writes the slot with hoot.engine.rings.NoteWriter. `on` False lets
    it go: its notes end at the next block. The same track and name again keep the slot."""

    verb = "model_notes"
    reply = NoteSlot
    track: str
    on: bool = True
    name: str = ""
    sound: str | None = None


@dataclass(frozen=True)
class ModelAudio(Command):
    """Give a real-time model's audio output a track named `name` (e.g. "trombone~"): an
    input row of its own, fed from a return ring the model's process writes (AudioSlot),
    mixed, metered, recorded and ringed like any input (source "model"). The same name
    again keeps the row and file and forgets what was written. `on` False lets it go: the
    row is free and silent from the next block, and its file goes."""

    verb = "model_audio"
    reply = AudioSlot
    name: str
    on: bool = True


MAX_COMPENSATE = 16384
"""Frames the mix may wait for a model's output (Compensate): 0.34 s at 48 kHz."""


@dataclass(frozen=True)
class Compensate(Command):
    """Delay every track but the models' return rows by `samples` on its way to the master
    (0: off; at most MAX_COMPENSATE), so a model's output that many samples late lines up
    with the music it was played against. The delayed tracks start from silence when it goes on."""

    verb = "compensate"
    reply = Compensation
    samples: int


@dataclass(frozen=True)
class NoteTable(Command):
    """Where the live-note table is (NoteTableInfo)."""

    verb = "note_table"
    reply = NoteTableInfo


@dataclass(frozen=True)
class MidiOut(Command):
    """Send `track`'s notes to a MIDI output (`port`: any unique part of its name; None: back
    to hoot's synth) on `channel` (1-16), `latency_ms` early to make up for the device."""

    verb = "midi_out"
    reply = MidiRoute
    track: str
    port: str | None = None
    channel: int = 1
    latency_ms: float = 0.0


@dataclass(frozen=True)
class Record(Command):
    verb = "record"
    reply = Recording
    tracks: bool = False
    name: str | None = None


@dataclass(frozen=True)
class StopRecording(Command):
    verb = "stop_recording"
    reply = Recording


@dataclass(frozen=True)
class State(Command):
    verb = "state"
    reply = EngineState


@dataclass(frozen=True)
class Ping(Command):
    verb = "ping"
    reply = Position


@dataclass(frozen=True)
class GetTiming(Command):
    verb = "timing"
    reply = Timing


@dataclass(frozen=True)
class GetMessages(Command):
    verb = "messages"
    reply = Messages


@dataclass(frozen=True)
class Downbeat(Command):
    """A new phrase starts on whole beat `beat` (a sync source saw the master's downbeat
    there; it may lie up to a bar in the past, which only renumbers bars already played)."""

    verb = "downbeat"
    reply = GridChange
    beat: float


@dataclass(frozen=True)
class ClockOut(Command):
    """Send MIDI clock to the MIDI input named by `port` (any unique part of its name), or
    stop sending it (None: a Stop goes out first if the clock was started). `start`
    ("phrase", "bar", "beat" or None) is where a Start (with a Song Position Pointer of 0)
    goes out; ticks run from now on either way."""

    verb = "clock_out"
    reply = ClockState
    port: str | None = None
    start: str | None = "phrase"


@dataclass(frozen=True)
class ClockTransport(Command):
    """Send a clock "start", "stop" or "continue" (with its Song Position Pointer) on the
    tick of the next `at` boundary."""

    verb = "clock_transport"
    reply = Scheduled
    action: str
    at: str = "bar"


@dataclass(frozen=True)
class ClockFeed(Command):
    """Send MIDI clock ticks, and nothing else, to the MIDI input named by `port` (`on`), or
    stop (not `on`), beside the performer's clock port: for a controller whose lights keep
    time by the clock it receives."""

    verb = "clock_feed"
    reply = ClockState
    port: str
    on: bool = True


@dataclass(frozen=True)
class GetClock(Command):
    verb = "clock"
    reply = ClockState


@dataclass(frozen=True)
class Inputs(Command):
    """The device's input channels and the live inputs made from them."""

    verb = "inputs"
    reply = InputList


@dataclass(frozen=True)
class AddInput(Command):
    """Make live input track `name` from device input `channels` (one, or a stereo pair,
    numbered from 1 as Inputs lists them), or from a stand-in: `file` (WAV/FLAC at any rate,
    resampled and looped, playing from the next block) or `signal` ("sine 220", "noise",
    "clicks 120": a click per beat at that tempo), through the same path. `monitor`: heard
    through the mixer (False: a player who hears themselves acoustically). An input of the
    same name is replaced."""

    verb = "add_input"
    reply = InputTrack
    name: str
    channels: tuple[int, ...] = ()
    file: str = ""
    signal: str = ""
    monitor: bool = True


@dataclass(frozen=True)
class RemoveInput(Command):
    """Silence and forget live input `name`; its row is free again."""

    verb = "remove_input"
    name: str


@dataclass(frozen=True)
class Monitor(Command):
    """Hear live input `name` through the mixer (`on`) or not (recorded, metered, ringed)."""

    verb = "monitor"
    reply = InputTrack
    name: str
    on: bool = True


@dataclass(frozen=True)
class MeasureLatency(Command):
    """Find the round trip from input to monitored output (see Latency)."""

    verb = "measure_latency"
    reply = Latency


@dataclass(frozen=True)
class Shutdown(Command):
    """Stop the engine, finishing any recording."""

    verb = "shutdown"


def decode_command(name: Any, args: Any) -> Command:
    """The command a request line names, or EngineError saying what was wrong with it."""
    cls = COMMANDS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise EngineError(f"the engine has no command {name!r}")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise EngineError(f"bad arguments for {name}: expected an object, got {args!r}")
    try:
        return cls(**args)
    except TypeError as e:
        raise EngineError(f"bad arguments for {name}: {e}") from None


def finite_or_none(beat: float) -> float | None:
    """A beat for a reply: None for "not on a beat" (NaN inside the engine)."""
    return None if beat is None or math.isnan(beat) else float(beat)


# ---- the link -----------------------------------------------------------------------------


class EngineLink(abc.ABC):
    """The language side's handle on an engine, live (EngineClient) or offline (LocalEngine)."""

    info: EngineInfo
    offline: bool = False

    @abc.abstractmethod
    def send(self, command: Command) -> Any:
        """Do `command`; return its reply (of type `command.reply`) or raise its HootError."""

    def peek(self, command: Command) -> Any:
        """`send`, for observers: a link that can start a new engine never does it for this."""
        return self.send(command)

    @abc.abstractmethod
    def status(self):
        """The engine's status now (hoot.engine.status.EngineStatus), read without asking it."""

    def messages(self) -> tuple[str, ...]:
        """What the engine had to say since it was last asked."""
        return self.send(GetMessages()).lines

    @property
    def tracks(self) -> tuple[str, ...]:
        return self.info.tracks

    @property
    def samplerate(self) -> int:
        return self.info.samplerate

    def close(self) -> None:  # noqa: B027 - most links have nothing to let go of
        """Let go of the engine (a live one plays on)."""
