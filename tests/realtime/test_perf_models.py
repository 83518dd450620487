"""What a performer reads when a model cannot play: one sentence each."""

from __future__ import annotations

import importlib.util

import pytest

from hoot.errors import HootError
from hoot.session import Session
from hoot.stage import Stage


@pytest.fixture
def perf(tmp_path):
    stage = Stage.offline(Session(tmp_path / "set"))
    yield stage.perf
    stage.close()


def test_an_offline_set_says_models_play_live(perf) -> None:
    with pytest.raises(HootError, match="harmonize plays live.*hoot tui or hoot play"):
        perf.harmonize("keys")
    with pytest.raises(HootError, match="improvise plays live"):
        perf.improvise("lead")
    assert perf.models == []


def test_without_torch_it_says_what_to_install(perf, monkeypatch) -> None:
    monkeypatch.setattr(type(perf), "offline", property(lambda self: False))
    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "torch" else found(n, *a)
    )
    with pytest.raises(HootError, match=r"pip install 'hoot\[neural\]'.*make run NEURAL=1"):
        perf.harmonize("keys")


def test_an_unknown_track_gets_a_did_you_mean(perf, monkeypatch) -> None:
    monkeypatch.setattr(type(perf), "offline", property(lambda self: False))
    with pytest.raises(HootError, match="kees"):
        perf.harmonize("kees")


def test_help_on_harmonize_is_the_manual(perf) -> None:
    doc = type(perf).harmonize.__doc__
    for words in ('perf.harmonize("keys")', "below", "perf.key", "20 ms", "perf.models"):
        assert words in doc
