"""MIDI clock in: hoot's tempo and phase follow a drum machine, a DAW or another laptop.

`perf.follow("Drum machine")` opens that MIDI input (through the stage's hoot.midi ports,
which stamp each message on arrival); `perf.follow(None)` hands time back to hoot's own
tempo. The stage gives perf the way to start one (`perf.open_sync`), so perf imports no
MIDI and no control module. Ticks (F8) are stamped on arrival and filtered by the delay-locked
loop of hoot/music/follow.py (locks within two beats, steady within 0.25 BPM, re-locks
within a bar after a step). Four times a second `ClockIn` steers the engine's tempo map,
the one clock, through ordinary tempo changes on the next beat:

- tempo: the master's tempo (in hoot's beats: a quarter note is two beats of x/8), plus
- phase: a small nudge, never a jump: a phase error of e beats sets the tempo off by
  e/8 for the next beats (at most 2 %, and nothing under 0.005 beats, 2.5 ms at 120 BPM),
  so hoot's beats slide onto the master's within a few bars without a click.

Candidates that play are rendered again at a new tempo (their loops stay whole) only when
the master's tempo has moved by more than RETAKE_BPM since the last time: a retake costs a
render, and the nudges are far smaller than that.

Transport, as a performer expects it from a slave that is also an instrument:
- Start (FA): the master's downbeat is the tick after it; hoot's phrase starts again on
  its nearest whole beat (a Downbeat command), so queued stems land on the master's
  bar 1, and the nudges take out the rest.
- Stop (FC): hoot keeps playing, free-running at the last tempo (stopping the music
  because a drum machine paused would be a surprise on stage); the sync shows "stopped".
- Continue (FB), after a Song Position Pointer (F2): following resumes from that
  position; hoot's bars count from the master's song position 0 as at Start, and its
  phrase starts again on the master's next phrase boundary (or one up to a bar ago).
- Unplugged: one sentence, and hoot free-runs at the last tempo; when the port is back
  (hoot.midi reopens it) the loop locks again from its first ticks.

Why on the language side and not in the engine: DESIGN.md puts sync sources beside the
performer's other controls, proposing tempo and phase to the engine's map; retakes after a
tempo change are the language side's picker's work; and the loop needs only arrival times
(hoot.midi stamps them on arrival, to well under a millisecond), not the sample clock. The
engine's sample at a wall time comes from its status (position and heartbeat, 120 times a second).
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque

from hoot.errors import HootError
from hoot.midi.ports import label
from hoot.music.follow import TICKS_PER_QUARTER, ClockFollower, Lock

STEER_HZ = 4.0  # tempo proposals a second, at most
NUDGE_BEATS = 8.0  # a phase error is taken out over about this many beats
MAX_NUDGE = 0.02  # the tempo is never set more than 2 % off the master's to fix phase
DEAD_BAND = 0.005  # beats of phase error left alone (2.5 ms at 120 BPM)
MIN_CHANGE = 0.01  # BPM: smaller proposals are not sent
RETAKE_BPM = 0.5  # playing candidates are rendered again once the tempo moved this far
HELD_READINGS = 8  # an unplugged master's tempo: the median of the last 2 s of steering


class ClockIn:
    """Follows the MIDI clock arriving on one input; see the module docstring."""

    def __init__(self, perf, ports, part: str) -> None:
        self.perf = perf
        self.follower = ClockFollower()
        self.running: bool | None = None  # None until a Start, Continue or Stop is seen
        self._ticks = -1  # song position (ticks) of the latest tick
        self._lock_state: Lock | None = None
        self._tick_count_at_lock = -1
        self._align = False  # a Start or Continue asks for a new downbeat
        self._origin: float | None = None  # hoot's beat of the master's song position 0
        self._retaken = 0.0
        # the master's tempo at the last steering turns: what hoot holds when it goes away
        # (the tempo fitted at the moment of the unplug can carry a late burst of ticks)
        self._steady: deque[float] = deque(maxlen=HELD_READINGS)
        self._guard = threading.Lock()
        self.proposals = 0  # tempo changes sent
        self.port = ports.open_input(part, self._on_message, client="hoot-clock-in")
        self.port.on_change(self._plugged)
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._steer, name="hoot-clock-in", daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        """The input's name, as a sentence says it."""
        return label(self.port.name)

    # ---- what the view shows ---------------------------------------------------------

    @property
    def locked(self) -> bool:
        return self.port.connected and self.running is not False and self.follower.locked

    @property
    def sync(self) -> str:
        state = " (stopped)" if self.running is False else ""
        state = state if self.port.connected else " (unplugged)"
        return f"MIDI clock: {self.name}{state}"

    @property
    def bpm(self) -> float:
        """The master's tempo, in quarter notes a minute."""
        return self.follower.bpm

    # ---- the MIDI thread ---------------------------------------------------------------

    def _on_message(self, message: bytes, arrived: float) -> None:
        if not message:
            return
        status = message[0]
        with self._guard:
            if status == 0xF8:
                self._ticks += 1
                self._lock_state = self.follower.tick(arrived)
                self._tick_count_at_lock = self._ticks
            elif status == 0xFA:
                self.running, self._ticks, self._align = True, -1, True
            elif status == 0xFB:
                self.running, self._align = True, True
            elif status == 0xFC:
                self.running = False
            elif status == 0xF2 and len(message) >= 3:
                self._ticks = (message[1] | (message[2] << 7)) * 6 - 1

    def _plugged(self, connected: bool, sentence: str) -> None:
        """The watcher of hoot.midi's ports: the input went away or came back."""
        with self._guard:
            held = None
            if self._steady:
                held = statistics.median(self._steady)
            elif self._lock_state is not None:
                held = self.follower.bpm
            self._steady.clear()
            self.follower.reset()
            self._lock_state, self._origin, self.running = None, None, None
        if connected:
            self.perf.say(f"{self.name} is back: hoot follows its clock again.")
            return
        try:
            bpm = self.perf.tempo
            if held:  # free-run at the master's tempo, without the last phase nudge
                bpm = round(held * int(self.perf.meter.split("/")[1]) / 4, 2)
                self.perf.follow_tempo(bpm)
            tempo = f"{bpm:.1f} BPM"
        except (HootError, ValueError, IndexError):
            tempo = "its last tempo"
        self.perf.say(f"{self.name} unplugged: hoot plays on at {tempo}; plug it back in "
                      "and it follows again.")  # fmt: skip

    # ---- steering ------------------------------------------------------------------------

    def _steer(self) -> None:
        while not self._halt.wait(1.0 / STEER_HZ):
            try:
                self.steer()
            except HootError:
                pass  # the engine is restarting or busy; the next turn tries again
            except Exception as e:  # noqa: BLE001 - following must never take the set down
                self.perf.say(f"clock in stumbled ({type(e).__name__}: {e}); it keeps trying")

    def steer(self) -> None:
        """One look at the master and the engine; propose a tempo if it is needed."""
        with self._guard:
            lock, at_tick = self._lock_state, self._tick_count_at_lock
            align = self._align and lock is not None and lock.locked
            if align:
                self._align = False
        if lock is None or not lock.locked or self.running is False:
            return
        tm = self.perf.tempo_map()
        now = time.monotonic()
        heard = self._heard_sample(now)
        unit = tm.grid_at_beat(tm.beat_at(heard)).meter.unit
        per_beat = TICKS_PER_QUARTER * 4 / unit  # ticks a hoot beat
        master_bpm = self.follower.bpm
        with self._guard:
            self._steady.append(master_bpm)
        ext_bpm = master_bpm * unit / 4
        master = (at_tick + (now - lock.tick_time) / lock.period) / per_beat  # beats
        hoot = tm.beat_at(heard)
        if align:
            # hoot's beat at the master's song position 0, from where both are now (the
            # tempo map keeps only the last seconds: a Continue from far into the song
            # would ask it about a moment long folded away)
            self._origin = float(round(hoot - master))
            self.perf.downbeat(self._phrase_start(tm, hoot))
        if self._origin is not None and self.running:
            error = (hoot - self._origin) - master
        else:
            error = (hoot - master + 0.5) % 1.0 - 0.5
        nudge = 0.0 if abs(error) < DEAD_BAND else error / NUDGE_BEATS
        bpm = ext_bpm * (1.0 - min(max(nudge, -MAX_NUDGE), MAX_NUDGE))
        if abs(bpm - tm.bpm_at(heard)) >= MIN_CHANGE:
            retake = abs(ext_bpm - self._retaken) > RETAKE_BPM
            if retake:
                self._retaken = ext_bpm
            self.perf.follow_tempo(bpm, settled=round(ext_bpm, 2) if retake else None)
            self.proposals += 1

    def _phrase_start(self, tm, hoot: float) -> float:
        """Where hoot's phrase starts again: on the master's song position 0 (`_origin`),
        or, after a Continue from further on, on the master's first phrase boundary at most
        a bar ago (the engine renumbers no more than a bar already played)."""
        grid = tm.grid_at_beat(hoot)
        phrases = math.ceil((hoot - grid.beats_per_bar - self._origin) / grid.beats_per_phrase)
        return self._origin + max(0, phrases) * grid.beats_per_phrase

    def _heard_sample(self, wall: float) -> int:
        """The engine sample heard at monotonic time `wall` (perf's heard clock: the
        freshest status reading of the last second, less the output latency)."""
        return self.perf.heard_clock.sample(wall)

    def close(self) -> None:
        self._halt.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self.port.close()
