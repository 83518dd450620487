"""The one decorator every kernel function uses.

nopython (no Python objects, so no GIL), `nogil=True` (a kernel called from a Python thread
lets the others run), `cache=True` (compiled once per machine, then loaded from the cache in
well under a second), IEEE arithmetic (no fastmath: reassociation would make output depend
on the block size), no bounds checks on the audio path (indices are checked where they
enter, by the Python side or by explicit tests in the kernel).
"""

from __future__ import annotations

import numba

jit = numba.njit(cache=True, nogil=True, fastmath=False, boundscheck=False, error_model="numpy")
"""Decorate a kernel function: `@jit`."""
