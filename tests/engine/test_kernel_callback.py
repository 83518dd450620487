"""The compiled callback on a JACK dummy server: a thread holding the GIL costs it nothing
(and costs today's Python callback most of its blocks), and duplex input arrives intact.

The toy core (tests/engine/toy_core.py) plays a sine with its phase in an array and copies
live inputs to the outputs; the real engine is the lead's to put in.
"""

from __future__ import annotations

import os
import threading
import time

import jack
import numpy as np
import pytest

from hoot.engine.backends import KernelBackend, OfflineDriver, SoundDeviceBackend
from hoot.engine.core import Engine, LoadedStem, Start
from hoot.engine.kernel import callback as kc
from hoot.engine.kernel import voices as kv
from tests.engine.toy_core import make_toy, process
from tests.waiting import wait_until

HOG_SECONDS = 4.0
LOAD_SLACK = 3
"""Cycles a callback may miss for reasons the GIL has nothing to do with: other processes
on these shared 2-core machines (one such run missed 19 of 803 at load average 4.7; the
Python callback, beside the GIL hog, misses about 97 % of them)."""


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
        # The callbacks counted and JACK's frame clock are read side by side, each pair
        # with nothing between its two reads: reading the server's log between them once
        # let 4 cycles into the count that the clock's window did not hold.
        xruns, underflows = xruns_of(server, client), backend.xruns
        calls, f0 = backend.render_calls, frames.frame_time
        hog = threading.Thread(target=hog_the_gil, args=(HOG_SECONDS,))
        hog.start()
        hog.join()
        f1, ran = frames.frame_time, backend.render_calls - calls
        result = {
            "expected": (f1 - f0) // server.period,
            "ran": ran,
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
    kc.now()  # load it first
    for _ in range(100):
        before = time.monotonic()
        stamp = kc.now()
        assert before <= stamp <= time.monotonic()


@pytest.mark.jack
def test_a_thread_holding_the_gil_costs_the_compiled_callback_nothing(jack_server, report):
    toy = make_toy()
    built = kc.build_callback(process, toy, on_message=report)
    backend = KernelBackend(built)
    assert "JACK" in backend.device
    seen = under_load(backend, jack_server, "PortAudio")
    assert abs(seen["ran"] - seen["expected"]) <= LOAD_SLACK, seen
    assert seen["underflows"] + seen["jack_xruns"] <= LOAD_SLACK, seen
    assert toy.blocks[0] == built.counter(kc.CALLBACKS)
    starts = built.recent(built.stats.block_time)
    assert np.all(np.diff(starts) > 0) and abs(starts[-1] - time.monotonic()) < 60
    report(f"compiled callback beside a GIL hog: {seen}")


@pytest.mark.jack
def test_the_engine_plays_on_beside_a_thread_holding_the_gil(jack_server, report):
    """The real engine (stems, voices, limiter, meters) on its compiled callback: a thread
    of its process that holds the GIL for half a second at a time costs it no cycle."""
    engine = Engine(48000, ("drums", "bass"))
    loop = (0.1 * np.sin(np.arange(48000) * (2 * np.pi * 110 / 48000))).astype(np.float32)
    engine.inbox.append(Start(0, LoadedStem("hum", audio=np.stack([loop, loop], axis=1)), 0))
    kv.note_on(engine.core.voices, 0, 1, 48, 100, 5, 48)  # a held bass note
    backend = KernelBackend(engine.core.callback(on_message=report))
    seen = under_load(backend, jack_server, "PortAudio")
    assert abs(seen["ran"] - seen["expected"]) <= LOAD_SLACK, seen
    assert seen["underflows"] + seen["jack_xruns"] <= LOAD_SLACK, seen
    assert engine.position == backend.frames_rendered, "every cycle rendered the set"
    assert engine.meters[0, 0] > 0.05 and engine.meters[1, 0] > 0.01, "stem and voice sound"
    assert engine.faults == 0
    report(f"the engine beside a GIL hog (0.3-0.6 s holds): {seen}")


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


def test_a_cold_cache_says_it_compiles_and_a_warm_one_loads(tmp_path, report):
    heard: list[str] = []
    cold = kc.build_callback(process, make_toy(), on_message=heard.append, folder=tmp_path)
    assert cold.cold and heard[0] == kc.COMPILING and heard[1].startswith("compiled")
    heard.clear()
    warm = kc.build_callback(process, make_toy(), on_message=heard.append, folder=tmp_path)
    assert not warm.cold and heard == [] and warm.path == cold.path
    report(f"toy core: cold {cold.compile_seconds:.2f} s, warm {warm.compile_seconds:.2f} s")


def test_a_world_the_callback_cannot_carry_is_refused_in_a_sentence():
    toy = make_toy()
    with pytest.raises(ValueError, match=r"world.gain is float16"):
        kc.build_callback(process, toy._replace(gain=np.zeros(1, np.float16)))
    with pytest.raises(ValueError, match=r"world.blocks must be a writeable C-contiguous"):
        kc.build_callback(process, toy._replace(blocks=np.zeros((2, 2), np.int64)[:, 0]))


class Loop:
    """A JACK client that records what reaches `back`, cycle by cycle, and once armed plays
    a known signal out of `send` from the start of its next cycle (`began`: that cycle's
    index in the recording)."""

    def __init__(self, signal: np.ndarray) -> None:
        self.signal = signal
        self.armed = False
        self.began = -1
        self.played = 0
        self.heard: list[np.ndarray] = []
        self.client = jack.Client("hoot-loop", no_start_server=True)
        self.send = self.client.outports.register("send")
        self.back = self.client.inports.register("back")
        self.xruns = 0  # cycles JACK reported lost while this rig ran
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()

    def _process(self, frames: int) -> None:
        block = self.send.get_array()
        block[:] = 0.0
        if self.armed:
            if self.began < 0:
                self.began = len(self.heard)
            part = self.signal[self.played : self.played + frames]
            block[: len(part)] = part
            self.played += len(part)
        self.heard.append(self.back.get_array().copy())

    def _xrun(self, delayed_usecs: float) -> None:
        self.xruns += 1

    def recording(self) -> np.ndarray:
        return np.concatenate(self.heard)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


@pytest.mark.jack
def test_duplex_input_comes_back_identical_after_a_constant_latency(jack_server, report):
    """A signal through the compiled core's duplex stream comes back identical. The rig's
    own client is Python (it takes the GIL): a cycle it loses on a busy machine cuts the
    signal, so a run that JACK reported an xrun in is run again (up to three); a run
    without any xrun must be exact."""
    rng = np.random.default_rng(10)
    signal = np.concatenate(
        [rng.uniform(-0.5, 0.5, 960), np.sin(np.arange(48000) * 0.05) * 0.3]
    ).astype(np.float32)  # a 20 ms noise marker, then a second of tone
    built = kc.build_callback(process, make_toy(), in_channels=2)
    period = jack_server.period
    attempts = 0
    while attempts < 3:
        attempts += 1
        heard, began, xruns = _loop_through(built, signal, period)
        marker = signal[:64]
        found = [i for i in range(len(heard) - 64) if np.array_equal(heard[i : i + 64], marker)]
        whole = len(found) == 1 and np.array_equal(heard[found[0] : found[0] + len(signal)],
                                                    signal)  # fmt: skip
        if whole or xruns == 0:
            break
    assert len(found) == 1, f"the marker comes back once ({xruns} xruns, attempt {attempts})"
    latency = found[0] - began * period
    assert whole, f"bit for bit ({xruns} xruns, attempt {attempts})"
    assert latency % period == 0  # whole cycles through the graph
    report(f"duplex loop: the signal came back identical, {latency} frames later")


def _loop_through(built, signal: np.ndarray, period: int) -> tuple[np.ndarray, int, int]:
    """Play `signal` into a duplex KernelBackend's first input and record its first output:
    (what came back, the cycle the signal began in, JACK's xruns meanwhile)."""
    backend = KernelBackend(built, duplex=True)
    loop = Loop(signal)
    try:
        backend.start()
        ours = loop.client.get_ports("PortAudio", is_audio=True)
        capture = [p.name for p in ours if p.is_input]
        playback = [p.name for p in ours if p.is_output]
        assert len(capture) == 2 and len(playback) == 2, [p.name for p in ours]
        for port in capture:
            for source in loop.client.get_all_connections(port):
                loop.client.disconnect(source, port)
        loop.client.connect(loop.send, capture[0])
        loop.client.connect(playback[0], loop.back)
        loop.armed = True
        assert wait_until(
            lambda: (
                loop.began >= 0
                and len(loop.heard) * period > (loop.began + 16) * period + len(signal)
            )
        )
        return loop.recording(), loop.began, loop.xruns
    finally:
        backend.close()
        loop.close()


def test_the_cache_folder_is_named_by_the_engine_sources_so_a_change_never_loads_stale_code(
    tmp_path, monkeypatch
):
    import numba

    from hoot.engine.kernel import cache

    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    stale = tmp_path / "hoot" / "numba-0000000000000000"
    stale.mkdir(parents=True)
    long_ago = time.time() - (cache.STALE_DAYS + 1) * 86400
    os.utime(stale, (long_ago, long_ago))
    younger = tmp_path / "hoot" / "numba-1111111111111111"  # another checkout's, in use
    younger.mkdir()
    folder = cache.configure_numba()
    assert folder == str(tmp_path / "hoot" / f"numba-{cache.sources_fingerprint()}")
    assert numba.config.CACHE_DIR == folder
    assert not stale.exists(), "an older engine's machine code is cleared away"
    assert younger.exists(), "another checkout's, used lately, is left alone"
    assert cache.kernel_dir() == tmp_path / "hoot" / "kernel"
    monkeypatch.setattr(numba.config, "CACHE_DIR", "/somewhere/the/performer/chose")
    assert cache.configure_numba() == "/somewhere/the/performer/chose"
