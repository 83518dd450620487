"""`hoot tui`: the set on one screen, with the music never waiting for it.

The session's Stage (hoot.stage: the engine link, perf, the console, the view, the repl
server) is built off the UI thread (hoot.tui.start_stage, begun before Textual loads);
the app then only draws what the stage posts and forwards keys. Keys that act on the set
use function keys and Alt/Ctrl chords, so they never collide with typing code; they call
the stage's actions, the same actions any controller uses.
"""

from __future__ import annotations

import gc
import os
import time
from collections import deque
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from hoot.errors import HootError
from hoot.stage.view import EMPTY
from hoot.tui.messages import (
    CandidateChosen,
    ConsoleOutput,
    ExitRequested,
    HeightChanged,
    Ready,
    RunCode,
    ViewUpdated,
)
from hoot.tui.widgets import STYLESHEET
from hoot.tui.widgets.beat_grid import BeatGrid
from hoot.tui.widgets.code_input import CodeInput
from hoot.tui.widgets.console import Console
from hoot.tui.widgets.meters import Meters
from hoot.tui.widgets.models import ModelsView
from hoot.tui.widgets.picker import StemPicker
from hoot.tui.widgets.queue import QueueView
from hoot.tui.widgets.status_line import StatusLine

KEYS = [
    ("f1", "help", "Help: every key"),
    ("f2", "traceback", "Full traceback of the last error"),
    ("f3", "role(-1)", "Picker: previous role"),
    ("f4", "role(1)", "Picker: next role"),
    ("f5", "engine", "Engine: start the session's engine again if it has stopped"),
    ("f6", "tap", "Tap tempo: three taps or more set it (following a band: a hint too)"),
    ("f7", "one", "This is one: the beat you hear now starts a bar and a phrase"),
    ("alt+left", "candidate(-1)", "Picker: previous candidate"),
    ("alt+right", "candidate(1)", "Picker: next candidate"),
    ("f8", "pick", "Queue the selected candidate at the next phrase"),
    ("f9", "stop_track", "Stop the selected role's track at the next phrase"),
    ("f12", "panic", "Panic: everything stops now, with a short fade"),
    ("ctrl+c", "interrupt", "Stop the running statement"),
    ("pageup", "console_page(1)", "Console (or this sheet): page back"),
    ("pagedown", "console_page(-1)", "Console (or this sheet): page on"),
    ("ctrl+q", "quit_set", "Quit hoot tui (asks; the engine plays on)"),
]


# A full garbage collection walked every object the imports, the warm-up (scipy, jedi's
# caches) and Textual had made, and held the UI thread for 170-200 ms: the screen's
# longest stall while idle. Those objects live as long as the app, so they are set aside
# (gc.freeze) once ready and again once the warm-up is done; later collections walk only
# what the set makes.
SETTLED_S = 8.0

HELP = "\n".join(
    [f"{key:>10}  {text}" for key, _, text in KEYS]
    + [
        "",
        "     enter  run a complete statement (else a new line)",
        " alt+enter  run the whole buffer (also ctrl+e)",
        "       tab  complete from the live namespace",
        "   up/down  history (first/last line)",
        "    ctrl+p  command palette",
        "",
        "    escape  puts this away",
    ]
)


class ConfirmQuit(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, recording: bool = False) -> None:
        super().__init__()
        self.recording = recording

    def compose(self) -> ComposeResult:
        what = "and the recording go on" if self.recording else "goes on"
        with Vertical(id="confirm"):
            yield Label(f"Leave hoot tui? The music {what}; `hoot tui` reattaches. (y/n)")
            with Horizontal():
                yield Button("Leave", id="yes", variant="error")
                yield Button("Stay", id="no", variant="primary")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class SetCommands(Provider):
    """The command palette's actions: the same ones as the keys."""

    async def search(self, query: str) -> Hits:
        app = self.app
        matcher = self.matcher(query)
        for _, action, text in KEYS:
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), lambda a=action: app.run_action(a))
        for text, code in (
            ("Record the set", "perf.record()"),
            ("Stop recording", "perf.stop_recording()"),
        ):
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), lambda c=code: app.run_code(c))


class HootApp(App):
    """The set's screen: it draws the stage's view and forwards keys to its actions.
    `stage` injects a stage (tests); `starting` is a stage being started by
    hoot.tui.start_stage; otherwise the session's engine is attached to, or started with
    `engine_args`, from the moment the app is made."""

    CSS_PATH = [STYLESHEET, Path(__file__).parent / "app.tcss"]  # widgets, then the layout
    TITLE = "hoot"
    COMMANDS = App.COMMANDS | {SetCommands}
    BINDINGS = [Binding(k, a, t, priority=True, show=False) for k, a, t in KEYS] + [
        Binding("escape", "put_sheet_away", "Put the sheet away", priority=True, show=False)
    ]
    TOP_SHARE = 0.6  # the set's panels take what they need, up to this much of the screen
    FLASH_S: float | None = 0.5  # the picker's queued cells blink (None: steady)

    def __init__(
        self,
        session: str | Path = "default",
        stage=None,
        starting=None,
        set_script: Path | None = None,
        starter: bool = False,
        controllers: bool = False,
        **engine_args,
    ) -> None:
        super().__init__()
        self.controllers = controllers  # attach MIDI controllers (`hoot tui` does)
        from hoot.session import Session
        from hoot.tui import start_stage

        self.session = stage.session if stage is not None else Session(session)
        self.stage = stage
        self.set_script = set_script  # run in the console once the engine is ready
        if set_script is None and starter and self.session.is_new:
            from hoot.sets import STARTER

            self.set_script = STARTER  # a new session plays hoot's starting groove
        # the engine is attached to (or started) from now on, while Textual starts
        if stage is None and starting is None:
            starting = start_stage(self.session, **engine_args)
        self._starting = starting
        self.view = EMPTY
        self.frames = 0  # views drawn, for tests and the benchmark
        # HOOT_TUI_FRAMES names a file that gets each drawn view's time.monotonic(), a line
        # each: benchmarks/tui.py reads the frame gaps from it
        path = os.environ.get("HOOT_TUI_FRAMES")
        self._frame_log = open(path, "a", buffering=1) if path else None  # noqa: SIM115
        self._panels: list | None = None
        self._top = None  # the set's panels' row, as tall as _fit_top says
        self._top_height = 0
        self._outputs: deque = deque()  # console output from other threads, batched

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            with Vertical(id="left"):
                yield BeatGrid(id="grid")
                yield Meters(id="meters")
            with Vertical(id="right"):
                yield StemPicker(id="picker", flash=self.FLASH_S)
                yield QueueView(id="queue")
                yield ModelsView(id="models")
        yield Console(_Pending(), _NoHistory(), id="console")
        yield StatusLine(id="status")

    def on_mount(self) -> None:
        self.query_one(CodeInput).focus()
        self.write("info", f"hoot: attaching to the engine of session {self.session.name!r}…")
        self.set_interval(1 / 20, self.flush_output)
        self.attach()

    # ---- start-up, off the UI thread ----------------------------------------------------

    @work(thread=True, exclusive=True, group="attach")
    def attach(self) -> None:
        say = lambda m: self.post_message(ConsoleOutput("info", m))  # noqa: E731
        if self.stage is not None:
            stage = self.stage
        else:
            try:
                stage, said = self._starting.result()
            except HootError as e:
                self.post_message(Ready(str(e)))
                return
            for message in said:
                say(message)
        stage.on_message = say
        stage.start_console(
            on_output=self._outputs.append,  # drained by flush_output on the UI thread
            on_exit_request=lambda: self.post_message(ExitRequested()),
        )
        stage.start_view(post=lambda v: self.post_message(ViewUpdated(v)))
        why = stage.serve_repl()
        if why:
            say(f"hoot repl is not available: {why}")
        self.stage = stage
        self.post_message(Ready())  # the console first: the controllers are an extra
        if self.controllers:
            stage.start_controllers()  # a Launchpad draws the same views, calls the same actions
        stage.warm_up()  # the workers and heavy imports, so no first statement waits

    @on(Ready)
    def ready(self, message: Ready) -> None:
        if message.error:
            self.write("error", f"hoot: {message.error}")
            return
        console = self._console()
        code = console.query_one(CodeInput)
        console.executor = code.executor = self.stage.executor
        console.past = code.past = self.stage.history
        info = self.stage.link.info
        self.write(
            "info",
            f"engine: {info.backend} on {info.device}; "
            "perf is ready (F1: keys, help(perf) for the manual)",
        )
        gc.freeze()  # what start-up made stays: the collector need not walk it again
        gc.disable()  # nor during the warm-up, whose imports and caches stay too
        self.set_timer(SETTLED_S, _settle_the_heap)
        if self.set_script is not None:
            try:
                self.run_code(Path(self.set_script).read_text())
            except OSError as e:
                self.write("error", f"hoot: cannot read the set {self.set_script}: {e}")

    # ---- the stage's parts, for tests and the benchmark -----------------------------------

    @property
    def perf(self):
        return self.stage.perf if self.stage else None

    @property
    def executor(self):
        return self.stage.executor if self.stage else None

    @property
    def actions(self):
        return self.stage.actions if self.stage else None

    # ---- drawing ------------------------------------------------------------------------------

    @on(ViewUpdated)
    def draw(self, message: ViewUpdated) -> None:
        # The panels live on the main screen; a modal (the quit question, the palette) may
        # be on top, so they are found there once, never on the active screen.
        if self._panels is None:
            main = self.screen_stack[0] if self.screen_stack else None
            if main is None or not main.is_attached:
                return
            kinds = (BeatGrid, Meters, StemPicker, QueueView, ModelsView, StatusLine)
            self._panels = [main.query_one(kind) for kind in kinds]
            self._top = main.query_one("#top")
        self.view = message.view
        for widget in self._panels:
            widget.update(message.view)
        self._fit_top()
        self.frames += 1
        if self._frame_log is not None:
            self._frame_log.write(f"{time.monotonic():.4f}\n")

    @on(HeightChanged)
    def _fit_top(self) -> None:
        """Give the set's panels the lines they want, up to TOP_SHARE of the screen; with
        less, the meters flow into columns and the picker and the queue say what is out
        of view (app.tcss)."""
        if self._panels is None:
            return
        grid, meters, picker, queue, models, _ = self._panels
        want = max(
            grid.wanted_height + meters.wanted_height,
            picker.wanted_height + queue.wanted_height + models.wanted_height,
        )
        height = max(1, min(want, int(self.size.height * self.TOP_SHARE)))
        if height != self._top_height:
            self._top_height = height
            self._top.styles.height = height

    def write(self, kind: str, text: str, traceback: str = "") -> None:
        main = self.screen_stack[0] if self.screen_stack else None
        if main is not None:
            for console in main.query(Console):
                console.write(kind, text, traceback)

    @on(ConsoleOutput)
    def console_output(self, message: ConsoleOutput) -> None:
        self.write(message.kind, message.text, message.traceback)

    def flush_output(self, most: int = 400) -> None:
        """Show what the console produced since the last tick: consecutive lines of one
        kind become one write, and a flood is spread over ticks, so a print loop never
        holds up the meters and the beat grid."""
        merge = ("stdout", "stderr", "result", "info")
        kind, lines = None, []
        for _ in range(most):
            if not self._outputs:
                break
            o = self._outputs.popleft()
            if o.kind in merge and o.kind == kind:
                lines.append(o.text)
                continue
            if lines:
                self.write(kind, "\n".join(lines))
            kind, lines = (o.kind, [o.text]) if o.kind in merge else (None, [])
            if o.kind not in merge:
                self.write(o.kind, o.text, o.traceback)
        if lines:
            self.write(kind, "\n".join(lines))

    # ---- the console ---------------------------------------------------------------------------

    @on(RunCode)
    def run_input(self, message: RunCode) -> None:
        self.run_code(message.source)

    def run_code(self, source: str) -> None:
        if self.executor is None:
            self.write("info", "the engine is still starting; try again in a moment")
            return
        self.executor.submit(source)

    @on(CandidateChosen)
    def candidate_chosen(self, message: CandidateChosen) -> None:
        if self.actions is not None:
            self.actions.selection.role = message.role
            self.actions.selection.index = message.index

    @on(ExitRequested)
    def exit_requested(self) -> None:
        self.action_quit_set()

    # ---- actions (keys and palette) ------------------------------------------------------------

    def _act(self, name: str, *args) -> None:
        if self.actions is None:
            self.write("info", "the engine is still starting")
            return
        self._run_action(name, args)

    @work(thread=True, group="actions")
    def _run_action(self, name: str, args: tuple) -> None:
        # Picking, stopping and panic talk to the engine: never on the UI thread, so a
        # hung engine cannot freeze the screen.
        self.post_message(ConsoleOutput("info", getattr(self.actions, name)(*args)))

    def action_role(self, step: int) -> None:
        self._act("next_role", step)

    def action_candidate(self, step: int) -> None:
        self._act("next_candidate", step)

    def action_pick(self) -> None:
        self._act("pick")

    def action_stop_track(self) -> None:
        self._act("stop_selected")

    def action_engine(self) -> None:
        self._act("engine")

    def action_tap(self) -> None:
        self._act("tap", time.monotonic())  # stamped here: the worker may start later

    def action_one(self) -> None:
        self._act("one", time.monotonic())

    def action_panic(self) -> None:
        self._act("panic")

    def action_interrupt(self) -> None:
        if self.executor is not None and self.executor.interrupt():
            self.write("info", "interrupting…")

    def action_console_page(self, pages: int) -> None:
        self._console().page(pages)

    def action_help(self) -> None:
        self._console().show_sheet("keys", "keys · Escape puts this away", HELP)

    def action_traceback(self) -> None:
        text = self._console().last_traceback or "no error yet"
        self._console().show_sheet("traceback", "the last error · Escape puts this away", text)

    def action_put_sheet_away(self) -> None:
        self._console().put_sheet_away()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "put_sheet_away":  # else Escape is the editor's, or the palette's
            return self.screen is self.screen_stack[0] and self._console().sheet_shown
        return True

    def _console(self) -> Console:
        return self.screen_stack[0].query_one(Console)

    def action_quit_set(self) -> None:
        """Leave, asking first while music plays (or is about to: queued, or sounding on the
        master meter) or a recording runs."""
        view = self.view
        sounding = max(view.master.peak) > 1e-3  # -60 dBFS
        busy = view.recording or bool(view.queue) or sounding
        if not busy:
            self.exit()
            return

        def leave(yes: bool | None) -> None:
            if yes:
                self.exit()

        if not isinstance(self.screen, ConfirmQuit):
            self.push_screen(ConfirmQuit(recording=view.recording), leave)

    async def action_quit(self) -> None:
        """Every way out (the palette's "Quit the application", Ctrl+Q, exit()) asks."""
        self.action_quit_set()

    def on_resize(self) -> None:
        self._fit_top()  # TOP_SHARE of a new height

    def on_unmount(self) -> None:
        gc.unfreeze()  # the process may go on (tests): give the collector everything back
        gc.enable()
        if self._frame_log is not None:
            self._frame_log.close()
        if self.stage is not None:
            self.stage.close()  # our parts and our connection: the engine plays on


def _settle_the_heap() -> None:
    gc.freeze()
    gc.enable()


class _Pending:
    """Stands in for the Executor until the engine is attached."""

    history = None
    busy = False

    def is_complete(self, source: str) -> bool:
        return True

    def complete(self, source: str, cursor: int) -> list[str]:
        return []


class _NoHistory:
    def append(self, source: str) -> None:
        pass

    def previous(self, prefix: str) -> None:
        return None

    def next(self, prefix: str) -> None:
        return None
