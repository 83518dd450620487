"""The layer keeps its voices alive: a voice that crashes, is killed or stalls is killed,
its notes ended, started again with its settings, and the performer reads one sentence;
three failures in 30 s leave it stopped. A stand-in voice (fake_voice.py) plays the part
of the model process, so these run in seconds and without torch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hoot.realtime.layer import RealtimeLayer
from tests.waiting import wait_until

FAKE = (sys.executable, str(Path(__file__).with_name("fake_voice.py")))
SLOT = {"path": "/dev/shm/hoot-test-notes", "slot": 3}


class Stage:
    """What the layer talks to: the performer's console and the engine's slot."""

    def __init__(self) -> None:
        self.said: list[str] = []
        self.released: list[tuple[str, int]] = []
        self.freed = 0

    def free(self) -> None:
        self.freed += 1


@pytest.fixture
def stage() -> Iterator[tuple[Stage, RealtimeLayer]]:
    s = Stage()
    layer = RealtimeLayer(
        s.said.append, release=lambda path, slot: s.released.append((path, slot)),
        command=FAKE, stall_s=0.5,
    )  # fmt: skip
    yield s, layer
    layer.close()


def harmonizer(layer: RealtimeLayer, stage: Stage, fake: str = "ok", **settings) -> None:
    layer.start(
        "harmony",
        {"kind": "harmonize", "track": "keys", "slot": SLOT,
         "settings": {"fake": fake, "voices": 2, **settings}},
        does="harmonizes keys: 2 voices below, pad", model="tiny (test)", on_gone=stage.free,
    )  # fmt: skip


def running(layer: RealtimeLayer, name: str = "harmony"):
    models = [m for m in layer.models if m.name == name]
    return models and models[0].state == "running"


def test_a_running_voice_shows_what_it_does_its_latency_and_what_it_plays(stage) -> None:
    s, layer = stage
    harmonizer(layer, s)
    assert wait_until(lambda: running(layer))
    (model,) = layer.models
    assert (model.name, model.does, model.model) == (
        "harmony",
        "harmonizes keys: 2 voices below, pad",
        "tiny (test)",
    )
    assert (model.p50_ms, model.p95_ms, model.playing, model.late) == (1.5, 2.5, (60, 64), 1)
    assert model.restarts == 0 and s.said == []


def test_a_killed_voice_is_released_restarted_with_its_settings_and_said_once(stage) -> None:
    s, layer = stage
    harmonizer(layer, s)
    assert wait_until(lambda: running(layer))
    layer.set("harmony", voices=3)
    first = layer.pid("harmony")
    released = len(s.released)
    os.kill(first, signal.SIGKILL)
    assert wait_until(lambda: layer.pid("harmony") not in (None, first) and running(layer))
    assert len(s.released) > released, "the supervisor ended the dead voice's notes"
    assert s.released[-1] == (SLOT["path"], SLOT["slot"])
    assert s.said == ["the harmonizer on keys crashed; restarted it"]
    (model,) = layer.models
    assert model.restarts == 1
    assert wait_until(
        lambda: layer._voices["harmony"].status.get("settings", {}).get("voices") == 3
    ), "the restarted voice has the settings changed live"
    assert s.freed == 0, "its slot stays the model's"


def test_a_stalled_voice_is_killed_and_restarted(stage) -> None:
    s, layer = stage
    harmonizer(layer, s)
    assert wait_until(lambda: running(layer))
    stalled = layer.pid("harmony")
    os.kill(stalled, signal.SIGSTOP)  # alive, but silent
    assert wait_until(lambda: layer.pid("harmony") not in (None, stalled) and running(layer))
    assert s.said == ["the harmonizer on keys stopped answering; restarted it"]
    with pytest.raises(ProcessLookupError):
        os.kill(stalled, 0)  # killed, and waited for


def test_three_failures_in_thirty_seconds_leave_it_stopped_with_one_sentence(stage) -> None:
    s, layer = stage
    harmonizer(layer, s, fake="crash")
    assert wait_until(lambda: layer.models[0].state == "failed")
    assert s.said == [
        "the harmonizer on keys crashed; restarted it",
        "the harmonizer on keys crashed; restarted it",
        "the harmonizer on keys crashed 3 times in 30 s; it stays stopped until you start it again",
    ]
    assert s.freed == 1, "its slot goes back to the engine once"
    assert layer.pid("harmony") is None


def test_a_voice_that_says_why_it_cannot_start_is_not_restarted(stage) -> None:
    s, layer = stage
    harmonizer(layer, s, fake="error")
    assert wait_until(lambda: layer.models[0].state == "failed")
    assert s.said == ["the harmonizer on keys stopped: no model at nowhere.ckpt"]
    assert layer.models[0].restarts == 0


def test_stopping_a_voice_ends_its_notes_and_frees_its_slot(stage) -> None:
    s, layer = stage
    harmonizer(layer, s)
    assert wait_until(lambda: running(layer))
    pid = layer.pid("harmony")
    layer.stop("harmony")
    assert layer.models == [] and s.freed == 1
    assert s.released[-1] == (SLOT["path"], SLOT["slot"])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert s.said == [], "a voice stopped on purpose is no news"


def test_close_stops_every_voice(stage) -> None:
    s, layer = stage
    harmonizer(layer, s)
    layer.start("lead", {"kind": "improvise", "slot": {"path": "x", "slot": 4}, "settings": {}},
                does="improvises", model="tiny", on_gone=s.free)  # fmt: skip
    assert wait_until(lambda: running(layer) and running(layer, "lead"))
    pids = [layer.pid("harmony"), layer.pid("lead")]
    layer.close()
    assert s.freed == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_the_language_side_of_the_layer_never_imports_torch() -> None:
    code = ("import sys, hoot.realtime.layer, hoot.realtime.status, hoot.performance; "
            "assert 'torch' not in sys.modules, 'torch imported'")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
