"""The compiled callback on a JACK dummy server: a thread holding the GIL costs it nothing
(and costs today's Python callback most of its blocks), and duplex input arrives intact.

The toy core (tests/engine/toy_core.py) plays a sine with its phase in an array and copies
live inputs to the outputs; the real engine is the lead's to put in.
"""

from __future__ import annotations

import threading
import time

import jack
import numpy as np
import pytest

from hoot.engine.backends import KernelBackend, OfflineDriver, SoundDeviceBackend
from hoot.engine.kernel import callback as kc
from hoot.engine.kernel.clock import now, offset
from tests.engine.toy_core import make_toy, process
from tests.waiting import wait_until

HOG_SECONDS = 4.0


def hog_the_gil(seconds: float) -> int:
    """Hold the GIL in long C calls (0.3-0.6 s each here) for about `seconds`."""
    rounds = 0
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        sum(range(20_000_000))
        rounds += 1
    return rounds


def jack_frames() -> jack.Client:
    """A JACK client that only reads the server's frame clock (it never activates)."""
    return jack.Client("hoot-frames", no_start_server=True)


def xruns_of(server, client: str) -> int:
    """Cycles jackd logged a client as late for ("client = NAME was not finished")."""
    return sum(
        1
        for line in server.log().splitlines()
        if "was not finished" in line and f"client = {client}" in line
    )


def under_load(backend, server, client: str) -> dict[str, int]:
    """Run `backend` with a GIL-hogging thread beside it; what it ran against JACK's cycles."""
    frames = jack_frames()
    try:
        backend.start()
        assert wait_until(lambda: backend.render_calls > 20), "the stream never called back"
        calls, xruns, underflows = backend.render_calls, xruns_of(server, client), backend.xruns
        f0 = frames.frame_time
        hog = threading.Thread(target=hog_the_gil, args=(HOG_SECONDS,))
        hog.start()
        hog.join()
        f1 = frames.frame_time
        result = {
            "expected": (f1 - f0) // server.period,
            "ran": backend.render_calls - calls,
            "underflows": backend.xruns - underflows,
            "jack_xruns": xruns_of(server, client) - xruns,
        }
    finally:
        backend.close()
        frames.close()
    return result


def test_a_python_render_runs_the_same_process_as_the_callback():
    toy = make_toy()
    built = kc.build_callback(process, toy)
    out = np.zeros((1000, 2), np.float32)
    OfflineDriver(built.render, blocksize="random", max_block=97).run(1000, out)
    n = np.arange(1000)
    expected = (np.sin(2 * np.pi * (n * (440 / 48000))) * 0.25).astype(np.float32)
    assert np.max(np.abs(out[:, 0] - expected)) < 1e-6
    assert np.array_equal(out[:, 0], out[:, 1])


def test_the_kernel_clock_is_pythons_monotonic_clock():
    assert abs(offset()) < 1e-3
    before = time.monotonic()
    assert before <= now() + 1e-6


@pytest.mark.jack
def test_a_thread_holding_the_gil_costs_the_compiled_callback_nothing(jack_server, report):
    toy = make_toy()
    built = kc.build_callback(process, toy, on_message=report)
    backend = KernelBackend(built)
    assert "JACK" in backend.device
    seen = under_load(backend, jack_server, "PortAudio")
    assert abs(seen["ran"] - seen["expected"]) <= 2, seen
    assert seen["underflows"] == 0 and seen["jack_xruns"] == 0, seen
    assert toy.blocks[0] == built.counter(kc.CALLBACKS)
    starts = built.recent(built.stats.block_time)
    assert np.all(np.diff(starts) > 0) and abs(starts[-1] - time.monotonic()) < 60
    report(f"compiled callback beside a GIL hog: {seen}")


@pytest.mark.jack
def test_a_python_callback_loses_blocks_to_a_thread_holding_the_gil(jack_server, report):
    """What the compiled callback guards against: today's SoundDeviceBackend, same load."""
    phase = np.zeros(1)
    ramp = np.arange(4096) * (440 / 48000)

    def render(out: np.ndarray) -> None:
        n = len(out)
        out[:, 0] = np.sin(2 * np.pi * (phase[0] + ramp[:n])) * 0.25
        out[:, 1] = out[:, 0]
        phase[0] = (phase[0] + n * 440 / 48000) % 1.0

    seen = under_load(SoundDeviceBackend(render), jack_server, "PortAudio")
    assert seen["ran"] < seen["expected"] // 2, seen
    assert seen["underflows"] > 0 or seen["jack_xruns"] > 0, seen
    report(f"Python callback beside a GIL hog: {seen}")
