"""`hoot tui` for real, in tmux: the first run of a new session sounds within seconds, a dead
sound server comes back at the next key, and leaving asks while the music plays."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.tui.test_e2e import (
    ENGINE,
    HOOT,
    READY,
    STARTUP,
    Stage,
    curtain_up,
    eventually,
    queue_stem,
)
from tests.waiting import PATIENCE

pytestmark = pytest.mark.slow


@pytest.fixture
def stage(tmp_path):
    stage = Stage(tmp_path)
    try:
        yield stage
    finally:
        stage.close()


def test_a_new_session_plays_a_starting_groove_within_seconds(stage, report):
    tui = stage.terminal.open(HOOT, "tui", "--session", str(stage.session_dir), *ENGINE,
                              title="hoot tui")  # fmt: skip
    start = time.monotonic()
    tui.wait_for(READY, STARTUP)
    tui.wait_for('drums = perf.generate("drums", n=6, seed=2024)', PATIENCE, "the starter's lines")
    eventually(lambda: stage.engine.loudest("drums", 0.2) > 0.01, 60, "the drums to sound")
    report(f"new session: first sound {time.monotonic() - start:.1f} s after `hoot tui`")
    eventually(lambda: stage.engine.playing("bass"), PATIENCE, "the bass to come in")
    tui.wait_for(lambda s: queue_stem(s, "now", "drums"), PATIENCE, "the drums in the queue")


def test_the_second_run_of_a_session_starts_as_it_was_left(stage):
    tui = stage.tui()
    curtain_up(tui)
    tui.run("perf.tempo = 97")
    tui.wait_for("97.0 BPM", PATIENCE)
    tui.press("C-q")  # nothing plays: it leaves without asking
    assert tui.wait_for_end(PATIENCE) == "status 0"
    stage.engine.shutdown()
    again = stage.terminal.open(HOOT, "tui", "--session", str(stage.session_dir), *ENGINE,
                                title="hoot tui again")  # fmt: skip
    again.wait_for(READY, STARTUP)
    again.wait_for("97.0 BPM", PATIENCE, "the tempo it was left at, and no starter")
    assert 'perf.generate("drums"' not in again.screen()


def test_a_dead_engine_comes_back_at_the_next_key(stage):
    tui = stage.tui()
    curtain_up(tui)
    tui.run("perf.tempo = 131")
    tui.wait_for("131.0 BPM", PATIENCE)
    pid = stage.engine.pid
    os.kill(pid, signal.SIGKILL)
    tui.wait_for("ENGINE LOST", PATIENCE)
    tui.press("F5")  # what the status line says
    tui.wait_for("a new one plays the session", PATIENCE, "one sentence about the new engine")
    eventually(lambda: stage.engine.pid != pid, PATIENCE, "a new engine")
    tui.wait_for(lambda s: "ENGINE LOST" not in s and "131.0 BPM" in s, PATIENCE,
                 "the tempo as it was")  # fmt: skip


@pytest.mark.skip(
    reason="flaky in 2 of 5 full-suite runs (2026-12-05), never alone: once the console never "
    "said ready in 60 s, once the screen's queue never showed a stem the engine played; "
    "cause unknown, see stop 20's closing note (the stacks dump in curtain_up is for it)"
)
def test_leaving_asks_while_the_music_plays_whichever_way_out(stage):
    tui = stage.tui()
    curtain_up(tui)
    tui.run('perf.load("kick.wav", role="drums").queue(at="now")')
    eventually(lambda: stage.engine.playing("drums"), PATIENCE, "the kick to play")
    tui.wait_for(lambda s: queue_stem(s, "now", "drums"), PATIENCE, "the screen to show it playing")
    for way_out in ("ctrl+q", "palette", "exit()"):
        if way_out == "ctrl+q":
            tui.press("C-q")
        elif way_out == "palette":
            tui.press("C-p")
            tui.wait_for("Search for commands", PATIENCE)
            tui.type("Quit")  # "Quit the application as soon as possible"
            time.sleep(0.3)
            tui.press("Enter")
        else:
            tui.run("exit()")
        tui.wait_for("Leave hoot tui?", PATIENCE, f"{way_out} to ask first")
        tui.press("n")
        tui.wait_for(lambda s: "Leave hoot tui?" not in s, PATIENCE, "the question to go")
        assert not tui.dead, f"{way_out} left without asking"
    tui.press("C-q")
    tui.wait_for("Leave hoot tui?", PATIENCE)
    tui.press("y")
    assert tui.wait_for_end(PATIENCE) == "status 0"
    assert stage.engine.playing("drums"), "the music plays on"
