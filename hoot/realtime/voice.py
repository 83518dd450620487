"""A voice: one real-time model in a process of its own (torch lives here, never in the UI).

    python -m hoot.realtime.voice       (started and watched by hoot/realtime/layer.py)

It reads JSON lines on stdin: first `start` ({"kind": "harmonize" | "improvise", "slot":
{"path", "slot"}, "table": {"path", "tracks": [index, ...]}, "model": path or None,
"settings": {...}, "block_s", "clock": {...}}), then `set` (settings, live), `clock` (the
beat period and the render time of a beat, when the tempo changes) and `stop` (at a time,
or now). It writes a status JSON line at least every STATUS_S: the heartbeat the layer
watches. SIGTERM, stdin's end or the parent's death end it; its notes end first (a
RELEASE record into its slot).

Audio kinds ("transfer", "drone", "echo": a RAVE model, hoot/realtime/audio_voice.py) get
{"kind", "model", "audio": the engine's AudioSlot, "source_row", "settings", "clock"}
instead of a slot and table; they poll every 0.5 ms (a transfer's answer is due within one
engine block) or half a block (a drone and an echo write ahead), say latency_samples,
level_db and dropped in their heartbeat, and a model that raises while playing ends the
voice with a sentence (status "failure", exit 3): the layer starts it again.

Harmonize: every POLL_S it reads what the keyboard's slots played since (NoteReader,
a passive second reader: the engine never waits for it), asks the Harmonizer, and
writes each harmony note with the KEY's own arrival stamp, so that the engine places it
where it placed the key (arrival + one block) when the answer comes within that block,
and at the next block's start when later. An answer later than LATE_S (20 ms) after the
key is dropped and counted: a harmony note that late is heard as a mistake, not a voice.
Note-offs are never dropped (no note may hang). The sustain pedal is passed on.

Improvise: the Improviser plans its next event; the voice writes it one block before
the moment it must sound (arrived = that moment minus a block, so the engine places it
exactly there), on the grid when asked (sixteenths from the beat the layer sends), from
the next phrase boundary, and hears the keyboards it listens to as they play.

Stems (hoot/realtime/score.py): the layer sends a `score` command whenever what the stems
play changes (and with `start`); a voice follows it with a `Follow`. An improviser hears
the stems' notes as they sound, in time order with the keyboards' (each event's time is
when the engine renders it: a key's arrival plus a block, a stem note's sample), so the
model's time deltas are the music's. A harmonizer on a track that plays a stem harmonizes
the stem's notes: they are known ahead, so it asks the model PREPARE_S before each note
and writes the answer stamped a block before the note sounds, when that moment comes (a
record stamped ahead would hold up the slot's ring, the keyboard's answers behind it), so
the engine plays the harmony exactly with the stem's note; it ends with the stem's note.

The poll costs 1-6% of one core while nothing is played (status `cpu_pct`: a 1 ms sleep
and an empty read; 5.7% with the engine's NoteReader looking at its eight slots in Python,
on a loaded 2-core VM, benchmarks/harmony_latency.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import math
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import IO, Any

from hoot.errors import HootError
from hoot.realtime.score import Event, Follow

LATE_S = 0.020  # an answer later than this after its key is dropped
POLL_S = 0.001  # how often the keyboard's notes are read
PREPARE_S = 0.030  # a stem's note is harmonized this long before it sounds (a query: 1-5 ms)
WRITE_AHEAD_S = 0.010  # an improviser's note is written this long before its stamp: the
# engine reads a slot at each block's start, and a note written after the start of the
# block it falls in would play at the next block's (up to a block late); its slot holds
# only its own notes, in time order, so writing ahead holds nothing back
PLAN_AHEAD_S = 0.05  # an improviser's first note is planned this long before its phrase
AUDIO_KINDS = ("transfer", "drone", "echo")  # RAVE voices (audio_voice.py)
STATUS_S = 0.1  # a status line at least this often (the layer's heartbeat is 0.25 s)
WINDOW = 256  # latencies behind p50/p95
NOTE_ON, NOTE_OFF, CONTROL = 0x90, 0x80, 0xB0
SUSTAIN = 64


def engine_clock(score: dict[str, Any], writer: Any) -> dict[str, Any]:
    """`score` with its clock read from the engine's own block clock (the note table's,
    which places every note), not perf's estimate through the status file (a block and
    the status thread's lag off): a stem's harmony then lands on the stem's note."""
    clock = score.get("clock")
    wall_at = getattr(writer, "wall_at", None)  # the tests' slots have no engine clock
    if not clock or wall_at is None:
        return score
    wall = wall_at(int(clock["sample"]))
    if not math.isfinite(wall):
        return score
    return {**score, "clock": {"sample": int(clock["sample"]), "wall": wall}}


def engine_facts(facts: dict[str, Any], writer: Any) -> dict[str, Any]:
    """An improviser's clock facts with the next beat's and phrase's times read from the
    engine's own block clock (engine_clock says why), where perf sent their samples."""
    wall_at = getattr(writer, "wall_at", None)
    if wall_at is None or "beat_sample" not in facts:
        return facts
    beat, phrase = wall_at(int(facts["beat_sample"])), wall_at(int(facts["phrase_sample"]))
    if not (math.isfinite(beat) and math.isfinite(phrase)):
        return facts
    return {**facts, "beat_wall": beat, "phrase_wall": phrase}


def die_with_parent() -> None:
    """Linux: the kernel sends SIGTERM when the parent dies (PR_SET_PDEATHSIG), so the voice
    ends its notes (main's SIGTERM handler) before it goes: the engine outlives a crashed UI
    and would otherwise hold a harmony note forever. Elsewhere stdin's end does the same."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1: PDEATHSIG


class Latency:
    """Key arrival -> harmony written, in ms, over the last WINDOW answers."""

    def __init__(self) -> None:
        self.ms: deque[float] = deque(maxlen=WINDOW)

    def add(self, seconds: float) -> None:
        self.ms.append(seconds * 1000.0)

    def percentile(self, q: float) -> float | None:
        if not self.ms:
            return None
        ranked = sorted(self.ms)
        return round(ranked[min(len(ranked) - 1, math.ceil(q * len(ranked)) - 1)], 3)


class HarmonyVoice:
    """Harmony for every key a keyboard plays: reader -> Harmonizer -> writer."""

    def __init__(self, harmonizer, reader, writer, *, follow: Follow | None = None,
                 block_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.harmonizer = harmonizer
        self.reader = reader  # None: no keyboard plays the track, only its stems
        self.writer = writer
        self.follow = follow  # the stems' notes on the track, or None
        self.block_s = block_s
        self.clock = clock
        self.latency = Latency()
        self.sounding: set[int] = set()
        self.late = 0
        self.events = 0
        self.last: float | None = None  # arrival (a stem note's: stamp) of the previous event
        self.outbox: list[tuple[float, int, int, int]] = []  # (stamp, kind, pitch, vel)

    def step(self) -> None:
        if self.reader is not None:
            for arrived, status, pitch, vel in self.reader.read():
                self.play(arrived, status, pitch, vel)
        if self.follow is not None:
            now = self.clock()
            for event in self.follow.take(now + PREPARE_S):
                self.prepare(event)
            self.post(now)

    def rescore(self, score: dict[str, Any]) -> None:
        """What the stems play changed: follow the new score; notes it dropped end now."""
        if self.follow is not None:
            for event in self.follow.update(engine_clock(score, self.writer), self.clock()):
                self.prepare(event)

    def prepare(self, event: Event) -> None:
        """Ask the harmonizer about a stem's note ahead; its answer waits in the outbox for
        the note's stamp (the moment it sounds, less the block the engine adds)."""
        stamp = event.time - self.block_s
        dt = 0.0 if self.last is None else max(0.0, stamp - self.last)
        self.last = stamp if self.last is None else max(self.last, stamp)
        self.events += 1
        if event.vel > 0:
            answer = self.harmonizer.note_on(event.pitch, event.vel, dt)
            self.outbox.extend((stamp, NOTE_ON, h, event.vel) for h in answer)
        else:
            answer = self.harmonizer.note_off(event.pitch, dt)
            self.outbox.extend((stamp, NOTE_OFF, h, 0) for h in answer)
        self.outbox.sort(key=lambda out: out[0])  # a stem gone at once ends before the rest

    def post(self, now: float) -> None:
        """Write the prepared answers whose stamp has come, in order."""
        while self.outbox and self.outbox[0][0] <= now:
            stamp, kind, harmony, vel = self.outbox.pop(0)
            if kind == NOTE_ON:
                if now - stamp > LATE_S:
                    self.late += 1  # never sounded: its note-off finds none sounding
                    continue
                if harmony in self.sounding:
                    self.writer.write(bytes((NOTE_OFF, harmony, 0)), stamp)
                self.writer.write(bytes((NOTE_ON, harmony, vel)), stamp)
                self.sounding.add(harmony)
            elif harmony in self.sounding:
                self.writer.write(bytes((NOTE_OFF, harmony, 0)), stamp)
                self.sounding.discard(harmony)

    def play(self, arrived: float, status: int, pitch: int, vel: int) -> None:
        kind = status & 0xF0
        if kind == CONTROL and pitch == SUSTAIN:
            self.writer.write(bytes((CONTROL, SUSTAIN, vel)), arrived)
            return
        if kind not in (NOTE_ON, NOTE_OFF):
            return
        dt = 0.0 if self.last is None else max(0.0, arrived - self.last)
        self.last = arrived if self.last is None else max(self.last, arrived)  # stems: ahead
        self.events += 1
        if kind == NOTE_ON and vel > 0:
            answer = self.harmonizer.note_on(pitch, vel, dt)
            if self.clock() - arrived > LATE_S:
                self.late += 1  # the harmonizer holds them; their note-off finds none sounding
                return
            for harmony in answer:
                self.writer.write(bytes((NOTE_ON, harmony, vel)), arrived)
                self.sounding.add(harmony)
            if answer:
                self.latency.add(self.clock() - arrived)
        else:
            for harmony in self.harmonizer.note_off(pitch, dt):
                if harmony in self.sounding:
                    self.writer.write(bytes((NOTE_OFF, harmony, 0)), arrived)
                    self.sounding.discard(harmony)

    def set(self, params: dict[str, Any]) -> None:
        self.harmonizer.set(**params)

    def release(self) -> None:
        self.harmonizer.release()
        self.sounding.clear()
        self.outbox.clear()
        self.writer.release()

    def status(self) -> dict[str, Any]:
        return {
            "p50_ms": self.latency.percentile(0.5),
            "p95_ms": self.latency.percentile(0.95),
            "playing": sorted(self.sounding),
            "late": self.late,
            "events": self.events,
            "lost": int(getattr(self.reader, "lost", 0)),
            "stems": self.follow.tracks() if self.follow is not None else [],
        }


class ImproviseVoice:
    """The Improviser playing on its own, hearing the keyboards, placed a block ahead."""

    def __init__(self, improviser, readers, writer, *, block_s: float, player_inst: int = 1,
                 grid: bool = True, at: str = "phrase", clock_facts: dict | None = None,
                 follow: Follow | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.improviser = improviser
        self.readers = readers
        self.follow = follow  # the stems' notes it hears, or None
        self.writer = writer
        self.block_s = block_s
        self.player_inst = player_inst
        self.grid = grid
        self.clock = clock
        self.facts = engine_facts(clock_facts or {}, writer)
        self.begin = self._boundary(clock()) if at == "phrase" else clock()
        self.until: float | None = None
        self.plan: tuple[float, int, int] | None = None  # (sounds at, pitch, vel)
        self.last = clock()
        self.sounding: set[int] = set()
        self.latency = Latency()
        self.late = 0
        self.events = 0
        self.finished = False

    def _boundary(self, now: float) -> float:
        """The render time of the first phrase boundary at or after `now`: the next one perf
        named, or one a whole number of phrases after it (never before it: the phrase
        length given is the one from that boundary on, and may be new there)."""
        beat_s, phrase_wall = self.facts.get("beat_s"), self.facts.get("phrase_wall")
        if not beat_s or phrase_wall is None:
            return now
        phrase = float(self.facts.get("phrase_beats", 16))
        return self._snap(now, phrase_wall, "phrase_sample", beat_s * phrase, math.ceil)

    def _on_grid(self, t: float) -> float:
        beat_s, beat_wall = self.facts.get("beat_s"), self.facts.get("beat_wall")
        if not self.grid or not beat_s or beat_wall is None:
            return t
        return self._snap(t, beat_wall, "beat_sample", beat_s / 4, round)  # sixteenths

    def _snap(self, t: float, wall: float, anchor: str, step_s: float, whole) -> float:
        """The render time of the grid point `whole`(steps from the anchor) near `t`, never
        before the anchor. Counted in the engine's samples where its clock is at hand
        (the audio device's clock drifts from the monotonic one, 50 ppm is 0.1 ms in 2 s,
        and the engine places notes by its own), else in seconds from `wall`."""
        sample = self.facts.get(anchor)
        wall_at = getattr(self.writer, "wall_at", None)  # the tests' slots have no clock
        if sample is None or wall_at is None or not math.isfinite(wall_at(0)):
            return wall + max(0, whole((t - wall) / step_s - 1e-9)) * step_s
        rate = self.writer.samplerate
        origin = wall_at(0)
        steps = max(0, whole(((t - origin) * rate - sample) / (step_s * rate) - 1e-9))
        return wall_at(round(sample + steps * step_s * rate))

    def retime(self, facts: dict[str, Any]) -> None:
        self.facts = engine_facts(facts, self.writer)
        self.plan = None  # planned on the old grid

    def rescore(self, score: dict[str, Any]) -> None:
        """What the stems play changed: follow the new score; notes it dropped end now."""
        if self.follow is not None:
            score = engine_clock(score, self.writer)
            self.hear([(e.time, e.inst, e.pitch, e.vel) for e in
                       self.follow.update(score, self.clock())], self.clock())  # fmt: skip

    def hear(self, heard: list[tuple[float, int, int, int]], now: float) -> None:
        """Tell the improviser what others played, in time order: (time it sounds, inst,
        pitch, vel), each delta from the event before, its own included."""
        for at, inst, pitch, vel in sorted(heard, key=lambda h: h[0]):
            self.improviser.hear(inst, pitch, vel, max(0.0, at - self.last))
            self.last = max(self.last, at)
            if self.plan is not None and self.plan[0] - self.block_s > now + POLL_S:
                self.plan = None  # what it heard changes what comes next

    def step(self) -> None:
        now = self.clock()
        heard = []
        for reader in self.readers:
            for arrived, status, pitch, vel in reader.read():
                kind = status & 0xF0
                if kind not in (NOTE_ON, NOTE_OFF):
                    continue
                vel = vel if kind == NOTE_ON else 0
                heard.append((arrived + self.block_s, self.player_inst, pitch, vel))  # sounds
        if self.follow is not None:
            heard += [(e.time, e.inst, e.pitch, e.vel) for e in self.follow.take(now)]
        if heard:
            self.hear(heard, now)
        if self.until is not None and now >= self.until:
            self.release()
            self.finished = True
            return
        if now < self.begin - self.block_s - PLAN_AHEAD_S:
            return
        if self.plan is None:
            wait, pitch, vel = self.improviser.plan(max(0.0, now - self.last))
            due = self.begin if self.events == 0 else max(now + wait, self.begin)
            if vel > 0:
                due = self._on_grid(due)
                if due - self.block_s - WRITE_AHEAD_S < now:
                    due += self.block_s if not self.grid else self.facts.get("beat_s", 0.5) / 4
            self.plan = (due, pitch, vel)
        due, pitch, vel = self.plan
        stamp = due - self.block_s  # the engine places it a block after its stamp: at `due`
        if now < stamp - WRITE_AHEAD_S:
            return
        self.plan = None
        self.improviser.played(pitch, vel, max(0.0, due - self.last))
        self.last = due
        self.events += 1
        if vel > 0 and now - stamp > LATE_S:
            self.late += 1  # a note this late is a stumble; its note-off finds none sounding
            return
        if vel > 0:
            if pitch in self.sounding:
                self.writer.write(bytes((NOTE_OFF, pitch, 0)), stamp)
            self.writer.write(bytes((NOTE_ON, pitch, vel)), stamp)
            self.sounding.add(pitch)
            self.latency.add(max(0.0, now - stamp))
        elif pitch in self.sounding:
            self.writer.write(bytes((NOTE_OFF, pitch, 0)), stamp)
            self.sounding.discard(pitch)

    def stop(self, at: float | None) -> None:
        self.until = self.clock() if at is None else at

    def set(self, params: dict[str, Any]) -> None:
        self.improviser.set(**params)
        self.plan = None

    def release(self) -> None:
        self.improviser.release()
        self.sounding.clear()
        self.writer.release()

    def status(self) -> dict[str, Any]:
        return {
            "p50_ms": self.latency.percentile(0.5),
            "p95_ms": self.latency.percentile(0.95),
            "playing": sorted(self.sounding),
            "late": self.late,
            "events": self.events,
            "stems": self.follow.tracks() if self.follow is not None else [],
        }


class Commands:
    """stdin's JSON lines, read on a thread; `ended` once stdin closes (the parent died)."""

    def __init__(self, stream: IO[str]) -> None:
        self.queue: deque[dict[str, Any]] = deque()
        self.ended = threading.Event()
        self.arrived = threading.Event()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with contextlib.suppress(ValueError):
                self.queue.append(json.loads(line))
                self.arrived.set()
        self.ended.set()
        self.arrived.set()

    def first(self) -> dict[str, Any] | None:
        while not self.queue:
            if self.ended.is_set():
                return None
            self.arrived.wait(0.1)
            self.arrived.clear()
        return self.queue.popleft()


class Status:
    """Status lines on stdout, from the loader's heartbeat thread and the loop alike."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def say(self, **fields: Any) -> None:
        with self.lock:
            self.stream.write(json.dumps(fields) + "\n")
            self.stream.flush()


def _load(start: dict[str, Any]):
    """The model named in `start`, or the embedded one (torch is imported here): a RAVE
    model for the audio kinds, Notochord for the others."""
    import torch

    torch.set_num_threads(1)  # one core: the engine and the UI need the others
    if start["kind"] in AUDIO_KINDS:
        from hoot.realtime.rave import find_model, load_rave

        return load_rave(find_model(start.get("model")))
    from hoot.realtime.notochord import EMBEDDED, load_notochord

    return load_notochord(start.get("model") or EMBEDDED)


def _build(start: dict[str, Any], model):
    if start["kind"] in AUDIO_KINDS:
        from hoot.realtime.audio_voice import build

        return build(start, model)
    from hoot.engine.rings import NoteReader, NoteWriter

    slot = start["slot"]
    writer = NoteWriter(slot["path"], int(slot["slot"]))
    # the writer is compiled code, compiled (or loaded from numba's cache) at its first
    # call: 350 ms on these VMs, which made every voice's first note late. A note-off of
    # a pitch the slot does not hold is a record the engine reads and ignores.
    writer.write(bytes((NOTE_OFF, 0, 0)), time.monotonic())
    table = start["table"]
    readers = [NoteReader(table["path"], int(t)) for t in table["tracks"]]
    settings = dict(start.get("settings", {}))
    meta = getattr(model, "hoot_meta", {}) or {}
    follow = None
    if "stems" in start:  # a list of tracks, or None: every track but its own and drums
        follow = Follow(hears=start["stems"], own=start.get("track"))
    block_s = float(start.get("block_s", 0.0))
    if start["kind"] == "harmonize":
        from hoot.realtime.harmonize import Harmonizer

        voice = HarmonyVoice(Harmonizer(model, **settings), readers[0] if readers else None,
                             writer, follow=follow, block_s=block_s)  # fmt: skip
        if start.get("score"):
            voice.rescore(start["score"])
        return voice
    from hoot.realtime.improvise import Improviser

    grid, at = bool(settings.pop("grid", True)), str(settings.pop("at", "phrase"))
    if settings.get("instrument") is None:
        settings["instrument"] = int((meta.get("voice_insts") or [1])[0])
    if "register" in settings:
        settings["register"] = tuple(settings["register"])
    voice = ImproviseVoice(
        Improviser(model, **settings), readers, writer, block_s=block_s,
        player_inst=int(meta.get("player_inst", 1)), grid=grid, at=at,
        clock_facts=start.get("clock"), follow=follow,
    )  # fmt: skip
    if start.get("score"):
        voice.rescore(start["score"])
    return voice


def _audio_priority() -> int:
    """An audio voice is part of the audio path: a transfer's block is due within one engine
    block (5.3 ms at 256 frames), and under the normal scheduler a busy machine (a browser,
    a training run, tests) held a voice off for longer several times a minute (dropped
    blocks, benchmarks/transfer_load.py). So its loop runs SCHED_FIFO at the engine's
    helper priority (1: below the audio thread, above every normal process) where the
    system allows it and HOOT_RT_PRIORITY is not 0, as the engine's own threads do. It
    sleeps between blocks; a model too slow for real time would take one core, never the
    audio thread's. Returns the priority in force (0: normal scheduling)."""
    from hoot.engine import realtime

    if realtime.wanted_priority() == 0:
        return realtime.this_thread()
    return realtime.raise_this_thread(realtime.HELPER_PRIORITY)


def main() -> int:
    die_with_parent()
    status = Status(sys.stdout)
    commands = Commands(sys.stdin)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    start = commands.first()
    if start is None:
        return 0
    loaded = threading.Event()

    def beat_while_loading() -> None:
        while not loaded.wait(STATUS_S):
            status.say(state="loading")

    threading.Thread(target=beat_while_loading, daemon=True).start()
    status.say(state="loading")
    try:
        voice = _build(start, _load(start))
    except HootError as e:
        loaded.set()
        status.say(state="failed", error=str(e))
        return 2
    finally:
        loaded.set()
    # torch and the model are ~190,000 Python objects that live as long as the voice: a
    # full garbage collection walks them all (~100 ms here), and one came every few
    # seconds, each a stall that dropped a transfer's blocks (30 at a time at 256 frames)
    # or made a harmony late. Frozen, collections walk only what the loop makes (~0 ms).
    gc.collect()
    gc.freeze()
    sched = {"priority": _audio_priority()} if start["kind"] in AUDIO_KINDS else {}
    next_status = 0.0
    cpu0, wall0 = time.process_time(), time.monotonic()
    cpu_pct = 0.0
    try:
        while not stopping.is_set() and not commands.ended.is_set():
            while commands.queue:
                command = commands.queue.popleft()
                what = command.get("cmd")
                if what == "set":
                    voice.set({k: v for k, v in command.items() if k != "cmd"})
                elif what == "clock" and hasattr(voice, "retime"):
                    voice.retime(command)
                elif what == "score":
                    voice.rescore(command)
                elif what == "stop":
                    if isinstance(voice, ImproviseVoice) and command.get("at"):
                        voice.stop(float(command["at"]))
                    else:
                        stopping.set()
            try:
                voice.step()
            except HootError as e:  # the model raised: said, and the layer restarts it
                print(f"voice: {e}", file=sys.stderr, flush=True)
                status.say(state="running", failure=str(e))
                return 3
            if getattr(voice, "finished", False):
                break
            now = time.monotonic()
            if now >= next_status:
                if now - wall0 >= 1.0:
                    cpu1 = time.process_time()
                    cpu_pct = round(100.0 * (cpu1 - cpu0) / (now - wall0), 2)
                    cpu0, wall0 = cpu1, now
                status.say(state="running", cpu_pct=cpu_pct, **sched, **voice.status())
                next_status = now + STATUS_S
            time.sleep(getattr(voice, "poll_s", POLL_S))
    finally:
        voice.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
