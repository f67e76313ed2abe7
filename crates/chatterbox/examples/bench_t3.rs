//! Time one T3 decode step at the released size (30 layers, hidden 1024) with random weights
//! built in memory: CFG batch 2, context ≈ 400 positions (34 cond + 364 text + 2 BOS). With
//! `--turbo`, T3 Turbo (GPT-2 medium, 24 layers, batch 1): prefix 1 + 375 prompt + 30 text + 1
//! BOS = 407 positions, as in the reference measurement.
//!
//!     cargo run --release --example bench_t3 [-- STEPS [none|q8|q4]] [--turbo]
//!
//! Reports the prefill time and ms per generated token (backbone + speech head + CFG + sampling).

use std::time::Instant;

#[path = "common/rss.rs"]
mod rss;
#[path = "common/t3_weights.rs"]
mod t3_weights;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use chatterbox::models::t3::{SamplingParams, T3Cond, T3Config, T3Turbo, T3TurboConfig, T3};

fn turbo(steps: usize, quantization: chatterbox::Quantization) -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let cfg = T3TurboConfig::turbo();
    let t0 = Instant::now();
    let ws = t3_weights::released_t3_turbo_weights(&dev)?;
    let t3 = T3Turbo::new_quantized(
        &cfg,
        &VarBuilder::from_tensors(ws, DType::F32, &dev),
        quantization,
    )?;
    println!(
        "random weights built in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let cond = T3Cond {
        speaker_emb: Tensor::randn(0f32, 0.1, (1, 256), &dev)?,
        cond_prompt_speech_tokens: (0..375).map(|i| (i * 37 % 6561) as u32).collect(),
        emotion_adv: 0.0,
    };
    let text: Vec<u32> = (0..30).map(|i| (i * 997 % 50000) as u32).collect();
    let params = SamplingParams {
        temperature: 0.8,
        top_k: Some(1000),
        top_p: 0.95,
        repetition_penalty: 1.2,
        max_new_tokens: steps + 1,
        seed: 1,
        ..Default::default()
    };
    let t0 = Instant::now();
    let mut stream = t3.generate(&cond, &text, &params)?;
    let prefill = t0.elapsed();
    let context = 1 + 375 + text.len() + 1;
    stream.next().transpose()?;
    let mut times = Vec::new();
    for _ in 0..steps {
        let t = Instant::now();
        match stream.next().transpose()? {
            Some(tok) if tok == cfg.stop_speech_token => break,
            Some(_) => times.push(t.elapsed().as_secs_f64() * 1e3),
            None => break,
        }
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    println!(
        "T3 Turbo full config ({}), batch 1, prefix {context}: prefill {:.0} ms; decode step: mean {:.1} ms, median {:.1} ms, min {:.1} ms over {} steps",
        quantization.name(),
        prefill.as_secs_f64() * 1e3,
        mean,
        times.get(times.len() / 2).copied().unwrap_or(f64::NAN),
        times.first().copied().unwrap_or(f64::NAN),
        times.len()
    );
    println!("peak RSS: {:.0} MiB", rss::peak_rss_mib());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let is_turbo = std::env::args().any(|a| a == "--turbo");
    let mut args = std::env::args().skip(1).filter(|a| a != "--turbo");
    let steps: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let quantization: chatterbox::Quantization = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or_default();
    if is_turbo {
        return turbo(steps, quantization);
    }
    let dev = Device::Cpu;
    let cfg = T3Config::english();
    let t0 = Instant::now();
    let ws = t3_weights::released_t3_weights(&dev)?;
    let t3 = T3::new_quantized(
        &cfg,
        &VarBuilder::from_tensors(ws, DType::F32, &dev),
        quantization,
    )?;
    println!(
        "random weights built in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let cond = T3Cond {
        speaker_emb: Tensor::randn(0f32, 0.1, (1, 256), &dev)?,
        cond_prompt_speech_tokens: (0..150).map(|i| (i * 37 % 6561) as u32).collect(),
        emotion_adv: 0.5,
    };
    let mut text = vec![cfg.start_text_token];
    text.extend((0..362).map(|i| 1 + (i * 13 % 700) as u32));
    text.push(cfg.stop_text_token);
    let params = SamplingParams {
        max_new_tokens: steps + 1,
        seed: 1,
        ..Default::default()
    };
    let t0 = Instant::now();
    let mut stream = t3.generate(&cond, &text, &params)?;
    let prefill = t0.elapsed();
    let context = 34 + text.len() + 2;
    // The first token comes from the prefill logits (no forward); each later one costs a step.
    stream.next().transpose()?;
    let mut times = Vec::new();
    for _ in 0..steps {
        let t = Instant::now();
        match stream.next().transpose()? {
            Some(tok) if tok == cfg.stop_speech_token => break,
            Some(_) => times.push(t.elapsed().as_secs_f64() * 1e3),
            None => break,
        }
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    println!(
        "T3 full config ({}), CFG batch 2, context {context}: prefill {:.0} ms; decode step: mean {:.1} ms, median {:.1} ms, min {:.1} ms over {} steps",
        quantization.name(),
        prefill.as_secs_f64() * 1e3,
        mean,
        times.get(times.len() / 2).copied().unwrap_or(f64::NAN),
        times.first().copied().unwrap_or(f64::NAN),
        times.len()
    );
    println!("peak RSS: {:.0} MiB", rss::peak_rss_mib());
    Ok(())
}
