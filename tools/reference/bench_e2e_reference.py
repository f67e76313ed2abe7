#!/usr/bin/env python3
"""End-to-end original Chatterbox in the reference (chatterbox 0.1.7, torch CPU) on the workload of
`cargo run --release --example bench_pipeline -- DIR MAX_NEW_TOKENS`: `ChatterboxTTS.from_local(DIR)`
on the full-size random-weight model directory that bench_pipeline writes (the five released file
names; no conds.pt), `prepare_conditionals` on the same synthetic 10 s clip, then `generate` of the
same sentence with the reference's defaults and exactly MAX_NEW_TOKENS T3 steps (`t3.inference`
gets `max_new_tokens=N`, as ours does; EOS is as unlikely on both sides with random weights). The
Perth watermark is replaced by the identity (the port does not watermark). Prints the same lines
as bench_pipeline, prefixed "reference:", plus the number of speech tokens S3Gen received.

    tools/reference/.venv/bin/python tools/reference/bench_e2e_reference.py DIR [MAX_NEW_TOKENS] [THREADS]
"""

import resource
import sys
import tempfile
import time
import warnings

import numpy as np
import soundfile as sf
import torch

warnings.filterwarnings("ignore")
from chatterbox.tts import ChatterboxTTS  # noqa: E402

ckpt = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
threads = int(sys.argv[3]) if len(sys.argv) > 3 else torch.get_num_threads()
torch.set_num_threads(threads)
torch.manual_seed(0)

t0 = time.perf_counter()
tts = ChatterboxTTS.from_local(ckpt, "cpu")
print(f"reference: load: {time.perf_counter() - t0:.2f} s")
tts.watermarker.apply_watermark = lambda wav, sample_rate: wav
t3_inference = tts.t3.inference


def fixed_length_inference(*args, **kw):
    kw["max_new_tokens"] = n  # generate passes 1000; a partial's keyword would lose to it
    return t3_inference(*args, **kw)


tts.t3.inference = fixed_length_inference
s3_inference = tts.s3gen.inference
n_tokens = []


def counting_inference(speech_tokens, **kw):
    n_tokens.append(int(speech_tokens.numel()))
    return s3_inference(speech_tokens=speech_tokens, **kw)


tts.s3gen.inference = counting_inference

# bench_pipeline's `synthetic_voice(10)`, sample for sample (f32 arithmetic aside).
sr = 24000
t = np.arange(10 * sr, dtype=np.float64) / sr
tau = 2 * np.pi
f0 = 140 + 25 * np.sin(tau * 0.6 * t)
env = 0.55 + 0.45 * np.sin(tau * 3.5 * t)
clip = sum(np.sin(tau * f0 * h * t) / h for h in range(1, 8)) * 0.15 * env
path = tempfile.mktemp(suffix=".wav")
sf.write(path, clip.astype(np.float32), sr, subtype="FLOAT")

with torch.inference_mode():
    t0 = time.perf_counter()
    tts.prepare_conditionals(path, exaggeration=0.5)
    print(f"reference: prepare_conditionals (10 s clip): {time.perf_counter() - t0:.2f} s")
    text = "Hello there, this is a benchmark of the whole speech synthesis pipeline."
    t0 = time.perf_counter()
    wav = tts.generate(text)
    dt = time.perf_counter() - t0
audio = wav.shape[-1] / sr
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(
    f"reference: generate (max_new_tokens {n}, {n_tokens[-1]} speech tokens to S3Gen): {dt:.2f} s "
    f"for {audio:.2f} s of audio (RTF {dt / audio:.2f}); peak RSS {peak:.0f} MiB"
)
