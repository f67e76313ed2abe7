//! First audio against total time for a four-sentence text: chunked and streamed
//! (`generate_long`, audio handed out per sentence) against one whole-text `generate`.
//!
//! `cargo run --release --example bench_stream -- DIR [MAX_NEW_TOKENS_PER_SENTENCE] [--within]`
//!
//! With `--within`, the sentence-chunked run is skipped and the whole text is instead streamed
//! within the utterance (`generate_stream`, S3Gen every few dozen tokens, `StreamOptions`
//! defaults or `--first N --chunk N --context N --prompt N`): first audio, total time, and the
//! log-mel distance of its output from the one-pass output (same seed, so the same T3 tokens),
//! next to the distance of a one-piece `generate_stream` (the same S3Gen with other noise draws:
//! what any two runs differ by).
//!
//! DIR is any model directory: the released files, the full-size random-weight one that
//! `bench_pipeline` writes, or a tiny checkpoint (written to DIR when it holds no model). With
//! random weights T3 never ends by itself, so every sentence runs to the token bound (default 50
//! ≈ 2 s of audio) and the whole-text run gets four times as many.

use chatterbox::audio::Audio;
use chatterbox::models::s3gen::mel_spectrogram;
use chatterbox::pipeline::{Chatterbox, GenerateParams, StreamOptions, Variant, CONFIG_FILE};
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
    let all: Vec<String> = std::env::args().skip(1).collect();
    let within = all.iter().any(|a| a == "--within");
    let mut stream = StreamOptions::default();
    let mut args = Vec::new();
    let mut it = all.into_iter();
    while let Some(a) = it.next() {
        let mut num = || -> anyhow::Result<usize> {
            Ok(it
                .next()
                .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))?
                .parse()?)
        };
        match a.as_str() {
            "--within" => {}
            "--first" => stream.first_tokens = num()?,
            "--chunk" => stream.chunk_tokens = num()?,
            "--context" => stream.context_tokens = num()?,
            "--prompt" => stream.prompt_tokens = num()?,
            _ => args.push(a),
        }
    }
    let dir = args
        .first()
        .cloned()
        .unwrap_or_else(|| "/tmp/chatterbox-bench-tiny".into());
    let per_sentence: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let dir = Path::new(&dir);
    // Only a directory without any model (and without a config) gets a tiny one: writing into a
    // Turbo directory would replace its files.
    let has_model = Variant::ALL
        .into_iter()
        .any(|v| dir.join(v.t3_file()).is_file())
        || dir.join(CONFIG_FILE).is_file();
    if !has_model {
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
    if within {
        return within_sentence(
            &model,
            voice,
            &params,
            per_sentence * chunks,
            &stream,
            sized,
        );
    }
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

/// Mean absolute difference of two waveforms' 24 kHz log-mels (natural log, as S3Gen's), over
/// the frames both have.
fn mel_distance(a: &[f32], b: &[f32]) -> anyhow::Result<f64> {
    let dev = candle_core::Device::Cpu;
    let (ma, mb) = (mel_spectrogram(a, &dev)?, mel_spectrogram(b, &dev)?);
    let t = ma.dim(2)?.min(mb.dim(2)?);
    let d = (ma.narrow(2, 0, t)? - mb.narrow(2, 0, t)?)?.abs()?;
    Ok(f64::from(d.mean_all()?.to_scalar::<f32>()?))
}

fn within_sentence(
    model: &Chatterbox,
    voice: &chatterbox::Conditionals,
    params: &GenerateParams,
    max_tokens: usize,
    stream: &StreamOptions,
    sized: &str,
) -> anyhow::Result<()> {
    let sr = f64::from(model.sample_rate());
    let whole = GenerateParams {
        max_new_tokens: max_tokens.min(GenerateParams::MAX_NEW_TOKENS),
        ..params.clone()
    };
    let run = |opts: &StreamOptions| -> anyhow::Result<(f64, f64, usize, Vec<f32>)> {
        let t = Instant::now();
        let (mut first, mut pieces, mut out) = (None, 0usize, Vec::new());
        model.generate_stream(TEXT, Some(voice), &whole, opts, &|| false, &mut |s| {
            if first.is_none() && !s.is_empty() {
                first = Some(t.elapsed().as_secs_f64());
            }
            pieces += usize::from(!s.is_empty());
            out.extend(s);
        })?;
        let total = t.elapsed().as_secs_f64();
        Ok((first.unwrap_or(total), total, pieces, out))
    };
    // ABAB: one-pass, streamed, one-pass, streamed; the second pair is reported.
    let mut report = None;
    for _ in 0..2 {
        let t = Instant::now();
        let reference = model.generate(TEXT, Some(voice), &whole, &|| false)?;
        let total_whole = t.elapsed().as_secs_f64();
        let streamed = run(stream)?;
        report = Some((reference, total_whole, streamed));
    }
    let Some((reference, total_whole, (first, total, pieces, out))) = report else {
        return Ok(());
    };
    let one_piece = StreamOptions {
        first_tokens: usize::MAX / 2,
        ..*stream
    };
    let (_, total_one, _, one) = run(&one_piece)?;
    println!(
        "{stream:?}, {} tokens max ({sized} sizes)",
        whole.max_new_tokens
    );
    println!(
        "one pass: first audio = total {total_whole:.2} s, {:.2} s of audio",
        reference.len() as f64 / sr
    );
    println!(
        "streamed within the utterance: {pieces} pieces, first audio {first:.2} s ({:.0}% of the \
         one-pass time), total {total:.2} s ({:+.1}% compute), {:.2} s of audio",
        100.0 * first / total_whole,
        100.0 * (total - total_whole) / total_whole,
        out.len() as f64 / sr
    );
    println!(
        "log-mel mean |diff| vs one pass: streamed {:.3}, one-piece stream (other noise only) \
         {:.3} (its total {total_one:.2} s)",
        mel_distance(&out, &reference)?,
        mel_distance(&one, &reference)?
    );
    Ok(())
}
