//! The OpenAI-compatible speech API: `POST /v1/audio/speech`, `GET /v1/models`,
//! `GET /v1/audio/voices`. Requests are OpenAI's (`model`, `input`, `voice`, `response_format`,
//! `speed`, `instructions`) plus our extras (`seed` and every generation parameter); errors come in
//! OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with our stable codes.
//! Nothing is stored: the audio is the response.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse, ResponseError};
use chatterbox::GenerateParams;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::audio::{self, AudioFormat};
use crate::config::Config;
use crate::engine::{JobRequest, VoiceInput};
use crate::error::ApiError;
use crate::request::{media_type, BodyLimits, SynthesisRequest, VoiceRequest, MAX_FIELD_BYTES};
use crate::stretch::{time_stretch, MAX_SPEED, MIN_SPEED};
use crate::synthesizer::{blocking, Synthesizer};
use crate::voices::{NamedVoice, VoiceStore, DEFAULT_VOICE};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_speech)
        .service(list_models)
        .service(list_voices);
}

/// Model ids `/v1/audio/speech` accepts (all the one loaded model; the others are the names
/// OpenAI clients send by default).
pub const MODELS: [&str; 4] = ["chatterbox", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"];

/// OpenAI's built-in voice names: each speaks as `default` unless a saved voice has that name.
pub const OPENAI_VOICES: [&str; 13] = [
    "alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova", "onyx", "sage",
    "shimmer", "verse",
];

/// An error in OpenAI's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorResponse {
    pub error: OpenAiErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorDetail {
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `rate_limit_error` or `server_error`.
    #[serde(rename = "type")]
    #[schema(example = "invalid_request_error")]
    pub kind: String,
    /// The request field at fault, if one is.
    #[schema(required = true)]
    pub param: Option<String>,
    /// The stable code of README.md's table (`voice_not_found`, `invalid_param`, …).
    #[schema(example = "voice_not_found")]
    pub code: String,
}

/// An [`ApiError`] answered in OpenAI's shape (an unknown voice is a 400 here, as OpenAI's).
#[derive(Debug)]
pub struct OpenAiError {
    pub inner: Box<ApiError>,
    pub param: Option<String>,
}

impl std::fmt::Display for OpenAiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl From<ApiError> for OpenAiError {
    fn from(inner: ApiError) -> Self {
        let param = match &inner {
            ApiError::UnknownField(name) => Some(name.clone()),
            ApiError::EmptyText | ApiError::TextTooLong { .. } | ApiError::Synthesis(_) => {
                Some("input".into())
            }
            ApiError::VoiceNotFound(_) => Some("voice".into()),
            _ => None,
        };
        Self {
            inner: Box::new(inner),
            param,
        }
    }
}

fn invalid(param: &str, message: impl Into<String>) -> OpenAiError {
    OpenAiError {
        inner: Box::new(ApiError::InvalidParam(message.into())),
        param: Some(param.into()),
    }
}

/// The error type of an HTTP status, as OpenAI names them.
pub fn openai_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        429 => "rate_limit_error",
        s if s >= 500 => "server_error",
        _ => "invalid_request_error",
    }
}

impl ResponseError for OpenAiError {
    fn status_code(&self) -> StatusCode {
        match *self.inner {
            ApiError::VoiceNotFound(_) => StatusCode::BAD_REQUEST,
            _ => self.inner.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        // Our answer (headers, logging), then OpenAI's status and body.
        let ours = self.inner.error_response();
        let status = self.status_code();
        let mut b = HttpResponse::build(status);
        for (name, value) in ours.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                b.insert_header((name.clone(), value.clone()));
            }
        }
        b.json(OpenAiErrorResponse {
            error: OpenAiErrorDetail {
                message: self.inner.public_message(),
                kind: openai_type(status).into(),
                param: self.param.clone(),
                code: self.inner.code().into(),
            },
        })
    }
}

/// `POST /v1/audio/speech` (documentation of the body; the handler parses it itself).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SpeechRequest {
    /// One of `chatterbox`, `tts-1`, `tts-1-hd`, `gpt-4o-mini-tts` (all the loaded model).
    #[schema(example = "tts-1")]
    model: String,
    /// The text (at most the server's max_text_chars characters).
    input: String,
    /// `default`, a saved voice (`GET /v1/audio/voices`), or an OpenAI voice name (alloy, ash,
    /// ballad, cedar, coral, echo, fable, marin, nova, onyx, sage, shimmer, verse), which speaks
    /// as `default` unless a saved voice has that name. `{"id": "<name>"}` is accepted too.
    #[schema(example = "alloy")]
    voice: String,
    /// `mp3` (default), `opus`, `flac`, `wav` or `pcm` (raw 24 kHz 16-bit LE). `aac` is refused.
    #[schema(example = "mp3")]
    response_format: Option<String>,
    /// Tempo, 0.25–4.0 (default 1.0), by a pitch-preserving time stretch.
    #[schema(minimum = 0.25, maximum = 4.0, example = 1.0)]
    speed: Option<f64>,
    /// Accepted and ignored (Chatterbox takes no instructions; see `exaggeration`).
    instructions: Option<String>,
    /// `audio` (default: the whole file in the response) or `sse`: `text/event-stream` with
    /// `{"type": "speech.audio.delta", "audio": <base64>}` events, then
    /// `{"type": "speech.audio.done", "usage": {...}}`. The decoded deltas concatenated are the
    /// file; `wav` and `pcm` at speed 1.0 arrive sentence by sentence as they are produced, the
    /// other formats (and any speed or loudness target) once the audio is complete.
    stream_format: Option<String>,
    /// Extra: seed of the sampler (any of the `/synthesize` generation parameters may be sent
    /// as well: temperature, exaggeration, cfg_weight, …).
    seed: Option<u64>,
    /// Extra: the language of the input (ISO 639-1, one of `/info`'s `languages`; English when
    /// absent). Others give 400 `unsupported_language`.
    #[schema(example = "en")]
    language: Option<String>,
}

/// What a stateless speech request asks for, checked.
pub(crate) struct Speech {
    pub(crate) request: SynthesisRequest,
    pub(crate) format: AudioFormat,
    /// Tempo, in [`MIN_SPEED`, `MAX_SPEED`].
    pub(crate) speed: f64,
    /// Answer with server-sent events (`stream_format: "sse"`, see `speech_sse.rs`).
    pub(crate) sse: bool,
}

fn parse_speech(body: &[u8], limits: BodyLimits) -> Result<Speech, OpenAiError> {
    let mut object: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| OpenAiError::from(ApiError::InvalidJson(e.to_string())))?;
    object.retain(|_, v| !v.is_null());
    let string = |object: &mut Map<String, Value>, key: &str| match object.remove(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(key, format!("{key} must be a string"))),
    };
    let model =
        string(&mut object, "model")?.ok_or_else(|| invalid("model", "model is required"))?;
    if !MODELS.contains(&model.as_str()) {
        return Err(invalid(
            "model",
            format!("unknown model {model:?}; one of {}", MODELS.join(", ")),
        ));
    }
    let input =
        string(&mut object, "input")?.ok_or_else(|| invalid("input", "input is required"))?;
    let voice = match object.remove("voice") {
        Some(Value::String(s)) => s,
        Some(Value::Object(o)) => match o.get("id") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(invalid("voice", "voice must be a name or {\"id\": name}")),
        },
        Some(_) => return Err(invalid("voice", "voice must be a string")),
        None => return Err(invalid("voice", "voice is required")),
    };
    let format = match string(&mut object, "response_format")? {
        None => AudioFormat::Mp3,
        Some(f) if f == "aac" => {
            return Err(invalid(
                "response_format",
                "aac is not supported; use mp3, opus, flac, wav or pcm",
            ))
        }
        Some(f) => AudioFormat::parse(&f).map_err(|m| invalid("response_format", m))?,
    };
    let speed = match object.remove("speed") {
        None => 1.0,
        Some(v) => v
            .as_f64()
            .filter(|s| (MIN_SPEED..=MAX_SPEED).contains(s))
            .ok_or_else(|| {
                invalid(
                    "speed",
                    format!("speed must be a number from {MIN_SPEED} to {MAX_SPEED}"),
                )
            })?,
    };
    let _instructions = string(&mut object, "instructions")?;
    let sse = match string(&mut object, "stream_format")?.as_deref() {
        None | Some("audio") => false,
        Some("sse") => true,
        Some(_) => {
            return Err(invalid(
                "stream_format",
                "stream_format must be audio or sse",
            ))
        }
    };
    // What is left is ours: the generation parameters, checked as /synthesize checks them.
    object.insert("text".into(), Value::String(input));
    object.insert("voice".into(), Value::String(voice));
    let body = Value::Object(object).to_string();
    let request = SynthesisRequest::from_json(body.as_bytes(), limits).map_err(|e| {
        let param = match &e {
            ApiError::InvalidParam(m) => m
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .find(|w| GenerateParams::SPECS.iter().any(|s| s.name == *w))
                .map(String::from),
            _ => None,
        };
        let mut e = OpenAiError::from(e);
        if param.is_some() {
            e.param = param;
        }
        e
    })?;
    Ok(Speech {
        request,
        format,
        speed,
        sse,
    })
}

/// The voice a stateless request names: `default` or a saved voice; with `openai_names`, OpenAI's
/// voice names that name no saved voice are `default`.
pub(crate) fn speech_voice(
    voice: &VoiceRequest,
    voices: &VoiceStore,
    openai_names: bool,
) -> Result<VoiceInput, ApiError> {
    Ok(match voice {
        VoiceRequest::Named(name) => match voices.named(name) {
            Some(NamedVoice::Builtin) => VoiceInput::Builtin,
            Some(NamedVoice::Saved(v)) => VoiceInput::Prepared(v.voice.clone()),
            None if openai_names && OPENAI_VOICES.contains(&name.as_str()) => VoiceInput::Builtin,
            None => return Err(ApiError::VoiceNotFound(name.clone())),
        },
        _ => VoiceInput::Builtin,
    })
}

/// Speak and encode, storing nothing: the bytes of the answer. With `openai_names`, OpenAI's
/// voice names that name no saved voice speak as `default`; with `loudness_lufs`, the audio is
/// normalised to it after the time stretch.
pub(crate) async fn speak(
    speech: Speech,
    service: &Synthesizer,
    voices: &VoiceStore,
    openai_names: bool,
    loudness_lufs: Option<f64>,
) -> Result<Vec<u8>, ApiError> {
    let Speech {
        request,
        format,
        speed,
        ..
    } = speech;
    let voice = speech_voice(&request.voice, voices, openai_names)?;
    let out = service
        .run_request(JobRequest {
            text: request.text,
            voice,
            params: request.params,
            chunking: service.chunking(),
            stream: false,
        })
        .await?;
    let (samples, rate) = (out.samples, out.sample_rate);
    blocking("encoder thread failed", move || {
        let mut samples = time_stretch(&samples, rate, speed);
        if let Some(target) = loudness_lufs {
            samples = crate::loudness::normalize(&samples, rate, target);
        }
        audio::encode(&samples, rate, format)
            .map(|(bytes, _)| bytes)
            .map_err(|e| ApiError::internal("could not encode the audio", e))
    })
    .await?
}

/// Speech from text, OpenAI's way: the audio in the response body.
#[utoipa::path(
    post,
    path = "/v1/audio/speech",
    tag = "openai",
    request_body(content((SpeechRequest = "application/json"))),
    responses(
        (status = 200, description = "The audio: audio/mpeg, audio/ogg (opus), audio/flac, audio/wav or audio/pcm; with stream_format sse, text/event-stream of speech.audio.delta events and a final speech.audio.done",
            content_type = "audio/mpeg", body = inline(crate::openapi::AudioBytes)),
        (status = 400, description = "invalid_json, invalid_param (model, voice, response_format, speed, stream_format, a generation parameter), unsupported_param, unsupported_language, unknown_field, empty_text, voice_not_found", body = OpenAiErrorResponse),
        (status = 415, description = "unsupported_media_type", body = OpenAiErrorResponse),
        (status = 422, description = "text_too_long, invalid_text", body = OpenAiErrorResponse),
        (status = 429, description = "queue_full", body = OpenAiErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 503, description = "model_loading, model_failed, shutting_down", body = OpenAiErrorResponse),
        (status = 504, description = "timeout", body = OpenAiErrorResponse),
    )
)]
#[post("/v1/audio/speech")]
pub async fn create_speech(
    req: HttpRequest,
    body: web::Bytes,
    cfg: web::Data<Config>,
    service: web::Data<Synthesizer>,
    voices: web::Data<VoiceStore>,
) -> Result<HttpResponse, OpenAiError> {
    if !media_type(&req).starts_with("application/json") {
        return Err(ApiError::UnsupportedMediaType("send application/json").into());
    }
    if body.len() > MAX_FIELD_BYTES {
        return Err(ApiError::BodyTooLarge {
            max: MAX_FIELD_BYTES,
        }
        .into());
    }
    let speech = parse_speech(&body, BodyLimits::from(cfg.get_ref()))?;
    if speech.sse {
        return super::speech_sse::respond(speech, &service, &voices, cfg.loudness_lufs).await;
    }
    let format = speech.format;
    let bytes = speak(speech, &service, &voices, true, cfg.loudness_lufs).await?;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    #[schema(example = "list")]
    pub object: String,
    pub data: Vec<ModelObject>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelObject {
    #[schema(example = "tts-1")]
    pub id: String,
    #[schema(example = "model")]
    pub object: String,
    /// Unix seconds (0: not tracked).
    pub created: u64,
    #[schema(example = "resemble-ai")]
    pub owned_by: String,
}

/// The model ids `/v1/audio/speech` accepts.
#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "openai",
    responses((status = 200, description = "The models", body = ModelList))
)]
#[get("/v1/models")]
pub async fn list_models() -> web::Json<ModelList> {
    web::Json(ModelList {
        object: "list".into(),
        data: MODELS
            .iter()
            .map(|id| ModelObject {
                id: (*id).into(),
                object: "model".into(),
                created: 0,
                owned_by: "resemble-ai".into(),
            })
            .collect(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceNames {
    /// `default`, then the saved voices (OpenAI's voice names are accepted too, as `default`).
    pub voices: Vec<String>,
}

/// Voice names `/v1/audio/speech` accepts.
#[utoipa::path(
    get,
    path = "/v1/audio/voices",
    tag = "openai",
    responses((status = 200, description = "The voices", body = VoiceNames))
)]
#[get("/v1/audio/voices")]
pub async fn list_voices(store: web::Data<VoiceStore>) -> web::Json<VoiceNames> {
    let mut names = store.names();
    if names.is_empty() {
        names.push(DEFAULT_VOICE.into());
    }
    web::Json(VoiceNames { voices: names })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMITS: BodyLimits = BodyLimits {
        max_text_chars: 50,
        max_upload_bytes: 100,
        variant: chatterbox::Variant::Original,
    };

    fn parse(v: Value) -> Result<Speech, OpenAiError> {
        parse_speech(v.to_string().as_bytes(), LIMITS)
    }

    fn fails(v: Value) -> (u16, String, Option<String>) {
        match parse(v) {
            Ok(_) => (200, String::new(), None),
            Err(e) => (e.status_code().as_u16(), e.inner.code().into(), e.param),
        }
    }

    #[test]
    fn requests_are_parsed_the_openai_way() {
        let ok = parse(json!({"model": "tts-1", "input": "Hi", "voice": "alloy"}));
        let s = ok.as_ref().ok();
        assert_eq!(
            s.map(|s| (s.format, s.speed)),
            Some((AudioFormat::Mp3, 1.0))
        );
        let ok = parse(
            json!({"model": "chatterbox", "input": "Hi", "voice": {"id": "x"},
            "response_format": "flac", "speed": 0.5, "seed": 3, "temperature": 0.5,
            "instructions": "calm", "stream_format": "audio"}),
        );
        let s = ok.as_ref().ok();
        assert_eq!(
            s.map(|s| (s.format, s.speed)),
            Some((AudioFormat::Flac, 0.5))
        );
        assert_eq!(s.and_then(|s| s.request.params.seed), Some(3));

        let base = json!({"model": "tts-1", "input": "Hi", "voice": "alloy"});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };
        let p = |s: &str| Some(s.to_string());
        assert_eq!(
            fails(with("speed", json!(4.5))),
            (400, "invalid_param".into(), p("speed"))
        );
        assert_eq!(
            fails(with("speed", json!(0.1))),
            (400, "invalid_param".into(), p("speed"))
        );
        assert_eq!(
            fails(with("speed", json!("fast"))),
            (400, "invalid_param".into(), p("speed"))
        );
        assert_eq!(
            fails(with("response_format", json!("aac"))),
            (400, "invalid_param".into(), p("response_format"))
        );
        assert_eq!(
            fails(with("response_format", json!("ogg"))),
            (400, "invalid_param".into(), p("response_format"))
        );
        assert_eq!(
            fails(with("model", json!("whisper-1"))),
            (400, "invalid_param".into(), p("model"))
        );
        assert_eq!(
            fails(with("input", json!(" "))),
            (400, "empty_text".into(), p("input"))
        );
        assert_eq!(
            fails(with("input", json!("x".repeat(51)))),
            (422, "text_too_long".into(), p("input"))
        );
        assert_eq!(
            fails(with("colour", json!(1))),
            (400, "unknown_field".into(), p("colour"))
        );
        assert_eq!(
            fails(with("temperature", json!(99))),
            (400, "invalid_param".into(), p("temperature"))
        );
        assert_eq!(
            fails(with("stream_format", json!("chunks"))),
            (400, "invalid_param".into(), p("stream_format"))
        );
        assert!(parse(with("stream_format", json!("sse"))).is_ok_and(|s| s.sse));
        assert_eq!(fails(json!({"input": "Hi", "voice": "a"})).2, p("model"));
        assert_eq!(
            fails(json!({"model": "tts-1", "input": "Hi"})).2,
            p("voice")
        );
    }

    #[test]
    fn errors_have_openais_shape() {
        let e = OpenAiError::from(ApiError::VoiceNotFound("bob".into()));
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
        let r = e.error_response();
        assert_eq!(r.status(), 400);
        let e = OpenAiError::from(ApiError::from(crate::engine::EngineError::QueueFull));
        let r = e.error_response();
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key(header::RETRY_AFTER));
        assert_eq!(
            openai_type(StatusCode::UNAUTHORIZED),
            "authentication_error"
        );
        assert_eq!(openai_type(StatusCode::BAD_GATEWAY), "server_error");
    }
}
