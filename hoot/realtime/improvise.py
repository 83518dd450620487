"""The improviser: Notochord plays an instrument of its own while hearing the others.

    lead = Improviser(model, instrument=74, density=0.5, register=(60, 84), key="D dorian")
    lead.hear(1, 62, 90, dt=0.0)             # a player's note, as it sounds
    wait, pitch, vel = lead.plan(0.1)        # 0.1 s after that: what it wants next, and when
    ...                                      # wait `wait` seconds; if nothing is heard first:
    lead.played(pitch, vel, dt=0.1 + wait)   # it happened
    lead.release()                           # stop: the pitches it still holds, to end

How it plans (Notochord's improviser app, read, not copied): the model is asked for its next
event with the instrument fixed, the pitches it may touch and a window of time; the answer
is a plan, not a promise. When another player's event is heard before the plan's moment, the
model has learnt something new and the plan is made again; when the moment comes, the caller
plays it (on the grid or free: the caller's choice) and reports it with `played`.

Steering:
- `register` and `key`: a note-on is among the key's pitches in the register that are not
  already sounding (no double note-on); a note-off is among the pitches it holds. The
  model's vote decides which: a held pitch it picks is ended, any other one is struck.
- `density` (0 sparse .. 1 busy) shapes the time window, counted from its own last event:
  the longest wait is 4 s at density 0, 1 s at 0.5, 0.25 s at 1 (4 s x 16^-density), and
  the shortest 0.4 s, 0.14 s and 0.05 s (0.4 s x 8^-density). Counting from its own events,
  not from anyone's, keeps a sparse improviser playing beside a busy player.
- `temperature`: Notochord's pitch and rhythm temperatures (1 natural, 0 most likely).
- It never leaves a note hanging: at most `polyphony` notes at once (at the cap it can only
  end one), none longer than `longest` seconds (the plan ends the oldest note by its
  deadline), and `release()` ends whatever it holds.
"""

from __future__ import annotations

from typing import Any

from hoot.errors import HootError
from hoot.realtime import steer
from hoot.realtime.steer import Model

LONGEST_WAIT_S, SHORTEST_WAIT_S = 4.0, 0.4
"""The window of waits between its own events at density 0; density 1 divides them by 16
and 8 (0.25 s and 0.05 s: sixteenth notes at 60 bpm, and a fast trill)."""
QUERY_S = 0.010
"""The earliest a plan may fall after now: one query's time on the embedded model with room
to spare (Notochord's improviser app keeps the same 10 ms)."""
WINDOW_S = 0.05
"""The least width of the time window, for a plan made late in its own window."""


class Improviser:
    """Notochord playing `instrument` beside the players; see the module docstring.

    Time: `dt` (in `hear`, `played`) is the seconds since the previous event the improviser
    was told of, its own or another's; `plan`'s argument is the seconds since that event now.
    """

    def __init__(
        self,
        model: Model,
        *,
        instrument: int,
        density: float = 0.5,
        register: tuple[int, int] = (48, 84),
        temperature: float = 1.0,
        key: str | None = None,
        polyphony: int = 3,
        longest: float = 4.0,
    ) -> None:
        self.model = model
        self.instrument = steer.instrument(instrument, "instrument")
        self.density = 0.5
        self.register = (48, 84)
        self.temperature = 1.0
        self.key = None
        self.polyphony = 3
        self.longest = 4.0
        self.set(
            density=density,
            register=register,
            temperature=temperature,
            key=key,
            polyphony=polyphony,
            longest=longest,
        )
        self._clock = 0.0  # seconds since it started, summed from every dt it was told
        self._own_last = 0.0  # the clock at its own last event
        self._held: dict[int, float] = {}  # pitch -> the clock when it struck it
        self._plan: tuple[float, int, int] | None = None  # (time after the last event, pitch, vel)

    # Steering ------------------------------------------------------------------------

    def set(self, **params: Any) -> None:
        """Change density, register, temperature, key, polyphony or longest while playing;
        the next plan follows them. Notes it holds end as planned, wherever they lie."""
        unknown = set(params) - {
            "density",
            "register",
            "temperature",
            "key",
            "polyphony",
            "longest",
        }
        if unknown:
            raise HootError(
                f"the improviser has no setting {', '.join(sorted(unknown))}; set density, "
                "register, temperature, key, polyphony or longest (the instrument is chosen "
                "when it starts)"
            )
        density = steer.number(params.get("density", self.density), "density", 0.0, 1.0)
        register = params.get("register", self.register)
        if not (isinstance(register, tuple | list) and len(register) == 2):
            raise HootError(f"register must be (lowest, highest) MIDI pitches, got {register!r}")
        low = steer.whole(register[0], "register's lowest pitch", 0, 127)
        high = steer.whole(register[1], "register's highest pitch", low, 127)
        key = steer.key_of(params["key"]) if "key" in params else self.key
        if not steer.in_key(key, low, high):
            raise HootError(f"no pitch of {key} lies in the register {low}-{high}; widen it")
        self.density, self.register, self.key = density, (low, high), key
        if "temperature" in params:
            self.temperature = steer.number(params["temperature"], "temperature", 0.0, 10.0)
        if "polyphony" in params:
            self.polyphony = steer.whole(params["polyphony"], "polyphony", 1, 16)
        if "longest" in params:
            self.longest = steer.number(params["longest"], "longest", 0.05, 60.0)
        self._plan = None

    @property
    def playing(self) -> tuple[int, ...]:
        """The pitches it holds now, lowest first."""
        return tuple(sorted(self._held))

    # Events ------------------------------------------------------------------------------

    def hear(self, inst: int, pitch: int, vel: int, dt: float) -> None:
        """Another player's event (vel 0: a note-off), fed to the model as it sounds; the
        plan is made again, since the model now knows more."""
        inst = steer.instrument(inst, "the heard instrument")
        pitch = steer.whole(pitch, "pitch", 0, 127)
        vel = steer.whole(vel, "velocity", 0, 127)
        self._advance(dt)
        self.model.feed(inst, pitch, max(0.0, float(dt)), float(vel))

    def plan(self, dt_since_last: float) -> tuple[float, int, int]:
        """The next event it wants: (seconds from now, pitch, vel; vel 0 = note-off). The
        same plan comes back until something is heard, played or set."""
        now = max(0.0, float(dt_since_last))
        if self._plan is None:
            self._plan = self._ask(now)
        time, pitch, vel = self._plan
        return max(0.0, time - now), pitch, vel

    def played(self, pitch: int, vel: int, dt: float) -> None:
        """Its event happened (the planned one, or the caller's version of it, moved onto
        the grid), `dt` seconds after the previous event."""
        pitch = steer.whole(pitch, "pitch", 0, 127)
        vel = steer.whole(vel, "velocity", 0, 127)
        self._advance(dt)
        self._own_last = self._clock
        if vel:
            self._held[pitch] = self._clock
        else:
            self._held.pop(pitch, None)
        self.model.feed(self.instrument, pitch, max(0.0, float(dt)), float(vel))

    def release(self) -> list[int]:
        """End every note it holds (stop, panic): the pitches to send note-offs for."""
        ended = sorted(self._held)
        for pitch in ended:
            self.model.feed(self.instrument, pitch, 0.0, 0.0)
        self._held.clear()
        self._plan = None
        return ended

    # Planning ------------------------------------------------------------------------------

    def _advance(self, dt: float) -> None:
        self._clock += max(0.0, float(dt))
        self._plan = None

    def _ask(self, now: float) -> tuple[float, int, int]:
        """A plan made `now` seconds after the last event: times count from that event."""
        since_own = self._clock - self._own_last
        shortest = SHORTEST_WAIT_S * 8.0**-self.density - since_own
        longest = LONGEST_WAIT_S * 16.0**-self.density - since_own
        low = max(now + QUERY_S, shortest)
        high = max(longest, low + WINDOW_S)
        if self._held:
            oldest = min(self._held, key=self._held.__getitem__)
            deadline = self._held[oldest] + self.longest - self._clock
            if deadline <= low:  # the oldest note is due: end it, no vote
                return max(deadline, now), oldest, 0
            high = min(high, deadline)
        ons = set()
        if len(self._held) < self.polyphony:
            ons = steer.in_key(self.key, *self.register) - set(self._held)
        choices = ons | set(self._held)
        only = next(iter(choices)) if len(choices) == 1 else None  # Notochord warns on one
        answer = self.model.query(
            next_inst=self.instrument,
            next_pitch=only,
            include_pitch=None if only is not None else choices,
            min_time=low,
            max_time=high,
            pitch_temp=self.temperature,
            rhythm_temp=self.temperature,
        )
        pitch = int(answer["pitch"])
        pitch = pitch if pitch in choices else steer.nearest(pitch, choices)
        time = min(high, max(low, float(answer["time"])))
        if pitch in self._held:
            return time, pitch, 0
        vel = float(answer["vel"])
        if vel < 1.0:  # it voted to end a note it does not hold: ask how loud to strike
            vel = self.model.query(
                next_inst=self.instrument, next_pitch=pitch, next_time=time, min_vel=1.0
            )["vel"]
        return time, pitch, steer.velocity(vel)
