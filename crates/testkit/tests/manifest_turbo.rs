//! The released-config Turbo networks request exactly the tensors of the Turbo checkpoint files.

use chatterbox::models::t3::{T3Turbo, T3TurboConfig};
use chatterbox_testkit::manifest::{self, Recorder};

#[test]
fn t3_turbo_requests_exactly_the_checkpoint_keys() -> chatterbox::Result<()> {
    let rec = Recorder::new();
    T3Turbo::new(&T3TurboConfig::turbo(), &rec.var_builder())?;
    let want = manifest::parse(manifest::T3_TURBO)?;
    assert_eq!(want.len(), 299);
    let got = rec.requested();
    for (k, v) in &want {
        assert_eq!(got.get(k), Some(v), "{k}");
    }
    assert_eq!(got, want);
    Ok(())
}

#[test]
fn t3_turbo_config_round_trips_through_json() {
    let cfg = T3TurboConfig::turbo();
    let s = serde_json::to_string(&cfg).expect("serialises");
    let back: T3TurboConfig = serde_json::from_str(&s).expect("deserialises");
    assert_eq!(back, cfg);
}
