"""The stage screen: `hoot tui` shows the set as the engine plays it."""
