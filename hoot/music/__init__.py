"""Musical vocabulary, pure: tempo map, meters, roles, note clips. Imports nothing of hoot."""

#: The tracks a set has, one per musical role, in mixer order.
ROLES: tuple[str, ...] = ("drums", "bass", "chords", "lead", "pad", "perc")
