//! Text in, WAV out, from the command line.
//!
//! `cargo run --release --example synthesize -- --model-dir DIR --text "..." [--voice clip.wav]
//!  [--seed N] [--exaggeration X] [--cfg-weight X] [--temperature X] [--max-new-tokens N]
//!  [--quantize none|q8|q4] --out out.wav`

use chatterbox::audio::{self, DecodeLimits};
use chatterbox::pipeline::{Chatterbox, GenerateParams};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn run() -> Result<(), String> {
    let mut model_dir = None;
    let mut text = None;
    let mut voice = None;
    let mut out = None;
    let mut p = GenerateParams::default();
    let mut opts = chatterbox::LoadOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        let num = |s: String| s.parse::<f32>().map_err(|_| format!("{a}: not a number"));
        match a.as_str() {
            "--model-dir" => model_dir = Some(PathBuf::from(val()?)),
            "--text" => text = Some(val()?),
            "--voice" => voice = Some(PathBuf::from(val()?)),
            "--out" => out = Some(PathBuf::from(val()?)),
            "--quantize" => opts.quantization = val()?.parse().map_err(|e| format!("{e}"))?,
            "--seed" => p.seed = Some(val()?.parse().map_err(|_| "--seed: not an integer")?),
            "--exaggeration" => p.exaggeration = num(val()?)?,
            "--cfg-weight" => p.cfg_weight = num(val()?)?,
            "--temperature" => p.temperature = num(val()?)?,
            "--max-new-tokens" => {
                p.max_new_tokens = val()?
                    .parse()
                    .map_err(|_| "--max-new-tokens: not an integer")?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let text = text.ok_or("--text is required")?;
    let out = out.ok_or("--out is required")?;
    let t0 = Instant::now();
    let model = match model_dir {
        Some(d) => Chatterbox::load_with(&d, &opts),
        None => Chatterbox::from_hub_with(&opts),
    }
    .map_err(|e| e.to_string())?;
    eprintln!("loaded in {:.2} s", t0.elapsed().as_secs_f64());
    let conds = match voice {
        Some(v) => {
            let a = audio::decode_file(&v, &DecodeLimits::default()).map_err(|e| e.to_string())?;
            Some(
                model
                    .prepare_conditionals(&a, p.exaggeration)
                    .map_err(|e| e.to_string())?,
            )
        }
        None => None,
    };
    let t1 = Instant::now();
    let wav = model
        .generate(&text, conds.as_ref(), &p, &|| false)
        .map_err(|e| e.to_string())?;
    let secs = wav.len() as f64 / f64::from(model.sample_rate());
    let took = t1.elapsed().as_secs_f64();
    audio::write_wav_file(&out, &wav, model.sample_rate()).map_err(|e| e.to_string())?;
    eprintln!(
        "wrote {} ({secs:.2} s of audio in {took:.2} s, RTF {:.2})",
        out.display(),
        took / secs.max(1e-9)
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
