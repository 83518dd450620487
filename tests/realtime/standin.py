"""A seeded stand-in for Notochord (contract A's feed and query) for the music tests.

It honours constraints the way Notochord does: fixed values come back as given, pitches are
sampled among include_pitch less exclude_pitch (an empty set is an error, as in Notochord),
times within [min_time, max_time], velocities within [min_vel, max_vel] with note-offs
(velocity 0) possible unless min_vel forbids them. It keeps every fed event so tests can
check what the model heard. Its query takes exactly contract A's keywords, so a call with
any other name fails here as it would on the real model.
"""

from __future__ import annotations

import random


class StandIn:
    def __init__(self, seed: int = 0, hoot_meta: dict | None = None) -> None:
        self.rng = random.Random(seed)
        self.hoot_meta = hoot_meta or {}
        self.fed: list[tuple[int, int, float, float]] = []
        self.queries: list[dict] = []

    def reset(self, state: dict | None = None) -> None:
        self.fed.clear()

    def feed(self, inst: int, pitch: int, time: float, vel: float) -> None:
        assert isinstance(inst, int) and 1 <= inst <= 320, inst
        assert isinstance(pitch, int) and 0 <= pitch <= 127, pitch
        assert isinstance(time, float) and time >= 0.0, time
        assert isinstance(vel, float) and 0.0 <= vel <= 127.0, vel
        self.fed.append((inst, pitch, time, vel))

    def query(
        self,
        *,
        next_inst=None,
        next_pitch=None,
        next_time=None,
        next_vel=None,
        include_pitch=None,
        exclude_pitch=None,
        include_inst=None,
        exclude_inst=None,
        min_time=None,
        max_time=None,
        min_vel=None,
        max_vel=None,
        instrument_temp=None,
        pitch_temp=None,
        rhythm_temp=None,
        timing_temp=None,
        velocity_temp=None,
    ) -> dict:
        self.queries.append(
            dict(
                next_inst=next_inst,
                next_pitch=next_pitch,
                include_pitch=include_pitch,
                min_time=min_time,
                max_time=max_time,
                pitch_temp=pitch_temp,
            )
        )
        pitches = set(range(128)) if include_pitch is None else set(include_pitch)
        pitches -= set(exclude_pitch or ())
        if not pitches:
            raise ValueError("every pitch has been excluded")
        pitch = next_pitch if next_pitch is not None else self.rng.choice(sorted(pitches))
        low = min_time or 0.0
        high = 2.0 if max_time is None else max_time
        assert low <= high, (low, high)
        time = next_time if next_time is not None else self.rng.uniform(low, high)
        if next_vel is not None:
            vel = float(next_vel)
        elif (min_vel or 0) < 1 and self.rng.random() < 0.3:
            vel = 0.0
        else:
            vel = self.rng.uniform(max(1.0, min_vel or 1.0), max_vel or 127.0)
        inst = next_inst if next_inst is not None else self.rng.choice(sorted(include_inst or {1}))
        return {"inst": inst, "pitch": pitch, "time": float(time), "vel": vel}


class Rogue(StandIn):
    """A model that ignores include_pitch: it answers any pitch at all."""

    def query(self, **constraints) -> dict:
        answer = super().query(**constraints)
        if constraints.get("next_pitch") is None:
            answer["pitch"] = self.rng.randrange(128)
        return answer
