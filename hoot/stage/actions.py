"""What a performer can do without typing, in one place for every controller.

The TUI's keys call these; a Launchpad (or any controller) calls the same ones. They act
on `perf` and on a selection (which role's batch, which candidate) that the screen shows.
None of them blocks on generation, and none raises for a harmless miss (nothing to pick
yet): they return a sentence for the performer instead. Candidates are numbered from 1,
as the picker shows them.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from hoot.errors import HootError
from hoot.music import ROLES
from hoot.realtime.status import improviser_on, serving

TAPS = 3  # taps that give a tempo (two intervals)
TAP_PAUSE_S = 2.0  # a pause this long starts the counting again (30 BPM is the slowest tap)
TAP_KEEP = 8  # the latest taps that count: the tempo follows a performer who changes it


@dataclass
class Selection:
    """The picker's cursor: a role's latest batch and a candidate in it (`index` from 0)."""

    role: str | None = None
    index: int = 0

    @property
    def number(self) -> int:
        return self.index + 1


class SetActions:
    """Selection, pick, stop, panic: the non-typing controls of a set."""

    def __init__(self, perf) -> None:
        self.perf = perf
        self.selection = Selection()
        self.taps: list[float] = []  # monotonic times of the latest taps

    # ---- where the selection is ---------------------------------------------------------

    def roles_with_batches(self) -> list[str]:
        latest = self.perf.picker.latest
        return [r for r in ROLES if r in latest]

    def _ensure_selection(self) -> bool:
        roles = self.roles_with_batches()
        if not roles:
            return False
        if self.selection.role not in roles:
            newest = self.perf.picker.newest.role
            self.selection.role = newest if newest in roles else roles[0]
        batch = self.perf.picker.latest[self.selection.role]
        self.selection.index = max(0, min(self.selection.index, len(batch) - 1))
        return True

    def follow_newest(self) -> None:
        """Select the newest batch (after perf.generate), first candidate."""
        if self.perf.picker.history:
            self.selection = Selection(self.perf.picker.history[-1].role, 0)

    def select(self, role: str, number: int) -> None:
        """Put the cursor on candidate `number` (from 1) of `role`'s latest batch."""
        self.selection = Selection(role, max(0, number - 1))
        self._ensure_selection()

    def next_role(self, step: int = 1) -> str:
        roles = self.roles_with_batches()
        if not roles:
            return "nothing generated yet: perf.generate('bass') makes a batch"
        if self.selection.role in roles:
            i = (roles.index(self.selection.role) + step) % len(roles)
        else:
            i = 0
        self.selection = Selection(roles[i], self.selection.index)
        self._ensure_selection()
        return f"picker: {self.selection.role}"

    def next_candidate(self, step: int = 1) -> str:
        if not self._ensure_selection():
            return "nothing generated yet: perf.generate('bass') makes a batch"
        batch = self.perf.picker.latest[self.selection.role]
        self.selection.index = (self.selection.index + step) % len(batch)
        return f"picker: {self.selection.role} #{self.selection.number}"

    # ---- doing ----------------------------------------------------------------------------

    def pick(self, number: int | None = None, role: str | None = None) -> str:
        """Queue the selected candidate (or candidate `number`, from 1, of `role` or of the
        selected role) for the next phrase boundary."""
        if role is not None:
            if role not in self.perf.picker.latest:
                return f"no {role} batch yet: perf.generate({role!r}) makes one"
            self.selection.role = role
        if not self._ensure_selection():
            return "nothing to pick yet: perf.generate('bass') makes a batch"
        if number is not None:
            self.selection.index = number - 1
        batch = self.perf.picker.latest[self.selection.role]
        try:
            candidate = batch[self.selection.number]
            start = candidate.queue()
        except HootError as e:
            return str(e)
        if start is None:
            return f"{candidate.label} will start once it is ready"
        return f"{candidate.label} starts at bar {self.perf.bar_of(start)}"

    def toggle(self, role: str, number: int) -> str:
        """A pad's press: queue candidate `number` of `role`, or, if it already waits for the
        boundary, take it back out of the queue."""
        batch = self.perf.picker.latest.get(role)
        if batch is None or not 1 <= number <= len(batch):
            return f"no {role} #{number} to pick"
        candidate = batch[number]
        try:
            if candidate.unqueue():
                return f"{candidate.label} will not start after all"
        except HootError as e:
            return str(e)
        self.selection = Selection(role, number - 1)
        return self.pick()

    def stop_role(self, role: str) -> str:
        """Stop `role`'s track at the next phrase boundary."""
        try:
            track = self.perf.tracks[role]
            if not track.playing:
                return f"{role} is silent already"
            sample = track.stop()
        except HootError as e:
            return str(e)
        return f"{role} stops at bar {self.perf.bar_of(sample)}"

    def stop_selected(self) -> str:
        """Stop the selected role's track at the next phrase boundary."""
        role = self.selection.role or (self.roles_with_batches() or [None])[-1]
        if role is None:
            return "select a role first (nothing generated yet)"
        return self.stop_role(role)

    def engine(self) -> str:
        """Reach the session's engine; if it has stopped, this starts a new one and gives it
        the set back (the stage says so)."""
        try:
            bpm = self.perf.tempo
        except HootError as e:
            return str(e)
        return f"engine: playing, {bpm:g} BPM"

    def panic(self) -> str:
        """Everything stops at once, with a short fade."""
        try:
            self.perf.panic()
        except HootError as e:
            return str(e)
        return "panic: everything stopped"

    # ---- the real-time layer (issue 12) -----------------------------------------------------

    def harmonize(self, track: str) -> str:
        """Arm harmony for what is played on `track` with perf.harmonize's defaults, or
        disarm it if a model harmonizes it already (armed here or from code; a failed one
        too, so the next press arms it afresh)."""
        model = serving(self.perf.models, "harmonize", track)
        try:
            if model is not None:
                self.perf.harmonize(track, None)
                return f"{track}: harmony disarmed" + _had_failed(model)
            self.perf.harmonize(track)
        except HootError as e:
            return str(e)
        return f"{track}: harmony armed"

    def improvise(self, track: str, on: str = "lead") -> str:
        """Let the improviser on `on` listen to `track`'s keyboard, or stop listening to it:
        the first press starts one (perf.improvise's defaults, from the next phrase); a press
        for a track it already hears takes it out of what it hears, and the last one out
        stops it (at the next phrase). An improviser started from code counts as well."""
        try:
            model = serving(self.perf.models, "improvise", track) or improviser_on(
                self.perf.models, on
            )
            if model is None:
                self.perf.improvise(on, listen=[track])
                return f"{on} improvises, hearing {track}"
            live = self.perf.model(model.name)
            hears = [t for t in model.hears if t != track]
            if track in model.hears and not hears:
                if live is not None:
                    live.stop()
                return f"{model.name}: improviser stops at the phrase" + _had_failed(model)
            if track not in model.hears:
                hears.append(track)
            if live is not None:
                live.set(listen=hears)
            else:
                self.perf.improvise(model.name, listen=hears)
        except HootError as e:
            return str(e)
        return f"{model.name} improvises, hearing {', '.join(hears)}"

    # ---- time ----------------------------------------------------------------------------

    def tap(self, at: float | None = None) -> str:
        """A tap of the tempo key at `at` (time.monotonic(), stamped where the press arrived;
        None: now). Three taps or more give a tempo, their median interval; a pause of
        TAP_PAUSE_S starts again. On hoot's own clock the tempo changes from the next beat;
        following a band, also a hint to its tracker; a MIDI clock keeps its tempo."""
        at = time.monotonic() if at is None else at
        if self.taps and at - self.taps[-1] > TAP_PAUSE_S:
            self.taps.clear()
        self.taps = [*self.taps, at][-TAP_KEEP:]
        if len(self.taps) < TAPS:
            return f"tap {len(self.taps)}: {TAPS - len(self.taps)} more for a tempo"
        bpm = round(60.0 / statistics.median(b - a for a, b in zip(self.taps, self.taps[1:])), 1)
        follower = self.perf.follower
        if follower is not None and not hasattr(follower, "hint"):
            return f"tapped {bpm:g} BPM, but the {follower.sync} sets the tempo"
        try:
            self.perf.set_tempo(bpm)
        except HootError as e:
            return str(e)
        if follower is None:
            return f"tap: {bpm:g} BPM from the next beat"
        follower.hint(bpm)
        return f"tap: {bpm:g} BPM, and a hint to the {follower.sync} follower"

    def one(self, at: float | None = None) -> str:
        """The "this is one" key: the beat nearest what the performer hears at `at`
        (time.monotonic(), stamped where the press arrived; None: now) is a downbeat, where
        a new phrase starts; a band's tracker counts its bars from there too."""
        try:
            heard = self.perf.heard(at)
            tm = self.perf.tempo_map()
            beat = float(round(tm.beat_at(heard)))
            self.perf.downbeat(beat)
        except HootError as e:
            return str(e)
        follower = self.perf.follower
        if follower is not None and hasattr(follower, "one"):
            follower.one(heard)
        return f"one: a phrase starts at bar {self.perf.bar_of(tm.sample_at(beat))}"


def _had_failed(model) -> str:
    """What a disarming press adds when the model had failed: the performer learns why it
    went quiet (the layer said so once, when it failed)."""
    return " (its model had failed)" if model.state == "failed" else ""
