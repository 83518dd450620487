"""Orpheus generators on small checkpoints built by the tests, for the model worker
("tests.generate.orpheus_fakes:Tiny"): the checkpoint's path comes in HOOT_TEST_ORPHEUS, set
before the worker process starts.

Random weights write near-random TIME tokens (up to 255 steps, 4.08 s): a candidate of 4
bars at 120 bpm (8 s) always holds a note, one of a bar (2 s) may not, and its candidate
fails as a model that wrote nothing would. The tests ask for 4 bars or more."""

from __future__ import annotations

import os

from hoot.generate.orpheus.generator import OrpheusGenerator


class Tiny(OrpheusGenerator):
    """Orpheus's code path on the test's checkpoint."""

    name = "tiny-orpheus"
    warm = True

    def __init__(self) -> None:
        super().__init__(os.environ["HOOT_TEST_ORPHEUS"])


def write_tiny(path, dim: int = 64, depth: int = 2, heads: int = 4, seed: int = 0) -> str:
    """A random model of Orpheus's class and vocabulary, saved as a plain state_dict."""
    import torch

    from hoot.generate.orpheus.model import build

    torch.manual_seed(seed)
    model = build(dim=dim, depth=depth, heads=heads, max_seq_len=2048, tie_embedding=True)
    torch.save(model.state_dict(), str(path))
    return str(path)
