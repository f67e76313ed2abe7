#!/usr/bin/env python3
"""Turn the logs of scripts/bench.sh into a table (median over rounds; ratio = reference / ours,
so > 1 means we are faster) and a JSON file with every raw value, the CPU and its SIMD flags."""

import argparse
import json
import platform
import re
import statistics
import time
from pathlib import Path

# (stage, unit, log prefix, regex capturing the value)
PATTERNS = {
    "t3_prefill": ("ms", r"prefill (\d+(?:\.\d+)?) ms"),
    "t3_decode_step": ("ms", r"decode step: mean [\d.]+ ms, median (\d+(?:\.\d+)?) ms"),
    "cfm_estimator_call": ("s", r"(?:\(([\d.]+) s per estimator call|estimator call \(CFG batch 2, T=\d+\): min ([\d.]+) s)"),
    "hift": ("s", r"(?:HiFT:\s+([\d.]+) s|HiFT \(\d+ samples\): min ([\d.]+) s)"),
    "s3gen_tokens_to_wav": ("s", r"S3Gen tokens(?:→|->)wav: ([\d.]+) s"),
    "prepare_conditionals": ("s", r"(?:best prepare_conditionals: ([\d.]+) s|best: ([\d.]+) s)"),
    "t3_peak_rss": ("MiB", r"peak RSS:? (\d+) MiB"),
    "s3gen_peak_rss": ("MiB", r"peak RSS:? (\d+) MiB"),
    # The original model end to end (bench_pipeline / bench_e2e_reference.py).
    "e2e_load": ("s", r"load(?: \(T3 \w+\))?: ([\d.]+) s"),
    "e2e_prepare_conditionals": ("s", r"prepare_conditionals \(10 s clip\): ([\d.]+) s"),
    "e2e_generate": ("s", r"generate \(max_new_tokens \d+, \d+ speech tokens to S3Gen\): ([\d.]+) s"),
    "e2e_speech_tokens": ("tokens", r"max_new_tokens \d+, (\d+) speech tokens to S3Gen"),
    "e2e_rtf": ("x", r"\(RTF ([\d.]+)\)"),
    "e2e_peak_rss": ("MiB", r"generate .*peak RSS (\d+) MiB"),
}
E2E = ["e2e_load", "e2e_prepare_conditionals", "e2e_generate", "e2e_speech_tokens", "e2e_rtf", "e2e_peak_rss"]
SOURCES = {  # (log stem, side, variant) -> stages it provides
    "ours_t3_none": ("ours", "f32", ["t3_prefill", "t3_decode_step", "t3_peak_rss"]),
    "ours_t3_q8": ("ours", "q8", ["t3_prefill", "t3_decode_step", "t3_peak_rss"]),
    "ours_t3_q4": ("ours", "q4", ["t3_prefill", "t3_decode_step", "t3_peak_rss"]),
    "ref_t3": ("reference", "f32", ["t3_prefill", "t3_decode_step"]),
    "ours_s3gen": ("ours", "f32", ["cfm_estimator_call", "hift", "s3gen_tokens_to_wav", "s3gen_peak_rss"]),
    # The same binary capped at AVX2 (CHATTERBOX_SIMD=avx2), and cfm_steps=6 (reference: 10 steps).
    "ours_s3gen_avx2": ("ours", "f32-avx2", ["cfm_estimator_call", "hift", "s3gen_tokens_to_wav"]),
    "ours_s3gen_steps6": ("ours", "f32-6steps", ["s3gen_tokens_to_wav"]),
    "ref_s3gen": ("reference", "f32", ["cfm_estimator_call", "hift", "s3gen_tokens_to_wav", "s3gen_peak_rss"]),
    "ours_cond": ("ours", "f32", ["prepare_conditionals"]),
    "ref_cond": ("reference", "f32", ["prepare_conditionals"]),
    "ours_e2e_none": ("ours", "f32", E2E),
    "ours_e2e_q8": ("ours", "q8", E2E),
    "ref_e2e": ("reference", "f32", E2E),
}


def first_number(text, regex):
    m = re.search(regex, text)
    if not m:
        return None
    return float(next(g for g in m.groups() if g is not None))


def cpu():
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", info)
    flags = re.search(r"flags\s*:\s*(.*)", info)
    flags = set(flags.group(1).split()) if flags else set()
    simd = sorted(f for f in flags if f in {"avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                                            "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"})
    return {"model": model.group(1).strip() if model else platform.processor(), "simd": simd}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("logs", type=Path)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    raw = {}
    for stem, (side, variant, stages) in SOURCES.items():
        for r in range(1, a.rounds + 1):
            path = a.logs / f"{stem}_{r}.txt"
            if not path.exists():
                continue
            text = path.read_text()
            for stage in stages:
                v = first_number(text, PATTERNS[stage][1])
                if v is not None:
                    raw.setdefault(stage, {}).setdefault(f"{side}/{variant}", []).append(v)
    rows = []
    for stage, by in raw.items():
        unit = PATTERNS[stage][0]
        ref = by.get("reference/f32")
        for key, vals in sorted(by.items()):
            if not key.startswith("ours/"):
                continue
            ours = statistics.median(vals)
            theirs = statistics.median(ref) if ref else None
            ratio = theirs / ours if theirs and ours else None
            rows.append({"stage": stage, "variant": key.split("/")[1], "unit": unit, "ours": ours,
                         "reference": theirs, "ratio": ratio, "ours_runs": vals, "reference_runs": ref})
    report = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "cpu": cpu(), "threads": a.threads,
              "rounds": a.rounds, "loadavg": Path("/proc/loadavg").read_text().split()[:3], "rows": rows}
    a.out.write_text(json.dumps(report, indent=1))
    print(f"CPU {report['cpu']['model']} ({' '.join(report['cpu']['simd'])}), {a.threads} threads, "
          f"{a.rounds} alternating rounds, {report['date']}")
    print(f"| stage | ours | unit | ours | reference | reference / ours |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ref = f"{r['reference']:.2f}" if r["reference"] is not None else "–"
        ratio = f"{r['ratio']:.2f}×" if r["ratio"] is not None else "–"
        print(f"| {r['stage']} | {r['variant']} | {r['unit']} | {r['ours']:.2f} | {ref} | {ratio} |")
    print(f"written: {a.out}")


if __name__ == "__main__":
    main()
