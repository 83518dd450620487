"""The sound server's control side: validates commands and turns them into timestamped ones.

Runs on the server's connection threads (or, for offline renders, on the
caller's thread), never on the audio thread. It owns the authoritative tempo
map and the stem table, resolves "the next phrase" to an absolute sample, and
hands the audio thread small immutable commands through `Engine.inbox`.

Every command of `hoot.engine.protocol` reaches its handler through `handle`, so the
socket server and the in-process offline engine share one code path. Errors a
performer can cause raise EngineError (or StemError) with a sentence that says
what to do next; the engine plays on.
"""

from __future__ import annotations

import difflib
import itertools
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hoot.engine import core, rings
from hoot.engine import protocol as p
from hoot.engine.clock_out import ClockOut
from hoot.engine.core import FADE, Engine, LoadedStem, NewMap, Start
from hoot.engine.fluid import SoundFontVoice
from hoot.engine.inputs import DEVICE, LOOP, OFF, RETURN, InputDeck, file_loop, signal_loop
from hoot.engine.midi_routes import MidiRoutes
from hoot.engine.stems import load_stem
from hoot.errors import EngineError, HootError, StemError
from hoot.music.roles import default_level
from hoot.music.sounds import SoundError, is_soundfont, live_patch
from hoot.music.time import QUANTA, TimeError, check_bpm

FOLD_AT = 64
"""Tempo or grid segments a map holds before the control side folds its past away: a
performed set rarely reaches it, a sync source (up to 4 changes a second) in 16 s."""

KEEP_SECONDS = 10.0
"""How far back a folded map still answers exactly: what the performer hears lags the
engine by its output latency (tens of ms), a band's downbeat is read up to half a bar
back; 10 s is far beyond both (a bar back, and the turn of every loop that plays, are
kept too: `EngineControl._folded`)."""


def db_to_gain(db: float) -> float:
    return 0.0 if db <= -120 else 10 ** (db / 20)


def pan_gains(pan: float) -> tuple[float, float]:
    """Balance law: centre is unity on both sides; turning one way lowers the other side."""
    left = math.cos(max(pan, 0.0) * math.pi / 2)
    right = math.cos(max(-pan, 0.0) * math.pi / 2)
    return left, right


class TrackSettings:
    __slots__ = ("gain", "pan", "mute", "solo")

    def __init__(self, gain: float = 0.0) -> None:
        self.gain = gain
        self.pan = 0.0
        self.mute = False
        self.solo = False

    def reply(self) -> p.TrackMix:
        return p.TrackMix(self.gain, self.pan, self.mute, self.solo)


class EngineControl:
    """Commands for one Engine. `margin` is how far ahead (in frames) a boundary must lie."""

    def __init__(
        self,
        engine: Engine,
        recorder=None,
        recordings: Path | None = None,
        margin: int | None = None,
        routes: MidiRoutes | None = None,
    ) -> None:
        self.engine = engine
        self._routes = routes
        self.recorder = recorder
        self.recordings = recordings
        sr = engine.samplerate
        self.margin = int(0.05 * sr) + 2 * 1024 if margin is None else int(margin)
        self.tempo_map = engine.tempo_map
        self.stems: dict[str, LoadedStem] = {}
        self.stem_paths: dict[str, str] = {}
        self.settings = {name: TrackSettings(default_level(name)) for name in engine.tracks}
        for t, name in enumerate(engine.tracks):  # at their role's level, before any sound
            engine.set_gains_at_rest(t, *self._gains(name))
        self.clock = ClockOut(engine)  # told the backend by the server (use_backend)
        self.deck = InputDeck(engine.generated, len(engine.tracks) - engine.generated,
                              engine.samplerate)  # fmt: skip
        # the round trip input -> output, found by the server (it owns the device)
        self.latency_probe = lambda: p.Latency(
            0, 0.0, False, "an offline engine has no device, so no round trip"
        )
        self.host_block = lambda: 0  # the device's block size, told by the server
        self.compensation = 0  # frames the tracks but the models' returns are delayed by
        self._returns = itertools.count()  # names the return rings' files
        self._live_sounds: dict[int, str | None] = {}  # track -> the sound PlayFrom named
        self._lock = threading.RLock()
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hoot-loader")
        self._handlers = {
            p.Load: self.load,
            p.Unload: self.unload,
            p.Queue: self.queue,
            p.Swap: self.swap,
            p.Unqueue: self.unqueue,
            p.Stop: self.stop,
            p.Mix: self.mix,
            p.Tempo: self.tempo,
            p.SetMeter: self.meter,
            p.SetPhrase: self.phrase,
            p.Panic: self.panic,
            p.PlayFrom: self.play_from,
            p.MidiOut: self.midi_out,
            p.ModelNotes: self.model_notes,
            p.NoteTable: lambda c: p.NoteTableInfo(self.engine.notes_path, self.engine.tracks),
            p.Record: self.record,
            p.StopRecording: self.stop_recording,
            p.State: self.state,
            p.Ping: self.ping,
            p.Downbeat: self.downbeat,
            p.ClockOut: self.clock_out,
            p.ClockTransport: self.clock_transport,
            p.ClockFeed: self.clock_feed,
            p.GetClock: lambda c: self.clock.state(),
            p.Inputs: self.inputs,
            p.AddInput: self.add_input,
            p.RemoveInput: self.remove_input,
            p.Monitor: self.monitor,
            p.ModelAudio: self.model_audio,
            p.Compensate: self.compensate,
            p.MeasureLatency: lambda c: self.latency_probe(),
        }

    # ---- entry ---------------------------------------------------------------------

    def handle(self, command: p.Command) -> p.Reply:
        """Do one command; raises a HootError with a sentence for the performer."""
        handler = self._handlers.get(type(command))
        if handler is None:
            raise EngineError(f"the engine has no command {command.verb!r}")
        self.engine.graveyard.clear()
        with self._lock:
            try:
                return handler(command)
            except TimeError as e:
                raise EngineError(str(e)) from None

    @property
    def now(self) -> int:
        return self.engine.position

    def track_index(self, track: str) -> int:
        names = self.track_names()
        if track in names:
            return self.engine.tracks.index(track)
        close = difflib.get_close_matches(str(track), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise EngineError(f"no track {track!r}{hint}; tracks are {', '.join(names)}")

    def track_names(self) -> tuple[str, ...]:
        """The generated tracks, then the live inputs made (free input rows have no name)."""
        e = self.engine
        return e.tracks[: e.generated] + tuple(row.name for row in self.deck.rows if row.name)

    def when(self, at: str | int | float) -> tuple[int, float, str]:
        """(sample, beat, quantum) for `at`: a boundary name, "now", or an absolute sample."""
        if at == "now":
            return self.now, math.nan, ""
        if isinstance(at, str):
            if at not in QUANTA:
                raise EngineError(
                    f"unknown moment {at!r}; use 'phrase', 'bar', 'beat', 'now' or a sample number"
                )
            beat = self.tempo_map.next_boundary_beat(self.now + self.margin, at)
            return self.tempo_map.sample_at(beat), beat, at
        if isinstance(at, bool) or not isinstance(at, (int, float)) or at < 0:
            raise EngineError(f"moment {at!r} must be a boundary name or a sample number >= 0")
        return int(at), math.nan, ""

    # ---- stems -----------------------------------------------------------------------

    def load(self, c: p.Load) -> p.Loaded:
        """Read a stem on the loader thread; return when it is in memory and may be queued."""
        grid = self.tempo_map.grid_at_beat(self.tempo_map.beat_at(self.now))
        future = self._loader.submit(
            load_stem, c.path, self.engine.samplerate, c.stem_id, grid.beats_per_bar, c.role
        )
        stem = future.result()
        self.stems[c.stem_id] = stem
        self.stem_paths[c.stem_id] = str(c.path)
        return p.Loaded(c.stem_id, stem.frames, stem.is_midi, stem.length_beats)

    def unload(self, c: p.Unload) -> p.Done:
        self.stems.pop(c.stem_id, None)
        self.stem_paths.pop(c.stem_id, None)
        return p.Done()

    def _loaded(self, stem_id: str) -> LoadedStem:
        loaded = self.stems.get(stem_id)
        if loaded is None:
            raise StemError(f"stem {stem_id!r} is not loaded in the engine; load it first")
        return loaded

    def queue(self, c: p.Queue) -> p.Scheduled:
        t = self.track_index(c.track)
        loaded = self._loaded(c.stem)
        sample, beat, quantum = self._on_time(t, *self.when(c.at))
        self.engine.inbox.append(Start(t, loaded, sample, beat, quantum))
        return p.Scheduled(sample, p.finite_or_none(beat))

    def swap(self, c: p.Swap) -> p.Scheduled:
        t = self.track_index(c.track)
        loaded = self._loaded(c.stem)
        self.engine.inbox.append(core.Swap(t, loaded, c.replaces))
        turn = self.engine.next_turn(t, c.replaces, self.now + self.margin)
        return p.Scheduled(turn if turn is not None else self.now, None, turn is not None)

    def unqueue(self, c: p.Unqueue) -> p.Scheduled:
        t = self.track_index(c.track)
        waiting = self.engine.queued_start(t, c.stem, self.now + FADE)
        if waiting is not None:
            self.engine.inbox.append(core.Unqueue(t, c.stem))
        return p.Scheduled(waiting if waiting is not None else self.now, None, waiting is not None)

    def _on_time(self, track: int, sample: int, beat: float, quantum: str):
        """Apply the audio thread's lateness rule now, so the reply names the real moment.

        The audio thread checks again when the command arrives (it may be later still)."""
        s, b = self.engine._on_time(track, sample, beat, quantum, self.now)
        return s, b, quantum

    def stop(self, c: p.Stop) -> p.Scheduled:
        t = self.track_index(c.track)
        sounding = self.engine.track_busy(t)
        sample, beat, quantum = self._on_time(t, *self.when(c.at))
        self.engine.inbox.append(core.Stop(t, sample, beat, quantum))
        return p.Scheduled(sample, p.finite_or_none(beat), sounding)

    def panic(self, c: p.Panic) -> p.Scheduled:
        self.engine.inbox.append(core.Panic())
        return p.Scheduled(self.now + FADE)

    # ---- live inputs -------------------------------------------------------------------

    def inputs(self, c: p.Inputs | None = None) -> p.InputList:
        d = self.deck
        return p.InputList(
            ports=d.ports,
            duplex=bool(d.ports),
            reason=d.reason,
            tracks=d.listing(self.engine.clips()),
            rows=len(d.rows),
            ring=d.ring,
        )

    def add_input(self, c: p.AddInput) -> p.InputTrack:
        d, e = self.deck, self.engine
        name = c.name
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise EngineError(f"an input needs a name without outer spaces, not {name!r}")
        if name in e.tracks[: e.generated]:
            raise EngineError(f"{name!r} is a generated track; give the input another name")
        r = d.find(name)
        if r is not None and d.rows[r].ret is not None:
            raise EngineError(f"{name!r} is a model's output; give the input another name")
        channels = tuple(c.channels or ())
        given = [x for x in (channels, c.file, c.signal) if x]
        if len(given) != 1:
            raise EngineError(
                "an input comes from one of: channels (e.g. channels=(1,)), a file, or a "
                "signal (e.g. 'sine 220')"
            )
        r = d.find(name)
        if r is None:
            r = next((k for k, row in enumerate(d.rows) if not row.name), None)
            if r is None:
                taken = ", ".join(row.name for row in d.rows)
                raise EngineError(
                    f"all {len(d.rows)} input rows are taken ({taken}); remove one first"
                )
        left = right = 0
        loop = None
        if channels:
            left, right = d.check_channels(channels)
            kind, source = DEVICE, "device"
        elif c.file:
            loop = file_loop(str(c.file), e.samplerate)
            kind, source = LOOP, f"file {c.file}"
        else:
            loop, spec = signal_loop(c.signal, e.samplerate)
            kind, source = LOOP, f"signal {spec}"
        row = d.rows[r]
        fresh = row.name != name
        row.name, row.channels, row.source = name, channels, source
        row.monitor, row.loop = bool(c.monitor), loop
        e.inbox.append(core.SetInput(r, kind, left, right, loop, row.monitor))
        if fresh:
            self._name_row(r, name)
        return d.reply(r, e.clips())

    def remove_input(self, c: p.RemoveInput) -> p.Done:
        d = self.deck
        r = d.named(c.name)
        self.engine.inbox.append(core.SetInput(r, OFF))
        d.rows[r].__init__()
        self._name_row(r, f"input {r + 1}")
        return p.Done()

    def monitor(self, c: p.Monitor) -> p.InputTrack:
        d = self.deck
        r = d.named(c.name)
        row = d.rows[r]
        row.monitor = bool(c.on)
        kind = RETURN if row.ret is not None else LOOP if row.loop is not None else DEVICE
        left, right = (row.channels[0] - 1, row.channels[-1] - 1) if row.channels else (0, 0)
        self.engine.inbox.append(
            core.SetInput(r, kind, left, right, row.loop, row.monitor, row.ret)
        )
        return d.reply(r, self.engine.clips())

    def model_audio(self, c: p.ModelAudio) -> p.AudioSlot:
        """A track for a model's audio output: an input row fed from a return ring its
        process writes (hoot.engine.rings.ReturnWriter), or let go (`on` False)."""
        d, e = self.deck, self.engine
        name = c.name
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise EngineError(f"a model's output needs a name without outer spaces, not {name!r}")
        if name in e.tracks[: e.generated]:
            raise EngineError(
                f"{name!r} is a generated track; give the model's output another name"
            )
        r = d.find(name)
        if r is not None and d.rows[r].ret is None:
            raise EngineError(
                f"{name!r} is a live input already; give the model's output another name"
            )
        if not c.on:
            if r is not None:
                e.inbox.append(core.SetInput(r, OFF))  # the core lets go; then the file goes
                d.rows[r].__init__()
                self._name_row(r, f"input {r + 1}")
            return self._slot(None, -1 if r is None else r)
        if r is not None:
            rings.reset_return(d.rows[r].ret)
            return self._slot(d.rows[r].ret, r)
        r = next((k for k, row in enumerate(d.rows) if not row.name), None)
        if r is None:
            taken = ", ".join(row.name for row in d.rows)
            raise EngineError(
                f"all {len(d.rows)} input rows are taken ({taken}); let one go first"
            )
        notes = Path(e.notes_path)
        ring = rings.create_return(
            str(notes.with_name(f"{notes.stem}-{next(self._returns)}.return")), e.samplerate
        )
        ring.head[rings.R_PLAYED] = e.position
        row = d.rows[r]
        row.name, row.channels, row.source, row.monitor, row.ret = name, (), "model", True, ring
        e.inbox.append(core.SetInput(r, RETURN, monitor=True, ret=ring))
        self._name_row(r, name)
        return self._slot(ring, r)

    def _slot(self, ring: rings.ReturnRing | None, r: int) -> p.AudioSlot:
        e = self.engine
        return p.AudioSlot(
            path=ring.path if ring is not None else "",
            row=r,
            track=e.generated + r if r >= 0 else -1,
            ring=self.deck.ring,
            samplerate=e.samplerate,
            block=int(self.host_block()),
        )

    def compensate(self, c: p.Compensate) -> p.Compensation:
        """Delay every track but the models' returns by `c.samples` on its way out."""
        samples = c.samples
        if isinstance(samples, bool) or not isinstance(samples, int) or not (
            0 <= samples <= p.MAX_COMPENSATE
        ):
            raise EngineError(
                f"compensation is a whole number of samples from 0 to {p.MAX_COMPENSATE} "
                f"({p.MAX_COMPENSATE / self.engine.samplerate:.2f} s), not {samples!r}"
            )
        if samples != self.compensation:
            self.engine.inbox.append(core.Compensate(samples))
            self.compensation = samples
        return p.Compensation(samples)

    def _name_row(self, r: int, name: str) -> None:
        """Give input row `r` its name, at 0 dB, centred, neither muted nor soloed."""
        e = self.engine
        t = e.generated + r
        old = e.tracks[t]
        e.tracks = e.tracks[:t] + (name,) + e.tracks[t + 1 :]
        self.settings = {(name if k == old else k): v for k, v in self.settings.items()}
        self.settings[name] = TrackSettings(0.0)
        self.engine.inbox.append(core.Mix(t, 1.0, 1.0, at_once=True))  # the row is silent now

    # ---- MIDI ------------------------------------------------------------------------

    @property
    def routes(self) -> MidiRoutes:
        """The engine's MIDI connections (opened on first use)."""
        if self._routes is None:
            self._routes = MidiRoutes(self.engine)
        return self._routes

    def play_from(self, c: p.PlayFrom) -> p.MidiRoute:
        t = self.track_index(c.track)
        patch, synth = self._live_sound(t, c.track, c.sound, c.port is not None)
        port, channel = self.routes.play_from(t, c.port, c.channel, patch, synth)
        if c.port is not None:
            self._live_sounds[t] = c.sound
        return p.MidiRoute(c.track, port, channel)

    def model_notes(self, c: p.ModelNotes) -> p.NoteSlot:
        """A live slot for a model's process to write (hoot.engine.rings.NoteWriter)."""
        t = self.track_index(c.track)
        sound = c.sound if c.sound is not None else self._live_sounds.get(t)
        patch, synth = self._live_sound(t, c.track, sound, bool(c.on))
        slot = self.routes.model_notes(t, c.name, bool(c.on), patch, synth)
        return p.NoteSlot(self.engine.notes_path, slot, c.track, t)

    def _live_sound(
        self, t: int, track: str, sound: str | None, playing: bool
    ) -> tuple[int, SoundFontVoice | None]:
        """The synth patch live notes on `track` play for `sound`, and its SoundFont voice
        when it is one (and they are to play)."""
        try:
            patch = live_patch(sound, track)
        except SoundError as e:
            raise EngineError(str(e)) from None
        synth = None
        if playing and is_soundfont(sound):
            try:  # read off the audio thread: the font's file, the program's samples
                engine = self.engine
                synth = SoundFontVoice(t, sound, track, engine.samplerate, engine.max_block)
            except HootError as e:
                self.routes.say(f"{track} plays its built-in sound live: {e}")
        return patch, synth

    def midi_out(self, c: p.MidiOut) -> p.MidiRoute:
        t = self.track_index(c.track)
        latency_ms = _number(c.latency_ms, "MIDI latency")
        port = self.routes.midi_out(t, c.port, c.channel, latency_ms)
        return p.MidiRoute(c.track, port, c.channel if port else None, latency_ms)

    # ---- mixer ---------------------------------------------------------------------

    def _gains(self, track: str) -> tuple[float, float]:
        any_solo = any(x.solo for x in self.settings.values())
        x = self.settings[track]
        audible = not x.mute and (x.solo or not any_solo)
        g = db_to_gain(x.gain) if audible else 0.0
        left, right = pan_gains(x.pan)
        return g * left, g * right

    def mix(self, c: p.Mix) -> p.TrackMix:
        self.track_index(c.track)  # an unknown name raises the helpful error
        s = self.settings[c.track]
        if c.gain is not None:
            g = _number(c.gain, "gain")
            if g > 24:
                raise EngineError(f"gain {g:g} dB is too loud; the most a track takes is +24 dB")
            s.gain = max(g, -120.0)
        if c.pan is not None:
            pan = _number(c.pan, "pan")
            if not -1.0 <= pan <= 1.0:
                raise EngineError(f"pan {pan:g} is out of range; use -1 (left) to 1 (right)")
            s.pan = pan
        if c.mute is not None:
            s.mute = bool(c.mute)
        if c.solo is not None:
            s.solo = bool(c.solo)
        at_once = self._before_the_music()  # nothing sounds yet: no glide to de-click
        for t, name in enumerate(self.engine.tracks):  # solo changes every track's audibility
            self.engine.inbox.append(core.Mix(t, *self._gains(name), at_once=at_once))
        return s.reply()

    # ---- time --------------------------------------------------------------------------

    def _adopt(self, new_map) -> None:
        new_map = self._folded(new_map)
        self.engine.inbox.append(NewMap(new_map))
        self.tempo_map = new_map  # only once the engine has it: a refused map changes nothing

    def _folded(self, tm):
        """`tm` without the segments nothing reads any more (TempoMap.since), once it holds
        more than FOLD_AT. Kept: KEEP_SECONDS before now, two bars (a downbeat renumbers
        up to a bar ago), and the turn of every beat-locked loop that plays (the core finds
        a turn's first sample from the map, and it may have started minutes ago); queued
        stems start later. So every sample the engine plays is the same to the bit as with
        the whole map (tests/engine/test_tempo_fold.py), and bar and phrase numbers go on
        from where they were: the first grid segment keeps its bar and phrase numbers."""
        if max(len(tm.tempi), len(tm.grids)) <= FOLD_AT:
            return tm
        now = self.now
        beat = tm.beat_at(now)
        bars_back = tm.sample_at(beat - 2 * tm.grid_at_beat(beat).beats_per_bar)
        keep = now - round(KEEP_SECONDS * self.engine.samplerate)
        return tm.since(min(keep, bars_back, self.engine.oldest_turn(now)))

    def tempo(self, c: p.Tempo) -> p.TempoChange:
        bpm = check_bpm(c.bpm)
        at = "beat" if c.at == "now" else c.at
        if self._before_the_music() and at == "beat":
            sample, beat = 0, 0.0  # before anything plays, a new tempo holds from the start
        else:
            sample, beat, _ = self.when(at)
            if math.isnan(beat):
                raise EngineError("a tempo change happens on a beat, bar or phrase boundary")
        self._adopt(self.tempo_map.with_tempo(bpm, beat))
        return p.TempoChange(bpm, beat, sample)

    def meter(self, c: p.SetMeter) -> p.GridChange:
        sample, beat, _ = self._grid_moment(c.at)
        self._adopt(self.tempo_map.with_grid(beat, meter=c.meter))
        return p.GridChange(beat, sample, meter=str(c.meter))

    def phrase(self, c: p.SetPhrase) -> p.GridChange:
        sample, beat, _ = self._grid_moment(c.at)
        self._adopt(self.tempo_map.with_grid(beat, phrase=c.bars))
        return p.GridChange(beat, sample, bars=c.bars)

    def downbeat(self, c: p.Downbeat) -> p.GridChange:
        beat = _number(c.beat, "beat")
        grid = self.tempo_map.grid_at_beat(beat)
        if beat != math.floor(beat) or beat < self.tempo_map.beat_at(self.now) - grid.beats_per_bar:
            raise EngineError(f"a downbeat falls on a whole beat at most a bar ago, not {beat:g}")
        self._adopt(self.tempo_map.with_grid(beat))
        return p.GridChange(beat, self.tempo_map.sample_at(beat))

    def _grid_moment(self, at: str) -> tuple[int, float, str]:
        if at in ("phrase", "now") and self._before_the_music():
            return 0, 0.0, "phrase"  # before the music starts, a new grid starts at once
        if at not in ("phrase", "now"):
            raise EngineError("meter and phrase length change on a phrase boundary")
        return self.when("phrase")

    def _before_the_music(self) -> bool:
        return self.now == 0 and not self.engine.playing()

    # ---- MIDI clock out -----------------------------------------------------------------

    def clock_out(self, c: p.ClockOut) -> p.ClockState:
        if c.start is not None and c.start not in QUANTA:
            raise EngineError(f"clock start {c.start!r} must be 'phrase', 'bar', 'beat' or None")
        if c.port is None:
            self.clock.close()
            return self.clock.state()
        if not isinstance(c.port, str) or not c.port:
            raise EngineError(f"clock out needs a MIDI port's name, not {c.port!r}")
        self.clock.connect(c.port)
        if c.start is not None:
            _, beat, _ = self.when(c.start)
            self.clock.transport("start", beat)
        return self.clock.state()

    def clock_feed(self, c: p.ClockFeed) -> p.ClockState:
        if not isinstance(c.port, str) or not c.port:
            raise EngineError(f"a clock feed needs a MIDI port's name, not {c.port!r}")
        return self.clock.feed(c.port, bool(c.on))

    def clock_transport(self, c: p.ClockTransport) -> p.Scheduled:
        if c.at not in QUANTA:
            raise EngineError(f"clock messages go out on a 'phrase', 'bar' or 'beat', not {c.at!r}")
        sample, beat, _ = self.when(c.at)
        self.clock.transport(c.action, beat)
        return p.Scheduled(sample, beat)

    # ---- recording -----------------------------------------------------------------------

    def record(self, c: p.Record) -> p.Recording:
        if self.recorder is None or self.recordings is None:
            raise EngineError("this engine has no recorder (it was started without a session)")
        try:
            paths = self.recorder.start(
                self.recordings, name=c.name, tracks=c.tracks, names=self.recorded_names()
            )
        except HootError:
            raise
        except OSError as e:
            raise EngineError(f"cannot record to {self.recordings}: {e}") from None
        return p.Recording(tuple(str(x) for x in paths))

    def recorded_names(self) -> list[str]:
        """Each track row's file label in a track recording; "" (no file) for a free row."""
        e = self.engine
        return [*e.tracks[: e.generated], *(row.name for row in self.deck.rows)]

    def stop_recording(self, c: p.StopRecording) -> p.Recording:
        if self.recorder is None:
            return p.Recording(())
        return p.Recording(tuple(str(x) for x in self.recorder.stop()))

    # ---- reading -----------------------------------------------------------------------

    def ping(self, c: p.Ping) -> p.Position:
        return p.Position(self.now)

    def state(self, c: p.State | None = None) -> p.EngineState:
        """Everything a client needs to draw the set: time, tracks, what plays and is queued."""
        e = self.engine
        rec = self.recorder
        return p.EngineState(
            samplerate=e.samplerate,
            position=e.position,
            tempo_map=self.tempo_map.to_dict(),
            tracks={name: self.settings[name].reply() for name in self.track_names()},
            players=tuple(
                p.PlayerState(**row, path=self.stem_paths.get(row["stem"]))
                for row in e.snapshot()
            ),
            stems=tuple(sorted(self.stems)),
            recording=tuple(str(x) for x in rec.paths) if rec is not None and rec.recording
            else (),
            faults=e.faults,
            state_version=e.state_version,
            inputs=self.deck.listing(e.clips()),
            compensate=self.compensation,
        )

    def close(self) -> None:
        if self._routes is not None:
            self._routes.close()  # every note on every output ends
        self._loader.shutdown(wait=False, cancel_futures=True)
        self.clock.close_all()


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise EngineError(f"{what} must be a number, not {value!r}")
    return float(value)
