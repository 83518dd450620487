"""Causal beat and downbeat tracking: `BeatTracker(samplerate).feed(block) -> [Beat]`."""

from hoot.beats.tracker import Beat, BeatTracker

__all__ = ["Beat", "BeatTracker"]
