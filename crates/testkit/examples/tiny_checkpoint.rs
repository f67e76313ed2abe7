//! Write a random-weight checkpoint of the real architecture: tiny by default, or at the released
//! sizes with `--full` (≈ 3.2 GB, for end-to-end runs and memory/speed measurements); the original
//! model, Chatterbox-Turbo with `--turbo`, Chatterbox Multilingual with `--multilingual`.
//!
//! `cargo run --release --example tiny_checkpoint -- DIR [SEED] [--full] [--turbo|--multilingual]`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let full = std::env::args().any(|a| a == "--full");
    let variant = if std::env::args().any(|a| a == "--turbo") {
        chatterbox::Variant::Turbo
    } else if std::env::args().any(|a| a == "--multilingual") {
        chatterbox::Variant::Multilingual
    } else {
        chatterbox::Variant::Original
    };
    let mut args = std::env::args()
        .skip(1)
        .filter(|a| a != "--full" && a != "--turbo" && a != "--multilingual");
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: tiny_checkpoint DIR [SEED] [--full] [--turbo|--multilingual]");
        return ExitCode::from(2);
    };
    let seed = match args.next().map(|s| s.parse::<u64>()) {
        None => 0,
        Some(Ok(s)) => s,
        Some(Err(_)) => {
            eprintln!("SEED must be a non-negative integer");
            return ExitCode::from(2);
        }
    };
    let cfg = if full {
        chatterbox::pipeline::ModelConfig::released(variant)
    } else {
        chatterbox_testkit::tiny::config_for(variant)
    };
    match chatterbox_testkit::tiny::write_random_checkpoint(&dir, &cfg, seed) {
        Ok(()) => {
            let kind = if full { "full-size" } else { "tiny" };
            println!(
                "wrote a {kind} random-weight {variant} checkpoint to {}",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
