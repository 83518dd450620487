"""Device listing and the doctor's report."""

from __future__ import annotations

import sys

import pytest

from hoot.engine.devices import doctor, list_devices
from tests.jack_server import JackServer


def test_list_devices_mentions_portaudio_and_jack() -> None:
    text = list_devices()
    print(f"\n{text}")
    assert "PortAudio" in text
    assert "JACK" in text
    assert "Host APIs:" in text


def test_doctor_reports_every_area_with_fixes() -> None:
    healthy, report = doctor()
    print(f"\n{report}")
    assert isinstance(healthy, bool)
    lines = report.splitlines()
    for line in lines[:-1]:
        assert line.startswith(("ok ", "missing ")), line
        if line.startswith("missing") and "cannot look without PortAudio" not in line:
            assert "fix:" in line, line
    for area in ("PortAudio", "JACK", "MIDI", "soundfile"):
        assert area in report
    assert healthy == lines[-1].startswith("All essential checks passed")


def test_without_portaudio_both_say_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import sounddevice` fail, as a missing library does.
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    text = list_devices()
    assert "\n" not in text and "sudo apt-get install libportaudio2" in text
    healthy, report = doctor()
    assert not healthy
    assert report.splitlines()[0].startswith("missing PortAudio library")


@pytest.mark.jack
def test_list_devices_shows_the_jack_host_api(jack_server: JackServer) -> None:
    text = list_devices()
    print(f"\n{text}")
    assert "JACK Audio Connection Kit" in text
    assert "system" in text
    healthy, report = doctor()
    print(report)
    assert f"ok      JACK server '{jack_server.name}' is running" in report
    assert healthy or "audio output device" not in report.split("missing", 1)[-1]
