//! Parity of every ported module against reference fixtures.
//!
//! `cargo run --release --example parity -- [DIR] [--only PREFIX]` (no DIR: the committed
//! fixtures; `--only turbo` runs the checks whose name starts with `turbo`, e.g. on fixtures made
//! with `make_fixtures.py --only turbo`). Prints `<module> max_abs=<e> scale=<max|ref|> tol=<t>
//! ok|FAIL` per compared output and exits non-zero if any output fails or a fixture cannot be read.

use chatterbox_testkit::parity;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let dir = args
        .iter()
        .enumerate()
        .find(|&(i, a)| !a.starts_with("--") && (i == 0 || args[i - 1] != "--only"))
        .map(|(_, a)| PathBuf::from(a))
        .unwrap_or_else(parity::default_dir);
    println!("fixtures: {}", dir.display());
    let mut failed = 0usize;
    let selected = parity::checks()
        .into_iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|p| name.starts_with(p)));
    for (name, _) in selected {
        match parity::run(name, &dir) {
            Ok(reports) => {
                for r in reports {
                    if !r.ok() {
                        failed += 1;
                    }
                    println!("{r}");
                }
            }
            Err(e) => {
                failed += 1;
                println!("{name} FAIL ({e})");
            }
        }
    }
    if failed > 0 {
        println!("{failed} parity output(s) failed");
        ExitCode::FAILURE
    } else {
        println!("all parity checks ok");
        ExitCode::SUCCESS
    }
}
