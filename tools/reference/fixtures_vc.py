"""Voice conversion fixture: `ChatterboxVC.generate` (the real method) on reduced random networks.

The S3 tokenizer and CAMPPlus are the conditioning fixture's (`fixtures_cond.build`, rebuilt from
the same generator seed, so `cond_weights.safetensors` holds their weights); the flow and HiFT are
the reduced S3Gen modules of `fixtures_s3gen` with a 6561-token vocabulary (the tokenizer's ids),
every weight rounded to float16 (stored as f16, run in f32). The source is a 0.6 s clip, the
target a 2.2 s clip, both 24 kHz 16-bit WAV files read by the reference's own `librosa.load`. The
Perth watermarker is replaced by the identity, so the output is the pre-watermark waveform our
port produces. Every random draw (CFM noise, SineGen phases and noise) is reproduced from the torch
seed and saved, and checked against the seeded run.
"""

import zlib

import numpy as np
import soundfile as sf
import torch

import chatterbox.vc as vc_module
from chatterbox.models.s3gen.s3gen import S3Token2Wav
from chatterbox.vc import ChatterboxVC

import fixtures_cond
from fixtures_s3gen import draw_source_randomness, make_flow, make_hift
from fxcommon import save, speechlike


class _NoWatermark:
    def apply_watermark(self, wav, sample_rate):
        return wav


def _cond_networks(seed):
    """The conditioning fixture's tokenizer and CAMPPlus: the same seeds as its producer
    (make_fixtures.py seeds numpy and torch per producer name)."""
    s = (seed * 1_000_003 + zlib.crc32(b"cond")) % (2**32)
    rng = np.random.RandomState(s)
    torch.manual_seed(s)  # the layers' default init draws from the global generator
    gen = torch.Generator().manual_seed(int(rng.randint(0, 2**31 - 1)))
    tok, _ve, cam = fixtures_cond.build(gen)
    return tok, cam


def _f16(module):
    fixtures_cond._to_f16_exact(module)
    return module


def _state16(prefix, module):
    return {
        f"{prefix}.{k}": (v.half() if v.is_floating_point() else v).detach().clone()
        for k, v in module.state_dict().items()
    }


@torch.inference_mode()
def vc(rng, out, seed):
    tok, cam = _cond_networks(seed)
    gen = torch.Generator().manual_seed(6000 + seed)
    model = S3Token2Wav()
    model.tokenizer = tok
    model.speaker_encoder = cam
    model.flow = _f16(make_flow(gen, vocab=6561))
    model.mel2wav = _f16(make_hift(gen))
    model.eval()

    source_path, target_path = out / "vc_source.wav", out / "vc_target.wav"
    sf.write(str(source_path), speechlike(rng, 24000, 0.6, silence=False), 24000, subtype="PCM_16")
    sf.write(str(target_path), speechlike(rng, 24000, 2.2), 24000, subtype="PCM_16")

    vc_module.perth.PerthImplicitWatermarker = _NoWatermark
    vc = ChatterboxVC(model, "cpu")
    # What generate computes before S3Gen, to size the draws and compare intermediate results.
    vc.set_target_voice(str(target_path))
    ref = {k: v for k, v in vc.ref_dict.items()}
    audio_16, _ = vc_module.librosa.load(str(source_path), sr=16000)
    tokens, _ = model.tokenizer(torch.from_numpy(audio_16).float()[None])
    n_prompt, n_new = ref["prompt_token"].shape[1], tokens.shape[1]
    T = 2 * (n_prompt + n_new)

    s = 7000 + seed
    torch.manual_seed(s)
    z = torch.randn(1, 80, T)
    phases, noise = draw_source_randomness(1, 480 * 2 * n_new)
    torch.manual_seed(s)
    wav = vc.generate(str(source_path), target_voice_path=str(target_path))
    # Cross-check the reproduced draws: flow with injected z, then HiFT with the same draws.
    mel, _ = model.flow.inference(
        token=tokens, token_len=torch.tensor([n_new]), finalize=True, n_timesteps=10, noised_mels=z, **ref
    )
    torch.manual_seed(s)
    torch.randn(1, 80, T)
    wav2, source = model.mel2wav.inference(speech_feat=mel)
    wav2[:, : len(model.trim_fade)] *= model.trim_fade
    assert torch.equal(wav, wav2), "reproduced draws differ"

    t = _state16("flow", model.flow)
    t.update(_state16("mel2wav", model.mel2wav))
    t.update(
        {
            "in.z": z,
            "in.phases": phases,
            "in.noise": noise,
            "out.tokens": tokens,
            "out.prompt_token": ref["prompt_token"],
            "out.prompt_feat": ref["prompt_feat"],
            "out.embedding": ref["embedding"],
            "out.mel": mel,
            "out.source": source,
            "out.wav": wav,
        }
    )
    save(out / "vc.safetensors", t, seed)


FIXTURES = [vc]
