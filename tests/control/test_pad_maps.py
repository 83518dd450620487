"""Pads mapped like knobs (issue 13: a model's latent "mappable to knobs and pads"): a fake
pad controller (a virtual port on the JACK dummy server, as test_maps.py's knobs) sends
Note On with a velocity and Note Off on release; the offline engine's mixer, and the
stand-in voice of test_model_maps.py for a model's latent, follow."""

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


@pytest.fixture
def studio(jack_server) -> Iterator[MidiPorts]:
    with MidiPorts(api="jack") as ports:
        yield ports


@pytest.fixture
def pads(studio):
    """A fake Akai MPD218: a virtual output with a name no other test uses."""
    name = f"MPD218-{uuid.uuid4().hex[:6]}"
    port = studio.virtual_output(f"{name}:{name} MIDI 1")
    port.label = name
    return port


@pytest.fixture
def session(tmp_path) -> Session:
    return Session(tmp_path / "friday")


@pytest.fixture
def stage(jack_server, session) -> Iterator[Stage]:
    stage = Stage.offline(session)
    stage.said = []
    stage.on_message = stage.said.append
    yield stage
    stage.close()


def on(note: int, velocity: int, channel: int = 10) -> bytes:
    return bytes([0x90 + channel - 1, note, velocity])


def off(note: int, channel: int = 10) -> bytes:
    return bytes([0x80 + channel - 1, note, 0])


def cc(control: int, value: int, channel: int = 1) -> bytes:
    return bytes([0xB0 + channel - 1, control, value])


def saved_gain(session: Session, track: str) -> float | None:
    return session.read_settings().get("tracks", {}).get(track, {}).get("gain")


def test_a_pad_holds_the_gain_by_its_velocity_and_its_release_brings_it_back(stage, pads, session):
    perf = stage.perf
    perf.tracks.bass.gain = -10.0
    perf.midi.map(note=36, to="bass.gain", range=(-40, 6), port=pads.label)
    pads.send(on(36, 127))
    assert wait_until(lambda: perf.tracks.bass.gain == pytest.approx(6.0))
    pads.send(off(36))
    assert wait_until(lambda: perf.tracks.bass.gain == pytest.approx(-10.0))
    pads.send(on(36, 64))  # softer: part of the way
    assert wait_until(lambda: perf.tracks.bass.gain == pytest.approx(-40 + 46 * 64 / 127))
    pads.send(on(36, 0))  # a Note On of velocity 0 is a release too
    assert wait_until(lambda: perf.tracks.bass.gain == pytest.approx(-10.0))
    stage.close()
    assert saved_gain(session, "bass") == -10.0, "a held value is played, never saved"


def test_pads_held_together_the_last_pressed_wins_and_the_last_release_returns(stage, pads):
    perf = stage.perf
    perf.tracks.lead.pan = 0.25
    perf.midi.map(note=36, to="lead.pan", range=(-1, 1))
    perf.midi.map(note=37, to="lead.pan", range=(-1, 1))
    pads.send(on(36, 0x7F))  # hard right
    assert wait_until(lambda: perf.tracks.lead.pan == pytest.approx(1.0))
    pads.send(on(37, 0x01))  # nearly hard left: the last pressed wins
    assert wait_until(lambda: perf.tracks.lead.pan == pytest.approx(-1 + 2 / 127))
    pads.send(off(37))  # the one still held comes back
    assert wait_until(lambda: perf.tracks.lead.pan == pytest.approx(1.0))
    pads.send(on(37, 0x01))
    pads.send(off(36))  # released under the last pressed: nothing changes
    assert wait_until(lambda: perf.tracks.lead.pan == pytest.approx(-1 + 2 / 127))
    pads.send(off(37))  # the last released: back to before the first press
    assert wait_until(lambda: perf.tracks.lead.pan == pytest.approx(0.25))
    pads.send(off(37))  # a stray release moves nothing
    pads.send(on(36, 127))
    assert wait_until(lambda: perf.tracks.lead.pan == pytest.approx(1.0))


def test_a_knob_turned_under_a_held_pad_moves_what_the_release_returns_to(stage, pads, session):
    perf = stage.perf
    perf.midi.map(note=36, to="bass.gain", range=(-40, 6))
    perf.midi.map(cc=21, to="bass.gain", range=(-40, 6))
    pads.send(cc(21, 0, channel=1))
    assert wait_until(lambda: perf.tracks.bass.gain == pytest.approx(-40.0))
    pads.send(on(36, 127))
    assert wait_until(lambda: perf.tracks.bass.gain == pytest.approx(6.0))
    pads.send(cc(21, 82))  # while the pad holds +6
    knob = -40 + 46 * 82 / 127
    assert wait_until(lambda: stage.midi.runner._before.get("bass.gain") == pytest.approx(knob))
    assert perf.tracks.bass.gain == pytest.approx(6.0), "the pad still holds it"
    pads.send(off(36))
    assert wait_until(lambda: perf.tracks.bass.gain == pytest.approx(knob))
    assert wait_until(lambda: saved_gain(session, "bass") == pytest.approx(knob))


def test_a_pad_unmapped_while_held_lets_go(stage, pads):
    perf = stage.perf
    perf.tracks.bass.gain = -12.0
    perf.midi.map(note=36, to="bass.gain", range=(-40, 6))
    pads.send(on(36, 127))
    assert wait_until(lambda: perf.tracks.bass.gain == pytest.approx(6.0))
    assert perf.midi.unmap(note=36) == 1
    assert wait_until(lambda: perf.tracks.bass.gain == pytest.approx(-12.0))
    perf.midi.map(cc=21, to="bass.gain", range=(-40, 6))
    pads.send(cc(21, 0))  # the target is free again: a knob moves it at once
    assert wait_until(lambda: perf.tracks.bass.gain == pytest.approx(-40.0))


def test_a_pad_toggles_mute_on_its_press_only(stage, pads):
    perf = stage.perf
    perf.midi.map(note=40, to="pad.mute")
    pads.send(on(40, 100))
    pads.send(off(40))
    assert wait_until(lambda: perf.tracks.pad.mute is True)
    pads.send(on(40, 3))  # however soft
    assert wait_until(lambda: perf.tracks.pad.mute is False)
    pads.send(off(40))
    pads.send(on(40, 0))  # releases toggle nothing
    pads.send(on(40, 90))
    assert wait_until(lambda: perf.tracks.pad.mute is True)


def test_a_channel_and_a_port_narrow_what_a_pad_hears(stage, pads, studio):
    perf = stage.perf
    other = studio.virtual_output(f"other-{uuid.uuid4().hex[:6]}:out")
    perf.midi.map(note=36, to="lead.gain", range=(-40, 6), port=pads.label, channel=10)
    other.send(on(36, 127))  # another port
    pads.send(on(36, 127, channel=1))  # another channel
    pads.send(on(37, 127))  # another pad
    pads.send(cc(36, 127, channel=10))  # a knob with the pad's number
    pads.send(on(36, 0x7F))  # this one
    assert wait_until(lambda: perf.tracks.lead.gain == pytest.approx(6.0))
    assert stage.midi.runner.applied == 1


def test_one_of_cc_and_note_and_a_note_in_range_or_one_sentence(stage):
    with pytest.raises(HootError, match=r"one knob or one pad: give cc= .* or note= .*not both"):
        stage.perf.midi.map(cc=21, note=36, to="bass.gain")
    with pytest.raises(HootError, match="not neither"):
        stage.perf.midi.map(to="bass.gain")
    with pytest.raises(HootError, match="a note number runs from 0 to 127, not 128"):
        stage.perf.midi.map(note=128, to="bass.gain")
    with pytest.raises(HootError, match="cannot drive 'bas.gain'"):
        stage.perf.midi.map(note=36, to="bas.gain")
    with pytest.raises(HootError, match="not neither"):
        make_map(None, "bass.gain", ("bass",))
    assert stage.perf.midi.maps == []


def test_learn_binds_the_next_pad_hit_by_its_press(stage, pads):
    perf = stage.perf
    assert perf.midi.learn("bass.pan") is None
    assert wait_until(lambda: any("turn the knob or hit the pad for bass.pan" in s
                                  for s in stage.said))  # fmt: skip
    pads.send(off(50))  # a release teaches nothing
    pads.send(on(44, 100))
    sentence = f"bass.pan follows note 44 on channel 10 of {pads.label}:{pads.label} MIDI 1."
    assert wait_until(lambda: sentence in stage.said), stage.said
    [learned] = perf.midi.maps
    assert (learned.note, learned.cc, learned.channel, learned.to) == (44, None, 10, "bass.pan")
    pads.send(off(44))  # the learning press's release holds nothing
    pads.send(on(44, 0x7F))
    assert wait_until(lambda: perf.tracks.bass.pan == pytest.approx(1.0))


def test_learn_says_when_nothing_was_touched(stage):
    stage.perf.midi.learn("tempo", timeout=0.2)
    assert wait_until(lambda: any("no pad was hit and no knob moved, so tempo is not mapped"
                                  in s for s in stage.said))  # fmt: skip


def test_pad_maps_are_listed_removed_and_restored_by_a_new_stage(stage, pads, session):
    perf = stage.perf
    perf.midi.map(cc=36, to="bass.gain")
    perf.midi.map(note=36, to="bass.gain", range=(-20, 0), channel=10, port=pads.label)
    perf.midi.map(note=37, to="chords.solo")
    shown = repr(perf.midi.maps)
    assert f"note 36 channel 10 on {pads.label} -> bass.gain (-20..0 while held)" in shown
    assert "note 37 -> chords.solo (toggles)" in shown and "CC 36 -> bass.gain" in shown
    assert "note 36" in repr(perf.midi)
    assert perf.midi.unmap(note=37) == 1
    with pytest.raises(HootError, match="no MIDI map matches note=99.*note 36"):
        perf.midi.unmap(note=99)
    kept = perf.midi.maps
    stage.close()

    tomorrow = Stage.offline(session)
    try:
        assert tomorrow.perf.midi.maps == kept
        assert [(m.cc, m.note) for m in kept] == [(36, None), (None, 36)]
        before = tomorrow.perf.tracks.bass.gain
        pads.send(on(36, 127))
        assert wait_until(lambda: tomorrow.perf.tracks.bass.gain == pytest.approx(0.0))
        pads.send(off(36))
        assert wait_until(lambda: tomorrow.perf.tracks.bass.gain == pytest.approx(before))
        assert tomorrow.perf.midi.unmap(cc=36) == 1
        assert [m.note for m in tomorrow.perf.midi.maps] == [36]
    finally:
        tomorrow.close()


@pytest.fixture
def rig(jack_server, tmp_path, monkeypatch) -> Iterator[Stage]:
    """A transfer on the stand-in voice, as tests/control/test_model_maps.py builds it."""
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


def test_a_pad_holds_more_noise_on_a_transfers_latent_and_lets_go(rig, pads) -> None:
    perf = rig.perf
    perf.transfer("trombone", noise=0.25, bias=[0.5, 0.0, -1.0])
    pid = voice(perf, "trombone~")["pid"]
    perf.midi.map(note=36, to="trombone~.noise", range=(0, 2), port=pads.label)
    perf.midi.map(note=37, to="trombone~.bias3", port=pads.label)
    sets = lambda: told(perf, "trombone~", "set")  # noqa: E731
    pads.send(on(36, 127))
    assert wait_until(lambda: any(c.get("noise") == 2.0 for c in sets()))
    pads.send(off(36))
    assert wait_until(lambda: sets() and sets()[-1].get("noise") == 0.25), sets()
    pads.send(on(37, 127))  # the third dimension pushed to +2 while held
    assert wait_until(lambda: any(c.get("bias") == [0.5, 0.0, 2.0] for c in sets()))
    pads.send(on(37, 0))
    assert wait_until(lambda: sets()[-1].get("bias") == [0.5, 0.0, -1.0]), sets()
    assert voice(perf, "trombone~")["pid"] == pid, "steered, not restarted"
    rig.midi.runner.close()
    saved = perf.session.read_settings()["realtime"]["transfer"]["trombone~"]
    assert saved.get("noise") == 0.25 and saved.get("bias") == [0.5, 0.0, -1.0]
    assert perf.model("trombone~").settings["noise"] == 0.25
