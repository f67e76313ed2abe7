//! The parity command's checks on the committed fixtures: every registered module must match the
//! reference within its tolerance (`cargo run --release --example parity` prints the same lines).

use chatterbox_testkit::parity;

#[test]
fn every_module_matches_the_reference() {
    let dir = parity::default_dir();
    let mut failed = Vec::new();
    let mut compared = 0usize;
    for (name, check) in parity::checks() {
        match check(&dir) {
            Ok(reports) => {
                for r in reports {
                    println!("{r}");
                    compared += 1;
                    if !r.ok() {
                        failed.push(r.to_string());
                    }
                }
            }
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    assert!(compared > 0, "no parity output was compared");
    assert!(failed.is_empty(), "parity failures:\n{}", failed.join("\n"));
}
