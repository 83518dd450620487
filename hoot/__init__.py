"""hoot: a terminal live-coding instrument for generative models on stage."""

__version__ = "0.1.0"
