"""Issue 13 end to end, as a performer uses it: a real engine on JACK's dummy driver, a
live input played by a stand-in file, and the real voice process (`python -m
hoot.realtime.voice`, torch there) running TorchScript modules of the nn~ interface built
here (hoot.realtime.nn_tilde). Each test reads what was heard: the recordings
perf.record(tracks=True) writes (one clock for every track and the master), or the
engine's input ring, whose blocks carry their engine sample (the echo's phrase boundary is
an engine sample).

- a transfer through the identity model plays its input exactly `latency_samples` later
  (the figure perf.models shows), sample for sample, silence only where the engine
  counted samples the voice wrote too late;
- perf.compensate delays every other track by that figure (State says so) and a click on
  a stem lands in the master exactly as far from the model's copy of the input's click as
  the stem's click was from the input's; off again, nothing is delayed;
- a model that raises silences its own track only: the other input plays on bit for bit,
  the performer reads a sentence, the layer starts it again;
- an echo is silent until a phrase boundary and from exactly that sample plays what the
  input played one bar earlier;
- a drone sounds on a track of its own; stopped, its row goes back to the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hoot.engine import protocol as p
from hoot.engine.client import EngineClient
from hoot.engine.rings import RingReader
from hoot.performance import Performance
from hoot.realtime import nn_tilde
from hoot.session import Session
from tests import stemfiles
from tests.waiting import wait_until

SR = 48000
LATENCY = 127 + 256  # the identity's: its buffering (ratio 128 - 1) and one 256-frame block


@pytest.fixture
def live(jack_server, tmp_path) -> Iterator[tuple[Performance, EngineClient]]:
    """A Performance on a real engine (JACK, dummy driver) whose models run in the real
    voice process; fast tempo and one-bar phrases, so a phrase boundary comes every second."""
    session = Session(tmp_path / "live")
    client = EngineClient.spawn(session.dir, backend="sounddevice", idle_timeout=60)
    assert client.info.backend == "sounddevice", client.messages()
    perf = Performance(client, session)
    perf.tempo = 240
    perf.phrase = 1
    try:
        yield perf, client
    finally:
        perf.close()
        client.shutdown()


def identity(tmp_path: Path, kind: str = "identity", **kw) -> Path:
    """A stereo nn~ identity model (output == input to the sample, no algorithmic delay
    of its own: the Stream's latency is its buffering, ratio - 1 samples)."""
    return nn_tilde.build(kind, tmp_path / f"{kind}.ts", channels_in=2, channels_out=2,
                          latent=256, **kw)  # fmt: skip


def take(tmp_path: Path, name: str, frames: int, seed: int, level: float = 0.25) -> Path:
    """Stereo noise, its channels different: every sample of the loop is its own."""
    rng = np.random.default_rng(seed)
    return stemfiles.write_wav(tmp_path / f"{name}.wav", rng.uniform(-level, level, (frames, 2)))


def sounding(perf: Performance, name: str) -> bool:
    """Whether the voice playing `name` wrote audio over its last heartbeat (it warmed up:
    TorchScript's first calls are slow)."""
    return running(perf, name) and (status(perf, name).level_db or -120.0) > -60.0


def running(perf: Performance, name: str) -> bool:
    """Whether the voice playing `name` runs and has said its latency."""
    found = [m for m in perf.models if m.name == name]
    return bool(found) and found[0].state == "running" and found[0].latency_samples is not None


def status(perf: Performance, name: str):
    return next(m for m in perf.models if m.name == name)


def play_for(perf: Performance, samples: int) -> None:
    start = perf.now
    assert wait_until(lambda: perf.now > start + samples), "the engine plays on"


def exactly_or_counted(perf: Performance, name: str, got: np.ndarray, want: np.ndarray) -> None:
    """Every sample `got` is `want`'s, or silence the engine counted as missing (a block
    the voice wrote too late on this shared machine: its `late` in perf.models)."""
    same = (got == want).all(axis=1)
    silent = ~np.abs(got).any(axis=1)
    assert (same | silent).all(), "nothing but the expected samples, or silence"
    missed = int((~same).sum())
    assert same.mean() > 0.5, f"{name}: {missed} of {len(same)} missed (a block or two may be)"
    assert wait_until(lambda: status(perf, name).late >= missed), (
        f"{missed} samples silent, {status(perf, name).late} counted late"
    )


def recorded(files: list[Path], label: str) -> np.ndarray:
    (path,) = [f for f in files if f.stem.endswith(f"-{label}")]
    return sf.read(path, dtype="float32")[0]


def loop_offset(heard: np.ndarray, loop: np.ndarray) -> int:
    """Where in `loop` the take's first sample is (a stand-in loops its file from the
    block after it was taken, so a take starts anywhere in it)."""
    (at,) = np.flatnonzero((loop == heard[0]).all(axis=1))
    return int(at)


def looped(loop: np.ndarray, offset: int, frames: int) -> np.ndarray:
    return loop[(np.arange(frames) + offset) % len(loop)]


@pytest.mark.jack
def test_a_transfer_plays_its_input_exactly_the_declared_latency_later(live, tmp_path):
    perf, client = live
    perf.input("player", file=take(tmp_path, "take", 77777, seed=3))
    perf.transfer("player", model=identity(tmp_path))
    assert wait_until(lambda: running(perf, "player~")), list(perf.messages)
    d = status(perf, "player~").latency_samples
    assert d == LATENCY
    assert status(perf, "player~").latency_ms == pytest.approx(1000 * d / SR)
    stemfiles.unity(perf)
    assert wait_until(lambda: sounding(perf, "player~"))
    files = perf.record(tracks=True)
    play_for(perf, SR + SR // 2)
    files = perf.stop_recording()
    x, y = recorded(files, "player"), recorded(files, "player~")
    assert np.abs(x).max() > 0.2, "the stand-in played"
    # the voice ran before the take began: every sample of it from D on is the input's, D
    # earlier, or (a block the voice was late for) silence the engine counted as missing
    exactly_or_counted(perf, "player~", y[d:], x[:-d])


@pytest.mark.jack
def test_compensation_lines_a_stem_click_up_with_the_models_copy_of_the_input(live, tmp_path):
    perf, client = live
    beat = SR // 4  # 240 bpm
    clicks = np.zeros((4 * beat, 2), np.float32)
    clicks[::beat] = 0.5  # a one-sample click on every beat of a one-bar stem
    stem = perf.load(stemfiles.write_wav(tmp_path / "clicks.wav", clicks, bars=1,
                                         role="drums"), role="drums")  # fmt: skip
    tap = np.zeros((SR // 3 + 37, 2), np.float32)  # the player's: a loop no bar divides
    tap[100] = -0.25
    perf.input("player", file=stemfiles.write_wav(tmp_path / "tap.wav", tap), monitor=False)
    perf.transfer("player", model=identity(tmp_path))
    assert wait_until(lambda: running(perf, "player~")), list(perf.messages)
    d = status(perf, "player~").latency_samples
    perf.compensate = True
    state = lambda: client.send(p.State())  # noqa: E731
    assert wait_until(lambda: state().compensate == d), "the engine delays the rest by D"
    stemfiles.unity(perf)
    assert wait_until(lambda: sounding(perf, "player~"))
    stem.queue(at="now")
    files = perf.record(tracks=True)
    play_for(perf, 2 * SR)
    files = perf.stop_recording()
    drums, player = recorded(files, "drums"), recorded(files, "player")
    model, master = recorded(files, "player~"), recorded(files, "master")
    hits = lambda a, v: np.flatnonzero(np.isclose(a[:, 0], v, atol=1e-6))  # noqa: E731
    drum, tap_at, copy = hits(drums, 0.5), hits(player, -0.25), hits(model, -0.25)
    assert len(drum) >= 6 and len(tap_at) >= 4 and len(copy) >= 4, (drum, tap_at, copy)
    assert set(copy) <= {t + d for t in tap_at}, "the model's copy: the tap, D later"
    heard_drum, heard_copy = hits(master, 0.5), hits(master, -0.25)
    # the master hears the stem D later than its own track (and both after the limiter's
    # look-ahead, 63 samples), the model's track only the look-ahead later
    (ahead,) = {h - t - d for h in heard_drum for t in drum if 0 <= h - t - d < SR // 100}
    assert set(heard_drum) == {t + d + ahead for t in drum if t + d + ahead < len(master)} | {
        h for h in heard_drum if h < d + ahead
    }, "every click of the stem, D later (those before D: played before the take)"
    assert set(heard_copy) == {c + ahead for c in copy if c + ahead < len(master)}
    # so the model's copy of a tap lands as far from a click as the tap itself was from it
    # when it was played: the mix lines up to the sample
    played = {t - c for t in tap_at for c in drum}
    assert {h - c for h in heard_copy for c in heard_drum if c >= d + ahead} <= played
    perf.compensate = False
    assert wait_until(lambda: state().compensate == 0)


@pytest.mark.jack
def test_a_model_that_raises_silences_only_its_own_track(live, tmp_path):
    perf, client = live
    band = take(tmp_path, "band", 55555, seed=5)
    perf.input("band", file=band)
    take_path = take(tmp_path, "take", 77777, seed=3)
    perf.input("player", file=take_path)
    player = sf.read(take_path, dtype="float32")[0]
    perf.transfer("player", model=identity(tmp_path, "raise", fail_after=40))
    stemfiles.unity(perf)
    files = perf.record(tracks=True)  # the model's track too: its row is taken
    # "the transfer on player~ failed (the model failed while transforming its input: ...);
    # restarted it"
    said = lambda: [m for m in perf.messages if "player~ failed (the model failed" in m]  # noqa: E731
    assert wait_until(lambda: any("restarted it" in m for m in said())), list(perf.messages)
    assert wait_until(lambda: status(perf, "player~").restarts >= 1)
    play_for(perf, SR // 2)
    files = perf.stop_recording()
    heard = recorded(files, "band")
    loop = sf.read(band, dtype="float32")[0]
    assert np.array_equal(heard, looped(loop, loop_offset(heard, loop), len(heard))), (
        "the other input, bit for bit, all through the take"
    )
    x, y = recorded(files, "player"), recorded(files, "player~")
    assert np.array_equal(x, looped(player, loop_offset(x, player), len(x))), (
        "its own input plays on too"
    )
    d = LATENCY  # what the raising identity declares, as the identity does
    same = (y[d:] == x[:-d]).all(axis=1)
    silent = ~np.abs(y[d:]).any(axis=1)
    assert (same | silent).all(), "the model's track: its input D later, or silence"
    assert same.any() and silent.sum() > SR // 10, "it played, then fell silent"


@pytest.mark.jack
def test_an_echo_starts_on_a_phrase_boundary_with_the_input_one_bar_before(live, tmp_path):
    perf, client = live
    perf.input("player", file=take(tmp_path, "take", 77777, seed=3))
    model = identity(tmp_path)
    assert wait_until(lambda: perf.phrase == 1), "one-bar phrases from the next phrase on"
    ring, _ = perf.input_ring()
    reader = RingReader(ring)  # every block from now on, with its engine sample
    heard: dict[int, np.ndarray] = {}

    def follow() -> int:
        while (block := reader.read()) is not None:
            heard[block[0]] = block[1]
        return max(heard, default=0)

    called = perf.now
    perf.echo("player", bars=1, model=model)
    tm = perf.tempo_map()
    boundary = tm.sample_at(tm.next_boundary_beat(called, "phrase"))
    bar = SR  # 4 beats at 240 bpm
    assert wait_until(lambda: follow() and running(perf, "player~echo")), list(perf.messages)
    rows = perf.input_ring()[1]
    source, echo = rows["player"], rows["player~echo"]
    end = perf.now + 3 * bar
    assert wait_until(lambda: follow() > end), "three bars more heard"
    assert reader.lost == 0, "the test heard every block"
    s0 = min(heard)
    x = np.zeros((max(heard) + 256 - s0, 2), np.float32)
    y = np.zeros_like(x)
    for at, block in heard.items():
        x[at - s0 : at - s0 + block.shape[1]] = block[source]
        y[at - s0 : at - s0 + block.shape[1]] = block[echo]
    first = s0 + int(np.flatnonzero(np.abs(y).max(axis=1) > 0)[0])
    begin = boundary
    while tm.next_boundary(begin + 1, "phrase") <= first:
        begin = tm.next_boundary(begin + 1, "phrase")
    # silent until a phrase boundary: the first its voice could still write for (it loads
    # for seconds, so maybe a later one than the call's), the phrase `first` lies in
    assert s0 < boundary and not y[: begin - s0].any(), "silent before the boundary"
    # and from exactly that sample on, sample for sample (the identity model through the
    # echo's stream, whose latency the echo takes out when it keeps what it heard), what
    # the input played one bar earlier: an echo that began mid-phrase would leave silence
    # the engine never counted as missed
    t = np.arange(begin, s0 + len(x)) - s0
    exactly_or_counted(perf, "player~echo", y[t], x[t - bar])


@pytest.mark.jack
def test_a_drone_sounds_on_its_own_track_and_stopping_gives_the_row_back(live, tmp_path):
    perf, client = live
    model = nn_tilde.build("conv", tmp_path / "conv.ts")
    drone = perf.drone(model=model, walk=0.5)
    assert wait_until(lambda: running(perf, "drone")), list(perf.messages)
    assert "drone" in perf.tracks
    stemfiles.unity(perf)
    files = perf.record(tracks=True)
    assert wait_until(lambda: sounding(perf, "drone"))
    play_for(perf, SR // 2)
    files = perf.stop_recording()
    assert np.abs(recorded(files, "drone")).max() > 1e-3
    drone.stop()
    assert wait_until(lambda: "drone" not in perf.tracks)
    names = [i.name for i in client.send(p.State()).inputs]
    assert "drone" not in names and not perf.models
