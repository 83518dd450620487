"""A second Link peer for the tests and the benchmark: a plain LinkPython-extern process (as
another laptop would be), driven by one line at a time on its stdin, answering one line.

    peer = Peer(bpm=93.0)            # starts `python link_peer.py 93`, Link enabled
    peer.ask("peers") -> "1"
    peer.ask("tempo") -> "93.0"      peer.ask("tempo 100") sets it now
    peer.ask("beat T Q") -> the session's beat at Link time T (µs) at quantum Q
    peer.ask("play Q") / ("stop")    start at the next quantum Q / stop now (start/stop sync on)
    peer.ask("playing") -> "1" or "0"
    peer.close()                     leaves the session (Link says goodbye to the others)

`phase_ms(perf, peer)` measures hoot's grid against the peer's beat.
"""

from __future__ import annotations

import math
import subprocess
import sys


def serve(bpm: float) -> None:
    import link

    peer = link.Link(bpm)
    peer.startStopSyncEnabled = True
    peer.enabled = True
    print("ready", flush=True)
    for line in sys.stdin:
        word, *args = line.split()
        s = peer.captureSessionState()
        now = peer.clock().micros()
        if word == "peers":
            answer = str(peer.numPeers())
        elif word == "tempo" and args:
            s.setTempo(float(args[0]), now)
            peer.commitSessionState(s)
            answer = args[0]
        elif word == "tempo":
            answer = repr(s.tempo())
        elif word == "beat":
            answer = repr(s.beatAtTime(int(args[0]), float(args[1])))
        elif word == "play":
            q = float(args[0])
            at = s.timeAtBeat(math.ceil(s.beatAtTime(now, q) / q) * q, q)
            s.setIsPlaying(True, round(at))
            peer.commitSessionState(s)
            answer = str(round(at))
        elif word == "stop":
            s.setIsPlaying(False, now)
            peer.commitSessionState(s)
            answer = "stopped"
        elif word == "playing":
            answer = "1" if s.isPlaying() else "0"
        elif word == "quit":
            break
        else:
            answer = f"? {line.strip()}"
        print(answer, flush=True)
    peer.enabled = False


class Peer:
    """The peer process, from the test's side."""

    def __init__(self, bpm: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(bpm)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def ask(self, line: str) -> str:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
            except OSError:
                pass
            self.process.wait(timeout=10)


def phase_ms(perf, peer: Peer) -> float:
    """hoot's grid against the peer's beat time, in ms (+: hoot ahead), measured at a Link
    time T: the beat hoot's tempo map gives for the engine sample heard at T (the engine's
    own status, less its output latency) against the peer's beatAtTime(T) at the quantum."""
    from hoot.control.link_sync import link_now, link_to_monotonic

    t = link_now()
    heard = perf.link.clock.sample(link_to_monotonic(t))
    tm = perf.tempo_map()
    beat = tm.beat_at(heard)
    grid = tm.grid_at_beat(beat)
    quantum = perf.link.quantum
    theirs = float(peer.ask(f"beat {t} {quantum}"))
    error = ((beat - grid.beat) - theirs + quantum / 2) % quantum - quantum / 2
    return error * 60_000 / tm.bpm_at(heard)


if __name__ == "__main__":
    serve(float(sys.argv[1]))
