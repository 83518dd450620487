"""Controllers, MIDI maps and sync sources: front ends that attach to the stage and call its
actions, as the screen does."""
