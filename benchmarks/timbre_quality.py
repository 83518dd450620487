"""How much the embedded timbre model (models/rave-hoot.ts, a cello) makes other instruments
sound like a cello, and what it costs on one core.

    python benchmarks/timbre_quality.py [--model PATH] [--phrases 6] [--seconds 12]

Quality: held-out phrases (Bach chorale voices from the end of music21's corpus, which no
training run sees; models/rave_data.py) are rendered by fluidsynth for the target (cello)
and for each input instrument (trombone, flute, a synth voice, alto sax, clarinet), the
same notes at the same times. Each input goes through the model (streaming state reset,
one shot: block by block is the same, tests/realtime/test_rave_hoot.py). Every signal is
scaled to the cello rendering's RMS (the distances are about timbre, not level), then
compared with the cello rendering of the same phrase:

- log-mel L1: mean |difference| in dB of 64-band mel power spectra (2,048-sample FFT,
  256-sample hop, 40 Hz - 16 kHz) over the frames where the cello sounds (above -50 dB of
  its peak). Pitch and timing match by construction, so this is mostly spectral envelope.
- MFCC-mean distance: the Euclidean distance between the mean MFCCs 1-12 (c0, the level,
  left out) over those frames: a global timbre distance, blind to what note is played.

Each input instrument's row gives the input's own distance to the cello beside the model
output's, and the model's with its learned timbre dims held at 0 ("timbre 0": the input's
pitch, loudness and periodicity only); lower is more cello. The cello itself through the
model (a reconstruction) is the floor. Means are over the input instruments.

Cost: the model on ONE torch thread, fed 128- and 256-sample blocks of a rendered phrase:
per-block p50/p95 in ms, the real-time factor (p50 / block duration; target <= 0.3 at 128),
and the latency a host sees at that block (the block itself, which holds whole 128-sample
frames so the model adds no delay of its own, plus p95 processing; target <= 10 ms), with
the reference workload (benchmarks/reference.py) timed in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from reference import reference_seconds
from scipy.fft import dct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models"))
import rave_data  # noqa: E402

SR = rave_data.SR
N_FFT, HOP, N_MELS = 2048, 256, 64


def mel_filters() -> np.ndarray:
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    edges = np.linspace(mel(40.0), mel(16000.0), N_MELS + 2)
    hz = 700.0 * (10.0 ** (edges / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(N_FFT, 1.0 / SR)
    bank = np.zeros((len(bins), N_MELS))
    for m in range(N_MELS):
        up = (bins - hz[m]) / (hz[m + 1] - hz[m])
        down = (hz[m + 2] - bins) / (hz[m + 2] - hz[m + 1])
        bank[:, m] = np.clip(np.minimum(up, down), 0.0, None)
    return bank


MEL = mel_filters()


def mel_db(x: np.ndarray) -> np.ndarray:
    """Mel power in dB per frame [frames, N_MELS]."""
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * np.hanning(N_FFT), axis=1)) ** 2
    return 10.0 * np.log10(power @ MEL + 1e-10)


def distances(x: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(log-mel L1 dB, MFCC-mean distance) of x to target, over the target's sounding frames."""
    n = min(len(x), len(target))
    x, target = x[:n], target[:n]
    x = x * np.sqrt(np.mean(target**2) / max(np.mean(x**2), 1e-12))
    a, b = mel_db(x), mel_db(target)
    level = 10.0 * np.log10(np.sum(10.0 ** (b / 10.0), axis=1) + 1e-10)
    on = level > level.max() - 50.0
    floor = b.max() - 100.0
    a, b = np.maximum(a[on], floor), np.maximum(b[on], floor)
    l1 = float(np.mean(np.abs(a - b)))
    mfcc_a = dct(a, type=2, norm="ortho", axis=1)[:, 1:13].mean(0)
    mfcc_b = dct(b, type=2, norm="ortho", axis=1)[:, 1:13].mean(0)
    return l1, float(np.linalg.norm(mfcc_a - mfcc_b))


def through(model, audio: np.ndarray, timbre: bool = True) -> np.ndarray:
    """The model's output for `audio`; with timbre=False the learned timbre dims (3 and up)
    are set to 0 between encode and decode (Stream.set_controls(scale=[1, 1, 1, 0, 0]))."""
    model.reset()
    x = torch.from_numpy(audio[: len(audio) // 128 * 128].copy()).reshape(1, 1, -1)
    with torch.inference_mode():
        z = model.encode(x)
        if not timbre:
            z[:, 3:] = 0.0
        return model.decode(z)[0, 0].numpy()


def dims_meaning(model, audio: np.ndarray) -> dict[str, list[float]]:
    """Pearson r of each latent dim with the log spectral centroid (brightness), the
    loudness dim and the pitch dim, over the sounding frames of `audio`."""
    model.reset()
    n = len(audio) // 128 * 128
    with torch.inference_mode():
        z = model.encode(torch.from_numpy(audio[:n].copy()).reshape(1, 1, -1))[0].numpy()
    padded = np.concatenate([np.zeros(1024 - 128, np.float32), audio[:n]])
    frames = np.lib.stride_tricks.sliding_window_view(padded, 1024)[::128][: z.shape[1]]
    mag = np.abs(np.fft.rfft(frames * np.hanning(1024), axis=1))
    freqs = np.fft.rfftfreq(1024, 1.0 / SR)
    centroid = np.log2((mag @ freqs + 1e-9) / (mag.sum(1) + 1e-9) + 1.0)
    on = z[1] > -1.0  # louder than -60 dBFS
    return {
        what: [float(np.corrcoef(z[d, on], ref[on])[0, 1]) for d in range(z.shape[0])]
        for what, ref in (("brightness", centroid), ("loudness", z[1]), ("pitch", z[0]))
    }


def cost(model, audio: np.ndarray, block: int, blocks: int) -> list[float]:
    """Seconds per block, one torch thread."""
    model.reset()
    x = torch.from_numpy(audio[: block * (blocks + 20)].copy()).reshape(1, 1, -1)
    times = []
    with torch.inference_mode():
        for i in range(blocks + 20):
            t0 = time.perf_counter()
            model.forward(x[:, :, i * block : (i + 1) * block])
            times.append(time.perf_counter() - t0)
    return times[20:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "rave-hoot.ts")
    ap.add_argument("--phrases", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=12.0, help="each phrase cut to this")
    ap.add_argument("--blocks", type=int, default=1500, help="blocks timed per block size")
    ap.add_argument(
        "--save", type=Path, default=ROOT / "benchmarks" / "results" / "timbre_quality.json"
    )
    ap.add_argument("--wav", type=Path, default=None, help="write each input and output here")
    args = ap.parse_args()
    torch.set_num_threads(1)

    extra = {"hoot.json": ""}
    model = torch.jit.load(str(args.model), map_location="cpu", _extra_files=extra)
    facts = json.loads(extra["hoot.json"])
    phrases = rave_data.held_out_phrases(args.phrases, max_seconds=args.seconds)
    seconds = sum(p.seconds for p in phrases)
    print(
        f"model {args.model.name}: {facts['instrument']}, ratio {facts['ratio']}, "
        f"latent {facts['latent']}, {facts['parameters']} parameters"
    )
    print(
        f"held-out: {len(phrases)} chorale voices (corpus chorales {rave_data.HELD_OUT_SKIP}+), "
        f"{seconds:.0f} s, MIDI 52-76"
    )
    cello = rave_data.render(phrases, rave_data.CELLO)
    if args.wav is not None:
        import soundfile

        args.wav.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(args.wav / "cello.wav"), cello, SR)

    rows = {}
    kinds = ("input", "model", "model, timbre 0")
    print(f"\n{'':<14} {'log-mel L1 dB':^32} {'MFCC-mean distance':^32}")
    heads = " ".join(f"{k:>10}" for k in ("input", "model", "timbre 0"))
    print(f"{'input':<14} {heads}  {heads}")

    def line(name: str, r: dict) -> None:
        print(
            f"{name:<14} "
            + " ".join(f"{r[k][0]:>10.2f}" for k in kinds)
            + "  "
            + " ".join(f"{r[k][1]:>10.2f}" for k in kinds)
        )

    own = {
        "input": (0.0, 0.0),
        "model": distances(through(model, cello), cello),
        "model, timbre 0": distances(through(model, cello, False), cello),
    }
    line("cello (self)", own)
    for name, program in rave_data.INPUTS.items():
        audio = rave_data.render(phrases, program)
        if args.wav is not None:
            import soundfile

            args.wav.mkdir(parents=True, exist_ok=True)
            soundfile.write(str(args.wav / f"{name}.wav"), audio, SR)
            soundfile.write(str(args.wav / f"{name}~cello.wav"), through(model, audio), SR)
        rows[name] = {
            "input": distances(audio, cello),
            "model": distances(through(model, audio), cello),
            "model, timbre 0": distances(through(model, audio, False), cello),
        }
        line(name, rows[name])
    mean = {k: [float(np.mean([r[k][i] for r in rows.values()])) for i in range(2)] for k in kinds}
    line("mean", mean)

    meaning = dims_meaning(model, cello)
    print("\nlatent dims on the held-out cello: Pearson r with")
    for what, rs in meaning.items():
        print(f"  {what:<11}" + " ".join(f"dim {d}: {r:+.2f}" for d, r in enumerate(rs)))

    ref = reference_seconds()
    print(f"\ncost on one torch thread (reference workload {ref * 1e3:.3f} ms)")
    timing = {}
    for block in (128, 256):
        times = cost(model, cello, block, args.blocks)
        p50, p95 = statistics.median(times), float(np.percentile(times, 95))
        rtf = p50 / (block / SR)
        latency = block / SR + p95
        timing[block] = {
            "p50_ms": p50 * 1e3,
            "p95_ms": p95 * 1e3,
            "rtf": rtf,
            "latency_ms": latency * 1e3,
        }
        print(
            f"block {block}: p50 {p50 * 1e3:.3f} ms ({p50 / ref:.2f} ref), p95 "
            f"{p95 * 1e3:.3f} ms ({p95 / ref:.2f} ref), real-time factor {rtf:.3f} "
            f"(target <= 0.3), latency {latency * 1e3:.2f} ms = block {block / SR * 1e3:.2f} "
            f"+ p95 (target <= 10)"
        )
    args.save.parent.mkdir(parents=True, exist_ok=True)
    args.save.write_text(
        json.dumps(
            {
                "self": own,
                "rows": rows,
                "mean": mean,
                "timing": timing,
                "dims": meaning,
                "reference_ms": ref * 1e3,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
