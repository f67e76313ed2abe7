//! `POST /synthesize` bodies, JSON or multipart, parsed once into a validated
//! [`SynthesisRequest`]. The generation parameters are `chatterbox::GenerateParams` itself: its
//! spec table names them and gives each its kind, so nothing here lists them.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use chatterbox::{GenerateParams, ParamKind};
use futures_util::future::LocalBoxFuture;
use futures_util::{Stream, StreamExt};
use serde_json::{Map, Value};
use std::time::Instant;
use uuid::Uuid;

use crate::config::Config;
use crate::error::ApiError;

/// Largest JSON body or multipart text field when the text limit asks for less (see
/// [`BodyLimits::max_field_bytes`]).
pub const MAX_FIELD_BYTES: usize = 64 * 1024;
/// The multipart file field carrying a voice clip.
pub const VOICE_PROMPT: &str = "voice_prompt";
/// Fields besides the generation parameters.
pub const TEXT_FIELDS: [&str; 4] = ["text", "session_id", "voice", LANGUAGE_FIELD];
/// The language of the text (ISO 639-1; `/info` lists the loaded model's).
pub const LANGUAGE_FIELD: &str = "language";
/// The field asking for the audio as a stream (a JSON boolean; in a form `true`/`false`, `1`/`0`,
/// `on`/`off`).
pub const STREAM_FIELD: &str = "stream";

/// Which voice a request asks for.
#[derive(Debug)]
pub enum VoiceRequest {
    /// None named: the session's voice if it has one, else the default.
    Unspecified,
    /// A voice by name.
    Named(String),
    /// An uploaded clip (undecoded bytes).
    Upload(Vec<u8>),
}

/// A synthesis request that passed every check that needs no state.
#[derive(Debug)]
pub struct SynthesisRequest {
    /// Non-empty, within the character limit.
    pub text: String,
    /// A well-formed session id (it may still not exist).
    pub session_id: Option<Uuid>,
    pub voice: VoiceRequest,
    /// In range.
    pub params: GenerateParams,
    /// Answer with the audio as it is produced (chunked `audio/wav`) instead of JSON.
    pub stream: bool,
    /// When the request started arriving.
    pub received: Instant,
}

/// The limits a body is checked against.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_text_chars: usize,
    pub max_upload_bytes: usize,
    /// The model whose parameters (and defaults) apply.
    pub variant: chatterbox::Variant,
}

impl BodyLimits {
    /// Largest JSON body or multipart text field: room for the longest text even when every
    /// character is escaped, and never less than [`MAX_FIELD_BYTES`].
    pub fn max_field_bytes(&self) -> usize {
        self.max_text_chars
            .saturating_mul(6)
            .saturating_add(1024)
            .max(MAX_FIELD_BYTES)
    }
}

impl From<&Config> for BodyLimits {
    fn from(c: &Config) -> Self {
        Self {
            max_text_chars: c.max_text_chars,
            max_upload_bytes: c.max_upload_bytes,
            variant: c.variant(),
        }
    }
}

/// Fields as they arrived, before validation.
#[derive(Default)]
struct Fields {
    text: Option<String>,
    session_id: Option<String>,
    voice: Option<String>,
    language: Option<String>,
    upload: Option<Vec<u8>>,
    params: Map<String, Value>,
    stream: bool,
}

fn is_param(name: &str) -> bool {
    GenerateParams::SPECS.iter().any(|s| s.name == name)
}

/// A canonical hyphenated UUID, nothing else (no braces, no `urn:`, no path tricks).
pub fn parse_session_id(s: &str) -> Option<Uuid> {
    (s.len() == 36).then(|| Uuid::parse_str(s).ok()).flatten()
}

impl SynthesisRequest {
    /// Parse and validate a JSON body.
    pub fn from_json(body: &[u8], limits: BodyLimits) -> Result<Self, ApiError> {
        let received = Instant::now();
        let object: Map<String, Value> =
            serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
        let mut fields = Fields::default();
        for (key, value) in object {
            if value.is_null() {
                continue; // null means absent
            }
            let string = |v: Value| match v {
                Value::String(s) => Ok(s),
                _ => Err(ApiError::InvalidJson(format!("{key} must be a string"))),
            };
            match key.as_str() {
                "text" => fields.text = Some(string(value)?),
                "session_id" => fields.session_id = Some(string(value)?),
                "voice" => fields.voice = Some(string(value)?),
                LANGUAGE_FIELD => fields.language = Some(string(value)?),
                STREAM_FIELD => {
                    fields.stream = value.as_bool().ok_or_else(|| {
                        ApiError::InvalidJson(format!("{STREAM_FIELD} must be a boolean"))
                    })?
                }
                name if is_param(name) => {
                    fields.params.insert(key, value);
                }
                _ => return Err(ApiError::UnknownField(key)),
            }
        }
        Self::validate(fields, limits, received)
    }

    /// Read and validate a `multipart/form-data` body, rejecting oversized parts while streaming.
    pub async fn from_multipart(mut form: Multipart, limits: BodyLimits) -> Result<Self, ApiError> {
        let received = Instant::now();
        let mut fields = Fields::default();
        while let Some(field) = form.next().await {
            let mut field = field.map_err(malformed)?;
            let name = field.name().unwrap_or("").to_string();
            let known =
                TEXT_FIELDS.contains(&name.as_str()) || name == STREAM_FIELD || is_param(&name);
            if name != VOICE_PROMPT && !known {
                return Err(ApiError::UnknownField(name));
            }
            let limit = if name == VOICE_PROMPT {
                limits.max_upload_bytes
            } else {
                limits.max_field_bytes()
            };
            let buf = read_field(&mut field, &name, limit, name == VOICE_PROMPT).await?;
            if name == VOICE_PROMPT {
                // A form with an empty file input sends a zero-length part: treat it as absent
                // only when it also has no filename.
                let has_name = field
                    .content_disposition()
                    .and_then(|cd| cd.get_filename())
                    .is_some_and(|f| !f.is_empty());
                if !buf.is_empty() || has_name {
                    fields.upload = Some(buf);
                }
                continue;
            }
            let value = String::from_utf8(buf)
                .map_err(|_| ApiError::InvalidForm(format!("field {name} is not UTF-8")))?;
            match name.as_str() {
                "text" => fields.text = Some(value),
                "session_id" => fields.session_id = Some(value),
                "voice" => fields.voice = Some(value).filter(|v| !v.trim().is_empty()),
                LANGUAGE_FIELD => fields.language = Some(value),
                STREAM_FIELD => fields.stream = form_bool(STREAM_FIELD, &value)?,
                _ => {
                    let v = form_number(&name, &value)?;
                    fields.params.insert(name, v);
                }
            }
        }
        Self::validate(fields, limits, received)
    }

    fn validate(f: Fields, limits: BodyLimits, received: Instant) -> Result<Self, ApiError> {
        let text = f.text.unwrap_or_default();
        if text.trim().is_empty() {
            return Err(ApiError::EmptyText);
        }
        let chars = text.chars().count();
        if chars > limits.max_text_chars {
            return Err(ApiError::TextTooLong {
                chars,
                max: limits.max_text_chars,
            });
        }
        let variant = limits.variant;
        if let Some(name) = f.params.keys().find(|k| !variant.supports_param(k)) {
            return Err(ApiError::UnsupportedParam {
                name: name.clone(),
                model: variant.name(),
            });
        }
        // The variant's defaults, overridden by what the request sets.
        let mut merged = match serde_json::to_value(variant.default_params()) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        merged.extend(f.params);
        let mut params: GenerateParams = serde_json::from_value(Value::Object(merged))
            .map_err(|e| ApiError::InvalidParam(e.to_string()))?;
        // An empty language is absent (English); others must be the model's.
        if let Some(l) = f.language.filter(|l| !l.trim().is_empty()) {
            let code =
                variant
                    .resolve_language(Some(&l))
                    .map_err(|_| ApiError::UnsupportedLanguage {
                        language: l.clone(),
                        model: variant.name(),
                        supported: variant
                            .languages()
                            .iter()
                            .map(|(c, _)| *c)
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?;
            params.language = Some(code.to_string());
        }
        params
            .validate_for(variant)
            .map_err(|e| ApiError::InvalidParam(e.to_string()))?;
        let session_id = match f.session_id.filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(parse_session_id(&s).ok_or(ApiError::InvalidSessionId)?),
            None => None,
        };
        let voice = match (f.upload, f.voice) {
            (Some(bytes), _) => VoiceRequest::Upload(bytes),
            (None, Some(name)) => VoiceRequest::Named(name),
            (None, None) => VoiceRequest::Unspecified,
        };
        Ok(Self {
            text,
            session_id,
            voice,
            params,
            stream: f.stream,
            received,
        })
    }
}

/// A form field's text as a boolean (an empty field is false, as an unticked checkbox).
fn form_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" | "" => Ok(false),
        _ => Err(ApiError::InvalidForm(format!(
            "{name} must be true or false"
        ))),
    }
}

/// A form field's text as the JSON number its parameter kind calls for.
fn form_number(name: &str, v: &str) -> Result<Value, ApiError> {
    let kind = GenerateParams::SPECS
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.kind);
    let v = v.trim();
    match kind {
        Some(ParamKind::Integer) => v
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| ApiError::InvalidParam(format!("{name} must be a non-negative integer"))),
        _ => v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Value::from)
            .ok_or_else(|| ApiError::InvalidParam(format!("{name} must be a number"))),
    }
}

/// A multipart body that cannot be parsed.
pub fn malformed(e: actix_multipart::MultipartError) -> ApiError {
    ApiError::InvalidForm(format!("malformed multipart body: {e}"))
}

/// Read one multipart field whole, refusing it as soon as it passes `limit` bytes: an uploaded
/// file (`upload`) as `upload_too_large`, any other field as `field_too_large`.
pub async fn read_field(
    field: &mut actix_multipart::Field,
    name: &str,
    limit: usize,
    upload: bool,
) -> Result<Vec<u8>, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(malformed)?;
        if buf.len() + chunk.len() > limit {
            return Err(if upload {
                ApiError::UploadTooLarge { max: limit }
            } else {
                ApiError::FieldTooLarge {
                    name: name.to_string(),
                    max: limit,
                }
            });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

async fn read_limited<S, E>(mut body: S, max: usize) -> Result<web::BytesMut, ApiError>
where
    S: Stream<Item = Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::InvalidJson(e.to_string()))?;
        if buf.len() + chunk.len() > max {
            return Err(ApiError::BodyTooLarge { max });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// The request's media type, lower-cased ("" when absent).
pub fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Parsed from `multipart/form-data` or `application/json` according to `Content-Type`, with the
/// limits of the app's [`Config`].
impl FromRequest for SynthesisRequest {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limits = req
            .app_data::<web::Data<Config>>()
            .map(|c| BodyLimits::from(c.get_ref()));
        let ct = media_type(req);
        let headers = req.headers().clone();
        let payload = payload.take();
        Box::pin(async move {
            let limits = limits.ok_or_else(|| ApiError::internal("misconfigured", "no Config"))?;
            if ct.starts_with("multipart/form-data") {
                Self::from_multipart(Multipart::new(&headers, payload), limits).await
            } else if ct.starts_with("application/json") {
                let body = read_limited(payload, limits.max_field_bytes()).await?;
                Self::from_json(&body, limits)
            } else {
                Err(ApiError::UnsupportedMediaType(
                    "send multipart/form-data or application/json",
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: BodyLimits = BodyLimits {
        max_text_chars: 10,
        max_upload_bytes: 100,
        variant: chatterbox::Variant::Original,
    };

    fn json(v: Value) -> Result<SynthesisRequest, ApiError> {
        SynthesisRequest::from_json(v.to_string().as_bytes(), LIMITS)
    }

    fn code(r: Result<SynthesisRequest, ApiError>) -> &'static str {
        r.err().map(|e| e.code()).unwrap_or("ok")
    }

    #[test]
    fn json_bodies_are_checked_field_by_field() {
        use serde_json::json;
        let ok = json(json!({"text": "hi", "seed": 7, "top_k": 5, "temperature": 0.3}));
        let p = ok.as_ref().map(|r| r.params.clone()).unwrap_or_default();
        assert_eq!((p.seed, p.top_k, p.temperature), (Some(7), 5, 0.3));
        assert_eq!(
            code(json(json!({"text": "hi", "temprature": 0.5}))),
            "unknown_field"
        );
        assert_eq!(
            code(json(json!({"text": "hi", "voice_prompt": "x"}))),
            "unknown_field"
        );
        assert_eq!(
            code(json(json!({"text": "hi", "temperature": 9.0}))),
            "invalid_param"
        );
        assert_eq!(
            code(json(json!({"text": "hi", "top_k": 1.5}))),
            "invalid_param"
        );
        assert_eq!(
            code(json(json!({"text": "hi", "seed": "x"}))),
            "invalid_param"
        );
        assert_eq!(code(json(json!({"text": "  "}))), "empty_text");
        assert_eq!(code(json(json!({"seed": 1}))), "empty_text");
        assert_eq!(code(json(json!({"text": "a".repeat(11)}))), "text_too_long");
        assert_eq!(
            code(json(json!({"text": "hi", "session_id": "../x"}))),
            "invalid_session_id"
        );
        assert_eq!(code(json(json!({"text": 3}))), "invalid_json");
        assert_eq!(code(json(json!([1]))), "invalid_json");
        assert_eq!(
            code(SynthesisRequest::from_json(b"{no", LIMITS)),
            "invalid_json"
        );
        let r = json(json!({"text": "hi", "session_id": "", "temperature": null}));
        assert!(r.is_ok_and(|r| r.session_id.is_none() && !r.stream));
        assert!(json(json!({"text": "hi", "stream": true})).is_ok_and(|r| r.stream));
        assert_eq!(
            code(json(json!({"text": "hi", "stream": "yes"}))),
            "invalid_json"
        );
    }

    #[test]
    fn long_texts_fit_in_the_body_limit() {
        let limits = BodyLimits {
            max_text_chars: 20_000,
            max_upload_bytes: 1,
            variant: chatterbox::Variant::Original,
        };
        let text = "é".repeat(20_000);
        let body = serde_json::json!({ "text": text }).to_string();
        assert!(body.len() <= limits.max_field_bytes());
        assert!(SynthesisRequest::from_json(body.as_bytes(), limits).is_ok());
        assert_eq!(LIMITS.max_field_bytes(), MAX_FIELD_BYTES);
    }

    #[test]
    fn form_fields_parse_per_parameter_kind() {
        assert_eq!(
            form_number("temperature", " 0.5 ").ok(),
            Some(Value::from(0.5))
        );
        assert_eq!(form_number("seed", "42").ok(), Some(Value::from(42u64)));
        assert!(form_number("seed", "-1").is_err());
        assert!(form_number("top_k", "2.5").is_err());
        assert!(form_number("temperature", "NaN").is_err());
        assert!(form_number("temperature", "hot").is_err());
        assert_eq!(form_bool("stream", " TRUE ").ok(), Some(true));
        assert_eq!(form_bool("stream", "on").ok(), Some(true));
        assert_eq!(form_bool("stream", "0").ok(), Some(false));
        assert_eq!(form_bool("stream", "").ok(), Some(false));
        assert!(form_bool("stream", "maybe").is_err());
    }
}
