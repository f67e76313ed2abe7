//! When does audio start, and what does the whole text cost, for four ordinary sentences?
//!
//! `cargo run --release --example bench_stream -- DIR [--quantize q8] [--rounds R] [--rate CPS]
//! [--first N] [--chunk N] [--context N] [--prompt N[,N…]] [--chunks N]`
//!
//! The text is cut as the server cuts it (`split_text`, default `ChunkOptions`: one chunk per
//! sentence here), and every chunk runs as the server runs it: its own seed (`chunk_seed`), then
//! T3 and S3Gen. Random weights never learned when to stop, so each chunk is made to speak the
//! number of speech tokens the real model would: its characters at `--rate` characters per second
//! (default 15, an ordinary English speaking rate: 150 words a minute of 6 characters with the
//! space), 25 tokens per second of audio, forced with `min_new_tokens` = `max_new_tokens`.
//!
//! Runs, alternating A B A B … (`--rounds`, default 2), each over the whole text:
//! * A, not streamed: every chunk whole (`generate`), as a request without `stream` is made. Its
//!   total is "the whole text's time"; the end of its first chunk is when audio would start when
//!   streaming sentence by sentence.
//! * B, streamed within sentences as a `stream: true` request is: the first `--chunks` chunks
//!   (default 1) through `generate_stream` with the `StreamOptions` given (default the server's:
//!   a first piece after 15 tokens, then every 50), the rest whole. First audio is when the first
//!   piece left; also where the first piece's time went (T3: front end, prefill and its tokens;
//!   the flow over prompt and piece; HiFT). `--prompt 0,75` runs B once per prompt length
//!   (A B₀ B₇₅ A B₀ B₇₅ …): the last N prompt tokens each piece conditions on, 0 = all.
//!
//! Before the runs the voice is prepared for streaming (`prepare_streaming`: Turbo prefills its
//! conditioning once, as the server does for a voice it has used); the time that takes is printed.
//! The figures printed are the last round's (earlier rounds warm caches up). DIR is any model
//! directory: the released files, the full-size random-weight one that `bench_pipeline` writes,
//! or a tiny checkpoint (written to DIR when it holds no model). Joining chunks (pauses,
//! crossfades) is left out: it costs microseconds.

use chatterbox::audio::Audio;
use chatterbox::pipeline::{
    chunk_seed, Chatterbox, GenerateParams, LoadOptions, StreamOptions, StreamTiming, Variant,
    CONFIG_FILE,
};
use chatterbox::{ChunkOptions, Quantization};
use std::path::Path;
use std::time::Instant;

const TEXT: &str = "The quick brown fox jumps over the lazy dog near the river bank. \
                    Streaming lets a listener hear the first sentence while the rest is made. \
                    Each sentence is spoken on its own and joined with a natural pause. \
                    This fourth sentence closes the benchmark text for today.";

/// Speech tokens per second of audio.
const TOKENS_PER_SECOND: f64 = 25.0;

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

struct Args {
    dir: String,
    quantization: Quantization,
    rounds: usize,
    rate: f64,
    stream: StreamOptions,
    prompts: Vec<usize>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        dir: "/tmp/chatterbox-bench-tiny".into(),
        quantization: Quantization::None,
        rounds: 2,
        rate: 15.0,
        stream: StreamOptions::default(),
        prompts: vec![0],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--quantize" => a.quantization = value()?.parse()?,
            "--rounds" => a.rounds = value()?.parse()?,
            "--rate" => a.rate = value()?.parse()?,
            "--first" => a.stream.first_tokens = value()?.parse()?,
            "--chunk" => a.stream.chunk_tokens = value()?.parse()?,
            "--context" => a.stream.context_tokens = value()?.parse()?,
            "--prompt" => {
                a.prompts = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--chunks" => a.stream.chunks = value()?.parse()?,
            s if s.starts_with("--") => anyhow::bail!("unknown option {s}"),
            _ => a.dir = arg,
        }
    }
    a.stream.validate()?;
    anyhow::ensure!(
        a.rounds > 0 && a.rate > 0.0,
        "rounds and rate must be positive"
    );
    Ok(a)
}

/// One run over the whole text.
#[derive(Default)]
struct Run {
    first_audio_s: f64,
    total_s: f64,
    audio_s: f64,
    /// The first chunk's streaming breakdown (streamed runs).
    first_chunk: Option<StreamTiming>,
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let dir = Path::new(&args.dir);
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
    let model = Chatterbox::load_variant_with(
        dir,
        None,
        &LoadOptions {
            quantization: args.quantization,
        },
    )?;
    let prepared;
    let voice = match model.default_voice() {
        Some(v) => v,
        None => {
            prepared = model.prepare_conditionals(&synthetic_voice(), 0.5)?;
            &prepared
        }
    };
    let chunks = chatterbox::text::split_text(TEXT, &ChunkOptions::default());
    let tokens: Vec<usize> = chunks
        .iter()
        .map(|c| (c.text.chars().count() as f64 / args.rate * TOKENS_PER_SECOND).round() as usize)
        .collect();
    let base = GenerateParams {
        seed: Some(0),
        ..model.variant().default_params()
    };
    let chunk_params = |i: usize| GenerateParams {
        seed: Some(chunk_seed(0, i)),
        max_new_tokens: tokens[i],
        min_new_tokens: tokens[i],
        ..base.clone()
    };
    let sr = f64::from(model.sample_rate());

    // Warm-up (first-call allocations, thread pools).
    let warm = GenerateParams {
        max_new_tokens: 5,
        ..base.clone()
    };
    model.generate("Warm up.", Some(voice), &warm, &|| false)?;
    // The voice as the server holds it once used (or at start, the built-in one): Turbo's
    // conditioning prefilled. This is what a voice's first streamed request adds to its first
    // audio.
    let t = Instant::now();
    model.prepare_streaming(Some(voice))?;
    println!(
        "prepare_streaming (Turbo: prefill the voice's conditioning, once per voice): {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let whole = || -> anyhow::Result<Run> {
        let t = Instant::now();
        let mut run = Run::default();
        for (i, c) in chunks.iter().enumerate() {
            let wav = model.generate(&c.text, Some(voice), &chunk_params(i), &|| false)?;
            if i == 0 {
                run.first_audio_s = t.elapsed().as_secs_f64();
            }
            run.audio_s += wav.len() as f64 / sr;
        }
        run.total_s = t.elapsed().as_secs_f64();
        Ok(run)
    };
    let streamed = |stream: &StreamOptions| -> anyhow::Result<Run> {
        let t = Instant::now();
        let mut run = Run::default();
        for (i, c) in chunks.iter().enumerate() {
            let p = chunk_params(i);
            if stream.streams_chunk(i) {
                let mut samples = 0usize;
                let timing = model.generate_stream_timed(
                    &c.text,
                    Some(voice),
                    &p,
                    stream,
                    &|| false,
                    &mut |s| samples += s.len(),
                )?;
                if i == 0 {
                    run.first_audio_s = timing.first_audio_s;
                    run.first_chunk = Some(timing);
                }
                run.audio_s += samples as f64 / sr;
            } else {
                let wav = model.generate(&c.text, Some(voice), &p, &|| false)?;
                run.audio_s += wav.len() as f64 / sr;
            }
        }
        run.total_s = t.elapsed().as_secs_f64();
        Ok(run)
    };

    println!(
        "{:?}, T3 {:?}, {} chunks of {:?} speech tokens ({} chars/s), streaming {:?}",
        model.variant(),
        args.quantization,
        chunks.len(),
        tokens,
        args.rate,
        args.stream
    );
    let mut last = None;
    for round in 1..=args.rounds {
        let mut bs = Vec::new();
        let a = whole()?;
        println!(
            "round {round} A not streamed: total {:.2} s (first chunk done at {:.2} s), {:.2} s of audio; load {}",
            a.total_s,
            a.first_audio_s,
            a.audio_s,
            load()
        );
        for &prompt_tokens in &args.prompts {
            let opts = StreamOptions {
                prompt_tokens,
                ..args.stream
            };
            let b = streamed(&opts)?;
            println!(
                "round {round} B streamed, prompt {prompt_tokens}: first audio {:.2} s, total {:.2} s, {:.2} s of audio; load {}",
                b.first_audio_s,
                b.total_s,
                b.audio_s,
                load()
            );
            if let Some(f) = b.first_chunk {
                println!(
                    "round {round} B prompt {prompt_tokens} first piece: T3 {:.2} s, flow {:.2} s, HiFT {:.2} s",
                    f.first_t3_s, f.first.flow_s, f.first.hift_s
                );
            }
            bs.push((prompt_tokens, b));
        }
        last = Some((a, bs));
    }
    let Some((a, bs)) = last else {
        return Ok(());
    };
    for (prompt_tokens, b) in bs {
        report(&a, &b, prompt_tokens, args.stream.first_tokens);
    }
    Ok(())
}

fn report(a: &Run, b: &Run, prompt_tokens: usize, first_tokens: usize) {
    println!(
        "RESULT prompt {prompt_tokens}: not streamed: total {:.1} s | by sentence: first audio {:.1} s ({:.0}%) | within: \
         first audio {:.1} s ({:.0}% of the not-streamed total), total {:.1} s ({:+.0}%)",
        a.total_s,
        a.first_audio_s,
        100.0 * a.first_audio_s / a.total_s,
        b.first_audio_s,
        100.0 * b.first_audio_s / a.total_s,
        b.total_s,
        100.0 * (b.total_s - a.total_s) / a.total_s
    );
    if let Some(f) = b.first_chunk {
        println!(
            "RESULT prompt {prompt_tokens}: first piece: T3 {:.2} s (front end, prefill, {} tokens), flow {:.2} s, HiFT \
             {:.2} s; first chunk: {} pieces, S3Gen {:.2} s of {:.2} s",
            f.first_t3_s,
            first_tokens,
            f.first.flow_s,
            f.first.hift_s,
            f.pieces,
            f.s3gen.flow_s + f.s3gen.hift_s,
            f.total_s
        );
    }
}

/// The 1-minute load average.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
