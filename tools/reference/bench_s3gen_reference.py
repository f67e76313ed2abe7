#!/usr/bin/env python3
"""Time the reference S3Gen (chatterbox 0.1.7, torch CPU) at the released size with random weights,
on the same workload as `cargo run --release --example bench_s3gen`: 100 new + 233 prompt tokens
(666 mel frames through the CFM, CFG batch 2), HiFT on the 200 new frames, and the whole
`S3Token2Wav.inference`. Also prints the peak RSS of the process (VmHWM).

    /work/main/tools/reference/.venv/bin/python tools/reference/bench_s3gen_reference.py \
        [ESTIMATOR_CALLS] [THREADS] [--no-full]
"""

import statistics
import sys
import time
import warnings

import torch

warnings.filterwarnings("ignore")
from chatterbox.models.s3gen.s3gen import S3Token2Wav  # noqa: E402


def vm_hwm_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


args = [a for a in sys.argv[1:] if not a.startswith("--")]
calls = int(args[0]) if args else 3
threads = int(args[1]) if len(args) > 1 else torch.get_num_threads()
full = "--no-full" not in sys.argv
torch.set_num_threads(threads)
torch.manual_seed(0)
model = S3Token2Wav().eval()
print(f"reference torch {torch.__version__} ({threads} threads); peak RSS after load {vm_hwm_mib():.0f} MiB")

n_new, n_prompt = 100, 233
T = 2 * (n_new + n_prompt)
est = model.flow.decoder.estimator
with torch.inference_mode():
    x = torch.randn(2, 80, T)
    mu = torch.randn(2, 80, T)
    mu[1] = 0
    spks = torch.randn(2, 80)
    spks[1] = 0
    cond = torch.randn(2, 80, T)
    cond[1] = 0
    mask = torch.ones(2, 1, T)
    t = torch.full((2,), 0.3)
    times = []
    cpu = []
    for _ in range(calls):
        t0, c0 = time.perf_counter(), time.process_time()
        est(x=x, mask=mask, mu=mu, t=t, spks=spks, cond=cond)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(
        f"estimator call (CFG batch 2, T={T}): min {min(times):.2f} s, median "
        f"{statistics.median(times):.2f} s over {calls}: {' '.join(f'{v:.2f}' for v in times)}"
    )
    # CPU time of every thread (user + system): steadier than wall time on a loaded machine.
    print(f"  CPU time (all threads, user + system): min {min(cpu):.2f} s: {' '.join(f'{v:.2f}' for v in cpu)}")

    mel = torch.randn(1, 80, 2 * n_new) * 2 - 5
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        wav, _ = model.hift_inference(mel)
        times.append(time.perf_counter() - t0)
    print(f"HiFT ({wav.shape[1]} samples): min {min(times):.2f} s ({' '.join(f'{v:.2f}' for v in times)})")

    if full:
        ref = dict(
            prompt_token=torch.randint(0, 6561, (1, n_prompt)),
            prompt_token_len=torch.tensor([n_prompt]),
            prompt_feat=torch.randn(1, 2 * n_prompt, 80) * 2 - 5,
            prompt_feat_len=None,
            embedding=torch.randn(1, 192),
        )
        tokens = torch.randint(0, 6561, (1, n_new))
        t0, c0 = time.perf_counter(), time.process_time()
        wav, _ = model.inference(tokens, ref_dict=ref)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        print(f"S3Gen tokens->wav: {dt:.2f} s for {wav.shape[1] / 24000:.2f} s of audio")
        print(f"  CPU time (all threads, user + system): S3Gen tokens->wav {dc:.2f} s")
print(f"peak RSS {vm_hwm_mib():.0f} MiB")
