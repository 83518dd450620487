"""Audio drivers: the three ways the engine's render function is called, block after block.

A render function `render(out)` fills `out` (float32, shape (frames, 2), C-contiguous) in place
and never raises. The same function runs under three drivers:

- `SoundDeviceBackend`: PortAudio (through sounddevice) calls it from the host's audio thread.
  Under JACK the stream is opened with blocksize 0, so every call gets exactly JACK's period.
  It opens the device for input and output together (duplex) where it has inputs, and then
  calls `render(out, indata)` with the input block; a device without inputs, or one that
  refuses duplex, plays output only, and `input_reason` says why in one sentence.
- `NullBackend`: no device; a thread calls it in real time, paced by absolute deadlines, so
  the music keeps time (and clocks, MIDI and the console behave) with nothing to play on.
- `OfflineDriver`: as fast as possible and synchronous, for renders, tests and benchmarks,
  with fixed, cycled or seeded-random block sizes.

`open_backend` picks PortAudio when it can and otherwise says, in one sentence, what is wrong
and falls back to the null backend. `Supervisor` owns the backend for one render function and,
when the device dies mid-set (unplugged, JACK server gone), switches to the null backend with
the same render function, so the music state carries on where it was.

REAL-TIME CODE: `Backend._render_block` and `SoundDeviceBackend._callback` run on the audio
thread. Rules there: no arrays, lists or strings are built, no locks, no logging, nothing
raises out. sounddevice is imported lazily, so importing this module never fails on a machine
without libportaudio.
"""

from __future__ import annotations

import atexit
import sys
import threading
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from hoot.engine import realtime
from hoot.errors import DeviceError

if TYPE_CHECKING:  # the kernel imports numba (0.3 s); only a KernelBackend needs it
    from hoot.engine.kernel.callback import Callback

RenderFn = Callable[..., None]  # render(out) or, on a duplex stream, render(out, indata)
MessageFn = Callable[[str], None]
LostFn = Callable[[str], None]

CHANNELS = 2
DTYPE = np.float32
HISTORY = 4096  # render durations kept in `callback_times`; a power of two so a mask wraps it
CPU_SMOOTHING = 0.05  # weight of the newest block in the smoothed cpu_load (about 20 blocks)
NULL_BLOCKSIZE = 256  # the null backend's block when the caller leaves it to the host (0)
WATCH_INTERVAL = 0.05  # seconds between the watchdog's looks at a PortAudio stream
STALL_SECONDS = 2.0  # no callback for this long while "active" means the device is gone
STALL_BLOCKS = 50  # ...or for this many block periods, if that is longer
JACK_HOSTAPI_MARK = "JACK"
DEVICES_HINT = "run `hoot devices` to see what PortAudio sees"
MAX_INPUTS = 32  # input channels opened at most: a large interface's, not a JACK graph's

# PortAudio streams on a JACK server that died: they must stay open for good (see
# `_abandon_jack_stream`), and this list keeps them referenced so nothing tries to close them.
_abandoned_streams: list[Any] = []


class OutputUnavailable(DeviceError):
    """PortAudio cannot play: the library, the device or the stream is not usable.

    `problem` says what is wrong and `fix` what to do, so that callers can put the two
    around what they do instead (see `open_backend`) and still say it in one sentence.
    """

    def __init__(self, problem: str, fix: str = DEVICES_HINT) -> None:
        super().__init__(f"{problem}; {fix}.")
        self.problem = problem
        self.fix = fix


class Backend:
    """What every driver has: its identity, its counters and the timed, guarded render call.

    Counters are plain attributes written by the audio thread and read by anyone; a reader
    may see a value one block old, which is all a status line or a benchmark needs.
    """

    name: str = "backend"

    def __init__(self, render: RenderFn, samplerate: int, blocksize: int) -> None:
        if samplerate <= 0:
            raise ValueError(f"samplerate must be positive, not {samplerate}")
        if blocksize < 0:
            raise ValueError(f"blocksize must be 0 (host decides) or positive, not {blocksize}")
        self.render = render
        self.device = "none"
        self.samplerate = int(samplerate)
        self.blocksize = int(blocksize)
        self.xruns = 0
        self.latency = 0.0
        self.cpu_load = 0.0
        self.callback_times = np.zeros(HISTORY, dtype=np.float64)
        self.callback_index = 0  # slot the next render duration goes to
        self.render_calls = 0
        self.frames_rendered = 0
        self.last_block = 0  # frames in the most recent block
        self.faults = 0  # render calls that raised (the block was played as silence)
        self.running = False
        # SCHED_FIFO priority of the thread that renders, set at its first block (see
        # realtime.py): 0 normal scheduling, -1 not known (yet, or on this platform)
        self.realtime_priority = -1
        self._scheduled = False  # the render thread has been raised (or tried)
        # the device's input channels (JACK: the physical capture ports' names), or none
        # and why not, in one sentence
        self.input_ports: tuple[str, ...] = ()
        self.input_reason = "the null backend has no audio device, so no inputs"
        self.input_latency = 0.0  # seconds, as the host reports them

    def start(self) -> None:
        """Begin calling the render function."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop calling the render function; safe to call more than once."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the device, if any. The backend cannot be started again afterwards."""
        self.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def recent_callback_times(self) -> np.ndarray:
        """Return a copy of the stored render durations in seconds, oldest first."""
        count = min(self.render_calls, HISTORY)
        ordered = np.roll(self.callback_times, -self.callback_index)
        return ordered[HISTORY - count :].copy()

    def _render_block(self, out: np.ndarray, frames: int, indata: np.ndarray | None = None) -> None:
        """Call render on `out` (and the input block, if any) and account for it.
        REAL-TIME: runs on the audio thread."""
        began = perf_counter()
        try:
            if indata is None:
                self.render(out)
            else:
                self.render(out, indata)
        except Exception:  # noqa: BLE001 - whatever render raises, the audio thread must go on
            # A faulty render must not kill the stream: this block plays as silence instead.
            out.fill(0.0)
            self.faults += 1
        elapsed = perf_counter() - began
        self.callback_times[self.callback_index] = elapsed
        self.callback_index = (self.callback_index + 1) & (HISTORY - 1)
        self.render_calls += 1
        self.frames_rendered += frames
        self.last_block = frames
        if frames:
            load = elapsed * self.samplerate / frames
            self.cpu_load += CPU_SMOOTHING * (load - self.cpu_load)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} device={self.device!r} samplerate={self.samplerate} "
            f"blocksize={self.blocksize} running={self.running} xruns={self.xruns}>"
        )


def import_sounddevice() -> Any:
    """Import sounddevice, raising OutputUnavailable if PortAudio cannot be loaded.

    sounddevice raises OSError at import when libportaudio is missing, and a PortAudioError
    when Pa_Initialize fails, which is why this is done lazily and in one place.
    """
    try:
        import sounddevice
    except Exception as error:  # OSError (no library) or PortAudioError (init failed)
        raise OutputUnavailable(
            f"The PortAudio library could not be loaded ({error})",
            "install it with `sudo apt-get install libportaudio2`",
        ) from error
    return sounddevice


def reinitialize_portaudio() -> None:
    """Make PortAudio enumerate host APIs and devices again.

    PortAudio looks for devices (and for a JACK server) only in Pa_Initialize, which
    sounddevice calls at import; a JACK server started later, or one that has died, is seen
    only after this. It closes every open stream in the process, so call it only when none
    is playing. Does nothing if sounddevice has not been imported yet, since importing it
    initialises PortAudio afresh anyway.
    """
    sounddevice = sys.modules.get("sounddevice")
    if sounddevice is None:
        return
    if _abandoned_streams:
        raise DeviceError(
            "PortAudio cannot be restarted in a process whose JACK server died under a stream "
            "(it would block for ten minutes); restart the engine process instead."
        )
    sounddevice._terminate()
    sounddevice._initialize()


def jack_output_device(sounddevice: Any) -> int | None:
    """Return the default output device of PortAudio's JACK host API, or None if it has none.

    PortAudio lists the JACK host API only when a JACK server was reachable at Pa_Initialize.
    """
    for api in sounddevice.query_hostapis():
        if JACK_HOSTAPI_MARK in api["name"] and api["default_output_device"] >= 0:
            return int(api["default_output_device"])
    return None


def choose_output_device(sounddevice: Any, device: int | str | None) -> int:
    """Return the PortAudio index of the output device `device` names.

    None prefers JACK when a JACK server is running: a running server owns the sound card,
    so PortAudio's ALSA devices would be busy or routed around it. "jack" insists on JACK.
    Anything else is an index or a name fragment, as sounddevice understands them.
    """
    jack = jack_output_device(sounddevice)
    if isinstance(device, str) and device.lower() == "jack":
        if jack is None:
            raise OutputUnavailable(
                "No JACK server is reachable (PortAudio lists no JACK host API)",
                "start one, e.g. `jackd -d alsa -r 48000`, then restart the engine",
            )
        return jack
    outputs = [info for info in sounddevice.query_devices() if info["max_output_channels"] > 0]
    if not outputs:
        raise OutputUnavailable("No audio output device found (PortAudio sees none)")
    if device is None:
        if jack is not None:
            return jack
        default = sounddevice.default.device[1]
        if default is not None and default >= 0:
            return int(default)
        return int(outputs[0]["index"])
    try:
        info = sounddevice.query_devices(device, kind="output")
    except (ValueError, sounddevice.PortAudioError) as error:
        raise OutputUnavailable(
            f"Audio output device {device!r} is not usable ({error})"
        ) from error
    return int(info["index"])


class SoundDeviceBackend(Backend):
    """PortAudio through a sounddevice.Stream (duplex: the device's inputs and stereo out) or,
    where the device has no inputs or refuses duplex, an OutputStream; float32, a callback.

    The stream is opened here, so a device problem shows at construction as
    OutputUnavailable. A watchdog thread notices when the stream dies without being asked
    to (PortAudio's finished callback fires, the stream turns inactive, or callbacks stop
    arriving), closes it and calls `on_lost(reason)` from that non-audio thread.
    """

    name = "sounddevice"

    def __init__(
        self,
        render: RenderFn,
        samplerate: int = 48000,
        blocksize: int = 0,
        device: int | str | None = None,
        latency: float | str = "low",
        on_lost: LostFn | None = None,
        duplex: bool = False,
    ) -> None:
        super().__init__(render, samplerate, blocksize)
        sounddevice = import_sounddevice()
        index = choose_output_device(sounddevice, device)
        info = sounddevice.query_devices(index)
        hostapi = sounddevice.query_hostapis(info["hostapi"])["name"]
        self.is_jack = JACK_HOSTAPI_MARK in hostapi
        if self.is_jack:
            # JACK runs one rate and one period for every client: ask for anything else and
            # PortAudio refuses the rate or re-blocks audio behind our back.
            jack_rate = int(info["default_samplerate"])
            if jack_rate != self.samplerate:
                raise OutputUnavailable(
                    f"The JACK server runs at {jack_rate} Hz but hoot asked for "
                    f"{self.samplerate} Hz",
                    f"restart jackd with `-r {self.samplerate}` or run hoot at {jack_rate} Hz",
                )
            self.blocksize = 0
        self.device = f"{info['name']} ({hostapi})"
        self.on_lost = on_lost
        self.lost_reason = ""
        self._sounddevice = sounddevice
        self._finished = threading.Event()
        self._halt = threading.Event()
        self._stopping = False
        self._watchdog: threading.Thread | None = None
        self.input_reason = "hoot asked this stream for output only"
        self._stream = self._open_duplex(sounddevice, index, info, latency) if duplex else None
        if self._stream is None:
            try:
                self._stream = self._open_stream(index, latency)
            except (sounddevice.PortAudioError, ValueError) as error:
                raise OutputUnavailable(
                    f"PortAudio could not open an output stream on {self.device} ({error})"
                ) from error
            self.latency = float(self._stream.latency)
        self._closed = False

    def _open_duplex(self, sounddevice: Any, index: int, info: dict, latency: float | str):
        """A duplex Stream on the output device's inputs (or its host API's default input
        device), or None with `input_reason` set when there are none or PortAudio refuses."""
        source = index
        if info["max_input_channels"] <= 0:
            api = sounddevice.query_hostapis(info["hostapi"])
            source = api["default_input_device"]
            if source is None or source < 0:
                self.input_reason = f"{self.device} has no input channels"
                return None
        source_info = sounddevice.query_devices(source)
        channels = min(int(source_info["max_input_channels"]), MAX_INPUTS)
        if channels <= 0:
            self.input_reason = f"{self.device} has no input channels"
            return None
        try:
            stream = self._open_duplex_stream(source, index, channels, latency)
        except (sounddevice.PortAudioError, ValueError) as error:
            self.input_reason = (
                f"PortAudio would not open {source_info['name']} for input and output "
                f"together ({error}), so hoot plays without inputs"
            )
            return None
        self.input_ports = self._port_names(channels)
        self.input_reason = ""
        self.input_latency, self.latency = (float(x) for x in stream.latency)
        return stream

    def _port_names(self, channels: int) -> tuple[str, ...]:
        """JACK: the physical capture ports PortAudio connects its inputs to, in order;
        elsewhere (or if JACK will not say): "in 1".."in N"."""
        names = tuple(f"in {k + 1}" for k in range(channels))
        if not self.is_jack:
            return names
        try:
            import jack

            client = jack.Client("hoot-ports", no_start_server=True)
            try:
                ports = client.get_ports(is_audio=True, is_output=True, is_physical=True)
                found = tuple(port.name for port in ports)
            finally:
                client.close()
        except Exception:  # noqa: BLE001 - names are a courtesy; numbers still work
            return names
        return found[:channels] + names[len(found) :]

    def _open_duplex_stream(self, source: int, index: int, channels: int, latency) -> Any:
        """Open a duplex stream, `channels` inputs from device `source`, unstarted."""
        return self._sounddevice.Stream(
            samplerate=self.samplerate,
            blocksize=self.blocksize,
            device=(source, index),
            channels=(channels, CHANNELS),
            dtype="float32",
            latency=latency,
            callback=self._duplex_callback,
            finished_callback=self._finished.set,
        )

    def _open_stream(self, index: int, latency: float | str) -> Any:
        """Open the PortAudio stream on output device `index`, unstarted."""
        return self._sounddevice.OutputStream(
            samplerate=self.samplerate,
            blocksize=self.blocksize,
            device=index,
            channels=CHANNELS,
            dtype="float32",
            latency=latency,
            callback=self._callback,
            finished_callback=self._finished.set,
        )

    @property
    def host_cpu_load(self) -> float:
        """PortAudio's own estimate of the callback's share of the block period."""
        if self._closed:
            return 0.0
        return float(self._stream.cpu_load)

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's stream callback. REAL-TIME: see the module docstring."""
        # CallbackFlags is falsy when no flag is set, which skips the property lookup per block.
        if status and status.output_underflow:
            self.xruns += 1
        if not self._scheduled:  # once per start: PortAudio's thread may be new
            self._scheduled = True
            self.realtime_priority = realtime.raise_this_thread(keep_realtime=self.is_jack)
            realtime.audio_priority = self.realtime_priority
        self._render_block(outdata, frames)

    def _duplex_callback(
        self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info: Any, status: Any
    ) -> None:
        """PortAudio's duplex stream callback. REAL-TIME: see the module docstring."""
        if status and (status.output_underflow or status.input_overflow):
            self.xruns += 1
        if not self._scheduled:
            self._scheduled = True
            self.realtime_priority = realtime.raise_this_thread(keep_realtime=self.is_jack)
            realtime.audio_priority = self.realtime_priority
        self._render_block(outdata, frames, indata)

    def start(self) -> None:
        """Start the stream and its watchdog."""
        if self.running:
            return
        if self._closed:
            raise DeviceError("This audio stream was closed; open a new backend to play again.")
        self._stopping = False
        self._finished.clear()
        self._halt.clear()
        self._scheduled = False
        self._stream.start()
        self.running = True
        self._watchdog = threading.Thread(
            target=self._watch, name="hoot-audio-watchdog", daemon=True
        )
        self._watchdog.start()

    def stop(self) -> None:
        """Stop the stream, letting queued audio play out."""
        self._stopping = True
        self._halt.set()
        watchdog = self._watchdog
        # The watchdog itself calls stop() through on_lost owners; it must not join itself.
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join()
        self._watchdog = None
        if self.running and not self._closed:
            if self.is_jack and not self._stream.active:
                # The JACK server went away before the watchdog noticed: stopping would block.
                _abandon_jack_stream(self._sounddevice, self._stream)
                self._closed = True
            else:
                try:
                    self._stream.stop()
                except self._sounddevice.PortAudioError:
                    pass  # a stream whose device is gone can refuse to stop; it is silent anyway
        self.running = False

    def close(self) -> None:
        """Stop and close the stream."""
        self.stop()
        if not self._closed:
            self._closed = True
            try:
                self._stream.close(ignore_errors=True)
            except self._sounddevice.PortAudioError:
                pass

    def _watch(self) -> None:
        """Watchdog thread: detect a stream that died on its own and report it once."""
        period = (self.last_block or NULL_BLOCKSIZE) / self.samplerate
        stall_limit = max(STALL_SECONDS, STALL_BLOCKS * period)
        seen_calls = self.render_calls
        seen_at = perf_counter()
        while not self._halt.wait(WATCH_INTERVAL):
            if self._stopping:
                return
            reason = ""
            if self._finished.is_set():
                reason = "the audio stream finished on its own"
            elif not self._stream.active:
                reason = (
                    "the JACK server went away"
                    if self.is_jack
                    else "the audio device stopped (unplugged or taken by another program)"
                )
            else:
                now = perf_counter()
                if self.render_calls != seen_calls:
                    seen_calls = self.render_calls
                    seen_at = now
                elif now - seen_at > stall_limit:
                    reason = f"no audio callback for {now - seen_at:.1f} s"
            if reason:
                self._lose(reason)
                return

    def _lose(self, reason: str) -> None:
        """Close the dead stream and tell the owner. Runs on the watchdog thread."""
        self.lost_reason = reason
        self._stopping = True
        if self.is_jack:
            _abandon_jack_stream(self._sounddevice, self._stream)
        else:
            # Abort rather than stop: there is nothing left to play out, and a stalled device
            # would make stop() wait for buffers that never drain.
            try:
                self._stream.abort(ignore_errors=True)
                self._stream.close(ignore_errors=True)
            except self._sounddevice.PortAudioError:
                pass  # the device is gone; there is nothing left to release
        self._closed = True
        self.running = False
        if self.on_lost is not None:
            self.on_lost(reason)


class _Counter:
    """A Backend figure that a KernelBackend reads from (and resets in) the compiled
    callback's statistics, column `name` of kernel.callback's counters."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, backend, owner=None) -> int:
        if backend is None:
            return self
        return int(backend.callback.stats.counters[getattr(backend._kc, self.name)])

    def __set__(self, backend, value: int) -> None:
        backend.callback.stats.counters[getattr(backend._kc, self.name)] = value


class KernelBackend(SoundDeviceBackend):
    """PortAudio calls the compiled core itself: no Python, hence no GIL, on the audio path.

    The stream is duplex when the callback has input channels (JACK's `system` capture
    ports, or the device's inputs), output-only otherwise. Life cycle, device-loss watching
    and the fallback to the null backend are SoundDeviceBackend's; the null backend (and
    the offline driver) call the same `process` from Python through `callback.render`.
    The counters are read from the callback's `Stats`, which the compiled code writes.
    """

    name = "sounddevice"  # the performer's word for "a real device"; the callback is compiled

    def __init__(
        self,
        callback: Callback,
        samplerate: int = 48000,
        blocksize: int = 0,
        device: int | str | None = None,
        latency: float | str = "low",
        on_lost: LostFn | None = None,
        duplex: bool = False,
    ) -> None:
        from hoot.engine.kernel import callback as kc

        self.callback = callback
        self._kc = kc
        super().__init__(
            callback.render, samplerate, blocksize, device, latency, on_lost, duplex=duplex
        )
        sched = callback.stats.sched  # the first block asks for real-time scheduling
        sched[kc.WANTED] = realtime.wanted_priority()
        sched[kc.KEEP] = 1 if self.is_jack else 0  # a JACK thread runs at jackd's priority

    def _stream_args(self, latency: float | str) -> dict:
        ffi = self._sounddevice._ffi
        return {
            "samplerate": self.samplerate,
            "blocksize": self.blocksize,
            "dtype": "float32",
            "latency": latency,
            "callback": ffi.cast("PaStreamCallback *", self.callback.address),
            "userdata": ffi.cast("void *", self.callback.userdata),
            "finished_callback": self._finished.set,
        }

    def _open_stream(self, index: int, latency: float | str) -> Any:
        """An output-only stream with the compiled callback: it hears no inputs."""
        self.callback.use_inputs(0)
        return self._sounddevice._StreamBase(
            "output", device=index, channels=CHANNELS, **self._stream_args(latency)
        )

    def _open_duplex_stream(self, source: int, index: int, channels: int, latency) -> Any:
        """A duplex stream with the compiled callback, `channels` inputs from `source`."""
        stream = self._sounddevice._StreamBase(
            "duplex",
            device=(source, index),
            channels=(channels, CHANNELS),
            **self._stream_args(latency),
        )
        self.callback.use_inputs(channels)
        return stream

    @property
    def realtime_priority(self) -> int:
        """The audio thread's SCHED_FIFO priority, as its first block found or made it
        (-1 before that block, or where the platform cannot say)."""
        priority = int(self.callback.stats.sched[self._kc.PRIORITY])
        if priority > 0:
            realtime.audio_priority = priority  # MIDI senders go one step below it
        return priority

    @realtime_priority.setter
    def realtime_priority(self, value: int) -> None:
        """The compiled callback reports its own; Backend's starting -1 has nothing to set."""

    render_calls = _Counter("CALLBACKS")
    frames_rendered = _Counter("FRAMES")
    last_block = _Counter("LAST_FRAMES")
    xruns = _Counter("UNDERFLOWS")  # PortAudio's output underflows (on JACK: a missed cycle)

    @property
    def cpu_load(self) -> float:
        """The last 20 blocks' mean render time as a share of their period."""
        frames = self.last_block
        times = self.recent_callback_times()[-round(1 / CPU_SMOOTHING) :]
        if not frames or not len(times):
            return 0.0
        return float(times.mean() * self.samplerate / frames)

    @cpu_load.setter
    def cpu_load(self, value: float) -> None:
        """Computed from the stats; Backend's starting 0.0 has nothing to set."""

    def recent_callback_times(self) -> np.ndarray:
        """A copy of the stored render durations in seconds, oldest first."""
        return self.callback.recent(self.callback.stats.render_time)

    def block_times(self) -> tuple[np.ndarray, np.ndarray]:
        """(monotonic time each recent block began, sample index of its first frame)."""
        stats = self.callback.stats
        return self.callback.recent(stats.block_time), self.callback.recent(stats.block_sample)


def _abandon_jack_stream(sounddevice: Any, stream: Any) -> None:
    """Leave a PortAudio stream whose JACK server died open for the rest of the process.

    PortAudio's JACK host API (19.6, as Debian and Ubuntu ship it) stops a stream by asking
    the JACK process thread to acknowledge, with a ten-minute timeout. With the server gone
    that thread never runs again, so Pa_AbortStream, Pa_CloseStream and Pa_Terminate (which
    closes open streams) each block for ten minutes. The stream is therefore never touched
    again, and sounddevice's exit handler, which would call Pa_Terminate, is unregistered:
    the process exits without closing a client of a server that no longer exists.
    """
    _abandoned_streams.append(stream)
    atexit.unregister(sounddevice._exit_handler)


class NullBackend(Backend):
    """No device: a thread renders one block per block period, paced by absolute deadlines.

    Deadlines are computed from the start time, not from the last wake-up, so sleep jitter
    does not accumulate into drift. A block started more than one period late is what an
    underflow would be on a device: it counts as an xrun, and pacing restarts from now
    instead of rushing to catch up.
    """

    name = "null"

    def __init__(
        self, render: RenderFn, samplerate: int = 48000, blocksize: int = NULL_BLOCKSIZE
    ) -> None:
        if blocksize <= 0:
            raise ValueError(f"the null backend needs a positive blocksize, not {blocksize}")
        super().__init__(render, samplerate, blocksize)
        self.latency = self.blocksize / self.samplerate
        self._buffer = np.zeros((self.blocksize, CHANNELS), dtype=DTYPE)
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the pacing thread."""
        if self.running:
            return
        self._halt.clear()
        self.running = True
        self._thread = threading.Thread(target=self._run, name="hoot-null-audio", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the pacing thread and wait for its current block to finish."""
        self._halt.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._thread = None
        self.running = False

    def _run(self) -> None:
        """The pacing loop. REAL-TIME: plays the audio thread's part."""
        frames = self.blocksize
        period = frames / self.samplerate
        buffer = self._buffer
        halt = self._halt
        self.realtime_priority = realtime.raise_this_thread()
        realtime.audio_priority = self.realtime_priority
        deadline = perf_counter()
        while not halt.is_set():
            self._render_block(buffer, frames)
            deadline += period
            late = perf_counter() - deadline
            if late > period:
                self.xruns += 1
                deadline += late
            elif late < 0.0:
                halt.wait(-late)


class OfflineDriver(Backend):
    """Render as fast as possible, synchronously, in exactly the frames asked for.

    `blocksize` is a fixed size, a sequence of sizes that is cycled, or "random" for sizes
    drawn from a generator seeded with `seed`, between 1 and `max_block`. The schedule
    carries on from one `run` to the next, so several runs split a render the same way one
    run would (except where a run's last block was cut short).
    """

    name = "offline"

    def __init__(
        self,
        render: RenderFn,
        samplerate: int = 48000,
        blocksize: int | Sequence[int] | str = 256,
        seed: int = 0,
        max_block: int = 4096,
    ) -> None:
        self._sizes: tuple[int, ...] = ()
        self._rng: np.random.Generator | None = None
        if isinstance(blocksize, str):
            if blocksize != "random":
                raise ValueError(
                    f'blocksize must be a size, a sequence or "random", not {blocksize!r}'
                )
            if max_block < 1:
                raise ValueError(f"max_block must be at least 1, not {max_block}")
            self._rng = np.random.default_rng(seed)
            largest = max_block
            fixed = 0
        elif isinstance(blocksize, int):
            if blocksize < 1:
                raise ValueError(f"blocksize must be at least 1, not {blocksize}")
            largest = fixed = blocksize
        else:
            self._sizes = tuple(int(size) for size in blocksize)
            if not self._sizes or min(self._sizes) < 1:
                raise ValueError(
                    f"block sizes must be a non-empty sequence of sizes >= 1: {blocksize!r}"
                )
            largest = max(self._sizes)
            fixed = 0
        super().__init__(render, samplerate, fixed)
        self.max_block = int(max_block)
        self._next_size = 0  # index into a cycled sequence
        self._buffer = np.zeros((largest, CHANNELS), dtype=DTYPE)

    @property
    def position(self) -> int:
        """Frames rendered so far."""
        return self.frames_rendered

    def start(self) -> None:
        """Mark the driver running; rendering happens in `run`."""
        self.running = True

    def stop(self) -> None:
        """Mark the driver stopped."""
        self.running = False

    def _block_size(self) -> int:
        """Return the next block size of the schedule."""
        if self._rng is not None:
            return int(self._rng.integers(1, self.max_block, endpoint=True))
        if self._sizes:
            size = self._sizes[self._next_size]
            self._next_size = (self._next_size + 1) % len(self._sizes)
            return size
        return self.blocksize

    def run(self, frames: int, out: np.ndarray | None = None) -> None:
        """Render exactly `frames` frames, into `out` (shape (frames, 2), float32) if given.

        Without `out` each block goes to an internal buffer and is discarded, which is what
        benchmarks and clock tests want.
        """
        if frames < 0:
            raise ValueError(f"frames must not be negative, not {frames}")
        if out is not None and (
            out.shape != (frames, CHANNELS) or out.dtype != DTYPE or not out.flags.c_contiguous
        ):
            raise ValueError(
                f"out must be a C-contiguous float32 array of shape ({frames}, {CHANNELS}), "
                f"not {out.dtype} {out.shape}"
            )
        was_running = self.running
        self.running = True
        try:
            done = 0
            while done < frames:
                size = min(self._block_size(), frames - done)
                if out is None:
                    block = self._buffer[:size]
                else:
                    block = out[done : done + size]
                self._render_block(block, size)
                done += size
        finally:
            self.running = was_running


def _null_fallback(
    render: RenderFn, samplerate: int, blocksize: int, on_message: MessageFn, problem: str, fix: str
) -> NullBackend:
    """Say in one sentence why there is no sound, and return an unstarted NullBackend."""
    on_message(f"{problem}, so hoot is playing silently on the null backend; {fix}.")
    return NullBackend(render, samplerate, blocksize or NULL_BLOCKSIZE)


def open_backend(
    kind: str,
    render: RenderFn,
    samplerate: int = 48000,
    blocksize: int = 0,
    device: int | str | None = None,
    on_message: MessageFn = print,
    on_lost: LostFn | None = None,
    duplex: bool = False,
    callback: Callback | None = None,
) -> Backend:
    """Open a backend of `kind` ("sounddevice", "null" or "auto") for `render`, unstarted.

    "auto" and "sounddevice" both try PortAudio; when the library is missing, there is no
    output device, or the stream cannot be opened, `on_message` gets one sentence saying
    what is wrong and what to do, and a NullBackend comes back instead. `on_lost` is passed
    to a SoundDeviceBackend (see `Supervisor` for an owner that uses it). `duplex`: open
    the device's inputs too, for a `render(out, indata)` (the engine's forward).
    `callback`: PortAudio calls this compiled callback (kernel.callback) instead of
    `render`, which the null backend still calls (the same core, from Python).
    """
    if kind == "null":
        return NullBackend(render, samplerate, blocksize or NULL_BLOCKSIZE)
    if kind not in ("sounddevice", "auto"):
        raise ValueError(f'backend kind must be "sounddevice", "null" or "auto", not {kind!r}')
    try:
        if callback is not None:
            return KernelBackend(
                callback, samplerate, blocksize, device=device, on_lost=on_lost, duplex=duplex
            )
        return SoundDeviceBackend(
            render, samplerate, blocksize, device=device, on_lost=on_lost, duplex=duplex
        )
    except OutputUnavailable as error:
        return _null_fallback(render, samplerate, blocksize, on_message, error.problem, error.fix)
    except Exception as error:  # noqa: BLE001 - any open failure means: play on the null backend
        # Whatever else PortAudio throws at open time, the performer still gets a clock.
        return _null_fallback(
            render,
            samplerate,
            blocksize,
            on_message,
            f"PortAudio failed to open the output ({type(error).__name__}: {error})",
            DEVICES_HINT,
        )


class Supervisor:
    """Own the backend of one render function, and keep the music going when the device dies.

    `start` opens a backend as `open_backend` does. If a PortAudio stream is lost later, the
    supervisor switches to a NullBackend that calls the same render function, so positions
    and clocks carry on, and reports the switch in one sentence through `on_message`.
    `fell_back` is set once that has happened.
    """

    def __init__(
        self,
        render: RenderFn,
        kind: str = "auto",
        samplerate: int = 48000,
        blocksize: int = 0,
        device: int | str | None = None,
        on_message: MessageFn = print,
        duplex: bool = False,
        callback: Callback | None = None,
    ) -> None:
        self.render = render
        self.duplex = duplex
        self.callback = callback
        self.kind = kind
        self.samplerate = samplerate
        self.blocksize = blocksize
        self.device = device
        self.on_message = on_message
        self.backend: Backend | None = None
        self.fell_back = threading.Event()
        self._lock = threading.Lock()  # serialises start, stop and the switch; never audio-side
        self._stopped = False

    def start(self) -> Backend:
        """Open and start the backend; return it."""
        with self._lock:
            self._stopped = False
            backend = open_backend(
                self.kind,
                self.render,
                self.samplerate,
                self.blocksize,
                self.device,
                on_message=self.on_message,
                on_lost=self._device_lost,
                duplex=self.duplex,
                callback=self.callback,
            )
            try:
                backend.start()
            except Exception as error:  # noqa: BLE001 - a stream that will not start means: null
                backend.close()
                backend = _null_fallback(
                    self.render,
                    self.samplerate,
                    self.blocksize,
                    self.on_message,
                    f"The audio stream on {backend.device} would not start ({error})",
                    DEVICES_HINT,
                )
                backend.start()
            self.backend = backend
            return backend

    def stop(self) -> None:
        """Stop and close the current backend."""
        with self._lock:
            self._stopped = True
            backend = self.backend
        # Outside the lock: closing joins the watchdog, which may be waiting for the lock.
        if backend is not None:
            backend.close()

    def _device_lost(self, reason: str) -> None:
        """Switch to the null backend. Called by a SoundDeviceBackend's watchdog thread."""
        with self._lock:
            lost = self.backend
            if self._stopped or lost is None:
                return
            lost.close()
            # Same block size as the host used, so the render sees the blocks it is used to.
            blocksize = lost.last_block or lost.blocksize or NULL_BLOCKSIZE
            replacement = NullBackend(self.render, lost.samplerate, blocksize)
            replacement.start()
            self.backend = replacement
        self.on_message(
            f"Audio output was lost ({reason}), so hoot switched to the silent null backend "
            "and the music keeps its place; fix the device and restart the engine to hear it."
        )
        self.fell_back.set()
