"""Orpheus Music Transformer's event tokens: MIDI and note clips in, the model's stream out.

Orpheus (asigalov61, trained on the Godzilla MIDI set) reads music as chords in time. A
stream is SOS, then for each chord one TIME token and, per note, a NOTE and a DURVEL token
(about 3 tokens a note; 18,820 tokens in all):

    0-255          TIME    steps of 16 ms since the previous chord (0 = the same chord)
    256-16767      NOTE    256 + 128*patch + pitch; patch 0-127 is General MIDI, 128 drums
    16768-18815    DURVEL  16768 + 8*dur + vel8; dur 1-255 steps, vel8 = round(vel/15) - 1
                           (velocity clamped to 8-127 first, so 0-7), played as (vel8+1)*15
    18816 SOS, 18817 OUTRO, 18818 EOS, 18819 PAD

`encode` quantises as the official app's `load_midi` does (TMIDIX's ms score, then
`augment_enhanced_score_notes(sort_drums_last=True)`, `remove_duplicate_pitches_from_
escore_notes`, `fix_escore_notes_durations(min_notes_gap=0)`, `delta_score_notes`,
`chordify_score`), so a real checkpoint sees the streams it learned:

* a note starts on step floor(ms/16); its length is floor(ms/16) steps, at least 1, at
  most 255 (a 4.08 s cap);
* a chord is the notes of one step: melodic notes by pitch high to low (equal pitches by
  patch), then drums, high to low; one note per (patch, pitch) in a chord, the first kept;
* a melodic note that would still sound when the same patch plays its pitch again is cut
  to end there; drums keep their lengths and overlaps;
* a gap longer than 255 steps is clipped to 255: the silence shrinks to 4.08 s and
  everything after moves earlier (the format cannot say more);
* pitches clamp to 1-127 (pitch 0 becomes 1), velocities to 8-127 before quantising.

`midi_to_events` reads a file as TMIDIX's `midi2single_track_ms_score` and the app's
`advanced_score_processor(apply_sustain=True)` do: every track merged, times in ms through
the file's tempo map, a note-off ending the earliest sounding note of its channel and pitch,
a note still sounding at the end stopping at the file's last event, a channel's patch the
latest program change at or before the note, channel 10 drums (patch 128), and the sustain
pedal (CC 64 >= 64) holding a note whose release falls under it until the pedal lifts.

Where this differs from the app, on purpose:

* `encode(lead_in=True)`, the default, writes the first chord's start from time 0 as the
  first TIME token (clipped at 255 steps), because hoot's clips live on a timeline;
  the app always writes 0 there (its delta score drops leading silence):
  `lead_in=False` gives its exact stream.
* The order inside a chord is the augmented order above. The app's
  `fix_escore_notes_durations` also re-sorts a chord's melodic notes by the first
  appearance of their (pitch, patch) in the piece, a side effect of grouping; we keep the
  pitch order `augment_enhanced_score_notes` states.
* TMIDIX's `chordify_score` treats a delta list that never decreases as absolute times and
  then merges distinct chords (a steady monophonic line collapses into one chord); we group
  by step always.
* Times: the MIDI default tempo (120 BPM) applies before the first tempo event, where
  TMIDIX assumes 400 ms a beat; each time is rounded to the ms from the file's start, where
  TMIDIX rounds each delta (its sum drifts); a tick span crossing several tempo changes is
  timed through all of them (TMIDIX applies one per event).
* A drum hit nested inside an earlier hit of its pitch (ending first) makes the earlier
  one end with it: a MIDI file cannot hold the pair (a note-off ends the earliest sounding
  note), so streams survive MIDI and back; hits read from a file nest only by a step of
  rounding.
* `decode` skips what does not parse (a DURVEL without its NOTE, a NOTE without its DURVEL,
  ids outside the vocabulary) and stops at EOS; the app's `save_midi` would replay the last
  note for a stray DURVEL. A DURVEL of length 0 plays one step.
"""

from __future__ import annotations

import io
import os
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import mido

from hoot.errors import HootError
from hoot.music.clip import NoteClip

StrPath = str | os.PathLike[str]

STEP_MS = 16
"""One TIME or duration step, in milliseconds."""

MAX_STEPS = 255
"""The longest gap between chords and the longest note, in steps (4.08 s)."""

TIME = range(0, 256)
NOTE = range(256, 16768)
DURVEL = range(16768, 18816)
SOS, OUTRO, EOS, PAD = 18816, 18817, 18818, 18819
VOCAB = 18820

DRUMS = 128
"""The patch Orpheus gives every note on MIDI channel 10."""

DRUM_CHANNEL = 9

DEFAULT_TEMPO = 500_000
"""Microseconds a beat before a file's first tempo event: the MIDI default, 120 BPM."""


@dataclass(frozen=True)
class Event:
    """One note on Orpheus's timeline: start and length in ms, a GM patch (128 = drums)."""

    start_ms: int
    dur_ms: int
    patch: int
    pitch: int
    vel: int


# Single tokens -------------------------------------------------------------------------


def note_token(patch: int, pitch: int) -> int:
    """The NOTE token of a patch (0-127, 128 drums) and a pitch (0-127)."""
    if not 0 <= patch <= DRUMS:
        raise HootError(f"patch {patch} is not 0-127 or 128 (drums)")
    if not 0 <= pitch <= 127:
        raise HootError(f"pitch {pitch} is not a MIDI pitch 0-127")
    return NOTE.start + 128 * patch + pitch


def vel8_of(vel: int) -> int:
    """Orpheus's velocity class 0-7 of a MIDI velocity (clamped to 8-127 first)."""
    return round(max(8, min(127, vel)) / 15) - 1


def durvel_token(dur_steps: int, vel: int) -> int:
    """The DURVEL token of a length in 16 ms steps (1-255) and a MIDI velocity (1-127)."""
    if not 1 <= dur_steps <= MAX_STEPS:
        raise HootError(f"a note lasts 1-255 steps of 16 ms, not {dur_steps}")
    if not 1 <= vel <= 127:
        raise HootError(f"velocity {vel} is not 1-127")
    return DURVEL.start + 8 * dur_steps + vel8_of(vel)


def patch_of(token: int) -> int:
    """The patch of a NOTE token (128 = drums)."""
    return (token - NOTE.start) // 128


def pitch_of(token: int) -> int:
    """The pitch of a NOTE token."""
    return (token - NOTE.start) % 128


def dur_of(token: int) -> int:
    """The length of a DURVEL token, in 16 ms steps."""
    return (token - DURVEL.start) // 8


def vel_of(token: int) -> int:
    """The velocity a DURVEL token plays: (vel8 + 1) * 15, so 15-120."""
    return ((token - DURVEL.start) % 8 + 1) * 15


# Streams ---------------------------------------------------------------------------------


def _untangle(notes: list[list[int]]) -> None:
    """Make `[start, dur, patch, pitch, vel]` notes (sorted by start, one per (patch, pitch)
    at a start) unambiguous to a MIDI file, in place.

    A melodic note ends where its patch plays its pitch again (the app's
    `fix_escore_notes_durations`). Drums keep overlaps, as the app does, but a hit ends no
    later than the next hit of its pitch ends: a file pairs each note-off with the earliest
    sounding note, so a hit nested inside an earlier one cannot be written. Hits read from a
    file only nest by a step of rounding.
    """
    groups: dict[tuple[int, int], list[list[int]]] = defaultdict(list)
    for note in notes:
        groups[(note[2], note[3])].append(note)
    for (patch, _pitch), group in groups.items():
        if patch == DRUMS:
            ceiling = None
            for note in reversed(group):
                if ceiling is not None and note[0] + note[1] > ceiling:
                    note[1] = ceiling - note[0]
                ceiling = note[0] + note[1]
        else:
            for before, after in zip(group, group[1:], strict=False):
                if before[0] + before[1] >= after[0]:
                    before[1] = max(1, after[0] - before[0])


def chords(events: Iterable[Event]) -> list[tuple[int, list[tuple[int, int, int, int]]]]:
    """The events as Orpheus quantises them: `(step, [(patch, pitch, dur_steps, vel), ...])`
    per chord, steps from time 0 before gaps are clipped, notes in stream order."""
    notes = []
    for order, event in enumerate(events):
        step = max(0, int(event.start_ms) // STEP_MS)
        dur = max(1, int(event.dur_ms) // STEP_MS)
        patch = max(0, min(DRUMS, int(event.patch)))
        pitch = max(1, min(127, int(event.pitch)))
        drum = patch == DRUMS
        # Melodic notes high to low (then by patch), drums after them, high to low.
        key = (step, drum, -pitch, 0 if drum else patch, int(event.start_ms), order)
        notes.append((key, [step, min(dur, MAX_STEPS), patch, pitch, int(event.vel)]))
    notes.sort(key=lambda item: item[0])

    kept = []
    seen: set[tuple[int, int, int]] = set()
    for _key, note in notes:
        identity = (note[0], note[2], note[3])
        if identity not in seen:
            seen.add(identity)
            kept.append(note)

    _untangle(kept)

    grouped: list[tuple[int, list[tuple[int, int, int, int]]]] = []
    for step, dur, patch, pitch, vel in kept:
        if not grouped or grouped[-1][0] != step:
            grouped.append((step, []))
        grouped[-1][1].append((patch, pitch, dur, vel))
    return grouped


def encode(events: Iterable[Event], sos: bool = True, lead_in: bool = True) -> list[int]:
    """Orpheus tokens for the events (see the module docstring for how they quantise).

    `sos` starts the stream with SOS (a prime does; a continuation's tail does not).
    `lead_in` keeps the first chord's distance from time 0 as its TIME token; False writes
    0 there, as the official app does.
    """
    tokens = [SOS] if sos else []
    previous = None
    for step, notes in chords(events):
        if previous is None:
            delta = step if lead_in else 0
        else:
            delta = step - previous
        previous = step
        tokens.append(min(MAX_STEPS, delta))
        for patch, pitch, dur, vel in notes:
            tokens.append(NOTE.start + 128 * patch + pitch)
            tokens.append(DURVEL.start + 8 * dur + vel8_of(vel))
    return tokens


def decode(tokens: Iterable[int]) -> list[Event]:
    """The events a stream plays, from time 0, in stream order.

    Tolerant: a NOTE pairs with the DURVEL right after it; a DURVEL without one, a NOTE
    without one, SOS, OUTRO, PAD and ids outside the vocabulary are skipped; EOS ends the
    stream. A DURVEL of length 0 plays one step.
    """
    events = []
    step = 0
    pending = None
    for raw in tokens:
        token = int(raw)
        if token in TIME:
            step += token
            pending = None
        elif token in NOTE:
            pending = token
        elif token in DURVEL:
            if pending is not None:
                events.append(
                    Event(
                        start_ms=step * STEP_MS,
                        dur_ms=max(1, dur_of(token)) * STEP_MS,
                        patch=patch_of(pending),
                        pitch=pitch_of(pending),
                        vel=vel_of(token),
                    )
                )
            pending = None
        elif token == EOS:
            break
        else:
            pending = None
    return events


# MIDI files ------------------------------------------------------------------------------


def _read(path: StrPath) -> mido.MidiFile:
    with open(path, "rb") as file:
        data = file.read()
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError...
        raise HootError(f"{os.fspath(path)} is not a readable MIDI file: {exc}") from exc
    if midi.type == 2:
        raise HootError(f"{os.fspath(path)} is a type 2 MIDI file; Orpheus reads types 0 and 1")
    if midi.ticks_per_beat <= 0:
        raise HootError(
            f"{os.fspath(path)} times its events in SMPTE frames, not beats; "
            "export it with a ticks-per-beat (PPQ) resolution"
        )
    return midi


def _merged(midi: mido.MidiFile) -> list[tuple[int, mido.Message]]:
    """Every track's messages at absolute ticks, by tick, then track, then file order."""
    merged = []
    for index, track in enumerate(midi.tracks):
        tick = 0
        for order, message in enumerate(track):
            tick += message.time
            merged.append((tick, index, order, message))
    merged.sort(key=lambda item: item[:3])
    return [(tick, message) for tick, _index, _order, message in merged]


class _TempoMap:
    """Ticks to milliseconds through every tempo change of a file."""

    def __init__(self, messages: Sequence[tuple[int, mido.Message]], ticks_per_beat: int):
        self.ticks_per_beat = ticks_per_beat
        self.ticks = [0]
        self.ms = [0.0]
        self.tempos = [DEFAULT_TEMPO]
        for tick, message in messages:
            if message.type != "set_tempo":
                continue
            if tick == self.ticks[-1]:
                self.tempos[-1] = message.tempo
                continue
            self.ms.append(self.at(tick))
            self.ticks.append(tick)
            self.tempos.append(message.tempo)

    def at(self, tick: int) -> float:
        index = len(self.ticks) - 1
        while self.ticks[index] > tick:
            index -= 1
        span = tick - self.ticks[index]
        return self.ms[index] + span * self.tempos[index] / (1000.0 * self.ticks_per_beat)


def _sustained(
    notes: list[list[int]], pedals: dict[int, list[tuple[int, int]]], end_ms: int
) -> None:
    """Hold each note whose release falls under its channel's pedal until the pedal lifts."""
    for channel, changes in pedals.items():
        spans: list[list[int]] = []
        down = None
        for ms, value in changes:
            if down is None and value >= 64:
                down = ms
            elif down is not None and value < 64:
                spans.append([down, ms])
                down = None
        if down is not None:
            spans.append([down, end_ms])
        merged: list[list[int]] = []
        for span in spans:
            if merged and span[0] <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], span[1])
            else:
                merged.append(span)
        for note in notes:
            if note[4] != channel:
                continue
            release = note[0] + note[1]
            for down_ms, up_ms in merged:
                if down_ms < release < up_ms:
                    note[1] = up_ms - note[0]
                    break


def midi_to_events(path: StrPath) -> list[Event]:
    """The notes of a type 0 or 1 MIDI file, all tracks and channels, timed in ms.

    Raises HootError when the file is not a readable MIDI file.
    """
    midi = _read(path)
    messages = _merged(midi)
    tempo = _TempoMap(messages, midi.ticks_per_beat)
    programs = [0] * 16
    sounding: dict[tuple[int, int], deque[list[int]]] = defaultdict(deque)
    pedals: dict[int, list[tuple[int, int]]] = defaultdict(list)
    notes: list[list[int]] = []  # [start_ms, dur_ms, patch, pitch, channel, vel]
    for tick, message in messages:
        kind = message.type
        if kind == "program_change":
            programs[message.channel] = message.program
        elif kind == "control_change" and message.control == 64:
            pedals[message.channel].append((round(tempo.at(tick)), message.value))
        elif kind == "note_on" and message.velocity > 0:
            channel = message.channel
            patch = DRUMS if channel == DRUM_CHANNEL else programs[channel]
            note = [round(tempo.at(tick)), 0, patch, message.note, channel, message.velocity]
            sounding[(channel, message.note)].append(note)
            notes.append(note)
        elif kind in ("note_on", "note_off"):
            waiting = sounding.get((message.channel, message.note))
            if waiting:
                note = waiting.popleft()
                note[1] = round(tempo.at(tick)) - note[0]
    end_ms = round(tempo.at(messages[-1][0])) if messages else 0
    for waiting in sounding.values():
        for note in waiting:
            note[1] = end_ms - note[0]
    if pedals:
        _sustained(notes, pedals, max((n[0] + n[1] for n in notes), default=0))
    notes.sort(key=lambda note: note[0])
    return [
        Event(start_ms=s, dur_ms=d, patch=patch, pitch=pitch, vel=vel)
        for s, d, patch, pitch, _channel, vel in notes
    ]


def _playable(events: Iterable[Event]) -> list[Event]:
    """Events a MIDI file can hold exactly: one note per (patch, pitch) at a start (the
    first kept), untangled as `encode` does (see `_untangle`)."""
    ordered = sorted(events, key=lambda e: e.start_ms)
    notes = []
    seen: set[tuple[int, int, int]] = set()
    for e in ordered:
        if (e.start_ms, e.patch, e.pitch) not in seen:
            seen.add((e.start_ms, e.patch, e.pitch))
            notes.append([e.start_ms, e.dur_ms, e.patch, e.pitch, e.vel])
    _untangle(notes)
    return [Event(*note) for note in notes]


def events_to_midi(events: Iterable[Event], path: StrPath) -> None:
    """Write the events as a type 0 MIDI file at 120 BPM and 500 ticks a beat (1 ms a tick).

    Drums go to channel 10; each melodic patch takes the next free channel with a program
    change, and past 15 patches the channel whose notes ended first changes program.
    """
    playable = _playable(events)
    channel_patch = [-1] * 16
    channel_free = [0] * 16  # ms at which a channel's last note ends
    timed: list[tuple[int, int, int, mido.Message]] = []  # (ms, order, seq, message)
    sequence = 0
    for event in playable:
        if event.patch == DRUMS:
            channel = DRUM_CHANNEL
        elif event.patch in channel_patch:
            channel = channel_patch.index(event.patch)
        else:
            melodic = [c for c in range(16) if c != DRUM_CHANNEL]
            unused = [c for c in melodic if channel_patch[c] < 0]
            channel = unused[0] if unused else min(melodic, key=lambda c: channel_free[c])
            channel_patch[channel] = event.patch
            change = mido.Message("program_change", channel=channel, program=event.patch)
            timed.append((event.start_ms, 1, sequence, change))
            sequence += 1
        end = event.start_ms + max(1, event.dur_ms)
        channel_free[channel] = max(channel_free[channel], end)
        vel = max(1, min(127, event.vel))
        on = mido.Message("note_on", channel=channel, note=event.pitch, velocity=vel)
        off = mido.Message("note_off", channel=channel, note=event.pitch, velocity=0)
        # At one time: offs first, then program changes, then ons.
        timed.append((event.start_ms, 2, sequence, on))
        timed.append((end, 0, sequence, off))
        sequence += 1
    timed.sort(key=lambda item: item[:3])
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=DEFAULT_TEMPO, time=0))
    now = 0
    for ms, _order, _seq, message in timed:
        track.append(message.copy(time=ms - now))
        now = ms
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=0, ticks_per_beat=DEFAULT_TEMPO // 1000)
    midi.tracks.append(track)
    midi.save(os.fspath(path))


def midi_to_tokens(path: StrPath, lead_in: bool = True) -> list[int]:
    """A MIDI file as an Orpheus stream, SOS first (`lead_in=False`: the app's exact stream)."""
    return encode(midi_to_events(path), sos=True, lead_in=lead_in)


def tokens_to_midi(tokens: Iterable[int], path: StrPath) -> None:
    """Write what a stream plays as a MIDI file (see `decode` and `events_to_midi`)."""
    events_to_midi(decode(tokens), path)


# Note clips and roles ----------------------------------------------------------------------


def clip_to_events(
    clip: NoteClip, bpm: float, patch: int, offset_beats: float = 0.0
) -> list[Event]:
    """A clip's notes as events on one patch, `offset_beats` later, at `bpm` quarter notes
    a minute (times rounded to the ms)."""
    if not bpm > 0:
        raise HootError(f"tempo {bpm!r} BPM must be above 0")
    ms_per_beat = 60_000.0 / bpm
    return [
        Event(
            start_ms=round((float(start) + offset_beats) * ms_per_beat),
            dur_ms=round(float(duration) * ms_per_beat),
            patch=patch,
            pitch=int(pitch),
            vel=int(vel),
        )
        for start, duration, pitch, vel in zip(
            clip.start, clip.duration, clip.pitch, clip.velocity, strict=True
        )
    ]


def events_to_notes(
    events: Iterable[Event], bpm: float, offset_ms: int = 0
) -> list[tuple[float, float, int, int, int]]:
    """Events as `(start_beat, dur_beats, pitch, vel, patch)` from `offset_ms` on, at `bpm`.

    Events that start before `offset_ms` (a prime's) are left out.
    """
    if not bpm > 0:
        raise HootError(f"tempo {bpm!r} BPM must be above 0")
    beats_per_ms = bpm / 60_000.0
    return [
        (
            (event.start_ms - offset_ms) * beats_per_ms,
            event.dur_ms * beats_per_ms,
            event.pitch,
            event.vel,
            event.patch,
        )
        for event in events
        if event.start_ms >= offset_ms
    ]


_LEAD_SOLOISTS = (40, 41, 56, 57, 64, 65, 66, 67, 68, 71, 72, 73, 74)
"""Melodic solo instruments a lead track can be: violin, viola, trumpet, trombone, the
four saxophones, oboe, clarinet, piccolo, flute, recorder."""

ROLE_PATCHES: dict[str, tuple[int, ...]] = {
    "drums": (DRUMS,),
    "bass": tuple(range(32, 40)),
    "chords": (*range(0, 8), *range(16, 24), *range(24, 32)),
    "lead": (*range(80, 88), *_LEAD_SOLOISTS),
    "pad": (*range(88, 96), *range(48, 52)),
    "perc": (DRUMS,),
    "keys": tuple(range(0, 8)),
}
"""The GM patches (128 = drums) a role's instruments come from: what a stem's masked logits
allow. Bass: the basses; chords: pianos, organs, guitars; lead: synth leads and solo
instruments; pad: synth pads, strings and ensembles; keys: pianos and e-pianos."""

DEFAULT_PATCH: dict[str, int] = {
    "drums": DRUMS,
    "bass": 33,  # electric bass (finger)
    "chords": 0,  # acoustic grand piano
    "lead": 80,  # square lead
    "pad": 89,  # warm pad
    "perc": DRUMS,
    "keys": 4,  # electric piano 1
}
"""The patch a role's notes take when a clip carries none (hoot's clips have no program)."""


def role_of_patch(patch: int) -> str | None:
    """The role a patch belongs to, None if no role uses it. Shared patches answer the
    first role in ROLE_PATCHES order (drums before perc, chords before keys)."""
    for role, patches in ROLE_PATCHES.items():
        if patch in patches:
            return role
    return None
