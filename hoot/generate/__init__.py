"""Generators behind one protocol, the worker pool that runs them, and MIDI-to-audio rendering.

Torch (for model backends) is imported only inside worker processes, never here.
"""
