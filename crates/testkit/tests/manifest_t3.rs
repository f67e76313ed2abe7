//! The released-config T3 requests exactly the 292 tensors of `t3_cfg.safetensors`.

use chatterbox::models::t3::{T3Config, T3};
use chatterbox_testkit::manifest::{self, Recorder};

#[test]
fn t3_requests_exactly_the_checkpoint_keys() -> chatterbox::Result<()> {
    let rec = Recorder::new();
    T3::new(&T3Config::english(), &rec.var_builder())?;
    let want = manifest::parse(manifest::T3_CFG)?;
    assert_eq!(want.len(), 292);
    let got = rec.requested();
    for (k, v) in &want {
        assert_eq!(got.get(k), Some(v), "{k}");
    }
    assert_eq!(got, want);
    Ok(())
}

#[test]
fn t3_config_round_trips_through_json() {
    let cfg = T3Config::english();
    let s = serde_json::to_string(&cfg).expect("serialises");
    let back: T3Config = serde_json::from_str(&s).expect("deserialises");
    assert_eq!(back, cfg);
    assert_eq!(cfg.text_pos_len(), 2050);
    assert_eq!(cfg.speech_pos_len(), 4100);
}

#[test]
fn multilingual_t3_requests_exactly_the_checkpoint_keys() -> chatterbox::Result<()> {
    let rec = Recorder::new();
    let cfg = T3Config::multilingual();
    assert!(cfg.is_multilingual() && !T3Config::english().is_multilingual());
    T3::new(&cfg, &rec.var_builder())?;
    let want = manifest::parse(manifest::T3_MTL)?;
    assert_eq!(want.len(), 292);
    assert_eq!(want.get("text_emb.weight"), Some(&vec![2454, 1024]));
    assert_eq!(rec.requested(), want);
    Ok(())
}
