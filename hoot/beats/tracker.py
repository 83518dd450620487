"""BeatTracker: the causal beat and downbeat tracker, the same object live and offline.

Blocks of audio go in (any length, mono or stereo); the beats that became known come out.
Inside, three small parts (each its own module):

    OnsetEnvelope (onsets.py) -> BeatPointer (pulse.py) -> beats -> BarCounter (bars.py)

and, with listen="learned", hoot's beat network (activation.py) beside the onsets: its
P(beat) drives the filter and the state machine, its P(downbeat) the bar counter.

and a state machine that decides what the performer may rely on:

- "listening": no lock yet (or lost). Beats the filter is fairly sure of (confidence at
  least REPORT) are still reported, so a file's first beats are not thrown away, but the
  clock must not follow them.
- "locked": LOCK_BEATS beats in a row were consistent (each a beat length after the last,
  heard as onsets clearly above the music's average, the filter's belief concentrated).
- "holding": was locked, then the beats stopped standing out (the median salience of the
  last beats fell under HOLD_SALIENCE: a break, a fermata, a drone). Beats go on at the
  last tempo and phase (a flywheel) with holding=True, until the band is heard again
  (locked) or HOLD_BARS bars pass (listening).

The bar counter counts the beats between two reported ones in the filter's beat length or,
while locked, the lock's, whichever fits a whole number better, and is told where the band
started: the first strong onset after silence, or, when the band came in over room noise,
the earliest of the beats heard one after another up to the first one reported (a band
usually starts on the one).

Cost: one 1024-point FFT and about thirty numpy operations on 5,600 states a frame, 100
frames a second: about 1 % of one core at 48 kHz, 1.8 % with the network (benchmarks/beats.py
measures it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hoot.beats.activation import BeatActivation
from hoot.beats.bars import BarCounter
from hoot.beats.onsets import Frame, OnsetEnvelope
from hoot.beats.pulse import BeatPointer
from hoot.errors import HootError

# The onset is the geometric mean of the three band groups' flux (each + BROAD): a kick
# with its click, a snare, a chord with its bass are heard in every group at once and count
# most; hats alone, a bass note alone, a keys chord alone count little. This is what keeps
# the beat off the "and" where the open hats, the bass and the keys play (tune split: beat
# F 0.75 with a weighted sum, 0.80 with this). The groups are weighted (exponents): the high
# group (the click of a kick, the crack of a snare, hats, all above 5 kHz) stands on the beat
# most reliably; the mid group (keys, bass harmonics, ghost notes) often sits on the "and".
# Beat F on tune 0.800 (1, 1, 1) -> 0.811 (1, 1, 1.5) -> 0.822 (1, 0.5, 1.5); eval 0.786 ->
# 0.797 -> 0.816. (1, 1, 2) reached 0.815 on tune but let loud open hats on the "and" double
# the tempo (tests/beats), (1, 1.5, 1) fell to 0.781.
BROAD = 2.0
LOW_WEIGHT, MID_WEIGHT, HIGH_WEIGHT = 1.0, 0.5, 1.5
BEAT_ONSET = 1.5  # an onset this strong (times the running mean) is as likely on a beat as off
EVIDENCE_POWER = 2.0  # beats weaker than BEAT_ONSET cost the square: eighths are not beats
LATENCY_SECONDS = 0.01  # the filter's beat lags the onset by this (the tune split's median)
# A beat's salience: its strongest onset (within 3 frames) over the running mean of the
# onsets; the median of the last SALIENCE_BEATS beats, so one crash cannot claim a beat.
SALIENCE_BEATS = 4
MEAN_SECONDS = 2.0  # the running mean of the activation, salience's denominator
NOISE_SALIENCE = 2.0  # what noise and drones reach by chance (the strongest of 7 frames)
LOCK_SALIENCE = 2.2  # a beat's onset over the running mean, for a confident beat
FULL_SALIENCE = 4.0  # salience at which confidence stops growing
LOCK_CONFIDENCE = 0.5
HOLD_SALIENCE = 1.5  # below this (the beats no longer stand out) a lock holds
REPORT = 0.3  # the least confidence for a beat reported while listening
LOCK_BEATS = 3  # consistent beats in a row to lock
TOLERANCE = 0.15  # a consistent beat is within 15 % of a beat length of where expected
TEMPO_BEATS = 3  # beat intervals averaged for the reported tempo
HOLD_BARS = 8  # how long holding flywheels before it gives up
START_ONSET = 4.0  # an onset this strong after START_QUIET seconds of silence: the band starts
START_QUIET = 0.4  # (so a count-in click or a marker before it does not count as the start)
AROUND = range(-3, 4)  # frames around a beat where its onset may peak
HISTORY = 512  # frames of onsets and the sub band kept (5 s)
HELD_BEATS = 8  # heard beats whose spacing a hold keeps

# With the learned activation (activation.py, listen="learned"), what the filter and the state
# machine hear is P(beat) a frame: the filter's in-beat states (LEARNED_REACH frames either
# side of the beat, at every tempo) weigh it as the odds P / (1 - P) times LEARNED_ODDS, as
# madmom's observation model does, times the onset envelope's own odds to the power
# ONSET_BLEND; a beat's salience is its peak P itself (0..1), no running mean needed.
LEARNED_NOISE, LEARNED_FULL = 0.1, 0.5  # salience where confidence starts and stops growing
LEARNED_LOCK, LEARNED_HOLD = 0.25, 0.12  # salience to lock, below which a lock holds
LEARNED_LATENCY = -0.006  # seconds taken off a beat time (the tune split heard beats 11 ms early)
# When no frame of the last beat length reached LEARNED_QUIET, nothing beat-like is playing (a
# break, a held chord, the silence before the band): the filter hears nothing at all then, as
# in silence, so it flywheels at the tempo and phase it had instead of being pushed off them
# by "no beat here" at every place in turn.
LEARNED_QUIET = 0.1
LEARNED_ODDS = 11.0  # how much likelier P(beat) = 0.5 is at a beat than elsewhere
ONSET_BLEND = 0.5  # the onset envelope's say beside the network's (a power of its odds)
NETWORK_WEIGHT = 1.0  # the network's say (a power of its odds)
LEARNED_FLOOR = 0.3  # the least odds the network gives a beat: "no beat" from it is weak
ONSET_SHARE = 0.4  # a frame's beat-likeness from a plain onset at FULL_SALIENCE
LEARNED_REACH = 1  # frames either side of a beat where the filter expects P(beat) to peak
TRACKERS = ("learned", "onsets")


@dataclass(frozen=True)
class Beat:
    """One beat, on the stream's clock (0 = the first sample fed)."""

    time: float  # seconds: when the beat is
    known: float  # seconds: when it was reported (the end of the block that revealed it)
    bpm: float
    confidence: float  # 0..1
    bar_beat: int | None  # 1..meter (1 = downbeat) with downbeats=True, else None
    holding: bool  # predicted through a break (flywheel), not heard


class BeatTracker:
    """Follows the beat of the audio fed to it, only ever looking at the past."""

    def __init__(
        self,
        samplerate: int = 48000,
        meter: int = 4,
        downbeats: bool = True,
        listen: str = "onsets",
    ) -> None:
        """`listen`: "onsets" (the default: the hand-made onset envelope) or "learned" (hoot's
        beat network, models/beats-hoot.npz, beside it; where the model cannot be read the
        tracker listens to onsets and says so in `self.note`). The network is far better on
        hoot's evaluation set but still misreads some sparse plain grooves unlike most of its
        training (tests/beats/test_tracker.py marks them; docs/architecture.md), so it is
        not yet the default."""
        if listen not in TRACKERS:
            raise HootError(
                f"the beat tracker listens with {' or '.join(TRACKERS)}, not {listen!r}"
            )
        if samplerate < 8000:
            raise HootError(f"the beat tracker needs at least 8000 Hz audio, not {samplerate}")
        if not 1 <= meter <= 16:
            raise HootError(f"a bar has 1 to 16 beats, not {meter}")
        self.samplerate = samplerate
        self.meter = meter
        self.downbeats = downbeats
        self._onsets = OnsetEnvelope(samplerate)
        self._bars = BarCounter(meter)
        self._hint: float | None = None
        self.note = ""
        self._net: BeatActivation | None = None
        if listen == "learned":
            try:
                self._net = BeatActivation(samplerate)
            except HootError as e:
                self.note = f"{e}; listening to onsets alone"
        self.listen = "learned" if self._net is not None else "onsets"
        reach = LEARNED_REACH if self._net is not None else None
        self._pointer = BeatPointer(self._onsets.fps, reach)
        self.reset()

    # --- what the performer and the clock read -------------------------------------------

    @property
    def locked(self) -> bool:
        return self.state == "locked"

    @property
    def bpm(self) -> float | None:
        if self.state == "listening" and self._last is None:
            return None
        return self._tempo()

    def _tempo(self) -> float:
        """BPM from the last beats' intervals (finer than the filter's whole-frame beat
        lengths, 2 % apart at 120 BPM), when they agree with the filter; else the filter's."""
        period = self._period
        recent = self._intervals
        if len(recent) >= 2 and all(abs(r - period) <= TOLERANCE * period for r in recent):
            period = float(np.mean(recent))
        return 60.0 * self._onsets.fps / period

    def reset(self) -> None:
        """Forget everything: a new song."""
        self._onsets.reset()
        if self._net is not None:
            self._net.reset()
        self._pointer.reset()
        self._bars.reset()
        self.state = "listening"
        self.confidence = 0.0
        self.fed = 0
        self._frame = -1
        self._onset = np.zeros(HISTORY)
        self._low = np.zeros(HISTORY)
        self._down = np.zeros(HISTORY)  # P(downbeat) a frame (learned)
        self._mean = 1.0
        self._salience = 1.0  # the median of the last beats' saliences
        self._saliences: list[float] = []
        self._consistent = 0
        self._last: float | None = None  # the frame of the latest beat reported
        self._last_held = False  # whether that beat was predicted (held), not heard
        self._run: list[tuple[int, float]] = []  # (count, frame) of the last heard beats in a row
        self._period = 60.0 * self._onsets.fps / 120.0  # frames a beat
        self._candidate: float | None = None  # the frame of the filter's latest beat
        self._quiet = 0  # silent frames since the last strong onset (heard, not assumed)
        self._start: float | None = None  # the frame the band started
        self._held = 0  # beats flywheeled in this hold
        self._held_key: tuple | None = None  # what _held_period was last worked out from
        self._held_cache = 0.0
        self._recent: list[tuple[float, int]] = []  # (time, count) of the last bar's beats
        self._intervals: list[float] = []  # frames between the last beats heard in a row
        self._one_at: float | None = None  # a "this is one" from before the first beat

    def hint(self, bpm: float | None) -> None:
        """A tempo hint (tap tempo): folds octave errors towards `bpm`; None clears it."""
        if bpm is not None and not 20.0 <= bpm <= 400.0:
            raise HootError(f"a tempo hint is between 20 and 400 BPM, not {bpm}")
        self._hint = bpm
        self._pointer.hint(bpm)
        if bpm is not None:
            self._pointer.fold(bpm)
            factor = 2.0 ** round(np.log2(bpm / (60.0 * self._onsets.fps / self._period)))
            self._period /= factor

    def set_one(self, time: float) -> None:
        """The performer says "this is one": the beat nearest `time` (seconds on the
        stream's clock) is a downbeat from now on. Before any beat is heard, the first beats
        are counted from `time`."""
        if not self._recent:
            self._one_at = time
            return
        beat_time, count = min(self._recent, key=lambda tc: abs(tc[0] - time))
        steps = round((time - beat_time) * self._onsets.fps / self._period)
        self._bars.set_one(count + steps)

    # --- feeding ---------------------------------------------------------------------------

    def feed(self, block: np.ndarray) -> list[Beat]:
        """The beats that became known in this block (float32, (n,) or (n, channels))."""
        block = np.asarray(block, dtype=np.float64)
        if block.ndim == 2:
            block = np.add.reduce(block, axis=1) / block.shape[1]  # .mean(), less overhead
        elif block.ndim != 1:
            raise HootError(
                f"the beat tracker takes (n,) or (n, channels) audio, not {block.shape}"
            )
        self.fed += len(block)
        found: list[Beat] = []
        frames = self._onsets.feed(block)
        heard = self._net.feed(block) if self._net is not None else [None] * len(frames)
        for frame, act in zip(frames, heard, strict=True):
            self._frame += 1
            found += self._hear(frame, act)
        known = self.fed / self.samplerate
        return [replace(b, known=known) for b in found]

    def _hear(self, frame: Frame, act: tuple[float, float, bool] | None) -> list[Beat]:
        """One frame through the filter and the state machine: the beats it revealed."""
        i = self._frame
        spread = (
            (frame.low + BROAD) ** LOW_WEIGHT
            * (frame.mid + BROAD) ** MID_WEIGHT
            * (frame.high + BROAD) ** HIGH_WEIGHT
        )
        onset = spread ** (1.0 / (LOW_WEIGHT + MID_WEIGHT + HIGH_WEIGHT)) - BROAD
        self._low[i % HISTORY] = frame.sub
        if frame.silent:
            self._quiet += 1
        elif onset >= START_ONSET:
            if self._quiet >= START_QUIET * self._onsets.fps:
                self._start = float(i)
            self._quiet = 0
        evidence = min(max(((onset + 0.1) / BEAT_ONSET) ** EVIDENCE_POWER, 1e-3), 1e3)
        decay = np.exp(-1.0 / (MEAN_SECONDS * self._onsets.fps))
        self._mean = self._mean * decay + onset * (1.0 - decay)
        if act is None:
            heard = onset
        else:
            p, down, _ = act
            self._down[i % HISTORY] = down
            p = min(max(p, 1e-4), 1.0 - 1e-4)
            odds = max(p * LEARNED_ODDS / (1.0 - p), LEARNED_FLOOR) ** NETWORK_WEIGHT
            evidence = min(max(odds * evidence**ONSET_BLEND, 1e-3), 1e3)
            # how beat-like the frame is: the network's P, or a plain strong onset (which a
            # network trained on hoot's own bands may not know as a beat), whichever says more
            plain = (onset / max(self._mean, 1e-3) - NOISE_SALIENCE) / (
                FULL_SALIENCE - NOISE_SALIENCE
            )
            heard = max(p, ONSET_SHARE * min(max(plain, 0.0), 1.0))
        self._onset[i % HISTORY] = heard
        if act is not None and self.state != "listening":
            if _ring_max(self._onset, i - min(int(self._period), HISTORY) + 1, i) < LEARNED_QUIET:
                evidence = None
        pointer = self._pointer
        pointer.step(None if frame.silent else evidence)
        tempo, position = pointer.best()
        length = float(pointer.lengths[tempo])
        beats = []
        beat = i - position
        new = self._candidate is None or beat - self._candidate > 0.6 * length
        if position < length / 4 and new:
            beats += self._filter_beat(beat, length, position)
        held = self._held_period()
        if self.state == "holding" and self._last is not None and i >= self._last + held:
            beats += self._flywheel_beat(self._last + held)
        elif self.state == "locked" and self._net is not None and self._last is not None:
            late = i >= self._last + (1.0 + TOLERANCE) * held
            if late and self._unheard_since_last():  # nothing played, and the filter drifts
                beats += self._predicted_beat(self._last + held)
        return beats

    def _filter_beat(self, beat: float, length: float, position: int) -> list[Beat]:
        """The filter says a beat is at frame `beat`: judge it, maybe report it."""
        previous, self._candidate = self._candidate, beat
        learned = self._net is not None
        if previous is not None:  # the last beat is over: how clearly was it heard?
            salience = self._heard(previous)
            if not learned:
                salience /= max(self._mean, 1e-3)
            self._saliences = [*self._saliences[-SALIENCE_BEATS + 1 :], salience]
            self._salience = float(np.median(self._saliences))
        noise, full, lock, hold = (
            (LEARNED_NOISE, LEARNED_FULL, LEARNED_LOCK, LEARNED_HOLD)
            if learned
            else (NOISE_SALIENCE, FULL_SALIENCE, LOCK_SALIENCE, HOLD_SALIENCE)
        )
        concentration = self._pointer.concentration(position / length)
        strength = (self._salience - noise) / (full - noise)
        strength = min(max(strength, 0.0), len(self._saliences) / SALIENCE_BEATS)
        confidence = concentration * strength
        steady = previous is not None and abs(beat - previous - length) <= TOLERANCE * length
        # with the network, every one of the last beats must have been heard as a beat: a
        # filter at twice the tempo hears every other one, and its median would pass
        heard = min(self._saliences[-LOCK_BEATS:]) if learned and self._saliences else 0.0
        clear = heard >= lock if learned else self._salience >= lock
        good = steady and clear and confidence >= LOCK_CONFIDENCE
        self._consistent = self._consistent + 1 if good else 0
        self.confidence = confidence
        if self.state == "locked" and self._salience < hold:
            self.state, self._held = "holding", 0
        elif self.state != "locked" and self._consistent >= LOCK_BEATS:
            self.state = "locked"
        if self.state == "holding":
            return []
        if self.state == "locked" and self._unheard_since_last():
            # the band played nothing beat-like since the last beat (a break begins): the
            # beat is where the last ones say
            return self._predicted_beat(self._last + self._held_period())
        if self.state == "listening" and confidence < REPORT:
            return []
        if self._last is not None and beat - self._last < 0.6 * length:
            return []
        # how many beats passed since the last one: in the filter's beat length or, while
        # locked, the lock's, whichever fits a whole number better (a filter that jumps to
        # 1.5 beat lengths for a beat would count two beats as one and shift every bar line
        # after it; after a real tempo step the filter's new length is the one that fits)
        counted_in = length
        if self.state == "locked" and self._last is not None:
            interval = beat - self._last
            counted_in = min((length, self._held_period()), key=lambda n: _misfit(interval, n))
        self._period = length
        return [self._report(beat, confidence, holding=False, counted_in=counted_in)]

    def _held_period(self) -> float:
        """Frames a beat while holding: the slope of the last HELD_BEATS heard beats (finer
        than the filter's whole frames, whose beats step 49, 50, 50, 49... frames apart at
        122 BPM), or the tempo reported when fewer were heard. Asked every frame, it is
        worked out again only when a beat or the filter's beat length changed it (a fit
        costs ~50 us, half a percent of a core at 100 frames a second)."""
        key = (self._period, len(self._run), self._run[-1] if self._run else None,
               tuple(self._intervals))  # fmt: skip
        if key != self._held_key:
            self._held_key, self._held_cache = key, self._fit_held_period()
        return self._held_cache

    def _fit_held_period(self) -> float:
        if len(self._run) >= 4:
            counts, frames = np.array(self._run).T
            slope = float(np.polyfit(counts, frames, 1)[0])
            if abs(slope - self._period) <= TOLERANCE * self._period:
                return slope
        return 60.0 * self._onsets.fps / self._tempo()

    def _unheard_since_last(self) -> bool:
        """With the learned activation: nothing reached LEARNED_QUIET since just after the
        last beat reported (its own peak excluded)."""
        if self._net is None or self._last is None:
            return False
        since = int(self._last) + max(AROUND) + 1
        if self._frame - since < self._period / 2:
            return False
        return _ring_max(self._onset, since, self._frame) < LEARNED_QUIET

    def _beats_since_start(self, beat: float) -> int:
        """How many beats before the first reported one the band started: after silence, the
        first strong onset; otherwise (room noise, a drone, a count-in's silence not quite
        silent) walking back from `beat` a beat length at a time, each step re-centred on
        its strongest frame, while those beats were heard."""
        if self._start is not None:
            return max(0, round((beat - self._start) / self._period))
        learned = self._net is not None
        floor = LEARNED_HOLD if learned else NOISE_SALIENCE * max(self._mean, 1e-3)
        steps, at = 0, beat
        while True:
            expected = at - self._period
            if expected - max(AROUND) < 0 or self._frame - expected >= HISTORY - max(AROUND):
                return steps
            frames = [int(round(expected)) + k for k in AROUND]
            peak = max(frames, key=lambda f: self._onset[f % HISTORY])
            if self._onset[peak % HISTORY] < floor:
                return steps
            steps, at = steps + 1, float(peak)

    def _heard(self, beat: float) -> float:
        """The strongest onset around a beat that is over."""
        return max(self._onset[int(beat + k) % HISTORY] for k in AROUND)

    def _predicted_beat(self, beat: float) -> list[Beat]:
        """A beat where the last ones say it is, while still locked (the filter lost it or
        nothing was played); the filter is put back there, at the held tempo."""
        held = self._held_period()
        self._pointer.move(held, max(0, self._frame - round(beat)))
        self._candidate = beat
        return [self._report(beat, self.confidence, holding=True)]

    def _flywheel_beat(self, beat: float) -> list[Beat]:
        self._held += 1
        if self._held > HOLD_BARS * self.meter:
            self.state = "listening"
            self._consistent = 0
            return []
        self.confidence *= 0.9
        return [self._report(beat, self.confidence, holding=True)]

    def _report(
        self, beat: float, confidence: float, holding: bool, counted_in: float | None = None
    ) -> Beat:
        bars = self._bars
        if self._last is None:
            steps = 1
        else:
            steps = max(1, round((beat - self._last) / (counted_in or self._period)))
            interval = beat - self._last
            if not holding:  # a held beat keeps the tempo it was held at
                self._intervals = [*self._intervals[-TEMPO_BEATS + 1 :], interval / steps]
            chroma = self._onsets.take_chroma()
            if not self._last_held:  # what a predicted beat "sounded like" says nothing
                low = max(self._low[int(self._last + k) % HISTORY] for k in AROUND)
                down = (
                    max(self._down[int(self._last + k) % HISTORY] for k in AROUND)
                    if self._net is not None
                    else None
                )
                bars.heard(low, chroma, down)
        bars.advance(steps)
        if self._last is None:
            bars.started(self._beats_since_start(beat))
        if not holding:  # the run of heard beats in a row that a hold keeps the tempo of
            follows = self._run and steps == 1 and not self._last_held
            self._run = (
                [*self._run[-HELD_BEATS + 1 :], (self._run[-1][0] + 1, beat)]
                if follows
                else [(0, beat)]
            )
        self._last = beat
        self._last_held = holding
        time = self._time(beat)
        self._recent = [*self._recent[-self.meter :], (time, bars.count)]
        if self._one_at is not None:
            self.set_one(self._one_at)
            self._one_at = None
        return Beat(
            time=time,
            known=0.0,
            bpm=round(self._tempo(), 2),
            confidence=round(float(confidence), 3),
            bar_beat=bars.number(bars.count) if self.downbeats else None,
            holding=holding,
        )

    def _time(self, frame: float) -> float:
        """Seconds on the stream's clock of the beat the filter put in this frame."""
        if self._net is not None:  # the network marks a beat `delay` after its hop
            start = frame / self._onsets.fps - self._net.delay
            return max(0.0, start + 0.5 / self._onsets.fps - LEARNED_LATENCY)
        end = (frame + 1) * self._onsets.hop
        return max(0.0, (end - self._onsets.size / 2) / self.samplerate - LATENCY_SECONDS)


def _ring_max(ring: np.ndarray, first: int, last: int) -> float:
    """The largest of ring[first..last] (frame numbers, both included; at most len(ring)),
    the ring holding frame k at k % len(ring)."""
    size = len(ring)
    lo, hi = first % size, last % size
    if last - first + 1 >= size:
        return float(ring.max())
    if lo <= hi:
        return float(ring[lo : hi + 1].max())
    return max(float(ring[lo:].max()), float(ring[: hi + 1].max()))


def _misfit(interval: float, length: float) -> float:
    """How far `interval` is from a whole number of beats of `length` (0..0.5)."""
    ratio = interval / length
    return abs(ratio - max(1, round(ratio)))
