//! Parity of T3 on a reduced random-weight model (2 layers, hidden 64, 4 heads × 16; released
//! vocabularies, special ids and llama3 RoPE): conditioning, prefix, teacher-forced logits (one
//! full forward and KV-cached steps, CFG batch 2 and plain batch 1), logits processors against
//! transformers, and whole generations with injected uniforms (exact tokens).

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::{compare, exact, Check, Fixture, Report, TOL_F32};
use crate::manifest::Recorder;
use crate::{Error, Result};
use chatterbox::models::t3::{LlamaCache, SamplingParams, T3Cond, T3Config, T3};
use chatterbox::sampling;

pub(super) const CHECKS: &[(&str, Check)] = &[
    ("t3_model", check_t3_model),
    ("t3_sampling", check_t3_sampling),
];

#[derive(serde::Deserialize)]
struct RunParams {
    max_new_tokens: usize,
    temperature: f32,
    top_p: f32,
    min_p: f32,
    repetition_penalty: f32,
    cfg_weight: f32,
}

#[derive(serde::Deserialize)]
struct ModelJson {
    config: T3Config,
    runs: BTreeMap<String, RunParams>,
}

fn ids(fx: &Fixture, key: &str) -> Result<Vec<u32>> {
    Ok(fx
        .get(key)?
        .flatten_all()?
        .to_dtype(DType::I64)?
        .to_vec1::<i64>()?
        .into_iter()
        .map(|x| x as u32)
        .collect())
}

fn token_report(name: &str, got: &[u32], want: &[u32]) -> Report {
    let n = got.len().max(want.len());
    let bad = (0..n).filter(|&i| got.get(i) != want.get(i)).count();
    exact(name, bad, n, Some(format!("got {got:?}, want {want:?}")))
}

fn check_t3_model(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "t3_model")?;
    let json = std::fs::read_to_string(dir.join("t3_model.json"))
        .map_err(|e| Error::io("reading t3_model.json", e))?;
    let mj: ModelJson = serde_json::from_str(&json)
        .map_err(|e| Error::InvalidArgument(format!("t3_model.json: {e}")))?;
    let cfg = mj.config;
    let dev = Device::Cpu;
    let weights: HashMap<String, Tensor> = fx
        .tensors
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("w.").map(|s| (s.to_string(), v.clone())))
        .collect();
    let mut out = Vec::new();

    // The module tree requests exactly the reference state_dict (keys and shapes).
    let rec = Recorder::new();
    T3::new(&cfg, &rec.var_builder())?;
    let requested = rec.requested();
    let have: BTreeMap<String, Vec<usize>> = weights
        .iter()
        .map(|(k, v)| (k.clone(), v.dims().to_vec()))
        .collect();
    let diff: Vec<&String> = requested
        .keys()
        .chain(have.keys())
        .filter(|k| requested.get(*k) != have.get(*k))
        .collect();
    out.push(exact(
        "t3.state_dict_keys",
        diff.len(),
        have.len(),
        diff.first().map(|k| format!("first difference: {k}")),
    ));

    let t3 = T3::new(&cfg, &VarBuilder::from_tensors(weights, DType::F32, &dev))?;
    let prompt = ids(&fx, "prompt_tokens")?;
    let cond = T3Cond {
        speaker_emb: fx.get("speaker_emb")?.clone(),
        cond_prompt_speech_tokens: prompt.clone(),
        emotion_adv: fx.vec("exaggeration")?[0],
    };
    let perceiver = t3
        .cond_enc()
        .perceiver()
        .forward(&t3.prompt_embeds(&prompt)?)?;
    out.push(compare(
        "t3.perceiver",
        &perceiver,
        fx.get("perceiver_out")?,
        TOL_F32,
    )?);
    let cond_emb = t3.prepare_conditioning(&cond)?;
    out.push(compare(
        "t3.cond_emb",
        &cond_emb,
        fx.get("cond_emb")?,
        TOL_F32,
    )?);

    let text = ids(&fx, "text_tokens")?;
    let prefix = t3.prefix_embeds(&cond_emb, &text, true)?;
    out.push(compare(
        "t3.prefix_cfg",
        &prefix,
        fx.get("prefix")?,
        TOL_F32,
    )?);
    let plen = prefix.dim(1)?;

    // Teacher-forced logits: one causal forward over prefix + fed tokens ...
    let teacher = ids(&fx, "teacher_tokens")?;
    let want = fx.get("teacher_logits")?;
    let mut parts = vec![prefix.clone()];
    for (i, &tok) in teacher.iter().enumerate() {
        let e = t3.speech_input(tok, i + 1)?;
        parts.push(Tensor::cat(&[&e, &e], 0)?);
    }
    let full = Tensor::cat(&parts, 1)?;
    let mut cache = LlamaCache::new(&cfg.llama, full.dim(1)?);
    let logits = t3.forward_logits(&full, &mut cache)?;
    let logits = logits.narrow(1, plen - 1, teacher.len() + 1)?;
    out.push(compare("t3.logits_full_forward", &logits, want, TOL_F32)?);
    // ... and the KV-cached path, one token per step.
    let stepped = t3.teacher_forced_logits(&prefix, &teacher)?;
    out.push(compare("t3.logits_kv_cached", &stepped, want, TOL_F32)?);
    // Plain conditional decoding (batch 1) is row 0.
    let prefix1 = t3.prefix_embeds(&cond_emb, &text, false)?;
    let stepped1 = t3.teacher_forced_logits(&prefix1, &teacher)?;
    out.push(compare(
        "t3.logits_kv_cached_batch1",
        &stepped1,
        &want.i(0..1)?,
        TOL_F32,
    )?);

    // Whole generations, sampled with the fixture's uniforms (or greedy).
    for (name, r) in &mj.runs {
        let greedy = name.contains("greedy");
        let params = SamplingParams {
            temperature: if greedy { 0.0 } else { r.temperature },
            top_p: r.top_p,
            min_p: r.min_p,
            top_k: None,
            repetition_penalty: r.repetition_penalty,
            cfg_weight: r.cfg_weight,
            max_new_tokens: r.max_new_tokens,
            seed: 0,
            min_new_tokens: 0,
        };
        let uniforms = if greedy {
            Vec::new()
        } else {
            fx.vec(&format!("{name}.uniforms"))?
        };
        let mut it = uniforms.into_iter();
        let got = t3
            .generate_with(&cond, &text, &params, move || it.next().unwrap_or(0.5))?
            .collect_tokens()?;
        out.push(token_report(
            &format!("t3.{name}"),
            &got,
            &ids(&fx, &format!("{name}.tokens"))?,
        ));
    }
    Ok(out)
}

fn rows(t: &Tensor) -> Result<Vec<Vec<f32>>> {
    Ok(t.to_dtype(DType::F32)?.to_vec2::<f32>()?)
}

fn compare_rows(name: &str, got: Vec<Vec<f32>>, want: &Tensor) -> Result<Report> {
    let (r, c) = want.dims2()?;
    let flat: Vec<f32> = got.into_iter().flatten().collect();
    // -inf positions must agree exactly; compare finite values numerically.
    let w: Vec<f32> = want.flatten_all()?.to_vec1()?;
    let inf_mismatch = flat
        .iter()
        .zip(&w)
        .filter(|(a, b)| a.is_finite() != b.is_finite())
        .count();
    let clean = |v: &[f32]| -> Vec<f32> {
        v.iter()
            .map(|x| if x.is_finite() { *x } else { 0.0 })
            .collect()
    };
    let g = Tensor::from_vec(clean(&flat), (r, c), &Device::Cpu)?;
    let wt = Tensor::from_vec(clean(&w), (r, c), &Device::Cpu)?;
    let mut rep = compare(name, &g, &wt, TOL_F32)?;
    if inf_mismatch > 0 {
        rep.note = Some(format!("{inf_mismatch} filtered entries differ"));
    }
    Ok(rep)
}

fn check_t3_sampling(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "t3_sampling")?;
    let logits = rows(fx.get("logits")?)?;
    let id = ids(&fx, "ids")?;
    let apply = |f: &dyn Fn(&mut [f32])| -> Vec<Vec<f32>> {
        logits
            .iter()
            .map(|r| {
                let mut r = r.clone();
                f(&mut r);
                r
            })
            .collect()
    };
    let mut out = vec![
        compare_rows(
            "t3.repetition_penalty",
            apply(&|x| sampling::repetition_penalty(x, &id, 1.3)),
            fx.get("rep_pen_1.3")?,
        )?,
        compare_rows(
            "t3.temperature",
            apply(&|x| sampling::temperature(x, 0.7)),
            fx.get("temp_0.7")?,
        )?,
    ];
    for p in [0.05f32, 0.2] {
        out.push(compare_rows(
            &format!("t3.min_p_{p}"),
            apply(&|x| sampling::min_p(x, p)),
            fx.get(&format!("min_p_{p}"))?,
        )?);
    }
    for (p, key) in [
        (0.9f32, "top_p_0.9"),
        (0.5, "top_p_0.5"),
        (1.0, "top_p_1.0"),
    ] {
        out.push(compare_rows(
            &format!("t3.{key}"),
            apply(&|x| sampling::top_p(x, p)),
            fx.get(key)?,
        )?);
    }
    out.push(compare_rows(
        "t3.top_k_50",
        apply(&|x| sampling::top_k(x, 50)),
        fx.get("top_k_50")?,
    )?);

    // One whole step: CFG, penalty 1.2, temperature 0.8, min-p 0.05, top-p 0.95, draw.
    let params = SamplingParams {
        temperature: 0.8,
        top_p: 0.95,
        min_p: 0.05,
        repetition_penalty: 1.2,
        cfg_weight: 0.5,
        ..Default::default()
    };
    let mut x = sampling::cfg_combine(&logits[0], &logits[1], params.cfg_weight);
    sampling::process_logits(&mut x, &id, &params);
    out.push(compare_rows(
        "t3.step_processed",
        vec![x],
        fx.get("step.processed")?,
    )?);
    let us = fx.vec("step.uniforms")?;
    let got: Vec<u32> = us
        .iter()
        .map(|&u| {
            let mut x = sampling::cfg_combine(&logits[0], &logits[1], params.cfg_weight);
            sampling::sample_step(&mut x, &id, &params, u)
        })
        .collect();
    out.push(token_report(
        "t3.step_tokens",
        &got,
        &ids(&fx, "step.tokens")?,
    ));
    Ok(out)
}
