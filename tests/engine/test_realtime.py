"""Real-time scheduling of the audio thread: asked for where the system allows it, never
forced, and reported. CI runs as root, where SCHED_FIFO is allowed; a developer without
an rtprio limit exercises the other branch."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from hoot.engine import realtime
from tests.waiting import PATIENCE


def on_a_new_thread(call):
    """Run `call` on a short-lived thread (scheduling changes die with it); its result."""
    box: list = []
    thread = threading.Thread(target=lambda: box.append(call()))
    thread.start()
    thread.join(PATIENCE)  # one of them starts a Python process: seconds on a busy machine
    assert not thread.is_alive()
    return box[0]


ALLOWED = realtime.allowed()


def test_a_normal_thread_is_raised_to_the_default_priority_where_allowed(monkeypatch) -> None:
    monkeypatch.delenv(realtime.PRIORITY_ENV, raising=False)
    before, after, seen = on_a_new_thread(
        lambda: (realtime.this_thread(), realtime.raise_this_thread(), realtime.this_thread())
    )
    assert before == 0
    assert after == seen == (realtime.DEFAULT_PRIORITY if ALLOWED else 0)


def test_a_jack_thread_keeps_its_priority_and_others_are_raised_to_the_setting(
    monkeypatch,
) -> None:
    if not ALLOWED:
        pytest.skip("needs SCHED_FIFO (root or an rtprio limit); CI has it")
    monkeypatch.setenv(realtime.PRIORITY_ENV, "60")

    def at(priority: int, **how) -> int:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))  # as libjack does
        return realtime.raise_this_thread(**how)

    assert on_a_new_thread(lambda: at(5, keep_realtime=True)) == 5
    assert on_a_new_thread(lambda: at(5)) == 60  # an engine helper's 1 became the ALSA thread
    assert on_a_new_thread(lambda: at(70)) == 70  # never lowered


def test_midi_senders_run_one_step_below_the_audio_thread_as_it_really_runs(monkeypatch) -> None:
    if not ALLOWED:
        pytest.skip("needs SCHED_FIFO (root or an rtprio limit); CI has it")
    monkeypatch.delenv(realtime.PRIORITY_ENV, raising=False)
    monkeypatch.setattr(realtime, "audio_priority", 5)  # a JACK client thread, as jackd sets
    assert on_a_new_thread(realtime.raise_sender_thread) == 4
    monkeypatch.setattr(realtime, "audio_priority", -1)  # before the first block: the wanted
    assert on_a_new_thread(realtime.raise_sender_thread) == realtime.DEFAULT_PRIORITY - 1


def test_engine_threads_run_below_the_audio_thread_and_can_start_normal_processes() -> None:
    def engine_thread() -> tuple[int, int, int]:
        got = realtime.raise_engine_threads()
        inherited: list[int] = []
        child = threading.Thread(target=lambda: inherited.append(realtime.this_thread()))
        child.start()
        child.join()
        process = subprocess.run(
            [
                sys.executable,
                "-c",
                "import os; from hoot.engine import realtime; "
                "realtime.lower_this_process(); print(os.sched_getscheduler(0))",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return got, inherited[0], int(process.stdout)

    got, thread, process_policy = on_a_new_thread(engine_thread)
    assert got == thread == (realtime.HELPER_PRIORITY if ALLOWED else 0)
    assert realtime.HELPER_PRIORITY < realtime.DEFAULT_PRIORITY
    assert process_policy == os.SCHED_OTHER


def test_no_real_time_anywhere_when_the_setting_is_zero(monkeypatch) -> None:
    """HOOT_RT_PRIORITY=0: the engine's other threads stay under the normal scheduler too
    (a performer without real-time limits, and the soak benchmark's 'normal' run)."""
    monkeypatch.setenv(realtime.PRIORITY_ENV, "0")
    assert on_a_new_thread(realtime.raise_engine_threads) == 0


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


def test_a_platform_that_cannot_say_is_never_called_normal(monkeypatch) -> None:
    monkeypatch.delattr(os, "sched_getscheduler")  # as on macOS and Windows
    assert realtime.this_thread() == -1
    assert realtime.raise_this_thread() == -1
    assert not realtime.allowed()


def test_describe() -> None:
    assert realtime.describe(-1) == "scheduling unknown"
    assert realtime.describe(0) == "normal scheduling"
    assert realtime.describe(40) == "realtime (priority 40)"
