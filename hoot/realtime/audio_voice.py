"""Audio voices: a RAVE model playing audio into one of the engine's return rows.

Three kinds, each built by voice.py from its `start` command (AudioSlot, clock, settings):

- TransferVoice (timbre transfer): reads its source row from the engine's input ring, runs
  each block through the model's Stream and writes the result so that input samples
  [s, s+n) play at [s+D, s+D+n), D (the declared latency, what compensation uses) =
  Stream.latency + one engine block of processing margin (two when blocks are shorter than
  4 ms: a 64-frame block is 1.3 ms at 48 kHz, less than one poll plus one model call).
  Dry and wet are mixed by `mix`, the dry delayed by Stream.latency so they line up.
  A block the ring reader lost, or one whose output would land where the engine has
  already played (s + D < played), is dropped and counted; the stream starts afresh at the
  next block (silence in its caches) and the writer leaves a gap: it catches up without
  ever waiting.
- DroneVoice: no input; a Trajectory's latent frames through LatentPlayer.render, written
  AHEAD (two blocks + 10 ms) of what the engine has played, so a knob is heard within tens
  of ms. Its frames sit on a grid that starts on a phrase boundary, so a new walk target
  taken at a boundary changes the sound there (to the sample when the phrase is a whole
  number of frames: 3000 frames of 128 at 120 bpm, 48 kHz).
- EchoVoice (a generative delay): what its source row plays is kept, transformed through
  the model as it arrives (the Stream's bias walked by `walk`, a new walk each phrase), and
  played back exactly `bars` bars later in engine samples, from the first phrase boundary
  after it starts: input sample u plays at u + bars, so a phrase comes back on the grid.
  It hears from the oldest block the input ring still holds (2.7 s: 512 blocks of 256),
  not from when it started: an echo of up to that long plays its first phrase whole from
  the boundary (it would otherwise begin `bars` after its voice started, mid-phrase).

The engine's position is ReturnWriter.played (the first sample of its next block); the grid
is perf's clock facts (trajectory.Grid). A model that raises ends the voice with a sentence
(ModelFailed); the layer restarts it and its row plays silence meanwhile.
"""

from __future__ import annotations

import json
import math
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from hoot.errors import HootError
from hoot.realtime.trajectory import Grid, Trajectory
from hoot.realtime.voice import Latency

AHEAD_S = 0.010  # drones and echoes write this long (plus two blocks) ahead of the engine
SHORT_BLOCK_S = 0.004  # blocks shorter than this get two blocks of processing margin
BLOCK_GUESS = 256  # frames, when the engine does not say its block (offline, unknown)
WARM_CALLS = 3
"""Model calls made on silence before a voice plays: TorchScript profiles a method's first
calls and optimises it at the next, and those calls took tens of ms (a transfer's first
blocks were dropped, 19 of them at 256 frames); then the caches are reset to silence."""
POLL_S = 0.0005  # a transfer looks for input this often: its answer is due within a block
FLOOR_DB = -120.0  # level_db of silence
SETTINGS = {  # what each kind's start command may set (others are ignored)
    "transfer": ("mix", "bias", "scale", "noise", "latency"),
    "drone": ("walk", "lfo", "change", "energy", "brightness", "key", "level", "seed"),
    "echo": ("bars", "walk", "mix", "seed"),
}


class ModelFailed(HootError):
    """The model raised while playing: the voice exits and the layer restarts it."""


def margin(block: int, samplerate: int) -> int:
    """A transfer's processing margin in samples: one engine block, two when a block is
    shorter than SHORT_BLOCK_S."""
    block = block or BLOCK_GUESS
    return block if block >= SHORT_BLOCK_S * samplerate else 2 * block


def model_dims(path: str | Path | None, entry: str = "dims") -> dict[str, Any]:
    """The latent dims a model documents: "dims" (or `entry`: "roles", what each dim does
    for a drone) of the JSON extra file hoot.json inside its TorchScript archive (a zip:
    <archive>/extra/hoot.json), {} when it has none."""
    if path is None:
        return {}
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/extra/hoot.json")), None)
            if name is None:
                return {}
            dims = json.loads(archive.read(name)).get(entry, {})
    except (OSError, ValueError, zipfile.BadZipFile):
        return {}
    return dims if isinstance(dims, dict) else {}


def call_model(what: str, fn, *args):
    """Run a model call; anything it raises becomes one sentence (ModelFailed)."""
    try:
        return fn(*args)
    except HootError as e:  # the adapter's own sentence
        raise ModelFailed(f"the model failed while {what}: {e}") from e
    except Exception as e:  # noqa: BLE001 - a model may raise anything; the voice says what
        raise ModelFailed(f"the model failed while {what} ({type(e).__name__}: {e})") from e


class Delay:
    """A fixed delay of `samples` for (n, 2) blocks: the dry beside the model's output."""

    def __init__(self, samples: int) -> None:
        self.samples = int(samples)
        self.reset()

    def reset(self) -> None:
        self.held = np.zeros((self.samples, 2), np.float32)

    def push(self, x: np.ndarray) -> np.ndarray:
        joined = np.concatenate([self.held, x])
        self.held = joined[len(x) :]
        return joined[: len(x)]


class Tape:
    """An echo's memory: dry and wet (2, frames, 2) by absolute engine sample; samples never
    put (before the first, in a gap, or older than `frames`) read as silence."""

    def __init__(self, frames: int) -> None:
        self.frames = int(frames)
        self.audio = np.zeros((2, self.frames, 2), np.float32)
        self.begin: int | None = None
        self.end = 0  # put up to here (exclusive)

    def put(self, s: int, dry: np.ndarray, wet: np.ndarray) -> None:
        if self.begin is None:
            self.begin = s
        elif s > self.end:  # a gap: what it held there is a phrase old
            gap = np.arange(self.end, min(s, self.end + self.frames)) % self.frames
            self.audio[:, gap] = 0.0
        where = np.arange(s, s + len(dry)) % self.frames
        self.audio[0, where], self.audio[1, where] = dry, wet
        self.end = max(self.end, s + len(dry))

    def get(self, s0: int, s1: int) -> tuple[np.ndarray, np.ndarray]:
        span = np.arange(s0, s1)
        out = self.audio[:, span % self.frames]
        if self.begin is None:
            out[:] = 0.0
        else:
            held = (span < self.end) & (span >= max(self.begin, self.end - self.frames))
            out[:, ~held] = 0.0
        return out[0], out[1]

    def grown(self, frames: int) -> Tape:
        """A longer tape holding what this one holds (a slower tempo: longer bars)."""
        tape = Tape(frames)
        if self.begin is not None:
            s0 = max(self.begin, self.end - self.frames)
            tape.put(s0, *self.get(s0, self.end))
            tape.begin = self.begin
        return tape


class AudioVoice:
    """What the three kinds share: the return writer, the grid, timings and the meter."""

    poll_s = POLL_S

    def __init__(self, writer, *, samplerate: int, block: int, clock: dict | None) -> None:
        self.writer = writer
        self.samplerate = int(samplerate)
        self.block = int(block) or BLOCK_GUESS
        self.grid = Grid.from_facts(clock, self.samplerate)
        self.ahead = 2 * self.block + round(AHEAD_S * self.samplerate)
        self.timings = Latency()
        self.peak = 0.0
        self.dropped = 0  # blocks this voice dropped as late or lost (the stream restarted)
        self.latency = 0  # declared: what compensation uses

    def write(self, s0: int, audio: np.ndarray) -> None:
        self.peak = max(self.peak, float(np.max(np.abs(audio))) if len(audio) else 0.0)
        self.writer.write(s0, np.ascontiguousarray(audio, np.float32))

    def retime(self, facts: dict[str, Any]) -> None:
        """A tempo or grid change (a `clock` command)."""
        self.grid = Grid.from_facts(facts, self.samplerate)

    def status(self) -> dict[str, Any]:
        peak, self.peak = self.peak, 0.0
        level = FLOOR_DB if peak <= 0.0 else max(FLOOR_DB, 20.0 * math.log10(peak))
        return {
            "latency_samples": self.latency,
            "p50_ms": self.timings.percentile(0.5),
            "p95_ms": self.timings.percentile(0.95),
            "late": int(self.writer.missing),
            "dropped": self.dropped,
            "level_db": round(level, 1),
            "playing": [],
        }

    def release(self) -> None:
        self.writer.close()


class TransferVoice(AudioVoice):
    """A live input through the model, written D samples after it was heard."""

    def __init__(self, stream, reader, writer, *, row: int, samplerate: int, block: int,
                 clock: dict | None = None, mix: float = 1.0, latency: int | None = None,
                 **controls: Any) -> None:  # fmt: skip
        super().__init__(writer, samplerate=samplerate, block=block, clock=clock)
        if not 0 <= row < reader.rows:
            raise HootError(f"the input ring has no row {row} (it has {reader.rows})")
        self.stream, self.reader, self.row = stream, reader, int(row)
        self.dry = Delay(stream.latency)
        self.mix = 1.0
        self.expect: int | None = None  # the next input sample, when the stream is in step
        self.lost = reader.lost
        self.fresh = True  # not yet stepped
        self.set({"mix": mix, "latency": latency, **controls})

    def set(self, params: dict[str, Any]) -> None:
        if "mix" in params:
            self.mix = min(max(float(params["mix"]), 0.0), 1.0)
        if "latency" in params:
            latency = params["latency"]
            auto = self.stream.latency + margin(self.block, self.samplerate)
            # never less than the model's own: its output cannot come before it is made
            declared = auto if latency is None else max(int(latency), self.stream.latency)
            if declared != self.latency:
                self.latency, self.expect = declared, None
        controls = {k: params[k] for k in ("bias", "scale", "noise") if k in params}
        if controls:
            self.stream.set_controls(**controls)

    def _blocks(self):
        """The input blocks to answer: at the first look only the newest (what came while
        the voice warmed up is too old to answer in time: skipped, not counted dropped)."""
        if self.fresh:
            self.fresh, newest = False, None
            while (got := self.reader.read()) is not None:
                newest = got
            self.lost = self.reader.lost
            if newest is not None:
                yield newest
        while (got := self.reader.read()) is not None:
            yield got

    def step(self) -> None:
        for s, rows in self._blocks():
            if self.reader.lost != self.lost:
                self.dropped += self.reader.lost - self.lost
                self.lost, self.expect = self.reader.lost, None
            if s + self.latency < self.writer.played:  # its output's place has been played
                self.dropped += 1
                self.expect = None
                continue
            x = np.ascontiguousarray(rows[self.row], np.float32)
            if s != self.expect:  # a gap: start afresh, as from silence
                self.stream.reset()
                self.dry.reset()
            began = time.perf_counter()
            out = call_model("transforming its input", self.stream.process, x)
            if self.mix < 1.0:
                out = out * self.mix + self.dry.push(x) * (1.0 - self.mix)
            else:
                self.dry.push(x)
            # out is the model's answer to input [s - latency, ...): it plays D later
            self.write(s + self.latency - self.stream.latency, out)
            self.timings.add(time.perf_counter() - began)
            self.expect = s + len(x)

    def release(self) -> None:
        super().release()
        self.reader.close()


class DroneVoice(AudioVoice):
    """Latent frames from a Trajectory, rendered ahead of the engine."""

    def __init__(self, player, writer, trajectory: Trajectory, *, samplerate: int,
                 block: int, clock: dict | None = None, level: float = -12.0) -> None:  # fmt: skip
        super().__init__(writer, samplerate=samplerate, block=block, clock=clock)
        self.player, self.trajectory = player, trajectory
        self.hop = player.frame_s * self.samplerate  # engine samples per latent frame
        self.gain = 1.0
        self.at: int | None = None  # written up to here
        self.poll_s = min(0.005, self.block / self.samplerate / 2)
        self.set({"level": level})

    def set(self, params: dict[str, Any]) -> None:
        if "level" in params:
            self.gain = 10.0 ** (float(params["level"]) / 20.0)
        self.trajectory.set(**{k: v for k, v in params.items() if k != "level"})

    def retime(self, facts: dict[str, Any]) -> None:
        super().retime(facts)
        self.trajectory.retime(self.grid)

    def first_frame(self, s: int) -> int:
        """The first sample at or after `s` on a frame grid through a phrase boundary."""
        hop = round(self.hop)
        if abs(self.hop - hop) > 1e-6:
            return s  # a resampled model: frames fall where they fall
        return s + (self.grid.phrase_sample - s) % hop

    def step(self) -> None:
        played = self.writer.played
        if self.at is None or self.at < played:  # starting, or fell behind: a gap
            self.dropped += self.at is not None
            at = self.first_frame(played + self.ahead // 2)  # then on to the full ahead
            # silence up to the first frame: the engine counts a row's unwritten samples
            # as missing from its first write on, the ones before it too
            self.write(played, np.zeros((at - played, 2), np.float32))
            self.at = at
        end = played + self.ahead
        while self.at < end:
            count = max(1, math.ceil((end - self.at) / self.hop))
            began = time.perf_counter()
            z = self.trajectory.frames(self.at, count, self.hop)
            audio = call_model("rendering the drone", self.player.render, z) * self.gain
            self.timings.add(time.perf_counter() - began)
            self.write(self.at, audio)
            self.at += len(audio)


class EchoVoice(AudioVoice):
    """The source row, transformed, `bars` bars later, from the first phrase boundary whose
    last `bars` bars it heard whole (the next one, when the input ring's 2.7 s of history
    cover them; else a later one), phrase after phrase."""

    def __init__(self, stream, reader, writer, trajectory: Trajectory, *, row: int,
                 samplerate: int, block: int, clock: dict | None = None, bars: float = 4,
                 mix: float = 1.0, walk: float = 0.0) -> None:  # fmt: skip
        super().__init__(writer, samplerate=samplerate, block=block, clock=clock)
        if not 0 <= row < reader.rows:
            raise HootError(f"the input ring has no row {row} (it has {reader.rows})")
        if bars <= 0:
            raise HootError(f"an echo needs at least one bar of delay, not {bars}")
        self.stream, self.reader, self.row = stream, reader, int(row)
        self.trajectory = trajectory
        self.bars, self.mix = float(bars), 1.0
        self.dry = Delay(stream.latency)
        self.tape = Tape(self._tape_frames())
        self.expect: int | None = None
        self.lost = reader.lost
        self.begin: int | None = None  # the boundary it plays from, once it has heard
        self.at: int | None = None  # written up to here
        self.poll_s = min(0.005, self.block / self.samplerate / 2)
        self.set({"mix": mix, "walk": walk})

    def _tape_frames(self) -> int:
        return self.grid.bars(self.bars) + 2 * self.samplerate

    @property
    def delay(self) -> int:
        """`bars` bars in engine samples at the clock's tempo."""
        return self.grid.bars(self.bars)

    def set(self, params: dict[str, Any]) -> None:
        if "mix" in params:
            self.mix = min(max(float(params["mix"]), 0.0), 1.0)
        if "walk" in params:
            self.trajectory.set(walk=params["walk"])
            if not self.trajectory.walk:
                self.stream.set_controls(bias=0.0)

    def retime(self, facts: dict[str, Any]) -> None:
        super().retime(facts)
        self.trajectory.retime(self.grid)
        if self._tape_frames() > self.tape.frames:
            self.tape = self.tape.grown(self._tape_frames())

    def step(self) -> None:
        self.hear()
        played = self.writer.played
        if self.at is None or self.at < played:  # starting, or fell behind: a gap
            self.dropped += self.at is not None
            self.at = played
        end = played + self.ahead
        if self.begin is None and self.tape.begin is not None:
            # the first boundary whose last `bars` it heard whole: a phrase comes back
            # whole, never the tail of one it heard only from the middle
            heard_from = self.tape.begin + self.stream.latency
            self.begin = self.grid.next_phrase(max(end, heard_from + self.delay))
        if end > self.at:
            # silence before the boundary it starts on (the engine counts a row's unwritten
            # samples as missing from its first write on), what it heard `bars` ago after
            dry, wet = self.tape.get(self.at - self.delay, end - self.delay)
            out = wet * self.mix + dry * (1.0 - self.mix)
            begin = end if self.begin is None else self.begin
            out[: max(0, min(end, begin) - self.at)] = 0.0
            self.write(self.at, out)
            self.at = end

    def hear(self) -> None:
        """Put what the source played since, dry and through the model, on the tape."""
        while (got := self.reader.read()) is not None:
            s, rows = got
            if self.reader.lost != self.lost:
                self.dropped += self.reader.lost - self.lost
                self.lost, self.expect = self.reader.lost, None
            x = np.ascontiguousarray(rows[self.row], np.float32)
            if s != self.expect:
                self.stream.reset()
                self.dry.reset()
            began = time.perf_counter()
            if self.trajectory.walk:
                bias = self.trajectory.frames(s, 1, len(x))[:, 0]
                self.stream.set_controls(bias=bias.tolist())
            wet = call_model("transforming its input", self.stream.process, x)
            self.timings.add(time.perf_counter() - began)
            self.tape.put(s - self.stream.latency, self.dry.push(x), wet)
            self.expect = s + len(x)

    def release(self) -> None:
        super().release()
        self.reader.close()


def build(start: dict[str, Any], model) -> AudioVoice:
    """The audio voice a `start` command asks for, on the real return ring, input ring and
    model (voice.py's _build; the model is a rave.RaveModel)."""
    from hoot.engine.rings import ReturnWriter, RingReader
    from hoot.realtime.rave import LatentPlayer, Stream

    kind, slot = start["kind"], start["audio"]
    known = SETTINGS[kind]
    settings = {k: v for k, v in (start.get("settings") or {}).items() if k in known}
    samplerate, block = int(slot["samplerate"]), int(slot.get("block") or 0)
    clock = start.get("clock")
    writer = ReturnWriter(slot["path"])
    grid = Grid.from_facts(clock, samplerate)
    seed = int(settings.pop("seed", 0))
    if kind == "drone":
        player = LatentPlayer(model, samplerate)
        for _ in range(WARM_CALLS):
            call_model("warming up", player.render, np.zeros((model.latent, 2), np.float32))
        model.reset()
        path = getattr(model, "path", None)
        trajectory = Trajectory(model.latent, grid, seed=seed, dims=model_dims(path),
                                roles=model_dims(path, "roles"), **{
            k: settings[k] for k in ("walk", "lfo", "change", "energy", "brightness", "key")
            if k in settings})  # fmt: skip
        return DroneVoice(player, writer, trajectory,
                          samplerate=samplerate, block=block, clock=clock,
                          level=float(settings.get("level", -12.0)))  # fmt: skip
    stream = Stream(model, samplerate)
    for _ in range(WARM_CALLS):
        call_model("warming up", stream.process, np.zeros((block or BLOCK_GUESS, 2), np.float32))
    stream.reset()
    reader = RingReader(slot["ring"], from_oldest=kind == "echo")  # an echo: 2.7 s back
    row = int(start["source_row"])
    if kind == "transfer":
        return TransferVoice(stream, reader, writer, row=row, samplerate=samplerate,
                             block=block, clock=clock, **settings)  # fmt: skip
    trajectory = Trajectory(model.latent, grid, seed=seed, walk=float(settings.get("walk", 0.0)),
                            lfo=None, change="phrase")  # fmt: skip
    return EchoVoice(stream, reader, writer, trajectory, row=row, samplerate=samplerate,
                     block=block, clock=clock, **settings)  # fmt: skip
