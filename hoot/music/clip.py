"""Note clips: loopable phrases of MIDI notes, timed in beats.

A `NoteClip` is what a MIDI stem plays: parallel arrays of note starts,
durations, pitches and velocities, plus the loop length. Times are in beats, so
one clip follows any tempo; the engine turns beats into samples with its tempo
map. Arrays (rather than a list of note objects) let the engine find the notes of
a block with one `searchsorted` instead of a Python loop.

A clip is immutable: its arrays are read-only, and editing means building a new
clip, so the audio thread can keep playing the old one until it is swapped.
"""

from __future__ import annotations

import io
import math
import os
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass

import mido
import numpy as np

BEATS_PER_BAR = 4
"""read_midi rounds a file's end up to whole bars of this many beats for the loop length."""

TICKS_PER_BEAT = 960
"""write_midi's resolution: fine enough for triplets and quintuplets of 64th notes."""

StrPath = str | os.PathLike[str]


@dataclass(frozen=True, eq=False)
class NoteClip:
    """A loopable clip of notes, in beats from the clip's start.

    `start` is sorted ascending and every note starts inside `[0, length)`; a note
    may ring past `length` (the engine decides whether a loop cuts it). Build one
    with `from_notes` or `read_midi`; the constructor checks and freezes the arrays.
    """

    start: np.ndarray
    duration: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    length: float

    def __post_init__(self) -> None:
        length = _check_length(self.length)
        start = _float_array(self.start, "start")
        duration = _float_array(self.duration, "duration")
        pitch = _int_array(self.pitch, "pitch")
        velocity = _int_array(self.velocity, "velocity")
        count = len(start)
        for name, values in (("duration", duration), ("pitch", pitch), ("velocity", velocity)):
            if len(values) != count:
                raise ValueError(
                    f"clip arrays differ in length: {count} starts but {len(values)} {name} values"
                )
        _check_notes(start, duration, pitch, velocity, length)
        if count > 1 and np.any(np.diff(start) < 0):
            raise ValueError("note starts must be sorted; NoteClip.from_notes sorts them for you")
        for name, values in (
            ("start", start),
            ("duration", duration),
            ("pitch", pitch),
            ("velocity", velocity),
        ):
            # Read-only arrays keep the clip immutable in fact, not just by convention.
            values.setflags(write=False)
            object.__setattr__(self, name, values)
        object.__setattr__(self, "length", length)

    @classmethod
    def from_notes(cls, notes: Iterable[tuple[float, float, int, int]], length: float) -> NoteClip:
        """A clip from `(start, duration, pitch, velocity)` tuples, sorted by start then pitch.

        Raises ValueError naming the first note that is out of range.
        """
        rows = []
        for index, note in enumerate(notes):
            try:
                start, duration, pitch, velocity = note
                rows.append((float(start), float(duration), pitch, velocity))
            except (TypeError, ValueError):
                raise ValueError(
                    f"note {index} must be (start, duration, pitch, velocity) numbers, got {note!r}"
                ) from None
        if not rows:
            empty = np.zeros(0)
            return cls(empty, empty, np.zeros(0, np.int16), np.zeros(0, np.int16), length)
        start = np.array([row[0] for row in rows], dtype=np.float64)
        duration = np.array([row[1] for row in rows], dtype=np.float64)
        pitch = _int_array([row[2] for row in rows], "pitch")
        velocity = _int_array([row[3] for row in rows], "velocity")
        # Check before sorting so the error names the note as the caller numbered it.
        _check_notes(start, duration, pitch, velocity, _check_length(length))
        order = np.lexsort((pitch, start))
        return cls(start[order], duration[order], pitch[order], velocity[order], length)

    def __len__(self) -> int:
        return len(self.start)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NoteClip):
            return NotImplemented
        return (
            self.length == other.length
            and np.array_equal(self.start, other.start)
            and np.array_equal(self.duration, other.duration)
            and np.array_equal(self.pitch, other.pitch)
            and np.array_equal(self.velocity, other.velocity)
        )

    __hash__ = None  # type: ignore[assignment]  # equal clips need not share a hash

    def __repr__(self) -> str:
        return f"NoteClip({len(self)} notes, {self.length:g} beats)"

    def events(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`(on_beats, off_beats, pitch, velocity)`, with `off = start + duration`.

        The on, pitch and velocity arrays are the clip's own (read-only) arrays.
        """
        return self.start, self.start + self.duration, self.pitch, self.velocity

    # Standard MIDI Files -----------------------------------------------------------

    @classmethod
    def read_midi(cls, path: StrPath, length: float | None = None) -> NoteClip:
        """Read the notes of a Standard MIDI File (type 0 or 1), all tracks and channels merged.

        Beats come from the file's ticks per beat; its tempo events are ignored, because
        a clip follows the performance's tempo. `length` defaults to the file's end
        rounded up to whole bars of 4 beats; with an explicit `length`, notes that start
        at or after it are left out, so `length=4` loops the first bar.

        A note-off pairs with the earliest sounding note of the same channel and pitch. A
        note still sounding when its track ends stops there, and a note with no length
        keeps one tick, so drum hits written as zero-length notes still play.

        Raises ValueError when the file is not a readable type 0 or 1 MIDI file, and
        OSError (such as FileNotFoundError) when it cannot be read at all.
        """
        with open(path, "rb") as file:
            data = file.read()
        try:
            midi = mido.MidiFile(file=io.BytesIO(data))
        except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError...
            raise ValueError(f"{os.fspath(path)} is not a readable MIDI file: {exc}") from exc
        if midi.type not in (0, 1):
            raise ValueError(
                f"{os.fspath(path)} is a type {midi.type} MIDI file; hoot reads types 0 and 1"
            )
        ticks_per_beat = midi.ticks_per_beat
        if ticks_per_beat <= 0:
            # A negative division in the header means SMPTE frames, which have no beats.
            raise ValueError(
                f"{os.fspath(path)} times its events in SMPTE frames, not beats; "
                "export it with a ticks-per-beat (PPQ) resolution"
            )

        notes, end_tick = _notes_from_tracks(midi.tracks)
        if length is None:
            end_beats = end_tick / ticks_per_beat
            length = max(1, math.ceil(end_beats / BEATS_PER_BAR)) * BEATS_PER_BAR
        else:
            length = _check_length(length)
            notes = [note for note in notes if note[0] / ticks_per_beat < length]
        return cls.from_notes(
            (
                (on / ticks_per_beat, ticks / ticks_per_beat, pitch, velocity)
                for on, ticks, pitch, velocity in notes
            ),
            length,
        )

    def write_midi(self, path: StrPath, bpm: float = 120.0, channel: int = 0) -> None:
        """Write a type 1 Standard MIDI File: a tempo track, then the notes on `channel`.

        Times round to the nearest of 960 ticks per beat; every note keeps at least one
        tick. Both tracks end at the clip's length (or its last note-off, if later) so a
        DAW shows the loop.
        """
        try:
            beats_per_minute = float(bpm)
        except (TypeError, ValueError):
            raise ValueError(f"tempo {bpm!r} is not a number of beats per minute") from None
        # A MIDI tempo is microseconds per beat in 24 bits: about 3.6 BPM at the slowest.
        if not math.isfinite(beats_per_minute) or not 60e6 / 0xFFFFFF <= beats_per_minute <= 60e6:
            raise ValueError(f"tempo {bpm!r} BPM cannot be written to a MIDI file")
        tempo = mido.bpm2tempo(beats_per_minute)
        if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel <= 15:
            raise ValueError(f"MIDI channel {channel!r} must be a whole number from 0 to 15")

        on_ticks = np.rint(self.start * TICKS_PER_BEAT).astype(np.int64)
        off_ticks = np.rint((self.start + self.duration) * TICKS_PER_BEAT).astype(np.int64)
        off_ticks = np.maximum(off_ticks, on_ticks + 1)
        # At equal ticks a note-off sorts before a note-on, so a repeated pitch is
        # closed before it starts again and read_midi pairs the notes as written.
        timeline = []
        for on, off, pitch, velocity in zip(
            on_ticks.tolist(), off_ticks.tolist(), self.pitch.tolist(), self.velocity.tolist()
        ):
            timeline.append((on, 1, pitch, velocity))
            timeline.append((off, 0, pitch, 0))
        timeline.sort()
        end_tick = max(round(self.length * TICKS_PER_BEAT), timeline[-1][0] if timeline else 0)

        conductor = mido.MidiTrack(
            [
                mido.MetaMessage("track_name", name="hoot tempo", time=0),
                mido.MetaMessage("set_tempo", tempo=tempo, time=0),
                mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
                mido.MetaMessage("end_of_track", time=end_tick),
            ]
        )
        notes = mido.MidiTrack([mido.MetaMessage("track_name", name="hoot notes", time=0)])
        now = 0
        for tick, is_on, pitch, velocity in timeline:
            kind = "note_on" if is_on else "note_off"
            notes.append(
                mido.Message(kind, channel=channel, note=pitch, velocity=velocity, time=tick - now)
            )
            now = tick
        notes.append(mido.MetaMessage("end_of_track", time=end_tick - now))

        midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
        midi.tracks.extend([conductor, notes])
        midi.save(os.fspath(path))


def _notes_from_tracks(tracks: list[mido.MidiTrack]) -> tuple[list[tuple[int, int, int, int]], int]:
    """Pair note-ons with note-offs in every track: `(on_tick, ticks, pitch, velocity)` notes
    and the latest tick of the file (its last event or note end)."""
    notes: list[tuple[int, int, int, int]] = []
    end_tick = 0
    for track in tracks:
        sounding: defaultdict[tuple[int, int], deque[tuple[int, int]]] = defaultdict(deque)
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity > 0:
                sounding[(message.channel, message.note)].append((tick, message.velocity))
            elif message.type in ("note_on", "note_off"):
                started = sounding.get((message.channel, message.note))
                if started:
                    on, velocity = started.popleft()
                    notes.append((on, max(tick - on, 1), message.note, velocity))
        for (_channel, pitch), started in sounding.items():
            for on, velocity in started:
                notes.append((on, max(tick - on, 1), pitch, velocity))
        end_tick = max(end_tick, tick)
    for on, ticks, _pitch, _velocity in notes:
        end_tick = max(end_tick, on + ticks)
    return notes, end_tick


def _check_length(length: object) -> float:
    try:
        value = float(length)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"clip length {length!r} is not a number of beats") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"clip length must be a positive number of beats, got {length!r}")
    return value


def _float_array(values: object, name: str) -> np.ndarray:
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"note {name} values must be numbers of beats") from None
    if array.ndim != 1:
        raise ValueError(f"note {name} values must be a flat sequence, got shape {array.shape}")
    return array


def _int_array(values: object, name: str) -> np.ndarray:
    """Values as int16, refusing fractions and anything outside int16 rather than wrapping."""
    try:
        exact = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"note {name} values must be whole numbers") from None
    if exact.ndim != 1:
        raise ValueError(f"note {name} values must be a flat sequence, got shape {exact.shape}")
    bad = ~np.isfinite(exact) | (exact != np.round(exact)) | (np.abs(exact) > 32767)
    if np.any(bad):
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(f"note {index} has {name} {exact[index]!r}; it must be a whole number")
    return exact.astype(np.int16)


def _check_notes(
    start: np.ndarray,
    duration: np.ndarray,
    pitch: np.ndarray,
    velocity: np.ndarray,
    length: float,
) -> None:
    """Raise ValueError naming the first note outside the ranges a clip can hold."""
    checks = (
        (
            ~np.isfinite(start) | (start < 0) | (start >= length),
            start,
            f"starts at beat {{value!r}}; notes start from 0 to below the length {length:g}",
        ),
        (
            ~np.isfinite(duration) | (duration <= 0),
            duration,
            "lasts {value!r} beats; a duration must be a positive number of beats",
        ),
        ((pitch < 0) | (pitch > 127), pitch, "has pitch {value!r}; MIDI pitches run 0 to 127"),
        (
            (velocity < 1) | (velocity > 127),
            velocity,
            "has velocity {value!r}; velocities run 1 to 127 (0 would be a note-off)",
        ),
    )
    for bad, values, problem in checks:
        if np.any(bad):
            index = int(np.flatnonzero(bad)[0])
            raise ValueError(f"note {index} " + problem.format(value=values[index].item()))
