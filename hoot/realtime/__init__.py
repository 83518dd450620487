"""hoot's real-time layer: models that answer the players within milliseconds (issue 12)."""
