"""Controllers: hardware that draws the set in light and calls the stage's actions.

`surface` is the plug-in shape every controller has (found by its port's name and its
identity reply, attached to the stage, drawn with each SetView) and the rig that finds
them on the MIDI ports; `launchpad` is hoot's own, the Launchpad Pro MK3.
"""
