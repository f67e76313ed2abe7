//! Throughput of the packed kernels at the S3Gen estimator's sizes (CFG batch 2, 666 frames):
//! the q/k/v product (256 → 1536), the feed-forward input (256 → 1024) without and with the GELU
//! epilogue, and the fused attention (8 heads × 64), on every instruction-set path this CPU has
//! (AVX-512, AVX2 + FMA), the paths alternating round by round.
//!
//! `cargo bench -p chatterbox --bench kernels` (best of 3 × 10 runs each; threads:
//! RAYON_NUM_THREADS).

use chatterbox::kernels::attention::fused_attention_with;
use chatterbox::kernels::gemm::{Isa, PackedWeights, Post};
use chatterbox::kernels::norm::layer_norm_with;
use std::time::Instant;

fn best_of<R>(runs: usize, mut f: impl FnMut() -> R) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let isas: Vec<Isa> = [Isa::avx512(), Isa::avx2()].into_iter().flatten().collect();
    if isas.is_empty() {
        println!("packed kernels: skipped, this CPU has no AVX2+FMA");
        return;
    }
    let (m, k) = (1332, 256);
    let x: Vec<f32> = (0..m * k)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    for (n, gelu) in [(1536, false), (1024, false), (1024, true)] {
        let w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104_729) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let post = if gelu { Post::Gelu } else { Post::None };
        let packed: Vec<PackedWeights> = isas
            .iter()
            .filter_map(|&isa| PackedWeights::with_isa(&w, k, n, isa))
            .collect();
        let mut best = vec![f64::MAX; packed.len()];
        for _ in 0..3 {
            for (b, pw) in best.iter_mut().zip(&packed) {
                *b = b.min(best_of(10, || pw.matmul(&x, None, post)));
            }
        }
        for (b, pw) in best.iter().zip(&packed) {
            println!(
                "packed matmul {m}x{k}x{n}{} [{}]: {:.2} ms, {:.1} GFLOP/s",
                if gelu { " + GELU" } else { "" },
                pw.isa().name(),
                b * 1e3,
                2.0 * (m * k * n) as f64 / b / 1e9
            );
        }
    }

    let (b, t, h, d) = (2, 666, 8, 64);
    let qkv: Vec<f32> = (0..b * t * 3 * h * d)
        .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
        .collect();
    let mut best = vec![f64::MAX; isas.len()];
    for _ in 0..3 {
        for (bt, &isa) in best.iter_mut().zip(&isas) {
            *bt = bt.min(best_of(10, || fused_attention_with(isa, &qkv, b, t, h, d)));
        }
    }
    for (bt, isa) in best.iter().zip(&isas) {
        println!(
            "fused attention {b}x{t}, {h} heads x {d} [{}]: {:.2} ms, {:.1} GFLOP/s",
            isa.name(),
            bt * 1e3,
            4.0 * (b * h * t * t * d) as f64 / bt / 1e9
        );
    }

    // LayerNorm over 256 channels of 1332 rows (the estimator's norm1/norm3), into a reused
    // buffer, against candle's `layer_norm` (which allocates its output).
    let (rows, c) = (1332, 256);
    let x: Vec<f32> = (0..rows * c)
        .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 1.0)
        .collect();
    let g = vec![1.1f32; c];
    let bta = vec![0.1f32; c];
    let mut out = vec![0f32; rows * c];
    let xt = candle_core::Tensor::from_vec(x.clone(), (rows, c), &candle_core::Device::Cpu)
        .expect("tensor");
    let gt = candle_core::Tensor::new(g.as_slice(), &candle_core::Device::Cpu).expect("tensor");
    let bt = candle_core::Tensor::new(bta.as_slice(), &candle_core::Device::Cpu).expect("tensor");
    let mut best = vec![f64::MAX; isas.len() + 1];
    for _ in 0..3 {
        for (bt_, &isa) in best.iter_mut().zip(&isas) {
            *bt_ = bt_.min(best_of(20, || {
                layer_norm_with(Some(isa), &x, &g, &bta, 1e-5, &mut out)
            }));
        }
        best[isas.len()] = best[isas.len()].min(best_of(20, || {
            candle_nn::ops::layer_norm(&xt, &gt, &bt, 1e-5).expect("layer norm")
        }));
    }
    for (b, isa) in best.iter().zip(&isas) {
        println!("layer norm {rows}x{c} [{}]: {:.3} ms", isa.name(), b * 1e3);
    }
    println!(
        "layer norm {rows}x{c} [candle]: {:.3} ms",
        best[isas.len()] * 1e3
    );
}
