"""The Novation Launchpad Pro MK3 as a generative surface: candidates in light, picks by hand.

The map (docs/controllers.md has the picture). Rows 8 to 3 are the roles in the picker's
order (hoot.music.ROLES: drums, bass, chords, lead, pad, perc); the pads of a row, left to
right, are candidates 1 to 8 of that role's latest batch; rows 2 and 1 are the live layer
(issue 12): one pad a played track, left to right `keys` and then every other track a
keyboard plays (`perf.played`: the layer answers notes, so audio inputs have no pad), row 2
arming and disarming its harmony (`SetActions.harmonize`), row 1 whether the improviser on
`lead` listens to it (`SetActions.improvise`). A live pad is dim
in its input's colour while it can be armed, bright while armed, pulsing while its model
loads or restarts, and red when its model failed. A candidate pad shows its candidate: off
(none), dim role colour (pending), pulsing (rendering), role colour (ready; paler for the
candidate under the picker's cursor, the one F8 queues), red (failed), flashing (queued)
and bright white (playing). Pulsing and flashing are the device's own animations, in time
with the MIDI clock it receives (one flash a beat, one pulse every two beats; 120 BPM
without a clock): the rig has the engine send it ticks (`wants_clock`; hoot.engine.
clock_out's feeds), so they keep hoot's tempo.

Pressing a pad toggles its candidate in the queue (`SetActions.toggle`, what F8 does for the
selected one). The right column of round buttons makes a new batch for its row's role, the
left column stops its role at the next boundary, the top row counts the bars left in the
phrase, Record/Capture (bottom left, CC 10) is panic, and while Shift (top left, CC 90) is
held the left column mutes and the right column solos each role. The right column's two
lowest buttons are tap tempo (CC 29, lit on each of hoot's beats) and "this is one" (CC 19,
lit on each downbeat), as F6 and F7.

The bytes (research/controllers-sync.md §3, checked against hardware-verified drivers: the
manual has errors). In Programmer mode a pad is note `row*10 + col` (11 bottom left, 88 top
right) and a round button is a CC of the same numbering on channel 1 (127 pressed, 0
released). One SysEx, `F0 00 20 29 02 0E 03 <type index data...>... F7`, lights any number
of LEDs (types: 0 palette, 1 flashing B A, 2 pulsing, 3 RGB 0-127). The device's traps the
driver survives: any byte of 0x80 or more cuts a SysEx short (checked before every send);
the message after a malformed SysEx is swallowed (the identity request goes first as a
throwaway); Programmer mode locks the Setup menu, so Live mode goes back on close, panic
and exit (atexit); an inquiry is answered in either mode, so `0E 01` is sent again with a
whole repaint at every heartbeat (2 s): a unit replugged into Live mode, or one that lost a
frame, is right again within 2 s.

Timing: the desired state (109 entries, index = LED) is rebuilt from each SetView the
watcher hands `draw` (30 a second) and diffed against what the device was last sent; the
changes go out at once as one frame (at most 106 specs, 538 bytes: one SysEx event), so a
state change reaches the device within one view (~33 ms). Presses go to one worker thread,
because the stage's actions may wait for the engine and the MIDI thread must not.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from hoot.control.surface import IDENTITY_REQUEST, Controller, identity_of
from hoot.music import ROLES
from hoot.realtime.status import serving
from hoot.stage.view import EMPTY

HEADER = bytes.fromhex("F0002029020E")
PROGRAMMER = HEADER + bytes.fromhex("0E01F7")
LIVE = HEADER + bytes.fromhex("0E00F7")
LIGHTS = 0x03  # the typed-colour command

Spec = tuple[int, ...]
"""An LED's look: (0, palette) static, (1, B, A) flashing, (2, palette) pulsing, (3, r, g, b)."""

OFF: Spec = (0, 0)
LEDS = tuple([*range(1, 9), *range(10, 100), *range(101, 109)])
"""Every LED index: the lower button row (1-8), the grid with its side and top buttons
(10-98), the logo (99) and the upper button row (101-108). 9 and 100 are no LED."""
SIZE = 109

LEAVING_S = 0.05  # what close() waits for its last message to leave

SHIFT, PANIC = 90, 10
TAP, ONE = 29, 19  # the right column's two lowest: tap tempo, "this is one"
BLINK = 0.2  # of a beat: how long the tap and one buttons light up on hoot's beat and bar
COUNTDOWN = tuple(range(91, 99))  # the top row, left to right
ROLE_ROWS = {role: 8 - i for i, role in enumerate(ROLES)}  # drums 8 ... perc 3
ROW_ROLES = {row: role for role, row in ROLE_ROWS.items()}

# Each role's colour: RGB (0-127) for static light, and the nearest palette entry for the
# device's own animations (flashing and pulsing take palette colours only).
ROLE_RGB = {
    "drums": (127, 40, 0),
    "bass": (0, 40, 127),
    "chords": (0, 127, 30),
    "lead": (127, 110, 0),
    "pad": (80, 0, 127),
    "perc": (0, 110, 110),
}
ROLE_PALETTE = {"drums": 9, "bass": 45, "chords": 21, "lead": 13, "pad": 49, "perc": 37}
RED = 5  # palette
PLAYED = ("keys",)  # always a column: the track for a player (hoot.music.roles)
LIVE_ROWS = {2: "harmonize", 1: "improvise"}  # the live layer's rows, bottom of the grid
# The live inputs' colours, keys first, then each input track in turn: (RGB, palette), apart
# from the roles' so that a live pad never reads as a candidate
LIVE_COLOURS = (
    ((127, 0, 70), 53),  # magenta
    ((127, 70, 90), 57),  # pink
    ((70, 127, 0), 17),  # lime
    ((50, 80, 127), 41),  # sky
)
WHITE: Spec = (3, 127, 127, 127)
DIM = 6  # pending shows the role colour at a sixth of its brightness
MUTED, UNMUTED = (3, 127, 50, 0), (3, 10, 4, 0)
SOLOED, UNSOLOED = (3, 0, 60, 127), (3, 0, 5, 10)


def frame(changes: list[tuple[int, Spec]]) -> bytes:
    """One SysEx lighting every (index, spec) in `changes`. Every byte between F0 and F7 is
    checked below 0x80: a larger one is a status byte and would cut the message short."""
    body = bytearray([LIGHTS])
    for index, spec in changes:
        body += bytes([spec[0], index, *spec[1:]])
    if any(b > 0x7F for b in body):
        raise ValueError(f"a Launchpad frame byte is 0x80 or more: {body.hex(' ')}")
    return HEADER + bytes(body) + b"\xf7"


def rgb(colour: tuple[int, int, int], scale: float = 1.0) -> Spec:
    return (3, *(min(127, round(c * scale)) for c in colour))


def paler(colour: tuple[int, int, int]) -> Spec:
    """Halfway to white: the candidate under the picker's cursor."""
    return (3, *((c + 127) // 2 for c in colour))


def pad_of(role: str, number: int) -> int:
    """The pad (note and LED index) of candidate `number` (from 1) of `role`."""
    return ROLE_ROWS[role] * 10 + number


def live_inputs(view: Any) -> tuple[str, ...]:
    """The live layer's columns, left to right: keys, then the other tracks keyboards play
    (at most 8)."""
    return (*PLAYED, *(t for t in view.played if t not in PLAYED))[:8]


def live_look(view: Any, kind: str, column: int) -> Spec:
    """The pad of live input `column` (from 0) in `kind`'s row (see the module docstring)."""
    track = live_inputs(view)[column]
    colour, palette = LIVE_COLOURS[column % len(LIVE_COLOURS)]
    model = serving(view.models, kind, track)
    if model is None:
        return rgb(colour, 1 / DIM)
    if model.state == "failed":
        return (0, RED)
    if model.state in ("loading", "restarting"):
        return (2, palette)
    return rgb(colour)


def picture(view: Any, shift: bool = False) -> list[Spec]:
    """The whole surface for one SetView: 109 specs, index = LED (0, 9 and 100 unused)."""
    leds = [OFF] * SIZE
    sounding = {item.track for item in view.queue}
    for batch in view.batches:
        if batch.role not in ROLE_ROWS:
            continue
        colour, palette = ROLE_RGB[batch.role], ROLE_PALETTE[batch.role]
        for c in batch.candidates[:8]:
            if c.status == "pending":
                spec = rgb(colour, 1 / DIM)
            elif c.status == "rendering":
                spec = (2, palette)
            elif c.status == "ready":
                cursor = view.selected_role == batch.role and view.selected_index == c.index
                spec = paler(colour) if cursor else rgb(colour)
            elif c.status == "failed":
                spec = (0, RED)
            elif c.status == "queued":
                spec = (1, palette, 0)
            elif c.status == "playing":
                spec = WHITE
            else:
                spec = OFF
            leds[pad_of(batch.role, c.index + 1)] = spec
    muted, soloed = set(view.muted), set(view.soloed)
    for role, row in ROLE_ROWS.items():
        colour = ROLE_RGB[role]
        if shift:
            leds[row * 10] = MUTED if role in muted else UNMUTED
            leds[row * 10 + 9] = SOLOED if role in soloed else UNSOLOED
        else:
            leds[row * 10] = rgb(colour, 0.5) if role in sounding else OFF
            leds[row * 10 + 9] = rgb(colour, 0.25)
    for row, kind in LIVE_ROWS.items():
        for column in range(len(live_inputs(view))):
            leds[row * 10 + column + 1] = live_look(view, kind, column)
    left = max(0, view.phrase_bars - view.bar_in_phrase)
    for i, cc in enumerate(COUNTDOWN):
        if i < min(left, 8):
            leds[cc] = (0, RED) if left == 1 else (3, 40, 40, 40)
    leds[SHIFT] = WHITE if shift else (3, 8, 8, 8)
    leds[PANIC] = (3, 30, 0, 0)
    on_beat = view.beat_in_bar % 1.0 < BLINK
    leds[TAP] = (3, 60, 60, 60) if on_beat else (3, 8, 8, 8)
    leds[ONE] = (3, 0, 90, 20) if on_beat and view.beat_in_bar < 1.0 else (3, 0, 12, 3)
    leds[99] = (3, 0, 60, 20) if view.engine_alive else (0, RED)
    return leds


class LaunchpadProMK3(Controller):
    """The Launchpad Pro MK3 driver (see the module docstring)."""

    name = "Launchpad Pro MK3"
    port = "LPProMK3 MIDI"
    identity = bytes.fromhex("0020292301")  # Novation, family 23 01 (not the manual's 13 01)
    wants_clock = True  # flashing (queued) and pulsing (rendering) keep hoot's tempo

    def __init__(self, send: Callable[[bytes], None], say: Callable[[str], None] = print,
                 heartbeat: float = 2.0, misses: int = 3) -> None:  # fmt: skip
        super().__init__(send, say)
        self.heartbeat = heartbeat
        self.misses_allowed = misses
        self.owned = False  # in Programmer mode and answering: hoot draws on it
        self.shift = False
        self.frames = 0  # lighting frames sent
        self.garbled = 0  # messages from the device that made no sense
        self._shown: list[Spec | None] = [None] * SIZE  # what the device was last sent
        self._view: Any = EMPTY  # until the first view comes: a dark grid
        self.connected = True  # the ports layer says when it is unplugged and back
        self._lock = threading.Lock()  # one writer at a time: frames never interleave
        self._asked = False  # an inquiry waits for its reply
        self._missed = 0
        self._closed = threading.Event()
        self._presses: queue.SimpleQueue[Callable[[], Any] | None] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._act, daemon=True, name="hoot-launchpad")
        self._beat = threading.Thread(target=self._heartbeat, daemon=True, name="hoot-lp-heartbeat")

    # ---- taking the device and giving it back ----------------------------------------------

    def attach(self, stage: Any) -> None:
        """Programmer mode, the whole surface painted, the heartbeat started."""
        super().attach(stage)
        atexit.register(self.close)
        self._worker.start()
        self._take()
        self._beat.start()

    def _take(self) -> None:
        """Throwaway, Programmer mode, every LED: after a connect, a replug or a lost reply."""
        with self._lock:
            self.owned = True
            self.send(IDENTITY_REQUEST)  # swallowed if the device just saw a malformed SysEx
            self._asked = True
            self.send(PROGRAMMER)
            self._shown = [None] * SIZE
        self._paint()

    def close(self) -> None:
        """Dark surface, Live mode: the device is the performer's again."""
        if self._closed.is_set():
            return
        self._closed.set()
        atexit.unregister(self.close)
        self._presses.put(None)
        with self._lock:
            try:
                self.send(frame([(i, OFF) for i in LEDS]))
                self.send(LIVE)
            except Exception:  # noqa: BLE001 - leaving must not fail
                pass
            self.owned = False
        # RtMidi's JACK output leaves at the next period (5.3 ms at 256 frames): give the
        # last message time to go before anyone closes the port, even at 1024 frames.
        time.sleep(LEAVING_S)

    def plugged(self, connected: bool) -> None:
        """Unplugged: nothing to count or draw. Back: taken and painted whole again, in
        case it came back in Live mode or with the LEDs of another program."""
        self.connected = connected
        if connected and not self._closed.is_set():
            self._take()

    # ---- light ---------------------------------------------------------------------------

    def draw(self, view: Any) -> None:
        self._view = view
        self._paint()

    def _paint(self) -> None:
        """Send what changed since the last frame, as one frame."""
        desired = picture(self._view, self.shift)
        with self._lock:
            if not (self.owned and self.connected) or self._closed.is_set():
                return
            changes = [(i, desired[i]) for i in LEDS if desired[i] != self._shown[i]]
            if not changes:
                return
            self.send(frame(changes))
            self.frames += 1
            for i, spec in changes:
                self._shown[i] = spec

    def _heartbeat(self) -> None:
        """Every `heartbeat` seconds: was the last inquiry answered? Ask again, and put the
        device in Programmer mode and paint it whole again (a replug into Live mode, or a
        swallowed frame, does not show in the inquiry's answer)."""
        while not self._closed.wait(self.heartbeat):
            if not self.connected:  # the ports layer has said so; nothing to count
                continue
            with self._lock:
                self._missed = self._missed + 1 if self._asked else 0
                lost = self.owned and self._missed >= self.misses_allowed
                if lost:
                    self.owned = False
                self._asked = True
                self.send(IDENTITY_REQUEST)
                if self.owned:
                    self.send(PROGRAMMER)
                    self._shown = [None] * SIZE
            if lost:
                self.say(
                    f"the {self.name} stopped answering; hoot lets go of it until it answers again"
                )
            self._paint()

    # ---- presses -------------------------------------------------------------------------

    def receive(self, message: bytes, arrived: float) -> None:
        """A message from the device, on the MIDI thread: note it, queue any action."""
        if not message:
            return
        if message[0] == 0xF0:
            found = identity_of(message)
            if found is None:
                self.garbled += 1
                return
            if found != self.identity:
                self.garbled += 1
                return
            with self._lock:
                self._asked, self._missed = False, 0
                back = not self.owned and not self._closed.is_set()
            if back:
                self.say(f"the {self.name} answers again; hoot draws on it")
                self._take()
            return
        if len(message) != 3 or message[1] > 0x7F or message[2] > 0x7F:
            return  # channel pressure and the like: nothing hoot maps
        status, number, value = message
        if status == 0x90 and value > 0:
            self._pad(number)
        elif status == 0xB0:
            self._button(number, value, arrived)

    def _pad(self, note: int) -> None:
        row, col = divmod(note, 10)
        role = ROW_ROLES.get(row)
        if role is not None and 1 <= col <= 8:
            self._presses.put(lambda: self.stage.actions.toggle(role, col))
        elif row in LIVE_ROWS and 1 <= col <= len(live := live_inputs(self._view)):
            track, actions = live[col - 1], self.stage.actions
            if LIVE_ROWS[row] == "harmonize":
                self._presses.put(lambda: actions.harmonize(track))
            else:
                self._presses.put(lambda: actions.improvise(track))

    def _button(self, cc: int, value: int, arrived: float) -> None:
        if cc == SHIFT:
            self.shift = value > 0
            self._paint()  # the layer shows at once, not at the next view
            return
        if value == 0:
            return
        row, col = divmod(cc, 10)
        role = ROW_ROLES.get(row)
        actions, perf = self.stage.actions, self.stage.perf
        if cc == PANIC:
            self._presses.put(actions.panic)
        elif cc == TAP:  # stamped on arrival: the worker may take the press later
            self._presses.put(lambda: actions.tap(arrived))
        elif cc == ONE:
            self._presses.put(lambda: actions.one(arrived))
        elif role is not None and col == 0:
            if self.shift:
                self._presses.put(lambda: _flip(perf.tracks[role], "mute"))
            else:
                self._presses.put(lambda: actions.stop_role(role))
        elif role is not None and col == 9:
            if self.shift:
                self._presses.put(lambda: _flip(perf.tracks[role], "solo"))
            else:
                self._presses.put(lambda: _generate(perf, role))

    def _act(self) -> None:
        """The worker: one press at a time, off the MIDI thread; each says its result."""
        while (press := self._presses.get()) is not None:
            try:
                said = press()
            except Exception as e:  # noqa: BLE001 - a press must not stop the set
                said = str(e)
            if said:
                self.say(said)


def _flip(track: Any, what: str) -> str:
    now = not getattr(track, what)
    setattr(track, what, now)
    return f"{track.name} {'' if now else 'un'}{'muted' if what == 'mute' else 'soloed'}"


def _generate(perf: Any, role: str) -> str:
    batch = perf.generate(role)
    return f"{role}: a new batch of {len(batch)} on its way"
