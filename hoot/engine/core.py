"""The sound server's heart: `Engine.forward`, one pass of musical time per audio block.

The per-block work runs as compiled code (hoot.engine.kernel, numba), called by PortAudio
without the GIL (kernel.callback) or by the offline driver from Python; both run the same
`kernel.world.process`, so they render the same bits. This module is its Python face: the
vocabulary (LoadedStem and the commands: Start, Stop, Mix...), and `Engine`, which sends
commands into the core's command ring (kernel.desk), keeps alive the stems the core reads,
and reads back what plays, the meters and the faults, for the engine's other threads.

Rules of the core (kernel/__init__.py has them whole): preallocated arrays, no Python
objects, no GIL, nothing raises on the audio thread; a fault silences the block (or the
track that caused it) and counts. Everything outside it (validation, loading, resolving
"the next phrase" to a sample) happens on other threads, in `control.py`.

Time: `position` is the absolute sample index of the next frame to render. Every scheduled
thing carries an absolute sample; a player starts at offset `start - s0` inside the block
that contains it. Output is identical to the bit whatever the block size, because every
sample's value depends only on absolute sample indices. The Python engine this core
replaced is kept as the tests' oracle (tests/engine/oracle.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hoot.music.time import TempoMap

FADE = 256  # frames of de-click fade when a player stops (5.3 ms at 48 kHz)
LOCK_SLACK = 8  # frames by which a beat-locked loop may differ from its turn and still wrap
GAIN_RAMP = 480  # frames over which gain, pan, mute and solo glide (10 ms at 48 kHz)
TRACK_CLAMP = 64.0  # +36 dBFS: a track louder than this is broken, not loud
NEVER = 1 << 62


@dataclass(eq=False)
class LoadedStem:
    """A stem in engine memory, ready to play. Built by the loader thread, never by the callback.

    Audio stems hold `audio` (frames x 2 float32, finite, loop-seam fades applied).
    MIDI stems hold note events in beats and play through the synth voices.
    `length_beats` is the stem's musical length where known (a generated stem's bars):
    such an audio stem is beat-locked, each turn of its loop starting on the beat grid
    whatever the tempo does (see Engine._play_audio).
    """

    id: str
    audio: np.ndarray | None = None
    on_beats: np.ndarray | None = None  # sorted
    on_pitch: np.ndarray | None = None
    on_velocity: np.ndarray | None = None
    off_beats: np.ndarray | None = None  # sorted
    off_pitch: np.ndarray | None = None
    length_beats: float = 0.0
    patch: int = 0  # the synth patch a MIDI stem plays (hoot.music.sounds.live_patch)
    name: str = ""

    @property
    def frames(self) -> int:
        return 0 if self.audio is None else len(self.audio)

    @property
    def is_midi(self) -> bool:
        return self.audio is None


@dataclass(frozen=True)
class Start:
    """Start `stem` on `track` at `sample` (on musical `beat` of boundary `quantum`, if any),
    replacing what plays or is queued there at that moment."""

    track: int
    stem: LoadedStem
    sample: int
    beat: float = math.nan
    quantum: str = ""


@dataclass(frozen=True)
class Unqueue:
    """Forget `stem`'s queued start on `track`; what it would have replaced plays on."""

    track: int
    stem: str


@dataclass(frozen=True)
class Stop:
    """Stop `track` so that it is silent from `sample` on (fade before it)."""

    track: int
    sample: int
    beat: float = math.nan
    quantum: str = ""


@dataclass(frozen=True)
class Mix:
    """Set a track's linear gains (left, right) target; glides over GAIN_RAMP frames, or
    `at_once` (before any sound, when there is nothing to de-click)."""

    track: int
    left: float
    right: float
    at_once: bool = False


@dataclass(frozen=True)
class Swap:
    """Play `stem` instead of the stem called `replaces` on `track`, from the next turn of
    its loop on: the same loop, taken again (re-rendered at a new tempo), keeps its place."""

    track: int
    stem: LoadedStem
    replaces: str


@dataclass(frozen=True)
class NewMap:
    """Adopt a new tempo map whose changes all lie in the future."""

    tempo_map: TempoMap


@dataclass(frozen=True)
class Panic:
    """Stop everything at once with a short fade, and forget what was queued."""


@dataclass(frozen=True)
class Live:
    """Play these live inputs (hoot.engine.live_midi.LiveNotes) from now on; an input no
    longer listed ends its notes."""

    inputs: tuple


@dataclass(frozen=True)
class SetInput:
    """Feed input row `row` from device channels `left`, `right` (0-based; kind DEVICE),
    from `loop` (frames x 2 float32, playing from this block on; kind LOOP), from a model's
    return ring `ret` (hoot.engine.rings.ReturnRing; kind RETURN) or from nothing (kind
    OFF), monitored or not. The row's old loop or ring goes to the graveyard."""

    row: int
    kind: int
    left: int = 0
    right: int = 0
    loop: np.ndarray | None = None
    monitor: bool = True
    ret: object | None = None


@dataclass(frozen=True)
class Compensate:
    """Delay every track that is not a model's return row by `samples` on its way to the
    master (0: none; at most MAX_COMPENSATE), so that a model's output `samples` late
    lines up with the rest. The delay line starts silent each time it is switched on."""

    samples: int


@dataclass(frozen=True)
class Synth:
    """Play `track`'s notes on `synth` (a hoot.engine.fluid.SoundFontVoice) from now on, or
    on the engine's VoicePool (None). What sounded on the old synth ends there (a fade); the
    old one goes to the graveyard once it is silent."""

    track: int
    synth: object | None


@dataclass(frozen=True)
class Sink:
    """Send `track`'s notes to `sink` (a hoot.engine.midi_out.MidiOutTrack) from now on, or
    back to the track's synth (None). What sounded on the old sink ends there."""

    track: int
    sink: object | None


class Engine:
    """Mixes stems and synth voices on tracks into a limited stereo master, one block at a
    time, in the compiled core. Commands go in through `inbox.append` (any one thread: the
    control thread), state comes out through the readers (any thread, a block old)."""

    def __init__(
        self,
        samplerate: int = 48000,
        tracks: tuple[str, ...] = ("drums", "bass", "chords", "lead", "pad", "perc"),
        max_block: int = 4096,
        max_players: int = 64,
        max_voices: int = 32,
        tempo_map: TempoMap | None = None,
        inputs: int = 0,
        notes: str | None = None,
    ) -> None:
        from hoot.engine.kernel.front import Front  # numba: only where an engine is made

        self.samplerate = samplerate
        self.generated = len(tracks)  # rows of generated tracks; live input rows follow
        # a free input row's name; the control side renames a row when an input takes it
        self.tracks = tuple(tracks) + tuple(f"input {k + 1}" for k in range(inputs))
        self.max_block = max_block
        self.core = Front(
            samplerate, self.tracks, max_block, max_players, max_voices,
            tempo_map or TempoMap(samplerate), self.generated, notes,
        )  # fmt: skip
        self.inbox = self.core.inbox
        self.graveyard = self.core.graveyard
        self.limiter = self.core.limiter
        self.meters = self.core.mix.meters
        self.clock = self.core.clock

    # ---- the audio thread ------------------------------------------------------

    def forward(self, out: np.ndarray, inp: np.ndarray | None = None) -> None:
        """Render the next `len(out)` frames into `out` (frames x 2 float32), from Python
        (the offline driver); the live backend calls the same code without Python."""
        self.core.forward(out, inp)

    # ---- the rest ----------------------------------------------------------------------

    @property
    def recorder(self):
        return self.core.recorder

    @recorder.setter
    def recorder(self, recorder) -> None:
        self.core.recorder = recorder

    @property
    def tempo_map(self) -> TempoMap:
        return self.core.desk.tempo_map

    @property
    def position(self) -> int:
        return self.core.position

    @property
    def blocks(self) -> int:
        return self.core.blocks

    @property
    def faults(self) -> int:
        return self.core.faults

    @property
    def state_version(self) -> int:
        return self.core.desk.state_version

    @property
    def clocks_out(self) -> tuple:
        """MIDI clock out's paths (clock_out.JackClock, RtMidiClock): each host block is
        published to each, after the block clock's stamp (kernel.front says how)."""
        return self.core.clocks_out

    @clocks_out.setter
    def clocks_out(self, paths: tuple) -> None:
        self.core.clocks_out = paths

    def set_gains_at_rest(self, track: int, left: float, right: float) -> None:
        """Set a track's gains with no glide. Only before the audio starts (construction)."""
        self.core.set_gains_at_rest(track, left, right)

    def use_ring(self, ring) -> None:
        """Send every input block to `ring` (rings.Ring) from now on; before the audio."""
        self.core.use_ring(ring)

    @property
    def notes_path(self) -> str:
        """The live-note table's file (hoot.engine.rings): live inputs' slots and the block
        clock in shared memory, named `notes` when given, else after this process; it goes
        when the engine does (`close_notes`, or when the Engine is dropped, or at exit)."""
        return self.core.notes_path

    def close_notes(self) -> None:
        self.core.close_notes()

    def live_slot(self, live) -> int | None:
        """The live-note table's slot input `live` (a LiveNotes) plays from, or None."""
        return self.core.live_slot(live)

    def clips(self) -> np.ndarray:
        """Each input row's clip lamp: whether it reached CLIP in the last CLIP_HOLD s."""
        from hoot.engine.inputs import CLIP_HOLD

        return self.position - self.core.inputs.clip_at < CLIP_HOLD * self.samplerate

    def playing(self) -> bool:
        """Whether any player is active (playing or queued)."""
        return bool(self.core.desk.players.active.any())

    def _on_time(
        self, track: int, sample: int, beat: float, quantum: str, s0: int
    ) -> tuple[int, float]:
        """The core's lateness rule (kernel.players._on_time), for the control thread's
        reply: a moment already too late moves to the following boundary."""
        return self.core.on_time(track, sample, beat, quantum, s0)

    def track_busy(self, track: int) -> bool:
        return self.core.desk.track_busy(track)

    def queued_start(self, track: int, stem_id: str, after: int) -> int | None:
        return self.core.desk.queued_start(track, stem_id, after)

    def next_turn(self, track: int, stem_id: str, after: int) -> int | None:
        return self.core.desk.next_turn(track, stem_id, after)

    def oldest_turn(self, now: int) -> int:
        return self.core.desk.oldest_turn(now)

    def snapshot(self) -> list[dict]:
        return self.core.desk.snapshot()
