"""The `hoot` command. Results go to stdout; diagnostics to stderr."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hoot.errors import HootError


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cmd_render(a: argparse.Namespace) -> int:
    from hoot.render import render
    from hoot.session import Session

    blocksize = a.blocksize if a.blocksize != "random" else "random"
    if isinstance(blocksize, str) and blocksize.isdigit():
        blocksize = int(blocksize)
    audio = render(
        a.script,
        a.bars,
        a.output,
        samplerate=a.samplerate,
        blocksize=blocksize,
        session=Session(a.session),
    )
    seconds = len(audio) / a.samplerate
    bars = "bar" if a.bars == 1 else "bars"
    print(f"wrote {a.output}: {a.bars} {bars}, {seconds:.2f} s at {a.samplerate} Hz")
    return 0


def cmd_play(a: argparse.Namespace) -> int:
    """Play a script live through the engine process; with no audio device, render it."""
    from hoot.session import Session
    from hoot.stage import Stage

    if not a.script.is_file():
        raise HootError(f"no script at {a.script}")
    session = Session(a.session)
    stage = Stage.live(
        session,
        on_message=_say,
        backend=a.backend,
        device=a.device,
        idle_timeout=a.idle_timeout,
    )
    if stage.link.info.backend != "sounddevice":
        stage.link.shutdown()
        stage.perf.close()
        out = Path(a.output or session.dir / f"{a.script.stem}.wav")
        _say(
            f"no audio device to play on, so hoot renders to {out} instead "
            "(`hoot devices` shows what PortAudio sees)"
        )
        a.output = out
        return cmd_render(a)
    _say(f"playing {a.script} on {stage.link.info.device} (Ctrl-C stops)")
    if a.controllers:
        stage.start_controllers()  # a Launchpad on the ports plays along
    try:
        stage.run_script(a.script)
        stage.perf.wait(bars=a.bars)
    except KeyboardInterrupt:
        _say("stopping")
    finally:
        if stage.rig is not None:
            stage.rig.close()  # the Launchpad goes back to Live mode
        stage.perf.panic()
        stage.perf.close()
        stage.link.shutdown()
    return 0


def cmd_engine(a: argparse.Namespace) -> int:
    from hoot.engine.server import main as engine_main

    argv = [
        "--session",
        str(a.session_dir),
        "--backend",
        a.backend,
        "--idle-timeout",
        str(a.idle_timeout),
    ]
    if a.device:
        argv += ["--device", a.device]
    return engine_main(argv)


def cmd_tui(a: argparse.Namespace) -> int:
    from hoot.tui import run_tui  # starts the engine before the screen's imports

    args = {"backend": a.backend, "idle_timeout": a.idle_timeout}
    if a.device:
        args["device"] = a.device
    if a.blocksize:
        args["blocksize"] = _blocksize(a.blocksize)
    if a.set is not None and not a.set.is_file():
        raise HootError(f"no set script at {a.set}")
    return run_tui(
        a.session, set_script=a.set, starter=not a.empty, controllers=a.controllers, **args
    )


def _blocksize(frames: int) -> int:
    """An audio block size hoot supports: 16 to 4096 frames (64 is the smallest the
    compiled core is measured at; JACK's period wins on JACK)."""
    if not 16 <= frames <= 4096:
        raise HootError(f"--blocksize {frames} is out of range; use 64, 128 or 256 frames")
    return frames


def cmd_repl(a: argparse.Namespace) -> int:
    from hoot.console.repl_client import run_repl
    from hoot.session import session_dir

    return run_repl(session_dir(a.session)) or 0


def cmd_devices(a: argparse.Namespace) -> int:
    from hoot.engine.devices import list_devices

    print(list_devices())
    return 0


def cmd_midi(a: argparse.Namespace) -> int:
    from hoot.midi.ports import MidiPorts

    with MidiPorts(api=a.api) as ports:
        print(f"MIDI through {ports.api} (name a port by any unique part of its name)")
        for title, names in (("inputs", ports.inputs()), ("outputs", ports.outputs())):
            print(f"{title}:")
            print("\n".join(f"  {name}" for name in names) or "  none")
    return 0


def cmd_beats(a: argparse.Namespace) -> int:
    """One beat a line: seconds from the file's start, and its number in the bar."""
    from hoot.beats.files import beats_of_file

    try:
        for beat in beats_of_file(a.file, meter=a.meter, downbeats=a.downbeats, listen=a.listen):
            print(f"{beat.time:.3f}\t{beat.bar_beat}" if a.downbeats else f"{beat.time:.3f}")
    except BrokenPipeError:  # `hoot beats take.wav | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_doctor(a: argparse.Namespace) -> int:
    from hoot.engine.devices import doctor

    ok, report = doctor(extra=_model_checks())  # torch and the models: the real-time layer
    print(report)
    return 0 if ok else 1


NEURAL_FIX = "`make run NEURAL=1` (or `pip install -e '.[neural]'`; README: Installing torch)"


def _model_checks() -> list:
    """torch (asked in a subprocess: the doctor stays torch-free) and the checkpoints."""
    from hoot.engine.devices import Check
    from hoot.realtime.checkpoints import MODELS_DIR, find, inspect
    from hoot.realtime.probe import has_nvidia_gpu, probe

    torch, gpu = probe(), has_nvidia_gpu()
    if torch.version is None:
        checks = [Check(False, f"torch ({torch.missing})", NEURAL_FIX, essential=False)]
    else:
        build = "a CPU build" if torch.cpu_build else f"a CUDA {torch.cuda} build"
        what = f"torch {torch.version}, {build}, runs on {torch.device}"
        if torch.cuda is not None and not gpu:
            fix = ("pip install --force-reinstall torch==2.13.0 --index-url "
                   "https://download.pytorch.org/whl/cpu")  # fmt: skip
            what += " (no GPU here: gigabytes of CUDA libraries for nothing)"
            checks = [Check(False, what, fix, essential=False)]
        else:
            checks = [Check(True, what, essential=False)]
    found = [inspect(path) for path in find([MODELS_DIR])]
    if not found:
        checks.append(Check(True, f"models: none in {MODELS_DIR}", essential=False))
    checks += [Check(c.kind != "unknown", f"model {c.line()}", essential=False) for c in found]
    return checks


def cmd_models(a: argparse.Namespace) -> int:
    from hoot.realtime.checkpoints import MODELS_DIR, find, inspect

    places = a.paths or [MODELS_DIR]
    found = find(places)
    if not found:
        print(f"no checkpoints in {', '.join(map(str, places))}")
    for path in found:
        print(inspect(path).line())
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="hoot", description="a live-coding instrument")
    sub = ap.add_subparsers(dest="command", required=True)

    t = sub.add_parser("tui", help="the instrument: meters, grid, picker, queue and console")
    t.add_argument("--session", default="default", help="session name or folder")
    t.add_argument("--backend", default="auto", choices=("auto", "sounddevice", "null"))
    t.add_argument("--device", default=None)
    t.add_argument("--idle-timeout", type=float, default=600.0,
                   help="seconds the engine plays on with no hoot tui attached")
    t.add_argument("--blocksize", type=int, default=0,
                   help="frames per audio block: 64, 128 or 256 (0: the device's choice; "
                        "JACK: the server's period); a new engine only")
    t.add_argument("--set", type=Path, default=None,
                   help="a set script to run in the console once the engine is ready")
    t.add_argument("--empty", action="store_true",
                   help="a new session starts silent (otherwise it plays a starting groove)")
    t.add_argument("--no-controllers", dest="controllers", action="store_false",
                   help="leave MIDI controllers (a Launchpad Pro MK3...) alone")
    t.set_defaults(func=cmd_tui)

    rp = sub.add_parser("repl", help="a ptpython prompt in the running hoot tui's namespace")
    rp.add_argument("--session", default="default")
    rp.set_defaults(func=cmd_repl)

    r = sub.add_parser("render", help="render N bars of a live-coding script to a WAV file")
    r.add_argument("script", type=Path)
    r.add_argument("--bars", type=int, required=True)
    r.add_argument("-o", "--output", type=Path, required=True)
    r.add_argument("--blocksize", default="256", help="frames per block, or 'random'")
    r.add_argument("--samplerate", type=int, default=48000)
    r.add_argument("--session", default="render", help="session name or folder for stems")
    r.set_defaults(func=cmd_render)

    p = sub.add_parser("play", help="play a script live on the audio device")
    p.add_argument("script", type=Path)
    p.add_argument("--bars", type=int, default=16, help="how long to keep playing after it")
    p.add_argument("--session", default="demo")
    p.add_argument("--backend", default="auto", choices=("auto", "sounddevice", "null"))
    p.add_argument("--device", default=None)
    p.add_argument("--idle-timeout", type=float, default=30.0)
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="where to render when there is no audio device",
    )
    p.add_argument("--blocksize", default="256")
    p.add_argument("--samplerate", type=int, default=48000)
    p.add_argument("--no-controllers", dest="controllers", action="store_false",
                   help="leave MIDI controllers (a Launchpad Pro MK3...) alone")
    p.set_defaults(func=cmd_play)

    e = sub.add_parser("engine", help="run the sound server in the foreground")
    e.add_argument("session_dir", type=Path)
    e.add_argument("--backend", default="auto", choices=("auto", "sounddevice", "null"))
    e.add_argument("--device", default=None)
    e.add_argument("--idle-timeout", type=float, default=600.0)
    e.set_defaults(func=cmd_engine)

    sub.add_parser("devices", help="list audio host APIs and devices").set_defaults(
        func=cmd_devices
    )
    m = sub.add_parser("midi", help="list MIDI inputs and outputs, and the MIDI API in use")
    m.add_argument("--api", default=None, choices=("jack", "alsa", "coremidi", "winmm"),
                   help="insist on one MIDI API (default: $HOOT_MIDI_API, else JACK when a "
                   "JACK server runs, else the system's)")
    m.set_defaults(func=cmd_midi)
    sub.add_parser("doctor", help="check PortAudio, JACK, MIDI, torch and the models").set_defaults(
        func=cmd_doctor
    )
    ms = sub.add_parser("models", help="list the checkpoints in models/ and what each is for")
    ms.add_argument("paths", nargs="*", help="files or folders to list instead of models/")
    ms.set_defaults(func=cmd_models)
    b = sub.add_parser("beats", help="the beats of an audio file, as the live tracker hears them")
    b.add_argument("file", type=Path)
    b.add_argument("--downbeats", action="store_true",
                   help="a second column: the beat's number in the bar (1 = downbeat)")
    b.add_argument("--meter", type=int, default=4, help="beats per bar (default 4)")
    b.add_argument("--listen", choices=("onsets", "learned"), default="onsets",
                   help="onsets (default) or learned: hoot's beat network beside them")
    b.set_defaults(func=cmd_beats)
    return ap


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    try:
        return a.func(a)
    except HootError as e:
        trace = getattr(e, "trace", "")
        if trace:
            sys.stderr.write(trace)
        _say(f"hoot: {e}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
