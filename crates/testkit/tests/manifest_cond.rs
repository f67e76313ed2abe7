//! The conditioning networks at their released sizes request exactly the checkpoint's keys and
//! shapes: all of `ve.safetensors`, and the `tokenizer.` and `speaker_encoder.` parts of
//! `s3gen.safetensors`.
//!
//! `speaker_encoder.*.num_batches_tracked` (int64 scalars, 122 of them in the manifest) are
//! training counters that eval-mode BatchNorm never reads, so the port does not request them; the
//! test compares against the manifest minus exactly those keys and checks that nothing else was
//! left out.

use chatterbox::models::campplus::{CampPlus, CampPlusConfig};
use chatterbox::models::s3tokenizer::{EncoderConfig, S3Tokenizer};
use chatterbox::models::voice_encoder::{VoiceEncoder, VoiceEncoderConfig};
use chatterbox_testkit::manifest::{self, Recorder};
use std::collections::BTreeMap;

fn rows(tsv: &str, prefix: &str) -> BTreeMap<String, Vec<usize>> {
    manifest::parse(tsv)
        .expect("manifest parses")
        .into_iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .collect()
}

#[test]
fn voice_encoder_requests_all_of_ve_safetensors() -> chatterbox::Result<()> {
    let rec = Recorder::new();
    VoiceEncoder::new(VoiceEncoderConfig::default(), rec.var_builder())?;
    assert_eq!(rec.requested(), rows(manifest::VE, ""));
    Ok(())
}

#[test]
fn s3_tokenizer_requests_the_tokenizer_part_of_s3gen() -> chatterbox::Result<()> {
    let rec = Recorder::new();
    S3Tokenizer::new(EncoderConfig::default(), rec.var_builder().pp("tokenizer"))?;
    let want = rows(manifest::S3GEN, "tokenizer.");
    assert_eq!(want.len(), 104);
    assert_eq!(rec.requested(), want);
    Ok(())
}

#[test]
fn campplus_requests_the_speaker_encoder_part_of_s3gen() -> chatterbox::Result<()> {
    let rec = Recorder::new();
    CampPlus::new(
        CampPlusConfig::default(),
        rec.var_builder().pp("speaker_encoder"),
    )?;
    let all = rows(manifest::S3GEN, "speaker_encoder.");
    assert_eq!(all.len(), 937);
    let (counters, want): (BTreeMap<_, _>, BTreeMap<_, _>) = all
        .into_iter()
        .partition(|(k, _)| k.ends_with(".num_batches_tracked"));
    // Only scalar BatchNorm counters are left out.
    assert!(counters.values().all(|s| s.is_empty()));
    assert_eq!(counters.len(), 122);
    assert_eq!(rec.requested(), want);
    Ok(())
}
