"""Live inputs from the performer's side: `perf.input` makes a track a player plays into,
mixed like any track, saved with the session and taken again by a new UI or a new engine;
bad input is refused in one sentence while the music plays on.

Real stages: offline (a file stands in for the player), real engine processes on the null
backend (a device with no inputs) and on the JACK dummy server (capture ports, a loopback).
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
import soundfile as sf

from hoot.engine.client import EngineClient, process_alive
from hoot.engine.protocol import State
from hoot.errors import HootError
from hoot.performance import InputTrack
from hoot.session import Session
from hoot.stage import Stage
from tests import stemfiles
from tests.waiting import PATIENCE

ENGINE = {"backend": "null", "idle_timeout": 30}
SR = 48000


def eventually(predicate, timeout: float = PATIENCE, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"waited {timeout:g} s for {what or predicate}")


def refused(action) -> str:
    """The sentence `action` is refused with: one line, no traceback."""
    with pytest.raises(HootError) as caught:
        action()
    sentence = str(caught.value)
    assert "\n" not in sentence and sentence, sentence
    return sentence


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


@pytest.fixture
def session(tmp_path):
    s = Session(tmp_path / "friday")
    yield s
    try:
        EngineClient(s.dir).shutdown()
    except Exception:  # noqa: BLE001 - already gone
        pass


def test_a_file_input_is_a_track_like_any_other_offline(tmp_path):
    stage = Stage.offline(Session(tmp_path / "rehearsal"))
    perf = stage.perf
    take = stemfiles.tone(tmp_path / "take.wav", seconds=1.0, freq=220.0, level=0.25)
    horn = perf.input("trombone", file=take)
    assert isinstance(horn, InputTrack) and perf.tracks.trombone is horn
    assert "trombone" in perf.tracks and [t.name for t in perf.tracks.inputs] == ["trombone"]
    horn.gain, horn.pan, horn.solo = 0, -0.5, True
    assert (horn.gain, horn.pan, horn.mute, horn.solo) == (0, -0.5, False, True)
    assert horn.monitor and "file take.wav" in repr(horn) and "monitored" in repr(horn)

    heard = stage.link.advance(SR)[SR // 10 :]
    assert rms(heard) > 0.05, "the take plays through the mixer"
    assert rms(heard[:, 0]) > 1.5 * rms(heard[:, 1]), "panned left"

    horn.monitor = False  # the trombonist hears themselves acoustically
    assert perf.tracks.trombone.monitor is False and "not monitored" in repr(horn)
    quiet = stage.link.advance(SR)[SR // 10 :]
    assert np.abs(quiet).max() < 1e-6, "not heard through hoot"
    assert perf.session.read_settings()["inputs"]["trombone"]["monitor"] is False
    perf.record(tracks=True)
    perf.wait(beats=2)
    files = {path.stem.rsplit("-", 1)[-1]: path for path in perf.stop_recording()}
    recorded, _ = sf.read(str(files["trombone"]))
    master, _ = sf.read(str(files["master"]))
    assert rms(recorded) > 0.05 and np.abs(master).max() < 1e-6, "recorded, not heard"

    horn.remove()
    assert "trombone" not in perf.tracks and perf.tracks.inputs == []
    settings = perf.session.read_settings()
    assert "trombone" not in settings.get("inputs", {})
    assert "trombone" not in settings.get("tracks", {})
    stage.close()


def test_an_input_is_played_not_generated_nor_loaded_nor_stopped(tmp_path):
    stage = Stage.offline(Session(tmp_path / "rehearsal"))
    perf = stage.perf
    perf.input("voice", signal="sine 220")
    assert "played, not generated" in refused(lambda: perf.generate("voice"))
    kick = stemfiles.impulse(tmp_path / "kick.wav")
    assert "voice is an input" in refused(lambda: perf.load(kick, role="voice"))
    assert "mute" in refused(lambda: perf.tracks.voice.stop())
    assert "bass is not an input" in refused(lambda: perf.remove_input("bass"))
    assert "generated track" in refused(lambda: perf.input("bass", signal="noise"))
    stage.close()


def test_bad_input_is_refused_in_one_sentence_and_the_music_plays_on(session, tmp_path):
    stage = Stage.live(session, **ENGINE)  # the null device: outputs only
    perf = stage.perf
    channels = perf.inputs
    assert list(channels) == [] and channels.reason
    assert repr(channels).startswith("<no input channels: ")
    sentence = refused(lambda: perf.input("trombone", channel=1))
    assert "input" in sentence
    assert "one of channel=1" in refused(lambda: perf.input("trombone"))
    assert "one of channel=1" in refused(lambda: perf.input("t", channel=1, signal="noise"))
    assert "stereo pair" in refused(lambda: perf.input("t", channel=(1, 2, 3)))
    assert "stereo pair" in refused(lambda: perf.input("t", channel=0))
    assert "perf.tracks.trombone" in refused(lambda: perf.input("my horn", channel=1))
    assert "no file at" in refused(lambda: perf.input("t", file=tmp_path / "absent.wav"))
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all")
    assert "corrupt.wav" in refused(lambda: perf.input("t", file=corrupt))
    assert refused(lambda: perf.input("t", signal="a trombone, please"))
    assert perf.tracks.inputs == [] and "inputs" not in perf.session.read_settings()

    voice = perf.input("voice", signal="sine 220")  # a stand-in needs no device inputs
    before = stage.link.status().position
    eventually(lambda: stage.link.status().position > before + SR // 4, what="time to pass")
    assert voice.name in stage.link.peek(State()).tracks, "and the set plays on"
    stage.close()


def test_inputs_survive_a_ui_restart_an_engine_crash_and_the_next_day(session):
    said: list[str] = []
    stage = Stage.live(session, on_message=said.append, **ENGINE)
    voice = stage.perf.input("voice", signal="sine 220", monitor=False)
    voice.gain, voice.pan = -9.0, 0.25
    engine_pid = stage.link.info.pid
    stage.close()  # the UI goes

    again = Stage.live(session, **ENGINE)  # reattaches to the engine that played on
    assert again.link.info.pid == engine_pid and not again.link.started
    voice = again.perf.tracks.voice
    assert isinstance(voice, InputTrack) and voice.source["signal"] == "sine 220"
    assert (voice.monitor, voice.gain, voice.pan) == (False, -9.0, 0.25)

    os.kill(engine_pid, signal.SIGKILL)  # the engine crashes mid-set
    eventually(lambda: not process_alive(engine_pid), what="the engine to die")
    again.perf.tracks.bass.gain = -3  # the performer's next command brings it back
    assert again.link.info.pid != engine_pid
    state = again.link.peek(State())
    [listening] = state.inputs
    assert (listening.name, listening.monitor, listening.source) == (
        "voice",
        False,
        "signal sine 220",
    )
    assert state.tracks["voice"].gain == -9.0 and state.tracks["voice"].pan == 0.25
    again.link.shutdown()  # tomorrow
    again.close()

    tomorrow = Stage.live(session, on_message=said.append, **ENGINE)
    assert tomorrow.link.started
    voice = tomorrow.perf.tracks.voice
    assert (voice.monitor, voice.gain, voice.pan) == (False, -9.0, 0.25)
    assert [i.name for i in tomorrow.link.peek(State()).inputs] == ["voice"]
    tomorrow.close()


def test_a_saved_input_the_device_lacks_is_said_and_kept_for_later(session):
    session.update_settings(inputs={"trombone": {"channels": [1], "file": "", "signal": "",
                                                 "monitor": True}})  # fmt: skip
    said: list[str] = []
    stage = Stage.live(session, on_message=said.append, **ENGINE)  # a device with no inputs
    stage.perf.tempo = 120  # anything: the engine was started for this session
    assert "trombone" not in stage.perf.tracks
    assert "trombone" in stage.perf.session.read_settings()["inputs"], "kept for the device"
    stage.close()


@pytest.mark.jack
def test_inputs_live_on_the_jack_dummy_server(session, jack_server):
    stage = Stage.live(session, backend="sounddevice", idle_timeout=30)
    perf = stage.perf
    views = []
    try:
        channels = perf.inputs
        assert len(channels) >= 2 and all("capture" in port for port in channels), channels
        assert f"   1  {channels[0]}" in repr(channels)
        sentence = refused(lambda: perf.input("trombone", channel=len(channels) + 7))
        assert channels[0] in sentence or "1" in sentence, sentence

        horn = perf.input("trombone", channel=1)
        keys = perf.input("keys_in", channel=(1, 2))
        voice = perf.input("voice", signal="sine 220")
        assert horn.channels == (1,) and keys.channels == (1, 2)
        assert "channels 1+2" in repr(keys)
        voice.monitor = False
        stage.start_view(post=views.append)

        def shown():
            view = views[-1] if views else None
            if view is None or len(view.inputs) < 3:
                return None
            levels = {t.name: max(t.peak) for t in view.tracks}
            return view if levels.get("voice", 0) > 0.01 else None

        view = eventually(shown, what="the inputs on screen, the signal metered")
        assert [i.name for i in view.inputs] == ["trombone", "keys_in", "voice"]
        assert [i.monitored for i in view.inputs] == [True, True, False]
        assert [i.source for i in view.inputs] == ["channel 1", "channels 1+2", "signal sine 220"]
        assert [t.name for t in view.tracks][-3:] == ["trombone", "keys_in", "voice"]

        trip = perf.latency
        assert trip.frames > 0 and trip.ms == pytest.approx(trip.frames / SR * 1000, rel=0.01)
        assert trip.how and f"{trip.ms:.1f} ms" in repr(trip)
    finally:
        stage.close()
        EngineClient(session.dir).shutdown()


@pytest.mark.jack
def test_a_knob_moves_an_input_fader_and_its_map_comes_back_with_the_input(session, jack_server):
    from hoot.midi.ports import MidiPorts

    studio = MidiPorts(api="jack")
    knobs = studio.virtual_output("hoot-inputs-knobs:out")
    said: list[str] = []
    stage = Stage.live(session, on_message=said.append, **ENGINE)
    try:
        stage.perf.input("voice", signal="sine 220")
        stage.perf.midi.map(cc=21, to="voice.gain", range=(-40, 6), port="hoot-inputs-knobs")
        knobs.send(bytes([0xB0, 21, 127]))
        eventually(lambda: stage.perf.tracks.voice.gain == pytest.approx(6.0), what="the knob")
        stage.close()  # the UI goes; a new one finds the input, then the map

        stage = Stage.live(session, on_message=said.append, **ENGINE)
        assert [m.to for m in stage.perf.midi.maps] == ["voice.gain"]
        assert not [line for line in said if "left out" in line], said
        knobs.send(bytes([0xB0, 21, 0]))
        eventually(lambda: stage.perf.tracks.voice.gain == pytest.approx(-40.0), what="it again")
    finally:
        stage.close()
        knobs.close()
        studio.close()
