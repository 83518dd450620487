"""What the stage screen shows: one plain, immutable snapshot of the set.

The app builds a `SetView` from the engine's status (~30 times a second) and the
language side's state, and hands it to every widget's `update(view)`. Nothing here
imports Textual, so views are cheap to build and easy to make in tests.

Counting: `bar`, `bar_in_phrase`, `phrase` and candidate indices count from 0, as
everywhere in hoot; the screen shows bars, phrases and candidates from 1.
`QueueItem.bar` is already the 1-based bar the screen shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from hoot.realtime.status import ModelStatus

CANDIDATE_STATUSES = ("pending", "rendering", "ready", "failed", "queued", "playing")


@dataclass(frozen=True)
class TrackLevel:
    """One track's meters: linear (left, right) peak and RMS, 1.0 = 0 dBFS."""

    name: str
    peak: tuple[float, float]
    rms: tuple[float, float]


@dataclass(frozen=True)
class InputView:
    """A live input's track: `monitored` (heard through hoot's outputs, or only metered and
    recorded), `clip` (a sample reached full scale in the last 2 s, before its fader),
    `source` in words ("channel 1", "channels 3+4", "file take.wav", "signal sine 220")."""

    name: str
    monitored: bool
    clip: bool
    source: str


@dataclass(frozen=True)
class CandidateView:
    """One candidate of a batch. `status` is one of `CANDIDATE_STATUSES`; `progress`
    0..1 while rendering; `reason` why it failed; `label` e.g. its archetype, or "";
    `stage` what it waits on while rendering, e.g. "loading model" (a model generator's
    weights, seconds on the first batch)."""

    index: int
    status: str
    progress: float
    reason: str | None
    key: str
    bars: int
    seed: int
    label: str
    stage: str = ""


@dataclass(frozen=True)
class BatchView:
    """The latest batch for `role`."""

    role: str
    batch_id: str
    generator: str
    candidates: tuple[CandidateView, ...]


@dataclass(frozen=True)
class QueueItem:
    """A stem on a track: "queued" to start at sample `start_sample` (1-based `bar`), or
    "playing" since then. A generated stem also has the name a performer knows it by,
    `candidate` ("bass #3", whichever take of it plays) and its `label` (or "")."""

    track: str
    stem: str
    start_sample: int
    bar: int
    state: str
    candidate: str = ""
    label: str = ""


@dataclass(frozen=True)
class SetView:
    """Everything the stage screen shows at one moment."""

    # the engine
    session: str
    backend: str
    device: str
    latency_ms: float
    xruns: int
    cpu: float  # 0..1
    realtime: int  # the audio thread's real-time priority; 0 normal scheduling, -1 unknown
    faults: int
    # musical time
    samplerate: int
    position: int  # sample
    bpm: float
    meter: str
    key: str
    chords: tuple[str, ...]  # one a bar, repeating
    bar: int
    beat_in_bar: float
    beats_per_bar: int
    phrase: int
    bar_in_phrase: int
    phrase_bars: int
    samples_to_boundary: int  # to the next phrase boundary
    sync: str  # where the tempo comes from: "internal", "MIDI clock: <port>", "band: drums"...
    locked: bool  # whether hoot is locked to it (always, on its own tempo)
    # the mix
    tracks: tuple[TrackLevel, ...]
    master: TrackLevel
    limiter_db: float  # gain reduction, 0 or below
    recording: bool
    # generation and what plays
    batches: tuple[BatchView, ...]
    selected_role: str | None
    selected_index: int
    queue: tuple[QueueItem, ...]
    engine_alive: bool
    ceiling_db: float = -0.3  # the master limiter's ceiling: the clip lamps light there
    muted: tuple[str, ...] = ()  # the tracks muted now
    soloed: tuple[str, ...] = ()  # the tracks soloed now
    inputs: tuple[InputView, ...] = ()  # the live inputs, whose levels close `tracks`
    # following a band: the tracker's "listening", "locked" or "holding", and how sure it is
    sync_state: str = ""  # "" for the other sources
    confidence: float | None = None  # 0..1
    # the real-time layer's running models (issue 12): what each does, its latency, its notes
    models: tuple[ModelStatus, ...] = ()
    # the tracks a keyboard plays, keys first (perf.played): what the layer can answer
    played: tuple[str, ...] = ()


SILENT = (0.0, 0.0)

EMPTY = SetView(
    session="",
    backend="",
    device="",
    latency_ms=0.0,
    xruns=0,
    cpu=0.0,
    realtime=-1,
    faults=0,
    samplerate=48000,
    position=0,
    bpm=120.0,
    meter="4/4",
    key="",
    chords=(),
    bar=0,
    beat_in_bar=0.0,
    beats_per_bar=4,
    phrase=0,
    bar_in_phrase=0,
    phrase_bars=4,
    samples_to_boundary=384000,  # 16 beats at 120 BPM, 48 kHz
    sync="internal",
    locked=True,
    tracks=(),
    master=TrackLevel("master", SILENT, SILENT),
    limiter_db=0.0,
    recording=False,
    batches=(),
    selected_role=None,
    selected_index=0,
    queue=(),
    engine_alive=True,
)
