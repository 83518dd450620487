"""Stem files as performers have them: sample libraries in FLAC, Ogg and AIFF, every kind of
WAV, and files that are broken in the ways real files break."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from hoot.engine.client import LocalEngine
from hoot.errors import HootError, StemError
from hoot.performance import Performance
from hoot.session import Session

SR = 48000


@pytest.fixture
def perf(tmp_path):
    session = Session(tmp_path / "s")
    p = Performance(LocalEngine(SR, session_dir=session.dir), session)
    yield p
    p.close()


def a_chord(seconds: float = 0.5, channels: int = 2, samplerate: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * samplerate)) / samplerate
    tone = 0.2 * (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 277.2 * t))
    return np.repeat(tone[:, None], channels, axis=1)


FORMATS = [
    ("pad.flac", "FLAC", "PCM_24", 2, SR),
    ("pad.ogg", "OGG", "VORBIS", 2, SR),
    ("pad.aiff", "AIFF", "PCM_16", 2, SR),
    ("pad.caf", "CAF", "FLOAT", 2, SR),
    ("pad.w64", "W64", "PCM_24", 2, SR),
    ("pad.rf64", "RF64", "FLOAT", 2, SR),
    ("pad16.wav", "WAV", "PCM_16", 2, SR),
    ("pad24.wav", "WAV", "PCM_24", 2, SR),
    ("pad32.wav", "WAV", "PCM_32", 2, SR),
    ("pad8.wav", "WAV", "PCM_U8", 2, SR),
    ("paddouble.wav", "WAV", "DOUBLE", 2, SR),
    ("padx.wav", "WAVEX", "FLOAT", 2, SR),
    ("padmono22k.wav", "WAV", "PCM_16", 1, 22050),
    ("pad6ch.wav", "WAV", "PCM_16", 6, SR),
]


@pytest.mark.parametrize("name, container, subtype, channels, samplerate", FORMATS)
def test_whatever_libsndfile_reads_loads_and_plays(
    perf, tmp_path, name, container, subtype, channels, samplerate
):
    path = tmp_path / name
    sf.write(str(path), a_chord(channels=channels, samplerate=samplerate), samplerate,
             format=container, subtype=subtype)  # fmt: skip
    stem = perf.load(path, role="pad")
    assert not stem.midi and abs(stem.frames - SR // 2) <= 2, "at the engine's rate"
    for track in perf.tracks:
        track.gain = 0
    stem.queue(at="now")
    out = perf._link.advance(SR // 4)
    assert np.abs(out).max() > 0.1, f"{name} plays"


def test_a_name_without_its_suffix_finds_the_file(perf, tmp_path):
    sf.write(str(perf.session.stems / "strings.flac"), a_chord(), SR)
    assert perf.load("strings", role="pad").frames == SR // 2


def test_a_wav_cut_short_is_refused_with_what_is_missing(perf, tmp_path):
    whole = tmp_path / "take.wav"
    sf.write(str(whole), a_chord(seconds=6), SR, subtype="FLOAT")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:200])  # the header promises 2.3 MB; 100-odd bytes came
    with pytest.raises(StemError, match="cut short: its header promises 2,304,000 bytes"):
        perf.load(cut, role="pad")


def test_a_crashed_recording_whose_header_lags_still_loads(perf, tmp_path):
    whole = tmp_path / "rec.wav"
    sf.write(str(whole), a_chord(seconds=1), SR, subtype="FLOAT")
    data = bytearray(whole.read_bytes())
    at = data.index(b"data") + 4
    data[at : at + 4] = (100).to_bytes(4, "little")  # the header was last updated early on
    whole.write_bytes(bytes(data))
    assert perf.load(whole, role="pad").frames > 0


def test_files_that_are_not_audio_say_so(perf, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a sound")
    with pytest.raises(StemError, match="convert it to WAV or FLAC"):
        perf.load(notes, role="pad")
    fake = tmp_path / "fake.flac"
    fake.write_bytes(b"fLaC" + bytes(100))
    with pytest.raises(StemError, match="fake.flac"):
        perf.load(fake, role="pad")
    with pytest.raises(HootError, match="no file at"):
        perf.load(tmp_path / "nowhere.flac", role="pad")
