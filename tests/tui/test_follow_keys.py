"""The tap-tempo key (F6) and the "this is one" key (F7) in hoot tui, driven by Textual's
pilot against a real engine process on the null backend; both are in the help sheet and
the command palette, as every key is."""

from __future__ import annotations

import re

import pytest

from hoot.tui.app import HELP, KEYS
from tests.tui.test_app import console_text, session_dir, until  # noqa: F401 - the fixture

TAP_S = 0.4  # the performer's taps: about 150 BPM, less the pilot's own time


def test_f6_and_f7_are_in_the_help_sheet_and_the_palette():
    keys = {key: text for key, _, text in KEYS}
    assert keys["f6"].startswith("Tap tempo") and keys["f7"].startswith("This is one")
    assert "Tap tempo" in HELP and "This is one" in HELP


@pytest.mark.asyncio
async def test_three_taps_of_f6_set_the_tempo_and_f7_starts_a_phrase(session_dir):  # noqa: F811
    from hoot.tui.app import HootApp

    app = HootApp(session_dir, backend="null", idle_timeout=20)
    async with app.run_test(size=(100, 32)) as pilot:
        await until(pilot, lambda: app.executor is not None and app.frames > 3)
        for _ in range(3):
            await pilot.press("f6")
            await pilot.pause(TAP_S)  # the performer's hand, not a wait for hoot
        await until(pilot, lambda: "BPM from the next beat" in console_text(app))
        assert "tap 1: 2 more for a tempo" in console_text(app)
        # the tempo the taps made (the pilot's timing is not the test's business) plays
        tapped = float(re.search(r"tap: ([\d.]+) BPM", console_text(app)).group(1))
        await until(pilot, lambda: app.perf.tempo == pytest.approx(tapped))
        await pilot.press("f7")
        await until(pilot, lambda: "one: a phrase starts at bar" in console_text(app))
        assert app.view.bar_in_phrase == 0
