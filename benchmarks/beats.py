"""How well hoot's beat tracker follows the evaluation set (benchmarks/beatset.py).

    python benchmarks/beats.py [--split eval] [--category jazz ...] [--clips N] [--json FILE]

Every clip is fed to `hoot.beats.BeatTracker(samplerate, meter=clip.meter, downbeats=True)`
in 256-frame blocks, exactly as the live path feeds it, and the beats it reports are scored
against the clip's reference (what a tapper marks) with mir_eval 0.8.2:

- F: beat F-measure at ±70 ms, first trimmed as mir_eval does (beats before 5 s dropped),
  then untrimmed ("F all"), because the start is what matters live;
- CMLt and AMLt (continuity, 17.5 % tolerance; AMLt also accepts double, half and off-beat),
  trimmed;
- dbF: downbeat F (the reported beats with bar_beat 1 against the reference downbeats),
  trimmed;
- lock: beats from the band's start to the start of the first run of 4 consecutive reported
  beats within ±70 ms of 4 consecutive reference beats (right tempo, right phase); the
  category column is the median, "-" when some clip never locks (counted in "never");
- relock: bars from a tempo step to the first such run that starts at or after it;
- hold: the share of a break (from its third beat to its end) for which the tracker's state
  is "holding";
- late: beats reported from the future (`known` after the end of the block that reported
  them), which must stay 0.

Rows: each category, the numpy-voiced and the SoundFont clips apart (the research's two
sets), and the mean over every clip. CPU is the process time spent in `feed` over the audio
time (a share of one core), printed beside benchmarks/reference.py's reference workload
timed in the same run. When `import aubio` works, aubio's tempo tracker (window 1024, hop 600
at 48 kHz) runs on the same clips as a second table, the baseline; a tracker that cannot be
imported is said so and skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import mir_eval
import numpy as np
from reference import reference_seconds, repository_on_path

BLOCK = 256
TOLERANCE = 0.07  # seconds either side: mir_eval's F-measure window
TRIM = 5.0  # seconds: mir_eval.beat.evaluate drops beats before this
RUN = 4  # consecutive beats that make a lock

COLUMNS = ("F", "F all", "CMLt", "AMLt", "dbF", "lock", "relock", "hold", "late")


@dataclass
class Run:
    """What a tracker reported for one clip."""

    beats: list[tuple[float, float, int | None]] = field(default_factory=list)  # time, known, bar
    states: list[tuple[float, str]] = field(default_factory=list)  # block end (s), state
    late: int = 0  # beats reported from the future
    cpu: float = 0.0  # process seconds in feed


def track(clip, tracker) -> Run:
    """Feed `clip` to `tracker` in BLOCK-frame blocks and record what it says."""
    run = Run()
    audio = np.ascontiguousarray(clip.audio, dtype=np.float32)
    sr = clip.samplerate
    for at in range(0, len(audio), BLOCK):
        block = audio[at : at + BLOCK].copy()  # the tracker's own, as a ring read gives it
        t0 = time.process_time()
        beats = tracker.feed(block)
        run.cpu += time.process_time() - t0
        now = (at + len(block)) / sr
        for beat in beats:
            run.beats.append((float(beat.time), float(beat.known), beat.bar_beat))
            if beat.known > now + 1e-6:
                run.late += 1
        run.states.append((now, tracker.state))
    return run


def _matches(reference: np.ndarray, estimated: np.ndarray) -> np.ndarray:
    """For each estimated beat, the index of the reference beat within ±70 ms of it, or -1."""
    if len(reference) == 0 or len(estimated) == 0:
        return np.full(len(estimated), -1)
    nearest = np.clip(np.searchsorted(reference, estimated), 1, len(reference) - 1)
    left = reference[nearest - 1]
    right = reference[nearest]
    pick = np.where(np.abs(estimated - left) <= np.abs(estimated - right), nearest - 1, nearest)
    return np.where(np.abs(reference[pick] - estimated) <= TOLERANCE, pick, -1)


def lock_runs(reference: np.ndarray, estimated: np.ndarray) -> list[int]:
    """Reference indices where a run of RUN consecutive reported beats hits RUN consecutive
    reference beats begins, in order."""
    hit = _matches(reference, np.sort(estimated))
    starts = []
    for i in range(len(hit) - RUN + 1):
        window = hit[i : i + RUN]
        if window[0] >= 0 and np.all(np.diff(window) == 1):
            starts.append(int(window[0]))
    return starts


def score(clip, run: Run) -> dict:
    """The clip's figures (see the module's docstring); None where a figure does not apply."""
    reference = np.asarray(clip.beats, dtype=float)
    times = np.sort(np.array([b[0] for b in run.beats], dtype=float))
    downs = np.sort(np.array([b[0] for b in run.beats if b[2] == 1], dtype=float))
    ref_t = mir_eval.beat.trim_beats(reference, TRIM)
    est_t = mir_eval.beat.trim_beats(times, TRIM)
    cmlc, cmlt, amlc, amlt = mir_eval.beat.continuity(ref_t, est_t)
    has_bars = any(b[2] is not None for b in run.beats)
    down_f = (
        mir_eval.beat.f_measure(
            mir_eval.beat.trim_beats(np.asarray(clip.downbeats, float), TRIM),
            mir_eval.beat.trim_beats(downs, TRIM),
            TOLERANCE,
        )
        if has_bars
        else None
    )
    starts = lock_runs(reference, times)
    lock = starts[0] if starts else None
    relock = None
    if clip.steps:
        step = int(np.argmin(np.abs(reference - clip.steps[0])))
        after = [s for s in starts if s >= step]
        relock = (after[0] - step) / clip.meter if after else np.inf
    hold = None
    if clip.breaks:
        begin, end = clip.breaks[0]
        inside = reference[(reference >= begin) & (reference < end)]
        begin = inside[2] if len(inside) > 2 else begin
        states = [state for t, state in run.states if begin <= t < end]
        hold = sum(state == "holding" for state in states) / max(len(states), 1)
    return {
        "F": mir_eval.beat.f_measure(ref_t, est_t, TOLERANCE),
        "F all": mir_eval.beat.f_measure(reference, times, TOLERANCE),
        "CMLt": cmlt,
        "AMLt": amlt,
        "dbF": down_f,
        "lock": lock,
        "relock": relock,
        "hold": hold,
        "late": run.late,
    }


def summary(rows: list[dict]) -> dict:
    """Means of the figures over `rows`; lock is the median, a clip that never locked counting
    as infinitely late, and "never" counts those clips."""
    out: dict = {}
    for column in COLUMNS:
        values = [row[column] for row in rows]
        if column == "lock":
            out["never"] = sum(v is None for v in values)
            out[column] = float(np.median([np.inf if v is None else v for v in values]))
            continue
        known = [v for v in values if v is not None]
        out[column] = float(np.mean(known)) if known else None
    return out


def _cell(value, column: str) -> str:
    if value is None:
        return "never" if column == "lock" else "-"
    if column == "late":
        return f"{value:.0f}"
    if column in ("lock", "relock"):
        return "never" if value == np.inf else f"{value:.1f}"
    return f"{value:.3f}"


def table(title: str, rows: list[dict], categories: list[str]) -> str:
    """The per-category table, the means of the numpy-voiced and the SoundFont clips (the
    research's two sets), and the mean over every clip."""
    head = f"{'':10}" + "".join(f"{c:>8}" for c in COLUMNS) + f"{'never':>7}"
    lines = [title, head]
    for name in [*categories, "synth", "soundfont", "mean"]:
        if name == "mean":
            chosen = rows
        elif name in ("synth", "soundfont"):
            chosen = [r for r in rows if r.get("source") == name]
        else:
            chosen = [r for r in rows if r["category"] == name]
        if not chosen:
            continue
        means = summary(chosen)
        cells = "".join(f"{_cell(means[c], c):>8}" for c in COLUMNS)
        lines.append(f"{name:10}{cells}{means['never']:>7}")
    return "\n".join(lines)


class AubioTracker:
    """aubio's tempo tracker behind BeatTracker's feed(): "default" (specflux), window 1024,
    hop samplerate / 80 (600 at 48 kHz: the research's §1.2 found hop 512 at 48 kHz rounds
    the analysis window up to 10.9 s and falls to F 0.64, and hop 600 restores it)."""

    def __init__(self, samplerate: int) -> None:
        import aubio

        self._hop = samplerate // 80
        self._tempo = aubio.tempo("default", 1024, self._hop, samplerate)
        self._pending = np.zeros(0, np.float32)  # waiting for a whole hop
        self._samplerate = samplerate
        self._fed = 0
        self.state = "listening"

    def feed(self, block: np.ndarray) -> list:
        mono = block.mean(axis=1) if block.ndim == 2 else block
        self._fed += len(mono)
        self._pending = np.concatenate([self._pending, mono.astype(np.float32)])
        beats = []
        known = self._fed / self._samplerate
        while len(self._pending) >= self._hop:
            hop, self._pending = self._pending[: self._hop], self._pending[self._hop :]
            if self._tempo(hop)[0]:
                beats.append(_Beat(float(self._tempo.get_last_s()), known, None))
        self.state = "locked" if self._tempo.get_confidence() > 0.1 else "listening"
        return beats


@dataclass(frozen=True)
class _Beat:
    time: float
    known: float
    bar_beat: int | None


def hoot_tracker(clip, listen: str = "onsets"):
    from hoot.beats import BeatTracker

    return BeatTracker(samplerate=clip.samplerate, meter=clip.meter, downbeats=True, listen=listen)


def evaluate(clips, make) -> tuple[list[dict], float, float]:
    """(per-clip rows, process seconds in feed, audio seconds) for trackers made by `make`."""
    rows, cpu, audio = [], 0.0, 0.0
    for clip in clips:
        run = track(clip, make(clip))
        about = {"name": clip.name, "category": clip.category, "source": clip.source}
        rows.append({**about, "style": clip.style, **score(clip, run)})
        cpu += run.cpu
        audio += len(clip.audio) / clip.samplerate
    return rows, cpu, audio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="eval", choices=("tune", "eval"))
    ap.add_argument("--category", action="append", help="only this category (repeatable)")
    ap.add_argument("--clips", type=int, help="at most N clips of each category")
    ap.add_argument("--per-clip", action="store_true", help="also print every clip's row")
    ap.add_argument("--json", metavar="FILE", help="write every clip's figures here")
    ap.add_argument(
        "--learned",
        action="store_true",
        help="also run hoot's tracker with its beat network (listen='learned')",
    )
    a = ap.parse_args()
    repository_on_path()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from beatset import CATEGORIES, clips

    categories = list(a.category or CATEGORIES)
    t0 = time.perf_counter()
    chosen = clips(a.split, categories=tuple(categories), limit=a.clips)
    print(f"{len(chosen)} {a.split} clips built in {time.perf_counter() - t0:.1f} s")
    trackers = {}
    try:
        import hoot.beats  # noqa: F401

        trackers["hoot"] = hoot_tracker
        if a.learned:
            trackers["hoot, learned"] = lambda clip: hoot_tracker(clip, "learned")
    except ImportError as e:
        print(f"hoot's beat tracker is not here ({e}): no hoot table")
    try:
        import aubio  # noqa: F401

        trackers["aubio"] = lambda clip: AubioTracker(clip.samplerate)
    except ImportError:
        print("aubio is not installed here (import aubio failed): no aubio table")
    before = reference_seconds()
    report = {"split": a.split, "trackers": {}}
    for name, make in trackers.items():
        rows, cpu, audio = evaluate(chosen, make)
        print()
        print(table(f"{name} on {len(rows)} {a.split} clips", rows, categories))
        if a.per_clip:
            for row in rows:
                cells = "".join(f"{_cell(row[c], c):>8}" for c in COLUMNS)
                print(f"  {row['name']:18}{cells}  {row['source']} {row['style']}")
        blocks = audio * chosen[0].samplerate / BLOCK
        print(f"CPU: {100 * cpu / audio:.2f} % of one core ({cpu:.2f} s for {audio:.0f} s of "
              f"audio); one {BLOCK}-frame block costs {cpu / blocks * 1e6:.0f} us")  # fmt: skip
        report["trackers"][name] = {"rows": rows, "cpu_share": cpu / audio,
                                    "block_seconds": cpu / blocks}  # fmt: skip
    after = reference_seconds()
    ref = (before + after) / 2
    print(
        f"reference workload: {before * 1e6:.0f} us at the start, {after * 1e6:.0f} us at the end"
    )
    for name, figures in report["trackers"].items():
        print(f"{name}: one block = {figures['block_seconds'] / ref:.2f} ref")
    report["reference_seconds"] = ref
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()
