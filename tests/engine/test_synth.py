"""VoicePool: exact timing, block-size invariance to the bit, and the voice lifecycle."""

from __future__ import annotations

import numpy as np
import pytest

from hoot.engine.synth import PATCHES, SILENCE_SECONDS, VoicePool

SR = 48000
SINE, SAW, SQUARE, PLUCK, PAD, BASS, DRUMS = (
    PATCHES.index(name) for name in ("sine", "saw", "square", "pluck", "pad", "bass", "drums")
)
FADE = round(SILENCE_SECONDS * SR) + 1  # silence() reaches exact zero this many samples on


def play(
    events: list[tuple],
    total: int,
    blocks: list[int] | int,
    n_tracks: int = 4,
    pool: VoicePool | None = None,
    **pool_args,
) -> tuple[np.ndarray, VoicePool]:
    """Run events through a pool as the engine does: per block, first the events that
    fall in the block (in list order), then render. An event is `(sample, method, *args)`
    and is given in the block holding `sample`; `("early", given_at, sample, method,
    *args)` is given ahead, in the block holding `given_at`."""
    pool = pool or VoicePool(SR, n_tracks, **pool_args)
    out = np.zeros((pool.n_tracks, total, 2), dtype=np.float32)
    sizes = [blocks] * (total // blocks + 1) if isinstance(blocks, int) else list(blocks)
    queue = sorted(
        ((e[1], i, e[2:]) if e[0] == "early" else (e[0], i, e) for i, e in enumerate(events)),
        key=lambda item: (item[0], item[1]),
    )
    s0 = 0
    for size in sizes:
        if s0 >= total:
            break
        frames = min(size, total - s0)
        while queue and queue[0][0] < s0 + frames:
            _, _, (sample, method, *args) = queue.pop(0)
            getattr(pool, method)(sample, *args)
        block = np.zeros((pool.n_tracks, frames, 2), dtype=np.float32)
        pool.render(s0, frames, block)
        out[:, s0 : s0 + frames] = block
        s0 += frames
    return out, pool


def first_sound(signal: np.ndarray) -> int:
    nonzero = np.flatnonzero(signal)
    return int(nonzero[0]) if len(nonzero) else -1


def last_sound(signal: np.ndarray) -> int:
    nonzero = np.flatnonzero(signal)
    return int(nonzero[-1]) if len(nonzero) else -1


def busy_evening() -> list[tuple]:
    """Notes of every timbre over four tracks, releases, stealing and silences."""
    rng = np.random.default_rng(7)
    events: list[tuple] = []
    for key in range(70):
        start = int(rng.integers(0, 70000))
        timbre = int(rng.integers(0, len(PATCHES)))
        pitch = (
            int(rng.choice([36, 38, 39, 42, 46, 50]))
            if timbre == DRUMS
            else int(rng.integers(24, 110))
        )
        track = int(rng.integers(0, 4))
        events.append((start, "note_on", track, pitch, int(rng.integers(1, 128)), timbre, key))
        if rng.random() < 0.8:
            events.append((start + int(rng.integers(1, 20000)), "note_off", key))
    # Some notes given blocks ahead of their sample, always in the first block.
    events.append(("early", 0, 30011, "note_on", 2, 64, 100, PAD, 1000))
    events.append(("early", 0, 52000, "note_off", 1000))
    events.append((41000, "release_track", 1))
    events.append((58003, "silence", 3))
    events.append((80000, "silence", None))
    events.append((80500, "note_on", 0, 60, 90, PLUCK, 2000))
    events.sort(key=lambda e: e[1] if e[0] == "early" else e[0])
    return events


# Block-size invariance ------------------------------------------------------------------


def test_output_is_bit_identical_for_any_block_size() -> None:
    events = busy_evening()
    total = 96000
    reference, pool = play(events, total, 64, max_voices=12)
    assert pool.faults == 0
    assert np.abs(reference).max() > 0.1
    rng = np.random.default_rng(3)
    for blocks in (256, 1000, 4096, list(rng.integers(1, 700, size=2000))):
        out, pool = play(events, total, blocks, max_voices=12)
        assert pool.faults == 0
        assert out.tobytes() == reference.tobytes(), f"blocks {str(blocks)[:40]} differ"


def test_blocks_longer_than_max_block_render_in_pieces() -> None:
    events = busy_evening()
    reference, _ = play(events, 60000, 100, max_voices=12, max_block=256)
    out, pool = play(events, 60000, 1500, max_voices=12, max_block=256)
    assert pool.faults == 0
    assert out.tobytes() == reference.tobytes()


# Timing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timbre", "pitch"),
    [(SINE, 69), (SAW, 40), (SQUARE, 100), (PLUCK, 52), (PAD, 127), (BASS, 0)]
    + [(DRUMS, pitch) for pitch in (35, 36, 38, 39, 40, 42, 44, 46, 50, 76)],
)
def test_note_lands_exactly_on_its_sample(timbre: int, pitch: int) -> None:
    onsets = [0, 1, 127, 128, 129, 255, 256 + 64, 1023, 1024, 1025, 3000]
    for onset in onsets:
        events = [(onset, "note_on", 1, pitch, 100, timbre, 5)]
        out, _ = play(events, onset + 400, 128)
        assert first_sound(out[1, :, 0]) == onset, (onset, PATCHES[timbre])
        assert not out[[0, 2, 3]].any()


def test_note_given_early_lands_on_its_sample() -> None:
    for onset in (130, 257, 1000):
        out, _ = play([("early", 0, onset, "note_on", 0, 60, 100, SAW, 1)], 2000, 128)
        assert first_sound(out[0, :, 0]) == onset


def test_every_pitch_of_every_timbre_starts_on_time() -> None:
    pool = VoicePool(SR, 1, max_voices=4)
    start = 0
    for timbre in range(len(PATCHES)):
        for pitch in range(128):
            out = np.zeros((1, 256, 2), dtype=np.float32)
            pool.note_on(start + 5, 0, pitch, 127, timbre, 1)
            pool.render(start, 256, out)
            assert first_sound(out[0, :, 0]) == 5, (PATCHES[timbre], pitch)
            pool.silence(start + 256)
            pool.render(start + 256, FADE + 10, np.zeros((1, FADE + 10, 2), np.float32))
            start += 256 + FADE + 10


# Lifecycle ------------------------------------------------------------------------------


def test_note_off_releases_and_frees_the_voice() -> None:
    events = [(100, "note_on", 0, 69, 127, SINE, 9), (24000, "note_off", 9)]
    out, pool = play(events, 48000, 256)
    signal = out[0, :, 0]
    assert np.abs(signal[23000:24000]).max() > 0.4
    assert 0 < np.abs(signal[24000:24100]).max() < 0.5
    # The 80 ms release fades to exact zero and the slot is free again.
    end = last_sound(signal)
    assert 24000 < end < 24000 + int(0.08 * SR) + 2
    assert pool.active == 0


def test_note_on_with_velocity_zero_is_a_note_off() -> None:
    events = [(0, "note_on", 0, 60, 100, SAW, 3), (1000, "note_on", 0, 60, 0, SAW, 3)]
    out, pool = play(events, 20000, 512)
    assert 1000 < last_sound(out[0, :, 0]) < 1000 + int(0.06 * SR) + 2
    assert pool.active == 0


def test_note_off_only_releases_its_key() -> None:
    events = [
        (0, "note_on", 0, 60, 100, SINE, 1),
        (0, "note_on", 1, 67, 100, SINE, 2),
        (2000, "note_off", 1),
    ]
    out, pool = play(events, 20000, 256)
    assert not out[0, 8000:].any()
    assert np.abs(out[1, 19000:]).max() > 0.1
    assert pool.active == 1


def test_release_track_releases_only_that_track() -> None:
    events = [
        (0, "note_on", 0, 60, 100, SAW, 1),
        (0, "note_on", 0, 64, 100, SAW, 2),
        (0, "note_on", 1, 67, 100, SAW, 3),
        # Set to start after the release: cancelled, never heard.
        ("early", 1000, 5000, "note_on", 0, 72, 100, SAW, 4),
        (1000, "release_track", 0),
    ]
    out, pool = play(events, 20000, 300)
    assert not out[0, 1000 + int(0.06 * SR) + 2 :].any()
    assert np.abs(out[1, 19000:]).max() > 0.1
    assert pool.active == 1


def test_pluck_and_drums_end_by_themselves() -> None:
    events = [
        (0, "note_on", 0, 76, 127, PLUCK, 1),
        (0, "note_on", 1, 36, 127, DRUMS, 2),
        (0, "note_on", 1, 46, 127, DRUMS, 3),
        (0, "note_on", 1, 60, 127, DRUMS, 4),  # not in the kit: a short tone
    ]
    out, pool = play(events, 3 * SR, 512)
    assert np.abs(out[:, :2000]).max() > 0.1
    assert last_sound(out[0, :, 0]) < int(1.5 * SR)
    assert last_sound(out[1, :, 0]) < SR
    assert pool.active == 0


def test_drum_hits_ignore_note_off() -> None:
    hit = [(0, "note_on", 0, 38, 110, DRUMS, 1)]
    ringing, _ = play(hit, 30000, 256)
    cut, _ = play([*hit, (50, "note_off", 1), (60, "release_track", 0)], 30000, 256)
    assert cut.tobytes() == ringing.tobytes()


def test_a_new_note_steals_the_oldest_voice() -> None:
    events = [(i * 10, "note_on", i, 60 + i, 100, SINE, i) for i in range(6)]
    out, pool = play(events, 8000, 128, n_tracks=6, max_voices=4)
    # Notes 4 and 5 took the places of notes 0 and 1, which faded out quickly.
    for stolen, by in ((0, 40), (1, 50)):
        assert 0 < last_sound(out[stolen, :, 0]) < by + FADE
    for kept in range(2, 6):
        assert np.abs(out[kept, 7000:]).max() > 0.1
    assert pool.active == 4


def test_stealing_prefers_a_released_voice() -> None:
    events = [(i * 10, "note_on", i, 60 + i, 100, PAD, i) for i in range(4)]
    events += [(1000, "note_off", 2), (1010, "note_on", 4, 70, 100, PAD, 4)]
    out, pool = play(events, 30000, 128, n_tracks=5, max_voices=4)
    assert 1000 < last_sound(out[2, :, 0]) < 1010 + FADE
    for kept in (0, 1, 3, 4):
        assert np.abs(out[kept, 29000:]).max() > 0.05
    assert pool.active == 4


def test_silence_fades_to_exact_zero_within_5_ms_and_frees_voices() -> None:
    events = [
        (0, "note_on", track, pitch, 127, timbre, key)
        for key, (track, pitch, timbre) in enumerate(
            [(0, 48, PAD), (0, 60, SAW), (1, 36, DRUMS), (1, 46, DRUMS), (2, 40, BASS)]
        )
    ]
    out, pool = play([*events, (10000, "silence", None)], 20000, 333)
    assert np.abs(out[:, 9900:10000]).max() > 0.01
    assert np.abs(out[:, 10000 : 10000 + FADE - 100]).max() > 0
    assert not out[:, 10000 + FADE :].any()
    assert FADE <= 0.0055 * SR
    assert pool.active == 0


def test_silence_on_one_track_leaves_the_others() -> None:
    events = [(0, "note_on", 0, 60, 100, SAW, 1), (0, "note_on", 1, 64, 100, SAW, 2)]
    out, pool = play([*events, (5000, "silence", 1)], 20000, 256)
    assert not out[1, 5000 + FADE :].any()
    assert np.abs(out[0, 19000:]).max() > 0.1
    assert pool.active == 1


def test_no_clicks_at_note_on_note_off_or_silence() -> None:
    # A 440 Hz sine at level 0.5 moves at most 0.5 * 2 pi 440 / SR per sample; the
    # attack, release and silence ramps may add their own (gentle) slope on top.
    events = [
        (1000, "note_on", 0, 69, 127, SINE, 1),
        (9000, "note_off", 1),
        (20000, "note_on", 0, 69, 127, SINE, 2),
        (30000, "silence", None),
    ]
    out, _ = play(events, 40000, 256)
    steepest = np.abs(np.diff(out[0, :, 0].astype(np.float64))).max()
    sine_slope = 0.5 * 2 * np.pi * 440 / SR
    fade_slope = 0.5 / (FADE - 1)
    assert steepest <= sine_slope + fade_slope + 1e-6


# Sound ----------------------------------------------------------------------------------


def test_each_timbre_peaks_at_or_below_minus_6_dbfs_and_velocity_scales() -> None:
    for timbre in range(len(PATCHES)):
        pitches = (35, 36, 38, 39, 42, 46, 60) if timbre == DRUMS else (24, 48, 69, 96, 120)
        for pitch in pitches:
            loud, _ = play([(0, "note_on", 0, pitch, 127, timbre, 1)], 24000, 1024)
            soft, _ = play([(0, "note_on", 0, pitch, 40, timbre, 1)], 24000, 1024)
            assert 0.05 < np.abs(loud).max() <= 0.5 + 1e-6, (PATCHES[timbre], pitch)
            assert np.abs(soft).max() < 0.5 * np.abs(loud).max()


def test_left_and_right_are_equal_and_render_adds() -> None:
    pool = VoicePool(SR, 2)
    pool.note_on(0, 1, 57, 100, SQUARE, 1)
    out = np.full((2, 512, 2), 0.25, dtype=np.float32)
    pool.render(0, 512, out)
    assert np.array_equal(out[..., 0], out[..., 1])
    assert np.all(out[0] == 0.25)
    assert np.abs(out[1] - 0.25).max() > 0.05


def test_render_into_a_larger_buffer_matches() -> None:
    # The engine may hand render a buffer longer than the block; only :frames is touched.
    events = [(10, "note_on", 0, 60, 100, PLUCK, 1), (40, "note_on", 2, 43, 100, BASS, 2)]
    exact, _ = play(events, 4096, 256, n_tracks=3)
    pool = VoicePool(SR, 3)
    for event in events:
        getattr(pool, event[1])(event[0], *event[2:])
    roomy = np.zeros((3, 4096, 2), dtype=np.float32)
    for s0 in range(0, 4096, 256):
        block = np.zeros((3, 1024, 2), dtype=np.float32)
        pool.render(s0, 256, block)
        assert not block[:, 256:].any()
        roomy[:, s0 : s0 + 256] = block[:, :256]
    assert roomy.tobytes() == exact.tobytes()


def test_routing_sends_each_voice_to_its_track_only() -> None:
    events = [(0, "note_on", 3, 50, 100, SAW, 1), (0, "note_on", 1, 62, 100, PLUCK, 2)]
    out, _ = play(events, 6000, 200, n_tracks=5)
    assert not out[[0, 2, 4]].any()
    alone_3, _ = play(events[:1], 6000, 200, n_tracks=5)
    alone_1, _ = play(events[1:], 6000, 200, n_tracks=5)
    assert np.array_equal(out[3], alone_3[3])
    assert np.array_equal(out[1], alone_1[1])


def test_pad_swells_slowly() -> None:
    out, _ = play([(0, "note_on", 0, 60, 127, PAD, 1)], SR, 512)
    signal = out[0, :, 0]
    early = np.abs(signal[: int(0.02 * SR)]).max()
    later = np.abs(signal[int(0.5 * SR) :]).max()
    assert early < 0.1 * later


def test_high_saw_is_band_limited() -> None:
    # A saw at pitch 100 (2637 Hz) has 9 harmonics below Nyquist; anything between them
    # would be aliasing.
    out, _ = play([(0, "note_on", 0, 100, 127, SAW, 1)], SR, 4096)
    signal = out[0, 4800:, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)))) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / SR)
    f0 = 440 * 2 ** ((100 - 69) / 12)
    harmonic = np.abs(freqs / f0 - np.round(freqs / f0)) * f0 < 30
    assert spectrum[~harmonic].sum() < 1e-4 * spectrum[harmonic].sum()


def test_never_produces_nan_or_inf() -> None:
    rng = np.random.default_rng(11)
    events = []
    for key in range(300):
        start = int(rng.integers(0, 40000))
        pitch = int(rng.choice([0, 1, 127, 126, int(rng.integers(0, 128))]))
        events.append(
            (
                start,
                "note_on",
                int(rng.integers(0, 4)),
                pitch,
                int(rng.integers(1, 128)),
                int(rng.integers(0, len(PATCHES))),
                key,
            )
        )
        events.append((start + int(rng.integers(1, 3000)), "note_off", key))
    events.sort(key=lambda e: e[0])
    out, pool = play(events, 50000, 257, max_voices=16)
    assert np.isfinite(out).all()
    assert pool.faults == 0
    assert np.abs(out).max() <= 0.5 * 16


# Robustness -----------------------------------------------------------------------------


def test_bad_events_and_buffers_are_counted_not_raised() -> None:
    pool = VoicePool(SR, 2)
    pool.note_on(0, 5, 60, 100, SAW, 1)  # no track 5
    pool.note_on(0, -1, 60, 100, SAW, 1)
    pool.note_on(0, 0, 60, 100, 99, 1)  # no timbre 99
    pool.note_on(0, 0, 60, 100, -1, 1)
    pool.note_on(0, 0, 200, 100, SAW, 1)  # no pitch 200
    pool.note_on(0, 0, 60, 100, SAW, "not a key")
    pool.note_off(0, None)
    pool.silence("soon")
    assert pool.faults == 8
    assert pool.active == 0
    assert pool.last_fault

    pool.note_on(0, 1, 60, 100, SAW, 1)
    faults = pool.faults
    pool.render(0, 256, np.zeros((1, 256, 2), np.float32))  # too few tracks
    pool.render(256, 256, None)
    pool.render(512, 256, np.zeros((2, 100, 2), np.float32))  # too few frames
    assert pool.faults == faults + 3

    out = np.zeros((2, 256, 2), np.float32)
    pool.render(768, 256, out)
    assert pool.faults == faults + 3
    assert np.abs(out[1]).max() > 0.05


def test_timbre_names() -> None:
    for name in ("sine", "saw", "square", "pluck", "pad", "bass", "drums"):
        assert name in PATCHES


# Pitch bend ----------------------------------------------------------------------------


def cycles_per_second(signal: np.ndarray) -> float:
    """The frequency of a steady tone, from its rising zero crossings."""
    rising = np.flatnonzero((signal[:-1] <= 0) & (signal[1:] > 0))
    return SR * (len(rising) - 1) / (rising[-1] - rising[0])


def test_a_bend_moves_the_pitch_two_semitones_and_the_wave_stays_continuous() -> None:
    events = [(0, "note_on", 0, 69, 100, SINE, 1), (24000, "bend", 0, 2.0)]
    out, pool = play(events, 48000, 128)
    assert pool.faults == 0
    before, after = out[0, 4800:23000, 0], out[0, 25000:47000, 0]
    assert cycles_per_second(before) == pytest.approx(440.0, rel=1e-3)
    assert cycles_per_second(after) == pytest.approx(440.0 * 2 ** (2 / 12), rel=1e-3)
    # continuous: no step at the bend larger than the steepest step of the wave itself
    steps = np.abs(np.diff(out[0, 23000:25000, 0]))
    assert steps.max() < 1.05 * np.abs(np.diff(after)).max()


def test_bends_are_bit_identical_at_any_block_size_and_spare_the_drums() -> None:
    glide = [(20000 + 37 * k, "bend", 1, 2.0 * k / 60) for k in range(61)]
    events = busy_evening() + glide + [(70001, "bend", 1, -1.5), (90000, "bend", 1, 0.0)]
    events.sort(key=lambda e: e[1] if e[0] == "early" else e[0])
    reference, pool = play(events, 96000, 64, max_voices=12)
    assert pool.faults == 0
    rng = np.random.default_rng(5)
    for blocks in (1000, 4096, list(rng.integers(1, 700, size=2000))):
        out, pool = play(events, 96000, blocks, max_voices=12)
        assert pool.faults == 0
        assert out.tobytes() == reference.tobytes(), f"blocks {str(blocks)[:40]} differ"
    kick = [(0, "note_on", 1, 36, 100, DRUMS, 1)]
    straight, _ = play(kick, 20000, 128)
    bent, _ = play(kick + [(100, "bend", 1, 2.0)], 20000, 128)
    assert bent.tobytes() == straight.tobytes()


def test_a_note_started_after_a_bend_plays_bent() -> None:
    out, _ = play([(0, "bend", 2, -2.0), (100, "note_on", 2, 69, 100, SINE, 1)], 24000, 256)
    assert cycles_per_second(out[2, 4800:, 0]) == pytest.approx(440 * 2 ** (-2 / 12), rel=1e-3)
