"""The embedded generator: idiomatic patterns for every role and style, on a laptop CPU.

`perf.generate("bass", n=6)` asks it for six candidates. Each candidate index plays a
different *archetype* of the style (for house bass: off-beat, octave, syncopated,
funk, gallop, pulse), so a batch offers six different ideas, not one idea six times;
the seed then varies each idea. Everything follows the moment: the meter's grid, the
key, one chord a bar from the progression, and the vibe (density, energy,
brightness, swing, complexity, register, style).

Drums and bass lock together. The kick of a style is chosen from the seed, style,
meter and the vibe's complexity only, never from the candidate index, so every drum
candidate of a seed plays the same kick, and every bass candidate of the same seed
starts its notes on that kick, on the sixteenth after it (a push) or on the eighth
after it (the answer, which in four-on-the-floor styles is the off-beat). Generate
drums and bass with the same seed (`perf.generate("bass", seed=...)`) and any pick
of one fits any pick of the other. `kick_onsets(request)` gives that kick.

Notes never start at or after the clip's end, and every note ends by it, so a clip
loops without hanging notes; a chord held to the end of the last bar ends exactly there.

Where things live: `moment` reads the request (grid, key, chords, vibe, archetype,
kick); `patterns` holds the rhythm vocabulary and the tables the parts play from;
`drums`, `perc`, `bass`, `chords`, `pad` and `lead` each compose one role (`play`);
`tones` is the chord arithmetic the pitched roles share. This module turns a role's
steps into a clip and answers the generator protocol.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from hoot.generate.compose import bass, chords, drums, lead, pad, perc
from hoot.generate.compose.drums import wants_fill
from hoot.generate.compose.moment import ARCHETYPES, Moment, Note, archetypes, kick_onsets
from hoot.music.clip import NoteClip

__all__ = ["DefaultGenerator", "archetypes", "kick_onsets"]

_PLAYERS: dict[str, Callable[[Moment], list[Note]]] = {
    "drums": drums.play,
    "perc": perc.play,
    "bass": bass.play,
    "chords": chords.play,
    "pad": pad.play,
    "lead": lead.play,
}


def _keep_in_key(m: Moment, notes: list[tuple[float, float, int, int]]) -> None:
    """Keep passing notes off the scale a small share (4%) of the part's sounding time.

    Tones of the chords stay whatever they are (the performer chose the chords); a
    chromatic passing note beyond the share moves to the nearest note of the scale,
    longest first.
    """
    total = sum(n[1] for n in notes)
    outside = []
    for i, (start, _, pitch, _) in enumerate(notes):
        if m.key.contains(pitch):
            continue
        step = start / m.grid.step
        bar = int(step // m.spb)
        harmony = set(m.chord(bar).pitch_classes)
        if step - bar * m.spb >= m.spb - 2:
            harmony |= set(m.next_chord(bar).pitch_classes)
        if pitch % 12 not in harmony:
            outside.append(i)
    used = sum(notes[i][1] for i in outside)
    for i in sorted(outside, key=lambda i: (-notes[i][1], i)):
        if used <= 0.04 * total:
            break
        start, length, pitch, velocity = notes[i]
        notes[i] = (start, length, m.key.nearest_in_scale(pitch), velocity)
        used -= length


def _placed(m: Moment, notes: list[Note], keep_key: bool = True) -> list[Note]:
    """Steps to beats, after swing; every note ends by the clip's end so the loop is clean;
    passing notes off the key kept to a small share (`keep_key`)."""
    length = m.grid.length
    seen: dict[tuple[float, int], Note] = {}
    for step, steps, pitch, velocity in notes:
        if step < 0 or step >= m.grid.total_steps or steps <= 0:
            continue
        start = m.swung(step)
        end = min(m.swung(step + steps), length)
        if end - start <= 1e-6:
            end = min(length, start + m.grid.step * 0.25)
        if not 0 <= pitch <= 127:
            continue
        key = (round(start, 9), pitch)
        if key in seen and seen[key][3] >= velocity:
            continue  # the same note twice at once: keep the louder
        seen[key] = (start, end - start, pitch, velocity)
    placed = list(seen.values())
    if keep_key and m.role not in ("drums", "perc"):
        _keep_in_key(m, placed)
    return placed


# How many batches a generator remembers the candidates of: a worker serves a few
# batches at once (one per track being generated), and a batch is a few kilobytes.
_BATCHES_REMEMBERED = 32
# How many ideas a candidate tries before it gives up on being new: every family of its
# role twice round, each in two variants. In 16-candidate batches of every role, style
# and meter tests/generate/test_candidates.py sweeps, 96% need none and the most is 11.
_TAKES = 24


def _heard(placed: list[Note]) -> frozenset[tuple[int, int]]:
    """What tells two candidates apart by ear: when each note starts (to a forty-eighth
    of a beat, which catches swing and triplets) and which note it is. A velocity or a
    length alone does not make another idea."""
    return frozenset((round(start * 48), pitch) for start, _, pitch, _ in placed)


def _batch_of(request: Any) -> str:
    """What the candidates of one batch share: everything that shapes the notes, but
    the index (tempo, sample rate and sound do not change a note)."""
    vibe = sorted((str(k), repr(v)) for k, v in (getattr(request, "vibe", None) or {}).items())
    chords = tuple(getattr(request, "chords", None) or ())
    fields = (request.role, request.bars, request.meter, request.key, chords, request.seed)
    return repr((fields, vibe))


class DefaultGenerator:
    """hoot's own generator: pattern families for every role and style, no downloads.

    `compose(request)` gives the notes of candidate `request.index` and the choices it
    made; the same request gives the same notes, note for note.

    No two candidates of a batch play the same notes. Candidates are composed one at a
    time, each in whichever worker is free, so candidate i composes candidates 0..i-1
    itself (about a millisecond each; a worker remembers the ones it has made) and,
    if its idea is one of theirs, moves on to another (`moment.idea`). A batch of six
    is therefore the start of a batch of sixteen.
    """

    name = "default"

    def __init__(self) -> None:
        self._batches: OrderedDict[str, list[frozenset[tuple[int, int]]]] = OrderedDict()

    def available(self) -> tuple[bool, str]:
        """Always here: it is plain Python and numpy."""
        return True, "embedded; no downloads"

    def compose(self, request: Any) -> tuple[NoteClip, dict]:
        """The notes of one candidate, and the parameters it used (for the metadata)."""
        m, placed = self._candidate(Moment.of(request), _batch_of(request))
        clip = NoteClip.from_notes(placed, m.grid.length)
        params: dict[str, Any] = {
            "generator": self.name,
            "role": m.role,
            "style": m.style,
            "archetype": m.archetype,
            "variant": m.variant,
            "archetypes": list(ARCHETYPES[m.role][m.style]),
            "key": str(m.key),
            "chords": [c.name for c in m.progression],
            "meter": str(m.grid.meter),
            "bars": m.grid.bars,
            "seed": m.seed,
            "index": m.index,
            "notes_per_bar": round(len(clip) / m.grid.bars, 2),
        }
        params.update({name: round(value, 3) for name, value in m.vibe.items()})
        if m.role in ("drums", "bass"):
            params["kick"] = m.kick_name
        if m.role in ("drums", "perc"):
            params["fill"] = wants_fill(m)
        return clip, params

    def _candidate(self, asked: Moment, batch: str) -> tuple[Moment, list[Note]]:
        """The asked candidate of its batch, after the ones before it."""
        earlier = self._batches.pop(batch, [])
        self._batches[batch] = earlier
        while len(self._batches) > _BATCHES_REMEMBERED:
            self._batches.popitem(last=False)
        while len(earlier) < asked.index:
            _, placed = _new_idea(asked, len(earlier), earlier)
            earlier.append(_heard(placed))
        m, placed = _new_idea(asked, asked.index, earlier[: asked.index])
        if len(earlier) == asked.index:
            earlier.append(_heard(placed))
        return m, placed


def _new_idea(
    batch: Moment, index: int, earlier: list[frozenset[tuple[int, int]]]
) -> tuple[Moment, list[Note]]:
    """Candidate `index`: its own idea, or the first next one no earlier candidate plays."""
    for take in range(_TAKES):
        m = batch.candidate(index, take)
        placed = _placed(m, _PLAYERS[m.role](m))
        if _heard(placed) not in earlier:
            break
    return m, placed
