"""A perf that stands in for the real-time layer's API (issue 12): what the stage's actions
and the Launchpad call, with models that appear as the layer lists them."""

from __future__ import annotations

from dataclasses import replace

from hoot.errors import HootError
from hoot.realtime.status import ModelStatus


class FakeLive:
    def __init__(self, perf: FakeLayerPerf, name: str) -> None:
        self.perf, self.name = perf, name

    def stop(self, at: str = "phrase") -> None:
        self.perf.calls.append(("stop", self.name))
        self.perf.models = [m for m in self.perf.models if m.name != self.name]

    def set(self, **params) -> FakeLive:
        return self.perf.improvise(self.name, **params)


class FakeLayerPerf:
    """perf.harmonize / perf.improvise / perf.model / perf.models; `audio` names tracks no
    keyboard plays, which the layer refuses in one sentence."""

    def __init__(self, audio: tuple[str, ...] = ()) -> None:
        self.models: list[ModelStatus] = []
        self.calls: list[tuple] = []
        self.audio = audio

    def harmonize(self, track: str | None, *args, **kwargs) -> FakeLive | None:
        self.calls.append(("harmonize", track, *args))
        if args and args[0] is None:
            self.models = [m for m in self.models if track not in m.hears]
            return None
        if track in self.audio:
            raise HootError(f"{track} is audio: harmonize a track a keyboard plays")
        self.models.append(
            status("harmony", f"harmonizes {track}: 2 voices below, strings", "harmonize", track)
        )
        return FakeLive(self, "harmony")

    def improvise(self, track: str = "lead", *, listen=None, **kwargs) -> FakeLive:
        self.calls.append(("improvise", track, tuple(listen or ())))
        for heard in listen or ():
            if heard in self.audio:
                raise HootError(f"{heard} is audio: an improviser hears keyboards")
        self.models = [m for m in self.models if m.name != track]
        self.models.append(status(track, f"improvises on {track}", "improvise", *(listen or ())))
        return FakeLive(self, track)

    def model(self, track: str) -> FakeLive | None:
        return FakeLive(self, track) if any(m.name == track for m in self.models) else None

    def fail(self, name: str) -> None:
        self.models = [replace(m, state="failed") if m.name == name else m for m in self.models]


def status(name: str, does: str, kind: str = "harmonize", *hears: str,
           state: str = "running") -> ModelStatus:  # fmt: skip
    return ModelStatus(
        name, does, "notochord-hoot (embedded)", state, 1.2, 1.9, (), 0, 0, kind, hears
    )
