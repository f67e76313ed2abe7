//! Voice conversion: `POST /vc` (multipart) answers with the speech of the uploaded `audio` spoken
//! again in the target voice (a saved voice by name, the built-in `default`, or an uploaded
//! `voice_prompt`), as the reference's `ChatterboxVC` does. Nothing is stored.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use utoipa::ToSchema;

use crate::audio::{self, AudioFormat};
use crate::config::Config;
use crate::engine::{ConvertRequest, VoiceInput};
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::request::{malformed, media_type, read_field, MAX_FIELD_BYTES, VOICE_PROMPT};
use crate::synthesizer::{blocking, Synthesizer};
use crate::voices::{NamedVoice, VoiceStore, DEFAULT_VOICE};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(convert);
}

/// The file field with the speech to convert.
pub const AUDIO_FIELD: &str = "audio";

/// `POST /vc` as `multipart/form-data`.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: the handler reads the form itself
pub struct ConvertForm {
    /// The speech to convert: wav, mp3, ogg/vorbis or flac, any rate, 0.5–30 s.
    #[schema(format = Binary, value_type = String)]
    audio: Vec<u8>,
    /// The target voice by name (a saved voice, or `default`, the built-in one). Not with
    /// `voice_prompt`; when neither is given, `default`.
    #[schema(example = "default")]
    voice: Option<String>,
    /// A clip of the target voice (same formats; within the server's min/max_voice_seconds; the
    /// first 10 s are used). Not with `voice`.
    #[schema(format = Binary, value_type = Option<String>)]
    voice_prompt: Option<Vec<u8>>,
    /// `wav` (default), `mp3`, `opus`, `flac` or `pcm` (raw 16-bit LE mono at 24 kHz).
    #[schema(example = "wav")]
    format: Option<String>,
    /// Seeds the model's noise: the same seed, audio and voice give the same output.
    seed: Option<u64>,
}

/// The form, checked.
#[derive(Debug)]
struct Form {
    audio: Vec<u8>,
    voice: Option<String>,
    voice_prompt: Option<Vec<u8>>,
    format: AudioFormat,
    seed: Option<u64>,
}

fn text(name: &str, buf: Vec<u8>) -> Result<String, ApiError> {
    String::from_utf8(buf).map_err(|_| ApiError::InvalidForm(format!("field {name} is not UTF-8")))
}

async fn read_form(mut form: Multipart, max_upload: usize) -> Result<Form, ApiError> {
    let (mut audio, mut voice, mut prompt, mut format, mut seed) = (None, None, None, None, None);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(malformed)?;
        let name = field.name().unwrap_or("").to_string();
        let limit = match name.as_str() {
            AUDIO_FIELD | VOICE_PROMPT => max_upload,
            "voice" | "format" | "seed" => MAX_FIELD_BYTES,
            _ => return Err(ApiError::UnknownField(name)),
        };
        let buf = read_field(&mut field, &name, limit, name == VOICE_PROMPT).await?;
        match name.as_str() {
            AUDIO_FIELD => audio = Some(buf),
            VOICE_PROMPT => prompt = Some(buf),
            "voice" => voice = Some(text(&name, buf)?),
            "format" => format = Some(text(&name, buf)?),
            _ => seed = Some(text(&name, buf)?),
        }
    }
    let audio = audio
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::InvalidForm("the form needs an audio file to convert".into()))?;
    // An empty field counts as absent (browsers send empty file inputs and text boxes).
    let voice = voice
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let voice_prompt = prompt.filter(|p| !p.is_empty());
    if voice.is_some() && voice_prompt.is_some() {
        return Err(ApiError::InvalidForm(
            "give either voice or voice_prompt, not both".into(),
        ));
    }
    let format = match format.as_deref().map(str::trim) {
        None | Some("") => AudioFormat::Wav,
        Some(f) => AudioFormat::parse(f).map_err(ApiError::InvalidParam)?,
    };
    let seed = match seed.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| {
            ApiError::InvalidParam(format!("seed must be a non-negative integer, got {s:?}"))
        })?),
    };
    Ok(Form {
        audio,
        voice,
        voice_prompt,
        format,
        seed,
    })
}

/// Convert speech to another voice: the same words, timing and intonation, in the target voice's
/// timbre (`ChatterboxVC`: S3 tokens of the source, S3Gen with the target's reference).
#[utoipa::path(
    post,
    path = "/vc",
    tag = "synthesis",
    request_body(content((ConvertForm = "multipart/form-data"))),
    responses(
        (status = 200, description = "The converted audio: audio/wav, audio/mpeg, audio/ogg (opus), audio/flac or audio/pcm",
            content_type = "audio/wav", body = inline(crate::openapi::AudioBytes)),
        (status = 400, description = "invalid_form (no audio, voice and voice_prompt both given, malformed body), invalid_param (format, seed), unknown_field", body = ErrorResponse),
        (status = 404, description = "voice_not_found", body = ErrorResponse),
        (status = 413, description = "field_too_large, upload_too_large", body = ErrorResponse),
        (status = 415, description = "unsupported_media_type", body = ErrorResponse),
        (status = 422, description = "invalid_audio (either file), audio_too_short, audio_too_long, voice_too_short, voice_too_long", body = ErrorResponse),
        (status = 429, description = "queue_full", body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 503, description = "model_loading, model_failed, shutting_down", body = ErrorResponse),
        (status = 504, description = "timeout", body = ErrorResponse),
    )
)]
#[post("/vc")]
pub async fn convert(
    req: HttpRequest,
    payload: web::Payload,
    cfg: web::Data<Config>,
    service: web::Data<Synthesizer>,
    voices: web::Data<VoiceStore>,
) -> ApiResult<HttpResponse> {
    if !media_type(&req).starts_with("multipart/form-data") {
        return Err(ApiError::UnsupportedMediaType("send multipart/form-data"));
    }
    let form = read_form(
        Multipart::new(req.headers(), payload.into_inner()),
        cfg.max_upload_bytes,
    )
    .await?;
    let target = match (form.voice, form.voice_prompt) {
        (_, Some(bytes)) => VoiceInput::Upload(service.decode_clip(bytes).await?),
        (name, None) => {
            let name = name.unwrap_or_else(|| DEFAULT_VOICE.to_string());
            match voices.named(&name) {
                Some(NamedVoice::Builtin) => VoiceInput::Builtin,
                Some(NamedVoice::Saved(v)) => VoiceInput::Prepared(v.voice.clone()),
                None => return Err(ApiError::VoiceNotFound(name)),
            }
        }
    };
    let source = service.decode_source(form.audio).await?;
    let out = service
        .run_conversion(ConvertRequest {
            source,
            target,
            seed: form.seed,
        })
        .await?;
    let (samples, rate, format) = (out.samples, out.sample_rate, form.format);
    let loudness = cfg.loudness_lufs;
    let bytes = blocking("encoder thread failed", move || {
        let samples = match loudness {
            Some(target) => crate::loudness::normalize(&samples, rate, target),
            None => samples,
        };
        audio::encode(&samples, rate, format)
            .map(|(bytes, _)| bytes)
            .map_err(|e| ApiError::internal("could not encode the audio", e))
    })
    .await??;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}
