//! Generation parameters: the reference `generate`'s arguments (same defaults) plus seed, top-k and
//! max_new_tokens, with validated ranges. One struct serves every model variant; each variant has
//! its own defaults ([`GenerateParams::turbo`]) and spec table ([`GenerateParams::TURBO_SPECS`]),
//! reached through [`super::Variant`].

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Every knob of one synthesis. `Default` is the original model's `ChatterboxTTS.generate`;
/// Chatterbox-Turbo's are [`GenerateParams::turbo`] (`Variant::default_params`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerateParams {
    /// Emotion exaggeration fed to T3's conditioning, 0..=2 (reference default 0.5).
    pub exaggeration: f32,
    /// Classifier-free guidance weight, 0..=1 (0 = plain conditional decoding).
    pub cfg_weight: f32,
    /// Sampling temperature, 0..=5 (0 = greedy).
    pub temperature: f32,
    /// Repetition penalty over generated speech tokens, 1..=2.
    pub repetition_penalty: f32,
    /// Min-p filter, 0..=1 (0 = off).
    pub min_p: f32,
    /// Top-p (nucleus) filter, (0, 1] (1 = off).
    pub top_p: f32,
    /// Top-k filter (0 = off).
    pub top_k: usize,
    /// RNG seed; the same seed and inputs give the same audio. `None` draws one.
    pub seed: Option<u64>,
    /// Upper bound on generated speech tokens (25 per second of audio), 1..=1000.
    pub max_new_tokens: usize,
    /// The language of the text (ISO 639-1, see [`super::Variant::languages`]); `None` is
    /// English. Only Chatterbox Multilingual speaks others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Euler steps of S3Gen's flow matching, 1..=10 (reference 10; fewer is faster and less
    /// faithful). Original model only (Turbo's meanflow decoder takes its own 2 steps).
    pub cfm_steps: usize,
    /// Seconds of the voice clip's S3Gen prompt (speech tokens and mel) kept as context, 1..=10
    /// (reference 10: the whole prompt); S3Gen's cost grows with prompt + output length.
    pub s3gen_prompt_seconds: f32,
    /// Speech tokens before which T3 may not end ([`crate::models::t3::SamplingParams`]'s
    /// `min_new_tokens`; 0: off). Not a request parameter (never serialized): benchmarks on
    /// random weights, which never learned when to stop, use it to speak a realistic length.
    #[serde(skip)]
    pub min_new_tokens: usize,
}

impl Default for GenerateParams {
    fn default() -> Self {
        Self {
            exaggeration: 0.5,
            cfg_weight: 0.5,
            temperature: 0.8,
            repetition_penalty: 1.2,
            min_p: 0.05,
            top_p: 1.0,
            top_k: 0,
            seed: None,
            max_new_tokens: 1000,
            language: None,
            cfm_steps: Self::CFM_STEPS,
            s3gen_prompt_seconds: Self::S3GEN_PROMPT_SECONDS,
            min_new_tokens: 0,
        }
    }
}

/// Whether a parameter takes any real number in its range or only whole numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    Float,
    Integer,
}

/// One generation parameter as clients see it (`/info`, the OpenAPI document, the web UI): the
/// single table that validation, documentation and the UI all read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    /// What a UI calls it.
    pub label: &'static str,
    pub kind: ParamKind,
    /// `None` for the seed (a random one is drawn).
    pub default: Option<f64>,
    pub min: f64,
    pub max: f64,
    /// The range excludes `min` itself (`top_p`).
    pub min_exclusive: bool,
    pub description: &'static str,
}

impl ParamSpec {
    /// Whether `v` lies in the range (finite, integral for integers).
    pub fn accepts(&self, v: f64) -> bool {
        let lo = if self.min_exclusive {
            v > self.min
        } else {
            v >= self.min
        };
        v.is_finite() && lo && v <= self.max && (self.kind == ParamKind::Float || v.fract() == 0.0)
    }

    /// The range in interval notation, e.g. `(0, 1]`.
    pub fn range(&self) -> String {
        let open = if self.min_exclusive { "(" } else { "[" };
        format!("{open}{}, {}]", self.min, self.max)
    }
}

const fn spec(
    (name, label): (&'static str, &'static str),
    kind: ParamKind,
    default: Option<f64>,
    (min, max, min_exclusive): (f64, f64, bool),
    description: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        label,
        kind,
        default,
        min,
        max,
        min_exclusive,
        description,
    }
}

impl GenerateParams {
    /// Largest accepted `max_new_tokens` (the reference's hard-coded limit).
    pub const MAX_NEW_TOKENS: usize = 1000;
    /// Turbo's largest `max_new_tokens`: `inference_turbo` samples one token from the prefill,
    /// then up to `max_gen_len = 1000` more.
    pub const TURBO_MAX_NEW_TOKENS: usize = 1001;
    /// The reference's CFM Euler steps (`n_timesteps`).
    pub const CFM_STEPS: usize = 10;
    /// The reference's S3Gen prompt: the first 10 s of the voice clip.
    pub const S3GEN_PROMPT_SECONDS: f32 = 10.0;

    /// `ChatterboxTurboTTS.generate`'s defaults: temperature 0.8, top-k 1000, top-p 0.95,
    /// repetition penalty 1.2, at most 1 + 1000 tokens; `exaggeration`, `cfg_weight` and `min_p`
    /// are 0 there and ignored by Turbo whatever their value.
    pub fn turbo() -> Self {
        Self {
            exaggeration: 0.0,
            cfg_weight: 0.0,
            temperature: 0.8,
            repetition_penalty: 1.2,
            min_p: 0.0,
            top_p: 0.95,
            top_k: 1000,
            seed: None,
            max_new_tokens: Self::TURBO_MAX_NEW_TOKENS,
            language: None,
            cfm_steps: Self::CFM_STEPS,
            s3gen_prompt_seconds: Self::S3GEN_PROMPT_SECONDS,
            min_new_tokens: 0,
        }
    }

    /// The S3Gen options these parameters ask for on `variant`: `None` where they are the
    /// reference's (all Euler steps, the whole prompt).
    pub fn s3gen_options(&self, variant: super::Variant) -> crate::models::s3gen::S3GenOptions {
        let steps = (variant.supports_param("cfm_steps") && self.cfm_steps != Self::CFM_STEPS)
            .then_some(self.cfm_steps);
        let prompt = (self.s3gen_prompt_seconds < Self::S3GEN_PROMPT_SECONDS)
            .then(|| (self.s3gen_prompt_seconds * 25.0).round().max(1.0) as usize);
        crate::models::s3gen::S3GenOptions {
            cfm_steps: steps,
            max_prompt_tokens: prompt,
        }
    }

    /// `ChatterboxMultilingualTTS.generate`'s defaults: the original's with repetition penalty 2.0.
    pub fn multilingual() -> Self {
        Self {
            repetition_penalty: 2.0,
            ..Self::default()
        }
    }

    /// Chatterbox Multilingual's parameters: the original's, repetition penalty 2.0 by default.
    pub const MTL_SPECS: [ParamSpec; 11] = {
        let mut s = Self::SPECS;
        s[3] = ParamSpec {
            default: Some(2.0),
            ..s[3]
        };
        s
    };

    /// Chatterbox-Turbo's parameters (no `exaggeration`, `cfg_weight`, `min_p`, `cfm_steps`),
    /// with its defaults and ranges; the rows it shares unchanged come from [`Self::SPECS`].
    pub const TURBO_SPECS: [ParamSpec; 7] = {
        let s = Self::SPECS;
        [
            s[2], // temperature
            ParamSpec {
                description: "Discourages repeating speech tokens already generated (applied after top-k and top-p).",
                ..s[3]
            },
            ParamSpec {
                default: Some(0.95),
                ..s[5]
            },
            ParamSpec {
                default: Some(1000.0),
                max: 6563.0,
                ..s[6]
            },
            s[7], // seed
            ParamSpec {
                default: Some(1001.0),
                max: 1001.0,
                ..s[8]
            },
            s[10], // s3gen_prompt_seconds
        ]
    };

    /// Every parameter with its default and range, in the order clients show them.
    pub const SPECS: [ParamSpec; 11] = [
        spec(
            ("exaggeration", "Exaggeration"),
            ParamKind::Float,
            Some(0.5),
            (0.0, 2.0, false),
            "Emotion intensity fed to T3's conditioning; 0.5 is neutral.",
        ),
        spec(
            ("cfg_weight", "CFG weight"),
            ParamKind::Float,
            Some(0.5),
            (0.0, 1.0, false),
            "Classifier-free guidance weight; lower is slower, more deliberate speech (0 = plain conditional decoding).",
        ),
        spec(
            ("temperature", "Temperature"),
            ParamKind::Float,
            Some(0.8),
            (0.0, 5.0, false),
            "Sampling randomness; 0 is greedy.",
        ),
        spec(
            ("repetition_penalty", "Repetition penalty"),
            ParamKind::Float,
            Some(1.2),
            (1.0, 2.0, false),
            "Discourages repeating speech tokens already generated.",
        ),
        spec(
            ("min_p", "Min p"),
            ParamKind::Float,
            Some(0.05),
            (0.0, 1.0, false),
            "Drops tokens below this fraction of the best one's probability (0 = off).",
        ),
        spec(
            ("top_p", "Top p"),
            ParamKind::Float,
            Some(1.0),
            (0.0, 1.0, true),
            "Nucleus sampling: keep the smallest set of tokens with this much probability (1 = off).",
        ),
        spec(
            ("top_k", "Top k"),
            ParamKind::Integer,
            Some(0.0),
            (0.0, 8194.0, false),
            "Keep only the k most likely tokens (0 = off).",
        ),
        spec(
            ("seed", "Seed"),
            ParamKind::Integer,
            None,
            (0.0, u64::MAX as f64, false),
            "RNG seed: the same seed and inputs give the same audio (random when absent).",
        ),
        spec(
            ("max_new_tokens", "Max speech tokens"),
            ParamKind::Integer,
            Some(1000.0),
            (1.0, 1000.0, false),
            "Upper bound on generated speech tokens (25 tokens ≈ 1 s of audio).",
        ),
        spec(
            ("cfm_steps", "CFM steps"),
            ParamKind::Integer,
            Some(10.0),
            (1.0, 10.0, false),
            "Euler steps of S3Gen's flow matching (10 = the reference); fewer is faster and less faithful.",
        ),
        spec(
            ("s3gen_prompt_seconds", "S3Gen prompt seconds"),
            ParamKind::Float,
            Some(10.0),
            (1.0, 10.0, false),
            "Seconds of the voice clip kept as S3Gen's acoustic prompt (10 = all of it, as the reference); shorter is faster, and may sound less like the voice.",
        ),
    ];

    /// The value of the parameter called `name` as a number (`None` for an unset seed).
    fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "exaggeration" => f64::from(self.exaggeration),
            "cfg_weight" => f64::from(self.cfg_weight),
            "temperature" => f64::from(self.temperature),
            "repetition_penalty" => f64::from(self.repetition_penalty),
            "min_p" => f64::from(self.min_p),
            "top_p" => f64::from(self.top_p),
            "top_k" => self.top_k as f64,
            "seed" => return self.seed.map(|s| s as f64),
            "max_new_tokens" => self.max_new_tokens as f64,
            "cfm_steps" => self.cfm_steps as f64,
            "s3gen_prompt_seconds" => f64::from(self.s3gen_prompt_seconds),
            _ => return None,
        })
    }

    /// Reject out-of-range values with a message naming the parameter and its range (the
    /// original model's table).
    pub fn validate(&self) -> Result<()> {
        self.validate_for(super::Variant::Original)
    }

    /// [`GenerateParams::validate`] against `variant`'s table; parameters the variant does not
    /// have are not checked (it ignores them).
    pub fn validate_for(&self, variant: super::Variant) -> Result<()> {
        variant.resolve_language(self.language.as_deref())?;
        for spec in variant.param_specs() {
            if let Some(v) = self.get(spec.name) {
                if !spec.accepts(v) {
                    return Err(Error::InvalidArgument(format!(
                        "{} must be in {}, got {v}",
                        spec.name,
                        spec.range()
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_ranges_enforced() {
        assert!(GenerateParams::default().validate().is_ok());
        let bad = [
            GenerateParams {
                exaggeration: -0.1,
                ..Default::default()
            },
            GenerateParams {
                cfg_weight: 1.5,
                ..Default::default()
            },
            GenerateParams {
                temperature: f32::NAN,
                ..Default::default()
            },
            GenerateParams {
                repetition_penalty: 0.9,
                ..Default::default()
            },
            GenerateParams {
                top_p: 0.0,
                ..Default::default()
            },
            GenerateParams {
                top_k: 9000,
                ..Default::default()
            },
            GenerateParams {
                max_new_tokens: 0,
                ..Default::default()
            },
            GenerateParams {
                cfm_steps: 0,
                ..Default::default()
            },
            GenerateParams {
                cfm_steps: 11,
                ..Default::default()
            },
            GenerateParams {
                s3gen_prompt_seconds: 0.5,
                ..Default::default()
            },
        ];
        for p in bad {
            assert!(p.validate().is_err(), "{p:?}");
        }
    }

    #[test]
    fn the_spec_table_describes_exactly_the_struct() -> serde_json::Result<()> {
        let d = GenerateParams {
            seed: Some(7),
            ..Default::default()
        };
        let json = serde_json::to_value(&d)?;
        let keys: Vec<&str> = json
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut names: Vec<&str> = GenerateParams::SPECS.iter().map(|s| s.name).collect();
        let mut keys = keys.clone();
        keys.sort_unstable();
        names.sort_unstable();
        assert_eq!(keys, names);
        let defaults = GenerateParams::default();
        for spec in GenerateParams::SPECS {
            // f32 fields: compare at f32 precision (0.05f32 is not 0.05f64).
            let f32_of = |v: Option<f64>| v.map(|v| v as f32);
            assert_eq!(
                f32_of(defaults.get(spec.name)),
                f32_of(spec.default),
                "{}",
                spec.name
            );
        }
        Ok(())
    }

    #[test]
    fn the_turbo_table_matches_turbo_defaults() -> serde_json::Result<()> {
        use crate::pipeline::Variant;
        let d = GenerateParams::turbo();
        let json = serde_json::to_value(GenerateParams {
            seed: Some(1),
            ..d.clone()
        })?;
        let mut keys: Vec<String> = json
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let mut names: Vec<String> = GenerateParams::TURBO_SPECS
            .iter()
            .map(|s| s.name.to_string())
            .chain(
                Variant::Turbo
                    .unsupported_params()
                    .iter()
                    .map(|s| s.to_string()),
            )
            .collect();
        keys.sort_unstable();
        names.sort_unstable();
        assert_eq!(keys, names);
        for spec in GenerateParams::TURBO_SPECS {
            let f32_of = |v: Option<f64>| v.map(|v| v as f32);
            assert_eq!(
                f32_of(d.get(spec.name)),
                f32_of(spec.default),
                "{}",
                spec.name
            );
        }
        // Turbo ignores (so does not validate) the original-only parameters.
        let p = GenerateParams {
            cfg_weight: 7.0,
            ..d
        };
        assert!(p.validate_for(Variant::Turbo).is_ok());
        assert!(p.validate().is_err());
        Ok(())
    }

    #[test]
    fn s3gen_options_are_the_reference_by_default() {
        use crate::models::s3gen::S3GenOptions;
        use crate::pipeline::Variant;
        let d = GenerateParams::default();
        assert_eq!(d.s3gen_options(Variant::Original), S3GenOptions::default());
        assert_eq!(
            GenerateParams::turbo().s3gen_options(Variant::Turbo),
            S3GenOptions::default()
        );
        let p = GenerateParams {
            cfm_steps: 6,
            s3gen_prompt_seconds: 4.5,
            ..d
        };
        let want = S3GenOptions {
            cfm_steps: Some(6),
            max_prompt_tokens: Some(113),
        };
        assert_eq!(p.s3gen_options(Variant::Original), want);
        // Turbo keeps its own two meanflow steps.
        assert_eq!(p.s3gen_options(Variant::Turbo).cfm_steps, None);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<GenerateParams>(r#"{"temprature": 0.5}"#).is_err());
        let p: GenerateParams = serde_json::from_str(r#"{"seed": 7}"#).unwrap_or_default();
        assert_eq!(p.seed, Some(7));
    }
}
