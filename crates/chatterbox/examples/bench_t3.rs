//! Time one T3 decode step at the released size (30 layers, hidden 1024) with random weights
//! drawn tensor by tensor as the model loads them (as `load_t3` reads the file): CFG batch 2, context ≈ 400 positions (34 cond + 364 text + 2 BOS). With
//! `--turbo`, T3 Turbo (GPT-2 medium, 24 layers, batch 1): prefix 1 + 375 prompt + 30 text + 1
//! BOS = 407 positions, as in the reference measurement.
//!
//!     cargo run --release --example bench_t3 [-- STEPS [none|q8|q4]] [--turbo]
//!     cargo run --release --example bench_t3 -- --gemm [--cpu-time]   # the linear layers' shapes alone
//!
//! Reports the prefill time and ms per generated token (backbone + speech head + CFG + sampling).

use std::time::Instant;

#[path = "common/rss.rs"]
mod rss;
#[path = "common/t3_weights.rs"]
mod t3_weights;

use candle_core::{Device, Tensor};
use chatterbox::models::t3::{SamplingParams, T3Cond, T3Config, T3Turbo, T3TurboConfig, T3};

fn turbo(steps: usize, quantization: chatterbox::Quantization) -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let cfg = T3TurboConfig::turbo();
    let t0 = Instant::now();
    let t3 = T3Turbo::new_quantized(&cfg, &t3_weights::lazy_random_t3(true, &dev)?, quantization)?;
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

/// Seconds on CPU of every thread of this process (Linux `/proc/self/task/*/schedstat`; 0
/// elsewhere): unlike wall time, not inflated by other processes' load (rayon's idle spinning is
/// counted, so it is exact with one thread).
fn cpu_seconds() -> f64 {
    let mut ns = 0u64;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for e in dir.flatten() {
            let s = std::fs::read_to_string(e.path().join("schedstat")).unwrap_or_default();
            ns += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ns as f64 * 1e-9
}

/// `--gemm`: the backbone's linear shapes, 800 rows (prefill, CFG 2 × 400) and 2 rows (a decode
/// step), through the packed kernel and through candle's matmul on the `(out, in)` weight as the
/// row-major layout ran them: best of 5, GFLOP/s.
fn gemm_shapes() -> anyhow::Result<()> {
    use chatterbox::kernels::gemm::{PackedWeights, Post};
    let dev = Device::Cpu;
    // With `--cpu-time`: the process's on-CPU seconds (all threads, from /proc schedstat)
    // instead of wall time, which a loaded machine's preemption inflates.
    let cpu_time = std::env::args().any(|a| a == "--cpu-time");
    let clock = move || if cpu_time { cpu_seconds() } else { 0.0 };
    let best = |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<f64> {
        let mut b = f64::MAX;
        for _ in 0..5 {
            let (t, c) = (Instant::now(), clock());
            f()?;
            b = b.min(if cpu_time {
                clock() - c
            } else {
                t.elapsed().as_secs_f64()
            });
        }
        Ok(b)
    };
    for (k, n) in [(1024, 1024), (1024, 4096), (4096, 1024)] {
        let w = Tensor::randn(0f32, 0.02, (n, k), &dev)?;
        let wv = w.flatten_all()?.to_vec1::<f32>()?;
        let Some(pw) = PackedWeights::from_out_in(&wv, k, n) else {
            anyhow::bail!("no packed kernel on this CPU");
        };
        for m in [800, 2] {
            let x = Tensor::randn(0f32, 1.0, (m, k), &dev)?;
            let xv = x.flatten_all()?.to_vec1::<f32>()?;
            let flop = 2.0 * (m * k * n) as f64;
            let packed = best(&mut || {
                std::hint::black_box(pw.matmul(&xv, None, Post::None));
                Ok(())
            })?;
            let candle = best(&mut || {
                let y = if m <= 8 {
                    w.matmul(&x.t()?)?.t()?.contiguous()?
                } else {
                    x.matmul(&w.t()?)?
                };
                std::hint::black_box(y);
                Ok(())
            })?;
            println!(
                "{m}x{k}x{n}: packed [{}] {:.2} ms ({:.0} GFLOP/s), candle {:.2} ms ({:.0} GFLOP/s)",
                pw.isa().name(),
                packed * 1e3,
                flop / packed * 1e-9,
                candle * 1e3,
                flop / candle * 1e-9
            );
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--gemm") {
        return gemm_shapes();
    }
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
    let t3 = T3::new_quantized(
        &cfg,
        &t3_weights::lazy_random_t3(false, &dev)?,
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
    let (t0, c0) = (Instant::now(), cpu_seconds());
    let mut stream = t3.generate(&cond, &text, &params)?;
    let prefill = t0.elapsed();
    let prefill_cpu = cpu_seconds() - c0;
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
    println!("prefill on CPU (all threads): {prefill_cpu:.2} s");
    println!("peak RSS: {:.0} MiB", rss::peak_rss_mib());
    Ok(())
}
