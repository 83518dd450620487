"""The stage through the crashes of a set: what the performer set survives a dead UI, a dead
engine and the next day, and a dead engine comes back at the next command.

Real engine processes on the null backend (time runs in real time, nothing sounds).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import soundfile as sf

from hoot.engine.client import EngineClient, process_alive
from hoot.engine.protocol import State
from hoot.music.time import TempoMap
from hoot.session import Session
from hoot.stage import Stage
from tests import stemfiles
from tests.waiting import PATIENCE

ENGINE = {"backend": "null", "idle_timeout": 30}


def eventually(predicate, timeout: float = PATIENCE, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"waited {timeout:g} s for {what or predicate}")


@pytest.fixture
def session(tmp_path):
    s = Session(tmp_path / "friday")
    yield s
    try:
        EngineClient(s.dir).shutdown()
    except Exception:  # noqa: BLE001 - already gone
        pass


def set_everything(stage: Stage, tmp_path: Path) -> None:
    perf = stage.perf
    perf.tempo = 133
    perf.meter = "7/8"
    perf.phrase = 8
    perf.key = "D minor"
    perf.chords = "i VI III VII"
    perf.vibe(density=0.2, swing=0.35, style="techno")
    perf.tracks.lead.sound = "acid_bass"
    perf.tracks.chords.sound = "soundfont:48"
    perf.tracks.bass.gain = -7.5
    perf.tracks.bass.pan = -0.25
    perf.tracks.pad.mute = True
    perf.tracks.perc.solo = True


def assert_everything(stage: Stage) -> None:
    perf = stage.perf
    assert perf.tempo == pytest.approx(133)
    assert (perf.meter, perf.phrase) == ("7/8", 8)
    assert perf.key == "D minor" and perf.chords == ["Dm", "Bb", "F", "C"]
    vibe = perf.vibe()
    assert (vibe["density"], vibe["swing"], vibe["style"]) == (0.2, 0.35, "techno")
    assert isinstance(vibe["density"], float)
    assert perf.tracks.lead.sound == "acid_bass" and perf.tracks.chords.sound == "soundfont:48"
    assert perf.tracks.bass.gain == -7.5 and perf.tracks.bass.pan == -0.25
    assert perf.tracks.pad.mute is True and perf.tracks.perc.solo is True
    assert perf.tracks.drums.gain == -5.0, "untouched tracks keep their role's level"


def wait_for_the_new_grid(stage: Stage) -> None:
    perf = stage.perf
    tm = TempoMap.from_dict(perf._state().tempo_map)
    change = tm.sample_at(tm.grids[-1].beat)
    eventually(lambda: perf.now > change, what="the meter and phrase to take effect")


def test_every_setting_survives_a_ui_crash_an_engine_crash_and_the_next_day(session, tmp_path):
    stage = Stage.live(session, **ENGINE)
    set_everything(stage, tmp_path)
    stage.perf.generate("bass", n=3, bars=1, seed=1).wait(timeout=120)
    stage.actions.select("bass", 2)
    stage.remember(stage.link.peek(State()))  # the screen's watcher does this all the time
    wait_for_the_new_grid(stage)
    assert_everything(stage)
    engine_pid = stage.link.info.pid
    stage.close()  # the UI goes (as if killed: nothing is saved on the way out)

    again = Stage.live(session, **ENGINE)  # reattaches to the engine that played on
    assert again.link.info.pid == engine_pid and not again.link.started
    assert_everything(again)
    assert (again.actions.selection.role, again.actions.selection.number) == ("bass", 2)
    assert again.perf.picker["bass"][2].status == "ready"
    again.link.shutdown()  # the engine stops: tomorrow
    again.close()

    tomorrow = Stage.live(session, **ENGINE)
    assert tomorrow.link.started, "a new engine for a new day"
    assert_everything(tomorrow)
    assert (tomorrow.actions.selection.role, tomorrow.actions.selection.number) == ("bass", 2)
    tomorrow.close()


def test_settings_are_written_whole_with_their_types(session):
    session.update_settings(tempo=124.0, phrase=4, tracks={"bass": {"gain": -6.0, "mute": False}})
    session.update_settings(tracks={"bass": {"sound": "acid_bass"}, "lead": {"pan": 0.5}},
                            vibe={"density": 0.2, "style": "house"})  # fmt: skip
    saved = session.read_settings()
    assert saved == {
        "tempo": 124.0,
        "phrase": 4,
        "tracks": {"bass": {"gain": -6.0, "mute": False, "sound": "acid_bass"},
                   "lead": {"pan": 0.5}},
        "vibe": {"density": 0.2, "style": "house"},
    }  # fmt: skip
    assert type(saved["tempo"]) is float and type(saved["phrase"]) is int
    session.update_settings(tracks={"bass": {"sound": None}})
    assert "sound" not in session.read_settings()["tracks"]["bass"]
    assert not list(session.dir.glob(".session.toml.*")), "no temporary files left"


def test_a_timed_vibe_survives_a_ui_crash_and_ends_on_time(session):
    stage = Stage.live(session, **ENGINE)
    stage.perf.vibe(density=0.3)
    stage.perf.vibe("busy", bars=1)
    until = stage.perf._vibe_until[0]
    stage.close()
    again = Stage.live(session, **ENGINE)
    assert again.perf._vibe_until[0] == until
    assert again.perf.vibe()["density"] == 0.55
    eventually(lambda: again.perf.now > until, what="the bar to pass")
    assert again.perf.vibe()["density"] == 0.3, "the timed vibe ended, the old one is back"
    again.close()


def test_a_dead_engine_comes_back_at_the_next_command_with_the_set(session, tmp_path):
    said: list[str] = []
    stage = Stage.live(session, on_message=said.append, **ENGINE)
    perf = stage.perf
    stemfiles.unity(perf)
    perf.tempo = 140
    perf.tracks.bass.gain = -3
    bass = perf.load(stemfiles.tone(tmp_path / "bass.wav", level=0.4), role="bass")
    bass.queue(at="now")
    [take] = perf.record(name="take")
    eventually(lambda: stage.link.peek(State()).players, what="the bass to play")
    recorded = stage.link.status().position
    eventually(lambda: stage.link.status().position > recorded + 24000, what="half a second")
    stage.remember(stage.link.peek(State()))  # what the screen's watcher does 30 times a second
    dead = stage.link.info.pid
    os.kill(dead, signal.SIGKILL)
    eventually(lambda: not process_alive(dead), what="the engine to die")

    perf.tracks.lead.pan = 0.5  # the performer's next command
    assert stage.link.info.pid != dead and stage.link.restarts == 1
    state = stage.link.peek(State())
    assert state.tracks["bass"].gain == -3 and state.tracks["lead"].pan == 0.5
    assert TempoMap.from_dict(state.tempo_map).bpm_at(0) == 140
    assert [p.track for p in state.players] == ["bass"], "what played plays again"
    assert state.recording and Path(state.recording[0]) != take, "and the recording goes on"
    assert sf.info(str(take)).duration > 0, "the take up to the crash is readable"
    [sentence] = [s for s in said if "engine had stopped" in s]
    assert "bass playing again" in sentence and take.name in sentence, sentence
    eventually(lambda: stage.link.status().meters[1].max() > 0.1, what="the bass to sound")
    stage.link.shutdown()
    stage.close()


def test_a_key_brings_a_dead_engine_back_too(session):
    stage = Stage.live(session, **ENGINE)
    dead = stage.link.info.pid
    os.kill(dead, signal.SIGKILL)
    eventually(lambda: not process_alive(dead), what="the engine to die")
    assert stage.link.lost
    assert stage.actions.engine() == "engine: playing, 120 BPM"  # F5
    assert stage.link.info.pid != dead and not stage.link.lost
    assert stage.actions.panic() == "panic: everything stopped"  # F12 reaches it too
    stage.link.shutdown()
    stage.close()


def test_an_observer_never_starts_an_engine(session):
    from hoot.errors import EngineLost

    stage = Stage.live(session, **ENGINE)
    dead = stage.link.info.pid
    os.kill(dead, signal.SIGKILL)
    eventually(lambda: not process_alive(dead), what="the engine to die")
    with pytest.raises(EngineLost):
        stage.link.peek(State())
    assert stage.link.restarts == 0
    stage.close()


@pytest.mark.jack
def test_a_midi_output_unplugged_mid_set_is_said_to_the_performer(session, jack_server):
    from hoot.midi.ports import MidiPorts

    said: list[str] = []
    stage = Stage.live(session, on_message=said.append, **ENGINE)
    studio = MidiPorts(api="jack")
    synth = studio.virtual_input("hoot-stage-synth:in", lambda message, arrived: None)
    try:
        stage.start_view(post=lambda view: None)
        stage.perf.tracks.bass.midi_out = "hoot-stage-synth"
        synth.close()  # the synth's cable pulled while the set plays
        eventually(lambda: any("unplugged" in line for line in said), what="the engine's word")
        line = next(line for line in said if "unplugged" in line)
        assert line.startswith("engine: ") and "hoot-stage-synth" in line
        synth = studio.virtual_input("hoot-stage-synth:in", lambda message, arrived: None)
        eventually(lambda: any("back" in line and "hoot-stage-synth" in line for line in said),
                   what="its return")  # fmt: skip
    finally:
        stage.close()
        synth.close()
        studio.close()
