//! Parity of the conditioning networks (S3 tokenizer encoder + FSQ, voice encoder, CAMPPlus),
//! `embed_ref`, `prepare_conditionals` and the `conds.pt` reader.
//!
//! Widths match `tools/reference/fixtures_cond.py` (reduced where the reference classes take
//! them as arguments); the weights come from `cond_weights.safetensors` under the checkpoint key
//! names (`tokenizer.`, `speaker_encoder.`, `ve.`).

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use std::path::Path;

use super::{compare, exact, Check, Fixture, Report, TOL_F32};
use crate::{Error, Result};
use chatterbox::audio::{self, DecodeLimits};
use chatterbox::conditioning::{Conditionals, ConditioningConfig, ConditioningModels};
use chatterbox::models::campplus::{CampPlus, CampPlusConfig};
use chatterbox::models::s3tokenizer::{fsq_margin, EncoderConfig, S3Tokenizer};
use chatterbox::models::voice_encoder::{VoiceEncoder, VoiceEncoderConfig};

pub(super) const CHECKS: &[(&str, Check)] = &[
    ("cond_s3tokenizer", check_s3tokenizer),
    ("cond_voice_encoder", check_voice_encoder),
    ("cond_campplus", check_campplus),
    ("cond_prepare_conditionals", check_e2e),
    ("cond_conds_pt", check_conds_pt),
];

/// The fixture's reduced sizes.
pub(crate) fn fixture_config() -> ConditioningConfig {
    ConditioningConfig {
        tokenizer: EncoderConfig {
            n_mels: 128,
            n_state: 128,
            n_head: 2,
            n_layer: 2,
        },
        voice_encoder: VoiceEncoderConfig {
            hidden: 128,
            ..VoiceEncoderConfig::default()
        },
        campplus: CampPlusConfig {
            growth_rate: 8,
            bn_size: 2,
            init_channels: 32,
            ..CampPlusConfig::default()
        },
    }
}

fn weights(dir: &Path) -> Result<VarBuilder<'static>> {
    let fx = Fixture::open(dir, "cond_weights")?;
    Ok(VarBuilder::from_tensors(
        fx.tensors,
        DType::F32,
        &Device::Cpu,
    ))
}

fn ids_of(t: &Tensor) -> Result<Vec<i64>> {
    Ok(t.to_dtype(DType::I64)?.flatten_all()?.to_vec1::<i64>()?)
}

/// Exact comparison of two id sequences: mismatches (a length difference counts as mismatches).
fn compare_ids(module: &str, got: &[i64], want: &[i64]) -> Report {
    let n = got.len().max(want.len());
    let mut bad = 0;
    let mut first = None;
    for i in 0..n {
        let (g, w) = (got.get(i), want.get(i));
        if g != w {
            bad += 1;
            first.get_or_insert_with(|| format!("index {i}: {g:?} vs {w:?}"));
        }
    }
    exact(module, bad, n, first)
}

fn u32s(v: &[u32]) -> Vec<i64> {
    v.iter().map(|&x| i64::from(x)).collect()
}

fn check_s3tokenizer(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "cond_s3tok")?;
    let tok = S3Tokenizer::new(fixture_config().tokenizer, weights(dir)?.pp("tokenizer"))?;
    let wav = fx.vec("wav16k")?;
    let full = tok.tokenize_full(&wav, None, &Device::Cpu)?;
    let max40 = tok.tokenize(&wav, Some(40), &Device::Cpu)?;
    let margin = fsq_margin(&full.z)?;
    // The encoder alone, on the reference's own log-mel (isolates the front end).
    let hidden_ref_mel = tok.encoder().forward(fx.get("mel")?)?;
    let mut ids = compare_ids(
        "cond_s3tokenizer.ids",
        &u32s(&full.ids),
        &ids_of(fx.get("ids")?)?,
    );
    // Any flip must be explained by a value at the FSQ rounding boundary.
    if ids.note.is_some() {
        ids.note = ids.note.map(|n| format!("{n}; fsq margin {margin:.2e}"));
    }
    Ok(vec![
        compare(
            "cond_s3tokenizer.logmel",
            &tok.log_mel(&wav, &Device::Cpu)?,
            fx.get("mel")?,
            TOL_F32,
        )?,
        compare(
            "cond_s3tokenizer.encoder",
            &hidden_ref_mel,
            fx.get("hidden")?,
            TOL_F32,
        )?,
        compare(
            "cond_s3tokenizer.hidden",
            &full.hidden,
            fx.get("hidden")?,
            TOL_F32,
        )?,
        compare("cond_s3tokenizer.fsq_z", &full.z, fx.get("z")?, TOL_F32)?,
        ids,
        compare_ids(
            "cond_s3tokenizer.ids_max_len40",
            &u32s(&max40),
            &ids_of(fx.get("ids_max40")?)?,
        ),
    ])
}

fn check_voice_encoder(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "cond_ve")?;
    let ve = VoiceEncoder::new(fixture_config().voice_encoder, weights(dir)?.pp("ve"))?;
    let wav = fx.vec("wav16k")?;
    let e = ve.embed_utterance(&wav, &Device::Cpu)?;
    let want_trim = ids_of(fx.get("trim")?)?;
    let got_trim = [e.trim.0 as i64, e.trim.1 as i64];
    let n_partials = e.partial_embeds.dim(0)?;
    Ok(vec![
        compare_ids("cond_voice_encoder.trim", &got_trim, &want_trim),
        compare_ids(
            "cond_voice_encoder.n_partials",
            &[n_partials as i64],
            &ids_of(fx.get("n_partials")?)?,
        ),
        compare(
            "cond_voice_encoder.partial_embeds",
            &e.partial_embeds,
            fx.get("partial_embeds")?,
            TOL_F32,
        )?,
        compare(
            "cond_voice_encoder.embed",
            &e.embedding,
            fx.get("embed")?,
            TOL_F32,
        )?,
    ])
}

fn check_campplus(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "cond_campplus")?;
    let cam = CampPlus::new(
        fixture_config().campplus,
        weights(dir)?.pp("speaker_encoder"),
    )?;
    let wav = fx.vec("wav16k")?;
    let feat = chatterbox::models::campplus::extract_feature(&wav, &Device::Cpu)?;
    Ok(vec![
        compare(
            "cond_campplus.head",
            &cam.head(&feat)?,
            fx.get("head")?,
            TOL_F32,
        )?,
        compare(
            "cond_campplus.xvector",
            &cam.embed(&wav, &Device::Cpu)?,
            fx.get("xvector")?,
            TOL_F32,
        )?,
    ])
}

pub(super) fn models(dir: &Path) -> Result<ConditioningModels> {
    let vb = weights(dir)?;
    ConditioningModels::load(vb.pp("ve"), vb.clone(), fixture_config())
}

/// Compares `got` with the fixture's `t3.*` (when `with_t3`) and `<g>.*` tensors.
pub(super) fn compare_conds(
    prefix: &str,
    got: &Conditionals,
    fx: &Fixture,
    with_t3: bool,
    g: &str,
) -> Result<Vec<Report>> {
    let name = |k: &str| format!("{prefix}.{k}");
    let mut out = Vec::new();
    if with_t3 {
        out.push(compare(
            &name("speaker_emb"),
            &got.t3.speaker_emb,
            fx.get("t3.speaker_emb")?,
            TOL_F32,
        )?);
        out.push(compare_ids(
            &name("cond_prompt_speech_tokens"),
            &got.t3
                .cond_prompt_speech_tokens
                .iter()
                .map(|&t| i64::from(t))
                .collect::<Vec<_>>(),
            &ids_of(fx.get("t3.cond_prompt_speech_tokens")?)?,
        ));
        out.push(compare(
            &name("emotion_adv"),
            &Tensor::full(got.t3.emotion_adv, (1, 1, 1), &Device::Cpu)?,
            fx.get("t3.emotion_adv")?,
            0.0,
        )?);
    }
    out.push(compare_ids(
        &name("prompt_token"),
        &ids_of(&got.gen.prompt_token)?,
        &ids_of(fx.get(&format!("{g}.prompt_token"))?)?,
    ));
    out.push(compare_ids(
        &name("prompt_token_len"),
        &[got.gen.prompt_token_len as i64],
        &ids_of(fx.get(&format!("{g}.prompt_token_len"))?)?,
    ));
    out.push(compare(
        &name("prompt_feat"),
        &got.gen.prompt_feat,
        fx.get(&format!("{g}.prompt_feat"))?,
        TOL_F32,
    )?);
    out.push(compare(
        &name("embedding"),
        &got.gen.embedding,
        fx.get(&format!("{g}.embedding"))?,
        TOL_F32,
    )?);
    Ok(out)
}

fn check_e2e(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "cond_e2e")?;
    let m = models(dir)?;
    let bytes = std::fs::read(dir.join("cond_ref.wav"))
        .map_err(|e| Error::io("reading cond_ref.wav", e))?;
    let wav24 = audio::load(&bytes, chatterbox::S3GEN_SR, &DecodeLimits::default())?.samples;
    let exaggeration = fx.vec("exaggeration")?[0];
    let conds = m.prepare_conditionals(&wav24, exaggeration)?;
    let mut out = compare_conds("cond_prepare_conditionals", &conds, &fx, true, "gen")?;
    // embed_ref on 7.3 s: odd mel length (365 frames), tokens cut to 182.
    let odd = m.embed_ref(&wav24[..(7.3 * 24_000.0) as usize])?;
    let odd = Conditionals {
        t3: conds.t3.clone(),
        gen: odd,
    };
    out.extend(compare_conds(
        "cond_embed_ref_odd",
        &odd,
        &fx,
        false,
        "odd",
    )?);
    Ok(out)
}

fn check_conds_pt(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "cond_conds_pt")?;
    let got = Conditionals::load_pt(&dir.join("cond_conds.pt"), &Device::Cpu)?;
    let mut out = compare_conds("cond_conds_pt", &got, &fx, true, "gen")?;
    // Exact: the reader copies bytes, so any difference is a layout bug.
    for r in &mut out {
        r.tol = 0.0;
    }
    // And our own format round-trips.
    let tmp = std::env::temp_dir().join(format!(
        "chatterbox_conds_{}.safetensors",
        std::process::id()
    ));
    got.save(&tmp)?;
    let back = Conditionals::load(&tmp, &Device::Cpu);
    let _ = std::fs::remove_file(&tmp);
    let mut rt = compare_conds("cond_conds_roundtrip", &back?, &fx, true, "gen")?;
    for r in &mut rt {
        r.tol = 0.0;
    }
    out.extend(rt);
    Ok(out)
}
