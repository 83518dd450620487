"""Rendering note clips to loops: length, seams, timing, loudness, spectra and speed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from hoot.generate.loudness import integrated_loudness, true_peak
from hoot.generate.render import render_clip, render_stem
from hoot.generate.soundfont import find_soundfonts, render_with_soundfont, soundfont_available
from hoot.music import ROLES
from hoot.music.clip import NoteClip
from hoot.music.sounds import ROLE_SOUNDS as ROLE_TIMBRES
from hoot.music.sounds import SOUNDS

TIMBRES = tuple(SOUNDS)
DRUM_TIMBRES = {name for name, sound in SOUNDS.items() if sound.drum_map}

SR = 48000
MELODIC = [timbre for timbre in TIMBRES if timbre not in DRUM_TIMBRES]


def bass_line(bars: int = 2) -> NoteClip:
    """Eighth-note bass with accents, octave jumps and one tie (a slide for acid_bass)."""
    pattern = [36, 36, 48, 36, 39, 36, 43, 46]
    notes = []
    for bar in range(bars):
        for step, pitch in enumerate(pattern):
            start = bar * 4 + step * 0.5
            duration = 0.6 if step == 3 else 0.4  # step 3 overlaps step 4
            notes.append((start, duration, pitch, 118 if step % 4 == 0 else 84))
    return NoteClip.from_notes(notes, length=4 * bars)


def drum_pattern(bars: int = 2, busy: bool = True) -> NoteClip:
    """Kick, snare, clap, rim, hats (sixteenths, or eighths when not `busy`), an open hat,
    tom fills when `busy`, a crash and a ride."""
    notes = []
    for bar in range(bars):
        o = bar * 4
        notes += [(o + beat, 0.1, 36, 120) for beat in range(4)]
        notes += [(o + 1, 0.1, 38, 110), (o + 3, 0.1, 39, 100), (o + 3.75, 0.1, 37, 80)]
        hats = range(16) if busy else range(0, 16, 2)
        notes += [(o + s * 0.25, 0.1, 42, 95 if s % 4 == 0 else 60) for s in hats if s != 14]
        notes += [(o + 3.5, 0.1, 46, 90)]
        if busy:
            notes += [(o + 2.5, 0.1, 45, 100), (o + 2.75, 0.1, 41, 100)]
    notes += [(0, 0.1, 49, 110), (4 * bars - 0.5, 0.1, 51, 90)]
    return NoteClip.from_notes(notes, length=4 * bars)


def perc_pattern(bars: int = 2) -> NoteClip:
    cycle = [62, 63, 64, 60, 61, 70, 75, 56, 69, 76, 77, 54, 65, 66, 67, 68]
    notes = [(s * 0.25, 0.1, cycle[s % 16], 100 - 20 * (s % 2)) for s in range(16 * bars)]
    return NoteClip.from_notes(notes, length=4 * bars)


def chords(bars: int = 2) -> NoteClip:
    roots = [0, 5, 7, 3, 0, 5, 8, 7]
    notes = [
        (bar * 4.0, 3.9, 60 + roots[bar % 8] + offset, 90)
        for bar in range(bars)
        for offset in (0, 4, 7, 11)
    ]
    return NoteClip.from_notes(notes, length=4 * bars)


def melody(bars: int = 2) -> NoteClip:
    tune = [72, 74, 76, 79, 76, 74, 72, 67]
    notes = [
        (i * 0.5, 1.4 if i % 4 == 3 else 0.45, tune[i % 8], 100 if i % 4 == 0 else 76)
        for i in range(8 * bars)
    ]
    return NoteClip.from_notes(notes, length=4 * bars)


def clip_for(timbre: str, bars: int = 2) -> tuple[NoteClip, str]:
    """A musical clip for a timbre, and a role it plays."""
    if timbre == "kit":
        return drum_pattern(bars), "drums"
    if timbre == "perc_kit":
        return perc_pattern(bars), "perc"
    if timbre in ("sub_bass", "acid_bass"):
        return bass_line(bars), "bass"
    if timbre in ("pad", "keys"):
        return chords(bars), "chords"
    return melody(bars), "lead"


def seconds(audio: np.ndarray) -> float:
    return audio.shape[0] / SR


def spectrum(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    power = np.abs(np.fft.rfft(mono * np.hanning(mono.size))) ** 2
    return np.fft.rfftfreq(mono.size, 1 / SR), power


def centroid(audio: np.ndarray) -> float:
    freqs, power = spectrum(audio)
    return float((freqs * power).sum() / power.sum())


def share_below(audio: np.ndarray, hz: float) -> float:
    freqs, power = spectrum(audio)
    return float(power[freqs < hz].sum() / power.sum())


# The catalogue ------------------------------------------------------------------------------


def test_every_role_has_suitable_timbres() -> None:
    assert set(ROLE_TIMBRES) == set(ROLES)
    for role, timbres in ROLE_TIMBRES.items():
        assert timbres, role
        assert set(timbres) <= set(TIMBRES)
    required = {"sub_bass", "acid_bass", "saw_lead", "pulse_lead", "pad", "keys", "pluck"}
    assert required | {"kit", "perc_kit"} <= set(TIMBRES)
    assert ROLE_TIMBRES["drums"][0] == "kit" and ROLE_TIMBRES["perc"][0] == "perc_kit"


def test_bad_arguments_are_refused_with_a_reason() -> None:
    clip = melody(1)
    with pytest.raises(ValueError, match="role"):
        render_clip(clip, 120, SR, "kazoo")
    with pytest.raises(ValueError, match="no sound"):
        render_clip(clip, 120, SR, "lead", "theremin")
    with pytest.raises(ValueError, match="brightness"):
        render_clip(clip, 120, SR, "lead", brightness=1.5)
    with pytest.raises(ValueError, match="tempo"):
        render_clip(clip, 0, SR, "lead")


# Shape, length and loop seams -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("bpm", "beats", "samplerate"),
    [(120, 8, 48000), (133, 7, 48000), (97.3, 3.5, 44100), (174, 12, 44100), (60, 2.5, 32000)],
)
def test_length_is_exact_for_any_tempo_and_meter(bpm: float, beats: float, samplerate: int) -> None:
    notes = [(b * 0.5, 0.3, 48 + (b % 5), 100) for b in range(int(beats * 2))]
    clip = NoteClip.from_notes(notes, length=beats)
    expected = round(beats * 60 / bpm * samplerate)
    for timbre in ("acid_bass", "pad", "kit"):
        role = "drums" if timbre == "kit" else "bass"
        audio = render_clip(clip, bpm, samplerate, role, timbre)
        assert audio.shape == (expected, 2)
        assert audio.dtype == np.float32
        assert np.isfinite(audio).all()


def test_beats_per_second_is_the_same_tempo_as_bpm() -> None:
    clip = bass_line(1)
    by_bpm = render_clip(clip, 150, SR, "bass")
    by_rate = render_clip(clip, 999, SR, "bass", beats_per_second=2.5)
    assert np.array_equal(by_bpm, by_rate)


def test_empty_clip_renders_silence_of_the_loop_length() -> None:
    clip = NoteClip.from_notes([], length=4)
    audio = render_clip(clip, 120, SR, "chords")
    assert audio.shape == (2 * SR, 2) and not audio.any()
    stem, info = render_stem(clip, 120, SR, "chords")
    assert not stem.any() and info["lufs"] == float("-inf") and info["gain_db"] == 0.0


def test_same_arguments_give_the_same_audio() -> None:
    clip = drum_pattern(1)
    first = render_clip(clip, 124, SR, "drums", seed=3)
    assert np.array_equal(first, render_clip(clip, 124, SR, "drums", seed=3))
    assert not np.array_equal(first, render_clip(clip, 124, SR, "drums", seed=4))


@pytest.mark.parametrize("timbre", TIMBRES)
def test_loop_seam_is_click_free(timbre: str) -> None:
    clip, role = clip_for(timbre, bars=1)
    # Something rings across the seam: a long last note or a late cymbal.
    if timbre in DRUM_TIMBRES:
        late = [(3.75, 0.1, 49, 110), (3.5, 0.1, 46, 100), (3.9, 0.1, 64, 100)]
    else:
        late = [(3.5, 2.0, 55, 110), (3.75, 1.0, 62, 90)]
    notes = list(zip(clip.start, clip.duration, clip.pitch.tolist(), clip.velocity.tolist()))
    clip = NoteClip.from_notes(notes + late, length=clip.length)
    audio, _ = render_stem(clip, 120, SR, role, timbre)
    steps = np.abs(np.diff(audio, axis=0))
    typical = np.percentile(steps, 99.9, axis=0)
    seam = np.abs(audio[0] - audio[-1])
    assert np.all(seam <= typical), (seam, typical)
    # Across the seam as the loop plays: no step out of the ordinary either.
    around = np.concatenate([audio[-64:], audio[:64]])
    assert np.all(np.abs(np.diff(around, axis=0)).max(axis=0) <= typical * 1.5)


@pytest.mark.parametrize("timbre", TIMBRES)
def test_notes_start_on_their_sample(timbre: str) -> None:
    pitch = {"kit": 38, "perc_kit": 63}.get(timbre, 57)
    role = "drums" if timbre in DRUM_TIMBRES else "lead"
    start_beat = 2.25
    clip = NoteClip.from_notes([(start_beat, 1.0, pitch, 100)], length=16)
    audio = render_clip(clip, 120, SR, role, timbre)
    onset = round(start_beat * 0.5 * SR)
    level = np.abs(audio).max(axis=1)
    peak = level.max()
    assert peak > 0
    # Silence before the note (its tail does not reach round the 8 s loop)...
    assert level[:onset].max() <= 1e-4 * peak
    # ...and sound within 2 ms of its start.
    first = int(np.argmax(level > 1e-3 * peak))
    assert onset <= first <= onset + round(0.002 * SR), (first - onset) / SR


# Loudness ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(ROLE_TIMBRES))
def test_stems_of_each_roles_default_timbre_hit_the_target(role: str) -> None:
    timbre = ROLE_TIMBRES[role][0]
    clip, _ = clip_for(timbre, bars=2)
    audio, info = render_stem(clip, 120, SR, role)
    assert info["timbre"] == timbre
    as_it_plays = integrated_loudness(audio, SR, loop=True)
    assert as_it_plays == pytest.approx(-14.0, abs=0.25)
    assert info["lufs"] == pytest.approx(as_it_plays, abs=0.01)
    assert np.abs(audio).max() <= 1.0
    assert true_peak(audio, SR, loop=True) <= -1.0


@pytest.mark.parametrize("timbre", TIMBRES)
def test_every_timbre_stem_is_finite_and_under_full_scale(timbre: str) -> None:
    clip, role = clip_for(timbre, bars=1)
    audio, info = render_stem(clip, 128, SR, role, timbre, brightness=0.9, target_lufs=-10.0)
    assert audio.dtype == np.float32 and np.isfinite(audio).all()
    assert np.abs(audio).max() <= 1.0
    assert info["lufs"] == pytest.approx(-10.0, abs=1.0)


# Spectra -------------------------------------------------------------------------------------


def test_sub_bass_lives_below_200_hz() -> None:
    audio = render_clip(bass_line(), 120, SR, "bass", "sub_bass")
    assert share_below(audio, 200) > 0.9


def test_kick_is_low_and_closed_hats_are_high() -> None:
    kicks = NoteClip.from_notes([(b, 0.1, 36, 110) for b in range(4)], length=4)
    assert share_below(render_clip(kicks, 120, SR, "drums"), 200) > 0.8
    hats = NoteClip.from_notes([(s * 0.25, 0.1, 42, 100) for s in range(16)], length=4)
    assert 1.0 - share_below(render_clip(hats, 120, SR, "drums"), 5000) > 0.7


def test_bass_is_mono_below_120_hz() -> None:
    for timbre in ("sub_bass", "acid_bass"):
        audio = render_clip(bass_line(), 120, SR, "bass", timbre)
        side = spectrum((audio[:, 0] - audio[:, 1]) / 2)
        mid = spectrum((audio[:, 0] + audio[:, 1]) / 2)
        low = side[0] < 100
        assert side[1][low].sum() < 1e-3 * mid[1][low].sum()


def test_melodic_timbres_are_pitched_where_the_notes_are() -> None:
    # A held A3 (220 Hz): the strongest partial is a harmonic of 220 Hz, and it is loud.
    clip = NoteClip.from_notes([(0, 3.5, 57, 100)], length=4)
    for timbre in MELODIC:
        freqs, power = spectrum(render_clip(clip, 120, SR, "lead", timbre))
        strongest = freqs[np.argmax(power)]
        harmonic = strongest / 220.0
        assert abs(harmonic - round(harmonic)) < 0.03 and round(harmonic) >= 1, timbre


@pytest.mark.parametrize("timbre", TIMBRES)
def test_brightness_raises_the_spectral_centroid(timbre: str) -> None:
    clip, role = clip_for(timbre, bars=1)
    dark = centroid(render_clip(clip, 120, SR, role, timbre, brightness=0.1))
    bright = centroid(render_clip(clip, 120, SR, role, timbre, brightness=0.9))
    assert bright > dark * 1.05, (dark, bright)


def test_velocity_is_heard() -> None:
    for timbre in TIMBRES:
        pitch = {"kit": 38, "perc_kit": 63}.get(timbre, 57)
        role = "drums" if timbre in DRUM_TIMBRES else "lead"
        soft = NoteClip.from_notes([(0, 1, pitch, 40)], length=4)
        hard = NoteClip.from_notes([(0, 1, pitch, 120)], length=4)
        quiet = integrated_loudness(render_clip(soft, 120, SR, role, timbre), SR)
        loud = integrated_loudness(render_clip(hard, 120, SR, role, timbre), SR)
        assert loud > quiet + 3.0, timbre


def test_open_hat_is_choked_by_the_closed_hat() -> None:
    open_only = NoteClip.from_notes([(0, 0.1, 46, 100)], length=4)
    choked = NoteClip.from_notes([(0, 0.1, 46, 100), (0.5, 0.1, 42, 1)], length=4)
    quarter = SR // 4  # beat 0.5 at 120 BPM
    ring = render_clip(open_only, 120, SR, "drums")[quarter + 2000 : quarter + 12000]
    cut = render_clip(choked, 120, SR, "drums")[quarter + 2000 : quarter + 12000]
    assert np.sqrt(np.mean(cut**2)) < 0.2 * np.sqrt(np.mean(ring**2))


# Speed ---------------------------------------------------------------------------------------


def test_render_time_report(report) -> None:
    """Eight bars at 120 BPM, 48 kHz: the renders a performer waits for. Printed, not
    asserted: the machine may be busy with other work."""
    line = bass_line(8)
    keep = np.arange(len(line)) % 2 == 0  # quarter notes: a typical 32-note line
    bass = NoteClip(
        line.start[keep], line.duration[keep], line.pitch[keep], line.velocity[keep], 32
    )
    drums = drum_pattern(8, busy=False)
    harmony = chords(8)
    cases = [
        (f"bass sub_bass ({len(bass)} notes)", bass, "bass", "sub_bass"),
        (f"bass acid_bass ({len(bass)} notes)", bass, "bass", "acid_bass"),
        (f"drums kit ({len(drums)} hits)", drums, "drums", "kit"),
        (f"chords keys ({len(harmony)} notes)", harmony, "chords", "keys"),
        (f"chords pad ({len(harmony)} notes)", harmony, "chords", "pad"),
        (f"lead saw_lead ({len(melody(8))} notes)", melody(8), "lead", "saw_lead"),
        (f"perc perc_kit ({len(perc_pattern(8))} hits)", perc_pattern(8), "perc", "perc_kit"),
    ]
    for name, clip, role, timbre in cases:
        render_clip(clip, 120, SR, role, timbre)  # caches (drum hits, wavetables) warm up
        clip_times, stem_times = [], []
        for _ in range(3):
            began = time.perf_counter()
            render_clip(clip, 120, SR, role, timbre)
            clip_times.append(time.perf_counter() - began)
            began = time.perf_counter()
            render_stem(clip, 120, SR, role, timbre)
            stem_times.append(time.perf_counter() - began)
        line = (
            f"8 bars {name}: render_clip {min(clip_times) * 1e3:.0f} ms, "
            f"render_stem {min(stem_times) * 1e3:.0f} ms (best of 3)"
        )
        print(line)
        report(line)


# SoundFont rendering ---------------------------------------------------------------------------


def gm_soundfont():
    """The installed GM SoundFont. A machine without fluidsynth or a SoundFont fails here
    with the command that fixes it; nothing is skipped."""
    ok, why = soundfont_available()
    if not ok:
        pytest.fail(f"SoundFont rendering is not available: {why}")
    return find_soundfonts()[0]


def test_soundfonts_are_found_in_models_first(tmp_path) -> None:
    gm_soundfont()
    own = tmp_path / "mine.sf2"
    own.write_bytes(b"")
    found = find_soundfonts(tmp_path)
    assert found[0] == own
    assert any(path.parent == Path("/usr/share/sounds/sf2") for path in found[1:])
    assert len({path.resolve() for path in found}) == len(found)


def test_soundfont_render_is_an_exact_seamless_loop() -> None:
    sf2 = gm_soundfont()
    # A chord ringing over the loop's end, on the GM strings.
    clip = NoteClip.from_notes(
        [(0, 1, 60, 100), (1, 1, 64, 90), (2, 1, 67, 90), (3.5, 2.0, 72, 110)], length=4
    )
    for bpm, samplerate in ((120, 48000), (97, 44100)):
        audio = render_with_soundfont(clip, bpm, samplerate, sf2, program=48)
        assert audio.shape == (round(4 * 60 / bpm * samplerate), 2)
        assert audio.dtype == np.float32 and np.isfinite(audio).all()
        assert np.abs(audio).max() > 0.01
        steps = np.abs(np.diff(audio, axis=0))
        assert np.all(np.abs(audio[0] - audio[-1]) <= np.percentile(steps, 99.9, axis=0))


def test_soundfont_notes_land_on_their_sample() -> None:
    sf2 = gm_soundfont()
    clip = NoteClip.from_notes([(1.0, 0.5, 60, 110)], length=8)
    audio = render_with_soundfont(clip, 120, SR, sf2, program=80)  # square lead: instant attack
    level = np.abs(audio).max(axis=1)
    onset = SR // 2
    first = int(np.argmax(level > 1e-3 * level.max()))
    assert onset <= first <= onset + round(0.002 * SR), (first - onset) / SR


def test_soundfont_drums_play_on_the_percussion_channel() -> None:
    sf2 = gm_soundfont()
    clip = drum_pattern(1)
    audio = render_with_soundfont(clip, 120, SR, sf2, drums=True)
    assert audio.shape == (2 * SR, 2)
    # A kick on every beat: the loop's low end pulses with it.
    assert share_below(audio, 200) > 0.05
    assert np.abs(audio).max() > 0.05


def test_soundfont_refuses_a_missing_file(tmp_path) -> None:
    with pytest.raises(ValueError, match="no SoundFont"):
        render_with_soundfont(melody(1), 120, SR, tmp_path / "none.sf2")
