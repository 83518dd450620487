"""BeatTracker: the causal beat and downbeat tracker, the same object live and offline.

Blocks of audio go in (any length, mono or stereo); the beats that became known come out.
Inside, three small parts (each its own module):

    OnsetEnvelope (onsets.py) -> BeatPointer (pulse.py) -> beats -> BarCounter (bars.py)

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

Cost: one 1024-point FFT and about thirty numpy operations on 5,600 states a frame, 100
frames a second: about 1.3 % of one core at 48 kHz (benchmarks/beats.py measures it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

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

    def __init__(self, samplerate: int = 48000, meter: int = 4, downbeats: bool = True) -> None:
        if samplerate < 8000:
            raise HootError(f"the beat tracker needs at least 8000 Hz audio, not {samplerate}")
        if not 1 <= meter <= 16:
            raise HootError(f"a bar has 1 to 16 beats, not {meter}")
        self.samplerate = samplerate
        self.meter = meter
        self.downbeats = downbeats
        self._onsets = OnsetEnvelope(samplerate)
        self._pointer = BeatPointer(self._onsets.fps)
        self._bars = BarCounter(meter)
        self._hint: float | None = None
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
        self._pointer.reset()
        self._bars.reset()
        self.state = "listening"
        self.confidence = 0.0
        self.fed = 0
        self._frame = -1
        self._onset = np.zeros(HISTORY)
        self._low = np.zeros(HISTORY)
        self._mean = 1.0
        self._salience = 1.0  # the median of the last beats' saliences
        self._saliences: list[float] = []
        self._consistent = 0
        self._last: float | None = None  # the frame of the latest beat reported
        self._period = 60.0 * self._onsets.fps / 120.0  # frames a beat
        self._candidate: float | None = None  # the frame of the filter's latest beat
        self._quiet = HISTORY  # silent frames since the last strong onset
        self._start: float | None = None  # the frame the band started
        self._held = 0  # beats flywheeled in this hold
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
            block = block.mean(axis=1)
        elif block.ndim != 1:
            raise HootError(
                f"the beat tracker takes (n,) or (n, channels) audio, not {block.shape}"
            )
        self.fed += len(block)
        found: list[Beat] = []
        for frame in self._onsets.feed(block):
            self._frame += 1
            found += self._hear(frame)
        known = self.fed / self.samplerate
        return [replace(b, known=known) for b in found]

    def _hear(self, frame: Frame) -> list[Beat]:
        """One frame through the filter and the state machine: the beats it revealed."""
        i = self._frame
        spread = (
            (frame.low + BROAD) ** LOW_WEIGHT
            * (frame.mid + BROAD) ** MID_WEIGHT
            * (frame.high + BROAD) ** HIGH_WEIGHT
        )
        onset = spread ** (1.0 / (LOW_WEIGHT + MID_WEIGHT + HIGH_WEIGHT)) - BROAD
        self._onset[i % HISTORY] = onset
        self._low[i % HISTORY] = frame.sub
        decay = np.exp(-1.0 / (MEAN_SECONDS * self._onsets.fps))
        self._mean = self._mean * decay + onset * (1.0 - decay)
        if frame.silent:
            self._quiet += 1
        elif onset >= START_ONSET:
            if self._quiet >= START_QUIET * self._onsets.fps:
                self._start = float(i)
            self._quiet = 0
        pointer = self._pointer
        evidence = min(max(((onset + 0.1) / BEAT_ONSET) ** EVIDENCE_POWER, 1e-3), 1e3)
        pointer.step(None if frame.silent else evidence)
        tempo, position = pointer.best()
        length = float(pointer.lengths[tempo])
        beats = []
        beat = i - position
        new = self._candidate is None or beat - self._candidate > 0.6 * length
        if position < length / 4 and new:
            beats += self._filter_beat(beat, length, position)
        if self.state == "holding" and self._last is not None and i >= self._last + self._period:
            beats += self._flywheel_beat(self._last + self._period)
        return beats

    def _filter_beat(self, beat: float, length: float, position: int) -> list[Beat]:
        """The filter says a beat is at frame `beat`: judge it, maybe report it."""
        previous, self._candidate = self._candidate, beat
        if previous is not None:  # the last beat is over: how clearly was it heard?
            salience = self._heard(previous) / max(self._mean, 1e-3)
            self._saliences = [*self._saliences[-SALIENCE_BEATS + 1 :], salience]
            self._salience = float(np.median(self._saliences))
        concentration = self._pointer.concentration(position / length)
        strength = (self._salience - NOISE_SALIENCE) / (FULL_SALIENCE - NOISE_SALIENCE)
        strength = min(max(strength, 0.0), len(self._saliences) / SALIENCE_BEATS)
        confidence = concentration * strength
        steady = previous is not None and abs(beat - previous - length) <= TOLERANCE * length
        good = steady and self._salience >= LOCK_SALIENCE and confidence >= LOCK_CONFIDENCE
        self._consistent = self._consistent + 1 if good else 0
        self.confidence = confidence
        if self.state == "locked" and self._salience < HOLD_SALIENCE:
            self.state, self._held = "holding", 0
        elif self.state != "locked" and self._consistent >= LOCK_BEATS:
            self.state = "locked"
        if self.state == "holding":
            return []
        if self.state == "listening" and confidence < REPORT:
            return []
        if self._last is not None and beat - self._last < 0.6 * length:
            return []
        self._period = length
        return [self._report(beat, confidence, holding=False)]

    def _heard(self, beat: float) -> float:
        """The strongest onset around a beat that is over."""
        return max(self._onset[int(beat + k) % HISTORY] for k in AROUND)

    def _flywheel_beat(self, beat: float) -> list[Beat]:
        self._held += 1
        if self._held > HOLD_BARS * self.meter:
            self.state = "listening"
            self._consistent = 0
            return []
        self.confidence *= 0.9
        return [self._report(beat, self.confidence, holding=True)]

    def _report(self, beat: float, confidence: float, holding: bool) -> Beat:
        bars = self._bars
        if self._last is None:
            steps = 1
        else:
            steps = max(1, round((beat - self._last) / self._period))
            interval = beat - self._last
            heard = steps == 1 and not holding
            self._intervals = [*self._intervals[-TEMPO_BEATS + 1 :], interval] if heard else []
            low = max(self._low[int(self._last + k) % HISTORY] for k in AROUND)
            bars.heard(low, self._onsets.take_chroma())
        bars.advance(steps)
        if self._last is None and self._start is not None:
            bars.started(max(0, round((beat - self._start) / self._period)))
        self._last = beat
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
        """Seconds on the stream's clock of the onset that peaks in this frame."""
        end = (frame + 1) * self._onsets.hop
        return max(0.0, (end - self._onsets.size / 2) / self.samplerate - LATENCY_SECONDS)
