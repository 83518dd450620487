"""A keyboard plays a SoundFont program live: the real libfluidsynth and FluidR3_GM.sf2 (which
scripts/setup installs; a machine without them fails here with what to install, nothing is
skipped), driven through the Engine with injected arrival stamps; then the real engine process
on JACK with a virtual keyboard port."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from hoot.engine import core
from hoot.engine.core import FADE, Engine
from hoot.engine.fluid import SoundFontVoice, library, soundfont_for
from hoot.engine.kernel import fluid as kfluid
from hoot.engine.live_midi import LiveNotes
from hoot.errors import HootError
from hoot.performance import Performance
from tests.engine.test_live_midi import live, meter, studio  # noqa: F401 - fixtures
from tests.waiting import wait_until

SR = 48000
BLOCK = 256
ORIGIN = 1000.0  # the monotonic time at which sample 0 renders
LEAD = 3  # ROLES: drums, bass, chords, lead, pad, perc
QUIET = 1e-5  # below this a sample is silence (fluidsynth's reverb leaves ~1e-8 behind)
LIMITER = Engine(SR).limiter.latency


def gm_font() -> None:
    """libfluidsynth and a GM SoundFont, or a failure saying what to install."""
    try:
        library()
        soundfont_for("soundfont")
    except HootError as e:
        pytest.fail(f"live SoundFont notes are not available: {e} (scripts/setup installs both)")


class FontKeys:
    """An Engine whose blocks begin at known wall times, and a keyboard playing the lead track
    on SoundFont `sound`."""

    def __init__(self, sound: str = "soundfont:0") -> None:
        gm_font()
        self.engine = Engine(SR)
        self.engine.clock.now = lambda: ORIGIN + self.engine.position / SR
        self.voice = SoundFontVoice(LEAD, sound, "lead", SR)
        self.keys = LiveNotes(LEAD, 0, None, "test keys")
        self.engine.inbox.append(core.Synth(LEAD, self.voice))
        self.engine.inbox.append(core.Live((self.keys,)))
        self.out: list[np.ndarray] = []

    def send(self, at_sample: float, *message: int) -> None:
        """A message placed at sample `at_sample` (it arrived one block before)."""
        self.keys.receive(bytes(message), ORIGIN + (at_sample - BLOCK) / SR)

    def play(self, frames: int) -> np.ndarray:
        out = np.zeros((frames, 2), np.float32)
        for k in range(0, frames, BLOCK):
            self.engine.forward(out[k : k + BLOCK])
        self.out.append(out)
        return out

    @property
    def heard(self) -> np.ndarray:
        return np.concatenate(self.out)[:, 0]


def first_sound(signal: np.ndarray) -> int:
    """The sample at which the first sound in `signal` was made (the master limiter's
    lookahead delays everything by the same few samples)."""
    return int(np.flatnonzero(np.abs(signal) > QUIET)[0]) - LIMITER


def rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(signal, dtype=np.float64))))


@pytest.mark.parametrize("offset", [0, 10, 100, 200])
def test_a_note_sounds_from_its_arrival_offset_not_before(offset: int) -> None:
    keys = FontKeys()
    place = 4 * BLOCK + offset
    keys.send(place, 0x90, 60, 100)
    keys.play(SR // 2)
    heard = keys.heard
    assert rms(heard) > 0.01, "the piano sounds"
    onset = first_sound(heard)
    # fluidsynth starts a note on its next 64-frame block: at the note's sample or just after
    assert place <= onset < place + 64 + 8
    state = keys.engine.core.font_state(keys.voice)  # the core plays it, not Python
    assert state.regs[kfluid.PLAYED] == 1 and state.regs[kfluid.FAULTS] == 0
    assert np.abs(keys.engine.meters[LEAD, 2:4]).max() > 0, "metered on its track"


def test_velocity_scales_the_level() -> None:
    levels = []
    for velocity in (120, 40):
        keys = FontKeys()
        keys.send(BLOCK, 0x90, 60, velocity)
        levels.append(rms(keys.play(SR // 2)[:, 0]))
    assert levels[1] < 0.5 * levels[0]


def test_the_sustain_pedal_holds_notes_past_their_note_off() -> None:
    held = []
    for pedal in (True, False):
        keys = FontKeys("soundfont:48")  # strings: they sound as long as they are held
        keys.send(BLOCK, 0x90, 60, 100)
        if pedal:
            keys.send(BLOCK, 0xB0, 64, 127)
        keys.send(SR // 4, 0x80, 60, 0)
        out = keys.play(SR)
        held.append(rms(out[-BLOCK * 8 :, 0]))
        if pedal:
            keys.send(SR + 10, 0xB0, 64, 0)  # pedal up: the strings let go
            after = keys.play(3 * SR)
            assert rms(after[-BLOCK * 8 :, 0]) < 0.05 * held[0]
            assert keys.keys.sounding == 0
    assert held[0] > 0.01, "still sounding three quarters of a second after the key came up"
    assert held[1] < 0.2 * held[0]


def test_panic_silences_within_the_fade() -> None:
    keys = FontKeys("soundfont:48")
    keys.send(BLOCK, 0x90, 60, 100)
    keys.send(BLOCK, 0x90, 64, 100)
    keys.play(SR // 2)
    keys.engine.inbox.append(core.Panic())
    after = keys.play(SR // 2)[:, 0]
    assert np.abs(after[: FADE + LIMITER]).max() > QUIET, "it fades, it does not click off"
    assert np.abs(after[FADE + LIMITER :]).max() < QUIET, "and then nothing rings on"
    keys.send(SR, 0x90, 67, 100)  # the keyboard plays on after the panic
    assert rms(keys.play(SR // 4)[:, 0]) > 0.01


@pytest.mark.parametrize("how", ["play_from(None)", "unplugged", "all notes off"])
def test_a_held_note_ends_when_its_input_goes(how: str) -> None:
    keys = FontKeys("soundfont:48")
    keys.send(BLOCK, 0x90, 60, 100)
    keys.send(BLOCK, 0xB0, 64, 127)
    keys.send(BLOCK, 0x90, 64, 100)
    keys.send(BLOCK, 0x80, 64, 0)  # held by the pedal
    keys.play(SR // 2)
    engine = keys.engine
    if how == "play_from(None)":  # what MidiRoutes sends
        engine.inbox.append(core.Synth(LEAD, None))
        engine.inbox.append(core.Live(()))
    elif how == "unplugged":
        keys.keys.end_all(ORIGIN + (SR // 2) / SR)
    elif how == "all notes off":
        keys.send(SR // 2 + BLOCK, 0xB0, 123, 0)
    keys.play(3 * SR)
    assert rms(keys.out[-1][-BLOCK * 8 :, 0]) < 1e-4, "every note has ended"
    if how == "play_from(None)":
        engine.graveyard.clear()  # faded out: the core let go of it, and so does Python
        assert engine.core.font_state(keys.voice) is None
        assert not any(v is keys.voice for v in engine.core.font_voices)


def test_a_track_stop_leaves_the_keyboard_playing() -> None:
    keys = FontKeys("soundfont:48")  # as the built-in synth: the keys are the performer's
    keys.send(BLOCK, 0x90, 60, 100)
    keys.play(SR // 4)
    keys.engine.inbox.append(core.Stop(LEAD, SR // 4))
    assert rms(keys.play(SR // 2)[-BLOCK * 8 :, 0]) > 0.01


def test_pitch_bend_moves_the_note_two_semitones_up() -> None:
    def pitch(signal: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
        return float(np.argmax(spectrum)) * SR / len(signal)

    keys = FontKeys("soundfont:73")  # a flute: one strong partial
    keys.send(BLOCK, 0x90, 69, 100)
    straight = keys.play(SR // 2)[SR // 4 :, 0]
    keys.send(SR // 2, 0xE0, 0x7F, 0x7F)  # the wheel at the top
    bent = keys.play(SR // 2)[SR // 4 :, 0]
    assert pitch(straight) == pytest.approx(440.0, abs=5)
    assert pitch(bent) == pytest.approx(440.0 * 2 ** (2 / 12), abs=5)


def test_two_programs_sound_different() -> None:
    spectra = []
    for sound in ("soundfont:0", "soundfont:73"):  # piano, flute
        keys = FontKeys(sound)
        keys.send(BLOCK, 0x90, 69, 100)
        out = keys.play(SR // 2)[BLOCK * 8 :, 0]
        spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
        spectra.append(spectrum / np.linalg.norm(spectrum))
    assert float(spectra[0] @ spectra[1]) < 0.9


def test_a_drum_role_plays_the_drum_kit() -> None:
    gm_font()
    voice = SoundFontVoice(0, "soundfont", "drums", SR)
    assert voice.channel == 9 and voice.program == 0
    voice.note_on(0, 0, 38, 110, 0, 38)  # a snare
    tb = np.zeros((6, BLOCK, 2), np.float32)
    heard = 0.0
    for block in range(20):
        tb.fill(0)
        voice.render(block * BLOCK, BLOCK, tb)
        heard = max(heard, float(np.abs(tb[0]).max()))
    assert heard > 0.01
    voice.close()


def test_a_program_the_font_lacks_says_so() -> None:
    gm_font()
    with pytest.raises(HootError, match="program 120 in bank 128"):
        SoundFontVoice(0, "soundfont:120", "drums", SR)


# The real engine on JACK, a virtual keyboard ---------------------------------------------


@pytest.mark.jack
def test_a_keyboard_plays_a_soundfont_track_through_the_engine_and_is_recorded(
    live,  # noqa: F811
    studio,  # noqa: F811
) -> None:
    gm_font()
    client, session = live
    keys = studio.virtual_output("hoot-test-keys:out")
    perf = Performance(client, session)
    perf.tracks.chords.sound = "soundfont:48"
    assert perf.tracks.chords.play_from("test-keys") == "hoot-test-keys:out"
    perf.record(tracks=True)
    chords = meter(client, "chords")
    keys.send(bytes((0x90, 60, 110)))
    assert wait_until(lambda: chords() > 0.01), "the strings sound on the chords track"
    perf.tracks.chords.sound = "soundfont:0"  # the keys play the piano from now on
    assert wait_until(lambda: chords() == 0.0), "the strings fade out with their synth"
    keys.send(bytes((0x90, 64, 110)))
    assert wait_until(lambda: chords() > 0.01), "the piano sounds"
    keys.send(bytes((0x80, 60, 0)))
    keys.send(bytes((0x80, 64, 0)))
    assert perf.tracks.chords.play_from(None) is None
    assert wait_until(lambda: chords() == 0.0), "nothing rings on after the keys go"
    files = perf.stop_recording()
    (chords_file,) = [f for f in files if f.stem.endswith("-chords")]
    audio, _ = sf.read(chords_file)
    assert np.abs(audio).max() > 0.01, "recorded like any track"
    assert not any("built-in sound live" in m for m in client.messages())
