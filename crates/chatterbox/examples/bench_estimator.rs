//! One CFM estimator call at the released size with random weights: CFG batch 2 over 666 mel
//! frames (100 new + 233 prompt tokens), the unit of work the flow repeats 10 times.
//!
//! `cargo run --release --example bench_estimator [-- CALLS FRAMES]`
//! Compare with `tools/reference/bench_s3gen_reference.py` (its "estimator call" line).

use candle_core::{Device, Tensor};
use chatterbox::models::s3gen::{Estimator, EstimatorConfig, GaussianRng};
use chatterbox_testkit::random_weights::RandomWeights;
use std::time::Instant;

#[path = "common/rss.rs"]
mod rss;

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let calls = args.first().copied().unwrap_or(3);
    let t = args.get(1).copied().unwrap_or(666);
    let cfg = EstimatorConfig::default();
    let est = Estimator::new(&cfg, &RandomWeights::new(0).var_builder())?;
    let mut rng = GaussianRng::new(1);
    let dev = Device::Cpu;
    let mut draw = |shape: (usize, usize, usize)| {
        let n = shape.0 * shape.1 * shape.2;
        Tensor::from_vec(rng.normal_vec(n), shape, &dev)
    };
    let x = draw((2, 80, t))?;
    let zeros = Tensor::zeros((1, 80, t), candle_core::DType::F32, &dev)?;
    let mu = Tensor::cat(&[&draw((1, 80, t))?, &zeros], 0)?;
    let cond = Tensor::cat(&[&draw((1, 80, t))?, &zeros], 0)?;
    let spk = draw((1, 80, 1))?
        .squeeze(2)?
        .pad_with_zeros(0, 0, 1)?
        .contiguous()?;
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..calls {
        let (t0, c0) = (Instant::now(), rss::cpu_seconds());
        let v = est.forward(&x, &mu, &[0.3, 0.3], &spk, &cond)?;
        times.push(t0.elapsed().as_secs_f64());
        cpu.push(rss::cpu_seconds() - c0);
        anyhow::ensure!(v.dims() == [2, 80, t]);
    }
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    let list: Vec<String> = times.iter().map(|v| format!("{v:.2}")).collect();
    println!(
        "estimator call (CFG batch 2, T={t}): min {min:.2} s over {calls}: {}",
        list.join(" ")
    );
    let cmin = cpu.iter().copied().fold(f64::INFINITY, f64::min);
    let list: Vec<String> = cpu.iter().map(|v| format!("{v:.2}")).collect();
    println!(
        "  CPU time (all threads, user + system): min {cmin:.2} s: {}",
        list.join(" ")
    );
    println!("peak RSS: {:.0} MiB", rss::peak_rss_mib());
    Ok(())
}
