"""Cost of the compiled core's MIDI work in one block, beside the Python it replaces.

    python benchmarks/kernel_midi.py [--blocks 20000]

Three workloads, 128-frame blocks (2.67 ms at 48 kHz), each timed per block:
- live in: 8 messages a block (note ons and offs, a pedal, a bend) read from the input's
  ring into Events by kernel.midi_in.live_block; beside it LiveNotes.forward on the same
  messages into a sink that does nothing;
- MIDI out: 16 note events a block stamped into a port's ring by kernel.midi_out.play_event;
  beside it MidiOutTrack's note_on / note_off into a deque;
- SoundFont: FluidR3_GM's strings, 8 held notes, one bend a block, kernel.fluid.render beside
  SoundFontVoice.render (fluidsynth's own synthesis is most of both).
Prints p50 and p99.9 in microseconds and in units of the reference workload
(benchmarks/reference.py, timed at the start and the end). Each kernel figure includes one
call from Python into compiled code (a few microseconds of argument unboxing) that the
engine's compiled block will not pay; the Python figures hold the GIL, the kernel's do not.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import time
from collections import deque
from types import SimpleNamespace

import numba
import numpy as np
from reference import reference_seconds

from hoot.engine.fluid import SoundFontVoice
from hoot.engine.kernel import clock as kclock
from hoot.engine.kernel import events as kev
from hoot.engine.kernel import fluid as kfluid
from hoot.engine.kernel import midi_in
from hoot.engine.kernel import midi_out as kout
from hoot.engine.live_midi import BlockClock, LiveNotes
from hoot.engine.midi_out import MidiOutTrack

SR = 48000
BLOCK = 128
ORIGIN = 1000.0
CHORD = (48, 55, 60, 64, 67, 72, 76, 79)


def messages(b: int) -> list[bytes]:
    pitch = 48 + b % 24
    return [
        bytes((0x90, pitch, 100)),
        bytes((0x90, pitch + 4, 90)),
        bytes((0x80, pitch, 0)),
        bytes((0x80, pitch + 4, 0)),
        bytes((0xB0, 64, 127 if b % 2 else 0)),
        bytes((0xE0, b % 128, 64)),
        bytes((0x90, pitch + 7, 80)),
        bytes((0x80, pitch + 7, 0)),
    ]


class Quiet:
    def note_on(self, *args) -> None:
        pass

    note_off = bend = note_on


def timed(blocks: int, prepare, work) -> np.ndarray:
    times = np.zeros(blocks)
    clock = time.perf_counter
    gc.collect()
    for b in range(blocks):
        prepare(b)
        t0 = clock()
        work(b)
        times[b] = clock() - t0
    return times


def live_in(blocks: int) -> tuple[np.ndarray, np.ndarray]:
    kc, live, ev = kclock.make_clock(SR), midi_in.make_live_input(0, 0), kev.make_events()
    keys = LiveNotes(0, 0)
    clock = BlockClock(SR)
    engine = SimpleNamespace(clock=clock, sinks=[Quiet()])

    def feed(b: int) -> None:
        at = ORIGIN + (b * BLOCK - BLOCK) / SR
        for m in messages(b):
            midi_in.write(live, m, at)
            keys.receive(m, at)
        now = ORIGIN + b * BLOCK / SR
        kclock.stamp_at(kc, b * BLOCK, BLOCK, now)
        clock.now = lambda: now
        clock.stamp(b * BLOCK, BLOCK)
        kev.clear(ev)

    kernel = timed(blocks, feed, lambda b: midi_in.live_block(live, kc, b * BLOCK, BLOCK, ev))
    python = timed(blocks, lambda b: None, lambda b: keys.forward(engine, b * BLOCK, BLOCK))
    return kernel, python


@numba.njit(nogil=True)
def play_all(out: kout.OutTrack, kc: kclock.Clock, ev: kev.Events) -> None:
    for k in range(ev.count[0]):
        kout.play_event(out, kc, ev, k)


def midi_out(blocks: int) -> tuple[np.ndarray, np.ndarray]:
    kc, ring, ev = kclock.make_clock(SR), kout.make_out_ring(), kev.make_events()
    out = kout.make_out_track(ring, 0, 0.005)
    kclock.stamp_at(kc, 0, BLOCK, ORIGIN)
    due, message = np.zeros(kout.RING), np.zeros((kout.RING, 3), np.int64)
    clock = BlockClock(SR, lambda: ORIGIN)
    clock.stamp(0, BLOCK)
    sender = SimpleNamespace(queue=deque(), next_order=itertools.count().__next__)
    track = MidiOutTrack(sender, clock, 0, 0.005)

    def fill(b: int) -> None:
        kev.clear(ev)
        kout.take(ring, due, message)
        sender.queue.clear()
        for k in range(8):
            kev.push(ev, b * BLOCK + k, kev.ON, 0, 60 + k, 100, 0, 60 + k, 0.0)
            kev.push(ev, b * BLOCK + k + 64, kev.OFF, 0, 60 + k, 0, 0, 60 + k, 0.0)

    def python_block(b: int) -> None:
        for k in range(8):
            track.note_on(b * BLOCK + k, 0, 60 + k, 100, 0, 60 + k)
            track.note_off(b * BLOCK + k + 64, 60 + k)

    kernel = timed(blocks, fill, lambda b: play_all(out, kc, ev))
    return kernel, timed(blocks, fill, python_block)


def soundfont(blocks: int) -> tuple[np.ndarray, np.ndarray]:
    python, other = (SoundFontVoice(0, "soundfont:48", "chords", SR) for _ in range(2))
    fv = kfluid.make_font_voice(other)
    for pitch in CHORD:
        python.note_on(0, 0, pitch, 100, 0, pitch)
        kfluid.note_on(fv, 0, pitch, 100)
    tb = np.zeros((1, BLOCK, 2), np.float32)

    def bend_kernel(b: int) -> None:
        kfluid.bend(fv, b * BLOCK + 37, 0.01 * (b % 50))
        tb.fill(0)

    def bend_python(b: int) -> None:
        python.bend(b * BLOCK + 37, 0, 0.01 * (b % 50))
        tb.fill(0)

    try:
        kernel = timed(blocks, bend_kernel, lambda b: kfluid.render(fv, b * BLOCK, BLOCK, tb[0]))
        oracle = timed(blocks, bend_python, lambda b: python.render(b * BLOCK, BLOCK, tb))
    finally:
        python.close()
        other.close()
    return kernel, oracle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=20000, help="blocks per measurement")
    a = ap.parse_args()
    for work in (live_in, midi_out, soundfont):  # compiled (or loaded) before timing
        work(10)
    before = reference_seconds()
    rows = [(work.__name__, *work(a.blocks)) for work in (live_in, midi_out, soundfont)]
    after = reference_seconds()
    ref = (before + after) / 2
    print(
        f"reference workload: {before * 1e6:.0f} us at the start, {after * 1e6:.0f} us at the end"
    )
    print(f"per {BLOCK}-frame block ({BLOCK / SR * 1e3:.2f} ms):")
    print(f"{'work':>10} {'':>7} {'p50':>8} {'p99.9':>8}  {'p50':>8} {'p99.9':>8}")
    for name, kernel, python in rows:
        for side, times in (("kernel", kernel), ("python", python)):
            p50, p999 = np.percentile(times, 50), np.percentile(times, 99.9)
            print(
                f"{name:>10} {side:>7} {p50 * 1e6:>6.1f}us {p999 * 1e6:>6.1f}us  "
                f"{p50 / ref:>4.3f}ref {p999 / ref:>4.3f}ref"
            )


if __name__ == "__main__":
    main()
