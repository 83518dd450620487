"""Keys, chords and progressions: parsing every way a musician writes them."""

from __future__ import annotations

import pytest

from hoot.music.harmony import (
    MODES,
    Chord,
    Key,
    chord_at,
    default_progression,
    note_name,
    parse_chord,
    parse_progression,
    pitch_class,
)

D_MINOR = Key.parse("D minor")
C_MAJOR = Key.parse("C major")


def names(text: str | list[str], key: Key) -> list[str]:
    return [chord.name for chord in parse_progression(text, key)]


# Keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tonic", "mode", "shown"),
    [
        ("D minor", 2, "minor", "D minor"),
        ("D min", 2, "minor", "D minor"),
        ("Dm", 2, "minor", "D minor"),
        ("d", 2, "minor", "D minor"),
        ("D", 2, "major", "D major"),
        ("F# dorian", 6, "dorian", "F# dorian"),
        ("Bb major", 10, "major", "Bb major"),
        ("Bb", 10, "major", "Bb major"),
        ("bb", 10, "minor", "Bb minor"),
        ("A#", 10, "major", "A# major"),
        ("C# harmonic minor", 1, "harmonic minor", "C# harmonic minor"),
        ("E melodic minor", 4, "melodic minor", "E melodic minor"),
        ("A aeolian", 9, "minor", "A minor"),
        ("C ionian", 0, "major", "C major"),
        ("G mixolydian", 7, "mixolydian", "G mixolydian"),
        ("E phrygian", 4, "phrygian", "E phrygian"),
        ("F lydian", 5, "lydian", "F lydian"),
        ("B locrian", 11, "locrian", "B locrian"),
        ("A minor pentatonic", 9, "minor pentatonic", "A minor pentatonic"),
        ("C major pentatonic", 0, "major pentatonic", "C major pentatonic"),
        ("  eb  MINOR ", 3, "minor", "Eb minor"),
        ("D♭ major", 1, "major", "Db major"),
    ],
)
def test_key_parse(text: str, tonic: int, mode: str, shown: str) -> None:
    key = Key.parse(text)
    assert (key.tonic, key.mode) == (tonic, mode)
    assert str(key) == shown
    assert Key.parse(str(key)) == key  # what str() writes reads back


def test_key_spelling_follows_the_key_signature_without_a_written_tonic() -> None:
    assert str(Key(10, "major")) == "Bb major"
    assert str(Key(6, "minor")) == "F# minor"
    assert str(Key(3, "minor")) == "Eb minor"
    assert str(Key(1, "dorian")) == "C# dorian"  # relative major B: sharps


def test_keys_compare_by_sound_not_spelling() -> None:
    assert Key.parse("A# major") == Key.parse("Bb major")
    assert Key.parse("Dm") == Key(2, "minor")


@pytest.mark.parametrize(
    ("mode", "scale"),
    [
        ("major", (0, 2, 4, 5, 7, 9, 11)),
        ("minor", (0, 2, 3, 5, 7, 8, 10)),
        ("dorian", (0, 2, 3, 5, 7, 9, 10)),
        ("phrygian", (0, 1, 3, 5, 7, 8, 10)),
        ("lydian", (0, 2, 4, 6, 7, 9, 11)),
        ("mixolydian", (0, 2, 4, 5, 7, 9, 10)),
        ("locrian", (0, 1, 3, 5, 6, 8, 10)),
        ("harmonic minor", (0, 2, 3, 5, 7, 8, 11)),
        ("melodic minor", (0, 2, 3, 5, 7, 9, 11)),
        ("major pentatonic", (0, 2, 4, 7, 9)),
        ("minor pentatonic", (0, 3, 5, 7, 10)),
    ],
)
def test_scales_of_every_mode(mode: str, scale: tuple[int, ...]) -> None:
    assert Key(0, mode).scale == scale
    assert Key(2, mode).scale == tuple((pc + 2) % 12 for pc in scale)


def test_modes_are_rotations_of_the_major_scale() -> None:
    major = Key(0, "major").scale
    for shift, mode in enumerate(("major", "dorian", "phrygian", "lydian", "mixolydian")):
        offset = (0, 2, 4, 5, 7)[shift]
        assert set(Key(offset, mode).scale) == set(major)
    assert set(Key(9, "minor").scale) == set(major)
    assert set(Key(11, "locrian").scale) == set(major)


def test_contains_and_nearest_in_scale() -> None:
    assert D_MINOR.contains(62) and D_MINOR.contains(70) and not D_MINOR.contains(61)
    assert D_MINOR.nearest_in_scale(62) == 62
    assert D_MINOR.nearest_in_scale(63) == 62  # Eb: D and E are both a semitone away; down
    assert D_MINOR.nearest_in_scale(66) == 65  # F# -> F
    assert D_MINOR.nearest_in_scale(68) == 67  # G#: tie, goes down
    assert C_MAJOR.nearest_in_scale(61) == 60


def test_scale_steps_and_pitches() -> None:
    assert C_MAJOR.step(60, 1) == 62
    assert C_MAJOR.step(60, 7) == 72
    assert C_MAJOR.step(60, -1) == 59
    assert C_MAJOR.step(64, 2) == 67
    assert D_MINOR.pitches(60, 72) == [60, 62, 64, 65, 67, 69, 70, 72]
    assert D_MINOR.degree_of(62) == 0 and D_MINOR.degree_of(70) == 5
    assert D_MINOR.degree_of(61) is None
    pent = Key.parse("A minor pentatonic")
    assert pent.step(57, 1) == 60 and pent.step(57, 5) == 69


@pytest.mark.parametrize(
    "bad",
    ["H minor", "", "7", "minor", "C## major", "D bogus", "Dm7"],
)
def test_key_errors_say_how_to_write_a_key(bad: str) -> None:
    with pytest.raises(ValueError) as raised:
        Key.parse(bad)
    message = str(raised.value)
    assert repr(bad) in message
    assert "D minor" in message or "mode" in message


def test_h_minor_message() -> None:
    with pytest.raises(ValueError, match=r"key 'H minor' is not a key; write it like 'D minor'"):
        Key.parse("H minor")


def test_unknown_mode_lists_the_modes() -> None:
    with pytest.raises(ValueError, match="dorian"):
        Key.parse("C bebop")


# Chords ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "root", "pcs", "bass"),
    [
        ("Dm", 2, (2, 5, 9), 2),
        ("Dm7", 2, (2, 5, 9, 0), 2),
        ("G7", 7, (7, 11, 2, 5), 7),
        ("Cmaj7", 0, (0, 4, 7, 11), 0),
        ("F#m7b5", 6, (6, 9, 0, 4), 6),
        ("Bb/D", 10, (10, 2, 5), 2),
        ("C/Bb", 0, (0, 4, 7, 10), 10),
        ("Csus4", 0, (0, 5, 7), 0),
        ("Esus2", 4, (4, 6, 11), 4),
        ("Eadd9", 4, (4, 8, 11, 6), 4),
        ("Bdim", 11, (11, 2, 5), 11),
        ("Caug", 0, (0, 4, 8), 0),
        ("A5", 9, (9, 4), 9),
        ("Ebmaj9", 3, (3, 7, 10, 2, 5), 3),
        ("Gmin7", 7, (7, 10, 2, 5), 7),
        ("CM7", 0, (0, 4, 7, 11), 0),
        ("Cø7", 0, (0, 3, 6, 10), 0),
        ("C°7", 0, (0, 3, 6, 9), 0),
        ("Am(maj7)", 9, (9, 0, 4, 8), 9),
        ("G7(b9)", 7, (7, 11, 2, 5, 8), 7),
    ],
)
def test_chord_names(name: str, root: int, pcs: tuple[int, ...], bass: int) -> None:
    chord = parse_chord(name)
    assert chord.root == root
    assert chord.pitch_classes == pcs
    assert chord.bass == bass
    assert parse_chord(chord.name) == chord  # the canonical name reads back


def test_chord_name_and_tones() -> None:
    chord = Chord(2, "m7")
    assert chord.name == "Dm7" and str(chord) == "Dm7"
    assert chord.tones(60, 72) == [60, 62, 65, 69, 72]
    assert parse_chord("Bb/D").name == "Bb/D"
    assert parse_chord("Bb/D").tones(36, 48) == [38, 41, 46]
    assert parse_chord("C").interval_pc(7) == 7
    assert parse_chord("Bdim").interval_pc(6) == 5 and parse_chord("Bdim").interval_pc(7) is None


def test_chords_compare_by_notes() -> None:
    assert parse_chord("A#m") == parse_chord("Bbm")
    assert parse_chord("Bb/D") != parse_chord("Bb")


# Progressions ----------------------------------------------------------------------


def test_roman_numerals_in_minor() -> None:
    assert names("i VI III VII", D_MINOR) == ["Dm", "Bb", "F", "C"]
    assert names("i iv v", D_MINOR) == ["Dm", "Gm", "Am"]
    assert names("ii° V7 i", D_MINOR) == ["Edim", "A7", "Dm"]
    assert names("bVII bVI", D_MINOR) == ["C", "Bb"]  # flats the key already has
    assert names("#vi° #vii°", D_MINOR) == ["Bdim", "C#dim"]


def test_roman_numerals_in_major() -> None:
    assert names("I V vi IV", C_MAJOR) == ["C", "G", "Am", "F"]
    assert names("ii7 V7 Imaj7", C_MAJOR) == ["Dm7", "G7", "Cmaj7"]
    assert names("bVII bVI bIII #iv°", C_MAJOR) == ["Bb", "Ab", "Eb", "F#dim"]
    assert names("iv6 IV6 vii° viiø7", C_MAJOR) == ["Fm6", "F6", "Bdim", "Bm7b5"]
    assert names("V/V V7/ii vii°/V", C_MAJOR) == ["D", "A7", "F#dim"]
    assert names("Isus4 IVadd9 I/E", C_MAJOR) == ["Csus4", "Fadd9", "C/E"]


def test_roman_numerals_spell_in_the_key() -> None:
    assert names("I IV V vi", Key.parse("F# major")) == ["F#", "B", "C#", "D#m"]
    assert names("I IV V", Key.parse("Gb major")) == ["Gb", "Cb", "Db"]
    assert names("i VI VII", Key.parse("Eb minor")) == ["Ebm", "Cb", "Db"]
    # Harmonic minor's own seventh degree is raised; bVII asks for the natural one.
    assert names("i v VII bVII", Key.parse("C# harmonic minor")) == ["C#m", "G#m", "B#", "B"]
    assert names("V", Key.parse("C# harmonic minor")) == ["G#"]


def test_roman_numerals_in_modes_use_the_modes_degrees() -> None:
    assert names("i IV VII", Key.parse("D dorian")) == ["Dm", "G", "C"]
    assert names("I II", Key.parse("F lydian")) == ["F", "G"]
    assert names("i II", Key.parse("E phrygian")) == ["Em", "F"]
    assert names("I VII", Key.parse("G mixolydian")) == ["G", "F"]
    assert names("i VII", Key.parse("A minor pentatonic")) == ["Am", "G"]


def test_chord_names_and_separators() -> None:
    assert names("Dm Bb F C", D_MINOR) == ["Dm", "Bb", "F", "C"]
    assert names("Dm7, G7 | Cmaj7 - F#m7b5", D_MINOR) == ["Dm7", "G7", "Cmaj7", "F#m7b5"]
    assert names("Dm|Bb||F,,C", D_MINOR) == ["Dm", "Bb", "F", "C"]
    assert names(["Dm", "Bb/D", "Csus4 Eadd9"], D_MINOR) == ["Dm", "Bb/D", "Csus4", "Eadd9"]
    assert names("i Bb III C", D_MINOR) == ["Dm", "Bb", "F", "C"]  # mixed freely
    assert names("Dm % Bb %", D_MINOR) == ["Dm", "Dm", "Bb", "Bb"]
    assert names("", D_MINOR) == []


def test_chord_names_read_back_through_the_progression_parser() -> None:
    text = "i ii° III+ iv7 V7 VI VIImaj7 bII vii°7 i6"
    chords = parse_progression(text, Key.parse("A harmonic minor"))
    again = parse_progression([chord.name for chord in chords], Key.parse("C major"))
    assert again == chords


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("Dm Xq7 F", "Xq7"),
        ("i VI Vi", "Vi"),
        ("Dmfoo", "Dmfoo"),
        ("I IVzz", "IVzz"),
        ("I/Q", "I/Q"),
        ("H7", "H7"),
    ],
)
def test_progression_errors_name_the_token(text: str, token: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_progression(text, C_MAJOR)
    assert repr(token) in str(raised.value)


def test_repeat_with_nothing_before_is_an_error() -> None:
    with pytest.raises(ValueError, match="repeats"):
        parse_progression("% Dm", D_MINOR)


def test_default_progressions_suit_the_mode() -> None:
    assert [c.name for c in default_progression(D_MINOR)] == ["Dm", "Bb", "F", "C"]
    assert [c.name for c in default_progression(C_MAJOR)] == ["C", "G", "Am", "F"]
    assert [c.name for c in default_progression(Key.parse("D dorian"))] == ["Dm", "G", "Dm", "C"]
    assert [c.name for c in default_progression(C_MAJOR, sevenths=True)] == [
        "Cmaj7",
        "G7",
        "Am7",
        "Fmaj7",
    ]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("tonic", [0, 2, 6, 10])
def test_default_progressions_stay_in_the_key(mode: str, tonic: int) -> None:
    key = Key(tonic, mode)
    for sevenths in (False, True):
        chords = default_progression(key, sevenths)
        assert len(chords) == 4
        assert chords[0].root == key.tonic
        for chord in chords:
            assert all(key.contains(pc) for pc in chord.pitch_classes), (mode, chord.name)


def test_chord_at_repeats_the_progression() -> None:
    chords = parse_progression("i VI III VII", D_MINOR)
    assert [chord_at(chords, bar).name for bar in range(6)] == ["Dm", "Bb", "F", "C", "Dm", "Bb"]
    assert [chord_at(chords, bar, 2).name for bar in range(5)] == ["Dm", "Dm", "Bb", "Bb", "F"]
    with pytest.raises(ValueError):
        chord_at([], 0)


def test_note_names() -> None:
    assert pitch_class("F#") == 6 and pitch_class("Bb") == 10 and pitch_class("Cb") == 11
    assert note_name(10) == "Bb" and note_name(10, "A") == "A#" and note_name(11, "C") == "Cb"
    with pytest.raises(ValueError):
        pitch_class("H")
