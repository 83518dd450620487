"""What a running model is doing, as the screen, the Launchpad and `perf.models` show it.

Torch-free and small on purpose: the layer (hoot/realtime/layer.py) builds one
`ModelStatus` per running model from its voice process's heartbeat (every 0.25 s), and the
stage's watcher copies them into the SetView at 30 Hz, so a status must be cheap to make,
to compare and to print, and importing it must never pull in torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hoot.music.harmony import note_name

STATES = ("loading", "running", "restarting", "failed", "stopped")
AUDIO_KINDS = ("transfer", "drone", "echo")  # models whose output is audio on a track


@dataclass(frozen=True)
class ModelStatus:
    """One running model, as the performer sees it.

    `p50_ms`/`p95_ms` are the processing latency from a key's arrival to the model's answer
    written to the engine's note table (None until the first answer); `late` counts answers
    dropped for missing the 20 ms window; `restarts` counts voice-process restarts.

    An audio model (kind "transfer", "drone" or "echo": issue 13) has no notes; it shows
    `latency_ms`, the delay it declares between its input and its output (what
    perf.compensate delays the mix by: `latency_samples` at the engine's rate), its
    processing per block as p50/p95, `late` as samples the engine found unwritten and
    played as silence, and `level_db`, its output's peak over the last heartbeat."""

    name: str
    does: str
    model: str
    state: str
    p50_ms: float | None
    p95_ms: float | None
    playing: tuple[int, ...]
    late: int
    restarts: int
    kind: str = ""  # "harmonize" | "improvise"
    hears: tuple[str, ...] = ()  # the tracks whose keyboards it answers or listens to
    latency_samples: int | None = None  # an audio model's declared latency (engine samples)
    latency_ms: float | None = None  # the same in ms, at the engine's sample rate
    level_db: float | None = None  # an audio model's output peak (dBFS), last heartbeat

    @property
    def audio(self) -> bool:
        """Whether it sounds audio on a track of its own (transfer, drone, echo)."""
        return self.kind in AUDIO_KINDS

    def line(self) -> str:
        """One line a performer reads at a glance, e.g. "harmony  harmonizes keys: 2 voices
        below, strings  notochord-hoot  p50 1.2 p95 1.9 ms  E4 C4" (on one line); an audio
        model: "trombone~  transfers trombone -> rave-hoot, 5.3 ms  p50 0.9 p95 1.4 ms
        -14 dB"."""
        does = self.does
        if self.latency_ms:  # a transfer's; a drone or an echo has nothing to line up with
            does += f", {self.latency_ms:.1f} ms"
        parts = [self.name, does]
        if not self.audio:
            parts.append(self.model)
        if self.state != "running":
            parts.append(self.state)
        if self.p50_ms is not None and self.p95_ms is not None:
            parts.append(f"p50 {self.p50_ms:.1f} p95 {self.p95_ms:.1f} ms")
        if self.late:
            parts.append(f"{self.late} {'samples ' if self.audio else ''}late")
        if self.restarts:
            parts.append(f"{self.restarts} restart" + ("s" if self.restarts > 1 else ""))
        if self.playing:
            parts.append(" ".join(pitch_name(p) for p in self.playing))
        if self.level_db is not None and self.state == "running":
            parts.append(level_words(self.level_db))
        return "  ".join(parts)


def level_words(db: float) -> str:
    """An output peak as the screen shows it: "-14 dB", "silent" at -90 dBFS or below."""
    return "silent" if db <= -90.0 else f"{db:.0f} dB"


def pitch_name(pitch: int) -> str:
    """A MIDI pitch as a performer names it, middle C = C4: pitch_name(64) == 'E4'."""
    return f"{note_name(pitch % 12)}{pitch // 12 - 1}"


def serving(models: Sequence[ModelStatus], kind: str, track: str) -> ModelStatus | None:
    """The model of `kind` ("harmonize" or "improvise") that hears `track`'s keyboard, unless
    stopped: the harmonizer that answers it, the improviser that listens to it. The stage's
    actions and the Launchpad's bottom rows read it, so a model started from code lights its
    pad too."""
    for status in models:
        if status.state != "stopped" and status.kind == kind and track in status.hears:
            return status
    return None


def improviser_on(models: Sequence[ModelStatus], track: str) -> ModelStatus | None:
    """The improviser that plays `track`, unless stopped."""
    for status in models:
        if status.state != "stopped" and status.kind == "improvise" and status.name == track:
            return status
    return None


class Models(list):
    """perf.models: a list of ModelStatus that reads as one line a model in the console."""

    def __repr__(self) -> str:
        return "\n".join(m.line() for m in self) if self else "no models running"
