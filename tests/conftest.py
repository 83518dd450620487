"""Fixtures shared by every test directory."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.jack_server import (
    JackServer,
    start_jack_server_or_fail,
    stop_orphaned_servers,
    use_jack_server,
)


@pytest.fixture(scope="session")
def jack_server() -> Iterator[JackServer]:
    """A JACK server on the dummy driver (48 kHz, 256-frame period) for the whole session.

    JACK_DEFAULT_SERVER names it for the rest of the session, and PortAudio is initialised
    again so its JACK host API reaches it. A missing jackd fails the test (never skips):
    CI installs jackd2.
    """
    # One name per pytest process, so two test runs on one machine each have their own;
    # the servers of runs that were killed before they could stop theirs go first.
    stop_orphaned_servers("hoot-test-")
    server = start_jack_server_or_fail(f"hoot-test-{os.getpid()}", samplerate=48000, period=256)
    try:
        with use_jack_server(server):
            yield server
    finally:
        server.stop()


_REPORTS = pytest.StashKey[list]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_REPORTS] = []


@pytest.fixture
def report(request: pytest.FixtureRequest):
    """Call report("...") to print a measured figure in the summary at the end of the run."""
    lines = request.config.stash[_REPORTS]
    return lambda line: lines.append(f"{request.node.name}: {line}")


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    lines = config.stash.get(_REPORTS, [])
    if lines:
        terminalreporter.section("hoot measurements")
        for line in lines:
            terminalreporter.write_line(line)
