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

import time
from typing import NamedTuple

import numpy as np

from hoot.engine import protocol as p
from hoot.engine.kernel.jit import jit

MARKER = 256  # frames of noise: short, and unmistakable to a cross-correlation
LISTEN = 0.5  # seconds listened to after the marker: more than any sane round trip
FOUND = 0.5  # a peak this share of the marker's energy means it was heard


ARMED, START, FILLED = range(3)
"""`ProbeState.regs`: 1 while a measurement runs (the core clears it when done), the engine
sample the marker starts at (-1 until placed), input frames heard so far."""


class ProbeState(NamedTuple):
    """The marker added to the output and what input channel 1 heard, in the compiled
    core's world; armed by `listen`, played by `probe_block` on the audio thread."""

    marker: np.ndarray  # float32 (MARKER,)
    heard: np.ndarray  # float32 (LISTEN * samplerate,)
    regs: np.ndarray  # int64 (3,): ARMED, START, FILLED


def make_probe(samplerate: int) -> ProbeState:
    rng = np.random.default_rng(256)
    marker = rng.uniform(-0.25, 0.25, MARKER).astype(np.float32)
    regs = np.array([0, -1, 0], np.int64)
    return ProbeState(marker, np.zeros(int(LISTEN * samplerate), np.float32), regs)


@jit
def probe_block(probe: ProbeState, out: np.ndarray, device: np.ndarray, s0: int, n: int) -> None:
    """While armed: add the marker to `out` from the first block on, and record `device`'s
    channel 1 from the same sample until `heard` is full. REAL-TIME."""
    regs = probe.regs
    if regs[ARMED] == 0:
        return
    if regs[START] < 0:
        regs[START] = s0
    k = s0 - regs[START]
    marker = probe.marker
    for i in range(max(0, min(n, marker.shape[0] - k))):
        out[i, 0] += marker[k + i]
        out[i, 1] += marker[k + i]
    heard = probe.heard
    filled = regs[FILLED]
    m = min(heard.shape[0] - filled, n)
    if device.shape[1] > 0 and device.shape[0] >= n:
        for i in range(m):
            heard[filled + i] = device[i, 0]
    regs[FILLED] = filled + m
    if regs[FILLED] >= heard.shape[0]:
        regs[ARMED] = 0


def lag(probe: ProbeState) -> int | None:
    """Frames from the marker's start to where it was heard, or None if it was not."""
    corr = np.correlate(probe.heard, probe.marker, mode="valid")
    best = int(np.argmax(corr))
    energy = float(np.dot(probe.marker, probe.marker))
    return best if corr[best] >= FOUND * energy else None


def listen(engine, timeout: float) -> int | None:
    """Arm the engine's probe, wait until the core has heard LISTEN seconds (or `timeout`
    passes), and return the lag it heard (or None)."""
    probe = engine.core.probe
    probe.heard.fill(0.0)
    probe.regs[START], probe.regs[FILLED] = -1, 0
    probe.regs[ARMED] = 1  # last: the core starts from a clean state
    deadline = time.monotonic() + timeout
    while probe.regs[ARMED] and time.monotonic() < deadline:
        time.sleep(0.01)  # polls the core's flag; the measurement itself takes LISTEN
    if probe.regs[ARMED]:
        probe.regs[ARMED] = 0
        return None
    return lag(probe)


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
