//! Text in, WAV out, from the command line.
//!
//! `cargo run --release --example synthesize -- --model-dir DIR --text "..." [--voice clip.wav]
//!  [--model original|turbo|multilingual] [--language xx] [--seed N] [--exaggeration X]
//!  [--cfg-weight X] [--temperature X] [--top-p X] [--top-k N] [--min-p X] [--repetition-penalty X] [--max-new-tokens N]
//!  [--quantize none|q8|q4] --out out.wav`
//!
//! The model variant is detected from the directory (or named with `--model`, which also picks the
//! hub repository without `--model-dir`); unset parameters take that variant's defaults, and
//! parameters the variant does not have are refused.

use chatterbox::audio::{self, DecodeLimits};
use chatterbox::pipeline::{Chatterbox, Variant};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn run() -> Result<(), String> {
    let mut model_dir = None;
    let mut text = None;
    let mut voice = None;
    let mut out = None;
    let mut variant = None;
    // (parameter name, value), applied over the variant's defaults once the model is loaded.
    let mut set: Vec<(String, String)> = Vec::new();
    let mut opts = chatterbox::LoadOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--model-dir" => model_dir = Some(PathBuf::from(val()?)),
            "--model" => variant = Some(Variant::from_name(&val()?).map_err(|e| e.to_string())?),
            "--text" => text = Some(val()?),
            "--voice" => voice = Some(PathBuf::from(val()?)),
            "--out" => out = Some(PathBuf::from(val()?)),
            "--quantize" => opts.quantization = val()?.parse().map_err(|e| format!("{e}"))?,
            flag if flag.starts_with("--") => {
                set.push((flag[2..].replace('-', "_"), val()?));
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let text = text.ok_or("--text is required")?;
    let out = out.ok_or("--out is required")?;
    let t0 = Instant::now();
    let model = match model_dir {
        Some(d) => Chatterbox::load_variant_with(&d, variant, &opts),
        None => Chatterbox::from_hub_variant_with(variant.unwrap_or(Variant::Original), &opts),
    }
    .map_err(|e| e.to_string())?;
    let variant = model.variant();
    eprintln!(
        "loaded the {variant} model in {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    let mut p = variant.default_params();
    for (name, v) in &set {
        if variant.unsupported_params().contains(&name.as_str()) {
            return Err(format!(
                "--{name} is not a parameter of the {variant} model"
            ));
        }
        let num = || {
            v.parse::<f32>()
                .map_err(|_| format!("--{name}: not a number"))
        };
        let int = || {
            v.parse::<usize>()
                .map_err(|_| format!("--{name}: not an integer"))
        };
        match name.as_str() {
            "seed" => p.seed = Some(v.parse().map_err(|_| "--seed: not an integer")?),
            "language" => p.language = Some(v.clone()),
            "exaggeration" => p.exaggeration = num()?,
            "cfg_weight" => p.cfg_weight = num()?,
            "temperature" => p.temperature = num()?,
            "top_p" => p.top_p = num()?,
            "min_p" => p.min_p = num()?,
            "repetition_penalty" => p.repetition_penalty = num()?,
            "top_k" => p.top_k = int()?,
            "max_new_tokens" => p.max_new_tokens = int()?,
            other => return Err(format!("unknown argument --{other}")),
        }
    }
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
