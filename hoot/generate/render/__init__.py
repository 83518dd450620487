"""Render note clips to loopable stereo audio: hoot's own synthesizers and drum kits.

This is the sound of hoot's embedded generator, rendered off the real-time path (in
worker processes) so it can spend numpy freely, but quickly, because the performer waits
for it. `render_clip` turns a `NoteClip` into exactly one loop of float32 stereo; whatever
rings past the loop's end (releases, echoes, reverb) is folded back onto its start, so
the loop plays seamlessly. `render_stem` also brings it to a target loudness.

A render follows the modules in this order:

* `oscillators`: band-limited wavetables read by integer phase accumulators; a filter
  sweep is a morph through tables already filtered a third of an octave apart, so whole
  notes are a handful of vectorised numpy operations.
* `envelopes`: ADSR and release curves, velocity and pan.
* `notes`: the clip's notes in samples, and mixing one voice per note.
* `voices`: the melodic sounds (basses, leads, pad, keys, pluck).
* `drums`: the kits, one-shots synthesised once and cached; a pattern is a sum of
  shifted copies.
* `filters`, `effects`: everything after the notes works on the loop as a periodic
  signal (filters start in the state the loop's own end leaves them in, delays and
  convolution wrap around, modulation runs whole cycles per loop), so the seam is
  inaudible.
* `buses`: each sound's insert effects, stereo width and room.
* `stem`: the public `render_clip` and `render_stem`.
"""

from hoot.generate.render.stem import render_clip, render_stem

__all__ = ["render_clip", "render_stem"]
