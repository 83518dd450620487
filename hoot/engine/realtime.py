"""Real-time scheduling for the audio thread, where the system allows it.

Why: on a laptop with two cores, a browser or a model in another process competes
with the audio callback for the CPU. Under the normal scheduler the callback waits
its turn and the block comes late (an xrun). A SCHED_FIFO thread runs the moment it
is woken, ahead of every normal process. JACK gives its clients' process threads
SCHED_FIFO when jackd itself runs realtime; PortAudio's ALSA thread and hoot's own
null-backend thread get it from `raise_this_thread`.

Linux only, and only where allowed: root, CAP_SYS_NICE, or an RLIMIT_RTPRIO above 0
(`@audio - rtprio 95` in /etc/security/limits.d/ for members of the audio group).
The kernel keeps 5 % of each second for normal threads (sched_rt_runtime_us), so a
runaway real-time thread slows the machine down but cannot lock it up.
"""

from __future__ import annotations

import os
import threading
import time

DEFAULT_PRIORITY = 40
"""SCHED_FIFO priority for hoot's audio thread when nobody else set one: below the
kernel's interrupt threads (50), so the sound card's own interrupt is served first, and
above every normal process."""

HELPER_PRIORITY = 1
"""SCHED_FIFO priority of the engine's other threads (see raise_engine_threads)."""

SPIN = 0.00025
"""Seconds before a message is due at which a sender stops sleeping and spins (`until`)."""

audio_priority = -1
"""The SCHED_FIFO priority the engine's audio thread runs at, once its first block said
(the backends set it; -1 before then): senders go one step below it."""

PRIORITY_ENV = "HOOT_RT_PRIORITY"
HOW_TO_ALLOW = (
    "allow real-time scheduling: add yourself to the audio group "
    "(`sudo usermod -aG audio $USER`) and give it a real-time limit "
    "(`echo '@audio - rtprio 95' | sudo tee /etc/security/limits.d/audio.conf`), "
    "then log in again"
)


def this_thread() -> int:
    """The calling thread's real-time priority: 1 to 99 under SCHED_FIFO or SCHED_RR,
    0 under the normal scheduler, -1 where the platform cannot say (macOS, Windows: there
    the audio system's own thread is real-time by other means)."""
    if not hasattr(os, "sched_getscheduler"):
        return -1
    try:
        policy = os.sched_getscheduler(0) & ~getattr(os, "SCHED_RESET_ON_FORK", 0)
        if policy in (os.SCHED_FIFO, os.SCHED_RR):
            return os.sched_getparam(0).sched_priority
    except (AttributeError, OSError):
        pass
    return 0


def describe(priority: int) -> str:
    """'realtime (priority 40)', 'normal scheduling' or 'scheduling unknown', for people."""
    if priority < 0:
        return "scheduling unknown"
    return f"realtime (priority {priority})" if priority > 0 else "normal scheduling"


def wanted_priority() -> int:
    """The SCHED_FIFO priority hoot asks for: HOOT_RT_PRIORITY, 0 to never ask."""
    raw = os.environ.get(PRIORITY_ENV, "")
    try:
        return max(0, min(99, int(raw))) if raw.strip() else DEFAULT_PRIORITY
    except ValueError:
        return DEFAULT_PRIORITY


def raise_this_thread(priority: int | None = None, keep_realtime: bool = False) -> int:
    """Make the calling thread SCHED_FIFO at `priority` (default: `wanted_priority()`)
    unless it already runs at least that high, or, with `keep_realtime`, at any real-time
    priority (a JACK client thread runs at the priority jackd chose for it). Threads it
    starts later inherit the policy. Returns the thread's priority afterwards (0: normal).
    Never raises.

    It is a system call: the audio thread calls it once, from its first block.
    """
    current = this_thread()
    priority = wanted_priority() if priority is None else priority
    if priority <= 0 or current < 0 or current >= priority or (current and keep_realtime):
        return current
    try:
        # pid 0 is the calling thread on Linux, not the whole process.
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (AttributeError, OSError):
        return current
    return this_thread()


def raise_engine_threads() -> int:
    """Run the calling thread, and every thread it starts later, SCHED_FIFO at priority
    HELPER_PRIORITY: below the audio thread, above every normal process; not at all when
    HOOT_RT_PRIORITY is 0 (a performer who wants no real-time scheduling anywhere).

    Why, now that the audio callback is compiled and never waits for the GIL: the MIDI
    threads (keyboard in, senders out) still hold it in turns with the sockets, loader and
    status threads, and a busy machine that preempts one of them while it holds the GIL
    delays a note (with the Python callback it delayed audio: up to 37 ms). None of these
    threads spins, so real-time priority costs the rest of the machine little. Processes
    the engine starts inherit it too and call `lower_this_process`. (SCHED_RESET_ON_FORK
    would spare them that, but the kernel applies it to new threads as well.) Returns the
    priority in force (0 where not allowed or not wanted).
    """
    if wanted_priority() == 0:
        return this_thread()
    return raise_this_thread(HELPER_PRIORITY)


def raise_sender_thread() -> int:
    """Run the calling thread (one that sends MIDI at wall times: clock out, a track's MIDI
    output) SCHED_FIFO one step below the audio thread, where allowed. Returns the priority
    in force.

    Why not HELPER_PRIORITY: at 1, other real-time threads (JACK's, other engines' on a
    shared 2-core machine) held clock out's sender off for up to 77 ms (13 of 380 ticks
    over 1 ms late, sd 3.5 ms at 128 frames); just below the audio thread, sd 1.0-1.2 ms.
    Such a thread sleeps between messages and spins at most SPIN before each (`until`),
    so it costs the rest of the machine little: 48 wake-ups a second is 1.2 % of a core.
    Below the audio thread as it really runs: jackd gives its clients' threads its own
    priority (5 here), not hoot's wanted 40, and a sender above that would take the CPU
    from the audio it times.
    """
    audio = audio_priority if audio_priority > 0 else wanted_priority()
    return raise_this_thread(max(1, audio - 1))


def until(when: float, halt: threading.Event, poll: float) -> bool:
    """Wait for monotonic time `when` as a sender thread does: on `halt` (an Event, so that
    closing wakes it at once) until SPIN before, then spinning. A sleep that wakes late is
    the one thing that makes a message late, and a longer spin would hold the GIL the audio
    thread needs. Sleeps at most `poll` seconds, so the caller can look for messages due
    sooner. Returns True when `when` has come, False when it woke early (`poll` passed or
    `halt` was set) and the caller should look again."""
    wait = when - time.monotonic()
    if wait > SPIN:
        halt.wait(min(wait - SPIN, poll))
        return False
    while time.monotonic() < when:
        pass  # at most SPIN
    return True


def lower_this_process() -> None:
    """Back to the normal scheduler, for a process started by a real-time engine thread
    (the recorder's writer: disk work has no deadline). Always allowed."""
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, OSError):
        pass


def allowed() -> bool:
    """Whether this process may run threads SCHED_FIFO (tried on a short-lived thread,
    so that the caller's own scheduling does not change)."""
    result: list[bool] = []

    def probe() -> None:
        result.append(raise_this_thread(1) > 0)

    thread = threading.Thread(target=probe, name="hoot-rt-probe", daemon=True)
    thread.start()
    thread.join(5.0)
    return bool(result and result[0])
