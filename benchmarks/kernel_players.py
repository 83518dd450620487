"""Cost of the compiled players' block (kernel.players.play) beside the Python player loop.

Load: 8 tracks; 16 beat-locked audio stems of 8 bars (two per track, most a little longer
than their turn, so turns are cut with a fade) and 4 MIDI stems of sixteenth notes (four
notes a beat held half a beat: about 2 note events per 128-frame block each), at 120 BPM,
48 kHz. Both sides do the same work per block: take the (empty) command queue, zero the
track buffers, run every player; notes go to an event buffer (kernel) or to a sink that
drops them (Python), so neither side's synth is timed.

    python benchmarks/kernel_players.py [--seconds 20]

"compiled" times each block inside one compiled call (what a compiled callback spends on
the players); "per call" calls take_commands and play from Python once per block, so it
adds numba's unboxing of the state arrays (tens of microseconds: the integration must call
the core once per block with every state, not once per part); "python" is Engine's loop.

Prints p50, p99.9 and max of one block's time at 128 frames (and 64, 256) as a
percentage of the block period, and p50 and p99.9 in units of the reference workload
(benchmarks/reference.py), timed at the start and the end of the run. Back-to-back calls:
the tail is the code's own jitter, not the machine's wake-up cost. The compiled players
should cost a small part of what the Python loop did (it had about 10 % of the period at
128 frames on these VMs): the rest of the period goes to the synth, the mixer and the
limiter.
"""

from __future__ import annotations

import argparse
import gc
import time

import numba
import numpy as np
from reference import reference_seconds, repository_on_path

from hoot.engine import core
from hoot.engine.kernel import commands as cm
from hoot.engine.kernel import events as ev
from hoot.engine.kernel import players as pl
from hoot.engine.kernel.desk import Desk
from hoot.music.time import TempoMap

repository_on_path()  # the Python engine, our oracle, lives with the tests
from tests.engine.oracle import Engine  # noqa: E402

SR = 48000
TRACKS = ("drums", "bass", "chords", "lead", "pad", "perc", "in1", "in2")


class Mute:
    """A sink that drops the notes: only the players' own work is timed."""

    def note_on(self, *args) -> None:
        pass

    def note_off(self, *args) -> None:
        pass

    def render(self, *args) -> None:
        pass


def the_set() -> list:
    rng = np.random.default_rng(1)
    stems = []
    for i in range(16):
        frames = 8 * 4 * 24000 + i * 17
        audio = (0.05 * rng.standard_normal((frames, 2))).astype(np.float32)
        stems.append((i % len(TRACKS), core.LoadedStem(f"s{i}", audio=audio, length_beats=32.0)))
    on = np.arange(0, 16, 0.25)
    for i in range(4):
        pitch = (48 + (np.arange(len(on)) * (i + 3)) % 24).astype(np.int16)
        stem = core.LoadedStem(
            f"m{i}",
            on_beats=on.copy(),
            on_pitch=pitch,
            on_velocity=np.full(len(on), 100, np.int16),
            off_beats=on + 0.125,
            off_pitch=pitch.copy(),
            length_beats=16.0,
        )
        stems.append((4 + i, stem))
    return [core.Start(track, stem, 0) for track, stem in stems]


def timed(call, blocksize: int, seconds: float) -> np.ndarray:
    period = blocksize / SR
    n = int(seconds / period)
    times = np.zeros(n)
    clock = time.perf_counter
    for i in range(n):
        t0 = clock()
        call()
        times[i] = clock() - t0
    return times / period * 100


@numba.njit(cache=True)  # not kernel's jit: the timer needs object mode, which holds the GIL
def blocks(ring, ps, st, maps, s0, n, count, tracks, events, times) -> None:
    """`count` blocks from s0 in one call, each timed inside the compiled code (the time
    the callback's one call into the core would spend on the players)."""
    for b in range(count):
        with numba.objmode(t0="f8"):
            t0 = time.perf_counter()
        ev.clear(events)
        while cm.take_commands(ring, ps, st, maps, s0, events):
            pass
        tracks[:] = 0
        pl.play(ps, st, maps, s0, n, tracks, events)
        s0 += n
        with numba.objmode(t1="f8"):
            t1 = time.perf_counter()
        times[b] = t1 - t0


def kernel_block(blocksize: int, seconds: float, one_call: bool) -> np.ndarray:
    """The compiled players: called from Python once per block (`one_call`: its cost
    includes numba's unboxing of every state array, about 60 of them), or in one call
    for all the blocks (the players' own cost, as inside a compiled callback)."""
    desk = Desk(TRACKS, TempoMap(SR))
    for cmd in the_set():
        desk.send(cmd)
    events = ev.make_events()
    tracks = np.zeros((len(TRACKS), blocksize, 2), np.float32)
    args = (desk.ring, desk.players, desk.stems, desk.maps)
    if not one_call:
        count = int(seconds * SR / blocksize)
        times = np.zeros(count)
        blocks(*args, 0, blocksize, 200, tracks, events, times)  # compile, warm up
        blocks(*args, 200 * blocksize, blocksize, count, tracks, events, times)
        return times / (blocksize / SR) * 100
    clock = {"s0": 0}

    def block() -> None:
        s0 = clock["s0"]
        ev.clear(events)
        while cm.take_commands(*args, s0, events):
            pass
        tracks.fill(0)
        pl.play(*args[1:], s0, blocksize, tracks, events)
        clock["s0"] = s0 + blocksize

    for _ in range(200):
        block()
    gc.collect()
    return timed(block, blocksize, seconds)


def python_block(blocksize: int, seconds: float) -> np.ndarray:
    engine = Engine(SR, TRACKS)
    engine.sinks = [Mute()] * len(TRACKS)
    for cmd in the_set():
        engine.inbox.append(cmd)
    tb = engine.track_buf[:, :blocksize]
    clock = {"s0": 0}

    def block() -> None:  # Engine._forward up to the players, and the players
        s0 = clock["s0"]
        inbox = engine.inbox
        while inbox:
            engine._apply(inbox.popleft(), s0)
        tb.fill(0)
        for p in engine.players:
            if p.active:
                if p.stem.audio is not None:
                    engine._play_audio(p, s0, blocksize)
                else:
                    engine._play_midi(p, s0, blocksize)
        engine.position = clock["s0"] = s0 + blocksize

    engine.track_buf = tb
    for _ in range(200):
        block()
    gc.collect()
    return timed(block, blocksize, seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="audio time per measurement")
    a = ap.parse_args()
    before = reference_seconds()
    print(f"reference workload: {before * 1e6:.0f} us at the start")
    print("players' block: 16 beat-locked audio stems, 4 MIDI stems, 8 tracks")
    results = []
    for bs in (64, 128, 256):
        results.append((bs, "compiled", kernel_block(bs, a.seconds, one_call=False)))
        results.append((bs, "per call", kernel_block(bs, a.seconds, one_call=True)))
        results.append((bs, "python", python_block(bs, a.seconds)))
    after = reference_seconds()
    ref = (before + after) / 2
    head = f"{'block':>6} {'period':>9} {'players':>9} {'p50':>7} {'p99.9':>7} {'max':>7}"
    print(f"{head}  ref units")
    for bs, name, share in results:
        period = bs / SR
        p50, p999 = np.percentile(share, 50), np.percentile(share, 99.9)
        print(
            f"{bs:>6} {period * 1000:>7.2f}ms {name:>9} {p50:>6.2f}% {p999:>6.2f}% "
            f"{share.max():>6.1f}%  {p50 / 100 * period / ref:.3f} ref "
            f"{p999 / 100 * period / ref:.3f} ref"
        )
    print(f"reference workload: {after * 1e6:.0f} us at the end; 1 ref = {ref * 1e6:.0f} us")


if __name__ == "__main__":
    main()
