"""The sound server's control side: validates commands and turns them into timestamped ones.

Runs on the server's connection threads (or, for offline renders, on the
caller's thread), never on the audio thread. It owns the authoritative tempo
map and the stem table, resolves "the next phrase" to an absolute sample, and
hands the audio thread small immutable commands through `Engine.inbox`.

Every public command is reachable by name through `dispatch`, so the socket
server and the in-process offline engine share one code path. Errors a
performer can cause raise EngineError (or StemError) with a sentence that says
what to do next; the engine plays on.
"""

from __future__ import annotations

import difflib
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hoot.engine.core import FADE, NEVER, Engine, LoadedStem, Mix, NewMap, Panic, Start, Stop
from hoot.engine.stems import load_stem
from hoot.errors import EngineError, HootError, StemError
from hoot.music.time import QUANTA, TimeError, check_bpm

COMMANDS = (
    "load",
    "unload",
    "queue",
    "stop",
    "mix",
    "tempo",
    "meter",
    "phrase",
    "panic",
    "record",
    "stop_recording",
    "state",
    "ping",
)


def db_to_gain(db: float) -> float:
    return 0.0 if db <= -120 else 10 ** (db / 20)


def pan_gains(pan: float) -> tuple[float, float]:
    """Balance law: centre is unity on both sides; turning one way lowers the other side."""
    left = math.cos(max(pan, 0.0) * math.pi / 2)
    right = math.cos(max(-pan, 0.0) * math.pi / 2)
    return left, right


class TrackSettings:
    __slots__ = ("gain", "pan", "mute", "solo")

    def __init__(self) -> None:
        self.gain = 0.0
        self.pan = 0.0
        self.mute = False
        self.solo = False

    def as_dict(self) -> dict:
        return {"gain": self.gain, "pan": self.pan, "mute": self.mute, "solo": self.solo}


class EngineControl:
    """Commands for one Engine. `margin` is how far ahead (in frames) a boundary must lie."""

    def __init__(
        self,
        engine: Engine,
        recorder=None,
        recordings: Path | None = None,
        margin: int | None = None,
    ) -> None:
        self.engine = engine
        self.recorder = recorder
        self.recordings = recordings
        sr = engine.samplerate
        self.margin = int(0.05 * sr) + 2 * 1024 if margin is None else int(margin)
        self.tempo_map = engine.tempo_map
        self.stems: dict[str, LoadedStem] = {}
        self.stem_paths: dict[str, str] = {}
        self.settings = {name: TrackSettings() for name in engine.tracks}
        self._lock = threading.RLock()
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hoot-loader")

    # ---- entry ---------------------------------------------------------------------

    def dispatch(self, cmd: str, args: dict | None = None) -> Any:
        if cmd not in COMMANDS:
            raise EngineError(f"the engine has no command {cmd!r}")
        self.engine.graveyard.clear()
        with self._lock:
            try:
                return getattr(self, cmd)(**(args or {}))
            except TypeError as e:
                raise EngineError(f"bad arguments for {cmd}: {e}") from None
            except TimeError as e:
                raise EngineError(str(e)) from None

    @property
    def now(self) -> int:
        return self.engine.position

    def track_index(self, track: str) -> int:
        try:
            return self.engine.tracks.index(track)
        except ValueError:
            close = difflib.get_close_matches(str(track), self.engine.tracks, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise EngineError(
                f"no track {track!r}{hint}; tracks are {', '.join(self.engine.tracks)}"
            ) from None

    def when(self, at: str | int | float) -> tuple[int, float, str]:
        """(sample, beat, quantum) for `at`: a boundary name, "now", or an absolute sample."""
        if at == "now":
            return self.now, math.nan, ""
        if isinstance(at, str):
            if at not in QUANTA:
                raise EngineError(
                    f"unknown moment {at!r}; use 'phrase', 'bar', 'beat', 'now' or a sample number"
                )
            beat = self.tempo_map.next_boundary_beat(self.now + self.margin, at)
            return self.tempo_map.sample_at(beat), beat, at
        if isinstance(at, bool) or not isinstance(at, (int, float)) or at < 0:
            raise EngineError(f"moment {at!r} must be a boundary name or a sample number >= 0")
        return int(at), math.nan, ""

    # ---- stems -----------------------------------------------------------------------

    def load(self, stem_id: str, path: str, role: str | None = None) -> dict:
        """Read a stem on the loader thread; return when it is in memory and may be queued."""
        grid = self.tempo_map.grid_at_beat(self.tempo_map.beat_at(self.now))
        future = self._loader.submit(
            load_stem, path, self.engine.samplerate, stem_id, grid.beats_per_bar, role
        )
        stem = future.result()
        self.stems[stem_id] = stem
        self.stem_paths[stem_id] = str(path)
        return {
            "stem": stem_id,
            "frames": stem.frames,
            "midi": stem.is_midi,
            "beats": stem.length_beats,
        }

    def unload(self, stem_id: str) -> dict:
        self.stems.pop(stem_id, None)
        self.stem_paths.pop(stem_id, None)
        return {}

    def queue(self, track: str, stem: str, at: str | int = "phrase") -> dict:
        t = self.track_index(track)
        loaded = self.stems.get(stem)
        if loaded is None:
            raise StemError(f"stem {stem!r} is not loaded in the engine; load it first")
        sample, beat, quantum = self._on_time(t, *self.when(at))
        self.engine.inbox.append(Start(t, loaded, sample, beat, quantum))
        return {"sample": sample, "beat": None if math.isnan(beat) else beat}

    def _on_time(self, track: int, sample: int, beat: float, quantum: str):
        """Apply the audio thread's lateness rule now, so the reply names the real moment.

        The audio thread checks again when the command arrives (it may be later still)."""
        s, b = self.engine._on_time(track, sample, beat, quantum, self.now)
        return s, b, quantum

    def stop(self, track: str, at: str | int = "phrase") -> dict:
        t = self.track_index(track)
        sample, beat, quantum = self._on_time(t, *self.when(at))
        self.engine.inbox.append(Stop(t, sample, beat, quantum))
        return {"sample": sample, "beat": None if math.isnan(beat) else beat}

    def panic(self) -> dict:
        self.engine.inbox.append(Panic())
        return {"sample": self.now + FADE}

    # ---- mixer ---------------------------------------------------------------------

    def mix(
        self,
        track: str,
        gain: float | None = None,
        pan: float | None = None,
        mute: bool | None = None,
        solo: bool | None = None,
    ) -> dict:
        self.track_index(track)  # an unknown name raises the helpful error
        s = self.settings[track]
        if gain is not None:
            g = _number(gain, "gain")
            if g > 24:
                raise EngineError(f"gain {g:g} dB is too loud; the most a track takes is +24 dB")
            s.gain = max(g, -120.0)
        if pan is not None:
            p = _number(pan, "pan")
            if not -1.0 <= p <= 1.0:
                raise EngineError(f"pan {p:g} is out of range; use -1 (left) to 1 (right)")
            s.pan = p
        if mute is not None:
            s.mute = bool(mute)
        if solo is not None:
            s.solo = bool(solo)
        any_solo = any(x.solo for x in self.settings.values())
        for name, x in self.settings.items():  # solo changes every track's audibility
            audible = not x.mute and (x.solo or not any_solo)
            g = db_to_gain(x.gain) if audible else 0.0
            left, right = pan_gains(x.pan)
            self.engine.inbox.append(Mix(self.track_index(name), g * left, g * right))
        return s.as_dict()

    # ---- time --------------------------------------------------------------------------

    def _adopt(self, new_map) -> None:
        self.tempo_map = new_map
        self.engine.inbox.append(NewMap(new_map))

    def tempo(self, bpm: float, at: str = "beat") -> dict:
        bpm = check_bpm(bpm)
        if at == "now":
            at = "beat"
        sample, beat, _ = self.when(at)
        if math.isnan(beat):
            raise EngineError("a tempo change happens on a beat, bar or phrase boundary")
        self._adopt(self.tempo_map.with_tempo(bpm, beat))
        return {"bpm": bpm, "beat": beat, "sample": sample}

    def meter(self, meter: str, at: str = "phrase") -> dict:
        sample, beat, _ = self._grid_moment(at)
        self._adopt(self.tempo_map.with_grid(beat, meter=meter))
        return {"meter": str(meter), "beat": beat, "sample": sample}

    def phrase(self, bars: int, at: str = "phrase") -> dict:
        sample, beat, _ = self._grid_moment(at)
        self._adopt(self.tempo_map.with_grid(beat, phrase=bars))
        return {"bars": bars, "beat": beat, "sample": sample}

    def _grid_moment(self, at: str) -> tuple[int, float, str]:
        if self.now == 0 and at in ("phrase", "now") and not self._anything_playing():
            return 0, 0.0, "phrase"  # before the music starts, a new grid starts at once
        if at not in ("phrase", "now"):
            raise EngineError("meter and phrase length change on a phrase boundary")
        return self.when("phrase")

    def _anything_playing(self) -> bool:
        return any(p.active for p in self.engine.players)

    # ---- recording -----------------------------------------------------------------------

    def record(self, tracks: bool = False, name: str | None = None) -> dict:
        if self.recorder is None or self.recordings is None:
            raise EngineError("this engine has no recorder (it was started without a session)")
        try:
            paths = self.recorder.start(self.recordings, name=name, tracks=tracks)
        except HootError:
            raise
        except OSError as e:
            raise EngineError(f"cannot record to {self.recordings}: {e}") from None
        return {"paths": [str(p) for p in paths]}

    def stop_recording(self) -> dict:
        if self.recorder is None:
            return {"paths": []}
        return {"paths": [str(p) for p in self.recorder.stop()]}

    # ---- reading -----------------------------------------------------------------------

    def ping(self) -> dict:
        return {"position": self.now}

    def state(self) -> dict:
        """Everything a client needs to draw the set: time, tracks, what plays and is queued."""
        e = self.engine
        rows = e.snapshot()
        for row in rows:
            row["path"] = self.stem_paths.get(row["stem"])
        rec = self.recorder
        return {
            "samplerate": e.samplerate,
            "position": e.position,
            "tempo_map": self.tempo_map.to_dict(),
            "tracks": {name: s.as_dict() for name, s in self.settings.items()},
            "players": rows,
            "stems": sorted(self.stems),
            "recording": [str(p) for p in rec.paths] if rec is not None and rec.recording else [],
            "faults": e.faults,
            "state_version": e.state_version,
            "never": NEVER,
        }

    def close(self) -> None:
        self._loader.shutdown(wait=False, cancel_futures=True)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise EngineError(f"{what} must be a number, not {value!r}")
    return float(value)
