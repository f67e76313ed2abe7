//! Parity of S3Gen's flow (encoder, estimator, CFM, orchestration) and HiFT vocoder on
//! reduced-size reference modules with random weights (`tools/reference/fixtures_s3gen.py`).

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use std::path::Path;

use super::{compare, Check, Fixture, Report, TOL_F32};
use crate::Result;
use chatterbox::models::s3gen::{
    EncoderConfig, EstimatorConfig, Flow, FlowConfig, Hift, HiftConfig, S3Gen, S3GenConfig,
    S3GenNoise, SourceNoise,
};

/// Tolerance for waveforms whose source was computed from our own f0 (see `check_hift`).
pub(super) const TOL_CHAIN: f32 = 1e-2;

pub(super) const CHECKS: &[(&str, Check)] = &[
    ("s3gen_flow", check_flow),
    ("s3gen_hift", check_hift),
    ("s3gen_full", check_full),
];

/// The reduced configuration the fixtures were generated with.
pub(super) fn flow_config() -> FlowConfig {
    FlowConfig {
        vocab: 200,
        input_size: 32,
        encoder: EncoderConfig {
            dim: 32,
            heads: 2,
            ff: 48,
            blocks: 2,
            up_blocks: 4,
            pre_lookahead: 3,
        },
        estimator: EstimatorConfig {
            channels: 32,
            heads: 2,
            head_dim: 16,
            n_blocks: 2,
            mid_blocks: 2,
            ..EstimatorConfig::default()
        },
        ..FlowConfig::default()
    }
}

pub(super) fn hift_config() -> HiftConfig {
    HiftConfig {
        base_channels: 32,
        f0_channels: 32,
        ..HiftConfig::default()
    }
}

fn var_builder(fx: &Fixture) -> VarBuilder<'static> {
    VarBuilder::from_tensors(fx.tensors.clone(), DType::F32, &Device::Cpu)
}

pub(super) fn ids(t: &Tensor) -> Result<Vec<u32>> {
    Ok(t.flatten_all()?
        .to_dtype(DType::I64)?
        .to_vec1::<i64>()?
        .into_iter()
        .map(|v| v as u32)
        .collect())
}

pub(super) fn source_noise(fx: &Fixture, phases: &str, noise: &str) -> Result<SourceNoise> {
    Ok(SourceNoise {
        phases: fx.vec(phases)?,
        noise: fx.get(noise)?.to_dtype(DType::F32)?,
    })
}

fn check_flow(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "s3gen_flow")?;
    let flow = Flow::new(&flow_config(), &var_builder(&fx).pp("flow"))?;
    let mut out = Vec::new();

    let (h, mu) = flow.encode(&ids(fx.get("enc.tokens")?)?)?;
    out.push(compare("s3gen.encoder.h", &h, fx.get("enc.h")?, TOL_F32)?);
    out.push(compare(
        "s3gen.encoder.mu",
        &mu,
        fx.get("enc.mu")?,
        TOL_F32,
    )?);

    let x = fx.get("est.x")?;
    let mu = fx.get("est.mu")?;
    let spk = fx.get("est.spk")?;
    let cond = fx.get("est.cond")?;
    let mu2 = Tensor::cat(&[mu, &mu.zeros_like()?], 0)?;
    let spk2 = Tensor::cat(&[spk, &spk.zeros_like()?], 0)?;
    let cond2 = Tensor::cat(&[cond, &cond.zeros_like()?], 0)?;
    for i in 0..2 {
        let t = fx.vec(&format!("est.t{i}"))?[0];
        let v = flow
            .decoder
            .estimator
            .forward(x, &mu2, &[t, t], &spk2, &cond2)?;
        out.push(compare(
            &format!("s3gen.estimator.v(t={t})"),
            &v,
            fx.get(&format!("est.v{i}"))?,
            TOL_F32,
        )?);
    }

    let mel = flow
        .decoder
        .forward(fx.get("cfm.z")?, mu, spk, cond, &|| false)?;
    out.push(compare("s3gen.cfm.mel", &mel, fx.get("cfm.mel")?, TOL_F32)?);

    let mel = flow.inference(
        &ids(fx.get("flow.in.token")?)?,
        &ids(fx.get("flow.in.prompt_token")?)?,
        fx.get("flow.in.prompt_feat")?,
        fx.get("flow.in.embedding")?,
        fx.get("cfm.z")?,
        &|| false,
    )?;
    out.push(compare(
        "s3gen.flow.mel",
        &mel,
        fx.get("flow.out.mel")?,
        TOL_F32,
    )?);
    Ok(out)
}

fn check_hift(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "s3gen_hift")?;
    let hift = Hift::new(&hift_config(), &var_builder(&fx).pp("mel2wav"))?;
    let rnd = source_noise(&fx, "out.phases", "out.noise")?;
    let mel = fx.get("mel")?;
    let f0 = hift.f0(mel)?;
    // Each stage from the reference's own input: the source integrates f0 over every sample, so
    // a last-bit difference in f0 becomes a phase drift (see `s3gen.hift.wav_chain`).
    let source = hift.source(fx.get("out.f0")?, &rnd)?;
    let (s_stft, pre_istft, wav) = hift.decode_with_source(mel, fx.get("out.source")?)?;
    let chain = hift.forward(mel, &rnd, &|| false)?;
    Ok(vec![
        compare("s3gen.hift.f0", &f0, fx.get("out.f0")?, TOL_F32)?,
        compare("s3gen.hift.source", &source, fx.get("out.source")?, TOL_F32)?,
        compare("s3gen.hift.s_stft", &s_stft, fx.get("out.s_stft")?, TOL_F32)?,
        compare(
            "s3gen.hift.pre_istft",
            &pre_istft,
            fx.get("out.pre_istft")?,
            TOL_F32,
        )?,
        compare("s3gen.hift.wav", &wav, fx.get("out.wav")?, TOL_F32)?,
        compare(
            "s3gen.hift.wav_chain",
            &chain,
            fx.get("out.wav")?,
            TOL_CHAIN,
        )?,
    ])
}

fn check_full(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "s3gen_full")?;
    let cfg = S3GenConfig {
        flow: flow_config(),
        hift: hift_config(),
    };
    let model = S3Gen::new(&cfg, &var_builder(&fx))?;
    let noise = S3GenNoise {
        z: fx.get("in.z")?.to_dtype(DType::F32)?,
        source: source_noise(&fx, "in.phases", "in.noise")?,
    };
    let o = model.inference_traced(
        &ids(fx.get("in.token")?)?,
        &ids(fx.get("in.prompt_token")?)?,
        fx.get("in.prompt_feat")?,
        fx.get("in.embedding")?,
        &noise,
        &|| false,
    )?;
    // Our mel through the vocoder with the reference's source (then the output fade).
    let (_, _, wav) = model
        .mel2wav
        .decode_with_source(&o.mel, fx.get("out.source")?)?;
    let wav = apply_fade(&wav)?;
    Ok(vec![
        compare("s3gen.full.mel", &o.mel, fx.get("out.mel")?, TOL_F32)?,
        compare("s3gen.full.wav", &wav, fx.get("out.wav")?, TOL_F32)?,
        compare(
            "s3gen.full.wav_chain",
            &o.wav,
            fx.get("out.wav")?,
            TOL_CHAIN,
        )?,
    ])
}

pub(super) fn apply_fade(wav: &Tensor) -> Result<Tensor> {
    let n = wav.dim(1)?;
    let mut gain = chatterbox::models::s3gen::trim_fade(24_000);
    gain.resize(n, 1.0);
    Ok(wav.broadcast_mul(&Tensor::from_vec(gain, (1, n), wav.device())?)?)
}
