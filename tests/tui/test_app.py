"""hoot tui driven by Textual's pilot, against a real engine process on the null backend."""

from __future__ import annotations

import time

import pytest
from textual import events

from hoot.engine.client import EngineClient
from hoot.tui.app import HootApp
from hoot.tui.widgets.beat_grid import BeatGrid
from hoot.tui.widgets.console_log import ConsoleLog
from hoot.tui.widgets.picker import StemPicker
from hoot.tui.widgets.sheet import Sheet
from hoot.tui.widgets.status_line import StatusLine


def main_screen(app):
    return app.screen_stack[0]


def screen_text(app) -> str:
    main = main_screen(app)
    return "\n".join(
        w.text()
        for w in (main.query_one(BeatGrid), main.query_one(StemPicker), main.query_one(StatusLine))
    )


def console_text(app) -> str:
    return main_screen(app).query_one(ConsoleLog).all_text()


async def until(pilot, predicate, timeout: float = 30.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(step)
    raise AssertionError(f"timed out waiting for {predicate}")


async def type_line(pilot, code: str) -> None:
    """Put a line in the console and press Enter (tests/tui/test_e2e.py types key by key)."""
    from hoot.tui.widgets.code_input import CodeInput

    main_screen(pilot.app).query_one(CodeInput).insert(code)
    await pilot.press("enter")


@pytest.fixture
def session_dir(tmp_path):
    yield tmp_path / "set"
    try:
        EngineClient(tmp_path / "set").shutdown()
    except Exception:  # noqa: BLE001 - already gone is fine
        pass


@pytest.mark.asyncio
async def test_the_screen_shows_the_set_and_the_console_runs_code(session_dir):
    # a device that cannot exist: the engine says so once and plays on its null backend
    app = HootApp(session_dir, backend="auto", device="no-such-device-4711", idle_timeout=20)
    async with app.run_test(size=(100, 32)) as pilot:
        await until(pilot, lambda: app.executor is not None and app.frames > 3)
        assert "null" in main_screen(app).query_one(StatusLine).text()
        # one sentence (it may wrap in the log), whatever PortAudio sees on this machine
        await until(
            pilot,
            lambda: "silently on the null backend" in " ".join(console_text(app).split()),
            timeout=5,
        )
        assert "120.0 BPM" in screen_text(app)
        await type_line(pilot, "perf.tempo = 133")
        await until(pilot, lambda: "133.0 BPM" in screen_text(app), timeout=5)
        await type_line(pilot, "6 * 7")
        await until(pilot, lambda: "42" in console_text(app), timeout=5)
        await type_line(pilot, "perf.tracks.bas.gain = -3")
        await until(pilot, lambda: "did you mean 'bass'" in console_text(app), timeout=5)
        sheet = main_screen(app).query_one(Sheet)
        await pilot.press("f2")
        await until(pilot, lambda: sheet.topic == "traceback", timeout=5)
        assert "no track 'bas'" in str(sheet.query_one("Static").render())
        await pilot.press("escape")
        await until(pilot, lambda: not sheet.display, timeout=5)
        await type_line(pilot, "help(perf.generate)")
        await until(pilot, lambda: "Ask a generator" in console_text(app), timeout=5)
        await pilot.press("f1")
        await until(pilot, lambda: sheet.topic == "keys", timeout=5)
        # the keys cover the console's log only: the set stays in sight and keeps moving
        assert app.screen is main_screen(app) and main_screen(app).query_one(BeatGrid).region
        assert not main_screen(app).query_one(ConsoleLog).display
        frames = app.frames
        await pilot.pause(0.5)
        assert app.frames > frames and app.is_running
        await pilot.press("escape")
        await until(pilot, lambda: main_screen(app).query_one(ConsoleLog).display, timeout=5)


@pytest.mark.asyncio
async def test_generate_pick_with_a_key_and_the_meters_keep_moving(session_dir, report):
    app = HootApp(session_dir, backend="null", idle_timeout=20)
    async with app.run_test(size=(100, 32)) as pilot:
        await until(pilot, lambda: app.executor is not None and app.frames > 3)
        await type_line(pilot, "perf.phrase = 1")
        frames, started = app.frames, time.monotonic()
        await type_line(pilot, 'b = perf.generate("bass", n=6)')
        await until(
            pilot,
            lambda: (
                app.perf.picker.latest.get("bass") is not None and app.perf.picker["bass"].settled
            ),
            timeout=60,
        )
        rate = (app.frames - frames) / (time.monotonic() - started)
        report(f"screen updates during perf.generate(n=6): {rate:.0f} per second")
        assert rate >= 25, "the meters kept moving while six candidates rendered"
        await until(
            pilot,
            lambda: (
                app.view.batches
                and all(c.status == "ready" for c in app.view.batches[0].candidates)
            ),
            timeout=5,
        )
        await pilot.press("alt+right")
        await pilot.press("f8")
        await until(pilot, lambda: any(q.track == "bass" for q in app.view.queue), timeout=5)
        picked = app.perf.picker["bass"][2]  # alt+right selected #2: the screen counts from 1
        assert picked.queued is not None
        await until(
            pilot,
            lambda: any(q.stem == picked.name and q.state == "playing" for q in app.view.queue),
            timeout=15,
        )
        await pilot.press("f12")
        await until(pilot, lambda: not app.view.queue, timeout=5)


TYPED = (
    "x = [i * i for i in range(500)]",
    "sum(x) % 97",
    "perf.tempo",
    "print('hoot ' * 6)",
    "y = {k: k ** 2 for k in range(100)}",
)


@pytest.mark.asyncio
async def test_typing_never_stalls_the_screen(session_dir, tmp_path, monkeypatch, report):
    frames = tmp_path / "frames"
    monkeypatch.setenv("HOOT_TUI_FRAMES", str(frames))  # every drawn view's time
    app = HootApp(session_dir, backend="null", idle_timeout=20)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.executor is not None and app.frames > 3)
        started = time.monotonic()
        for i in range(50):  # a line every 0.1 s, key by key as a terminal sends them
            for char in TYPED[i % len(TYPED)]:
                app.post_message(events.Key("space" if char == " " else char, char))
            app.post_message(events.Key("enter", "\r"))
            await pilot.pause(0.1)
        ended = time.monotonic()
        await until(pilot, lambda: console_text(app).count("» ") >= 50, timeout=10)
    drawn = [t for t in map(float, frames.read_text().split()) if started <= t <= ended]
    edges = [started, *drawn, ended]
    longest = max(b - a for a, b in zip(edges, edges[1:]))
    rate = len(drawn) / (ended - started)
    report(f"typing 50 lines: {rate:.0f} frames a second, longest gap {longest * 1000:.0f} ms")
    assert longest < 1.0, f"the screen stood still for {longest:.2f} s while a performer typed"


def test_the_ui_process_never_imports_torch():
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import sys
        import hoot.tui.app, hoot.performance, hoot.stage.actions, hoot.stage.watcher
        import hoot.generate.batch, hoot.generate.pool, hoot.generate.base
        import hoot.console.executor, hoot.console.repl_server, hoot.cli
        print(sorted(n for n in sys.modules if n.split(".")[0] == "torch"))
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]", f"the UI process imported {out}"
