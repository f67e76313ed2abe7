//! The default-config modules request exactly the checkpoint's keys and shapes.

use chatterbox::models::s3tokenizer::LogMelFrontend;
use chatterbox_testkit::manifest::{self, Recorder};
use std::collections::BTreeMap;

/// Manifest rows under `prefix` that the ported modules cover so far.
fn expected(tsv: &str, keys: &[&str]) -> BTreeMap<String, Vec<usize>> {
    let all = manifest::parse(tsv).expect("manifest parses");
    keys.iter()
        .map(|k| {
            (
                k.to_string(),
                all.get(*k)
                    .cloned()
                    .unwrap_or_else(|| panic!("{k} not in manifest")),
            )
        })
        .collect()
}

#[test]
fn s3_tokenizer_front_end_requests_its_buffers() -> chatterbox::Result<()> {
    let rec = Recorder::new();
    LogMelFrontend::load(&rec.var_builder().pp("tokenizer"))?;
    assert_eq!(
        rec.requested(),
        expected(
            manifest::S3GEN,
            &["tokenizer._mel_filters", "tokenizer.window"]
        )
    );
    Ok(())
}

#[test]
fn front_end_buffers_are_optional_and_recomputed_identically() -> chatterbox::Result<()> {
    // A checkpoint without the buffers (the reference loads s3gen non-strictly) works, and a
    // checkpoint with the reference's values gives the same features as the recomputed ones.
    let empty = candle_nn::VarBuilder::from_tensors(
        std::collections::HashMap::new(),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    );
    let computed = LogMelFrontend::load(&empty.pp("tokenizer"))?;
    let fresh = LogMelFrontend::new()?;
    let wav: Vec<f32> = (0..4000)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    let a = computed.forward(&wav, &candle_core::Device::Cpu)?;
    let b = fresh.forward(&wav, &candle_core::Device::Cpu)?;
    let diff = (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
    assert_eq!(diff, 0.0);
    Ok(())
}
