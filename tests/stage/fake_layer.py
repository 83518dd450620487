"""A perf that stands in for the real-time layer's API (issue 12's contract D): what the
stage's actions and the Launchpad call, with models that appear as the layer lists them."""

from __future__ import annotations

from dataclasses import replace

from hoot.errors import HootError
from hoot.realtime.status import ModelStatus


class FakeLive:
    def __init__(self, perf: FakeLayerPerf, name: str) -> None:
        self.perf, self.name = perf, name

    def stop(self) -> None:
        self.perf.calls.append(("stop", self.name))
        self.perf.models = [m for m in self.perf.models if m.name != self.name]


class FakeLayerPerf:
    """perf.harmonize / perf.improvise / perf.models, as the contract has them; `audio`
    names input tracks that have no notes, which the layer refuses in one sentence."""

    def __init__(self, audio: tuple[str, ...] = ()) -> None:
        self.models: list[ModelStatus] = []
        self.calls: list[tuple] = []
        self.audio = audio

    def harmonize(self, track: str | None, *args, **kwargs) -> FakeLive | None:
        self.calls.append(("harmonize", track, *args))
        if args and args[0] is None:
            self.models = [m for m in self.models if not m.does.startswith(f"harmonizes {track}")]
            return None
        if track in self.audio:
            raise HootError(f"{track} is audio: harmonize a track a keyboard plays")
        self.models.append(status("harmony", f"harmonizes {track}: 2 voices below, strings"))
        return FakeLive(self, "harmony")

    def improvise(self, track: str = "lead", **kwargs) -> FakeLive:
        self.calls.append(("improvise", track))
        if track in self.audio:
            raise HootError(f"{track} is audio: an improviser plays on a track with a synth")
        self.models.append(status(track, f"improvises on {track}: density 0.5"))
        return FakeLive(self, track)

    def fail(self, name: str) -> None:
        self.models = [replace(m, state="failed") if m.name == name else m for m in self.models]


def status(name: str, does: str, state: str = "running") -> ModelStatus:
    return ModelStatus(name, does, "notochord-hoot (embedded)", state, 1.2, 1.9, (), 0, 0)
