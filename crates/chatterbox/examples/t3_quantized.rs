//! T3 with quantized backbone projections against f32, at the released size (random weights,
//! built in memory, the same tensors for every precision): speed of the prefill and of a decode
//! step (CFG batch 2, context ≈ 400), and fidelity — teacher-forced logits error and top-1
//! agreement over STEPS positions, and greedy-token agreement over GREEDY tokens.
//!
//!     cargo run --release --example t3_quantized [-- STEPS GREEDY]     (defaults 500 200)

use std::time::Instant;

#[path = "common/rss.rs"]
mod rss;
#[path = "common/t3_weights.rs"]
mod t3_weights;

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use chatterbox::models::t3::{SamplingParams, T3Cond, T3Config, T3};
use chatterbox::Quantization;

fn argmax_rows(l: &Tensor) -> anyhow::Result<Vec<u32>> {
    Ok(l.argmax(candle_core::D::Minus1)?.flatten_all()?.to_vec1()?)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let steps: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(500);
    let greedy: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let dev = Device::Cpu;
    let cfg = T3Config::english();
    let ws = t3_weights::released_t3_weights(&dev)?;
    let vb = VarBuilder::from_tensors(ws, DType::F32, &dev);
    let cond = T3Cond {
        speaker_emb: Tensor::randn(0f32, 0.1, (1, 256), &dev)?,
        cond_prompt_speech_tokens: (0..150).map(|i| (i * 37 % 6561) as u32).collect(),
        emotion_adv: 0.5,
    };
    let mut text = vec![cfg.start_text_token];
    text.extend((0..362).map(|i| 1 + (i * 13 % 700) as u32));
    text.push(cfg.stop_text_token);
    // Teacher-forcing sequence: fixed pseudo-random speech tokens.
    let forced: Vec<u32> = (0..steps as u64)
        .map(|i| ((i * 2_654_435_761) % 6561) as u32)
        .collect();

    let mut reference: Option<(Tensor, Vec<u32>)> = None;
    for q in [Quantization::None, Quantization::Q8, Quantization::Q4] {
        let t0 = Instant::now();
        let t3 = T3::new_quantized(&cfg, &vb, q)?;
        let load = t0.elapsed().as_secs_f64();
        let cond_emb = t3.prepare_conditioning(&cond)?;
        let prefix = t3.prefix_embeds(&cond_emb, &text, true)?;

        // Speed: prefill + 20 decode steps through the sampling loop (greedy, CFG).
        let params = SamplingParams {
            temperature: 0.0,
            max_new_tokens: greedy + 1,
            seed: 1,
            ..Default::default()
        };
        let t0 = Instant::now();
        let mut stream = t3.generate_from_cond_emb(&cond_emb, &text, &params, || 0.5)?;
        let prefill = t0.elapsed().as_secs_f64();
        let mut tokens = Vec::new();
        let mut step_times = Vec::new();
        loop {
            let t = Instant::now();
            match stream.next().transpose()? {
                Some(tok) => {
                    if !tokens.is_empty() {
                        step_times.push(t.elapsed().as_secs_f64());
                    }
                    tokens.push(tok);
                }
                None => break,
            }
        }
        step_times.sort_by(f64::total_cmp);
        let median = step_times
            .get(step_times.len() / 2)
            .copied()
            .unwrap_or(f64::NAN);

        // Fidelity: teacher-forced logits over `steps` positions, both CFG rows.
        let logits = t3.teacher_forced_logits(&prefix, &forced)?;
        let line = format!(
            "{:>4}: load {load:.1} s, prefill (2 x {}) {prefill:.2} s, decode step median {:.1} ms over {} steps",
            q.name(),
            prefix.dim(1)?,
            median * 1e3,
            step_times.len()
        );
        match &reference {
            None => {
                println!("{line}");
                reference = Some((logits, tokens));
            }
            Some((ref_logits, ref_tokens)) => {
                let err: f32 = (&logits - ref_logits)?
                    .abs()?
                    .flatten_all()?
                    .max(0)?
                    .to_scalar()?;
                let scale: f32 = ref_logits.abs()?.flatten_all()?.max(0)?.to_scalar()?;
                let (a, b) = (argmax_rows(&logits)?, argmax_rows(ref_logits)?);
                let top1 = a.iter().zip(&b).filter(|(x, y)| x == y).count();
                // Conditional row only, as a fraction of positions.
                let cond_rows = logits.i(0)?;
                let ref_cond = ref_logits.i(0)?;
                let cond_top1 = argmax_rows(&cond_rows)?
                    .iter()
                    .zip(&argmax_rows(&ref_cond)?)
                    .filter(|(x, y)| x == y)
                    .count();
                let prefix_agree = tokens
                    .iter()
                    .zip(ref_tokens)
                    .take_while(|(x, y)| x == y)
                    .count();
                let same = tokens
                    .iter()
                    .zip(ref_tokens)
                    .filter(|(x, y)| x == y)
                    .count();
                println!(
                    "{line}\n      teacher-forced logits vs f32 over {} positions x 2 rows: max abs {err:.3e} (scale {scale:.3e}), top-1 agreement {top1}/{} ({:.1} %), conditional row {cond_top1}/{}\n      greedy tokens vs f32: identical for the first {prefix_agree} of {} (same token at {same} positions)",
                    forced.len() + 1,
                    a.len(),
                    100.0 * top1 as f64 / a.len() as f64,
                    forced.len() + 1,
                    ref_tokens.len().min(tokens.len()),
                );
            }
        }
    }
    println!(
        "peak RSS (all three models): {:.0} MiB",
        rss::peak_rss_mib()
    );
    Ok(())
}
