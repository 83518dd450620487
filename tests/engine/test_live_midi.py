"""A keyboard plays through hoot: each note lands at the sample of its arrival, with velocity,
sustain and bend; every way its input ends, its notes end. First the Engine with injected
arrival stamps (exact to the sample), then the real engine process on JACK with a virtual
keyboard port."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hoot.engine import core
from hoot.engine.client import EngineClient
from hoot.engine.core import Engine
from hoot.engine.kernel import voices as kv
from hoot.engine.kernel import world as kw
from hoot.engine.live_midi import LIVE_KEYS, LiveNotes
from hoot.engine.synth import PATCHES
from hoot.errors import HootError
from hoot.midi.ports import MidiPorts
from hoot.performance import Performance
from hoot.session import Session
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]

SR = 48000
BLOCK = 256
ORIGIN = 1000.0  # the monotonic time at which sample 0 renders
SINE, SQUARE = PATCHES.index("sine"), PATCHES.index("square")
LEAD = 3  # ROLES: drums, bass, chords, lead, pad, perc


class Keyboard:
    """An Engine whose blocks begin at known wall times, and a keyboard plugged into it."""

    def __init__(self, patch: int = SINE, channel: int | None = None, jitter=()) -> None:
        self.engine = Engine(SR)
        self.jitter = list(jitter)  # seconds each block's callback comes late, in turn
        self.engine.clock.now = self._now
        self.keys = LiveNotes(LEAD, patch, channel, "test keys")
        self.engine.inbox.append(core.Live((self.keys,)))
        self.out: list[np.ndarray] = []

    def _now(self) -> float:
        late = self.jitter.pop(0) if self.jitter else 0.0
        return ORIGIN + self.engine.position / SR + late

    def send(self, at_sample: float, *message: int) -> None:
        """A message arriving when sample `at_sample` renders."""
        self.keys.receive(bytes(message), ORIGIN + at_sample / SR)

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
    """The sample at which a note that is heard first in `signal` started: the master
    limiter's lookahead delays everything by the same few samples."""
    return int(np.flatnonzero(signal)[0]) - Engine(SR).limiter.latency


def frequency(signal: np.ndarray) -> float:
    rising = np.flatnonzero((signal[:-1] <= 0) & (signal[1:] > 0))
    return SR * (len(rising) - 1) / (rising[-1] - rising[0])


def test_two_notes_arriving_in_one_block_land_at_their_arrival_offsets_to_the_bit() -> None:
    keys = Keyboard(jitter=[0.0, 0.0004, 0.0011, 0.0002, 0.0009])  # callbacks come late
    keys.play(3 * BLOCK)
    # both arrive while block 3 (samples 768..1023) renders: they play one block later,
    # each at its own offset in block 4, not both at its start
    keys.send(3 * BLOCK + 10, 0x90, 69, 100)
    keys.send(3 * BLOCK + 200, 0x90, 76, 90)
    keys.play(4 * BLOCK)

    expected = Engine(SR)
    for sample, pitch, velocity in ((4 * BLOCK + 10, 69, 100), (4 * BLOCK + 200, 76, 90)):
        key = LIVE_KEYS + LEAD * 128 + pitch
        kv.note_on(expected.core.voices, sample, LEAD, pitch, velocity, SINE, key)
    reference = np.zeros((7 * BLOCK, 2), np.float32)
    for k in range(0, 7 * BLOCK, BLOCK):
        expected.forward(reference[k : k + BLOCK])
    assert first_sound(keys.heard) == 4 * BLOCK + 10
    assert keys.heard.tobytes() == reference[:, 0].tobytes()


def test_a_note_is_one_block_late_whatever_the_callback_jitter() -> None:
    late = [0.0] + [0.0015, 0.0, 0.0008, 0.0021, 0.0003] * 4
    onsets = []
    for arrival in (300, 555, 1200, 1791, 2048):
        keys = Keyboard(jitter=late)
        keys.play((arrival // BLOCK + 1) * BLOCK)
        keys.send(arrival, 0x90, 60, 100)
        keys.play(4 * BLOCK)
        onsets.append(first_sound(keys.heard) - arrival)
    assert onsets == [BLOCK] * 5


def test_a_message_that_arrives_during_the_block_waits_for_the_next() -> None:
    keys = Keyboard()
    keys.play(2 * BLOCK)
    keys.send(2 * BLOCK + 5, 0x90, 60, 100)  # stamped after block 2 began rendering
    keys.play(BLOCK)
    assert not keys.heard.any()
    keys.play(2 * BLOCK)
    assert first_sound(keys.heard) == 3 * BLOCK + 5


def test_velocity_scales_the_level() -> None:
    peaks = []
    for velocity in (100, 50):
        keys = Keyboard(patch=SQUARE)
        keys.send(-BLOCK, 0x90, 57, velocity)
        peaks.append(np.abs(keys.play(8 * BLOCK)).max())
    assert peaks[1] / peaks[0] == pytest.approx((50 / 100) ** 1.5, rel=0.02)


def test_the_sustain_pedal_holds_notes_until_it_comes_up() -> None:
    keys = Keyboard(patch=SQUARE)
    keys.send(-BLOCK, 0x90, 60, 100)
    keys.send(-BLOCK, 0xB0, 64, 127)
    keys.send(100, 0x80, 60, 0)  # the key comes up: the pedal holds the note
    held = keys.play(SR)
    assert np.abs(held[-BLOCK:]).max() > 0.05, "still sounding a second after the key came up"
    keys.send(SR + 10, 0xB0, 64, 0)  # pedal up: the note releases
    after = keys.play(SR // 2)
    assert not after[-BLOCK:].any()
    assert keys.keys.sounding == 0


def test_pitch_bend_moves_the_note_two_semitones_up() -> None:
    keys = Keyboard(patch=SINE)
    keys.send(-BLOCK, 0x90, 69, 100)
    straight = keys.play(SR // 2)
    keys.send(SR // 2, 0xE0, 0x7F, 0x7F)  # the wheel at the top
    bent = keys.play(SR // 2)
    keys.send(SR, 0xE0, 0x00, 0x40)  # back to the middle
    back = keys.play(SR // 2)
    assert frequency(straight[4800:, 0]) == pytest.approx(440.0, rel=2e-3)
    assert frequency(bent[4800:, 0]) == pytest.approx(440.0 * 2 ** (2 / 12), rel=2e-3)
    assert frequency(back[4800:, 0]) == pytest.approx(440.0, rel=2e-3)


def test_a_channel_filter_hears_only_its_channel() -> None:
    keys = Keyboard(channel=1)  # MIDI channel 2
    keys.send(-BLOCK, 0x90, 60, 100)  # channel 1: not ours
    assert not keys.play(4 * BLOCK).any()
    keys.send(4 * BLOCK, 0x91, 60, 100)
    assert keys.play(4 * BLOCK).any()


@pytest.mark.parametrize(
    "how",
    ["play_from(None)", "unplugged", "panic", "all notes off", "stop"],
)
def test_a_held_note_ends_when_its_input_goes_or_on_panic(how: str) -> None:
    keys = Keyboard(patch=SQUARE)
    keys.send(-BLOCK, 0x90, 60, 100)
    keys.send(-BLOCK, 0xB0, 64, 127)
    keys.send(-BLOCK, 0x90, 64, 100)
    keys.send(-BLOCK, 0x80, 64, 0)  # held by the pedal
    keys.play(8 * BLOCK)
    engine = keys.engine
    if how == "play_from(None)":
        engine.inbox.append(core.Live(()))
    elif how == "unplugged":
        keys.keys.end_all(ORIGIN + 8 * BLOCK / SR)
    elif how == "panic":
        engine.inbox.append(core.Panic())
    elif how == "all notes off":
        keys.send(8 * BLOCK, 0xB0, 123, 0)
    elif how == "stop":  # a track's stop leaves live notes to the keys: they play on
        engine.inbox.append(core.Stop(LEAD, 8 * BLOCK))
    keys.play(SR // 2)
    if how == "stop":
        assert keys.out[-1][-BLOCK:].any()
        return
    assert not keys.out[-1][-BLOCK:].any(), "every note has ended"
    assert engine.core.voice_count() == 0


# The real engine on JACK, a virtual keyboard --------------------------------------------


@pytest.fixture
def studio(jack_server) -> Iterator[MidiPorts]:
    """The devices' side: a virtual keyboard port the engine opens by part of its name."""
    with MidiPorts(api="jack") as ports:
        yield ports


@pytest.fixture
def live(jack_server, tmp_path) -> Iterator[tuple[EngineClient, Session]]:
    session = Session(tmp_path / "live")
    client = EngineClient.spawn(session.dir, backend="sounddevice", idle_timeout=60)
    assert client.info.backend == "sounddevice", client.messages()  # PortAudio
    yield client, session
    client.shutdown()


def meter(client: EngineClient, track: str) -> Callable[[], float]:
    index = client.tracks.index(track)
    return lambda: float(client.status().meters[index, 0])


@pytest.mark.jack
def test_a_keyboard_plays_the_keys_track_through_the_engine_and_is_recorded(live, studio) -> None:
    client, session = live
    keys = studio.virtual_output("hoot-test-keys:out")
    perf = Performance(client, session)
    assert "keys" in perf.tracks, "a track of its own for what is played live"
    assert perf.tracks.keys.play_from("test-keys") == "hoot-test-keys:out"
    perf.record(tracks=True)
    played, lead = meter(client, "keys"), meter(client, "lead")
    keys.send(bytes((0x90, 60, 110)))
    assert wait_until(lambda: played() > 0.02), "the note sounds on the keys track"
    assert lead() == 0.0, "and on no other"
    keys.send(bytes((0x80, 60, 0)))
    assert wait_until(lambda: played() == 0.0), "and ends when the key comes up"
    files = perf.stop_recording()
    (keys_file,) = [f for f in files if f.stem.endswith("-keys")]
    audio, _ = sf.read(keys_file)
    assert np.abs(audio).max() > 0.02, "recorded like any track"
    assert perf.tracks.keys.play_from(None) is None


def test_the_keys_track_is_played_not_generated(tmp_path) -> None:
    from hoot.stage import Stage

    stage = Stage.offline(Session(tmp_path / "set"))
    try:
        with pytest.raises(HootError, match=r"keys is played live.*play_from"):
            stage.perf.generate("keys")
    finally:
        stage.close()


@pytest.mark.jack
def test_panic_ends_a_held_live_note(live, studio) -> None:
    client, session = live
    keys = studio.virtual_output("hoot-test-keys:out")
    perf = Performance(client, session)
    perf.tracks.lead.sound = "pulse_lead"
    perf.tracks.lead.play_from("hoot-test-keys")
    lead = meter(client, "lead")
    keys.send(bytes((0x90, 64, 100)))
    assert wait_until(lambda: lead() > 0.02)
    perf.panic()
    assert wait_until(lambda: lead() == 0.0)


@pytest.mark.jack
def test_a_killed_ui_leaves_the_keyboard_playing_and_an_unplugged_one_ends_its_note(
    live, studio
) -> None:
    client, session = live
    keys = studio.virtual_output("hoot-test-keys:out")
    ui = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from hoot.engine.client import EngineClient
            from hoot.performance import Performance
            from hoot.session import Session
            session = Session({str(session.dir)!r})
            perf = Performance(EngineClient.attach(session.dir, spawn=False), session)
            perf.tracks.lead.sound = "pulse_lead"
            perf.tracks.lead.play_from("hoot-test-keys")
            print("routed", flush=True)
            time.sleep(600)
        """)],
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert ui.stdout.readline().strip() == b"routed"
        lead = meter(client, "lead")
        keys.send(bytes((0x90, 60, 100)))
        assert wait_until(lambda: lead() > 0.02)
    finally:
        ui.kill()
        ui.wait()
    start = client.status().position
    assert wait_until(lambda: client.status().position - start > 0.3 * SR)
    assert lead() > 0.02, "the engine plays on, the key still held"
    keys.send(bytes((0x90, 67, 100)))  # and the keyboard still plays it
    keys.close()  # the keyboard is unplugged while its key is down
    assert wait_until(lambda: lead() == 0.0), "its notes end with it"
    assert any("unplugged" in line for line in client.messages())


def test_inputs_that_come_and_go_free_their_slots_for_the_next() -> None:
    keys = Keyboard()
    engine = keys.engine
    for k in range(3 * kw.LIVE_SLOTS):  # more keyboards in turn than the core has slots
        other = LiveNotes(LEAD, SINE, None, f"keys {k}")
        engine.inbox.append(core.Live((other,)))
        keys.play(BLOCK)
        other.receive(bytes((0x90, 60, 100)), ORIGIN + engine.position / SR)
        keys.play(2 * BLOCK)
        assert other.sounding == 1, "it plays from a slot of its own"
    engine.inbox.append(core.Live(()))
    keys.play(SR // 2)
    assert not keys.out[-1][-BLOCK:].any(), "the last one's note ended with it"
    assert keys.keys.sounding == 0
