//! The voice library: `GET /voices`, `POST /voices`, `GET /voices/{name}`,
//! `DELETE /voices/{name}`.

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

use crate::config::Config;
use crate::engine::JobRequest;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::library::{VoiceInfo, VoiceLibrary};
use crate::request::{malformed, media_type, read_field, MAX_FIELD_BYTES};
use crate::synthesizer::{blocking, Synthesizer};
use crate::voices::{VoiceStore, DEFAULT_VOICE};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(get_voice)
        .service(get_clip)
        .service(delete_voice);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceList {
    /// `default` first, then the saved voices by name.
    pub voices: Vec<VoiceInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceDeleted {
    pub name: String,
    /// Always `true`.
    pub deleted: bool,
}

/// `POST /voices` as `multipart/form-data`.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: the handler reads the form itself
pub struct CreateVoiceForm {
    /// 1–64 characters of `[A-Za-z0-9_.-]`, not starting with `.`, not `default`, not taken.
    #[schema(example = "alice")]
    name: String,
    /// The reference clip: wav, mp3, ogg/vorbis or flac; any rate; within the server's
    /// min/max_voice_seconds (the first 10 s are used).
    #[schema(format = Binary, value_type = String)]
    audio: Vec<u8>,
}

/// Every voice: the built-in one, then the library.
#[utoipa::path(
    get,
    path = "/voices",
    tag = "voices",
    responses((status = 200, description = "The voices", body = VoiceList))
)]
#[get("/voices")]
pub async fn list(voices: web::Data<VoiceStore>) -> web::Json<VoiceList> {
    let mut all = vec![VoiceInfo::builtin()];
    all.extend(voices.library().list());
    web::Json(VoiceList { voices: all })
}

/// One voice.
#[utoipa::path(
    get,
    path = "/voices/{name}",
    tag = "voices",
    params(("name" = String, Path, description = "The voice's name")),
    responses(
        (status = 200, description = "The voice", body = VoiceInfo),
        (status = 404, description = "voice_not_found", body = ErrorResponse),
    )
)]
#[get("/voices/{name}")]
pub async fn get_voice(
    name: web::Path<String>,
    voices: web::Data<VoiceStore>,
) -> ApiResult<web::Json<VoiceInfo>> {
    if name.as_str() == DEFAULT_VOICE {
        return Ok(web::Json(VoiceInfo::builtin()));
    }
    let saved = voices
        .library()
        .get(&name)
        .ok_or_else(|| ApiError::VoiceNotFound(name.to_string()))?;
    Ok(web::Json(saved.info.clone()))
}

/// A saved voice's original clip, as uploaded.
#[utoipa::path(
    get,
    path = "/voices/{name}/audio",
    tag = "voices",
    params(("name" = String, Path, description = "The voice's name")),
    responses(
        (status = 200, description = "The clip (audio/wav, audio/mpeg, audio/ogg or audio/flac)",
            content_type = "audio/wav", body = inline(crate::openapi::AudioBytes)),
        (status = 404, description = "voice_not_found (also for `default`, which has no clip)", body = ErrorResponse),
    )
)]
#[get("/voices/{name}/audio")]
pub async fn get_clip(
    name: web::Path<String>,
    voices: web::Data<VoiceStore>,
) -> ApiResult<HttpResponse> {
    let not_found = || ApiError::VoiceNotFound(name.to_string());
    let (path, format) = voices.library().clip_path(&name).ok_or_else(not_found)?;
    let bytes = tokio::fs::read(&path).await.map_err(|_| not_found())?;
    let content_type = match format.as_str() {
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "flac" => "audio/flac",
        _ => "application/octet-stream",
    };
    Ok(HttpResponse::Ok().content_type(content_type).body(bytes))
}

/// Save a voice: its clip is checked, its conditionals computed once (on a synthesis worker) and
/// stored with the clip; it is then usable by name everywhere a `voice` is accepted.
#[utoipa::path(
    post,
    path = "/voices",
    tag = "voices",
    request_body(content((CreateVoiceForm = "multipart/form-data"))),
    responses(
        (status = 201, description = "Saved", body = VoiceInfo,
            headers(("Location" = String, description = "/voices/<name>"))),
        (status = 400, description = "invalid_voice_name, invalid_form (name or audio missing), unknown_field", body = ErrorResponse),
        (status = 409, description = "voice_exists", body = ErrorResponse),
        (status = 413, description = "field_too_large", body = ErrorResponse),
        (status = 415, description = "unsupported_media_type", body = ErrorResponse),
        (status = 422, description = "invalid_audio, voice_too_short, voice_too_long", body = ErrorResponse),
        (status = 429, description = "queue_full", body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 503, description = "model_loading, model_failed, shutting_down", body = ErrorResponse),
    )
)]
#[post("/voices")]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    cfg: web::Data<Config>,
    voices: web::Data<VoiceStore>,
    service: web::Data<Synthesizer>,
) -> ApiResult<HttpResponse> {
    if !media_type(&req).starts_with("multipart/form-data") {
        return Err(ApiError::UnsupportedMediaType("send multipart/form-data"));
    }
    let form = Multipart::new(req.headers(), payload.into_inner());
    let (name, audio) = read_form(form, cfg.max_upload_bytes).await?;
    let info = create_voice(&service, voices.library(), &name, audio).await?;
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((header::LOCATION, format!("/voices/{}", info.name)))
        .json(info))
}

/// The form's `name` and `audio`, each required, nothing else.
async fn read_form(mut form: Multipart, max_audio: usize) -> Result<(String, Vec<u8>), ApiError> {
    let (mut name, mut audio) = (None, None);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(malformed)?;
        let field_name = field.name().unwrap_or("").to_string();
        let limit = match field_name.as_str() {
            "name" => MAX_FIELD_BYTES,
            "audio" => max_audio,
            _ => return Err(ApiError::UnknownField(field_name)),
        };
        let buf = read_field(&mut field, &field_name, limit, false).await?;
        if field_name == "name" {
            name = Some(
                String::from_utf8(buf)
                    .map_err(|_| ApiError::InvalidForm("field name is not UTF-8".into()))?,
            );
        } else {
            audio = Some(buf);
        }
    }
    let name = name.ok_or_else(|| ApiError::InvalidForm("the form needs a name".into()))?;
    let audio = audio
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::InvalidForm("the form needs an audio file".into()))?;
    Ok((name, audio))
}

/// Reserve the name, check the clip, prepare the voice on a worker, store it.
pub async fn create_voice(
    service: &Synthesizer,
    library: &Arc<VoiceLibrary>,
    name: &str,
    audio: Vec<u8>,
) -> Result<VoiceInfo, ApiError> {
    let reservation = library.reserve(name)?;
    let clip = service.decode_clip(audio.clone()).await?;
    let seconds = clip.duration_s();
    let out = service.run_request(JobRequest::prepare_voice(clip)).await?;
    let voice = out
        .new_voice
        .ok_or_else(|| ApiError::internal("could not prepare the voice", "no voice event"))?;
    let library = library.clone();
    let info = blocking("storage thread failed", move || {
        library.commit(reservation, &audio, seconds, voice)
    })
    .await?
    .map_err(|e| ApiError::internal("could not store the voice", e))?;
    tracing::info!(voice = %info.name, "voice saved");
    Ok(info)
}

/// Delete a saved voice (`default` cannot be).
#[utoipa::path(
    delete,
    path = "/voices/{name}",
    tag = "voices",
    params(("name" = String, Path, description = "The voice's name")),
    responses(
        (status = 200, description = "Deleted", body = VoiceDeleted),
        (status = 403, description = "voice_builtin", body = ErrorResponse),
        (status = 404, description = "voice_not_found", body = ErrorResponse),
    )
)]
#[delete("/voices/{name}")]
pub async fn delete_voice(
    name: web::Path<String>,
    voices: web::Data<VoiceStore>,
) -> ApiResult<web::Json<VoiceDeleted>> {
    let name = name.into_inner();
    if name == DEFAULT_VOICE {
        return Err(ApiError::VoiceBuiltin);
    }
    let library = voices.library().clone();
    let n = name.clone();
    let deleted = blocking("storage thread failed", move || library.delete(&n))
        .await?
        .map_err(|e| ApiError::internal("could not delete the voice", e))?;
    if !deleted {
        return Err(ApiError::VoiceNotFound(name));
    }
    Ok(web::Json(VoiceDeleted {
        name,
        deleted: true,
    }))
}
