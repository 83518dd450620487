"""Note events inside one block: what players and live inputs tell the tracks' sinks.

The Python core called `sink.note_on(...)` at once; the compiled core appends an event to
`Events` instead, and after the players and live inputs have spoken, each event goes to its
track's sink (synth voices, a SoundFont voice, a MIDI output) in the order it was appended.
The order is the one the Python core called its sinks in, so the sound is the same.

Columns of `Events.i` (int64): SAMPLE (absolute), KIND, TRACK, PITCH, VELOCITY, TIMBRE,
KEY (a voice key: player index * 128 + pitch for stems, live_midi.LIVE_KEYS + track * 128 +
pitch for live notes). `Events.f` holds a BEND's semitones. `Events.count[0]` is how many
rows are in use; an event beyond the capacity is dropped and counted in `Events.dropped[0]`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hoot.engine.kernel.jit import jit

ON, OFF, RELEASE_TRACK, SILENCE, BEND, ALL_OFF = 1, 2, 3, 4, 5, 6
"""Event kinds: note on (pitch, velocity, timbre, key), note off (key), release every note of
a track (a stem's sink change), silence every voice with a short fade (TRACK -1: all
tracks), pitch bend of a track (f: semitones), all notes off on a track's sink."""

SAMPLE, KIND, TRACK, PITCH, VELOCITY, TIMBRE, KEY = range(7)
COLUMNS = 7


class Events(NamedTuple):
    i: np.ndarray  # int64 (capacity, COLUMNS)
    f: np.ndarray  # float64 (capacity,)
    count: np.ndarray  # int64 (1,)
    dropped: np.ndarray  # int64 (1,)


def make_events(capacity: int = 4096) -> Events:
    return Events(
        np.zeros((capacity, COLUMNS), np.int64),
        np.zeros(capacity, np.float64),
        np.zeros(1, np.int64),
        np.zeros(1, np.int64),
    )


@jit
def clear(ev: Events) -> None:
    ev.count[0] = 0


@jit
def push(
    ev: Events,
    sample: int,
    kind: int,
    track: int,
    pitch: int = 0,
    velocity: int = 0,
    timbre: int = 0,
    key: int = 0,
    value: float = 0.0,
) -> None:
    """Append one event; a full buffer drops it and counts it."""
    k = ev.count[0]
    if k >= ev.i.shape[0]:
        ev.dropped[0] += 1
        return
    row = ev.i[k]
    row[SAMPLE] = sample
    row[KIND] = kind
    row[TRACK] = track
    row[PITCH] = pitch
    row[VELOCITY] = velocity
    row[TIMBRE] = timbre
    row[KEY] = key
    ev.f[k] = value
    ev.count[0] = k + 1
