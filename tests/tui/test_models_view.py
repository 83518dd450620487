"""The running models' widget: one line each, nothing while nothing runs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.app import App, ComposeResult

from hoot.realtime.status import ModelStatus
from hoot.stage.view import EMPTY, SetView
from hoot.tui.widgets import STYLESHEET
from hoot.tui.widgets.models import ModelsView

HARMONY = ModelStatus(
    "harmony", "harmonizes keys: 2 voices below, strings", "notochord-hoot (embedded)",
    "running", 1.23, 1.94, (64, 60), 0, 0,
)  # fmt: skip
LEAD = ModelStatus(
    "lead", "improvises on lead: density 0.5, C3-C6", "notochord-hoot (embedded)",
    "failed", None, None, (), 3, 2,
)  # fmt: skip


TRANSFER = ModelStatus(
    "trombone~", "transfers trombone -> rave-hoot", "rave-hoot", "running", 0.84, 1.42, (),
    0, 0, kind="transfer", hears=("trombone",), latency_samples=256, latency_ms=5.33,
    level_db=-14.4,
)  # fmt: skip


class Screen(App):
    CSS_PATH = STYLESHEET

    def __init__(self, view: SetView) -> None:
        super().__init__()
        self.first = view

    def compose(self) -> ComposeResult:
        yield ModelsView()

    def on_mount(self) -> None:
        self.query_one(ModelsView).update(self.first)


@pytest.mark.asyncio
async def test_each_model_shows_what_it_does_its_latency_and_its_notes():
    app = Screen(replace(EMPTY, models=(HARMONY, LEAD)))
    async with app.run_test(size=(120, 10)) as pilot:
        await pilot.pause()
        widget = app.query_one(ModelsView)
        assert widget.size.height == 2
        assert widget.text().splitlines() == [
            "harmony  harmonizes keys: 2 voices below, strings  notochord-hoot (embedded)"
            "  p50 1.2 p95 1.9 ms  E4 C4",
            "lead     improvises on lead: density 0.5, C3-C6  notochord-hoot (embedded)"
            "  failed  3 late  2 restarts",
        ]


@pytest.mark.asyncio
async def test_a_narrow_screen_drops_the_model_name_then_cuts_what_it_does():
    app = Screen(replace(EMPTY, models=(HARMONY,)))
    async with app.run_test(size=(60, 10)) as pilot:
        await pilot.pause()
        line = app.query_one(ModelsView).text()
        assert "notochord" not in line
        assert line.startswith("harmony  harmonizes keys") and "…" in line
        assert line.endswith("p50 1.2 p95 1.9 ms  E4 C4") and len(line) <= 60


@pytest.mark.asyncio
async def test_nothing_running_takes_no_room_and_a_new_model_shows_at_once():
    app = Screen(EMPTY)
    async with app.run_test(size=(100, 10)) as pilot:
        await pilot.pause()
        widget = app.query_one(ModelsView)
        assert widget.size.height == 0 and widget.text() == ""
        widget.update(replace(EMPTY, models=(HARMONY,)))
        await pilot.pause()
        assert widget.size.height == 1 and widget.text().startswith("harmony")
        widget.update(EMPTY)
        await pilot.pause()
        assert widget.size.height == 0


@pytest.mark.asyncio
async def test_a_half_screen_column_says_the_latency_in_short():
    app = Screen(replace(EMPTY, models=(HARMONY,)))
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        line = app.query_one(ModelsView).text()
        assert line.startswith("harmony  harm") and line.endswith("  1.2/1.9 ms  E4 C4")


@pytest.mark.asyncio
async def test_an_audio_model_shows_its_declared_latency_and_its_level():
    app = Screen(replace(EMPTY, models=(HARMONY, TRANSFER)))
    async with app.run_test(size=(120, 10)) as pilot:
        await pilot.pause()
        lines = app.query_one(ModelsView).text().splitlines()
        assert lines[1] == ("trombone~  transfers trombone -> rave-hoot, 5.3 ms"
                            "  p50 0.8 p95 1.4 ms  -14 dB")  # fmt: skip
        widget = app.query_one(ModelsView)
        widget.update(replace(EMPTY, models=(replace(TRANSFER, state="loading",
                                                     latency_ms=None, level_db=None,
                                                     p50_ms=None),)))
        await pilot.pause()
        assert widget.text() == "trombone~  transfers trombone -> rave-hoot  loading"
