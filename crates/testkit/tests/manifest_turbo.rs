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

#[test]
fn s3gen_meanflow_requests_exactly_the_manifest_rows() -> chatterbox::Result<()> {
    use chatterbox::models::s3gen::{S3Gen, S3GenConfig};
    use std::collections::BTreeMap;
    let rec = Recorder::new();
    S3Gen::new(&S3GenConfig::meanflow(), &rec.var_builder())?;
    let all = manifest::parse(manifest::S3GEN_MEANFLOW)?;
    assert_eq!(all.len(), 2491);
    let want: BTreeMap<String, Vec<usize>> = all
        .iter()
        .filter(|(k, _)| k.starts_with("flow.") || k.starts_with("mel2wav."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let got = rec.requested();
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}"
    );
    for (k, shape) in &want {
        assert_eq!(&got[k], shape, "shape of {k}");
    }
    // The meanflow file is the original S3Gen plus exactly the time-embedding mixer.
    let mut base = manifest::parse(manifest::S3GEN)?;
    base.insert(
        "flow.decoder.estimator.time_embed_mixer.weight".into(),
        vec![1024, 2048],
    );
    assert_eq!(base, all);
    Ok(())
}
