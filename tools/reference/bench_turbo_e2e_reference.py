#!/usr/bin/env python3
"""End-to-end Chatterbox-Turbo in the reference (chatterbox 0.1.7, torch CPU) at the released sizes
with random weights, on the workload of `cargo run --release --example bench_pipeline -- --turbo`:
`ChatterboxTurboTTS.prepare_conditionals` on a 15 s clip, then `generate` of a fixed sentence with
Turbo's defaults and at most MAX_NEW_TOKENS speech tokens (`inference_turbo(max_gen_len=N-1)`).
The Perth watermark is replaced by the identity (the port does not watermark). The GPT-2 tokenizer
files are read from DIR (the Rust benchmark writes its tiny byte-level tokenizer there).

    tools/reference/.venv/bin/python tools/reference/bench_turbo_e2e_reference.py DIR [MAX_NEW_TOKENS] [THREADS]
"""

import functools
import sys
import tempfile
import time
import warnings

import numpy as np
import soundfile as sf
import torch

warnings.filterwarnings("ignore")
from transformers import AutoTokenizer  # noqa: E402

from chatterbox.models.s3gen import S3Gen  # noqa: E402
from chatterbox.models.t3 import T3  # noqa: E402
from chatterbox.models.t3.modules.t3_config import T3Config  # noqa: E402
from chatterbox.models.voice_encoder import VoiceEncoder  # noqa: E402
from chatterbox.tts_turbo import ChatterboxTurboTTS  # noqa: E402

tok_dir = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
threads = int(sys.argv[3]) if len(sys.argv) > 3 else torch.get_num_threads()
torch.set_num_threads(threads)
torch.manual_seed(0)

hp = T3Config(text_tokens_dict_size=50276)
hp.llama_config_name = "GPT2_medium"
hp.speech_tokens_dict_size = 6563
hp.input_pos_emb = None
hp.speech_cond_prompt_len = 375
hp.use_perceiver_resampler = False
hp.emotion_adv = False
t3 = T3(hp).eval()
del t3.tfmr.wte
t3.inference_turbo = functools.partial(t3.inference_turbo, max_gen_len=n - 1)
s3gen = S3Gen(meanflow=True).eval()
ve = VoiceEncoder().eval()
tokenizer = AutoTokenizer.from_pretrained(tok_dir)
if tokenizer.pad_token is None:
    tokenizer.pad_token = tokenizer.eos_token
tts = ChatterboxTurboTTS(t3, s3gen, ve, tokenizer, "cpu")
tts.watermarker.apply_watermark = lambda wav, sample_rate: wav

# The Rust benchmark's clip: harmonics of a gliding pitch with a syllable-rate envelope.
sr = 24000
t = np.arange(15 * sr) / sr
f0 = 140 + 25 * np.sin(2 * np.pi * 0.6 * t)
phase = 2 * np.pi * np.cumsum(f0) / sr
clip = sum(np.sin(h * phase) / h for h in range(1, 8)) * 0.15 * (0.55 + 0.45 * np.sin(2 * np.pi * 3.5 * t))
path = tempfile.mktemp(suffix=".wav")
sf.write(path, clip.astype(np.float32), sr)

with torch.inference_mode():
    t0 = time.perf_counter()
    tts.prepare_conditionals(path)
    print(f"reference turbo: prepare_conditionals (15 s clip): {time.perf_counter() - t0:.2f} s")
    text = "Hello there, this is a benchmark of the whole speech synthesis pipeline."
    t0 = time.perf_counter()
    wav = tts.generate(text)
    dt = time.perf_counter() - t0
audio = wav.shape[-1] / sr
print(f"reference turbo: generate (max_new_tokens {n}): {dt:.2f} s for {audio:.2f} s of audio (RTF {dt / audio:.2f})")
