"""The numbers a performer counts by: every bar hoot announces is the bar the sound starts in.

A long offline set with hundreds of random tempo, meter and phrase changes; at random
moments a click is queued at the next phrase, bar or beat. What the console says ("starts
at bar N") and what the queue shows are compared with the bar, on the final grid, of the
click's first sounding sample in the render, on the grid as it stands once the click has
sounded (later changes never renumber bars already played; and a long set's map keeps only
its last seconds, engine.control `_folded`, so the final map no longer counts the first
bars).
"""

from __future__ import annotations

import random

import numpy as np

from hoot.music.time import TempoMap
from hoot.session import Session
from hoot.stage import Stage
from hoot.stage.watcher import SetWatcher
from tests import stemfiles

SR = 48000


def test_every_announced_bar_is_the_bar_the_sound_starts_in(tmp_path, report):
    rng = random.Random(20261204)
    stage = Stage.offline(Session(tmp_path / "bars"), SR, blocksize=[64, 333, 1024, 4096])
    perf, link = stage.perf, stage.link
    perf.on_message = lambda m: None
    watcher = SetWatcher(stage, post=lambda view: None)
    stemfiles.unity(perf)
    chunks: list[np.ndarray] = []

    def wait(samples: int) -> None:
        if samples > 0:
            chunks.append(link.advance(samples))

    def wait_beats(beats: float) -> None:
        wait(perf.wait_target(beats=beats) - perf.now)

    def change_something() -> str:
        what = rng.choice(["tempo", "tempo", "meter", "phrase"])
        if what == "tempo":
            perf.set_tempo(rng.uniform(70, 190), at=rng.choice(["beat", "bar", "phrase"]))
        elif what == "meter":
            perf.meter = rng.choice(["4/4", "7/8", "3/4", "5/4", "6/8", "12/8"])
        else:
            perf.phrase = rng.choice([1, 2, 3, 4, 8])
        return what

    clicks, changes = [], 0
    for i in range(70):
        for _ in range(rng.randint(1, 4)):
            change_something()
            changes += 1
            wait_beats(rng.uniform(0, 3))
        track = rng.choice(["drums", "bass", "chords", "lead", "pad", "perc"])
        click = perf.load(
            stemfiles.impulse(tmp_path / f"click{i}.wav", frames=SR, value=0.5), role=track
        )
        start = click.queue(at=rng.choice(["phrase", "bar", "beat"]))
        said = perf.bar_of(start)
        shown = next(q.bar for q in watcher.build().queue if q.stem == click.id)
        if rng.random() < 0.5:  # and the grid changes again before it plays
            change_something()
            changes += 1
        while not [p for p in perf.tracks[track].playing if p.state == "playing"]:
            wait(rng.randint(100, 5000))
        wait(rng.randint(10, 2000))
        perf.tracks[track].stop(at="now")
        wait(SR // 10)
        grid = TempoMap.from_dict(perf._state().tempo_map)
        clicks.append((len(clicks), perf.now, said, shown, grid))

    final = TempoMap.from_dict(perf._state().tempo_map)
    audio = np.concatenate(chunks)[link.engine.limiter.latency :]
    heard = np.flatnonzero(np.abs(audio[:, 0]) > 0.25)
    stage.close()
    wrong = []
    since = 0
    for n, until, said, shown, grid in clicks:
        first = int(heard[np.searchsorted(heard, since)])
        assert first < until, f"click {n} was never heard"
        bar = grid.position(first).bar + 1
        if first >= final.tempi[0].sample:  # the final map still counts it: the same bar
            assert final.position(first).bar + 1 == bar
        if (said, shown) != (bar, bar):
            wrong.append((n, said, shown, bar))
        since = until
    report(f"{len(clicks)} clicks over {changes} tempo/meter/phrase changes: "
           f"{len(clicks) - len(wrong)} announced in the bar they sounded in")
    assert not wrong, f"(click, said, shown, sounded in) {wrong}"
