"""Live inputs on hoot tui's screen, driven by Textual's pilot against a real engine process
on the null backend (a device with no inputs: a file and a signal stand in for players)."""

from __future__ import annotations

import numpy as np
import pytest

from hoot.tui.app import HootApp
from hoot.tui.widgets.meters import Meters
from tests import stemfiles
from tests.tui.test_app import console_text, main_screen, session_dir, type_line, until

__all__ = ["session_dir"]  # the fixture, shared with test_app


def meter_row(app, name: str) -> str:
    rows = main_screen(app).query_one(Meters).text().splitlines()
    return next((row for row in rows if row.startswith(name + " ")), "")


@pytest.mark.asyncio
async def test_inputs_show_in_the_meters_marked_and_with_their_clip_lamp(session_dir, tmp_path):
    square = np.where(np.sin(np.arange(48000) * 2 * np.pi * 110 / 48000) >= 0, 1.0, -1.0)
    loud = stemfiles.write_wav(tmp_path / "loud.wav", np.stack([square, square], axis=1))
    app = HootApp(session_dir, backend="null", idle_timeout=20)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.executor is not None and app.frames > 3)
        await type_line(pilot, 'perf.input("voice", signal="sine 220")')
        await until(pilot, lambda: meter_row(app, "voice").split()[-2:] == ["in", "mon"])
        await type_line(pilot, f'perf.input("horn", file="{loud}")')
        await type_line(pilot, "perf.tracks.horn.gain = -20")  # the fader does not hide a clip
        await until(pilot, lambda: meter_row(app, "horn").endswith("in mon CLIP"))
        assert not meter_row(app, "voice").endswith("CLIP"), "only the input that clipped"
        await type_line(pilot, "perf.tracks.voice.monitor = False")
        await until(pilot, lambda: meter_row(app, "voice").split()[-2:] == ["in", "off"])
        await type_line(pilot, 'perf.input("tuba", channel=1)')
        said = lambda: " ".join(console_text(app).split())  # noqa: E731 - the log, unwrapped
        await until(pilot, lambda: "no device inputs to take" in said())  # one sentence
        assert meter_row(app, "tuba") == "" and app.is_running, "refused; the set plays on"
        await type_line(pilot, "perf.tracks.horn.remove()")
        await until(pilot, lambda: meter_row(app, "horn") == "")
        assert meter_row(app, "voice"), "the other input stays"
