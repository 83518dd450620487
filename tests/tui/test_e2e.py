"""`hoot tui` for real: the installed command in tmux, a real engine process (null backend,
real time), keys and code typed as a performer would, and the screen read back as text.

Each test is one scene of a set, with its own session folder, tmux server and engine; the
engine is asked from here, over its own socket, whether the music really plays.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from hoot.engine.client import EngineClient
from hoot.engine.protocol import State
from hoot.errors import HootError
from hoot.tui.widgets.picker import GLYPHS, PROGRESS
from tests.tui.tmux import Terminal, Window

pytestmark = pytest.mark.slow

HOOT = str(Path(sys.executable).with_name("hoot"))
ENGINE = ("--backend", "null", "--idle-timeout", "20")
READY = "perf is ready"
STARTUP = 60.0  # engine spawn, imports and the worker pool, on a busy 2-core machine
GENERATION = 90.0
CELL = "".join(GLYPHS.values()) + PROGRESS
METER = "█▏▎▍▌▋▊▉"
STALL_MAX = 3.0  # seconds the beat grid may stand still while the console is flooded
_numbers = itertools.count(1)


# ---- the engine, as seen from the wings ---------------------------------------------------


class Engine:
    """The session's engine, asked over a fresh connection each time, so the test never
    keeps an otherwise idle engine alive by itself."""

    def __init__(self, session_dir: Path) -> None:
        self.session_dir = session_dir

    def _client(self) -> closing[EngineClient]:
        return closing(EngineClient(self.session_dir))

    @property
    def pid(self) -> int:
        with self._client() as engine:
            return engine.info.pid

    def position(self) -> int:
        with self._client() as engine:
            assert engine.alive(within=1.0), "the engine's heartbeat has stopped"
            return engine.status().position

    def playing(self, track: str) -> str | None:
        """The stem playing on `track` now, if any."""
        with self._client() as engine:
            players = engine.send(State()).players
        return next(
            (p.stem for p in players if p.track == track and p.state == "playing"), None
        )

    def loudest(self, track: str, seconds: float = 1.0) -> float:
        """The highest RMS (linear) `track` shows over `seconds`."""
        with self._client() as engine:
            row = engine.tracks.index(track)
            most = 0.0
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                most = max(most, float(engine.status().meters[row][2:4].max()))
                time.sleep(0.05)
        return most

    def plays_on(self, since: int, track: str | None = None, stem: str | None = None) -> int:
        """Check the clock moved on from `since` (and `track` still plays `stem`); returns
        the position now."""
        now = self.position()
        assert now > since, f"the engine stopped: position {now} after {since}"
        if track is not None:
            assert self.playing(track) == stem, f"{track} no longer plays {stem}"
        return now

    def shutdown(self) -> None:
        try:
            EngineClient(self.session_dir).shutdown()
        except HootError:
            pass  # never started, or already gone


def eventually(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(0.2)
    return found


# ---- the stage ------------------------------------------------------------------------------


class Stage:
    """One session folder, its tmux server and its engine."""

    def __init__(self, tmp_path: Path) -> None:
        self.name = f"hoot-e2e-{os.getpid()}-{next(_numbers)}"
        self.session_dir = tmp_path / "set"
        self.terminal = Terminal(self.name, tmp_path)
        self.engine = Engine(self.session_dir)

    def tui(self) -> Window:
        return self.terminal.open(
            HOOT, "tui", "--session", str(self.session_dir), "--empty", *ENGINE, title="hoot tui"
        )

    def repl(self) -> Window:
        return self.terminal.open(
            HOOT, "repl", "--session", str(self.session_dir), title="hoot repl"
        )

    def close(self) -> None:
        self.terminal.close()
        self.engine.shutdown()


@pytest.fixture
def stage(tmp_path):
    stage = Stage(tmp_path)
    try:
        yield stage
    finally:
        stage.close()


def curtain_up(tui: Window) -> float:
    """Wait for the console's ready line; returns how long it took. If it never comes, the
    failure says what each thread of the TUI was doing (its SIGUSR2 stack dump)."""
    start = time.monotonic()
    try:
        tui.wait_for(READY, STARTUP)
    except AssertionError as failed:
        raise AssertionError(f"{failed}\n{tui_stacks(tui)}") from None
    return time.monotonic() - start


def tui_stacks(tui: Window, timeout: float = 10.0) -> str:
    """Every thread's stack in the `hoot tui` running in `tui` (hoot.tui.stacks_path)."""
    import psutil

    from hoot.stage.stage import stacks_path

    shell = psutil.Process(int(tui._show("#{pane_pid}")))
    for process in shell.children(recursive=True):
        argv = process.cmdline()
        if "tui" in argv and "--session" in argv:
            break
    else:
        return "(no hoot tui process in the window to ask for its stacks)"
    path = stacks_path(Path(argv[argv.index("--session") + 1]))
    size = path.stat().st_size if path.exists() else 0
    process.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + timeout
    seen = size
    while time.monotonic() < deadline:
        grown = path.stat().st_size if path.exists() else size
        if size < grown == seen:  # written, and it stopped growing: the dump is whole
            return "hoot tui's threads:\n" + path.read_text()[size:]
        seen = grown
        time.sleep(0.1)
    return f"(hoot tui wrote no stacks to {path} within {timeout:g} s)"


# ---- reading the screen ---------------------------------------------------------------------


def cells(screen: str, role: str) -> dict[int, str]:
    """The picker's candidates for `role` as shown: {1: "●", 2: "◌", ...}."""
    for line in screen.splitlines():
        row = re.search(rf"(?:^|\s){role} +(\d+[{CELL}].*)$", line)
        if row:
            return {int(n): glyph for n, glyph in re.findall(rf"(\d+)([{CELL}])", row.group(1))}
    return {}


def queue_stem(screen: str, group: str, track: str) -> str | None:
    """What the queue line "next  bass ← #1" / "now   bass ▶ #1" names: a candidate on
    its own track by its number, any other stem by its name."""
    lines = screen.splitlines()
    for i, line in enumerate(lines):
        first = re.search(rf"\b{group} +(\S+) +[←▶] (\S+)", line)
        if first is None:
            continue
        column = first.start(1)  # the group's later lines name their track in this column
        for row in lines[i:]:
            stem = re.match(r"(\S+) +[←▶] (\S+)", row[column:])
            if stem is None:
                break
            if stem.group(1) == track:
                return stem.group(2)
        return None
    return None


def clock(screen: str) -> str:
    """Where the beat grid says we are: bar, phrase and the countdown (it changes on the beat)."""
    return " ".join(re.findall(r"bar \d+  phrase \d+|next phrase in \d+ beats?", screen))


def seconds_to_phrase(screen: str) -> int:
    """The countdown's seconds, rounded up as shown: "next phrase in 3 beats (2 s)"."""
    found = re.search(r"next phrase in \d+ beats? \((\d+) s\)", screen)
    return int(found.group(1)) if found else 0


def input_edge(line: str) -> bool:
    """The top edge of the console's input: a rule across the console."""
    edge = line.strip()
    return len(edge) >= 20 and set(edge) <= set("─━▔▁▊▎")


def said(
    screen: str, code: str, prompt: str = "» ", stops: tuple[str, ...] = ("»",)
) -> list[str] | None:
    """The console's answer to `code`: the lines after its (last) echo, up to the next echo
    or the input; None while the echo is not on screen."""
    lines = screen.splitlines()
    echoes = [i for i, line in enumerate(lines) if line.rstrip() == prompt + code]
    if not echoes:
        return None
    answer = []
    for line in lines[echoes[-1] + 1 :]:
        if line.startswith(stops) or input_edge(line):
            break
        if line.strip():
            answer.append(line.rstrip())
    return answer


def answer(tui: Window, code: str, expected: list[str], timeout: float = 10.0) -> None:
    tui.wait_for(lambda s: said(s, code) == expected, timeout, f"{code!r} to answer {expected}")


def last_said(screen: str) -> str:
    """The last line of the console log, above the input."""
    lines = screen.splitlines()
    edge = next((i for i, line in enumerate(lines) if input_edge(line)), 0)
    return next((line.rstrip() for line in reversed(lines[:edge]) if line.strip()), "")


def flood(tui: Window, code: str, note: str, timeout: float = 60.0) -> tuple[float, int, str]:
    """Run `code` that floods the console and watch the beat grid until the console says
    `note`, and 1.5 s (three beats) more. Returns the longest the grid stood still, how
    often it moved, and the last screen."""
    tui.run(code)
    start = now = time.monotonic()
    changes = [start]
    shown = clock(tui.screen())
    noted_at = None
    while noted_at is None or now - noted_at < 1.5:
        screen = tui.screen()
        now = time.monotonic()
        if clock(screen) != shown:
            shown = clock(screen)
            changes.append(now)
        if noted_at is None and note in last_said(screen):
            noted_at = now
        if now - start > timeout:
            raise AssertionError(tui.describe(f"{code!r} never said {note!r}", screen))
        time.sleep(0.1)
    moves = len(changes) - 1
    changes.append(now)
    return max(b - a for a, b in itertools.pairwise(changes)), moves, screen


def queue_early_in_the_phrase(tui: Window) -> None:
    """Press F8 with over a second to go to the boundary, so "queued" shows a while."""
    tui.wait_for(lambda s: seconds_to_phrase(s) >= 2, 15, "the start of a phrase", every=0.05)
    tui.press("F8")


# ---- the scenes -------------------------------------------------------------------------------


def test_the_performer_generates_a_bassline_picks_one_and_it_plays(stage, report):
    tui = stage.tui()
    report(f"hoot tui ready in {curtain_up(tui):.1f} s")
    tui.run("perf.phrase = 1")
    tui.run('perf.generate("bass", n=6)')

    start = time.monotonic()
    tui.wait_for(
        lambda s: cells(s, "bass") == {n: "●" for n in range(1, 7)},
        GENERATION,
        "six bass candidates ready (●) in the picker",
    )
    report(f"six bass candidates ready in {time.monotonic() - start:.1f} s")
    tui.run('perf.picker["bass"][1].name')
    name = tui.wait_for(
        lambda s: (a := said(s, 'perf.picker["bass"][1].name')) and a[0].strip("'"),
        10,
        "the candidate's name",
    )

    queue_early_in_the_phrase(tui)
    start = time.monotonic()
    screen = tui.wait_for(
        lambda s: (
            queue_stem(s, "next", "bass") == "#1"
            and cells(s, "bass").get(1) == "◆"
            and "bass #1  queued" in s
            and s
        ),
        5,
        "bass #1 queued (◆, 'bass #1  queued', next  bass ← #1)",
        every=0.05,
    )
    assert re.search(r"bass #1 starts at bar \d+", screen), tui.describe("no word on the pick")

    tui.wait_for(
        lambda s: queue_stem(s, "now", "bass") == "#1" and cells(s, "bass").get(1) == "▶",
        10,
        "bass #1 playing (▶, now  bass ▶ #1)",
    )
    report(f"F8 to playing in {time.monotonic() - start:.1f} s")
    assert stage.engine.playing("bass") == name
    assert stage.engine.loudest("bass") > 0.0, "the engine plays the bass silently"
    tui.wait_for(lambda s: re.search(rf"^bass +[{METER}]", s, re.M), 5, "the bass meter moving")


def test_console_disasters_never_stop_the_music(stage, report):
    tui = stage.tui()
    curtain_up(tui)
    engine = stage.engine
    tui.run("perf.phrase = 1")
    tui.run('perf.generate("drums", n=1, bars=1)')
    tui.run('perf.pick("drums", 1)')
    drums = eventually(lambda: engine.playing("drums"), GENERATION, "the drums to play")
    here = engine.plays_on(0, "drums", drums)

    # a typo: one line, in red, and nothing else
    tui.run("perf.tempo = = 3")
    tui.wait_for("SyntaxError", 10)
    here = engine.plays_on(here, "drums", drums)

    # an exception: one line; F2 has the whole story, Escape puts it away
    tui.run("1/0")
    screen = tui.wait_for("ZeroDivisionError", 10)
    typo = said(screen, "perf.tempo = = 3")
    assert len(typo) == 1 and typo[0].startswith("SyntaxError"), tui.describe(
        f"the syntax error should say one line, not {typo}", screen
    )
    tui.press("F2")
    trace = tui.wait_for("Traceback (most recent call last)", 5)
    assert all(
        line in trace for line in ('File "<run ', "1/0", "ZeroDivisionError: division by zero")
    ), tui.describe("the traceback lacks the frame, the code or the error", trace)
    tui.press("Escape")
    tui.wait_for(lambda s: "Traceback (most" not in s and "» 1/0" in s, 5, "the console again")
    here = engine.plays_on(here, "drums", drums)

    # an endless loop: Ctrl-C stops it, and the console is ready for more
    tui.run("while True: pass")
    tui.wait_for("» while True: pass", 5)
    time.sleep(1.0)
    here = engine.plays_on(here, "drums", drums)
    start = time.monotonic()
    tui.press("C-c")
    screen = tui.wait_for("KeyboardInterrupt", 5, "Ctrl-C to stop the loop")
    report(f"Ctrl-C stopped `while True: pass` in {time.monotonic() - start:.1f} s")
    error = said(screen, "1/0")
    assert len(error) == 1 and error[0].startswith("ZeroDivisionError"), tui.describe(
        f"the exception should say one line, not {error}", screen
    )
    tui.run("1+1")
    answer(tui, "1+1", ["2"])
    here = engine.plays_on(here, "drums", drums)

    # floods of output: the grid keeps moving and the console says what it dropped
    for code, note in (
        ('print("x" * 5_000_000)', "characters not shown"),
        ("for i in range(200000): print(i)", "more lines"),
    ):
        stall, moves, screen = flood(tui, code, note)
        report(f"{code}: the beat grid stood still for at most {stall:.2f} s")
        assert "output capped" in last_said(screen), tui.describe("no word on dropping", screen)
        assert moves >= 3, tui.describe(f"the beat grid moved {moves} times during {code}")
        assert stall < STALL_MAX, tui.describe(
            f"the beat grid froze for {stall:.1f} s during {code}", screen
        )
        here = engine.plays_on(here, "drums", drums)

    # exit() asks first; "n" and the set goes on
    tui.run("exit()")
    tui.wait_for("Leave hoot tui?", 5, "the question before leaving")
    tui.press("n")
    tui.wait_for(lambda s: "Leave hoot tui?" not in s and "» exit()" in s, 5, "the set again")
    tui.run('"still here"')
    answer(tui, '"still here"', ["'still here'"])
    assert not tui.dead
    engine.plays_on(here, "drums", drums)


def test_the_tui_dies_the_music_plays_on_and_a_new_tui_reattaches(stage, report):
    tui = stage.tui()
    curtain_up(tui)
    engine = stage.engine
    tui.run("perf.phrase = 1")
    tui.run('perf.generate("bass", n=2)')
    tui.run('perf.pick("bass", 1)')
    bass = eventually(lambda: engine.playing("bass"), GENERATION, "the bass to play")
    tui.wait_for(lambda s: queue_stem(s, "now", "bass") == "#1", 10, "the bass on screen")
    pid = engine.pid

    tui.run("import os; os.kill(os.getpid(), 9)")
    assert tui.wait_for_end() == "signal 9"
    here = engine.plays_on(0, "bass", bass)
    assert engine.loudest("bass") > 0.0, "the bass went silent with the TUI"
    engine.plays_on(here, "bass", bass)

    again = stage.tui()
    report(f"hoot tui reattached in {curtain_up(again):.1f} s")
    assert engine.pid == pid, "a new engine was started instead of reattaching"
    screen = again.wait_for(
        lambda s: (
            queue_stem(s, "now", "bass") == "#1" and re.search(rf"^bass +[{METER}]", s, re.M) and s
        ),
        10,
        "now  bass ▶ #1 and the bass meter moving",
    )
    assert "hoot repl is not available" not in screen, again.describe("no repl after a crash")


def test_hoot_repl_and_the_tui_console_share_one_namespace(stage):
    tui = stage.tui()
    curtain_up(tui)
    repl = stage.repl()
    repl.wait_for(lambda s: "attached to session" in s and ">>>" in s, 30, "the repl's prompt")

    tui.run("x = 41")
    tui.wait_for("» x = 41", 5)
    repl.run("x + 1")
    repl.wait_for(
        lambda s: (said(s, "x + 1", ">>> ", (">>>",)) or [None])[0] == "42",
        10,
        "x + 1 to be 42 in the repl",
    )

    repl.run("y = 5")
    tui.wait_for("» y = 5", 10, "the repl's line in the TUI's console")
    tui.run("y")
    answer(tui, "y", ["5"])


def test_the_picker_follows_a_batch_generated_after_a_wait(stage):
    tui = stage.tui()
    curtain_up(tui)
    tui.run('perf.wait(bars=1); perf.generate("bass", n=2)')
    tui.wait_for(lambda s: len(cells(s, "bass")) == 2, 30, "the bass batch in the picker")
    tui.wait_for(
        lambda s: re.search(r"bass #1  (pending|rendering|ready)", s),
        3,
        "the picker to select the new batch (its details line 'bass #1  ...'): the app "
        "selects the newest batch 0.2 s after the line is submitted (HootApp.run_code), "
        "so a generate() that runs later than that is never selected",
    )
