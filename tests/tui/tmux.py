"""Real programs in a real terminal, for end-to-end tests.

A `Terminal` is a private tmux server (its own socket, so nothing touches the user's
tmux); each program runs in a window of it, at a fixed size, and is read back as plain
text. Dead panes stay on screen (remain-on-exit), so a program that dies can still be
read and asked how it ended.

    terminal = Terminal("hoot-e2e-1", tmp_path)
    tui = terminal.open("hoot", "tui", title="hoot tui")
    tui.wait_for("perf is ready")
    tui.run("1+1")
    terminal.close()
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

POLL = 0.2  # seconds between two looks at the screen


class Terminal:
    """A tmux server of our own; `open` starts a program in a new window."""

    def __init__(self, name: str, folder: Path, width: int = 120, height: int = 40) -> None:
        if shutil.which("tmux") is None:
            raise AssertionError("tmux is not installed: the end-to-end tests drive hoot in it")
        self.name = name
        self.width = width
        self.height = height
        self.config = Path(folder) / f"{name}.tmux.conf"
        self.config.write_text("set -g remain-on-exit on\n")
        self.folder = Path(folder)
        self._opened = 0
        self.windows: list[Window] = []
        # Passed explicitly: the C environment of a test process can differ from os.environ
        # (readline exports COLUMNS=80 LINES=24 behind Python's back), and programs that
        # believe COLUMNS over the terminal would draw at the wrong size.
        self.environment = {
            k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")
        }

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.name, "-f", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=15,
            env=self.environment,
        )
        if done.returncode:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def open(self, *argv: str, title: str) -> Window:
        """Start `argv` in a new window of this terminal. A shell waits for it and writes its
        exit status to a file: tmux 3.3 sometimes marks a pane dead without ever having its
        exit status (seen under load), so the status is taken from the shell, which knows."""
        self._opened += 1
        status = self.folder / f"{self.name}-{self._opened}.status"
        status.unlink(missing_ok=True)
        argv = ("sh", "-c", '"$@"; echo "$?" > "$0"', str(status), *argv)
        show_pane = ("-P", "-F", "#{pane_id}")
        if self.windows:
            pane = self.tmux("new-window", "-d", "-t", self.name, *show_pane, "--", *argv)
        else:
            size = ("-x", str(self.width), "-y", str(self.height))
            pane = self.tmux("new-session", "-d", "-s", self.name, *size, *show_pane, "--", *argv)
        window = Window(self, pane.strip(), title, status)
        self.windows.append(window)
        return window

    def close(self) -> None:
        """End every program in it (they get SIGHUP) and the server, and remove its socket."""
        try:
            socket = Path(self.tmux("display-message", "-p", "#{socket_path}").strip())
        except RuntimeError:
            return  # no server: nothing was opened, or it is gone already
        subprocess.run(
            ["tmux", "-L", self.name, "kill-server"],
            capture_output=True,
            timeout=15,
            env=self.environment,
        )
        socket.unlink(missing_ok=True)


class Window:
    """One program on screen: type into it, press keys, read it, wait for it."""

    def __init__(self, terminal: Terminal, pane: str, title: str, status: Path) -> None:
        self.terminal = terminal
        self.pane = pane
        self.title = title
        self.status_file = status

    # ---- the keyboard ---------------------------------------------------------------------

    def type(self, text: str) -> None:
        """Type `text` as it is, key by key."""
        self.terminal.tmux("send-keys", "-t", self.pane, "-l", "--", text)

    def press(self, *keys: str) -> None:
        """Press keys by their tmux names: "Enter", "Escape", "F8", "C-c", "n"."""
        self.terminal.tmux("send-keys", "-t", self.pane, *keys)

    def run(self, code: str) -> None:
        """Type a line and press Enter."""
        self.type(code)
        self.press("Enter")

    # ---- the screen -----------------------------------------------------------------------

    def screen(self) -> str:
        return self.terminal.tmux("capture-pane", "-p", "-t", self.pane)

    def _show(self, fmt: str) -> str:
        return self.terminal.tmux("display-message", "-p", "-t", self.pane, fmt).strip()

    @property
    def dead(self) -> bool:
        return self._show("#{pane_dead}") == "1"

    @property
    def end(self) -> str:
        """How the program ended: "signal 9", "status 0", or "" while it runs (the shell
        around it writes the status: 128 + N is signal N)."""
        try:
            text = self.status_file.read_text()
        except OSError:
            return ""
        if not text.endswith("\n"):
            return ""  # being written
        code = int(text)
        return f"signal {code - 128}" if code > 128 else f"status {code}"

    def wait_for(
        self,
        want: str | Callable[[str], Any],
        timeout: float = 30.0,
        what: str | None = None,
        every: float = POLL,
    ) -> Any:
        """Look at the screen every `every` s until it shows `want` (a text, or a function
        of the screen giving something true), and return that (the screen for a text).
        Fails with the screen after `timeout` s, or at once if the program has ended."""
        test = (lambda s: s if want in s else None) if isinstance(want, str) else want
        what = what or (repr(want) if isinstance(want, str) else want.__doc__ or "the screen")
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            found = test(screen)
            if found:
                return found
            ended = self.end
            if ended:
                raise AssertionError(self.describe(f"{self.title} ended ({ended}) before {what}"))
            if time.monotonic() > deadline:
                raise AssertionError(self.describe(f"waited {timeout:g} s for {what}", screen))
            time.sleep(every)

    def wait_for_end(self, timeout: float = 10.0) -> str:
        """Wait until the program has ended; returns how (see `end`)."""
        deadline = time.monotonic() + timeout
        while not (ended := self.end):
            if time.monotonic() > deadline:
                raise AssertionError(self.describe(f"{self.title} still runs after {timeout:g} s"))
            time.sleep(POLL)
        return ended

    def describe(self, problem: str, screen: str | None = None) -> str:
        """`problem`, followed by the screen as it is, framed."""
        screen = self.screen() if screen is None else screen
        rule = "─" * self.terminal.width
        return f"{problem}\n{self.title}:\n{rule}\n{screen.rstrip()}\n{rule}"
