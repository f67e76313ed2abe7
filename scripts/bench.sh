#!/usr/bin/env bash
# Side-by-side speed: ours against the PyTorch reference (chatterbox-tts 0.1.7, tools/reference),
# at the released sizes with random weights, same workloads, same thread count, runs alternating
# (ours, reference, ours, reference, ...) so a machine whose speed drifts affects both alike.
#
#   scripts/bench.sh [--threads N] [--rounds R] [--steps S] [--e2e-tokens N] [--e2e-only] [--out FILE]
#
# Stages: T3 prefill (2 x 400 positions) and decode step (CFG batch 2, context 400) in f32, q8 and
# q4 (ours) against the reference's f32; one CFM estimator call, HiFT and S3Gen tokens -> wav
# (100 new + 233 prompt tokens; ours also capped at AVX2 with CHATTERBOX_SIMD=avx2, variant
# f32-avx2, and with cfm_steps 6, variant f32-6steps, against the reference's 10 steps);
# prepare_conditionals on a 10 s clip; the original model end to end (bench_pipeline against
# tools/reference/bench_e2e_reference.py: ChatterboxTTS.from_local on the full-size random-weight
# directory bench_pipeline writes once to /tmp/chatterbox-bench-full, 10 s voice, the same sentence,
# exactly --e2e-tokens T3 steps (default 100, 0 skips), ours f32 and q8: load, conditioning,
# generate, RTF, peak RSS). Writes JSON (default
# bench-results.json) and prints a table with the median over rounds and the ratio
# reference / ours (> 1: we are faster). Check `uptime` first: a speed claim needs a quiet machine.
# The reference venv is created on first use (~6 min, ~4 GB); REFERENCE_PYTHON overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 rounds=2 steps=20 e2e_tokens=100 e2e_only=0 out=bench-results.json
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) threads=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --e2e-tokens) e2e_tokens=$2; shift 2 ;;
        --e2e-only) e2e_only=1; shift ;;
        --out) out=$2; shift 2 ;;
        *) echo "bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
./scripts/bootstrap.sh
py="${REFERENCE_PYTHON:-tools/reference/.venv/bin/python}"
if [ ! -x "$py" ]; then
    tools/reference/setup.sh
fi
if [ "$e2e_only" = 1 ]; then
    cargo build --release -p chatterbox --example bench_pipeline
else
    cargo build --release -p chatterbox --example bench_t3 --example bench_s3gen --example bench_cond \
        --example bench_pipeline
fi
bin="${CARGO_TARGET_DIR:-target}/release/examples"
export RAYON_NUM_THREADS="$threads" CANDLE_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"
logs="$(mktemp -d)"
clip="$logs/clip.wav"
echo "bench: logs in $logs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
run() { # name command...
    local name=$1; shift
    echo "bench: $name"
    "$@" > "$logs/$name.txt" 2>&1 || { echo "bench: $name failed:"; tail -20 "$logs/$name.txt"; exit 1; }
}
# The reference writes the 10 s clip both sides use.
[ "$e2e_only" = 1 ] || run ref_cond_0 "$py" tools/reference/bench_cond.py "$clip" --threads "$threads" --iters 1
for r in $(seq "$rounds"); do
    [ "$e2e_only" = 1 ] && break
    run "ours_t3_none_$r" "$bin/bench_t3" "$steps" none
    run "ref_t3_$r" "$py" tools/reference/bench_t3_reference.py "$steps" "$threads"
    run "ours_t3_q8_$r" "$bin/bench_t3" "$steps" q8
    run "ours_t3_q4_$r" "$bin/bench_t3" "$steps" q4
    run "ours_s3gen_$r" "$bin/bench_s3gen"
    run "ours_s3gen_avx2_$r" env CHATTERBOX_SIMD=avx2 "$bin/bench_s3gen"
    run "ours_s3gen_steps6_$r" "$bin/bench_s3gen" --steps=6
    run "ref_s3gen_$r" "$py" tools/reference/bench_s3gen_reference.py 3 "$threads"
    run "ours_cond_$r" "$bin/bench_cond" "$clip" --iters 2
    run "ref_cond_$r" "$py" tools/reference/bench_cond.py "$clip" --threads "$threads" --iters 2
done
if [ "$e2e_tokens" -gt 0 ]; then
    ckpt=/tmp/chatterbox-bench-full
    # bench_pipeline writes the full-size random-weight directory on first use (~3 GB, not timed).
    for r in $(seq "$rounds"); do
        run "ours_e2e_none_$r" "$bin/bench_pipeline" "$ckpt" "$e2e_tokens"
        run "ref_e2e_$r" "$py" tools/reference/bench_e2e_reference.py "$ckpt" "$e2e_tokens" "$threads"
        run "ours_e2e_q8_$r" "$bin/bench_pipeline" "$ckpt" "$e2e_tokens" --quantize q8
    done
fi
echo "bench: load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 tools/bench_report.py "$logs" --threads "$threads" --rounds "$rounds" --out "$out"
