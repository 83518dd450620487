"""Following a band: hoot's tempo and bars follow the beat the players play into its inputs.

`perf.follow("kit")` (or `perf.follow(["bassist", "piano"])`: names of input tracks that
`perf.input` made) starts a `BeatFollow`. Its own thread (never the audio thread, never
the UI's) reads the engine's input ring (hoot.engine.rings) every LISTEN_S, mixes the
chosen rows to mono and feeds the causal beat tracker (hoot.beats.BeatTracker), which
reports each beat once it is known, on the ring's sample clock. The follower steers the
engine's tempo map, the one clock, as the MIDI clock follower does (hoot/control/clock_in.py):
ordinary tempo changes on hoot's next beat, never a jump.

- Where: a beat the band played at ring sample s is heard with hoot's output sample
  s - round_trip (it took the input latency to reach the ring; hoot's sample takes the
  output latency to be heard), so hoot's beats are placed round_trip samples before the
  band's on the sample clock, and land with them in the room. The round trip is
  `perf.latency` (one JACK period on a loopback; the device's report elsewhere).
- Tempo: the tracker's, plus a phase nudge: a phase error of e beats sets the tempo off
  by e/NUDGE_BEATS (at most MAX_NUDGE) for the next beats, so hoot's beats slide onto the
  band's within a few beats. NUDGE_BEATS is 4, half the MIDI clock's 8, because a
  tracker's tempo lags a ramp: it is known a beat late and a proposal holds from hoot's
  next beat, and a loop of gain g a beat leaves a phase lag of (tempo lag) / g. At
  110 -> 130 BPM over 8 bars (0.6 BPM a beat) that lag was 22 ms with g = 1/4 (the test's
  stand-in tracker). So the tempo is also carried ahead along the band's trend (the slope
  of its last TREND_BEATS tempi, at most MAX_TREND) to the middle of the beat the
  proposal will hold for, which leaves the nudges only the noise.
- Bars: once the tracker's bar_beat has held for a bar (`meter` beats numbered in turn),
  and hoot's beats are within ANCHOR_ERROR of the band's (else "the nearest whole beat"
  could flip from one beat to the next), hoot's bar lines are checked against the band's
  downbeat; if they disagree, hoot's phrase starts again on the whole beat nearest the
  band's downbeat (perf.downbeat).
  Phrases beyond that are the performer's: the "this is one" key (`one`) anchors them.
- Few proposals: every tempo change is a segment of the engine's tempo map (which folds
  its past away, so hours of them are fine, but each is a retake check and a new map),
  so the phase is left alone within DEAD_BAND and a proposal under MIN_CHANGE is not
  sent; once hoot sits on a steady band it sends none.
- Not locked ("listening", "holding"): hoot keeps its tempo and says so in one sentence
  when the state changes in a way that matters (locked, holding, lost, locked again).
- The engine restarted: its ring starts again at sample 0, or nothing comes for REOPEN_S
  and the engine names another ring, so the reader is opened again and the tracker starts
  afresh (a new stream: its first block is earlier than the last one heard).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from hoot.engine.rings import RingReader
from hoot.errors import HootError

LISTEN_S = 0.02  # the ring is read 50 times a second (a 256-frame slot is 5.3 ms)
NUDGE_BEATS = 4.0  # a phase error is taken out over about this many beats
MAX_NUDGE = 0.06  # the tempo is never set more than 6 % off the band's to fix phase
TREND_BEATS = 6  # a ramp's slope is read from this many beats' tempi
LEAD_BEATS = 1.5  # a proposal holds from hoot's next beat for about a beat: its middle
MAX_TREND = 0.03  # a ramp's extrapolation moves the tempo by at most 3 %
ANCHOR_ERROR = 0.2  # beats: bar lines are moved only once hoot's beats are this near the band's
DEAD_BAND = 0.008  # beats of phase error left alone (4 ms at 120 BPM)
MIN_CHANGE = 0.05  # BPM: smaller proposals are not sent
RETAKE_BPM = 0.5  # playing candidates are rendered again once the tempo moved this far
GAP_S = 0.5  # a hole in the ring longer than this (the engine stalled) starts the tracker again
REOPEN_S = 1.0  # how often a follower without a ring looks for one


def sync_name(inputs: Sequence[str]) -> str:
    """The sync source as the grid shows it: "band: drums", "band: bass + keys"."""
    return "band: " + " + ".join(inputs)


class BeatFollow:
    """Follows the beat of input tracks `inputs`; see the module docstring. `tracker`: a
    BeatTracker (hoot.beats's, made for the engine's rate and hoot's meter, when None);
    `listen`: what that tracker listens with ("learned" or "onsets"; None: its default);
    `thread`: read the ring on a thread of its own (False: the caller feeds `hear`)."""

    def __init__(self, perf, inputs: str | Sequence[str], tracker: Any = None,
                 listen: str | None = None, thread: bool = True) -> None:  # fmt: skip
        self.perf = perf
        self.inputs = [inputs] if isinstance(inputs, str) else list(inputs)
        known = [t.name for t in perf.tracks.inputs]
        missing = [name for name in self.inputs if name not in known]
        if not self.inputs or missing:
            raise HootError(
                f"{' and '.join(missing) or 'nothing'} is no input to follow; inputs are "
                f"{', '.join(known) or 'none yet (perf.input makes one)'}"
            )
        tm = perf.tempo_map()
        self.meter = tm.grid_at_beat(tm.beat_at(perf.now)).beats_per_bar
        self.samplerate = perf.samplerate
        if tracker is None:
            tracker = _tracker(self.samplerate, self.meter, listen)
        self.tracker = tracker
        if getattr(self.tracker, "note", ""):  # its beat model could not be read
            perf.say(f"beat tracker: {self.tracker.note}")
        self.round_trip = 0  # frames; perf.latency when the ring is opened (it plays a probe)
        self._guard = threading.Lock()  # the tracker is fed here and told things by keys
        self._origin = 0  # the ring sample of the tracker's time 0
        self._next: int | None = None  # the ring sample expected next
        self._recent: deque = deque(maxlen=2 * self.meter)  # the latest beats heard
        self._state = self.tracker.state
        self._was_locked = False  # whether it has locked before: the next lock is "again"
        self._retaken = 0.0
        self._reader: RingReader | None = None
        self._rows: list[int] = []
        self._looked = -math.inf
        self._fed = -math.inf  # when the ring last had something (time.monotonic())
        self._stumbled = ""  # the last trouble said
        self._error = 1.0  # the latest phase error, in beats
        self.proposals = 0  # tempo changes sent
        self.anchors = 0  # downbeats sent
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        if thread:
            self._thread = threading.Thread(target=self._listen, name="hoot-beat-follow",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    # ---- what the view shows ---------------------------------------------------------

    @property
    def sync(self) -> str:
        return sync_name(self.inputs)

    @property
    def locked(self) -> bool:
        return bool(self.tracker.locked)

    @property
    def state(self) -> str:
        """The tracker's: "listening", "locked" or "holding"."""
        return str(self.tracker.state)

    @property
    def confidence(self) -> float:
        return float(self.tracker.confidence)

    @property
    def bpm(self) -> float:
        """The band's tempo as the tracker hears it (hoot's while it has none)."""
        return float(self.tracker.bpm or self.perf.tempo)

    # ---- what the performer's keys tell it ---------------------------------------------

    def hint(self, bpm: float | None) -> None:
        """A tapped tempo: the tracker folds its octave errors towards it."""
        with self._guard:
            self.tracker.hint(bpm)

    def one(self, heard: int) -> None:
        """The performer says "this is one" as hoot's output sample `heard` sounds: the
        band's beat nearest it is a downbeat from now on."""
        with self._guard:
            self.tracker.set_one((heard + self.round_trip - self._origin) / self.samplerate)

    # ---- the ring ------------------------------------------------------------------------

    def _listen(self) -> None:
        while not self._halt.wait(LISTEN_S):
            try:
                self.listen()
            except HootError:
                self._reader = None  # the engine is restarting or busy: look again
            except Exception as e:  # noqa: BLE001 - following must never take the set down
                self._reader = None
                said = f"the band follower stumbled ({type(e).__name__}: {e}); it keeps trying"
                if said != self._stumbled:  # once, not 50 times a second
                    self._stumbled = said
                    self.perf.say(said)

    def listen(self) -> None:
        """Read what the ring holds, hand it to the tracker and steer on the beats found."""
        reader = self._reader or self._open()
        if reader is None:
            return
        if reader.written < reader.next:  # a new engine made the ring again
            self._reader = None
            return
        pieces: list[np.ndarray] = []
        first = None
        if reader.written == reader.next and time.monotonic() - self._fed > REOPEN_S:
            self._fed = time.monotonic()
            if self.perf.input_ring()[0] != reader.name:  # a new engine, a new ring
                self._reader = None
            return
        while (got := reader.read()) is not None:
            sample, audio = got
            if first is not None and sample != first + sum(len(x) for x in pieces):
                self.hear(first, np.concatenate(pieces))
                pieces, first = [], None
            first = sample if first is None else first
            pieces.append(audio[self._rows].mean(axis=2).sum(axis=0, dtype=np.float32))
        if pieces:
            self._fed = time.monotonic()
            self.hear(first, np.concatenate(pieces))

    def _open(self) -> RingReader | None:
        """The ring and the rows of the followed inputs, from the engine's input list."""
        if self._looked > time.monotonic() - REOPEN_S:
            return None
        self._looked = time.monotonic()
        ring, rows = self.perf.input_ring()
        missing = [name for name in self.inputs if name not in rows]
        if not ring or missing:
            return None
        # the round trip first: measuring it on a loopback plays a probe into the inputs,
        # which the tracker must not hear (the reader starts at the newest block)
        self.round_trip = self.perf.latency.frames
        self._reader = RingReader(ring)
        self._rows = [rows[name] for name in self.inputs]
        return self._reader

    # ---- hearing and steering ------------------------------------------------------------

    def hear(self, sample: int, mono: np.ndarray) -> None:
        """The band's audio from ring sample `sample` on: feed it to the tracker and steer
        on the beats it reports."""
        with self._guard:
            expected = self._next
            if expected is None or sample < expected or sample - expected > GAP_S * self.samplerate:
                if expected is not None:  # a new engine, or a stall: a new stream
                    self.tracker.reset()
                    self._recent.clear()
                self._origin = sample - int(self.tracker.fed)
            elif sample > expected:  # a lost slot: silence keeps the stream's clock
                self.tracker.feed(np.zeros(sample - expected, np.float32))
            beats = self.tracker.feed(np.asarray(mono, np.float32))
            self._next = sample + len(mono)
            state = str(self.tracker.state)
        self.take(beats, state)

    def take(self, beats: list, state: str) -> None:
        """The tracker's new beats and its state after them."""
        self._recent.extend(beats)
        self._say_state(state)
        if not beats or state != "locked" or beats[-1].holding:
            return
        tm = self.perf.tempo_map()
        now = self.perf.now
        self.steer(beats[-1], tm, now)
        self.anchor(tm, now)

    def heard_at(self, beat) -> float:
        """hoot's output sample that sounds with the band's `beat` (module docstring)."""
        return self._origin + beat.time * self.samplerate - self.round_trip

    def steer(self, beat, tm, now: int) -> None:
        """Propose the band's tempo from hoot's next beat, nudged to take out the phase
        error between hoot's beats and the band's (both read at `now`)."""
        period = 60.0 * self.samplerate / beat.bpm
        band = (now - self.heard_at(beat)) / period
        error = (tm.beat_at(now) - band + 0.5) % 1.0 - 0.5  # > 0: hoot is ahead
        self._error = error
        nudge = 0.0 if abs(error) < DEAD_BAND else error / NUDGE_BEATS
        ahead = self.trend() * (band + LEAD_BEATS)  # where a ramp will have taken the band
        ahead = min(max(ahead, -MAX_TREND * beat.bpm), MAX_TREND * beat.bpm)
        bpm = (beat.bpm + ahead) * (1.0 - min(max(nudge, -MAX_NUDGE), MAX_NUDGE))
        if abs(bpm - tm.bpm_at(now)) < MIN_CHANGE:
            return
        retake = abs(beat.bpm - self._retaken) > RETAKE_BPM
        if retake:
            self._retaken = beat.bpm
        self.perf.follow_tempo(bpm, settled=round(beat.bpm, 2) if retake else None)
        self.proposals += 1

    def trend(self) -> float:
        """How fast the band's tempo moves, in BPM a beat: the slope of a line through the
        tempo of its latest TREND_BEATS beats (0 until there are three)."""
        recent = [b for b in self._recent if not b.holding][-TREND_BEATS:]
        if len(recent) < 3:
            return 0.0
        return float(np.polyfit(np.arange(len(recent)), [b.bpm for b in recent], 1)[0])

    def anchor(self, tm, now: int) -> None:
        """Once the tracker's bar has held for a bar, put hoot's bar lines on the band's
        downbeats if they are elsewhere (module docstring)."""
        if abs(self._error) > ANCHOR_ERROR:
            return  # hoot's beats are still sliding onto the band's: which is "nearest" may flip
        held = list(self._recent)[-self.meter :]
        if len(held) < self.meter or any(b.bar_beat is None or b.holding for b in held):
            return
        if any(b.bar_beat != a.bar_beat % self.meter + 1 for a, b in zip(held, held[1:])):
            return
        one = next(b for b in reversed(held) if b.bar_beat == 1)
        bar = self.meter * 60.0 * self.samplerate / one.bpm
        at = self.heard_at(one)
        at += round((now - at) / bar) * bar  # the band's downbeat nearest now
        beat = float(round(tm.beat_at(int(at))))
        grid = tm.grid_at_beat(beat)
        if grid.beats_per_bar != self.meter or (beat - grid.beat) % self.meter == 0:
            return
        if beat < tm.beat_at(now) - self.meter:
            return  # further back than the engine renumbers
        self.perf.downbeat(beat)
        self.anchors += 1

    def _say_state(self, state: str) -> None:
        before, self._state = self._state, state
        if state == before:
            return
        bpm = self.tracker.bpm
        if state == "locked":
            again = " again" if self._was_locked else ""
            self._was_locked = True
            self.perf.say(f"{self.sync}: locked{again} at {bpm:.1f} BPM")
        elif state == "holding":
            self.perf.say(f"{self.sync}: holding {self.perf.tempo:.1f} BPM through the break")
        elif before in ("locked", "holding"):
            self.perf.say(f"{self.sync}: the beat is lost; hoot plays on at "
                          f"{self.perf.tempo:.1f} BPM")  # fmt: skip

    def close(self) -> None:
        self._halt.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        if self._reader is not None:
            self._reader.close()


def _tracker(samplerate: int, meter: int, listen: str | None = None):
    """hoot's causal beat and downbeat tracker for the engine's rate and hoot's meter."""
    from hoot.beats import BeatTracker

    chosen = {"listen": listen} if listen is not None else {}  # else the tracker's default
    return BeatTracker(samplerate=samplerate, meter=meter, downbeats=True, **chosen)
