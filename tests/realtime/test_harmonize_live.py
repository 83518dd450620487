"""Harmony end to end: a virtual keyboard on JACK plays the keys track, the engine writes
its notes into the live-note table, a harmonizer's voice process (a tiny Notochord with
random weights, written here, so the test runs in seconds) answers into its own slot, and
the harmony sounds on the harmony track; the key's note-off ends it; a voice killed with
SIGKILL is restarted while the engine plays on."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from hoot.engine.client import EngineClient
from hoot.midi.ports import MidiPorts
from hoot.performance import Performance
from hoot.realtime.notochord import Notochord, save_trainer_checkpoint
from hoot.session import Session
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    torch.manual_seed(12)
    model = Notochord(emb_size=32, rnn_hidden=64, rnn_layers=1, mlp_layers=1, time_sines=16,
                      vel_sines=16)  # fmt: skip
    path = tmp_path_factory.mktemp("models") / "tiny.ckpt"
    meta = {"player_inst": 1, "voice_insts": [49, 50], "corpus": "none: random weights"}
    save_trainer_checkpoint(model, path, kw_extra={"hoot": meta})
    return path


@pytest.fixture
def band(jack_server, tmp_path) -> Iterator[tuple[Performance, EngineClient, object]]:
    session = Session(tmp_path / "live")
    client = EngineClient.spawn(session.dir, backend="sounddevice", idle_timeout=60)
    assert client.info.backend == "sounddevice", client.messages()
    perf = Performance(client, session)
    with MidiPorts(api="jack") as ports:
        keyboard = ports.virtual_output("hoot-test-keys:out")
        perf.tracks.keys.play_from("test-keys")
        perf.tracks.keys.mute = True  # what is heard is the harmony
        try:
            yield perf, client, keyboard
        finally:
            perf.close()
            client.shutdown()


def meter(client: EngineClient, track: str) -> Callable[[], float]:
    index = client.tracks.index(track)
    return lambda: float(client.status().meters[index, 0])


def running(perf: Performance) -> bool:
    return bool(perf.models) and perf.models[0].state == "running"


@pytest.mark.jack
def test_a_keyboard_gets_harmony_on_the_harmony_track_and_its_note_off_ends_it(
    band, tiny
) -> None:
    perf, client, keyboard = band
    perf.key = "C major"
    live = perf.harmonize("keys", voices=2, below=True, sound="pad", model=tiny)
    assert wait_until(lambda: running(perf))
    harmony = meter(client, "harmony")
    keyboard.send(bytes((0x90, 72, 100)))
    assert wait_until(lambda: harmony() > 0.005), "the harmony sounds"
    assert wait_until(lambda: perf.models[0].playing), "and the status (every 0.1 s) says so"
    (model,) = perf.models
    assert model.name == "harmony" and model.does.startswith("harmonizes keys: 2 voices below")
    assert 1 <= len(model.playing) <= 2
    assert all(60 <= p < 72 for p in model.playing), "below the key, within the span"
    assert all(p % 12 in (0, 2, 4, 5, 7, 9, 11) for p in model.playing), "in C major"
    assert model.p50_ms is not None
    keyboard.send(bytes((0x80, 72, 0)))
    assert wait_until(lambda: perf.models[0].playing == ()), "the note-off ends it"
    assert wait_until(lambda: harmony() == 0.0), "and it falls silent"
    live.stop()
    assert perf.models == []


@pytest.mark.jack
def test_a_killed_voice_ends_its_notes_is_restarted_and_the_engine_plays_on(band, tiny) -> None:
    perf, client, keyboard = band
    perf.harmonize("keys", sound="pad", model=tiny)
    assert wait_until(lambda: running(perf))
    harmony = meter(client, "harmony")
    keyboard.send(bytes((0x90, 67, 100)))
    assert wait_until(lambda: harmony() > 0.005)
    pid = perf._realtime.pid("harmony")
    before = client.status().position
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: harmony() == 0.0), "the supervisor released its held notes"
    assert wait_until(lambda: running(perf) and perf._realtime.pid("harmony") != pid)
    assert "the harmonizer on keys crashed; restarted it" in perf.messages
    assert perf.models[0].restarts == 1
    keyboard.send(bytes((0x80, 67, 0)))
    keyboard.send(bytes((0x90, 64, 100)))
    assert wait_until(lambda: harmony() > 0.005), "the restarted voice answers"
    assert client.status().position - before > 0.2 * client.samplerate, "the music went on"


@pytest.mark.jack
def test_a_second_call_changes_the_running_harmonizer_and_close_ends_it(band, tiny) -> None:
    perf, client, keyboard = band
    perf.harmonize("keys", voices=1, sound="pad", model=tiny)
    assert wait_until(lambda: running(perf))
    pid = perf._realtime.pid("harmony")
    perf.harmonize("keys", voices=3, below=False, sound="pad", model=tiny)
    assert perf._realtime.pid("harmony") == pid, "the same voice, changed live"
    assert "3 voices above" in perf.models[0].does
    keyboard.send(bytes((0x90, 60, 100)))
    assert wait_until(lambda: len(perf.models[0].playing) == 3)
    assert all(60 < p <= 72 for p in perf.models[0].playing)
    assert perf.session.read_settings()["realtime"]["harmonize"]["keys"]["voices"] == 3
    perf.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
