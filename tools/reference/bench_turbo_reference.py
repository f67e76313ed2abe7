#!/usr/bin/env python3
"""Time the reference Chatterbox-Turbo pieces (chatterbox 0.1.7, torch CPU) at the released sizes
with random weights, on the workloads of `cargo run --release --example bench_t3 -- STEPS --turbo`
and `cargo run --release --example bench_s3gen -- 100 250 --meanflow`:

* T3 Turbo: prefix 1 + 375 prompt + 30 text + 1 BOS = 407 positions, then STEPS decode steps with
  the body of `T3.inference_turbo` (GPT-2 step + speech head + Turbo processors + draw);
* S3Gen meanflow: `S3Token2Wav(meanflow=True).inference` of 97 random + 3 silence tokens after a
  250-token (10 s) prompt, two CFM steps.

    tools/reference/.venv/bin/python tools/reference/bench_turbo_reference.py [STEPS] [THREADS] [--t3-only|--s3gen-only]

The output lines match the patterns of tools/bench_report.py (`prefill N ms`, `decode step: mean
.. median N ms`, `S3Gen tokens->wav: N s`), as do those of the two Rust examples.
"""

import statistics
import sys
import time
import warnings

import torch
import torch.nn.functional as F

warnings.filterwarnings("ignore")
from chatterbox.models.s3gen.s3gen import S3Token2Wav  # noqa: E402
from chatterbox.models.t3.modules.cond_enc import T3Cond  # noqa: E402
from chatterbox.models.t3.modules.t3_config import T3Config  # noqa: E402
from chatterbox.models.t3.t3 import T3  # noqa: E402
from transformers.generation.logits_process import (  # noqa: E402
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

args = [a for a in sys.argv[1:] if not a.startswith("--")]
steps = int(args[0]) if args else 30
threads = int(args[1]) if len(args) > 1 else torch.get_num_threads()
torch.set_num_threads(threads)
torch.manual_seed(0)
print(f"reference torch {torch.__version__} ({threads} threads)")

if "--s3gen-only" not in sys.argv:
    hp = T3Config(text_tokens_dict_size=50276)
    hp.llama_config_name = "GPT2_medium"
    hp.speech_tokens_dict_size = 6563
    hp.input_pos_emb = None
    hp.speech_cond_prompt_len = 375
    hp.use_perceiver_resampler = False
    hp.emotion_adv = False
    t3 = T3(hp).eval()
    del t3.tfmr.wte
    lp = LogitsProcessorList([TemperatureLogitsWarper(0.8), TopKLogitsWarper(1000), TopPLogitsWarper(0.95),
                              RepetitionPenaltyLogitsProcessor(1.2)])
    with torch.inference_mode():
        cond = T3Cond(speaker_emb=torch.randn(1, 256) * 0.1,
                      cond_prompt_speech_tokens=torch.randint(0, 6561, (1, 375)),
                      emotion_adv=torch.zeros(1, 1, 1))
        text = torch.randint(0, 50000, (1, 30))
        bos = 6561 * torch.ones_like(text[:, :1])
        t0 = time.perf_counter()
        embeds, _ = t3.prepare_input_embeds(t3_cond=cond, text_tokens=text, speech_tokens=bos, cfg_weight=0.0)
        out = t3.tfmr(inputs_embeds=embeds, use_cache=True)
        logits = t3.speech_head(out[0][:, -1:])[:, -1, :]
        prefill = time.perf_counter() - t0
        past = out.past_key_values
        tok = torch.multinomial(F.softmax(lp(bos, logits), dim=-1), 1)
        gen = [tok]
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            out = t3.tfmr(inputs_embeds=t3.speech_emb(tok), past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = t3.speech_head(out[0])[:, -1, :]
            x = lp(torch.cat(gen, dim=1), logits)
            tok = torch.multinomial(F.softmax(x, dim=-1), 1)
            gen.append(tok)
            times.append((time.perf_counter() - t) * 1e3)
    print(f"reference T3 Turbo, batch 1, prefix {embeds.shape[1]}: prefill {prefill * 1e3:.0f} ms; decode step: "
          f"mean {statistics.mean(times):.1f} ms, median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f} ms over {steps} steps")
    del t3, past, out

if "--t3-only" not in sys.argv:
    model = S3Token2Wav(meanflow=True).eval()
    n_new, n_prompt = 100, 250
    with torch.inference_mode():
        ref = dict(
            prompt_token=torch.randint(0, 6561, (1, n_prompt)),
            prompt_token_len=torch.tensor([n_prompt]),
            prompt_feat=torch.randn(1, 2 * n_prompt, 80) * 2 - 5,
            prompt_feat_len=None,
            embedding=torch.randn(1, 192),
        )
        tokens = torch.cat([torch.randint(0, 6561, (1, n_new - 3)), torch.full((1, 3), 4299)], dim=1)
        for i in range(2):  # the first run warms up
            t0 = time.perf_counter()
            wav, _ = model.inference(tokens, ref_dict=ref, n_cfm_timesteps=2)
            dt = time.perf_counter() - t0
            label = "warm-up run" if i == 0 else "S3Gen tokens->wav"
            print(f"reference meanflow {label}: {dt:.2f} s for {wav.shape[1] / 24000:.2f} s of audio")
