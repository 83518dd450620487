"""What dead processes leave behind is cleaned up, and what live ones use is left alone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hoot import runtime
from hoot.engine import status as st
from tests.waiting import wait_until


@pytest.fixture
def runtime_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    return runtime.runtime_dir()


def a_dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_status_pid_slot_is_the_one_the_engine_writes():
    assert runtime._STATUS_PID_SLOT == st.F_PID


def test_leftovers_of_dead_processes_go_and_live_ones_stay(runtime_home, tmp_path):
    dead_status = runtime_home / "dead.status"
    live_status = runtime_home / "live.status"
    for path, pid in ((dead_status, a_dead_pid()), (live_status, os.getpid())):
        mm = st.create_status(path, 6)
        mm[st.F_PID] = pid
        mm.flush()
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(str(runtime_home / "live.sock"))
    listening.listen(1)
    orphan = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    orphan.bind(str(runtime_home / "dead.repl.sock"))
    orphan.close()  # the file stays; nobody listens
    dead_spool = runtime_home / "spool-dead"
    dead_spool.mkdir()
    (dead_spool / "owner").write_text(str(a_dead_pid()))
    (dead_spool / "bass-1.wav").write_bytes(bytes(1000))
    live_spool = runtime.spool_dir(tmp_path / "session")
    runtime.hold(live_spool)
    starting = st.create_status(runtime_home / "starting.status", 6)  # no pid written yet
    starting.flush()
    for name in ("dead", "live", "starting", "orphan"):  # input rings, 8 MB of memory each
        (runtime_home / f"{name}.inputs").write_bytes(bytes(64))
    gone_host = a_dead_pid()  # real-time models' stderr logs, by the pid that hosted them
    (runtime_home / f"voice-{gone_host}-lead.log").write_bytes(b"")
    (runtime_home / f"voice-{gone_host}-bass.log").write_bytes(b"Traceback: the crash\n")
    (runtime_home / f"voice-{os.getpid()}-keys.log").write_bytes(b"")
    (runtime_home / "voice-notapid.log").write_bytes(b"")  # not ours to judge: left alone
    try:
        removed = {p.name for p in runtime.clean()}
    finally:
        listening.close()
    assert {
        "dead.status",
        "dead.repl.sock",
        "spool-dead",
        "dead.inputs",
        "orphan.inputs",
        f"voice-{gone_host}-lead.log",
    } <= removed
    assert (runtime_home / f"voice-{gone_host}-bass.log").exists(), "a crash's log stays"
    assert (runtime_home / f"voice-{os.getpid()}-keys.log").exists()
    assert (runtime_home / "voice-notapid.log").exists()
    assert live_status.exists() and (runtime_home / "live.sock").exists() and live_spool.exists()
    assert (runtime_home / "live.inputs").exists()
    assert (runtime_home / "starting.status").exists() and (
        runtime_home / "starting.inputs"
    ).exists()


def test_semaphores_nobody_maps_are_removed_and_one_in_use_stays(tmp_path):
    shm = tmp_path / "shm"
    shm.mkdir()
    leaked = shm / "sem.mp-leaked1"
    leaked.write_bytes(bytes(32))
    used = Path("/dev/shm") / f"sem.mp-hoottest{os.getpid()}"
    used.write_bytes(bytes(32))
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import mmap, sys, time; f = open(sys.argv[1], 'r+b'); m = mmap.mmap(f.fileno(), 32);"
         " print('mapped', flush=True); time.sleep(60)", str(used)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "mapped"
        removed = runtime.clean_semaphores(shm)
        assert leaked in removed and not leaked.exists()
        assert used not in runtime.clean_semaphores(Path("/dev/shm")), "a mapped one stays"
        assert used.exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        used.unlink(missing_ok=True)


def test_the_worker_pool_leaves_no_semaphores_even_when_killed(tmp_path):
    before = set(Path("/dev/shm").glob("sem.mp-*"))
    script = (
        "from hoot.generate.pool import WorkerPool\n"
        "pool = WorkerPool(2); pool.start(); pool.ready.wait(60)\n"
        "print('ready', flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             start_new_session=True)  # fmt: skip
    assert child.stdout.readline().strip() == "ready"
    os.killpg(child.pid, signal.SIGKILL)  # the terminal closes: all of it goes, no clean exit
    child.wait()

    def group_gone() -> bool:
        try:
            os.killpg(child.pid, 0)
        except ProcessLookupError:
            return True
        return False

    assert wait_until(group_gone), "the workers and the resource tracker died with it"
    after = set(Path("/dev/shm").glob("sem.mp-*"))
    assert not after - before, f"leaked {sorted(p.name for p in after - before)}"


def test_a_killed_engines_input_ring_is_cleaned_up_with_its_status(runtime_home, tmp_path):
    from hoot.engine.client import EngineClient

    client = EngineClient.spawn(tmp_path / "s", backend="null", idle_timeout=30)
    status = Path(client.info.status)
    ring = status.with_suffix(".inputs")
    assert ring.exists()
    os.kill(client.info.pid, signal.SIGKILL)
    assert wait_until(lambda: not runtime.pid_alive(client.info.pid))
    assert ring.exists() and status.exists(), "a killed engine removes nothing"
    removed = runtime.clean()
    assert ring in removed and status in removed and not ring.exists()


def test_a_status_file_is_removed_when_its_engine_stops(tmp_path):
    from hoot.engine.client import EngineClient

    client = EngineClient.spawn(tmp_path / "s", backend="null", idle_timeout=30)
    status = Path(client.info.status)
    assert status.exists()
    client.shutdown()
    assert not status.exists() and not client.socket_path.exists()
