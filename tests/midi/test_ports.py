"""MIDI ports on the real JACK dummy server: naming, hot-plug, faults, the API choice.

A device is a virtual port opened by a second MidiPorts (a "studio" the test owns); hoot's
side opens it by part of its name, as a performer would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import pytest

from hoot.errors import HootError
from hoot.midi.ports import MidiPorts, choose_api, compiled_apis, pick
from tests.waiting import wait_until


@pytest.fixture
def studio(jack_server) -> Iterator[MidiPorts]:
    """The devices' side: virtual ports that stand for hardware."""
    with MidiPorts(api="jack") as ports:
        yield ports


@pytest.fixture
def ports(jack_server) -> Iterator[MidiPorts]:
    """hoot's side."""
    with MidiPorts() as ports:
        yield ports


class Inbox:
    """Collects (message, arrived) from an input; `wait_for(n)` waits for n of them."""

    def __init__(self) -> None:
        self.messages: list[tuple[bytes, float]] = []
        self.lock = threading.Lock()

    def __call__(self, message: bytes, arrived: float) -> None:
        with self.lock:
            self.messages.append((message, arrived))

    def bytes(self) -> list[bytes]:
        with self.lock:
            return [message for message, _ in self.messages]

    def wait_for(self, count: int) -> bool:
        return wait_until(lambda: len(self.messages) >= count)


def test_jack_is_chosen_when_its_server_answers(ports):
    assert ports.api == "JACK"
    assert "jack" in compiled_apis()


def test_a_device_is_listed_and_found_by_any_part_of_its_name(ports, studio):
    studio.virtual_output("Keystation 49:Keystation 49 MIDI 1")
    studio.virtual_input("minilogue xd:minilogue xd MIDI IN", Inbox())
    assert "Keystation 49:Keystation 49 MIDI 1" in ports.inputs()
    assert "minilogue xd:minilogue xd MIDI IN" in ports.outputs()
    assert ports.find_input("keystation") == "Keystation 49:Keystation 49 MIDI 1"
    assert ports.find_output("MINILOGUE") == "minilogue xd:minilogue xd MIDI IN"


def test_an_unknown_or_ambiguous_name_lists_what_exists(ports, studio):
    studio.virtual_output("nanoKONTROL2:nanoKONTROL2 MIDI 1")
    studio.virtual_output("nanoPAD2:nanoPAD2 MIDI 1")
    with pytest.raises(HootError, match="matches several MIDI inputs.*nanoKONTROL2.*nanoPAD2"):
        ports.find_input("nano")
    with pytest.raises(HootError, match="no MIDI input matches 'launchkey'.*nanoPAD2"):
        ports.open_input("launchkey", Inbox())
    assert ports.find_input("nanopad") == "nanoPAD2:nanoPAD2 MIDI 1"


def test_an_exact_name_wins_over_a_longer_one():
    names = ["Keys:Keys", "Keys:Keys 2"]
    assert pick("keys:keys", names, "input", "JACK") == "Keys:Keys"


def test_an_unknown_api_says_which_exist(monkeypatch):
    monkeypatch.setenv("HOOT_MIDI_API", "oss")
    with pytest.raises(HootError, match="'oss' is not a MIDI API.*jack, alsa"):
        choose_api()


def test_the_alsa_sequencer_missing_says_what_to_do():
    # These machines have no /dev/snd/seq; a stage machine would have it.
    with pytest.raises(HootError, match="ALSA MIDI is not usable here.*snd-seq"):
        choose_api("alsa")


def test_messages_arrive_as_bytes_with_sysex_clock_and_active_sensing(ports, studio):
    keys = studio.virtual_output("Keystation:out")
    inbox = Inbox()
    port = ports.open_input("keystation", inbox)
    assert port.connected
    sent = [bytes([0x90, 60, 100]), bytes([0xF0, 0x00, 0x20, 0x29, 0xF7]), b"\xf8", b"\xfe"]
    for message in sent:
        keys.send(message)
    assert inbox.wait_for(len(sent))
    assert inbox.bytes() == sent
    arrivals = [arrived for _, arrived in inbox.messages]
    assert arrivals == sorted(arrivals)


def test_sending_reaches_the_device(ports, studio):
    inbox = Inbox()
    studio.virtual_input("Minilogue:in", inbox)
    synth = ports.open_output("minilogue")
    synth.send(bytes([0x91, 48, 90]))
    assert inbox.wait_for(1)
    assert inbox.bytes() == [bytes([0x91, 48, 90])]


def test_an_unplugged_keyboard_reconnects_by_itself_with_one_sentence_each_way(ports, studio):
    keys = studio.virtual_output("Keystation:out")
    inbox = Inbox()
    port = ports.open_input("keystation", inbox)
    heard: list[tuple[bool, str]] = []
    port.on_change(lambda connected, sentence: heard.append((connected, sentence)))

    keys.close()  # unplugged
    assert wait_until(lambda: len(heard) == 1)
    assert heard[0] == (
        False,
        "Keystation:out unplugged: its notes stopped; plug it back in and it reconnects.",
    )
    assert not port.connected

    keys = studio.virtual_output("Keystation:out")  # plugged back in
    assert wait_until(lambda: len(heard) == 2)
    assert heard[1] == (True, "Keystation:out is back.")
    assert port.connected
    keys.send(bytes([0x90, 64, 80]))
    assert inbox.wait_for(1)
    assert inbox.bytes() == [bytes([0x90, 64, 80])]


def test_an_output_drops_what_it_sends_while_unplugged_and_reconnects(ports, studio):
    inbox = Inbox()
    device = studio.virtual_input("Minilogue:in", inbox)
    synth = ports.open_output("minilogue")
    heard: list[bool] = []
    synth.on_change(lambda connected, sentence: heard.append(connected))
    device.close()
    assert wait_until(lambda: heard == [False])
    synth.send(bytes([0x90, 60, 1]))  # dropped, not raised
    assert synth.dropped == 1
    studio.virtual_input("Minilogue:in", inbox)
    assert wait_until(lambda: heard == [False, True])
    synth.send(bytes([0x90, 60, 2]))
    assert inbox.wait_for(1)
    assert inbox.bytes() == [bytes([0x90, 60, 2])]


def test_a_callback_that_raises_does_not_kill_the_port(ports, studio):
    keys = studio.virtual_output("Keystation:out")
    inbox = Inbox()

    def fussy(message: bytes, arrived: float) -> None:
        if message[2] == 13:
            raise ValueError("unlucky")
        inbox(message, arrived)

    port = ports.open_input("keystation", fussy)
    for value in (12, 13, 14):
        keys.send(bytes([0xB0, 21, value]))
    assert inbox.wait_for(2)
    assert inbox.bytes() == [bytes([0xB0, 21, 12]), bytes([0xB0, 21, 14])]
    assert port.faults == 1 and isinstance(port.last_fault, ValueError)


def test_hoots_own_connection_ports_are_not_listed_as_devices(ports, studio):
    studio.virtual_output("Keystation:out")
    ports.open_input("keystation", Inbox())
    assert not any("hoot in" in name for name in ports.outputs())
    assert not any("hoot in" in name for name in studio.outputs())


def test_closing_is_prompt_and_idempotent(jack_server, studio):
    studio.virtual_output("Keystation:out")
    ports = MidiPorts()
    port = ports.open_input("keystation", Inbox())
    ports.close()
    ports.close()
    assert not port.connected
    with pytest.raises(HootError, match="closed"):
        ports.inputs()


def test_hoot_midi_lists_inputs_and_outputs_with_the_api(studio, capsys):
    from hoot.cli import main

    studio.virtual_output("Keystation:out")
    studio.virtual_input("Minilogue:in", Inbox())
    assert main(["midi"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("MIDI through JACK")
    inputs, outputs = shown.split("outputs:")
    assert "  Keystation:out" in inputs and "  Minilogue:in" in outputs


def test_hoot_midi_with_an_unusable_api_says_what_to_do(capsys):
    from hoot.cli import main

    assert main(["midi", "--api", "alsa"]) == 2
    assert "ALSA MIDI is not usable here" in capsys.readouterr().err


def test_hoot_midi_with_no_midi_system_prints_one_sentence_and_no_library_noise(tmp_path):
    """libjack and ALSA print their refusals to fd 2 themselves; hoot's sentence stands alone."""
    env = {**os.environ, "JACK_DEFAULT_SERVER": f"nobody-{uuid.uuid4().hex[:8]}"}
    env.pop("HOOT_MIDI_API", None)
    done = subprocess.run([sys.executable, "-m", "hoot.cli", "midi"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=60)  # fmt: skip
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("hoot: no MIDI system is usable here"), lines


def test_the_doctor_names_the_midi_api(jack_server):
    from hoot.engine.devices import doctor

    _, report = doctor()
    assert "MIDI: hoot uses JACK" in report
