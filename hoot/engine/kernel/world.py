"""The whole compiled core: every state the audio callback needs, and `process`, one pass of
musical time per host block, without the GIL.

`World` gathers the parts' states (players and their commands, the synth voices, the mixer
and limiter, the recorder's tap, the block clock, live MIDI inputs, tracks that play MIDI
outputs, live audio inputs). `process` is what kernel.callback's generated PortAudio callback
calls, and what the offline driver calls from Python, so the two render the same bits.

One block, in the Python core's order (engine.core's docstring has the rules):
  1. the clock stamps the host block (live notes and MIDI out are placed by it);
  2. commands sent before the block apply (player commands, mixes, routing changes);
  3. live MIDI inputs, then the players, append their note events;
  4. each event goes to its track's sink: the synth voices or a MIDI output;
  5. the voices render into the track buffers; live audio inputs are added;
  6. guard, gains, sum, limiter, meters; the recorder's tap; the input ring.
A host block longer than `max_block` is rendered in parts, as the Python core did.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hoot.engine.inputs import OFF, InputState, render_inputs
from hoot.engine.kernel import clock as kclock
from hoot.engine.kernel import commands as cm
from hoot.engine.kernel import events as kev
from hoot.engine.kernel import midi_in, midi_out
from hoot.engine.kernel import mix as kmix
from hoot.engine.kernel import players as pl
from hoot.engine.kernel import voices as kv
from hoot.engine.kernel.jit import jit
from hoot.engine.kernel.tap import TapState, tap
from hoot.engine.latency import ProbeState, probe_block
from hoot.engine.rings import Ring, write_block

POSITION, BLOCKS, MAX_BLOCK, TRACKS, GENERATED, RING_ON = range(6)
REGISTERS = 6
"""`World.regs`: the sample the next block starts at, host blocks rendered, the largest part
rendered at once, tracks (generated, then live input rows), generated tracks, whether the
input ring is written."""

VOICES, HARDWARE = 0, 1
"""`World.sink`: where a track's notes go: the synth voices, or a MIDI output."""

SINK, LIVE, INPUT = 16, 17, 18
"""Command records beyond the players' (kernel.commands hands them on): route a track's
notes (TRACK; SLOT = VOICES or HARDWARE), start or end a live input slot (SLOT; TRACK;
SAMPLE = 1 on, 0 off), feed a live audio input row (kernel.front.INPUT says how)."""

LIVE_SLOTS = 8
"""Live MIDI inputs playing at once (keyboards, pads, a wind controller)."""


class LiveTable(NamedTuple):
    """The live MIDI inputs' states, one row a slot (kernel.midi_in.LiveInput's arrays with a
    leading slot axis); a slot whose TRACK register is -1 is free."""

    arrived: np.ndarray  # float64 (LIVE_SLOTS, RING)
    message: np.ndarray  # int64 (LIVE_SLOTS, RING, 3)
    index: np.ndarray  # int64 (LIVE_SLOTS, 3)
    held: np.ndarray  # uint8 (LIVE_SLOTS, 128)
    sustained: np.ndarray  # uint8 (LIVE_SLOTS, 128)
    regs: np.ndarray  # int64 (LIVE_SLOTS, 7)


class OutTable(NamedTuple):
    """Each track's MIDI output ring and settings (kernel.midi_out.OutTrack's arrays with a
    leading track axis)."""

    due: np.ndarray  # float64 (T, RING)
    message: np.ndarray  # int64 (T, RING, 3)
    index: np.ndarray  # int64 (T, 3)
    channel: np.ndarray  # int64 (T,)
    shift: np.ndarray  # float64 (T,)


def make_live_table(ring: int = midi_in.RING) -> LiveTable:
    regs = np.zeros((LIVE_SLOTS, 7), np.int64)
    regs[:, midi_in.TRACK] = -1
    return LiveTable(
        np.zeros((LIVE_SLOTS, ring), np.float64),
        np.zeros((LIVE_SLOTS, ring, 3), np.int64),
        np.zeros((LIVE_SLOTS, 3), np.int64),
        np.zeros((LIVE_SLOTS, 128), np.uint8),
        np.zeros((LIVE_SLOTS, 128), np.uint8),
        regs,
    )


def make_out_table(tracks: int, ring: int = midi_out.RING) -> OutTable:
    return OutTable(
        np.zeros((tracks, ring), np.float64),
        np.zeros((tracks, ring, 3), np.int64),
        np.zeros((tracks, 3), np.int64),
        np.zeros(tracks, np.int64),
        np.zeros(tracks, np.float64),
    )


@jit
def live_input(t: LiveTable, k: int) -> midi_in.LiveInput:
    """Slot `k` as the LiveInput kernel.midi_in works on (views: nothing is copied)."""
    return midi_in.LiveInput(
        t.arrived[k], t.message[k], t.index[k], t.held[k], t.sustained[k], t.regs[k]
    )


@jit
def out_track(t: OutTable, track: int) -> midi_out.OutTrack:
    """Track `track`'s OutTrack (views)."""
    return midi_out.OutTrack(
        midi_out.OutRing(t.due[track], t.message[track], t.index[track]),
        t.channel[track : track + 1],
        t.shift[track : track + 1],
    )


class World(NamedTuple):
    regs: np.ndarray  # int64 (REGISTERS,)
    tracks: np.ndarray  # float32 (T * max_block * 2,): each part's (T, n, 2) view is contiguous
    events: kev.Events
    ring: cm.CommandRing
    players: pl.PlayerState
    stems: pl.StemTable
    maps: object  # kernel.tempo.Maps
    voices: kv.VoiceState
    mix: kmix.MixState
    tap: TapState
    clock: kclock.Clock
    sink: np.ndarray  # int64 (T,): VOICES or HARDWARE
    use_voices: np.ndarray  # bool (T,): sink == VOICES
    live: LiveTable
    outs: OutTable
    inputs: InputState  # the live input rows' sources
    in_ring: Ring  # every input block, for other processes (a stand-in when RING_ON is 0)
    probe: ProbeState  # the round-trip measurement


@jit
def process(w: World, inp: np.ndarray, out: np.ndarray, frames: int, in_channels: int) -> None:
    """Render the next `frames` frames into `out` (frames x 2 float32). REAL-TIME."""
    regs = w.regs
    kclock.stamp(w.clock, regs[POSITION], frames)
    done = 0
    while done < frames:
        n = min(frames - done, regs[MAX_BLOCK])
        s0 = regs[POSITION]
        _block(w, inp[done : done + n], out[done : done + n], s0, n)
        regs[POSITION] = s0 + n
        done += n
    regs[BLOCKS] += 1


@jit
def _block(w: World, inp: np.ndarray, out: np.ndarray, s0: int, n: int) -> None:
    kev.clear(w.events)
    _take_commands(w, s0)
    for k in range(LIVE_SLOTS):
        if w.live.regs[k, midi_in.TRACK] >= 0:
            midi_in.live_block(live_input(w.live, k), w.clock, s0, n, w.events)
    T = w.regs[TRACKS]
    tb = w.tracks[: T * n * 2].reshape((T, n, 2))
    tb[:] = 0
    pl.play(w.players, w.stems, w.maps, s0, n, tb, w.events)
    _flush(w)
    kv.render(w.voices, s0, n, tb)
    G = w.regs[GENERATED]
    if G < T:
        rows = tb[G:]
        render_inputs(w.inputs, inp, s0, n, rows)
        if w.regs[RING_ON]:
            write_block(w.in_ring, rows, s0, n)
        for r in range(T - G):
            heard = w.inputs.kind[r] != OFF and w.inputs.monitor[r] != 0
            w.mix.to_master[G + r] = 1 if heard else 0
    kmix.mix_block(w.mix, tb, out, s0, n)
    probe_block(w.probe, out, inp, s0, n)
    tap(w.tap, out, tb, n)


@jit
def _flush(w: World) -> None:
    """Every event appended so far goes to its track's sink, in order; then none is left."""
    ev = w.events
    kv.dispatch(w.voices, ev, w.use_voices)
    for k in range(ev.count[0]):
        track = ev.i[k, kev.TRACK]
        if 0 <= track < w.sink.shape[0] and w.sink[track] == HARDWARE:
            midi_out.play_event(out_track(w.outs, track), w.clock, ev, k)
    kev.clear(ev)


@jit
def _take_commands(w: World, s0: int) -> None:
    ring = w.ring
    while True:
        kind = cm.take_commands(ring, w.players, w.stems, w.maps, s0, w.events)
        if kind == 0:
            return
        r, f = ring.mix_i, ring.mix_f
        if kind == cm.MIX:
            kmix.set_mix(w.mix, r[cm.TRACK], f[cm.LEFT], f[cm.RIGHT], r[cm.AT_ONCE] != 0, s0)
        elif kind == cm.PANIC:
            for k in range(LIVE_SLOTS):
                if w.live.regs[k, midi_in.TRACK] >= 0:
                    midi_in.release_all(live_input(w.live, k), s0, w.events)
        elif kind == SINK:
            _route(w, r[cm.TRACK], r[cm.SLOT], s0)
        elif kind == LIVE:
            _live(w, r[cm.SLOT], r[cm.TRACK], r[cm.SAMPLE] != 0, s0)
        elif kind == INPUT:
            _input(w, r[cm.TRACK], r[cm.SLOT], r[cm.SAMPLE], r[cm.QUANTUM], r[cm.NAME],
                   r[cm.BUFFER], r[cm.AT_ONCE], s0)  # fmt: skip


@jit
def _route(w: World, track: int, sink: int, s0: int) -> None:
    """Engine._sink: what sounded on the old sink ends there; the stems' notes start afresh
    on the new one, and live notes end where they sound."""
    if w.sink[track] == sink:
        return
    for k in range(LIVE_SLOTS):
        if w.live.regs[k, midi_in.TRACK] == track:
            midi_in.release_all(live_input(w.live, k), s0, w.events)
    ev = w.events
    if w.sink[track] == VOICES:
        kv.dispatch(w.voices, ev, w.use_voices)  # what the live inputs released, first
        kv.release_track(w.voices, s0, track)
        kv.bend(w.voices, s0, track, 0.0)
    else:
        for k in range(ev.count[0]):
            if ev.i[k, kev.TRACK] == track:
                midi_out.play_event(out_track(w.outs, track), w.clock, ev, k)
        midi_out.all_off(out_track(w.outs, track), w.clock, s0)
    kev.clear(ev)
    ps = w.players
    pl.forget_notes(ps, track)
    w.sink[track] = sink
    w.use_voices[track] = sink == VOICES
    ps.hardware[track] = sink == HARDWARE


@jit
def _live(w: World, slot: int, track: int, on: bool, s0: int) -> None:
    """Live input `slot` starts playing `track` (Python prepared the slot while it was free),
    or ends its notes and falls free."""
    if not 0 <= slot < LIVE_SLOTS:
        w.players.reg[pl.FAULTS] += 1
        return
    regs = w.live.regs[slot]
    if on:
        regs[midi_in.TRACK] = track
    elif regs[midi_in.TRACK] >= 0:
        midi_in.release_all(live_input(w.live, slot), s0, w.events)
        regs[midi_in.TRACK] = -1


@jit
def _input(
    w: World, row: int, kind: int, left: int, right: int, loop: int, frames: int,
    monitor: int, s0: int,
) -> None:  # fmt: skip
    """Input `row` is fed from device channels `left`, `right`, from the loop at address
    `loop` (`frames` long, playing from this block on), or from nothing."""
    st = w.inputs
    if not 0 <= row < st.kind.shape[0]:
        w.players.reg[pl.FAULTS] += 1
        return
    st.kind[row] = kind
    st.left[row] = left
    st.right[row] = right
    st.loop_addr[row] = loop
    st.loop_len[row] = frames
    st.loop_start[row] = s0
    st.monitor[row] = monitor
