"""Return rows: a real-time model's audio comes back through a return ring its process
writes, and the engine plays it as a track (gain, pan, mute, meters, recordings, the input
ring) at exactly the samples it was written for; what is not written in time is silence,
counted; a dead model silences only its own row; delay compensation lines a late model up
with the music it answers to the sample. First offline (exact to the sample), then the
real engine process on JACK with the model in another process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hoot.engine import protocol as p
from hoot.engine import rings
from hoot.engine.client import EngineClient, LocalEngine
from hoot.engine.inputs import INPUT_ROWS
from hoot.engine.protocol import MAX_COMPENSATE
from hoot.engine.rings import R_FROM, ReturnWriter
from hoot.errors import EngineError
from hoot.music.roles import TRACKS
from hoot.session import Session
from tests.stemfiles import write_wav
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
SR = 48000
BLOCK = 256


def noise(frames: int, seed: int = 1, level: float = 0.25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-level, level, (frames, 2)).astype(np.float32)


def sine_at(s0: int, frames: int) -> np.ndarray:
    """The model's signal as a function of the engine sample: what sample s must carry."""
    s = np.arange(s0, s0 + frames, dtype=np.float64)
    mono = (0.3 * np.sin(2 * np.pi * 441.0 * s / SR + 0.1)).astype(np.float32)  # never 0
    return np.repeat(mono[:, None], 2, axis=1)


def file_of(paths: tuple[str, ...], name: str) -> np.ndarray:
    audio, _ = sf.read(next(x for x in paths if x.endswith(f"-{name}.wav")), dtype="float32")
    return audio


@pytest.fixture
def link(tmp_path):
    link = LocalEngine(SR, blocksize=BLOCK, session_dir=tmp_path)
    yield link
    link.close()


def test_audio_written_for_sample_s_is_heard_at_sample_s_in_the_track_and_the_master(link):
    slot = link.send(p.ModelAudio("trombone~"))
    assert (slot.row, slot.track, slot.samplerate, slot.block) == (0, len(TRACKS), SR, 0)
    assert Path(slot.path).exists()
    writer = ReturnWriter(slot.path)
    assert (writer.samplerate, writer.frames, writer.played) == (SR, rings.RETURN_FRAMES, 0)
    s, played = 5003, noise(3000)  # not on a block boundary
    writer.write(s, played)
    paths = link.send(p.Record(tracks=True, name="take")).paths
    out = link.advance(12000)
    link.send(p.StopRecording())
    late = link.engine.limiter.latency  # the master lags the tracks by the limiter's look-ahead
    assert not out[: s + late].any()
    assert np.array_equal(out[s + late : s + late + 3000], played)
    assert not out[s + late + 3000 :].any()
    track = file_of(paths, "trombone~")  # the file's label: the name made safe
    assert not track[:s].any() and not track[s + 3000 :].any()
    assert np.array_equal(track[s : s + 3000], played), "recorded after its fader, exactly"
    assert writer.played == 12000
    assert writer.missing == 12000 - (s + 3000), "after its run, nothing more came"


def test_samples_not_written_in_time_are_silence_and_counted(link):
    writer = ReturnWriter(link.send(p.ModelAudio("voice~")).path)
    writer.write(1000, noise(1000))
    out = link.advance(3000)
    late = link.engine.limiter.latency
    assert np.array_equal(out[1000 + late : 2000 + late], noise(1000))
    assert writer.missing == 1000, "2000..2999: the model fell behind"
    writer.write(2500, noise(1000, seed=2))  # half of it too late: a new run
    out = link.advance(1000)
    tail = link.advance(1000)
    whole = np.concatenate([out, tail])[late:]  # samples 3000.. as heard
    assert np.array_equal(whole[:500], noise(1000, seed=2)[500:])
    assert not whole[500:].any()
    assert writer.missing == 1000 + 500 + 1000
    assert link.engine.faults == 0


def test_a_model_that_dies_leaves_only_its_row_silent_while_the_rest_plays_on(link):
    def render(local: LocalEngine, model: bool) -> np.ndarray:
        local.send(p.AddInput("guide", signal="sine 220"))
        if model:
            writer = ReturnWriter(local.send(p.ModelAudio("voice~")).path)
            writer.write(0, noise(2000))
            writer.close()  # the model's process is gone: nothing more comes
        return local.advance(SR)

    alone = render(LocalEngine(SR, blocksize=BLOCK), model=False)
    local = LocalEngine(SR, blocksize=BLOCK)
    both = render(local, model=True)
    late = local.engine.limiter.latency
    assert not np.array_equal(both[: 2000 + late], alone[: 2000 + late])
    assert np.array_equal(both[2000 + late :], alone[2000 + late :]), "the guide, bit for bit"
    assert ReturnWriter(local.control.deck.rows[1].ret.path).missing == SR - 2000
    meters = local.status().inputs
    assert meters[0, 0] > 0.49 and meters[1, 0] == 0.0
    assert local.engine.faults == 0


def test_the_return_row_is_a_track_mixed_metered_listed_and_ringed(link):
    name = f"test-return-{os.getpid()}.inputs"
    link.engine.use_ring(rings.create_ring(name, INPUT_ROWS, SR))
    link.control.deck.ring = name
    try:
        slot = link.send(p.ModelAudio("trombone~"))
        assert slot.ring == name
        reader = rings.RingReader(name)
        listed = link.send(p.Inputs()).tracks
        assert [(t.name, t.source, t.row, t.track) for t in listed] == [
            ("trombone~", "model", 0, len(TRACKS))
        ]
        assert [i.source for i in link.send(p.State()).inputs] == ["model"]
        link.send(p.Mix("trombone~", gain=-6.0, pan=0.5))  # before the music: at once
        writer = ReturnWriter(slot.path)
        played = noise(4096, level=0.5)
        writer.write(1024, played)
        out = link.advance(6144)
        left, right = link.control._gains("trombone~")
        late = link.engine.limiter.latency
        heard = out[1024 + late : 1024 + late + 4096]
        assert np.allclose(heard[:, 0], played[:, 0] * np.float32(left), rtol=1e-6, atol=0)
        assert np.allclose(heard[:, 1], played[:, 1] * np.float32(right), rtol=1e-6, atol=0)
        status = link.status()
        assert status.inputs[0, 0] == 0.0, "the last block held nothing written"
        ringed = np.zeros((6144, 2), np.float32)
        while (block := reader.read()) is not None:
            s0, audio = block
            ringed[s0 : s0 + audio.shape[1]] = audio[slot.row]
        assert np.array_equal(ringed[1024:5120], played), "the ring carries it before its fader"
        writer.write(6144, played)
        link.advance(512)
        assert link.status().inputs[0, 0] > 0.1, "metered while it sounds"
        link.send(p.Mix("trombone~", mute=True))
        link.advance(1024)  # the mute glides over 480 frames
        assert np.abs(link.advance(1024)).max() < 1e-6, "muted (a glide's rounding is left)"
    finally:
        rings.ring_path(name).unlink(missing_ok=True)


def test_model_audio_on_off_and_on_again_and_clashing_names_get_a_sentence(link):
    first = link.send(p.ModelAudio("sax~"))
    writer = ReturnWriter(first.path)
    writer.write(0, noise(512))
    again = link.send(p.ModelAudio("sax~"))
    assert (again.path, again.row) == (first.path, first.row), "the same row and file"
    assert writer.written == 0 and writer._head[R_FROM] == -1, "what was written is forgotten"
    link.advance(1024)
    assert writer.missing == 0
    gone = link.send(p.ModelAudio("sax~", on=False))
    assert gone.path == "" and "sax~" not in link.send(p.State()).tracks
    link.advance(BLOCK)  # the core takes the row back; then the file goes
    assert not Path(first.path).exists()
    assert link.send(p.ModelAudio("sax~", on=False)).path == "", "letting go twice is no error"
    back = link.send(p.ModelAudio("sax~"))
    assert back.row == first.row and back.path != first.path and Path(back.path).exists()
    link.send(p.AddInput("guide", signal="sine 220"))
    junk = link.engine.notes_path + ".junk"
    Path(junk).write_bytes(bytes(256))
    try:
        for attempt, words in [
            (lambda: link.send(p.ModelAudio("bass")), "'bass' is a generated track"),
            (lambda: link.send(p.ModelAudio("guide")), "'guide' is a live input already"),
            (lambda: link.send(p.AddInput("sax~", signal="noise")), "'sax~' is a model's output"),
            (lambda: link.send(p.ModelAudio(" sax")), "without outer spaces"),
            (lambda: ReturnWriter(junk + ".none"), "no return ring at"),
            (lambda: ReturnWriter(junk), "is not a hoot return ring"),
            (lambda: ReturnWriter(back.path).write(link.position + 30000, noise(10)),
             "too far ahead"),
            (lambda: ReturnWriter(back.path).write(0, np.zeros((4, 3))), "m x 2 or mono"),
            (lambda: link.send(p.Compensate(MAX_COMPENSATE + 1)), "from 0 to 16384"),
            (lambda: link.send(p.Compensate(-1)), "from 0 to 16384"),
            (lambda: link.send(p.Compensate(1.5)), "whole number of samples"),
        ]:  # fmt: skip
            with pytest.raises(EngineError, match=words) as caught:
                attempt()
            assert "\n" not in str(caught.value)
        for k in range(INPUT_ROWS - 2):
            link.send(p.ModelAudio(f"model {k}"))
        with pytest.raises(EngineError, match="all 8 input rows are taken"):
            link.send(p.ModelAudio("one too many"))
    finally:
        Path(junk).unlink()
    assert np.abs(link.advance(SR // 4)).max() > 0.49, "the music plays on"
    assert link.engine.faults == 0


def test_compensation_lines_a_late_model_up_with_the_track_it_answers_to_the_sample(
    link, tmp_path
):
    """A click on a generated track at sample C; the model's answer, the same click, comes
    back D samples late. With Compensate(D) both reach the master at C + D together; off,
    the answer is D samples behind."""
    click_at, delay, level = 25000, 1000, np.float32(0.2)
    stem = np.zeros((SR, 2), np.float32)
    stem[1000] = level  # away from the loop's seam fades
    link.send(p.Load("clicks", str(write_wav(tmp_path / "click.wav", stem))))
    link.send(p.Mix("drums", gain=0.0))
    link.send(p.Queue("drums", "clicks", at=click_at - 1000))
    writer = ReturnWriter(link.send(p.ModelAudio("drums~")).path)
    answer = np.zeros((2048, 2), np.float32)
    answer[0] = level

    def heard(on: bool) -> list[tuple[int, float]]:
        base = link.position
        assert link.send(p.Compensate(delay if on else 0)).samples == (delay if on else 0)
        before = link.advance(click_at - 2000)  # the answer is written 3000 samples ahead
        writer.write(base + click_at + delay, answer)
        out = np.concatenate([before, link.advance(6000)])[:, 0]
        late = link.engine.limiter.latency
        return [(int(k) - late - click_at, float(out[k])) for k in np.flatnonzero(out)]

    once, twice = float(level), float(level + level)
    assert heard(on=False) == [(0, once), (delay, once)]
    assert link.send(p.State()).compensate == 0
    link.send(p.Queue("drums", "clicks", at=link.position + click_at - 1000))
    assert heard(on=True) == [(delay, twice)], "one click, twice as loud"
    assert link.send(p.State()).compensate == delay


# The real engine on JACK ----------------------------------------------------------------


def python(script: str, **kw) -> subprocess.Popen:
    """Another process, importing this worktree's hoot."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=REPO, text=True, **kw
    )


@pytest.mark.jack
def test_a_model_in_another_process_writes_ahead_and_the_engine_plays_it_at_its_samples(
    jack_server, tmp_path
):
    client = EngineClient.spawn(Session(tmp_path / "live").dir, backend="sounddevice",
                                idle_timeout=60)  # fmt: skip
    try:
        assert client.info.backend == "sounddevice", client.messages()
        slot = client.send(p.ModelAudio("trombone~"))
        assert slot.block > 0 and slot.samplerate == SR and slot.ring
        reader = rings.RingReader(slot.ring)
        model = python(
            f"""
            import time
            import numpy as np
            from hoot.engine.rings import ReturnWriter
            from tests.engine.test_return_rows import sine_at
            writer = ReturnWriter({slot.path!r})
            start = writer.played + 9600  # 0.2 s ahead of the engine
            at = start
            print(start, flush=True)
            while at < start + 2 * {SR}:  # 2 s, written in chunks, always ahead
                if at - writer.played < 8192:
                    writer.write(at, sine_at(at, 512))
                    at += 512
                else:
                    time.sleep(0.002)
            print(at, flush=True)
            """,
            stdout=subprocess.PIPE,
        )
        start = int(model.stdout.readline())
        got: dict[int, np.ndarray] = {}

        def follow() -> bool:
            while (block := reader.read()) is not None:
                got[block[0]] = block[1][slot.row]
            return bool(got) and max(got) > start + 2 * SR + SR // 4

        assert wait_until(follow), "the engine plays past the model's 2 s"
        end = int(model.stdout.readline())
        assert model.wait(timeout=60) == 0 and start + 2 * SR <= end < max(got)
        heard = right = silent = 0
        for s0, audio in got.items():
            for i in range(audio.shape[0]):
                s = s0 + i
                if start <= s < end:
                    heard += 1
                    right += bool(np.array_equal(audio[i], sine_at(s, 1)[0]))
                    silent += not audio[i].any()  # written too late: missed
                elif s < start:
                    assert not audio[i].any(), "nothing before the model's first sample"
        assert reader.lost == 0 and heard == end - start
        assert right + silent == heard, "every sample at its place, or silence"
        assert silent < SR // 10, "a busy machine may miss a little, never most of it"
        assert ReturnWriter(slot.path).missing >= silent, "and what was missed is counted"
    finally:
        client.shutdown()


def test_a_return_ring_left_by_a_killed_engine_is_cleaned_up():
    """A return ring goes with the process that made it; one whose maker was killed (no
    exit handler ran) is removed by runtime.clean(), as a live-note table is."""
    import signal

    from hoot import runtime

    killed = python(
        """
        import time
        from hoot.engine import rings
        ring = rings.create_return("test-killed.return", 48000)
        print("made", flush=True)
        time.sleep(600)
        """,
        stdout=subprocess.PIPE,
    )
    left = runtime.runtime_dir() / "test-killed.return"
    try:
        assert killed.stdout.readline().strip() == "made"
        assert left.exists() and left not in runtime.clean(), "its maker lives: it stays"
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    assert left.exists()
    assert left in runtime.clean()
    assert not left.exists()
