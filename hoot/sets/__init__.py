"""Set scripts that ship with hoot: `starter.py` is what a new session plays first."""

from pathlib import Path

STARTER = Path(__file__).with_name("starter.py")
