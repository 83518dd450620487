"""An engine link for perf's audio models without JACK: the offline engine in this process,
made to look live, answering the issue-13 commands (contract A) the way the engine does.

`ModelAudio(name)` takes an input row for the model's output (here a quiet signal input of
that name, so Mix, meters and State address it as the engine's return row would) and
replies with its AudioSlot; `State` lists it with source "model"; `Compensate` is kept.
Every command is logged in `sent`, so a test reads what perf asked of the engine. Where the
protocol has no ModelAudio yet (before the engine's part is merged), stand-ins of the
contract's shape are installed by `contract_commands`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from hoot.engine import protocol as p
from hoot.engine.client import LocalEngine
from hoot.errors import EngineError


@dataclass(frozen=True)
class _ModelAudio:
    name: str
    on: bool = True


@dataclass(frozen=True)
class _Compensate:
    samples: int


def contract_commands(monkeypatch) -> None:
    """p.ModelAudio and p.Compensate, the contract's, where the protocol lacks them."""
    if not hasattr(p, "ModelAudio"):
        monkeypatch.setattr(p, "ModelAudio", _ModelAudio, raising=False)
    if not hasattr(p, "Compensate"):
        monkeypatch.setattr(p, "Compensate", _Compensate, raising=False)


class AudioRig(LocalEngine):
    """The offline engine, live-looking, with model rows (see the module docstring)."""

    offline = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[Any] = []
        self.models: dict[str, Any] = {}  # name -> its AudioSlot
        self.compensate = 0

    def send(self, command: p.Command) -> Any:
        self.sent.append(command)
        if isinstance(command, p.ModelAudio):
            return self._model_audio(command)
        if isinstance(command, p.Compensate):
            if not 0 <= command.samples <= 16384:
                raise EngineError(f"compensation of {command.samples} samples is out of range")
            self.compensate = command.samples
            return SimpleNamespace(samples=command.samples)
        reply = super().send(command)
        if isinstance(command, p.State):
            inputs = tuple(
                dataclasses.replace(i, source="model") if i.name in self.models else i
                for i in reply.inputs
            )
            reply = dataclasses.replace(reply, inputs=inputs)
        return reply

    def _model_audio(self, c: Any) -> Any:
        if not c.on:
            if self.models.pop(c.name, None) is not None:
                super().send(p.RemoveInput(name=c.name))
            return SimpleNamespace(path="", row=0, track=0, ring="", samplerate=48000, block=0)
        if c.name not in self.models:
            track = super().send(p.AddInput(name=c.name, channels=(), file="",
                                            signal="sine 220", monitor=True))  # fmt: skip
            ring = super().send(p.Inputs()).ring
            self.models[c.name] = SimpleNamespace(
                path=f"/tmp/return-{c.name}", row=track.row, track=track.track, ring=ring,
                samplerate=self.info.samplerate, block=256,
            )  # fmt: skip
        return self.models[c.name]

    def asked(self, kind: type) -> list[Any]:
        return [c for c in self.sent if isinstance(c, kind)]
