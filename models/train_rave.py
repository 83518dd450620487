"""Train hoot's embedded timbre model on a fluidsynth cello and write models/rave-hoot.ts.

    python models/train_rave.py --minutes 50              # the shipped model
    python models/train_rave.py --minutes 1 --chorales 4 --extra 4 --out /tmp/try.ts  # smoke

The model is models/rave_hoot.py (a causal pitch/loudness autoencoder driving a harmonic
oscillator bank and band noise, 128 samples a frame at 48 kHz); the file written is its
TorchScript export in the nn~ interface, with a "hoot.json" extra file recording what it is
(latent dims, latency, how it was made). Why a cello: a performer's voice, trombone, sax,
clarinet or low flute play where a cello plays (C2-A5), so a timbre transfer stays in the
range the model heard; and its bowed, sustained tone is exactly what a harmonic-plus-noise
decoder models well.

Data (models/rave_data.py, made here, nothing downloaded): two voices of each of the first
--chorales Bach chorales of music21's corpus, placed in MIDI 36-84 at random tempi and
dynamics, and --extra generated phrases of held notes with vibrato and swells, played by
GM program 42 (cello) of FluidR3_GM through fluidsynth, dry, 48 kHz. The encoder's fixed
part (pitch, loudness, periodicity, mel shape) is computed once for the whole set with the
exported module's own streaming code, so training sees exactly what the model will.

Training: batches of --batch segments of --frames frames (128 frames: 0.34 s); loss is a
multi-resolution STFT distance (spectral convergence + log-magnitude L1 at FFT sizes
2048..128) plus a small KL term keeping the two learned timbre dims about N(0, 1); Adam,
lr 1e-3 decaying to 1e-4 over the budget; --threads torch threads (2: the machine is
shared); the last 5% of the audio is kept for validation and the checkpoint kept is the one
with the lowest validation loss. It stops after --minutes of wall time and exports.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import rave_data  # noqa: E402
from rave_hoot import (  # noqa: E402
    LATENT,
    MIDDLE_C,
    N_HARM,
    N_MELS,
    N_NOISE,
    NOISE_LEN,
    RATIO,
    SR,
    TIMBRE,
    WINDOW,
    HootRave,
    Scripted,
    latent_from,
)

FFT_SIZES = (2048, 1024, 512, 256, 128)
DIMS = {
    "0": "pitch: octaves from middle C (261.6 Hz), causal YIN over the last 2048 samples, "
    "held through silence; 0 = C4, -1 = C3, 1 = C5",
    "1": "loudness: (dB RMS of the last 512 samples + 40) / 20; 0 = -40 dBFS, 1 = -20 dBFS, "
    "-2 = silence (-80 dBFS)",
    "2": "periodicity: 1 = a clean pitched tone, -1 = noise (2 * (1 - YIN dip) - 1)",
    "3": "timbre A: learned, about N(0, 1)",
    "4": "timbre B: learned, about N(0, 1)",
}


ROLES = {  # what a drone does with each dim (hoot/realtime/trajectory.py reads it)
    "pitch": {"dim": 0, "ref": 60},  # octaves from MIDI 60: a drone holds perf.key's tonic
    # loudness: centred at -30 dBFS, walked and swayed within about 18 dB, the vibe 10 dB
    "energy": {"dim": 1, "center": 0.5, "walk": 0.25, "vibe": 0.5},
    "brightness": {"dim": 3, "sign": -1},  # timbre A: higher is darker (r -0.66, centroid)
    "centers": {"2": 0.8},  # periodicity: mostly a tone, a little bow noise
}


def build_data(cache: Path, seed: int, chorales: int, extra: int) -> np.ndarray:
    """The cello training audio (mono float32, 48 kHz), rendered once into `cache`."""
    path = cache / f"cello-s{seed}-c{chorales}-e{extra}.npy"
    if path.exists():
        return np.load(path)
    cache.mkdir(parents=True, exist_ok=True)
    phrases = rave_data.training_phrases(seed, chorales, extra)
    audio = rave_data.render(phrases, rave_data.CELLO)
    np.save(path, audio)
    return audio


@torch.no_grad()
def analyse(audio: np.ndarray, chunk_frames: int = 2048) -> dict[str, torch.Tensor]:
    """Held f0, loudness, periodicity and mel shape per frame, by the exported encoder's
    own streaming code, chunk by chunk (block by block equals one shot)."""
    probe = Scripted(HootRave())
    f = len(audio) // RATIO
    x = torch.from_numpy(audio[: f * RATIO]).reshape(1, 1, -1)
    parts: list[list[torch.Tensor]] = []
    for i in range(0, f, chunk_frames):
        parts.append(probe.analyse(x[:, :, i * RATIO : (i + chunk_frames) * RATIO]))
    names = ["f0", "loud", "per", "shape"]
    return {n: torch.cat([p[k][0] for p in parts], dim=0) for k, n in enumerate(names)}


def mrstft(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Multi-resolution STFT loss: spectral convergence + mean log-magnitude L1."""
    loss = y.new_zeros(())
    for n in FFT_SIZES:
        win = torch.hann_window(n)
        sy = torch.stft(y, n, n // 4, window=win, return_complex=True).abs()
        st = torch.stft(t, n, n // 4, window=win, return_complex=True).abs()
        loss = loss + torch.linalg.norm(st - sy) / torch.linalg.norm(st).clamp(min=1e-7)
        loss = loss + (torch.log(sy + 1e-5) - torch.log(st + 1e-5)).abs().mean()
    return loss / len(FFT_SIZES)


def run(
    model: HootRave,
    feats,
    audio: torch.Tensor,
    starts: list[int],
    frames: int,
    gen: torch.Generator | None,
    sample: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Model output and loss terms for segments starting at frame `starts`."""
    sl = [slice(s, s + frames) for s in starts]
    f0 = torch.stack([feats["f0"][s] for s in sl])
    loud = torch.stack([feats["loud"][s] for s in sl])
    per = torch.stack([feats["per"][s] for s in sl])
    shape = torch.stack([feats["shape"][s] for s in sl])
    target = torch.stack([audio[s * RATIO : (s + frames) * RATIO] for s in starts])
    mu, logvar = model.timbre(shape)
    timbre = mu + torch.randn(mu.shape, generator=gen) * torch.exp(0.5 * logvar) if sample else mu
    z = latent_from(f0, loud, per, timbre)
    b = len(starts)
    harm, noise = model.decoder(z)
    hz = MIDDLE_C * torch.pow(2.0, z[..., 0]).clamp(max=SR / 2 - 200.0)
    phase = torch.rand(b, generator=gen) * 2 * math.pi if gen is not None else torch.zeros(b)
    pos = (
        torch.randint(0, NOISE_LEN, (b,), generator=gen)
        if gen is not None
        else torch.zeros(b, dtype=torch.long)
    )
    y = model.synth(
        hz, harm, noise, phase, hz[:, 0], harm[:, 0], noise[:, 0], model.table.t(), pos
    )[0]
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1).mean()
    return mrstft(y, target), kl


def export(model: HootRave, out: Path, facts: dict) -> None:
    """Script the model in the nn~ interface and save it with "hoot.json"."""
    scripted = torch.jit.script(Scripted(model).eval())
    torch.jit.save(scripted, str(out), _extra_files={"hoot.json": json.dumps(facts, indent=1)})


def card(
    args,
    params: int,
    data_minutes: float,
    steps: int,
    best: float,
    history: list,
    wall_minutes: float,
    cpu_minutes: float | None,
) -> dict:
    """What "hoot.json" inside the .ts says: the latent dims, latency, how it was made."""
    return {
        "name": "rave-hoot",
        "instrument": "cello (GM 42, FluidR3_GM via fluidsynth)",
        "sr": SR,
        "ratio": RATIO,
        "latent": LATENT,
        "timbre_dims": TIMBRE,
        "dims": DIMS,
        "roles": ROLES,
        "latency_samples": RATIO,
        "lookahead_samples": 0,
        "analysis_window_samples": WINDOW,
        "causal": True,
        "harmonics": N_HARM,
        "noise_bands": N_NOISE,
        "mel_bands": N_MELS,
        "parameters": params,
        "made_by": "models/train_rave.py",
        "args": {k: str(v) for k, v in vars(args).items()},
        "data_minutes": round(data_minutes, 2),
        "steps": steps,
        "valid_loss": round(best, 4),
        "history": history,
        "train_wall_minutes": round(wall_minutes, 1),
        "train_cpu_minutes": None if cpu_minutes is None else round(cpu_minutes, 1),
    }


def export_only(args) -> None:
    """Export the cache's best checkpoint, the card read from the run's log: for a run whose
    own export did not happen (stopped early, or models/rave_hoot.py edited under it, which
    TorchScript reads from disk when it scripts)."""
    import re

    ckpt = torch.load(args.cache / "best.pt", map_location="cpu")
    model = HootRave()
    model.load_state_dict(ckpt["state"])
    text = (args.cache / "train.log").read_text()
    data = re.search(r"data: ([\d.]+) min of cello, \d+ frames \((\d+) s", text)
    history = [
        (int(m[1]), int(m[2]), float(m[3]), float(m[5]))
        for m in re.finditer(r"step (\d+) (\d+)s train ([\d.]+) kl ([\d.]+) valid ([\d.]+)", text)
    ]
    params = sum(p.numel() for p in model.parameters())
    wall = (int(data[2]) + history[-1][1]) / 60
    facts = card(
        args, params, float(data[1]), history[-1][0], ckpt["valid"], history, wall, args.cpu_minutes
    )
    export(model, args.out, facts)
    print(
        f"wrote {args.out} from {args.cache / 'best.pt'} (step {ckpt['step']}, "
        f"valid {ckpt['valid']:.4f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=50.0, help="wall-clock training budget")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chorales", type=int, default=30)
    ap.add_argument("--extra", type=int, default=50)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--frames", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beta", type=float, default=0.01, help="KL weight of the timbre dims")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/hoot-rave"))
    ap.add_argument("--out", type=Path, default=HERE / "rave-hoot.ts")
    ap.add_argument(
        "--export-only",
        action="store_true",
        help="export CACHE/best.pt with the card read from CACHE/train.log",
    )
    ap.add_argument(
        "--cpu-minutes",
        type=float,
        default=None,
        help="with --export-only: the run's CPU time, for the card",
    )
    args = ap.parse_args()
    if args.export_only:
        export_only(args)
        return

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    t0, c0 = time.time(), time.process_time()

    audio_np = build_data(args.cache, args.seed, args.chorales, args.extra)
    feats = analyse(audio_np)
    audio = torch.from_numpy(audio_np)
    total = feats["f0"].shape[0]
    print(
        f"data: {len(audio_np) / SR / 60:.1f} min of cello, {total} frames "
        f"({time.time() - t0:.0f} s to render and analyse)",
        flush=True,
    )

    model = HootRave()
    shape = feats["shape"]
    model.timbre.shape_mean.copy_(shape.mean(0))
    model.timbre.shape_std.copy_(shape.std(0).clamp(min=1e-3))
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params} parameters", flush=True)

    split = int(total * 0.95)
    frames = args.frames
    valid_starts = list(range(split, total - frames, frames))[:32]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    budget = args.minutes * 60.0
    best, best_state, step, history = float("inf"), None, 0, []
    train_start = time.time()
    while True:
        elapsed = time.time() - train_start
        if elapsed > budget:
            break
        for g in opt.param_groups:
            g["lr"] = 1e-4 + 0.5 * (1e-3 - 1e-4) * (
                1 + math.cos(math.pi * min(1.0, elapsed / budget))
            )
        starts = [rng.randrange(0, split - frames) for _ in range(args.batch)]
        spec, kl = run(model, feats, audio, starts, frames, gen, sample=True)
        loss = spec + args.beta * kl
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 100 == 0 or time.time() - train_start > budget:
            with torch.no_grad():
                vals = [
                    run(model, feats, audio, valid_starts[i : i + 8], frames, None, False)[0].item()
                    for i in range(0, len(valid_starts), 8)
                ]
            val = float(np.mean(vals))
            history.append(
                (step, round(time.time() - train_start), round(spec.item(), 4), round(val, 4))
            )
            if val < best:
                best = val
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
                torch.save(
                    {"state": best_state, "step": step, "valid": val}, args.cache / "best.pt"
                )
            print(
                f"step {step} {time.time() - train_start:.0f}s train {spec.item():.4f} "
                f"kl {kl.item():.3f} valid {val:.4f} best {best:.4f}",
                flush=True,
            )

    if best_state is not None:
        model.load_state_dict(best_state)
    facts = card(
        args,
        params,
        len(audio_np) / SR / 60,
        step,
        best,
        history,
        (time.time() - t0) / 60,
        (time.process_time() - c0) / 60,
    )
    export(model, args.out, facts)
    print(
        f"wrote {args.out}: {step} steps, valid {best:.4f}, "
        f"{facts['train_wall_minutes']} min wall, {facts['train_cpu_minutes']} min CPU",
        flush=True,
    )


if __name__ == "__main__":
    main()
