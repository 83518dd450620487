"""The set, watched from a background thread: engine status, what plays, the picker.

It reads the engine's shared-memory status ~30 times a second (costing the engine
nothing), asks for the structured state only when it changed, builds one `SetView`
and hands it to the front end through `post` (for the TUI, Textual's thread-safe
`post_message`). No front end ever waits on the engine: if the engine hangs or dies,
the view says so. No Textual here.

What the engine says during the set (a MIDI output or a clock-out port unplugged or back,
device trouble) reaches the performer here too: the status counts the engine's sentences,
and when the count moves the watcher asks for them and hands each to `stage.say`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from hoot.engine import protocol as p
from hoot.errors import HootError
from hoot.generate.batch import candidate_of
from hoot.music.time import TempoMap
from hoot.stage.view import (
    BatchView,
    CandidateView,
    InputView,
    QueueItem,
    SetView,
    TrackLevel,
)


class SetWatcher:
    """Builds SetViews of `stage` at `hz` and posts them."""

    def __init__(self, stage, post: Callable[[SetView], None], hz: float = 30.0) -> None:
        self.stage = stage
        self.perf, self.link, self.actions = stage.perf, stage.link, stage.actions
        self.post = post
        self.period = 1.0 / hz
        self._state: p.EngineState | None = None
        self._version = -1
        self._said = 0  # the engine's sentences counted when its messages were last read
        self._state_at = 0.0
        self._map: TempoMap | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="hoot-watcher")
        self.views = 0  # how many views were built: the UI's frame source, for benchmarks
        self._batches_seen = len(self.perf.picker.history)
        self._candidates: dict[str, object] = {}  # candidate name -> Candidate, every batch
        self._candidates_of = 0  # batches in it
        # (track, stem, start) -> the bar it starts in, as last counted: the engine folds a
        # long set's tempo map (engine.control `_folded`), so a stem that has played for
        # minutes may start before the map's first segment, where bars are not counted
        self._start_bars: dict[tuple[str, str, int], int] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            try:
                self.post(self.build())
                self.views += 1
            except Exception:  # noqa: BLE001 - the watcher must outlive any one bad reading
                pass
            next_tick += self.period
            delay = next_tick - time.monotonic()
            if delay < 0:  # fell behind (a slow state call): skip, do not queue up
                next_tick = time.monotonic()
                delay = 0
            self._stop.wait(delay)

    def _fresh_state(self, version: int) -> p.EngineState | None:
        now = time.monotonic()
        if self._state is None or version != self._version or now - self._state_at > 0.5:
            try:
                self._state = self.link.peek(p.State())
                self._version = version
                self._state_at = now
                self._map = TempoMap.from_dict(self._state.tempo_map)
                self.stage.remember(self._state)
            except (HootError, OSError, ValueError):
                return self._state
        return self._state

    def _tell(self, said: int) -> None:
        """The engine's new sentences, to the performer (a new engine counts from 0 again,
        so any change of the count means news)."""
        try:
            lines = self.link.peek(p.GetMessages()).lines
        except (HootError, OSError, ValueError):
            return  # the next view asks again
        self._said = said
        for line in lines:
            self.stage.say(f"engine: {line}")

    def build(self) -> SetView:
        if len(self.perf.picker.history) != self._batches_seen:  # a new batch: select it
            self._batches_seen = len(self.perf.picker.history)
            self.actions.follow_newest()
        st = self.link.status()
        alive = time.time() - st.heartbeat < 1.5
        state = self._fresh_state(st.state_version) if alive else self._state
        if alive and st.messages != self._said:
            self._tell(st.messages)
        tm = self._map or TempoMap(st.samplerate or 48000)
        pos = tm.position(st.position)
        boundary = tm.next_boundary(st.position + 1, "phrase")
        names = list(self.link.tracks)
        rows = list(zip(names, st.meters[: len(names)]))
        # live inputs: their meters and clip lamps follow the master's row in the status
        inputs = tuple(i for i in (state.inputs if state else ()) if i.row < len(st.inputs))
        rows += [(i.name, st.inputs[i.row]) for i in inputs]
        tracks = tuple(
            TrackLevel(name, (float(m[0]), float(m[1])), (float(m[2]), float(m[3])))
            for name, m in rows
        )
        m = st.meters[len(names)]
        master = TrackLevel("master", (float(m[0]), float(m[1])), (float(m[2]), float(m[3])))
        players = state.players if state else ()
        mixes = state.tracks if state else {}
        sounding = {candidate_of(pl.stem): pl.state for pl in players}
        batches = []
        for batch in list(self.perf.picker.latest.values()):
            cells = []
            for c in batch.candidates:
                status = sounding.get(c.name, c.status.value)
                cells.append(
                    CandidateView(
                        index=c.index,
                        status=status,
                        progress=c.progress,
                        reason=c.reason,
                        key=c.request.key,
                        bars=c.request.bars,
                        seed=c.seed,
                        label=_label(c),
                        stage=c.stage,
                    )
                )
            batches.append(BatchView(batch.role, batch.id, batch.generator, tuple(cells)))
        queue = tuple(self._queue_item(pl, tm) for pl in sorted(players, key=lambda pl: pl.start))
        self._start_bars = {(q.track, q.stem, q.start_sample): q.bar for q in queue}
        sel = self.actions.selection
        info = self.link.info
        return SetView(
            session=self.perf.session.name,
            backend=str(info.backend),
            device=str(info.device),
            latency_ms=st.latency * 1000,
            xruns=st.xruns,
            cpu=st.cpu,
            realtime=st.realtime,
            faults=st.faults,
            samplerate=st.samplerate,
            position=st.position,
            bpm=pos.bpm,
            meter=str(pos.meter),
            key=self.perf.key,
            chords=tuple(self.perf.chords),
            bar=pos.bar,
            beat_in_bar=pos.beat_in_bar,
            beats_per_bar=pos.meter.beats,
            phrase=pos.phrase,
            bar_in_phrase=pos.bar_in_phrase,
            phrase_bars=pos.phrase_bars,
            samples_to_boundary=max(0, boundary - st.position),
            sync=self.perf.sync,
            locked=self.perf.locked,
            tracks=tracks,
            master=master,
            limiter_db=st.limiter_db,
            recording=st.recording,
            batches=tuple(batches),
            selected_role=sel.role,
            selected_index=sel.index,
            queue=queue,
            engine_alive=alive,
            ceiling_db=info.ceiling_db,
            muted=tuple(name for name, mix in mixes.items() if mix.mute),
            soloed=tuple(name for name, mix in mixes.items() if mix.solo),
            inputs=tuple(_input_view(i, bool(st.clips[i.row])) for i in inputs),
            models=tuple(self.perf.models),  # the layer's statuses, kept in memory: no wait
            played=self.perf.played,
            **_band(self.perf.follower),
        )

    def _queue_item(self, player: p.PlayerState, tm: TempoMap) -> QueueItem:
        """What plays (or is queued), named as the performer knows it: a candidate's
        retakes ("bass-…-1-3@130") show as the candidate ("bass #3")."""
        name = candidate_of(player.stem)
        history = self.perf.picker.history
        if len(history) != self._candidates_of:
            self._candidates = {c.name: c for batch in list(history) for c in batch.candidates}
            self._candidates_of = len(history)
        c = self._candidates.get(name)
        bar = self._start_bars.get((player.track, name, player.start))
        if bar is None or _counts(tm, player.start):
            bar = tm.position(player.start).bar + 1
        return QueueItem(
            player.track,
            name,
            player.start,
            bar,
            player.state,
            candidate=f"{c.role} #{c.number}" if c is not None else "",
            label=_label(c) if c is not None else "",
        )


def _counts(tm: TempoMap, sample: int) -> bool:
    """Whether `tm` still counts the bar `sample` falls in: it lies after the map's first
    tempo segment and its first grid segment (what a folded map begins with)."""
    return sample >= tm.tempi[0].sample and tm.beat_at(sample) >= tm.grids[0].beat


def _input_view(track: p.InputTrack, clip: bool) -> InputView:
    kind, _, rest = track.source.partition(" ")
    if kind == "file":
        source = f"file {Path(rest).name}"
    elif kind == "signal":
        source = f"signal {rest}"
    elif kind == "model":  # a model's output (perf.transfer, drone, echo: issue 13)
        source = "model"
    else:
        source = ("channels " if len(track.channels) > 1 else "channel ") + "+".join(
            str(c) for c in track.channels
        )
    return InputView(track.name, track.monitor, clip, source)


def _label(candidate) -> str:
    """A candidate's label for the screen: its archetype, or ""."""
    return str(candidate.meta.get("params", {}).get("archetype", ""))


def _band(follower) -> dict:
    """A band follower's state and confidence for the grid (nothing for other sources)."""
    if follower is None or not hasattr(follower, "confidence"):
        return {}
    return {"sync_state": follower.state, "confidence": follower.confidence}
