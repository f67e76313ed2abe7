//! What fewer CFM Euler steps (`cfm_steps`) cost in fidelity and save in time: S3Gen's flow at
//! the released size with random weights, the same tokens, prompt and noise, run with 10 steps
//! (the reference) and with 8, 7, 6, 5 and 4; prints each mel's error against the 10-step mel.
//!
//! `cargo run --release --example cfm_steps [-- N_NEW N_PROMPT]` (defaults 50 and 100 tokens).
//! Random weights make a rough vector field, so the errors say how far the integration moves,
//! not how the released model sounds.

use candle_core::{Device, Tensor};
use chatterbox::models::s3gen::{GaussianRng, S3GenConfig, S3GenNoise};
use std::time::Instant;

#[path = "common/s3gen_weights.rs"]
mod s3gen_weights;

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n_new = args.first().copied().unwrap_or(50);
    let n_prompt = args.get(1).copied().unwrap_or(100);
    let cfg = S3GenConfig::default();
    let mut rng = GaussianRng::new(0);
    let model = s3gen_weights::random_s3gen(&cfg, &mut rng)?;
    let vocab = cfg.flow.vocab as u32;
    let mut tok = |n: usize| -> Vec<u32> {
        (0..n)
            .map(|_| (rng.uniform(0.0, 1.0) * vocab as f32) as u32 % vocab)
            .collect()
    };
    let tokens = tok(n_new);
    let prompt = tok(n_prompt);
    let (tm, total) = (2 * n_prompt, 2 * (n_new + n_prompt));
    let prompt_feat = Tensor::from_vec(
        (0..tm * 80)
            .map(|_| rng.normal() * 2.0 - 5.0)
            .collect::<Vec<_>>(),
        (1, tm, 80),
        &Device::Cpu,
    )?;
    let embedding = Tensor::from_vec(rng.normal_vec(192), (1, 192), &Device::Cpu)?;
    let noise = S3GenNoise::draw(&mut rng, 80, total, total - tm, &cfg.hift)?;
    println!(
        "{n_new} new tokens after {n_prompt} prompt tokens ({total} mel frames through the CFM)"
    );
    let run = |steps: usize| -> anyhow::Result<(Vec<f32>, f64)> {
        let t = Instant::now();
        let mel = model.flow.inference_steps(
            &tokens,
            &prompt,
            &prompt_feat,
            &embedding,
            &noise.z,
            steps,
            &|| false,
        )?;
        Ok((
            mel.flatten_all()?.to_vec1::<f32>()?,
            t.elapsed().as_secs_f64(),
        ))
    };
    let (want, t10) = run(10)?;
    let n = want.len() as f64;
    let mean = want.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let std = (want
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    println!("10-step mel: std {std:.3} (the error scale), {t10:.2} s");
    println!("| steps | max abs error | RMS error | RMS / std | flow time | vs 10 steps |");
    println!("|---|---|---|---|---|---|");
    println!("| 10 | 0 | 0 | 0 | {t10:.2} s | 1.00× |");
    for steps in (4..=8).rev() {
        let (got, secs) = run(steps)?;
        let (mut max, mut sq) = (0f64, 0f64);
        for (&g, &w) in got.iter().zip(&want) {
            let e = (f64::from(g) - f64::from(w)).abs();
            max = max.max(e);
            sq += e * e;
        }
        let rms = (sq / n).sqrt();
        println!(
            "| {steps} | {max:.3} | {rms:.4} | {:.2} % | {secs:.2} s | {:.2}× |",
            100.0 * rms / std,
            t10 / secs
        );
    }
    Ok(())
}
