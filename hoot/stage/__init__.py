"""The headless core every front end shares: see hoot.stage.stage."""

from hoot.stage.stage import Stage

__all__ = ["Stage"]
