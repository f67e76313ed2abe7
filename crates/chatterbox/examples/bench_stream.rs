//! First audio against total time for a four-sentence text: chunked and streamed
//! (`generate_long`, audio handed out per sentence) against one whole-text `generate`.
//!
//! `cargo run --release --example bench_stream -- DIR [MAX_NEW_TOKENS_PER_SENTENCE]`
//!
//! DIR is any model directory: the released files, the full-size random-weight one that
//! `bench_pipeline` writes, or a tiny checkpoint (written to DIR when it holds no model). With
//! random weights T3 never ends by itself, so every sentence runs to the token bound (default 50
//! ≈ 2 s of audio) and the whole-text run gets four times as many.

use chatterbox::audio::Audio;
use chatterbox::pipeline::{Chatterbox, GenerateParams, CONFIG_FILE, T3_FILE};
use chatterbox::ChunkOptions;
use std::path::Path;
use std::time::Instant;

const TEXT: &str = "The quick brown fox jumps over the lazy dog near the river bank. \
                    Streaming lets a listener hear the first sentence while the rest is made. \
                    Each sentence is spoken on its own and joined with a natural pause. \
                    This fourth sentence closes the benchmark text for today.";

/// A 10 s voiced clip at 24 kHz, for models without a built-in voice.
fn synthetic_voice() -> Audio {
    let tau = 2.0 * std::f32::consts::PI;
    let samples = (0..10 * 24_000)
        .map(|i| {
            let t = i as f32 / 24_000.0;
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

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .cloned()
        .unwrap_or_else(|| "/tmp/chatterbox-bench-tiny".into());
    let per_sentence: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let dir = Path::new(&dir);
    if !dir.join(T3_FILE).is_file() {
        chatterbox_testkit::tiny::write_tiny_checkpoint(dir, 0)?;
        println!("wrote a tiny checkpoint to {}", dir.display());
    }
    let sized = if dir.join(CONFIG_FILE).is_file() {
        "config.json"
    } else {
        "released"
    };
    let model = Chatterbox::load(dir)?;
    let prepared;
    let voice = match model.default_voice() {
        Some(v) => v,
        None => {
            prepared = model.prepare_conditionals(&synthetic_voice(), 0.5)?;
            &prepared
        }
    };
    let chunking = ChunkOptions::default();
    let chunks = chatterbox::text::split_text(TEXT, &chunking).len();
    let sr = f64::from(model.sample_rate());

    // Warm-up (first-call allocations, thread pools).
    let warm = GenerateParams {
        seed: Some(1),
        max_new_tokens: 5,
        ..GenerateParams::default()
    };
    model.generate("Warm up.", Some(voice), &warm, &|| false)?;

    let params = GenerateParams {
        seed: Some(0),
        max_new_tokens: per_sentence,
        ..GenerateParams::default()
    };
    let t = Instant::now();
    let mut first = None;
    let mut samples = 0usize;
    model.generate_long(
        TEXT,
        Some(voice),
        &params,
        &chunking,
        &|| false,
        &mut |s, _| {
            if first.is_none() && !s.is_empty() {
                first = Some(t.elapsed().as_secs_f64());
            }
            samples += s.len();
        },
    )?;
    let total = t.elapsed().as_secs_f64();
    let first = first.unwrap_or(total);
    println!(
        "streamed, {chunks} chunks ({per_sentence} tokens max each): first audio {first:.2} s, \
         total {total:.2} s ({:.0}% of it), {:.2} s of audio",
        100.0 * first / total,
        samples as f64 / sr
    );

    let whole = GenerateParams {
        max_new_tokens: (per_sentence * chunks).min(GenerateParams::MAX_NEW_TOKENS),
        ..params
    };
    let t = Instant::now();
    let wav = model.generate(TEXT, Some(voice), &whole, &|| false)?;
    let total_whole = t.elapsed().as_secs_f64();
    println!(
        "whole text in one pass ({} tokens max): first audio = total {total_whole:.2} s, {:.2} s \
         of audio ({sized} sizes)",
        whole.max_new_tokens,
        wav.len() as f64 / sr
    );
    Ok(())
}
