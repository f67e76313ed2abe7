"""T3 fixtures: a reduced Llama T3 (2 layers, hidden 64, 4 heads x 16, MLP 128) with random weights.

The released special token ids and vocabularies are kept (text 704, speech 8194, SOS 6561, EOS 6562)
as are the llama3 RoPE parameters (head_dim 16 exercises all three frequency bands). Only the
learned position tables are shortened (max_text_tokens 30, max_speech_tokens 40). The reference
classes are used unchanged; the perceiver is rebuilt at width 64 (its constructor hard-codes 1024).

Weights are rounded to float16 and saved in float16 (the Rust side converts to f32 at load), the
reference runs on the rounded values in f32. Every sampling draw is injected: `torch.multinomial`
is replaced by an inverse-CDF draw from fixture uniforms (or by argmax for the greedy run).
"""

import json

import numpy as np
import torch

from chatterbox.models.t3 import t3 as t3mod
from chatterbox.models.t3.llama_configs import LLAMA_CONFIGS
from chatterbox.models.t3.modules.cond_enc import T3Cond
from chatterbox.models.t3.modules.perceiver import Perceiver
from chatterbox.models.t3.modules.t3_config import T3Config
from chatterbox.models.t3.inference.t3_hf_backend import T3HuggingfaceBackend
from transformers.generation.logits_process import (
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from fxcommon import save

HIDDEN = 64
TINY = dict(LLAMA_CONFIGS["Llama_520M"])
TINY.update(hidden_size=HIDDEN, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=4, head_dim=16)
LLAMA_CONFIGS["Llama_tiny_fixture"] = TINY

# The Rust `T3Config` of this reduced model (serde field names).
RUST_CONFIG = dict(
    text_tokens_dict_size=704,
    speech_tokens_dict_size=8194,
    start_text_token=255,
    stop_text_token=0,
    start_speech_token=6561,
    stop_speech_token=6562,
    max_text_tokens=30,
    max_speech_tokens=40,
    speaker_embed_size=256,
    perceiver_queries=32,
    perceiver_heads=4,
    llama=dict(
        vocab_size=8,
        hidden_size=HIDDEN,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        head_dim=16,
        rms_norm_eps=1e-5,
        rope_theta=500000.0,
        rope_scaling=dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                          original_max_position_embeddings=8192),
    ),
)


def build_t3(rng):
    hp = T3Config()
    hp.llama_config_name = "Llama_tiny_fixture"
    hp.max_text_tokens = RUST_CONFIG["max_text_tokens"]
    hp.max_speech_tokens = RUST_CONFIG["max_speech_tokens"]
    t3 = t3mod.T3(hp)
    t3.cond_enc.perceiver = Perceiver(32, HIDDEN, HIDDEN, 4)
    t3.eval()
    with torch.no_grad():
        for name, p in t3.named_parameters():
            shape = tuple(p.shape)
            if name.endswith("norm.weight") or "layernorm" in name:
                v = 1.0 + 0.2 * rng.standard_normal(shape)
            elif name.endswith("bias"):
                v = 0.2 * rng.standard_normal(shape)
            elif name == "speech_head.weight":
                v = 2.5 / np.sqrt(shape[1]) * rng.standard_normal(shape)
            elif name.endswith("emb.weight") or name == "tfmr.embed_tokens.weight":
                v = 0.5 * rng.standard_normal(shape)
            elif name == "cond_enc.perceiver.pre_attention_query":
                v = rng.uniform(-1, 1, shape)
            else:
                v = rng.standard_normal(shape) / np.sqrt(shape[-1])
            p.copy_(torch.from_numpy(v).half().float())
    return t3


def inverse_cdf(probs, u):
    """The Rust sampler: first index whose running sum exceeds u (CPU cumsum accumulates in double)."""
    cdf = probs.cumsum(-1)
    idx = int((cdf <= u).sum())
    nz = torch.nonzero(probs[0] > 0)
    return min(idx, int(nz[-1]))


def run_generation(t3, cond, text, kw, uniforms=None):
    draws = iter(uniforms if uniforms is not None else [])

    def fake_multinomial(probs, num_samples=1):
        if uniforms is None:
            tok = int(torch.argmax(probs[0]))
        else:
            tok = inverse_cdf(probs, torch.tensor(next(draws), dtype=torch.float32))
        return torch.tensor([[tok]], dtype=torch.long)

    real = torch.multinomial
    torch.multinomial = fake_multinomial
    try:
        out = t3.inference(t3_cond=cond, text_tokens=torch.cat([text, text]), **kw)
    finally:
        torch.multinomial = real
    return out[0]


def t3_model(rng, out, seed):
    t3 = build_t3(rng)
    sd = {f"w.{k}": v.half() for k, v in t3.state_dict().items()}

    speaker = torch.from_numpy(rng.standard_normal((1, 256)).astype(np.float32) * 0.1)
    prompt = torch.from_numpy(rng.randint(0, 6561, size=(1, 10))).long()
    exaggeration = float(rng.uniform(0.2, 1.5))
    body = rng.randint(1, 704, size=5)
    text = torch.from_numpy(np.concatenate([[255], body, [0]])).long()[None]  # (1, 7)
    teacher = torch.from_numpy(rng.randint(0, 6561, size=6)).long()

    def mkcond():
        return T3Cond(speaker_emb=speaker.clone(), cond_prompt_speech_tokens=prompt.clone(),
                      emotion_adv=exaggeration * torch.ones(1, 1, 1))

    t = {}
    with torch.inference_mode():
        cond = mkcond()
        prompt_emb = t3.speech_emb(prompt) + t3.speech_pos_emb(prompt)
        t["perceiver_out"] = t3.cond_enc.perceiver(prompt_emb)
        t["cond_emb"] = t3.prepare_conditioning(cond)

        # Prefix exactly as `inference` builds it: [cond | text | BOS] + a second BOS.
        text2 = torch.cat([text, text])
        bos = 6561 * torch.ones_like(text2[:, :1])
        embeds, _ = t3.prepare_input_embeds(t3_cond=mkcond(), text_tokens=text2, speech_tokens=bos,
                                            cfg_weight=0.5)
        bos_embed = t3.speech_emb(bos[:1]) + t3.speech_pos_emb.get_fixed_embedding(0)
        prefix = torch.cat([embeds, torch.cat([bos_embed, bos_embed])], dim=1)
        t["prefix"] = prefix
        plen = prefix.size(1)

        # Teacher forcing: generated token i is fed at speech position i + 1.
        steps = [t3.speech_emb(teacher[i].view(1, 1)) + t3.speech_pos_emb.get_fixed_embedding(i + 1)
                 for i in range(teacher.numel())]
        full = torch.cat([prefix] + [torch.cat([s, s]) for s in steps], dim=1)
        backend = T3HuggingfaceBackend(config=t3.cfg, llama=t3.tfmr, speech_enc=t3.speech_emb,
                                       speech_head=t3.speech_head)
        logits = backend(inputs_embeds=full, output_hidden_states=True, return_dict=True).logits
        t["teacher_logits"] = logits[:, plen - 1:]  # (2, n + 1, V)

        # Self-check of the reference's own KV-cached path against the full forward.
        o = backend(inputs_embeds=prefix, use_cache=True, output_hidden_states=True, return_dict=True)
        cached = [o.logits[:, -1]]
        past = o.past_key_values
        for s in steps:
            o = backend(inputs_embeds=torch.cat([s, s]), past_key_values=past, output_hidden_states=True,
                        return_dict=True)
            past = o.past_key_values
            cached.append(o.logits[:, -1])
        assert torch.allclose(torch.stack(cached, 1), t["teacher_logits"], atol=1e-4)

    runs = dict(
        gen_default=dict(max_new_tokens=14, temperature=0.8, top_p=1.0, min_p=0.05, repetition_penalty=1.2,
                         cfg_weight=0.5),
        gen_topp=dict(max_new_tokens=14, temperature=1.3, top_p=0.8, min_p=0.1, repetition_penalty=1.5,
                      cfg_weight=0.3),
        gen_greedy=dict(max_new_tokens=10, temperature=1.0, top_p=1.0, min_p=0.05, repetition_penalty=1.2,
                        cfg_weight=0.5),
    )
    params = {}
    for name, kw in runs.items():
        greedy = name == "gen_greedy"
        u = None if greedy else rng.uniform(0, 1, kw["max_new_tokens"]).astype(np.float32)
        toks = run_generation(t3, mkcond(), text, kw, None if u is None else [float(x) for x in u])
        t[f"{name}.tokens"] = toks.to(torch.int64)
        if u is not None:
            t[f"{name}.uniforms"] = torch.from_numpy(u)
        params[name] = kw

    t.update(sd)
    t["speaker_emb"] = speaker
    t["prompt_tokens"] = prompt
    t["exaggeration"] = torch.tensor([exaggeration], dtype=torch.float32)
    t["text_tokens"] = text
    t["teacher_tokens"] = teacher
    save(out / "t3_model.safetensors", t, seed)
    (out / "t3_model.json").write_text(json.dumps(dict(config=RUST_CONFIG, runs=params), indent=1) + "\n")


def t3_sampling(rng, out, seed):
    """Each logits processor on fixed logits, against the transformers implementations."""
    v = 8194
    rows = 3
    logits = torch.from_numpy((rng.standard_normal((rows, v)) * 2.5).astype(np.float32))
    # Previously generated ids (BOS first), with a repeat to test once-per-distinct-id.
    ids = torch.from_numpy(np.concatenate([[6561], rng.randint(0, 6561, size=8)])).long()
    ids[5] = ids[2]
    # Make some penalised logits negative and some positive.
    logits[:, ids[1]] = -abs(logits[:, ids[1]])
    logits[:, ids[3]] = abs(logits[:, ids[3]])
    t = {"logits": logits, "ids": ids}
    t["rep_pen_1.3"] = RepetitionPenaltyLogitsProcessor(1.3)(ids[None].expand(rows, -1), logits.clone())
    t["temp_0.7"] = logits / 0.7
    t["min_p_0.05"] = MinPLogitsWarper(0.05)(None, logits.clone())
    t["min_p_0.2"] = MinPLogitsWarper(0.2)(None, logits.clone())
    t["top_p_0.9"] = TopPLogitsWarper(0.9)(None, logits.clone())
    t["top_p_0.5"] = TopPLogitsWarper(0.5)(None, logits.clone())
    t["top_p_1.0"] = TopPLogitsWarper(1.0)(None, logits.clone())
    t["top_k_50"] = TopKLogitsWarper(50)(None, logits.clone())

    # One whole sampling step as in T3.inference (CFG, penalty, temperature, min-p, top-p, draw).
    cond, uncond = logits[0:1], logits[1:2]
    w, r, temp, min_p, top_p = 0.5, 1.2, 0.8, 0.05, 0.95
    x = cond + torch.as_tensor(w) * (cond - uncond)
    x = RepetitionPenaltyLogitsProcessor(r)(ids[None], x)
    x = x / temp
    x = MinPLogitsWarper(min_p)(ids[None], x)
    x = TopPLogitsWarper(top_p)(ids[None], x)
    probs = torch.softmax(x, dim=-1)
    u = rng.uniform(0, 1, 16).astype(np.float32)
    t["step.uniforms"] = torch.from_numpy(u)
    t["step.tokens"] = torch.tensor([inverse_cdf(probs, torch.tensor(float(ui))) for ui in u], dtype=torch.int64)
    t["step.processed"] = x
    save(out / "t3_sampling.safetensors", t, seed)


FIXTURES = [t3_model, t3_sampling]
