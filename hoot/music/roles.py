"""Roles: the tracks a set has, one per musical role, and how loud each sits in the mix."""

from __future__ import annotations

ROLES: tuple[str, ...] = ("drums", "bass", "chords", "lead", "pad", "perc")
"""The tracks a set has, in mixer order (and in the picker's and the Launchpad's rows)."""

LIVE_TRACKS: tuple[str, ...] = ("keys", "harmony")
"""Tracks for what is played live rather than generated: a keyboard plays `keys`
(`perf.tracks.keys.play_from("Keystation")`), and the real-time layer's harmony answers it on
`harmony` (`perf.harmonize("keys")`, issue 12), beside the roles, so that stopping or muting
the generated lead never touches what a player holds or what answers it."""

TRACKS: tuple[str, ...] = ROLES + LIVE_TRACKS
"""Every track an engine mixes, in mixer order: the roles, then the live tracks."""

LEVELS: dict[str, float] = {
    "drums": -5.0,
    "bass": -6.0,
    "chords": -10.0,
    "lead": -9.0,
    "pad": -12.0,
    "perc": -11.0,
    "keys": -9.0,  # a played part sits where a lead does
    "harmony": -13.0,  # under what it answers: two voices sum ~3 dB over one, so 4 dB below keys
}
"""Default fader levels (dB). Every generated stem is loudness-matched to -14 LUFS on its
own, so it is ready to play alone; summed at 0 dB, five of them reach about -7 LUFS and
the master limiter pumps. These levels balance the roles (drums and bass forward, pads
behind) and keep the sum of all six near -14 LUFS with headroom
(benchmarks/mix_level.py measures it)."""


def default_level(track: str) -> float:
    """The fader level a track starts at: its role's, 0 dB for a track that is no role."""
    return LEVELS.get(track, 0.0)
