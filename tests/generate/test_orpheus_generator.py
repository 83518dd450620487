"""Orpheus behind the generator protocol (hoot/generate/orpheus/generator.py), on small
random checkpoints of its class built here: every role's batch comes back as clean loops of
the asked bars in the role's instruments and the key, loading is reported, a cancelled
candidate stops alone, and through perf the batch runs in the warm model worker and plays."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hoot.generate.base import BatchProgress, Request
from hoot.generate.orpheus.generator import OrpheusGenerator, SmallOrpheusGenerator
from hoot.music.harmony import Key
from tests.generate.orpheus_fakes import write_tiny
from tests.waiting import PATIENCE

ROLES = ("bass", "drums", "chords", "lead", "pad", "perc")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return write_tiny(tmp_path_factory.mktemp("orpheus") / "tiny.pth")


class Heard(BatchProgress):
    """Progress that remembers what it was told."""

    def __init__(self, n: int, cancel: set[int] = frozenset()) -> None:
        super().__init__(n)
        self.stages: list[str] = []
        self.infos: list[dict] = []
        self.fractions: dict[int, list[float]] = {}
        self.to_cancel = set(cancel)

    def update(self, index, fraction, stage="composing"):
        self.fractions.setdefault(index, []).append(fraction)

    def stage(self, text):
        self.stages.append(text)

    def loaded(self, info):
        self.infos.append(info)

    def cancelled(self, index):
        return index in self.to_cancel and len(self.fractions.get(index, ())) > 3


def batch(generator, role: str, n: int = 6, **fields) -> tuple[list, Heard]:
    base = dict(role=role, n=n, bars=4, bpm=120.0, key="E minor", seed=5, vibe={"swing": 0.0})
    cancel = fields.pop("cancel", set())
    request = Request(**{**base, **fields})
    progress = Heard(n, cancel)
    made = list(generator.generate_batch([request.candidate(i) for i in range(n)], progress))
    return made, progress


@pytest.mark.parametrize("role", ROLES)
def test_every_role_comes_back_as_clean_loops_in_its_key(tiny, role):
    g = OrpheusGenerator(tiny)
    made, _ = batch(g, role)
    assert sorted(i for i, _ in made) == list(range(6))
    key = Key.parse("E minor")
    for _, take in made:
        clip = take.notes
        assert clip.length == 16.0 and len(clip) > 0
        assert np.all(clip.start >= 0) and np.all(clip.start + clip.duration <= 16.0 + 1e-9)
        assert np.allclose(clip.start * 4, np.round(clip.start * 4)), "on the 16th grid"
        if role in ("drums", "perc"):
            assert take.params["patch"] == 128
        else:
            assert all(key.contains(int(p)) for p in clip.pitch), "the mask keeps the key"
    clips = [take.notes for _, take in made]
    assert all(a != b for a, b in itertools.combinations(clips, 2)), "no two alike"


def test_the_model_loads_once_and_says_so(tiny):
    g = OrpheusGenerator(tiny)
    _, first = batch(g, "bass", n=2)
    assert first.stages == ["loading model"]
    (info,) = first.infos
    assert info["device"] == "cpu" and info["params"] > 0 and info["bytes"] > 0
    _, second = batch(g, "bass", n=2)
    assert second.stages == [] and second.infos == [], "warm: no second load"
    g.unload()
    _, third = batch(g, "bass", n=2)
    assert third.stages == ["loading model"]


def test_a_cancelled_candidate_stops_and_the_others_go_on(tiny):
    made, progress = batch(OrpheusGenerator(tiny), "lead", n=4, bars=8, cancel={2})
    assert sorted(i for i, _ in made) == [0, 1, 3]
    assert all(f[-1] >= 0.85 for i, f in progress.fractions.items() if i != 2)


def test_a_continuation_is_primed_with_the_tracks_notes(tiny):
    prompt = {"track": "lead", "role": "lead", "length": 4.0,
              "notes": [[i * 0.5, 0.5, 64 + (i % 3) * 3, 90] for i in range(8)]}  # fmt: skip
    made, _ = batch(OrpheusGenerator(tiny), "lead", n=2, context={"prompt": prompt})
    for _, take in made:
        assert take.params["prime_tokens"] > 8 * 3, "the prompt's notes are in the prime"


def test_without_a_checkpoint_it_says_where_one_goes(tmp_path, monkeypatch):
    from hoot.generate.orpheus import generator

    monkeypatch.setattr(generator, "MODELS_DIR", tmp_path)
    ok, why = OrpheusGenerator().available()
    assert not ok and "no Orpheus checkpoint in models/" in why
    ok, why = SmallOrpheusGenerator().available()
    assert not ok and "models/train_orpheus.py" in why


def test_a_bad_checkpoint_is_one_sentence(tmp_path):
    from hoot.errors import HootError

    bad = tmp_path / "Orpheus_broken.pth"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(HootError) as error:
        batch(OrpheusGenerator(bad), "bass", n=2)
    assert "\n" not in str(error.value) and "Orpheus_broken.pth" in str(error.value)


def test_perf_generates_with_orpheus_in_the_model_worker_and_it_plays(tiny, tmp_path, monkeypatch):
    from hoot.engine.client import LocalEngine
    from hoot.generate.batch import Status
    from hoot.performance import Performance
    from hoot.session import Session

    monkeypatch.setenv("HOOT_TEST_ORPHEUS", tiny)
    session = Session(tmp_path / "set")
    perf = Performance(LocalEngine(48000, session_dir=session.dir), session)
    perf.on_message = lambda m: None
    try:
        perf.key = "A minor"
        name = "tests.generate.orpheus_fakes:Tiny"
        b = perf.generate("bass", n=3, bars=4, seed=4, using=name).wait(PATIENCE * 4)
        assert [c.status for c in b] == [Status.READY] * 3, [c.reason for c in b]
        assert perf.generators[name].startswith("loaded on cpu")
        key = Key.parse("A minor")
        for c in b:
            assert c.notes.length == 16.0 and all(key.contains(int(p)) for p in c.notes.pitch)
            assert c.audio is not None and len(c.audio) == b.request.frames
        c = b[2]
        c.queue(at="bar")
        perf.wait(bars=1.5)
        assert c.where() is not None and c.where()[0] == "playing"
    finally:
        perf.close()


def test_perf_generators_asks_hoots_own_models_without_torch_or_a_model_worker(tmp_path):
    import subprocess
    import sys

    code = f"""
import sys
from pathlib import Path
from hoot.engine.client import LocalEngine
from hoot.performance import Performance
from hoot.session import Session
session = Session(Path({str(tmp_path)!r}) / "set")
perf = Performance(LocalEngine(48000, session_dir=session.dir), session)
found = perf.generators
for name in ("orpheus", "orpheus-small", "musicgen", "ace-step"):
    print(name, "=", found[name])
print("torch imported:", "torch" in sys.modules)
print("model worker:", perf.picker.pool.model_pid)
perf.close()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=PATIENCE * 6, check=True).stdout  # fmt: skip
    assert "torch imported: False" in out and "model worker: None" in out, out
    assert "orpheus = " in out and "orpheus-small = " in out


def test_a_big_model_on_a_cpu_has_the_small_one_draft_for_it(tmp_path, monkeypatch):
    from hoot.generate.orpheus import generator

    write_tiny(tmp_path / "orpheus-hoot.pth", seed=1)  # the draft, where the small one lives
    big = write_tiny(tmp_path / "Orpheus_big.pth", dim=640, depth=1, heads=10, seed=2)
    monkeypatch.setattr(generator, "MODELS_DIR", tmp_path)
    made, _ = batch(OrpheusGenerator(big), "bass", n=3)
    assert sorted(i for i, _ in made) == [0, 1, 2]
    for _, take in made:
        stats = take.params["speculative"]
        assert stats["draft"] == "orpheus-hoot.pth"
        assert 0 <= stats["accepted"] <= stats["drafted"] and stats["target_calls"] > 0
        assert len(take.notes) > 0
    made, _ = batch(OrpheusGenerator(tmp_path / "orpheus-hoot.pth"), "bass", n=2)
    assert all("speculative" not in take.params for _, take in made), "small: decodes alone"


def test_a_device_that_gives_out_mid_batch_is_one_sentence_and_drops_the_model(tiny, monkeypatch):
    import torch

    from hoot.generate.base import GeneratorError
    from hoot.generate.orpheus import decode

    g = OrpheusGenerator(tiny)
    batch(g, "bass", n=1)
    assert g._models, "loaded"

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(decode, "sample", out_of_memory)
    with pytest.raises(GeneratorError, match=r"out of memory on cpu decoding 1 candidate: ask"):
        batch(g, "bass")
    assert not g._models, "dropped: the next batch loads it afresh"

    def lost(*args, **kwargs):
        raise RuntimeError("CUDA error: device-side assert triggered\nmore lines")

    monkeypatch.setattr(decode, "sample", lost)
    with pytest.raises(GeneratorError, match=r"failed on cpu while decoding \(CUDA error: device"):
        batch(g, "bass")
