"""The corpus hoot's small Orpheus-format model learns from, and how it becomes tokens.

    python models/orpheus_data.py        # parse (or read the cache) and print the figures

Everything here is free and local: music21's corpus (installed with the `train` extra, no
download) and hoot's own rule-based generator. A piece is kept in beats, its voices by
name; what each voice plays as is decided when it is rendered, so one chorale teaches
several of hoot's roles:

    Bach chorales   bass voice -> bass (GM 32-39, moved into bass range)
                    soprano+alto+tenor -> chords (pianos, e-pianos, organs)
                    the same, held a half bar at a time -> pad (strings, synth pads)
                    soprano -> lead; all four -> keys (pianos)
    folk tunes      the melody -> lead (essenFolksong, oneills1850, ryansMammoth)
    hoot's own      drums and perc (patch 128), bass, chords from DefaultGenerator, every
                    style, both meters, many seeds: material we made, not found; its
                    chords also held a bar at a time -> pad (the "bed" hoot's Orpheus
                    generator primes a stem with)

Parts of one piece also play together (a chorale's bass+chords+lead; one seed's
drums+bass+chords), so the model learns how parts fit, which a stem under a context needs.
Every rendering is transposed (pitched parts; -6..+5 semitones: all 12 keys), played at
80-160 bpm (the format counts milliseconds, so tempo is something it must see), with a
velocity level per part (the chorales and tunes have none). Only pieces in 2/4, 3/4 and
4/4 are kept: hoot's grid is quarter-note beats in those meters.

Parsing the whole corpus costs minutes (an ABC collection of 300 tunes about 1-3 s to
read, each tune's notes more), so parsed pieces are cached under models/.cache/ as JSON
(ignored by git) and folk collections are sampled (`FOLK_TUNES` per collection).
"""

from __future__ import annotations

import gzip
import json
import random
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hoot.generate.orpheus.tokens import (  # noqa: E402
    EOS,
    ROLE_PATCHES,
    SOS,
    Event,
    encode,
)

CACHE_DIR = ROOT / "models" / ".cache" / "orpheus"
WINDOW = 1024
"""Tokens in a training window, SOS first: the model's max_seq_len (x-transformers'
AutoregressiveWrapper feeds tokens [:-1] and predicts [1:], so a window of 1024 fits)."""
FOLK_TUNES = {"essenFolksong": 900, "oneills1850": 300, "ryansMammoth": 500}
"""How many tunes each folk collection gives (a sample: the three hold ~12,000 tunes,
far more lead lines than the other roles have; ~1,700 keeps lead near the others)."""
FOLK_SECONDS = 150.0
HOOT_SEEDS = 100
"""Seeds of hoot's generator per style and meter: 6 styles x 2 meters x 100 = 1,200 pieces
(about 4 s to make), each four parts (drums, perc, bass, chords) of 4 bars, played 2-4
times round."""
KIND_WEIGHTS = {"chorale": 0.35, "hoot": 0.4, "folk": 0.25}
"""How often a training window comes from each kind of piece: by piece count the folk
tunes would give 60% of the windows (all lead); these shares give the roles a fair part
each (drums and perc come only from hoot's grooves)."""
TEMPOS = (80.0, 160.0)
BASS_RANGE = (36, 48)
"""Where a bass line's median pitch is moved by octaves (C2-C3: a bass guitar's middle)."""
LEAD_RANGE = (62, 79)
Note = tuple[float, float, int, int]  # start beat, duration in beats, pitch, velocity (0: none)


@dataclass
class Piece:
    """One piece in beats: its voices by name, where it came from, its bar."""

    source: str
    kind: str  # "chorale", "folk" or "hoot"
    beats_per_bar: int
    length: float
    voices: dict[str, list[Note]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "kind": self.kind,
            "beats_per_bar": self.beats_per_bar,
            "length": self.length,
            "voices": {k: [list(n) for n in v] for k, v in self.voices.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> Piece:
        voices = {k: [(float(a), float(b), int(c), int(e)) for a, b, c, e in v]
                  for k, v in d["voices"].items()}
        return cls(d["source"], d["kind"], int(d["beats_per_bar"]), float(d["length"]), voices)


# --- roles: what each voice of a piece plays as -------------------------------------------

ARRANGEMENTS: dict[str, tuple[tuple[tuple[str, ...], float], ...]] = {
    # (roles played together, weight): single stems and ensembles
    "chorale": (
        (("bass",), 2.0), (("chords",), 1.0), (("pad",), 1.0), (("lead",), 0.5),
        (("keys",), 1.0), (("bass", "chords", "lead"), 2.0), (("bass", "pad", "lead"), 1.0),
        (("bass", "chords"), 1.5), (("bass", "pad"), 0.5),
    ),
    "folk": ((("lead",), 1.0),),
    "hoot": (
        (("drums",), 1.5), (("perc",), 1.0), (("bass",), 1.0), (("chords",), 1.0),
        (("drums", "bass"), 1.0), (("drums", "bass", "chords"), 2.0),
        (("drums", "perc", "bass", "chords"), 2.0), (("bass", "chords"), 1.0),
        (("pad", "drums", "bass"), 1.5), (("pad", "drums", "perc", "bass"), 1.0),
        (("pad", "bass"), 0.5), (("pad", "drums", "bass", "chords"), 0.5),
    ),
}


def held(voices: Iterable[list[Note]], span: float, length: float) -> list[Note]:
    """Each voice sounding at the start of every `span` beats, held for it, repeats merged:
    the chorale's harmony as a pad plays it (a chord change at most every half bar)."""
    out: list[Note] = []
    for notes in voices:
        last: list | None = None
        t = 0.0
        while t < length:
            sounding = [n for n in notes if n[0] <= t + 1e-6 < n[0] + n[1]]
            pitch = sounding[0][2] if sounding else None
            end = min(t + span, length)
            if last is not None and pitch == last[2] and abs(last[0] + last[1] - t) < 1e-6:
                last[1] = end - last[0]
            else:
                if last is not None:
                    out.append(tuple(last))
                last = [t, end - t, pitch, 0] if pitch is not None else None
            t += span
        if last is not None:
            out.append(tuple(last))
    return sorted(out)


def bed(chords: list[Note], bar: float, length: float) -> list[Note]:
    """The chords part as a bed: every pitch it sounds in a bar's first beat, held for
    the bar (what hoot's Orpheus generator primes a stem with: the progression on strings)."""
    out: list[Note] = []
    t = 0.0
    while t < length:
        pitches = sorted({n[2] for n in chords if n[0] < t + 1 and n[0] + n[1] > t})
        out += [(t, min(bar, length - t), p, 64) for p in pitches]
        t += bar
    return out


def role_parts(piece: Piece) -> dict[str, list[Note]]:
    """The piece's notes by hoot role (bass, chords, pad, lead, keys, drums, perc)."""
    v = piece.voices
    if piece.kind == "chorale":
        upper = [v["soprano"], v["alto"], v["tenor"]]
        half = piece.beats_per_bar / (2 if piece.beats_per_bar % 2 == 0 else 1)
        return {
            "bass": list(v["bass"]),
            "chords": sorted(n for voice in upper for n in voice),
            "pad": held(upper, half, piece.length),
            "lead": list(v["soprano"]),
            "keys": sorted(n for voice in (*upper, v["bass"]) for n in voice),
        }
    if piece.kind == "folk":
        return {"lead": list(v["melody"])}
    parts = {role: list(notes) for role, notes in v.items()}
    parts["pad"] = bed(parts.get("chords", []), piece.beats_per_bar, piece.length)
    return parts


def _octaves_into(notes: Sequence[Note], low: int, high: int) -> int:
    """The octave shift (semitones) that puts the notes' median pitch in [low, high)."""
    if not notes:
        return 0
    pitches = sorted(n[2] for n in notes)
    median = pitches[len(pitches) // 2]
    shift = 0
    while median + shift >= high:
        shift -= 12
    while median + shift < low:
        shift += 12
    return shift


def render(piece: Piece, roles: Sequence[str], rng: random.Random, *, transpose: int = 0,
           bpm: float = 120.0, repeats: int = 1) -> list[Event]:
    """The piece's `roles` as Orpheus events: a patch from each role's family, pitched
    parts transposed (bass and lead then moved by octaves into their range), beats to
    milliseconds at `bpm`, a velocity level per part where the source has none."""
    parts = role_parts(piece)
    ms_per_beat = 60000.0 / bpm
    events: list[Event] = []
    for role in roles:
        notes = parts.get(role) or []
        patch = rng.choice(ROLE_PATCHES[role])
        drums = patch == 128
        shift = 0 if drums else transpose
        if role == "bass":
            shift += _octaves_into([(0, 0, p + shift, 0) for _, _, p, _ in notes], *BASS_RANGE)
        elif role == "lead":
            shift += _octaves_into([(0, 0, p + shift, 0) for _, _, p, _ in notes], *LEAD_RANGE)
        level = rng.randint(60, 105)
        for k in range(repeats):
            offset = k * piece.length
            for start, dur, pitch, vel in notes:
                pitch += shift
                if not 0 <= pitch <= 127:
                    continue
                if vel <= 0:
                    vel = level + rng.randint(-8, 8)
                events.append(Event(
                    start_ms=round((start + offset) * ms_per_beat),
                    dur_ms=max(16, round(dur * ms_per_beat)),
                    patch=patch,
                    pitch=pitch,
                    vel=max(1, min(127, vel)),
                ))
    events.sort(key=lambda e: (e.start_ms, e.patch == 128, -e.pitch, e.patch))
    return events


def rendering(piece: Piece, rng: random.Random) -> list[int]:
    """One random rendering of a piece as tokens: SOS, the events, EOS. An arrangement
    by weight, a transposition of -6..+5, a tempo of 80-160 bpm; hoot's 4-bar loops go
    round 2-4 times, as they play."""
    choices, weights = zip(*ARRANGEMENTS[piece.kind])
    roles = rng.choices(choices, weights)[0]
    repeats = rng.randint(2, 4) if piece.kind == "hoot" else 1
    events = render(piece, roles, rng, transpose=rng.randint(-6, 5),
                    bpm=rng.uniform(*TEMPOS), repeats=repeats)
    return encode(events, sos=True) + [EOS]


def pick(pieces: Sequence[Piece], rng: random.Random) -> Piece:
    """A piece to render: a kind by KIND_WEIGHTS (among those present), then a piece."""
    kinds = sorted({p.kind for p in pieces})
    kind = rng.choices(kinds, [KIND_WEIGHTS[k] for k in kinds])[0]
    return rng.choice([p for p in pieces if p.kind == kind])


def window(tokens: list[int], rng: random.Random, size: int = WINDOW) -> list[int]:
    """A training window of at most `size` tokens, SOS first: the piece's start, or
    (when it is longer) SOS then the stream from a random chord's time token on."""
    if len(tokens) <= size:
        return tokens
    body = tokens[1:]
    starts = [i for i, t in enumerate(body) if t < 256]
    if rng.random() < 0.25 or not starts:
        return tokens[:size]
    last = len(body) - (size - 1)
    fitting = [i for i in starts if i <= last] or [0]
    i = rng.choice(fitting)
    return [SOS] + body[i:i + size - 1]


# --- parsing -------------------------------------------------------------------------------

def _meter(stream) -> int | None:
    """Beats per bar for 2/4, 3/4, 4/4 (2/4 counts as 4/4's half: 2), else None."""
    ts = stream.recurse().getElementsByClass("TimeSignature").first()
    if ts is None or ts.denominator != 4 or ts.numerator not in (2, 3, 4):
        return None
    return int(ts.numerator)


def _notes(part) -> list[Note]:
    out: list[Note] = []
    for n in part.stripTies().flatten().notes:
        onset, dur = float(n.offset), float(n.quarterLength)
        if dur <= 0:
            continue
        for p in n.pitches:
            out.append((onset, dur, int(p.midi), 0))
    return sorted(out)


def parse_chorale(name: str) -> Piece | None:
    """A four-voice chorale (soprano, alto, tenor, bass) in a kept meter, or None."""
    from music21 import corpus

    score = corpus.parse(name)
    bar = _meter(score)
    if bar is None:
        return None
    named = {(p.partName or "").strip().lower(): p for p in score.parts}
    voices = ("soprano", "alto", "tenor", "bass")
    if not all(v in named for v in voices):
        if len(score.parts) != 4:
            return None
        named = dict(zip(voices, score.parts))
    parts = {v: _notes(named[v]) for v in voices}
    if not all(parts.values()):
        return None
    length = max(n[0] + n[1] for notes in parts.values() for n in notes)
    return Piece(name, "chorale", bar, length, parts)


def parse_folk(path: str, count: int, rng: random.Random) -> list[Piece]:
    """Up to `count` single-line tunes of an ABC file or collection, in kept meters."""
    from music21 import converter, stream

    parsed = converter.parse(path)
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    rng.shuffle(scores)
    out = []
    for k, score in enumerate(scores):
        if len(out) >= count:
            break
        bar = _meter(score)
        if bar is None:
            continue
        melody = [n for n in _notes(score.parts[0] if score.parts else score)]
        if len(melody) < 8:
            continue
        first = melody[0][0]
        melody = [(s - first, d, p, v) for s, d, p, v in melody]
        length = max(s + d for s, d, _, _ in melody)
        out.append(Piece(f"{Path(path).stem}#{k}", "folk", bar, length, {"melody": melody}))
    return out


def hoot_pieces(seeds: int = HOOT_SEEDS) -> list[Piece]:
    """Drums, perc, bass and chords of one seed, style, meter and key from hoot's own
    generator (DefaultGenerator): one piece, parts that were made to fit each other."""
    from hoot.generate.base import Request
    from hoot.generate.compose import DefaultGenerator
    from hoot.music.vibe import STYLES

    gen = DefaultGenerator()
    rng = random.Random(14)
    tonics = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    out = []
    for style in STYLES:
        for meter in ("4/4", "3/4"):
            for seed in range(seeds):
                key = f"{rng.choice(tonics)} {rng.choice(('major', 'minor'))}"
                voices = {}
                length = 0.0
                for role in ("drums", "perc", "bass", "chords"):
                    req = Request(role=role, seed=seed, meter=meter, key=key, bars=4,
                                  vibe={"style": style}, index=rng.randrange(6))
                    clip, _ = gen.compose(req)
                    length = clip.length
                    voices[role] = [(float(s), float(d), int(p), int(v)) for s, d, p, v in zip(
                        clip.start, clip.duration, clip.pitch, clip.velocity)]
                out.append(Piece(f"hoot/{style}/{meter}/{seed}", "hoot", int(meter[0]),
                                 length, voices))
    return out


def _cached(name: str, make, log) -> list[Piece]:
    """One collection's pieces from models/.cache/, else made (and timed) and cached."""
    path = CACHE_DIR / f"{name}.json.gz"
    if path.exists():
        with gzip.open(path, "rt") as f:
            return [Piece.from_dict(d) for d in json.load(f)]
    t = time.monotonic()
    pieces = make()
    log(f"{name}: {len(pieces)} pieces in {time.monotonic() - t:.0f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        json.dump([p.to_dict() for p in pieces], f)
    return pieces


def chorales(log=print) -> list[Piece]:
    """Every Bach chorale of music21's corpus in a kept meter with four voices."""
    from music21 import corpus

    out = []
    for name in sorted(corpus.chorales.Iterator(returnType="filename")):
        try:
            p = parse_chorale(name)
        except Exception as e:  # noqa: BLE001 - a file music21 cannot read is skipped
            log(f"skip {name}: {e}")
            continue
        if p is not None:
            out.append(p)
    return out


def folk(collection: str, count: int, log=print) -> list[Piece]:
    """Up to `count` tunes of a folk collection, files in a seeded order, stopping after
    FOLK_SECONDS of parsing (O'Neill's 50-tune files take minutes each to read whole)."""
    from music21 import corpus

    rng = random.Random(collection)
    paths = sorted(str(p) for p in corpus.getComposer(collection) if str(p).endswith(".abc"))
    rng.shuffle(paths)
    got: list[Piece] = []
    t = time.monotonic()
    for path in paths:
        if len(got) >= count or time.monotonic() - t > FOLK_SECONDS:
            break
        try:
            got += parse_folk(path, min(count - len(got), 60), rng)
        except Exception as e:  # noqa: BLE001
            log(f"skip {path}: {e}")
    return got


def corpus_pieces(*, log=print) -> list[Piece]:
    """Every piece: each collection from its cache when there, else parsed and cached."""
    pieces = _cached("chorales", lambda: chorales(log), log)
    for collection, count in FOLK_TUNES.items():
        pieces += _cached(collection, lambda c=collection, n=count: folk(c, n, log), log)
    pieces += _cached("hoot", hoot_pieces, log)
    return pieces


def split(pieces: list[Piece], held_out: float = 0.05) -> tuple[list[Piece], list[Piece]]:
    """Train and held-out pieces, split by piece (seeded by name, stable across runs)."""
    train, test = [], []
    for p in pieces:
        (test if random.Random(p.source).random() < held_out else train).append(p)
    return train, test


def figures(pieces: list[Piece]) -> dict:
    """How many pieces of each kind and notes each role can play (for the sidecar)."""
    kinds: dict[str, int] = {}
    roles: dict[str, int] = {}
    for p in pieces:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
        for role, notes in role_parts(p).items():
            roles[role] = roles.get(role, 0) + len(notes)
    return {"pieces": kinds, "notes_per_role": roles}


if __name__ == "__main__":
    t0 = time.monotonic()
    found = corpus_pieces()
    print(json.dumps(figures(found)), f"{time.monotonic() - t0:.0f} s")
