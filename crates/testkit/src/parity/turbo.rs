//! Parity of the Chatterbox-Turbo pieces on reduced random-weight models (`fixtures_turbo.py`):
//! T3 Turbo (GPT-2 backbone, prefix, teacher-forced logits through one full forward and the KV
//! cache, whole generations with injected uniforms), the Turbo sampling order, and the meanflow
//! flow decoder (time embedding with the end time, vector field, two-step CFM, orchestration).

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::{compare, exact, Check, Fixture, Report, TOL_F32};
use crate::manifest::Recorder;
use crate::{Error, Result};
use chatterbox::audio::loudness;
use chatterbox::models::s3gen::{EstimatorConfig, Flow, FlowConfig};
use chatterbox::models::t3::{Gpt2Cache, SamplingParams, T3Cond, T3Turbo, T3TurboConfig};
use chatterbox::sampling;
use chatterbox::text::{punc_norm_turbo, Gpt2Tokenizer};

pub(super) const CHECKS: &[(&str, Check)] = &[
    ("turbo_t3", check_turbo_t3),
    ("turbo_sampling", check_turbo_sampling),
    ("turbo_meanflow", check_turbo_meanflow),
    ("turbo_text", check_turbo_text),
    ("turbo_loudness", check_turbo_loudness),
    ("turbo_prepare_conditionals", check_turbo_cond),
];

/// Arguments of `T3.inference_turbo` for one run.
#[derive(serde::Deserialize)]
struct TurboRun {
    temperature: f32,
    top_k: usize,
    top_p: f32,
    repetition_penalty: f32,
    #[serde(default)]
    max_gen_len: usize,
}

impl TurboRun {
    fn params(&self) -> SamplingParams {
        SamplingParams {
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: Some(self.top_k),
            repetition_penalty: self.repetition_penalty,
            // One token from the prefill, then `max_gen_len` steps.
            max_new_tokens: self.max_gen_len + 1,
            // Turbo ignores both; set them off the defaults to prove it.
            min_p: 0.5,
            cfg_weight: 0.5,
            seed: 0,
            min_new_tokens: 0,
        }
    }
}

#[derive(serde::Deserialize)]
struct T3Json {
    config: T3TurboConfig,
    runs: BTreeMap<String, TurboRun>,
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<T> {
    let text = std::fs::read_to_string(dir.join(name))
        .map_err(|e| Error::io(format!("reading {name}"), e))?;
    serde_json::from_str(&text).map_err(|e| Error::InvalidArgument(format!("{name}: {e}")))
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

fn check_turbo_t3(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "turbo_t3")?;
    let tj: T3Json = read_json(dir, "turbo_t3.json")?;
    let cfg = tj.config;
    let dev = Device::Cpu;
    let weights: HashMap<String, Tensor> = fx
        .tensors
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("w.").map(|s| (s.to_string(), v.clone())))
        .collect();
    let mut out = Vec::new();

    // The module tree requests exactly the reference state_dict (keys and shapes).
    let rec = Recorder::new();
    T3Turbo::new(&cfg, &rec.var_builder())?;
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
        "turbo.t3.state_dict_keys",
        diff.len(),
        have.len(),
        diff.first().map(|k| format!("first difference: {k}")),
    ));

    let t3 = T3Turbo::new(&cfg, &VarBuilder::from_tensors(weights, DType::F32, &dev))?;
    let cond = T3Cond {
        speaker_emb: fx.get("speaker_emb")?.clone(),
        cond_prompt_speech_tokens: ids(&fx, "prompt_tokens")?,
        emotion_adv: 0.5,
    };
    let cond_emb = t3.prepare_conditioning(&cond)?;
    out.push(compare(
        "turbo.t3.cond_emb",
        &cond_emb,
        fx.get("cond_emb")?,
        TOL_F32,
    )?);
    let text = ids(&fx, "text_tokens")?;
    let prefix = t3.prefix_embeds(&cond_emb, &text)?;
    out.push(compare(
        "turbo.t3.prefix",
        &prefix,
        fx.get("prefix")?,
        TOL_F32,
    )?);
    let plen = prefix.dim(1)?;

    // Teacher-forced logits: one causal forward over prefix + fed tokens ...
    let teacher = ids(&fx, "teacher_tokens")?;
    let want = fx.get("teacher_logits")?;
    let mut parts = vec![prefix.clone()];
    for &tok in &teacher {
        parts.push(t3.speech_input(tok)?);
    }
    let full = Tensor::cat(&parts, 1)?;
    let mut cache = Gpt2Cache::new(&cfg.gpt2, full.dim(1)?);
    let logits = t3
        .forward_logits(&full, &mut cache)?
        .narrow(1, plen - 1, teacher.len() + 1)?;
    out.push(compare(
        "turbo.t3.logits_full_forward",
        &logits,
        want,
        TOL_F32,
    )?);
    // ... and the KV-cached path, one token per step.
    let stepped = t3.teacher_forced_logits(&prefix, &teacher)?;
    out.push(compare(
        "turbo.t3.logits_kv_cached",
        &stepped,
        want,
        TOL_F32,
    )?);

    // Whole `inference_turbo` runs, sampled with the fixture's uniforms (or greedy).
    for (name, run) in &tj.runs {
        let uniforms = if run.temperature > 0.0 {
            fx.vec(&format!("{name}.uniforms"))?
        } else {
            Vec::new()
        };
        let mut it = uniforms.into_iter();
        let got = t3
            .generate_with(&cond, &text, &run.params(), move || {
                it.next().unwrap_or(0.5)
            })?
            .collect_tokens()?;
        // The reference drops a final EOS; the stream yields it.
        let got: Vec<u32> = match got.split_last() {
            Some((&last, rest)) if got.len() > 1 && last == cfg.stop_speech_token => rest.to_vec(),
            _ => got,
        };
        out.push(token_report(
            &format!("turbo.t3.{name}"),
            &got,
            &ids(&fx, &format!("{name}.tokens"))?,
        ));
    }
    Ok(out)
}

fn compare_rows(name: &str, got: Vec<f32>, want: &Tensor) -> Result<Report> {
    // -inf positions must agree exactly; compare finite values numerically.
    let w: Vec<f32> = want.flatten_all()?.to_vec1()?;
    if w.len() != got.len() {
        return Ok(exact(
            name,
            1,
            1,
            Some(format!("{} values vs {}", got.len(), w.len())),
        ));
    }
    let inf_mismatch = got
        .iter()
        .zip(&w)
        .filter(|(a, b)| a.is_finite() != b.is_finite())
        .count();
    let clean = |v: &[f32]| -> Vec<f32> {
        v.iter()
            .map(|x| if x.is_finite() { *x } else { 0.0 })
            .collect()
    };
    let g = Tensor::from_vec(clean(&got), w.len(), &Device::Cpu)?;
    let wt = Tensor::from_vec(clean(&w), w.len(), &Device::Cpu)?;
    let mut rep = compare(name, &g, &wt, TOL_F32)?;
    if inf_mismatch > 0 {
        rep.note = Some(format!("{inf_mismatch} filtered entries differ"));
    }
    Ok(rep)
}

fn check_turbo_sampling(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "turbo_sampling")?;
    let settings: BTreeMap<String, TurboRun> = read_json(dir, "turbo_sampling.json")?;
    let logits: Vec<Vec<f32>> = fx.get("logits")?.to_dtype(DType::F32)?.to_vec2()?;
    let history = ids(&fx, "ids")?;
    let mut out = Vec::new();
    for (name, s) in &settings {
        let p = s.params();
        let mut processed = Vec::new();
        for row in &logits {
            let mut x = row.clone();
            sampling::process_logits_turbo(&mut x, &history, &p);
            processed.extend(x);
        }
        out.push(compare_rows(
            &format!("turbo.sampling.{name}_processed"),
            processed,
            fx.get(&format!("{name}.processed"))?,
        )?);
        let us = fx.vec(&format!("{name}.uniforms"))?;
        let got: Vec<u32> = us
            .iter()
            .enumerate()
            .map(|(i, &u)| {
                let mut x = logits[i % logits.len()].clone();
                sampling::sample_step_turbo(&mut x, &history, &p, u)
            })
            .collect();
        out.push(token_report(
            &format!("turbo.sampling.{name}_tokens"),
            &got,
            &ids(&fx, &format!("{name}.tokens"))?,
        ));
    }
    Ok(out)
}

fn check_turbo_meanflow(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "turbo_meanflow")?;
    let base = super::s3gen::flow_config();
    let cfg = FlowConfig {
        n_timesteps: 2,
        estimator: EstimatorConfig {
            meanflow: true,
            ..base.estimator.clone()
        },
        ..base
    };
    let vb = VarBuilder::from_tensors(fx.tensors.clone(), DType::F32, &Device::Cpu);
    let flow = Flow::new(&cfg, &vb.pp("flow"))?;
    let est = &flow.decoder.estimator;
    let mut out = Vec::new();

    let (t, r) = (fx.vec("temb.t")?, fx.vec("temb.r")?);
    let temb = est.time_embed(&t, Some(&r), &Device::Cpu)?;
    out.push(compare(
        "turbo.meanflow.time_embed",
        &temb,
        fx.get("temb.out")?,
        TOL_F32,
    )?);

    let f32_of = |k: &str| -> Result<Tensor> { Ok(fx.get(k)?.to_dtype(DType::F32)?) };
    let (x, mu, spk, cond) = (
        f32_of("est.x")?,
        f32_of("est.mu")?,
        f32_of("est.spk")?,
        f32_of("est.cond")?,
    );
    let v = est.forward_tr(&x, &mu, &[0.0], Some(&[0.5]), &spk, &cond)?;
    out.push(compare(
        "turbo.meanflow.estimator",
        &v,
        fx.get("est.v")?,
        TOL_F32,
    )?);

    let mel = flow
        .decoder
        .forward(&f32_of("cfm.z")?, &mu, &spk, &cond, &|| false)?;
    out.push(compare(
        "turbo.meanflow.cfm_2_steps",
        &mel,
        fx.get("cfm.mel")?,
        TOL_F32,
    )?);

    let prompt = ids(&fx, "flow.in.prompt_token")?;
    let tokens = ids(&fx, "flow.in.token")?;
    let embedding = f32_of("flow.in.embedding")?;
    let z = f32_of("flow.in.z")?;
    for name in ["even", "odd"] {
        let mel = flow.inference(
            &tokens,
            &prompt,
            &f32_of(&format!("flow.{name}.prompt_feat"))?,
            &embedding,
            &z,
            &|| false,
        )?;
        out.push(compare(
            &format!("turbo.meanflow.flow_{name}_prompt"),
            &mel,
            fx.get(&format!("flow.{name}.mel"))?,
            TOL_F32,
        )?);
    }
    Ok(out)
}

#[derive(serde::Deserialize)]
struct TextCase {
    input: String,
    normalized: String,
    ids: Vec<u32>,
}

#[derive(serde::Deserialize)]
struct TextCases {
    vocab_len: usize,
    cases: Vec<TextCase>,
}

/// The Turbo `punc_norm` and the GPT-2 tokenizer (built from the directory's files as
/// `AutoTokenizer` does) on a battery of strings with tags, spaces, digits and non-ASCII (exact).
fn check_turbo_text(dir: &Path) -> Result<Vec<Report>> {
    let tc: TextCases = read_json(dir, "turbo_text_cases.json")?;
    let tok = Gpt2Tokenizer::from_dir(&dir.join("turbo_tokenizer"))?;
    let (mut bad_norm, mut bad_ids) = (0, 0);
    let (mut first_norm, mut first_ids) = (None, None);
    for c in &tc.cases {
        let n = punc_norm_turbo(&c.input);
        if n != c.normalized {
            bad_norm += 1;
            first_norm
                .get_or_insert_with(|| format!("{:?} -> {n:?}, want {:?}", c.input, c.normalized));
        }
        let ids = tok.encode(&c.normalized)?;
        if ids != c.ids {
            bad_ids += 1;
            first_ids
                .get_or_insert_with(|| format!("{:?} -> {ids:?}, want {:?}", c.normalized, c.ids));
        }
    }
    Ok(vec![
        exact("turbo.text.punc_norm", bad_norm, tc.cases.len(), first_norm),
        exact("turbo.text.tokenizer", bad_ids, tc.cases.len(), first_ids),
        exact(
            "turbo.text.vocab_len",
            usize::from(tok.vocab_size() != tc.vocab_len),
            1,
            Some(format!("{} vs {}", tok.vocab_size(), tc.vocab_len)),
        ),
    ])
}

/// pyloudnorm's integrated loudness (to 1e-6 LU; `null` = not measurable or −inf) and
/// `norm_loudness`'s output (to −27 LUFS, unchanged for silence and clips under 400 ms).
fn check_turbo_loudness(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "turbo_loudness")?;
    let lufs: BTreeMap<String, Option<f64>> = read_json(dir, "turbo_loudness.json")?;
    let mut out = Vec::new();
    let (mut worst, mut note) = (0f64, None);
    for (name, want) in &lufs {
        let x = fx.vec(&format!("{name}.in"))?;
        let got = loudness::integrated_loudness(&x, 24000).filter(|l| l.is_finite());
        match (got, want) {
            (Some(g), Some(w)) => worst = worst.max((g - w).abs()),
            (None, None) => {}
            _ => {
                worst = f64::INFINITY;
                note.get_or_insert_with(|| format!("{name}: {got:?} vs {want:?}"));
            }
        }
        let mut y = x.clone();
        loudness::normalize_loudness(&mut y, 24000, loudness::TURBO_TARGET_LUFS);
        out.push(compare_vec_f32(
            &format!("turbo.loudness.{name}_normalized"),
            &y,
            fx.get(&format!("{name}.out"))?,
        )?);
    }
    out.insert(
        0,
        Report {
            module: "turbo.loudness.lufs".into(),
            max_abs: worst as f32,
            scale: 1.0,
            tol: 1e-6,
            note,
        },
    );
    Ok(out)
}

fn compare_vec_f32(name: &str, got: &[f32], want: &Tensor) -> Result<Report> {
    let g = Tensor::from_slice(got, got.len(), &Device::Cpu)?;
    let mut r = compare(name, &g, &want.flatten_all()?, TOL_F32)?;
    // Silence stays silence: an all-zero reference has scale 0, so demand exact equality.
    if r.scale == 0.0 && r.max_abs == 0.0 {
        r.scale = 1.0;
    }
    Ok(r)
}

/// `ChatterboxTurboTTS.prepare_conditionals` end to end (decode + resample to 24 kHz, > 5 s rule,
/// loudness normalisation, 10 s S3Gen reference, 15 s / 375-token T3 prompt, voice encoder on the
/// whole clip) with the reduced conditioning networks of the `cond_*` fixtures.
fn check_turbo_cond(dir: &Path) -> Result<Vec<Report>> {
    use chatterbox::audio::{self, DecodeLimits};
    let fx = Fixture::open(dir, "turbo_cond")?;
    let m = super::cond::models(dir)?;
    let bytes = std::fs::read(dir.join("turbo_ref.wav"))
        .map_err(|e| Error::io("reading turbo_ref.wav", e))?;
    let wav24 = audio::load(&bytes, chatterbox::S3GEN_SR, &DecodeLimits::default())?.samples;
    let conds = m.prepare_conditionals_turbo(&wav24, 0.0, true)?;
    super::cond::compare_conds("turbo.prepare_conditionals", &conds, &fx, true, "gen")
}
