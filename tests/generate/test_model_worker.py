"""The model worker: warm generators answer whole batches in one process that keeps them
loaded; takes are rendered by the ordinary workers; cancel, failures and a dying model
worker cost only their own candidates. Fakes in tests/generate/batch_fakes.py."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest

from hoot.generate.base import BatchProgress, Request, is_warm, make_batch
from hoot.generate.pool import WorkerPool
from tests.waiting import PATIENCE, wait_until

FAKES = "tests.generate.batch_fakes"


class Events:
    """What the pool said, per task, in order; `settled(ids)` waits for them."""

    def __init__(self) -> None:
        self.by_task: dict[str, list[tuple]] = defaultdict(list)
        self.order: list[tuple[str, str]] = []  # (kind, task) of "done" and "failed"
        self.changed = threading.Condition()

    def __call__(self, kind: str, task_id: str, *details) -> None:
        with self.changed:
            self.by_task[task_id].append((kind, *details))
            if kind in ("done", "failed"):
                self.order.append((kind, task_id))
            self.changed.notify_all()

    def end(self, task_id: str) -> tuple | None:
        return next((e for e in self.by_task[task_id] if e[0] in ("done", "failed")), None)

    def settled(self, ids: list[str]) -> dict[str, tuple]:
        with self.changed:
            assert self.changed.wait_for(lambda: all(self.end(i) for i in ids), PATIENCE), {
                i: self.by_task[i] for i in ids
            }
        return {i: self.end(i) for i in ids}

    def saw(self, task_id: str, kind: str, *details) -> bool:
        return any(e[: 1 + len(details)] == (kind, *details) for e in self.by_task[task_id])


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def pool(events):
    p = WorkerPool(1, on_event=events)
    yield p
    p.close()


def tasks(tmp_path, generator: str, n: int, batch: str = "b", **request) -> list[dict]:
    base = Request(role="bass", n=n, bars=1, seed=3, **request)
    return [
        {
            "id": f"{batch}/{i}",
            "generator": f"{FAKES}:{generator}" if ":" not in generator else generator,
            "request": base.candidate(i).to_dict(),
            "folder": str(tmp_path / "stems"),
            "audio_folder": str(tmp_path / "spool"),
            "name": f"{batch}-{i + 1}",
        }
        for i in range(n)
    ]


def made(events: Events, batch: list[dict]) -> list[dict]:
    """The metadata of each candidate of `batch`, every one of them done."""
    ends = events.settled([t["id"] for t in batch])
    assert all(e[0] == "done" for e in ends.values()), ends
    return [ends[t["id"]][1] for t in batch]


def test_warmth_is_read_from_the_source_without_importing_it():
    import sys

    sys.modules.pop(FAKES, None)
    assert is_warm(f"{FAKES}:Counting") and is_warm(f"{FAKES}:PlainWarm")  # inherited
    assert FAKES not in sys.modules, "read, not imported"
    assert not is_warm("default") and not is_warm("tests.generate.fakes:Slow")
    assert not is_warm("no.such.module:Thing")


def test_a_model_loads_once_in_one_process_across_batches(pool, events, tmp_path):
    first = tasks(tmp_path, "Counting", 3, "one", device="cpu")
    pool.submit_batch(first)
    metas = made(events, first)
    second = tasks(tmp_path, "Counting", 2, "two", device="cpu")
    pool.submit_batch(second)
    metas += made(events, second)
    assert [m["params"]["loads"] for m in metas] == [1] * 5
    pids = {m["params"]["pid"] for m in metas}
    assert pids == {pool.model_pid} and pool.model_pid not in pool.pids
    assert all(m["notes"] > 0 and m["generator"] == f"{FAKES}:Counting" for m in metas)
    info = pool.models[f"{FAKES}:Counting"]
    assert info["state"] == "loaded" and info["device"] == "cpu"
    assert (info["bytes"], info["params"], info["dtype"]) == (1 << 20, 1 << 18, "float32")
    for t in first:  # rendered by an ordinary worker, as any candidate
        assert (tmp_path / "spool" / f"{t['name']}.wav").exists()
        assert (tmp_path / "stems" / f"{t['name']}.mid").exists()


def test_plain_generators_never_start_a_model_worker(pool, events, tmp_path):
    batch = tasks(tmp_path, "tests.generate.fakes:Exploding", 2)
    pool.submit_batch(batch)
    ends = events.settled([t["id"] for t in batch])
    assert [e[0] for e in ends.values()] == ["done", "failed"]
    assert pool.model_pid is None and pool.models == {}


def test_candidates_render_in_the_order_they_are_made(pool, events, tmp_path):
    batch = tasks(tmp_path, "Backwards", 3)
    pool.submit_batch(batch)
    metas = made(events, batch)
    assert [m["index"] for m in metas] == [0, 1, 2]
    assert [t for _, t in events.order] == ["b/2", "b/1", "b/0"], "each rendered when made"


def test_audio_takes_are_rendered_too(pool, events, tmp_path):
    import soundfile as sf

    batch = tasks(tmp_path, "Hum", 2)
    pool.submit_batch(batch)
    for meta in made(events, batch):
        audio, sr = sf.read(meta["wav"])
        assert sr == 48000 and len(audio) == Request(role="bass", bars=1).frames
        assert "midi" not in meta and not list((tmp_path / "spool").glob("*.npy"))


def test_loading_shows_on_every_candidate_and_one_can_be_cancelled(pool, events, tmp_path):
    gate = tmp_path / "loaded"
    name = f"{FAKES}:SlowBatch"
    batch = tasks(tmp_path, "SlowBatch", 3, vibe={"gate": str(gate)})
    pool.submit_batch(batch)
    assert wait_until(
        lambda: all(events.saw(t["id"], "progress", 0.0, "loading model") for t in batch)
    )
    assert wait_until(lambda: pool.models.get(name, {}).get("state") == "loading")
    gate.touch()
    assert wait_until(lambda: events.saw("b/1", "progress") and any(
        e[0] == "progress" and e[2] == "composing" for e in events.by_task["b/1"]))  # fmt: skip
    pool.cancel("b/1")
    ends = events.settled([t["id"] for t in batch])
    assert ends["b/1"] == ("failed", "cancelled")
    assert ends["b/0"][0] == ends["b/2"][0] == "done"
    assert pool.models[name]["state"] == "loaded"


def test_a_whole_batch_can_be_cancelled_and_the_worker_goes_on(pool, events, tmp_path):
    batch = tasks(tmp_path, "SlowBatch", 3)
    pool.submit_batch(batch)
    assert wait_until(lambda: any(e[0] == "progress" and e[2] == "composing"
                                  for e in events.by_task["b/0"]))  # fmt: skip
    pid = pool.model_pid
    for t in batch:
        pool.cancel(t["id"])
    ends = events.settled([t["id"] for t in batch])
    assert set(ends.values()) == {("failed", "cancelled")}
    again = tasks(tmp_path, "SlowBatch", 1, "again")
    pool.submit_batch(again)
    [meta] = made(events, again)
    assert meta["params"]["loads"] == 1 and pool.model_pid == pid


def test_a_candidate_that_fails_fails_alone(pool, events, tmp_path):
    batch = tasks(tmp_path, "OneFails", 3)
    plain = tasks(tmp_path, "PlainWarm", 3, "plain")
    pool.submit_batch(batch)
    pool.submit_batch(plain)
    ends = events.settled([t["id"] for t in batch + plain])
    assert ends["b/1"][:2] == ("failed", "MemoryError: out of memory on the device while making it")
    assert ends["plain/2"][:2] == ("failed", "RuntimeError: CUDA out of memory")
    assert [ends[i][0] for i in ("b/0", "b/2", "plain/0", "plain/1")] == ["done"] * 4


def test_a_dying_model_worker_fails_its_candidates_and_a_new_one_starts(pool, events, tmp_path):
    batch = tasks(tmp_path, "Dies", 3)
    pool.submit_batch(batch)
    ends = events.settled([t["id"] for t in batch])
    assert ends["b/0"][0] == "done"
    for i in ("b/1", "b/2"):
        assert ends[i] == ("failed", "the model worker died (exit 3) while making it")
    assert wait_until(lambda: pool.model_pid is None)
    assert pool.models == {}
    again = tasks(tmp_path, "Counting", 2, "again")
    pool.submit_batch(again)
    metas = made(events, again)
    assert [m["params"]["loads"] for m in metas] == [1, 1]
    assert metas[0]["params"]["pid"] != ends["b/0"][1]["params"]["pid"]


def test_unload_frees_a_model_and_its_next_batch_loads_it_again(pool, events, tmp_path):
    name = f"{FAKES}:Counting"
    first = tasks(tmp_path, "Counting", 1, "one")
    pool.submit_batch(first)
    [meta] = made(events, first)
    pool.unload(name)
    assert name not in pool.models
    second = tasks(tmp_path, "Counting", 1, "two")
    pool.submit_batch(second)
    [again] = made(events, second)
    assert again["params"]["loads"] == 2 and again["params"]["pid"] == meta["params"]["pid"]
    pool.unload()  # all of them: the idle model worker goes
    assert pool.models == {}
    assert wait_until(lambda: pool.model_pid is None)
    third = tasks(tmp_path, "Counting", 1, "three")
    pool.submit_batch(third)
    [last] = made(events, third)
    assert last["params"]["loads"] == 1 and last["params"]["pid"] != meta["params"]["pid"]


def test_the_model_worker_says_whether_generators_are_available(pool):
    answer = pool.probe(["tests.generate.fakes:Unavailable", f"{FAKES}:Counting", "nope"])
    assert answer["tests.generate.fakes:Unavailable"] == (False, "no checkpoint in models/")
    assert answer[f"{FAKES}:Counting"] == (True, "ready")
    assert "no generator called 'nope'" in answer["nope"][1]


def test_a_batch_made_directly_needs_no_pool():
    from tests.generate.batch_fakes import PlainWarm

    requests = [Request(role="bass", n=3, index=i, bars=1) for i in range(3)]
    progress = BatchProgress(3)
    progress.cancel(1)
    got = dict(make_batch(PlainWarm(), requests, progress))
    assert sorted(got) == [0, 2] and isinstance(got[2], RuntimeError)
    assert got[0].notes is not None


# ---- perf: a performer's view ------------------------------------------------------------


@pytest.fixture
def perf(tmp_path):
    from hoot.engine.client import LocalEngine
    from hoot.performance import Performance
    from hoot.session import Session

    session = Session(tmp_path / "gen")
    p = Performance(LocalEngine(48000, session_dir=session.dir), session)
    p.said = []
    p.on_message = p.said.append
    yield p
    p.close()


def test_perf_runs_a_model_generator_where_it_is_told_and_unloads_it(perf):
    from hoot.errors import HootError
    from hoot.generate.batch import Status

    name = f"{FAKES}:Counting"
    assert perf.model_device == "auto"
    with pytest.raises(HootError, match="perf.model_device = 'tpu': say one of 'auto'"):
        perf.model_device = "tpu"
    perf.model_device = "cpu"
    assert perf.session.read_settings()["model_device"] == "cpu"
    batch = perf.generate("bass", n=2, bars=1, using=name).wait(PATIENCE)
    assert [c.status for c in batch] == [Status.READY] * 2, [c.reason for c in batch]
    assert [(c.params["device"], c.params["loads"]) for c in batch] == [("cpu", 1)] * 2
    assert perf.generators[name] == "loaded on cpu (1 MB)"
    again = perf.generate("bass", n=1, bars=1, using=name).wait(PATIENCE)
    assert again[1].params["loads"] == 1, "still warm"
    perf.unload(name)
    assert perf.said[-1] == f"unloaded {name} (1 MB freed)"
    assert name not in perf.generators
    perf.unload()
    assert perf.said[-1] == "no model is loaded"
    with pytest.raises(HootError, match="no generator called 'orpheus-typo'"):
        perf.unload("orpheus-typo")


def test_perf_says_why_a_model_generator_is_not_available(perf):
    from hoot.errors import HootError

    with pytest.raises(HootError, match=r"not available \(no Fake checkpoint in models/\)"):
        perf.generate("bass", n=2, using=f"{FAKES}:Unready")
    assert "no Orpheus" in perf.generators["orpheus"]


def test_a_performer_cancels_one_candidate_and_the_rest_of_the_batch_plays_on(perf):
    from hoot.generate.batch import Status

    batch = perf.generate("bass", n=3, bars=1, using=f"{FAKES}:SlowBatch")
    assert wait_until(lambda: batch[2].progress > 0), "decoding"
    batch[2].cancel()
    batch.wait(PATIENCE)
    assert [c.status for c in batch] == [Status.READY, Status.FAILED, Status.READY]
    assert batch[2].reason == "cancelled"
    batch[1].cancel()  # a ready one: nothing to stop
    assert batch[1].status is Status.READY
