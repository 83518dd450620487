"""Audio voices against stand-ins that follow issue 13's contracts (tests/realtime/
fakes_audio.py), the engine advanced a block at a time by the test: a transfer writes its
answer to input sample s at exactly s + D, counts the blocks it was too late for and
catches up; a drone writes ahead and turns at the phrase boundary; an echo starts exactly
on a phrase boundary and plays what it heard `bars` bars earlier; a model that raises
ends the voice with a sentence."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from hoot.errors import HootError
from hoot.realtime.audio_voice import (
    DroneVoice,
    EchoVoice,
    ModelFailed,
    Tape,
    TransferVoice,
    margin,
)
from hoot.realtime.trajectory import Grid, Trajectory
from tests.realtime.fakes_audio import SR, Engine, Player, Stream, tone
from tests.waiting import PATIENCE, wait_until

REPO = Path(__file__).resolve().parents[2]

CLOCK = {"beat_s": 0.5, "beat_sample": 60000, "phrase_sample": 60000, "phrase_beats": 16}


def transfer(engine: Engine, stream: Stream, **settings) -> TransferVoice:
    return TransferVoice(stream, engine.reader, engine.writer, row=1, samplerate=SR,
                         block=engine.block, clock=CLOCK, **settings)  # fmt: skip


def test_margin_is_one_block_or_two_when_blocks_are_short():
    assert margin(256, SR) == 256  # 5.3 ms
    assert margin(128, SR) == 256  # 2.7 ms: two blocks
    assert margin(64, SR) == 128
    assert margin(0, SR) == 256  # unknown: a 256-frame guess


def test_a_transfer_writes_input_sample_s_at_exactly_s_plus_d():
    engine = Engine(block=256)
    voice = transfer(engine, Stream(latency=300))
    assert voice.latency == 300 + 256
    first = engine.writer.played
    for _ in range(40):
        engine.tick(voice)
    w = engine.writer
    d = voice.latency
    heard = np.arange(first, w.played - 300)  # the model holds its last 300
    assert np.array_equal(w.audio[heard + d], tone(first, len(heard)))
    assert w.audio[first + d - 300 : first + d].max() == 0.0  # the model's first answer: silence
    assert w.missing == 0  # every sample the engine played after the first write was there
    status = voice.status()
    assert status["latency_samples"] == d and status["late"] == 0 and status["dropped"] == 0
    assert status["p50_ms"] is not None and status["level_db"] > -10


def test_a_transfer_starts_from_the_newest_block_not_from_what_came_while_it_warmed_up():
    engine = Engine(block=256)
    voice = transfer(engine, Stream(latency=300))
    for _ in range(5):  # the engine played on while the voice loaded and warmed up
        engine.tick()
    engine.tick(voice)  # its first look: only the newest input is still answerable
    assert voice.status()["dropped"] == 0
    assert len(voice.timings.ms) == 1, "one block went through the model, not six"
    for _ in range(10):
        engine.tick(voice)
    assert voice.status()["dropped"] == 0 and engine.writer.missing == 0


def test_the_latency_setting_overrides_but_never_undercuts_the_model():
    engine = Engine()
    assert transfer(engine, Stream(latency=300), latency=2000).latency == 2000
    assert transfer(engine, Stream(latency=300), latency=10).latency == 300
    assert transfer(Engine(block=64), Stream(latency=300)).latency == 300 + 128


def test_mix_lines_the_dry_up_with_the_wet():
    engine = Engine()
    voice = transfer(engine, Stream(latency=300, gain=-1.0), mix=0.25)
    first = engine.writer.played
    for _ in range(20):
        engine.tick(voice)
    heard = np.arange(first + 300, engine.writer.played - 300)
    expected = tone(first + 300, len(heard)) * 0.5  # 0.75 dry less 0.25 wet, aligned
    assert np.allclose(engine.writer.audio[heard + voice.latency], expected, atol=1e-6)
    voice.set({"mix": 0.0, "noise": 0.3, "bias": [1.0, -1.0]})
    assert voice.mix == 0.0
    assert voice.stream.controls[-1] == {"bias": [1.0, -1.0], "noise": 0.3}


def test_late_blocks_are_counted_and_the_transfer_catches_up():
    engine = Engine()
    stream = Stream(latency=300)
    voice = transfer(engine, stream)
    for _ in range(5):
        engine.tick(voice)
    for _ in range(8):  # the voice stalls: eight blocks pile up in the ring
        engine.tick()
    engine.tick(voice)  # the ones whose place the engine has played are dropped
    assert voice.dropped >= 6
    resets = stream.resets
    for _ in range(20):
        engine.tick(voice)
    assert stream.resets == resets  # in step again: one fresh start, no more
    w = engine.writer
    assert w.missing > 0 and voice.status()["late"] == w.missing
    later = np.arange(w.played - 256 * 10, w.played - 300)
    assert np.array_equal(w.audio[later + voice.latency], tone(later[0], len(later)))


def test_blocks_the_reader_lost_restart_the_stream():
    engine = Engine()
    stream = Stream(latency=300)
    voice = transfer(engine, stream)
    for _ in range(3):
        engine.tick(voice)
    engine.tick(heard=False)
    engine.reader.lost += 1
    engine.tick(voice)
    assert voice.dropped == 1 and stream.resets == 2  # the first block, then the gap


def test_a_model_that_raises_ends_the_voice_with_a_sentence():
    engine = Engine()
    voice = transfer(engine, Stream(latency=300, raise_after=2))
    engine.tick(voice)
    engine.tick(voice)
    with pytest.raises(ModelFailed, match="the model failed while transforming its input"):
        engine.tick(voice)
    assert isinstance(ModelFailed("x"), HootError)
    drone = drone_voice(Engine(start=60000 - 5000), raise_after=0)
    with pytest.raises(ModelFailed, match="rendering the drone"):
        drone.step()


def test_a_missing_source_row_is_a_sentence():
    with pytest.raises(HootError, match="no row 5"):
        TransferVoice(Stream(), Engine().reader, Engine().writer, row=5, samplerate=SR, block=256)


def drone_voice(engine: Engine, change="phrase", raise_after=None, **kw) -> DroneVoice:
    kw.setdefault("walk", 0.7)
    path = Trajectory(128, Grid.from_facts(CLOCK, SR), seed=5, change=change, **kw)
    return DroneVoice(Player(raise_after), engine.writer, path, samplerate=SR,
                      block=engine.block, clock=CLOCK, level=0.0)  # fmt: skip


def test_a_drone_writes_ahead_and_turns_exactly_at_the_phrase_boundary():
    runs = {}
    for change in ("phrase", None):
        engine = Engine(start=60000 - 20 * 256)
        voice = drone_voice(engine, change)
        for _ in range(40):
            engine.tick(voice, heard=False)
            written = engine.writer.writes[-1]
            assert written[0] + written[1] >= engine.writer.played + voice.ahead
            assert written[0] + written[1] <= engine.writer.played + voice.ahead + 128
        assert engine.writer.missing == 0
        runs[change] = engine.writer.audio[:, 0].copy()
        first = engine.writer.writes[0][0]
        assert (60000 - first) % 128 == 0  # its frames sit on a grid through the boundary
    assert np.array_equal(runs["phrase"][:60000], runs[None][:60000])
    assert not np.allclose(runs["phrase"][60000:60128], runs[None][60000:60128])
    assert voice.ahead == 2 * 256 + 480  # two blocks and 10 ms


def test_a_drone_knob_is_heard_within_the_write_ahead():
    engine = Engine(start=100000)
    voice = drone_voice(engine, walk=0.0)
    engine.tick(voice, heard=False)
    assert np.allclose(engine.writer.audio[engine.writer.played : engine.writer.played + 500], 0)
    voice.set({"energy": 1.0, "level": -6.0})
    at = engine.writer.played
    for _ in range(6):
        engine.tick(voice, heard=False)
    heard_from = at + voice.ahead + 128
    frame = engine.writer.audio[heard_from : heard_from + 128, 0]
    gain = 10 ** (-6 / 20)
    assert np.isclose(frame.max(), 1.5 * gain, atol=1e-5)  # energy 1: VIBE on dim 0
    assert voice.status()["level_db"] > -10


def test_the_drone_keeps_the_grid_through_a_tempo_change():
    engine = Engine(start=10000)
    voice = drone_voice(engine)
    voice.retime({**CLOCK, "beat_s": 0.25, "phrase_sample": 30000})
    assert voice.trajectory.grid.phrase == 0.25 * SR * 16
    for _ in range(100):
        engine.tick(voice, heard=False)
    assert voice.trajectory.changes == [30000]


# ---- the echo: a 4-beat phrase of 0.01 s beats (1920 samples), 2 bars = 3840 samples ----
FAST = {"beat_s": 0.01, "beat_sample": 5000, "phrase_sample": 5000, "phrase_beats": 4}


def echo_voice(engine: Engine, stream: Stream, **settings) -> EchoVoice:
    path = Trajectory(16, Grid.from_facts(FAST, SR), seed=2, walk=settings.get("walk", 0.0))
    return EchoVoice(stream, engine.reader, engine.writer, path, row=1, samplerate=SR,
                     block=engine.block, clock=FAST, **settings)  # fmt: skip


def test_an_echo_starts_on_a_phrase_boundary_and_plays_bars_later():
    engine = Engine(start=5500)
    voice = echo_voice(engine, Stream(latency=300), bars=2)
    heard_from = engine.writer.played
    for _ in range(80):
        engine.tick(voice)
    w = engine.writer
    assert w.writes[0][0] == 5756  # silence from the engine's position at its first look
    delay = 2 * 4 * 480
    assert voice.delay == delay
    # it heard from 5756 on (the first block it read), so it begins on the first boundary
    # whose two bars before it were all heard: 5000 + 3 * 1920 >= 5756 + 3840, not on
    # the next one (6920) with the tail of a phrase
    assert voice.begin == 5000 + 3 * 1920 == 10760
    assert w.audio[:10760].max() == 0.0
    played = np.arange(10760, w.played)
    assert played[0] - delay >= heard_from and len(played) > 5000
    # the echo plays input u at u + 3840, whole phrases from the boundary on
    assert np.array_equal(w.audio[played], tone(played[0] - delay, len(played)))
    assert w.missing == 0 and voice.dropped == 0


def test_an_echo_walks_its_controls_each_phrase_and_mixes():
    engine = Engine(start=5500)
    stream = Stream(latency=300, gain=-1.0)
    voice = echo_voice(engine, stream, bars=1, walk=0.5, mix=0.5)
    for _ in range(60):
        engine.tick(voice)
    biases = [c["bias"] for c in stream.controls if isinstance(c.get("bias"), list)]
    assert len(biases) == 60 and len(biases[0]) == 16
    assert voice.trajectory.changes[:2] == [6920, 8840]
    w = engine.writer
    late = np.arange(w.played - 2000, w.played)
    assert np.allclose(w.audio[late], 0.0)  # half the dry, half the inverted wet
    voice.set({"walk": 0.0})
    assert stream.controls[-1] == {"bias": 0.0}


def test_the_tape_forgets_what_it_never_heard():
    tape = Tape(1000)
    tape.put(100, np.ones((50, 2), np.float32), np.ones((50, 2), np.float32))
    tape.put(300, np.ones((10, 2), np.float32), np.ones((10, 2), np.float32))
    dry, _ = tape.get(0, 400)
    assert dry[:100].max() == 0 and dry[100:150].min() == 1 and dry[150:300].max() == 0
    assert dry[300:310].min() == 1 and dry[310:].max() == 0
    grown = tape.grown(5000)
    assert np.array_equal(grown.get(0, 400)[0], dry)


def test_a_models_dims_come_from_its_hoot_json(tmp_path):
    import torch

    from hoot.realtime.audio_voice import model_dims

    class Still(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    path = tmp_path / "still.ts"
    meta = {"name": "still", "dims": {"energy": 3, "brightness": {"dim": 7}}}
    torch.jit.save(
        torch.jit.script(Still()), str(path), _extra_files={"hoot.json": json.dumps(meta)}
    )
    assert model_dims(path) == meta["dims"]
    assert Trajectory(8, Grid(SR), dims=model_dims(path)).dims == {"energy": 3, "brightness": 7}
    torch.jit.save(torch.jit.script(Still()), str(tmp_path / "bare.ts"))
    assert model_dims(tmp_path / "bare.ts") == {}
    assert model_dims(tmp_path / "absent.ts") == {}


# ---- the voice process on real shared memory: issue 13's rings and the nn~ identity model --


class VoiceProcess:
    """`python -m hoot.realtime.voice` with its status lines read on a thread."""

    def __init__(self, start: dict) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hoot.realtime.voice"], cwd=REPO, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.statuses: list[dict] = []
        threading.Thread(target=self._listen, daemon=True).start()
        self.tell({"cmd": "start", **start})

    def _listen(self) -> None:
        for line in self.process.stdout:
            self.statuses.append(json.loads(line))

    def tell(self, command: dict) -> None:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def said(self, key: str) -> dict | None:
        return next((s for s in reversed(self.statuses) if key in s), None)

    def end(self) -> int:
        self.tell({"cmd": "stop"})
        try:
            return self.process.wait(PATIENCE)
        finally:
            self.process.kill()
            self.process.wait()


def rings(tmp_path):
    from hoot.engine.rings import create_return, create_ring

    ring, back = str(tmp_path / "inputs"), str(tmp_path / "return")
    return create_ring(ring, 3, SR), create_return(back, SR), ring, back


def test_the_voice_process_transfers_a_real_input_ring_into_a_real_return_ring(tmp_path):
    from hoot.engine.rings import R_PLAYED, R_WRITTEN, write_block
    from hoot.realtime import nn_tilde

    model = nn_tilde.build("identity", tmp_path / "identity.ts")  # mono, 48 kHz, ratio 128
    ring, back, ring_name, back_name = rings(tmp_path)
    audio = {"path": back_name, "row": 2, "track": 7, "ring": ring_name, "samplerate": SR,
             "block": 256}  # fmt: skip
    voice = VoiceProcess({"kind": "transfer", "model": str(model), "audio": audio,
                          "source_row": 1, "settings": {"mix": 1.0}, "clock": CLOCK})  # fmt: skip
    try:
        assert wait_until(lambda: (voice.said("latency_samples") or {}).get("state") == "running")
        d = voice.said("latency_samples")["latency_samples"]
        from hoot.engine import realtime  # it runs SCHED_FIFO where the system allows it

        fifo = realtime.allowed() and realtime.wanted_priority() > 0
        assert (voice.said("priority")["priority"] > 0) == fifo
        s = first = 96000
        for _ in range(100):  # the engine: a block rendered, its input written, then played
            rows = np.zeros((3, 256, 2), np.float32)
            rows[1] = tone(s, 256)[:, :1]  # the same on both channels: a mono model's mean
            write_block(ring, rows, s, 256)
            back.head[R_PLAYED] = s + 256
            assert wait_until(lambda s=s: back.head[R_WRITTEN] >= s + 256 + 256)  # D - latency
            s += 256
        latency = d - 256
        heard = np.arange(first + latency, s - latency)
        got = back.audio[(heard + d) % len(back.audio)]
        expected = tone(first + latency, len(heard))[:, :1]
        assert np.allclose(got, np.repeat(expected, 2, 1), atol=1e-6)
        assert wait_until(lambda: voice.said("p95_ms") and voice.said("p95_ms")["p95_ms"])
        assert voice.end() == 0
    finally:
        voice.process.kill()


def test_a_voice_whose_model_raises_exits_with_a_sentence(tmp_path):
    from hoot.engine.rings import R_PLAYED, write_block
    from hoot.realtime import nn_tilde
    from hoot.realtime.audio_voice import WARM_CALLS

    # it plays a few blocks (after the voice's warm-up calls on silence), then fails
    model = nn_tilde.build("raise", tmp_path / "raise.ts", fail_after=WARM_CALLS + 3)
    ring, back, ring_name, back_name = rings(tmp_path)
    audio = {"path": back_name, "row": 2, "track": 7, "ring": ring_name, "samplerate": SR,
             "block": 256}  # fmt: skip
    voice = VoiceProcess({"kind": "transfer", "model": str(model), "audio": audio,
                          "source_row": 1, "settings": {}, "clock": CLOCK})  # fmt: skip
    try:
        assert wait_until(lambda: (voice.said("state") or {}).get("state") == "running")
        s = 0
        while voice.process.poll() is None and s < 48000 * 60:
            write_block(ring, np.full((3, 256, 2), 0.1, np.float32), s, 256)
            s += 256
            back.head[R_PLAYED] = s
            with contextlib.suppress(subprocess.TimeoutExpired):
                voice.process.wait(0.005)  # a block's time, or its exit
        assert voice.process.wait(PATIENCE) == 3
        assert "the model failed while transforming its input" in voice.said("failure")["failure"]
        assert "error" not in voice.said("failure")  # no "error": the layer starts it again
    finally:
        voice.process.kill()


def test_an_echo_and_a_drone_on_the_real_rings_and_model(tmp_path):
    from hoot.engine.rings import R_PLAYED, R_WRITTEN, ReturnWriter, RingReader, write_block
    from hoot.realtime import nn_tilde
    from hoot.realtime.rave import LatentPlayer, load_rave
    from hoot.realtime.rave import Stream as RaveStream

    model = load_rave(nn_tilde.build("identity", tmp_path / "identity.ts"))
    ring, back, ring_name, back_name = rings(tmp_path)
    s = 5500
    back.head[R_PLAYED] = s
    echo = EchoVoice(RaveStream(model, SR), RingReader(ring_name), ReturnWriter(back_name),
                     Trajectory(model.latent, Grid.from_facts(FAST, SR)), row=1, samplerate=SR,
                     block=256, clock=FAST, bars=2)  # fmt: skip
    first = s
    for _ in range(60):
        rows = np.zeros((3, 256, 2), np.float32)
        rows[1] = tone(s, 256)[:, :1]
        write_block(ring, rows, s, 256)
        s += 256
        back.head[R_PLAYED] = s
        echo.step()
    # heard from `first`: the first boundary with two whole bars heard before it
    assert echo.begin == 10760 >= first + echo.delay
    t = np.arange(echo.begin, s)
    assert np.allclose(back.audio[t % len(back.audio), 0], tone(t[0] - echo.delay, len(t))[:, 0],
                       atol=1e-6)  # fmt: skip
    assert not back.audio[(np.arange(first + 256, echo.begin)) % len(back.audio)].any()
    echo.release()

    (tmp_path / "drone").mkdir()
    _, back, _, back_name = rings(tmp_path / "drone")
    back.head[R_PLAYED] = 60000 - 20 * 256
    drone = DroneVoice(LatentPlayer(model, SR), ReturnWriter(back_name),
                       Trajectory(model.latent, Grid.from_facts(CLOCK, SR), walk=0.0,
                                  energy=1.0), samplerate=SR, block=256, clock=CLOCK,
                       level=0.0)  # fmt: skip
    for _ in range(30):
        drone.step()
        assert back.head[R_WRITTEN] >= back.head[R_PLAYED] + drone.ahead
        back.head[R_PLAYED] += 256
    frame = back.audio[60000 % len(back.audio) : 60000 % len(back.audio) + 128, 0]
    assert np.isclose(frame[0], 1.5, atol=1e-5)  # dim 0 (energy) is the frame's first sample
