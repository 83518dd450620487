"""The engine as its own process: it outlives its clients, survives their death and hangs,
records through its own death, and plays a set on a real audio server (JACK, dummy driver)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hoot.engine import realtime
from hoot.engine.client import EngineClient
from hoot.engine.protocol import GetTiming, Ping, Queue
from hoot.engine.recorder import repair
from hoot.errors import EngineError, StemError
from hoot.performance import Performance
from hoot.session import Session
from tests import stemfiles
from tests.waiting import PATIENCE

REPO = Path(__file__).resolve().parents[2]


def wait_until(predicate, timeout: float = PATIENCE, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture
def session(tmp_path):
    return Session(tmp_path / "live")


@pytest.fixture
def engine(session):
    client = EngineClient.spawn(session.dir, backend="null", idle_timeout=30)
    yield client
    client.shutdown()


def test_killing_the_client_leaves_the_engine_playing_and_a_new_client_reattaches(
    tmp_path, session
):
    stem = stemfiles.tone(tmp_path / "bass.wav", level=0.4)
    script = textwrap.dedent(f"""
        import sys, time
        from hoot.engine.client import EngineClient
        from hoot.performance import Performance
        from hoot.session import Session
        session = Session({str(session.dir)!r})
        client = EngineClient.attach(session.dir, backend="null", idle_timeout=30)
        perf = Performance(client, session)
        perf.load({str(stem)!r}, role="bass").queue(at="beat")
        perf.tempo = 97
        print(client.info.pid, flush=True)
        time.sleep(600)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=REPO)
    engine_pid = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait()
    try:
        client = EngineClient.attach(session.dir, spawn=False)
        assert client.info.pid == engine_pid
        first = client.status().position
        wait_until(lambda: client.status().position - first > 0.3 * 48000)  # it plays on
        assert pid_alive(engine_pid)
        bass = client.tracks.index("bass")
        assert wait_until(lambda: client.status().meters[bass, 0] > 0.1), "the bass sounds"
        perf = Performance(client, session)
        assert [p.state for p in perf.tracks.bass.playing] == ["playing"]
        wait_until(lambda: perf.tempo == 97)
    finally:
        EngineClient(session.dir).shutdown()
    wait_until(lambda: not pid_alive(engine_pid))


def test_a_hung_client_does_not_hold_up_the_music(engine, session, tmp_path):
    perf = Performance(engine, session)
    perf.load(stemfiles.tone(tmp_path / "pad.wav", level=0.3), role="pad").queue(at="now")
    hung = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hung.connect(str(engine.socket_path))
    request = json.dumps({"id": 1, "cmd": "state"}).encode() + b"\n"
    hung.setblocking(False)
    sent = 0
    try:  # flood requests and never read a reply, until the socket buffers are full
        while sent < 20000:
            hung.send(request)
            sent += 1
    except BlockingIOError:
        pass
    start = engine.status().position
    wait_until(lambda: engine.status().position - start > 0.8 * 48000)  # the music plays on
    assert engine.send(Ping()).position > start, "other clients are still served"
    hung.close()


def test_errors_travel_back_as_the_same_hoot_errors(engine, session, tmp_path):
    perf = Performance(engine, session)
    with pytest.raises(EngineError, match="did you mean 'bass'"):
        engine.send(Queue(track="bas", stem="x"))
    corrupt = tmp_path / "bad.wav"
    corrupt.write_bytes(b"not audio at all" * 10)
    with pytest.raises(StemError, match="not a readable audio file"):
        perf.load(corrupt, role="bass")
    with pytest.raises(EngineError, match="out of range"):
        perf.tempo = 0
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.connect(str(engine.socket_path))
    with raw, raw.makefile("rwb") as wire:
        for request, answer in (
            ({"id": 1, "cmd": "format_disk"}, "no command 'format_disk'"),
            ({"id": 2, "cmd": "queue", "args": {"trak": "bass"}}, "bad arguments for queue"),
            ({"id": 3, "cmd": "tempo", "args": [120]}, "bad arguments for tempo"),
            ([1, 2, 3], "could not do that"),
        ):
            wire.write(json.dumps(request).encode() + b"\n")
            wire.flush()
            reply = json.loads(wire.readline())
            assert reply["ok"] is False and answer in reply["error"], reply
    assert engine.alive()


def test_killing_the_engine_leaves_a_readable_recording_short_by_at_most_a_second(
    session, tmp_path
):
    client = EngineClient.spawn(session.dir, backend="null", idle_timeout=30)
    perf = Performance(client, session)
    perf.load(stemfiles.tone(tmp_path / "t.wav", level=0.3, freq=220), role="lead").queue("now")
    [master] = perf.record(name="crash")
    started = client.status().position
    time.sleep(3.0)
    at_the_kill = client.status()
    recorded = (at_the_kill.position - started) / 48000
    dropped = at_the_kill.dropped / 48000  # a writer starved by a busy machine, counted
    os.kill(client.info.pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(client.info.pid))
    client.close()
    readable = sf.info(str(master)).duration  # without any repair
    assert readable >= recorded - 1.2 - dropped, (
        f"recorded {recorded:.2f} s, readable {readable:.2f} s, dropped {dropped:.2f} s"
    )
    audio, _ = sf.read(str(master))
    assert np.abs(audio[48000:]).max() > 0.08, "it is the music, not silence"
    # the next engine for this session repairs what the crash left
    again = EngineClient.spawn(session.dir, backend="null", idle_timeout=30)
    try:
        assert sf.info(str(master)).duration >= readable
        assert repair(master) is False, "already repaired at start"
    finally:
        again.shutdown()


def test_an_engine_left_alone_shuts_down_and_finalises_its_recording(session, tmp_path):
    client = EngineClient.spawn(session.dir, backend="null", idle_timeout=1.0)
    pid = client.info.pid
    perf = Performance(client, session)
    perf.load(stemfiles.tone(tmp_path / "t.wav", level=0.3), role="pad").queue(at="now")
    [master] = perf.record(name="alone")
    time.sleep(0.5)
    client.close()
    wait_until(lambda: not pid_alive(pid))
    assert repair(master) is False, "finalised: the header already matches the data"
    assert sf.info(str(master)).duration > 1.0


def test_the_engine_side_never_imports_textual_or_torch():
    code = textwrap.dedent("""
        import sys, pkgutil, importlib, hoot.engine
        for m in pkgutil.iter_modules(hoot.engine.__path__):
            importlib.import_module("hoot.engine." + m.name)
        import hoot.music.time, hoot.music.clip
        bad = sorted(n for n in sys.modules if n.split(".")[0] in ("textual", "torch"))
        print(bad)
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout.strip()
    assert out == "[]", f"the engine imported {out}"


@pytest.mark.jack
def test_the_engine_plays_a_set_on_jack_for_ten_seconds(jack_server, session, tmp_path, report):
    client = EngineClient.spawn(session.dir, backend="sounddevice", idle_timeout=30)
    try:
        assert client.info.backend == "sounddevice", client.messages()
        assert "JACK" in client.info.device or "jack" in client.info.device.lower()
        perf = Performance(client, session)
        perf.load(stemfiles.noise(tmp_path / "drums.wav", seconds=0.5), role="drums").queue()
        perf.load(stemfiles.tone(tmp_path / "bass.wav", freq=55), role="bass").queue("bar")
        perf.load(
            stemfiles.midi(tmp_path / "keys.mid", [(0, 1, 60, 100), (2, 1, 67, 100)], length=4),
            role="chords",
        ).queue("beat")
        start = client.status()
        time.sleep(10.5)
        end = client.status()
        played = (end.position - start.position) / 48000
        report(
            f"JACK dummy, 10 s set: played {played:.2f} s, xruns {end.xruns - start.xruns}, "
            f"faults {end.faults}, callback CPU {end.cpu:.1%}, block {end.blocksize}, "
            f"audio thread {realtime.describe(end.realtime)}"
        )
        assert (end.realtime > 0) == realtime.allowed()
        timing = client.send(GetTiming())
        assert timing.blocks > 1000 and 0 < timing.p50 <= timing.p999 <= timing.max
        assert played > 9.0
        assert end.faults == 0
        assert end.meters[-1, 0] > 0.05, "the master is sounding"
    finally:
        client.shutdown()


def test_the_status_file_lives_in_memory_not_on_disk(monkeypatch, tmp_path):
    # the status thread writes it 120 times a second holding the GIL; on a disk file
    # system those writes can wait for the journal (see hoot.runtime.runtime_dir)
    from hoot.engine import status as st

    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    _, status_path = st.addresses(tmp_path)
    assert status_path.parent.parent == Path("/dev/shm")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # a user's own runtime dir wins
    assert st.addresses(tmp_path)[1].parent == tmp_path / f"hoot-{os.getuid()}"


def test_an_engine_plays_64_frame_blocks(session, tmp_path):
    """`hoot tui --blocksize 64` asks the engine for 64-frame blocks: it renders them."""
    client = EngineClient.spawn(session.dir, backend="null", blocksize=64, idle_timeout=30)
    try:
        perf = Performance(client, session)
        perf.load(stemfiles.tone(tmp_path / "t.wav", level=0.3), role="pad").queue(at="now")
        assert wait_until(lambda: client.status().blocks > 200)
        status = client.status()
        assert status.blocksize == 64
        assert status.position <= 64 * status.blocks + 64, "no block was longer than 64"
        assert wait_until(lambda: client.status().meters[-1, 0] > 0.05), "and it sounds"
    finally:
        client.shutdown()
