"""Chatterbox Multilingual fixtures: text front end, alignment stream analyzer, T3 with the analyzer.

* mtl_text: `punc_norm` (multilingual), `MTLTokenizer` preprocessing and ids for sentences in all 23
  languages, with a tokenizer in the released file's format built here (BPE, Whitespace
  pre-tokenizer, [STOP]=0 [UNK]=1 [SPACE]=2 [START]=255, the 23 language tags and the Cangjie
  tokens as added tokens) and a small `Cangjie5_TC.json`-format table. The reference's classes run
  unchanged; `MTLTokenizer` is built without its network steps (no hub download, no pkuseg model):
  Chinese unsegmented (the step the port does not have). Japanese goes through the full reference
  (pykakasi 2.3.0, a dependency of chatterbox-tts): ids and the hiragana text (`ja_with_pykakasi`)
  are recorded; the port's IPADIC readings differ from pykakasi's on some words, so the test compares
  a Japanese case's ids only where the hiragana agrees (agreement itself: fixtures_ja.py).
* mtl_alignment: `AlignmentStreamAnalyzer.step` on synthetic attention streams (injected maps,
  random logits and tokens): the returned logits per step.
* mtl_t3: a reduced multilingual T3 (text vocab 2454 => analyzer on; 14 layers x 16 heads so the
  released aligned heads (12,15) (13,11) (9,2) exist) generating with injected uniforms.
"""

import json
import logging
import types

import numpy as np
import torch

from chatterbox.mtl_tts import punc_norm as punc_norm_mtl
from chatterbox.models.tokenizers import tokenizer as tokmod
from chatterbox.models.t3.inference import alignment_stream_analyzer as asa
from chatterbox.models.t3.llama_configs import LLAMA_CONFIGS
from chatterbox.models.t3.modules.cond_enc import T3Cond
from chatterbox.models.t3.modules.perceiver import Perceiver
from chatterbox.models.t3.modules.t3_config import T3Config
from chatterbox.models.t3 import t3 as t3mod

from fxcommon import save
from fixtures_t3 import inverse_cdf


def run_generation(t3, cond, text, kw, uniforms=None):
    """`fixtures_t3.run_generation`, except that each uniform is moved to the middle of the
    probability interval of the token it draws (the same token): a draw within float rounding of
    an interval's edge (the 14-layer model's logits differ from ours by ~1e-5 relative) would make
    the comparison depend on rounding instead of on the port. `uniforms` is updated in place."""
    step = [0]

    def fake_multinomial(probs, num_samples=1):
        if uniforms is None:
            tok = int(torch.argmax(probs[0]))
        else:
            u = torch.tensor(uniforms[step[0]], dtype=torch.float32)
            tok = inverse_cdf(probs, u)
            cdf = probs[0].double().cumsum(-1)
            lo = float(cdf[tok - 1]) if tok > 0 else 0.0
            uniforms[step[0]] = float(np.float32((lo + float(cdf[tok])) / 2))
            assert inverse_cdf(probs, torch.tensor(uniforms[step[0]], dtype=torch.float32)) == tok
            step[0] += 1
        return torch.tensor([[tok]], dtype=torch.long)

    real = torch.multinomial
    torch.multinomial = fake_multinomial
    try:
        out = t3.inference(t3_cond=cond, text_tokens=torch.cat([text, text]), **kw)
    finally:
        torch.multinomial = real
    return out[0]

logging.getLogger("chatterbox").setLevel(logging.ERROR)
logging.getLogger(tokmod.__name__).setLevel(logging.ERROR)
logging.getLogger(asa.__name__).setLevel(logging.ERROR)

LANGS = ["ar", "da", "de", "el", "en", "es", "fi", "fr", "he", "hi", "it", "ja", "ko", "ms", "nl", "no",
         "pl", "pt", "ru", "sv", "sw", "tr", "zh"]

SENTENCES = [
    ("ar", "مرحبا بالعالم! كيف حالك اليوم؟"),
    ("ar", "ﻻ تقلق، كل شيء على ما يرام"),
    ("da", "Hvor er æblerne? Jeg købte dem i går."),
    ("de", "Größe, Straße und Übermaß — alles klar..."),
    ("el", "ΟΔΟΣ και Σοφία: καλημέρα σας"),
    ("en", "Hello there; this is a test - okay? ﬁne!"),
    ("es", "¿Dónde está la estación? ¡Aquí!"),
    ("fi", "Hyvää huomenta, mitä kuuluu"),
    ("fr", "L'été dernier, j'ai visité Paris… c'était génial"),
    ("he", "שלום עולם, מה שלומך?"),
    ("hi", "नमस्ते दुनिया। आप कैसे हैं?"),
    ("it", "Perché no? È già così."),
    ("ja", "日本語のテキストです。"),
    ("ja", "私は学生です"),
    ("ja", "今日は良い天気ですね！"),
    ("ja", "カタカナとひらがな、漢字"),
    ("ja", "ｶﾀｶﾅ と がぎぐげご"),
    ("ko", "안녕하세요, 세계! 반갑습니다."),
    ("ko", "  한국어 텍스트  "),
    ("ms", "Selamat pagi, apa khabar?"),
    ("nl", "Het is een mooie dag, nietwaar?"),
    ("no", "Jeg heter Øyvind og bor på Ålesund"),
    ("pl", "Zażółć gęślą jaźń"),
    ("pt", "Não sei, talvez amanhã: ação!"),
    ("ru", "Привет, мир! Как дела?"),
    ("sv", "Räksmörgås är gott"),
    ("sw", "Habari ya asubuhi, rafiki yangu"),
    ("tr", "İstanbul'da ılık bir gün; ŞİMDİ"),
    ("zh", "你好，世界"),
    ("zh", "今天天气很好。我们去公园吧！"),
    ("zh", "中文和English混合，数字123"),
    ("zh", "這是繁體中文、還有標點"),
    (None, "No language given: Ünïcödé"),
    ("en", ""),
]


def _cangjie_table(rng):
    """A `Cangjie5_TC.json`-format list: every Lo character of the Chinese sentences with a random
    code; some codes shared (index digits), one glyph listed twice (the later code wins), a
    non-Lo entry (never converted), extra fields after the code."""
    glyphs = []
    for lang, text in SENTENCES:
        if lang == "zh":
            for c in tokmod.normalize("NFKD", text.lower()):
                if tokmod.category(c) == "Lo" and c not in glyphs:
                    glyphs.append(c)
    letters = "abcdefghijklmnopqrstuvwxy"
    entries = []
    shared = "".join(rng.choice(list(letters), 3))
    for k, g in enumerate(glyphs):
        if k % 4 == 1:
            code = shared
        else:
            code = "".join(rng.choice(list(letters), int(rng.randint(1, 5))))
        extra = "\tX" if k % 5 == 0 else ""
        entries.append(f"{g}\t{code}{extra}")
    # More than ten glyphs on the shared code: two-digit indices.
    entries += [f"{chr(0x4E00 + 7 * i)}\t{shared}" for i in range(12)]
    entries.append(f"{glyphs[0]}\t{shared}")  # a later entry overrides the first code
    entries.append("、\tzz")  # Po, never converted
    entries.append("好\tq\textra\tfields")
    return entries


def _tokenizer(texts):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    specials = ["[STOP]", "[UNK]", "[SPACE]"] + [f"[unused{i}]" for i in range(3, 255)] + ["[START]"]
    specials += [f"[{l}]" for l in LANGS]
    specials += [f"[cj_{c}]" for c in "abcdefghijklmnopqrstuvwxyz0123456789."]
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=specials, show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    assert tok.token_to_id("[START]") == 255 and tok.token_to_id("[STOP]") == 0
    return tok


def _reference_tokenizer(tok_path, cangjie_path, kakasi):
    conv = tokmod.ChineseCangjieConverter.__new__(tokmod.ChineseCangjieConverter)
    conv.word2cj, conv.cj2word, conv.segmenter = {}, {}, None
    real = tokmod.hf_hub_download
    tokmod.hf_hub_download = lambda **kw: str(cangjie_path)
    try:
        conv._load_cangjie_mapping(None)
    finally:
        tokmod.hf_hub_download = real
    assert conv.word2cj, "Cangjie table not loaded"
    mtl = tokmod.MTLTokenizer.__new__(tokmod.MTLTokenizer)
    from tokenizers import Tokenizer

    mtl.tokenizer = Tokenizer.from_file(str(tok_path))
    mtl.cangjie_converter = conv
    mtl.check_vocabset_sot_eot()
    tokmod._kakasi = kakasi
    return mtl


def mtl_text(rng, out, seed):
    table = _cangjie_table(rng)
    cj_path = out / "mtl_cangjie.json"
    cj_path.write_text(json.dumps(table, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    # Train on what the tokenizer will actually see (the reference's preprocessing, tags, [SPACE]).
    tmp_tok = _tokenizer(["placeholder"])
    tok_path = out / "mtl_tokenizer.json"
    tmp_tok.save(str(tok_path))
    import pykakasi

    kakasi = pykakasi.kakasi()
    ref = _reference_tokenizer(tok_path, cj_path, kakasi)
    seen = []
    for lang, text in SENTENCES:
        norm = punc_norm_mtl(text)
        t = ref.preprocess_text(norm)
        if lang == "zh":
            t = ref.cangjie_converter(t)
        if lang == "ko":
            t = tokmod.korean_normalize(t)
        if lang == "ja":
            t = tokmod.hiragana_normalize(t)
        seen.append(((f"[{lang}]" if lang else "") + t).replace(" ", "[SPACE]"))
    tok = _tokenizer(seen + [" ".join(seen)])
    tok.save(str(tok_path))
    ref = _reference_tokenizer(tok_path, cj_path, kakasi)
    cases = []
    for lang, text in SENTENCES:
        norm = punc_norm_mtl(text)
        ids = [255] + ref.encode(norm, language_id=lang) + [0]
        case = {"language": lang, "input": text, "normalized": norm, "ids": ids}
        if lang == "ja":
            case["ja_with_pykakasi"] = tokmod.hiragana_normalize(ref.preprocess_text(norm))
        cases.append(case)
    (out / "mtl_text_cases.json").write_text(
        json.dumps(cases, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )


class _FakeAttn:
    def register_forward_hook(self, fn):
        return None


def _fake_tfmr():
    return types.SimpleNamespace(layers=[types.SimpleNamespace(self_attn=_FakeAttn()) for _ in range(14)])


def mtl_alignment(rng, out, seed):
    """Attention streams that walk along the text (with noise, stalls, jumps and tails), random
    logits over 16 ids (EOS = 12) and tokens from a small set (so repeats happen)."""
    t = {}
    streams = []
    vocab, eos = 16, 12
    for k in range(40):
        s = int(rng.randint(6, 20))  # S <= 5 crashes the reference (see the Rust unit test)
        i0 = int(rng.randint(2, 8))
        j = i0 + s
        p = j + 2
        steps = int(rng.randint(10, 60))
        an = asa.AlignmentStreamAnalyzer(_fake_tfmr(), None, (i0, j), eos_idx=eos)
        speed = rng.uniform(0.1, 0.8)
        rows_kept = []
        logits_in, logits_out, tokens = [], [], []
        token = 6561
        for step in range(steps):
            n_rows = 2 if step == 0 else 1
            width = p + step
            maps = []
            for h in range(3):
                m = torch.zeros(n_rows if step else p, width)
                for r in range(n_rows):
                    centre = min(s - 1, int(speed * step + rng.normal(0, 1.5)))
                    logit = -0.5 * ((np.arange(width) - (i0 + max(centre, 0))) / rng.uniform(0.5, 3)) ** 2
                    logit += rng.normal(0, 1.0, width)
                    w = np.exp(logit - logit.max())
                    w /= w.sum()
                    row = torch.from_numpy(w.astype(np.float32))
                    if step == 0:
                        m[p - n_rows + r] = row
                    else:
                        m[r] = row
                maps.append(m)
            an.last_aligned_attns = maps
            mean = torch.stack(maps).mean(dim=0)
            rows = mean[j:] if step == 0 else mean
            rows_kept.append(rows[:, i0:j])
            li = torch.from_numpy(rng.normal(0, 2, (1, vocab)).astype(np.float32))
            lo = an.step(li.clone(), next_token=token)
            logits_in.append(li[0])
            logits_out.append(lo[0])
            tokens.append(token)
            token = int(rng.choice([3, 4, 5, 6, 7, 8, 9, 10, 11, 13]))
        streams.append(dict(i0=i0, j=j, eos=eos, steps=steps))
        t[f"s{k}.maps"] = torch.cat(rows_kept, 0)  # (steps + 1, S): mean rows, text columns
        t[f"s{k}.logits_in"] = torch.stack(logits_in)
        t[f"s{k}.logits_out"] = torch.stack(logits_out)
        t[f"s{k}.tokens"] = torch.tensor(tokens, dtype=torch.int64)
    save(out / "mtl_alignment.safetensors", t, seed)
    (out / "mtl_alignment.json").write_text(json.dumps(streams, indent=0) + "\n")


HIDDEN = 64
MTL_TINY = dict(LLAMA_CONFIGS["Llama_520M"])
MTL_TINY.update(hidden_size=HIDDEN, intermediate_size=64, num_hidden_layers=14, num_attention_heads=16,
                num_key_value_heads=16, head_dim=4)
LLAMA_CONFIGS["Llama_mtl_fixture"] = MTL_TINY

RUST_CONFIG = dict(
    text_tokens_dict_size=2454,
    speech_tokens_dict_size=8194,
    start_text_token=255,
    stop_text_token=0,
    start_speech_token=6561,
    stop_speech_token=6562,
    max_text_tokens=30,
    max_speech_tokens=60,
    speaker_embed_size=256,
    perceiver_queries=32,
    perceiver_heads=4,
    llama=dict(
        vocab_size=8,
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=14,
        num_attention_heads=16,
        head_dim=4,
        rms_norm_eps=1e-5,
        rope_theta=500000.0,
        rope_scaling=dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                          original_max_position_embeddings=8192),
    ),
)


def _build_mtl_t3(rng):
    hp = T3Config.multilingual()
    assert hp.is_multilingual
    hp.llama_config_name = "Llama_mtl_fixture"
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
            elif "q_proj" in name or "k_proj" in name:
                v = 3.0 * rng.standard_normal(shape) / np.sqrt(shape[-1])  # peaky attention
            else:
                v = rng.standard_normal(shape) / np.sqrt(shape[-1])
            p.copy_(torch.from_numpy(v).half().float())
    return t3


def mtl_t3(rng, out, seed):
    t3 = _build_mtl_t3(rng)
    sd = {f"w.{k}": v.half() for k, v in t3.state_dict().items()}
    speaker = torch.from_numpy(rng.standard_normal((1, 256)).astype(np.float32) * 0.1)
    prompt = torch.from_numpy(rng.randint(0, 6561, size=(1, 10))).long()
    exaggeration = float(rng.uniform(0.2, 1.5))
    body = rng.randint(1, 2454, size=9)
    text = torch.from_numpy(np.concatenate([[255], body, [0]])).long()[None]

    # Record every analyzer step's returned EOS logit and whether all else was forced off.
    record = []
    real_step = asa.AlignmentStreamAnalyzer.step

    def spy(self, logits, next_token=None):
        lo = real_step(self, logits, next_token=next_token)
        record.append([float(lo[0, 6562]), float(self.text_position), float(lo[0, 0])])
        return lo

    asa.AlignmentStreamAnalyzer.step = spy
    t = {}
    runs = dict(
        gen_default=dict(max_new_tokens=40, temperature=0.8, top_p=1.0, min_p=0.05, repetition_penalty=2.0,
                         cfg_weight=0.5),
        gen_hot=dict(max_new_tokens=40, temperature=1.0, top_p=0.8, min_p=0.02, repetition_penalty=1.0,
                     cfg_weight=0.3),
        gen_greedy=dict(max_new_tokens=30, temperature=1.0, top_p=1.0, min_p=0.05, repetition_penalty=1.0,
                        cfg_weight=0.5),
    )
    try:
        for name, kw in runs.items():
            record.clear()
            greedy = name == "gen_greedy"
            u = None if greedy else rng.uniform(0, 1, kw["max_new_tokens"]).astype(np.float32)
            cond = T3Cond(speaker_emb=speaker.clone(), cond_prompt_speech_tokens=prompt.clone(),
                          emotion_adv=exaggeration * torch.ones(1, 1, 1))
            draws = None if u is None else [float(x) for x in u]
            toks = run_generation(t3, cond, text, kw, draws)
            t[f"{name}.tokens"] = toks.to(torch.int64)
            t[f"{name}.analyzer"] = torch.tensor(record, dtype=torch.float32)
            if draws is not None:
                t[f"{name}.uniforms"] = torch.tensor(draws, dtype=torch.float32)
    finally:
        asa.AlignmentStreamAnalyzer.step = real_step
    t.update(sd)
    t["speaker_emb"] = speaker
    t["prompt_tokens"] = prompt
    t["exaggeration"] = torch.tensor([exaggeration], dtype=torch.float32)
    t["text_tokens"] = text
    # Prefix logits and the aligned heads' mean attention (eager attention, batch row 0).
    with torch.inference_mode():
        from chatterbox.models.t3.inference.t3_hf_backend import T3HuggingfaceBackend

        text2 = torch.cat([text, text])
        bos = 6561 * torch.ones_like(text2[:, :1])
        cond = T3Cond(speaker_emb=speaker.clone(), cond_prompt_speech_tokens=prompt.clone(),
                      emotion_adv=exaggeration * torch.ones(1, 1, 1))
        embeds, _ = t3.prepare_input_embeds(t3_cond=cond, text_tokens=text2, speech_tokens=bos, cfg_weight=0.5)
        bos_embed = t3.speech_emb(bos[:1]) + t3.speech_pos_emb.get_fixed_embedding(0)
        prefix = torch.cat([embeds, torch.cat([bos_embed, bos_embed])], dim=1)
        t3.tfmr.config._attn_implementation = "eager"
        o = t3.tfmr(inputs_embeds=prefix, output_attentions=True, return_dict=True)
        maps = [o.attentions[l][0, h] for l, h in asa.LLAMA_ALIGNED_HEADS]
        t["prefix_attention_mean"] = torch.stack(maps).mean(dim=0)
        t["prefix_logits"] = t3.speech_head(o.last_hidden_state)[:, -1]
    save(out / "mtl_t3.safetensors", t, seed)
    (out / "mtl_t3.json").write_text(json.dumps(dict(config=RUST_CONFIG, runs=runs), indent=1) + "\n")


FIXTURES = [mtl_text, mtl_alignment, mtl_t3]


def mtl_pt(rng, out, seed):
    """A small state dict saved both ways, `torch.save` (how `ve.pt` / `s3gen.pt` ship: f32 weights,
    an f16 one, int64 0-d `num_batches_tracked`, a weight-norm pair) and safetensors: the .pt
    reader must give the same tensors."""
    from safetensors.torch import save_file

    sd = {
        "lstm.weight_ih_l0": torch.from_numpy(rng.standard_normal((12, 5)).astype(np.float32)),
        "proj.weight": torch.from_numpy(rng.standard_normal((4, 3)).astype(np.float32)),
        "proj.bias": torch.from_numpy(rng.standard_normal(4).astype(np.float32)),
        "half.weight": torch.from_numpy(rng.standard_normal((3, 2)).astype(np.float16)),
        "bn.num_batches_tracked": torch.tensor(0, dtype=torch.int64),
        "conv.weight_g": torch.from_numpy(rng.uniform(0.5, 1.5, (6, 1, 1)).astype(np.float32)),
        "conv.weight_v": torch.from_numpy(rng.standard_normal((6, 2, 3)).astype(np.float32)),
    }
    import collections

    torch.save(collections.OrderedDict(sd), str(out / "mtl_state.pt"))
    from fixtures_cond import patch_serialization_id

    patch_serialization_id(out / "mtl_state.pt", seed)
    save_file({k: v.contiguous() for k, v in sd.items()}, str(out / "mtl_state.safetensors"))


FIXTURES.append(mtl_pt)


def mtl_ve_pt(rng, out, seed):
    """A voice encoder (hidden 32) saved the way `ve.pt` ships
    (`torch.save` of its f32 state dict) and its embedding of a clip (`embeds_from_wavs`): the
    port loads the `.pt` through the model loader (every key requested, none missing) and must
    give the same embedding."""
    from chatterbox.models.voice_encoder import VoiceEncoder
    from chatterbox.models.voice_encoder.config import VoiceEncConfig
    from fixtures_cond import _randomise, patch_serialization_id
    from fxcommon import speechlike

    gen = torch.Generator().manual_seed(int(rng.randint(0, 2**31)))
    hp = VoiceEncConfig()
    hp.ve_hidden_size = 32
    ve = VoiceEncoder(hp)
    _randomise(ve, gen)
    ve.eval()
    import collections

    path = out / "mtl_ve.pt"
    torch.save(collections.OrderedDict(ve.state_dict()), str(path))
    patch_serialization_id(path, seed)
    wav = speechlike(rng, 16000, 2.6)
    embed = ve.embeds_from_wavs([wav], sample_rate=16000)
    save(out / "mtl_ve.safetensors", {"wav16k": wav, "embed": embed}, seed)


FIXTURES.append(mtl_ve_pt)
