"""MusicGen and ACE-Step behind the batch protocol, on tiny randomly initialised models of
the real classes, saved with save_pretrained and loaded back from disk by the generators
(the same path a real checkpoint in models/ takes), on the CPU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("diffusers")

from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402

from hoot.generate import audio_models  # noqa: E402
from hoot.generate.audio_models import (  # noqa: E402
    AceStepGenerator,
    AudioModelError,
    MusicGenGenerator,
    describe,
    make_loop,
)
from hoot.generate.base import Request, known_generators, load_generator  # noqa: E402

WORDS = (
    "# instruction caption metas generate the track based on audio context fill semantic "
    "mask given conditions - bpm timesignature keyscale duration seconds languages lyric en "
    "dark bright bass line drum loop techno house minor major instrumental"
).split()


class Progress:
    """The batch progress the model worker gives a generator (contract E), recorded."""

    def __init__(self, cancel: set[int] = frozenset()) -> None:
        self.cancel = set(cancel)
        self.updates: list[tuple[int, float, str]] = []
        self.stages: list[str] = []
        self.infos: list[dict] = []

    def update(self, index, fraction, stage="composing"):
        self.updates.append((index, fraction, stage))

    def stage(self, text):
        self.stages.append(text)

    def cancelled(self, index):
        return index in self.cancel

    def loaded(self, info):
        self.infos.append(info)


def word_tokenizer(specials: list[str], **names):
    """A tiny word-level tokenizer, built here: tokenizers cannot be downloaded."""
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(dict.fromkeys(specials + WORDS))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=names["unk_token"]))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, **names), len(vocab)


@pytest.fixture(scope="module")
def musicgen_dir(tmp_path_factory):
    """A MusicGen of the real class and layout (T5, EnCodec 32 kHz at 50 Hz, 4 codebooks),
    a few thousand parameters."""
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    folder = tmp_path_factory.mktemp("models") / "musicgen-tiny"
    tokenizer, vocab = word_tokenizer(
        ["<pad>", "</s>", "<unk>"], unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )
    torch.manual_seed(0)
    config = MusicgenConfig(
        text_encoder=T5Config(
            vocab_size=vocab, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2
        ).to_dict(),
        audio_encoder=EncodecConfig(
            sampling_rate=32000,
            audio_channels=1,
            upsampling_ratios=[8, 5, 4, 4],
            codebook_size=64,
            codebook_dim=16,
            num_filters=4,
            hidden_size=16,
            num_residual_layers=1,
            num_lstm_layers=1,
            target_bandwidths=[2.2],
        ).to_dict(),
        decoder=MusicgenDecoderConfig(
            vocab_size=64,
            num_codebooks=4,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            ffn_dim=32,
            max_position_embeddings=512,
            pad_token_id=64,
            bos_token_id=64,
            decoder_start_token_id=64,
        ).to_dict(),
    )
    model = MusicgenForConditionalGeneration(config)
    for layer in model.audio_encoder.quantizer.layers:  # trained codebooks are not zeros
        layer.codebook.embed.normal_()
    model.generation_config.pad_token_id = 64
    model.generation_config.decoder_start_token_id = 64
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def ace_step_dir(tmp_path_factory):
    """An ACE-Step 1.5 pipeline of the real classes (Qwen3 text encoder, condition encoder,
    DiT, Oobleck VAE at 8 kHz and 25 latents a second, flow-match scheduler), tiny."""
    from diffusers import AceStepPipeline, AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step.modeling_ace_step import AceStepConditionEncoder
    from transformers import Qwen3Config, Qwen3Model

    folder = tmp_path_factory.mktemp("models") / "ace-step-tiny"
    tokenizer, vocab = word_tokenizer(
        ["[UNK]", "[PAD]", "<|endoftext|>"], unk_token="[UNK]", pad_token="[PAD]"
    )
    torch.manual_seed(0)
    latent = 8
    small = dict(num_attention_heads=2, num_key_value_heads=1, head_dim=8, intermediate_size=32)
    pipe = AceStepPipeline(
        vae=AutoencoderOobleck(
            encoder_hidden_size=2 * latent,
            downsampling_ratios=[4, 8, 10],
            channel_multiples=[1, 2, 2],
            decoder_channels=8,
            decoder_input_channels=latent,
            audio_channels=2,
            sampling_rate=8000,
        ),
        text_encoder=Qwen3Model(
            Qwen3Config(
                vocab_size=vocab, hidden_size=16, num_hidden_layers=1,
                max_position_embeddings=512, **small,
            )
        ),
        tokenizer=tokenizer,
        transformer=AceStepTransformer1DModel(
            hidden_size=16, num_hidden_layers=2, in_channels=3 * latent,
            audio_acoustic_hidden_dim=latent, sliding_window=16, is_turbo=True, **small,
        ),
        condition_encoder=AceStepConditionEncoder(
            hidden_size=16, text_hidden_dim=16, timbre_hidden_dim=latent,
            num_lyric_encoder_hidden_layers=1, num_timbre_encoder_hidden_layers=1,
            sliding_window=16, **small,
        ),
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
    )  # fmt: skip
    pipe.save_pretrained(folder)
    return folder


def a_request(**changes) -> Request:
    base = dict(
        role="bass", n=3, bars=1, bpm=120.0, key="A minor", samplerate=48000, seed=7,
        vibe={"brightness": 0.2, "style": "techno"}, device="cpu",
    )  # fmt: skip
    base.update(changes)
    return Request(**base)


def batch(request: Request) -> list[Request]:
    return [request.candidate(i) for i in range(request.n)]


def test_the_prompt_says_the_vibe_the_role_the_tempo_and_the_key():
    text = describe(a_request(vibe={"brightness": 0.2, "energy": 0.9, "style": "dnb"}))
    assert text.startswith("dark energetic drum and bass bass line, 120 BPM, A minor")


def test_both_are_registered_and_load_by_name():
    assert known_generators()["musicgen"] == "hoot.generate.audio_models:MusicGenGenerator"
    assert known_generators()["ace-step"] == "hoot.generate.audio_models:AceStepGenerator"
    assert load_generator("musicgen").warm and load_generator("ace-step").warm


def test_musicgen_makes_a_batch_of_exact_loops_from_a_folder_on_disk(musicgen_dir):
    generator = MusicGenGenerator(musicgen_dir)
    progress = Progress()
    request = a_request()
    takes = dict(generator.generate_batch(batch(request), progress))
    assert sorted(takes) == [0, 1, 2]
    for take in takes.values():
        assert take.audio.shape == (request.frames, 2) and take.audio.dtype == np.float32
        assert np.isfinite(take.audio).all() and np.abs(take.audio).max() > 0
        assert take.params["model_rate"] == 32000 and "bass line" in take.params["prompt"]
    assert not np.array_equal(takes[0].audio, takes[1].audio)  # sampled, not copied
    assert progress.stages[0] == "loading model"
    info = progress.infos[0]
    assert info["name"] == "musicgen" and info["device"] == "cpu" and info["params"] > 0
    assert {i for i, _, _ in progress.updates} == {0, 1, 2}
    assert max(f for _, f, _ in progress.updates) == 1.0


def test_musicgen_stays_warm_and_one_candidate_works_alone(musicgen_dir):
    generator = MusicGenGenerator(musicgen_dir)
    progress = Progress()
    list(generator.generate_batch(batch(a_request(n=2)), progress))
    model = generator.model
    take = generator.generate(a_request(n=1, bpm=240.0, samplerate=44100))
    assert generator.model is model  # not loaded again
    assert take.audio.shape == (a_request(bpm=240.0, samplerate=44100).frames, 2)
    generator.unload()
    assert generator.model is None


def test_a_cancelled_candidate_is_left_out_and_a_cancelled_batch_stops(musicgen_dir):
    generator = MusicGenGenerator(musicgen_dir)
    takes = dict(generator.generate_batch(batch(a_request(n=2)), Progress(cancel={1})))
    assert sorted(takes) == [0]
    progress = Progress(cancel={0, 1, 2})
    assert list(generator.generate_batch(batch(a_request()), progress)) == []
    assert progress.updates == []


def test_ace_step_writes_a_stem_from_text_alone(ace_step_dir):
    generator = AceStepGenerator(ace_step_dir)
    progress = Progress()
    request = a_request(n=2)
    takes = dict(generator.generate_batch(batch(request), progress))
    assert sorted(takes) == [0, 1]
    for take in takes.values():
        assert take.audio.shape == (request.frames, 2) and np.isfinite(take.audio).all()
        assert take.params["task"] == "text2music" and take.params["model_rate"] == 8000
    assert not np.array_equal(takes[0].audio, takes[1].audio)
    assert progress.infos[0]["name"] == "ace-step"
    assert max(f for _, f, _ in progress.updates) == 1.0


def test_ace_step_writes_the_bass_for_what_plays(ace_step_dir, tmp_path):
    drums = tmp_path / "drums.wav"
    chords = tmp_path / "chords.wav"
    sf.write(drums, np.random.default_rng(1).normal(0, 0.3, (48000, 2)), 48000)
    sf.write(chords, np.sin(np.arange(20000) / 10.0) * 0.5, 44100)  # mono, another rate
    request = a_request(n=3, context={"audio": [str(drums), str(chords)]})
    generator = AceStepGenerator(ace_step_dir)
    mix = generator.context_audio(request, 8000)
    assert mix.shape == (2, 16000) and np.abs(mix).max() <= 1.0  # one loop, at the model's rate
    takes = dict(generator.generate_batch(batch(request), Progress()))
    assert sorted(takes) == [0, 1, 2]
    for take in takes.values():
        assert take.audio.shape == (request.frames, 2)
        assert take.params["task"] == "lego"


def test_the_loop_seam_is_a_crossfade():
    rate, frames = 1000, 800
    audio = np.ones((1, 900), np.float32)
    loop = make_loop(audio, rate, rate, frames)
    assert loop.shape == (frames, 2)
    np.testing.assert_allclose(loop[:, 0], 1.0, atol=1e-6)  # fade-in + folded fade-out = 1
    assert make_loop(np.ones((2, 400), np.float32), 32000, 48000, 600).shape == (600, 2)


def test_no_checkpoint_says_where_to_put_one(tmp_path):
    ok, why = MusicGenGenerator(models_dir=tmp_path).available()
    assert not ok and "no MusicGen checkpoint folder in models/" in why
    assert "models/musicgen-small/" in why
    ok, why = AceStepGenerator(models_dir=tmp_path).available()
    assert not ok and "no ACE-Step checkpoint folder in models/" in why
    with pytest.raises(AudioModelError, match="no MusicGen checkpoint folder"):
        MusicGenGenerator(models_dir=tmp_path).generate(a_request(n=1))


def test_a_checkpoint_on_a_cpu_is_allowed_but_said_to_be_slow(musicgen_dir, monkeypatch):
    monkeypatch.setattr(audio_models, "gpu_here", lambda: None)
    ok, why = MusicGenGenerator(models_dir=musicgen_dir.parent).available()
    assert ok and "far slower than real time on this CPU" in why
    monkeypatch.setattr(audio_models, "gpu_here", lambda: "cuda")
    ok, why = MusicGenGenerator(models_dir=musicgen_dir.parent).available()
    assert ok and "GPU" in why


def copy_of(folder, tmp_path):
    import shutil

    return shutil.copytree(folder, tmp_path / folder.name)


def test_bad_folders_get_one_sentence_each(musicgen_dir, ace_step_dir, tmp_path):
    cases = []
    cases.append((MusicGenGenerator(tmp_path / "nowhere"), "no MusicGen checkpoint at"))
    empty = tmp_path / "empty"
    empty.mkdir()
    cases.append((MusicGenGenerator(empty), "has no config.json"))
    cases.append((AceStepGenerator(empty), "has no model_index.json"))
    cases.append((MusicGenGenerator(ace_step_dir), "has no config.json"))
    wrong = copy_of(musicgen_dir, tmp_path / "wrong")
    config = json.loads((wrong / "config.json").read_text())
    (wrong / "config.json").write_text(json.dumps(dict(config, model_type="bark")))
    cases.append((MusicGenGenerator(wrong), "holds a 'bark' model, not MusicGen"))
    truncated = copy_of(musicgen_dir, tmp_path / "truncated")
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    cases.append((MusicGenGenerator(truncated), "truncated or corrupt"))
    shapes = copy_of(musicgen_dir, tmp_path / "shapes")
    config = json.loads((shapes / "config.json").read_text())
    config["decoder"]["hidden_size"] = 32
    (shapes / "config.json").write_text(json.dumps(config))
    cases.append((MusicGenGenerator(shapes), "do not match its config"))
    no_tokenizer = copy_of(musicgen_dir, tmp_path / "no-tokenizer")
    (no_tokenizer / "tokenizer.json").unlink()
    cases.append((MusicGenGenerator(no_tokenizer), "has no tokenizer"))
    ace_truncated = copy_of(ace_step_dir, tmp_path / "ace-truncated")
    weights = next((ace_truncated / "transformer").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    cases.append((AceStepGenerator(ace_truncated), "truncated or corrupt"))
    for generator, sentence in cases:
        with pytest.raises(AudioModelError, match=sentence) as caught:
            generator.load("cpu")
        assert "\n" not in str(caught.value)


def test_out_of_memory_and_a_lost_gpu_get_one_sentence(musicgen_dir, monkeypatch):
    generator = MusicGenGenerator(musicgen_dir)
    generator.load("cpu")

    def no_memory(requests, progress):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(generator, "_make", no_memory)
    with pytest.raises(AudioModelError, match="ran out of memory on cpu making 3 candidates"):
        list(generator.generate_batch(batch(a_request()), Progress()))
    assert generator.model is None  # its memory is given back

    def lost(requests, progress):
        raise RuntimeError("CUDA error: unspecified launch failure")

    generator.load("cpu")
    generator.device = "cuda"  # as if it ran there
    monkeypatch.setattr(generator, "_make", lost)
    monkeypatch.setattr(generator, "load", lambda device, progress=None: generator.info)
    with pytest.raises(AudioModelError, match="the GPU failed while MusicGen was generating"):
        list(generator.generate_batch(batch(a_request()), Progress()))


def test_an_unknown_device_is_one_sentence(musicgen_dir):
    with pytest.raises(AudioModelError, match="device 'tpu' is not one hoot knows"):
        MusicGenGenerator(musicgen_dir).load("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(AudioModelError, match="no CUDA or ROCm GPU is visible"):
            MusicGenGenerator(musicgen_dir).load("cuda")


def test_asking_whether_they_are_available_never_imports_torch():
    """perf.generators may ask in the performer's process, where torch must not load."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from hoot.generate.base import load_generator\n"
        "for name in ('musicgen', 'ace-step'):\n"
        "    print(load_generator(name).available()[1])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 2
