"""The session's engine, whichever process plays it now.

`SessionEngine` is the EngineLink a live stage holds. Commands go to the engine serving
the session. When that engine has died (its connection breaks), the next command starts
a new engine for the session, lets the stage restore it (`on_new_engine`: tempo, meter,
phrase, the mix, what was playing, the recording) and then does what it was asked, so
the performer's command, or key, simply works, with one sentence saying what happened.

Observers (the screen's watcher) read through `peek`, which never starts an engine: an
engine is only ever started because the performer did something.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hoot.engine import protocol as p
from hoot.engine.client import EngineClient, process_alive
from hoot.engine.protocol import EngineLink
from hoot.errors import EngineLost


class SessionEngine(EngineLink):
    """A live engine for `session_dir`: attached to if one runs, started if not."""

    def __init__(
        self,
        session_dir: Path,
        start_args: Callable[[], dict] = dict,
        **engine_args: Any,
    ) -> None:
        self.session_dir = Path(session_dir)
        self.engine_args = engine_args
        self.start_args = start_args  # how a new engine starts (the session's tempo, meter...)
        self.client = EngineClient.attach(self.session_dir, **self._args())
        self.info = self.client.info
        self.started = self.client.process is not None  # this link started the engine
        self.restarts = 0
        self.on_new_engine: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        self._restarting = threading.local()

    def _args(self) -> dict:
        return {**self.engine_args, **self.start_args()}

    def send(self, command: p.Command) -> Any:
        client = self.client
        try:
            return client.send(command)
        except EngineLost:
            if getattr(self._restarting, "active", False):
                raise  # the restore itself failed: say so, do not loop
            self._restart(client)
            return self.client.send(command)

    def peek(self, command: p.Command) -> Any:
        return self.client.send(command)

    def status(self):
        return self.client.status()

    @property
    def lost(self) -> bool:
        """True when the engine's process is gone (nothing has started a new one yet)."""
        return not process_alive(self.info.pid)

    def _restart(self, dead: EngineClient) -> None:
        with self._lock:
            if self.client is not dead:
                return  # another thread has started the new engine already
            dead.close()
            self.client = EngineClient.attach(self.session_dir, **self._args())
            self.info = self.client.info
            self.restarts += 1
            self._restarting.active = True
            try:
                self.on_new_engine()
            finally:
                self._restarting.active = False

    def shutdown(self) -> None:
        """Stop the engine (finishing its recording), as `hoot play` does at its end."""
        self.client.shutdown()

    def close(self) -> None:
        self.client.close()
