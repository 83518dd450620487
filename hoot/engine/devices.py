"""What the machine offers for sound and MIDI: `hoot devices` and `hoot doctor`.

Both only look; neither opens a stream. Everything PortAudio reports here is as of the last
Pa_Initialize (sounddevice does one at import): a JACK server started after that shows up only
in a new process, or after `hoot.engine.backends.reinitialize_portaudio()`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from hoot.engine.backends import (
    JACK_HOSTAPI_MARK,
    OutputUnavailable,
    choose_output_device,
    import_sounddevice,
)

INSTALL_PORTAUDIO = "sudo apt-get install libportaudio2"
INSTALL_JACK = "sudo apt-get install jackd2"
INSTALL_SNDFILE = "sudo apt-get install libsndfile1"
START_JACK = "jackd -d alsa -r 48000"
CONNECT_INPUTS = f"connect an interface with inputs, or start JACK with `{START_JACK}`"
JACK_PROBE_SECONDS = 5.0  # jack_wait gives up long before this unless the machine is stuck


def _pip_install(package: str) -> str:
    """Return the command that installs `package` into the Python running hoot."""
    return f"{sys.executable} -m pip install {package}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def list_devices() -> str:
    """Describe PortAudio's host APIs and output devices, the defaults marked.

    Returns one sentence instead when the PortAudio library cannot be loaded.
    """
    try:
        sounddevice = import_sounddevice()
    except OutputUnavailable as error:
        return str(error)
    hostapis = sounddevice.query_hostapis()
    devices = sounddevice.query_devices()
    outputs = [info for info in devices if info["max_output_channels"] > 0]
    default_output = _default_output(sounddevice)
    portaudio_version = sounddevice.get_portaudio_version()[1]
    lines = [f"PortAudio: {portaudio_version} (sounddevice {sounddevice.__version__})"]

    lines.append("Host APIs:")
    width = max(len(api["name"]) for api in hostapis) if hostapis else 0
    for api in hostapis:
        playable = [index for index in api["devices"] if devices[index]["max_output_channels"]]
        entry = f"  {api['name']:<{width}}  {_plural(len(playable), 'output device')}"
        if api["default_output_device"] >= 0:
            entry += f", default: {devices[api['default_output_device']]['name']}"
        lines.append(entry)
    if not any(JACK_HOSTAPI_MARK in api["name"] for api in hostapis):
        lines.append(
            "  (no JACK host API: PortAudio found no JACK server running when it started; "
            f"start one with `{START_JACK}`)"
        )

    if not outputs:
        lines.append(
            "Output devices: none; PortAudio sees nothing that can play, "
            "so hoot will play silently on the null backend."
        )
        return "\n".join(lines)
    lines.append("Output devices (* = PortAudio's default output):")
    for info in outputs:
        mark = "*" if info["index"] == default_output else " "
        lines.append(
            f"  {mark} [{info['index']}] {info['name']} - "
            f"{hostapis[info['hostapi']]['name']}, "
            f"{_plural(info['max_output_channels'], 'channel')} out, "
            f"{info['default_samplerate']:.0f} Hz default"
        )
    try:
        chosen = sounddevice.query_devices(choose_output_device(sounddevice, None))
        lines.append(f"hoot plays on: [{chosen['index']}] {chosen['name']} (with no --device)")
    except OutputUnavailable as error:
        lines.append(f"hoot cannot pick a device: {error}")
    return "\n".join(lines)


def _default_output(sounddevice: Any) -> int:
    """Return PortAudio's default output device index, or -1 when it has none."""
    try:
        return int(sounddevice.query_devices(kind="output")["index"])
    except (sounddevice.PortAudioError, ValueError):
        return -1


@dataclass
class Check:
    """One line of the doctor's report."""

    ok: bool
    what: str
    fix: str = ""  # the command (or step) that repairs it; shown only when not ok
    essential: bool = True

    def line(self) -> str:
        status = "ok" if self.ok else "missing"
        text = f"{status:<8}{self.what}"
        if not self.essential:
            text += " (optional)"
        if not self.ok and self.fix:
            text += f" - fix: {self.fix}"
        return text


def _check_portaudio() -> tuple[list[Check], Any]:
    """Check that PortAudio loads and can play somewhere; return the checks and the module."""
    try:
        sounddevice = import_sounddevice()
    except OutputUnavailable as error:
        return [
            Check(False, f"PortAudio library ({error.problem})", f"`{INSTALL_PORTAUDIO}`"),
            Check(False, "audio output device (cannot look without PortAudio)", ""),
        ], None
    version = sounddevice.get_portaudio_version()[1]
    checks = [Check(True, f"PortAudio library: {version} (sounddevice {sounddevice.__version__})")]
    outputs = [info for info in sounddevice.query_devices() if info["max_output_channels"] > 0]
    if outputs:
        names = ", ".join(
            f"{info['name']} ({sounddevice.query_hostapis(info['hostapi'])['name']})"
            for info in outputs[:4]
        )
        more = f" and {len(outputs) - 4} more" if len(outputs) > 4 else ""
        checks.append(Check(True, f"audio output device: {names}{more}"))
    else:
        checks.append(
            Check(
                False,
                "audio output device (PortAudio sees none; hoot would play silently)",
                "connect or enable a sound card and check the kernel sees it with `aplay -l` "
                f"(from `sudo apt-get install alsa-utils`), or start JACK with `{START_JACK}`",
            )
        )
    return checks, sounddevice


def _jack_server_state(sounddevice: Any) -> tuple[bool, str]:
    """Return whether a JACK server answers, and how that was found out."""
    server = os.environ.get("JACK_DEFAULT_SERVER", "default")
    if sounddevice is not None:
        for api in sounddevice.query_hostapis():
            if JACK_HOSTAPI_MARK in api["name"] and api["default_output_device"] >= 0:
                device = sounddevice.query_devices(api["default_output_device"])
                rate = device["default_samplerate"]
                return True, f"JACK server '{server}' is running ({rate:.0f} Hz, seen by PortAudio)"
    jack_wait = shutil.which("jack_wait")
    if jack_wait is not None:
        # PortAudio only looked when it started; jack_wait looks now, without starting one.
        try:
            probe = subprocess.run(
                [jack_wait, "--server", server, "--check"],
                check=False,  # the answer is in stdout: jack_wait exits 0 either way
                capture_output=True,
                text=True,
                timeout=JACK_PROBE_SECONDS,
            )
        except (OSError, subprocess.TimeoutExpired):
            probe = None
        if probe is not None and probe.stdout.strip() == "running":
            return True, (
                f"JACK server '{server}' is running (PortAudio started before it, "
                "so restart hoot to use it)"
            )
    return False, f"JACK server '{server}' (not running)"


def _check_jack(sounddevice: Any) -> list[Check]:
    jackd = shutil.which("jackd")
    checks = [
        Check(
            jackd is not None,
            f"JACK server program: {jackd}" if jackd else "JACK server program (jackd)",
            f"`{INSTALL_JACK}`",
            essential=False,
        )
    ]
    running, what = _jack_server_state(sounddevice)
    checks.append(Check(running, what, f"`{START_JACK}`", essential=False))
    return checks


def _check_inputs(sounddevice: Any, jack_running: bool) -> list[Check]:
    """The input channels hoot would listen to, and the round trip from an input to the
    monitored output. On JACK a short-lived engine of hoot's own (a few seconds) lists the
    capture ports and measures the trip: its output played into its own input. Elsewhere
    the device's reported latencies stand in, and the line says so."""
    if sounddevice is None:
        return [Check(False, "audio inputs (cannot look without PortAudio)", "", essential=False)]
    if jack_running:
        return _inputs_from_an_engine()
    try:
        info = sounddevice.query_devices(choose_output_device(sounddevice, None))
    except (OutputUnavailable, ValueError, sounddevice.PortAudioError) as error:
        return [
            Check(
                False,
                f"audio inputs (no device to listen to: {error})",
                CONNECT_INPUTS,
                essential=False,
            )
        ]
    channels = int(info["max_input_channels"])
    if not channels:
        return [
            Check(
                False,
                f"audio inputs: {info['name']} has none (outputs play; "
                "perf.input takes a file or a signal)",
                CONNECT_INPUTS,
                essential=False,
            )
        ]
    trip = (info["default_low_input_latency"] + info["default_low_output_latency"]) * 1000
    return [
        Check(
            True,
            f"audio inputs: {_plural(channels, 'channel')} on {info['name']} "
            f"(perf.input('name', channel=1..{channels}))",
            essential=False,
        ),
        Check(
            True,
            f"round trip input to output: about {trip:.1f} ms, as the device reports "
            "it (not measured: hoot measures it on JACK)",
            essential=False,
        ),
    ]


def _inputs_from_an_engine() -> list[Check]:
    """Ask a short-lived engine on JACK for its inputs and the measured round trip."""
    import tempfile
    from pathlib import Path

    from hoot.engine import protocol as p
    from hoot.engine.client import EngineClient
    from hoot.errors import HootError

    with tempfile.TemporaryDirectory(prefix="hoot-doctor-") as folder:
        try:
            engine = EngineClient.spawn(Path(folder), backend="sounddevice", idle_timeout=30)
        except HootError as error:
            return [
                Check(
                    False,
                    f"audio inputs (hoot's engine did not start on JACK: {error})",
                    "`hoot engine SOME_FOLDER` in the foreground shows why",
                    essential=False,
                )
            ]
        try:
            found = engine.send(p.Inputs())
            if found.ports:
                listed = ", ".join(f"{n} {port}" for n, port in enumerate(found.ports[:4], 1))
                more = f" and {len(found.ports) - 4} more" if len(found.ports) > 4 else ""
                checks = [Check(True, f"audio inputs: {listed}{more}", essential=False)]
            else:
                checks = [
                    Check(
                        False,
                        f"audio inputs: none ({found.reason})",
                        CONNECT_INPUTS,
                        essential=False,
                    )
                ]
            trip = engine.send(p.MeasureLatency())
            checks.append(
                Check(
                    True,
                    f"round trip input to output: {trip.ms:.1f} ms "
                    f"({trip.frames} frames): {trip.how}",
                    essential=False,
                )
            )
        except HootError as error:
            checks = [
                Check(
                    False,
                    f"audio inputs ({error})",
                    "`hoot devices` shows the device",
                    essential=False,
                )
            ]
        finally:
            engine.shutdown()
    return checks


def _check_midi() -> list[Check]:
    try:
        import rtmidi
    except ImportError as error:
        return [
            Check(
                False,
                f"MIDI: python-rtmidi ({error})",
                f"`{_pip_install('python-rtmidi')}`",
            )
        ]
    apis = [rtmidi.get_api_display_name(api) for api in rtmidi.get_compiled_api()]
    checks = [
        Check(
            True,
            f"MIDI: python-rtmidi {rtmidi.version.version} with APIs: {', '.join(apis) or 'none'}",
        )
    ]
    from hoot.errors import HootError
    from hoot.midi.ports import MidiPorts

    try:
        with MidiPorts() as ports:
            found = f"{len(ports.inputs())} inputs, {len(ports.outputs())} outputs"
            checks.append(Check(True, f"MIDI: hoot uses {ports.api} ({found}; `hoot midi`)"))
    except HootError as error:  # its sentence says what to do
        checks.append(Check(False, "MIDI ports", str(error), essential=False))  # says what to do
    seq_present = os.path.exists("/dev/snd/seq")
    checks.append(
        Check(
            seq_present,
            "MIDI: ALSA sequencer /dev/snd/seq"
            + ("" if seq_present else " (absent: no ALSA MIDI ports; JACK MIDI still works)"),
            "`sudo modprobe snd-seq`",
            essential=False,
        )
    )
    return checks


def _check_soundfile() -> list[Check]:
    try:
        import soundfile
    except OSError as error:  # the package is there but libsndfile is not
        return [Check(False, f"libsndfile for soundfile ({error})", f"`{INSTALL_SNDFILE}`")]
    except ImportError as error:
        return [Check(False, f"soundfile ({error})", f"`{_pip_install('soundfile')}`")]
    return [
        Check(
            True,
            f"soundfile {soundfile.__version__} with libsndfile {soundfile.__libsndfile_version__}",
        )
    ]


def _check_core() -> list[Check]:
    """Where the engine's compiled core comes from: shipped for this platform, compiled on
    this machine before, or compiled at the first start (about two minutes)."""
    import os

    from hoot.engine.kernel import cache, shipped  # numba (0.3 s): only where asked

    fingerprint = cache.sources_fingerprint()
    if os.environ.get("HOOT_SHIPPED_CORE", "1") == "0":
        reason: str | None = "HOOT_SHIPPED_CORE=0"
    else:
        reason = shipped.why_not(fingerprint)
    if reason is None:
        return [Check(True, f"the engine's compiled core: shipped for {shipped.platform_tag()}")]
    folder = cache.user_cache_dir() / f"numba-{fingerprint}"
    if any(folder.glob("*/world.process-*.nbi")):
        return [Check(True, f"the engine's compiled core: compiled on this machine ({reason})")]
    return [
        Check(
            False,
            f"the engine's compiled core: compiles at the first start, about two minutes "
            f"({reason})",
            "`python -m hoot.engine.warm` compiles it now",
            essential=False,
        )
    ]


def _check_realtime() -> list[Check]:
    from hoot.engine import realtime

    ok = realtime.allowed()
    return [
        Check(
            ok,
            "real-time scheduling for the audio thread"
            + ("" if ok else " (not allowed: other programs can make the sound drop out)"),
            realtime.HOW_TO_ALLOW,
            essential=False,
        )
    ]


def doctor(extra: list[Check] | tuple[Check, ...] = ()) -> tuple[bool, str]:
    """Check what hoot needs for sound, JACK, MIDI and audio files, and the `extra` checks
    the caller made (the CLI's: torch and the models, which the engine may not import).

    Each report line starts with "ok" or "missing", says what was checked and, for a
    problem, the command that fixes it; the last line is the verdict. Returns (every
    essential check passed, report).
    """
    portaudio_checks, sounddevice = _check_portaudio()
    jack_checks = _check_jack(sounddevice)
    checks = [
        *portaudio_checks,
        *jack_checks,
        *_check_inputs(sounddevice, jack_running=jack_checks[-1].ok),
        *_check_realtime(),
        *_check_core(),
        *_check_midi(),
        *_check_soundfile(),
        *extra,
    ]
    healthy = all(check.ok for check in checks if check.essential)
    lines = [check.line() for check in checks]
    if healthy:
        lines.append("All essential checks passed.")
    else:
        failed = sum(1 for check in checks if check.essential and not check.ok)
        lines.append(f"{_plural(failed, 'essential check')} failed; see the fixes above.")
    return healthy, "\n".join(lines)
