"""A fake Launchpad Pro MK3 on virtual MIDI ports, speaking the unit's exact protocol.

It opens `<client>:LPProMK3 MIDI` both ways on JACK (hoot finds it by that part of the name,
as it finds the real unit), and behaves as research/controllers-sync.md §2.6 and §3 say the
hardware does:

- it answers the Universal Device Inquiry with the verified reply (family 23 01), in any mode;
- it tracks Programmer / Live mode from `F0 00 20 29 02 0E 0E <01|00> F7`;
- it keeps a 109-entry LED table from `03` SysEx specs (types 0-3: palette, flashing B A,
  pulsing, RGB) and from palette notes and CCs on channels 1-3 (static, flashing, pulsing);
  LEDs survive mode changes;
- a byte of 0x80 or more cuts a message short (MIDI real-time bytes F8-FF excepted); a
  SysEx that is cut, unknown or does not parse is malformed, and the message after it is
  swallowed;
- pads and buttons can be pressed (notes `row*10 + col`, CCs 127 / 0 on channel 1);
- it can be unplugged (its ports close) and plugged back in: then it starts in Live mode,
  with the LEDs Live mode drew (stale to hoot);
- it keeps time by the MIDI clock (F8) it receives, as the unit's flashing and pulsing do:
  `ticks` holds each tick's arrival, `tempo()` the BPM they make.

LED looks are tuples as the driver writes them: (0, palette), (1, B, A), (2, palette),
(3, r, g, b); (0, 0) is off.
"""

from __future__ import annotations

import threading
import time

from hoot.midi.ports import MidiPorts

PORT = "LPProMK3 MIDI"
HEADER = bytes.fromhex("F0002029020E")
INQUIRY = bytes.fromhex("F07E7F0601F7")
REPLY = bytes.fromhex("F07E0006020020292301000000040605F7")  # firmware 00 04 06 05
DATA = {0: 1, 1: 2, 2: 1, 3: 3}  # data bytes per spec type
OFF = (0, 0)
LEDS = frozenset([*range(1, 9), *range(10, 100), *range(101, 109)])


class FakeLaunchpad:
    """A Launchpad Pro MK3 that lives on `MidiPorts(api="jack")` virtual ports."""

    def __init__(self, client: str = "fakeLP") -> None:
        self.client = client
        self.ports = MidiPorts(api="jack")
        self.mode = "live"
        self.leds: list[tuple[int, ...]] = [OFF] * 109
        self.lock = threading.RLock()  # conditions read the LEDs while waiting under it
        self.received: list[tuple[float, bytes]] = []  # (time.monotonic(), message) as sent
        self.ticks: list[float] = []  # the arrival of each clock tick (F8), kept apart
        # the `03` lighting SysExs understood: (time.monotonic(), bytes, the LEDs each set)
        self.frames: list[tuple[float, bytes, tuple[int, ...]]] = []
        self.swallowed: list[bytes] = []
        self.malformed: list[bytes] = []
        self.modes: list[str] = []  # every mode message, in order
        self.inquiries = 0
        self.answering = True  # False: ignores the inquiry (a unit that stopped answering)
        self.changed = threading.Condition(self.lock)
        self._swallow = False
        self._in = self._out = None
        self.plug()

    # ---- cables -------------------------------------------------------------------------

    def plug(self, stale: tuple[int, ...] | None = None) -> None:
        """Open the ports. A replug starts in Live mode; `stale` lights every LED as Live
        mode's own drawing would (to hoot, stale)."""
        with self.lock:
            self.mode = "live"
            self._swallow = False
            if stale is not None:
                self.leds = [stale if i in LEDS else OFF for i in range(109)]
        self._in = self.ports.virtual_input(f"{self.client}:{PORT}", self._arrive)
        self._out = self.ports.virtual_output(f"{self.client}:{PORT}")

    def power_cycle(self, stale: tuple[int, ...] = (0, 1)) -> None:
        """Back in Live mode with Live mode's LEDs, ports kept: a replug too quick for any
        port listing to notice."""
        with self.lock:
            self.mode = "live"
            self.leds = [stale if i in LEDS else OFF for i in range(109)]

    def unplug(self) -> None:
        """Close the ports, as pulling the USB cable does."""
        for port in (self._in, self._out):
            if port is not None:
                port.close()
        self._in = self._out = None

    def close(self) -> None:
        self.unplug()
        self.ports.close()

    # ---- hands ------------------------------------------------------------------------------

    def send(self, message: bytes) -> None:
        """Send raw bytes to hoot, as the unit would (malformed ones included)."""
        self._out.send(message)

    def press(self, note: int, velocity: int = 100) -> None:
        """Press and release a pad."""
        self.send(bytes([0x90, note, velocity]))
        self.send(bytes([0x90, note, 0]))  # the unit's note-off is a note-on at velocity 0

    def push(self, cc: int) -> None:
        """Press and release a round button."""
        self.hold(cc)
        self.release(cc)

    def hold(self, cc: int) -> None:
        self.send(bytes([0xB0, cc, 127]))

    def release(self, cc: int) -> None:
        self.send(bytes([0xB0, cc, 0]))

    # ---- what it shows ------------------------------------------------------------------------

    def led(self, index: int) -> tuple[int, ...]:
        with self.lock:
            return self.leds[index]

    def wait_for(self, condition, timeout: float) -> bool:
        """Wait until condition(self) holds (checked at every message that arrives)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 0.05))
        return True

    # ---- the unit's parser --------------------------------------------------------------------

    def tempo(self, beats: int = 2) -> float | None:
        """The BPM of the clock received over its last `beats` beats (24 ticks a beat), or
        None until that many have come."""
        with self.lock:
            n = 24 * beats
            if len(self.ticks) <= n:
                return None
            return 60.0 * beats / (self.ticks[-1] - self.ticks[-1 - n])

    def _arrive(self, message: bytes, arrived: float) -> None:
        with self.lock:
            if message == b"\xf8":
                self.ticks.append(arrived)
                self.changed.notify_all()
                return
            self.received.append((arrived, message))
            for unit in _cut(message):
                if self._swallow:
                    self._swallow = False
                    self.swallowed.append(unit)
                    continue
                self._take(unit, arrived)
            self.changed.notify_all()

    def _take(self, unit: bytes, arrived: float) -> None:
        status = unit[0]
        if status >= 0xF8:
            return  # clock and other real-time bytes: they time the animations
        if status == 0xF0:
            if not self._sysex(unit, arrived):
                self.malformed.append(unit)
                self._swallow = True
            return
        kind, channel = status & 0xF0, status & 0x0F
        if len(unit) != 3 or channel > 2 or kind not in (0x80, 0x90, 0xB0):
            return
        index, value = unit[1], unit[2]
        if index not in LEDS:
            return
        if kind == 0x80 or value == 0:
            self.leds[index] = OFF
        elif channel == 0:
            self.leds[index] = (0, value)
        elif channel == 1:  # flashes between the channel-1 colour (A) and this one (B)
            before = self.leds[index]
            self.leds[index] = (1, value, before[1] if before[0] == 0 else 0)
        else:
            self.leds[index] = (2, value)

    def _sysex(self, unit: bytes, arrived: float) -> bool:
        """Act on one whole SysEx; False if the unit would reject it."""
        if unit[-1] != 0xF7:
            return False  # cut short
        if unit[:2] == b"\xf0\x7e" and unit[3:] == INQUIRY[3:]:
            self.inquiries += 1
            if self.answering and self._out is not None:
                self._out.send(REPLY)
            return True
        if not unit.startswith(HEADER) or len(unit) < len(HEADER) + 2:
            return False
        command, body = unit[len(HEADER)], unit[len(HEADER) + 1 : -1]
        if command == 0x0E and len(body) == 1 and body[0] in (0, 1):
            self.mode = "programmer" if body[0] else "live"
            self.modes.append(self.mode)
            return True
        if command != 0x03:
            return False
        looks, i = [], 0
        while i < len(body):
            kind = body[i]
            if kind not in DATA or i + 2 + DATA[kind] > len(body):
                return False
            looks.append((body[i + 1], (kind, *body[i + 2 : i + 2 + DATA[kind]])))
            i += 2 + DATA[kind]
        for index, look in looks:
            if index in LEDS:
                self.leds[index] = look
        self.frames.append((arrived, unit, tuple(index for index, _ in looks)))
        return True


def _cut(message: bytes) -> list[bytes]:
    """The messages the unit's parser sees in `message`: every byte of 0x80 or more starts a
    new one (F7 ends a SysEx; real-time bytes stand alone and cut nothing)."""
    units: list[bytes] = []
    current = bytearray()
    for b in message:
        if b >= 0xF8:
            units.append(bytes([b]))
        elif b == 0xF7:
            current.append(b)
            units.append(bytes(current))
            current = bytearray()
        elif b >= 0x80:
            if current:
                units.append(bytes(current))
            current = bytearray([b])
        else:
            current.append(b)
    if current:
        units.append(bytes(current))
    return units
