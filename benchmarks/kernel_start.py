"""What the compiled core costs at start: cold (first start: numba compiles) and warm (the
machine code comes from the cache), each in a fresh process.

    python benchmarks/kernel_start.py [--runs 3]

The kernel timed is a stand-in of the engine's size until the lead's integration exists:
16 stems read through a gain glide into 8 tracks, 32 sine voices with an attack-release
envelope, a lookahead peak limiter on the master, meters, and live inputs passed to their
tracks; its world is 4 NamedTuples and 20 arrays. Each run gets empty cache folders (both
the generated callback's and numba's, NUMBA_CACHE_DIR) for "cold"; "warm" reruns on
them. Figures: seconds to import the kernel, to build the callback, and the process's
whole life. The issue's targets: a first start at most 30 s, a warm `hoot tui` in 2 s.
Printed beside the reference workload (benchmarks/reference.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from hoot.engine.kernel.jit import jit  # noqa: E402

STEMS, TRACKS, VOICES, INPUTS, LOOKAHEAD = 16, 8, 32, 4, 64


class Stems(NamedTuple):
    audio: np.ndarray  # float32 (STEMS, 48000, 2)
    position: np.ndarray  # int64 (STEMS,)
    track: np.ndarray  # int64 (STEMS,)


class Voices(NamedTuple):
    phase: np.ndarray  # float64 (VOICES,)
    step: np.ndarray  # float64 (VOICES,)
    level: np.ndarray  # float32 (VOICES,)
    target: np.ndarray  # float32 (VOICES,)
    track: np.ndarray  # int64 (VOICES,)


class Mix(NamedTuple):
    gain: np.ndarray  # float32 (TRACKS,)
    goal: np.ndarray  # float32 (TRACKS,)
    bus: np.ndarray  # float32 (4096, TRACKS, 2)
    meters: np.ndarray  # float32 (TRACKS + 1, 2)
    delay: np.ndarray  # float32 (LOOKAHEAD, 2)
    limiter: np.ndarray  # float64 (3,): reduction, write index, ceiling


class World(NamedTuple):
    stems: Stems
    voices: Voices
    mix: Mix
    input_track: np.ndarray  # int64 (INPUTS,)


def make_world() -> World:
    rng = np.random.default_rng(0)
    stems = Stems(
        (rng.standard_normal((STEMS, 48000, 2)) * 0.05).astype(np.float32),
        np.zeros(STEMS, np.int64),
        np.arange(STEMS, dtype=np.int64) % TRACKS,
    )
    voices = Voices(
        np.zeros(VOICES),
        np.linspace(110, 880, VOICES) / 48000,
        np.zeros(VOICES, np.float32),
        np.full(VOICES, 0.05, np.float32),
        np.arange(VOICES, dtype=np.int64) % TRACKS,
    )
    mix = Mix(
        np.ones(TRACKS, np.float32),
        np.full(TRACKS, 0.7, np.float32),
        np.zeros((4096, TRACKS, 2), np.float32),
        np.zeros((TRACKS + 1, 2), np.float32),
        np.zeros((LOOKAHEAD, 2), np.float32),
        np.array([1.0, 0.0, 0.966]),
    )
    return World(stems, voices, mix, np.arange(INPUTS, dtype=np.int64) % TRACKS)


@jit
def process(world: World, inp: np.ndarray, out: np.ndarray, frames: int, in_channels: int):
    st, vo, mx = world.stems, world.voices, world.mix
    bus = mx.bus
    bus[:frames] = 0.0
    length = st.audio.shape[1]
    for s in range(st.audio.shape[0]):
        t, p = st.track[s], st.position[s]
        for i in range(frames):
            bus[i, t, 0] += st.audio[s, (p + i) % length, 0]
            bus[i, t, 1] += st.audio[s, (p + i) % length, 1]
        st.position[s] = (p + frames) % length
    for v in range(vo.phase.shape[0]):
        t, phase, level = vo.track[v], vo.phase[v], vo.level[v]
        for i in range(frames):
            level += (vo.target[v] - level) * np.float32(0.001)
            sample = np.float32(np.sin(2.0 * np.pi * phase)) * level
            bus[i, t, 0] += sample
            bus[i, t, 1] += sample
            phase += vo.step[v]
            if phase >= 1.0:
                phase -= 1.0
        vo.phase[v], vo.level[v] = phase, level
    for c in range(in_channels):
        t = world.input_track[c % world.input_track.shape[0]]
        for i in range(frames):
            bus[i, t, c % 2] += inp[i, c]
    mx.meters[:] = 0.0
    delay, lim = mx.delay, mx.limiter
    for i in range(frames):
        left = np.float32(0.0)
        right = np.float32(0.0)
        for t in range(bus.shape[1]):
            mx.gain[t] += (mx.goal[t] - mx.gain[t]) * np.float32(0.002)
            a, b = bus[i, t, 0] * mx.gain[t], bus[i, t, 1] * mx.gain[t]
            mx.meters[t, 0] = max(mx.meters[t, 0], abs(a))
            mx.meters[t, 1] = max(mx.meters[t, 1], abs(b))
            left += a
            right += b
        w = int(lim[1])
        peak = max(abs(left), abs(right))
        wanted = min(1.0, lim[2] / peak) if peak > 0 else 1.0
        lim[0] = wanted if wanted < lim[0] else lim[0] + (1.0 - lim[0]) * 0.0005
        delayed_l, delayed_r = delay[w, 0], delay[w, 1]
        delay[w, 0], delay[w, 1] = left, right
        lim[1] = (w + 1) % delay.shape[0]
        out[i, 0] = delayed_l * np.float32(lim[0])
        out[i, 1] = delayed_r * np.float32(lim[0])
        mx.meters[TRACKS, 0] = max(mx.meters[TRACKS, 0], abs(out[i, 0]))
        mx.meters[TRACKS, 1] = max(mx.meters[TRACKS, 1], abs(out[i, 1]))


CHILD = """
import json, sys, time
began = time.perf_counter()
from hoot.engine.kernel.callback import build_callback
import kernel_start
imported = time.perf_counter()
built = build_callback(kernel_start.process, kernel_start.make_world(), in_channels=4,
                       folder=kernel_start.Path(sys.argv[1]))
done = time.perf_counter()
print(json.dumps({"import": imported - began, "build": done - imported, "cold": built.cold}))
"""


def start(folder: Path) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(folder / "numba")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "benchmarks")])
    began = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder / "kernel")],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    figures = json.loads(child.stdout.splitlines()[-1])
    figures["process"] = time.perf_counter() - began
    return figures


def main() -> None:
    from reference import reference_seconds

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ref = reference_seconds()
    print(f"reference workload: {ref * 1e6:.0f} us")
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as scratch:
            for label in ("cold", "warm"):
                f = start(Path(scratch))
                assert f["cold"] == (label == "cold"), f
                print(
                    f"run {run + 1} {label}: import {f['import']:.2f} s, build "
                    f"{f['build']:.2f} s, whole process {f['process']:.2f} s "
                    f"({f['build'] / ref:.0f} ref)"
                )


if __name__ == "__main__":
    main()
