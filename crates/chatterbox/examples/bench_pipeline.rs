//! The whole pipeline at the released size with random weights: peak RSS after loading every
//! network from a model directory, and the time of one voice preparation and one `generate`.
//!
//! `cargo run --release --example bench_pipeline [-- DIR [MAX_NEW_TOKENS]] [--turbo] [--quantize none|q8|q4]`
//!
//! The first run writes a full-size random-weight model directory to DIR (default
//! `/tmp/chatterbox-bench-full`, ≈ 2.5 GB: `ModelConfig::default()`, every tensor from
//! `RandomWeights`, the tiny character tokenizer, no built-in voice); later runs reuse it. With
//! `--turbo`, Chatterbox-Turbo (default DIR `/tmp/chatterbox-bench-full-turbo`, ≈ 3 GB:
//! `ModelConfig::turbo()`, the tiny byte-level GPT-2 tokenizer, a 15 s voice clip, Turbo's
//! default parameters). The measurement runs in a child process so its peak RSS (VmHWM) counts
//! only loading and synthesis. `--quantize` loads T3 quantized (`LoadOptions::quantization`).
//! `tools/reference/bench_e2e_reference.py` (original) and `bench_turbo_e2e_reference.py`
//! (Turbo) run the reference on the same directory, clip, text and number of T3 steps.

use chatterbox::audio::Audio;
use chatterbox::conditioning::ConditioningModels;
use chatterbox::models::s3gen::S3Gen;
use chatterbox::models::t3::{T3Turbo, T3};
use chatterbox::pipeline::{
    Chatterbox, GenerateParams, LoadOptions, ModelConfig, Quantization, Variant, CONFIG_FILE,
    S3GEN_FILE, T3_FILE, TOKENIZER_FILE, VE_FILE,
};
use chatterbox_testkit::random_weights::RandomWeights;
use chatterbox_testkit::tiny::{tiny_gpt2_tokenizer_files, tiny_tokenizer_json};
use std::path::Path;
use std::time::Instant;

#[path = "common/rss.rs"]
mod rss;
use rss::rss_mib;

fn write_full_checkpoint(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let cfg = ModelConfig::default();
    let t3 = RandomWeights::new(1);
    T3::new(&cfg.t3, &t3.var_builder())?;
    t3.save(&dir.join(T3_FILE))?;
    drop(t3);
    let ve = RandomWeights::new(2);
    let s3 = RandomWeights::new(3);
    S3Gen::new(&cfg.s3gen, &s3.var_builder())?;
    ConditioningModels::load(ve.var_builder(), s3.var_builder(), cfg.conditioning)?;
    ve.save(&dir.join(VE_FILE))?;
    s3.save(&dir.join(S3GEN_FILE))?;
    std::fs::write(dir.join(TOKENIZER_FILE), tiny_tokenizer_json())?;
    std::fs::write(dir.join(CONFIG_FILE), serde_json::to_string_pretty(&cfg)?)?;
    Ok(())
}

fn write_full_turbo_checkpoint(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let cfg = ModelConfig::turbo();
    let t3 = RandomWeights::new(1);
    T3Turbo::new(&cfg.t3_turbo, &t3.var_builder())?;
    t3.save(&dir.join(Variant::Turbo.t3_file()))?;
    drop(t3);
    let ve = RandomWeights::new(2);
    let s3 = RandomWeights::new(3);
    S3Gen::new(&cfg.s3gen, &s3.var_builder())?;
    ConditioningModels::load(ve.var_builder(), s3.var_builder(), cfg.conditioning)?;
    ve.save(&dir.join(VE_FILE))?;
    s3.save(&dir.join(Variant::Turbo.s3gen_file()))?;
    for (name, text) in tiny_gpt2_tokenizer_files() {
        std::fs::write(dir.join(name), text)?;
    }
    std::fs::write(dir.join(CONFIG_FILE), serde_json::to_string_pretty(&cfg)?)?;
    Ok(())
}

/// A voiced clip at 24 kHz (harmonics of a gliding pitch, syllable-rate envelope).
fn synthetic_voice(seconds: usize) -> Audio {
    let sr = 24_000f32;
    let tau = 2.0 * std::f32::consts::PI;
    let samples = (0..seconds * 24_000)
        .map(|i| {
            let t = i as f32 / sr;
            let f0 = 140.0 + 25.0 * (tau * 0.6 * t).sin();
            let env = 0.55 + 0.45 * (tau * 3.5 * t).sin();
            (1..8)
                .map(|h| (tau * f0 * h as f32 * t).sin() / h as f32)
                .sum::<f32>()
                * 0.15
                * env
        })
        .collect();
    Audio {
        samples,
        sample_rate: 24_000,
    }
}

fn measure(dir: &Path, max_new_tokens: usize, quantization: Quantization) -> anyhow::Result<()> {
    let t = Instant::now();
    let model = Chatterbox::load_with(dir, &LoadOptions { quantization })?;
    let (rss, hwm) = rss_mib();
    println!(
        "load (T3 {}): {:.2} s; RSS after load {rss:.0} MiB, peak RSS {hwm:.0} MiB",
        quantization.name(),
        t.elapsed().as_secs_f64()
    );
    let variant = model.variant();
    // The original's T3 prompt is the first 6 s, Turbo's the first 15 s.
    let seconds = if variant == Variant::Turbo { 15 } else { 10 };
    let t = Instant::now();
    let voice = model.prepare_conditionals(&synthetic_voice(seconds), 0.5)?;
    println!(
        "{variant}: prepare_conditionals ({seconds} s clip): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let params = GenerateParams {
        seed: Some(0),
        max_new_tokens,
        ..variant.default_params()
    };
    let text = "Hello there, this is a benchmark of the whole speech synthesis pipeline.";
    let t = Instant::now();
    let wav = model.generate(text, Some(&voice), &params, &|| false)?;
    let secs = t.elapsed().as_secs_f64();
    let audio = wav.len() as f64 / f64::from(model.sample_rate());
    let (_, hwm) = rss_mib();
    // S3Gen makes 2 mel frames of 480 samples (40 ms) per speech token.
    let tokens = wav.len() / 960;
    println!(
        "generate (max_new_tokens {max_new_tokens}, {tokens} speech tokens to S3Gen): {secs:.2} s \
         for {audio:.2} s of audio (RTF {:.2}); peak RSS {hwm:.0} MiB",
        secs / audio
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let turbo = std::env::args().any(|a| a == "--turbo");
    let mut quantization = Quantization::None;
    let mut args: Vec<String> = Vec::new();
    let mut it = std::env::args().skip(1).filter(|a| a != "--turbo");
    while let Some(a) = it.next() {
        if a == "--quantize" {
            let q = it.next().unwrap_or_default();
            quantization = q.parse()?;
        } else {
            args.push(a);
        }
    }
    if args.first().map(String::as_str) == Some("--measure") {
        let dir = args.get(1).map(String::as_str).unwrap_or_default();
        let n = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
        return measure(Path::new(dir), n, quantization);
    }
    let dir = args.first().cloned().unwrap_or_else(|| {
        if turbo {
            "/tmp/chatterbox-bench-full-turbo".into()
        } else {
            "/tmp/chatterbox-bench-full".into()
        }
    });
    let n = args.get(1).cloned().unwrap_or_else(|| "100".into());
    let dir = Path::new(&dir);
    if !dir.join(CONFIG_FILE).is_file() {
        let t = Instant::now();
        if turbo {
            write_full_turbo_checkpoint(dir)?;
        } else {
            write_full_checkpoint(dir)?;
        }
        println!(
            "wrote a full-size random-weight model to {} in {:.1} s",
            dir.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("--measure")
        .arg(dir)
        .arg(n)
        .arg("--quantize")
        .arg(quantization.name())
        .status()?;
    anyhow::ensure!(status.success(), "measurement failed: {status}");
    Ok(())
}
