"""Offline rendering: run a live-coding script against an engine whose time moves only
when the script waits, and write N bars of the result.

The master's output is aligned to musical time: the limiter's lookahead delay
is taken off, so a stem queued at sample S is heard from sample S of the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from hoot.errors import HootError
from hoot.performance import Performance
from hoot.session import Session
from hoot.stage import Stage


def render(
    script: str | Path | Callable[[Performance], object],
    bars: int,
    out_path: str | Path | None = None,
    samplerate: int = 48000,
    blocksize: int | str | list[int] = 256,
    session: Session | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Render `bars` bars of `script` (a .py path or a function taking perf); return the audio
    (frames x 2 float32) and, with `out_path`, write it as a float WAV."""
    if bars <= 0:
        raise HootError("render at least one bar: --bars 8")
    stage = Stage.offline(session or Session("render"), samplerate, blocksize, seed)
    link, perf = stage.link, stage.perf
    chunks: list[np.ndarray] = []
    original = link.advance
    ends: list[int] = []  # where bar `bars` starts, read once the set has passed it

    def advance(frames: int, keep: bool = True):
        block = original(frames, keep=True)
        chunks.append(block)
        if not ends:  # a long set's map folds its past away (engine.control): read it now
            end = _bar_start(perf, bars)
            if end <= link.position:
                ends.append(end)
        return block

    link.advance = advance  # the script's waits feed the output
    try:
        if callable(script):
            script(perf)
        else:
            path = Path(script)
            if not path.is_file():
                raise HootError(f"no script at {path}")
            stage.run_script(path)
        end = ends[0] if ends else _bar_start(perf, bars)
        latency = link.engine.limiter.latency
        if link.position < end + latency:
            advance(end + latency - link.position)
        if perf.session and link.recorder.recording:
            perf.stop_recording()
    finally:
        stage.close()
    audio = np.concatenate(chunks)[latency : latency + end]
    if out_path is not None:
        import soundfile as sf

        sf.write(str(out_path), audio, samplerate, subtype="FLOAT")
    return audio


def _bar_start(perf: Performance, bar: int) -> int:
    tm = perf.tempo_map()
    return tm.sample_at(tm.bar_beat(bar))
