"""The Launchpad Pro MK3 as a generative surface, against a fake unit on JACK virtual ports.

The fake (tests/control/fake_launchpad.py) speaks the unit's protocol and keeps its traps;
the stage is real: a live engine process (null backend: time runs in real time, nothing
sounds) and the real generation workers. hoot finds the fake as it finds the unit, by
`LPProMK3 MIDI` in the port's name and its identity reply.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from hoot.control import launchpad as lp
from hoot.control.launchpad import LaunchpadProMK3, frame, pad_of, picture
from hoot.engine import protocol as p
from hoot.engine.client import EngineClient
from hoot.midi.ports import MidiPorts
from hoot.session import Session
from hoot.stage import Stage
from hoot.stage.actions import SetActions
from hoot.stage.view import EMPTY, BatchView, CandidateView, InputView
from tests.control.fake_launchpad import FakeLaunchpad
from tests.stage.fake_layer import FakeLayerPerf, status
from tests.waiting import PATIENCE, wait_until

ENGINE = {"backend": "null", "idle_timeout": 30}
DIM_BASS = lp.rgb(lp.ROLE_RGB["bass"], 1 / lp.DIM)
PULSING_BASS = (2, lp.ROLE_PALETTE["bass"])
BASS = lp.rgb(lp.ROLE_RGB["bass"])
CURSOR_BASS = lp.paler(lp.ROLE_RGB["bass"])
FLASHING_BASS = (1, lp.ROLE_PALETTE["bass"], 0)


# ---- the bytes, golden --------------------------------------------------------------------


def test_enter_and_leave_are_the_verified_bytes():
    assert lp.PROGRAMMER == bytes.fromhex("F0 00 20 29 02 0E 0E 01 F7")
    assert lp.LIVE == bytes.fromhex("F0 00 20 29 02 0E 0E 00 F7")
    assert LaunchpadProMK3.identity == bytes.fromhex("00 20 29 23 01")  # not the manual's 13 01


def test_one_frame_carries_each_type_of_spec():
    changes = [(11, (3, 127, 0, 64)), (81, (1, 19, 0)), (18, (2, 45)), (99, (0, 5))]
    assert frame(changes) == bytes.fromhex(
        "F0 00 20 29 02 0E 03  03 0B 7F 00 40  01 51 13 00  02 12 2D  00 63 05 F7"
    )


def test_a_byte_of_0x80_or_more_never_leaves():
    with pytest.raises(ValueError, match="0x80"):
        frame([(128, (0, 5))])  # index 128 would be a Note Off and cut the frame
    with pytest.raises(ValueError):
        frame([(11, (3, 128, 0, 0))])


def test_the_whole_surface_is_one_frame_of_106_specs():
    whole = frame([(i, (3, 1, 2, 3)) for i in lp.LEDS])
    assert len(lp.LEDS) == 106 and 99 in lp.LEDS and 108 in lp.LEDS
    assert len(whole) == 7 + 106 * 5 + 1 and whole.count(0xF0) == 1 and whole.count(0xF7) == 1


def test_the_map_puts_the_roles_in_the_pickers_order():
    from hoot.music import ROLES

    assert [lp.ROW_ROLES[row] for row in range(8, 2, -1)] == list(ROLES)
    assert pad_of("drums", 1) == 81 and pad_of("perc", 8) == 38


def _candidate(index: int, status: str) -> CandidateView:
    return CandidateView(index, status, 0.0, None, "C minor", 4, index, "")


def test_every_state_of_a_candidate_has_its_light():
    statuses = ["pending", "rendering", "ready", "failed", "queued", "playing", "ready"]
    batch = BatchView("bass", "bass-1", "default", tuple(_candidate(i, s) for i, s in
                                                          enumerate(statuses)))  # fmt: skip
    view = replace(
        EMPTY,
        batches=(batch,),
        selected_role="bass",
        selected_index=6,
        phrase_bars=4,
        bar_in_phrase=1,
    )
    leds = picture(view)
    assert [leds[pad_of("bass", n)] for n in range(1, 9)] == [
        DIM_BASS,
        PULSING_BASS,
        BASS,
        (0, lp.RED),
        FLASHING_BASS,
        lp.WHITE,
        CURSOR_BASS,
        lp.OFF,
    ]
    assert [leds[cc] != lp.OFF for cc in lp.COUNTDOWN] == [True] * 3 + [False] * 5
    # the live layer: keys only, dim (nothing armed); no input track, no other pad
    keys_dim = lp.rgb(lp.LIVE_COLOURS[0][0], 1 / lp.DIM)
    assert leds[21] == leds[11] == keys_dim
    assert all(leds[note] == lp.OFF for note in range(12, 29) if 2 <= note % 10 <= 8)
    assert leds[lp.TAP] != lp.OFF and leds[lp.ONE] != lp.OFF  # found in the dark


# ---- the driver against the fake, without a stage -------------------------------------------


class Sink:
    """What the driver says, for assertions."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def __call__(self, sentence: str) -> None:
        self.said.append(sentence)


@pytest.fixture
def fake(request, jack_server) -> Iterator[FakeLaunchpad]:
    unit = FakeLaunchpad()
    yield unit
    if "stage" in request.fixturenames:
        # hoot's driver stops sending before the unit's ports close: closing an input port
        # that a message is being delivered to crashed a run in rtmidi's JACK code (the
        # stage fixture, set up first, would otherwise be torn down after the unit)
        request.getfixturevalue("stage")[0].close()
    unit.close()


@pytest.fixture
def ports(jack_server) -> Iterator[MidiPorts]:
    with MidiPorts() as p:
        yield p


def test_the_fake_reads_palette_messages_and_keeps_the_units_traps(fake, ports):
    """The fake itself, on the manual's examples: what the driver's tests lean on."""
    out = ports.open_output(lp.LaunchpadProMK3.port)
    for message in ("90 51 05", "91 51 13", "B2 12 2D", "90 12 05", "80 12 00", "B0 5B 03"):
        out.send(bytes.fromhex(message))
    assert fake.wait_for(lambda f: f.led(91) == (0, 3), PATIENCE)
    assert fake.led(81) == (1, 19, 5), "flashing between B (19) and the static A (5)"
    assert fake.led(18) == lp.OFF, "a note off ends the pulsing too"
    out.send(lp.PROGRAMMER)
    out.send(bytes.fromhex("F0 00 20 29 02 0E 03 00 0B 05 00 80 05 F7"))  # index 128: cut
    out.send(bytes.fromhex("90 0C 05"))
    out.send(lp.LIVE)
    assert fake.wait_for(lambda f: f.mode == "live" and f.modes == ["programmer", "live"],
                         PATIENCE)  # fmt: skip
    assert fake.led(11) == lp.OFF, "a cut frame lights nothing"
    assert fake.swallowed == [bytes.fromhex("80 05 F7")], "what followed the cut: swallowed"
    assert fake.led(12) == (0, 5), "and the message after that lands"
    assert fake.led(91) == (0, 3), "LEDs survive the mode changes"


def test_many_changes_go_out_as_one_frame(fake, ports):
    out = ports.open_output(lp.LaunchpadProMK3.port)
    driver = LaunchpadProMK3(out.send, say=Sink(), heartbeat=PATIENCE)
    driver.attach(_NoStage())
    assert fake.wait_for(lambda f: f.mode == "programmer" and len(f.frames) == 1, PATIENCE)
    assert sorted(fake.frames[0][2]) == list(lp.LEDS), "the whole surface, at once"
    batches = tuple(
        BatchView(role, f"{role}-1", "default", tuple(_candidate(i, "ready") for i in range(8)))
        for role in lp.ROLE_ROWS
    )
    driver.draw(replace(EMPTY, batches=batches))
    assert fake.wait_for(lambda f: len(f.frames) == 2, PATIENCE)
    assert driver.frames == 2, "48 pads changed: one frame, not 48 messages"
    assert fake.led(pad_of("perc", 8)) == lp.rgb(lp.ROLE_RGB["perc"])
    driver.close()
    assert fake.wait_for(lambda f: f.mode == "live", PATIENCE)
    assert fake.received[-1][1] == lp.LIVE, "Live mode is the last word"
    assert all(fake.led(i) == lp.OFF for i in lp.LEDS)


def test_a_frame_the_unit_swallowed_is_painted_again_at_the_next_heartbeat(fake, ports):
    out = ports.open_output(lp.LaunchpadProMK3.port)
    driver = LaunchpadProMK3(out.send, say=Sink(), heartbeat=0.3)
    driver.attach(_NoStage())
    assert fake.wait_for(lambda f: len(f.frames) >= 1, PATIENCE)
    out.send(lp.HEADER + bytes([0x03, 0x03, 0x0B, 0x7F]) + b"\x90\x0b\x05")  # cut by a status
    batch = BatchView("drums", "drums-1", "default", (_candidate(0, "ready"),))
    driver.draw(replace(EMPTY, batches=(batch,)))
    assert fake.wait_for(lambda f: f.swallowed, PATIENCE), "the unit swallowed what came next"
    assert fake.wait_for(lambda f: f.led(81) == lp.rgb(lp.ROLE_RGB["drums"]), PATIENCE)
    driver.close()


def test_garbled_and_truncated_sysex_from_the_unit_changes_nothing(fake, ports):
    said = Sink()
    inbox: list[bytes] = []
    out = ports.open_output(lp.LaunchpadProMK3.port)
    driver = LaunchpadProMK3(out.send, say=said, heartbeat=PATIENCE)
    ports.open_input(lp.LaunchpadProMK3.port, lambda m, t: (inbox.append(m),
                                                            driver.receive(m, t)))  # fmt: skip
    driver.attach(_NoStage())
    for junk in (
        bytes.fromhex("F0 7E 00 06 02 00 20 29 23"),  # an identity reply cut short
        bytes.fromhex("F0 00 20 29 02 0E 03 03 0B F7"),  # a frame's bytes sent back, half
        bytes.fromhex("F0 7E 00 06 02 00 20 29 13 01 00 00 00 04 06 05 F7"),  # another family
        bytes.fromhex("F0 F7"),
    ):
        fake.send(junk)
    # RtMidi joins a SysEx cut short onto the next one: three garbled messages arrive
    assert wait_until(lambda: driver.garbled >= 3)
    assert driver.owned and said.said == []
    driver.close()


def test_a_unit_that_stops_answering_is_let_go_and_taken_back_when_it_answers(fake, ports):
    said = Sink()
    out = ports.open_output(lp.LaunchpadProMK3.port)
    driver = LaunchpadProMK3(out.send, say=said, heartbeat=0.1, misses=3)
    ports.open_input(lp.LaunchpadProMK3.port, driver.receive)
    driver.attach(_NoStage())
    fake.answering = False
    assert wait_until(lambda: not driver.owned)
    assert said.said == ["the Launchpad Pro MK3 stopped answering; hoot lets go of it until it "
                         "answers again"]  # fmt: skip
    fake.answering = True
    assert wait_until(lambda: driver.owned)
    assert said.said[-1] == "the Launchpad Pro MK3 answers again; hoot draws on it"
    driver.close()


def test_a_replug_no_port_listing_saw_is_put_right_by_the_heartbeat(fake, ports):
    out = ports.open_output(lp.LaunchpadProMK3.port)
    driver = LaunchpadProMK3(out.send, say=Sink(), heartbeat=0.2)
    ports.open_input(lp.LaunchpadProMK3.port, driver.receive)
    driver.attach(_NoStage())
    assert fake.wait_for(lambda f: f.mode == "programmer" and f.frames, PATIENCE)
    want = [fake.led(i) for i in range(109)]
    fake.power_cycle(stale=(0, 1))  # the inquiry is answered in Live mode too
    assert fake.wait_for(lambda f: f.mode == "programmer", PATIENCE)
    assert fake.wait_for(lambda f: [f.led(i) for i in range(109)] == want, PATIENCE)
    driver.close()


CRASH = """
import sys
sys.path.insert(0, {root!r})
from hoot.control.launchpad import LaunchpadProMK3
from hoot.midi.ports import MidiPorts


class Stage:
    actions = perf = None


out = MidiPorts(api="jack").open_output("LPProMK3 MIDI")
LaunchpadProMK3(out.send).attach(Stage())
raise RuntimeError("the set crashed")
"""


def test_a_crashing_hoot_still_gives_the_unit_back_in_live_mode(fake):
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    crash = subprocess.run([sys.executable, "-c", CRASH.format(root=root)],
                           capture_output=True, text=True, timeout=PATIENCE)  # fmt: skip
    assert "the set crashed" in crash.stderr
    assert fake.wait_for(lambda f: f.modes[-2:] == ["programmer", "live"], PATIENCE), fake.modes


class _NoStage:
    """A stage for driver tests that press nothing."""

    actions = perf = None


# ---- the live layer's rows: harmonize (row 2) and improvise (row 1), one pad a played track -

COLUMN1, COLUMN2, COLUMN3 = (lp.LIVE_COLOURS[i][0] for i in range(3))  # their colours
PLAYED = ("bass", "keys", "pad")  # perf.played: keys comes first on the surface whatever this says


def test_the_live_rows_light_each_played_track_dim_bright_pulsing_or_red():
    models = (
        status("harmony", "harmonizes keys: 2 voices below, strings", "harmonize", "keys"),
        status("lead", "improvises on lead", "improvise", "bass", state="loading"),
        status("chords", "improvises on chords", "improvise", "pad", state="failed"),
    )
    leds = picture(replace(EMPTY, inputs=(InputView("vox", True, False, "channel 2"),),
                           played=PLAYED, models=models))  # fmt: skip
    assert [leds[21], leds[22], leds[23], leds[24]] == [
        lp.rgb(COLUMN1), lp.rgb(COLUMN2, 1 / lp.DIM), lp.rgb(COLUMN3, 1 / lp.DIM), lp.OFF,
    ], "an audio input (vox) has no pad: the layer answers notes"  # fmt: skip
    assert [leds[11], leds[12], leds[13], leds[14]] == [
        lp.rgb(COLUMN1, 1 / lp.DIM), (2, lp.LIVE_COLOURS[1][1]), (0, lp.RED), lp.OFF,
    ]  # fmt: skip


def test_a_stopped_model_leaves_its_pad_dim_again():
    models = (status("harmony", "harmonizes keys", "harmonize", "keys", state="stopped"),)
    assert picture(replace(EMPTY, models=models))[21] == lp.rgb(COLUMN1, 1 / lp.DIM)


class _LayerStage:
    """A stage whose actions are the real SetActions on a perf that fakes the layer."""

    def __init__(self) -> None:
        self.perf = FakeLayerPerf(audio=("vox",))
        self.actions = SetActions(self.perf)


def test_live_pads_arm_and_disarm_harmonize_and_improvise_with_the_exact_bytes(fake, ports):
    said = Sink()
    stage = _LayerStage()
    out = ports.open_output(lp.LaunchpadProMK3.port)
    driver = LaunchpadProMK3(out.send, say=said, heartbeat=PATIENCE)
    ports.open_input(lp.LaunchpadProMK3.port, driver.receive)
    driver.attach(stage)
    view = replace(EMPTY, played=("keys", "bass", "vox"))
    driver.draw(view)
    assert fake.wait_for(lambda f: f.led(22) == lp.rgb(COLUMN2, 1 / lp.DIM), PATIENCE)

    def shown() -> None:  # what the watcher does: perf.models into the view, to the driver
        driver.draw(replace(view, models=tuple(stage.perf.models)))

    fake.press(21)  # row 2, column 1: harmonize keys
    assert wait_until(lambda: said.said == ["keys: harmony armed"])
    shown()
    assert fake.wait_for(lambda f: f.led(21) == lp.rgb(COLUMN1), PATIENCE)
    # the change went out as one typed-colour SysEx: RGB (3), LED 21 (0x15), 127 0 70
    assert fake.received[-1][1] == bytes.fromhex("F0 00 20 29 02 0E 03  03 15 7F 00 46  F7")
    fake.press(12)  # row 1, column 2: the improviser on lead hears bass
    assert wait_until(lambda: said.said[-1:] == ["lead improvises, hearing bass"])
    fake.press(13)  # the layer refuses vox: its sentence, the pad stays dim
    assert wait_until(lambda: said.said[-1:] == ["vox is audio: an improviser hears keyboards"])
    stage.perf.fail("lead")
    shown()
    assert fake.wait_for(lambda f: f.led(12) == (0, lp.RED), PATIENCE)
    assert fake.led(13) == lp.rgb(COLUMN3, 1 / lp.DIM)
    fake.press(12)
    fake.press(21)
    assert wait_until(lambda: said.said[-2:] == [
        "lead: improviser stops at the phrase (its model had failed)", "keys: harmony disarmed",
    ])  # fmt: skip
    shown()
    assert fake.wait_for(lambda f: f.led(12) == lp.rgb(COLUMN2, 1 / lp.DIM), PATIENCE)
    assert fake.wait_for(lambda f: f.led(21) == lp.rgb(COLUMN1, 1 / lp.DIM), PATIENCE)


# ---- the real stage --------------------------------------------------------------------------


class Screen:
    """Stands in for the front end: keeps the latest view and everything said."""

    def __init__(self) -> None:
        self.view = EMPTY
        self.said: list[str] = []
        self.lock = threading.Lock()

    def show(self, view) -> None:
        self.view = view

    def say(self, sentence: str) -> None:
        with self.lock:
            self.said.append(sentence)


@pytest.fixture
def stage(tmp_path, jack_server) -> Iterator[tuple[Stage, Screen]]:
    session = Session(tmp_path / "friday")
    screen = Screen()
    s = Stage.live(session, on_message=screen.say, **ENGINE)
    s.perf.tempo = 180
    s.perf.phrase = 1  # a boundary every bar: 1.33 s
    s.start_view(post=screen.show)
    yield s, screen
    s.close()
    try:
        EngineClient(session.dir).shutdown()
    except Exception:  # noqa: BLE001 - already gone
        pass


def attached(stage: Stage, fake: FakeLaunchpad) -> LaunchpadProMK3:
    stage.start_controllers(poll=0.1)
    assert wait_until(lambda: stage.rig.attached), "hoot found the fake by its port and reply"
    assert fake.wait_for(lambda f: f.mode == "programmer" and f.frames, PATIENCE)
    return stage.rig.controllers()[0]


def looks(fake: FakeLaunchpad, pads: list[int]) -> list[tuple]:
    return [fake.led(pad) for pad in pads]


class Watch:
    """Every look each of `pads` had, in order, as frames arrived at the fake."""

    def __init__(self, fake: FakeLaunchpad, pads: list[int]) -> None:
        self.fake, self.pads = fake, pads
        self.seen: dict[int, list[tuple]] = {pad: [] for pad in pads}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for pad in self.pads:
                look = self.fake.led(pad)
                if not self.seen[pad] or self.seen[pad][-1] != look:
                    self.seen[pad].append(look)
            self._stop.wait(0.002)

    def stop(self) -> dict[int, list[tuple]]:
        self._stop.set()
        self._thread.join()
        return self.seen


def test_candidates_light_up_as_they_are_made_and_a_pad_queues_one_for_the_boundary(stage, fake):
    stage, screen = stage
    attached(stage, fake)
    pads = [pad_of("bass", n) for n in range(1, 5)]
    watch = Watch(fake, pads)
    batch = stage.perf.generate("bass", n=4, bars=4, seed=3)
    batch.wait(timeout=PATIENCE)
    assert fake.wait_for(lambda f: all(look in (BASS, CURSOR_BASS) for look in looks(f, pads)),
                         PATIENCE)  # fmt: skip
    seen = watch.stop()
    every = [look for pad in pads for look in seen[pad]]
    assert DIM_BASS in every and PULSING_BASS in every, "pending, then rendering, then ready"
    for pad in pads:  # never back: pending before rendering before ready
        order = [look for look in seen[pad] if look in (DIM_BASS, PULSING_BASS, BASS)]
        assert order == sorted(order, key=[DIM_BASS, PULSING_BASS, BASS].index)
    assert fake.led(pad_of("bass", 5)) == lp.OFF, "no fifth candidate"

    fake.press(pad_of("bass", 2))
    assert fake.wait_for(lambda f: f.led(pad_of("bass", 2)) in (FLASHING_BASS, lp.WHITE),
                         PATIENCE)  # fmt: skip
    assert fake.wait_for(lambda f: f.led(pad_of("bass", 2)) == lp.WHITE, PATIENCE)
    playing = [item for item in screen.view.queue if item.state == "playing"]
    assert [item.candidate for item in playing] == ["bass #2"]


def test_a_second_press_before_the_boundary_takes_the_pick_back(stage, fake):
    stage, screen = stage
    stage.perf.phrase = 4  # 5.3 s to press twice in
    attached(stage, fake)
    stage.perf.generate("bass", n=3, bars=1, seed=4).wait(timeout=PATIENCE)
    pad = pad_of("bass", 3)
    assert wait_until(lambda: screen.view.phrase_bars == 4 and screen.view.bar_in_phrase == 0)
    fake.press(pad)
    assert fake.wait_for(lambda f: f.led(pad) == FLASHING_BASS, PATIENCE)
    fake.press(pad)
    assert fake.wait_for(lambda f: f.led(pad) in (BASS, CURSOR_BASS), PATIENCE), (
        f"{fake.led(pad)}; said {screen.said}"
    )
    assert any("will not start after all" in line for line in screen.said)
    assert not stage.perf.tracks.bass.playing


def test_round_buttons_generate_stop_count_down_and_panic(stage, fake):
    stage, screen = stage
    attached(stage, fake)
    fake.push(59)  # row 5's generate button: lead
    assert wait_until(lambda: "lead" in stage.perf.picker.latest), (screen.said, screen.view.queue)
    stage.perf.picker.latest["lead"].wait(timeout=PATIENCE)
    assert fake.wait_for(lambda f: f.led(pad_of("lead", 1)) != lp.OFF, PATIENCE)
    assert any(line.startswith("lead: a new batch of 6") for line in screen.said)

    fake.press(pad_of("lead", 1))
    assert wait_until(
        lambda: any(i.track == "lead" and i.state == "playing" for i in screen.view.queue)
    ), (screen.said, screen.view.queue)
    assert fake.wait_for(lambda f: f.led(50) != lp.OFF, PATIENCE), "lead's stop button is lit"
    fake.push(50)  # row 5's stop button
    assert wait_until(lambda: not stage.perf.tracks.lead.playing), (screen.said, screen.view.queue)
    assert fake.wait_for(lambda f: f.led(50) == lp.OFF and f.led(pad_of("lead", 1)) != lp.WHITE,
                         PATIENCE)  # fmt: skip
    assert any(line.startswith("lead stops at bar") for line in screen.said)

    assert fake.wait_for(lambda f: f.led(91) != lp.OFF and f.led(92) == lp.OFF, PATIENCE), (
        "a one-bar phrase: one bar left, one button lit"
    )

    fake.press(pad_of("lead", 2))
    assert wait_until(lambda: stage.perf.tracks.lead.playing), (screen.said, screen.view.queue)
    fake.push(lp.PANIC)
    assert wait_until(lambda: not stage.perf.tracks.lead.playing), (screen.said, screen.view.queue)
    assert "panic: everything stopped" in screen.said


def test_tap_and_one_buttons_tap_the_tempo_start_a_phrase_and_blink_on_the_beat(stage, fake):
    stage, screen = stage
    stage.perf.phrase = 4
    attached(stage, fake)
    watch = Watch(fake, [lp.TAP, lp.ONE])
    for _ in range(3):
        fake.push(lp.TAP)
        time.sleep(0.5)  # the performer's hand, not a wait for hoot
    assert wait_until(lambda: any(line.startswith("tap: ") for line in screen.said)), screen.said
    tapped = next(line for line in screen.said if line.startswith("tap: "))
    bpm = float(re.match(r"tap: ([\d.]+) BPM from the next beat", tapped).group(1))
    assert wait_until(lambda: stage.perf.tempo == pytest.approx(bpm))
    fake.push(lp.ONE)
    assert wait_until(lambda: any(line.startswith("one: a phrase starts at bar") for line in
                                  screen.said)), screen.said  # fmt: skip
    assert wait_until(lambda: len(watch.seen[lp.TAP]) >= 3 and len(watch.seen[lp.ONE]) >= 3)
    seen = watch.stop()
    assert {(3, 60, 60, 60), (3, 8, 8, 8)} <= set(seen[lp.TAP]), "lit on each beat"
    assert {(3, 0, 90, 20), (3, 0, 12, 3)} <= set(seen[lp.ONE]), "lit on each downbeat"


def test_shift_mutes_and_solos_each_role_and_shows_it(stage, fake):
    stage, screen = stage
    attached(stage, fake)
    fake.hold(lp.SHIFT)
    assert fake.wait_for(lambda f: f.led(lp.SHIFT) == lp.WHITE and f.led(70) == lp.UNMUTED,
                         PATIENCE)  # fmt: skip
    fake.push(70)  # shift + bass's left button: mute
    fake.push(39)  # shift + perc's right button: solo
    assert wait_until(lambda: stage.perf.tracks.bass.mute and stage.perf.tracks.perc.solo)
    assert fake.wait_for(lambda f: f.led(70) == lp.MUTED and f.led(39) == lp.SOLOED, PATIENCE)
    fake.push(70)
    assert wait_until(lambda: not stage.perf.tracks.bass.mute)
    fake.release(lp.SHIFT)
    assert fake.wait_for(lambda f: f.led(70) == lp.OFF and f.led(39) != lp.SOLOED, PATIENCE)
    assert not stage.perf.tracks.drums.playing, "the shift layer stopped nothing"


def test_unplugged_and_plugged_back_in_it_is_painted_whole_in_programmer_mode(stage, fake):
    stage, screen = stage
    attached(stage, fake)
    stage.perf.generate("drums", n=2, bars=1, seed=5).wait(timeout=PATIENCE)
    assert fake.wait_for(lambda f: f.led(pad_of("drums", 2)) != lp.OFF, PATIENCE)
    fake.unplug()
    assert wait_until(lambda: any("unplugged" in line for line in screen.said))
    assert wait_until(lambda: feeds(stage) == ()), "no clock to a unit that is gone"
    fake.plug(stale=(0, 1))  # back in Live mode, showing what Live mode drew
    assert wait_until(lambda: any("is back" in line for line in screen.said))
    driver = stage.rig.controllers()[0]
    assert fake.wait_for(lambda f: f.mode == "programmer", PATIENCE)
    want = picture(screen.view, driver.shift)
    assert fake.wait_for(lambda f: all(f.led(i) == want[i] or i in lp.COUNTDOWN
                                       for i in lp.LEDS), PATIENCE)  # fmt: skip
    plugs = [line for line in screen.said if "unplugged" in line or "is back" in line]
    assert len(plugs) == 2, f"one sentence each way: {plugs}"
    assert len(stage.rig.attached) == 1, "the same Launchpad, not a second one"
    count = len(fake.ticks)
    assert fake.wait_for(lambda f: len(f.ticks) > count + 24, PATIENCE), "its clock is back"


def near(bpm: float | None, target: float) -> bool:
    """Within 3 %: two beats of ticks through RtMidi's JACK output, which sends at the next
    period, measure a tempo to about that."""
    return bpm is not None and abs(bpm - target) <= 0.03 * target


def feeds(stage: Stage) -> tuple[str, ...]:
    return stage.link.send(p.GetClock()).feeds


def test_flashing_keeps_hoots_tempo_by_the_clock_the_engine_sends_the_unit(stage, fake):
    stage, screen = stage  # at 180 BPM
    attached(stage, fake)
    assert feeds(stage) == (LaunchpadProMK3.port,), "asked for when it attached"
    assert fake.wait_for(lambda f: near(f.tempo(), 180), PATIENCE), fake.tempo()
    stage.perf.tempo = 100
    assert fake.wait_for(lambda f: near(f.tempo(), 100), PATIENCE), fake.tempo()
    clock = stage.link.send(p.GetClock())
    assert clock.port == "" and clock.transport == "", "the performer's clock out is untouched"
    assert not [m for _, m in fake.received if m[0] in (0xFA, 0xFB, 0xFC, 0xF2)], "ticks only"
    session_dir = stage.session.dir
    stage.close()
    assert EngineClient(session_dir).send(p.GetClock()).feeds == (), "no clock left running"
    count = len(fake.ticks)
    assert not fake.wait_for(lambda f: len(f.ticks) > count, 0.3), "no tick after the stage left"


def test_the_performers_clock_out_and_the_units_ticks_go_out_side_by_side(stage, fake):
    stage, screen = stage
    drum_machine: list[bytes] = []
    ports = MidiPorts(api="jack")
    ports.virtual_input("drumbox:Drum machine", lambda m, t: drum_machine.append(m))
    try:
        attached(stage, fake)
        state = stage.perf.clock_out("Drum machine", start="beat")
        assert state.port and state.feeds == (LaunchpadProMK3.port,)
        assert wait_until(lambda: b"\xfa" in drum_machine and drum_machine.count(b"\xf8") > 48)
        count = len(fake.ticks)
        assert fake.wait_for(lambda f: len(f.ticks) > count + 48, PATIENCE)
        assert stage.perf.clock_out(None).feeds == (LaunchpadProMK3.port,), "the unit keeps it"
        assert wait_until(lambda: b"\xfc" in drum_machine), "Stop to the performer's port"
        count = len(fake.ticks)
        assert fake.wait_for(lambda f: len(f.ticks) > count + 24, PATIENCE)
    finally:
        ports.close()


def test_leaving_gives_the_unit_back_in_live_mode(stage, fake):
    stage, screen = stage
    attached(stage, fake)
    stage.close()
    assert fake.wait_for(lambda f: f.mode == "live", PATIENCE)
    assert fake.modes[-1] == "live" and all(fake.led(i) == lp.OFF for i in lp.LEDS)


def test_a_port_named_like_it_that_answers_as_something_else_is_left_alone(stage, jack_server):
    stage, screen = stage
    impostor = FakeLaunchpad("notLP")
    impostor.answering = False
    try:
        stage.start_controllers(poll=0.1, confirm_s=0.5)
        assert wait_until(lambda: any("did not answer" in line for line in screen.said)), (
            screen.said
        )
        assert not stage.rig.attached and impostor.mode == "live"
    finally:
        impostor.close()
