"""The round trip from an input to the monitored output, measured where it can be.

On JACK, hoot's own output ports are connected to its input ports (a loopback), the
engine adds a short noise marker (`MARKER` frames at -12 dBFS) to its output at a known
sample, listens to input channel 1 for `LISTEN` seconds, and finds the marker there by
cross-correlation: the lag is the round trip in frames, which is what a player hears
between playing and hearing themselves through hoot. Elsewhere a loopback needs a cable,
so the device's reported input plus output latency is given, marked not measured.

Which JACK client is hoot's: PortAudio's JACK host API opens one client per process,
named "PortAudio" (or "PortAudio-NN" beside others). Each candidate is looped in turn and
only hoot's hears the marker.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from hoot.engine import protocol as p

MARKER = 256  # frames of noise: short, and unmistakable to a cross-correlation
LISTEN = 0.5  # seconds listened to after the marker: more than any sane round trip
FOUND = 0.5  # a peak this share of the marker's energy means it was heard


class Probe:
    """Armed on the engine (`engine.probe`), it adds the marker to the output from the
    first block's start and records input channel 1 from the same sample. Runs in
    `Engine._forward` (REAL-TIME: writes only its preallocated arrays)."""

    def __init__(self, samplerate: int) -> None:
        rng = np.random.default_rng(256)
        self.marker = (rng.uniform(-0.25, 0.25, MARKER)).astype(np.float32)
        self.heard = np.zeros(int(LISTEN * samplerate), np.float32)
        self.start = -1  # the engine sample the marker starts at, once placed
        self.filled = 0
        self.done = threading.Event()

    def block(self, out: np.ndarray, device: np.ndarray, s0: int, n: int) -> None:
        if self.start < 0:
            self.start = s0
        k = s0 - self.start
        if k < MARKER:
            m = min(n, MARKER - k)
            out[:m, 0] += self.marker[k : k + m]
            out[:m, 1] += self.marker[k : k + m]
        room = len(self.heard) - self.filled
        m = min(room, n)
        if device.shape[1] > 0 and len(device) >= n:
            self.heard[self.filled : self.filled + m] = device[:m, 0]
        self.filled += m
        if self.filled >= len(self.heard):
            self.done.set()

    def lag(self) -> int | None:
        """Frames from the marker's start to where it was heard, or None if it was not."""
        corr = np.correlate(self.heard, self.marker, mode="valid")
        best = int(np.argmax(corr))
        energy = float(np.dot(self.marker, self.marker))
        return best if corr[best] >= FOUND * energy else None


def listen(engine, timeout: float) -> int | None:
    """Arm a probe on `engine`, wait for it, and return the lag it heard (or None)."""
    probe = Probe(engine.samplerate)
    engine.probe = probe
    try:
        if not probe.done.wait(timeout):
            return None
    finally:
        engine.probe = None
    return probe.lag()


def reported(backend, why: str) -> p.Latency:
    sr = backend.samplerate if backend is not None else 48000
    seconds = (backend.input_latency + backend.latency) if backend is not None else 0.0
    frames = round(seconds * sr)
    return p.Latency(frames, 1000.0 * frames / sr, False, why)


def measure_round_trip(engine, backend) -> p.Latency:
    """The round trip on `backend`: measured on a JACK loopback, else reported."""
    if backend is None or not backend.input_ports:
        reason = backend.input_reason if backend is not None else "there is no audio device"
        return reported(backend, f"not measured: {reason}; the device's reported latency")
    if not getattr(backend, "is_jack", False):
        return reported(
            backend,
            "not measured (a loopback needs a cable off JACK): the device's reported input "
            "plus output latency",
        )
    try:
        import jack
    except ImportError:  # pragma: no cover - JACK-Client is a dependency
        return reported(backend, "not measured: the JACK-Client package is missing")
    client = jack.Client(f"hoot-latency-{id(engine) % 10000}", no_start_server=True)
    try:
        for name in _portaudio_clients(client):
            outs = client.get_ports(f"^{name}:out_", is_audio=True)
            ins = client.get_ports(f"^{name}:in_", is_audio=True)
            if not outs or not ins:
                continue
            client.connect(outs[0], ins[0])
            try:
                time.sleep(0.05)  # JACK makes the connection within a cycle or two
                lag = listen(engine, timeout=LISTEN + 2.0)
            finally:
                client.disconnect(outs[0], ins[0])
            if lag is not None:
                sr = engine.samplerate
                return p.Latency(
                    lag,
                    1000.0 * lag / sr,
                    True,
                    f"measured on a JACK loopback ({outs[0].name} -> {ins[0].name})",
                )
    finally:
        client.close()
    return reported(backend, "not measured: the JACK loopback did not carry the marker")


def _portaudio_clients(client) -> list[str]:
    names = {port.name.split(":", 1)[0] for port in client.get_ports(is_audio=True)}
    return sorted(n for n in names if n.startswith("PortAudio"))
