"""The whole compiled core: every state the audio callback needs, and `process`, one pass of
musical time per host block, without the GIL.

`World` gathers the parts' states (players and their commands, the synth voices, the mixer
and limiter, the recorder's tap, the block clock, live MIDI inputs, tracks that play MIDI
outputs, SoundFont voices, MIDI clock out's paths, live audio inputs). What comes and goes
while the engine plays (a keyboard, a MIDI output port, a SoundFont, a clock port) lives in
fixed slots: the PortAudio callback holds the world's addresses for the engine's life.
`process` is what kernel.callback's generated PortAudio callback calls, and what the
offline driver calls from Python, so the two render the same bits.

One block, in the Python core's order (engine.core's docstring has the rules):
  1. the clock stamps the host block (live notes and MIDI out are placed by it), and each
     clock-out path is told where the host block is (kernel.clock_out);
  2. commands sent before the block apply (player commands, mixes, routing changes);
  3. live MIDI inputs, then the players, append their note events;
  4. each event goes to its track's sink: the synth voices, a SoundFont voice or a MIDI
     output;
  5. the voices, then the SoundFont voices (in the order they came), render into the track
     buffers; live audio inputs are added (a model's return row reads its return ring);
  6. guard, gains, sum (the tracks but the return rows delayed when compensation is on),
     limiter, meters; the recorder's tap; the input ring.
A host block longer than `max_block` is rendered in parts, as the Python core did.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hoot.engine.core import FADE
from hoot.engine.fluid import EVENTS
from hoot.engine.inputs import OFF, RETURN, InputState, render_inputs
from hoot.engine.kernel import clock as kclock
from hoot.engine.kernel import clock_out as kco
from hoot.engine.kernel import commands as cm
from hoot.engine.kernel import events as kev
from hoot.engine.kernel import fluid, midi_in, midi_out
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

VOICES, HARDWARE, FONT = 0, 1, 2
"""`World.sink`: where a track's notes go: the synth voices, a MIDI output, or the track's
SoundFont voice (its slot in `World.font_of`)."""

SINK, LIVE, INPUT, SYNTH, COMPENSATE = 16, 17, 18, 19, 20
"""Command records beyond the players' (kernel.commands hands them on): route a track's
notes (TRACK; SLOT = HARDWARE with SAMPLE its port slot, QUANTUM its channel and the float
BEAT column its shift, or VOICES: back to the track's synth), start or end a live input
slot (SLOT; TRACK; SAMPLE = 1 on, 0 off), feed a live audio input row (kernel.front.INPUT
says how), play a track on a SoundFont slot (TRACK; SLOT, -1: the synth voices), delay
every track but the models' return rows by SAMPLE frames (kernel.mix.set_compensation)."""

LIVE_SLOTS = 8
"""Live MIDI inputs playing at once (keyboards, pads, a wind controller)."""

PORT_SLOTS = 8
"""MIDI output ports the tracks play at once (each a ring its MidiSender reads); a rig of
more than eight hardware synths on separate ports is beyond a laptop set."""

FONT_SLOTS = 8
"""SoundFont voices at once: six tracks' each, and room for the old one of a track that
fades out (FADE frames) while its new one starts."""

CLOCK_SLOTS = 8
"""MIDI clock-out paths at once: the performer's port and the controllers' feeds."""

RTMIDI, JACK = 1, 2
"""`ClockTable.kind`: a slot's path (0: the slot is free)."""


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
    """The MIDI output ports' rings (kernel.midi_out.OutRing's arrays with a leading port
    slot axis; a port's MidiSender reads its row) and each track's port slot, channel and
    shift (kernel.midi_out.OutTrack's settings)."""

    due: np.ndarray  # float64 (PORT_SLOTS, RING)
    message: np.ndarray  # int64 (PORT_SLOTS, RING, 3)
    index: np.ndarray  # int64 (PORT_SLOTS, 3)
    port: np.ndarray  # int64 (T,): the track's port slot, -1 none
    channel: np.ndarray  # int64 (T,)
    shift: np.ndarray  # float64 (T,)


class FontTable(NamedTuple):
    """The SoundFont voices' states, one row a slot (kernel.fluid.FontVoice's arrays with a
    leading slot axis), and the order they render in: the order they came, as the Python
    core's `fonts` tuple. A slot whose `busy` is 0 is free (its synth may be gone)."""

    regs: np.ndarray  # int64 (FONT_SLOTS, 8)
    functions: np.ndarray  # int64 (FONT_SLOTS, 5)
    at: np.ndarray  # int64 (FONT_SLOTS, EVENTS)
    kind: np.ndarray  # int64 (FONT_SLOTS, EVENTS)
    a: np.ndarray  # int64 (FONT_SLOTS, EVENTS)
    b: np.ndarray  # int64 (FONT_SLOTS, EVENTS)
    out: np.ndarray  # float32 (FONT_SLOTS, max_block, 2)
    fade: np.ndarray  # float32 (FADE,)
    busy: np.ndarray  # int64 (FONT_SLOTS,): 1 while the core renders the slot
    order: np.ndarray  # int64 (FONT_SLOTS + 1,): busy slots in render order; [-1] how many


class ClockTable(NamedTuple):
    """MIDI clock out's paths (kernel.clock_out.BlockRing's arrays with a leading slot axis),
    what each is (`kind`: RTMIDI, JACK, 0 free) and, for JACK, kernel.clock_out.jack_client's
    two addresses."""

    s0: np.ndarray  # int64 (CLOCK_SLOTS, RING)
    n: np.ndarray  # int64 (CLOCK_SLOTS, RING)
    origin: np.ndarray  # float64 (CLOCK_SLOTS, RING)
    frame: np.ndarray  # int64 (CLOCK_SLOTS, RING)
    index: np.ndarray  # int64 (CLOCK_SLOTS, 3)
    kind: np.ndarray  # int64 (CLOCK_SLOTS,)
    jack: np.ndarray  # int64 (CLOCK_SLOTS, 2)


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
        np.zeros((PORT_SLOTS, ring), np.float64),
        np.zeros((PORT_SLOTS, ring, 3), np.int64),
        np.zeros((PORT_SLOTS, 3), np.int64),
        np.full(tracks, -1, np.int64),
        np.zeros(tracks, np.int64),
        np.zeros(tracks, np.float64),
    )


def make_font_table(max_block: int) -> FontTable:
    regs = np.zeros((FONT_SLOTS, 8), np.int64)
    regs[:, fluid.FADE_FROM], regs[:, fluid.HUSHED], regs[:, fluid.TRACK] = -1, 1, -1
    fade = (0.5 * (1 + np.cos(np.linspace(0, np.pi, FADE + 1)[1:]))).astype(np.float32)
    return FontTable(
        regs,
        np.zeros((FONT_SLOTS, 5), np.int64),
        *(np.zeros((FONT_SLOTS, EVENTS), np.int64) for _ in range(4)),
        np.zeros((FONT_SLOTS, max_block, 2), np.float32),
        fade,
        np.zeros(FONT_SLOTS, np.int64),
        np.zeros(FONT_SLOTS + 1, np.int64),
    )


def make_clock_table(ring: int = kco.RING) -> ClockTable:
    return ClockTable(
        np.zeros((CLOCK_SLOTS, ring), np.int64),
        np.zeros((CLOCK_SLOTS, ring), np.int64),
        np.zeros((CLOCK_SLOTS, ring), np.float64),
        np.zeros((CLOCK_SLOTS, ring), np.int64),
        np.zeros((CLOCK_SLOTS, 3), np.int64),
        np.zeros(CLOCK_SLOTS, np.int64),
        np.zeros((CLOCK_SLOTS, 2), np.int64),
    )


@jit
def live_input(t: LiveTable, k: int) -> midi_in.LiveInput:
    """Slot `k` as the LiveInput kernel.midi_in works on (views: nothing is copied)."""
    return midi_in.LiveInput(
        t.arrived[k], t.message[k], t.index[k], t.held[k], t.sustained[k], t.regs[k]
    )


@jit
def out_ring(t: OutTable, port: int) -> midi_out.OutRing:
    """Port slot `port`'s ring (views)."""
    return midi_out.OutRing(t.due[port], t.message[port], t.index[port])


@jit
def out_track(t: OutTable, track: int) -> midi_out.OutTrack:
    """Track `track`'s OutTrack (views): its port's ring, its channel and shift."""
    return midi_out.OutTrack(
        out_ring(t, t.port[track]),
        t.channel[track : track + 1],
        t.shift[track : track + 1],
    )


@jit
def font_voice(t: FontTable, k: int) -> fluid.FontVoice:
    """Font slot `k` as the FontVoice kernel.fluid works on (views)."""
    return fluid.FontVoice(
        t.regs[k], t.functions[k], t.at[k], t.kind[k], t.a[k], t.b[k], t.out[k], t.fade
    )


@jit
def clock_ring(t: ClockTable, k: int) -> kco.BlockRing:
    """Clock slot `k`'s ring (views)."""
    return kco.BlockRing(t.s0[k], t.n[k], t.origin[k], t.frame[k], t.index[k])


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
    sink: np.ndarray  # int64 (T,): VOICES, HARDWARE or FONT
    use_voices: np.ndarray  # bool (T,): sink == VOICES
    live: LiveTable
    outs: OutTable
    fonts: FontTable
    font_of: np.ndarray  # int64 (T,): the track's synth: a font slot, or -1 (the voices)
    clocks: ClockTable
    stamps: np.ndarray  # float64 (2,): [1, now] to stamp host blocks at `now` (a host that
    # knows when its blocks begin: tests, offline renders), [0, _] to read the clock
    inputs: InputState  # the live input rows' sources
    in_ring: Ring  # every input block, for other processes (a stand-in when RING_ON is 0)
    probe: ProbeState  # the round-trip measurement


@jit
def process(w: World, inp: np.ndarray, out: np.ndarray, frames: int, in_channels: int) -> None:
    """Render the next `frames` frames into `out` (frames x 2 float32). REAL-TIME."""
    regs = w.regs
    if w.stamps[0] != 0:
        kclock.stamp_at(w.clock, regs[POSITION], frames, w.stamps[1])
    else:
        kclock.stamp(w.clock, regs[POSITION], frames)
    _publish_clocks(w.clocks, w.clock, regs[POSITION], frames)
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
    # A call that takes the whole world copies every array's descriptor (about a
    # microsecond): the parts called every block are asked only when they have work.
    kev.clear(w.events)
    if w.ring.at[cm.READ] < w.ring.at[cm.WRITE]:
        _take_commands(w, s0)
    for k in range(LIVE_SLOTS):
        if w.live.regs[k, midi_in.TRACK] >= 0:
            midi_in.live_block(live_input(w.live, k), w.clock, s0, n, w.events)
    T = w.regs[TRACKS]
    tb = w.tracks[: T * n * 2].reshape((T, n, 2))
    tb[:] = 0
    pl.play(w.players, w.stems, w.maps, s0, n, tb, w.events)
    if w.events.count[0] > 0:
        _flush(w)
    kv.render(w.voices, s0, n, tb)
    if w.fonts.order[FONT_SLOTS] > 0:
        _render_fonts(w, s0, n, tb)
    G = w.regs[GENERATED]
    if G < T:
        rows = tb[G:]
        render_inputs(w.inputs, inp, s0, n, rows)
        if w.regs[RING_ON]:
            write_block(w.in_ring, rows, s0, n)
        for r in range(T - G):
            heard = w.inputs.kind[r] != OFF and w.inputs.monitor[r] != 0
            w.mix.to_master[G + r] = 1 if heard else 0
            w.mix.direct[G + r] = 1 if w.inputs.kind[r] == RETURN else 0
    kmix.mix_block(w.mix, tb, out, s0, n)
    probe_block(w.probe, out, inp, s0, n)
    tap(w.tap, out, tb, n)


@jit
def _publish_clocks(t: ClockTable, clock: kclock.Clock, s0: int, frames: int) -> None:
    """Tell each clock-out path where host block [s0, s0 + frames) is, after the stamp."""
    for k in range(CLOCK_SLOTS):
        kind = t.kind[k]
        if kind == RTMIDI:
            kco.publish_clock(clock_ring(t, k), clock, s0, frames)
        elif kind == JACK:
            kco.publish_jack(clock_ring(t, k), t.jack[k], s0, frames)


@jit
def _flush(w: World) -> None:
    """Every event appended so far goes to its track's sink, in order; then none is left.
    A SILENCE of every track (panic) fades every SoundFont voice out, as Engine._panic."""
    ev = w.events
    kv.dispatch(w.voices, ev, w.use_voices)
    fonts = w.fonts
    for k in range(ev.count[0]):
        track = ev.i[k, kev.TRACK]
        if track == -1 and ev.i[k, kev.KIND] == kev.SILENCE:
            for f in range(FONT_SLOTS):
                if fonts.busy[f]:
                    fluid.all_off(font_voice(fonts, f), ev.i[k, kev.SAMPLE])
        elif 0 <= track < w.sink.shape[0]:
            sink = w.sink[track]
            if sink == HARDWARE:
                midi_out.play_event(out_track(w.outs, track), w.clock, ev, k)
            elif sink == FONT:
                fluid.play_event(font_voice(fonts, w.font_of[track]), ev, k)
    kev.clear(ev)


@jit
def _render_fonts(w: World, s0: int, n: int, tb: np.ndarray) -> None:
    """Each busy SoundFont voice renders into its track, in the order they came; one that is
    no track's synth and has faded out falls free (Engine's graveyard took it)."""
    fonts = w.fonts
    count = fonts.order[FONT_SLOTS]
    kept = 0
    for j in range(count):
        f = fonts.order[j]
        fv = font_voice(fonts, f)
        track = fv.regs[fluid.TRACK]
        if 0 <= track < tb.shape[0]:
            fluid.render(fv, s0, n, tb[track])
        else:
            w.players.reg[pl.FAULTS] += 1
        used = False
        for t in range(w.font_of.shape[0]):
            if w.font_of[t] == f:
                used = True
        if fv.regs[fluid.FADE_FROM] < 0 and not used:
            fonts.busy[f] = 0
        else:
            fonts.order[kept] = f
            kept += 1
    fonts.order[FONT_SLOTS] = kept


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
            _sink(w, r[cm.TRACK], r[cm.SLOT], r[cm.SAMPLE], r[cm.QUANTUM], f[cm.BEAT], s0)
        elif kind == SYNTH:
            _synth(w, r[cm.TRACK], r[cm.SLOT], s0)
        elif kind == LIVE:
            _live(w, r[cm.SLOT], r[cm.TRACK], r[cm.SAMPLE] != 0, s0)
        elif kind == COMPENSATE:
            kmix.set_compensation(w.mix, r[cm.SAMPLE])
        elif kind == INPUT:
            _input(w, r[cm.TRACK], r[cm.SLOT], r[cm.SAMPLE], r[cm.QUANTUM], r[cm.NAME],
                   r[cm.BUFFER], r[cm.AT_ONCE], s0)  # fmt: skip


@jit
def _sink(w: World, track: int, kind: int, port: int, channel: int, shift: float, s0: int) -> None:
    """A SINK record: `track` plays port slot `port` on `channel` (HARDWARE), or its synth
    again (VOICES: the voices, or its SoundFont)."""
    if not 0 <= track < w.sink.shape[0] or (
        kind == HARDWARE and not (0 <= port < PORT_SLOTS and 0 <= channel < 16)
    ):
        w.players.reg[pl.FAULTS] += 1
        return
    if kind == HARDWARE:
        _route(w, track, HARDWARE, s0)
        w.outs.port[track] = port
        w.outs.channel[track] = channel
        w.outs.shift[track] = shift
    else:
        _route(w, track, FONT if w.font_of[track] >= 0 else VOICES, s0)


@jit
def _synth(w: World, track: int, slot: int, s0: int) -> None:
    """Engine._synth: `track`'s synth is font slot `slot` (Python filled it while it was
    free), or the voices (-1). What sounded on the old synth ends there (a fade)."""
    if not (0 <= track < w.sink.shape[0] and -1 <= slot < FONT_SLOTS):
        w.players.reg[pl.FAULTS] += 1
        return
    old = w.font_of[track]
    if old == slot:
        return
    fonts = w.fonts
    if slot >= 0 and not fonts.busy[slot]:
        fonts.busy[slot] = 1
        fonts.order[fonts.order[FONT_SLOTS]] = slot
        fonts.order[FONT_SLOTS] += 1
    if w.sink[track] != HARDWARE:
        _route(w, track, FONT if slot >= 0 else VOICES, s0, slot)
    elif old >= 0:
        fluid.all_off(font_voice(fonts, old), s0)
    w.font_of[track] = slot


@jit
def _route(w: World, track: int, sink: int, s0: int, font: int = -2) -> None:
    """Engine._sink: what sounded on the old sink ends there; the stems' notes start afresh
    on the new one, and live notes end where they sound. `font`: the new SoundFont slot when
    the track's synth changes with it (else the track's own, `font_of`)."""
    old = w.sink[track]
    if font == -2:
        font = w.font_of[track]
    if old == sink and sink != HARDWARE and (sink == VOICES or w.font_of[track] == font):
        return  # the same synth (a new MIDI output is another sink, even on one port)
    for k in range(LIVE_SLOTS):
        if w.live.regs[k, midi_in.TRACK] == track:
            midi_in.release_all(live_input(w.live, k), s0, w.events)
    _flush(w)  # what was sent before, and the live notes' ends, to the old sink
    if old == VOICES:
        kv.release_track(w.voices, s0, track)
        kv.bend(w.voices, s0, track, 0.0)
    elif old == HARDWARE:
        midi_out.all_off(out_track(w.outs, track), w.clock, s0)
    else:
        fluid.all_off(font_voice(w.fonts, w.font_of[track]), s0)
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
