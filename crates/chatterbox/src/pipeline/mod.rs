//! The whole pipeline, `ChatterboxTTS.generate` (or `ChatterboxTurboTTS.generate`) in one call:
//! `punc_norm` → tokenizer → T3 (conditioned on a voice) → drop invalid tokens → S3Gen → 24 kHz.
//!
//! A model directory holds the released files of one [`Variant`] (see [`Variant::files`]): for
//! the original `ve.safetensors`, `t3_cfg.safetensors`, `s3gen.safetensors`, `tokenizer.json`,
//! `conds.pt`; for Turbo `ve.safetensors`, `t3_turbo_v1.safetensors`,
//! `s3gen_meanflow.safetensors`, the GPT-2 tokenizer files (`vocab.json`, `merges.txt`,
//! `tokenizer_config.json`, `added_tokens.json`) and `conds.pt`. The variant is detected from the
//! T3 file ([`Variant::detect`]) or given ([`Chatterbox::load_variant_with`]). A `config.json` is read
//! when present (the tiny random-weight checkpoints carry one; the released files need none). The
//! built-in voice is `conds.safetensors` (our format) if present, else `conds.pt`.
//!
//! Turbo differs only where the reference does: GPT-2 BPE text without SOT/EOT and the Turbo
//! `punc_norm`; voices loudness-normalised and a 15 s / 375-token prompt; T3 Turbo without CFG
//! with its sampling order; every id ≥ 6561 dropped and three silence tokens (4299) appended; the
//! two-step meanflow S3Gen. `exaggeration`, `cfg_weight` and `min_p` are ignored
//! ([`Variant::unsupported_params`]).
//!
//! Chatterbox Multilingual ([`Variant::Multilingual`]) is the original with a 2454-token text
//! vocabulary: `t3_mtl23ls_v2.safetensors`, `ve.pt` and `s3gen.pt` (or `.safetensors` copies),
//! `grapheme_mtl_merged_expanded_v1.json`, `Cangjie5_TC.json`, `conds.pt`. Its text goes through
//! the multilingual `punc_norm` and [`crate::text::MtlTokenizer`] in the request's language
//! (`GenerateParams::language`, English when unset), and its T3 runs the alignment stream
//! analyzer while decoding.
//!
//! Output is **not watermarked**: the reference adds Resemble's Perth neural watermark, whose
//! network ships only inside a Python package; see README.md.

mod long;
mod params;
mod stream;
mod variant;
mod vc;

pub use crate::conditioning::Conditionals;
pub use crate::models::s3gen::{PieceTiming, StreamOptions};
pub use crate::text::ChunkOptions;
pub use long::{
    chunk_seed, max_tokens_for, pause_after, trim_silence, ChunkProgress, Joiner, CROSSFADE_S,
};
pub use params::{GenerateParams, ParamKind, ParamSpec};
pub use stream::StreamTiming;
pub use variant::{
    Variant, CANGJIE_FILE, CONDS_FILE, CONDS_PT_FILE, CONFIG_FILE, HUB_REPO, MTL_TOKENIZER_FILE,
    S3GEN_FILE, S3GEN_MEANFLOW_FILE, S3GEN_PT_FILE, SPECIAL_TOKENS_MAP_FILE, T3_FILE, T3_MTL_FILE,
    T3_TURBO_FILE, TOKENIZER_FILE, TURBO_HUB_REPO, VE_FILE, VE_PT_FILE,
};
pub use vc::{
    check_source, convert_with, vc_target, VcNoise, VcOutput, VC_MAX_SOURCE_S, VC_MIN_SOURCE_S,
};

use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::audio::Audio;
use crate::checkpoint::open_checkpoint;
use crate::conditioning::{ConditioningConfig, ConditioningModels};
use crate::models::s3gen::{S3Gen, S3GenConfig};
use crate::models::t3::{
    SamplingParams, T3Cond, T3Config, T3Turbo, T3TurboConfig, TurboPrefix, T3,
};
pub use crate::nn::Quantization;
use crate::text::{
    punc_norm, punc_norm_mtl, punc_norm_turbo, EnTokenizer, Gpt2Tokenizer, MtlTokenizer,
};
use crate::{check_stop, Error, Result, ShouldStop, S3GEN_SR};

/// Sizes of every network. `Default` is the released original model; [`ModelConfig::turbo`]
/// the released Turbo. `t3` is read by the original model, `t3_turbo` by Turbo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    pub t3: T3Config,
    pub t3_turbo: T3TurboConfig,
    pub s3gen: S3GenConfig,
    pub conditioning: ConditioningConfig,
}

impl ModelConfig {
    /// The released Chatterbox-Turbo: GPT-2 medium T3, meanflow S3Gen.
    pub fn turbo() -> Self {
        Self {
            s3gen: S3GenConfig::meanflow(),
            ..Self::default()
        }
    }

    /// The released configuration of `variant`.
    pub fn released(variant: Variant) -> Self {
        match variant {
            Variant::Original => Self::default(),
            Variant::Turbo => Self::turbo(),
            Variant::Multilingual => Self {
                t3: T3Config::multilingual(),
                ..Self::default()
            },
        }
    }
}

const SOS: u32 = 6561;
const EOS: u32 = 6562;
/// `S3GEN_SIL`: the silence token Turbo appends three times (`models/s3gen/const.py:2`).
pub const S3GEN_SIL: u32 = 4299;
/// How many silence tokens Turbo appends (120 ms of audio).
pub const TURBO_SILENCE_TOKENS: usize = 3;

/// Turbo's post-T3 step (`tts_turbo.py:284-287`): drop every id ≥ 6561 wherever it is, then
/// append three silence tokens.
pub fn turbo_speech_tokens(tokens: &[u32]) -> Vec<u32> {
    let mut out: Vec<u32> = tokens.iter().copied().filter(|&t| t < SOS).collect();
    out.extend([S3GEN_SIL; TURBO_SILENCE_TOKENS]);
    out
}

/// `drop_invalid_tokens` + the `< 6561` filter of the reference: keep what lies after the first
/// start-of-speech and before the first end-of-speech, then drop every id ≥ 6561.
pub fn drop_invalid_tokens(tokens: &[u32]) -> Vec<u32> {
    let start = tokens.iter().position(|&t| t == SOS).map_or(0, |i| i + 1);
    let end = tokens
        .iter()
        .position(|&t| t == EOS)
        .unwrap_or(tokens.len());
    let end = end.max(start);
    tokens[start..end]
        .iter()
        .copied()
        .filter(|&t| t < SOS)
        .collect()
}

/// The variant-specific front half: text tokenizer and T3.
enum TextToSpeech {
    Original {
        t3: Box<T3>,
        tokenizer: EnTokenizer,
    },
    Turbo {
        t3: Box<T3Turbo>,
        tokenizer: Gpt2Tokenizer,
    },
    Multilingual {
        t3: Box<T3>,
        tokenizer: MtlTokenizer,
    },
}

/// A loaded Chatterbox model: every network, the tokenizer and the built-in voice.
pub struct Chatterbox {
    front: TextToSpeech,
    s3gen: S3Gen,
    cond: ConditioningModels,
    default_voice: Option<Conditionals>,
    device: Device,
    /// Turbo's prefilled voice conditionings, most recent last (see [`Chatterbox::t3_tokens`]).
    turbo_prefixes: std::sync::Mutex<Vec<(u64, std::sync::Arc<TurboPrefix>)>>,
}

/// Voices whose Turbo conditioning stays prefilled (≈ 74 MB each at full size).
const TURBO_PREFIXES: usize = 2;

/// Identifies a voice's T3 conditioning: its speaker embedding and prompt tokens.
fn t3_cond_key(cond: &T3Cond) -> Result<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for x in cond.speaker_emb.flatten_all()?.to_vec1::<f32>()? {
        x.to_bits().hash(&mut h);
    }
    cond.cond_prompt_speech_tokens.hash(&mut h);
    Ok(h.finish())
}

/// How to load a model: options that change memory and speed, not the network. (The variant is
/// an argument of its own: [`Chatterbox::load_variant_with`].)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadOptions {
    /// Precision of T3's backbone projections (the decode-time bottleneck), for either variant:
    /// `None` keeps the f32 arithmetic of the reference; `Q8`/`Q4` quantize at load (see
    /// [`Quantization`]).
    pub quantization: Quantization,
}

impl Chatterbox {
    /// Load a model directory (see the module docs) on the CPU, in f32; the variant is detected
    /// from its T3 file.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with(dir, &LoadOptions::default())
    }

    /// Load a model directory with `opts`; the variant is detected from its T3 file.
    pub fn load_with(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        Self::load_variant_with(dir, None, opts)
    }

    /// Load a model directory as `variant` (`None`: detect it, [`Variant::detect`]) with `opts`.
    /// A directory lacking a file the variant needs is an error naming it.
    pub fn load_variant_with(
        dir: &Path,
        variant: Option<Variant>,
        opts: &LoadOptions,
    ) -> Result<Self> {
        let variant = match variant {
            Some(v) => v,
            None => Variant::detect(dir)?,
        };
        variant.check_dir(dir)?;
        let device = Device::Cpu;
        let cfg_path = dir.join(CONFIG_FILE);
        let cfg: ModelConfig = if cfg_path.is_file() {
            let text = std::fs::read_to_string(&cfg_path)
                .map_err(|e| Error::io(format!("reading {}", cfg_path.display()), e))?;
            serde_json::from_str(&text).map_err(|e| Error::Checkpoint {
                path: cfg_path.clone(),
                msg: e.to_string(),
            })?
        } else {
            ModelConfig::released(variant)
        };
        let meanflow = cfg.s3gen.flow.estimator.meanflow;
        if meanflow != (variant == Variant::Turbo) {
            return Err(Error::Checkpoint {
                path: cfg_path,
                msg: format!(
                    "s3gen.flow.estimator.meanflow is {meanflow}, but a {variant} model {} it",
                    if variant == Variant::Turbo {
                        "needs"
                    } else {
                        "cannot use"
                    }
                ),
            });
        }
        if cfg.t3.is_multilingual() != (variant == Variant::Multilingual) {
            return Err(Error::Checkpoint {
                path: cfg_path,
                msg: format!(
                    "t3.text_tokens_dict_size is {}, but a {variant} model {} 2454 (the multilingual vocabulary)",
                    cfg.t3.text_tokens_dict_size,
                    if variant == Variant::Multilingual { "needs" } else { "cannot use" }
                ),
            });
        }
        let t3_file = variant.t3_file();
        let found = |alts: &[&str]| {
            Variant::find_in(dir, alts).ok_or_else(|| {
                Error::InvalidArgument(format!("{} lacks {}", dir.display(), alts.join(" or ")))
            })
        };
        let ve_path = found(variant.ve_files())?;
        let s3gen_path = found(variant.s3gen_files())?;
        let s3gen_file = s3gen_path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or(variant.s3gen_file());
        let ve = open_checkpoint(&ve_path, &device)?;
        let t3_vb = open_checkpoint(&dir.join(t3_file), &device)?;
        let s3 = open_checkpoint(&s3gen_path, &device)?;
        let ctx = |file: &str| {
            let path = dir.join(file);
            move |e: Error| match e {
                Error::Candle(c) => Error::Checkpoint {
                    path: path.clone(),
                    msg: c.to_string(),
                },
                other => other,
            }
        };
        let front = match variant {
            Variant::Original => TextToSpeech::Original {
                t3: Box::new(
                    T3::new_quantized(&cfg.t3, &t3_vb, opts.quantization).map_err(ctx(t3_file))?,
                ),
                tokenizer: EnTokenizer::from_file(&dir.join(TOKENIZER_FILE))?,
            },
            Variant::Turbo => {
                let tokenizer = Gpt2Tokenizer::from_dir(dir)?;
                if tokenizer.vocab_size() > cfg.t3_turbo.text_tokens_dict_size {
                    return Err(Error::Tokenizer(format!(
                        "the GPT-2 tokenizer has {} ids, T3 Turbo embeds {}",
                        tokenizer.vocab_size(),
                        cfg.t3_turbo.text_tokens_dict_size
                    )));
                }
                TextToSpeech::Turbo {
                    t3: Box::new(
                        T3Turbo::new_quantized(&cfg.t3_turbo, &t3_vb, opts.quantization)
                            .map_err(ctx(t3_file))?,
                    ),
                    tokenizer,
                }
            }
            Variant::Multilingual => {
                let cangjie = dir.join(CANGJIE_FILE);
                if !cangjie.is_file() {
                    tracing::warn!(
                        "{} has no {CANGJIE_FILE}: Chinese characters will not be converted",
                        dir.display()
                    );
                }
                let tokenizer = MtlTokenizer::from_files(
                    &dir.join(MTL_TOKENIZER_FILE),
                    cangjie.is_file().then_some(cangjie.as_path()),
                )?;
                if tokenizer.vocab_size() > cfg.t3.text_tokens_dict_size {
                    return Err(Error::Tokenizer(format!(
                        "the multilingual tokenizer has {} ids, T3 embeds {}",
                        tokenizer.vocab_size(),
                        cfg.t3.text_tokens_dict_size
                    )));
                }
                TextToSpeech::Multilingual {
                    t3: Box::new(
                        T3::new_quantized(&cfg.t3, &t3_vb, opts.quantization)
                            .map_err(ctx(t3_file))?,
                    ),
                    tokenizer,
                }
            }
        };
        let s3gen = S3Gen::new(&cfg.s3gen, &s3).map_err(ctx(s3gen_file))?;
        let cond = ConditioningModels::load(ve, s3, cfg.conditioning).map_err(ctx(s3gen_file))?;
        let default_voice = if dir.join(CONDS_FILE).is_file() {
            Some(Conditionals::load(&dir.join(CONDS_FILE), &device)?)
        } else if dir.join(CONDS_PT_FILE).is_file() {
            Some(Conditionals::load_pt(&dir.join(CONDS_PT_FILE), &device)?)
        } else {
            None
        };
        Ok(Self {
            front,
            s3gen,
            cond,
            default_voice,
            device,
            turbo_prefixes: Default::default(),
        })
    }

    /// Download (or reuse from the standard Hugging Face cache) `ResembleAI/chatterbox` and load it.
    pub fn from_hub() -> Result<Self> {
        Self::from_hub_with(&LoadOptions::default())
    }

    /// [`Chatterbox::from_hub`] with `opts`.
    pub fn from_hub_with(opts: &LoadOptions) -> Result<Self> {
        Self::from_hub_variant_with(Variant::Original, opts)
    }

    /// Download (or reuse from the standard Hugging Face cache) `variant`'s repository
    /// ([`Variant::hub_repo`], [`Variant::files`]) and load it with `opts`.
    #[cfg(feature = "hub")]
    pub fn from_hub_variant_with(variant: Variant, opts: &LoadOptions) -> Result<Self> {
        Self::load_variant_with(&download_variant_from_hub(variant)?, Some(variant), opts)
    }

    /// Without the `hub` feature there is nothing to download with.
    #[cfg(not(feature = "hub"))]
    pub fn from_hub_variant_with(_variant: Variant, _opts: &LoadOptions) -> Result<Self> {
        Err(Error::InvalidArgument(
            "this build has no Hugging Face download support (feature `hub`); pass a model directory"
                .into(),
        ))
    }

    /// Output sample rate (24 kHz).
    pub fn sample_rate(&self) -> u32 {
        S3GEN_SR
    }

    /// The built-in voice, when the model directory has one.
    pub fn default_voice(&self) -> Option<&Conditionals> {
        self.default_voice.as_ref()
    }

    /// A voice from a reference clip (any rate; it is resampled to 24 kHz with soxr HQ as
    /// `librosa.load(sr=24000)` does). Original: the first 6 s feed the T3 prompt, the first 10 s
    /// S3Gen. Turbo: the clip must be longer than 5 s and is loudness-normalised to −27 LUFS
    /// first; the first 15 s feed the T3 prompt (`exaggeration` is stored, never used).
    pub fn prepare_conditionals(&self, audio: &Audio, exaggeration: f32) -> Result<Conditionals> {
        let wav24 = audio.resampled(S3GEN_SR)?;
        match self.variant() {
            Variant::Original | Variant::Multilingual => {
                self.cond.prepare_conditionals(&wav24.samples, exaggeration)
            }
            Variant::Turbo => {
                self.cond
                    .prepare_conditionals_turbo(&wav24.samples, exaggeration, true)
            }
        }
    }

    /// Speak `text` in `voice` (or the built-in voice). `should_stop` is polled between T3's
    /// decoding steps, S3Gen's Euler steps and the vocoder's stages; when it returns true the call
    /// ends with [`Error::Cancelled`].
    pub fn generate(
        &self,
        text: &str,
        voice: Option<&Conditionals>,
        params: &GenerateParams,
        should_stop: ShouldStop,
    ) -> Result<Vec<f32>> {
        params.validate_for(self.variant())?;
        let voice = self.voice_or_default(voice)?;
        let seed = params.seed.unwrap_or_else(rand::random);
        let sampling = long::sampling_params(params, seed, params.max_new_tokens);
        let speech = self.speech_tokens(text, voice, params, &sampling, should_stop)?;
        if speech.is_empty() {
            return Err(Error::InvalidArgument(
                "the model produced no speech for this text; try another seed".into(),
            ));
        }
        check_stop(should_stop)?;
        let prompt_tokens = long::prompt_tokens(voice)?;
        let opts = params.s3gen_options(self.variant());
        self.vocode(voice, &speech, &prompt_tokens, seed, &opts, should_stop)
    }

    /// Turbo's conditioning for `voice`, prefilled once and kept for the last few voices.
    fn turbo_prefix(
        &self,
        t3: &T3Turbo,
        voice: &Conditionals,
    ) -> Result<std::sync::Arc<TurboPrefix>> {
        let key = t3_cond_key(&voice.t3)?;
        let lock = || {
            self.turbo_prefixes
                .lock()
                .map_err(|_| Error::InvalidArgument("turbo prefix cache poisoned".into()))
        };
        {
            let mut cached = lock()?;
            if let Some(i) = cached.iter().position(|(k, _)| *k == key) {
                let hit = cached.remove(i);
                let prefix = hit.1.clone();
                cached.push(hit);
                return Ok(prefix);
            }
        }
        // Computed outside the lock: other workers go on meanwhile.
        let prefix = std::sync::Arc::new(t3.prefill_conditioning(&voice.t3)?);
        let mut cached = lock()?;
        cached.retain(|(k, _)| *k != key);
        if cached.len() >= TURBO_PREFIXES {
            cached.remove(0);
        }
        cached.push((key, prefix.clone()));
        Ok(prefix)
    }

    /// Prepare what makes a streamed synthesis in `voice` (or the built-in voice) start sooner:
    /// for Turbo, its conditioning prefilled (the voice prompt's few hundred positions, most of
    /// T3's time before the first token). Nothing for the other variants.
    pub fn prepare_streaming(&self, voice: Option<&Conditionals>) -> Result<()> {
        if let TextToSpeech::Turbo { t3, .. } = &self.front {
            self.turbo_prefix(t3, self.voice_or_default(voice)?)?;
        }
        Ok(())
    }

    /// The variant's text front end and T3 on one text: T3's raw token stream (speech ids, and
    /// the start/end-of-speech ids as the variant emits them). `sampling.seed` seeds the draws.
    /// With `reuse_prefix` (streaming), Turbo continues the voice's prefilled conditioning
    /// ([`T3Turbo::generate_after`]: the same logits to rounding) instead of prefilling it.
    pub(super) fn t3_tokens<'a>(
        &'a self,
        text: &str,
        voice: &Conditionals,
        params: &GenerateParams,
        sampling: &SamplingParams,
        reuse_prefix: bool,
    ) -> Result<Box<dyn Iterator<Item = Result<u32>> + 'a>> {
        // The request's exaggeration replaces the stored one, as the reference does.
        let cond = || T3Cond {
            emotion_adv: params.exaggeration,
            ..voice.t3.clone()
        };
        Ok(match &self.front {
            TextToSpeech::Original { t3, tokenizer } => {
                let ids = tokenizer.encode_with_bounds(&punc_norm(text))?;
                Box::new(t3.generate(&cond(), &ids, sampling)?)
            }
            TextToSpeech::Multilingual { t3, tokenizer } => {
                let language =
                    Variant::Multilingual.resolve_language(params.language.as_deref())?;
                let ids = tokenizer.encode_with_bounds(&punc_norm_mtl(text), Some(language))?;
                Box::new(t3.generate(&cond(), &ids, sampling)?)
            }
            TextToSpeech::Turbo { t3, tokenizer } => {
                let ids = tokenizer.encode(&punc_norm_turbo(text))?;
                if reuse_prefix {
                    let prefix = self.turbo_prefix(t3, voice)?;
                    Box::new(t3.generate_after(&prefix, &ids, sampling)?)
                } else {
                    Box::new(t3.generate(&voice.t3, &ids, sampling)?)
                }
            }
        })
    }

    /// What S3Gen takes of T3's raw tokens: Turbo's speech ids with its silence tokens
    /// appended; otherwise what lies between start and end of speech, invalid ids dropped (the
    /// multilingual reference keeps ids >= 6561 and S3Gen then fails on them; we drop them as the
    /// original model does). Empty when T3 produced no speech.
    pub(super) fn finish_speech(&self, raw: &[u32]) -> Vec<u32> {
        match self.front {
            TextToSpeech::Turbo { .. } if raw.iter().any(|&t| t < SOS) => turbo_speech_tokens(raw),
            TextToSpeech::Turbo { .. } => Vec::new(),
            _ => drop_invalid_tokens(raw),
        }
    }

    /// The speech tokens S3Gen takes for one text (see [`Chatterbox::finish_speech`]).
    pub(super) fn speech_tokens(
        &self,
        text: &str,
        voice: &Conditionals,
        params: &GenerateParams,
        sampling: &SamplingParams,
        should_stop: ShouldStop,
    ) -> Result<Vec<u32>> {
        let mut raw = Vec::with_capacity(sampling.max_new_tokens);
        for tok in self.t3_tokens(text, voice, params, sampling, false)? {
            check_stop(should_stop)?;
            raw.push(tok?);
        }
        Ok(self.finish_speech(&raw))
    }

    /// Which model this is.
    pub fn variant(&self) -> Variant {
        match self.front {
            TextToSpeech::Original { .. } => Variant::Original,
            TextToSpeech::Turbo { .. } => Variant::Turbo,
            TextToSpeech::Multilingual { .. } => Variant::Multilingual,
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// Read a voice written by [`save_voice`] (onto the CPU).
pub fn load_voice(path: &Path) -> Result<Conditionals> {
    Conditionals::load(path, &Device::Cpu)
}

/// Save a voice atomically: a temporary sibling renamed into place, so a crash never leaves a
/// half-written voice behind.
pub fn save_voice(voice: &Conditionals, path: &Path) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    voice.save(&tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("renaming into {}", path.display()), e)
    })
}

/// Fetch the original model's five released files into the standard Hugging Face cache
/// (offline: reuse the cache).
#[cfg(feature = "hub")]
pub fn download_from_hub() -> Result<PathBuf> {
    download_variant_from_hub(Variant::Original)
}

/// Fetch `variant`'s released files ([`Variant::files`]) into the standard Hugging Face cache
/// (offline: reuse the cache). A file outside [`Variant::required_files`] that cannot be fetched
/// is skipped.
#[cfg(feature = "hub")]
pub fn download_variant_from_hub(variant: Variant) -> Result<PathBuf> {
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(true)
        .build()
        .map_err(|e| Error::InvalidArgument(format!("hub client: {e}")))?;
    let repo = api.model(variant.hub_repo().to_string());
    let mut dir = None;
    for &f in variant.files() {
        match repo.get(f) {
            Ok(p) => dir = p.parent().map(Path::to_path_buf),
            Err(e) if variant.required_files().contains(&f) => {
                return Err(Error::InvalidArgument(format!(
                    "cannot download {}/{f} (offline? set --model-dir to a local copy): {e}",
                    variant.hub_repo()
                )))
            }
            Err(e) => tracing::warn!(file = f, error = %e, "optional model file not downloaded"),
        }
    }
    dir.ok_or_else(|| Error::InvalidArgument("empty hub repository".into()))
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn f<T: Send + Sync>() {}
    f::<Chatterbox>();
    let _: Option<PathBuf> = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_tokens_are_dropped_like_the_reference() {
        assert_eq!(drop_invalid_tokens(&[1, 2, 3]), vec![1, 2, 3]);
        assert_eq!(drop_invalid_tokens(&[1, 2, EOS, 4]), vec![1, 2]);
        assert_eq!(drop_invalid_tokens(&[9, SOS, 1, 7000, 2, EOS]), vec![1, 2]);
        assert_eq!(drop_invalid_tokens(&[EOS]), Vec::<u32>::new());
    }

    #[test]
    fn turbo_drops_every_special_id_and_appends_silence() {
        assert_eq!(
            turbo_speech_tokens(&[SOS, 5, EOS, 7, 6561, 9]),
            vec![5, 7, 9, 4299, 4299, 4299]
        );
    }
}
