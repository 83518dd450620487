"""The Stage: the headless core of a set, which every front end shares.

A Stage owns the session's engine link, `perf`, the actions every controller calls, the
console that runs the performer's code, the view of the set that screens draw, and the
`hoot repl` server. `hoot tui` draws its view and forwards its keys to its actions;
`hoot play` runs a script on it; `hoot render` runs one offline; a Launchpad or a MIDI
map is one more front end calling the same actions. Nothing here imports Textual.

    stage = Stage.live(Session("friday"), backend="auto")   # attach, or start the engine
    stage.start_console(on_output=print)
    stage.start_view(post=draw)                              # SetView ~30 times a second
    stage.start_controllers()                                # a Launchpad draws it too
    stage.actions.pick(3)                                    # what F8 and a pad do
    stage.close()                                            # the engine plays on
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hoot.console.namespace import make_namespace
from hoot.control.link_sync import LinkSync
from hoot.control.midi import MidiRig
from hoot.control.sources import open_sync
from hoot.engine import protocol as p
from hoot.engine.protocol import EngineLink, PlayerState
from hoot.errors import HootError
from hoot.performance import Performance
from hoot.session import Session
from hoot.stage.actions import SetActions
from hoot.stage.link import SessionEngine


class Stage:
    """One set, whatever front end plays it. See the module docstring."""

    def __init__(self, session: Session, link: EngineLink,
                 on_message: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.session = session
        self.link = link
        self.perf = Performance(link, session)
        self.actions = SetActions(self.perf)
        self.namespace = make_namespace(self.perf, actions=self.actions)
        self.executor = None
        self.watcher = None
        self.repl = None
        self.history = None
        self.rig = None
        self.viewers: list[Callable] = []  # controllers: each SetView is drawn on them too
        self._post: Callable = lambda view: None
        # set first, so what restoring the session says (a saved MIDI map) is heard
        self.on_message: Callable[[str], None] = on_message or (lambda message: None)
        self.perf.on_message = self.say
        self.last_players: tuple[PlayerState, ...] = ()  # what played, as last seen
        self._selection_saved: tuple[str | None, int] = (None, 0)
        if isinstance(link, SessionEngine):
            link.on_new_engine = self._engine_restarted
        self._restore_selection()
        # perf.midi: made here because perf imports no MIDI; opens ports only when used
        self.midi = MidiRig(self)  # its saved maps come back once the inputs are known
        self.perf.midi = self.midi
        # perf.follow's sync sources: a band on the inputs (hoot.control.beat_follow), or a
        # MIDI clock on the same ports as perf.midi (hoot.control.clock_in)
        self.perf.open_sync = lambda source, listen=None: open_sync(
            self.perf, self.midi.ports, source, listen
        )

    # ---- making one ------------------------------------------------------------------------

    @classmethod
    def live(cls, session: Session, on_message: Callable[[str], None] | None = None,
             **engine_args: Any) -> Stage:  # fmt: skip
        """The stage of `session`'s live engine: attached to if it runs, else started and
        given the settings the session saved."""
        link = SessionEngine(session.dir, start_args=lambda: start_args(session), **engine_args)
        stage = cls(session, link, on_message)
        for line in stage.link.messages():
            stage.say(f"engine: {line}")
        if stage.link.started and not session.is_new:
            stage.perf.restore_engine()
        elif not stage.link.started:  # reattached: a recording may be running
            stage.perf.adopt(stage.link.send(p.State()))
        stage.midi.restore()  # after the inputs: a knob may move an input's fader
        stage.perf.link = LinkSync(stage.perf)  # live only: Link's time is the room's
        stage.restore_sync()
        return stage

    @classmethod
    def offline(cls, session: Session, samplerate: int = 48000,
                blocksize: int | str | list[int] = 256, seed: int = 0) -> Stage:  # fmt: skip
        """A stage whose engine runs in this process and moves only when the script waits
        (`hoot render`, tests)."""
        from hoot.engine.client import LocalEngine

        link = LocalEngine(samplerate, blocksize=blocksize, session_dir=session.dir, seed=seed)
        stage = cls(session, link)
        stage.midi.restore()
        return stage

    # ---- what runs beside it -----------------------------------------------------------------

    def say(self, message: str) -> None:
        """Tell the performer something, on whatever front end is attached."""
        try:
            self.on_message(message)
        except Exception:  # noqa: BLE001 - a broken display must not stop the set
            pass

    def start_console(self, on_output: Callable, on_exit_request: Callable[[], None] | None = None):
        """The evaluation thread that runs the performer's code in the stage's namespace."""
        from hoot.console.executor import Executor
        from hoot.console.history import History

        self.history = History(self.session.dir / "history.jsonl")
        self.executor = Executor(
            self.namespace,
            on_output=on_output,
            history=self.history,
            on_exit_request=on_exit_request,
        )
        return self.executor

    def start_view(self, post: Callable, hz: float = 30.0):
        """Build the set's view (hoot.stage.view.SetView) `hz` times a second and hand it
        to `post`, from a thread of its own."""
        from hoot.stage.watcher import SetWatcher

        self._post = post
        self.watcher = SetWatcher(self, self._show, hz=hz)
        self.watcher.start()
        return self.watcher

    def _show(self, view) -> None:
        self._post(view)
        for draw in list(self.viewers):
            try:
                draw(view)
            except Exception:  # noqa: BLE001 - a broken controller must not stop the screen
                pass

    def start_controllers(self, ports=None, **rig_args: Any):
        """Attach the controllers on the MIDI ports (a Launchpad Pro MK3, and any plug-in in
        `hoot.controllers`), now and whenever one is plugged in later; they draw the set's
        view (started here if no front end started it) and call the actions. `ports`: a
        hoot.midi.ports.MidiPorts (by default, the one the system's MIDI API gives). Where
        there is no MIDI at all, the set goes on without controllers (`hoot doctor` says
        why)."""
        from hoot.control.surface import ControllerRig

        if self.watcher is None:
            self.start_view(post=lambda view: None)
        self.rig = ControllerRig(self, ports, **rig_args)
        self.rig.start()  # finds the MIDI API and the ports on its own thread: nothing waits
        return self.rig

    def serve_repl(self) -> str | None:
        """Let `hoot repl` type into this stage's console. Returns why not, or None."""
        if self.executor is None:
            return "the console is not running"
        try:
            from hoot.console.repl_server import ReplServer, repl_socket_path

            self.repl = ReplServer(self.executor, repl_socket_path(self.session.dir))
            self.repl.start()
            self.repl.write_pointer(self.session.dir)
        except Exception as e:  # noqa: BLE001 - the repl is an extra; the set goes on
            self.repl = None
            return str(e)
        return None

    def warm_up(self) -> None:
        """Start what the first statements and keys need, so none of them waits: the
        generation workers, and the imports a first generate, sound or completion pulls."""
        self.perf.picker.pool.start()
        threading.Thread(target=_import_the_heavy_parts, daemon=True, name="hoot-warm").start()

    def run_script(self, path: Path) -> None:
        """Run a set script (a .py file) in the stage's namespace."""
        from hoot.stage.script import run_script

        run_script(path, self.namespace)

    def restore_sync(self) -> None:
        """Follow the MIDI clock and send clock out to the ports session.toml keeps (clock
        out only where the engine is not sending it already), and join Link if the set was
        in a session. A port that is missing is said in one sentence; nothing else stops."""
        saved = self.session.read_settings()
        listen = saved.get("follow_listen")

        def follow(source):
            return self.perf.follow(source, listen=listen if isinstance(listen, str) else None)

        for key, start in (("clock_out", self._restore_clock_out), ("follow", follow)):
            port = saved.get(key)
            if not port or not isinstance(port, (str, list)):
                continue
            try:
                start(port)
            except HootError as error:
                what = "clock out to" if key == "clock_out" else "following"
                self.say(f"{what} {port!r} is not restored: {error}")
        link = saved.get("link")
        if isinstance(link, dict) and link.get("on") and self.perf.link is not None:
            try:
                self.perf.sync = "link"
            except HootError as error:
                self.say(f"the Link session is not joined again: {error}")

    def _restore_clock_out(self, port: str) -> None:
        if not self.link.send(p.GetClock()).port:
            self.perf.clock_out(port)

    # ---- a new engine ----------------------------------------------------------------------

    def remember(self, state) -> None:
        """What the engine played when last seen, for bringing it back after a crash; and
        the picker's selection, for bringing that back tomorrow."""
        self.last_players = tuple(state.players)
        selection = (self.actions.selection.role, self.actions.selection.number)
        if selection != self._selection_saved and selection[0] is not None:
            self._selection_saved = selection
            self.session.update_settings(picker={"role": selection[0], "number": selection[1]})

    def _restore_selection(self) -> None:
        saved = self.session.read_settings().get("picker")
        if isinstance(saved, dict) and saved.get("role") in self.perf.picker.latest:
            self.actions.select(str(saved["role"]), int(saved.get("number", 1)))
            self._selection_saved = (self.actions.selection.role, self.actions.selection.number)

    def _engine_restarted(self) -> None:
        """The engine had died and a command started a new one: give it the set back."""
        done = self.perf.restore_engine(self.last_players)
        port = self.session.read_settings().get("clock_out")
        if isinstance(port, str) and port:
            try:
                self.perf.clock_out(port)
                done.append(f"clock goes out to {port} again")
            except HootError as error:
                done.append(f"clock out to '{port}' is not restored ({error})")
        try:
            notes = [line for line in self.link.messages() if "repaired" in line]
        except HootError:
            notes = []
        if notes:
            done.append("the recording is repaired")
        self.say("the engine had stopped, so a new one plays the session: " + "; ".join(done))

    def close(self) -> None:
        """Stop everything this stage runs here; a live engine plays on."""
        for stop in (
            self.rig and self.rig.close,  # Live mode again while the ports are open
            self.midi.close,
            self.watcher and self.watcher.stop,
            self.repl and self.repl.stop,
            self.executor and self.executor.close,
        ):
            try:
                if stop:
                    stop()
            except Exception:  # noqa: BLE001 - leaving must not fail
                pass
        try:
            self.perf.close()
        finally:
            self.link.close()
            from hoot import runtime

            runtime.clean()  # what dead processes left, ours included once they are gone


def start_args(session: Session) -> dict:
    """How a new engine for `session` starts: on the tempo, meter and phrase length the
    performer set last (a value the session file spoils is left at its default)."""
    from hoot.music.time import Meter, TimeError, check_bpm, check_phrase

    saved = session.read_settings()
    args: dict[str, Any] = {}
    for name, check in (("tempo", check_bpm), ("meter", Meter.parse), ("phrase", check_phrase)):
        if name in saved:
            try:
                value = check(saved[name])
            except (TimeError, TypeError, ValueError):
                continue
            args["bpm" if name == "tempo" else name] = str(value) if name == "meter" else value
    return args


def _import_the_heavy_parts() -> None:
    """Imports the first statements of a set would otherwise wait for (the renderer's
    vocabulary pulls scipy; completion pulls jedi)."""
    import importlib

    for name in ("hoot.generate.soundfont", "hoot.music.clip", "jedi"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - warming is an optimisation
            pass


def stacks_path(session_dir):
    """Where `kill -USR2 <pid of hoot tui>` writes what every thread of the TUI is doing: for
    a screen that seems stuck (the tests send it when a wait fails). Beside the engine's
    socket in the private runtime folder, not among the performer's files."""
    from hoot.runtime import runtime_dir, session_key

    return runtime_dir() / f"{session_key(session_dir)}.tui-stacks.txt"
