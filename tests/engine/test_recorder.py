"""Tests for hoot.engine.recorder: exact capture, crash safety and header repair.

Everything here writes real files in tmp_path and reads them back with
soundfile. The crash test kills a recording subprocess with SIGKILL.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hoot.engine import recorder
from hoot.engine.recorder import (
    Recorder,
    RecorderProcess,
    _open_wav,
    _update_header,
    repair,
    repair_folder,
)
from hoot.errors import HootError
from tests.waiting import PATIENCE, wait_until

SR = 48000
PERIOD = 1 << 20  # ramp period: k / 2**20 is exact in float32 for every k below it
REPO = Path(__file__).resolve().parents[2]
GIB4 = 1 << 32

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL and sparse files")


def ramp(start: int, frames: int, voice: int) -> np.ndarray:
    """Frames start..start+frames of a stereo test signal, distinct for each voice.

    Voice 0 is the master, voice 1 + i is track i. Every sample is a function of
    its absolute frame index, so any dropped, repeated or shifted frame shows.
    """
    k = (np.arange(start, start + frames) + 7919 * voice) % PERIOD
    left = k / PERIOD
    return np.stack([left, -left], axis=1).astype(np.float32)


def fill_block(master: np.ndarray, tracks: np.ndarray, start: int, frames: int) -> None:
    """Write frames start..start+frames of every voice into the engine-style buffers."""
    master[:frames] = ramp(start, frames, 0)
    for i in range(tracks.shape[0]):
        tracks[i, :frames] = ramp(start, frames, 1 + i)


def record(rec: Recorder, sizes: list[int], drain_every: int = 3) -> int:
    """Tap blocks of the given sizes through engine-sized buffers; return frames tapped."""
    master = np.full((rec.max_block, 2), np.nan, np.float32)  # junk past `frames`
    tracks = np.full((rec.n_tracks, rec.max_block, 2), np.nan, np.float32)
    done = 0
    for i, frames in enumerate(sizes):
        master.fill(np.nan)
        tracks.fill(np.nan)
        fill_block(master, tracks, done, frames)
        rec.tap(master, tracks, frames)
        done += frames
        if i % drain_every == drain_every - 1:
            rec.drain()
    return done


# 1. exact capture -------------------------------------------------------------------


def test_master_and_tracks_are_recorded_exactly(tmp_path: Path) -> None:
    # A ring of 12000 frames, so the blocks wrap around it many times.
    rec = Recorder(SR, 3, ["drums", "bass", "keys"], max_block=4096, ring_seconds=0.25)
    paths = rec.start(tmp_path / "takes", name="take", tracks=True)
    assert [p.name for p in paths] == [
        "take-master.wav",
        "take-drums.wav",
        "take-bass.wav",
        "take-keys.wav",
    ]
    assert rec.recording and rec.paths == paths
    sizes = [1, 7, 64, 500, 4096, 333, 2048, 31, 1024] * 8
    total = record(rec, sizes)
    assert rec.stop() == paths
    assert not rec.recording and rec.paths == []
    assert rec.dropped_frames == 0 and rec.faults == 0
    assert rec.frames_written == total

    for voice, path in enumerate(paths):
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.subtype) == (SR, 2, "FLOAT")
        assert info.format == "WAVEX"  # a plain RIFF/WAVE file, not RF64, below 4 GiB
        data, _ = sf.read(str(path), dtype="float32")
        assert data.shape == (total, 2)
        assert np.array_equal(data, ramp(0, total, voice)), f"{path.name} differs from the input"
    assert repair_folder(tmp_path) == []


def test_master_only_unless_tracks_are_asked_for(tmp_path: Path) -> None:
    rec = Recorder(SR, 2, ["a", "b"], max_block=512)
    paths = rec.start(tmp_path, name="solo")
    assert [p.name for p in paths] == ["solo-master.wav"]
    total = record(rec, [512, 100, 256] * 5)
    rec.stop()
    data, _ = sf.read(str(paths[0]), dtype="float32")
    assert np.array_equal(data, ramp(0, total, 0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["solo-master.wav"]


def test_names_never_overwrite_and_are_safe(tmp_path: Path) -> None:
    rec = Recorder(SR, 3, ["lead/vox", "master", "lead vox"], max_block=256)
    first = rec.start(tmp_path, name="gig", tracks=True)
    record(rec, [256])
    rec.stop()
    before = [p.read_bytes() for p in first]
    second = rec.start(tmp_path, name="gig", tracks=True)
    rec.stop()
    assert [p.name for p in first] == [
        "gig-master.wav",
        "gig-lead_vox.wav",
        "gig-master-2.wav",
        "gig-lead_vox-2.wav",
    ]
    assert [p.name for p in second] == [
        "gig-2-master.wav",
        "gig-2-lead_vox.wav",
        "gig-2-master-2.wav",
        "gig-2-lead_vox-2.wav",
    ]
    assert [p.read_bytes() for p in first] == before

    # a model's track is named after the input it transforms ("trombone~"): its own file
    models = Recorder(SR, 3, ["trombone", "trombone~", "keys~echo"], max_block=256)
    named = models.start(tmp_path, name="set", tracks=True)
    models.stop()
    assert [p.name for p in named] == [
        "set-master.wav", "set-trombone.wav", "set-trombone~.wav", "set-keys~echo.wav"
    ]

    default = rec.start(tmp_path)
    rec.stop()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-master\.wav", default[0].name)


# 2. crash safety ---------------------------------------------------------------------

CRASH_SCRIPT = """
import sys, time
import numpy as np
from hoot.engine import recorder
from hoot.engine.recorder import Recorder
from tests.engine.test_recorder import SR, fill_block

block = 256
rec = Recorder(SR, 2, ["a", "b"], max_block=block)
rec.start(sys.argv[1], name="crash", tracks=True)
rec.start_writer(interval=0.05)
master = np.zeros((block, 2), np.float32)
tracks = np.zeros((2, block, 2), np.float32)
t0 = time.monotonic()
done = reported = 0
while True:
    # Tap in real time, as the audio callback would.
    due = int((time.monotonic() - t0) * SR)
    while done + block <= due:
        fill_block(master, tracks, done, block)
        rec.tap(master, tracks, block)
        done += block
    if done - reported >= SR // 50:
        print(done, flush=True)
        reported = done
    time.sleep(0.002)
"""


def _data_offset(path: Path) -> int:
    """Where the audio starts in a WAV written by the recorder."""
    with path.open("rb") as fh:
        return fh.read(4096).index(b"data") + 8


@posix_only
def test_kill_minus_9_loses_at_most_a_second_and_repair_recovers_the_rest(
    tmp_path: Path, report
) -> None:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    recorded = 0
    deadline = time.monotonic() + PATIENCE
    try:
        while recorded < 3 * SR:
            line = proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                pytest.fail(f"the recording process stopped early: {proc.stderr.read()}")
            recorded = int(line)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    recorded = max([recorded, *(int(x) for x in out.split())])
    assert proc.returncode == -signal.SIGKILL

    for voice, label in enumerate(["master", "a", "b"]):
        path = tmp_path / f"crash-{label}.wav"
        on_disk = (path.stat().st_size - _data_offset(path)) // 8
        plain, _ = sf.read(str(path), dtype="float32")  # no repair
        figures = (
            f"{label}: {recorded / SR:.3f} s recorded, {on_disk / SR:.3f} s on disk, "
            f"{len(plain) / SR:.3f} s readable before repair"
        )
        if voice == 0:
            report(figures)
        # The headers trail what the writer wrote by their half-second period at most: the
        # second the test name promises. What the writer had not yet taken from the ring at
        # the kill depends on how busy the machine is: reported, and only bounded by the
        # writer having written while recording (a second of the three, at least).
        assert len(plain) >= on_disk - 1.2 * SR, figures
        assert on_disk >= SR, figures
        assert np.array_equal(plain, ramp(0, len(plain), voice)), figures

        repair(path)
        fixed, _ = sf.read(str(path), dtype="float32")
        figures += f", {len(fixed) / SR:.3f} s after repair"
        # Not compared with `recorded`: what was still in the ring at the kill
        # never reached the disk, and on a loaded machine that can be a while.
        assert len(fixed) == on_disk >= len(plain), figures
        assert np.array_equal(fixed, ramp(0, len(fixed), voice)), figures
        assert not repair(path), figures


def test_writer_thread_updates_headers_while_recording(tmp_path: Path) -> None:
    rec = Recorder(SR, 1, ["t"], max_block=1024)
    rec.start_writer(interval=0.01)
    [path] = rec.start(tmp_path, name="live")
    total = record(rec, [1024] * 20, drain_every=10**9)  # only the writer drains
    assert wait_until(lambda: sf.info(str(path)).frames >= total), "the header stayed behind"
    assert sf.info(str(path)).frames == total
    assert rec.recording
    total += record(rec, [1000] * 3, drain_every=10**9)
    rec.close()
    assert rec._writer is None and not rec.recording
    data, _ = sf.read(str(path), dtype="float32")
    assert len(data) == total


def test_crash_snapshot_is_readable_and_repairable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder, "_HEADER_PERIOD", 1e9)  # drain() must not update headers
    # Copying a file that is still open is what the disk holds if the process dies now.
    rec = Recorder(SR, 0, [], max_block=1024)
    [path] = rec.start(tmp_path / "rec", name="snap")
    crashed = tmp_path / "crashed.wav"

    shutil.copy(path, crashed)  # before any audio: an empty but valid WAV
    assert sf.info(str(crashed)).frames == 0
    assert not repair(crashed)

    record(rec, [1024] * 10, drain_every=1)  # drained, header never updated
    shutil.copy(path, crashed)
    assert sf.info(str(crashed)).frames == 0
    assert repair(crashed)
    data, _ = sf.read(str(crashed), dtype="float32")
    assert np.array_equal(data, ramp(0, 10240, 0))

    # A torn last frame is cut off rather than read as audio.
    shutil.copy(path, crashed)
    with crashed.open("ab") as fh:
        fh.write(b"\x01\x02\x03")
    assert repair(crashed)
    assert crashed.stat().st_size == path.stat().st_size
    assert sf.info(str(crashed)).frames == 10240
    rec.stop()


# 3. repair leaves good files alone ----------------------------------------------------


def test_repair_leaves_good_files_untouched(tmp_path: Path) -> None:
    rec = Recorder(SR, 0, [], max_block=512)
    [ours] = rec.start(tmp_path, name="good")
    record(rec, [512, 3, 77])
    rec.stop()

    pcm = tmp_path / "pcm8.wav"
    sf.write(str(pcm), np.zeros((1001, 1)), 44100, subtype="PCM_U8")  # odd-sized data chunk
    rf64 = tmp_path / "real.wav"
    sf.write(str(rf64), ramp(0, 999, 0), SR, subtype="FLOAT", format="RF64")
    trailer = tmp_path / "trailer.wav"
    sf.write(str(trailer), ramp(0, 100, 0), SR, subtype="FLOAT", format="WAV")
    with sf.SoundFile(str(trailer), "r+") as f:  # libsndfile puts LIST/INFO after the data
        f.title = "chunks after the audio"

    for path in (ours, pcm, rf64, trailer):
        before = path.read_bytes()
        mtime = path.stat().st_mtime_ns
        assert not repair(path), path.name
        assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime, path.name
    assert repair_folder(tmp_path) == []


def test_repair_rejects_files_that_are_not_wav(tmp_path: Path) -> None:
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio")
    flac = tmp_path / "song.wav"
    sf.write(str(flac), np.zeros(100), SR, format="FLAC")
    empty = tmp_path / "empty.wav"
    empty.touch()
    for path in (text, flac, empty):
        with pytest.raises(HootError, match="not a WAV"):
            repair(path)
    with pytest.raises(HootError):
        repair(tmp_path / "missing.wav")
    assert repair_folder(tmp_path) == []  # skipped, not fatal


# 4. ring overflow ---------------------------------------------------------------------


def test_ring_overflow_drops_blocks_and_recovers(tmp_path: Path) -> None:
    rec = Recorder(SR, 1, ["t"], max_block=1000, ring_seconds=0.0)  # ring of 2 blocks
    [master, track] = rec.start(tmp_path, name="over", tracks=True)
    record(rec, [1000] * 5, drain_every=10**9)
    assert rec.dropped_frames == 3000 and rec.faults == 0
    assert rec.drain() == 2000
    record(rec, [1000], drain_every=1)
    assert rec.dropped_frames == 3000
    rec.stop()
    assert rec.frames_written == 3000
    data, _ = sf.read(str(master), dtype="float32")
    # frames 0-1999 kept, 2000-4999 dropped, then the next block carried on
    expected = np.concatenate([ramp(0, 2000, 0), ramp(0, 1000, 0)])
    assert np.array_equal(data, expected)
    assert sf.info(str(track)).frames == 3000


def test_tap_never_raises(tmp_path: Path) -> None:
    rec = Recorder(SR, 2, ["a", "b"], max_block=64)
    rec.start(tmp_path, name="bad", tracks=True)
    rec.tap(np.zeros((10, 2), np.float32), np.zeros((2, 64, 2), np.float32), 64)  # too short
    rec.tap(np.zeros((64, 2), np.float32), np.zeros((3, 64, 2), np.float32), 64)  # 3 tracks
    rec.tap(None, None, 64)  # type: ignore[arg-type]
    assert rec.faults == 3
    assert rec.drain() == 0
    record(rec, [64])
    rec.stop()
    assert rec.frames_written == 64


# 5. idle behaviour --------------------------------------------------------------------


def test_idle_recorder(tmp_path: Path) -> None:
    rec = Recorder(SR, 1, ["t"], max_block=64)
    assert not rec.recording and rec.paths == []
    rec.tap(np.ones((64, 2), np.float32), np.ones((1, 64, 2), np.float32), 64)
    assert rec.drain() == 0 and rec.dropped_frames == 0 and rec.faults == 0
    assert rec.stop() == []
    rec.close()

    rec.start(tmp_path, name="once")
    with pytest.raises(HootError, match="Already recording"):
        rec.start(tmp_path, name="twice")
    assert len(rec.stop()) == 1
    assert rec.stop() == []


def test_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    rec = Recorder(SR, 0, [], max_block=64)
    with pytest.raises(HootError, match="Cannot record into"):
        rec.start(blocker / "takes")
    with pytest.raises(HootError, match="Cannot record into"):
        rec.start(blocker)
    assert not rec.recording


# 6. the header helper -----------------------------------------------------------------


def test_update_header_makes_written_frames_visible(tmp_path: Path) -> None:
    path = tmp_path / "h.wav"
    path.touch()
    f = _open_wav(path, SR)
    try:
        f.write(ramp(0, 777, 0))
        assert sf.info(str(path)).frames == 0  # the header still says empty
        _update_header(f)
        with sf.SoundFile(str(path)) as reader:
            assert reader.frames == 777
            assert np.array_equal(reader.read(dtype="float32"), ramp(0, 777, 0))
    finally:
        f.close()


# 7. past 4 GiB, without writing 4 GiB ---------------------------------------------------


def _sparse_extend(path: Path, size: int) -> None:
    """Grow `path` to `size` bytes of zeros without writing them (a hole)."""
    os.truncate(path, size)
    if path.stat().st_blocks * 512 > size // 2:
        path.unlink()
        pytest.skip("this filesystem does not support sparse files")


@posix_only
def test_libsndfile_switches_to_rf64_in_place_past_4gib(tmp_path: Path) -> None:
    path = tmp_path / "big.wav"
    path.touch()
    f = _open_wav(path, SR)
    try:
        f.write(ramp(0, 1000, 0))
        _update_header(f)
        offset = _data_offset(path)
        # Pretend the file grew past 4 GiB: libsndfile sizes the header from the file length.
        _sparse_extend(path, GIB4 + offset + 8 * 1000)
        _update_header(f)
        info = sf.info(str(path))
        assert info.format == "RF64"
        assert info.frames == (GIB4 + 8 * 1000) // 8
        assert _data_offset(path) == offset  # the audio did not move
        data, _ = sf.read(str(path), frames=1000, dtype="float32")
        assert np.array_equal(data, ramp(0, 1000, 0))
    finally:
        f.close()
        path.unlink()


@posix_only
def test_repair_converts_a_wav_that_crashed_past_4gib_to_rf64(tmp_path: Path) -> None:
    rec = Recorder(SR, 0, [], max_block=1024)
    [path] = rec.start(tmp_path, name="huge")
    record(rec, [1000], drain_every=1)
    rec._sync_headers()
    crashed = tmp_path / "crashed.wav"
    shutil.copy(path, crashed)
    rec.stop()
    offset = _data_offset(crashed)
    size = GIB4 + offset + 8 * 123  # the audio after the last header update reached the disk
    _sparse_extend(crashed, size)
    assert sf.info(str(crashed)).frames == 1000  # stale but readable WAV

    try:
        assert repair(crashed)
        info = sf.info(str(crashed))
        assert info.format == "RF64"
        assert info.frames == (size - offset) // 8
        assert crashed.stat().st_size == size
        data, _ = sf.read(str(crashed), frames=1000, dtype="float32")
        assert np.array_equal(data, ramp(0, 1000, 0))
        assert not repair(crashed)

        # More audio after an RF64 header update: repair sizes the ds64 chunk.
        _sparse_extend(crashed, size + 8 * 500 + 5)
        assert repair(crashed)
        assert sf.info(str(crashed)).frames == (size - offset) // 8 + 500
        assert crashed.stat().st_size == size + 8 * 500
    finally:
        crashed.unlink()


# 7. the writer process (the engine's recorder) -------------------------------------------


def ring_room(rec: Recorder) -> int:
    """Frames the ring can take now; the writer frees room as it drains."""
    return rec._capacity - (int(rec._pos[0]) - int(rec._pos[1]))


def record_in_real_time(rec: Recorder, sizes: list[int], pause: float = 0.004) -> int:
    """Tap blocks with pauses between them, as an audio thread would; frames tapped.

    A block waits, if need be, until the writer has made room for it in the ring: a writer
    held up by a busy machine must not turn a test of exact capture into one of overflow,
    which has its own test above.
    """
    master = np.zeros((rec.max_block, 2), np.float32)
    tracks = np.zeros((rec.n_tracks, rec.max_block, 2), np.float32)
    done = 0
    for frames in sizes:
        fill_block(master, tracks, done, frames)
        has_room = wait_until(lambda n=frames: ring_room(rec) >= n)
        assert has_room, "the writer stopped taking audio from the ring"
        rec.tap(master, tracks, frames)
        done += frames
        time.sleep(pause)
    return done


def test_the_writer_process_records_master_and_tracks_exactly(tmp_path: Path) -> None:
    # a 1 s ring, wrapped about four times over
    rec = RecorderProcess(SR, 2, ["drums", "bass"], max_block=2048, ring_seconds=1.0)
    try:
        rec.start_writer(interval=0.01)
        paths = rec.start(tmp_path, name="take", tracks=True)
        assert [p.name for p in paths] == ["take-master.wav", "take-drums.wav", "take-bass.wav"]
        assert rec.recording
        total = record_in_real_time(rec, [1, 7, 64, 500, 2048, 333, 1024, 31] * 50)
        assert rec.stop() == paths
        assert not rec.recording
        assert rec.dropped_frames == 0 and rec.faults == 0
        assert rec.frames_written == total
        for voice, path in enumerate(paths):
            data, _ = sf.read(str(path), dtype="float32")
            assert np.array_equal(data, ramp(0, total, voice)), f"{path.name} differs"
        assert repair_folder(tmp_path) == []
        # a second take through the same writer starts from its own first frame
        [again] = rec.start(tmp_path, name="take")
        assert again.name == "take-2-master.wav"
        second = record_in_real_time(rec, [512] * 20)
        rec.stop()
        data, _ = sf.read(str(again), dtype="float32")
        assert np.array_equal(data, ramp(0, second, 0))
    finally:
        rec.close()
    assert not rec.writer_alive


def test_the_writer_process_says_what_went_wrong_and_carries_on(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    rec = RecorderProcess(SR, 0, [], max_block=64)
    try:
        with pytest.raises(HootError, match="Cannot record into"):
            rec.start(blocker / "takes")  # starts the writer on demand, too
        assert not rec.recording
        [path] = rec.start(tmp_path, name="ok")
        record_in_real_time(rec, [64] * 10, pause=0)
        # the writer dies mid-take: stopping says so in a sentence...
        rec._child.kill()
        rec._child.wait()
        with pytest.raises(HootError, match="writer process has stopped"):
            rec.stop()
        assert not rec.recording
        # ...and the next take gets a new writer
        [path] = rec.start(tmp_path, name="after")
        total = record_in_real_time(rec, [64] * 10, pause=0)
        rec.stop()
        assert sf.info(str(path)).frames == total
    finally:
        rec.close()


ENGINE_CRASH_SCRIPT = """
import os, signal, sys
import numpy as np
from hoot.engine.recorder import RecorderProcess
from tests.engine.test_recorder import SR, fill_block

block = 256
rec = RecorderProcess(SR, 1, ["a"], max_block=block)
rec.start_writer(interval=0.05)
rec.start(sys.argv[1], name="crash", tracks=True)
master = np.zeros((block, 2), np.float32)
tracks = np.zeros((1, block, 2), np.float32)
done = 0
while done < 2 * SR:  # 2 s, tapped at once: the writer has not caught up at the kill
    fill_block(master, tracks, done, block)
    rec.tap(master, tracks, block)
    done += block
print(done, rec._child.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@posix_only
def test_an_engine_killed_mid_take_leaves_every_tapped_frame_on_disk(tmp_path: Path) -> None:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    )
    out = subprocess.run(
        [sys.executable, "-c", ENGINE_CRASH_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == -signal.SIGKILL, out.stderr
    tapped, writer = (int(x) for x in out.stdout.split())
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:  # the writer finishes on its own, then exits
        try:
            os.kill(writer, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the writer process did not finish after the engine died")
    for voice, label in enumerate(["master", "a"]):
        path = tmp_path / f"crash-{label}.wav"
        assert not repair(path), "closed properly: nothing to repair"
        data, _ = sf.read(str(path), dtype="float32")
        assert len(data) == tapped
        assert np.array_equal(data, ramp(0, tapped, voice))
    assert not list(Path("/dev/shm").glob("hoot-recorder-*")), "the shared ring has no name"
