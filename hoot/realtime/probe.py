"""What torch is here, asked in a subprocess so that the asking process stays torch-free.

`hoot doctor` runs in the performer's shell, and the UI and the engine must never import
torch (it costs ~1.5 s and ~400 MB of memory, and CUDA builds start threads), so a short
child process imports it and answers one JSON line: its version, whether it is a CPU build
(`torch.version.cuda is None`), and the device it would run on (CUDA, MPS or the CPU).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

PROBE_S = 120.0  # a first import of torch from a cold disk takes ~10 s here; allow a slow one

_PROBE = """
import json
try:
    import torch
except Exception as e:
    print(json.dumps({"missing": f"{type(e).__name__}: {e}"}))
else:
    if torch.cuda.is_available():
        device = "cuda: " + torch.cuda.get_device_name(0)
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = "mps"
    else:
        device = "cpu"
    print(json.dumps({"version": torch.__version__, "cuda": torch.version.cuda, "device": device}))
"""


@dataclass(frozen=True)
class TorchInfo:
    """torch as the child process found it; `missing` says why it did not import."""

    version: str | None
    cuda: str | None  # the CUDA version torch was built for; None for a CPU build
    device: str  # "cuda: <name>", "mps", "cpu", or "" when torch is missing
    missing: str = ""

    @property
    def cpu_build(self) -> bool:
        return self.version is not None and self.cuda is None


def probe(python: str = sys.executable) -> TorchInfo:
    """Import torch in a child `python` and say what it found (never raises)."""
    try:
        out = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True,
                             timeout=PROBE_S)  # fmt: skip
        found = json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as e:
        return TorchInfo(None, None, "", f"the probe failed ({type(e).__name__})")
    if "missing" in found:
        return TorchInfo(None, None, "", found["missing"])
    return TorchInfo(found["version"], found["cuda"], found["device"])


def has_nvidia_gpu() -> bool:
    """An NVIDIA GPU on this machine: its driver's tool or its device node (what
    scripts/setup checks too before it picks the CPU build of torch)."""
    return shutil.which("nvidia-smi") is not None or os.path.exists("/dev/nvidia0")
