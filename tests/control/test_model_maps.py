"""Knobs on a model's latent controls (issue 13): "TRACK.noise", "TRACK.scale", "TRACK.mix",
"TRACK.walk", "TRACK.bias1".."TRACK.bias8" on the track of a transfer, drone or echo. The
engine is the contract-shaped link of tests/realtime/audio_rig.py and the voice the
torch-free fake, so what reaches the voice and the session is read exactly; the knob is a
virtual MIDI port on the JACK server, as in test_maps.py."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator

import pytest

import hoot.performance as performance
from hoot.control.maps import make_map
from hoot.errors import HootError
from hoot.midi.ports import MidiPorts
from hoot.realtime.layer import RealtimeLayer
from hoot.session import Session
from hoot.stage import Stage
from tests.realtime.audio_rig import AudioRig, contract_commands
from tests.realtime.test_transfer_perf import rave_stub, told, voice
from tests.waiting import wait_until

VOICE = (sys.executable, "-m", "tests.realtime.fake_audio_voice")


def test_latent_targets_exist_only_on_a_models_track() -> None:
    tracks, models = ("bass", "trombone", "trombone~"), ("trombone~",)
    noise = make_map(21, "trombone~.noise", tracks, models=models)
    assert (noise.low, noise.high) == (0.0, 1.0)
    bias = make_map(22, "trombone~.bias8", tracks, models=models)
    assert (bias.low, bias.high) == (-2.0, 2.0) and not bias.toggles
    assert make_map(23, "trombone~.scale", tracks, models=models).high == 2.0
    assert make_map(24, "trombone~.gain", tracks, models=models).to == "trombone~.gain"
    with pytest.raises(HootError, match=r"'bass.noise': noise is a control of a model that "
                                        r"sounds, and no transfer, drone or echo plays 'bass' "
                                        r"\(they play: trombone~\)"):  # fmt: skip
        make_map(21, "bass.noise", tracks, models=models)
    with pytest.raises(HootError, match="cannot drive 'trombone~.bias9'.*bias1..bias8"):
        make_map(21, "trombone~.bias9", tracks, models=models)


@pytest.fixture
def rig(jack_server, tmp_path, monkeypatch) -> Iterator[Stage]:
    contract_commands(monkeypatch)
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setattr(performance, "EMBEDDED_AUDIO", rave_stub(folder / "rave-hoot.ts"))
    session = Session(tmp_path / "set")
    stage = Stage(session, AudioRig(session_dir=session.dir))
    stage.said = []
    stage.on_message = stage.said.append
    stage.perf._realtime = RealtimeLayer(stage.perf.say, command=VOICE)
    stage.perf.input("trombone", signal="sine 220")
    try:
        yield stage
    finally:
        stage.close()


@pytest.fixture
def knobs(jack_server) -> Iterator:
    with MidiPorts(api="jack") as ports:
        name = f"nanoKONTROL2-{uuid.uuid4().hex[:6]}"
        port = ports.virtual_output(f"{name}:{name} MIDI 1")
        port.label = name
        yield port


def test_knobs_steer_a_transfers_latent_live_and_the_session_keeps_it(rig, knobs) -> None:
    perf = rig.perf
    perf.transfer("trombone")
    pid = voice(perf, "trombone~")["pid"]
    perf.midi.map(cc=21, to="trombone~.noise", port=knobs.label)
    perf.midi.map(cc=22, to="trombone~.bias2", port=knobs.label)
    with pytest.raises(HootError, match="a transfer has no walk"):
        perf._steer("trombone~", "walk", 0.5)
    knobs.send(bytes([0xB0, 21, 127]))
    knobs.send(bytes([0xB0, 22, 0]))
    assert wait_until(lambda: any(c.get("noise") == 1.0 for c in told(perf, "trombone~", "set"))
                      and any(c.get("bias") == [0.0, -2.0]
                              for c in told(perf, "trombone~", "set")))  # fmt: skip
    assert voice(perf, "trombone~")["pid"] == pid, "steered, not restarted"
    saved = lambda: perf.session.read_settings()["realtime"]["transfer"]["trombone~"]  # noqa: E731
    assert wait_until(lambda: saved().get("noise") == 1.0 and saved().get("bias") == [0.0, -2.0])
    assert perf.model("trombone~").settings["bias"] == [0.0, -2.0]


def test_a_saved_latent_map_comes_back_before_its_model_plays_again(rig) -> None:
    perf = rig.perf
    perf.transfer("trombone")
    perf.midi.map(cc=21, to="trombone~.noise")
    perf.model("trombone~").stop()
    perf.session.update_settings(realtime={"transfer": {"trombone~": {"source": "trombone"}}})
    perf.midi.restore()  # a new stage restores the maps; the transfer is saved to return
    assert [m.to for m in perf.midi.maps] == ["trombone~.noise"]
