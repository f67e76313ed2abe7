#!/usr/bin/env python3
"""Time one decode step of the reference T3 (chatterbox 0.1.7, torch CPU) at the released size with
random weights: CFG batch 2, context 400, the same loop body as `T3.inference` (backbone + speech
head + CFG + processors + draw). Compare with `cargo run --release --example bench_t3`.

    /work/main/tools/reference/.venv/bin/python tools/reference/bench_t3_reference.py [STEPS] [THREADS]
"""

import statistics
import sys
import time
import warnings

import torch

warnings.filterwarnings("ignore")
from chatterbox.models.t3.t3 import T3  # noqa: E402
from chatterbox.models.t3.inference.t3_hf_backend import T3HuggingfaceBackend  # noqa: E402
from transformers.generation.logits_process import (  # noqa: E402
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TopPLogitsWarper,
)

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
threads = int(sys.argv[2]) if len(sys.argv) > 2 else torch.get_num_threads()
torch.set_num_threads(threads)
torch.manual_seed(0)
t3 = T3().eval()
backend = T3HuggingfaceBackend(config=t3.cfg, llama=t3.tfmr, speech_enc=t3.speech_emb, speech_head=t3.speech_head)
rep = RepetitionPenaltyLogitsProcessor(1.2)
min_p = MinPLogitsWarper(0.05)
top_p = TopPLogitsWarper(1.0)
with torch.inference_mode():
    prefix = torch.randn(2, 400, 1024) * 0.02
    t0 = time.perf_counter()
    out = backend(inputs_embeds=prefix, use_cache=True, output_hidden_states=True, return_dict=True)
    prefill = time.perf_counter() - t0
    past = out.past_key_values
    ids = torch.tensor([[6561]])
    times = []
    for i in range(steps):
        t = time.perf_counter()
        logits = out.logits[:, -1, :]
        x = logits[0:1] + 0.5 * (logits[0:1] - logits[1:2])
        x = rep(ids, x) / 0.8
        x = top_p(ids, min_p(ids, x))
        tok = torch.multinomial(torch.softmax(x, -1), 1)
        ids = torch.cat([ids, tok], 1)
        e = t3.speech_emb(tok) + t3.speech_pos_emb.get_fixed_embedding(i + 1)
        out = backend(inputs_embeds=torch.cat([e, e]), past_key_values=past, output_hidden_states=True,
                      return_dict=True)
        past = out.past_key_values
        times.append((time.perf_counter() - t) * 1e3)
print(f"reference torch {torch.__version__} ({threads} threads), CFG batch 2, context 400: prefill {prefill * 1e3:.0f} ms; "
      f"decode step: mean {statistics.mean(times):.1f} ms, median {statistics.median(times):.1f} ms, "
      f"min {min(times):.1f} ms over {steps} steps")
