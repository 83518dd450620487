"""MIDI ports for the engine and the control side: `hoot.midi.ports` (python-rtmidi underneath).

Nothing is imported here, so `import hoot.midi` costs nothing; `hoot.midi.ports` loads
rtmidi (about 3 ms) when something first asks for a port.
"""
