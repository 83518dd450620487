"""The rig benchmarks/keyboard_latency.py and benchmarks/midi_out.py share: a JACK dummy
server, the real engine on it, and a measuring JACK client (the `JACK-Client` package,
`import jack`) that plays the keyboard and listens to what comes out, both on JACK's frame
clock, so a latency is a count of frames, not two clocks compared.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hoot.engine.client import EngineClient  # noqa: E402
from hoot.performance import Performance  # noqa: E402
from hoot.session import Session  # noqa: E402
from tests.jack_server import start_jack_server  # noqa: E402


def percentiles(ms: np.ndarray) -> str:
    return (
        f"p50 {np.percentile(ms, 50):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms, "
        f"max {ms.max():.2f} ms, sd {ms.std():.2f} ms (n={len(ms)})"
    )


@contextmanager
def engine_on_jack(name: str, period: int) -> Iterator[tuple[Performance, EngineClient, Path]]:
    """A JACK dummy server at `period` frames and the engine playing on it."""
    jack_server = start_jack_server(name, 48000, period)
    os.environ.update(jack_server.env())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            session = Session(Path(tmp) / "bench")
            client = EngineClient.spawn(session.dir, backend="sounddevice", idle_timeout=60)
            try:
                if client.info.backend != "sounddevice":
                    sys.exit(f"the engine did not reach JACK: {client.messages()}")
                yield Performance(client, session), client, Path(tmp)
            finally:
                client.shutdown()
    finally:
        jack_server.stop()


def engine_audio_ports(jack_client) -> list[str]:
    """The engine's audio outputs (PortAudio's client), not the dummy card's capture."""
    return [
        port.name
        for port in jack_client.get_ports(is_audio=True, is_output=True)
        if not port.name.startswith(("system:", jack_client.name + ":"))
    ]
