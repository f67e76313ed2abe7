//! `POST /tts`: stateless text to audio bytes in the edge-tts / EduSmart style: JSON `text`,
//! `voice` (a name, or an alias from `--voice-aliases`), `rate` (`"+10%"`, `"-20%"` or a tempo
//! multiplier such as `1.1`), `format`, and the generation parameters. Nothing is stored.

use actix_web::http::header;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;
use utoipa::ToSchema;

use crate::audio::AudioFormat;
use crate::config::Config;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::request::{media_type, BodyLimits, SynthesisRequest, MAX_FIELD_BYTES};
use crate::routes::openai::{speak, Speech};
use crate::stretch::{MAX_SPEED, MIN_SPEED};
use crate::synthesizer::Synthesizer;
use crate::voices::VoiceStore;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(tts);
}

/// Other names for voices (`en-US-JennyNeural` → `alice`), from `--voice-aliases`.
#[derive(Debug, Default, Clone)]
pub struct VoiceAliases(pub HashMap<String, String>);

impl VoiceAliases {
    /// Read a JSON object of alias → voice name.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--voice-aliases {}: {e}", path.display()))?;
        let map: HashMap<String, String> = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "--voice-aliases {}: a JSON object of alias to voice name: {e}",
                path.display()
            )
        })?;
        Ok(Self(map))
    }
}

/// `POST /tts` (documentation of the body; the handler parses it itself).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TtsRequest {
    /// What to say.
    text: String,
    /// `default`, a saved voice, or an alias from the server's `--voice-aliases` file.
    #[schema(example = "en-US-JennyNeural")]
    voice: Option<String>,
    /// Tempo: `"+10%"`, `"-20%"`, or a multiplier (`1.1`); 0.25–4.0 times, pitch kept.
    #[schema(value_type = String, example = "+10%")]
    rate: Option<Value>,
    /// `mp3` (default), `opus`, `flac`, `wav` or `pcm`.
    #[schema(example = "mp3")]
    format: Option<String>,
    /// Seed of the sampler (any `/synthesize` generation parameter may be sent too).
    seed: Option<u64>,
    /// The language of the text (ISO 639-1, one of `/info`'s `languages`; English when absent).
    #[schema(example = "en")]
    language: Option<String>,
}

/// `"+10%"` → 1.1, `"-20%"` → 0.8, `"1.25"` or `1.25` → 1.25; in range.
pub fn parse_rate(v: &Value) -> Result<f64, ApiError> {
    let bad = || {
        ApiError::InvalidParam(format!(
            "rate must be a percentage such as \"+10%\" or a multiplier from {MIN_SPEED} to \
             {MAX_SPEED}"
        ))
    };
    let speed = match v {
        Value::Number(n) => n.as_f64().ok_or_else(bad)?,
        Value::String(s) => {
            let s = s.trim();
            match s.strip_suffix('%') {
                Some(p) => 1.0 + p.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
                None => s.parse::<f64>().map_err(|_| bad())?,
            }
        }
        _ => return Err(bad()),
    };
    if speed.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&speed) {
        Ok(speed)
    } else {
        Err(bad())
    }
}

fn parse_tts(body: &[u8], limits: BodyLimits, aliases: &VoiceAliases) -> ApiResult<Speech> {
    let mut object: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    object.retain(|_, v| !v.is_null());
    if object.contains_key("session_id") {
        return Err(ApiError::UnknownField("session_id".into()));
    }
    let speed = object.remove("rate").map_or(Ok(1.0), |v| parse_rate(&v))?;
    let format = match object.remove("format") {
        None => AudioFormat::Mp3,
        Some(Value::String(f)) => AudioFormat::parse(&f).map_err(ApiError::InvalidParam)?,
        Some(_) => return Err(ApiError::InvalidJson("format must be a string".into())),
    };
    if let Some(Value::String(v)) = object.get("voice") {
        if let Some(target) = aliases.0.get(v) {
            object.insert("voice".into(), Value::String(target.clone()));
        }
    }
    let request =
        SynthesisRequest::from_json(Value::Object(object).to_string().as_bytes(), limits)?;
    Ok(Speech {
        request,
        format,
        speed,
        sse: false,
    })
}

/// Text to audio bytes, nothing stored.
#[utoipa::path(
    post,
    path = "/tts",
    tag = "synthesis",
    request_body(content((TtsRequest = "application/json"))),
    responses(
        (status = 200, description = "The audio: audio/mpeg, audio/ogg (opus), audio/flac, audio/wav or audio/pcm",
            content_type = "audio/mpeg", body = inline(crate::openapi::AudioBytes)),
        (status = 400, description = "invalid_json, invalid_param (rate, format, a generation parameter), unsupported_param, unsupported_language, unknown_field, empty_text", body = ErrorResponse),
        (status = 404, description = "voice_not_found", body = ErrorResponse),
        (status = 413, description = "body_too_large", body = ErrorResponse),
        (status = 415, description = "unsupported_media_type", body = ErrorResponse),
        (status = 422, description = "text_too_long, invalid_text", body = ErrorResponse),
        (status = 429, description = "queue_full", body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 503, description = "model_loading, model_failed, shutting_down", body = ErrorResponse),
        (status = 504, description = "timeout", body = ErrorResponse),
    )
)]
#[post("/tts")]
pub async fn tts(
    req: HttpRequest,
    body: web::Bytes,
    cfg: web::Data<Config>,
    aliases: web::Data<VoiceAliases>,
    service: web::Data<Synthesizer>,
    voices: web::Data<VoiceStore>,
) -> ApiResult<HttpResponse> {
    if !media_type(&req).starts_with("application/json") {
        return Err(ApiError::UnsupportedMediaType("send application/json"));
    }
    if body.len() > MAX_FIELD_BYTES {
        return Err(ApiError::BodyTooLarge {
            max: MAX_FIELD_BYTES,
        });
    }
    let speech = parse_tts(&body, BodyLimits::from(cfg.get_ref()), &aliases)?;
    let format = speech.format;
    let bytes = speak(speech, &service, &voices, false, cfg.loudness_lufs).await?;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rates_read_as_edge_tts_does() {
        let ok = |v: Value| parse_rate(&v).ok();
        assert_eq!(ok(json!("+10%")), Some(1.1));
        assert_eq!(ok(json!("-20%")), Some(0.8));
        assert_eq!(ok(json!("0%")), Some(1.0));
        assert_eq!(ok(json!(" +50 % ")), Some(1.5));
        assert_eq!(ok(json!(1.25)), Some(1.25));
        assert_eq!(ok(json!("2")), Some(2.0));
        for bad in [
            json!("-80%"),
            json!("+400%"),
            json!("fast"),
            json!(0.1),
            json!(5),
            json!(true),
            json!("NaN"),
        ] {
            assert!(
                parse_rate(&bad).is_err_and(|e| e.code() == "invalid_param"),
                "{bad}"
            );
        }
    }

    #[test]
    fn bodies_are_checked_and_aliases_resolved() {
        let limits = BodyLimits {
            max_text_chars: 20,
            max_upload_bytes: 10,
            variant: chatterbox::Variant::Original,
        };
        let aliases = VoiceAliases(HashMap::from([(
            "en-US-JennyNeural".to_string(),
            "alice".to_string(),
        )]));
        let parse = |v: Value| parse_tts(v.to_string().as_bytes(), limits, &aliases);
        let s = parse(
            json!({"text": "Hi", "voice": "en-US-JennyNeural", "rate": "+10%",
            "format": "wav", "seed": 2}),
        );
        let s = s.as_ref().ok();
        assert_eq!(
            s.map(|s| (s.format, s.speed)),
            Some((AudioFormat::Wav, 1.1))
        );
        assert!(matches!(
            s.map(|s| &s.request.voice),
            Some(crate::request::VoiceRequest::Named(n)) if n == "alice"
        ));
        let code = |v: Value| parse(v).err().map(|e| e.code());
        assert_eq!(
            code(json!({"text": "Hi", "format": "aac"})),
            Some("invalid_param")
        );
        assert_eq!(
            code(json!({"text": "Hi", "rate": "x"})),
            Some("invalid_param")
        );
        assert_eq!(
            code(json!({"text": "Hi", "session_id": "x"})),
            Some("unknown_field")
        );
        assert_eq!(
            code(json!({"text": "Hi", "pitch": "+1Hz"})),
            Some("unknown_field")
        );
        assert_eq!(code(json!({"text": ""})), Some("empty_text"));
        assert_eq!(
            code(json!({"text": "Hi", "format": 3})),
            Some("invalid_json")
        );
    }
}
