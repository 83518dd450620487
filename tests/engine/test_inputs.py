"""Live inputs: device channels on a real JACK server, files and signals standing in, the
clip lamp, monitoring, per-input recordings and the measured round trip."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile as sf

from hoot.engine import protocol as p
from hoot.engine.backends import SoundDeviceBackend
from hoot.engine.client import EngineClient, LocalEngine
from hoot.engine.control import EngineControl
from hoot.engine.core import Engine
from hoot.engine.inputs import INPUT_ROWS
from hoot.engine.latency import _portaudio_clients, measure_round_trip
from hoot.engine.recorder import Recorder
from hoot.engine.rings import RingReader
from hoot.errors import EngineError
from hoot.music.roles import TRACKS
from tests.waiting import wait_until

SR = 48000


def take(path, seconds: float = 1.5, sr: int = 44100) -> np.ndarray:
    """A stereo take at another rate than the engine's, written to `path`."""
    t = np.arange(int(seconds * sr)) / sr
    audio = np.stack([0.3 * np.sin(2 * np.pi * 330 * t), 0.2 * np.sin(2 * np.pi * 495 * t)], 1)
    sf.write(path, audio.astype(np.float32), sr, subtype="FLOAT")
    return audio


@pytest.mark.parametrize("blocksize", [64, 256, 1000, "random"])
def test_a_file_input_renders_identically_offline_at_any_block_size(tmp_path, blocksize):
    path = tmp_path / "take.wav"
    take(path)

    def render(bs):
        link = LocalEngine(SR, blocksize=bs)
        link.send(p.AddInput("trombone", file=str(path)))
        link.send(p.Mix("trombone", gain=-3.0, pan=0.5))
        return link.advance(3 * SR)

    reference = render(512)
    out = render(blocksize)
    assert np.abs(reference).max() > 0.1
    assert np.array_equal(out, reference)


def test_input_tracks_are_tracks_mixed_metered_and_listed_by_name():
    link = LocalEngine(SR, blocksize=256)
    made = link.send(p.AddInput("vocals", signal="sine 220"))
    # the first input row is the track after every generated and played one
    assert (made.track, made.row, made.source) == (len(TRACKS), 0, "signal sine 220")
    assert link.info.inputs == INPUT_ROWS and "vocals" not in link.info.tracks
    link.send(p.Mix("vocals", gain=-6.0))
    out = link.advance(SR)
    assert np.abs(out).max() == pytest.approx(0.5 * 10 ** (-6 / 20), rel=1e-3)
    state = link.send(p.State())
    assert list(state.tracks)[-1] == "vocals" and state.tracks["vocals"].gain == -6.0
    assert [i.name for i in state.inputs] == ["vocals"]
    status = link.status()
    assert status.meters.shape[0] == len(link.info.tracks) + 1  # tracks, then the master
    assert status.inputs[0, 0] == pytest.approx(0.5 * 10 ** (-6 / 20), rel=1e-3)
    link.send(p.RemoveInput("vocals"))
    assert "vocals" not in link.send(p.State()).tracks
    with pytest.raises(EngineError, match="no track 'vocals'"):
        link.send(p.Mix("vocals", gain=0.0))


def test_monitoring_off_keeps_an_input_out_of_the_master_but_recorded_and_metered(tmp_path):
    link = LocalEngine(SR, blocksize=256, session_dir=tmp_path)
    link.send(p.AddInput("trombone", signal="sine 220", monitor=False))
    paths = link.send(p.Record(tracks=True, name="take")).paths
    out = link.advance(SR)
    link.send(p.StopRecording())
    assert not out.any()
    assert link.status().inputs[0, 0] > 0.49
    names = sorted(path.rsplit("-", 1)[-1] for path in paths)
    assert "trombone.wav" in names and not any(n.startswith("input") for n in names)
    recorded, _ = sf.read(next(x for x in paths if x.endswith("trombone.wav")), dtype="float32")
    assert np.abs(recorded).max() == pytest.approx(0.5, rel=1e-4)
    assert len(paths) == 1 + len(link.info.tracks) + 1  # master, the tracks, one input
    link.send(p.Monitor("trombone", on=True))
    assert np.abs(link.advance(SR)).max() > 0.49


def test_an_input_that_clips_lights_its_lamp_and_nothing_else_happens(tmp_path):
    path = tmp_path / "hot.wav"
    hot = np.zeros((SR // 2, 2), np.float32)
    hot[1000] = 1.0
    sf.write(path, hot, SR, subtype="FLOAT")
    link = LocalEngine(SR, blocksize=256)
    link.send(p.AddInput("kick mic", file=str(path)))
    link.send(p.AddInput("room", signal="sine 220"))
    link.advance(SR // 4)
    lamps = {i.name: i.clip for i in link.send(p.Inputs()).tracks}
    assert lamps == {"kick mic": True, "room": False}
    assert link.status().clips[:2].tolist() == [True, False]
    assert link.engine.faults == 0 and link.send(p.State()).faults == 0
    link.send(p.RemoveInput("kick mic"))
    link.advance(int(2.1 * SR))
    assert not link.status().clips.any()  # 2 s after the last clip, the lamp goes out


def test_bad_inputs_are_refused_in_one_sentence_and_the_music_plays_on(tmp_path):
    link = LocalEngine(SR, blocksize=256)
    link.send(p.AddInput("piano mic", signal="clicks 120"))
    for command, words in [
        (p.AddInput("sax", channels=(1,)), "there are no device inputs"),
        (p.AddInput("sax", signal="square 3"), "unknown signal 'square 3'"),
        (p.AddInput("sax", file=str(tmp_path / "none.wav")), "no audio file"),
        (p.AddInput("sax"), "an input comes from one of"),
        (p.AddInput("bass", signal="noise"), "'bass' is a generated track"),
        (p.RemoveInput("sax"), "no live input 'sax'; inputs are: piano mic"),
    ]:
        with pytest.raises(EngineError, match=words) as caught:
            link.send(command)
        assert "\n" not in str(caught.value)
    for k in range(INPUT_ROWS - 1):
        link.send(p.AddInput(f"mic {k}", signal="noise"))
    with pytest.raises(EngineError, match=f"all {INPUT_ROWS} input rows are taken"):
        link.send(p.AddInput("one more", signal="noise"))
    assert np.abs(link.advance(SR)).max() > 0.1  # the clicks and the noise play on


def test_a_channel_that_does_not_exist_is_refused_naming_those_that_exist():
    engine = Engine(SR, ("drums",), inputs=INPUT_ROWS)
    control = EngineControl(engine, margin=0)
    control.deck.ports = ("system:capture_1", "system:capture_2")
    with pytest.raises(EngineError) as caught:
        control.handle(p.AddInput("trombone", channels=(3,)))
    assert str(caught.value) == (
        "there is no input channel 3; the device has 1 (system:capture_1), "
        "2 (system:capture_2)"
    )
    made = control.handle(p.AddInput("keys", channels=(1, 2)))
    assert made.channels == (1, 2) and made.source == "device"


# ---- on a real JACK server -----------------------------------------------------------------


class Player:
    """A JACK client that plays a known signal into hoot's first input: silence, then a
    256-frame noise marker, then a seeded noise at -12 dBFS, all in float32, so what hoot
    records can be compared with it sample for sample."""

    def __init__(self) -> None:
        import jack

        rng = np.random.default_rng(7)
        self.signal = np.zeros(4 * SR, np.float32)
        self.signal[SR // 2 : SR // 2 + 256] = rng.uniform(-0.5, 0.5, 256)
        self.signal[SR // 2 + 256 :] = rng.uniform(-0.25, 0.25, len(self.signal) - SR // 2 - 256)
        self.played = 0
        self.done = threading.Event()
        self.client = jack.Client("hoot-test-player", no_start_server=True)
        self.port = self.client.outports.register("out")
        self.xruns = 0  # cycles JACK reported lost while this player ran
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)

    def _xrun(self, delayed_usecs: float) -> None:
        self.xruns += 1

    def _process(self, frames: int) -> None:
        buf = self.port.get_array()
        k = self.played
        m = max(0, min(frames, len(self.signal) - k))
        buf[:m] = self.signal[k : k + m]
        buf[m:] = 0.0
        self.played += frames
        if self.played >= len(self.signal):
            self.done.set()


def first_marker(audio: np.ndarray, marker: np.ndarray) -> int:
    corr = np.correlate(audio, marker, mode="valid")
    return int(np.argmax(np.abs(corr)))


@pytest.mark.jack
def test_a_jack_client_played_into_an_input_is_recorded_exactly_and_monitored_at_its_gain(
    jack_server, tmp_path, report
):
    """The rig's player is a Python JACK client: a cycle it loses on a busy machine cuts its
    signal, so a take JACK reported an xrun in is played again (up to three times); a take
    without any xrun must be exact."""
    for attempt in range(1, 4):
        track, master, player, xruns = _play_into_an_input(jack_server, tmp_path / str(attempt),
                                                           report)  # fmt: skip
        marker = player.signal[SR // 2 : SR // 2 + 256]
        at = first_marker(track[:, 0], marker)
        sent = player.signal[SR // 2 :]
        n = min(len(sent), len(track) - at) - SR // 10
        gain = np.float32(10 ** (-6 / 20))
        exact = np.array_equal(track[at : at + n, 0], sent[:n] * gain)
        if exact or xruns == 0:
            break
    assert n > 2 * SR
    # the track is recorded after its fader: the input times the gain, sample for sample
    assert exact, f"sample for sample ({xruns} xruns in take {attempt})"
    assert np.array_equal(track[at : at + n, 0], track[at : at + n, 1])  # mono: both sides
    heard = first_marker(master[:, 0], marker)
    assert abs(heard - at) <= 64  # the limiter's look-ahead, at most
    level = np.abs(master[heard : heard + n, 0]).max() / np.abs(sent[:n]).max()
    assert level == pytest.approx(float(gain), rel=1e-3)


def _play_into_an_input(jack_server, folder, report) -> tuple:
    """A take: the player's signal into an input track of an engine on JACK, recorded per
    track: (the track, the master, the player, the xruns JACK reported meanwhile)."""
    folder.mkdir(parents=True)
    engine = Engine(SR, ("drums", "bass"), inputs=INPUT_ROWS)
    recorder = Recorder(SR, len(engine.tracks), list(engine.tracks))
    engine.recorder = recorder
    control = EngineControl(engine, recorder, folder, margin=0)
    backend = SoundDeviceBackend(engine.forward, SR, device="jack", duplex=True)
    assert backend.input_ports == ("system:capture_1", "system:capture_2")
    control.deck.ports, control.deck.reason = backend.input_ports, backend.input_reason
    control.latency_probe = lambda: measure_round_trip(engine, backend)
    listed = control.handle(p.Inputs())
    assert listed.duplex and listed.ports == backend.input_ports
    player = Player()
    backend.start()
    try:
        latency = control.handle(p.MeasureLatency())
        assert latency.measured, latency.how
        assert 0 < latency.frames < SR // 4
        report(
            f"round trip on the JACK dummy loopback, period {jack_server.period}: "
            f"{latency.frames} frames ({latency.ms:.1f} ms)"
        )
        control.handle(p.AddInput("trombone", channels=(1,)))
        control.handle(p.Mix("trombone", gain=-6.0))
        paths = control.handle(p.Record(tracks=True, name="live")).paths
        recorder.start_writer()
        player.client.activate()
        (ours,) = _portaudio_clients(player.client)
        player.client.connect(player.port, f"{ours}:in_0")
        assert player.done.wait(30)
        wait_until(lambda: engine.position > 0)
        control.handle(p.StopRecording())
    finally:
        player.client.deactivate()
        player.client.close()
        backend.close()
        recorder.close()
    track, _ = sf.read(next(x for x in paths if x.endswith("-trombone.wav")), dtype="float32")
    master, _ = sf.read(next(x for x in paths if x.endswith("-master.wav")), dtype="float32")
    return track, master, player, player.xruns


@pytest.mark.jack
def test_the_engine_process_opens_jack_duplex_and_rings_its_inputs_to_other_processes(
    jack_server, tmp_path
):
    client = EngineClient.spawn(tmp_path / "live", backend="sounddevice", idle_timeout=30)
    try:
        assert client.info.inputs == INPUT_ROWS
        listed = client.send(p.Inputs())
        assert listed.duplex, listed.reason
        assert listed.ports == ("system:capture_1", "system:capture_2")
        with pytest.raises(EngineError, match="no input channel 5; the device has 1 "):
            client.send(p.AddInput("sax", channels=(5,)))
        reader = RingReader(listed.ring)
        client.send(p.AddInput("sax", channels=(1, 2)))
        client.send(p.AddInput("guide", signal="sine 440", monitor=False))
        assert wait_until(lambda: reader.written > reader.next + 50)
        s0, block = reader.read()
        assert block.shape[0] == INPUT_ROWS and s0 >= 0
        assert wait_until(lambda: client.status().inputs[1, 0] > 0.49)
        latency = client.send(p.MeasureLatency())
        assert latency.measured and latency.frames == jack_server.period, latency
    finally:
        client.shutdown()


def test_an_engine_without_device_inputs_plays_on_and_refuses_them(tmp_path):
    client = EngineClient.spawn(tmp_path / "live", backend="null", idle_timeout=30)
    try:
        listed = client.send(p.Inputs())
        assert not listed.duplex and listed.ports == ()
        assert listed.reason == "the null backend has no audio device, so no inputs"
        with pytest.raises(EngineError, match="there are no device inputs to take"):
            client.send(p.AddInput("sax", channels=(1,)))
        client.send(p.AddInput("guide", signal="clicks 120"))
        assert wait_until(lambda: client.status().meters[-1, 0] > 0.1)  # the master sounds
        assert not client.send(p.MeasureLatency()).measured
    finally:
        client.shutdown()
