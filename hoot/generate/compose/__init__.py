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


def _clip(m: Moment, notes: list[Note]) -> NoteClip:
    """Steps to beats, after swing; every note ends by the clip's end so the loop is clean."""
    length = m.grid.length
    seen: dict[tuple[float, int], tuple[float, float, int, int]] = {}
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
    if m.role not in ("drums", "perc"):
        _keep_in_key(m, placed)
    return NoteClip.from_notes(placed, length)


class DefaultGenerator:
    """hoot's own generator: pattern families for every role and style, no downloads.

    `compose(request)` gives the notes of candidate `request.index` and the choices it
    made; the same request gives the same notes, note for note.
    """

    name = "default"

    def available(self) -> tuple[bool, str]:
        """Always here: it is plain Python and numpy."""
        return True, "embedded; no downloads"

    def compose(self, request: Any) -> tuple[NoteClip, dict]:
        """The notes of one candidate, and the parameters it used (for the metadata)."""
        m = Moment.of(request)
        notes = _PLAYERS[m.role](m)
        clip = _clip(m, notes)
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
