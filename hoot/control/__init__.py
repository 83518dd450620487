"""Controllers, MIDI maps and sync sources: front ends that attach to the stage and call its
actions, as the screen does.

`surface` is the plug-in shape every controller has (found by its port's name and its
identity reply, attached to the stage, drawn with each SetView) and the rig that finds
them on the MIDI ports; `launchpad` is hoot's own, the Launchpad Pro MK3.
"""
