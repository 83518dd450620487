"""The engine's live status, in a small shared-memory file any local client can read.

The server writes it ~120 times a second from its status thread; clients map it
read-only and poll it (the UI at 30 Hz) without ever asking the engine for
anything, so a busy or hung client costs the engine nothing. Structured state
(what plays, the tempo map) travels over the socket on request, and
`state_version` here says when it has changed.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hoot.runtime import runtime_dir, session_key

MAGIC = 0x686F6F74  # "hoot"
LAYOUT = 1
HEADER = 24  # float64 slots before the meters
# header slots
F_MAGIC, F_LAYOUT, F_SAMPLERATE, F_POSITION, F_BLOCKS, F_XRUNS, F_FAULTS, F_CPU = range(8)
F_STATE_VERSION, F_HEARTBEAT, F_TRACKS, F_PID, F_LATENCY, F_LIMITER_DB, F_RECORDING = range(8, 15)
F_DROPPED, F_BLOCKSIZE, F_CPU_PEAK, F_REALTIME, F_MESSAGES, F_INPUTS = range(15, 21)


def addresses(session_dir: Path) -> tuple[Path, Path]:
    """(socket path, status path) of the engine serving `session_dir`, in the private runtime
    folder (hoot.runtime: memory, not disk)."""
    key = session_key(session_dir)
    d = runtime_dir()
    return d / f"{key}.sock", d / f"{key}.status"


def status_size(n_tracks: int, n_inputs: int = 0) -> int:
    """Slots: the header, meters of the tracks and the master, then the live input rows'
    meters and their clip lamps (after the master, so readers of the tracks' rows and the
    master's are the same whether or not an engine has inputs)."""
    return HEADER + (n_tracks + 1) * 4 + n_inputs * 5


def create_status(path: Path, n_tracks: int, n_inputs: int = 0) -> np.ndarray:
    """Create (or reset) the status file and map it read-write."""
    n = status_size(n_tracks, n_inputs)
    with open(path, "wb") as f:
        f.write(b"\0" * (8 * n))
    os.chmod(path, 0o600)
    mm = np.memmap(path, dtype=np.float64, mode="r+", shape=(n,))
    mm[F_MAGIC] = MAGIC
    mm[F_LAYOUT] = LAYOUT
    mm[F_TRACKS] = n_tracks
    mm[F_INPUTS] = n_inputs
    return mm


@dataclass(frozen=True)
class EngineStatus:
    """One reading of the engine's status. Meters rows: tracks then master;
    columns: peak L, peak R, rms L, rms R (linear)."""

    samplerate: int
    position: int
    blocks: int
    xruns: int
    faults: int
    cpu: float
    cpu_peak: float
    state_version: int
    heartbeat: float
    pid: int
    latency: float
    limiter_db: float
    recording: bool
    dropped: int
    blocksize: int
    realtime: int  # the audio thread's SCHED_FIFO priority; 0 normal, -1 not yet known
    meters: np.ndarray
    messages: int = 0  # sentences the engine has said since it started (protocol's `messages`)
    # live input rows (protocol's InputTrack.row): meters as above, and clip lamps
    inputs: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 4)))
    clips: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.bool_))


class StatusReader:
    """Read-only view of an engine's status file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        raw = np.memmap(self.path, dtype=np.float64, mode="r")
        if len(raw) < HEADER or raw[F_MAGIC] != MAGIC or raw[F_LAYOUT] != LAYOUT:
            raise ValueError(f"{path} is not a hoot engine status file")
        self._mm = raw
        self.n_tracks = int(raw[F_TRACKS])
        self.n_inputs = int(raw[F_INPUTS])

    def read(self) -> EngineStatus:
        mm = np.array(self._mm)  # one copy, so the fields agree with each other
        t, k = self.n_tracks, self.n_inputs
        live = HEADER + (t + 1) * 4
        return EngineStatus(
            samplerate=int(mm[F_SAMPLERATE]),
            position=int(mm[F_POSITION]),
            blocks=int(mm[F_BLOCKS]),
            xruns=int(mm[F_XRUNS]),
            faults=int(mm[F_FAULTS]),
            cpu=float(mm[F_CPU]),
            cpu_peak=float(mm[F_CPU_PEAK]),
            state_version=int(mm[F_STATE_VERSION]),
            heartbeat=float(mm[F_HEARTBEAT]),
            pid=int(mm[F_PID]),
            latency=float(mm[F_LATENCY]),
            limiter_db=float(mm[F_LIMITER_DB]),
            recording=bool(mm[F_RECORDING]),
            dropped=int(mm[F_DROPPED]),
            blocksize=int(mm[F_BLOCKSIZE]),
            realtime=int(mm[F_REALTIME]),
            meters=mm[HEADER : HEADER + (t + 1) * 4].reshape(t + 1, 4).copy(),
            messages=int(mm[F_MESSAGES]),
            inputs=mm[live : live + k * 4].reshape(k, 4).copy(),
            clips=mm[live + k * 4 : live + k * 5] > 0,
        )
