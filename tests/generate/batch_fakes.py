"""Warm batch generators that misbehave on purpose, run by the model worker as
"tests.generate.batch_fakes:X". Module globals live in the model worker process, so a
count kept here counts what that one process did; takes report it in their params."""

from __future__ import annotations

import os
import time

from hoot.generate.base import BatchProgress, Request, Take
from tests.generate.fakes import a_line

LOADS = 0  # how many times a model was "loaded" in this process
STEPS = 50  # decoding steps a candidate takes in the slow ones


class Counting:
    """Loads once (a module-global count), then makes the whole batch in one go."""

    name = "counting"
    warm = True

    def __init__(self) -> None:
        self.weights: bytes | None = None

    def available(self):
        return True, "ready"

    def load(self, request: Request, progress: BatchProgress) -> None:
        global LOADS
        if self.weights is None:
            progress.stage("loading model")
            LOADS += 1
            self.weights = b"\0" * (1 << 20)
            progress.loaded(
                {
                    "name": "counting",
                    "device": "cpu" if request.device == "auto" else request.device,
                    "dtype": "float32",
                    "bytes": len(self.weights),
                    "params": 1 << 18,
                    "seconds": 0.01,
                }  # fmt: skip
            )

    def take(self, request: Request) -> Take:
        return Take(
            notes=a_line(request),
            params={"loads": LOADS, "pid": os.getpid(), "device": request.device},
        )

    def generate_batch(self, requests, progress):
        self.load(requests[0], progress)
        for i, request in enumerate(requests):
            progress.update(i, 1.0)
            yield i, self.take(request)


class Backwards(Counting):
    """Yields its candidates last first."""

    name = "backwards"

    def generate_batch(self, requests, progress):
        self.load(requests[0], progress)
        for i in reversed(range(len(requests))):
            yield i, self.take(requests[i])


class SlowBatch(Counting):
    """Decodes every candidate together, a step at a time, honouring cancel between
    steps; the loading step waits for a file (the test's signal) when the vibe names one."""

    name = "slow-batch"

    def generate_batch(self, requests, progress):
        gate = requests[0].vibe.get("gate")
        if gate:
            progress.stage("loading model")
            while not os.path.exists(gate):
                time.sleep(0.01)
        self.load(requests[0], progress)
        live = set(range(len(requests)))
        for step in range(STEPS):
            for i in sorted(live):
                if progress.cancelled(i):
                    live.discard(i)
                else:
                    progress.update(i, (step + 1) / STEPS)
            if not live:
                return
            time.sleep(0.05)
        for i in sorted(live):
            yield i, self.take(requests[i])


class OneFails(Counting):
    """Candidate 2 (index 1) runs out of memory; the others are made."""

    name = "one-fails"

    def generate_batch(self, requests, progress):
        self.load(requests[0], progress)
        for i, request in enumerate(requests):
            if i == 1:
                yield i, MemoryError("out of memory on the device while making it")
            else:
                yield i, self.take(request)


class PlainWarm(Counting):
    """A warm generator with only `generate`: candidate 3 (index 2) raises."""

    name = "plain-warm"
    generate_batch = None  # type: ignore[assignment]

    def generate(self, request: Request) -> Take:
        if request.index == 2:
            raise RuntimeError("CUDA out of memory")
        return self.take(request)


class Dies(Counting):
    """Makes candidate 1, then its process dies (as a segfaulting model's would)."""

    name = "dies"

    def generate_batch(self, requests, progress):
        self.load(requests[0], progress)
        yield 0, self.take(requests[0])
        os._exit(3)


class Hum(Counting):
    """Audio only: a quiet hum exactly one loop long."""

    name = "hum"

    def take(self, request: Request) -> Take:
        import numpy as np

        t = np.arange(request.frames) / request.samplerate
        tone = (0.1 * np.sin(2 * np.pi * 110 * t)).astype(np.float32)
        return Take(audio=np.stack([tone, tone], axis=1), params={"loads": LOADS})


class Unready(Counting):
    """A model with no checkpoint here."""

    name = "unready"

    def available(self):
        return False, "no Fake checkpoint in models/"
