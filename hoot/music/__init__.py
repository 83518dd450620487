"""Musical vocabulary, pure: tempo map, meters, roles, keys and chords, note clips, vibes,
sounds. Imports nothing of hoot."""

from hoot.music.roles import ROLES, TRACKS

__all__ = ["ROLES", "TRACKS"]
