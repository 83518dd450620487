"""Keyboard note-on to first sound, through the real engine on a JACK dummy server.

    python benchmarks/keyboard_latency.py [--period 128] [--notes 200]

A measuring JACK client (JACK-Client: `import jack`) writes each note-on into its MIDI
output at a random frame (`write_midi_event(offset)`), and reads the engine's audio output,
connected to its input, finding the frame of the note's first non-zero sample. Both are
frames of JACK's one frame clock, so

    latency = first sound frame - note-on frame

is exactly what JACK carried, with nothing in between to trust: the note goes from JACK MIDI
through RtMidi's JACK input (hoot.midi.ports; stamped on arrival), into the engine's block at
its arrival offset plus one block (hoot.engine.live_midi), out through PortAudio's JACK
client and the master limiter's 63-sample lookahead, and back into JACK. The output's own
latency to a sound card (PortAudio reports it) comes on top on real hardware and is printed.
Target: at most 10 ms at 128 frames. The jitter (sd) is what the arrival stamp leaves: RtMidi
hands JACK MIDI over per period, without its frame offset.
"""

from __future__ import annotations

import argparse
import threading
import time

import jack
import numpy as np
from midi_rig import engine_audio_ports, engine_on_jack, percentiles
from reference import reference_seconds

SR = 48000
THRESHOLD = 1e-6  # the engine's output is exact zeros between notes


class Player:
    """The measuring client's process callback: plays notes at random frames, listens."""

    def __init__(self, client: jack.Client, notes: int, seed: int = 1) -> None:
        self.client = client
        self.keys = client.midi_outports.register("keys")
        self.ear = client.inports.register("ear")
        self.rng = np.random.default_rng(seed)
        self.notes = notes
        self.started = False
        self.next_on = None  # frame of the next note-on
        self.next_off = None
        self.sent_at: int | None = None  # frame of the sounding note's note-on
        self.latencies: list[int] = []
        self.done = threading.Event()
        client.set_process_callback(self.process)

    def start(self) -> None:
        self.next_on = self.client.frame_time + SR  # a second to settle
        self.started = True

    GAP = (SR // 5, SR // 3)  # frames from a release to the next note, drawn between

    def key(self) -> int:
        """The pitch of the next note-on (a subclass plays a melody)."""
        return 60

    def process(self, frames: int) -> None:
        f0 = self.client.last_frame_time
        self.keys.clear_buffer()
        if not self.started or self.done.is_set():
            return
        if self.next_on is not None and self.next_on < f0:  # a missed cycle: play it now
            self.next_on = f0
        if self.next_on is not None and self.next_on < f0 + frames:
            self.pitch = self.key()
            self.keys.write_midi_event(self.next_on - f0, bytes((0x90, self.pitch, 100)))
            self.sent_at, self.next_off = self.next_on, self.next_on + SR // 10
            self.next_on = None
        if self.next_off is not None and f0 <= self.next_off < f0 + frames:
            self.keys.write_midi_event(self.next_off - f0, bytes((0x80, self.pitch, 0)))
            # the next note after the release has died away, at a random frame
            self.next_on = self.next_off + int(self.rng.integers(*self.GAP))
            self.next_off = None
        if self.sent_at is not None:
            heard = np.flatnonzero(np.abs(self.ear.get_array()) > THRESHOLD)
            if len(heard):
                frame = f0 + int(heard[0])
                self.latencies.append(max(frame - self.sent_at, 0))
                self.sent_at = None
                if len(self.latencies) >= self.notes:
                    self.done.set()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--period", type=int, default=128)
    ap.add_argument("--notes", type=int, default=200)
    a = ap.parse_args()
    ref = reference_seconds()
    with engine_on_jack("hoot-keys-bench", a.period) as (perf, engine, _):
        client = jack.Client("hoot-bench", no_start_server=True)
        player = Player(client, a.notes)
        client.activate()
        try:
            perf.tracks.lead.sound = "pulse_lead"
            perf.tracks.lead.play_from("hoot-bench:keys")
            for port in engine_audio_ports(client)[:1]:
                client.connect(port, player.ear)
            time.sleep(0.5)
            player.start()
            if not player.done.wait(a.notes * 0.6 + 30):
                print(f"only {len(player.latencies)} notes were heard")
            latency = engine.info.latency
            xruns = engine.status().xruns
        finally:
            client.deactivate()
            client.close()
    ms = np.asarray(player.latencies, float) * 1000 / SR
    print(f"keyboard note-on to first sound, JACK dummy at {a.period}-frame periods "
          f"({a.period / SR * 1000:.2f} ms), JACK frame clock both ends:")  # fmt: skip
    print(f"  {percentiles(ms)}")
    print(f"  in periods: p50 {np.percentile(ms, 50) / (a.period / SR * 1000):.2f}, "
          f"max {ms.max() / (a.period / SR * 1000):.2f}; engine xruns {xruns}")  # fmt: skip
    print(f"  plus the output's latency to a sound card, as PortAudio reports it: "
          f"{latency * 1000:.2f} ms")  # fmt: skip
    verdict = "ok" if np.percentile(ms, 95) <= 10 else "OVER"
    print(f"  target p95 <= 10 ms at 128 frames: {verdict}")
    print(f"  reference workload: {ref * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
