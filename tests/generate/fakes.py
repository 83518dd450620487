"""Generators that misbehave on purpose, loaded by worker processes as "tests.generate.fakes:X"."""

from __future__ import annotations

import os
import signal
import time

from hoot.generate.base import Request, Take
from hoot.music.clip import NoteClip


def a_line(request: Request) -> NoteClip:
    beats = request.beats
    notes = [(float(b), 0.5, 40 + (request.index + b) % 12, 100) for b in range(int(beats))]
    return NoteClip.from_notes(notes, beats)


class Exploding:
    """Candidates 2 and 4 (index 1 and 3) raise; the rest are fine."""

    name = "exploding"

    def available(self):
        return True, "ready"

    def generate(self, request: Request) -> Take:
        if request.index in (1, 3):
            raise ValueError(f"boom in candidate {request.index}")
        return Take(notes=a_line(request), params={"fake": True})


class Killer:
    """Candidate 3 (index 2) kills its own worker process."""

    name = "killer"

    def available(self):
        return True, "ready"

    def generate(self, request: Request) -> Take:
        if request.index == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return Take(notes=a_line(request))


class Slow:
    name = "slow"

    def available(self):
        return True, "ready"

    def generate(self, request: Request) -> Take:
        time.sleep(30)
        return Take(notes=a_line(request))


class Unavailable:
    name = "unavailable"

    def available(self):
        return False, "no checkpoint in models/"

    def generate(self, request: Request) -> Take:
        raise AssertionError("never called")
