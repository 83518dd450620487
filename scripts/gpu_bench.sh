#!/usr/bin/env bash
# Orpheus decoding speed on a GPU (issue 14 §4): run once from the repository root on a
# machine with an NVIDIA GPU, then send back gpu_bench.log.
#
#     scripts/gpu_bench.sh            # PYTHON=/path/to/python to use another interpreter
#
# What it runs (random weights: speed is what is measured; no checkpoint is downloaded):
#   1. benchmarks/orpheus_speed.py --device cuda --shape medium, batch 6, a 512-token prime,
#      1,024 new tokens: x-transformers' generate, hoot's eager sampler, hoot's forward
#      without a cache, the fast path (bf16, static cache, torch.compile
#      mode="reduce-overhead", CUDA graphs; first call timed apart, and whether inductor
#      skipped CUDA graphs), and speculative decoding (small draft, medium target). The
#      target: n=6 x 1,024 tokens in at most 1.5 s (the research measured 9.9 s eager with
#      x-transformers on an H200).
#   2. the same for --shape large, eager rows only.
# About 5 minutes on an H100; the first fast call compiles for a minute or two.
#
# Internet: none, except that when the interpreter's torch has no CUDA (the CPU build that
# hoot's setup installs on machines without a GPU) this script asks pip for PyPI's torch
# of the same version (the CUDA build; a few GB with its nvidia-* libraries and triton).
# Set GPU_BENCH_NO_INSTALL=1 to have it stop with a sentence instead.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
LOG=${LOG:-gpu_bench.log}
say() { printf 'gpu_bench: %s\n' "$*" >&2; }

command -v nvidia-smi >/dev/null || { say "no nvidia-smi here: this script wants an NVIDIA GPU"; exit 1; }
if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    if [ "${GPU_BENCH_NO_INSTALL:-0}" = 1 ]; then
        say "$PYTHON's torch cannot see a GPU (a CPU build, or none); install the CUDA build of torch"
        exit 1
    fi
    version=$("$PYTHON" -c "import torch; print(torch.__version__.split('+')[0])" 2>/dev/null || true)
    say "installing the CUDA build of torch${version:+ $version} from PyPI (pip)"
    "$PYTHON" -m pip uninstall -y -q torch 2>/dev/null || true
    "$PYTHON" -m pip install -q "torch${version:+==$version}" || "$PYTHON" -m pip install -q torch
    "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || {
        say "torch $("$PYTHON" -c 'import torch; print(torch.__version__)') still sees no GPU: check the driver (nvidia-smi)"
        exit 1
    }
fi
"$PYTHON" -c "import x_transformers" 2>/dev/null || { say "x-transformers is missing: pip install -e '.[models]'"; exit 1; }

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    git log -1 --format='commit %h %s'
    echo "== medium, batch 6, prime 512, 1024 new: every row"
    "$PYTHON" benchmarks/orpheus_speed.py --device cuda --shape medium --batch 6 \
        --prime 512 --new 1024
    echo "== large, batch 6, prime 512, 1024 new: eager rows"
    "$PYTHON" benchmarks/orpheus_speed.py --device cuda --shape large --batch 6 \
        --prime 512 --new 1024 --rows xt,eager
} 2>&1 | tee "$LOG"
say "done: figures in $LOG"
