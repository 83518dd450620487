"""`hoot tui` as a performer meets it: start-up, CPU, the screen's pulse, engine xruns.

How long it takes to start, what the UI costs, whether the screen keeps its pulse while
a performer types and generates, and whether a busy UI costs the engine xruns. The real
program runs in a private tmux server (120x40) and is read back from the screen; it also
logs the time of every view it draws (HOOT_TUI_FRAMES), from which the frame rate and
the longest gap between frames are read.

    python benchmarks/tui.py [--seconds 30] [--cpu-seconds 20] [--repeats 3] [--type-pause 0.1]

0. A fixed pure-Python workload, timed at the start and at the end: these VMs differ
   about 3x in speed and other load comes and goes, so CPU shares and frame gaps are also
   given in units of it ("ref"): UI CPU as reference workloads a second, gaps as
   reference workloads long.
1. Start to first frame: from launching `hoot tui --backend null` until the screen shows
   the first paint (the beat grid's "BPM"), the first frame with engine data (the status
   line names the backend) and "perf is ready" in the console. Cold (the TUI starts the
   engine) and warm (it reattaches to the engine left playing); median of --repeats.
   Target: ready within 2 s.
2. CPU and frames over --cpu-seconds each: nothing playing; a drums loop playing (meters
   moving); the loop playing while a line of code is typed every --type-pause seconds.
   The TUI process's utime+stime from /proc as % of one core, split into its UI thread
   and the rest, with the engine, the TUI's generator workers, the tmux server (the
   terminal) and the whole machine beside it. Targets: the TUI at most 15 % of one core
   with the loop playing; the UI thread well under a core while typing; frames at 25 Hz
   or more and no gap over 100 ms.
3. Engine xruns on a JACK dummy server (48 kHz, 256-frame periods, `--backend
   sounddevice`) over --seconds each: with the UI idle; "busy", as the issue puts it:
   a line of code typed into the console every --type-pause seconds and one
   `perf.generate("bass", n=6)`; and "stress": the same typing while a new batch starts
   each time the last one is done (six stems written to disk every second or so). The
   screen is captured at 10 Hz in every phase to show it kept updating, and the frames
   are counted. Targets: no more xruns busy than idle; frames as in 2.

Needs tmux and jackd (scripts/setup installs both). Capturing and typing are tmux commands:
their work falls on the tmux server, not on the TUI. Other load on the machine skews every
figure (xruns most), so the load average and the machine's busy share are printed too.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hoot.engine.client import EngineClient  # noqa: E402
from hoot.errors import EngineError  # noqa: E402
from hoot.music import ROLES  # noqa: E402
from hoot.music.clip import NoteClip  # noqa: E402
from tests.jack_server import JackUnavailable, start_jack_server  # noqa: E402

HOOT = Path(sys.executable).parent / "hoot"  # the console script next to this interpreter
WIDTH, HEIGHT = 120, 40
LEFT = WIDTH // 2  # the top row halves: grid and meters left, picker and queue right
SAMPLERATE = 48000
JACK_NAME, JACK_PERIOD = "hoot-bench-tui", 256
START_TARGET_S = 2.0
CPU_TARGET = 15.0  # % of one core
FPS_TARGET, GAP_TARGET_S = 25.0, 0.100
CLK_TCK = os.sysconf("SC_CLK_TCK")

PAINTED = "BPM"  # in the beat grid's info line, from the first paint on
ENGINE = "null · "  # the status line names backend and device once a view comes from the engine
READY = "perf is ready"
ERROR_MARK = "(F2: traceback)"
CODE_LINES = (
    "x = [i * i for i in range(500)]",
    "sum(x) % 97",
    "perf.tempo",
    "print('hoot ' * 6)",
    "y = {k: k ** 2 for k in range(100)}",
    "len(perf.picker.latest)",
)
GENERATE = 'perf.generate("bass", n=6)'
SETTLED, UNSETTLED = "●✗◆▶", "·◌▁▂▃▄▅▆▇"
BASS_CELLS = re.compile(r"\bbass +((?:\d+[" + SETTLED + UNSETTLED + r"]\S*\s*)+)")
CELL = re.compile(r"\d+([" + SETTLED + UNSETTLED + "])")


# ---- tmux -------------------------------------------------------------------------------------


class Tmux:
    """A tmux server of our own (its own socket), so no one else's sessions are touched."""

    def __init__(self) -> None:
        if shutil.which("tmux") is None:
            sys.exit("tmux is not installed (scripts/setup installs it)")
        self.socket = f"hoot-bench-tui-{os.getpid()}"
        folder = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        self.socket_path = folder / self.socket
        self.run("start-server", ";", "set-option", "-g", "exit-empty", "off")

    def run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        )
        if check and done.returncode:
            raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def launch(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        """Start `argv` (run directly, not through a shell) in a detached session."""
        extra = [arg for k, v in (env or {}).items() for arg in ("-e", f"{k}={v}")]
        size = ["-x", str(WIDTH), "-y", str(HEIGHT)]
        self.run("new-session", "-d", "-s", name, *size, "-c", str(ROOT), *extra, *argv)

    def pane_pid(self, name: str) -> int:
        return int(self.run("display-message", "-p", "-t", name, "#{pane_pid}").strip())

    def server_pid(self) -> int:
        return int(self.run("display-message", "-p", "#{pid}").strip())

    def screen(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", name, check=False)

    def keys(self, name: str, *keys: str) -> None:
        self.run("send-keys", "-t", name, *keys)

    def type_line(self, name: str, line: str) -> None:
        """Type `line` literally, then Enter, in one tmux command."""
        self.run("send-keys", "-t", name, "-l", line, ";", "send-keys", "-t", name, "Enter")

    def alive(self, name: str) -> bool:
        return (
            subprocess.run(
                ["tmux", "-L", self.socket, "has-session", "-t", name], capture_output=True
            ).returncode
            == 0
        )

    def close(self) -> None:
        """Stop the server and its sessions, and remove the socket file it leaves."""
        self.run("kill-server", check=False)
        self.socket_path.unlink(missing_ok=True)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def frames_env(session: Path) -> dict[str, str]:
    """Where the TUI logs the time of each view it draws (HOOT_TUI_FRAMES)."""
    return {"HOOT_TUI_FRAMES": str(frames_file(session))}


def frames_file(session: Path) -> Path:
    return session.parent / f"{session.name}.frames"


def tui_argv(session: Path, backend: str, idle_timeout: float) -> list[str]:
    """`hoot tui` on a session of its own; --empty: a new session starts silent, so the
    starting groove's generation does not run in the measurements."""
    return [
        str(HOOT),
        "tui",
        "--session",
        str(session),
        "--empty",
        "--backend",
        backend,
        "--idle-timeout",
        str(idle_timeout),
    ]


def quit_tui(tmux: Tmux, name: str) -> None:
    """Leave as a performer does (Ctrl+Q, y); the engine plays on."""
    if not tmux.alive(name):
        return
    tmux.keys(name, "C-q")
    if wait_for(lambda: "Leave hoot tui?" in tmux.screen(name), 5, 0.05):
        tmux.keys(name, "y")
    if not wait_for(lambda: not tmux.alive(name), 10, 0.05):
        tmux.run("kill-session", "-t", name, check=False)


def stop_engine(session: Path) -> None:
    """Shut down the engine serving `session`, if one still does."""
    try:
        EngineClient(session, timeout=5).shutdown()
    except (EngineError, OSError):
        pass


def wait_ready(tmux: Tmux, name: str, session: Path, timeout: float = 30) -> None:
    if not wait_for(lambda: READY in tmux.screen(name), timeout, 0.05):
        log = session / "engine.log"
        tail = log.read_text(errors="replace")[-800:] if log.exists() else "(no engine log)"
        raise RuntimeError(
            f"hoot tui did not get ready within {timeout:g} s. Screen:\n{tmux.screen(name)}\n"
            f"Engine log:\n{tail}"
        )


def type_and_check(tmux: Tmux, name: str, line: str) -> None:
    """Type one line into the console and fail loudly if it raised."""
    before = tmux.screen(name).count(ERROR_MARK)
    tmux.type_line(name, line)
    time.sleep(0.5)
    screen = tmux.screen(name)
    if screen.count(ERROR_MARK) > before:
        raise RuntimeError(f"the console refused {line!r}:\n{screen}")


# ---- the yardsticks ---------------------------------------------------------------------


def reference_s(repeats: int = 5) -> float:
    """Seconds for a fixed pure-Python workload, median of `repeats`: how fast this machine
    runs Python code now, the UI's kind of work, load included."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        total = 0
        for i in range(400_000):
            total += i * i % 7
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass
class Frames:
    """The views the TUI drew in a stretch of time: how many a second, the longest gap."""

    count: int
    seconds: float
    longest: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @classmethod
    def read(cls, path: Path, start: float, end: float) -> Frames:
        """From the TUI's frame log (time.monotonic(), the same clock as ours)."""
        try:
            times = [float(t) for t in path.read_text().split()]
        except (OSError, ValueError):
            times = []
        inside = [t for t in times if start <= t <= end]
        edges = [start, *inside, end]
        longest = max((b - a for a, b in zip(edges, edges[1:])), default=end - start)
        return cls(len(inside), end - start, longest)

    def describe(self, ref: float) -> str:
        ok = self.rate >= FPS_TARGET and self.longest <= GAP_TARGET_S
        return (
            f"{self.rate:.1f} frames/s, longest gap {self.longest * 1000:.0f} ms "
            f"({self.longest / ref:.1f} ref); target >= {FPS_TARGET:g}/s and <= "
            f"{GAP_TARGET_S * 1000:.0f} ms: {verdict(ok)}"
        )


# ---- processes --------------------------------------------------------------------------------


def _fields(stat: Path) -> list[str]:
    """A /proc stat file from field 3 (state) on: the command name may hold spaces."""
    return stat.read_text().rsplit(")", 1)[1].split()


def proc(pid: int, thread: int | None = None) -> Path:
    """The stat file of a process (all its threads) or of one of its threads."""
    return Path(f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat")


def cpu_seconds(stat: Path) -> float:
    """utime + stime, in seconds."""
    fields = _fields(stat)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all cores together, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_fields(entry / "stat")[1])
            except (OSError, IndexError, ValueError):
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def tui_pid(tmux: Tmux, name: str) -> int:
    """The process running `hoot tui` in the pane (the pane's own process, as it is launched
    without a shell; its descendants are searched in case a shell sits in between)."""
    pane = tmux.pane_pid(name)
    for pid in [pane, *sorted(descendants(pane))]:
        args = cmdline(pid)
        if "tui" in args and any(Path(a).name == "hoot" for a in args):
            return pid
    raise RuntimeError(f"no `hoot tui` process under the pane (pid {pane})")


class CpuWindow:
    """CPU time of groups of processes or threads (their /proc stat files) over a stretch of
    wall time, as % of one core, and how busy the whole machine was meanwhile. A process
    that ends within the window counts for the time it was seen in both readings."""

    def __init__(self, groups: dict[str, set[Path]]) -> None:
        self.groups = groups
        self.started = 0.0
        self.before: dict[Path, float] = {}
        self.machine = (0, 0)

    def _sample(self) -> dict[Path, float]:
        out = {}
        for stat in set().union(*self.groups.values()):
            try:
                out[stat] = cpu_seconds(stat)
            except OSError:
                pass
        return out

    def start(self) -> None:
        self.before = self._sample()
        self.machine = machine_jiffies()
        self.started = time.monotonic()

    def percent(self) -> dict[str, float]:
        """Each group's %, and "machine": the % of all cores busy, for any reason."""
        after = self._sample()
        wall = time.monotonic() - self.started
        busy, total = machine_jiffies()
        out = {
            label: 100.0
            * sum(after[p] - self.before[p] for p in stats if p in after and p in self.before)
            / wall
            for label, stats in self.groups.items()
        }
        out["machine"] = 100.0 * (busy - self.machine[0]) / max(total - self.machine[1], 1)
        return out


def tui_groups(tui: int, engine: int) -> dict[str, set[Path]]:
    """The TUI (all threads), its UI thread (the main one: Textual's event loop), the engine
    and the TUI's other children (the generator pool)."""
    workers = descendants(tui) - {engine} - descendants(engine)
    return {
        "tui": {proc(tui)},
        "ui": {proc(tui, tui)},
        "engine": {proc(engine)},
        "workers": {proc(pid) for pid in workers},
    }


# ---- what plays -------------------------------------------------------------------------------


def write_drums(path: Path) -> None:
    """One bar at 120 BPM: a decaying thump and noise on each beat, loud enough to meter."""
    beat = SAMPLERATE // 2
    t = np.arange(beat) / SAMPLERATE
    rng = np.random.default_rng(7)
    hit = np.exp(-t * 25) * (0.6 * np.sin(2 * np.pi * 55 * t) + 0.2 * rng.standard_normal(beat))
    bar = np.tile(hit, 4).astype(np.float32)
    sf.write(str(path), np.stack([bar, bar], axis=1), SAMPLERATE)


def write_pad(path: Path) -> None:
    """One bar of held chords, for the synth."""
    notes = [(beat, 1.9, pitch, 80) for beat in (0, 2) for pitch in (57, 60, 64)]
    NoteClip.from_notes(notes, length=4).write_midi(path)


def load_line(path: Path, role: str) -> str:
    return f"perf.load({str(path)!r}, role={role!r}).queue(at='now')"


def master_level(client: EngineClient) -> float:
    return float(np.max(client.status().meters[len(client.tracks)][:4]))


def play(tmux: Tmux, name: str, session: Path, client: EngineClient, pad: bool) -> None:
    """Queue the loops through the console and wait until the master meter moves."""
    drums = session / "drums.wav"
    write_drums(drums)
    type_and_check(tmux, name, load_line(drums, "drums"))
    if pad:
        pad_path = session / "pad.mid"
        write_pad(pad_path)
        type_and_check(tmux, name, load_line(pad_path, "pad"))
    if not wait_for(lambda: master_level(client) > 1e-3, 10, 0.05):
        raise RuntimeError(f"nothing sounds after queueing the loops:\n{tmux.screen(name)}")
    time.sleep(2)  # past the first transients and the queue's flash


# ---- 1. start-up -----------------------------------------------------------------------------


@dataclass
class Start:
    painted: float
    engine: float
    ready: float


def timed_start(tmux: Tmux, name: str, session: Path) -> Start:
    """Launch `hoot tui` and time what the screen shows, polling it as fast as tmux answers."""
    marks: dict[str, float] = {}
    wanted = {
        "painted": lambda s: PAINTED in s,
        "engine": lambda s: ENGINE in (s.rstrip().splitlines() or [""])[-1],
        "ready": lambda s: READY in s,
    }
    started = time.perf_counter()
    tmux.launch(name, tui_argv(session, "null", 30))
    deadline = started + 30
    while len(marks) < len(wanted) and time.perf_counter() < deadline:
        screen = tmux.screen(name)
        now = time.perf_counter() - started
        for mark, seen in wanted.items():
            if mark not in marks and seen(screen):
                marks[mark] = now
        time.sleep(0.005)
    if len(marks) < len(wanted):
        raise RuntimeError(f"hoot tui did not get ready within 30 s:\n{tmux.screen(name)}")
    return Start(**marks)


def startup(tmux: Tmux, tmp: Path, repeats: int) -> dict[str, list[Start]]:
    runs: dict[str, list[Start]] = {"cold": [], "warm": []}
    for i in range(repeats):
        session = tmp / f"start{i}"
        try:
            runs["cold"].append(timed_start(tmux, f"cold{i}", session))
            engine_pid = EngineClient(session).info.pid
            quit_tui(tmux, f"cold{i}")
            time.sleep(0.5)
            runs["warm"].append(timed_start(tmux, f"warm{i}", session))
            client = EngineClient(session)
            if client.info.pid != engine_pid:
                raise RuntimeError("the warm start did not reattach: a new engine was started")
            quit_tui(tmux, f"warm{i}")
            client.shutdown()
        finally:
            stop_engine(session)
        time.sleep(0.5)
    return runs


# ---- 2. CPU ----------------------------------------------------------------------------------


def settle(stats: set[Path], quiet: float = 2.0, timeout: float = 30.0) -> None:
    """Wait until `stats` (the generator workers, warming up at start) use under `quiet` %
    of a core over a second, so their start-up is not counted as the idle cost."""
    window = CpuWindow({"all": stats})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        window.start()
        time.sleep(1.0)
        if window.percent()["all"] < quiet:
            return


def idle_cpu(tmux: Tmux, tmp: Path, seconds: float, pause: float) -> tuple[list[Phase], int]:
    """CPU and frames over `seconds` with nothing playing, then with a drums loop (meters
    moving), then with the loop playing while code is typed."""
    session, name = tmp / "idle", "idle"
    try:
        tmux.launch(name, tui_argv(session, "null", 30), frames_env(session))
        wait_ready(tmux, name, session)
        client = EngineClient(session)
        groups = tui_groups(tui_pid(tmux, name), int(client.info.pid))
        groups["tmux"] = {proc(tmux.server_pid())}
        settle(groups["workers"])
        window = CpuWindow(groups)
        silent = measure(tmux, name, session, client, window, seconds)
        play(tmux, name, session, client, pad=False)
        playing = measure(tmux, name, session, client, window, seconds)
        typing = measure(
            tmux, name, session, client, window, seconds, keep_busy(tmux, name, session, pause, 0)
        )
        quit_tui(tmux, name)
        client.shutdown()
    finally:
        stop_engine(session)
    return [silent, playing, typing], len(groups["workers"])


# ---- 3. xruns on JACK -----------------------------------------------------------------------


def split_screen(screen: str) -> tuple[str, str]:
    """(beat grid, meters): the left half of the top rows, above and from the first meter."""
    left = [line[:LEFT].rstrip() for line in screen.splitlines()]
    names = {*ROLES, "master"}

    def is_meter(line: str) -> bool:
        return line.split(" ", 1)[0] in names

    first = next((i for i, line in enumerate(left) if is_meter(line)), 0)
    end = first
    while end < len(left) and is_meter(left[end]):
        end += 1
    return "\n".join(left[:first]), "\n".join(left[first:end])


class ScreenWatch(threading.Thread):
    """Captures the pane at `hz` and keeps what the beat grid and the meters showed."""

    def __init__(self, tmux: Tmux, name: str, hz: float = 10.0) -> None:
        super().__init__(daemon=True, name="screen-watch")
        self.tmux, self.name, self.period = tmux, name, 1.0 / hz
        self.samples: list[tuple[float, str, str]] = []
        self.latest = (0.0, "")  # (when, screen)
        self._halt = threading.Event()

    def run(self) -> None:
        tick = time.monotonic()
        while not self._halt.is_set():
            screen = self.tmux.screen(self.name)
            now = time.monotonic()
            self.latest = (now, screen)
            self.samples.append((now, *split_screen(screen)))
            tick += self.period
            self._halt.wait(max(0.0, tick - time.monotonic()))

    def stop(self) -> ScreenWatch:
        self._halt.set()
        self.join()
        return self

    def summary(self) -> str:
        grids = [grid for _, grid, _ in self.samples]
        meters = {m for _, _, m in self.samples}
        changes = [
            t for (t, g, _), (_, prev, _) in zip(self.samples[1:], self.samples) if g != prev
        ]
        edges = [self.samples[0][0], *changes, self.samples[-1][0]] if self.samples else [0.0]
        still = max((b - a for a, b in zip(edges, edges[1:])), default=0.0)
        return (
            f"{len(set(grids))} distinct beat-grid and {len(meters)} distinct meter texts "
            f"in {len(self.samples)} captures; the grid never stood still longer than "
            f"{still:.1f} s"
        )


def bass_settled(screen: str) -> bool:
    """Whether the picker's bass row shows six candidates, none pending or rendering."""
    match = BASS_CELLS.search(screen)
    if not match:
        return False
    glyphs = CELL.findall(match.group(1))
    return len(glyphs) == 6 and all(g in SETTLED for g in glyphs)


def generate_events(session: Path) -> int:
    try:
        return (session / "log.jsonl").read_text().count('"event": "generate"')
    except OSError:
        return 0


@dataclass
class Phase:
    xruns: int
    faults: int
    played: float
    cpu: dict[str, float]
    screen: str
    frames: Frames
    typed: int = 0
    batches: int = 0
    finished: int = 0
    errors: int = 0


def measure(
    tmux: Tmux,
    name: str,
    session: Path,
    client: EngineClient,
    cpu: CpuWindow,
    seconds: float,
    busy: Callable[[ScreenWatch, float], tuple[int, int, int]] | None = None,
) -> Phase:
    watch = ScreenWatch(tmux, name)
    errors_before = tmux.screen(name).count(ERROR_MARK)
    start = client.status()
    cpu.start()
    watch.start()
    began = time.monotonic()
    end_at = began + seconds
    typed = batches = finished = 0
    if busy is not None:
        typed, batches, finished = busy(watch, end_at)
    time.sleep(max(0.0, end_at - time.monotonic()))
    end = client.status()
    use = cpu.percent()
    frames = Frames.read(frames_file(session), began, time.monotonic())
    watch.stop()
    return Phase(
        xruns=end.xruns - start.xruns,
        faults=end.faults - start.faults,
        played=(end.position - start.position) / client.samplerate,
        cpu=use,
        screen=watch.summary(),
        frames=frames,
        typed=typed,
        batches=batches,
        finished=finished,
        errors=max(0, tmux.screen(name).count(ERROR_MARK) - errors_before),
    )


def keep_busy(
    tmux: Tmux, name: str, session: Path, pause: float, most: int
) -> Callable[[ScreenWatch, float], tuple]:
    """Type a line of code every `pause` seconds; start a bass batch, and another each time
    one is done, up to `most` batches."""

    def run(watch: ScreenWatch, end_at: float) -> tuple[int, int, int]:
        typed = batches = finished = 0
        waiting = False  # for the last batch to be done
        began: float | None = None  # when its perf.generate ran (the session log says)
        events = generate_events(session)
        while time.monotonic() < end_at:
            if not waiting and batches < most:
                tmux.type_line(name, GENERATE)
                waiting, began, batches = True, None, batches + 1
            else:
                tmux.type_line(name, CODE_LINES[typed % len(CODE_LINES)])
                typed += 1
                if not waiting:
                    time.sleep(pause)
                    continue
                if began is None and generate_events(session) > events:
                    began, events = time.monotonic(), events + 1
                seen_at, screen = watch.latest
                # a capture taken a few watcher frames after the call shows the new batch
                if began is not None and seen_at > began + 0.2 and bass_settled(screen):
                    waiting, finished = False, finished + 1
            time.sleep(pause)
        return typed, batches, finished

    return run


def jack_xruns(
    tmux: Tmux, tmp: Path, seconds: float, pause: float
) -> tuple[Phase, Phase, Phase, str]:
    session, name = tmp / "jack", "jack"
    jack = start_jack_server(JACK_NAME, SAMPLERATE, JACK_PERIOD)
    try:
        env = {k: v for k, v in jack.env().items() if os.environ.get(k) != v}
        tmux.launch(name, tui_argv(session, "sounddevice", 60), env | frames_env(session))
        wait_ready(tmux, name, session)
        client = EngineClient(session)
        info = client.info
        if info.backend != "sounddevice":
            raise RuntimeError(f"the engine did not reach JACK: {info}")
        play(tmux, name, session, client, pad=True)
        groups = tui_groups(tui_pid(tmux, name), int(info.pid))
        settle(groups["workers"])
        cpu = CpuWindow(groups)
        idle = measure(tmux, name, session, client, cpu, seconds)
        busy = measure(
            tmux, name, session, client, cpu, seconds, keep_busy(tmux, name, session, pause, 1)
        )
        stress = measure(
            tmux, name, session, client, cpu, seconds, keep_busy(tmux, name, session, pause, 10**6)
        )
        quit_tui(tmux, name)
        client.shutdown()
    finally:
        stop_engine(session)
        jack.stop()
    return idle, busy, stress, f"{info.backend} on {info.device}"


# ---- the report -------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_startup(runs: dict[str, list[Start]]) -> None:
    n = len(runs["cold"])
    print(f"1. start to first frame, median of {n} (every run in brackets), 120x40 tmux")
    print(f"   {'':12}{'first paint':>14}{'engine data':>14}{'perf ready':>14}")
    for kind, starts in runs.items():
        cells = []
        for part in ("painted", "engine", "ready"):
            values = [getattr(s, part) for s in starts]
            cells.append(f"{statistics.median(values):13.2f}s")
        ready = statistics.median(s.ready for s in starts)
        print(
            f"   {kind + ' start':12}{''.join(cells)}   "
            f"target ready <= {START_TARGET_S:g} s: {verdict(ready <= START_TARGET_S)}"
        )
        every = ", ".join(f"{s.painted:.2f}/{s.engine:.2f}/{s.ready:.2f}" for s in starts)
        print(f"   {'':12}[{every}]")


def print_cpu(phases: list[Phase], workers: int, seconds: float, ref: float) -> None:
    silent, playing, typing = phases
    ok = verdict(playing.cpu["tui"] <= CPU_TARGET)
    rows = (
        ("hoot tui", "tui", f"target (playing) <= {CPU_TARGET:g} %: {ok}"),
        ("  its UI thread", "ui", "Textual's event loop: compositor, widgets, output"),
        ("  its other threads", "others", "watcher, console, repl server, terminal I/O"),
        ("engine (null)", "engine", ""),
        ("generator workers", "workers", f"{workers} processes, warmed up"),
        ("tmux server", "tmux", "the terminal drawing the TUI"),
        ("machine, all cores", "machine", f"busy, for any reason ({os.cpu_count()} cores)"),
    )
    print(
        f"2. CPU over {seconds:g} s each, % of one core: silent; a drums loop playing; the loop "
        f"playing while {typing.typed} lines are typed"
    )
    print(f"   {'':22}{'silent':>8}{'playing':>9}{'typing':>9}")
    for label, key, note in rows:
        cells = [p.cpu[key] if key != "others" else p.cpu["tui"] - p.cpu["ui"] for p in phases]
        print(f"   {label:22}{cells[0]:7.1f}%{cells[1]:8.1f}%{cells[2]:8.1f}%   {note}")
    ui = [p.cpu["ui"] / 100 / ref for p in phases]
    print(
        f"   {'UI thread, in ref':22}{ui[0]:8.1f}{ui[1]:9.1f}{ui[2]:9.1f}    "
        "reference workloads a second: the same on a slower or faster machine"
    )
    for label, p in (("silent", silent), ("playing", playing), ("typing", typing)):
        print(f"   frames, {label + ':':9}{p.frames.describe(ref)}")
    if typing.errors:
        print(f"   ({typing.errors} console errors while typing)")


def print_jack(
    idle: Phase, busy: Phase, stress: Phase, device: str, seconds: float, pause: float, ref: float
) -> None:
    print(
        f"3. engine xruns on a JACK dummy server ({SAMPLERATE} Hz, {JACK_PERIOD}-frame "
        f"periods; {device}), {seconds:g} s a phase"
    )
    for label, p in (("idle", idle), ("busy", busy), ("stress", stress)):
        c = p.cpu
        print(f"   {label}: {p.xruns:4d} xruns, {p.faults} faults, played {p.played:.1f} s")
        print(
            f"         CPU, % of a core: hoot tui {c['tui']:.1f} (UI thread {c['ui']:.1f}), "
            f"engine {c['engine']:.1f}, generator workers {c['workers']:.1f}; "
            f"machine {c['machine']:.0f} % busy"
        )
        print(f"         screen at 10 Hz: {p.screen}")
        print(f"         frames: {p.frames.describe(ref)}")
    for label, p in (("busy", busy), ("stress", stress)):
        print(
            f"   {label} = {p.typed} code lines typed ({pause:g} s apart), "
            f"{p.batches} perf.generate('bass', n=6) batches started, {p.finished} seen "
            f"done; {p.errors} console errors"
        )
    print(f"   target: no more xruns busy than idle: {verdict(busy.xruns <= idle.xruns)}; "
          f"stress no more than idle: {verdict(stress.xruns <= idle.xruns)}")
    print(
        "   (stress renders a 6-candidate batch again and again; its audio goes to the spool "
        "in memory, and only a few KB of notes and metadata to disk: on these machines disk "
        "writes delay real-time threads, see benchmarks/io_floor.py)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="per xrun phase (part 3)")
    ap.add_argument("--cpu-seconds", type=float, default=20.0, help="CPU window (part 2)")
    ap.add_argument("--repeats", type=int, default=3, help="start-ups of each kind (part 1)")
    ap.add_argument(
        "--type-pause",
        type=float,
        default=0.1,
        help="seconds between lines typed while typing (parts 2 and 3); 0.1 is ~200 "
        "characters a second, far past any hand",
    )
    a = ap.parse_args()
    if not HOOT.exists():
        sys.exit(f"{HOOT} is missing: install hoot into this environment (pip install -e .)")
    print(
        f"hoot tui benchmark: {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f} at start"
    )
    ref = reference_s()
    print(
        f"0. reference workload (a fixed pure-Python loop, median of 5): {ref * 1000:.0f} ms "
        "at start; 'ref' below is this long"
    )
    tmux = Tmux()
    try:
        with tempfile.TemporaryDirectory(prefix="hoot-bench-tui-") as tmp:
            print_startup(startup(tmux, Path(tmp), a.repeats))
            print_cpu(*idle_cpu(tmux, Path(tmp), a.cpu_seconds, a.type_pause), a.cpu_seconds, ref)
            try:
                phases = jack_xruns(tmux, Path(tmp), a.seconds, a.type_pause)
                print_jack(*phases, a.seconds, a.type_pause, ref)
            except JackUnavailable as e:
                print(f"3. engine xruns on JACK: not measured, {e}")
    finally:
        tmux.close()
    print(
        f"reference workload {reference_s() * 1000:.0f} ms at the end (at start "
        f"{ref * 1000:.0f} ms); load average {os.getloadavg()[0]:.2f} at the end"
    )


if __name__ == "__main__":
    main()
