//! Throughput of the packed kernels at the S3Gen estimator's sizes (CFG batch 2, 666 frames):
//! the q/k/v product (256 → 1536), the feed-forward input (256 → 1024) without and with the GELU
//! epilogue, and the fused attention (8 heads × 64).
//!
//! `cargo bench -p chatterbox --bench kernels` (best of 30 runs each; threads: RAYON_NUM_THREADS).

use chatterbox::kernels::attention::fused_attention;
use chatterbox::kernels::gemm::{PackedWeights, Post};
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
    let (m, k) = (1332, 256);
    let x: Vec<f32> = (0..m * k)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    for (n, gelu) in [(1536, false), (1024, false), (1024, true)] {
        let w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104_729) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let Some(pw) = PackedWeights::new(&w, k, n) else {
            println!("packed matmul: skipped, this CPU has no AVX2+FMA");
            break;
        };
        let post = if gelu { Post::Gelu } else { Post::None };
        let best = best_of(30, || pw.matmul(&x, None, post));
        println!(
            "packed matmul {m}x{k}x{n}{}: {:.2} ms, {:.1} GFLOP/s",
            if gelu { " + GELU" } else { "" },
            best * 1e3,
            2.0 * (m * k * n) as f64 / best / 1e9
        );
    }

    let (b, t, h, d) = (2, 666, 8, 64);
    let qkv: Vec<f32> = (0..b * t * 3 * h * d)
        .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
        .collect();
    if fused_attention(&qkv[..3], 1, 1, 1, 1).is_none() {
        println!("fused attention: skipped, this CPU has no AVX2+FMA");
        return;
    }
    let best = best_of(30, || fused_attention(&qkv, b, t, h, d));
    println!(
        "fused attention {b}x{t}, {h} heads x {d}: {:.2} ms, {:.1} GFLOP/s",
        best * 1e3,
        4.0 * (b * h * t * t * d) as f64 / best / 1e9
    );
}
