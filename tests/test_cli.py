"""The `hoot` command as a performer runs it: a real process, real scripts, real WAV files.

Every session folder lives under tmp_path (`--session`), so nothing is written into the repo.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
HOOT = Path(sys.executable).with_name("hoot")  # the console script of the venv running pytest
DEMO = "sessions/demo.py"
DEMO_BPM = 122
CEILING = 10 ** (-0.3 / 20)  # the limiter's -0.3 dBFS


def hoot(*args: object, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `hoot ARGS...` from the repo root, as a user at a terminal would."""
    assert HOOT.exists(), f"no hoot command at {HOOT}; install hoot into this venv (make setup)"
    return subprocess.run(
        [str(HOOT), *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def bars(n: int, samplerate: int = 48000, bpm: float = DEMO_BPM) -> int:
    """Frames in n bars of 4/4."""
    return round(n * 4 * 60 / bpm * samplerate)


def read(path: Path) -> tuple[np.ndarray, int]:
    audio, samplerate = sf.read(str(path), dtype="float32", always_2d=True)
    return audio, samplerate


def stderr_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


@pytest.fixture(scope="module")
def demo_render(tmp_path_factory) -> Path:
    """Eight bars of the demo set, rendered once at the default block size."""
    folder = tmp_path_factory.mktemp("demo")
    out = folder / "demo.wav"
    result = hoot("render", DEMO, "--bars", 8, "-o", out, "--session", folder / "session")
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    return out


# ---- rendering ---------------------------------------------------------------------------


def test_render_writes_eight_bars_of_the_demo_as_a_float_wav(demo_render):
    info = sf.info(str(demo_render))
    assert info.subtype == "FLOAT"
    assert info.channels == 2
    audio, samplerate = read(demo_render)
    assert samplerate == 48000
    assert len(audio) == bars(8), "exactly 8 bars at 122 BPM, not a frame more or less"
    rms = float(np.sqrt(np.mean(audio**2)))
    assert rms > 10 ** (-30 / 20), f"the demo is audible (rms {20 * np.log10(rms):.1f} dBFS)"
    assert np.abs(audio[: bars(1)]).max() > 0.1, "the drums play from the first bar"
    assert np.abs(audio).max() <= CEILING, "the limiter holds -0.3 dBFS"


@pytest.mark.parametrize("blocksize", ["64", "1000", "random"])
def test_the_block_size_does_not_change_a_single_sample(demo_render, tmp_path, blocksize):
    out = tmp_path / f"demo-{blocksize}.wav"
    result = hoot(
        "render", DEMO, "--bars", 8, "-o", out, "--blocksize", blocksize, "--session", tmp_path
    )
    assert result.returncode == 0, result.stderr
    # arrays, not bytes: the float WAV's PEAK chunk carries a timestamp
    reference, _ = read(demo_render)
    audio, _ = read(out)
    assert audio.shape == reference.shape
    assert np.array_equal(audio, reference), (
        f"blocksize {blocksize} differs from 256 at frame "
        f"{int(np.argmax(np.any(audio != reference, axis=1)))}"
    )


def test_render_at_44100_hz_lasts_the_same_eight_bars(tmp_path):
    out = tmp_path / "demo-44k.wav"
    result = hoot(
        "render", DEMO, "--bars", 8, "-o", out, "--samplerate", 44100, "--session", tmp_path
    )
    assert result.returncode == 0, result.stderr
    audio, samplerate = read(out)
    assert samplerate == 44100
    assert len(audio) == bars(8, samplerate=44100)
    assert np.abs(audio).max() > 0.1
    assert np.abs(audio).max() <= CEILING


# ---- mistakes a performer makes ----------------------------------------------------------


def test_a_missing_script_is_one_line(tmp_path):
    out = tmp_path / "out.wav"
    result = hoot("render", tmp_path / "nope.py", "--bars", 8, "-o", out, "--session", tmp_path)
    assert result.returncode != 0
    [line] = stderr_lines(result)
    assert line.startswith("hoot:") and "nope.py" in line
    assert not out.exists()


def test_zero_bars_is_one_line(tmp_path):
    out = tmp_path / "out.wav"
    result = hoot("render", DEMO, "--bars", 0, "-o", out, "--session", tmp_path)
    assert result.returncode != 0
    [line] = stderr_lines(result)
    assert line.startswith("hoot:") and "bar" in line
    assert not out.exists()


def test_a_typo_in_a_track_name_suggests_the_right_one(tmp_path):
    typo = script(tmp_path, "typo.py", "perf.tracks.bas.gain = -3\n")
    out = tmp_path / "out.wav"
    result = hoot("render", typo, "--bars", 1, "-o", out, "--session", tmp_path)
    assert result.returncode != 0
    [line] = stderr_lines(result)
    assert line.startswith("hoot:")
    assert "did you mean 'bass'" in line


BROKEN = """\
    perf.tempo = 130
    offset = 1 / 0
"""


def test_a_script_that_raises_points_at_its_own_line(tmp_path):
    broken = script(tmp_path, "broken.py", BROKEN)
    out = tmp_path / "out.wav"
    result = hoot("render", broken, "--bars", 1, "-o", out, "--session", tmp_path)
    assert result.returncode != 0
    assert f'File "{broken}", line 2' in result.stderr, "the performer's own line is shown"
    assert "ZeroDivisionError: division by zero" in result.stderr
    assert not out.exists()


def test_a_script_that_raises_shows_only_its_own_traceback_and_ends_with_one_hoot_line(
    tmp_path,
):
    broken = script(tmp_path, "broken.py", BROKEN)
    result = hoot("render", broken, "--bars", 1, "-o", tmp_path / "out.wav", "--session", tmp_path)
    assert result.returncode != 0
    lines = stderr_lines(result)
    assert lines[-1].startswith("hoot:"), "the last line says what happened, in hoot's voice"
    assert "broken.py" in lines[-1] and "ZeroDivisionError" in lines[-1]
    assert [line for line in lines if line.startswith("hoot:")] == [lines[-1]]
    for machinery in ("hoot/cli.py", "hoot/render.py", "runpy"):
        assert machinery not in result.stderr, f"{machinery} is hoot's business, not the user's"


# ---- the machine -------------------------------------------------------------------------


def test_devices_lists_host_apis_or_says_there_are_none():
    result = hoot("devices")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    if "PortAudio library could not be loaded" in out:
        return  # says so clearly, with the install command
    assert "Host APIs:" in out
    assert "output device" in out
    assert "Output devices: none" in out or "Output devices (* =" in out


def test_doctor_checks_portaudio_jack_and_midi_and_says_ok_or_missing():
    result = hoot("doctor")
    assert result.returncode in (0, 1), result.stderr
    *checks, verdict = result.stdout.strip().splitlines()
    for line in checks:
        assert line.startswith(("ok ", "missing ")), f"unclear check: {line!r}"
    for subject in ("PortAudio", "JACK", "MIDI"):
        assert any(subject in line for line in checks), f"no check for {subject}"
    if result.returncode == 0:
        assert verdict == "All essential checks passed."
    else:
        assert "essential check" in verdict and "failed" in verdict


@pytest.mark.jack
def test_doctor_lists_the_input_channels_and_measures_the_round_trip_on_jack(jack_server):
    result = subprocess.run(  # this checkout's hoot, on the test's JACK server
        [sys.executable, "-m", "hoot.cli", "doctor"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    lines = result.stdout.splitlines()
    [inputs] = [line for line in lines if "audio inputs" in line]
    assert inputs.startswith("ok ") and "1 system:capture_1" in inputs, inputs
    [trip] = [line for line in lines if "round trip" in line]
    assert trip.startswith("ok ") and " ms (" in trip and "frames)" in trip, trip
    assert "measured on a JACK loopback" in trip, "on JACK, hoot measures it on its own loopback"


# ---- playing -----------------------------------------------------------------------------


def test_play_without_an_audio_device_renders_instead_and_leaves_no_engine_behind(tmp_path):
    session = tmp_path / "live"
    result = hoot("play", DEMO, "--bars", 1, "--session", session, "--backend", "null")
    assert result.returncode == 0, result.stderr
    [sentence] = stderr_lines(result)
    assert "no audio device" in sentence
    wav = session / "demo.wav"
    assert str(wav) in sentence, "it says where the music went"
    audio, _ = read(wav)
    assert len(audio) == bars(1)
    assert np.abs(audio).max() > 0.1
    assert (session / "engine.log").exists()
    leftover = subprocess.run(["pgrep", "-af", str(session)], capture_output=True, text=True)
    assert leftover.stdout == "", f"an engine still serves the session:\n{leftover.stdout}"


def test_a_repl_for_a_session_that_does_not_run_makes_no_folder(tmp_path):
    import os

    env = {**os.environ, "HOOT_SESSIONS": str(tmp_path / "sessions")}
    result = subprocess.run([str(HOOT), "repl", "--session", "fridya"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode != 0
    assert stderr_lines(result) == [
        "hoot: no hoot tui is running for session 'fridya'; start one with "
        "`hoot tui --session fridya`"
    ]
    assert not (tmp_path / "sessions").exists(), "a typo is not a new session"


# ---- beats -------------------------------------------------------------------------------


def test_beats_prints_one_beat_a_line_and_the_bar_with_downbeats(tmp_path, capsys):
    from hoot.cli import main
    from tests.beats.grooves import SR, grid, groove

    reference = grid(120.0, 1.0, 12.0)
    path = tmp_path / "groove.wav"
    sf.write(str(path), groove(reference, 12.0, kick="x...", snare=".x.x"), SR)
    assert main(["beats", str(path)]) == 0
    times = capsys.readouterr().out.splitlines()
    assert times and all(len(t.split(".")[1]) == 3 for t in times)
    late = [float(t) for t in times if float(t) > 5.0]
    assert all(np.min(np.abs(reference - t)) <= 0.07 for t in late)

    assert main(["beats", str(path), "--downbeats", "--meter", "4"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [r[0] for r in rows] == times
    assert {r[1] for r in rows} <= {"1", "2", "3", "4"}
    ones = [float(t) for t, n in rows if n == "1" and float(t) > 5.0]
    assert ones and all(np.min(np.abs(reference[::4] - t)) <= 0.07 for t in ones)


def test_beats_listens_with_the_network_when_asked(tmp_path, capsys):
    from hoot.cli import main
    from tests.beats.grooves import SR, grid, groove

    reference = grid(120.0, 1.0, 14.0)
    path = tmp_path / "groove.wav"
    sf.write(str(path), groove(reference, 14.0), SR)
    assert main(["beats", str(path), "--listen", "learned"]) == 0
    out = capsys.readouterr()
    late = [float(t) for t in out.out.splitlines() if float(t) > 6.0]
    assert len(late) >= 14 and all(np.min(np.abs(reference - t)) <= 0.07 for t in late)
    assert out.err == ""  # the shipped model loads: nothing to say


@pytest.mark.parametrize("content", [None, b"not audio at all"])
def test_beats_of_a_missing_or_corrupt_file_is_one_sentence_and_exit_2(tmp_path, capsys, content):
    from hoot.cli import main

    path = tmp_path / "take.wav"
    if content is not None:
        path.write_bytes(content)
    assert main(["beats", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = [line for line in captured.err.splitlines() if line.strip()]
    assert line.startswith("hoot: cannot read") and "take.wav" in line
