"""Chatterbox-Turbo fixtures (`ChatterboxTurboTTS` of chatterbox-tts 0.1.7), reduced sizes.

T3 Turbo: the reference `T3` built with the Turbo hyper-parameters of `tts_turbo.py` on a reduced
GPT-2 (2 layers, width 32, 4 heads x 8, MLP 128, 64 positions, 300 text ids); the released speech
vocabulary (6563) and special ids are kept. Weights are rounded to float16 and saved in float16
(the reference runs on the rounded values in f32). Every sampling draw is injected (inverse CDF of
fixture uniforms, or argmax for the greedy run), as in fixtures_t3.py.
"""

import json

import numpy as np
import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from chatterbox.models.t3 import t3 as t3mod
from chatterbox.models.t3.llama_configs import GPT2_MEDIUM_CONFIG, LLAMA_CONFIGS
from chatterbox.models.t3.modules.cond_enc import T3Cond
from chatterbox.models.t3.modules.t3_config import T3Config

from fxcommon import save
from fixtures_t3 import inverse_cdf

WIDTH = 32
TEXT_VOCAB = 300
TINY_GPT2 = dict(GPT2_MEDIUM_CONFIG)
TINY_GPT2.update(n_embd=WIDTH, hidden_size=WIDTH, n_head=4, n_layer=2, n_positions=64, n_ctx=64,
                 vocab_size=TEXT_VOCAB)
LLAMA_CONFIGS["GPT2_tiny_fixture"] = TINY_GPT2

# The Rust `T3TurboConfig` of this reduced model (serde field names).
RUST_T3_CONFIG = dict(
    text_tokens_dict_size=TEXT_VOCAB,
    speech_tokens_dict_size=6563,
    start_speech_token=6561,
    stop_speech_token=6562,
    speaker_embed_size=256,
    speech_cond_prompt_len=375,
    gpt2=dict(vocab_size=TEXT_VOCAB, n_positions=64, n_embd=WIDTH, n_layer=2, n_head=4, n_inner=4 * WIDTH,
              layer_norm_epsilon=1e-5),
)


def build_t3_turbo(rng):
    """`T3(hp)` with the hyper-parameters `ChatterboxTurboTTS.from_local` sets (tts_turbo.py:149-155)."""
    hp = T3Config(text_tokens_dict_size=TEXT_VOCAB)
    hp.llama_config_name = "GPT2_tiny_fixture"
    hp.speech_tokens_dict_size = 6563
    hp.input_pos_emb = None
    hp.speech_cond_prompt_len = 375
    hp.use_perceiver_resampler = False
    hp.emotion_adv = False
    t3 = t3mod.T3(hp)
    t3.eval()
    with torch.no_grad():
        for name, p in t3.named_parameters():
            shape = tuple(p.shape)
            if ".ln_" in name and name.endswith("weight"):
                v = 1.0 + 0.2 * rng.standard_normal(shape)
            elif name.endswith("bias"):
                v = 0.2 * rng.standard_normal(shape)
            elif name == "speech_head.weight":
                v = 2.5 / np.sqrt(shape[1]) * rng.standard_normal(shape)
            elif name.endswith("emb.weight") or name.endswith("wte.weight") or name.endswith("wpe.weight"):
                v = 0.5 * rng.standard_normal(shape)
            elif len(shape) == 2 and ".h." in name:
                v = rng.standard_normal(shape) / np.sqrt(shape[0])  # Conv1D: (in, out)
            else:
                v = rng.standard_normal(shape) / np.sqrt(shape[-1])
            p.copy_(torch.from_numpy(v).half().float())
    return t3


def turbo_processors(temperature, top_k, top_p, repetition_penalty):
    """Exactly the list `T3.inference_turbo` builds (t3.py:418-426)."""
    lp = LogitsProcessorList()
    if temperature > 0 and temperature != 1.0:
        lp.append(TemperatureLogitsWarper(temperature))
    if top_k > 0:
        lp.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        lp.append(TopPLogitsWarper(top_p))
    if repetition_penalty != 1.0:
        lp.append(RepetitionPenaltyLogitsProcessor(repetition_penalty))
    return lp


def run_turbo_generation(t3, cond, text, kw, uniforms=None):
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
        out = t3.inference_turbo(t3_cond=cond, text_tokens=text, **kw)
    finally:
        torch.multinomial = real
    return out[0]


def turbo_t3(rng, out, seed):
    t3 = build_t3_turbo(rng)
    sd = {f"w.{k}": v.half() for k, v in t3.state_dict().items()}

    speaker = torch.from_numpy(rng.standard_normal((1, 256)).astype(np.float32) * 0.1)
    prompt = torch.from_numpy(rng.randint(0, 6561, size=(1, 10))).long()
    text = torch.from_numpy(rng.randint(0, TEXT_VOCAB, size=(1, 7))).long()
    teacher = torch.from_numpy(rng.randint(0, 6561, size=6)).long()

    def mkcond():
        return T3Cond(speaker_emb=speaker.clone(), cond_prompt_speech_tokens=prompt.clone(),
                      emotion_adv=0.5 * torch.ones(1, 1, 1))

    t = {}
    with torch.inference_mode():
        t["cond_emb"] = t3.prepare_conditioning(mkcond())
        bos = 6561 * torch.ones_like(text[:, :1])
        prefix, _ = t3.prepare_input_embeds(t3_cond=mkcond(), text_tokens=text, speech_tokens=bos,
                                            cfg_weight=0.0)
        t["prefix"] = prefix
        plen = prefix.size(1)

        # Teacher forcing: one causal forward over prefix + fed tokens (GPT-2 adds wpe) ...
        full = torch.cat([prefix, t3.speech_emb(teacher)[None]], dim=1)
        h = t3.tfmr(inputs_embeds=full)[0]
        t["teacher_logits"] = t3.speech_head(h)[:, plen - 1:]  # (1, n + 1, V)
        # ... checked against the reference's own KV-cached path.
        o = t3.tfmr(inputs_embeds=prefix, use_cache=True)
        cached = [t3.speech_head(o[0][:, -1])]
        past = o.past_key_values
        for tok in teacher:
            o = t3.tfmr(inputs_embeds=t3.speech_emb(tok.view(1, 1)), past_key_values=past, use_cache=True)
            past = o.past_key_values
            cached.append(t3.speech_head(o[0][:, -1]))
        assert torch.allclose(torch.stack(cached, 1), t["teacher_logits"], atol=1e-4)

    runs = dict(
        gen_default=dict(temperature=0.8, top_k=1000, top_p=0.95, repetition_penalty=1.2, max_gen_len=14),
        gen_topk=dict(temperature=1.3, top_k=20, top_p=0.8, repetition_penalty=1.5, max_gen_len=14),
        gen_plain=dict(temperature=1.0, top_k=0, top_p=1.0, repetition_penalty=1.0, max_gen_len=9),
        gen_greedy=dict(temperature=0.0, top_k=50, top_p=0.9, repetition_penalty=1.3, max_gen_len=10),
    )
    params = {}
    for name, kw in runs.items():
        greedy = name == "gen_greedy"
        u = None if greedy else rng.uniform(0, 1, kw["max_gen_len"] + 1).astype(np.float32)
        toks = run_turbo_generation(t3, mkcond(), text, kw, None if u is None else [float(x) for x in u])
        t[f"{name}.tokens"] = toks.to(torch.int64)
        if u is not None:
            t[f"{name}.uniforms"] = torch.from_numpy(u)
        params[name] = kw

    t.update(sd)
    t["speaker_emb"] = speaker
    t["prompt_tokens"] = prompt
    t["text_tokens"] = text
    t["teacher_tokens"] = teacher
    save(out / "turbo_t3.safetensors", t, seed)
    (out / "turbo_t3.json").write_text(json.dumps(dict(config=RUST_T3_CONFIG, runs=params), indent=1) + "\n")


def turbo_sampling(rng, out, seed):
    """The Turbo processor chain (temperature → top-k → top-p → repetition penalty) on fixed logits,
    for several settings, and draws with injected uniforms."""
    v = 6563
    rows = 3
    logits = torch.from_numpy((rng.standard_normal((rows, v)) * 2.5).astype(np.float32))
    ids = torch.from_numpy(rng.randint(0, 6561, size=8)).long()
    ids[5] = ids[2]
    # Penalised ids near the top (so the penalty acts on survivors of top-k/top-p), one negative.
    logits[:, ids[1]] = -abs(logits[:, ids[1]])
    logits[:, ids[3]] = 6.0 + abs(logits[:, ids[3]])
    logits[:, ids[4]] = 7.0
    t = {"logits": logits, "ids": ids}
    settings = dict(
        default=(0.8, 1000, 0.95, 1.2),
        topk=(1.3, 20, 0.8, 1.5),
        narrow=(0.5, 5, 0.5, 2.0),
        plain=(1.0, 0, 1.0, 1.0),
    )
    for name, (temp, k, p, r) in settings.items():
        lp = turbo_processors(temp, k, p, r)
        x = lp(ids[None].expand(rows, -1), logits.clone())
        t[f"{name}.processed"] = x
        probs = torch.softmax(x, dim=-1)
        u = rng.uniform(0, 1, 8).astype(np.float32)
        t[f"{name}.uniforms"] = torch.from_numpy(u)
        t[f"{name}.tokens"] = torch.tensor(
            [inverse_cdf(probs[i % rows:i % rows + 1], torch.tensor(float(ui))) for i, ui in enumerate(u)],
            dtype=torch.int64)
    save(out / "turbo_sampling.safetensors", t, seed)
    (out / "turbo_sampling.json").write_text(json.dumps({k: dict(zip(
        ["temperature", "top_k", "top_p", "repetition_penalty"], v)) for k, v in settings.items()}, indent=1) + "\n")


FIXTURES = [turbo_t3, turbo_sampling]


# ------------------------------------------------------------------------------------------------
# S3Gen meanflow: the reduced flow of fixtures_s3gen.py built with `meanflow=True`.

@torch.inference_mode()
def turbo_meanflow(rng, out, seed):
    """The meanflow estimator's time embedding (t, r) and vector field, the two-step CFM
    (`basic_euler` on the linear grid, no CFG) with the noise of the generated frames spliced into
    `z` at frame T - 2N, and the flow orchestration for an even and an odd prompt-mel length.
    Weights are rounded to float16 (saved so); the mixer is `[I | 0]` plus noise so that `r` acts."""
    from fixtures_s3gen import VOCAB, make_flow, state

    gen = torch.Generator().manual_seed(6000 + seed)
    flow = make_flow(gen, meanflow=True)
    est = flow.decoder.estimator
    e = est.time_embed_mixer.weight.shape[0]
    with torch.no_grad():
        est.time_embed_mixer.weight.add_(0.5 / np.sqrt(2 * e) * torch.randn(e, 2 * e, generator=gen))
        for p in flow.parameters():
            p.copy_(p.half().float())
    t = {k: v.half() if v.is_floating_point() else v for k, v in state("flow", flow).items()}

    # Time embedding: time_mlp(SinPos(t)), time_mlp(SinPos(r)), mixed (decoder.py:261-268).
    tt = torch.tensor([0.0, 0.5, 0.25, 0.9])
    rr = torch.tensor([0.5, 1.0, 0.75, 0.95])
    et = est.time_mlp(est.time_embeddings(tt).to(tt.dtype))
    er = est.time_mlp(est.time_embeddings(rr).to(rr.dtype))
    t.update({"temb.t": tt, "temb.r": rr, "temb.out": est.time_embed_mixer(torch.cat([et, er], dim=1))})

    # Flow inputs: prompt + new tokens.
    n_prompt, n_new = 6, 7
    prompt_token = torch.from_numpy(rng.randint(0, VOCAB, size=(1, n_prompt))).long()
    token = torch.from_numpy(rng.randint(0, VOCAB, size=(1, n_new))).long()
    all_tok = torch.cat([prompt_token, token], dim=1)
    T = 2 * all_tok.shape[1]
    h, _ = flow.encoder(flow.input_embedding(all_tok), torch.tensor([all_tok.shape[1]]))
    mu = flow.encoder_proj(h).transpose(1, 2).contiguous()
    spk = torch.from_numpy(rng.standard_normal((1, 80)).astype(np.float32))
    cond = torch.zeros(1, 80, T)
    cond[:, :, : 2 * n_prompt] = torch.from_numpy(rng.normal(-4, 2, (1, 80, 2 * n_prompt)).astype(np.float32))
    x = torch.from_numpy(rng.standard_normal((1, 80, T)).astype(np.float32))
    v = est(x=x, mask=torch.ones(1, 1, T), mu=mu, t=torch.tensor([0.0]), spks=spk, cond=cond,
            r=torch.tensor([0.5]))
    t.update({"est.x": x, "est.mu": mu, "est.spk": spk, "est.cond": cond, "est.v": v})

    # Two-step CFM. `forward` draws z = randn_like(mu) itself, then splices `noised_mels` in:
    # reproduce that draw from the seed and save the spliced z.
    noise_gen = torch.from_numpy(rng.standard_normal((1, 80, 2 * n_new)).astype(np.float32))
    s = 7000 + seed

    def spliced_z():
        torch.manual_seed(s)
        z = torch.randn(1, 80, T)
        z[..., T - 2 * n_new:] = noise_gen
        return z

    torch.manual_seed(s)
    mel, _ = flow.decoder(mu=mu, mask=torch.ones(1, 1, T), spks=spk, cond=cond, n_timesteps=2,
                          noised_mels=noise_gen, meanflow=True)
    t.update({"cfm.z": spliced_z(), "cfm.mel": mel})

    # Flow orchestration (`finalize=True`), prompt mel of 2·Np (even) and 2·Np + 1 (odd) frames.
    embedding = torch.from_numpy(rng.standard_normal((1, 192)).astype(np.float32))
    t.update({"flow.in.prompt_token": prompt_token, "flow.in.token": token, "flow.in.embedding": embedding,
              "flow.in.z": spliced_z()})
    for name, tm in (("even", 2 * n_prompt), ("odd", 2 * n_prompt + 1)):
        prompt_feat = torch.from_numpy(rng.normal(-4, 2, (1, tm, 80)).astype(np.float32))
        torch.manual_seed(s)
        fmel, _ = flow.inference(
            token=token, token_len=torch.tensor([n_new]), prompt_token=prompt_token,
            prompt_token_len=torch.tensor([n_prompt]), prompt_feat=prompt_feat, prompt_feat_len=None,
            embedding=embedding, finalize=True, n_timesteps=2, noised_mels=noise_gen, meanflow=True)
        assert fmel.shape[2] == T - tm
        t.update({f"flow.{name}.prompt_feat": prompt_feat, f"flow.{name}.mel": fmel})
    save(out / "turbo_meanflow.safetensors", t, seed)


FIXTURES.append(turbo_meanflow)


# ------------------------------------------------------------------------------------------------
# Text: the Turbo punc_norm and the GPT-2 byte-level BPE built by transformers' AutoTokenizer.

# Paralinguistic tags (the third-party list of the released added tokens); a few get lstrip /
# rstrip flags so that both behaviours are exercised.
TAGS = ["[laugh]", "[chuckle]", "[sigh]", "[gasp]", "[clear throat]", "[happy]", "[surprised]", "[whispering]",
        "[crying]", "[dramatic]", "[shush]", "[cough]", "[groan]", "[sniff]", "[angry]", "[fear]", "[sarcastic]",
        "[narration]", "[advertisement]"]
STRIPPED = {"[sniff]": (True, False), "[groan]": (False, True), "[fear]": (True, True)}

TURBO_TEXTS = [
    "hello... world; yes - no: ok\u2026",
    "end with ellipsis...",
    "[laugh] that is funny",
    "Hi [laugh] there",
    "Oh no [sigh] [cough] not again",
    "trailing tag [chuckle]",
    "[clear throat] Ahem, may I have your attention?",
    "no space[gasp]between",
    "a [sniff] b [groan] c [fear] d",
    "tags[sniff]glued[groan]on[fear]both",
    "Unknown [tag] stays text",
    "The <|endoftext|> marker inside",
    "Prices: $3.50, 12% off, 2024-05-01 at 10:30.",
    "  Leading and trailing spaces  ",
    "Caf\u00e9, na\u00efve, \u00fcber, \u65e5\u672c\u8a9e and emoji \U0001f600!",
    "Tabs\tand\nnewlines",
    "It\u2019s \u201cquoted\u201d \u2014 with dashes \u2013 here",
    "Don't stop; won't stop - can't stop.",
    "[whispering] psst... [surprised] what?!",
]


def turbo_text(rng, out, seed):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import AutoTokenizer

    from chatterbox.tts_turbo import punc_norm as punc_norm_turbo
    from fixtures_frontend import CORPUS, TEXTS

    d = out / "turbo_tokenizer"
    d.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    words = CORPUS.split()
    rng.shuffle(words)
    bpe.train_from_iterator([CORPUS, " ".join(words)], vocab_size=600, min_frequency=2, show_progress=False)
    bpe.save_model(str(d))
    vocab = json.loads((d / "vocab.json").read_text(encoding="utf-8"))
    eos = len(vocab)
    vocab["<|endoftext|>"] = eos
    (d / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    added = {t: eos + 1 + i for i, t in enumerate(TAGS)}
    decoder = {str(eos): dict(content="<|endoftext|>", lstrip=False, normalized=True, rstrip=False,
                              single_word=False, special=True)}
    for t, i in added.items():
        ls, rs = STRIPPED.get(t, (False, False))
        decoder[str(i)] = dict(content=t, lstrip=ls, normalized=True, rstrip=rs, single_word=False, special=False)
    (d / "added_tokens.json").write_text(json.dumps(added, indent=1) + "\n")
    (d / "tokenizer_config.json").write_text(json.dumps(dict(
        add_bos_token=False, add_prefix_space=False, added_tokens_decoder=decoder, bos_token="<|endoftext|>",
        clean_up_tokenization_spaces=False, eos_token="<|endoftext|>", errors="replace", model_max_length=256,
        pad_token=None, tokenizer_class="GPT2Tokenizer", unk_token="<|endoftext|>"), indent=1) + "\n")
    (d / "special_tokens_map.json").write_text(json.dumps(dict(
        bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>"), indent=1) + "\n")

    # As ChatterboxTurboTTS.from_local / generate use it (tts_turbo.py:172-176, 270-272).
    tok = AutoTokenizer.from_pretrained(str(d))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    cases = []
    for text in TURBO_TEXTS + TEXTS:
        norm = punc_norm_turbo(text)
        ids = tok(norm, return_tensors="pt", padding=True, truncation=True).input_ids[0].tolist()
        cases.append({"input": text, "normalized": norm, "ids": ids})
    assert any(len(c["ids"]) == 256 for c in cases), "no case reaches the truncation length"
    (out / "turbo_text_cases.json").write_text(json.dumps(dict(
        vocab_len=len(tok), cases=cases), ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


FIXTURES.append(turbo_text)


# ------------------------------------------------------------------------------------------------
# Loudness normalisation (pyloudnorm 0.2.0 through ChatterboxTurboTTS.norm_loudness).

def turbo_loudness(rng, out, seed):
    import pyloudnorm

    from chatterbox.tts_turbo import ChatterboxTurboTTS
    from fxcommon import speechlike

    sr = 24000
    f16 = lambda x: x.astype(np.float16).astype(np.float32)  # inputs saved exactly as float16
    sig = {
        "speech": f16(speechlike(rng, sr, 1.5)),
        "quiet_speech": f16(0.01 * speechlike(rng, sr, 1.3)),
        "loud_tone": f16(0.9 * np.sin(2 * np.pi * 440 * np.arange(int(0.85 * sr)) / sr)),
        "gated_bursts": f16(np.concatenate([speechlike(rng, sr, 0.5, silence=False),
                                            1e-5 * rng.standard_normal(int(0.8 * sr)),
                                            0.05 * speechlike(rng, sr, 0.37, silence=False)])),
        "one_block": f16(0.2 * rng.standard_normal(int(0.4 * sr))),
        "half_even": f16(0.3 * rng.standard_normal(int(0.45 * sr))),
        "silence": np.zeros(sr // 2, dtype=np.float32),
        "too_short": f16(0.3 * rng.standard_normal(int(0.3 * sr))),
    }
    t = {}
    meta = {}
    for name, x in sig.items():
        try:
            lufs = float(pyloudnorm.Meter(sr).integrated_loudness(x))
        except ValueError:
            lufs = None
        y = ChatterboxTurboTTS.norm_loudness(None, x.copy(), sr)
        assert y.dtype == np.float32
        t[f"{name}.in"] = torch.from_numpy(x).half()
        t[f"{name}.out"] = torch.from_numpy(np.ascontiguousarray(y))
        meta[name] = None if lufs is None or not np.isfinite(lufs) else lufs
    save(out / "turbo_loudness.safetensors", t, seed)
    (out / "turbo_loudness.json").write_text(json.dumps(meta, indent=1) + "\n")


FIXTURES.append(turbo_loudness)


# ------------------------------------------------------------------------------------------------
# Voice: ChatterboxTurboTTS.prepare_conditionals with the reduced conditioning networks.

def turbo_cond(rng, out, seed):
    """`ChatterboxTurboTTS.prepare_conditionals` (the real method on a stand-in `self`) with the
    reduced S3 tokenizer / voice encoder / CAMPPlus of fixtures_cond.py, loaded from the
    `cond_weights.safetensors` that producer writes (so no second copy of the weights). The clip
    is a quiet 16.2 s recording stored at 8 kHz (small), so `librosa.load(sr=24000)` resamples,
    the loudness normalisation applies a large gain, and both the 10 s (S3Gen) and 15 s (T3
    prompt) crops bite."""
    import types

    import librosa
    import soundfile as sf
    from safetensors.torch import load_file

    from chatterbox.models.s3gen.s3gen import S3Token2Mel, mel_spectrogram
    from chatterbox.tts_turbo import ChatterboxTurboTTS
    from fixtures_cond import build
    from fxcommon import speechlike

    tok, ve, cam = build(torch.Generator().manual_seed(0))
    w = load_file(str(out / "cond_weights.safetensors"))
    for prefix, module in (("tokenizer.", tok), ("speaker_encoder.", cam), ("ve.", ve)):
        sd = {k[len(prefix):]: v.float() for k, v in w.items() if k.startswith(prefix)}
        missing, unexpected = module.load_state_dict(sd, strict=False)
        assert not unexpected, unexpected
        assert all(k.endswith("num_batches_tracked") or k in ("_mel_filters", "window") for k in missing), missing
    for m in (tok, ve, cam):
        m.eval()

    clip = np.concatenate([speechlike(rng, 8000, 9.1), speechlike(rng, 8000, 7.1)]) * 0.07
    path = out / "turbo_ref.wav"
    sf.write(str(path), clip.astype(np.float32), 8000, subtype="PCM_16")

    fake_s3gen = types.SimpleNamespace(tokenizer=tok, speaker_encoder=cam, mel_extractor=mel_spectrogram,
                                       device=torch.device("cpu"), dtype=torch.float32)
    fake_s3gen.embed_ref = lambda w, sr, device="auto": S3Token2Mel.embed_ref(fake_s3gen, w, sr, device=device)
    fake = types.SimpleNamespace(
        s3gen=fake_s3gen, ve=ve, device="cpu",
        t3=types.SimpleNamespace(hp=types.SimpleNamespace(speech_cond_prompt_len=375)),
        ENC_COND_LEN=ChatterboxTurboTTS.ENC_COND_LEN, DEC_COND_LEN=ChatterboxTurboTTS.DEC_COND_LEN)
    fake.norm_loudness = lambda wav, sr, target_lufs=-27: ChatterboxTurboTTS.norm_loudness(fake, wav, sr, target_lufs)
    with torch.inference_mode():
        ChatterboxTurboTTS.prepare_conditionals(fake, str(path), exaggeration=0.0)
    t3, g = fake.conds.t3, fake.conds.gen
    loaded, _ = librosa.load(str(path), sr=24000)
    assert len(loaded) > 15 * 24000 and len(fake.conds.t3.cond_prompt_speech_tokens[0]) > 150
    save(out / "turbo_cond.safetensors", {
        "t3.speaker_emb": t3.speaker_emb,
        "t3.cond_prompt_speech_tokens": t3.cond_prompt_speech_tokens,
        "t3.emotion_adv": t3.emotion_adv,
        "gen.prompt_token": g["prompt_token"],
        "gen.prompt_token_len": g["prompt_token_len"],
        "gen.prompt_feat": g["prompt_feat"],
        "gen.embedding": g["embedding"],
    }, seed)


FIXTURES.append(turbo_cond)
