"""What a performer can do without typing, in one place for every controller.

The TUI's keys call these; a Launchpad (or any controller) calls the same ones. They act
on `perf` and on a selection (which role's batch, which candidate) that the screen shows.
None of them blocks on generation, and none raises for a harmless miss (nothing to pick
yet): they return a sentence for the performer instead. Candidates are numbered from 1,
as the picker shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from hoot.errors import HootError
from hoot.music import ROLES


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
