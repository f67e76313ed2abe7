//! `GET /info`: what this server runs and accepts: the model, its sample rate, the limits and
//! every generation parameter with its default and range (the web UI reads its limits here).

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audio::AudioFormat;
use crate::config::Config;
use crate::voices::VoiceStore;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(info);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Info {
    /// Server version.
    pub version: String,
    pub model: ModelInfo,
    pub limits: Limits,
    /// Every generation parameter, in the order clients show them.
    pub parameters: Vec<ParamSpec>,
    /// Voice names `/synthesize` accepts in `voice`.
    pub voices: Vec<String>,
    /// Audio formats the server produces.
    pub formats: Vec<AudioFormat>,
    /// The languages the model speaks (`language` in the synthesis requests); the English-only
    /// models list just `en`.
    pub languages: Vec<Language>,
}

/// One language the model speaks.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Language {
    /// ISO 639-1 code.
    #[schema(example = "fr")]
    pub code: String,
    /// English name.
    #[schema(example = "French")]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    #[schema(example = "chatterbox")]
    pub name: String,
    #[schema(example = "original")]
    pub variant: String,
    /// Hugging Face repository of the weights.
    #[schema(example = "ResembleAI/chatterbox")]
    pub repository: String,
    /// Hz of the audio produced.
    #[schema(example = 24000)]
    pub sample_rate: u32,
}

/// The server's limits (its configuration).
#[derive(Debug, Serialize, ToSchema)]
pub struct Limits {
    /// Longest accepted text, in characters.
    pub max_text_chars: usize,
    /// Largest accepted voice upload, in bytes.
    pub max_upload_bytes: usize,
    /// Shortest accepted voice clip, in seconds.
    pub min_voice_seconds: f64,
    /// Longest accepted voice clip, in seconds.
    pub max_voice_seconds: f64,
    /// Requests waiting for a worker beyond which new ones get 429.
    pub max_queue: usize,
    /// Seconds a synthesis may take (queueing included) before it is cancelled with 504.
    pub request_timeout_seconds: u64,
}

/// Whether a parameter takes any real number in its range or only whole numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    Float,
    Integer,
}

/// One generation parameter (serialized exactly as `chatterbox::ParamSpec`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ParamSpec {
    /// The JSON key or form field.
    pub name: String,
    /// What a UI calls it.
    pub label: String,
    pub kind: ParamKind,
    /// `null` for the seed (a random one is drawn).
    #[schema(required = true)]
    pub default: Option<f64>,
    pub min: f64,
    pub max: f64,
    /// The range excludes `min` itself.
    pub min_exclusive: bool,
    pub description: String,
}

impl From<&chatterbox::ParamSpec> for ParamSpec {
    fn from(s: &chatterbox::ParamSpec) -> Self {
        Self {
            name: s.name.into(),
            label: s.label.into(),
            kind: match s.kind {
                chatterbox::ParamKind::Float => ParamKind::Float,
                chatterbox::ParamKind::Integer => ParamKind::Integer,
            },
            default: s.default,
            min: s.min,
            max: s.max,
            min_exclusive: s.min_exclusive,
            description: s.description.into(),
        }
    }
}

impl Info {
    pub fn new(c: &Config, voices: &VoiceStore) -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").into(),
            model: ModelInfo {
                name: "chatterbox".into(),
                variant: c.variant().name().into(),
                repository: c.variant().hub_repo().into(),
                sample_rate: chatterbox::S3GEN_SR,
            },
            limits: Limits {
                max_text_chars: c.max_text_chars,
                max_upload_bytes: c.max_upload_bytes,
                min_voice_seconds: c.min_voice_seconds,
                max_voice_seconds: c.max_voice_seconds,
                max_queue: c.max_queue,
                request_timeout_seconds: c.request_timeout_seconds,
            },
            parameters: c
                .variant()
                .param_specs()
                .iter()
                .map(ParamSpec::from)
                .collect(),
            voices: voices.names(),
            formats: AudioFormat::ALL.to_vec(),
            languages: c
                .variant()
                .languages()
                .iter()
                .map(|&(code, name)| Language {
                    code: code.into(),
                    name: name.into(),
                })
                .collect(),
        }
    }
}

/// The model, its limits, its generation parameters, voices and formats.
#[utoipa::path(
    get,
    path = "/info",
    tag = "service",
    responses((status = 200, description = "What this server runs and accepts", body = Info))
)]
#[get("/info")]
pub async fn info(cfg: web::Data<Config>, voices: web::Data<VoiceStore>) -> web::Json<Info> {
    web::Json(Info::new(&cfg, &voices))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatterbox::GenerateParams;

    #[test]
    fn the_mirror_serializes_like_the_synthesis_crate_spec() {
        for spec in GenerateParams::SPECS
            .iter()
            .chain(&GenerateParams::TURBO_SPECS)
            .chain(&GenerateParams::MTL_SPECS)
        {
            let ours = serde_json::to_value(ParamSpec::from(spec)).ok();
            let theirs = serde_json::to_value(spec).ok();
            assert!(ours.is_some());
            assert_eq!(ours, theirs, "{}", spec.name);
        }
    }
}
