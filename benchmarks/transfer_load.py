"""Timbre transfer on the real engine: input-to-output latency, and how many transfers fit.

    python benchmarks/transfer_load.py [--model PATH|NAME] [--period 128] [--seconds 60]
                                       [--clicks 20] [--most 7]

On a JACK dummy server (48 kHz, `--period` frames), the real engine playing a set (six
tracks: benchmarks/soak.py's), perf and the real-time layer's voice processes:

1. Latency. A click track at 120 BPM (perf.input(signal="clicks 120")) plays through
   perf.transfer with the model; perf.record(tracks=True) records the input and the
   model's track on one sample clock. Each click's onset is found on both tracks by the
   same rise (the first sample whose distance from the 50 ms before it passes 5% of the
   click's peak and 4x that quiet's own spread), which holds for a real timbre-transfer
   model whose output is not its input; a model that hums a repeating pattern while its
   input is silent (the random stand-in below: its frame's waveform, over and over) is
   measured by where it departs from that pattern. The symmetric detector costs the
   figures a sample or two. A click whose answer the engine played as silence (runs of
   exact zeros: samples the model was late for) is counted as lost, not timed. The
   offset is what the transfer adds; the model declares its latency (perf.models
   latency_samples: Stream.latency + one or two engine blocks of margin). A block model
   answers a whole latent frame at once, so a click late in a frame is heard from that
   frame's start: offsets spread up to ratio - 1 samples below the declared figure, never
   above it. What a player hears from their instrument to the model's sound is the
   device's round trip (perf.latency: measured on a JACK loopback, as hoot doctor
   does) plus that offset.
2. Load. k = 0 (idle: the set plays, no transfer), then 1, 2, 3... inputs, each with its
   own transfer (its own voice process), each phase `--seconds` long after the newest
   voice runs: engine xruns (its status, as soak.py counts them), the samples each
   transfer's return row found unwritten (perf.models `late`) and blocks it dropped, and
   the CPU% of the voices and the engine (from /proc). The engine has 8 input rows and a
   transfer's output takes one, so past 4 the transfers share inputs (k + inputs <= 8).
   k stops growing after the first k with more xruns than idle, or late samples, or a
   voice that failed (with --all it goes on to --most, to show how it degrades; the
   verdict is still the last k before the first such phase).

The embedded model (models/rave-hoot.ts) is the default; until it is there the benchmark
says so and uses hoot.realtime.nn_tilde's "conv" module (random weights, ratio 128,
48 kHz mono: the embedded model's shape) built in a temporary folder, labelled as such.
This process stays torch-free, as the UI does: the conv module is built by a subprocess.
The reference workload (benchmarks/reference.py) is timed at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
from midi_rig import engine_on_jack
from reference import reference_seconds
from soak import a_set

from hoot.engine.inputs import INPUT_ROWS
from hoot.errors import HootError
from hoot.performance import EMBEDDED_AUDIO, Live, Performance, _audio_model

SR = 48000
CLICK_BPM = 120
SETTLE_S = 2.0  # after a voice runs: its first blocks, torch's allocator, the caches
START_S = 180.0  # a voice loading torch and its model on a busy 2-core machine
PRE_S = 0.05  # the quiet before a click that an onset is measured against
RISE = 0.05  # an onset: the first sample past this share of the click's peak deviation
MOST_PERIOD = 4096  # samples: the longest hum looked for (a RAVE v2 frame is 2048)
GAP = 32  # exact zeros in a row on a model's track: samples it was late for
CLK = os.sysconf("SC_CLK_TCK")


def pick_model(given: str | None, folder: Path) -> tuple[Path, str]:
    """The model file and how the report names it."""
    if given is not None:
        path = _audio_model(given)
        return path, path.stem
    if EMBEDDED_AUDIO.is_file():
        return EMBEDDED_AUDIO, f"{EMBEDDED_AUDIO.stem} (embedded)"
    print(f"{EMBEDDED_AUDIO} is not here yet (models/train_rave.py makes it): using "
          "nn_tilde 'conv' (random weights, ratio 128, 48 kHz mono) in its place")  # fmt: skip
    path = folder / "conv.ts"
    build = f"from hoot.realtime import nn_tilde; nn_tilde.build('conv', {str(path)!r})"
    subprocess.run([sys.executable, "-c", build], check=True, cwd=Path(__file__).parents[1])
    return path, "nn_tilde conv (stand-in: random weights, ratio 128)"


def wait_running(live: Live, what: str) -> None:
    """Until the voice runs and has declared its latency; a HootError if it fails."""
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        status = live.status
        if status is not None and status.state == "failed":
            raise HootError(f"{what} failed: {status.line()}")
        if status is not None and status.state == "running" and status.latency_samples:
            return
        time.sleep(0.1)
    raise HootError(f"{what} did not start within {START_S:.0f} s")


# ---- 1. latency ------------------------------------------------------------------------


def click_starts(x: np.ndarray) -> np.ndarray:
    """The input's clicks: where it rises out of silence (a gap of 0.1 s at least)."""
    loud = np.flatnonzero(np.abs(x) > 0.05)
    if not len(loud):
        return loud
    return loud[np.r_[True, np.diff(loud) > SR // 10]]


def pattern(quiet: np.ndarray) -> int:
    """The period (samples) of what a model plays while its input is silent, when it
    repeats one (a stand-in with random weights hums its frame's waveform over and over:
    period = its ratio), else 0 (silence, or a real model's noise floor)."""
    spread = float(np.max(np.abs(quiet - np.median(quiet)))) if len(quiet) else 0.0
    if spread < 1e-4 or len(quiet) < 2 * MOST_PERIOD:
        return 0
    misses = [float(np.max(np.abs(quiet[n:] - quiet[:-n]))) for n in range(1, MOST_PERIOD + 1)]
    best = int(np.argmin(misses))
    return best + 1 if misses[best] <= 0.1 * spread else 0


def novelty(x: np.ndarray, period: int) -> np.ndarray:
    """How far each sample departs from what the track was doing: from the same point of
    its pattern one period earlier (a humming stand-in), else the sample itself (an
    energy rise out of silence or a noise floor, measured from the quiet's median in
    `onset`)."""
    if not period:
        return x
    return np.concatenate([np.zeros(period, x.dtype), x[period:] - x[:-period]])


def onset(x: np.ndarray, near: int, within: int) -> int | None:
    """The first sample in [near, near + within) whose distance from the median of the
    PRE_S before `near` passes RISE of the largest there (and 4x the quiet's own spread):
    None where nothing rises."""
    pre = x[max(0, near - int(PRE_S * SR)) : near]
    if len(pre) < SR // 100 or near + within > len(x):
        return None
    base = float(np.median(pre))
    quiet = float(np.max(np.abs(pre - base)))
    dev = np.abs(x[near : near + within] - base)
    peak = float(dev.max())
    if peak <= 4 * quiet + 1e-5:
        return None
    return near + int(np.argmax(dev > max(RISE * peak, 4 * quiet)))


def unwritten(wet: np.ndarray) -> np.ndarray:
    """Where the model's track holds runs of GAP or more exact zeros: samples the engine
    found unwritten (late) and played as silence; a model sounding never rests on 0.0."""
    zero = np.r_[False, wet == 0.0, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(zero))
    mask = np.zeros(len(wet), bool)
    for begin, end in zip(edges[::2], edges[1::2], strict=True):
        if end - begin >= GAP:
            mask[begin:end] = True
    return mask


def offsets(dry: np.ndarray, wet: np.ndarray, declared: int) -> dict:
    """Samples from each click's onset on the input to its onset on the model's track
    ("found"); clicks with no onset there ("missing"); clicks whose answer, or the quiet
    before it, the engine played as silence for want of the model's samples ("lost": a
    dropped block, not a latency); the period of the model's hum (0: none)."""
    starts = [int(x) for x in click_starts(dry)]
    gaps = unwritten(wet)
    quiet = int(0.3 * SR)  # before a click, after the previous answer
    period = next((found for c in starts[1:] if not gaps[c - quiet : c].any()
                   and (found := pattern(wet[c - quiet : c]))), 0)  # fmt: skip
    wet = novelty(wet, period)
    found, missing, lost = [], 0, 0
    beat = round(60 * SR / CLICK_BPM)
    within = min(beat - int(2 * PRE_S * SR), declared + SR // 5)
    for start in starts:
        heard = onset(dry, start, SR // 100)
        if heard is None or heard < period + int(PRE_S * SR):
            continue
        silent = gaps[heard - int(PRE_S * SR) - period : heard + within]
        if silent.any() and not silent.all():
            lost += 1
            continue
        answer = onset(wet, heard, within)  # from the input's onset, within the beat
        if answer is None:
            missing += 1
        else:
            found.append(answer - heard)
    return {"offsets": found, "missing": missing, "lost": lost, "period": period}


def latency_part(perf: Performance, model: Path, clicks: int) -> dict:
    """Clicks through a transfer, both tracks recorded; the offsets and what is declared."""
    perf.input("clicks", signal=f"clicks {CLICK_BPM}")
    live = perf.transfer("clicks", model=model, name="clicks_model")
    try:
        wait_running(live, "the transfer")
        time.sleep(SETTLE_S)
        late = live.status.late
        perf.record(tracks=True, name="latency")
        time.sleep(clicks * 60 / CLICK_BPM + 0.5)
        files = perf.stop_recording()
        status = live.status
    finally:
        live.stop()
        perf.remove_input("clicks")
    track = {f.stem.removeprefix("latency-"): f for f in files}
    dry = sf.read(str(track["clicks"]), dtype="float32")[0].mean(axis=1)
    wet = sf.read(str(track["clicks_model"]), dtype="float32")[0].mean(axis=1)
    return {"declared": status.latency_samples, "late": status.late - late,
            "line": status.line(), **offsets(dry, wet, status.latency_samples)}  # fmt: skip


# ---- 2. load -----------------------------------------------------------------------------


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of process `pid` so far (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except (OSError, ValueError, IndexError):
        return 0.0


def load_phase(perf: Performance, engine, lives: list[Live], seconds: float) -> dict:
    """`seconds` of the set with `lives` playing: engine xruns, each transfer's late
    samples and dropped blocks, the voices' and the engine's CPU%."""
    layer = perf._realtime
    voices = {live.out: layer.pid(live.out) for live in lives} if layer else {}

    def dropped() -> int:  # blocks the transfers dropped (their heartbeats say)
        return sum(layer._voices[live.out].status.get("dropped", 0) for live in lives)

    late0 = {live.out: live.status.late for live in lives}
    dropped0 = dropped() if lives else 0
    cpu0 = {name: cpu_seconds(pid) for name, pid in voices.items()}
    engine0 = cpu_seconds(engine.info.pid)
    start, wall0 = engine.status(), time.monotonic()
    time.sleep(seconds)
    end, wall = engine.status(), time.monotonic() - wall0
    statuses = {live.out: live.status for live in lives}
    return {
        "xruns": end.xruns - start.xruns,
        "played": (end.position - start.position) / SR,
        "late": sum(statuses[n].late - late0[n] for n in late0),
        "dropped": (dropped() if lives else 0) - dropped0,
        "failed": [n for n, s in statuses.items() if s.state != "running"],
        "restarts": sum(s.restarts for s in statuses.values()),
        "voice_cpu": [100 * (cpu_seconds(pid) - cpu0[n]) / wall for n, pid in voices.items()],
        "engine_cpu": 100 * (cpu_seconds(engine.info.pid) - engine0) / wall,
        "p95_ms": max((s.p95_ms or 0.0 for s in statuses.values()), default=0.0),
        "inputs": len({live.settings.get("source") for live in lives}),
    }


Row = tuple[int, dict]  # k and what its phase found


def load_part(perf: Performance, engine, model: Path, seconds: float, most: int,
              report: Callable[[int, dict], None], go_on: bool = False,
              ) -> tuple[dict, list[Row]]:  # fmt: skip
    """Idle, then one more transfer per phase until one shows xruns above idle, late
    samples or a failure (unless `go_on`), or `most` or the engine's rows are reached."""
    idle = load_phase(perf, engine, [], seconds)
    report(0, idle)
    lives: list[Live] = []
    rows: list[Row] = []
    try:
        for k in range(1, most + 1):
            inputs = min(k, INPUT_ROWS - k)
            if inputs < 1:
                break
            source = f"player{(k - 1) % inputs + 1}"
            if source not in perf.tracks:
                perf.input(source, signal=f"sine {110 * (k + 1)}")
            name = f"{source}~" if k <= inputs else f"{source}~{k}"
            lives.append(perf.transfer(source, model=model, name=name))
            try:
                wait_running(lives[-1], f"transfer {k}")
            except HootError as e:
                print(f"  k={k}: {e}")
                break
            time.sleep(SETTLE_S)
            found = load_phase(perf, engine, lives, seconds)
            rows.append((k, found))
            report(k, found)
            if found["failed"] or (not go_on and over(found, idle)):
                break
    finally:
        for live in lives:
            live.stop()
    return idle, rows


def over(found: dict, idle: dict) -> bool:
    """Whether a phase did worse than idle: more xruns, late samples or a failed voice."""
    return found["xruns"] > idle["xruns"] or bool(found["late"]) or bool(found["failed"])


def row_text(k: int, r: dict) -> str:
    cpu = r["voice_cpu"]
    each = f"{np.mean(cpu):5.1f}" if cpu else "    -"
    total = f"{sum(cpu):6.1f}" if cpu else "     -"
    failed = f"  FAILED {', '.join(r['failed'])}" if r["failed"] else ""
    restarts = f"  {r['restarts']} restarts" if r["restarts"] else ""
    return (f"  {k:2d}  {r.get('inputs', 0):6d}  {r['xruns']:5d}  {r['late']:7d}  "
            f"{r['dropped']:7d}  {each}  {total}  {r['engine_cpu']:6.1f}  "
            f"{r['p95_ms']:6.2f}  {r['played']:6.1f}{failed}{restarts}")  # fmt: skip


HEADER = ("   k  inputs  xruns     late  dropped  cpu/voice  voices  engine  "
          "p95 ms  played s")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="a RAVE .ts by path or name in models/ "
                    "(default: the embedded one, else nn_tilde conv as a stand-in)")  # fmt: skip
    ap.add_argument("--period", type=int, default=128, help="JACK frames per period")
    ap.add_argument("--seconds", type=float, default=60.0, help="per load phase")
    ap.add_argument("--clicks", type=int, default=20, help="clicks timed for the latency")
    ap.add_argument("--most", type=int, default=INPUT_ROWS - 1, help="transfers at most")
    ap.add_argument("--all", action="store_true",
                    help="go on to --most past the first phase worse than idle")  # fmt: skip
    a = ap.parse_args()
    before = reference_seconds()
    print(f"reference workload at the start: {before * 1e3:.3f} ms")
    with tempfile.TemporaryDirectory() as folder:
        model, label = pick_model(a.model, Path(folder))
        print(f"transfers through {label}: JACK dummy, {SR} Hz, {a.period}-frame periods "
              f"({a.period / SR * 1e3:.2f} ms), {a.seconds:g} s per load phase")  # fmt: skip
        with engine_on_jack("hoot-transfer-bench", a.period) as (perf, engine, tmp):
            a_set(perf, tmp)
            time.sleep(1)
            trip = perf.latency
            lat = latency_part(perf, model, a.clicks)
            print_latency(lat, trip)
            print(f"load: k transfers at once beside the set, {a.seconds:g} s each")
            print(HEADER)
            idle, rows = load_part(perf, engine, model, a.seconds, a.most,
                                   lambda k, r: print(row_text(k, r), flush=True),
                                   a.all)  # fmt: skip
            perf.close()
    print_verdict(idle, rows, a.most)
    after = reference_seconds()
    print(f"reference workload at the end: {after * 1e3:.3f} ms")


def print_latency(lat: dict, trip) -> None:
    d = lat["declared"]
    ms = 1e3 / SR
    print(f"latency, input to the model's track (engine samples; {len(lat['offsets'])} clicks"
          f", {lat['missing']} without an onset on the model's track, {lat['lost']} lost to "
          "late samples):")  # fmt: skip
    print(f"  declared (perf.models latency_samples): {d} samples, {d * ms:.2f} ms")
    if lat["offsets"]:
        x = np.asarray(lat["offsets"])
        p50, top, low = int(np.median(x)), int(x.max()), int(x.min())
        print(f"  measured onset to onset: p50 {p50} samples ({p50 * ms:.2f} ms), max {top} "
              f"({top * ms:.2f} ms), min {low} ({low * ms:.2f} ms); max - declared "
              f"{top - d:+d}")  # fmt: skip
        total = trip.frames + p50
        print(f"  device round trip (perf.latency): {trip.frames} frames, {trip.ms:.2f} ms "
              f"({trip.how})")  # fmt: skip
        print(f"  a player hears the model {total} samples ({total * ms:.2f} ms) after they "
              f"play: round trip + p50; with the declared latency {trip.frames + d} "
              f"({(trip.frames + d) * ms:.2f} ms)")  # fmt: skip
    if lat["period"]:
        print(f"  the model hums a {lat['period']}-sample pattern in silence: its onsets are "
              "where it departs from its pattern")  # fmt: skip
    print(f"  the transfer: {lat['line']}; {lat['late']} samples late while recorded")


def print_verdict(idle: dict, rows: list[Row], most: int) -> None:
    fit = 0
    for k, r in rows:
        if over(r, idle):
            break
        fit = k
    reached = fit == len(rows) and fit >= min(most, INPUT_ROWS - 1)
    prefix = "at least " if reached else ""
    print(f"verdict: {prefix}{fit} transfer{'s' if fit != 1 else ''} run at once without xruns "
          f"on this machine (idle: {idle['xruns']} xruns in {idle['played']:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
