//! The whole pipeline, `ChatterboxTTS.generate` in one call:
//! `punc_norm` → tokenizer → T3 (conditioned on a voice) → drop invalid tokens → S3Gen → 24 kHz.
//!
//! A model directory holds the five released files (`ve.safetensors`, `t3_cfg.safetensors`,
//! `s3gen.safetensors`, `tokenizer.json`, `conds.pt`). A `config.json` is read when present (the
//! tiny random-weight checkpoints carry one; the released files need none). The built-in voice is
//! `conds.safetensors` (our format) if present, else `conds.pt`.
//!
//! Output is **not watermarked**: the reference adds Resemble's Perth neural watermark, whose
//! network ships only inside a Python package; see README.md.

mod long;
mod params;

pub use crate::conditioning::Conditionals;
pub use crate::text::ChunkOptions;
pub use long::{
    chunk_seed, max_tokens_for, pause_after, trim_silence, ChunkProgress, Joiner, CROSSFADE_S,
};
pub use params::{GenerateParams, ParamKind, ParamSpec};

use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::audio::Audio;
use crate::checkpoint::open_checkpoint;
use crate::conditioning::{ConditioningConfig, ConditioningModels};
use crate::models::s3gen::{S3Gen, S3GenConfig};
use crate::models::t3::{T3Cond, T3Config, T3};
pub use crate::nn::Quantization;
use crate::text::{punc_norm, EnTokenizer};
use crate::{check_stop, Error, Result, ShouldStop, S3GEN_SR};

/// Sizes of every network. `Default` is the released English model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    pub t3: T3Config,
    pub s3gen: S3GenConfig,
    pub conditioning: ConditioningConfig,
}

/// File names inside a model directory.
pub const VE_FILE: &str = "ve.safetensors";
pub const T3_FILE: &str = "t3_cfg.safetensors";
pub const S3GEN_FILE: &str = "s3gen.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const CONDS_PT_FILE: &str = "conds.pt";
pub const CONDS_FILE: &str = "conds.safetensors";
pub const CONFIG_FILE: &str = "config.json";
/// The Hugging Face repository of the released model.
pub const HUB_REPO: &str = "ResembleAI/chatterbox";

/// Which Chatterbox model a process serves (one per process). Each variant names its hub
/// repository and files; the variants still to come (Turbo: a GPT-2 T3 and a two-step flow
/// decoder; Multilingual: a grapheme tokenizer and the alignment-guided stop) add their networks
/// under `models/` and a case here, not a second pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// `ChatterboxTTS` (`tts.py`): Llama T3 with CFG, ten-step flow decoder.
    Original,
}

impl Variant {
    /// Lower-case name, as in `--model original`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Original => "original",
        }
    }

    /// The Hugging Face repository the released files come from.
    pub fn hub_repo(self) -> &'static str {
        match self {
            Self::Original => HUB_REPO,
        }
    }

    /// The released files a model directory of this variant holds.
    pub fn files(self) -> &'static [&'static str] {
        match self {
            Self::Original => &[VE_FILE, T3_FILE, S3GEN_FILE, TOKENIZER_FILE, CONDS_PT_FILE],
        }
    }
}

const SOS: u32 = 6561;
const EOS: u32 = 6562;

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

/// A loaded Chatterbox model: every network, the tokenizer and the built-in voice.
pub struct Chatterbox {
    t3: T3,
    s3gen: S3Gen,
    cond: ConditioningModels,
    tokenizer: EnTokenizer,
    default_voice: Option<Conditionals>,
    device: Device,
}

/// How to load a model: options that change memory and speed, not the network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadOptions {
    /// Precision of T3's backbone projections (the decode-time bottleneck): `None` keeps the f32
    /// arithmetic of the reference; `Q8`/`Q4` quantize at load (see [`Quantization`]).
    pub quantization: Quantization,
}

impl Chatterbox {
    /// Load a model directory (see the module docs) on the CPU, in f32.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with(dir, &LoadOptions::default())
    }

    /// Load a model directory with `opts`.
    pub fn load_with(dir: &Path, opts: &LoadOptions) -> Result<Self> {
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
            ModelConfig::default()
        };
        let ve = open_checkpoint(&dir.join(VE_FILE), &device)?;
        let t3_vb = open_checkpoint(&dir.join(T3_FILE), &device)?;
        let s3 = open_checkpoint(&dir.join(S3GEN_FILE), &device)?;
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
        let t3 = T3::new_quantized(&cfg.t3, &t3_vb, opts.quantization).map_err(ctx(T3_FILE))?;
        let s3gen = S3Gen::new(&cfg.s3gen, &s3).map_err(ctx(S3GEN_FILE))?;
        let cond = ConditioningModels::load(ve, s3, cfg.conditioning).map_err(ctx(S3GEN_FILE))?;
        let tokenizer = EnTokenizer::from_file(&dir.join(TOKENIZER_FILE))?;
        let default_voice = if dir.join(CONDS_FILE).is_file() {
            Some(Conditionals::load(&dir.join(CONDS_FILE), &device)?)
        } else if dir.join(CONDS_PT_FILE).is_file() {
            Some(Conditionals::load_pt(&dir.join(CONDS_PT_FILE), &device)?)
        } else {
            None
        };
        Ok(Self {
            t3,
            s3gen,
            cond,
            tokenizer,
            default_voice,
            device,
        })
    }

    /// Download (or reuse from the standard Hugging Face cache) `ResembleAI/chatterbox` and load it.
    pub fn from_hub() -> Result<Self> {
        Self::from_hub_with(&LoadOptions::default())
    }

    /// [`Chatterbox::from_hub`] with `opts`.
    #[cfg(feature = "hub")]
    pub fn from_hub_with(opts: &LoadOptions) -> Result<Self> {
        Self::load_with(&download_from_hub()?, opts)
    }

    /// Without the `hub` feature there is nothing to download with.
    #[cfg(not(feature = "hub"))]
    pub fn from_hub_with(_opts: &LoadOptions) -> Result<Self> {
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
    /// `librosa.load(sr=24000)` does). The first 6 s feed the T3 prompt, the first 10 s S3Gen.
    pub fn prepare_conditionals(&self, audio: &Audio, exaggeration: f32) -> Result<Conditionals> {
        let wav24 = audio.resampled(S3GEN_SR)?;
        self.cond.prepare_conditionals(&wav24.samples, exaggeration)
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
        params.validate()?;
        let voice = self.voice_or_default(voice)?;
        let text = punc_norm(text);
        let ids = self.tokenizer.encode_with_bounds(&text)?;
        // The request's exaggeration replaces the stored one, as the reference's `generate` does.
        let cond = T3Cond {
            emotion_adv: params.exaggeration,
            ..voice.t3.clone()
        };
        let seed = params.seed.unwrap_or_else(rand::random);
        let sampling = long::sampling_params(params, seed, params.max_new_tokens);
        let mut speech = Vec::with_capacity(params.max_new_tokens);
        for tok in self.t3.generate(&cond, &ids, &sampling)? {
            check_stop(should_stop)?;
            speech.push(tok?);
        }
        let speech = drop_invalid_tokens(&speech);
        if speech.is_empty() {
            return Err(Error::InvalidArgument(
                "the model produced no speech for this text; try another seed".into(),
            ));
        }
        check_stop(should_stop)?;
        let prompt_tokens = long::prompt_tokens(voice)?;
        self.vocode(voice, &speech, &prompt_tokens, seed, should_stop)
    }

    /// Which model this is.
    pub fn variant(&self) -> Variant {
        Variant::Original
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

/// Fetch the five released files into the standard Hugging Face cache (offline: reuse the cache).
#[cfg(feature = "hub")]
pub fn download_from_hub() -> Result<PathBuf> {
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(true)
        .build()
        .map_err(|e| Error::InvalidArgument(format!("hub client: {e}")))?;
    let variant = Variant::Original;
    let repo = api.model(variant.hub_repo().to_string());
    let mut dir = None;
    for &f in variant.files() {
        let p = repo.get(f).map_err(|e| {
            Error::InvalidArgument(format!(
                "cannot download {}/{f} (offline? set --model-dir to a local copy): {e}",
                variant.hub_repo()
            ))
        })?;
        dir = p.parent().map(Path::to_path_buf);
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
}
