"""Engine.forward as a performer meets it: offline renders of little sets.

Output of `render` is aligned to musical time (the limiter's lookahead removed), so a stem
queued for sample S is heard from sample S of the returned audio.
"""

from __future__ import annotations

import numpy as np
import pytest

from hoot.engine.client import LocalEngine
from hoot.engine.core import FADE, LoadedStem, Start
from hoot.engine.protocol import Load, Mix, Swap, Unqueue
from hoot.errors import EngineError, HootError, StemError
from hoot.performance import Performance
from hoot.render import render
from hoot.session import Session
from tests import stemfiles

SR = 48000
CEILING = 10 ** (-0.3 / 20)


@pytest.fixture
def session(tmp_path):
    return Session(tmp_path / "set")


def first_sound(x: np.ndarray, threshold: float = 1e-9) -> int:
    hits = np.flatnonzero(np.abs(x).max(axis=1) > threshold)
    return int(hits[0]) if len(hits) else -1


def a_set(perf: Performance, folder) -> None:
    """A short set touching every part of forward(): audio and MIDI stems, loops, replace,
    stop, tempo change, gain/pan/mute/solo glides."""
    drums = perf.load(stemfiles.noise(folder / "drums.wav", seconds=0.7), role="drums")
    bass = perf.load(stemfiles.tone(folder / "bass.wav", seconds=1.3, freq=55), role="bass")
    keys = perf.load(
        stemfiles.midi(
            folder / "keys.mid",
            [(0, 1, 60, 100), (0, 1, 64, 90), (1.5, 0.5, 67, 110), (3, 2, 72, 80)],
            length=4,
        ),
        role="chords",
    )
    drums.queue()
    bass.queue(at="bar")
    keys.queue(at="beat")
    perf.wait(beats=5)
    perf.tracks.bass.gain = -6
    perf.tracks.drums.pan = -0.5
    perf.tempo = 133
    perf.wait(beats=3.3)
    perf.tracks.drums.stop(at="bar")
    perf.tracks.chords.mute = True
    lead = perf.load(stemfiles.tone(folder / "lead.wav", seconds=0.9, freq=440), role="lead")
    lead.queue(at="beat")
    perf.wait(bars=1)
    perf.tracks.lead.solo = True
    perf.tracks.chords.mute = False
    drums.queue(at="bar")
    loop = np.sin(np.linspace(0, 2 * np.pi * 220, 4 * 24000))[:, None] * [0.2, 0.15]
    pad = perf.load(stemfiles.write_wav(folder / "pad.wav", loop, bars=1), role="pad")
    pad.queue(at="bar")  # beat-locked: its turns are cut short (and faded) at 133 BPM
    perf.wait(beats=2.7)
    perf.tracks.lead.solo = False
    perf.tracks.bass.stop(at="now")


@pytest.mark.parametrize("blocksize", [256, 1000, "random", [7, 300, 1, 4096, 64]])
def test_renders_are_identical_to_the_bit_whatever_the_block_size(tmp_path, blocksize):
    reference = render(
        lambda p: a_set(p, tmp_path), bars=5, blocksize=64, session=Session(tmp_path / "a")
    )
    other = render(
        lambda p: a_set(p, tmp_path), bars=5, blocksize=blocksize, session=Session(tmp_path / "b")
    )
    assert np.abs(reference).max() > 0.05, "the set should be audible"
    assert reference.shape == other.shape
    assert reference.tobytes() == other.tobytes()


@pytest.mark.parametrize("quantum", ["phrase", "bar", "beat"])
def test_an_impulse_starts_on_the_first_sample_of_the_next_boundary(tmp_path, quantum):
    rng = np.random.default_rng(7)
    stem = stemfiles.impulse(tmp_path / "click.wav")
    for trial in range(4):
        expected = {}

        def script(perf, trial=trial, expected=expected):
            stemfiles.unity(perf)
            click = perf.load(stem, role="perc")
            perf.wait(seconds=float(rng.uniform(0.01, 3.0)))
            if trial % 2:  # a tempo change before the boundary moves the boundary
                perf.set_tempo(float(rng.uniform(70, 170)), at="beat")
            tm = perf.tempo_map()
            expected["at"] = tm.next_boundary(perf.now, quantum)
            assert click.queue(at=quantum) == expected["at"]

        audio = render(
            script,
            bars=8,
            blocksize=int(rng.integers(32, 1500)),
            session=Session(tmp_path / f"s{trial}"),
        )
        assert first_sound(audio) == expected["at"]
        assert audio[expected["at"], 0] == pytest.approx(0.5)


def test_a_generated_loop_stays_on_the_beat_grid_whatever_the_tempo_does(tmp_path):
    # a one-bar stem as a generator writes it (bars in its metadata), made at 120 BPM:
    # a click on its first frame and a softer one on its last beat
    audio = np.zeros((4 * 24000, 2), np.float32)
    audio[0], audio[3 * 24000] = 0.5, 0.25
    stem = stemfiles.write_wav(tmp_path / "loop.wav", audio, bars=1, beats_per_bar=4)
    seen = {}

    def script(perf):
        stemfiles.unity(perf)
        perf.load(stem, role="perc").queue(at="bar")
        perf.wait(bars=2)
        perf.set_tempo(150, at="bar")  # faster: each turn is cut short
        perf.wait(bars=3)
        perf.set_tempo(96, at="bar")  # slower: each turn ends in silence
        perf.wait(bars=1)
        seen["map"] = perf.tempo_map()

    out = render(script, bars=9, blocksize=333, session=Session(tmp_path / "s"))
    tm = seen["map"]
    turns = [tm.sample_at(4.0 * k) for k in range(9)]  # queued at time 0: bar 0 is due
    clicks = np.flatnonzero(np.abs(out[:, 0]) > 0.4)
    assert clicks.tolist() == turns, "every turn starts on its bar, at 120, 150 and 96 BPM"
    for start, end in zip(turns, turns[1:], strict=False):
        # the click on the last beat sits 72000 samples into the stem: within the 76800
        # samples of a turn at 150 BPM, so every turn has it, and silence after it
        assert out[start + 3 * 24000, 0] == pytest.approx(0.25)
        assert np.abs(out[start + 3 * 24000 + 1 : end]).max() == 0.0
        assert np.abs(out[start + 1 : start + 3 * 24000]).max() == 0.0


def test_a_loop_cut_short_by_a_faster_tempo_fades_out_instead_of_clicking(tmp_path):
    tone = np.full((4 * 24000, 2), 0.3, np.float32)  # a held level: any cut would click
    stem = stemfiles.write_wav(tmp_path / "held.wav", tone, bars=1, beats_per_bar=4)
    seen = {}

    def script(perf):
        stemfiles.unity(perf)
        perf.set_tempo(150, at="now")
        perf.load(stem, role="pad").queue(at="bar")
        seen["map"] = perf.tempo_map()

    out = render(script, bars=3, blocksize=256, session=Session(tmp_path / "s"))
    cut = seen["map"].sample_at(seen["map"].next_boundary_beat(1, "bar"))  # the 2nd turn
    assert cut < len(tone), "the turn is shorter than the stem"
    assert abs(out[cut - 2 * FADE, 0]) > 0.25, "full level until the fade"
    assert abs(out[cut - 1, 0]) < 0.01, "faded out by the turn's end"
    assert abs(out[cut + 100, 0]) > 0.25, (
        "and the next turn starts at once (after its seam fade-in)"
    )


def test_a_late_command_lands_on_the_following_boundary(tmp_path, session):
    link = LocalEngine(SR, blocksize=256, session_dir=session.dir)
    perf = Performance(link, session)
    click = perf.load(stemfiles.impulse(tmp_path / "click.wav"), role="perc")
    tm = perf.tempo_map()
    boundary = tm.next_boundary(1, "bar")  # bar 1
    perf.wait(beats=4.5)  # the command for bar 1 is delivered only after bar 1 has begun
    stem = link.control.stems[click.id]
    link.engine.inbox.append(
        Start(
            link.engine.tracks.index("perc"), stem, boundary, tm.next_boundary_beat(1, "bar"), "bar"
        )
    )
    start = link.position
    out = link.advance(tm.sample_at(12) - start)
    heard = start + first_sound(out) - link.engine.limiter.latency
    assert heard == tm.sample_at(8), "a late start moves to the next bar, never part-way"


def test_queue_replaces_what_plays_at_the_boundary(tmp_path, session):
    def script(perf):
        stemfiles.unity(perf)
        a = perf.load(stemfiles.tone(tmp_path / "a.wav", freq=220, level=0.3), role="bass")
        b = perf.load(stemfiles.impulse(tmp_path / "b.wav", value=0.9), role="bass")
        a.queue(at="beat")
        perf.wait(beats=1.5)
        b.queue(at="bar")

    audio = render(script, bars=2, session=session)
    bar1 = 4 * 24000
    assert np.abs(audio[: bar1 - FADE]).max() > 0.25
    # the old stem fades out just before the boundary and is silent from it on
    assert np.abs(audio[bar1 - FADE : bar1]).max() < 0.3
    assert audio[bar1, 0] == pytest.approx(0.9)
    assert np.abs(audio[bar1 + 1 : bar1 + 4800]).max() == 0.0
    assert audio[bar1 + 4800, 0] == pytest.approx(0.9), "and loops at its length"


def test_stop_at_once_fades_quickly(tmp_path, session):
    def script(perf):
        stemfiles.unity(perf)
        level = np.full((SR, 2), 0.3, np.float32)  # a steady level shows the fade's shape
        perf.load(stemfiles.write_wav(tmp_path / "a.wav", level), role="pad").queue(at="now")
        perf.wait(seconds=0.5)
        assert perf.tracks.pad.stop(at="now") == int(0.5 * SR) + FADE

    audio = render(script, bars=1, session=session)
    stop = int(0.5 * SR)
    assert np.abs(audio[stop - 100 : stop]).min() == pytest.approx(0.3)
    envelope = audio[stop : stop + FADE, 0]
    assert envelope[0] == pytest.approx(0.3, abs=0.01)
    assert np.all(np.diff(envelope) <= 0), "a fade, not a cut"
    assert np.abs(audio[stop + FADE :]).max() == 0.0


def test_limiter_keeps_the_master_under_the_ceiling_whatever_the_stems_hold(tmp_path, session):
    loud = np.full((24000, 2), 3.9, np.float32)
    loud[::2] *= -1
    nasty = np.zeros((24000, 2), np.float32)
    nasty[100] = np.nan
    nasty[200] = np.inf
    nasty[300] = 1e30

    def script(perf):
        perf.load(stemfiles.write_wav(tmp_path / "loud.wav", loud), role="drums").queue(at="now")
        perf.load(stemfiles.write_wav(tmp_path / "nasty.wav", nasty), role="bass").queue(at="now")
        perf.load(stemfiles.noise(tmp_path / "n.wav", level=0.9), role="lead").queue(at="now")
        for name in ("drums", "bass", "lead"):
            perf.tracks[name].gain = 24

    audio = render(script, bars=2, session=session)
    assert np.isfinite(audio).all()
    assert np.abs(audio).max() <= CEILING
    assert np.abs(audio).max() > 0.9 * CEILING, "the limiter limits, it does not mute"


def test_a_track_that_produces_nan_is_silenced_and_the_rest_plays_on(tmp_path, session):
    link = LocalEngine(SR, session_dir=session.dir)
    perf = Performance(link, session)
    stemfiles.unity(perf)
    perf.load(stemfiles.tone(tmp_path / "ok.wav", level=0.3), role="pad").queue(at="now")
    broken = LoadedStem("broken", audio=np.full((1000, 2), np.nan, np.float32))
    link.engine.inbox.append(Start(link.engine.tracks.index("bass"), broken, 0))
    out = link.advance(SR)
    assert np.isfinite(out).all()
    assert np.abs(out).max() > 0.2
    assert link.status().faults > 0


def test_bad_input_gives_one_clear_error_and_the_music_keeps_playing(tmp_path, session):
    link = LocalEngine(SR, session_dir=session.dir)
    perf = Performance(link, session)
    stemfiles.unity(perf)
    perf.load(stemfiles.tone(tmp_path / "ok.wav", level=0.3), role="pad").queue(at="now")
    link.advance(SR // 2)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" + bytes(100))
    with pytest.raises(StemError, match="not a readable audio file"):
        perf.load(corrupt, role="bass")
    with pytest.raises(HootError, match="no file at .*missing.wav: check the path"):
        perf.load(tmp_path / "missing.wav", role="bass")
    with pytest.raises(HootError, match="no file at .*missing.wav"):
        perf.load(tmp_path / "missing.wav")  # not "which track?": the file is what is wrong
    with pytest.raises(HootError, match="did you mean 'bass'"):
        perf.tracks.bas.gain = -3
    with pytest.raises(EngineError, match="did you mean 'bass'"):
        link.send(Mix(track="bas", gain=-3))
    for bpm in (0, 10_000):
        with pytest.raises(EngineError, match="out of range"):
            perf.tempo = bpm
    with pytest.raises(EngineError, match="pan"):
        perf.tracks.pad.pan = 3
    with pytest.raises(HootError, match="meter"):
        perf.meter = "5/0"
    assert perf.tempo == 120
    out = link.advance(SR // 2)
    assert np.abs(out).max() > 0.2, "the pad kept playing through every error"


def test_midi_stem_notes_play_through_the_synth_on_the_beat(tmp_path, session):
    def script(perf):
        perf.load(
            stemfiles.midi(tmp_path / "m.mid", [(0, 0.5, 48, 120), (2, 0.5, 55, 120)], length=4),
            role="bass",
        ).queue(at="bar")
        perf.wait(beats=0.5)

    audio = render(script, bars=3, session=session)
    bar1 = 0  # at the very start, the next bar boundary is bar 0 itself
    assert first_sound(audio) == bar1
    # the note at beat 2 of each loop sounds; the loop repeats at its 4-beat length
    for beat in (2, 4, 6):
        at = bar1 + beat * 24000
        assert np.abs(audio[at - 2000 : at]).max() < np.abs(audio[at : at + 2000]).max()


def test_meters_show_peak_and_rms_per_track_and_master(tmp_path, session):
    link = LocalEngine(SR, blocksize=4800, session_dir=session.dir)  # 11 cycles of 110 Hz
    perf = Performance(link, session)
    stemfiles.unity(perf)
    perf.load(stemfiles.tone(tmp_path / "t.wav", level=0.5), role="bass").queue(at="now")
    link.advance(4800 * 2)
    meters = link.status().meters
    bass = link.engine.tracks.index("bass")
    assert meters[bass, 0] == pytest.approx(0.5, abs=0.01)  # peak left
    assert meters[bass, 2] == pytest.approx(0.5 / np.sqrt(2), abs=0.02)  # rms left
    assert meters[-1, 0] == pytest.approx(0.5, abs=0.01)  # master
    assert meters[0].max() == 0.0  # drums are silent


def test_tempo_change_takes_effect_on_the_next_beat(session):
    link = LocalEngine(SR, session_dir=session.dir)
    perf = Performance(link, session)
    perf.wait(beats=2.25)
    beat = perf.set_tempo(140)
    assert beat == 3.0
    tm = perf.tempo_map()
    assert tm.sample_at(4) - tm.sample_at(3) == round(60 * SR / 140)
    assert perf.tempo == 120  # not yet
    perf.wait(beats=1)
    assert perf.tempo == 140


def test_a_retaken_loop_takes_over_at_the_start_of_its_next_turn(tmp_path, session):
    # one-bar loops as a generator writes them: the take made at 120 BPM holds 0.1, the one
    # made at 150 holds 0.2 and is a bar at 150 long
    slow = stemfiles.write_wav(tmp_path / "a.wav", np.full((96000, 2), 0.1, np.float32),
                               bars=1, beats_per_bar=4)  # fmt: skip
    fast = stemfiles.write_wav(tmp_path / "b.wav", np.full((76800, 2), 0.2, np.float32),
                               bars=1, beats_per_bar=4)  # fmt: skip
    link = LocalEngine(SR, session_dir=session.dir)
    perf = Performance(link, session)
    stemfiles.unity(perf)
    a = perf.load(slow, role="bass")
    link.send(Load(stem_id="b", path=str(fast), role="bass"))
    a.queue(at="bar")
    out = [link.advance(96000 + 30000)]  # into the loop's second turn
    perf.set_tempo(150, at="bar")
    swap = link.send(Swap(track="bass", stem="b", replaces=a.id))
    assert swap.sounding and swap.sample == 2 * 96000, "at the start of the next turn"
    out.append(link.advance(96000 - 30000 + 4 * 76800))
    audio = np.concatenate(out)[link.engine.limiter.latency :]
    assert np.allclose(audio[96000 + 4096 : 2 * 96000 - FADE, 0], 0.1), "this turn plays on"
    for k in range(3):  # then the new take, a whole one each turn (within its seam fades)
        turn = 2 * 96000 + k * 76800
        assert np.allclose(audio[turn + 64 : turn + 76800 - 64, 0], 0.2), f"turn {k}"
    assert [p.stem for p in perf.tracks.bass.playing] == ["b"]


def test_a_queued_stem_taken_back_leaves_what_plays_uncut(tmp_path, session):
    link = LocalEngine(SR, session_dir=session.dir)
    perf = Performance(link, session)
    stemfiles.unity(perf)
    held = perf.load(stemfiles.write_wav(tmp_path / "h.wav", np.full((SR, 2), 0.3, np.float32)),
                     role="pad")  # fmt: skip
    other = perf.load(stemfiles.impulse(tmp_path / "i.wav", value=0.9), role="pad")
    held.queue(at="now")
    out = [link.advance(SR // 2)]
    at = other.queue(at="bar")
    assert link.send(Unqueue(track="pad", stem=other.id)).sounding
    out.append(link.advance(2 * at))
    audio = np.concatenate(out)[link.engine.limiter.latency :]
    assert np.abs(audio).max() < 0.5, "the impulse never played"
    # no stop fade before the boundary, no silence after it (only the loop's own seam fades)
    assert np.allclose(audio[at - FADE - 10 : at - 64, 0], 0.3)
    assert np.allclose(audio[at + 64 : at + 1000, 0], 0.3)
    assert [p.stem for p in perf.tracks.pad.playing] == [held.id]
    assert not link.send(Unqueue(track="pad", stem=other.id)).sounding, "nothing to take back"
