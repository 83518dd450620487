"""A band on the JACK dummy server, and hoot following it, measured as a listener hears it.

`band_clip` synthesises a drum groove with numpy (kick on 1 and 3, snare on 2 and 4, hats on
the eighths; a 20 ms noise marker at its start) over a tempo plan with a ramp, and knows
its true beats and downbeats. `Band` is a JACK client that plays it into hoot's first
input and, in the same process callback, records hoot's two outputs: the band's sound
and hoot's reach the listener on one frame clock, so an error is a difference of frames.

`follow_band` runs the whole rig on a live engine: hoot listens to its input "band"
(not monitored, so its output is only its own), a one-beat click loop on perc, panned
left, sounds each of hoot's beats, and once hoot has followed for LOCKED_BARS after the
tracker's lock a one-bar stem with one click, on drums, panned right, is queued at the
next bar: it sounds hoot's downbeats. The errors are read from the recording.
Used by tests/control/test_follow_e2e.py and benchmarks/follow.py.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.control.standin_tracker import StandInTracker

SR = 48000
START_S = 0.5  # the band's first beat, after the marker
PLAN = ((120.0, 24), (132.0, 16), (132.0, 16))  # (BPM reached, beats): 24 at 120, a ramp, 16
LOCKED_BARS = 2  # bars hoot follows after the lock before the downbeat stem is queued
CLICK = 0.5  # the clicks' level
THRESHOLD = 0.02  # an onset: the first sample over this (a click peaks at 0.14 after the mix)


@dataclass
class Clip:
    audio: np.ndarray  # float32 mono
    beats: np.ndarray  # frames of the true beats
    downbeats: np.ndarray  # frames of the true downbeats
    ramp: tuple[int, int]  # frames where the ramp starts and ends


def band_clip(plan=PLAN, seed: int = 11) -> Clip:
    """The groove over `plan` [(bpm reached, beats)]: a tempo moves linearly from the
    previous step's to the step's BPM (equal: steady)."""
    rng = np.random.default_rng(seed)
    times, t, bpm, eighths, ramp = [], START_S, plan[0][0], [], [0.0, 0.0]
    for target, beats in plan:
        if target != bpm:
            ramp[0] = t
        for k in range(beats):
            now = bpm + (target - bpm) * (k + 0.5) / beats
            times.append(t)
            eighths.append(t + 30.0 / now)
            t += 60.0 / now
        if target != bpm:
            ramp[1] = t
        bpm = target
    length = int((t + 1.0) * SR)
    audio = np.zeros(length, np.float32)
    audio[: SR // 50] = rng.uniform(-0.5, 0.5, SR // 50)  # the marker
    n = np.arange(int(0.25 * SR)) / SR
    decay = np.exp(-n * 25)
    kick = np.sin(2 * np.pi * (50 * n + 70 * (1 - np.exp(-n * 30)) / 30)) * np.exp(-n * 18)
    snare = rng.normal(0, 0.35, len(n)) * decay**1.2 + 0.3 * np.sin(2 * np.pi * 190 * n) * decay
    m = int(0.03 * SR)
    hat = np.diff(rng.normal(0, 0.2, m + 1)) * np.exp(-np.arange(m) / SR * 150)

    def put(sound: np.ndarray, at: float, gain: float) -> None:
        k = int(round(at * SR))
        m = min(len(sound), length - k)
        audio[k : k + m] += gain * sound[:m].astype(np.float32)

    for i, beat in enumerate(times):
        put(kick if i % 2 == 0 else snare, beat, 0.6)
        put(hat, beat, 0.25)
        put(hat, eighths[i], 0.18)
    frames = np.round(np.array(times) * SR).astype(int)
    return Clip(audio, frames, frames[::4], (int(ramp[0] * SR), int(ramp[1] * SR)))


def click_stems(folder: Path) -> tuple[Path, Path]:
    """A one-beat click (beat-locked: each turn of its loop starts on hoot's beat) and a
    one-bar stem with one click at its start (hoot's downbeat)."""
    folder.mkdir(parents=True, exist_ok=True)
    click = (CLICK * np.sin(2 * np.pi * 2000 * np.arange(96) / SR)).astype(np.float32)
    paths = []
    for name, bars in (("beat-click", 0.25), ("bar-click", 1.0)):
        audio = np.zeros((int(0.2 * SR), 2), np.float32)
        audio[: len(click)] = click[:, None]
        path = folder / f"{name}.wav"
        sf.write(path, audio, SR, subtype="FLOAT")
        path.with_suffix(".json").write_text(json.dumps({"bars": bars, "beats_per_bar": 4}))
        paths.append(path)
    return paths[0], paths[1]


class Band:
    """A JACK client playing `clip` into hoot's input once `go` is set, and recording hoot's
    outputs on the same frame clock (`heard`: 2 x frames)."""

    def __init__(self, clip: Clip) -> None:
        import jack

        self.clip = clip
        self.heard = np.zeros((2, len(clip.audio)), np.float32)
        self.played = 0
        self.go = threading.Event()
        self.done = threading.Event()
        self.client = jack.Client("hoot-test-band", no_start_server=True)
        self.out = self.client.outports.register("out")
        self.ins = [self.client.inports.register(f"in_{i}") for i in range(2)]
        self.client.set_process_callback(self._process)

    def _process(self, frames: int) -> None:
        out = self.out.get_array()
        if not self.go.is_set() or self.done.is_set():
            out[:] = 0.0
            return
        k, n = self.played, len(self.clip.audio)
        m = max(0, min(frames, n - k))
        out[:m] = self.clip.audio[k : k + m]
        out[m:] = 0.0
        for i, port in enumerate(self.ins):
            self.heard[i, k : k + m] = port.get_array()[:m]
        self.played += frames
        if self.played >= n:
            self.done.set()

    def connect(self, hoot_client: str) -> None:
        self.client.activate()
        self.client.connect(self.out, f"{hoot_client}:in_0")
        for i, port in enumerate(self.ins):
            self.client.connect(f"{hoot_client}:out_{i}", port)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def onsets(signal: np.ndarray, threshold: float = THRESHOLD, gap: int = SR // 10) -> np.ndarray:
    """Frames where `signal` first rises over `threshold` after `gap` frames below it."""
    over = np.flatnonzero(np.abs(signal) > threshold)
    if not len(over):
        return over
    keep = np.concatenate(([True], np.diff(over) > gap))
    return over[keep]


def nearest_ms(frames: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For each of `frames`, its signed distance (ms) from the nearest of `truth`."""
    if not len(frames):
        return np.zeros(0)
    i = np.abs(frames[:, None] - truth[None, :]).argmin(axis=1)
    return (frames - truth[i]) / SR * 1000


@dataclass
class Followed:
    """What a listener heard: hoot's beat clicks and downbeat clicks against the band's."""

    grid_ms: np.ndarray  # each of hoot's beats from the lock on: distance from the band's
    ramp_ms: np.ndarray  # those in the ramp and after it
    downbeat_ms: np.ndarray  # each downbeat click: distance from the band's nearest downbeat
    on_a_downbeat: bool  # whether the first downbeat click is nearest a downbeat, not a beat
    locked_beats: float  # band beats from its first until the tracker locked
    round_trip: int  # frames hoot made up for
    anchors: list[int]  # band frames at which hoot's bars were moved onto the band's
    bar_start: int  # hoot's sample the downbeat stem was queued to start at
    downbeats_heard: np.ndarray  # band frames of the downbeat clicks
    beats_heard: np.ndarray  # band frames of all the beat clicks
    xruns: int  # the engine's xruns while the band played: after one on these loaded VMs,
    # hoot's output was heard whole JACK periods later than perf.latency had measured
    proposals: int  # tempo changes the follower sent


class MarkerOracle(StandInTracker):
    """A tracker that knows the clip: it finds the marker in what it is fed and reports the
    clip's true beats from there (after StandInTracker's delay), so the rig, the ring's
    clock and the round trip are tested apart from any tracker's accuracy."""

    def __init__(self, clip: Clip) -> None:
        bars = [i % 4 + 1 for i in range(len(clip.beats))]
        super().__init__([], bars, samplerate=SR)
        self.clip = clip

    def feed(self, block: np.ndarray) -> list:
        if not self.beats:
            over = np.flatnonzero(np.abs(block) > THRESHOLD)
            if len(over):
                self.beats = list((self.fed + over[0] + self.clip.beats) / SR)
        return super().feed(block)


def follow_band(stage, folder: Path, clip: Clip | None = None, tracker=None,
                patience: float = 60.0, listen: str | None = None) -> Followed:  # fmt: skip
    """Play the band into `stage`'s live engine (on JACK) and measure (module docstring).
    `tracker`: one in place of hoot.beats's (a MarkerOracle); `listen`: perf.follow's."""
    from hoot.control.beat_follow import BeatFollow
    from hoot.engine.latency import _portaudio_clients

    clip = clip or band_clip()
    perf = stage.perf
    if tracker is not None:
        perf.open_sync = lambda source, _listen=None: BeatFollow(perf, source, tracker=tracker)
    beat_path, bar_path = click_stems(folder)
    perf.tempo = 110  # hoot starts elsewhere: what it plays with the band, it found
    perf.input("band", channel=1, monitor=False)
    beat_stem = perf.load(beat_path, role="perc")
    bar_stem = perf.load(bar_path, role="drums")
    perf.tracks.perc.pan, perf.tracks.drums.pan = -1.0, 1.0
    band = Band(clip)
    try:
        (ours,) = _portaudio_clients(band.client)
        band.connect(ours)
        perf.follow("band", listen=listen)
        follower = perf.follower
        deadline = time.monotonic() + patience
        while follower._reader is None and time.monotonic() < deadline:
            time.sleep(0.02)  # the ring opened and the round trip measured
        beat_stem.queue("beat")
        xruns = stage.link.status().xruns
        band.go.set()
        locked_at, anchors, bar_start = None, [], -1
        while not band.done.is_set() and time.monotonic() < deadline:
            if follower.anchors > len(anchors):
                anchors.append(band.played)
            if locked_at is None and follower.locked:
                locked_at = band.played
                queue_at = band.played + LOCKED_BARS * 4 * 60 / PLAN[0][0] * SR
            if locked_at is not None and queue_at is not None and band.played >= queue_at:
                bar_start = bar_stem.queue("bar")
                queue_at = None
            time.sleep(0.005)
        assert band.done.is_set(), "the band played to the end"
        round_trip = follower.round_trip
        xruns = stage.link.status().xruns - xruns
    finally:
        band.close()
        perf.follow(None)
    locked = locked_at if locked_at is not None else len(clip.audio)
    beats = onsets(band.heard[0])
    beats = beats[beats > locked + 4 * 60 / PLAN[0][0] * SR]  # a bar to glide on after the lock
    beats = beats[beats < clip.beats[-1] + SR // 10]  # while the band plays
    downbeats = onsets(band.heard[1])
    downbeats = downbeats[downbeats < clip.beats[-1] + SR // 10]
    grid = nearest_ms(beats, clip.beats)
    ramp = nearest_ms(beats[beats >= clip.ramp[0]], clip.beats)
    bars = nearest_ms(downbeats, clip.downbeats)
    first = downbeats[:1]
    near_one = np.abs(first - clip.downbeats).min() if len(first) else np.inf
    on_one = bool(len(first)) and near_one == np.abs(first - clip.beats).min()
    locked_beats = float(np.searchsorted(clip.beats, locked))
    return Followed(grid, ramp, bars, on_one, locked_beats, round_trip, anchors, bar_start,
                    downbeats, onsets(band.heard[0]), xruns, follower.proposals)  # fmt: skip
