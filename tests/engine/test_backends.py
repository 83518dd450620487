"""The three drivers of the render function, device fallback, and losing JACK mid-stream."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hoot.engine import realtime
from hoot.engine.backends import (
    HISTORY,
    STALL_SECONDS,
    NullBackend,
    OfflineDriver,
    SoundDeviceBackend,
    Supervisor,
    open_backend,
)
from tests.jack_server import JackServer, start_jack_server_or_fail
from tests.waiting import PATIENCE, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLERATE = 48000


class SineSource:
    """A test render function: a quiet 440 Hz sine that records every block size it is given,
    and when each block began (time.perf_counter)."""

    def __init__(self, samplerate: int = SAMPLERATE, frequency: float = 440.0) -> None:
        self.step = 2.0 * math.pi * frequency / samplerate
        self.frames = 0
        self.sizes: list[int] = []
        self.began: list[float] = []

    def render(self, out: np.ndarray) -> None:
        self.began.append(time.perf_counter())
        frames = out.shape[0]
        phases = (self.frames + np.arange(frames)) * self.step
        out[:] = (0.1 * np.sin(phases))[:, None]
        self.frames += frames
        self.sizes.append(frames)


class RampSource:
    """Writes each frame's absolute index, so a misplaced or repeated block shows."""

    def __init__(self) -> None:
        self.frames = 0
        self.sizes: list[int] = []

    def render(self, out: np.ndarray) -> None:
        assert out.dtype == np.float32 and out.flags.c_contiguous and out.shape[1] == 2
        frames = out.shape[0]
        out[:] = np.arange(self.frames, self.frames + frames, dtype=np.float32)[:, None]
        self.frames += frames
        self.sizes.append(frames)


# --- OfflineDriver ------------------------------------------------------------------------


def test_offline_fixed_blocks_cut_the_last_block_short() -> None:
    source = RampSource()
    driver = OfflineDriver(source.render, SAMPLERATE, blocksize=256)
    out = np.zeros((1000, 2), dtype=np.float32)
    driver.run(1000, out)
    assert source.sizes == [256, 256, 256, 232]
    assert driver.position == 1000
    assert driver.render_calls == 4
    np.testing.assert_array_equal(out[:, 0], np.arange(1000, dtype=np.float32))
    np.testing.assert_array_equal(out[:, 1], out[:, 0])


def test_offline_cycled_blocks_carry_on_across_runs() -> None:
    source = RampSource()
    driver = OfflineDriver(source.render, SAMPLERATE, blocksize=[3, 5, 7])
    driver.run(20)
    assert source.sizes == [3, 5, 7, 3, 2]
    driver.run(12)
    # The cut-short 5 used its turn; the cycle goes on with 7.
    assert source.sizes[5:] == [7, 3, 2]
    assert driver.position == 32 == sum(source.sizes)


def test_offline_random_blocks_are_seeded_and_exact() -> None:
    sizes_by_run = []
    for _ in range(2):
        source = RampSource()
        driver = OfflineDriver(source.render, SAMPLERATE, blocksize="random", seed=7, max_block=64)
        out = np.zeros((10_000, 2), dtype=np.float32)
        driver.run(10_000, out)
        assert driver.position == 10_000 == sum(source.sizes)
        assert min(source.sizes) >= 1 and max(source.sizes) <= 64
        assert len(set(source.sizes)) > 10
        np.testing.assert_array_equal(out[:, 0], np.arange(10_000, dtype=np.float32))
        sizes_by_run.append(source.sizes)
    assert sizes_by_run[0] == sizes_by_run[1]


def test_offline_records_render_times() -> None:
    source = RampSource()
    driver = OfflineDriver(source.render, SAMPLERATE, blocksize=100)
    driver.run(HISTORY * 100 + 500)
    times = driver.recent_callback_times()
    assert len(times) == HISTORY
    assert np.all(times > 0.0)
    assert driver.cpu_load > 0.0


def test_a_failing_render_plays_silence_and_is_counted() -> None:
    def render(out: np.ndarray) -> None:
        out.fill(1.0)
        raise RuntimeError("broken patch")

    driver = OfflineDriver(render, SAMPLERATE, blocksize=64)
    out = np.ones((256, 2), dtype=np.float32)
    driver.run(256, out)
    assert driver.faults == 4
    assert not out.any()


def test_offline_rejects_an_output_of_the_wrong_shape() -> None:
    driver = OfflineDriver(RampSource().render, SAMPLERATE)
    with pytest.raises(ValueError, match="shape"):
        driver.run(100, np.zeros((99, 2), dtype=np.float32))


# --- NullBackend --------------------------------------------------------------------------


def test_null_backend_paces_in_real_time(report) -> None:
    source = SineSource()
    backend = NullBackend(source.render, SAMPLERATE, blocksize=256)
    backend.start()
    thread = backend._thread
    try:
        assert wait_until(lambda: source.frames >= SAMPLERATE), "the null backend stopped"
    finally:
        backend.stop()
    # Timed where the audio is made, by the blocks' own start times: a late test thread
    # does not count, a late pacing thread does.
    blocks = SAMPLERATE // 256
    audio = blocks * 256 / SAMPLERATE
    took = source.began[blocks] - source.began[0]
    report(
        f"null backend: {audio:.3f} s of audio in {took:.3f} s, xruns {backend.xruns}, "
        f"pacing thread {realtime.describe(backend.realtime_priority)}"
    )
    assert took >= 0.9 * audio  # never ahead of the clock (rendering freely takes ~10 ms)
    # Behind it only as counted xruns: a block more than a period late is one, as it would
    # be on a device; a busy machine without real-time scheduling makes some.
    assert took <= audio + 0.2 or backend.xruns > 0
    # its pacing thread plays the audio thread's part, real-time where allowed
    assert backend.realtime_priority == (realtime.wanted_priority() if realtime.allowed() else 0)
    assert set(source.sizes) == {256}
    assert backend.render_calls == len(source.sizes)
    assert backend.frames_rendered == source.frames
    assert not backend.running
    assert not thread.is_alive(), "the thread must not render after stop()"


# --- open_backend -------------------------------------------------------------------------


def test_auto_falls_back_to_null_with_one_message() -> None:
    messages: list[str] = []
    source = SineSource()
    missing = f"hoot-no-such-device-{uuid.uuid4().hex}"
    backend = open_backend(
        "auto", source.render, SAMPLERATE, device=missing, on_message=messages.append
    )
    assert isinstance(backend, NullBackend)
    assert len(messages) == 1
    message = messages[0]
    print(f"\nfallback message: {message}")
    assert "null backend" in message and "\n" not in message and message.endswith(".")
    backend.start()
    try:
        assert wait_until(lambda: source.frames > 0), "the fallback never played"
    finally:
        backend.stop()


def test_missing_portaudio_falls_back_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A None entry in sys.modules makes `import sounddevice` fail, as a missing library does.
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    messages: list[str] = []
    backend = open_backend("sounddevice", SineSource().render, on_message=messages.append)
    assert isinstance(backend, NullBackend)
    assert len(messages) == 1 and "apt-get install libportaudio2" in messages[0]


def test_open_backend_null_and_unknown_kinds() -> None:
    assert isinstance(open_backend("null", SineSource().render), NullBackend)
    with pytest.raises(ValueError, match="kind"):
        open_backend("pulse", SineSource().render)


def test_importing_backends_does_not_load_portaudio() -> None:
    code = "import sys, hoot.engine.backends; print('sounddevice' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )
    assert result.stdout.strip() == "False"


def test_supervisor_switch_keeps_the_same_render_function() -> None:
    source = SineSource()
    messages: list[str] = []
    supervisor = Supervisor(source.render, kind="null", on_message=messages.append)
    first = supervisor.start()
    try:
        assert wait_until(lambda: source.frames > 0), "the first backend never played"
        supervisor._device_lost("a test pulled the plug")
        second = supervisor.backend
        assert second is not first and isinstance(second, NullBackend)
        assert not first.running and second.running
        frames = source.frames
        assert wait_until(lambda: source.frames > frames), "the music stopped at the switch"
    finally:
        supervisor.stop()
    assert supervisor.fell_back.is_set()
    assert len(messages) == 1 and "a test pulled the plug" in messages[0]


# --- PortAudio on a JACK dummy server -----------------------------------------------------


@pytest.mark.jack
@pytest.mark.slow
def test_sounddevice_on_jack_plays_ten_seconds(jack_server: JackServer, report) -> None:
    source = SineSource(jack_server.samplerate)
    backend = SoundDeviceBackend(source.render, jack_server.samplerate, device="jack")
    assert "JACK" in backend.device
    began = time.perf_counter()
    backend.start()
    try:
        time.sleep(10.0)
        # Read together: however late this thread woke, the stream played all along.
        played, elapsed = source.frames, time.perf_counter() - began
    finally:
        backend.close()
    times = backend.recent_callback_times()
    report(
        f"JACK dummy, {elapsed:.2f} s: {source.frames} frames in {backend.render_calls} calls, "
        f"xruns {backend.xruns}, faults {backend.faults}, latency {backend.latency * 1e3:.1f} ms, "
        f"cpu_load {backend.cpu_load:.4f}, render p50 {np.median(times) * 1e6:.0f} us, "
        f"p99 {np.percentile(times, 99) * 1e6:.0f} us, max {times.max() * 1e6:.0f} us, "
        f"audio thread {realtime.describe(backend.realtime_priority)}"
    )
    expected = elapsed * jack_server.samplerate
    assert abs(played - expected) <= 0.1 * expected
    # blocksize 0 lets PortAudio hand over JACK's period unchanged.
    assert set(source.sizes) == {jack_server.period}
    assert backend.frames_rendered == source.frames
    assert backend.faults == 0
    # jackd runs realtime where allowed (see jack_server.py), and so do its clients' threads
    assert (backend.realtime_priority > 0) == realtime.allowed()


def run_supervised_child() -> None:
    """The child side of the crash test: play on JACK, report, survive the server's death.

    Runs in its own process because PortAudio's JACK host API cannot close a stream whose
    server died without blocking for minutes; this process must also exit promptly.
    """
    source = SineSource()
    messages: list[str] = []
    supervisor = Supervisor(
        source.render, "sounddevice", SAMPLERATE, device="jack", on_message=messages.append
    )
    first = supervisor.start()
    wait_until(lambda: source.frames >= SAMPLERATE // 2)  # half a second on JACK first
    seen: dict[str, object] = {
        "first_backend": first.name,
        "first_device": first.device,
        "frames_before_kill": source.frames,
    }
    print("playing", flush=True)
    waited_from = time.perf_counter()
    seen["fell_back"] = supervisor.fell_back.wait(PATIENCE)
    seen["switch_seconds"] = time.perf_counter() - waited_from
    switched_at = source.frames
    waited_from = time.perf_counter()
    seen["played_on"] = wait_until(lambda: source.frames >= switched_at + SAMPLERATE // 2)
    seen["half_second_took"] = time.perf_counter() - waited_from
    backend = supervisor.backend
    seen["backend"] = backend.name if backend is not None else None
    seen["messages"] = messages
    supervisor.stop()
    print(json.dumps(seen), flush=True)


@pytest.fixture
def crashable_jack_server() -> Iterator[JackServer]:
    """A JACK server of this test's own, since the test kills it. Its name is fixed: jack2
    frees a killed server's slot (of 8) only when a server of that name starts again."""
    server = start_jack_server_or_fail("hoot-test-crash")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.jack
def test_killing_jack_switches_to_null_and_the_music_goes_on(
    crashable_jack_server: JackServer, report
) -> None:
    code = "from tests.engine.test_backends import run_supervised_child; run_supervised_child()"
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=crashable_jack_server.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if line != "playing":
            child.kill()
            pytest.fail(f"the child did not start playing: {line!r}\n{child.communicate()[1]}")
        crashable_jack_server.kill()
        stdout, stderr = child.communicate(timeout=4 * PATIENCE)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, f"child failed or hung at exit:\n{stderr}"
    seen = json.loads(stdout.strip().splitlines()[-1])
    report(
        f"JACK killed: null backend {seen['switch_seconds']:.2f} s after the child said "
        f"playing (stall limit {STALL_SECONDS:g} s); its first 0.5 s of audio took "
        f"{seen['half_second_took']:.2f} s"
    )
    assert seen["first_backend"] == "sounddevice" and "JACK" in seen["first_device"]
    assert seen["frames_before_kill"] >= SAMPLERATE // 2
    assert seen["fell_back"] and seen["backend"] == "null"
    # A fraction of a second here (the stream reports it stopped; a silent stall takes
    # STALL_SECONDS). Closing the dead JACK stream the ordinary way would block for
    # minutes: that is the switch this bound is for, not a busy machine.
    assert seen["switch_seconds"] < 30
    assert seen["played_on"], "the null backend must keep rendering"
    assert seen["half_second_took"] >= 0.4, "the null backend must keep time, not race"
    assert len(seen["messages"]) == 1 and "null backend" in seen["messages"][0]
