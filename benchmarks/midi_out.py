"""A track playing hardware against the audio stem grid, through the real engine on JACK.

    python benchmarks/midi_out.py [--period 128] [--seconds 20] [--latency-ms 0]

The engine plays a click on every beat as an audio stem (drums) and a MIDI stem with a note on
every beat on the bass track, whose `midi_out` is a measuring JACK client's MIDI input
(JACK-Client: `import jack`). That client also listens to the engine's audio output. For each
beat it has the frame at which the note-on arrived and the frame at which the click did, both
on JACK's frame clock:

    offset = note-on frame - click frame

The engine sends each note when its sample will be heard from a sound card: its render time
plus the output latency PortAudio reports plus the limiter's lookahead, less `--latency-ms`.
Here the click is captured straight from the engine's port, before that output latency, so
the offset should be the reported output latency (printed beside it) less the compensation;
what is left over, and the spread, is the MIDI path: the sender thread's wake-up and RtMidi's
JACK output, which writes each message at the next period without a frame offset (about one
period of spread, uniform: sd near period / sqrt(12)).
"""

from __future__ import annotations

import argparse
import threading
import time

import jack
import numpy as np
import soundfile as sf
from midi_rig import engine_audio_ports, engine_on_jack, percentiles
from reference import reference_seconds

from tests.stemfiles import midi

SR = 48000
THRESHOLD = 1e-4


class Listener:
    """The measuring client's process callback: note-on frames in, click frames in."""

    def __init__(self, client: jack.Client) -> None:
        self.client = client
        self.synth = client.midi_inports.register("synth")
        self.ear = client.inports.register("ear")
        self.notes: list[int] = []
        self.clicks: list[int] = []
        self.quiet = 0  # frames of silence since the last sound
        self.lock = threading.Lock()
        client.set_process_callback(self.process)

    def process(self, frames: int) -> None:
        f0 = self.client.last_frame_time
        for offset, buffer in self.synth.incoming_midi_events():
            data = bytes(buffer)
            if len(data) == 3 and data[0] & 0xF0 == 0x90 and data[2] > 0:
                self.notes.append(f0 + offset)
        loud = np.abs(self.ear.get_array()) > THRESHOLD
        for i in np.flatnonzero(loud):
            if self.quiet + int(i) > SR // 10:  # a click after silence
                self.clicks.append(f0 + int(i))
            self.quiet = -int(i)
        self.quiet += frames


def click_stem(path, seconds_per_beat: float) -> None:
    beat = np.zeros((round(SR * seconds_per_beat), 2), np.float32)
    beat[:48] = 0.5
    sf.write(str(path), beat, SR)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--period", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    a = ap.parse_args()
    ref = reference_seconds()
    with engine_on_jack("hoot-midi-out-bench", a.period) as (perf, engine, tmp):
        client = jack.Client("hoot-bench", no_start_server=True)
        listener = Listener(client)
        client.activate()
        try:
            for port in engine_audio_ports(client)[:1]:
                client.connect(port, listener.ear)
            perf.tempo = 120
            click_stem(tmp / "click.wav", 0.5)
            clicks = perf.load(tmp / "click.wav", role="drums")
            notes = perf.load(midi(tmp / "b.mid", [(b, 0.25, 48, 100) for b in range(4)], 4),
                              role="bass")  # fmt: skip
            perf.tracks.bass.midi_out = "hoot-bench:synth"
            perf.tracks.bass.midi_latency_ms = a.latency_ms
            clicks.queue("bar")
            notes.queue("bar")
            time.sleep(a.seconds)
            latency = engine.info.latency
            xruns = engine.status().xruns
        finally:
            client.deactivate()
            client.close()
    print(f"{len(listener.notes)} note-ons and {len(listener.clicks)} clicks heard")
    clicks_at = np.asarray(listener.clicks)
    offsets = []
    for note in listener.notes:
        nearest = clicks_at[np.argmin(np.abs(clicks_at - note))]
        offsets.append(note - nearest)
    ms = np.asarray(offsets, float) * 1000 / SR
    period_ms = a.period / SR * 1000
    print(f"MIDI out against the audio stem grid, JACK dummy at {a.period}-frame periods "
          f"({period_ms:.2f} ms), --latency-ms {a.latency_ms:g}, "
          "JACK frame clock both ends:")  # fmt: skip
    print(f"  note-on minus click: mean {ms.mean():+.2f} ms, {percentiles(ms)}")
    left = ms.mean() - latency * 1000 + a.latency_ms
    print(f"  expected mean: output latency {latency * 1000:.2f} ms (PortAudio) "
          f"- {a.latency_ms:g} ms compensation; left over {left:+.2f} ms")  # fmt: skip
    print(f"  jitter sd {ms.std():.2f} ms against one period / sqrt(12) = "
          f"{period_ms / 12 ** 0.5:.2f} ms; engine xruns {xruns}")  # fmt: skip
    print(f"  reference workload: {ref * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
