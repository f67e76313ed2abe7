//! `POST /synthesize`.

use actix_web::http::header;
use actix_web::{post, web, Either, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiResult, ErrorResponse};
use crate::openapi::{AudioBytes, SynthesizeForm, SynthesizeJson};
use crate::request::SynthesisRequest;
use crate::synthesizer::{Synthesized, Synthesizer};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(synthesize);
}

/// Where the time went, in seconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct Timings {
    /// Waiting for a synthesis worker.
    pub queue_s: f64,
    /// Computing the voice from an upload (≈ 0 when the session's voice was reused).
    pub voice_s: f64,
    /// Running the model.
    pub synthesis_s: f64,
    /// The whole request, upload included.
    pub total_s: f64,
    /// Synthesis seconds per second of audio.
    pub rtf: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SynthesizeResponse {
    pub session_id: Uuid,
    /// Where the audio is: `/play/<session_id>`.
    #[schema(example = "/play/6f1c1f9e-3f1a-4c55-9d59-0f1b7d0c9a11")]
    pub play_url: String,
    /// Seconds of audio.
    pub duration: f64,
    #[schema(example = 24000)]
    pub sample_rate: u32,
    /// `default` (the built-in voice) or `upload` (this session's uploaded voice).
    #[schema(example = "default")]
    pub voice: String,
    /// Chunks the text was spoken in (sentences; long ones cut at clauses).
    #[schema(example = 1)]
    pub chunks: usize,
    pub timings: Timings,
}

impl SynthesizeResponse {
    fn new(out: Synthesized, total_s: f64) -> Self {
        let t = out.timings;
        let rtf = if out.duration > 0.0 {
            t.synthesis_s / out.duration
        } else {
            0.0
        };
        Self {
            session_id: out.session_id,
            play_url: format!("/play/{}", out.session_id),
            duration: out.duration,
            sample_rate: out.sample_rate,
            voice: out.voice,
            chunks: out.chunks,
            timings: Timings {
                queue_s: t.queue_s,
                voice_s: t.voice_s,
                synthesis_s: t.synthesis_s,
                total_s,
                rtf,
            },
        }
    }
}

/// The header naming a streamed synthesis's session.
pub const SESSION_HEADER: &str = "x-session-id";

/// Synthesize speech; creates a session or reuses one (and its voice). With `stream: true` the
/// audio comes back while it is produced.
#[utoipa::path(
    post,
    path = "/synthesize",
    tag = "synthesis",
    request_body(
        description = "The text, an optional session, voice and generation parameters. Only the \
                       multipart form can carry a voice upload.",
        content(
            (SynthesizeForm = "multipart/form-data"),
            (SynthesizeJson = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "Audio stored for the session (JSON); with stream=true, \
                                         the audio itself as it is produced: a WAV header with \
                                         unknown (0xFFFFFFFF) sizes, then 16-bit PCM, chunked",
            content(
                (SynthesizeResponse = "application/json"),
                (AudioBytes = "audio/wav"),
            ),
            headers(("x-session-id" = String, description = "The session (stream=true only)"))),
        (status = 400, description = "empty_text, invalid_json, invalid_form, unknown_field, invalid_param, unsupported_param (a parameter the running model lacks), unsupported_language (a language it does not speak), invalid_session_id", body = ErrorResponse),
        (status = 404, description = "session_not_found, voice_not_found", body = ErrorResponse),
        (status = 413, description = "upload_too_large, field_too_large, body_too_large", body = ErrorResponse),
        (status = 415, description = "unsupported_media_type", body = ErrorResponse),
        (status = 422, description = "text_too_long, invalid_audio, voice_too_short, voice_too_long, invalid_text, invalid_param (the model produced no speech)", body = ErrorResponse),
        (status = 429, description = "queue_full", body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 500, description = "internal", body = ErrorResponse),
        (status = 503, description = "model_loading (with Retry-After), model_failed, shutting_down, cancelled", body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds to wait (while the model loads)"))),
        (status = 504, description = "timeout: the work was cancelled", body = ErrorResponse),
    )
)]
#[post("/synthesize")]
pub async fn synthesize(
    request: SynthesisRequest,
    service: web::Data<Synthesizer>,
) -> ApiResult<Either<web::Json<SynthesizeResponse>, HttpResponse>> {
    if request.stream {
        let s = service.into_inner().synthesize_stream(request).await?;
        return Ok(Either::Right(
            HttpResponse::Ok()
                .content_type("audio/wav")
                .insert_header((SESSION_HEADER, s.session_id.to_string()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .streaming(s.body),
        ));
    }
    let received = request.received;
    let out = service.synthesize(request).await?;
    let total_s = received.elapsed().as_secs_f64();
    Ok(Either::Left(web::Json(SynthesizeResponse::new(
        out, total_s,
    ))))
}
