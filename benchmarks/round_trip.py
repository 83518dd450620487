"""Round-trip latency, input to monitored output, on a JACK dummy server at 64/128/256 frames.

    python benchmarks/round_trip.py [--periods 64 128 256] [--repeats 5]

For each period a JACK dummy server starts, the engine opens it duplex with its compiled
callback (KernelBackend: PortAudio calls the core's machine code, as the engine process
does) and measures its round trip on a JACK loopback (hoot/engine/latency.py:
a noise marker out of hoot's output into its own input, found by cross-correlation),
`--repeats` times. Printed: the frames and ms measured (all repeats, which must agree),
PortAudio's reported input and output latency, xruns, and the reference workload
(benchmarks/reference.py) of this run. The dummy driver has no converters, so this is
hoot's and JACK's share of the round trip; a sound card adds its converters' and
buffers' latency on top.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference import reference_seconds  # noqa: E402

from hoot.engine.backends import KernelBackend  # noqa: E402
from hoot.engine.core import Engine  # noqa: E402
from hoot.engine.inputs import INPUT_ROWS  # noqa: E402
from hoot.engine.latency import measure_round_trip  # noqa: E402
from hoot.music import TRACKS  # noqa: E402
from tests.jack_server import start_jack_server, use_jack_server  # noqa: E402

SR = 48000


def measure(period: int, repeats: int) -> dict:
    server = start_jack_server(f"hoot-rtt-{os.getpid()}-{period}", samplerate=SR, period=period)
    try:
        with use_jack_server(server):
            engine = Engine(SR, TRACKS, inputs=INPUT_ROWS)
            callback = engine.core.callback()
            backend = KernelBackend(callback, SR, device="jack", duplex=True)
            backend.start()
            try:
                found = [measure_round_trip(engine, backend) for _ in range(repeats)]
            finally:
                backend.close()
            return {
                "frames": [f.frames for f in found],
                "ms": found[0].ms,
                "measured": all(f.measured for f in found),
                "reported_ms": 1000 * (backend.input_latency + backend.latency),
                "xruns": backend.xruns,
            }
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--periods", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    ref = reference_seconds()
    print(f"reference workload: {ref * 1e6:.0f} us")
    for period in a.periods:
        r = measure(period, a.repeats)
        print(
            f"period {period:4d}: round trip {r['frames']} frames = {r['ms']:.2f} ms "
            f"(measured {r['measured']}); PortAudio reports {r['reported_ms']:.2f} ms; "
            f"xruns {r['xruns']}"
        )


if __name__ == "__main__":
    main()
