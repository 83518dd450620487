"""Live inputs: device channels, or a file or a signal standing in for one, as tracks.

The engine reserves `INPUT_ROWS` track rows after the generated tracks, so every buffer
(mix, meters, recorder ring, input ring) is sized once; an input takes a free row and
gives it its name, and from then on it is a track like the others: gain, pan, mute and
solo through `Mix`, meters, a file of its own in `record(tracks=True)`.

Each block, `render_inputs` (compiled, REAL-TIME) writes every row's source into the
track buffer before the gains: a device row copies its channel (a mono input sounds on
both sides; pan places it), a stand-in row plays its loop, in time from the block after
it was made (sample s of the loop plays at engine sample start + s, so a render is the
same at any block size), and a model's return row (RETURN) plays the return ring a model's
process writes (hoot.engine.rings: sample s at engine sample s, silence where nothing was
written in time, counted in the ring's R_MISSING). A row whose peak reaches `CLIP` (0.999)
marks the sample; its lamp stays lit for `CLIP_HOLD` seconds after, and nothing else
happens: the sample is neither clamped nor counted as a fault. Monitoring off keeps a row
out of the master only (engine.core sums the monitored rows); it is still metered,
recorded and ringed.

`InputDeck` is the control side: it checks a command against the device's channels,
builds stand-ins off the audio thread and names rows; it reaches the audio thread only by
`core.SetInput` commands through the engine's inbox.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import carray

from hoot.engine import protocol as p
from hoot.engine.kernel.jit import f32_pointer, i64_pointer, jit
from hoot.engine.kernel.rings import fence
from hoot.engine.rings import R_FROM, R_MISSING, R_PLAYED, R_WRITTEN, RETURN_HEADER
from hoot.errors import EngineError, HootError

INPUT_ROWS = 8  # input track rows every engine reserves: a band's worth of players
CLIP = np.float32(0.999)
CLIP_HOLD = 2.0  # seconds a clip lamp stays lit
NEVER_CLIPPED = -(1 << 62)
OFF, DEVICE, LOOP, RETURN = 0, 1, 2, 3
NOISE_SECONDS = 4  # a noise stand-in loops this long: no pattern a beat tracker could lock to
CLICK_FRAMES_MS = 5.0  # each click of "clicks BPM": a 5 ms 1 kHz blip, decaying


class InputState(NamedTuple):
    """Per row: what feeds it (kind), its device channels (0-based, left and right), its
    stand-in loop (address of a frames x 2 float32 array, frames, the engine sample its
    first frame plays at) or, for a RETURN row, its return ring (loop_addr: the address of
    the ring's int64 header, its audio right after; loop_len: its frames), whether it is
    monitored, the last sample that clipped."""

    kind: np.ndarray  # int64 (rows,)
    left: np.ndarray  # int64 (rows,)
    right: np.ndarray  # int64 (rows,)
    loop_addr: np.ndarray  # int64 (rows,)
    loop_len: np.ndarray  # int64 (rows,)
    loop_start: np.ndarray  # int64 (rows,)
    monitor: np.ndarray  # int64 (rows,): 1 mixed into the master
    clip_at: np.ndarray  # int64 (rows,)


def make_inputs(rows: int = INPUT_ROWS) -> InputState:
    state = InputState(*(np.zeros(rows, np.int64) for _ in range(8)))
    state.monitor.fill(1)
    state.clip_at.fill(NEVER_CLIPPED)
    return state


@jit
def render_inputs(
    state: InputState, device: np.ndarray, s0: int, n: int, rows: np.ndarray
) -> None:
    """Write each input row's frames [s0, s0 + n) into `rows` (inputs x >=n x 2), from
    `device` (>=n x channels float32; 0 channels when the device has no inputs). REAL-TIME."""
    channels = device.shape[1] if device.shape[0] >= n else 0
    for r in range(rows.shape[0]):
        kind = state.kind[r]
        out = rows[r]
        if kind == DEVICE and state.left[r] < channels and state.right[r] < channels:
            a, b = state.left[r], state.right[r]
            for i in range(n):
                out[i, 0] = device[i, a]
                out[i, 1] = device[i, b]
        elif kind == LOOP and state.loop_len[r] > 0:
            length = state.loop_len[r]
            loop = carray(f32_pointer(state.loop_addr[r]), (length, 2))
            start = state.loop_start[r]
            for i in range(n):
                s = s0 + i - start
                if s < 0:
                    out[i, 0] = np.float32(0.0)
                    out[i, 1] = np.float32(0.0)
                else:
                    k = s % length
                    out[i, 0] = loop[k, 0]
                    out[i, 1] = loop[k, 1]
        elif kind == RETURN and state.loop_len[r] > 0:
            play_return(state.loop_addr[r], state.loop_len[r], s0, n, out)
        else:
            for i in range(n):
                out[i, 0] = np.float32(0.0)
                out[i, 1] = np.float32(0.0)
        for i in range(n):
            if abs(out[i, 0]) >= CLIP or abs(out[i, 1]) >= CLIP:
                state.clip_at[r] = s0 + i


@jit
def play_return(base: int, frames: int, s0: int, n: int, out: np.ndarray) -> None:
    """Samples [s0, s0 + n) of the return ring at address `base` (hoot.engine.rings) into
    `out`: sample s is audio[s % frames] iff R_FROM <= s < R_WRITTEN and s >= R_WRITTEN -
    frames, else silence, counted in R_MISSING from the first sample of the writer's run on
    (a sample before it is the model's latency, not a miss); then R_PLAYED = s0 + n.
    R_WRITTEN is read once, before the audio it publishes. REAL-TIME."""
    head = carray(i64_pointer(base), (RETURN_HEADER,))
    audio = carray(f32_pointer(base + 8 * RETURN_HEADER), (frames, 2))
    written = head[R_WRITTEN]
    fence()  # the count before the audio (and the run's start) it publishes
    start = head[R_FROM]
    low = max(start, written - frames)
    missing = 0
    for i in range(n):
        s = s0 + i
        if start >= 0 and low <= s < written:
            k = s % frames
            out[i, 0] = audio[k, 0]
            out[i, 1] = audio[k, 1]
        else:
            out[i, 0] = np.float32(0.0)
            out[i, 1] = np.float32(0.0)
            if 0 <= start <= s:
                missing += 1
    fence()
    head[R_MISSING] += missing
    head[R_PLAYED] = s0 + n


# ---- stand-ins (control side) ------------------------------------------------------------


def signal_loop(spec: str, samplerate: int) -> tuple[np.ndarray, str]:
    """A generated signal as a loop (frames x 2 float32) and its canonical spec.

    "sine F": a sine at -6 dBFS, F rounded to the nearest Hz so that a one-second loop holds
    whole cycles (the loop is exact, no seam); "noise": white noise at -12 dBFS RMS, a fixed
    seed, looping every 4 s; "clicks BPM": a click on each beat, the loop one beat long
    rounded to a frame (at 120 BPM and 48 kHz exact)."""
    words = str(spec).split()
    kind = words[0].lower() if words else ""
    try:
        value = float(words[1]) if len(words) > 1 else math.nan
    except ValueError:
        value = math.nan
    if kind == "sine" and len(words) == 2 and 1 <= value < samplerate / 2:
        hz = round(value)
        t = np.arange(samplerate, dtype=np.float64)
        mono = 0.5 * np.sin(2 * np.pi * hz * t / samplerate)
        canonical = f"sine {hz}"
    elif kind == "noise" and len(words) == 1:
        rng = np.random.default_rng(10)
        mono = np.clip(rng.normal(0.0, 0.25, NOISE_SECONDS * samplerate), -0.99, 0.99)
        canonical = "noise"
    elif kind == "clicks" and len(words) == 2 and 20 <= value <= 400:
        beat = round(60.0 * samplerate / value)
        mono = np.zeros(beat)
        m = min(beat, int(CLICK_FRAMES_MS * samplerate / 1000))
        t = np.arange(m, dtype=np.float64)
        mono[:m] = 0.7 * np.sin(2 * np.pi * 1000 * t / samplerate) * np.exp(-t / (m / 4))
        canonical = f"clicks {value:g}"
    else:
        raise EngineError(
            f"unknown signal {spec!r}; use 'sine HZ' (e.g. 'sine 220'), 'noise' or "
            "'clicks BPM' (e.g. 'clicks 120')"
        )
    loop = np.repeat(mono.astype(np.float32)[:, None], 2, axis=1)
    return np.ascontiguousarray(loop), canonical


def file_loop(path: str, samplerate: int) -> np.ndarray:
    """A WAV/FLAC file as a loop at the engine's rate (resampled as stems are)."""
    from hoot.engine.stems import read_audio

    file = Path(path).expanduser()
    if not file.is_file():
        raise EngineError(f"no audio file {str(file)!r} to play as an input")
    try:
        return read_audio(file, samplerate)
    except HootError as e:
        raise EngineError(str(e).replace("stem", "input file", 1)) from None


def channel_names(ports: tuple[str, ...], channels: tuple[int, ...]) -> str:
    return ", ".join(f"{c} ({ports[c - 1]})" for c in channels)


class InputRow:
    """What the control side knows of one input row."""

    __slots__ = ("name", "channels", "source", "monitor", "loop", "ret")

    def __init__(self) -> None:
        self.name = ""
        self.channels: tuple[int, ...] = ()
        self.source = ""
        self.monitor = True
        self.loop: np.ndarray | None = None  # a stand-in's audio, kept alive while it plays
        self.ret = None  # a model's return ring (hoot.engine.rings.ReturnRing), source "model"


class InputDeck:
    """The live inputs of one engine, as the control side sees them.

    `first` is the engine row of input row 0; `ports` the device's input channels (set by
    the server when the backend opens; empty offline and without a duplex device), and
    `reason` why there are none."""

    def __init__(self, first: int, rows: int, samplerate: int) -> None:
        self.first = first
        self.rows = [InputRow() for _ in range(rows)]
        self.samplerate = samplerate
        self.ports: tuple[str, ...] = ()
        self.reason = "an offline render has no audio device"
        self.ring = ""

    def find(self, name: str) -> int | None:
        for r, row in enumerate(self.rows):
            if row.name and row.name == name:
                return r
        return None

    def named(self, name: str) -> int:
        r = self.find(name)
        if r is None:
            made = [row.name for row in self.rows if row.name]
            listed = ", ".join(made) if made else "none yet"
            raise EngineError(f"no live input {name!r}; inputs are: {listed}")
        return r

    def check_channels(self, channels: tuple[int, ...]) -> tuple[int, int]:
        """(left, right) 0-based device channels for `channels`, or EngineError."""
        if not self.ports:
            raise EngineError(
                f"there are no device inputs to take ({self.reason}); use a file or a signal "
                "to stand in for one"
            )
        if len(channels) not in (1, 2):
            raise EngineError(
                f"an input takes one channel or a stereo pair, not {len(channels)} channels"
            )
        for c in channels:
            if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= len(self.ports):
                listed = channel_names(self.ports, tuple(range(1, len(self.ports) + 1)))
                raise EngineError(f"there is no input channel {c!r}; the device has {listed}")
        return channels[0] - 1, channels[-1] - 1

    def listing(self, clips: np.ndarray | None = None) -> tuple[p.InputTrack, ...]:
        return tuple(self.reply(r, clips) for r, row in enumerate(self.rows) if row.name)

    def reply(self, r: int, clips: np.ndarray | None = None) -> p.InputTrack:
        row = self.rows[r]
        return p.InputTrack(
            name=row.name,
            track=self.first + r,
            channels=row.channels,
            source=row.source,
            monitor=row.monitor,
            row=r,
            clip=bool(clips[r]) if clips is not None else False,
        )
