"""Cost of the audio callback's work, the compiled core's `kernel.world.process`, as a share
of the audio block's period; beside it, the Python engine it replaced, on the same load.

Load (issue 10's): 16 playing beat-locked audio stems, 32 sounding synth voices, 4 live
inputs fed from device channels (an input block of 4 channels of noise, each input on its
own channel, monitored, as engine.control's SetInput sends them), meters, the recorder armed
with master and per-track files (written by its writer process, as in the server). The issue
names 8 generated tracks, but a Start replaces what plays on its track, so only one stem
sounds per track: 16 sounding stems take 16 generated tracks here (the mixer, meters and
recorder do twice the issue's work for them: the figures are an upper bound). The 32 notes
use the timbres that sustain (3 and 6 are percussive and would fall silent within two
seconds); every row prints the voices and players still sounding at its end.

    python benchmarks/forward_cost.py [--seconds 20]

The compiled core is timed from compiled code: a small @jit loop calls `process` for each
block and reads kernel.callback.now() around it, as the PortAudio callback does; the Python
call that starts the loop is outside the figures (the callback has none). p50, p99.9 and
max as % of the period at 64, 128 and 256 frames, timed two ways:
- back-to-back: blocks one after the other; its tail is the core's own jitter;
- paced: bursts of 16 blocks with a sleep to the end of their 16 periods between, as a
  callback is woken; its tail adds the machine's wake-up cost (cold caches), shown by the
  "floor" row: the same paced loop around a fixed, trivial compiled workload.
The "python" rows time tests/engine/oracle.py's Engine.forward (the engine before issue 10)
at 128 frames on the same stems, voices, meters and recorder; it had no live inputs, so its
4 input rows are silent tracks (mixed, metered and recorded like the others).
Targets (issue 10): p99.9 <= 5 % at 128 frames and <= 10 % at 64.

The timing thread runs SCHED_FIFO at the engine's priority (HOOT_RT_PRIORITY) where the
system allows it, as the audio thread does, so that a busy machine's other processes do not
preempt it mid-block; the header says what it got. --normal times it under the normal
scheduler instead (the tail then mostly measures the machine's load).

These VMs differ about 3x in speed from one to the next, so the run also times a fixed
reference workload (benchmarks/reference.py) at its start and its end, and prints p50 and
p99.9 in units of it too: "0.30 ref" means a block took 0.3 times as long as the reference.
Figures from different machines compare in those units.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from reference import reference_seconds, repository_on_path

from hoot.engine import realtime
from hoot.engine.core import Engine, LoadedStem, SetInput, Start
from hoot.engine.inputs import DEVICE
from hoot.engine.kernel import voices as kv
from hoot.engine.kernel.callback import now
from hoot.engine.kernel.jit import jit
from hoot.engine.kernel.world import process
from hoot.engine.recorder import RecorderProcess
from hoot.engine.server import set_switch_interval

repository_on_path()  # the Python engine, the tests' oracle, lives with the tests
from tests.engine import oracle  # noqa: E402

SR = 48000
STEMS, VOICES, INPUTS = 16, 32, 4
TRACKS = tuple(f"gen{k + 1}" for k in range(STEMS))  # one sounding stem per track
SUSTAINED = (0, 1, 2, 4, 5)  # timbres whose notes sound until released
BURST = 16  # blocks per wake-up in the paced mode
NOISE_FRAMES = 1 << 16  # the device's input: a whole number of blocks of every size timed
TARGETS = {128: 5.0, 64: 10.0}  # p99.9, % of the period


def _stems() -> list[LoadedStem]:
    """16 stems of 8 bars at 120 BPM; most a little longer than their turn, so the turn's
    cut and its fade are part of the work."""
    rng = np.random.default_rng(1)
    stems = []
    for i in range(STEMS):
        frames = 8 * 4 * 24000 + i * 17
        audio = (0.05 * rng.standard_normal((frames, 2))).astype(np.float32)
        stems.append(LoadedStem(f"s{i}", audio=audio, length_beats=32.0))
    return stems


def _recorder(engine, folder: Path, name: str) -> RecorderProcess:
    recorder = RecorderProcess(SR, len(engine.tracks), list(engine.tracks), max_block=4096)
    engine.recorder = recorder
    recorder.start_writer()
    recorder.start(folder, name=name, tracks=True)
    return recorder


def compiled_engine(blocksize: int, folder: Path) -> tuple[Engine, RecorderProcess]:
    engine = Engine(SR, TRACKS, max_voices=VOICES, inputs=INPUTS)
    for i, stem in enumerate(_stems()):
        engine.inbox.append(Start(i % len(TRACKS), stem, 0))
    for r in range(INPUTS):  # input r hears device channel r
        engine.inbox.append(SetInput(r, DEVICE, r, r, None, True))
    recorder = _recorder(engine, folder, f"compiled-{blocksize}")
    for v in range(VOICES):  # notes that keep sounding, spread over tracks and timbres
        timbre = SUSTAINED[v % len(SUSTAINED)]
        kv.note_on(engine.core.voices, 0, v % len(TRACKS), 36 + v, 100, timbre, v)
    return engine, recorder


def python_engine(blocksize: int, folder: Path) -> tuple[oracle.Engine, RecorderProcess]:
    names = TRACKS + tuple(f"input {k + 1}" for k in range(INPUTS))
    engine = oracle.Engine(SR, names, max_voices=VOICES)
    for i, stem in enumerate(_stems()):
        engine.inbox.append(Start(i % len(TRACKS), stem, 0))
    recorder = _recorder(engine, folder, f"python-{blocksize}")
    for v in range(VOICES):
        timbre = SUSTAINED[v % len(SUSTAINED)]
        engine.voices.note_on(0, v % len(TRACKS), 36 + v, 100, timbre, key=v)
    return engine, recorder


@jit
def _blocks(world, device, out, frames, first, count, times, at):
    """`count` blocks of the core, each timed as the callback times it. device: the input
    (NOISE_FRAMES x channels float32), read block by block from block `first` on."""
    per_loop = device.shape[0] // frames
    for b in range(count):
        k = (first + b) % per_loop
        began = now()
        process(world, device[k * frames : (k + 1) * frames], out, frames, device.shape[1])
        times[at + b] = now() - began


@jit
def _trivial(block, out, frames, first, count, times, at):
    """The floor: 20 passes of an add over one block, timed the same way."""
    for b in range(count):
        began = now()
        for _ in range(20):
            for i in range(frames):
                out[i, 0] += block[i, 0]
                out[i, 1] += block[i, 1]
        times[at + b] = now() - began


SCHEDULING = {"realtime": True}  # main() sets it from --normal


def timed(run: Callable[[int, int, np.ndarray, int], None], blocksize: int, seconds: float,
          paced: bool) -> np.ndarray:  # fmt: skip
    """Per-block times as % of the period; run(first, count, times, at) renders and times
    `count` blocks into times[at:]. SCHED_FIFO while it times, where allowed."""
    period = blocksize / SR
    n = int(seconds / period) // BURST * BURST
    times = np.zeros(n)
    if SCHEDULING["realtime"]:
        realtime.raise_this_thread()
    try:
        for at in range(0, n, BURST):
            began = time.perf_counter()
            run(at, BURST, times, at)
            if paced:  # sleep off the rest of the burst's periods, as a callback would
                time.sleep(max(0.0, BURST * period - (time.perf_counter() - began)))
    finally:
        realtime.lower_this_process()  # this thread only: pid 0 is the calling thread
    return times / period * 100


def _figures(share: np.ndarray, **extra: int) -> dict:
    return {
        "p50": float(np.percentile(share, 50)),
        "p99.9": float(np.percentile(share, 99.9)),
        "max": float(share.max()),
        **extra,
    }


def _noise() -> np.ndarray:
    rng = np.random.default_rng(2)
    return (0.1 * rng.standard_normal((NOISE_FRAMES, INPUTS))).astype(np.float32)


def measure_compiled(blocksize: int, seconds: float, folder: Path, paced: bool) -> dict:
    engine, recorder = compiled_engine(blocksize, folder)
    world = engine.core.world()
    device = _noise()
    out = np.zeros((blocksize, 2), np.float32)
    warm = np.zeros(200)
    _blocks(world, device, out, blocksize, 0, 200, warm, 0)  # caches, and the commands
    share = timed(
        lambda first, count, times, at: _blocks(world, device, out, blocksize, first, count,
                                                times, at),
        blocksize, seconds, paced,
    )  # fmt: skip
    recorder.close()
    return _figures(
        share,
        players=int(engine.core.desk.players.active.sum()),
        voices=engine.core.voice_count(),
        faults=engine.faults,
        dropped=recorder.dropped_frames,
    )


def measure_python(blocksize: int, seconds: float, folder: Path, paced: bool) -> dict:
    engine, recorder = python_engine(blocksize, folder)
    out = np.zeros((blocksize, 2), np.float32)
    for _ in range(200):  # warm up caches and the allocator
        engine.forward(out)
    gc.collect()
    gc.freeze()
    clock = time.perf_counter

    def run(first: int, count: int, times: np.ndarray, at: int) -> None:
        for b in range(count):
            began = clock()
            engine.forward(out)
            times[at + b] = clock() - began

    share = timed(run, blocksize, seconds, paced)
    gc.unfreeze()
    recorder.close()
    return _figures(
        share,
        players=sum(p.active for p in engine.players),
        voices=engine.voices.active,
        faults=engine.faults,
        dropped=recorder.dropped_frames,
    )


def floor(blocksize: int, seconds: float) -> dict:
    block = np.full((blocksize, 2), 1e-6, np.float32)
    out = np.zeros((blocksize, 2), np.float32)
    share = timed(
        lambda first, count, times, at: _trivial(block, out, blocksize, first, count, times,
                                                 at),
        blocksize, seconds, paced=True,
    )  # fmt: skip
    return _figures(share, players=0, voices=0, faults=0, dropped=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="audio time per measurement")
    ap.add_argument("--normal", action="store_true", help="time under the normal scheduler")
    a = ap.parse_args()
    SCHEDULING["realtime"] = not a.normal
    if a.normal:
        timing = "normal scheduling (--normal)"
    elif realtime.allowed():
        timing = f"SCHED_FIFO priority {realtime.wanted_priority()}, as the audio thread"
    else:
        timing = "normal scheduling (real-time is not allowed here)"
    interval = set_switch_interval()  # as the engine process does (it matters to python)
    before = reference_seconds()
    print(f"GIL switch interval {interval * 1000:g} ms (as in the engine process)")
    print(f"timing thread: {timing}")
    print(f"reference workload: {before * 1e6:.0f} us at the start")
    print(
        f"one block: {STEMS} stems on {len(TRACKS)} generated tracks, {VOICES} voices, "
        f"{INPUTS} live inputs, meters and recorder on"
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for bs in (64, 128, 256):
            results.append((bs, "compiled", [
                ("back-to-back", measure_compiled(bs, a.seconds, folder, paced=False)),
                ("paced", measure_compiled(bs, a.seconds, folder, paced=True)),
                ("floor", floor(bs, a.seconds)),
            ]))  # fmt: skip
        results.append((128, "python", [
            ("back-to-back", measure_python(128, a.seconds, folder, paced=False)),
            ("paced", measure_python(128, a.seconds, folder, paced=True)),
        ]))  # fmt: skip
    after = reference_seconds()
    ref = (before + after) / 2
    print(
        f"{'block':>6} {'period':>9} {'core':>9} {'mode':>13} {'p50':>7} {'p99.9':>7} "
        f"{'max':>7}  {'p50':>8} {'p99.9':>8}  players voices faults dropped"
    )
    verdicts = []
    for bs, core, rows in results:
        period = bs / SR
        for mode, r in rows:
            units = [r[k] / 100 * period / ref for k in ("p50", "p99.9")]
            print(
                f"{bs:>6} {period * 1000:>7.2f}ms {core:>9} {mode:>13} {r['p50']:>6.2f}% "
                f"{r['p99.9']:>6.2f}% {r['max']:>6.1f}%  {units[0]:>4.3f} ref "
                f"{units[1]:>4.3f} ref  {r['players']:>7} {r['voices']:>6} {r['faults']:>6} "
                f"{r['dropped']:>7}"
            )
            if core == "compiled" and mode != "floor" and bs in TARGETS:
                ok = "ok" if r["p99.9"] <= TARGETS[bs] else "MISSED"
                verdicts.append(f"{bs} frames {mode}: p99.9 {r['p99.9']:.2f}% "
                                f"<= {TARGETS[bs]:g}% {ok}")  # fmt: skip
    print(f"reference workload: {after * 1e6:.0f} us at the end; 1 ref = {ref * 1e6:.0f} us")
    print("targets (issue 10): " + "; ".join(verdicts))


if __name__ == "__main__":
    main()
