"""Following a MIDI clock: a delay-locked loop over tick arrival times.

A master sends 24 ticks (F8) per quarter note; they reach us through USB and a JACK
or ALSA period, so each arrival is late by up to one period (5.3 ms at 256 frames,
48 kHz) against a tick interval of 20.8 ms at 120 BPM: read tick by tick, the tempo
would swing by 25 %. `ClockFollower` filters the arrivals with the second-order DLL of
F. Adriaensen ("Using a DLL to filter time", 2005; Ardour's MIDI clock slave uses it):

    e = arrival - predicted;  predicted_next = predicted + b*e + period;  period += c*e
    with w = 2*pi*B*period, b = sqrt(2)*w, c = w*w  (B the loop bandwidth in Hz)

Bandwidth trades jitter against speed. research/controllers-sync.md §2.7 simulated
period-quantised arrivals: 0.5 Hz gives a steady error of at most 0.21 BPM and phase sd
0.25 ms, but takes 0.87 s to follow a 120 -> 126 BPM step; 2 Hz follows in 0.18 s but
wanders by 2.35 BPM. So the loop starts wide and narrows (ACQUIRE: 4 Hz for the first
half beat down to 0.5 Hz after two beats), which locks within two beats, and a step
detector (after engineering.md §3.2: the last 12 intervals, on average, more than 10 % off the
estimate) starts the acquisition again, which re-locks within a
bar after a step. The tempo it reports is not the loop's period, which wobbles with the
slow beat between tick and period (at 140 BPM and 5.3 ms, 0.43 BPM): it is the slope of a
line fitted through the last two beats of arrivals, steadier by ten times.

A stall is not a tempo change. When the machine freezes (170 ms and more under load, on
these 2-core VMs), the ticks of the frozen time arrive together when it wakes: a late tick
after a long interval, then a burst of ticks a fraction of a millisecond apart. Fed to the
loop and the fit they threw the tempo off by hundreds of BPM (simulated at 90-174 BPM,
stalls of 170-800 ms: up to 19000 BPM for a beat). So a tick more than OUTLIER_TICKS late
(or four times the loop's usual error, where periods are long) whose interval is far from
the period, a burst's or a gap's, is a stall: the loop runs on without it (a flywheel:
the tick was due when the loop predicted) and it stays out of the fit and of the step
detector. A real tempo step is not a burst: its intervals are all near the new period, so
two long intervals in a row, or the step detector, still start the acquisition again.

Pure and single-threaded: feed it arrival times in seconds (any monotonic clock).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

TICKS_PER_QUARTER = 24
STEADY_BANDWIDTH = 0.5  # Hz, once locked
# (ticks since acquisition began, bandwidth in Hz until then): wide first, then narrow
ACQUIRE: tuple[tuple[int, float], ...] = ((12, 4.0), (24, 2.0), (36, 1.0))
LOCKED_AFTER = 40  # ticks since acquisition (under two beats) before we call it locked
STEP_TICKS = 12  # a tempo step: the mean of this many intervals (half a beat) ...
STEP_RATIO = 0.10  # ... more than 10 % off the estimate
TEMPO_TICKS = 2 * TICKS_PER_QUARTER  # the reported tempo is fitted over two beats
GAP_TICKS = 48.0  # an interval of two beats, and at least GAP_SECONDS, means the master
GAP_SECONDS = 1.0  # paused (a stall is shorter): start again
OUTLIER_TICKS = 0.5  # a tick this late (in ticks) ...
JITTER_TIMES = 4.0  # ... or this many times the loop's usual error, if more, may be a stall
BURST_RATIO = 0.5  # a stall's burst: intervals under half the period ...
GAP_RATIO = 3.0  # ... after its gap: an interval over three periods (no tempo step is that big)
SETTLE_TICKS = 2  # intervals after a stall left out of the step detector (the burst's tail)
MIN_PERIOD = 60.0 / (TICKS_PER_QUARTER * 999.0)  # hoot's tempo range, 20..999 BPM
MAX_PERIOD = 60.0 / (TICKS_PER_QUARTER * 20.0)


@dataclass(frozen=True)
class Lock:
    """What the follower knows after a tick: the master's tempo in quarter notes per minute
    (`bpm`), when its latest tick was due by the loop (`tick_time`, seconds, filtered), the
    loop's period (`period`, seconds per tick) and whether it has locked."""

    bpm: float
    tick_time: float
    period: float
    locked: bool


class ClockFollower:
    """A delay-locked loop over F8 arrival times; see the module docstring."""

    def __init__(self, steady_bandwidth: float = STEADY_BANDWIDTH) -> None:
        self.steady_bandwidth = float(steady_bandwidth)
        self.reset()

    def reset(self) -> None:
        """Forget the master: the next tick starts a new acquisition."""
        self._last_arrival: float | None = None
        self._predicted = 0.0  # when the loop expects the next tick
        self._tick_time = 0.0  # the loop's time of the latest tick
        self.period = 0.0  # seconds per tick, 0 until two ticks have come
        self._since = 0  # ticks since the acquisition began
        self._intervals: deque[float] = deque(maxlen=STEP_TICKS)
        self._recent: deque[tuple[int, float]] = deque(maxlen=TEMPO_TICKS)  # (tick, arrival)
        self._count = 0  # ticks since the acquisition began, stalled ones included
        self._jitter = 0.0  # the loop's usual error (seconds, a running mean of |e|)
        self._stalled = False  # the previous tick was a stall's
        self._settle = 0  # intervals still to leave out of the step detector
        self.steps = 0  # tempo steps detected (each restarted the acquisition)
        self.stalls = 0  # ticks taken for a stall's and left to the flywheel

    @property
    def locked(self) -> bool:
        return self.period > 0 and self._since >= LOCKED_AFTER

    @property
    def bpm(self) -> float:
        """The master's tempo (quarter notes per minute): the slope of a straight line
        through the arrivals of the last two beats (since the acquisition began), or the
        loop's period until there are a dozen of them."""
        recent = tuple(self._recent)  # one copy under the GIL: the MIDI thread appends
        n = len(recent)
        if n < 12:
            return 60.0 / (TICKS_PER_QUARTER * self.period) if self.period > 0 else 0.0
        mean_i = sum(i for i, _ in recent) / n
        mean_t = sum(t for _, t in recent) / n
        num = sum((i - mean_i) * (t - mean_t) for i, t in recent)
        den = sum((i - mean_i) ** 2 for i, _ in recent)
        slope = num / den
        return 60.0 / (TICKS_PER_QUARTER * slope) if slope > 0 else 0.0

    def bandwidth(self) -> float:
        for until, hz in ACQUIRE:
            if self._since < until:
                return hz
        return self.steady_bandwidth

    def tick(self, arrival: float) -> Lock:
        """One F8 arrived at `arrival` (seconds). Returns what the loop knows now."""
        last = self._last_arrival
        self._last_arrival = arrival
        if last is None:
            self._tick_time = arrival
            return Lock(0.0, arrival, 0.0, False)
        interval = arrival - last
        paused = interval > max(GAP_TICKS * self.period, GAP_SECONDS)
        if self.period == 0.0 or paused or interval <= 0:
            self._start(arrival, interval)
        elif not self.locked and interval < BURST_RATIO * self.period:
            self._start(arrival, self.period)  # a burst while acquiring: from its last tick
        elif self._stall(arrival, interval):
            self.stalls += 1
            self._stalled, self._settle = True, SETTLE_TICKS
            self._tick_time = self._predicted  # the flywheel: it was due when predicted
            self._predicted += self.period
            self._count += 1
            return Lock(self.bpm, self._tick_time, self.period, self.locked)
        else:
            if self._stalled and interval > GAP_RATIO * self.period:
                self._settle = 0  # two long intervals in a row: the master slowed down
            if not self._settle and self._stepped(interval):
                self.steps += 1
                self._start(arrival, sum(self._intervals) / len(self._intervals))
            else:
                self._follow(arrival, interval)
        self._stalled = False
        self._count += 1
        self._recent.append((self._count, arrival))
        return Lock(self.bpm, self._tick_time, self.period, self.locked)

    def _follow(self, arrival: float, interval: float) -> None:
        """The loop's step for a tick that belongs to the clock (module docstring)."""
        if self._settle:
            self._settle -= 1  # a burst's tail: its interval says nothing of the tempo
        else:
            self._intervals.append(interval)
        e = arrival - self._predicted
        w = 2.0 * math.pi * self.bandwidth() * self.period
        self._tick_time = self._predicted + math.sqrt(2.0) * w * e
        self.period = min(max(self.period + w * w * e, MIN_PERIOD), MAX_PERIOD)
        self._predicted = self._tick_time + self.period
        self._jitter += (abs(e) - self._jitter) / TICKS_PER_QUARTER
        self._since += 1

    def _stall(self, arrival: float, interval: float) -> bool:
        """Whether this tick belongs to a stall: locked, late by more than the loop's
        tolerance, after a gap or in a burst (see the module docstring)."""
        if not self.locked:
            return False
        late = arrival - self._predicted
        tolerance = max(OUTLIER_TICKS * self.period, JITTER_TIMES * self._jitter)
        if late <= tolerance:
            return False
        burst = interval < BURST_RATIO * self.period
        gap = interval > GAP_RATIO * self.period and not self._stalled
        return burst or gap

    def _start(self, arrival: float, interval: float) -> None:
        """Begin acquiring from this tick, with `interval` as the first guess of the period."""
        if not MIN_PERIOD <= interval <= MAX_PERIOD:
            interval = self.period if self.period > 0 else 60.0 / (TICKS_PER_QUARTER * 120.0)
        self.period = interval
        self._tick_time = arrival
        self._predicted = arrival + interval
        self._since = 0
        self._count = 0
        self._jitter = 0.0
        self._stalled = False
        self._settle = 0
        self._intervals.clear()
        self._recent.clear()
        self._recent.append((0, arrival - interval))

    def _stepped(self, interval: float) -> bool:
        """Whether this and the previous STEP_TICKS - 1 intervals, on average, say the tempo
        moved. One interval alone can be 25 % off (a period's quantisation); the mean of six
        is off by at most a twelfth of that."""
        if len(self._intervals) < STEP_TICKS - 1:
            return False
        window = [*list(self._intervals)[-(STEP_TICKS - 1) :], interval]
        return abs(sum(window) / len(window) / self.period - 1.0) > STEP_RATIO
