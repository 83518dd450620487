"""perf.transfer, perf.drone, perf.echo and perf.compensate (issue 13, contract E) against an
engine link that answers the contract's commands (tests/realtime/audio_rig.py) and a voice
that speaks the layer's protocol without torch (tests/realtime/fake_audio_voice.py): what
perf asks of the engine and tells the voices, what the performer reads, what the session
keeps. The real engine, voice and model meet in the JACK tests of those parts."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import hoot.performance as performance
from hoot.engine import protocol as p
from hoot.errors import HootError
from hoot.performance import ModelTrack, Performance
from hoot.realtime.layer import RealtimeLayer
from hoot.session import Session
from hoot.stage import Stage
from tests.realtime.audio_rig import AudioRig, contract_commands
from tests.waiting import wait_until

VOICE = (sys.executable, "-m", "tests.realtime.fake_audio_voice")


def rave_stub(path: Path) -> Path:
    """A file laid out as torch.jit.save lays out a RAVE model (code/ with encode and
    decode), which hoot's torch-free reader recognises; the fake voice never loads it."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{path.stem}/code/__torch__/rave.py",
                   "def encode(self, x): ...\ndef decode(self, z): ...\n")  # fmt: skip
        z.writestr(f"{path.stem}/data.pkl", b"")
    return path


@pytest.fixture
def models(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("rave-hoot-240", "violin-480", "slow-960"):
        rave_stub(folder / f"{name}.ts")
    (folder / "notes.ckpt").write_bytes(b"not a zip")
    monkeypatch.setattr(performance, "MODELS_DIR", folder)
    monkeypatch.setattr(performance, "EMBEDDED_AUDIO", folder / "rave-hoot-240.ts")
    return folder


def open_perf(rig: AudioRig, session: Session) -> Performance:
    perf = Performance(rig, session)
    perf._realtime = RealtimeLayer(perf.say, command=VOICE)
    return perf


@pytest.fixture
def rig(tmp_path, models, monkeypatch) -> Iterator[tuple[Performance, AudioRig]]:
    contract_commands(monkeypatch)
    session = Session(tmp_path / "set")
    engine = AudioRig(session_dir=session.dir)
    perf = open_perf(engine, session)
    perf.input("trombone", signal="sine 220")
    try:
        yield perf, engine
    finally:
        perf.close()
        engine.close()


def voice(perf: Performance, name: str) -> dict:
    """The newest heartbeat of the voice on `name`, once it beats."""
    assert wait_until(lambda: perf._realtime._voices.get(name) is not None
                      and perf._realtime._voices[name].status.get("start")), name  # fmt: skip
    return perf._realtime._voices[name].status


def told(perf: Performance, name: str, cmd: str) -> list[dict]:
    return [c for c in voice(perf, name)["told"] if c["cmd"] == cmd]


def test_a_transfer_plays_on_a_track_of_its_own_mixed_like_an_input(rig) -> None:
    perf, engine = rig
    live = perf.transfer("trombone", mix=0.7, noise=0.2)
    assert [(c.name, c.on) for c in engine.asked(p.ModelAudio)] == [("trombone~", True)]
    track = perf.tracks["trombone~"]
    assert isinstance(track, ModelTrack)
    track.gain, track.pan = -6.0, 0.25
    assert perf._state().tracks["trombone~"].gain == -6.0
    start = voice(perf, "trombone~")["start"]
    row = {i.name: i.row for i in perf._state().inputs}["trombone"]
    assert start["kind"] == "transfer" and start["source_row"] == row
    assert start["audio"]["path"] == "/tmp/return-trombone~"
    assert start["audio"]["row"] == engine.models["trombone~"].row
    assert start["model"].endswith("rave-hoot-240.ts")
    assert start["settings"] == {"mix": 0.7, "bias": 0.0, "scale": 1.0, "noise": 0.2,
                                 "latency": None}  # fmt: skip
    assert {"beat_s", "beat_sample", "phrase_sample", "phrase_beats"} <= set(start["clock"])
    assert wait_until(lambda: perf.models and perf.models[0].latency_ms is not None)
    (status,) = perf.models
    assert status.kind == "transfer" and status.latency_samples == 240
    assert status.line() == ("trombone~  transfers trombone -> rave-hoot-240, 5.0 ms  "
                             "p50 0.8 p95 1.4 ms  -14 dB")  # fmt: skip
    assert live.status == status and "5.0 ms" in repr(live)
    saved = perf.session.read_settings()["realtime"]["transfer"]["trombone~"]
    assert saved == {"source": "trombone", "mix": 0.7, "noise": 0.2}
    with pytest.raises(HootError, match=r"trombone~ plays while its transfer plays"):
        track.stop()


def test_the_latent_controls_change_live_without_a_restart(rig) -> None:
    perf, engine = rig
    live = perf.transfer("trombone", name="bone")
    pid = voice(perf, "bone")["pid"]
    live.set(noise=0.5, bias=[0.3, -1.0], mix=0.4)
    assert wait_until(lambda: told(perf, "bone", "set"))
    (change,) = told(perf, "bone", "set")
    assert change["noise"] == 0.5 and change["bias"] == [0.3, -1.0] and change["mix"] == 0.4
    assert voice(perf, "bone")["pid"] == pid
    assert len(engine.asked(p.ModelAudio)) == 1, "the same row: no new slot"
    saved = perf.session.read_settings()["realtime"]["transfer"]["bone"]
    assert saved["bias"] == [0.3, -1.0] and saved["mix"] == 0.4
    with pytest.raises(HootError, match="a transfer takes mix, bias, scale, noise, model; "
                                        "not walk"):  # fmt: skip
        live.set(walk=0.5)
    perf._steer("bone", "bias3", 0.5)  # a knob: sent at once, saved when it rests
    assert wait_until(lambda: len(told(perf, "bone", "set")) == 2)
    assert told(perf, "bone", "set")[1]["bias"] == [0.3, -1.0, 0.5]
    assert perf.session.read_settings()["realtime"]["transfer"]["bone"]["bias"] == [0.3, -1.0]
    perf._steer("bone", "bias3", 0.5, save=True)
    assert perf.session.read_settings()["realtime"]["transfer"]["bone"]["bias"] == [
        0.3, -1.0, 0.5]  # fmt: skip
    live.set(model="violin-480")  # a new model: a new voice on the same track
    assert wait_until(lambda: voice(perf, "bone")["pid"] != pid)
    assert voice(perf, "bone")["start"]["settings"]["bias"] == [0.3, -1.0, 0.5]
    assert "bone" in perf.tracks and perf.model("bone") is not live


def test_stopping_gives_the_row_back_and_forgets_it(rig) -> None:
    perf, engine = rig
    live = perf.transfer("trombone")
    voice(perf, "trombone~")
    live.stop()
    assert wait_until(lambda: ("trombone~", False) in
                      [(c.name, c.on) for c in engine.asked(p.ModelAudio)])  # fmt: skip
    assert wait_until(lambda: "trombone~" not in perf.tracks)
    assert perf.models == [] and perf.model("trombone~") is None
    assert not perf.session.read_settings().get("realtime", {}).get("transfer")


def test_every_bad_input_is_one_sentence(rig, monkeypatch) -> None:
    perf, _ = rig
    cases = [
        (lambda: perf.transfer("trombon"),
         r"'trombon' is not one \(inputs: trombone\); perf.input\('trombon', channel=1\) makes"),
        (lambda: perf.transfer("bass"), "transfer hears a live input, and 'bass' is not one"),
        (lambda: perf.echo("keys"), "echo hears a live input, and 'keys' is not one"),
        (lambda: perf.transfer("trombone", model="cello"),
         "no model 'cello': models/ has rave-hoot-240, slow-960, violin-480, or give a path"),
        (lambda: perf.transfer("trombone", model="notes.ckpt"), "notes.ckpt is not a RAVE"),
        (lambda: perf.transfer("trombone", mix=2), "mix goes from 0 to 1, not 2"),
        (lambda: perf.transfer("trombone", bias="up"), "bias is a number, or a list"),
        (lambda: perf.transfer("trombone", noise=-1), "noise is 0 \\(none\\) or more"),
        (lambda: perf.transfer("trombone", name="bass"), "bass is a generated track"),
        (lambda: perf.transfer("trombone", name="trombone"), "trombone is an input"),
        (lambda: perf.drone(change="bar"), 'change is "phrase"'),
        (lambda: perf.drone(level=20), "level is dB from -60 to \\+6"),
        (lambda: perf.echo("trombone", bars=0), "bars is a whole number from 1 to 64"),
    ]
    for call, sentence in cases:
        with pytest.raises(HootError, match=sentence):
            call()
    perf.drone(name="bed")
    with pytest.raises(HootError, match="bed already plays drones from rave-hoot-240"):
        perf.transfer("trombone", name="bed")
    with pytest.raises(HootError, match="bed is the track a drone plays"):
        perf.input("bed", signal="noise")
    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "torch" else found(n, *a)
    )
    with pytest.raises(HootError, match=r"transfer needs torch: pip install 'hoot\[neural\]'"):
        perf.transfer("trombone")


def test_an_offline_set_says_models_that_sound_play_live(tmp_path, models) -> None:
    stage = Stage.offline(Session(tmp_path / "offline"))
    try:
        for call in (lambda: stage.perf.transfer("trombone"), stage.perf.drone,
                     lambda: stage.perf.echo("keys")):  # fmt: skip
            with pytest.raises(HootError, match="plays live, and this set renders offline"):
                call()
    finally:
        stage.close()


def test_an_unshipped_embedded_model_says_what_models_has(rig, models, monkeypatch) -> None:
    perf, _ = rig
    monkeypatch.setattr(performance, "EMBEDDED_AUDIO", models / "rave-hoot.ts")
    with pytest.raises(HootError, match=r"the model hoot ships \(rave-hoot.ts\) is not in "
                                        "models/ here; give one with model=: models/ has"):
        perf.transfer("trombone")


def test_compensation_follows_the_slowest_transfer(rig) -> None:
    perf, engine = rig
    perf.input("sax", signal="sine 330")
    perf.transfer("trombone", model="violin-480")
    assert wait_until(lambda: perf.models and perf.models[0].latency_samples == 480)
    assert engine.compensate == 0, "off by default: nothing waits"
    perf.compensate = True
    assert engine.compensate == 480
    slow = perf.transfer("sax", model="slow-960")
    assert wait_until(lambda: engine.compensate == 960), "a slower one: the mix waits more"
    perf.drone()  # a drone hears nothing: nothing to line up
    slow.stop()
    assert wait_until(lambda: engine.compensate == 480), "it left: the mix waits less"
    assert perf.session.read_settings()["realtime"]["compensate"] is True
    perf.compensate = False
    assert engine.compensate == 0
    with pytest.raises(HootError, match="perf.compensate is True or False"):
        perf.compensate = "yes"


def test_drones_and_echoes_hear_the_clock_and_drones_the_vibe(rig) -> None:
    perf, engine = rig
    perf.vibe(energy=0.2, brightness=0.9)
    drone = perf.drone(walk=0.5, lfo=16)
    echo = perf.echo("trombone", bars=2, walk=0.25)
    assert echo.out == "trombone~echo" and isinstance(perf.tracks["trombone~echo"], ModelTrack)
    start = voice(perf, "drone")["start"]
    assert start["settings"] == {"walk": 0.5, "lfo": 16.0, "change": "phrase", "level": -12.0,
                                 "energy": 0.2, "brightness": 0.9, "key": perf.key}  # fmt: skip
    assert "source_row" not in start
    assert voice(perf, "trombone~echo")["start"]["settings"] == {"bars": 2, "walk": 0.25,
                                                                  "mix": 1.0}  # fmt: skip
    perf.vibe(energy=0.8)
    assert wait_until(lambda: told(perf, "drone", "set"))
    assert told(perf, "drone", "set")[-1] | {"energy": 0.8, "brightness": 0.9} == told(
        perf, "drone", "set")[-1]  # fmt: skip
    perf.tempo = 90
    for name in ("drone", "trombone~echo"):
        assert wait_until(lambda name=name: told(perf, name, "clock"))
        assert told(perf, name, "clock")[-1]["beat_s"] == pytest.approx(60 / 90)
    assert told(perf, "trombone~echo", "set") == [], "an echo has no vibe"
    perf.key = "D minor"  # a drone whose model has a pitch dim holds the key's tonic
    assert wait_until(lambda: any(m.get("key") == "D minor" for m in told(perf, "drone", "set")))
    assert told(perf, "trombone~echo", "set") == [], "an echo has no key"
    drone.set(walk=0.9, change=None)
    assert wait_until(lambda: len(told(perf, "drone", "set")) == 3)
    assert told(perf, "drone", "set")[-1]["change"] is None
    assert perf.session.read_settings()["realtime"]["drone"]["drone"]["change"] is False


def test_a_new_ui_arms_the_saved_models_again_on_the_same_rows(rig, tmp_path) -> None:
    perf, engine = rig
    perf.transfer("trombone", mix=0.5, bias=[1.0])
    perf.drone(walk=0.1)
    perf.tracks["trombone~"].gain = -9.0
    perf.compensate = True
    assert wait_until(lambda: engine.compensate == 240)
    rows = {name: slot.row for name, slot in engine.models.items()}
    perf.close()  # the UI quits; the engine plays on, its model rows with it
    again = open_perf(engine, perf.session)
    try:
        again.adopt(engine.send(p.State()))
        assert isinstance(again.tracks["trombone~"], ModelTrack)
        assert not any(t.name == "trombone~" for t in again.tracks.inputs)
        assert {name: slot.row for name, slot in engine.models.items()} == rows
        start = voice(again, "trombone~")["start"]
        assert start["settings"]["mix"] == 0.5 and start["settings"]["bias"] == [1.0]
        assert voice(again, "drone")["start"]["settings"]["walk"] == 0.1
        assert again._state().tracks["trombone~"].gain == -9.0
        assert again.compensate and wait_until(lambda: engine.compensate == 240)
        assert any("the transfer on trombone~ plays again" in m for m in again.messages)
    finally:
        again.close()


def test_a_stale_model_row_is_given_back_when_nothing_saved_plays_it(rig) -> None:
    perf, engine = rig
    perf.transfer("trombone")
    perf.close()
    perf.session.update_settings(realtime={"transfer": None})  # forgotten meanwhile
    again = open_perf(engine, perf.session)
    try:
        again.adopt(engine.send(p.State()))
        assert "trombone~" not in engine.models and "trombone~" not in again.tracks
    finally:
        again.close()
