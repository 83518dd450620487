"""Torch, installed the right way: a CPU build wherever there is no GPU (scripts/setup)."""

import torch

from hoot.realtime.probe import has_nvidia_gpu, probe


def test_torch_is_a_cpu_build_where_no_gpu_is_present():
    assert has_nvidia_gpu() or torch.version.cuda is None, (
        f"torch {torch.__version__} is a CUDA build on a machine without a GPU: "
        "scripts/setup (NEURAL=1) installs the CPU build"
    )


def test_the_doctors_probe_sees_the_same_torch_from_a_subprocess():
    found = probe()
    assert found.version == torch.__version__ and found.cuda == torch.version.cuda
    assert found.cpu_build == (torch.version.cuda is None)
    assert found.device == "cpu" or found.device.startswith(("cuda", "mps"))


def test_a_python_without_torch_is_said_in_one_line(tmp_path):
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nexec /usr/bin/env python3 -I -S \"$@\"\n")
    python.chmod(0o755)
    found = probe(str(python))
    assert found.version is None and "torch" in found.missing
