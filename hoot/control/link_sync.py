"""Ableton Link: hoot shares tempo, bar phase and start/stop with the laptops on the network.

`perf.sync = "link"` joins (`perf.link.join()`), `perf.sync = "internal"` leaves and hoot
keeps its tempo. `perf.link.quantum` (beats; default one bar of the current meter),
`perf.link.start_stop` and whether hoot is in a session are saved in session.toml and
come back when the set starts. Link runs here, on the language side, never in the engine:
like MIDI clock in (hoot/control/clock_in.py, the model) it steers the engine's tempo map,
the one clock, with ordinary tempo changes on the next beat, 30 times a second.

Join etiquette (artfwo/aalink#7: joining sometimes imposed the joiner's tempo on Live).
Link keeps, of two sessions that meet, the one whose timeline is older; hoot's Link object
is made only when the performer joins, so its own session is the youngest, and it commits
nothing for DISCOVERY seconds (peers answered in 0.3-0.6 s on loopback, research
controllers-sync.md §2.3). With peers, hoot takes the session's tempo and phase; alone,
hoot's tempo and bar phase become the session's.

Following the session (no other sync source): hoot's beat at the sample heard at a Link
time is compared with the session's beat at that time, at the quantum. Link's times are
when a beat is heard (its clock is CLOCK_MONOTONIC_RAW on Linux, measured the same as
`link.clock().micros()` to 7 µs); hoot's sample is heard at its wall time plus the
engine's output latency (`perf.heard_clock`). A phase error of 0.6 beats or more renumbers
hoot's bars (a Downbeat: nothing is heard to jump); the rest is taken out by nudges, as
clock_in does: an error of e beats sets the tempo off by e/2 for the next beat, so the
error halves each beat (the proposal made last before a beat, from the error measured
then, is the one that lands), at most 5 % (a swell, not a jump: the half beat a join may
start from is taken out in about 15 beats), and nothing under 0.0004 beats (0.2 ms at
120 BPM), so the grid sits within a millisecond of the session's beat. Playing candidates
are retaken only when the session's tempo moved more than RETAKE_BPM.

hoot's own tempo changes (`perf.tempo = 128`, a knob, a key: any change hoot did not make
itself) go to the session at the moment hoot's new tempo is heard, so no phase is lost.
When another sync source drives hoot (`perf.follow`: a MIDI clock, the band), hoot
publishes its tempo map's tempo and bar phase to the session instead (Link's
forceBeatAtTime, the call Link documents for bridging an external clock): the band's tempo
reaches every laptop.

Start/stop sync (`perf.link.start_stop = True`): a session Start re-anchors hoot's phrase
on the session's bar at the start beat (queued stems land on the session's bar 1); a Stop
stops hoot's playing tracks at the next bar, and the next Start brings them back at its
start beat. `perf.link.play()` and `perf.link.stop()` send them.

A peer that vanishes leaves hoot on its last tempo with one sentence (the session's
timeline carries on here unchanged); where no network interface is up, Link can only be a
session of one, which is said once.
"""

from __future__ import annotations

import math
import struct
import sys
import threading
import time

from hoot.engine import protocol as p
from hoot.errors import HootError

STEER_HZ = 30.0  # looks at the session a second
PROPOSE_HZ = 8.0  # phase nudges a second, at most (each lands on hoot's next beat anyway)
DISCOVERY = 1.5  # seconds hoot listens for a session before it commits anything
NUDGE_BEATS = 2.0  # a phase error halves with each beat (the nudge lands on the next beat)
MAX_NUDGE = 0.05  # the tempo is never set more than 5 % off the session's to fix phase
DEAD_BAND = 0.0004  # beats of phase error left alone (0.2 ms at 120 BPM)
REANCHOR = 0.6  # beats: a larger error renumbers hoot's bars (leaving at most half a beat;
# not 0.5, so that the nudge still pending from before cannot carry it back over the line)
MIN_CHANGE = 0.001  # BPM: smaller proposals are not sent
OWN_CHANGE = 0.005  # BPM: a tempo this far from hoot's last proposal was the performer's
RETAKE_BPM = 0.5  # playing candidates are rendered again once the tempo moved this far
PUBLISH_BEATS = 0.0005  # phase published to the session only when it is this far off
LOCKED_BEATS = 0.01  # phase error under which the grid says "locked" (5 ms at 120 BPM)


def link_now() -> int:
    """Link's clock, in microseconds (CLOCK_MONOTONIC_RAW on Linux, as Link reads it)."""
    return time.clock_gettime_ns(_RAW) // 1000


def link_to_monotonic(micros: float) -> float:
    """time.monotonic() at Link time `micros` (the two clocks differ by a slowly slewed
    offset, read afresh each time)."""
    return micros / 1e6 + time.monotonic() - time.clock_gettime_ns(_RAW) / 1e9


def monotonic_to_link(wall: float) -> int:
    return round((wall - time.monotonic()) * 1e6) + link_now()


_RAW = getattr(time, "CLOCK_MONOTONIC_RAW", time.CLOCK_MONOTONIC)


def wrap(x: float, cycle: float) -> float:
    """`x` folded into [-cycle/2, cycle/2)."""
    return (x + cycle / 2) % cycle - cycle / 2


def interfaces_up() -> list[str] | None:
    """The network interfaces of this process's network namespace that are up (loopback
    counts: Link finds peers on it), or None where the system does not say. Asked of the
    kernel through a socket (SIOCGIFFLAGS), not /sys, which shows the host's namespace."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import fcntl
        import socket

        up = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            for _, name in socket.if_nameindex():
                ask = struct.pack("16sH", name.encode()[:15], 0)
                flags = struct.unpack("16sH", fcntl.ioctl(probe.fileno(), _SIOCGIFFLAGS, ask))[1]
                if flags & 1:  # IFF_UP
                    up.append(name)
        return up
    except (ImportError, OSError, AttributeError):
        return None


_SIOCGIFFLAGS = 0x8913  # Linux


class LinkSync:
    """`perf.link`: Link's settings, and hoot in a Link session once joined; see the module
    docstring."""

    def __init__(self, perf) -> None:
        self.perf = perf
        saved = perf.session.read_settings().get("link")
        saved = saved if isinstance(saved, dict) else {}
        self._quantum: float | None = _positive(saved.get("quantum"))
        self._start_stop = bool(saved.get("start_stop", False))
        self.link = None  # link.Link while joined
        self.clock = perf.heard_clock  # the engine sample heard at a time, and back
        self._guard = threading.Lock()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self.proposals = 0  # tempo changes sent to hoot's map
        self.published = 0  # session states committed to the peers
        self.error = 0.0  # the latest phase error, beats (+: hoot ahead of the session)
        self._state = "off"  # "joining" (listening for a session), then "on"
        self._playing: bool | None = None  # the session's transport, as last seen

    # ---- settings --------------------------------------------------------------------------

    @property
    def quantum(self) -> float:
        """Beats of the phase hoot shares with the session: one bar of the current meter
        unless set (`perf.link.quantum = 8`: two bars of 4/4)."""
        if self._quantum is not None:
            return self._quantum
        tm = self.perf.tempo_map()
        return float(tm.grid_at_beat(tm.beat_at(self.perf.now)).beats_per_bar)

    @quantum.setter
    def quantum(self, beats: float | None) -> None:
        value = _positive(beats)
        if beats is not None and value is None:
            raise HootError(f"a Link quantum is a number of beats above 0, not {beats!r}")
        self._quantum = value
        self._save()

    @property
    def start_stop(self) -> bool:
        """Whether hoot shares Start and Stop with the session's peers that share them."""
        return self._start_stop

    @start_stop.setter
    def start_stop(self, on: bool) -> None:
        self._start_stop = bool(on)
        if self.link is not None:
            self.link.startStopSyncEnabled = self._start_stop
        self._save()

    @property
    def joined(self) -> bool:
        return self.link is not None

    @property
    def peers(self) -> int:
        """How many other peers share the session (0 alone or not joined)."""
        return self.link.numPeers() if self.link is not None else 0

    @property
    def tempo(self) -> float | None:
        """The session's tempo (Link's beats, quarter notes, a minute), None unless joined."""
        return self.link.captureSessionState().tempo() if self.link is not None else None

    @property
    def playing(self) -> bool | None:
        """The session's transport (with start/stop sync), None unless joined."""
        return self.link.captureSessionState().isPlaying() if self.link is not None else None

    def _save(self) -> None:
        value = {"on": self.joined, "start_stop": self._start_stop}
        if self._quantum is not None:
            value["quantum"] = self._quantum
        self.perf.session.update_settings(link=value)

    # ---- what the grid shows -----------------------------------------------------------------

    @property
    def sync(self) -> str:
        """What the grid shows: "Link (joining)", "Link (alone)", "Link (1 peer)", "Link (2
        peers)"; with start/stop sync and the session stopped, "(stopped)" follows."""
        if self.link is None:
            return ""
        if self._state == "joining":
            return "Link (joining)"
        n = self.peers
        who = "alone" if n == 0 else f"{n} peer" + ("s" if n > 1 else "")
        stopped = " (stopped)" if self._start_stop and self._playing is False else ""
        return f"Link ({who}){stopped}"

    @property
    def locked(self) -> bool:
        """Whether hoot's grid sits on the session's beat (within LOCKED_BEATS)."""
        return self.link is not None and self._state == "on" and abs(self.error) < LOCKED_BEATS

    # ---- joining and leaving --------------------------------------------------------------

    def join(self) -> str:
        """Become a peer of the Link session on the network (see the module docstring)."""
        if self.link is not None:
            return self.sync
        try:
            import link
        except ImportError as e:
            why = f"Link is not installed here ({e}); pip install LinkPython-extern"
            raise HootError(why) from None
        up = interfaces_up()
        if up is not None and not up:
            self.perf.say("Link finds no network here (no interface is up): hoot is a session "
                          "of one until a network comes up.")  # fmt: skip
        self.link = link.Link(self.perf.tempo * 4 / self._unit())
        self.link.startStopSyncEnabled = self._start_stop
        self._state, self._since = "joining", time.monotonic()
        self._peers, self._playing, self._stopped = 0, None, []
        self._sent = self._retaken = self.perf.tempo_map().tempi[-1].bpm
        self._anchored = self._proposed = self._ext = 0.0
        self.error = 0.0
        self.link.enabled = True
        self._halt.clear()
        self._thread = threading.Thread(target=self._run, name="hoot-link", daemon=True)
        self._thread.start()
        self._save()
        return self.sync

    def leave(self) -> None:
        """Leave the session; hoot plays on at its tempo."""
        self.close()
        self._save()

    def close(self) -> None:
        """Stop the thread and leave the session, keeping the saved setting (the set ends,
        not the performer's choice)."""
        self._halt.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        if self.link is not None:
            self.link.enabled = False
            self.link = None

    # ---- transport ------------------------------------------------------------------------

    def play(self) -> None:
        """Start the session's transport on its next bar (at the quantum)."""
        self._transport(True)

    def stop(self) -> None:
        """Stop the session's transport now (hoot's tracks stop at their next bar)."""
        self._transport(False)

    def _transport(self, playing: bool) -> None:
        if self.link is None:
            raise HootError("hoot is not in a Link session: perf.sync = 'link' first")
        if not self._start_stop:
            raise HootError("Link start/stop sync is off: perf.link.start_stop = True first")
        s = self.link.captureSessionState()
        now = self.link.clock().micros()
        q = self._link_quantum()
        at = now
        if playing:
            at = round(s.timeAtBeat(math.ceil(s.beatAtTime(now, q) / q) * q, q))
        s.setIsPlaying(playing, at)
        self.link.commitSessionState(s)

    # ---- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._halt.wait(1.0 / STEER_HZ):
            try:
                with self._guard:
                    if self.link is not None:
                        self.steer()
            except HootError:
                pass  # the engine is restarting or busy; the next turn tries again
            except Exception as e:  # noqa: BLE001 - Link must never take the set down
                self.perf.say(f"Link stumbled ({type(e).__name__}: {e}); it keeps trying")

    def steer(self) -> None:
        """One look at the session and the engine."""
        peers = self.link.numPeers()
        if self._state == "joining":
            if peers == 0 and time.monotonic() - self._since < DISCOVERY:
                return
            self._state = "on"
            if peers == 0:
                self._found_alone()
        elif peers == 0 and self._peers > 0:  # the session's tempo: hoot's, less any nudge
            bpm = self.link.captureSessionState().tempo() * self._unit() / 4
            self.perf.say(f"the Link session's other peers left: hoot plays on at "
                          f"{bpm:.1f} BPM, a session of one.")  # fmt: skip
        self._peers = peers
        if getattr(self.perf, "_follower", None) is not None:
            self._publish()
        else:
            self._follow()
        if self._start_stop:
            self._transport_changes()

    def _moment(self):
        """(Link time now, the session state, hoot's map, hoot's beat heard then, its grid,
        hoot beats per Link beat, the quantum in hoot's beats)."""
        now = self.link.clock().micros()
        s = self.link.captureSessionState()
        tm = self.perf.tempo_map()
        beat = tm.beat_at(self.clock.sample(link_to_monotonic(now)))
        grid = tm.grid_at_beat(beat)
        quantum = self._quantum or float(grid.beats_per_bar)
        return now, s, tm, beat, grid, grid.meter.unit / 4, quantum

    def _found_alone(self) -> None:
        """Nobody answered: hoot's tempo and bar phase become the session's."""
        now, s, tm, beat, grid, scale, quantum = self._moment()
        s.setTempo(tm.bpm_at(tm.sample_at(beat)) / scale, now)  # hoot's tempo then
        s.requestBeatAtTime(((beat - grid.beat) % quantum) / scale, now, quantum / scale)
        self.link.commitSessionState(s)
        self.published += 1

    def _follow(self) -> None:
        now, s, tm, beat, grid, scale, quantum = self._moment()
        latest = tm.tempi[-1]
        if abs(latest.bpm - self._sent) > OWN_CHANGE:  # the performer's change: tell the peers
            heard = monotonic_to_link(self.clock.wall(latest.sample))
            s.setTempo(latest.bpm / scale, max(heard, now))
            self.link.commitSessionState(s)
            self.published += 1
            self._sent = self._retaken = latest.bpm
            return
        session = s.beatAtTime(now, quantum / scale) * scale
        self.error = error = wrap((beat - grid.beat) - session, quantum)
        if abs(error) >= REANCHOR and time.monotonic() - self._anchored > 1.0:
            if self._reanchor(tm, beat, session, quantum):
                return
        ext = s.tempo() * scale
        nudge = 0.0 if abs(error) < DEAD_BAND else error / NUDGE_BEATS
        bpm = ext * (1.0 - min(max(nudge, -MAX_NUDGE), MAX_NUDGE))
        moved = abs(ext - self._ext) >= MIN_CHANGE  # the session's tempo itself changed
        due = moved or time.monotonic() - self._proposed >= 1.0 / PROPOSE_HZ
        if abs(bpm - latest.bpm) >= MIN_CHANGE and due:
            self._ext, self._proposed = ext, time.monotonic()
            retake = abs(ext - self._retaken) > RETAKE_BPM
            if retake:
                self._retaken = ext
            self.perf.follow_tempo(bpm, settled=round(ext, 2) if retake else None)
            self._sent = self.perf.tempo_map().tempi[-1].bpm
            self.proposals += 1

    def _reanchor(self, tm, beat: float, session: float, quantum: float) -> bool:
        """hoot's bars start again where the session's last quantum started (a whole beat
        at most a bar ago, or the next one): a renumbering, nothing is heard to jump.
        Whether the engine took it (if not, the nudges carry on, and it is tried again a
        second later)."""
        start = round(beat - session % quantum)
        grid = tm.grid_at_beat(beat)
        if start < tm.beat_at(self.perf.now) - grid.beats_per_bar + 1:
            start += math.ceil(quantum)
        self._anchored = time.monotonic()
        try:
            self.perf.downbeat(float(start))
        except HootError:
            return False
        return True

    def _publish(self) -> None:
        """Another source drives hoot: its tempo and bar phase go to the session."""
        now, s, tm, beat, grid, scale, quantum = self._moment()
        bpm = tm.bpm_at(tm.sample_at(beat)) / scale
        q = quantum / scale
        current = s.beatAtTime(now, q)
        off = wrap(((beat - grid.beat) % quantum) / scale - current % q, q)
        self.error = off * scale
        if abs(s.tempo() - bpm) > MIN_CHANGE or abs(off) > PUBLISH_BEATS:
            s.setTempo(bpm, now)
            s.forceBeatAtTime(current + off, now, q)
            self.link.commitSessionState(s)
            self.published += 1
        self._sent = tm.tempi[-1].bpm

    def _transport_changes(self) -> None:
        """A session Start or Stop, seen on this turn."""
        s = self.link.captureSessionState()
        playing = s.isPlaying()
        was, self._playing = self._playing, playing
        if was is None or was == playing:
            return
        if playing:
            self._started(s)
        else:
            self._stop_tracks()

    def _started(self, s) -> None:
        """hoot's phrase starts again on the session's bar at the start beat, and the
        tracks a Stop stopped come back on the sample heard at that bar's Link time (so
        they land on the session's bar even while hoot's grid still slides onto it), or on
        the session's next bar where the Start was seen after the engine had played past
        it (a peer may start a few milliseconds ahead)."""
        tm = self.perf.tempo_map()
        at = s.timeForIsPlaying()
        beat = tm.beat_at(self.clock.sample(link_to_monotonic(at)))
        grid = tm.grid_at_beat(beat)
        scale = grid.meter.unit / 4
        q = (self._quantum or float(grid.beats_per_bar)) / scale
        bar = math.ceil(s.beatAtTime(at, q) / q - 1e-6) * q  # the session's bar at the start
        start = round(tm.beat_at(self.clock.sample(link_to_monotonic(s.timeAtBeat(bar, q)))))
        if start < tm.beat_at(self.perf.now) - grid.beats_per_bar + 1:
            start += grid.beats_per_bar
        self.perf.downbeat(float(start))
        self._anchored = time.monotonic()
        now = self.perf.now
        sample = self.clock.sample(link_to_monotonic(s.timeAtBeat(bar, q)))
        while sample < now:
            bar += q
            sample = self.clock.sample(link_to_monotonic(s.timeAtBeat(bar, q)))
        stopped, self._stopped = self._stopped, []
        for track, stem in stopped:
            self.perf._send(p.Queue(track=track, stem=stem, at=sample))

    def _stop_tracks(self) -> None:
        """Every track that plays stops at its next bar; they are kept for the next Start."""
        playing = [x for x in self.perf._state().players if x.state == "playing" and x.stop is None]
        for player in playing:
            self.perf._send(p.Stop(track=player.track, at="bar"))
        self._stopped = [(x.track, x.stem) for x in playing]

    # ---- helpers -------------------------------------------------------------------------

    def _unit(self) -> int:
        tm = self.perf.tempo_map()
        return tm.grid_at_beat(tm.beat_at(self.perf.now)).meter.unit

    def _link_quantum(self) -> float:
        return self.quantum * 4 / self._unit()


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and math.isfinite(number) else None
