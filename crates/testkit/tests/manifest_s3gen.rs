//! The default-config S3Gen decoder (`flow.` + `mel2wav.`) requests exactly the checkpoint's keys
//! and shapes, with weight norm spelled as in the released file.

use chatterbox::models::s3gen::{S3Gen, S3GenConfig};
use chatterbox_testkit::manifest::{self, Recorder};
use std::collections::BTreeMap;

#[test]
fn s3gen_decoder_requests_exactly_the_manifest_rows() -> chatterbox::Result<()> {
    let rec = Recorder::new();
    S3Gen::new(&S3GenConfig::default(), &rec.var_builder())?;
    let want: BTreeMap<String, Vec<usize>> = manifest::parse(manifest::S3GEN)?
        .into_iter()
        .filter(|(k, _)| k.starts_with("flow.") || k.starts_with("mel2wav."))
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
    assert_eq!(want.len(), 1 + 2 + 206 + 2 + 910 + 328);
    Ok(())
}

#[test]
fn weight_norm_accepts_the_legacy_spelling_and_fails_loudly_when_absent() -> chatterbox::Result<()>
{
    use candle_core::{DType, Device, Tensor};
    use chatterbox::models::s3gen::{Hift, HiftConfig};
    // A tiny vocoder whose weight-normed convs use `weight_g`/`weight_v`: loading must work, and
    // must fail once any parameter is dropped.
    let cfg = HiftConfig {
        base_channels: 8,
        f0_channels: 4,
        ..HiftConfig::default()
    };
    let rec = Recorder::new();
    Hift::new(&cfg, &rec.var_builder())?;
    let mut tensors = std::collections::HashMap::new();
    for (k, shape) in rec.requested() {
        let t = Tensor::ones(shape.as_slice(), DType::F32, &Device::Cpu)?;
        let k = k
            .replace("parametrizations.weight.original0", "weight_g")
            .replace("parametrizations.weight.original1", "weight_v");
        tensors.insert(k, t);
    }
    let vb = candle_nn::VarBuilder::from_tensors(tensors.clone(), DType::F32, &Device::Cpu);
    Hift::new(&cfg, &vb)?;
    tensors.remove("conv_post.weight_v");
    let vb = candle_nn::VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    assert!(Hift::new(&cfg, &vb).is_err());
    Ok(())
}

#[test]
fn degenerate_inputs_are_errors_not_panics() -> chatterbox::Result<()> {
    use candle_core::{DType, Device, Tensor};
    use chatterbox::models::s3gen::GaussianRng;
    // Zero weights are enough to exercise the shape checks.
    let cfg = S3GenConfig::default();
    let model = S3Gen::new(&cfg, &Recorder::new().var_builder())?;
    let emb = Tensor::zeros((1, 192), DType::F32, &Device::Cpu)?;
    let feat = |n: usize| Tensor::zeros((1, n, 80), DType::F32, &Device::Cpu);
    let mut rng = GaussianRng::new(0);
    // No tokens at all, prompt longer than the tokens, token outside the vocabulary, no new frames.
    assert!(model
        .inference(&[], &[], &feat(0)?, &emb, &mut rng, &|| false)
        .is_err());
    assert!(model
        .inference(&[1], &[], &feat(4)?, &emb, &mut rng, &|| false)
        .is_err());
    assert!(model
        .inference(&[7000], &[1], &feat(2)?, &emb, &mut rng, &|| false)
        .is_err());
    assert!(model
        .inference(&[], &[1, 2], &feat(4)?, &emb, &mut rng, &|| false)
        .is_err());
    Ok(())
}
