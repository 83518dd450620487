"""A JACK server on the dummy driver, for tests that play through PortAudio's JACK host API.

The dummy driver needs no sound card: it runs JACK's graph on a timer, so a PortAudio stream
on it gets real-time callbacks of exactly one period each, as on a real interface.

How clients find the server: jackd runs under a unique name (`-n`). libjack, inside
PortAudio and python-rtmidi alike, connects to the server named by the environment variable
JACK_DEFAULT_SERVER ("default" when unset). PortAudio asks libjack only in Pa_Initialize,
which sounddevice runs at import; so after pointing JACK_DEFAULT_SERVER at a new server,
PortAudio must be initialised again (`use_jack_server` does both).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hoot.engine import realtime as rt
from hoot.engine.backends import reinitialize_portaudio
from tests.waiting import PATIENCE

READY_TIMEOUT = PATIENCE  # seconds for jackd to answer clients (it takes well under one)
STOP_TIMEOUT = 5.0  # seconds for jackd to exit on SIGTERM before it gets SIGKILL
POLL_INTERVAL = 0.1
SHM_DIR = Path("/dev/shm")
SERVER_ENV = "JACK_DEFAULT_SERVER"


class JackUnavailable(RuntimeError):
    """jackd is not installed, or did not come up; the message says what to do."""


@dataclass
class JackServer:
    """A running jackd process and how to reach it."""

    name: str
    samplerate: int
    period: int
    process: subprocess.Popen[bytes]
    log_path: Path
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        """Return whether the jackd process is still running."""
        return self.process.poll() is None

    def env(self) -> dict[str, str]:
        """Return a copy of os.environ that points JACK clients at this server."""
        return {**os.environ, SERVER_ENV: self.name}

    def log(self) -> str:
        """Return what jackd printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Shut the server down politely (SIGTERM), forcefully if it does not go."""
        if not self.stopped and self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._finish()

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), as a crash would, and clear what it left."""
        if not self.stopped and self.alive():
            self.process.kill()
            self.process.wait()
        self._finish()

    def _finish(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        remove_leftovers(self.name)
        self.log_path.unlink(missing_ok=True)


def remove_leftovers(name: str) -> None:
    """Remove the socket and semaphore files a killed jackd named `name` leaves in /dev/shm.

    A jackd killed with SIGKILL cannot remove them; they would pile up run after run. The
    shared-memory segments themselves are listed in JACK's registry, which the next server
    to start cleans of dead servers.
    """
    for path in (*SHM_DIR.glob(f"jack_{name}_*"), *SHM_DIR.glob(f"jack_sem.*_{name}_*")):
        path.unlink(missing_ok=True)


def stop_orphaned_servers(prefix: str) -> None:
    """Stop the jackd servers named `prefix` + a process id whose process is gone: a test run
    killed before its fixture could stop its server leaves it running (its own session, so
    a Ctrl-C does not reach it)."""
    listing = subprocess.run(["pgrep", "-a", "-x", "jackd"], capture_output=True, text=True)
    for line in listing.stdout.splitlines():
        pid, _, command = line.partition(" ")
        found = re.search(rf"-n {re.escape(prefix)}(\d+)\b", command)
        if found and not Path(f"/proc/{found.group(1)}").exists():
            try:
                os.kill(int(pid), signal.SIGTERM)
            except (ProcessLookupError, PermissionError, ValueError):
                pass


def jackd_path() -> str:
    """Return the path of jackd, raising JackUnavailable with the install command if absent."""
    jackd = shutil.which("jackd")
    if jackd is None:
        raise JackUnavailable(
            "jackd is not installed, and the JACK tests need it: run "
            "`sudo DEBIAN_FRONTEND=noninteractive apt-get install -y jackd2`"
        )
    return jackd


def server_answers(name: str) -> bool:
    """Return whether a JACK server named `name` accepts clients now (never starts one)."""
    jack_wait = shutil.which("jack_wait")
    if jack_wait is not None:
        command = [jack_wait, "--server", name, "--check"]
    else:
        command = [shutil.which("jack_lsp") or "jack_lsp", "--server", name]
    env = {**os.environ, SERVER_ENV: name}
    try:
        probe = subprocess.run(
            command, capture_output=True, text=True, timeout=5.0, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    if jack_wait is not None:
        # jack_wait exits 0 whether or not the server runs; only its answer tells.
        return probe.stdout.strip() == "running"
    return probe.returncode == 0


def start_jack_server(
    name: str | None = None,
    samplerate: int = 48000,
    period: int = 256,
    timeout: float = READY_TIMEOUT,
    realtime: bool | None = None,
) -> JackServer:
    """Start `jackd -n NAME -d dummy -r RATE -p PERIOD` and wait until it answers.

    jackd runs realtime (its default, and what a stage machine does) when this process may
    use real-time scheduling, `--no-realtime` otherwise (`realtime` forces either): the
    dummy driver keeps time without it, only less steadily under load. Raises
    JackUnavailable (with jackd's output) if jackd is missing, exits, or does not answer
    within `timeout` seconds.
    """
    if realtime is None:
        realtime = rt.allowed()
    jackd = jackd_path()
    name = name or "hoot-test"
    remove_leftovers(name)
    try:
        return _start(jackd, name, samplerate, period, timeout, realtime)
    except JackUnavailable as error:
        # jack2 keeps 8 server slots in /dev/shm/jack-shm-registry and frees a killed
        # server's slot only when a server of the same name starts again. With no jackd
        # running, every slot is stale, and the registry can go.
        if (
            "Too many servers" not in str(error)
            or subprocess.run(["pgrep", "-x", "jackd"], capture_output=True).returncode == 0
        ):
            raise
        (SHM_DIR / "jack-shm-registry").unlink(missing_ok=True)
        return _start(jackd, name, samplerate, period, timeout, realtime)


def _start(
    jackd: str, name: str, samplerate: int, period: int, timeout: float, realtime: bool
) -> JackServer:
    command = [
        jackd,
        "--realtime" if realtime else "--no-realtime",
        "-n",
        name,
        "-d",
        "dummy",
        "-r",
        str(samplerate),
        "-p",
        str(period),
    ]
    # jackd writes into the file; it is read back only for error messages, then removed.
    with tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False) as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C in the test terminal must not kill it mid-test.
            start_new_session=True,
        )
    server = JackServer(name, samplerate, period, process, Path(log_file.name))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            output = server.log()
            server.stop()
            raise JackUnavailable(
                f"jackd exited with code {process.returncode} before answering "
                f"({' '.join(command)}):\n{output}"
            )
        if server_answers(name):
            return server
        time.sleep(POLL_INTERVAL)
    output = server.log()
    server.stop()
    raise JackUnavailable(
        f"jackd did not answer within {timeout:.0f} s ({' '.join(command)}):\n{output}"
    )


def start_jack_server_or_fail(name: str, samplerate: int = 48000, period: int = 256) -> JackServer:
    """`start_jack_server` for fixtures: a missing or broken jackd fails the test, never skips.

    The failure is raised outside the `except` block so the report shows the one clear
    message rather than a chain of tracebacks.
    """
    try:
        return start_jack_server(name, samplerate, period)
    except JackUnavailable as error:
        message = str(error)
    pytest.fail(message, pytrace=False)


@contextmanager
def use_jack_server(server: JackServer) -> Iterator[JackServer]:
    """Point this process's JACK clients (PortAudio included) at `server`, then back.

    PortAudio is initialised again on the way in and on the way out, while `server` still
    runs, so its JACK client connects to the right server and leaves it cleanly.
    """
    previous = os.environ.get(SERVER_ENV)
    os.environ[SERVER_ENV] = server.name
    reinitialize_portaudio()
    try:
        yield server
    finally:
        if previous is None:
            os.environ.pop(SERVER_ENV, None)
        else:
            os.environ[SERVER_ENV] = previous
        reinitialize_portaudio()
