//! Parity of every ported module against reference fixtures.
//!
//! `cargo run --release --example parity -- [DIR]` (no DIR: the committed fixtures). Prints
//! `<module> max_abs=<e> scale=<max|ref|> tol=<t> ok|FAIL` per compared output and exits non-zero
//! if any output fails or a fixture cannot be read.

use chatterbox_testkit::parity;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(parity::default_dir);
    println!("fixtures: {}", dir.display());
    let mut failed = 0usize;
    for (name, _) in parity::checks() {
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
