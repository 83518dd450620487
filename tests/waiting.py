"""Waiting in tests: on the event itself, with a patience no busy machine runs out of.

A deadline in a test only says when to call the behaviour broken; it costs nothing while
things are fast, so it is long. A test that fails only because the machine is busy is a
failing test (a fresh `make test` on 2 cores at load average 6 took a `5 s` wait past its
deadline for a run that takes milliseconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable

PATIENCE = 60.0  # seconds to wait for something that should take far less


def wait_until(condition: Callable[[], object], timeout: float = PATIENCE) -> bool:
    """Poll `condition` until it is true or `timeout` seconds have passed; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return bool(condition())
