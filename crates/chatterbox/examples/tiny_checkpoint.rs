//! Write a tiny random-weight checkpoint of the real architecture.
//!
//! `cargo run --release --example tiny_checkpoint -- DIR [SEED]`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: tiny_checkpoint DIR [SEED]");
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
    match chatterbox::pipeline::tiny::write_tiny_checkpoint(&dir, seed) {
        Ok(()) => {
            println!("wrote a tiny checkpoint to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
