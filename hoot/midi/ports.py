"""MIDI ports as a performer meets them: named by any part of their name, and hot-plugged.

    ports = MidiPorts()                      # JACK when a JACK server answers, else the OS's
    keys = ports.open_input("keystation", on_message)   # on_message(bytes, arrived)
    synth = ports.open_output("minilogue"); synth.send(bytes([0x90, 60, 100]))

Choosing the API, as the audio backend does: a running JACK server owns the machine's MIDI
(a2jmidid bridges the ALSA devices into it), so JACK comes first when a server answers;
otherwise ALSA on Linux, CoreMIDI on macOS, WinMM on Windows. `HOOT_MIDI_API` (or `api=`)
says which one instead: "jack", "alsa", "coremidi", "winmm". Asking JACK never starts a
server: RtMidi opens its client with JackNoStartServer, and a refusal takes about 4 ms.

Hot-plug: one daemon thread per MidiPorts lists the ports every 0.5 s while any connection is
open (two list calls, well under a millisecond on JACK), closes a connection whose device
vanished and opens it again when a device of that name is back; each way, the connection's
`on_change` callbacks get one sentence. A performer replugs a controller within a second.

Arrival times: RtMidi's delta times are relative to the previous message, so each input
stamps `time.monotonic()` first thing in its callback instead; the engine places a note by
that stamp. SysEx, clock and active sensing are passed on (the Launchpad answers in SysEx,
clock in needs 0xF8). A callback that raises is counted (`MidiIn.faults`), never fatal.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import rtmidi

from hoot.errors import HootError

SETTLE_S = 0.03
"""How long an input's callback outlives its closed port: a JACK period at 1024 frames and
48 kHz is 21 ms, so a delivery begun before the close has ended by then."""

API_ENV = "HOOT_MIDI_API"
WATCH_INTERVAL = 0.5  # seconds between two looks at the port lists while connections exist
CONNECTION_PORTS = ("hoot in", "hoot out")  # the names of hoot's own end of a connection

# name -> (rtmidi constant, the name a performer reads)
APIS: dict[str, tuple[int, str]] = {
    "jack": (rtmidi.API_UNIX_JACK, "JACK"),
    "alsa": (rtmidi.API_LINUX_ALSA, "ALSA"),
    "coremidi": (rtmidi.API_MACOSX_CORE, "CoreMIDI"),
    "winmm": (rtmidi.API_WINDOWS_MM, "WinMM"),
}
PLATFORM_API = {"linux": "alsa", "darwin": "coremidi", "win32": "winmm"}

OnMessage = Callable[[bytes, float], None]
OnChange = Callable[[bool, str], None]

# Connections hoot itself made (ours or another hoot's) are not devices: hide them.
_OWN_PORT = re.compile(r":(?:" + "|".join(CONNECTION_PORTS) + r")(?: \d+:\d+)?$")
_ALSA_NUMBERS = re.compile(r" \d+:\d+$")


def compiled_apis() -> list[str]:
    """The MIDI APIs this python-rtmidi was built with, by hoot's names ("jack", "alsa"...)."""
    compiled = set(rtmidi.get_compiled_api())
    return [name for name, (code, _) in APIS.items() if code in compiled]


def usable(api: str) -> bool:
    """Whether `api` ("jack", "alsa"...) opens a client now; never starts a JACK server.

    libjack and ALSA print their refusals straight to file descriptor 2 ("Cannot connect to
    server socket...", "open /dev/snd/seq failed"), which under `hoot tui` is the screen and
    under `hoot midi` buries hoot's one sentence: the probe runs with fd 2 pointed at
    /dev/null for its few milliseconds.
    """
    with _stderr_silenced():
        try:
            probe = rtmidi.MidiIn(APIS[api][0], "hoot-probe")
        except (rtmidi.RtMidiError, RuntimeError):
            return False
        probe.delete()
    return True


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null, and back (what C libraries print is lost)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no fd 2 to save: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def choose_api(api: str | None = None) -> str:
    """The API to use: `api`, else $HOOT_MIDI_API, else JACK if a server answers, else the OS's.

    Raises HootError with what to do when the asked-for API is unknown or unusable, or when
    none is.
    """
    asked = (api or os.environ.get(API_ENV) or "").strip().lower()
    compiled = compiled_apis()
    if asked:
        if asked not in APIS:
            raise HootError(f"'{asked}' is not a MIDI API hoot knows; use one of {', '.join(APIS)}")
        if asked not in compiled:
            raise HootError(
                f"this python-rtmidi was built without {APIS[asked][1]}; it has "
                f"{', '.join(compiled) or 'no API'}: choose one of those"
            )
        if not usable(asked):
            raise HootError(f"{APIS[asked][1]} MIDI is not usable here: {fix_for(asked)}")
        return asked
    candidates = ["jack", PLATFORM_API.get(sys.platform, "")]
    for name in candidates:
        if name in compiled and usable(name):
            return name
    raise HootError(
        "no MIDI system is usable here: "
        + "; or ".join(fix_for(name) for name in candidates if name in compiled)
    )


def fix_for(api: str) -> str:
    """One sentence that says how to make `api` usable."""
    return {
        "jack": "start a JACK server (e.g. `jackd -d alsa -r 48000`, or `jackd -d dummy` "
        "without a sound card) and check JACK_DEFAULT_SERVER names it",
        "alsa": "the ALSA sequencer is missing (/dev/snd/seq): `sudo modprobe snd-seq`, "
        "or run hoot where /dev/snd is available",
        "coremidi": "CoreMIDI did not answer: open Audio MIDI Setup and check the MIDI studio",
        "winmm": "Windows MIDI did not answer: check the device in Device Manager",
    }.get(api, f"{api} did not answer")


def label(name: str) -> str:
    """A port's name as a sentence says it: ALSA's changing client:port numbers dropped."""
    return _ALSA_NUMBERS.sub("", name)


def pick(part: str, names: list[str], kind: str, api: str) -> str:
    """The one name among `names` that contains `part` (case-insensitive); an exact name wins.

    Raises HootError listing what exists when nothing or several names match.
    """
    wanted = part.strip().lower()
    exact = [name for name in names if name.lower() == wanted or label(name).lower() == wanted]
    if len(exact) == 1:
        return exact[0]
    found = [name for name in names if wanted in name.lower()]
    if len(found) == 1:
        return found[0]
    if not names:
        raise HootError(
            f"there is no MIDI {kind} to match '{part}' ({api} lists none): plug the device "
            f"in, or start the program that makes the port"
        )
    listing = "; ".join(f"'{name}'" for name in names)
    if not found:
        raise HootError(f"no MIDI {kind} matches '{part}'; the {kind}s are {listing}")
    listing = "; ".join(f"'{name}'" for name in found)
    raise HootError(f"'{part}' matches several MIDI {kind}s ({listing}): give more of the name")


class MidiPorts:
    """The machine's MIDI ports through one API, and the connections hoot made to them.

    `api`: None chooses (see the module's docstring); "jack", "alsa", "coremidi" or "winmm"
    insists. Raises HootError, saying what to do, when no MIDI system is usable.
    """

    def __init__(self, api: str | None = None) -> None:
        self.name = choose_api(api)
        self._code = APIS[self.name][0]
        self._lock = threading.Lock()  # the listing clients and the set of connections
        self._list_in = rtmidi.MidiIn(self._code, "hoot-ports")
        self._list_out = rtmidi.MidiOut(self._code, "hoot-ports")
        self._connections: list[MidiIn | MidiOut] = []
        self._virtual: list[MidiIn | MidiOut] = []
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        _LIVE.add(self)

    @property
    def api(self) -> str:
        """The API in use, as a performer reads it: "JACK", "ALSA", "CoreMIDI", "WinMM"."""
        return APIS[self.name][1]

    def inputs(self) -> list[str]:
        """The names of the ports hoot can listen to (devices and other programs' outputs)."""
        return self._list(self._list_in)

    def outputs(self) -> list[str]:
        """The names of the ports hoot can send to."""
        return self._list(self._list_out)

    def find_input(self, part: str) -> str:
        """The input whose name contains `part` (any case); HootError lists them otherwise."""
        return pick(part, self.inputs(), "input", self.api)

    def find_output(self, part: str) -> str:
        """The output whose name contains `part` (any case); HootError lists them otherwise."""
        return pick(part, self.outputs(), "output", self.api)

    def open_input(self, part: str, on_message: OnMessage, client: str = "hoot") -> MidiIn:
        """Listen to the input named by `part`: on_message(message, arrived) for every message.

        `arrived` is time.monotonic() when the message reached hoot. The connection opens
        again by itself when the device is unplugged and comes back (`MidiIn.on_change`).
        """
        port = MidiIn(self, part, self.find_input(part), on_message, client)
        self._keep(port)
        return port

    def open_output(self, part: str, client: str = "hoot") -> MidiOut:
        """Send to the output named by `part`; reconnects by itself like `open_input`."""
        port = MidiOut(self, part, self.find_output(part), client)
        self._keep(port)
        return port

    def virtual_input(self, name: str, on_message: OnMessage) -> MidiIn:
        """A port of our own that other programs send to ("client:port", or one name for both).

        It appears in other clients' outputs; fakes of hardware and tests use it.
        """
        port = MidiIn(self, name, name, on_message, _client(name), virtual=True)
        with self._lock:
            self._virtual.append(port)
        return port

    def virtual_output(self, name: str) -> MidiOut:
        """A port of our own that other programs listen to (it appears in their inputs)."""
        port = MidiOut(self, name, name, _client(name), virtual=True)
        with self._lock:
            self._virtual.append(port)
        return port

    def close(self) -> None:
        """Close every port this MidiPorts opened and stop its watcher; safe to call twice."""
        if self._closed.is_set():
            return
        self._closed.set()
        with self._lock:
            ports = [*self._connections, *self._virtual]
        for port in ports:
            port.close()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(2 * WATCH_INTERVAL)
        with self._lock:
            self._list_in.delete()
            self._list_out.delete()
        _LIVE.discard(self)

    def __enter__(self) -> MidiPorts:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._closed.is_set():
            return f"<MIDI ports ({self.api}), closed>"
        return (
            f"MIDI through {self.api}\n"
            f"  inputs:  {', '.join(self.inputs()) or 'none'}\n"
            f"  outputs: {', '.join(self.outputs()) or 'none'}"
        )

    # --- inside ---

    def _list(self, lister: rtmidi.MidiIn | rtmidi.MidiOut) -> list[str]:
        with self._lock:
            if self._closed.is_set():
                raise HootError("these MIDI ports are closed; make a new MidiPorts")
            try:
                names = lister.get_ports()
            except (rtmidi.RtMidiError, RuntimeError):
                names = []  # the server went away: nothing is plugged in
        return [name for name in names if not _OWN_PORT.search(name)]

    def _keep(self, port: MidiIn | MidiOut) -> None:
        with self._lock:
            self._connections.append(port)
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="midi-ports", daemon=True)
                self._watcher.start()

    def _forget(self, port: MidiIn | MidiOut) -> None:
        with self._lock:
            for kept in (self._connections, self._virtual):
                if port in kept:
                    kept.remove(port)

    def _watch(self) -> None:
        """Every WATCH_INTERVAL: close what vanished, reopen what came back."""
        while not self._closed.wait(WATCH_INTERVAL):
            with self._lock:
                connections = list(self._connections)
            if not connections:
                continue
            try:
                names = {"input": self.inputs(), "output": self.outputs()}
            except HootError:
                return  # closed meanwhile
            for port in connections:
                port._follow(names[port.kind])


class _Port:
    """What inputs and outputs share: a name, a connection that comes and goes, listeners."""

    kind = ""

    def __init__(self, ports: MidiPorts, part: str, name: str, client: str, virtual: bool) -> None:
        self._ports = ports
        self.part = part
        self.name = name
        self.client = client
        self.virtual = virtual
        self._listeners: list[OnChange] = []
        self._lock = threading.Lock()  # the rtmidi object, swapped by the watcher
        self._rt: rtmidi.MidiIn | rtmidi.MidiOut | None = None
        self._closed = False

    @property
    def connected(self) -> bool:
        """Whether the device is there and hoot is connected to it now."""
        return self._rt is not None

    def on_change(self, callback: OnChange) -> None:
        """Call callback(connected, sentence) when the device goes away or comes back."""
        self._listeners.append(callback)

    def close(self) -> None:
        """Close the connection for good (no reconnecting); safe to call twice."""
        with self._lock:
            self._closed = True
            self._drop()
        self._ports._forget(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "unplugged, waiting for it"
        if self._closed:
            state = "closed"
        return f"<MIDI {self.kind} '{label(self.name)}' ({state})>"

    def _open(self) -> None:
        """Open the rtmidi side (raises rtmidi's errors; the caller decides)."""
        code = self._ports._code
        rt = (
            rtmidi.MidiIn(code, self.client)
            if self.kind == "input"
            else rtmidi.MidiOut(code, self.client)
        )
        try:
            self._prepare(rt)
            if self.virtual:
                rt.open_virtual_port(_port_name(self.name))
            else:
                own = CONNECTION_PORTS[self.kind == "output"]
                rt.open_port(rt.get_ports().index(self.name), own)
        except BaseException:
            rt.delete()
            raise
        self._rt = rt

    def _prepare(self, rt: rtmidi.MidiIn | rtmidi.MidiOut) -> None:
        """Set the rtmidi object up before its port opens (inputs set their callback)."""

    def _drop(self) -> None:
        rt, self._rt = self._rt, None
        if rt is not None:
            rt.close_port()
            rt.delete()

    def _follow(self, names: list[str]) -> None:
        """The watcher's look: lose the device if it vanished, reconnect if it came back."""
        if self.connected:
            if self.name not in names:
                with self._lock:
                    if self._closed:
                        return
                    self._drop()
                self._tell(False, self._gone_sentence())
            return
        try:
            name = self.name if self.name in names else pick(self.part, names, self.kind, "")
        except HootError:
            return
        with self._lock:
            if self._closed:
                return
            self.name = name
            try:
                self._open()
            except (rtmidi.RtMidiError, ValueError, RuntimeError):
                return  # vanished again between the look and the open: next look
        self._tell(True, f"{label(self.name)} is back.")

    def _gone_sentence(self) -> str:
        raise NotImplementedError

    def _tell(self, connected: bool, sentence: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(connected, sentence)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the watcher
                continue


class MidiIn(_Port):
    """A connection from an input port: on_message(message: bytes, arrived: float) per message.

    `faults` counts the messages whose callback raised; `last_fault` is the latest such
    exception. The port keeps listening either way.
    """

    kind = "input"

    def __init__(
        self,
        ports: MidiPorts,
        part: str,
        name: str,
        on_message: OnMessage,
        client: str = "hoot",
        virtual: bool = False,
    ) -> None:
        super().__init__(ports, part, name, client, virtual)
        self._on_message = on_message
        self.faults = 0
        self.last_fault: BaseException | None = None
        try:
            self._open()
        except (rtmidi.RtMidiError, ValueError, RuntimeError) as error:
            raise HootError(f"cannot open MIDI input '{name}': {error}") from None

    def _prepare(self, rt: rtmidi.MidiIn) -> None:
        rt.ignore_types(sysex=False, timing=False, active_sense=False)
        rt.set_callback(self._arrive)

    def _drop(self) -> None:
        """Close the port before its callback goes. python-rtmidi's close_port cancels the
        callback first, freeing the Python object that a JACK thread already waiting for the
        GIL to call it holds a bare pointer to; that crashed a test run once (a segfault in
        close_port while a fake Launchpad was still sending). So the port alone is closed
        (rtmidi's base class), the GIL is let go for SETTLE_S so that a delivery already
        under way finishes (none can start: the port is gone), and only then is the
        callback cancelled and the client deleted."""
        rt, self._rt = self._rt, None
        if rt is None:
            return
        type(rt).__mro__[1].close_port(rt)  # MidiBase.close_port: the port, not the callback
        time.sleep(SETTLE_S)
        rt.close_port()
        rt.delete()

    def _arrive(self, event: tuple[list[int], float], _data: object) -> None:
        arrived = time.monotonic()
        try:
            self._on_message(bytes(event[0]), arrived)
        except Exception as error:  # noqa: BLE001 - the performer's callback; the port lives on
            self.faults += 1
            self.last_fault = error

    def _gone_sentence(self) -> str:
        return (
            f"{label(self.name)} unplugged: its notes stopped; plug it back in and it reconnects."
        )


class MidiOut(_Port):
    """A connection to an output port; `send` drops messages (never raises) while unplugged."""

    kind = "output"

    def __init__(
        self, ports: MidiPorts, part: str, name: str, client: str = "hoot", virtual: bool = False
    ) -> None:
        super().__init__(ports, part, name, client, virtual)
        self.dropped = 0
        try:
            self._open()
        except (rtmidi.RtMidiError, ValueError, RuntimeError) as error:
            raise HootError(f"cannot open MIDI output '{name}': {error}") from None

    def send(self, message: bytes) -> None:
        """Send one MIDI message (a SysEx is one message, F0 ... F7); counted in `dropped` while
        the device is away."""
        if not message:
            raise HootError("a MIDI message needs at least one byte (its status byte)")
        with self._lock:
            rt = self._rt
            if rt is None:
                self.dropped += 1
                return
            try:
                rt.send_message(message)
            except (rtmidi.RtMidiError, RuntimeError):
                self.dropped += 1  # the port vanished under us; the watcher will notice

    def _gone_sentence(self) -> str:
        return (
            f"{label(self.name)} unplugged: what hoot sends it is dropped; plug it back in "
            "and it reconnects."
        )


def _client(name: str) -> str:
    return name.split(":", 1)[0] if ":" in name else name


def _port_name(name: str) -> str:
    return name.split(":", 1)[1] if ":" in name else name


_LIVE: weakref.WeakSet[MidiPorts] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Close every MidiPorts at exit, so no JACK client is left half-open by a dying process."""
    for ports in list(_LIVE):
        ports.close()
