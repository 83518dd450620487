"""What an Orpheus-format model is told, and how its answer becomes a loop (no torch here).

Orpheus reads one stream of every instrument in time order (hoot.generate.orpheus.tokens).
So the moment a candidate is made for goes in as the music *before* it: `CONTEXT_BARS` bars
of what the other tracks play (their loops, tiled back from the phrase boundary), a bed of
the chord progression held on strings (or a piano, when strings are the role's own), and,
for a continuation, the track's own notes; the bed's chord and the other tracks' downbeat
at the boundary itself close the prime, so the first thing the model writes is the delta
time from the boundary. Tempo and meter are in the times themselves (the format counts
milliseconds), the key in the bed and in which pitches the model may write at all, and the
chords of the bars it writes in a lean of its logits towards each bar's chord tones
(HARMONY_WEIGHT).

What the model may write is the role's: only the role's instruments (a bass plays bass
patches 32-39, drums patch 128) and, for pitched roles, only the key's notes in the role's
register, by masking every other token's logit. What comes back is snapped to the meter's
grid, swung as the vibe swings, tiled from the bars made to the bars asked (drums make two
and repeat them, as drum loops do; melodic roles make up to eight), and cut so that every
note ends by the loop's end (the same placing as the embedded generator's, compose._placed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hoot.generate.compose import _placed
from hoot.generate.compose.moment import Moment
from hoot.generate.orpheus import tokens as tk
from hoot.music.clip import NoteClip

CONTEXT_BARS = 2
"""Bars of the moment before the boundary (about 4 s at 120 bpm in 4/4)."""
MADE_BARS = {"drums": 2, "perc": 2, "chords": 4, "pad": 8, "bass": 8, "lead": 8, "keys": 8}
"""The most bars a candidate is made of before it repeats: drum loops repeat every bar or
two; 8 bars of a bass line is about 200 tokens, 8 of 16th-note drums about 560."""
RANGES = {
    "bass": (28, 55),
    "chords": (48, 79),
    "pad": (43, 81),
    "lead": (60, 93),
    "keys": (48, 84),
}
"""The register each pitched role may write in (MIDI pitches, both included)."""
GM_DRUM_NOTES = tuple(range(35, 60))
GM_PERC_NOTES = (41, 43, 45, 47, 48, 50, 54, 56, 60, 61, 62, 63, 64, 65, 66, 69, 70, 75, 76, 77)
KEY_MASK = True
"""Pitched roles write only the key's notes (benchmarks/generate_quality.py --unmasked turns
it off, to measure what the model knows of keys by itself)."""
BED_PATCH, BED_PATCH_ALT = 48, 0  # string ensemble; a piano when strings are the role's own
BED_VELOCITY = 64
HARMONY_WEIGHT = 1.5
"""How hard a pitched candidate leans to the chord of its bar: a chord tone's logit + 1.5,
e^1.5 = 4.5 times as likely against the key's other notes as the model alone would have it
(decode.Rules.harmony). The model hears the progression's chords before the boundary only
(the bed); this is how it knows the later bars' chords."""
DIFFERENT = {"drums": 0.2, "perc": 0.2}
"""How different two candidates of a batch must be (`difference`), else the later one is
asked again: the embedded generator's floor (0.3 for pitched roles, 0.2 for drums and
percussion, tests/generate/test_default.py)."""
MAX_PRIME = 700
"""The longest prime in tokens: what the context bars can hold, leaving the model room
(its window is 1,024 tokens for the embedded model, 8,192 for Orpheus)."""


@dataclass
class Plan:
    """One candidate's question to the model and what its answer must become."""

    role: str
    patch: int
    prime: list[int]  # SOS and the moment, tokens
    notes: list[int]  # the NOTE tokens it may write
    end_steps: int  # 16 ms steps from the boundary to the end of the bars it makes
    made_bars: int
    beat_ms: float
    moment: Moment
    harmony: tuple[float, list[tuple[int, ...]], float] | None = None

    @property
    def downbeat(self) -> bool:
        """Whether its first note sounds on the boundary (every role but a lead, which may
        begin on a pickup or after a rest)."""
        return self.role != "lead"

    @property
    def max_new(self) -> int:
        """The most tokens it may take: 12 a beat (a 16th-note chord of three notes each
        16th would need 28; none of hoot's roles is that dense), at least 64."""
        beats = self.made_bars * self.moment.grid.length / self.moment.grid.bars
        return max(64, int(beats * 12) + 16)


def patches_for(role: str) -> tuple[int, ...]:
    """The instruments a role's candidates are written for, in the order candidates take
    them (candidate i plays patch i of this list, round)."""
    return tk.ROLE_PATCHES.get(role) or (tk.DEFAULT_PATCH.get(role, 0),)


def allowed_pitches(role: str, moment: Moment) -> list[int]:
    """The pitches a role may write: the kit's notes for drums and percussion; for pitched
    roles the key's scale in the role's register."""
    if role == "drums":
        return list(GM_DRUM_NOTES)
    if role == "perc":
        return list(GM_PERC_NOTES)
    low, high = RANGES.get(role, (36, 96))
    return moment.key.pitches(low, high) if KEY_MASK else list(range(low, high + 1))


def plan(request: Any, patch: int | None = None) -> Plan:
    """The prime, the mask and the length for the candidate `request` asks for."""
    moment = Moment.of(request)
    role = moment.role
    patches = patches_for(role)
    if patch is None:
        patch = patches[(int(request.seed) + int(request.index)) % len(patches)]
    beat_ms = 60_000.0 / float(request.bpm)
    bar_beats = moment.grid.length / moment.grid.bars
    context = dict(getattr(request, "context", None) or {})
    prompt = context.get("prompt") or None
    window = CONTEXT_BARS * bar_beats
    if prompt:
        window = max(window, float(prompt.get("length") or 0.0))
    events = _bed(moment, patch, window, bar_beats)
    for track, line in (context.get("tracks") or {}).items():
        if track == role or line.get("role") == role and not prompt:
            continue
        other = str(line.get("role") or track)
        line_patch = tk.DEFAULT_PATCH.get(other, 0)
        events += _tiled(
            line.get("notes") or [], float(line.get("length") or 0.0), window, line_patch
        )
    if prompt:
        length = float(prompt.get("length") or 0.0)
        for start, dur, pitch, vel in prompt.get("notes") or []:
            at = float(start) - length  # the prompt ends at the boundary
            if -window <= at <= 0:
                events.append((at, float(dur), int(pitch), int(vel), patch))
    prime = tk.encode(_to_events(events, window, beat_ms), sos=True)
    if len(prime) > MAX_PRIME:  # keep the end: the music nearest the boundary matters most
        prime = [tk.SOS] + _from_chord(prime[-(MAX_PRIME - 1) :])
    made = min(moment.grid.bars, MADE_BARS.get(role, 8))
    end_steps = math.ceil(made * bar_beats * beat_ms / tk.STEP_MS)
    notes = [tk.note_token(patch, p) for p in allowed_pitches(role, moment)]
    harmony = None
    if role not in ("drums", "perc") and HARMONY_WEIGHT:
        bar_steps = bar_beats * beat_ms / tk.STEP_MS
        chords = [tuple(moment.chord(bar).pitch_classes) for bar in range(made)]
        harmony = (bar_steps, chords, HARMONY_WEIGHT)
    return Plan(role, patch, prime, notes, end_steps, made, beat_ms, moment, harmony)


def fit(p: Plan, new_tokens: list[int]) -> NoteClip | None:
    """The model's answer as a clean loop of the asked bars, or None when it wrote no note
    of its role inside the bars it was making."""
    m = p.moment
    step_beats = m.grid.step
    made_steps = m.grid.steps_per_bar * p.made_bars
    raw = []
    for start_beat, dur_beat, pitch, vel, patch in tk.events_to_notes(
        tk.decode(new_tokens), 60_000.0 / p.beat_ms
    ):
        if patch != p.patch:
            continue
        step = round(start_beat / step_beats)
        if not 0 <= step < made_steps:
            continue
        steps = max(1, round(dur_beat / step_beats))
        if p.role in ("drums", "perc"):
            steps = 1
        steps = min(steps, made_steps - step)
        raw.append((step, steps, int(pitch), int(vel)))
    if not raw:
        return None
    notes = []
    for turn in range(math.ceil(m.grid.total_steps / made_steps)):
        for step, steps, pitch, vel in raw:
            at = step + turn * made_steps
            if at < m.grid.total_steps:
                notes.append((at, steps, pitch, vel))
    return NoteClip.from_notes(_placed(m, notes, keep_key=False), m.grid.length)


# ---- inside -------------------------------------------------------------------------------


def _bed(moment: Moment, patch: int, window: float, bar_beats: float) -> list[tuple]:
    """The progression held, one chord a bar, over the window and at the boundary."""
    bed_patch = BED_PATCH if BED_PATCH not in patches_for(moment.role) else BED_PATCH_ALT
    bars = math.ceil(window / bar_beats - 1e-9)
    out = []
    for back in range(bars, -1, -1):  # `bars` bars before the boundary, and its own
        bar = (moment.grid.bars - back) % moment.grid.bars if back else 0
        at = -back * bar_beats
        for pitch in moment.chord(bar).tones(52, 71)[:4]:
            out.append((at, bar_beats, pitch, BED_VELOCITY, bed_patch))
    return [e for e in out if e[0] >= -window - 1e-9]


def _tiled(notes: list, length: float, window: float, patch: int) -> list[tuple]:
    """A track's loop played back from the boundary over the window (its turn starting at
    the boundary), and its notes at the boundary itself."""
    if length <= 0 or not notes:
        return []
    out = []
    turns = math.ceil(window / length) + 1
    for turn in range(-turns, 1):
        for start, dur, pitch, vel in notes:
            at = float(start) + turn * length
            if -window - 1e-9 <= at <= 1e-9 and (turn < 0 or float(start) <= 1e-9):
                out.append((at, float(dur), int(pitch), int(vel), patch))
    return out


def _to_events(notes: list[tuple], window: float, beat_ms: float) -> list[tk.Event]:
    events = []
    for at, dur, pitch, vel, patch in notes:
        start = round((at + window) * beat_ms)
        length = max(tk.STEP_MS, round(dur * beat_ms))
        events.append(tk.Event(start, length, patch, pitch, max(1, min(127, vel))))
    return sorted(events, key=lambda e: (e.start_ms, e.patch == 128, -e.pitch))


def _from_chord(tokens: list[int]) -> list[int]:
    """A cut stream restarted at its first TIME token (so it does not begin mid-chord)."""
    for i, token in enumerate(tokens):
        if token < 256:
            return tokens[i:]
    return tokens


def difference(a: NoteClip, b: NoteClip, role: str) -> float:
    """How different two candidates are, 0 to 1: the Jaccard distance of their (onset,
    pitch) sets, and for pitched roles of their rhythms too, the larger (onsets on a
    1/12-beat grid, which holds 16ths and triplets)."""
    ta = np.round(a.start * 12).astype(int).tolist()
    tb = np.round(b.start * 12).astype(int).tolist()
    notes = _jaccard(set(zip(ta, a.pitch.tolist())), set(zip(tb, b.pitch.tolist())))
    if role in ("drums", "perc"):
        return notes
    return max(notes, _jaccard(set(ta), set(tb)))


def different_enough(clip: NoteClip, others: list[NoteClip], role: str) -> bool:
    floor = DIFFERENT.get(role, 0.3)
    return all(difference(clip, other, role) >= floor for other in others)


def _jaccard(a: set, b: set) -> float:
    return 1.0 - len(a & b) / len(a | b) if a | b else 0.0
