"""Real-time scheduling of the audio thread: asked for where the system allows it, never
forced, and reported. CI runs as root, where SCHED_FIFO is allowed; a developer without
an rtprio limit exercises the other branch."""

from __future__ import annotations

import os
import threading

import pytest

from hoot.engine import realtime


def on_a_new_thread(call):
    """Run `call` on a short-lived thread (scheduling changes die with it); its result."""
    box: list = []
    thread = threading.Thread(target=lambda: box.append(call()))
    thread.start()
    thread.join(5.0)
    return box[0]


ALLOWED = realtime.allowed()


def test_a_normal_thread_is_raised_to_the_default_priority_where_allowed(monkeypatch) -> None:
    monkeypatch.delenv(realtime.PRIORITY_ENV, raising=False)
    before, after, seen = on_a_new_thread(
        lambda: (realtime.this_thread(), realtime.raise_this_thread(), realtime.this_thread())
    )
    assert before == 0
    assert after == seen == (realtime.DEFAULT_PRIORITY if ALLOWED else 0)


def test_a_thread_already_realtime_keeps_the_priority_it_was_given(monkeypatch) -> None:
    if not ALLOWED:
        pytest.skip("needs SCHED_FIFO (root or an rtprio limit); CI has it")
    monkeypatch.setenv(realtime.PRIORITY_ENV, "60")

    def jack_like_thread() -> int:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(5))  # as libjack does
        return realtime.raise_this_thread()

    assert on_a_new_thread(jack_like_thread) == 5


@pytest.mark.parametrize(("setting", "wanted"), [("0", 0), ("70", 70), ("500", 99), ("x", 40)])
def test_the_priority_setting(monkeypatch, setting: str, wanted: int) -> None:
    monkeypatch.setenv(realtime.PRIORITY_ENV, setting)
    assert realtime.wanted_priority() == wanted
    got = on_a_new_thread(realtime.raise_this_thread)
    assert got == (wanted if ALLOWED else 0)


def test_probing_leaves_the_caller_as_it_was() -> None:
    before = realtime.this_thread()
    realtime.allowed()
    assert realtime.this_thread() == before


def test_describe() -> None:
    assert realtime.describe(0) == "normal scheduling"
    assert realtime.describe(40) == "realtime (priority 40)"
