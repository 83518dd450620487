"""The small Orpheus model's data pipeline (models/orpheus_data.py) on small made-up pieces:
each voice plays the role it should, transposition and re-timing keep every event a valid
Orpheus event, and training windows start with SOS and fit the model's 1024 positions."""

import random

import pytest

from hoot.generate.orpheus.tokens import EOS, ROLE_PATCHES, SOS, decode
from models import orpheus_data as data

C_MAJOR = {0, 2, 4, 5, 7, 9, 11}


def chorale() -> data.Piece:
    """Eight bars of four-part C major in 4/4: one chord a beat."""
    chords = [(72, 67, 64, 48), (74, 67, 62, 55), (76, 72, 67, 48), (77, 72, 69, 53)] * 8
    voices = {name: [(float(b), 1.0, chord[k], 0) for b, chord in enumerate(chords)]
              for k, name in enumerate(("soprano", "alto", "tenor", "bass"))}
    return data.Piece("test/chorale", "chorale", 4, float(len(chords)), voices)


@pytest.fixture(scope="module")
def groove() -> data.Piece:
    return data.hoot_pieces(1)[0]


def test_chorale_voices_play_their_roles():
    parts = data.role_parts(chorale())
    assert [n[2] for n in parts["bass"][:2]] == [48, 55]
    assert [n[2] for n in parts["lead"][:2]] == [72, 74]
    assert len(parts["chords"]) == 3 * 32 and len(parts["keys"]) == 4 * 32
    # the pad holds each upper voice for half a bar (two beats), not a beat
    assert {n[1] for n in parts["pad"]} == {2.0}
    assert {n[2] for n in parts["pad"]} <= {n[2] for n in parts["chords"]}


def test_hoot_groove_has_its_four_parts(groove):
    assert groove.kind == "hoot" and set(groove.voices) == {"drums", "perc", "bass", "chords"}
    assert all(groove.voices[r] for r in groove.voices)
    pad = data.role_parts(groove)["pad"]  # the bed: the chords held a bar at a time
    assert pad and {n[0] % groove.beats_per_bar for n in pad} == {0.0}
    assert {n[2] for n in pad} <= {n[2] for n in groove.voices["chords"]}


def test_rendered_roles_use_their_patches_and_ranges():
    rng = random.Random(1)
    for transpose in (-6, 0, 5):
        events = data.render(chorale(), ("bass", "chords", "lead"), rng, transpose=transpose)
        patches = {e.patch for e in events}
        bass = [e for e in events if e.patch in ROLE_PATCHES["bass"]]
        assert bass and len(patches) == 3
        assert data.BASS_RANGE[0] <= sorted(e.pitch for e in bass)[len(bass) // 2] < 60
        assert all((e.pitch - transpose) % 12 in C_MAJOR for e in events)


def test_drums_are_not_transposed(groove):
    rng = random.Random(2)
    plain = data.render(groove, ("drums",), rng, transpose=0)
    moved = data.render(groove, ("drums",), rng, transpose=5)
    assert {e.patch for e in plain} == {128}
    assert [e.pitch for e in plain] == [e.pitch for e in moved]


def test_retiming_scales_milliseconds():
    rng = random.Random(3)
    slow = data.render(chorale(), ("bass",), rng, bpm=80.0)
    fast = data.render(chorale(), ("bass",), rng, bpm=160.0)
    assert slow[1].start_ms == 750 and fast[1].start_ms == 375
    assert slow[-1].start_ms == 2 * fast[-1].start_ms


def test_renderings_decode_to_valid_events(groove):
    rng = random.Random(4)
    for piece in (chorale(), groove):
        for _ in range(20):
            tokens = data.rendering(piece, rng)
            assert tokens[0] == SOS and tokens[-1] == EOS
            assert all(0 <= t < EOS for t in tokens[1:-1])
            events = decode(tokens)
            assert events
            for e in events:
                assert 0 <= e.pitch <= 127 and 1 <= e.vel <= 127 and e.dur_ms >= 16
                assert e.patch == 128 or e.patch < 128


def test_windows_start_with_sos_and_fit(groove):
    rng = random.Random(5)
    long = data.rendering(chorale(), rng) * 12
    for size in (64, 512, data.WINDOW):
        for _ in range(30):
            w = data.window(long, rng, size)
            assert w[0] == SOS and len(w) <= size
            assert w[1] < 256  # a chord's time token follows SOS
    short = data.rendering(groove, rng)[:50]
    assert data.window(short, rng) == short


def test_split_is_by_piece_and_stable():
    pieces = [data.Piece(f"p{i}", "folk", 4, 4.0, {"melody": []}) for i in range(400)]
    a_train, a_test = data.split(pieces)
    b_train, b_test = data.split(pieces)
    assert [p.source for p in a_test] == [p.source for p in b_test]
    assert 5 <= len(a_test) <= 40 and len(a_train) + len(a_test) == 400


def test_pick_shares_windows_by_kind():
    pieces = [data.Piece(f"f{i}", "folk", 4, 4.0, {"melody": []}) for i in range(90)]
    pieces += [data.Piece(f"h{i}", "hoot", 4, 4.0, {}) for i in range(10)]
    rng = random.Random(6)
    kinds = [data.pick(pieces, rng).kind for _ in range(2000)]
    share = kinds.count("hoot") / len(kinds)
    expected = data.KIND_WEIGHTS["hoot"] / (data.KIND_WEIGHTS["hoot"] + data.KIND_WEIGHTS["folk"])
    assert abs(share - expected) < 0.05
