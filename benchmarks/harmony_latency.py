"""Keyboard note-on to the HARMONY's first sound, through the engine and a harmonizer's voice
process, on a JACK dummy server.

    python benchmarks/harmony_latency.py [--period 128] [--notes 200] [--model PATH]

The rig of benchmarks/keyboard_latency.py: a measuring JACK client writes note-ons at
random frames into its MIDI output (the keys track plays from it) and finds the first
non-zero sample of the engine's output, both on JACK's frame clock. The keys track is
muted, so what is heard is the harmony alone: the key goes through RtMidi into the
engine's live-note table, the voice process (hoot/realtime/voice.py) reads it there within
a millisecond, asks Notochord, and writes the harmony with the key's own arrival stamp;
the engine places it where it placed the key (arrival plus one block) when the answer
came within that block. So the figure is the keyboard's latency plus whatever the model
costs beyond the block. The voice's own figures (key arrival to harmony written, its
poll's CPU share) are printed too. Target: at most 10 ms p95 at 128 frames.
"""

from __future__ import annotations

import argparse
import time

import jack
import numpy as np
from keyboard_latency import SR, Player
from midi_rig import engine_audio_ports, engine_on_jack, percentiles
from reference import reference_seconds

SCALE = (60, 62, 64, 65, 67, 69, 71, 72)  # C major, the key the harmony is steered to


class Melody(Player):
    """The keyboard benchmark's player, playing a C major melody instead of one key."""

    def __init__(self, client: jack.Client, notes: int) -> None:
        super().__init__(client, notes)
        self.pitch = SCALE[0]
        self.silent = 0  # keys no harmony answered (dropped late)

    GAP = (SR // 4, SR // 3)  # a harmony's pad release is longer than a key's

    def key(self) -> int:
        if self.sent_at is not None:
            self.silent += 1  # the previous key got no harmony (dropped late)
        return int(self.rng.choice(SCALE))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--period", type=int, default=128)
    ap.add_argument("--notes", type=int, default=200)
    ap.add_argument("--model", default=None, help="a Notochord checkpoint (default: hoot's)")
    a = ap.parse_args()
    ref = reference_seconds()
    with engine_on_jack("hoot-harmony-bench", a.period) as (perf, engine, _):
        client = jack.Client("hoot-bench", no_start_server=True)
        player = Melody(client, a.notes)
        client.activate()
        try:
            perf.key = "C major"
            perf.tracks.keys.play_from("hoot-bench:keys")
            perf.tracks.keys.mute = True  # only the harmony is heard
            live = perf.harmonize("keys", voices=1, sound="pulse_lead", model=a.model)
            deadline = time.monotonic() + 120
            while (live.status is None or live.status.state != "running") and (
                time.monotonic() < deadline
            ):
                time.sleep(0.1)
            for port in engine_audio_ports(client)[:1]:
                client.connect(port, player.ear)
            time.sleep(2.5)  # the voice's CPU share over its last second with no key played
            cpu = perf._realtime._voices[live.out].status.get("cpu_pct")
            player.start()
            if not player.done.wait(a.notes * 0.6 + 60):
                print(f"only {len(player.latencies)} harmony notes were heard")
            model = live.status
            xruns = engine.status().xruns
            live.stop()
        finally:
            client.deactivate()
            client.close()
    ms = np.asarray(player.latencies, float) * 1000 / SR
    block = a.period / SR * 1000
    print(f"keyboard note-on to the harmony's first sound, JACK dummy at {a.period}-frame "
          f"periods ({block:.2f} ms), JACK frame clock both ends, {model.model}:")  # fmt: skip
    print(f"  {percentiles(ms)}")
    print(f"  in periods: p50 {np.percentile(ms, 50) / block:.2f}, max {ms.max() / block:.2f}; "
          f"keys without harmony {player.silent}; engine xruns {xruns}")  # fmt: skip
    print(f"  the voice: key arrival -> harmony written p50 {model.p50_ms} ms, p95 "
          f"{model.p95_ms} ms, {model.late} dropped late, {model.restarts} restarts; "
          f"idle, its 1 ms poll costs {cpu}% of a core")  # fmt: skip
    verdict = "ok" if np.percentile(ms, 95) <= 10 else "OVER"
    print(f"  target p95 <= 10 ms at 128 frames: {verdict}")
    print(f"  reference workload: {ref * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
