"""Stand-ins that follow issue 13's contracts for the parts an audio voice talks to: the
engine (its return ring's played/missing and the input ring's blocks, advanced a block at
a time by the test), a model Stream that is the identity delayed by its latency, and a
LatentPlayer whose frames are their own audio (the nn~ "identity" module's decode)."""

from __future__ import annotations

import numpy as np

SR = 48000
SPAN = 1 << 21  # samples the fake return ring keeps (44 s)


def tone(s0: int, n: int) -> np.ndarray:
    """A test signal, each sample telling its own index: (n, 2) float32, never zero."""
    s = np.arange(s0, s0 + n)
    mono = ((s % 977) + 1) / 1000.0
    return np.stack([mono, -mono], 1).astype(np.float32)


class Writer:
    """ReturnWriter: what was written where, and what the engine found missing."""

    def __init__(self, played: int = 0) -> None:
        self.played = played
        self.missing = 0
        self.audio = np.zeros((SPAN, 2), np.float32)
        self.held = np.zeros(SPAN, bool)
        self.writes: list[tuple[int, int]] = []
        self.closed = False

    def write(self, s0: int, audio: np.ndarray) -> None:
        assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[1] == 2
        assert s0 + len(audio) - self.played <= (1 << 15) - 8192, "too far ahead"
        self.audio[s0 : s0 + len(audio)] = audio
        self.held[s0 : s0 + len(audio)] = True
        self.writes.append((s0, len(audio)))

    def play(self, n: int) -> None:
        """The core renders the block [played, played + n)."""
        if self.writes:
            self.missing += int((~self.held[self.played : self.played + n]).sum())
        self.played += n

    def close(self) -> None:
        self.closed = True


class Reader:
    """RingReader: blocks (sample, rows x frames x 2) in order; `lost` counts dropped ones."""

    def __init__(self, rows: int = 2) -> None:
        self.rows = rows
        self.blocks: list[tuple[int, np.ndarray]] = []
        self.lost = 0

    def read(self):
        return self.blocks.pop(0) if self.blocks else None

    def close(self) -> None:
        self.blocks = []


class Engine:
    """Plays a block at a time: renders (counts what the return ring lacks), puts its
    input row `row` (the tone) in the input ring, then the voice gets its turn."""

    def __init__(self, voice_row: int = 1, block: int = 256, start: int = 48000) -> None:
        self.writer = Writer(start)
        self.reader = Reader()
        self.row, self.block = voice_row, block

    def tick(self, voice=None, *, heard: bool = True) -> None:
        s = self.writer.played
        self.writer.play(self.block)
        if heard:
            rows = np.zeros((self.reader.rows, self.block, 2), np.float32)
            rows[self.row] = tone(s, self.block)
            self.reader.blocks.append((s, rows))
        if voice is not None:
            voice.step()


class Stream:
    """The identity model, `latency` samples late; `gain` shows it was heard (-1: wet is
    the dry inverted, so a mix is easy to read)."""

    def __init__(self, latency: int = 300, gain: float = 1.0, raise_after: int | None = None):
        self.latency, self.gain, self.raise_after = latency, gain, raise_after
        self.controls: list[dict] = []
        self.resets = 0
        self.calls = 0
        self.held = np.zeros((latency, 2), np.float32)

    def process(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.raise_after is not None and self.calls > self.raise_after:
            raise RuntimeError("decode blew up")
        joined = np.concatenate([self.held, x])
        self.held = joined[len(x) :]
        return joined[: len(x)] * np.float32(self.gain)

    def set_controls(self, bias=None, scale=None, noise=None) -> None:
        self.controls.append({k: v for k, v in (("bias", bias), ("scale", scale),
                                                ("noise", noise)) if v is not None})  # fmt: skip

    def reset(self) -> None:
        self.resets += 1
        self.held[:] = 0.0


class Player:
    """LatentPlayer of the identity module: a frame of 128 dims is 128 samples."""

    frame_s = 128 / SR

    def __init__(self, raise_after: int | None = None) -> None:
        self.raise_after, self.calls = raise_after, 0

    def render(self, z: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.raise_after is not None and self.calls > self.raise_after:
            raise RuntimeError("decode blew up")
        mono = z.T.reshape(-1).astype(np.float32)
        return np.stack([mono, mono], 1)
