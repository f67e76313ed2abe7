//! Which Chatterbox model a process serves, and everything that differs per model at the API
//! level: hub repository and files, detection from a model directory, the generation parameters
//! it takes (with its own defaults) and the ones it ignores.

use serde::{Deserialize, Serialize};
use std::path::Path;

use super::params::{GenerateParams, ParamSpec};
use crate::text::{ADDED_TOKENS_FILE, MERGES_FILE, TOKENIZER_CONFIG_FILE, VOCAB_FILE};
use crate::{Error, Result};

/// File names inside a model directory.
pub const VE_FILE: &str = "ve.safetensors";
pub const T3_FILE: &str = "t3_cfg.safetensors";
pub const S3GEN_FILE: &str = "s3gen.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const CONDS_PT_FILE: &str = "conds.pt";
pub const CONDS_FILE: &str = "conds.safetensors";
pub const CONFIG_FILE: &str = "config.json";
/// Chatterbox-Turbo's GPT-2 T3.
pub const T3_TURBO_FILE: &str = "t3_turbo_v1.safetensors";
/// Chatterbox-Turbo's S3Gen with the meanflow decoder (also holds the S3 tokenizer and CAMPPlus).
pub const S3GEN_MEANFLOW_FILE: &str = "s3gen_meanflow.safetensors";
pub const SPECIAL_TOKENS_MAP_FILE: &str = "special_tokens_map.json";
/// Chatterbox Multilingual's T3 (text vocabulary 2454).
pub const T3_MTL_FILE: &str = "t3_mtl23ls_v2.safetensors";
/// Chatterbox Multilingual's voice encoder and S3Gen: torch pickles of the same state dicts as
/// the original's safetensors (a model directory may hold either form).
pub const VE_PT_FILE: &str = "ve.pt";
pub const S3GEN_PT_FILE: &str = "s3gen.pt";
/// Chatterbox Multilingual's text tokenizer (HF `tokenizers` JSON).
pub const MTL_TOKENIZER_FILE: &str = "grapheme_mtl_merged_expanded_v1.json";
/// The Cangjie table for Chinese (`ChineseCangjieConverter`).
pub const CANGJIE_FILE: &str = "Cangjie5_TC.json";
/// The Hugging Face repository of the released original model.
pub const HUB_REPO: &str = "ResembleAI/chatterbox";
/// The Hugging Face repository of Chatterbox-Turbo.
pub const TURBO_HUB_REPO: &str = "ResembleAI/chatterbox-turbo";

/// Which Chatterbox model a process serves (one per process). Each variant names its hub
/// repository and files; its networks live under `models/` (the Turbo T3 is
/// [`crate::models::t3::T3Turbo`], its flow decoder the meanflow mode of
/// [`crate::models::s3gen`]) and [`super::Chatterbox`] dispatches on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// `ChatterboxTTS` (`tts.py`): Llama T3 with CFG, ten-step flow decoder.
    #[default]
    Original,
    /// `ChatterboxTurboTTS` (`tts_turbo.py`): GPT-2 medium T3 without CFG, GPT-2 BPE text,
    /// prompts loudness-normalised to −27 LUFS, two-step meanflow decoder without CFG.
    Turbo,
    /// `ChatterboxMultilingualTTS` (`mtl_tts.py`): the original's networks with a 2454-token text
    /// vocabulary, 23 languages (a `[xx]` tag, per-language text steps), the alignment stream
    /// analyzer during T3 decoding, repetition penalty 2.0 by default.
    Multilingual,
}

/// Turbo's generation parameters that the original has and Turbo ignores (the reference logs a
/// warning and drops them).
const TURBO_UNSUPPORTED: [&str; 4] = ["exaggeration", "cfg_weight", "min_p", "cfm_steps"];

impl Variant {
    /// Every variant, in `--model` order.
    pub const ALL: [Variant; 3] = [Variant::Original, Variant::Turbo, Variant::Multilingual];

    /// Lower-case name, as in `--model original|turbo`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Original => "original",
            Self::Turbo => "turbo",
            Self::Multilingual => "multilingual",
        }
    }

    /// The variant called `name` (`original`, `turbo`; case-insensitive).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown model {name:?} (expected one of: original, turbo, multilingual)"
                ))
            })
    }

    /// The Hugging Face repository the released files come from.
    pub fn hub_repo(self) -> &'static str {
        match self {
            Self::Original | Self::Multilingual => HUB_REPO,
            Self::Turbo => TURBO_HUB_REPO,
        }
    }

    /// The T3 checkpoint file, which also identifies the variant in a model directory.
    pub fn t3_file(self) -> &'static str {
        match self {
            Self::Original => T3_FILE,
            Self::Turbo => T3_TURBO_FILE,
            Self::Multilingual => T3_MTL_FILE,
        }
    }

    /// The S3Gen checkpoint file (flow + HiFT, and the S3 tokenizer and CAMPPlus) the release
    /// ships.
    pub fn s3gen_file(self) -> &'static str {
        match self {
            Self::Original => S3GEN_FILE,
            Self::Turbo => S3GEN_MEANFLOW_FILE,
            Self::Multilingual => S3GEN_PT_FILE,
        }
    }

    /// The S3Gen files this variant reads, in order of preference (the first present is used):
    /// Multilingual takes the released `s3gen.pt`, else a `s3gen.safetensors` (a converted copy,
    /// or a tiny checkpoint's). The `.pt` comes first because the hub snapshot of
    /// `ResembleAI/chatterbox` is one directory for both models, and the original's
    /// `s3gen.safetensors` there may hold other weights.
    pub fn s3gen_files(self) -> &'static [&'static str] {
        match self {
            Self::Original => &[S3GEN_FILE],
            Self::Turbo => &[S3GEN_MEANFLOW_FILE],
            Self::Multilingual => &[S3GEN_PT_FILE, S3GEN_FILE],
        }
    }

    /// The voice-encoder files this variant reads, in order of preference (as
    /// [`Variant::s3gen_files`]).
    pub fn ve_files(self) -> &'static [&'static str] {
        match self {
            Self::Original | Self::Turbo => &[VE_FILE],
            Self::Multilingual => &[VE_PT_FILE, VE_FILE],
        }
    }

    /// The first of `candidates` present in `dir`.
    pub fn find_in(dir: &Path, candidates: &[&str]) -> Option<std::path::PathBuf> {
        candidates.iter().map(|f| dir.join(f)).find(|p| p.is_file())
    }

    /// Every released file this variant reads (what the hub download fetches). The Turbo repo's
    /// `s3gen.safetensors`, which the reference downloads but never reads, is not among them.
    pub fn files(self) -> &'static [&'static str] {
        match self {
            Self::Original => &[VE_FILE, T3_FILE, S3GEN_FILE, TOKENIZER_FILE, CONDS_PT_FILE],
            Self::Turbo => &[
                VE_FILE,
                T3_TURBO_FILE,
                S3GEN_MEANFLOW_FILE,
                VOCAB_FILE,
                MERGES_FILE,
                TOKENIZER_CONFIG_FILE,
                ADDED_TOKENS_FILE,
                SPECIAL_TOKENS_MAP_FILE,
                CONDS_PT_FILE,
            ],
            Self::Multilingual => &[
                VE_PT_FILE,
                T3_MTL_FILE,
                S3GEN_PT_FILE,
                MTL_TOKENIZER_FILE,
                CANGJIE_FILE,
                CONDS_PT_FILE,
            ],
        }
    }

    /// The files a model directory must hold (the rest of [`Variant::files`] is optional: the
    /// built-in voice, and tokenizer files whose content may live elsewhere).
    pub fn required_files(self) -> &'static [&'static str] {
        match self {
            Self::Original => &[VE_FILE, T3_FILE, S3GEN_FILE, TOKENIZER_FILE],
            Self::Turbo => &[
                VE_FILE,
                T3_TURBO_FILE,
                S3GEN_MEANFLOW_FILE,
                VOCAB_FILE,
                MERGES_FILE,
            ],
            // The voice encoder and S3Gen may come in either form (`ve_files`, `s3gen_files`);
            // without the Cangjie table Chinese passes unconverted (the reference's fallback).
            Self::Multilingual => &[VE_PT_FILE, T3_MTL_FILE, S3GEN_PT_FILE, MTL_TOKENIZER_FILE],
        }
    }

    /// [`Variant::required_files`] as a model directory must hold them: one name per file, or
    /// the alternatives of a file that may come in either form.
    fn required_in_dir(self) -> Vec<&'static [&'static str]> {
        let mut out: Vec<&'static [&'static str]> = vec![self.ve_files(), self.s3gen_files()];
        for f in self.required_files() {
            if !self.ve_files().contains(f) && !self.s3gen_files().contains(f) {
                out.push(std::slice::from_ref(f));
            }
        }
        out
    }

    /// The variant of the model directory `dir`, told by its T3 file (`t3_cfg.safetensors` or
    /// `t3_turbo_v1.safetensors`). A directory with both (or neither) is an error naming them:
    /// choose with `--model`.
    pub fn detect(dir: &Path) -> Result<Self> {
        let found: Vec<Variant> = Self::ALL
            .into_iter()
            .filter(|v| dir.join(v.t3_file()).is_file())
            .collect();
        match found[..] {
            [v] => Ok(v),
            [] => Err(Error::InvalidArgument(format!(
                "{} holds no T3 checkpoint ({T3_FILE} for the original model, {T3_TURBO_FILE} for Turbo, {T3_MTL_FILE} for Multilingual)",
                dir.display()
            ))),
            _ => Err(Error::InvalidArgument(format!(
                "{} holds the T3 checkpoints of several models ({}); choose the model explicitly",
                dir.display(),
                found.iter().map(|v| v.t3_file()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// Check that `dir` has every file this variant needs.
    pub fn check_dir(self, dir: &Path) -> Result<()> {
        let missing: Vec<String> = self
            .required_in_dir()
            .into_iter()
            .filter(|alts| Self::find_in(dir, alts).is_none())
            .map(|alts| alts.join(" or "))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "{} is not a {} model directory: missing {}",
                dir.display(),
                self.name(),
                missing.join(", ")
            )))
        }
    }

    /// The defaults of this variant's `generate` (`ChatterboxTTS.generate` /
    /// `ChatterboxTurboTTS.generate`). Start every request from these, not from
    /// `GenerateParams::default()` (the original's).
    pub fn default_params(self) -> GenerateParams {
        match self {
            Self::Original => GenerateParams::default(),
            Self::Turbo => GenerateParams::turbo(),
            Self::Multilingual => GenerateParams::multilingual(),
        }
    }

    /// The parameters this variant takes, with its defaults and ranges, in the order clients
    /// show them (`/info`, OpenAPI, the web UI). Turbo's table has no `exaggeration`,
    /// `cfg_weight` or `min_p` (see [`Variant::unsupported_params`]).
    pub fn param_specs(self) -> &'static [ParamSpec] {
        match self {
            Self::Original => &GenerateParams::SPECS,
            Self::Turbo => &GenerateParams::TURBO_SPECS,
            Self::Multilingual => &GenerateParams::MTL_SPECS,
        }
    }

    /// Parameters of [`GenerateParams`] this variant does not have: `generate` ignores them (as
    /// the reference does). A server should reject a request that sets one (HTTP 400 naming the
    /// parameter and the model) rather than silently drop it.
    pub fn unsupported_params(self) -> &'static [&'static str] {
        match self {
            Self::Original | Self::Multilingual => &[],
            Self::Turbo => &TURBO_UNSUPPORTED,
        }
    }

    /// The languages this variant speaks: ISO 639-1 code and English name. The English-only
    /// models list just `en`.
    pub fn languages(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Original | Self::Turbo => &crate::text::LANGUAGES[4..5],
            Self::Multilingual => &crate::text::LANGUAGES,
        }
    }

    /// `language` (case-insensitive) as this variant's lower-case code, or an error naming the
    /// supported ones. `None` is English.
    pub fn resolve_language(self, language: Option<&str>) -> Result<&'static str> {
        let Some(l) = language.map(str::trim).filter(|l| !l.is_empty()) else {
            return Ok("en");
        };
        let lower = l.to_lowercase();
        self.languages()
            .iter()
            .find(|(c, _)| *c == lower)
            .map(|&(c, _)| c)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unsupported language {l:?} for the {} model; supported: {}",
                    self.name(),
                    self.languages()
                        .iter()
                        .map(|(c, _)| *c)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// Whether this variant uses the parameter called `name`.
    pub fn supports_param(self, name: &str) -> bool {
        self.param_specs().iter().any(|s| s.name == name)
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Variant {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_tables_agree() {
        for v in Variant::ALL {
            assert_eq!(Variant::from_name(v.name()).ok(), Some(v));
            assert_eq!(v.name().parse::<Variant>().ok(), Some(v));
            assert!(v.default_params().validate_for(v).is_ok(), "{v}");
            for f in v.required_files() {
                assert!(v.files().contains(f), "{v}: {f}");
            }
            for p in v.unsupported_params() {
                assert!(!v.supports_param(p), "{v}: {p}");
                assert!(Variant::Original.supports_param(p));
            }
        }
        assert!(Variant::from_name("klingon").is_err());
        assert_eq!(Variant::Multilingual.hub_repo(), "ResembleAI/chatterbox");
        assert_eq!(Variant::Multilingual.languages().len(), 23);
        assert_eq!(Variant::Original.languages(), &[("en", "English")]);
        assert_eq!(
            Variant::Original.resolve_language(Some("EN")).ok(),
            Some("en")
        );
        assert!(Variant::Turbo.resolve_language(Some("fr")).is_err());
        assert_eq!(
            Variant::Multilingual.resolve_language(Some("Fr")).ok(),
            Some("fr")
        );
        assert_eq!(
            Variant::Multilingual.resolve_language(None).ok(),
            Some("en")
        );
        assert_eq!(
            Variant::Multilingual.default_params().repetition_penalty,
            2.0
        );
        assert_eq!(Variant::Turbo.hub_repo(), "ResembleAI/chatterbox-turbo");
    }

    #[test]
    fn detection_by_t3_file() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("cbx-variant-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("mkdir", e))?;
        let touch = |f: &str| std::fs::write(dir.join(f), b"").map_err(|e| Error::io("touch", e));
        assert!(Variant::detect(&dir).is_err());
        touch(T3_TURBO_FILE)?;
        assert_eq!(Variant::detect(&dir)?, Variant::Turbo);
        assert!(Variant::Turbo.check_dir(&dir).is_err());
        touch(T3_FILE)?;
        assert!(Variant::detect(&dir).is_err());
        std::fs::remove_file(dir.join(T3_FILE)).map_err(|e| Error::io("rm", e))?;
        std::fs::remove_file(dir.join(T3_TURBO_FILE)).map_err(|e| Error::io("rm", e))?;
        touch(T3_MTL_FILE)?;
        assert_eq!(Variant::detect(&dir)?, Variant::Multilingual);
        touch(MTL_TOKENIZER_FILE)?;
        touch(VE_FILE)?;
        touch(S3GEN_PT_FILE)?;
        // The voice encoder and S3Gen in either form.
        assert!(Variant::Multilingual.check_dir(&dir).is_ok());
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io("rm", e))?;
        Ok(())
    }
}
