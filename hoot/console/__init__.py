"""The live-coding console: the namespace performers type into, evaluation, completion."""
