"""What the stems play, as a score a model can follow (issue 12): the language side builds
it, the voice process follows it. Torch-free: perf imports it.

Stems are mostly audio rendered from notes: a generated candidate keeps its notes beside
its audio (`NAME.mid`, and `NAME.json` with its bars and the tempo it was rendered at), and
the engine plays the audio beat-locked and looping: turn k of a loop `length` beats long
that started on beat `start_beat` starts at `tempo_map.sample_at(start_beat + k * length)`
(docs/architecture.md "Time"). So the notes each track sounds, and when, are known ahead.

    score = build_score(players, tempo_map, now, notes_of, wall_of)   # perf.score
    follow = Follow(hears={"bass"})                                    # in the voice
    follow.update(score, now=time.monotonic())
    for event in follow.take(until=time.monotonic()):                  # in time order
        event.time, event.track, event.inst, event.pitch, event.vel    # vel 0: the note ends

The score (a JSON object, a few kB: a 4-bar bass loop is ~30 notes) carries, for each track
playing or about to play a stem with notes: its notes as [beat offset in the loop, length in
beats, pitch, velocity], the loop's `length` in beats, its `start` sample and `start_beat`,
the beat its current turn started on (`turn_beat`), its `stop` sample (None: on), the tempo
an audio stem was rendered at (`bpm`; None for a stem that plays its MIDI), and the track's
General MIDI instrument as Notochord numbers it (`inst`). Beside the tracks: the tempo map
from now on (`TempoMap.since`: a folded map holds at most 64 segments), and the clock (the
monotonic time at which the engine renders one sample), so the voice turns any sample into
the moment the engine renders it. Queued stems are in it from the moment they are queued,
so a stem starting at the next phrase is heard from its first note without a race.

Audio is not time-stretched: when the tempo changes, a loop's current take plays on at the
tempo it was rendered at until its retake swaps in at the start of a turn, so a note of an
audio stem sounds at `turn start + offset * 60 / bpm` seconds and is cut at the turn's end
(a MIDI stem follows the map at once: `sample_at(start_beat + k * length + offset)`); with
one tempo both agree to the sample.

Drums: the score gives a drum track Notochord's drum-kit id (129: GM standard kit), and an
improviser does not hear drums unless `listen` names them. The embedded model was trained
on the music21 corpus (chorales and folk tunes: no drums), so id 129 is an embedding it never
learnt, and a 16th-note hat line would fill its history (Notochord's time deltas are
between consecutive events) with events that say nothing about pitch; a checkpoint trained
on drums (the official Lakh one) gets them with `listen=["drums"]`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from hoot.music.clip import NoteClip
from hoot.music.time import TempoMap

INSTRUMENTS: dict[str, int] = {
    "bass": 33,  # GM 33 electric bass (finger), program 32 + 1
    "chords": 1,  # acoustic grand piano: the keys a chord part is written for
    "keys": 1,
    "lead": 81,  # square lead
    "pad": 89,  # new-age pad
    "harmony": 49,  # string ensemble, as the harmonizer's voices
    "drums": 129,  # Notochord's drum ids start at 129: GM standard kit (program 0)
    "perc": 129,
}
"""Notochord's instrument id for each role's notes (GM program + 1; drums 129 + kit)."""
DRUMS = frozenset({"drums", "perc"})
"""Tracks an improviser hears only when `listen` names them (the module docstring says why)."""
WATCH_S = 0.05
"""How often perf's score watch reads the engine's state version (a word of shared memory):
a stem queued at the next phrase is in the voices' score within 50 ms, long before it plays."""
RESYNC_S = 2.0
"""How often the score is rebuilt with nothing changed, so that the voices' sample-to-time
clock follows the audio device's (an oscillator off by 50 ppm drifts 0.1 ms in 2 s)."""
CHUNK_S = 0.25
"""How far ahead `Follow` works the score out at a time: a voice polls every millisecond,
and a few hundred notes' arithmetic once a quarter second costs nothing."""


def instrument_of(track: str) -> int:
    """Notochord's instrument id for a track's notes: its role's, else GM piano (1)."""
    return INSTRUMENTS.get(track, 1)


# ---- the language side: what plays, from the engine's state --------------------------------


@dataclass(frozen=True)
class StemNotes:
    """A stem's notes in beats, its loop's length in beats, and the tempo its audio was
    rendered at (None: it plays its MIDI, beats follow the map)."""

    notes: tuple[tuple[float, float, int, int], ...]
    length: float
    bpm: float | None


_read: dict[tuple[str, str, float], StemNotes | None] = {}


def read_stem_notes(path: str | Path, mid: str | Path | None = None) -> StemNotes | None:
    """The notes of the stem whose audio (or MIDI) is at `path`: its `.mid` (`mid`, or the
    one its JSON names, or the one beside it) and its JSON's bars and tempo. None when it
    has no notes, or no musical length (an audio loop that is not beat-locked has no beats
    to hang notes on). Cached by path and modification time: a score is rebuilt at every
    change of what plays, and a file is read once."""
    path = Path(path)
    meta_path = path.with_suffix(".json")
    meta: dict[str, Any] = {}
    try:
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    except (OSError, ValueError):
        meta = {}
    if mid is None:
        named = meta.get("midi")
        candidates = [path.with_name(str(named))] if named else []
        candidates += [path.with_suffix(".mid"), path.with_suffix(".midi")]
        mid = next((c for c in candidates if c.is_file()), None)
    if mid is None or not Path(mid).is_file():
        return None
    mid = Path(mid)
    key = (str(path), str(mid), mid.stat().st_mtime)
    if key in _read:
        return _read[key]
    audio = path.suffix.lower() not in (".mid", ".midi") and path.is_file()
    if meta.get("play") == "midi":
        audio = False
    try:
        bars = float(meta.get("bars") or 0)
        length = bars * float(meta.get("beats_per_bar", 4)) if bars > 0 else None
        clip = NoteClip.read_midi(mid, length=length)
        bpm = float(meta["bpm"]) if audio and meta.get("bpm") else None
    except (OSError, ValueError, TypeError, KeyError):
        _read[key] = None
        return None
    found = None
    if len(clip) and (not audio or (length and bpm)):
        notes = tuple(
            (round(float(s), 6), round(float(d), 6), int(p), int(v))
            for s, d, p, v in zip(clip.start, clip.duration, clip.pitch, clip.velocity)
        )
        found = StemNotes(notes, float(clip.length), bpm)
    _read[key] = found
    return found


def build_score(
    players: Iterable[Any],
    tempo_map: TempoMap,
    now: int,
    notes_of: Callable[[Any], StemNotes | None],
    wall_of: Callable[[int], float],
    facts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The score of what plays (and is queued) at engine sample `now`: see the module
    docstring. `players` are the engine's PlayerStates (track, stem, start, stop, path);
    `notes_of(player)` finds a player's notes; `wall_of(sample)` is the monotonic time the
    engine renders `sample`; `facts` are perf's clock facts for improvisers (beat period,
    the wall time of the next beat and phrase), passed on."""
    tracks = []
    for player in sorted(players, key=lambda pl: (pl.track, pl.start)):
        if player.stop is not None and player.stop <= now:
            continue
        found = notes_of(player)
        if found is None:
            continue
        start_beat = _whole_beat(tempo_map, player.start)
        k = max(0, math.floor((tempo_map.beat_at(max(now, player.start)) - start_beat)
                              / found.length + 1e-9))  # fmt: skip
        tracks.append({
            "track": player.track, "stem": player.stem, "inst": instrument_of(player.track),
            "start": int(player.start), "start_beat": start_beat,
            "turn_beat": start_beat + k * found.length,
            "stop": None if player.stop is None else int(player.stop),
            "length": found.length, "bpm": found.bpm, "notes": [list(n) for n in found.notes],
        })  # fmt: skip
    return {
        "cmd": "score",
        "tracks": tracks,
        "tempo_map": tempo_map.since(now).to_dict(),
        "clock": {"sample": int(now), "wall": float(wall_of(now))},
        "facts": {k: v for k, v in (facts or {}).items() if k != "cmd"},
    }


def _whole_beat(tempo_map: TempoMap, sample: int) -> float:
    """The beat a player started on: a boundary's whole beat when `sample` is its (rounded)
    first sample, as the engine anchored it; else the fractional beat of a bare sample."""
    beat = tempo_map.beat_at(sample)
    near = round(beat)
    return float(near) if abs(tempo_map.sample_at(near) - sample) <= 1 else beat


def same_music(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
    """Whether two scores say the same but for their clock readings (each reading of the
    engine's clock differs by a few microseconds: no reason to tell the voices)."""
    if a is None:
        return False
    return (a["tracks"], a["tempo_map"]) == (b["tracks"], b["tempo_map"]) and abs(
        _wall_of(a, b["clock"]["sample"]) - b["clock"]["wall"]
    ) < 0.001


def _wall_of(score: dict[str, Any], sample: int) -> float:
    clock, sr = score["clock"], score["tempo_map"]["samplerate"]
    return clock["wall"] + (sample - clock["sample"]) / sr


class ScoreWatch:
    """Tells the voices what the stems play whenever it changes: a thread that reads the
    engine's state version every WATCH_S (the engine bumps it at every queue, start,
    stop, swap and new tempo map), rebuilds the score when it moved (or every RESYNC_S),
    and sends it when the music or the clock changed. `build()` returns the score, None
    when no voice listens; `send(score)` hands it to the voices. Reading the version is a
    memory read; a rebuild is one State request and arithmetic over cached notes."""

    def __init__(self, version: Callable[[], int], build: Callable[[], dict | None],
                 send: Callable[[dict], None]) -> None:  # fmt: skip
        self.version, self.build, self.send = version, build, send
        self.sent: dict[str, Any] | None = None
        self._seen: int | None = None
        self._built = 0.0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hoot-score", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Rebuild at the next look (a voice started, or stopped)."""
        self._seen = None

    def _run(self) -> None:
        while not self._closed.wait(WATCH_S):
            try:
                version = self.version()
                if version == self._seen and time.monotonic() - self._built < RESYNC_S:
                    continue
                score = self.build()
                self._seen, self._built = version, time.monotonic()
                if score is not None and not same_music(self.sent, score):
                    self.send(score)
                    self.sent = score
            except Exception:  # noqa: BLE001, S112 - an engine gone: the next look tries again
                continue

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2.0)


# ---- the voice side: the score's notes as they sound ------------------------------------


class Event(NamedTuple):
    """A stem's note starting (vel > 0) or ending (vel 0) at monotonic `time`, when the
    engine renders it (a NoteWriter record stamped a block earlier is placed exactly there)."""

    time: float
    track: str
    inst: int
    pitch: int
    vel: int


class Follow:
    """The notes of the score's tracks a voice hears, handed out in time order.

    `hears`: the tracks to follow (None: every track but `own` and the drums). Each event
    is handed out once: `take(until)` gives those before `until` not given yet. A new
    score (`update`) takes over from there; a note it no longer has (its stem stopped at
    once, or was replaced) ends at once, so nothing a model heard hangs, and a note-off
    whose note-on was never given (it started before the voice listened) is left out.
    """

    def __init__(self, hears: Iterable[str] | None = None, own: str | None = None) -> None:
        self.hears = None if hears is None else set(hears)
        self.own = own
        self.score: dict[str, Any] | None = None
        self.map: TempoMap | None = None
        self.done = -math.inf  # every event before this has been given
        self.cursor = -math.inf  # events before this are worked out, in `pending`
        self.pending: list[Event] = []
        self.held: dict[tuple[str, int], int] = {}  # (track, pitch): note-ons given, not ended

    def heard(self, track: str) -> bool:
        if self.hears is not None:
            return track in self.hears
        return track != self.own and track not in DRUMS

    def tracks(self) -> list[str]:
        """The tracks of the score this voice hears now."""
        if self.score is None:
            return []
        return sorted({t["track"] for t in self.score["tracks"] if self.heard(t["track"])})

    def update(self, score: dict[str, Any], now: float) -> list[Event]:
        """Follow `score` from now on (the first one from `now`, later ones from where the
        last `take` ended); returns the note-offs, at `now`, of held notes it no longer has
        (a stem that stops at a boundary is still in the score with its `stop`, and its
        notes end there: only a stem gone at once loses its notes this way)."""
        self.score = score
        self.map = TempoMap.from_dict(score["tempo_map"])
        if self.done == -math.inf:
            self.done = now
        self.cursor = self.done
        self.pending = []
        self._work_out(self.done + CHUNK_S)
        ends = []
        for (track, pitch), count in list(self.held.items()):
            if count > 0 and not self._sounding(track, pitch, self.done):
                ends.append(Event(now, track, instrument_of(track), pitch, 0))
                del self.held[(track, pitch)]
        return ends

    def take(self, until: float) -> list[Event]:
        """The events before `until` not handed out yet, in time order."""
        if self.score is None or until <= self.done:
            return []
        if until > self.cursor:
            self._work_out(until + CHUNK_S)
        given, keep = [], []
        for event in self.pending:
            (given if event.time < until else keep).append(event)
        self.pending = keep
        self.done = until
        out = []
        for event in given:
            key = (event.track, event.pitch)
            if event.vel > 0:
                self.held[key] = self.held.get(key, 0) + 1
            elif self.held.get(key, 0) > 0:
                self.held[key] -= 1
                if not self.held[key]:
                    del self.held[key]
            else:
                continue  # its note-on sounded before this voice listened
            out.append(event)
        return out

    def next_time(self) -> float | None:
        """When the next event not yet handed out sounds (None: none within CHUNK_S)."""
        return self.pending[0].time if self.pending else None

    # ---- the arithmetic -------------------------------------------------------------

    def _sample(self, wall: float) -> float:
        clock = self.score["clock"]
        return clock["sample"] + (wall - clock["wall"]) * self.map.samplerate

    def _wall(self, sample: float) -> float:
        clock = self.score["clock"]
        return clock["wall"] + (sample - clock["sample"]) / self.map.samplerate

    def _work_out(self, end: float) -> None:
        """Add the events in [cursor, end) to `pending`, in time order."""
        found = []
        for entry in self.score["tracks"]:
            if self.heard(entry["track"]):
                found += self._events(entry, self.cursor, end)
        self.pending += sorted(found, key=lambda e: (e.time, e.vel > 0, e.track, e.pitch))
        self.cursor = end

    def _notes(self, entry: dict[str, Any], a: float, b: float):
        """(on sample, off sample, pitch, vel) of the entry's notes that start or end
        within samples [a, b), every turn of the loop that touches it."""
        tm, length = self.map, float(entry["length"])
        start, stop, sb = int(entry["start"]), entry["stop"], float(entry["start_beat"])
        stop = math.inf if stop is None else int(stop)
        lo_beat = tm.beat_at(int(max(a, start))) - sb
        hi_beat = tm.beat_at(int(min(b, stop)) + 1) - sb if min(b, stop) > start else -1.0
        if hi_beat < 0:
            return
        bpm = entry.get("bpm")
        for k in range(max(0, math.floor(lo_beat / length) - 1), math.floor(hi_beat / length) + 1):
            turn = start if k == 0 else tm.sample_at(sb + k * length)
            turn_end = tm.sample_at(sb + (k + 1) * length)
            for offset, dur, pitch, vel in entry["notes"]:
                if bpm:  # audio: as rendered, from the turn's start; the turn's end cuts it
                    per_beat = 60.0 * tm.samplerate / float(bpm)
                    on = turn + round(offset * per_beat)
                    off = min(turn + round((offset + dur) * per_beat), turn_end)
                else:
                    on = tm.sample_at(sb + k * length + offset)
                    off = tm.sample_at(sb + k * length + offset + dur)
                if on >= stop or on < start or (bpm and on >= turn_end):
                    continue
                off = min(off, stop)
                if on < b and off >= a:
                    yield on, max(off, on + 1), int(pitch), int(vel)

    def _events(self, entry: dict[str, Any], t0: float, t1: float) -> list[Event]:
        a, b = self._sample(t0) - 1, self._sample(t1) + 1
        track, inst = entry["track"], int(entry["inst"])
        out = []
        for on, off, pitch, vel in self._notes(entry, a, b):
            for sample, v in ((on, vel), (off, 0)):
                time = self._wall(sample)
                if t0 <= time < t1:
                    out.append(Event(time, track, inst, pitch, v))
        return out

    def _sounding(self, track: str, pitch: int, wall: float) -> bool:
        """Whether the score has `pitch` sounding on `track` at `wall` (its note began
        before and ends after)."""
        at = self._sample(wall)
        for entry in self.score["tracks"]:
            if entry["track"] != track:
                continue
            for on, off, p, _ in self._notes(entry, at - 1, at + 1):
                if p == pitch and on < at <= off:
                    return True
        return False
