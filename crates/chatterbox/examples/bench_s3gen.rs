//! S3Gen speed at the released size with random weights: 100 new speech tokens after a 233-token
//! prompt (466 prompt mel frames; 666 frames through the CFM, as in the reference measurement).
//!
//! `cargo run --release --example bench_s3gen [-- N_NEW N_PROMPT] [--meanflow] [--steps=S]`
//! (`--steps=S`: S Euler steps instead of the configured 10, the `cfm_steps` parameter).
//! Prints the time of the conformer encoder, the CFM (10 estimator calls on CFG batch 2; with
//! `--meanflow`, Chatterbox-Turbo's 2 calls at batch 1), HiFT, and the whole
//! `S3Gen::inference_traced`.

use candle_core::{Device, Tensor};
use chatterbox::models::s3gen::{GaussianRng, S3Gen, S3GenConfig, S3GenNoise};
use std::time::Instant;

#[path = "common/rss.rs"]
mod rss;
#[path = "common/s3gen_weights.rs"]
mod s3gen_weights;

fn random_weights(cfg: &S3GenConfig, rng: &mut GaussianRng) -> anyhow::Result<S3Gen> {
    s3gen_weights::random_s3gen(cfg, rng)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n_new = args.first().copied().unwrap_or(100);
    let n_prompt = args.get(1).copied().unwrap_or(233);
    let meanflow = std::env::args().any(|a| a == "--meanflow");
    let steps: Option<usize> =
        std::env::args().find_map(|a| a.strip_prefix("--steps=").and_then(|v| v.parse().ok()));
    let cfg = if meanflow {
        S3GenConfig::meanflow()
    } else {
        S3GenConfig::default()
    };
    let mut rng = GaussianRng::new(0);
    let t0 = Instant::now();
    let model = random_weights(&cfg, &mut rng)?;
    println!("load (random weights): {:.2} s", t0.elapsed().as_secs_f64());

    let vocab = cfg.flow.vocab as u32;
    let mut tok = |n: usize| -> Vec<u32> {
        (0..n)
            .map(|_| (rng.uniform(0.0, 1.0) * vocab as f32) as u32 % vocab)
            .collect()
    };
    let tokens = tok(n_new);
    let prompt = tok(n_prompt);
    let tm = 2 * n_prompt;
    let total = 2 * (n_new + n_prompt);
    let prompt_feat = Tensor::from_vec(
        (0..tm * 80)
            .map(|_| rng.normal() * 2.0 - 5.0)
            .collect::<Vec<_>>(),
        (1, tm, 80),
        &Device::Cpu,
    )?;
    let embedding = Tensor::from_vec(rng.normal_vec(192), (1, 192), &Device::Cpu)?;
    let noise = S3GenNoise::draw(&mut rng, 80, total, total - tm, &cfg.hift)?;
    println!("{n_new} new tokens, {n_prompt} prompt tokens, {total} mel frames through the CFM");

    // Stage by stage.
    let all: Vec<u32> = prompt.iter().chain(&tokens).copied().collect();
    let (t, c) = (Instant::now(), rss::cpu_seconds());
    let (_, mu) = model.flow.encode(&all)?;
    let (t_enc, c_enc) = (t.elapsed().as_secs_f64(), rss::cpu_seconds() - c);
    let mu = mu.transpose(1, 2)?.contiguous()?;
    let spk = model.flow.speaker(&embedding)?;
    let cond = prompt_feat
        .pad_with_zeros(1, 0, total - tm)?
        .transpose(1, 2)?
        .contiguous()?;
    let (t, c) = (Instant::now(), rss::cpu_seconds());
    let n_steps = steps.unwrap_or(cfg.flow.n_timesteps);
    let mel = model
        .flow
        .decoder
        .forward_steps(&noise.z, &mu, &spk, &cond, n_steps, &|| false)?;
    let (t_cfm, c_cfm) = (t.elapsed().as_secs_f64(), rss::cpu_seconds() - c);
    let mel = mel.narrow(2, tm, total - tm)?;
    let (t, c) = (Instant::now(), rss::cpu_seconds());
    let wav = model.mel2wav.forward(&mel, &noise.source, &|| false)?;
    let (t_hift, c_hift) = (t.elapsed().as_secs_f64(), rss::cpu_seconds() - c);
    println!("encoder:  {t_enc:.2} s");
    println!(
        "CFM:      {t_cfm:.2} s  ({:.2} s per estimator call, batch {})",
        t_cfm / n_steps as f64,
        if meanflow { 1 } else { 2 }
    );
    println!(
        "HiFT:     {t_hift:.2} s  ({} samples, {:.2} s of audio)",
        wav.dim(1)?,
        wav.dim(1)? as f64 / 24_000.0
    );

    println!(
        "  CPU time (all threads, user + system): encoder {c_enc:.2} s, CFM {c_cfm:.2} s, HiFT {c_hift:.2} s"
    );

    let (t, c) = (Instant::now(), rss::cpu_seconds());
    let out = model.inference_traced_with(
        &tokens,
        &prompt,
        &prompt_feat,
        &embedding,
        &noise,
        steps,
        &|| false,
    )?;
    let (t_all, c_all) = (t.elapsed().as_secs_f64(), rss::cpu_seconds() - c);
    let secs = out.wav.dim(1)? as f64 / 24_000.0;
    println!(
        "S3Gen tokens→wav: {t_all:.2} s for {secs:.2} s of audio (RTF {:.2})",
        t_all / secs
    );
    println!("  CPU time (all threads, user + system): S3Gen tokens→wav {c_all:.2} s");
    println!("peak RSS: {:.0} MiB", rss::peak_rss_mib());
    Ok(())
}
