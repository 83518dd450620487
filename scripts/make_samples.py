"""Make the one-shot samples hoot ships in hoot/samples/, with hoot's own drum kit.

    .venv/bin/python scripts/make_samples.py

They let the examples in the README and docs run as written on a fresh install
(`perf.load("kick.wav", role="drums")`), and give a performer something to load before
their own sample library is at hand. Each is one hit of the embedded renderer's "kit" or
"perc_kit" sound (hoot.generate.render), rendered alone, trimmed where it has died away,
as 16-bit mono WAV at 48 kHz.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from hoot.generate.render import render_clip
from hoot.music.clip import NoteClip

SR = 48000
OUT = Path(__file__).resolve().parents[1] / "hoot" / "samples"
HITS = {  # name: (sound, General MIDI note, velocity)
    "kick": ("kit", 36, 120),
    "snare": ("kit", 38, 110),
    "clap": ("kit", 39, 110),
    "hat": ("kit", 42, 100),
    "open-hat": ("kit", 46, 100),
    "rim": ("kit", 37, 100),
    "conga": ("perc_kit", 63, 100),
    "shaker": ("perc_kit", 70, 100),
}


def one_shot(sound: str, note: int, velocity: int) -> np.ndarray:
    # four beats at 60 BPM: room for the tail to die away before the loop would wrap
    clip = NoteClip.from_notes([(0.0, 0.25, note, velocity)], 4.0)
    audio = render_clip(clip, 60.0, SR, "drums", sound, brightness=0.5, seed=1)
    mono = audio.mean(axis=1)
    loud = np.flatnonzero(np.abs(mono) > 10 ** (-60 / 20) * np.abs(mono).max())
    end = min(len(mono), int(loud[-1]) + 1 + SR // 100)
    mono = mono[:end] * (0.9 / np.abs(mono).max())  # -0.9 dBFS peak
    fade = min(480, end // 4)
    mono[end - fade :] *= np.linspace(1, 0, fade)
    return mono.astype(np.float32)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (sound, note, velocity) in HITS.items():
        path = OUT / f"{name}.wav"
        sf.write(str(path), one_shot(sound, note, velocity), SR, subtype="PCM_16")
        print(f"{path.relative_to(OUT.parents[1])}: {sf.info(str(path)).duration:.2f} s")


if __name__ == "__main__":
    main()
