"""S3Gen fixtures: flow (encoder, estimator, CFM) and HiFT, on reduced-size reference modules.

The modules are the reference classes with smaller constructor arguments (same code paths):
encoder width 32 / 2 heads / FF 48 / 2 + 4 layers, estimator channels [32] / 2 heads x 16 /
2 transformer blocks per stage / 2 mid blocks, HiFT base 32 channels, F0 condnet 32 channels, a
200-token vocabulary. Every parameter (including norms, biases, Snake alphas and weight-norm
gains) is randomised. Every random draw of the reference (CFM noise, SineGen phases and noise)
is reproduced from the torch seed and saved, so the Rust side injects the same values.
"""

import math

import numpy as np
import torch
from torch.distributions.uniform import Uniform

from chatterbox.models.s3gen.decoder import ConditionalDecoder
from chatterbox.models.s3gen.f0_predictor import ConvRNNF0Predictor
from chatterbox.models.s3gen.flow import CausalMaskedDiffWithXvec
from chatterbox.models.s3gen.flow_matching import CausalConditionalCFM
from chatterbox.models.s3gen.configs import CFM_PARAMS
from chatterbox.models.s3gen.hifigan import HiFTGenerator
from chatterbox.models.s3gen.s3gen import S3Token2Wav
from chatterbox.models.s3gen.transformer.upsample_encoder import (
    PreLookaheadLayer,
    Upsample1D,
    UpsampleConformerEncoder,
)

from fxcommon import save

VOCAB = 200
ENC_DIM = 32


def randomise(module, gen):
    """Give every parameter a non-trivial value: norms != 1, biases != 0, weight-norm g != |v|,
    Snake alphas spread around 1."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if name.endswith("parametrizations.weight.original0"):
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
            elif name.endswith("parametrizations.weight.original1"):
                p.copy_(torch.randn(p.shape, generator=gen))
            elif leaf == "alpha":
                p.copy_(torch.rand(p.shape, generator=gen) * 1.5 + 0.4)
            elif leaf == "bias":
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 1:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif leaf in ("pos_bias_u", "pos_bias_v"):
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))


def make_flow(gen, meanflow=False, vocab=VOCAB):
    encoder = UpsampleConformerEncoder(
        input_size=ENC_DIM,
        output_size=ENC_DIM,
        attention_heads=2,
        linear_units=48,
        num_blocks=2,
        dropout_rate=0.1,
        positional_dropout_rate=0.1,
        attention_dropout_rate=0.1,
        normalize_before=True,
        input_layer="linear",
        pos_enc_layer_type="rel_pos_espnet",
        selfattention_layer_type="rel_selfattn",
        use_cnn_module=False,
        macaron_style=False,
    )
    # These two are built with a hard-coded width of 512 in the reference; same classes, our width.
    encoder.pre_lookahead_layer = PreLookaheadLayer(channels=ENC_DIM, pre_lookahead_len=3)
    encoder.up_layer = Upsample1D(channels=ENC_DIM, out_channels=ENC_DIM, stride=2)
    estimator = ConditionalDecoder(
        in_channels=320,
        out_channels=80,
        causal=True,
        channels=[32],
        dropout=0.0,
        attention_head_dim=16,
        n_blocks=2,
        num_mid_blocks=2,
        num_heads=2,
        act_fn="gelu",
        meanflow=meanflow,
    )
    decoder = CausalConditionalCFM(spk_emb_dim=80, cfm_params=CFM_PARAMS, estimator=estimator)
    flow = CausalMaskedDiffWithXvec(input_size=ENC_DIM, vocab_size=vocab, encoder=encoder, decoder=decoder)
    randomise(flow, gen)
    return flow.eval()


def make_hift(gen):
    hift = HiFTGenerator(
        base_channels=32,
        sampling_rate=24000,
        upsample_rates=[8, 5, 3],
        upsample_kernel_sizes=[16, 11, 7],
        source_resblock_kernel_sizes=[7, 7, 11],
        source_resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        f0_predictor=ConvRNNF0Predictor(cond_channels=32),
    )
    randomise(hift, gen)
    with torch.no_grad():
        # A realistic F0 range (some frames unvoiced below 10 Hz, most voiced).
        hift.f0_predictor.classifier.bias.fill_(40.0)
        hift.f0_predictor.classifier.weight.mul_(300.0)
        # Log-magnitudes of a trained model's order (a few units), not exp(20) saturating clamps.
        hift.conv_post.parametrizations.weight.original0.mul_(0.15)
    return hift.eval()


def state(prefix, module):
    return {f"{prefix}.{k}": v.detach().clone() for k, v in module.state_dict().items()}


def draw_source_randomness(b, length):
    """The SineGen draws, in the reference's order (uniform phases, then Gaussian noise)."""
    phases = Uniform(low=-np.pi, high=np.pi).sample(sample_shape=(b, 9, 1))
    noise = torch.randn(b, 9, length)
    return phases, noise


def hift_parts(hift, mel, seed):
    """f0, source, s_stft, conv_post output and wav of `hift.inference`, with the draws it makes."""
    torch.manual_seed(seed)
    f0 = hift.f0_predictor(mel)
    length = f0.shape[1] * 480
    phases, noise = draw_source_randomness(mel.shape[0], length)
    captured = {}
    h1 = hift.conv_post.register_forward_hook(lambda m, i, o: captured.__setitem__("pre_istft", o.clone()))
    h2 = hift.m_source.register_forward_hook(lambda m, i, o: captured.__setitem__("source", o[0].clone()))
    torch.manual_seed(seed)
    wav, s = hift.inference(speech_feat=mel)
    h1.remove()
    h2.remove()
    re, im = hift._stft(s.squeeze(1))
    return dict(
        f0=f0,
        phases=phases,
        noise=noise,
        source=s,
        s_stft=torch.cat([re, im], dim=1),
        pre_istft=captured["pre_istft"],
        wav=wav,
    )


@torch.inference_mode()
def s3gen_flow(rng, out, seed):
    gen = torch.Generator().manual_seed(1000 + seed)
    flow = make_flow(gen)
    t = {}
    t.update(state("flow", flow))

    # Encoder: prompt + new tokens -> h, mu.
    n_prompt, n_new = 6, 8
    prompt_token = torch.from_numpy(rng.randint(0, VOCAB, size=(1, n_prompt))).long()
    token = torch.from_numpy(rng.randint(0, VOCAB, size=(1, n_new))).long()
    all_tok = torch.cat([prompt_token, token], dim=1)
    x = flow.input_embedding(all_tok)
    h, _ = flow.encoder(x, torch.tensor([all_tok.shape[1]]))
    mu = flow.encoder_proj(h)
    t.update({"enc.tokens": all_tok, "enc.h": h, "enc.mu": mu})

    # Estimator on batch 2 (conditional row, unconditional row with mu/spk/cond zeroed).
    T = 2 * all_tok.shape[1]
    est = flow.decoder.estimator
    ex = torch.from_numpy(rng.standard_normal((1, 80, T)).astype(np.float32)).repeat(2, 1, 1)
    emu = mu.transpose(1, 2).contiguous()
    espk = torch.from_numpy(rng.standard_normal((1, 80)).astype(np.float32))
    econd = torch.zeros(1, 80, T)
    econd[:, :, : 2 * n_prompt] = torch.from_numpy(rng.normal(-4, 2, (1, 80, 2 * n_prompt)).astype(np.float32))
    zero = torch.zeros_like
    t.update({"est.x": ex, "est.mu": emu, "est.spk": espk, "est.cond": econd})
    for i, tv in enumerate([0.0, 0.55]):
        v = est(
            x=ex,
            mask=torch.ones(2, 1, T),
            mu=torch.cat([emu, zero(emu)]),
            t=torch.tensor([tv, tv]),
            spks=torch.cat([espk, zero(espk)]),
            cond=torch.cat([econd, zero(econd)]),
        )
        t[f"est.t{i}"] = torch.tensor([tv])
        t[f"est.v{i}"] = v

    # CFM: 10 Euler steps with CFG, noise injected through `noised_mels` (full length -> z = it).
    z = torch.from_numpy(rng.standard_normal((1, 80, T)).astype(np.float32))
    mel, _ = flow.decoder(mu=emu, mask=torch.ones(1, 1, T), spks=espk, cond=econd, n_timesteps=10, noised_mels=z)
    t.update({"cfm.z": z, "cfm.mel": mel})

    # Flow orchestration: tokens + prompt -> mel with the prompt frames cut.
    prompt_feat = torch.from_numpy(rng.normal(-4, 2, (1, 2 * n_prompt, 80)).astype(np.float32))
    embedding = torch.from_numpy(rng.standard_normal((1, 192)).astype(np.float32))
    fmel, _ = flow.inference(
        token=token,
        token_len=torch.tensor([n_new]),
        prompt_token=prompt_token,
        prompt_token_len=torch.tensor([n_prompt]),
        prompt_feat=prompt_feat,
        prompt_feat_len=None,
        embedding=embedding,
        finalize=True,
        n_timesteps=10,
        noised_mels=z,
    )
    t.update(
        {
            "flow.in.prompt_token": prompt_token,
            "flow.in.token": token,
            "flow.in.prompt_feat": prompt_feat,
            "flow.in.embedding": embedding,
            "flow.out.mel": fmel,
        }
    )
    save(out / "s3gen_flow.safetensors", t, seed)


@torch.inference_mode()
def s3gen_hift(rng, out, seed):
    gen = torch.Generator().manual_seed(2000 + seed)
    hift = make_hift(gen)
    mel = torch.from_numpy(rng.normal(-4, 2, (1, 80, 12)).astype(np.float32))
    # Exercise both branches of the source: shift the F0 offset so that one frame's F0 is ~0 Hz
    # (unvoiced) while most stay voiced.
    cls = hift.f0_predictor.classifier
    cls.bias.zero_()
    raw = cls(hift.f0_predictor.condnet(mel).transpose(1, 2)).flatten().sort().values
    cls.bias.fill_(-raw[len(raw) // 4].item())
    voiced = (hift.f0_predictor(mel) > 10).float().mean().item()
    assert 0.3 < voiced < 1.0, f"voiced fraction {voiced}"
    parts = hift_parts(hift, mel, 3000 + seed)
    t = state("mel2wav", hift)
    t["mel"] = mel
    t.update({f"out.{k}": v for k, v in parts.items()})
    save(out / "s3gen_hift.safetensors", t, seed)


@torch.inference_mode()
def s3gen_full(rng, out, seed):
    """`S3Token2Wav.inference` (the real method) with the reduced flow and HiFT swapped in."""
    gen = torch.Generator().manual_seed(4000 + seed)
    model = S3Token2Wav()
    model.flow = make_flow(gen)
    model.mel2wav = make_hift(gen)
    model.eval()
    n_prompt, n_new = 5, 6
    prompt_token = torch.from_numpy(rng.randint(0, VOCAB, size=(1, n_prompt))).long()
    token = torch.from_numpy(rng.randint(0, VOCAB, size=(1, n_new))).long()
    prompt_feat = torch.from_numpy(rng.normal(-4, 2, (1, 2 * n_prompt, 80)).astype(np.float32))
    embedding = torch.from_numpy(rng.standard_normal((1, 192)).astype(np.float32))
    ref = dict(
        prompt_token=prompt_token,
        prompt_token_len=torch.tensor([n_prompt]),
        prompt_feat=prompt_feat,
        prompt_feat_len=None,
        embedding=embedding,
    )
    T = 2 * (n_prompt + n_new)
    s = 5000 + seed
    # Reproduce the draws: CFM noise (1,80,T), then SineGen phases and noise.
    torch.manual_seed(s)
    z = torch.randn(1, 80, T)
    phases, noise = draw_source_randomness(1, 480 * 2 * n_new)
    torch.manual_seed(s)
    wav, source = model.inference(token, ref_dict={k: v for k, v in ref.items()})
    # Cross-check the reproduced draws: flow with injected z gives the same mel as the seeded run.
    mel, _ = model.flow.inference(
        token=token, token_len=torch.tensor([n_new]), finalize=True, n_timesteps=10, noised_mels=z, **ref
    )
    torch.manual_seed(s)
    torch.randn(1, 80, T)
    wav2, _ = model.mel2wav.inference(speech_feat=mel)
    wav2[:, : len(model.trim_fade)] *= model.trim_fade
    assert torch.equal(wav, wav2), "reproduced draws differ"
    t = state("flow", model.flow)
    t.update(state("mel2wav", model.mel2wav))
    t.update(
        {
            "in.prompt_token": prompt_token,
            "in.token": token,
            "in.prompt_feat": prompt_feat,
            "in.embedding": embedding,
            "in.z": z,
            "in.phases": phases,
            "in.noise": noise,
            "out.mel": mel,
            "out.source": source,
            "out.wav": wav,
        }
    )
    save(out / "s3gen_full.safetensors", t, seed)


FIXTURES = [s3gen_flow, s3gen_hift, s3gen_full]
