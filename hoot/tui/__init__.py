"""The stage screen: `hoot tui` shows the set as the engine plays it."""

from __future__ import annotations

import threading
from concurrent.futures import Future


def run_tui(
    session: str = "default",
    set_script=None,
    starter: bool = True,
    controllers: bool = True,
    **engine_args,
) -> int:
    """`hoot tui`: the set of `session` on screen (hoot.tui.app.HootApp: `set_script`,
    `starter`, `controllers`). Its engine is attached to (or started with `engine_args`)
    before Textual is even imported, so a cold engine boots meanwhile."""
    from hoot.session import Session

    starting = start_stage(Session(session), **engine_args)
    from hoot.tui.app import HootApp

    HootApp(
        session, starting=starting, set_script=set_script, starter=starter,
        controllers=controllers,
    ).run()  # fmt: skip
    return 0


def start_stage(session, **engine_args) -> Future:
    """Build `session`'s live Stage (hoot.stage) on a thread of its own. The future holds
    (stage, what it said while starting), or raises the HootError that stopped it."""
    starting: Future = Future()

    def start() -> None:
        try:
            from hoot.stage import Stage

            said: list[str] = []
            starting.set_result((Stage.live(session, on_message=said.append, **engine_args), said))
        except Exception as e:  # noqa: BLE001 - the screen says why
            starting.set_exception(e)

    threading.Thread(target=start, daemon=True, name="hoot-stage-start").start()
    return starting
