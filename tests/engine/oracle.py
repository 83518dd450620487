"""The Python engine the compiled core replaced, kept only as the tests' oracle.

This is engine.core's `Engine` as it was before the compiled core (with live input rows):
`forward` in interpreted Python and numpy, calling engine.synth.VoicePool and
engine.limiter.Limiter. The engine no longer runs it; tests render the same commands
through it and through the compiled core (hoot.engine.kernel) and compare the bits. Its
rules and reasons are engine.core's.
"""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np

from hoot.engine.core import (
    FADE,
    GAIN_RAMP,
    LOCK_SLACK,
    NEVER,
    TRACK_CLAMP,
    Live,
    LoadedStem,
    Mix,
    NewMap,
    Panic,
    SetInput,
    Sink,
    Start,
    Stop,
    Swap,
    Synth,
    Unqueue,
)
from hoot.engine.inputs import CLIP_HOLD, LOOP, OFF, make_inputs, render_inputs
from hoot.engine.limiter import Limiter
from hoot.engine.live_midi import BlockClock
from hoot.engine.rings import write_block
from hoot.engine.synth import VoicePool
from hoot.music.time import TempoMap

__all__ = ["Engine", "LoadedStem"]


class Player:
    """One stem playing (or queued) on one track. A fixed pool of these lives in the Engine."""

    __slots__ = (
        "index",
        "active",
        "track",
        "stem",
        "start",
        "start_beat",
        "stop",
        "stop_beat",
        "quantum",
        "sounding",
        "turn_from",
        "turn_to",
        "turn_map",
        "next_stem",
        "swap_at",
        "cut_for",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.active = False
        self.track = 0
        self.stem: LoadedStem | None = None
        self.start = 0
        self.start_beat = math.nan  # musical anchor of `start`, NaN when given as a bare sample
        self.stop = NEVER  # first silent sample; the fade covers [stop - FADE, stop)
        self.stop_beat = math.nan
        self.quantum = ""
        self.sounding = np.zeros(128, np.bool_)  # MIDI pitches this player holds down
        # a beat-locked loop's current turn [turn_from, turn_to), valid for turn_map
        self.turn_from = self.turn_to = 0
        self.turn_map: TempoMap | None = None
        # a take of the same loop that replaces `stem` from sample `swap_at` (a turn's start)
        self.next_stem: LoadedStem | None = None
        self.swap_at = NEVER
        self.cut_for = ""  # the stem id whose queued start cut this player's stop short


class Engine:
    """Mixes stems and synth voices on tracks into a limited stereo master, one block at a time."""

    def __init__(
        self,
        samplerate: int = 48000,
        tracks: tuple[str, ...] = ("drums", "bass", "chords", "lead", "pad", "perc"),
        max_block: int = 4096,
        max_players: int = 64,
        max_voices: int = 32,
        tempo_map: TempoMap | None = None,
        inputs: int = 0,
    ) -> None:
        self.samplerate = samplerate
        self.generated = len(tracks)  # rows of generated tracks; live input rows follow
        # a free input row's name; the control side renames a row when an input takes it
        self.tracks = tuple(tracks) + tuple(f"input {k + 1}" for k in range(inputs))
        self.max_block = max_block
        T = len(self.tracks)
        self.tempo_map = tempo_map or TempoMap(samplerate)
        self.position = 0
        self.inbox: deque = deque()  # commands from the control thread
        self.graveyard: deque = deque()  # stems the callback let go of; emptied elsewhere
        self.faults = 0
        self.blocks = 0
        self.state_version = 0  # bumped whenever what plays or is queued changes
        self.players = [Player(i) for i in range(max_players)]
        self.voices = VoicePool(samplerate, T, max_voices=max_voices, max_block=max_block)
        self.synths: list = [self.voices] * T  # each track's synth: VoicePool or SoundFontVoice
        self.sinks: list = [self.voices] * T  # where each track's notes go: synth or MIDI out
        self.fonts: tuple = ()  # SoundFontVoices that sound: the tracks' and those fading out
        self.live: tuple = ()  # live MIDI inputs (live_midi.LiveNotes)
        self.clock = BlockClock(samplerate, time.monotonic)
        self.limiter = Limiter(samplerate, max_block)
        self.recorder = None  # set by the server: has tap(master, tracks, frames)
        self.clocks_out: tuple = ()  # MIDI clock out's paths (clock_out.py): block(s0, frames)
        # mixing buffers: flat, so that each block's (tracks x n x 2) view is contiguous and
        # numpy reduces over it without buffering (which would allocate on this thread)
        self._track_flat = np.zeros(T * max_block * 2, np.float32)
        self.track_buf = self._track_flat[: T * max_block * 2].reshape(T, max_block, 2)
        self.master = np.zeros((max_block, 2), np.float32)
        self.scratch = np.zeros((max_block, 2), np.float32)
        fade = 0.5 * (1 + np.cos(np.linspace(0, np.pi, FADE + 1)[1:]))
        self.fade_out = fade.astype(np.float32)[:, None]
        # gains: per track and channel, value(s) = old + (new - old) * clip((s - since) / RAMP)
        self.gain_old = np.ones((T, 2), np.float64)
        self.gain_new = np.ones((T, 2), np.float64)
        self.gain_since = np.full(T, -float(GAIN_RAMP), np.float64)
        self._gain_delta = np.zeros((T, 2), np.float64)  # gain_new - gain_old, set per command
        self._ramp = np.arange(max_block, dtype=np.float64)
        self._t = np.zeros(max_block, np.float64)
        self._tt = np.zeros(T * max_block, np.float64)
        self._g = np.zeros(T * max_block * 2, np.float32)
        self._g_final = np.ones((T, 1, 2), np.float32)  # gains once every glide has ended
        self._glides_end = 0  # first sample at which every glide has ended
        # meters: rows = tracks then master; columns = peak L, peak R, rms L, rms R
        self.meters = np.zeros((T + 1, 4), np.float32)
        self._sq = np.zeros(T * max_block * 2, np.float32)
        self._sum = np.zeros((T, 2), np.float32)
        self._finite = np.ones((T, 2), np.bool_)
        self.inputs = make_inputs(inputs)
        self.input_loops: list[np.ndarray | None] = [None] * inputs  # alive while they play
        self.ring = None  # rings.Ring: every input block goes there (set by the server)
        self.probe = None  # latency.Probe while the round trip is measured
        self._no_device = np.zeros((max_block, 0), np.float32)
        if inputs:  # compile (or load from the cache) now, not on the audio thread
            rows = self._track_flat[: T * max_block * 2].reshape(T, max_block, 2)
            render_inputs(self.inputs, self._no_device, 0, 0, rows[self.generated :])

    # ---- the audio thread ------------------------------------------------------

    def forward(self, out: np.ndarray, device: np.ndarray | None = None) -> None:
        """Render the next `len(out)` frames of the performance into `out` (frames x 2
        float32); `device` is the audio device's input block (frames x channels float32)
        when it has one."""
        total = len(out)
        if device is None or len(device) < total:
            device = self._no_device
        self.clock.stamp(self.position, total)
        for clock in self.clocks_out:  # never raises; tempo changes lie past this block
            clock.block(self.position, total)  # after the stamp: it reads self.clock
        done = 0
        while done < total:  # a host block larger than our buffers is rendered in parts
            n = min(total - done, self.max_block)
            part = out[done : done + n]
            s0 = self.position
            try:
                self._forward(part, s0, n, device[done : done + n])
            except BaseException:  # noqa: BLE001 - the callback must never die
                part.fill(0)
                self.faults += 1
            self.position = s0 + n
            done += n
        self.blocks += 1

    def _forward(self, out: np.ndarray, s0: int, n: int, device: np.ndarray) -> None:
        inbox = self.inbox
        while inbox:
            self._apply(inbox.popleft(), s0)
        for live in self.live:
            live.forward(self, s0, n)
        T = len(self.tracks)
        tb = self._track_flat[: T * n * 2].reshape(T, n, 2)
        self.track_buf = tb
        tb.fill(0)
        for p in self.players:
            if p.active:
                try:
                    if p.stem.audio is not None:
                        self._play_audio(p, s0, n)
                    else:
                        self._play_midi(p, s0, n)
                except Exception:  # noqa: BLE001 - one broken player must not stop the rest
                    p.active = False
                    self.faults += 1
                    self.state_version += 1
        self.voices.render(s0, n, tb)
        for font in self.fonts:
            font.render(s0, n, tb)
            if font.fade_from < 0 and font not in self.synths:  # faded out: let it go
                self.fonts = tuple(f for f in self.fonts if f is not font)
                self.graveyard.append(font)
        G = self.generated
        if G < T:
            live = tb[G:]
            render_inputs(self.inputs, device, s0, n, live)
            if self.ring is not None:
                write_block(self.ring, live, s0, n)
        self._guard_tracks(tb)
        self._apply_gains(tb, s0, n)
        if G < T:
            master = self.master[:n]
            np.add.reduce(tb[:G], axis=0, out=master)
            kind, monitor = self.inputs.kind, self.inputs.monitor
            for r in range(T - G):
                if kind[r] != OFF and monitor[r]:
                    np.add(master, tb[G + r], out=master)
        else:
            np.add.reduce(tb, axis=0, out=self.master[:n])
        self.limiter.process(self.master, out, s0, n)
        if self.probe is not None:  # a latency measurement (latency.py) is under way
            self.probe.block(out, device, s0, n)
        self._meter(tb, out, n)
        if self.recorder is not None:
            self.recorder.tap(out, tb, n)

    def _play_audio(self, p: Player, s0: int, n: int) -> None:
        end = s0 + n
        if p.stop <= s0:
            self._retire(p)
            return
        a = max(p.start, s0)
        b = min(end, p.stop)
        if a >= b:
            return
        if p.next_stem is not None and p.swap_at < b:
            if a < p.swap_at:
                self._play_locked(p, a, p.swap_at, s0)
                a = p.swap_at
            self.graveyard.append(p.stem)
            p.stem, p.next_stem, p.swap_at = p.next_stem, None, NEVER
            p.turn_map = None
            self.state_version += 1
        if p.stem.length_beats > 0:
            self._play_locked(p, a, b, s0)
        else:
            self._add_looped(p, a, b, s0, p.start, 0)
        if b >= p.stop:
            self._retire(p)

    def _add_looped(self, p: Player, a: int, b: int, s0: int, origin: int, cut: int) -> None:
        """Add samples [a, b) of `p`'s stem looped from `origin` (its first sample plays
        there), fading out before `p.stop` and, when `cut`, before `cut`."""
        audio = p.stem.audio
        length = len(audio)
        dst = self.track_buf[p.track]
        o = a - s0
        pos = (a - origin) % length
        while a < b:
            m = min(b - a, length - pos)
            seg = audio[pos : pos + m]
            if a + m > p.stop - FADE or (cut and a + m > cut - FADE):
                tmp = self.scratch[:m]
                np.copyto(tmp, seg)
                for fade_from in (p.stop - FADE, cut - FADE if cut else NEVER):
                    if a + m > fade_from:
                        k = max(0, fade_from - a)
                        f0 = a + k - fade_from
                        np.multiply(tmp[k:], self.fade_out[f0 : f0 + m - k], out=tmp[k:])
                np.add(dst[o : o + m], tmp, out=dst[o : o + m])
            else:
                np.add(dst[o : o + m], seg, out=dst[o : o + m])
            a += m
            o += m
            pos = 0

    def _play_locked(self, p: Player, a: int, b: int, s0: int) -> None:
        """A beat-locked audio loop: each turn starts on the beat it is due, so the loop
        stays on the grid through tempo changes. A turn as long as the stem (give or take
        LOCK_SLACK frames of rounding) plays it whole; a shorter turn (a faster tempo)
        cuts it with a fade; a longer one (slower) leaves silence after it."""
        if p.start_beat != p.start_beat:  # started at a bare sample
            p.start_beat = self.tempo_map.beat_at(p.start)
        length = p.stem.frames
        while a < b:
            lo, hi = self._turn(p, a)
            c = min(b, hi)
            turn = hi - lo
            if abs(turn - length) <= LOCK_SLACK:
                self._add_looped(p, a, c, s0, lo, 0)
            elif a - lo < length:
                self._add_looped(p, a, min(c, lo + length), s0, lo, hi if turn < length else 0)
            a = c

    def _turn(self, p: Player, s: int) -> tuple[int, int]:
        """The samples [from, to) of the turn of `p`'s loop that sample `s` falls in."""
        tm = self.tempo_map
        if p.turn_map is tm and p.turn_from <= s < p.turn_to:
            return p.turn_from, p.turn_to
        beats = p.stem.length_beats
        k = max(0, math.floor((tm.beat_at(s) - p.start_beat) / beats))
        lo = p.start if k == 0 else tm.sample_at(p.start_beat + k * beats)
        while k > 0 and lo > s:  # rounding put s a hair before the turn's first sample
            k -= 1
            lo = p.start if k == 0 else tm.sample_at(p.start_beat + k * beats)
        hi = tm.sample_at(p.start_beat + (k + 1) * beats)
        while hi <= s:
            lo, k = hi, k + 1
            hi = tm.sample_at(p.start_beat + (k + 1) * beats)
        p.turn_from, p.turn_to, p.turn_map = lo, hi, tm
        return lo, hi

    def _play_midi(self, p: Player, s0: int, n: int) -> None:
        end = s0 + n
        stem = p.stem
        tm = self.tempo_map
        voices = self.sinks[p.track]
        key0 = p.index * 128
        if p.start < end and p.start_beat != p.start_beat:  # started at a bare sample
            p.start_beat = tm.beat_at(p.start)
        lo = max(s0, p.start)
        cut = p.stop - FADE  # MIDI notes release where an audio stem starts fading
        hi = min(end, cut)
        if lo < hi:
            # beats relative to the clip start, with slack: the sample test below decides
            b_lo = tm.beat_at(lo) - p.start_beat - 1e-6
            b_hi = tm.beat_at(hi) - p.start_beat + 1e-6
            length = stem.length_beats
            for loop in range(max(0, int(b_lo // length) - 1), int(b_hi // length) + 1):
                base = p.start_beat + loop * length
                off_lo, off_hi = b_lo - loop * length, b_hi - loop * length
                # note-offs first, so a repeated pitch on the same sample retriggers
                i0 = int(np.searchsorted(stem.off_beats, off_lo))
                i1 = int(np.searchsorted(stem.off_beats, off_hi))
                for i in range(i0, i1):
                    s = tm.sample_at(base + stem.off_beats[i])
                    pitch = int(stem.off_pitch[i])
                    if lo <= s < hi and p.sounding[pitch]:
                        voices.note_off(s, key0 + pitch)
                        p.sounding[pitch] = False
                i0 = int(np.searchsorted(stem.on_beats, off_lo))
                i1 = int(np.searchsorted(stem.on_beats, off_hi))
                for i in range(i0, i1):
                    s = tm.sample_at(base + stem.on_beats[i])
                    if lo <= s < hi and s >= p.start:
                        pitch = int(stem.on_pitch[i])
                        voices.note_on(
                            s, p.track, pitch, int(stem.on_velocity[i]), stem.patch, key0 + pitch
                        )
                        p.sounding[pitch] = True
        if cut < end:
            for pitch in np.flatnonzero(p.sounding):
                voices.note_off(max(cut, s0), key0 + int(pitch))
            p.sounding.fill(False)
            self._retire(p)

    def _retire(self, p: Player) -> None:
        p.active = False
        self.graveyard.append(p.stem)
        if p.next_stem is not None:
            self.graveyard.append(p.next_stem)
        p.stem, p.next_stem, p.swap_at = None, None, NEVER
        self.state_version += 1

    def _guard_tracks(self, tb: np.ndarray) -> None:
        """Silence any track holding NaN or inf; clamp absurd levels. Counts faults."""
        np.minimum(tb, TRACK_CLAMP, out=tb)  # inf becomes finite here
        np.maximum(tb, -TRACK_CLAMP, out=tb)
        np.add.reduce(tb, axis=1, out=self._sum)  # NaN survives the clamp and the sum
        np.isfinite(self._sum, out=self._finite)
        if not self._finite.all():
            for t in range(len(self.tracks)):
                if not self._finite[t].all():
                    tb[t].fill(0)
                    self.faults += 1

    def _apply_gains(self, tb: np.ndarray, s0: int, n: int) -> None:
        if s0 >= self._glides_end:  # steady state: one multiply
            np.multiply(tb, self._g_final, out=tb)
            return
        T = len(self.tracks)
        t = self._t[:n]
        np.add(self._ramp[:n], s0, out=t)
        tt = self._tt[: T * n].reshape(T, n)
        np.subtract(t, self.gain_since[:, None], out=tt)
        g = self._g[: T * n * 2].reshape(T, n, 2)
        self._glide_gains(tt, g)
        np.multiply(tb, g, out=tb)

    def _glide_gains(self, tt: np.ndarray, g: np.ndarray) -> None:
        """Gains at frames `tt` into each track's glide (T x n), written to g (T x n x 2).

        The steady-state gains are computed by this same function, so a frame's gain is
        the same to the bit whether or not its block lies inside a glide."""
        np.multiply(tt, 1.0 / GAIN_RAMP, out=tt)
        np.minimum(tt, 1.0, out=tt)
        np.maximum(tt, 0.0, out=tt)
        for c in (0, 1):
            gc = g[:, :, c]
            np.multiply(tt, self._gain_delta[:, c, None], out=gc, casting="unsafe")
            np.add(gc, self.gain_old[:, c, None], out=gc, casting="unsafe")

    def _meter(self, tb: np.ndarray, out: np.ndarray, n: int) -> None:
        T = len(self.tracks)
        a = self._sq[: T * n * 2].reshape(T, n, 2)
        np.abs(tb, out=a)
        np.maximum.reduce(a, axis=1, out=self.meters[:T, 0:2])
        np.multiply(tb, tb, out=a)
        np.add.reduce(a, axis=1, out=self._sum)
        np.multiply(self._sum, 1.0 / n, out=self._sum)
        np.sqrt(self._sum, out=self.meters[:T, 2:4])
        m = a[0]  # reuse as scratch for the master
        np.abs(out[:n], out=m)
        np.maximum.reduce(m, axis=0, out=self.meters[T, 0:2])
        np.multiply(out[:n], out[:n], out=m)
        np.add.reduce(m, axis=0, out=self._sum[0])
        np.multiply(self._sum[0], 1.0 / n, out=self._sum[0])
        np.sqrt(self._sum[0], out=self.meters[T, 2:4])

    # ---- commands, applied at the start of a block -----------------------------------

    def _apply(self, cmd: object, s0: int) -> None:
        try:
            if isinstance(cmd, Start):
                self._start(cmd, s0)
            elif isinstance(cmd, Stop):
                self._stop(cmd, s0)
            elif isinstance(cmd, Mix):
                self._mix(cmd, s0)
            elif isinstance(cmd, Swap):
                self._swap(cmd, s0)
            elif isinstance(cmd, Unqueue):
                self._unqueue(cmd, s0)
            elif isinstance(cmd, NewMap):
                self._new_map(cmd.tempo_map)
            elif isinstance(cmd, Panic):
                self._panic(s0)
            elif isinstance(cmd, Live):
                self._live(cmd.inputs, s0)
            elif isinstance(cmd, Sink):
                self._sink(cmd.track, cmd.sink or self.synths[cmd.track], s0)
            elif isinstance(cmd, Synth):
                self._synth(cmd.track, cmd.synth or self.voices, s0)
            elif isinstance(cmd, SetInput):
                self._set_input(cmd, s0)
            self.state_version += 1
        except Exception:  # noqa: BLE001
            self.faults += 1

    def _on_time(
        self, track: int, sample: int, beat: float, quantum: str, s0: int
    ) -> tuple[int, float]:
        """A scheduled moment, moved to the following boundary if it is already too late.

        Too late means past, or, when something sounds on the track, so close that its
        stop fade would already have begun: nothing ever starts or stops part-way.
        """
        lead = FADE if self._sounding(track, sample, s0) else 0
        if sample - lead >= s0:
            return sample, beat
        if not quantum:
            return s0 + lead, math.nan  # an immediate command: as soon as it can be
        b = self.tempo_map.next_boundary_beat(s0 + lead, quantum)
        return self.tempo_map.sample_at(b), b

    def _sounding(self, track: int, sample: int, s0: int) -> bool:
        for p in self.players:
            if p.active and p.track == track and p.start < sample and p.stop > s0:
                return True
        return False

    def _start(self, cmd: Start, s0: int) -> None:
        sample, beat = self._on_time(cmd.track, cmd.sample, cmd.beat, cmd.quantum, s0)
        for p in self.players:  # clip launcher: this replaces the track's playing and queued stems
            if p.active and p.track == cmd.track:
                if p.start >= sample:
                    self._retire(p)  # queued for later than this: superseded
                elif p.stop > sample:
                    p.stop, p.stop_beat = sample, beat
                    p.cut_for = cmd.stem.id
        for p in self.players:
            if not p.active:
                p.active = True
                p.track = cmd.track
                p.stem = cmd.stem
                p.start, p.start_beat, p.quantum = sample, beat, cmd.quantum
                p.stop, p.stop_beat = NEVER, math.nan
                p.sounding.fill(False)
                p.turn_map = None
                p.next_stem, p.swap_at = None, NEVER
                p.cut_for = ""
                return
        self.faults += 1  # no free player: the pool size is a setting

    def _stop(self, cmd: Stop, s0: int) -> None:
        sample, beat = self._on_time(cmd.track, cmd.sample, cmd.beat, cmd.quantum, s0)
        sink = self.sinks[cmd.track]
        if sink is not self.synths[cmd.track]:  # hardware: nothing rings on after a stop
            sink.all_off(sample)
        for p in self.players:
            if p.active and p.track == cmd.track:
                if p.start >= sample:
                    self._retire(p)
                elif p.stop > sample:
                    p.stop, p.stop_beat, p.cut_for = sample, beat, ""

    def _unqueue(self, cmd: Unqueue, s0: int) -> None:
        for p in self.players:
            if p.active and p.track == cmd.track and p.stem.id == cmd.stem and p.start >= s0:
                self._retire(p)
        for p in self.players:  # what the queued stem would have cut plays on
            if p.active and p.track == cmd.track and p.cut_for == cmd.stem and p.stop - FADE >= s0:
                p.stop, p.stop_beat, p.cut_for = NEVER, math.nan, ""

    def _swap(self, cmd: Swap, s0: int) -> None:
        for p in self.players:
            if not (p.active and p.track == cmd.track and p.stem.id == cmd.replaces):
                continue
            if p.stop <= s0:
                continue
            if p.start >= s0:  # queued, not yet sounding: the new take simply starts
                self.graveyard.append(p.stem)
                p.stem, p.turn_map = cmd.stem, None
            elif (
                p.stem.length_beats > 0
                and p.stem.audio is not None
                and cmd.stem.audio is not None
            ):
                if p.start_beat != p.start_beat:
                    p.start_beat = self.tempo_map.beat_at(p.start)
                _, hi = self._turn(p, s0)
                if p.next_stem is not None:
                    self.graveyard.append(p.next_stem)
                p.next_stem, p.swap_at = cmd.stem, hi

    def _mix(self, cmd: Mix, s0: int) -> None:
        t = cmd.track
        if cmd.at_once:
            current = (cmd.left, cmd.right)
        else:
            frac = min(max((s0 - self.gain_since[t]) / GAIN_RAMP, 0.0), 1.0)
            current = self.gain_old[t] + (self.gain_new[t] - self.gain_old[t]) * frac
        self.gain_old[t] = current
        self.gain_new[t] = (cmd.left, cmd.right)
        self.gain_since[t] = s0
        np.subtract(self.gain_new, self.gain_old, out=self._gain_delta)
        # past since + RAMP the glide clips to exactly 1.0 (at RAMP itself it may round below)
        self._glides_end = max(self._glides_end, s0 + GAIN_RAMP + 1)
        self._glide_gains(np.full((len(self.tracks), 1), 2.0 * GAIN_RAMP), self._g_final)

    def _new_map(self, tempo_map: TempoMap) -> None:
        self.tempo_map = tempo_map
        # every later boundary follows the new tempo: re-place what is anchored to beats
        for p in self.players:
            if p.active:
                if p.start_beat == p.start_beat and p.start > self.position:
                    p.start = tempo_map.sample_at(p.start_beat)
                if p.stop_beat == p.stop_beat and p.stop > self.position:
                    p.stop = tempo_map.sample_at(p.stop_beat)

    def _panic(self, s0: int) -> None:
        for p in self.players:
            if p.active:
                if p.start >= s0:
                    self._retire(p)
                elif p.stop > s0 + FADE:
                    p.stop, p.stop_beat = s0 + FADE, math.nan
        self.voices.silence(s0)
        for live in self.live:
            live.release_all(s0, self.sinks[live.track])
        for sink in self.sinks:
            if sink is not self.voices:  # MIDI outputs and SoundFont voices
                sink.all_off(s0)
        for font in self.fonts:  # one that fades out already fades
            if font.fade_from < 0 and font not in self.sinks:
                font.all_off(s0)

    def _live(self, inputs: tuple, s0: int) -> None:
        for live in self.live:
            if live not in inputs:
                live.release_all(s0, self.sinks[live.track])
        self.live = inputs

    def _sink(self, track: int, sink, s0: int) -> None:
        old = self.sinks[track]
        if sink is old:
            return
        for live in self.live:  # live notes end where they sound; the next ones go to `sink`
            if live.track == track:
                live.release_all(s0, old)
        if old is self.voices:
            self.voices.release_track(s0, track)
            self.voices.bend(s0, track, 0.0)
        else:
            old.all_off(s0)
        for p in self.players:  # the stems' notes start afresh on the new sink
            if p.active and p.track == track:
                p.sounding.fill(False)
        self.sinks[track] = sink

    def _synth(self, track: int, synth, s0: int) -> None:
        old = self.synths[track]
        if synth is old:
            return
        if self.sinks[track] is old:
            self._sink(track, synth, s0)  # ends what sounded on the old synth
        elif old is not self.voices:
            old.all_off(s0)
        self.synths[track] = synth
        if synth is not self.voices and synth not in self.fonts:
            self.fonts = (*self.fonts, synth)

    def _set_input(self, cmd: SetInput, s0: int) -> None:
        st, r = self.inputs, cmd.row
        st.kind[r] = OFF  # first: the row is never read half set
        old = self.input_loops[r]
        if old is not None:
            self.graveyard.append(old)
        self.input_loops[r] = cmd.loop if cmd.kind == LOOP else None
        if cmd.kind == LOOP and cmd.loop is not None:
            st.loop_addr[r] = cmd.loop.ctypes.data
            st.loop_len[r] = len(cmd.loop)
            st.loop_start[r] = s0
        st.left[r], st.right[r] = cmd.left, cmd.right
        st.monitor[r] = 1 if cmd.monitor else 0
        st.kind[r] = cmd.kind

    def use_ring(self, ring) -> None:
        """Send every input block to `ring` (rings.Ring) from now on. Before the audio
        starts: the writer is compiled (or loaded from the cache) here."""
        write_block(ring, self.track_buf[self.generated :], self.position, 0)
        self.ring = ring

    def clips(self) -> np.ndarray:
        """Each input row's clip lamp: whether it reached CLIP in the last CLIP_HOLD s."""
        return self.position - self.inputs.clip_at < CLIP_HOLD * self.samplerate

    def set_gains_at_rest(self, track: int, left: float, right: float) -> None:
        """Set a track's gains with no glide. Only before the audio starts (construction)."""
        self.gain_old[track] = self.gain_new[track] = (left, right)
        self.gain_since[track] = -float(GAIN_RAMP)
        np.subtract(self.gain_new, self.gain_old, out=self._gain_delta)
        self._glide_gains(np.full((len(self.tracks), 1), 2.0 * GAIN_RAMP), self._g_final)

    # ---- reading state (any thread; values may be one block old) ---------------------

    def playing(self) -> bool:
        """Whether any player is active (playing or queued): engine.core.Engine's reader."""
        return any(p.active for p in self.players)

    def track_busy(self, track: int) -> bool:
        """Whether anything plays on `track`, or is queued to (sent or taken in)."""
        for p in list(self.players):
            if p.active and p.track == track and p.stop > self.position:
                return True
        return any(isinstance(c, Start) and c.track == track for c in list(self.inbox))

    def queued_start(self, track: int, stem_id: str, after: int) -> int | None:
        """The start of `stem_id` queued on `track` at or after sample `after`, if any."""
        for p in list(self.players):
            stem = p.stem
            if p.active and p.track == track and stem is not None and stem.id == stem_id:
                if p.start >= after:
                    return p.start
        for c in list(self.inbox):
            if isinstance(c, Start) and c.track == track and c.stem.id == stem_id:
                return c.sample
        return None

    def next_turn(self, track: int, stem_id: str, after: int) -> int | None:
        """The first sample of the first turn of beat-locked loop `stem_id` on `track` that
        starts at or after `after`, by the current tempo map; None if it does not play."""
        tm = self.tempo_map
        for p in list(self.players):
            stem = p.stem
            if not (p.active and p.track == track and stem is not None and stem.id == stem_id):
                continue
            if stem.length_beats <= 0 or p.start >= after:
                return p.start
            start_beat = p.start_beat if p.start_beat == p.start_beat else tm.beat_at(p.start)
            k = math.ceil((tm.beat_at(after) - start_beat) / stem.length_beats - 1e-9)
            return tm.sample_at(start_beat + k * stem.length_beats)
        return None

    def snapshot(self) -> list[dict]:
        """What plays and what is queued, per player, for status reports."""
        rows = []
        for p in list(self.players):
            stem = p.stem
            if p.active and stem is not None:
                rows.append(
                    {
                        "track": self.tracks[p.track],
                        "stem": stem.id,
                        "start": p.start,
                        "stop": None if p.stop >= NEVER else p.stop,
                        "state": "queued" if p.start > self.position else "playing",
                    }
                )
        for cmd in list(self.inbox):  # sent, not yet taken in by the audio thread
            if isinstance(cmd, Start):
                rows.append(
                    {
                        "track": self.tracks[cmd.track],
                        "stem": cmd.stem.id,
                        "start": cmd.sample,
                        "stop": None,
                        "state": "queued",
                    }
                )
        return rows
