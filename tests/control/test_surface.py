"""Controllers as plug-ins: found through the `hoot.controllers` entry points, without
touching or reinstalling hoot, and attached to a live stage from their MIDI port."""

from __future__ import annotations

import textwrap
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hoot.control.surface import (
    HOOTS_OWN,
    Controller,
    ControllerRig,
    controller_classes,
    identity_of,
)
from hoot.engine.client import EngineClient
from hoot.midi.ports import MidiPorts
from hoot.session import Session
from hoot.stage import Stage
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]

GRID = '''
from hoot.control.surface import Controller


class AcmeGrid(Controller):
    """A grid from another package: lights its first pad while a candidate is ready."""

    name = "Acme Grid"
    port = "ACME Grid"

    def attach(self, stage):
        super().attach(stage)
        self.views = 0
        self.presses = []

    def draw(self, view):
        self.views += 1
        ready = any(c.status == "ready" for b in view.batches for c in b.candidates)
        self.send(bytes([0x90, 0, 127 if ready else 0]))

    def receive(self, message, arrived):
        self.presses.append(message)
'''


def plug_in(folder: Path, entry: str, module: str = "", source: str = "") -> None:
    """Install a package the way pip would leave it: a module and a *.dist-info beside it."""
    if module:
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
    info = folder / "acme_grid-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-grid\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[hoot.controllers]\n{entry}\n")


def test_hoots_own_launchpad_is_registered_as_a_plug_in_too():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["hoot.controllers"] == HOOTS_OWN
    assert controller_classes()["launchpad_pro_mk3"].name == "Launchpad Pro MK3"


def test_a_controller_from_another_package_is_found_without_reinstalling_hoot(
    tmp_path, monkeypatch
):
    plug_in(tmp_path, "acme_grid = acme_grid:AcmeGrid", "acme_grid", GRID)
    monkeypatch.syspath_prepend(str(tmp_path))
    classes = controller_classes()
    assert classes["acme_grid"].name == "Acme Grid"
    assert issubclass(classes["acme_grid"], Controller)
    assert "launchpad_pro_mk3" in classes


def test_a_plug_in_that_does_not_load_is_left_out_in_one_sentence(tmp_path, monkeypatch):
    plug_in(tmp_path, "acme_grid = acme_grid_missing:AcmeGrid")
    monkeypatch.syspath_prepend(str(tmp_path))
    said: list[str] = []
    classes = controller_classes(said.append)
    assert "acme_grid" not in classes and "launchpad_pro_mk3" in classes
    assert len(said) == 1 and said[0].startswith("the controller plug-in acme_grid")


def test_identity_replies_are_read_strictly():
    reply = bytes.fromhex("F0 7E 00 06 02 00 20 29 23 01 00 00 00 04 06 05 F7")
    assert identity_of(reply) == bytes.fromhex("00 20 29 23 01")
    assert identity_of(reply[:-3]) is None, "cut short"
    assert identity_of(reply[:9] + reply) is None, "run into the next message"
    assert identity_of(bytes.fromhex("F0 7E 7F 06 01 F7")) is None, "the request itself"


@pytest.fixture
def stage(tmp_path, jack_server) -> Iterator[Stage]:
    session = Session(tmp_path / "friday")
    s = Stage.live(session, backend="null", idle_timeout=30)
    yield s
    s.close()
    try:
        EngineClient(session.dir).shutdown()
    except Exception:  # noqa: BLE001 - already gone
        pass


def test_a_plugged_in_grid_attaches_mid_set_draws_the_stage_and_is_let_go_at_the_end(
    tmp_path, monkeypatch, stage
):
    plug_in(tmp_path, "acme_grid = acme_grid:AcmeGrid", "acme_grid", GRID)
    monkeypatch.syspath_prepend(str(tmp_path))
    said: list[str] = []
    stage.on_message = said.append
    lights: list[bytes] = []
    got = threading.Event()
    with MidiPorts(api="jack") as studio:
        rig = stage.start_controllers(poll=0.1)
        assert isinstance(rig, ControllerRig) and not rig.attached
        # plugged in after the set started
        studio.virtual_input("acme:ACME Grid", lambda m, t: (lights.append(m), got.set()))
        pads = studio.virtual_output("acme:ACME Grid")
        assert wait_until(lambda: rig.attached)
        grid = rig.controllers()[0]
        assert grid.name == "Acme Grid" and said[0].startswith("Acme Grid attached on acme")
        assert got.wait(10) and wait_until(lambda: grid.views > 3)
        stage.perf.generate("bass", n=1, bars=1, seed=2).wait(timeout=60)
        assert wait_until(lambda: lights and lights[-1] == bytes([0x90, 0, 127]))
        pads.send(bytes([0x90, 1, 100]))
        assert wait_until(lambda: grid.presses == [bytes([0x90, 1, 100])])
        stage.close()
        assert not rig.attached and grid.draw not in stage.viewers


def test_with_no_midi_at_all_the_set_goes_on_and_nothing_reaches_the_screen(
    tmp_path, monkeypatch, capfd
):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "no-such-server")
    monkeypatch.setenv("HOOT_MIDI_API", "jack")  # and no JACK server: no MIDI here
    stage = Stage.offline(Session(tmp_path / "quiet"))
    said: list[str] = []
    stage.on_message = said.append
    try:
        rig = stage.start_controllers()
        rig._thread.join(30)
        assert not rig._thread.is_alive() and rig.ports is None and not rig.attached
        assert said == []
    finally:
        stage.close()
    err = capfd.readouterr().err
    assert "jack" not in err.lower() and "ALSA" not in err, "libjack and ALSA kept quiet"
