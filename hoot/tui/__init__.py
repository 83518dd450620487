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

    where = Session(session)
    starting = start_stage(where, **engine_args)
    from hoot.stage.stage import stacks_path  # the stage's thread imports it too

    dump_stacks_on_signal(stacks_path(where.dir))
    from hoot.tui.app import HootApp

    HootApp(
        session, starting=starting, set_script=set_script, starter=starter,
        controllers=controllers,
    ).run()  # fmt: skip
    return 0


def dump_stacks_on_signal(path) -> None:
    """Have SIGUSR2 append every thread's stack to `path` (faulthandler's dump, from the
    main thread's handler: the file is only made when someone asks)."""
    import faulthandler
    import signal

    if not hasattr(signal, "SIGUSR2"):
        return  # Windows: no such signal

    def dump(signum, frame) -> None:
        try:
            with open(path, "a") as file:
                faulthandler.dump_traceback(file=file, all_threads=True)
        except OSError:
            pass  # a runtime folder gone: no stacks, nothing else lost

    signal.signal(signal.SIGUSR2, dump)


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
