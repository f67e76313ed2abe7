//! Parity of voice conversion (`ChatterboxVC.generate`, `tools/reference/fixtures_vc.py`): the
//! conditioning fixture's tokenizer and CAMPPlus (`cond_weights.safetensors`), the reduced flow
//! and HiFT of the S3Gen fixtures with a 6561-token vocabulary (`vc.safetensors`), a source and a
//! target WAV file, and the reference's draws injected.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use std::path::Path;

use super::s3gen::{apply_fade, flow_config, hift_config, ids, source_noise, TOL_CHAIN};
use super::{compare, exact, Check, Fixture, Report, TOL_F32};
use crate::{Error, Result};
use chatterbox::audio::{self, DecodeLimits};
use chatterbox::models::s3gen::{FlowConfig, S3Gen, S3GenConfig, S3GenNoise};
use chatterbox::pipeline::{convert_with, vc_target, VcNoise};

pub(super) const CHECKS: &[(&str, Check)] = &[("vc", check_vc)];

fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    std::fs::read(dir.join(name)).map_err(|e| Error::io(format!("reading {name}"), e))
}

fn compare_tokens(module: &str, got: &[u32], want: &Tensor) -> Result<Report> {
    let want = ids(want)?;
    let n = got.len().max(want.len());
    let bad = (0..n).filter(|&i| got.get(i) != want.get(i)).count();
    let first = (0..n)
        .find(|&i| got.get(i) != want.get(i))
        .map(|i| format!("index {i}: {:?} vs {:?}", got.get(i), want.get(i)));
    Ok(exact(module, bad, n, first))
}

fn check_vc(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "vc")?;
    let cond = super::cond::models(dir)?;
    let cfg = S3GenConfig {
        flow: FlowConfig {
            vocab: 6561,
            ..flow_config()
        },
        hift: hift_config(),
    };
    let vb = VarBuilder::from_tensors(fx.tensors.clone(), DType::F32, &Device::Cpu);
    let s3gen = S3Gen::new(&cfg, &vb)?;
    let limits = DecodeLimits::default();
    let source = audio::decode(&read(dir, "vc_source.wav")?, &limits)?;
    let target_clip = audio::decode(&read(dir, "vc_target.wav")?, &limits)?;

    let target = vc_target(&cond, &target_clip)?;
    let noise = S3GenNoise {
        z: fx.get("in.z")?.to_dtype(DType::F32)?,
        source: source_noise(&fx, "in.phases", "in.noise")?,
    };
    let out = convert_with(
        &cond.tokenizer,
        &s3gen,
        &source,
        &target,
        VcNoise::Explicit(&noise),
        &|| false,
    )?;
    // Our mel through the vocoder with the reference's source (then the output fade).
    let (_, _, wav) = s3gen
        .mel2wav
        .decode_with_source(&out.s3gen.mel, fx.get("out.source")?)?;
    Ok(vec![
        compare_tokens("vc.source_tokens", &out.tokens, fx.get("out.tokens")?)?,
        compare_tokens(
            "vc.target.prompt_token",
            &ids(&target.prompt_token)?,
            fx.get("out.prompt_token")?,
        )?,
        compare(
            "vc.target.prompt_feat",
            &target.prompt_feat,
            fx.get("out.prompt_feat")?,
            TOL_F32,
        )?,
        compare(
            "vc.target.embedding",
            &target.embedding,
            fx.get("out.embedding")?,
            TOL_F32,
        )?,
        compare("vc.mel", &out.s3gen.mel, fx.get("out.mel")?, TOL_F32)?,
        compare("vc.wav", &apply_fade(&wav)?, fx.get("out.wav")?, TOL_F32)?,
        compare(
            "vc.wav_chain",
            &out.s3gen.wav,
            fx.get("out.wav")?,
            TOL_CHAIN,
        )?,
    ])
}
