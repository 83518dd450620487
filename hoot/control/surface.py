"""The plug-in shape of a controller, and the rig that finds controllers on the MIDI ports.

A controller is a front end like the Textual app: it draws the stage's `SetView` (about 30
times a second, from the stage's watcher) and turns presses into the stage's actions. It is
found by a part of its MIDI port's name and, if it declares one, confirmed by its reply to
the Universal Device Inquiry (`F0 7E 7F 06 01 F7`), which every class-compliant unit
answers in any mode.

Controllers are plug-ins: a package names its class in the entry-point group
`hoot.controllers`, and hoot finds it without any change to hoot's code:

    [project.entry-points."hoot.controllers"]
    launchpad_x = "my_package.launchpad_x:LaunchpadX"

The rig (`ControllerRig`) looks at the ports when the stage starts its controllers and again
each second (a controller plugged in mid-set is attached within about a second); ports that come
back after an unplug are reopened by the ports layer itself, and the controller is told to
draw everything again. Nothing a controller does may stop the set: a controller that raises
is logged out in one sentence, and the music goes on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from hoot.engine import protocol as p
from hoot.errors import HootError

GROUP = "hoot.controllers"
"""The entry-point group controllers are registered in."""

IDENTITY_REQUEST = bytes.fromhex("F07E7F0601F7")
"""The Universal Device Inquiry: every class-compliant unit answers it, in any mode."""

HOOTS_OWN = {"launchpad_pro_mk3": "hoot.control.launchpad:LaunchpadProMK3"}
"""hoot's own controllers, as its pyproject.toml registers them. Kept here as well so that a
checkout whose installed metadata predates a controller still finds it."""


def identity_of(message: bytes) -> bytes | None:
    """The manufacturer and family bytes of an identity reply
    (`F0 7E <device> 06 02 <manufacturer: 1 or 3 bytes> <family: 2> <member: 2> <version: 4>
    F7`), or None for any other message, a truncated reply included."""
    if len(message) < 8 or message[:2] != b"\xf0\x7e" or message[3:5] != b"\x06\x02":
        return None
    if message[-1] != 0xF7 or any(b > 0x7F for b in message[1:-1]):
        return None  # cut short, or run into the next message (RtMidi joins a cut SysEx on)
    width = 3 if message[5] == 0 else 1
    if len(message) < 5 + width + 2 + 2 + 4 + 1:
        return None
    return bytes(message[5 : 5 + width + 2])


class Controller:
    """A hardware controller: subclass it, register the class in `hoot.controllers`.

    `port` is a part of the MIDI port's name that finds it (both directions); `identity`
    the manufacturer and family bytes its identity reply must carry (None: the name is
    enough). The rig makes one per device with `send` (bytes to the device; dropped while
    it is unplugged) and `say` (one sentence to the performer), then calls `attach(stage)`.
    After that, `receive` gets each message from the device (on the MIDI thread: never call
    the stage's actions there, they may wait for the engine), `draw` each SetView (on the
    stage's watcher thread), `plugged` each unplug and replug, and `close` once at the end.
    """

    name: ClassVar[str] = "controller"
    port: ClassVar[str] = ""
    identity: ClassVar[bytes | None] = None
    wants_clock: ClassVar[bool] = False
    """True for a device that keeps time by the MIDI clock it receives (a Launchpad animates
    its flashing and pulsing pads by it): while it is attached and plugged in, the rig has
    the engine send it clock ticks (no Start or Stop) at hoot's tempo."""

    def __init__(self, send: Callable[[bytes], None], say: Callable[[str], None] = print) -> None:
        self.send = send
        self.say = say
        self.stage: Any = None

    @classmethod
    def matches(cls, port_name: str) -> bool:
        """Whether a port of this name may be this controller."""
        return bool(cls.port) and cls.port in port_name

    def attach(self, stage: Any) -> None:
        """Take over the device for `stage` (put it in the mode hoot drives it in)."""
        self.stage = stage

    def receive(self, message: bytes, arrived: float) -> None:
        """A message from the device; `arrived` is time.monotonic() at its arrival."""

    def draw(self, view: Any) -> None:
        """Show `view` (a hoot.stage.view.SetView) on the device."""

    def plugged(self, connected: bool) -> None:
        """The device went away (False) or came back (True): draw everything again."""

    def close(self) -> None:
        """Give the device back as it was before hoot took it."""


def controller_classes(
    say: Callable[[str], None] = lambda message: None,
) -> dict[str, type[Controller]]:
    """Every controller class registered in `hoot.controllers`, hoot's own included, by
    entry-point name. A plug-in that does not load is left out, and `say` is told why."""
    found: dict[str, str] = dict(HOOTS_OWN)
    for ep in entry_points(group=GROUP):
        found[ep.name] = ep.value
    classes = {}
    for name, target in found.items():
        try:
            classes[name] = _load(target)
        except Exception as e:  # noqa: BLE001 - a broken plug-in must not stop the set
            say(f"the controller plug-in {name} ({target}) does not load, so it is left out: {e}")
    return classes


def _load(target: str) -> type[Controller]:
    import importlib

    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Controller)):
        raise TypeError(f"{target} is not a hoot.control.surface.Controller")
    return cls


def working_api() -> str | None:
    """The MIDI API that works here ("jack", "alsa"...), or None, asked in a child process:
    probing an API that is absent makes libjack and ALSA print to the process's stderr,
    which under `hoot tui` is the screen. About 0.1 s, on the rig's thread."""
    root = str(Path(__file__).resolve().parents[2])  # this hoot, wherever it is installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get(
        "PYTHONPATH"))))}  # fmt: skip
    code = "from hoot.midi.ports import choose_api; print(choose_api())"
    try:
        probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=30, env=env, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return probe.stdout.strip() or None if probe.returncode == 0 else None


class _Attached:
    """A controller with its two ports; `part`: what its output was opened by (the engine
    finds the same port by it, even after a replug renamed it)."""

    def __init__(self, controller: Controller, inp: Any, out: Any, part: str) -> None:
        self.controller, self.input, self.output, self.part = controller, inp, out, part


class ControllerRig:
    """The controllers attached to a stage: found on the ports at start and each `poll`
    seconds after, confirmed by their identity reply within `confirm_s`, drawn with each
    view, told about unplugs and replugs, closed with the stage."""

    def __init__(
        self,
        stage: Any,
        ports: Any = None,
        classes: dict[str, type[Controller]] | None = None,
        poll: float = 1.0,
        confirm_s: float = 2.0,
    ) -> None:
        self.stage = stage
        self.ports = ports  # None: opened on the rig's thread, once an API is known to work
        self._own_ports = ports is None
        self.classes = controller_classes(stage.say) if classes is None else classes
        self.poll = poll
        self.confirm_s = confirm_s
        self.attached: list[_Attached] = []
        self._refused: set[str] = set()  # input ports that did not answer as their class
        self._clocked: set[str] = set()  # output parts the engine sends clock ticks to for us
        self._clock_said: set[str] = set()  # parts whose clock trouble was said already
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="hoot-rig")

    def start(self) -> None:
        self._thread.start()

    def controllers(self) -> list[Controller]:
        return [a.controller for a in self.attached]

    def _run(self) -> None:
        if self.ports is None:
            api = working_api()
            if api is None or self._stop.is_set():
                return  # no MIDI here: the set goes on without controllers (`hoot doctor`)
            from hoot.midi.ports import MidiPorts

            with self._lock:
                if self._stop.is_set():
                    return  # closed while the probe ran
                try:
                    self.ports = MidiPorts(api=api)
                except HootError:
                    return
        while not self._stop.is_set():
            try:
                self.scan()
            except Exception as e:  # noqa: BLE001 - the rig must outlive a bad port listing
                self.stage.say(f"controllers: {e}")
                self._stop.wait(10 * self.poll)
            self._stop.wait(self.poll)

    def scan(self) -> None:
        """Attach every controller whose port is there and not attached yet."""
        with self._lock:
            if self._stop.is_set():
                return
            names = self.ports.inputs()
            self._refused &= set(names)  # a refused port that went away may come back as new
            busy = {a.input.name for a in self.attached}
            for name in names:
                if name in busy or name in self._refused:
                    continue
                for cls in self.classes.values():
                    if cls.matches(name) and not self._returning(cls):
                        self._try(cls, name)
                        break
            self._clock({a.part for a in self.attached
                         if a.controller.wants_clock and a.output.connected})  # fmt: skip

    def _clock(self, wanted: set[str]) -> None:
        """Have the engine send clock ticks to exactly the `wanted` output parts (asked at
        every scan, so a replugged controller, or a new engine after a crash, gets its
        clock back within a scan). Through `peek`: a controller never starts an engine. A
        refusal is said once a port, and the lights keep the unit's own 120 BPM."""
        link = getattr(self.stage, "link", None)
        if link is None or not (wanted or self._clocked):
            return
        try:
            fed = set(link.peek(p.GetClock()).feeds)
        except HootError:
            return  # no engine now: the next scan asks again
        self._clocked |= wanted & fed  # ours to stop, even if an earlier stage asked for it
        for part in sorted(self._clocked - wanted):
            self._ask_clock(link, part, on=False)
        for part in sorted(wanted - fed):
            self._ask_clock(link, part, on=True)

    def _ask_clock(self, link: Any, part: str, on: bool) -> None:
        try:
            link.peek(p.ClockFeed(port=part, on=on))
        except HootError as e:
            if on and part not in self._clock_said:
                self._clock_said.add(part)
                self.stage.say(f"the controller on {part} gets no clock, so its flashing "
                               f"keeps 120 BPM: {e}")  # fmt: skip
            return
        if on:
            self._clocked.add(part)
            self._clock_said.discard(part)
        else:
            self._clocked.discard(part)

    def _returning(self, cls: type[Controller]) -> bool:
        """Whether a controller of `cls` is unplugged now: its ports layer reopens it when
        it comes back (perhaps under a new name), so a new port of the class is that one."""
        return any(type(a.controller) is cls and not a.input.connected for a in self.attached)

    def _output_for(self, cls: type[Controller], name: str) -> str | None:
        outputs = [o for o in self.ports.outputs() if cls.matches(o)]
        same = [o for o in outputs if o == name]
        if same:
            return same[0]
        return outputs[0] if len(outputs) == 1 else None

    def _try(self, cls: type[Controller], name: str) -> None:
        out_name = self._output_for(cls, name)
        if out_name is None:
            self._refused.add(name)
            self.stage.say(f"{cls.name}: found {name} but no single output port beside it")
            return
        route: list[Callable[[bytes, float], None]] = []
        replies: list[bytes] = []
        answered = threading.Event()

        def listen(message: bytes, arrived: float) -> None:
            if route:
                route[0](message, arrived)
            elif (found := identity_of(message)) is not None:
                replies.append(found)
                answered.set()

        # Opened by the class's part of the name when it names one device, so the ports layer
        # finds it again after a replug even if the name around the part changed (JACK
        # renames a client that comes back while its old name lingers).
        alone = sum(cls.matches(n) for n in self.ports.inputs()) == 1
        inp = self.ports.open_input(cls.port if alone else name, listen)
        out_part = cls.port if alone else out_name
        try:
            out = self.ports.open_output(out_part)
        except HootError:
            inp.close()
            raise
        if cls.identity is not None:
            out.send(IDENTITY_REQUEST)  # a throwaway, should the device swallow one
            out.send(IDENTITY_REQUEST)
            if not answered.wait(self.confirm_s) or replies[0] != cls.identity:
                inp.close()
                out.close()
                self._refused.add(name)
                said = f"answered as {replies[0].hex(' ')}" if replies else "did not answer"
                self.stage.say(f"{name} looks like a {cls.name} but {said}; hoot leaves it be")
                return
        controller = cls(out.send, say=self.stage.say)
        attached = _Attached(controller, inp, out, out_part)
        route.append(controller.receive)
        out.on_change(lambda connected, sentence: self._changed(attached, connected, sentence))
        try:
            controller.attach(self.stage)
        except Exception as e:  # noqa: BLE001 - a broken plug-in must not stop the set
            inp.close()
            out.close()
            self._refused.add(name)
            self.stage.say(f"{cls.name} on {name} failed to start: {e}")
            return
        self.attached.append(attached)
        self.stage.viewers.append(controller.draw)
        self.stage.say(f"{cls.name} attached on {name}")

    def _changed(self, attached: _Attached, connected: bool, _sentence: str) -> None:
        """One sentence each way, in the controller's name (the port's own sentence is about
        MIDI being dropped, which is not what a performer needs to hear about a grid)."""
        name = attached.controller.name
        if connected:
            self.stage.say(f"the {name} is back; hoot draws on it again")
        else:
            self.stage.say(f"the {name} is unplugged; plug it back in and the set returns to it")
        try:
            attached.controller.plugged(connected)
        except Exception as e:  # noqa: BLE001
            self.stage.say(f"{attached.controller.name}: {e}")

    def close(self, timeout: float = 2.0) -> None:
        """Give every controller back (Live mode and the like), then close the ports."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._lock:
            self._clock(set())  # no clock left running to a controller hoot let go of
            for a in self.attached:
                if a.controller.draw in self.stage.viewers:
                    self.stage.viewers.remove(a.controller.draw)
                try:
                    a.controller.close()
                except Exception:  # noqa: BLE001 - leaving must not fail
                    pass
                for port in (a.input, a.output):
                    try:
                        port.close()
                    except Exception:  # noqa: BLE001
                        pass
            self.attached.clear()
            if self._own_ports and self.ports is not None:
                self.ports.close()
