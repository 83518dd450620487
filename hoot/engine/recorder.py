"""Recording the master bus (and, on request, every track) to WAV files.

Two halves with different rules:

* `Recorder.tap` is REAL-TIME CODE. The engine calls it once per audio block on
  the callback thread, so it only copies the block into a preallocated ring
  buffer with numpy slice assignment: no allocation beyond small ints, no locks,
  no logging, no file I/O, and nothing raises out of it.
* Everything else runs on a control thread, the writer (a thread, or in the
  engine a child process: see `RecorderProcess`) or an offline renderer, and is
  written for clarity. `drain` moves whatever the ring holds into the files.

The ring is single-producer (tap) / single-consumer (drain). Both sides keep
running totals of frames rather than wrapped positions; the producer copies a
block in and only then publishes its new total, and the consumer writes the
frames out and only then publishes its own. Each total is one aligned 8-byte
store, which the other side (another thread, or another process sharing the
memory) sees whole; on x86-64 stores are also seen in program order, which is
all this needs. (Weaker memory orders, as on ARM, would want a barrier between
the copy and the publish; numpy offers none.)

Files, and why they survive `kill -9`:

* Each file is opened as RF64 with libsndfile's auto-downgrade switched on.
  Until the file reaches 4 GiB libsndfile writes a plain WAV header (RIFF, a
  24-byte JUNK chunk reserving room, fmt, fact, data); past 4 GiB it rewrites
  the same bytes in place as RF64 (ds64 instead of JUNK, a PAD chunk instead of
  fact), so the audio never moves. A recording under 4 GiB that is stopped
  normally is therefore an ordinary WAV file.
* libsndfile writes audio straight to the file descriptor but only rewrites
  the header sizes when asked, so the writer brings every header up to date
  twice a second (`_update_header`) and fsyncs. After a crash the file reads as
  a WAV holding all but the last half second or so; `repair` then recovers
  the rest by sizing the data chunk from the file length. If the crash came
  after the file passed 4 GiB but before the header was rewritten as RF64,
  `repair` does that conversion itself.
"""

from __future__ import annotations

import argparse
import json
import logging
import mmap
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import soundfile as sf

from hoot.engine import realtime
from hoot.errors import HootError

if TYPE_CHECKING:
    from hoot.engine.kernel.tap import TapState

log = logging.getLogger(__name__)

# libsndfile commands that python-soundfile does not wrap (values from sndfile.h).
_SFC_UPDATE_HEADER_NOW = 0x1060
_SFC_RF64_AUTO_DOWNGRADE = 0x1210

# How often the writer rewrites the headers and fsyncs: twice as often as the
# once-a-second promise, so a late wake-up of the writer thread still keeps it.
_HEADER_PERIOD = 0.5

_RING_OFFSET = 64  # bytes before the ring: the two positions, padded to a cache line

_U32_MAX = 0xFFFFFFFF
_FRAME_BYTES = 2 * 4  # stereo float32

ARMED, TAP_TRACKS, IN_TAP, DROPPED = range(4)
"""Columns of `Recorder._flags`: the tap's state, in an array so that the engine's compiled
tap (hoot.engine.kernel.tap) reads and writes it without the GIL."""


class _Flag:
    """A Recorder attribute stored in a column of its `_flags` array."""

    def __init__(self, column: int, kind: type) -> None:
        self.column = column
        self.kind = kind

    def __get__(self, recorder: Recorder | None, owner: type | None = None):
        return self if recorder is None else self.kind(recorder._flags[self.column])

    def __set__(self, recorder: Recorder, value: object) -> None:
        recorder._flags[self.column] = value


def _update_header(f: sf.SoundFile) -> None:
    """Make libsndfile rewrite `f`'s header now, so its sizes cover every frame written.

    python-soundfile's `flush()` only fsyncs; the header sizes are otherwise
    written when the file is closed, which a crash never reaches.
    """
    sf._snd.sf_command(f._file, _SFC_UPDATE_HEADER_NOW, sf._ffi.NULL, 0)


def _open_wav(path: Path, samplerate: int) -> sf.SoundFile:
    """Open a stereo float32 WAV for writing that turns into RF64 only past 4 GiB."""
    f = sf.SoundFile(path, "w", samplerate, 2, "FLOAT", format="RF64")
    try:
        # Must come before the first write: libsndfile ignores it afterwards.
        if not sf._snd.sf_command(f._file, _SFC_RF64_AUTO_DOWNGRADE, sf._ffi.NULL, 1):
            raise HootError(
                f"libsndfile {sf.__libsndfile_version__} cannot write WAV files that grow "
                "into RF64; update python-soundfile to record."
            )
        # The header written on open is RF64-shaped; rewrite it as the WAV it will
        # be, so even a file that crashes before its first block is a valid WAV.
        # Twice: the first rewrite changes the header's length, so the RIFF size
        # it records comes from the old length; the second one is exact.
        _update_header(f)
        _update_header(f)
    except BaseException:
        f.close()
        raise
    return f


def ring_capacity(samplerate: int, max_block: int, ring_seconds: float) -> int:
    """Frames the recorder's ring holds: `ring_seconds` of audio, and at least a couple of
    the largest blocks, or tap() would drop every block of that size."""
    return max(int(ring_seconds * samplerate), 2 * int(max_block))


def ring_bytes(n_tracks: int, capacity: int) -> int:
    """Bytes of memory for the positions and a ring of master plus `n_tracks` tracks."""
    return _RING_OFFSET + (1 + n_tracks) * capacity * _FRAME_BYTES


def _file_label(name: str) -> str:
    """A track name made safe to use inside a file name ("trombone~", a model's track,
    keeps its tilde: without it, it would share the input's label)."""
    return re.sub(r"[^\w.~-]+", "_", name).strip("._").lstrip("~")


def _unique_labels(track_names: list[str]) -> list[str]:
    """File labels for "master" and each track, distinct even if two names sanitise alike."""
    labels: list[str] = []
    for i, name in enumerate(["master", *track_names]):
        base = _file_label(name) or f"track{i}"
        label = base
        for n in count(2):
            if label not in labels:
                break
            label = f"{base}-{n}"
        labels.append(label)
    return labels


def _reserve_paths(folder: Path, name: str, labels: list[str]) -> list[Path]:
    """Create empty files "<name>-<label>.wav", adding "-2", "-3"... to `name` as needed.

    The files are created exclusively, so an existing recording is never
    overwritten, even by another process choosing the same name at the same time.
    """
    n = 1
    while True:
        stem = name if n == 1 else f"{name}-{n}"
        created: list[Path] = []
        try:
            for label in labels:
                path = folder / f"{stem}-{label}.wav"
                path.open("xb").close()
                created.append(path)
        except BaseException as e:
            for path in created:
                path.unlink(missing_ok=True)
            if not isinstance(e, FileExistsError):
                raise
            n += 1
            continue
        return created


class Recorder:
    """Captures the master bus, and optionally every track, to WAV files in a folder.

    Live use: `start_writer()` once, then `start()` / `stop()` from the control
    thread while the engine calls `tap()` every block. Offline use (a renderer
    running faster than real time): skip the writer thread and call `drain()`
    between blocks, at least once per `ring_seconds` of audio, or blocks are
    dropped.

    `dropped_frames` and `frames_written` count the current (or last)
    recording and are reset by `start()`; `faults` counts exceptions swallowed
    by `tap()` over the recorder's lifetime.
    """

    _armed = _Flag(ARMED, bool)
    _tap_tracks = _Flag(TAP_TRACKS, bool)
    _in_tap = _Flag(IN_TAP, bool)  # lets stop() wait for a tap() that is mid-copy
    dropped_frames = _Flag(DROPPED, int)

    def __init__(
        self,
        samplerate: int,
        n_tracks: int,
        track_names: list[str],
        max_block: int = 4096,
        ring_seconds: float = 8.0,
        memory: mmap.mmap | None = None,
        prefault: bool = True,
    ) -> None:
        if len(track_names) != n_tracks:
            raise ValueError(f"{n_tracks} tracks but {len(track_names)} track names")
        self.samplerate = int(samplerate)
        self.n_tracks = int(n_tracks)
        self.track_names = list(track_names)
        self.max_block = int(max_block)
        self.ring_seconds = float(ring_seconds)
        self._flags = np.zeros(4, np.int64)  # behind _armed, _tap_tracks, _in_tap, dropped_frames
        self._capacity = ring_capacity(samplerate, max_block, ring_seconds)
        size = ring_bytes(self.n_tracks, self._capacity)
        # The positions and the ring live in one block of memory, which may be shared with
        # a writer process (see RecorderProcess). Positions are running totals of frames:
        # [0] frames ever put in the ring (tap publishes it), [1] frames ever taken out
        # (drain publishes it). Each is one aligned 8-byte store, seen whole by the other side.
        self._memory = np.zeros(size, np.uint8) if memory is None else memory
        self._pos = np.ndarray((2,), np.int64, buffer=self._memory)
        # Row 0 is the master, row 1 + i is track i: each row's frames are
        # contiguous, so drain() hands each file one slice without copying.
        self._ring = np.ndarray(
            (1 + self.n_tracks, self._capacity, 2), np.float32, self._memory, _RING_OFFSET
        )
        if prefault:  # the side that taps; the writer process reads what it has touched
            # Touch every page now: the first write to a fresh page is a page fault, which
            # on the audio thread cost a 6 ms block (benchmarks/forward_cost.py).
            self._ring.fill(1.0)
            self._ring.fill(0.0)
        self._armed = False
        self._tap_tracks = False
        self._in_tap = False

        self._lock = threading.Lock()  # serialises drain/start/stop; tap never takes it
        self._files: list[sf.SoundFile] = []
        self._rows: list[int] = []  # the ring row each file records
        self._dirty = False  # frames written since the last header update
        self._last_header = 0.0

        self._writer: threading.Thread | None = None
        self._writer_stop = threading.Event()

        self.dropped_frames = 0
        self.faults = 0
        self.frames_written = 0
        self.paths: list[Path] = []

    def tap_state(self) -> TapState:
        """The ring, its positions and the flags above, for the engine's compiled tap
        (hoot.engine.kernel.tap.tap), which then stands in for `tap`."""
        from hoot.engine.kernel.tap import TapState  # numba: the writer process never needs it

        return TapState(self._ring, self._pos, self._flags)

    @property
    def recording(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._armed

    # -- control thread -------------------------------------------------------------

    def start(
        self,
        folder: Path,
        name: str | None = None,
        tracks: bool = False,
        names: list[str] | None = None,
    ) -> list[Path]:
        """Open new files in `folder` and start capturing; return their paths.

        The master goes to "<name>-master.wav" and, with `tracks`, each track to
        "<name>-<track>.wav". `names` renames the tracks for this recording (live inputs
        name their rows when made); a row named "" writes no file (a free input row).
        `name` defaults to the current local time. Raises HootError if already recording
        or if the folder cannot be written to.
        """
        if self._armed or self._files:
            raise HootError(
                f"Already recording to {self.paths[0].name}; stop that recording first."
            )
        folder = Path(folder)
        if name is None:
            name = datetime.now().strftime("%Y-%m-%dT%H-%M-%S")
        named = self.track_names if names is None else list(names)
        if len(named) != self.n_tracks:
            raise HootError(f"{self.n_tracks} tracks but {len(named)} names to record them by")
        rows = [0, *(1 + t for t, n in enumerate(named) if n)] if tracks else [0]
        labels = _unique_labels([n for n in named if n] if tracks else [])
        try:
            folder.mkdir(parents=True, exist_ok=True)
            paths = _reserve_paths(folder, name, labels)
        except OSError as e:
            raise HootError(
                f"Cannot record into {folder}: {e.strerror or e}. Choose a folder you can write to."
            ) from e

        files: list[sf.SoundFile] = []
        try:
            for path in paths:
                files.append(_open_wav(path, self.samplerate))
        except Exception as e:
            for f in files:
                f.close()
            for path in paths:
                path.unlink(missing_ok=True)
            if isinstance(e, HootError):
                raise
            raise HootError(f"Cannot create a WAV file in {folder}: {e}.") from e

        with self._lock:
            self._files = files
            self._rows = rows
            self.paths = paths
            self._pos[:] = 0
            self.frames_written = 0
            self.dropped_frames = 0
            self._dirty = False
            self._last_header = time.monotonic()
            self._tap_tracks = tracks and self.n_tracks > 0
        # Armed last: tap() must never see a half-set-up recording.
        self._armed = True
        return list(paths)

    def stop(self) -> list[Path]:
        """Stop capturing, write out what the ring holds, close the files, return their paths.

        Does nothing and returns [] when not recording.
        """
        self._armed = False
        # A tap() that saw the recorder armed may still be copying its block;
        # wait for it so that block is drained too. A tap() starting now sees
        # the recorder disarmed.
        deadline = time.monotonic() + 1.0
        while self._in_tap and time.monotonic() < deadline:
            time.sleep(0.0005)
        with self._lock:
            if not self._files:
                return []
            paths = self.paths
            errors: list[str] = []
            # Whatever goes wrong, every file still gets closed (and so finalised).
            try:
                self._write_out()
            except Exception as e:  # noqa: BLE001 - reported below, after closing
                errors.append(str(e))
            for f in self._files:
                try:
                    f.close()  # libsndfile writes the final header here
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(f"{Path(f.name).name}: {e}")
            self._files = []
            self.paths = []
        if errors:
            raise HootError(f"The recording may be incomplete: {'; '.join(errors)}.")
        return list(paths)

    # -- real-time ------------------------------------------------------------------

    def tap(self, master: np.ndarray, tracks: np.ndarray, frames: int) -> None:
        """REAL-TIME. Copy the first `frames` frames of the block into the ring when armed.

        `master` has shape (>=frames, 2), `tracks` (n_tracks, >=frames, 2). If the
        ring lacks room the whole block is dropped and counted in `dropped_frames`.
        """
        self._in_tap = True
        try:
            if not self._armed or frames <= 0:
                return
            capacity = self._capacity
            pos = self._pos
            write = int(pos[0])
            if frames > capacity - (write - int(pos[1])):
                self.dropped_frames += frames
                return
            ring = self._ring
            start = write % capacity
            first = min(frames, capacity - start)  # frames before the ring wraps
            ring[0, start : start + first] = master[:first]
            if self._tap_tracks:
                ring[1:, start : start + first] = tracks[:, :first]
            if first < frames:
                ring[0, : frames - first] = master[first:frames]
                if self._tap_tracks:
                    ring[1:, : frames - first] = tracks[:, first:frames]
            # Published only after the copy, so drain() never reads a half block.
            pos[0] = write + frames
        except Exception:  # noqa: BLE001 - the audio thread must never see an exception
            self.faults += 1
        finally:
            self._in_tap = False

    # -- writer side ----------------------------------------------------------------

    def drain(self) -> int:
        """Write everything the ring holds to the files; return the frames written.

        Also brings the file headers up to date when they are half a second old.
        Safe to call from any thread; calls are serialised.
        """
        with self._lock:
            if not self._files:
                return 0
            written = self._write_out()
            if self._dirty and time.monotonic() - self._last_header >= _HEADER_PERIOD:
                self._sync_headers()
            return written

    def start_writer(self, interval: float = 0.05) -> None:
        """Start a daemon thread that drains every `interval` seconds (no-op if running).

        The thread also rewrites the file headers and fsyncs twice a second.
        """
        if self._writer is not None and self._writer.is_alive():
            return
        self._writer_stop.clear()
        self._writer = threading.Thread(
            target=self._writer_loop, args=(interval,), name="hoot-recorder", daemon=True
        )
        self._writer.start()

    def close(self) -> None:
        """Stop the writer thread and finish any recording."""
        if self._writer is not None:
            self._writer_stop.set()
            self._writer.join()
            self._writer = None
        self.stop()

    def _writer_loop(self, interval: float) -> None:
        # A long interval must not stretch the time between header updates.
        interval = min(interval, _HEADER_PERIOD)
        failing = False
        while not self._writer_stop.wait(interval):
            failing = self._drain_or_say(failing)

    def _drain_or_say(self, failing: bool) -> bool:
        """drain() for a writer nobody watches; returns whether it is failing now.

        It keeps trying (a full disk may get space back) but says so only once per run
        of failures."""
        try:
            self.drain()
        except Exception:  # noqa: BLE001 - logged; the next drain tries again
            if not failing:
                log.exception("The recorder cannot write to disk; audio is being lost")
            return True
        return False

    def _write_out(self) -> int:
        """Move the ring's contents to the files. Caller holds the lock."""
        write = int(self._pos[0])  # one snapshot: tap() may publish more meanwhile
        read = int(self._pos[1])
        frames = write - read
        if frames == 0:
            return 0
        start = read % self._capacity
        first = min(frames, self._capacity - start)
        try:
            self._write_span(start, first)
            if first < frames:
                self._write_span(0, frames - first)
        finally:
            # Even after a failed write the frames are given up: retrying them
            # would duplicate audio in the files that did take them.
            self._pos[1] = write
        self.frames_written += frames
        self._dirty = True
        return frames

    def _write_span(self, start: int, frames: int) -> None:
        for row, f in zip(self._rows, self._files, strict=True):
            f.write(self._ring[row, start : start + frames])

    def _sync_headers(self) -> None:
        """Rewrite every header with the current sizes and push the files to disk."""
        for f in self._files:
            _update_header(f)
            # libsndfile already hands the audio to the OS on every write, which
            # survives the process dying; fsync also survives the machine dying.
            f.flush()
        self._dirty = False
        self._last_header = time.monotonic()


class RecorderProcess(Recorder):
    """The engine's recorder: `tap` fills a ring in shared memory, and a child process
    (`python -m hoot.engine.recorder`) writes it to the files.

    Why a process: a writer thread shares the engine's GIL, and every disk write it made
    handed the GIL back and forth with the audio callback; forward() at 128 frames went
    from a p99.9 of 15 % to about 30 % of the block period with the writer running
    (benchmarks/forward_cost.py). The child also outlives an engine killed with
    `kill -9`: it sees its input close, writes out what the ring holds and closes the
    files, so such a recording ends within a block or two of the crash.

    `start` and `stop` ask the child over a pipe (JSON lines) and raise what it answers;
    the engine arms `tap` only once the files are open.
    """

    def __init__(
        self,
        samplerate: int,
        n_tracks: int,
        track_names: list[str],
        max_block: int = 4096,
        ring_seconds: float = 8.0,
    ) -> None:
        size = ring_bytes(n_tracks, ring_capacity(samplerate, max_block, ring_seconds))
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else None  # memory, not disk
        fd, path = tempfile.mkstemp(prefix="hoot-recorder-", dir=folder)
        os.unlink(path)  # nameless at once: nothing is left behind, whoever dies how
        try:
            os.ftruncate(fd, size)
            shared = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd  # kept open: each writer process maps it (a new one after a death)
        self._map = shared
        super().__init__(samplerate, n_tracks, track_names, max_block, ring_seconds, shared)
        self._child: subprocess.Popen[str] | None = None
        self._ask_lock = threading.Lock()

    @property
    def writer_alive(self) -> bool:
        return self._child is not None and self._child.poll() is None

    def start_writer(self, interval: float = 0.05) -> None:
        """Start the child process that drains the ring every `interval` seconds."""
        if self.writer_alive:
            return
        self._child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hoot.engine.recorder",
                "--memory-fd",
                str(self._fd),
                "--samplerate",
                str(self.samplerate),
                "--max-block",
                str(self.max_block),
                "--ring-seconds",
                repr(self.ring_seconds),
                "--interval",
                repr(interval),
                "--tracks",
                json.dumps(self.track_names),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            pass_fds=(self._fd,),
            # the engine's stderr (its log) is the child's too
        )

    def _ask(self, **request: object) -> dict:
        with self._ask_lock:
            child = self._child
            try:
                child.stdin.write(json.dumps(request) + "\n")
                child.stdin.flush()
                line = child.stdout.readline()
            except (OSError, ValueError, AttributeError):
                line = ""
            if not line:
                raise HootError(
                    "The recorder's writer process has stopped (see the engine log); "
                    "record again to start a new one."
                )
            reply = json.loads(line)
        if "error" in reply:
            raise HootError(reply["error"])
        return reply

    def start(
        self,
        folder: Path,
        name: str | None = None,
        tracks: bool = False,
        names: list[str] | None = None,
    ) -> list[Path]:
        """Have the writer open new files in `folder`, then start capturing; see Recorder."""
        if self._armed:
            raise HootError(
                f"Already recording to {self.paths[0].name}; stop that recording first."
            )
        if not self.writer_alive:
            self.start_writer()
        reply = self._ask(
            cmd="start", folder=str(folder), name=name, tracks=tracks, names=names
        )
        self.paths = [Path(p) for p in reply["paths"]]
        self.frames_written = 0
        self.dropped_frames = 0
        self._tap_tracks = tracks and self.n_tracks > 0
        self._armed = True  # last: the writer has reset the ring for this recording
        return list(self.paths)

    def stop(self) -> list[Path]:
        """Stop capturing; the writer writes out what the ring holds and closes the files."""
        was_armed = self._armed
        self._armed = False
        deadline = time.monotonic() + 1.0
        while self._in_tap and time.monotonic() < deadline:
            time.sleep(0.0005)
        if not was_armed:
            return []
        paths, self.paths = self.paths, []
        reply = self._ask(cmd="stop")
        self.frames_written = int(reply["frames"])
        return paths

    def drain(self) -> int:
        """Nothing to do here: the writer process drains the ring."""
        return 0

    def close(self) -> None:
        """Finish any recording and let the writer process go."""
        try:
            self.stop()
        finally:
            child, self._child = self._child, None
            if child is not None:
                try:
                    child.stdin.close()  # end of input: the child finishes and exits
                    child.wait(10.0)
                except (OSError, subprocess.TimeoutExpired):
                    child.kill()
                    child.wait()
                child.stdout.close()


def serve_writer(argv: list[str] | None = None) -> None:
    """The writer process: drain the shared ring into the files until input ends.

    Requests, one JSON object a line on stdin: {"cmd": "start", "folder", "name",
    "tracks"} and {"cmd": "stop"}; each gets one JSON line back on stdout. When stdin
    closes (the engine stopped, or died) it writes out the ring, closes the files, exits.
    """
    ap = argparse.ArgumentParser(prog="python -m hoot.engine.recorder")
    ap.add_argument("--memory-fd", type=int, required=True, help="the shared ring's file")
    ap.add_argument("--samplerate", type=int, required=True)
    ap.add_argument("--max-block", type=int, required=True)
    ap.add_argument("--ring-seconds", type=float, required=True)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--tracks", required=True, help="track names, a JSON list")
    a = ap.parse_args(argv)
    realtime.lower_this_process()  # started from a real-time engine thread
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the engine's to handle
    logging.basicConfig(format="hoot recorder: %(message)s")
    names = json.loads(a.tracks)
    size = ring_bytes(len(names), ring_capacity(a.samplerate, a.max_block, a.ring_seconds))
    shared = mmap.mmap(a.memory_fd, size)
    os.close(a.memory_fd)
    recorder = Recorder(
        a.samplerate, len(names), names, a.max_block, a.ring_seconds, shared, prefault=False
    )
    interval = min(a.interval, _HEADER_PERIOD)
    failing = False
    while True:
        readable, _, _ = select.select([sys.stdin], [], [], interval)
        if not readable:
            failing = recorder._drain_or_say(failing)
            continue
        line = sys.stdin.readline()
        if not line:
            break
        request = json.loads(line)
        try:
            if request["cmd"] == "start":
                paths = recorder.start(
                    Path(request["folder"]), request["name"], request["tracks"],
                    request.get("names"),
                )  # fmt: skip
                reply: dict = {"paths": [str(p) for p in paths]}
            else:
                recorder.stop()
                reply = {"frames": recorder.frames_written}
        except HootError as e:
            reply = {"error": str(e)}
        print(json.dumps(reply), flush=True)
    try:
        recorder.stop()
    except HootError as e:
        log.error("%s", e)


# -- repair -------------------------------------------------------------------------


@dataclass
class _Chunk:
    ident: bytes
    offset: int  # of the 8-byte chunk header
    size: int  # as declared in the 32-bit size field

    @property
    def end(self) -> int:
        """Offset just past the chunk, including its pad byte."""
        return self.offset + 8 + self.size + (self.size & 1)


@dataclass
class _Layout:
    """What a WAV/RF64 header declares, read up to the data chunk."""

    form: bytes  # b"RIFF", b"RF64" or b"BW64"
    riff_size: int  # from the RIFF field, or from ds64 for RF64
    chunks: list[_Chunk]  # the chunks before the data chunk
    block_align: int  # bytes per frame
    data: _Chunk
    data_size: int  # from the data chunk, or from ds64 for RF64

    @property
    def data_offset(self) -> int:
        return self.data.offset + 8

    def find(self, ident: bytes) -> _Chunk | None:
        return next((c for c in self.chunks if c.ident == ident), None)


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _read_layout(fh: BinaryIO, length: int, path: Path) -> _Layout:
    """Parse the header of an open WAV/RF64 file; raise HootError if it is not one."""
    head = fh.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64", b"BW64") or head[8:] != b"WAVE":
        raise HootError(f"{path} is not a WAV file, so it cannot be repaired.")
    form = head[:4]
    riff_size = struct.unpack("<I", head[4:8])[0]
    ds64: tuple[int, int] | None = None
    block_align = 0
    chunks: list[_Chunk] = []
    offset = 12
    while True:
        fh.seek(offset)
        header = fh.read(8)
        if len(header) < 8:
            raise HootError(f"{path} has no audio data chunk, so there is nothing to recover.")
        chunk = _Chunk(header[:4], offset, struct.unpack("<I", header[4:])[0])
        if chunk.ident == b"data":
            break
        if chunk.ident == b"ds64":
            riff64, data64 = struct.unpack("<QQ", fh.read(16))
            ds64 = (riff64, data64)
        elif chunk.ident == b"fmt ":
            fmt = fh.read(16)
            block_align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) >= 14 else 0
        chunks.append(chunk)
        offset = chunk.end
        if offset > length:
            raise HootError(f"{path} has a damaged header: the {chunk.ident!r} chunk is cut off.")
    if block_align <= 0:
        raise HootError(f"{path} has no usable format chunk before its audio data.")
    data_size = chunk.size
    if form != b"RIFF":
        if ds64 is None:
            raise HootError(f"{path} is an RF64 file without its ds64 size chunk.")
        riff_size = ds64[0]
        if chunk.size == _U32_MAX:
            data_size = ds64[1]
    return _Layout(form, riff_size, chunks, block_align, chunk, data_size)


def _chunks_fill(fh: BinaryIO, offset: int, length: int) -> bool:
    """True if well-formed chunks run from `offset` exactly to the end of the file."""
    while offset < length:
        fh.seek(offset)
        header = fh.read(8)
        if len(header) < 8 or not all(32 <= b < 127 for b in header[:4]):
            return False
        size = struct.unpack("<I", header[4:])[0]
        offset += 8 + size + (size & 1)
    return offset == length


def _rf64_prefix(
    fh: BinaryIO, layout: _Layout, riff: int, data: int, frames: int, path: Path
) -> bytes:
    """A new RF64 header, exactly as long as the old one, to replace a WAV header past 4 GiB.

    ds64 must come first; the other chunks (bar the JUNK/PAD placeholders and
    fact, which RF64 does not need) are kept, and a JUNK chunk fills the rest.
    """
    room = layout.data.offset - 12  # between "WAVE" and the data chunk header
    ds64 = b"ds64" + _u32(28) + struct.pack("<QQQI", riff, data, frames, 0)
    optional = [c for c in layout.chunks if c.ident not in (b"JUNK", b"junk", b"PAD ", b"fact")]
    essential = [c for c in optional if c.ident == b"fmt "]
    for keep in (optional, essential):
        body = ds64
        for c in keep:
            fh.seek(c.offset)
            body += fh.read(c.end - c.offset)
        spare = room - len(body)
        if spare == 0 or spare >= 8:
            if spare:
                body += b"JUNK" + _u32(spare - 8) + bytes(spare - 8)
            return b"RF64" + _u32(_U32_MAX) + b"WAVE" + body + b"data" + _u32(_U32_MAX)
    raise HootError(f"{path} has no room in its header for RF64 sizes, so it cannot be repaired.")


def repair(path: Path) -> bool:
    """Fix the header of a WAV/RF64 file left half-written by a crash; True if it changed.

    The sizes are taken from the file length, so every whole frame that reached
    the disk becomes readable (a torn last frame is cut off). A file whose sizes
    already agree with its length is left untouched. Raises HootError for a file
    that is not a WAV.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            length = os.fstat(fh.fileno()).st_size
            layout = _read_layout(fh, length, path)
            data_end = layout.data_offset + layout.data_size
            ends_with_data = data_end <= length <= data_end + (layout.data_size & 1)
            if layout.riff_size == length - 8 and (
                ends_with_data
                or (data_end < length and _chunks_fill(fh, data_end + (data_end & 1), length))
            ):
                return False  # a finished file, possibly with chunks after the audio

            if ends_with_data:
                data_size, new_length = layout.data_size, length
            else:
                # The audio runs to the end of the file (the usual crash) or the
                # header claims more than is there: size the data from the length.
                whole = (length - layout.data_offset) // layout.block_align
                data_size = whole * layout.block_align
                new_length = layout.data_offset + data_size
            riff = new_length - 8
            frames = data_size // layout.block_align

            patches: list[tuple[int, bytes]] = []
            if layout.form != b"RIFF":
                ds64 = layout.find(b"ds64")
                assert ds64 is not None  # _read_layout insists on it
                patches += [
                    (4, _u32(_U32_MAX)),
                    (ds64.offset + 8, struct.pack("<QQQ", riff, data_size, frames)),
                    (layout.data.offset + 4, _u32(_U32_MAX)),
                ]
            elif riff <= _U32_MAX:
                patches += [(4, _u32(riff)), (layout.data.offset + 4, _u32(data_size))]
                fact = layout.find(b"fact")
                if fact is not None and fact.size >= 4:
                    patches.append((fact.offset + 8, _u32(min(frames, _U32_MAX))))
            else:
                # Crashed past 4 GiB before libsndfile switched the header to RF64.
                patches.append((0, _rf64_prefix(fh, layout, riff, data_size, frames, path)))
    except OSError as e:
        raise HootError(f"Cannot repair {path}: {e.strerror or e}.") from e

    with path.open("r+b") as fh:
        for offset, data in patches:
            fh.seek(offset)
            fh.write(data)
        if new_length < length:
            fh.truncate(new_length)
        fh.flush()
        os.fsync(fh.fileno())
    return True


def repair_folder(folder: Path) -> list[Path]:
    """Repair every *.wav under `folder` (recursively); return the files that were changed.

    Files that cannot be repaired are logged and skipped, so one bad file does
    not stop the others from being recovered.
    """
    repaired: list[Path] = []
    for path in sorted(Path(folder).rglob("*")):
        if path.suffix.lower() != ".wav" or not path.is_file():
            continue
        try:
            if repair(path):
                repaired.append(path)
        except HootError as e:
            log.warning("%s", e)
    return repaired


if __name__ == "__main__":
    serve_writer()
