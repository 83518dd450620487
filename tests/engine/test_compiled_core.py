"""The compiled core against the Python engine it replaced, end to end.

The same set script is rendered offline twice, through the whole language side (perf,
the stage, EngineControl): once on the engine hoot runs (hoot.engine.kernel, numba), once
on the Python engine kept as the tests' oracle (tests/engine/oracle.py). The issue asks
for a residual below -120 dBFS; the parts were built to the oracle's arithmetic, so the
renders are expected to be identical to the bit, and this test says where they are not.
"""

from __future__ import annotations

import numpy as np
import pytest

from hoot.engine import core
from hoot.engine.client import LocalEngine
from hoot.render import render
from hoot.session import Session
from tests import stemfiles
from tests.engine import oracle
from tests.engine.test_forward import a_set


def a_set_with_inputs_and_synth(perf, folder) -> None:
    """Audio and MIDI stems, loops, glides, tempo changes (a_set), plus a live input fed by
    a file (monitored, then not) and a signal, and synth voices on several tracks."""
    take = np.sin(np.linspace(0, 2 * np.pi * 330 * 1.5, 72000))[:, None] * [0.3, 0.2]
    trombone = perf.input("trombone", file=str(stemfiles.write_wav(folder / "take.wav", take)))
    perf.input("click", signal="clicks 120")
    trombone.gain = -3
    a_set(perf, folder)
    trombone.monitor = False
    perf.wait(beats=2)
    trombone.monitor = True
    perf.tracks.click.pan = 0.7
    perf.wait(beats=2)


@pytest.mark.parametrize("blocksize", [64, "random"])
def test_a_set_renders_as_the_python_engine_rendered_it(tmp_path, monkeypatch, blocksize):
    def script(perf):
        a_set_with_inputs_and_synth(perf, tmp_path)

    compiled = render(script, bars=7, blocksize=blocksize, session=Session(tmp_path / "c"))
    with monkeypatch.context() as m:
        m.setattr(core, "Engine", oracle.Engine)  # what LocalEngine builds
        assert isinstance(LocalEngine().engine, oracle.Engine)
        python = render(script, bars=7, blocksize=blocksize, session=Session(tmp_path / "p"))
    assert compiled.shape == python.shape
    assert np.abs(python).max() > 0.05, "the set should be audible"
    residual = np.abs(compiled.astype(np.float64) - python).max()
    residual_db = 20 * np.log10(residual) if residual > 0 else -np.inf
    assert residual_db < -120, f"the compiled core differs by {residual_db:.1f} dBFS"
    assert np.array_equal(compiled, python), (
        f"not to the bit: {np.count_nonzero(compiled != python)} samples differ, "
        f"at most {residual_db:.1f} dBFS"
    )
