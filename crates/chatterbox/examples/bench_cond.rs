//! Times `prepare_conditionals` (voice encoder + S3 tokenizer ×2 + CAMPPlus + resamplers + mels)
//! on a 10 s reference at the released network sizes.
//!
//! `cargo run --release --example bench_cond -- [CLIP.wav] [--ckpt DIR] [--iters N]`
//!
//! Without `--ckpt` the networks get random weights of the released shapes (the timing does
//! not depend on the values); with it, `DIR/ve.safetensors` and `DIR/s3gen.safetensors` are read.
//! Without a clip, a synthetic 10 s voiced signal at 24 kHz is used. The clip is cut to 10 s.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use chatterbox::audio::{self, DecodeLimits};
use chatterbox::conditioning::{ConditioningConfig, ConditioningModels, DEFAULT_EXAGGERATION};
use chatterbox_testkit::manifest;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

#[path = "common/rss.rs"]
mod rss;

fn random_weights(tsv: &str, prefixes: &[&str]) -> anyhow::Result<HashMap<String, Tensor>> {
    let dev = Device::Cpu;
    let mut m = HashMap::new();
    for (k, shape) in manifest::parse(tsv)? {
        if !prefixes.iter().any(|p| k.starts_with(p)) || shape.is_empty() {
            continue;
        }
        let t = if k.ends_with("running_var") {
            Tensor::rand(0.5f32, 1.5, shape, &dev)?
        } else {
            let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
            (Tensor::randn(0f32, 1.0, shape, &dev)? / (fan_in as f64).sqrt())?
        };
        m.insert(k, t);
    }
    Ok(m)
}

fn synthetic(seconds: f32) -> Vec<f32> {
    let sr = 24_000f32;
    let n = (seconds * sr) as usize;
    let mut phase = 0f32;
    (0..n)
        .map(|i| {
            let t = i as f32 / sr;
            let f0 = 140.0 * (1.0 + 0.15 * (2.0 * std::f32::consts::PI * 0.7 * t).sin());
            phase += 2.0 * std::f32::consts::PI * f0 / sr;
            let env = 0.5 + 0.5 * (2.0 * std::f32::consts::PI * 4.0 * t).sin().powi(2);
            let x: f32 = (1..20).map(|h| (h as f32 * phase).sin() / h as f32).sum();
            0.2 * env * x
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let mut clip: Option<PathBuf> = None;
    let mut ckpt: Option<PathBuf> = None;
    let mut iters = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--ckpt" => ckpt = args.next().map(PathBuf::from),
            "--iters" => iters = args.next().and_then(|s| s.parse().ok()).unwrap_or(3),
            _ => clip = Some(PathBuf::from(a)),
        }
    }
    let dev = Device::Cpu;
    let t0 = Instant::now();
    let (ve, s3) = match &ckpt {
        Some(dir) => (
            candle_core::safetensors::load(dir.join("ve.safetensors"), &dev)?,
            candle_core::safetensors::load(dir.join("s3gen.safetensors"), &dev)?,
        ),
        None => (
            random_weights(manifest::VE, &[""])?,
            random_weights(manifest::S3GEN, &["tokenizer.", "speaker_encoder."])?,
        ),
    };
    let models = ConditioningModels::load(
        VarBuilder::from_tensors(ve, DType::F32, &dev),
        VarBuilder::from_tensors(s3, DType::F32, &dev),
        ConditioningConfig::default(),
    )?;
    println!("load: {:.2} s", t0.elapsed().as_secs_f64());

    let mut wav = match &clip {
        Some(p) => {
            let bytes = std::fs::read(p)?;
            audio::load(&bytes, 24_000, &DecodeLimits::default())?.samples
        }
        None => synthetic(10.0),
    };
    wav.truncate(240_000);
    println!("clip: {:.2} s at 24 kHz", wav.len() as f64 / 24_000.0);

    let mut best = f64::INFINITY;
    for i in 0..iters.max(1) {
        let t = Instant::now();
        let c = models.prepare_conditionals(&wav, DEFAULT_EXAGGERATION)?;
        let total = t.elapsed().as_secs_f64();
        best = best.min(total);
        if i == 0 {
            println!(
                "shapes: speaker_emb {:?}, t3 prompt {:?}, prompt_token {:?}, prompt_feat {:?}, embedding {:?}",
                c.t3.speaker_emb.dims(),
                c.t3.cond_prompt_speech_tokens.len(),
                c.gen.prompt_token.dims(),
                c.gen.prompt_feat.dims(),
                c.gen.embedding.dims()
            );
        }
        println!("prepare_conditionals #{i}: {total:.3} s");
    }
    // Per-stage breakdown (one run each).
    let wav16 = audio::resample_soxr_hq(&wav, 24_000, 16_000)?;
    let stage = |name: &str, f: &dyn Fn() -> chatterbox::Result<()>| -> anyhow::Result<()> {
        let t = Instant::now();
        f()?;
        println!("  {name}: {:.3} s", t.elapsed().as_secs_f64());
        Ok(())
    };
    stage("voice encoder (full clip)", &|| {
        models
            .voice_encoder
            .embed_utterance(&wav16, &dev)
            .map(|_| ())
    })?;
    stage("s3 tokenizer (6 s, max_len 150)", &|| {
        models
            .tokenizer
            .tokenize(&wav16[..wav16.len().min(96_000)], Some(150), &dev)
            .map(|_| ())
    })?;
    stage("embed_ref (10 s: mel, CAMPPlus, tokenizer)", &|| {
        models.embed_ref(&wav).map(|_| ())
    })?;
    stage("campplus (10 s)", &|| {
        models.campplus.embed(&wav16, &dev).map(|_| ())
    })?;
    println!("best prepare_conditionals: {best:.3} s");
    println!("peak RSS: {:.0} MiB", rss::peak_rss_mib());
    Ok(())
}
