//! HTTP handlers. They stay thin: parse and validate, hand work to the engine or the store, and
//! map every failure to an [`ApiError`].

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chatterbox::audio::{self, DecodeLimits};
use chatterbox::pipeline::GenerateParams;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use uuid::Uuid;

use crate::engine::{EngineState, Timings, VoiceInput};
use crate::error::{ApiError, ApiResult};
use crate::play;
use crate::AppState;

/// Largest JSON body or multipart text field.
const MAX_FIELD_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SynthesizeJson {
    text: String,
    #[serde(default)]
    session_id: Option<String>,
    /// Named voice; only `"default"` (the built-in voice) exists.
    #[serde(default)]
    voice: Option<String>,
    #[serde(default)]
    exaggeration: Option<f32>,
    #[serde(default)]
    cfg_weight: Option<f32>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    repetition_penalty: Option<f32>,
    #[serde(default)]
    min_p: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    #[serde(default)]
    top_k: Option<usize>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    max_new_tokens: Option<usize>,
}

/// A parsed synthesis request, whichever way it arrived.
#[derive(Default)]
struct Request {
    text: Option<String>,
    session_id: Option<String>,
    voice_name: Option<String>,
    upload: Option<Vec<u8>>,
    params: GenerateParams,
}

#[derive(Serialize)]
struct SynthesizeResponse {
    session_id: Uuid,
    play_url: String,
    duration: f64,
    sample_rate: u32,
    voice: String,
    timings: TimingsOut,
}

#[derive(Serialize)]
struct TimingsOut {
    #[serde(flatten)]
    inner: Timings,
    total_s: f64,
    /// Wall-clock seconds per second of audio.
    rtf: f64,
}

fn parse_f32(name: &str, v: &str) -> ApiResult<f32> {
    v.trim()
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_param", format!("{name} must be a number")))
}

fn parse_int<T: std::str::FromStr>(name: &str, v: &str) -> ApiResult<T> {
    v.trim().parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_param",
            format!("{name} must be a non-negative integer"),
        )
    })
}

fn set_param(p: &mut GenerateParams, name: &str, v: &str) -> ApiResult<bool> {
    match name {
        "exaggeration" => p.exaggeration = parse_f32(name, v)?,
        "cfg_weight" => p.cfg_weight = parse_f32(name, v)?,
        "temperature" => p.temperature = parse_f32(name, v)?,
        "repetition_penalty" => p.repetition_penalty = parse_f32(name, v)?,
        "min_p" => p.min_p = parse_f32(name, v)?,
        "top_p" => p.top_p = parse_f32(name, v)?,
        "top_k" => p.top_k = parse_int(name, v)?,
        "seed" => p.seed = Some(parse_int(name, v)?),
        "max_new_tokens" => p.max_new_tokens = parse_int(name, v)?,
        _ => return Ok(false),
    }
    Ok(true)
}

async fn read_multipart(mut mp: Multipart, max_upload: usize) -> ApiResult<Request> {
    let mut req = Request::default();
    while let Some(field) = mp.next().await {
        let mut field = field.map_err(|e| {
            ApiError::bad_request("invalid_form", format!("malformed multipart body: {e}"))
        })?;
        let name = field.name().unwrap_or("").to_string();
        let limit = if name == "voice_prompt" {
            max_upload
        } else {
            MAX_FIELD_BYTES
        };
        let mut buf = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request("invalid_form", format!("malformed multipart body: {e}"))
            })?;
            if buf.len() + chunk.len() > limit {
                return Err(if name == "voice_prompt" {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "upload_too_large",
                        format!("voice_prompt exceeds {max_upload} bytes"),
                    )
                } else {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "field_too_large",
                        format!("field {name} exceeds {MAX_FIELD_BYTES} bytes"),
                    )
                });
            }
            buf.extend_from_slice(&chunk);
        }
        if name == "voice_prompt" {
            // A form with an empty file input sends a zero-length part: treat it as absent only
            // when it also has no filename.
            let has_name = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .is_some_and(|f| !f.is_empty());
            if buf.is_empty() && !has_name {
                continue;
            }
            req.upload = Some(buf);
            continue;
        }
        let value = String::from_utf8(buf).map_err(|_| {
            ApiError::bad_request("invalid_form", format!("field {name} is not UTF-8"))
        })?;
        match name.as_str() {
            "text" => req.text = Some(value),
            "session_id" => req.session_id = Some(value).filter(|s| !s.trim().is_empty()),
            "voice" => req.voice_name = Some(value).filter(|s| !s.trim().is_empty()),
            other => {
                if !set_param(&mut req.params, other, &value)? {
                    return Err(ApiError::bad_request(
                        "unknown_field",
                        format!("unknown field {other:?}"),
                    ));
                }
            }
        }
    }
    Ok(req)
}

async fn read_json(mut payload: web::Payload) -> ApiResult<Request> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
        if body.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("JSON body exceeds {MAX_FIELD_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let j: SynthesizeJson = serde_json::from_slice(&body).map_err(|e| {
        let code = if e.to_string().contains("unknown field") {
            "unknown_field"
        } else {
            "invalid_json"
        };
        ApiError::bad_request(code, format!("invalid JSON body: {e}"))
    })?;
    let mut p = GenerateParams::default();
    let d = GenerateParams::default();
    p.exaggeration = j.exaggeration.unwrap_or(d.exaggeration);
    p.cfg_weight = j.cfg_weight.unwrap_or(d.cfg_weight);
    p.temperature = j.temperature.unwrap_or(d.temperature);
    p.repetition_penalty = j.repetition_penalty.unwrap_or(d.repetition_penalty);
    p.min_p = j.min_p.unwrap_or(d.min_p);
    p.top_p = j.top_p.unwrap_or(d.top_p);
    p.top_k = j.top_k.unwrap_or(d.top_k);
    p.seed = j.seed;
    p.max_new_tokens = j.max_new_tokens.unwrap_or(d.max_new_tokens);
    Ok(Request {
        text: Some(j.text),
        session_id: j.session_id.filter(|s| !s.trim().is_empty()),
        voice_name: j.voice,
        upload: None,
        params: p,
    })
}

/// The request's media type, lower-cased ("" when absent).
fn content_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

pub fn parse_sid(s: &str) -> Option<Uuid> {
    // Only the canonical hyphenated form: no braces, no urn:, no path tricks.
    (s.len() == 36).then(|| Uuid::parse_str(s).ok()).flatten()
}

#[post("/synthesize")]
pub async fn synthesize(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let started = Instant::now();
    let ct = content_type(&req);
    let r = if ct.starts_with("multipart/form-data") {
        read_multipart(
            Multipart::new(req.headers(), payload),
            state.cfg.max_upload_bytes,
        )
        .await?
    } else if ct.starts_with("application/json") {
        read_json(payload).await?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send multipart/form-data or application/json",
        ));
    };

    let text = r.text.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("empty_text", "text is empty"));
    }
    let chars = text.chars().count();
    if chars > state.cfg.max_text_chars {
        return Err(ApiError::unprocessable(
            "text_too_long",
            format!(
                "text has {chars} characters; the limit is {}",
                state.cfg.max_text_chars
            ),
        ));
    }
    r.params
        .validate()
        .map_err(|e| ApiError::bad_request("invalid_param", e.to_string()))?;
    if let Some(v) = &r.voice_name {
        if v != "default" {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "voice_not_found",
                format!("no voice named {v:?}"),
            ));
        }
    }

    let store = state.store.clone();
    let sid = match &r.session_id {
        Some(s) => {
            let id = parse_sid(s).ok_or_else(|| {
                ApiError::bad_request("invalid_session_id", "session_id is not a valid session id")
            })?;
            if store.meta(&id).is_none() {
                return Err(ApiError::session_not_found());
            }
            id
        }
        None => store.create(),
    };
    let _busy = store.busy(&sid).ok_or_else(ApiError::session_not_found)?;

    let voice = match r.upload {
        Some(bytes) => {
            let limits = DecodeLimits {
                max_duration_s: state.cfg.max_voice_seconds,
                ..DecodeLimits::default()
            };
            let decoded = web::block(move || audio::decode(&bytes, &limits))
                .await
                .map_err(|_| ApiError::internal("decoder thread failed"))?
                .map_err(|e| match e {
                    chatterbox::Error::AudioTooLong { .. } => ApiError::unprocessable(
                        "voice_too_long",
                        format!(
                            "voice_prompt is longer than {} s",
                            state.cfg.max_voice_seconds
                        ),
                    ),
                    other => ApiError::from(other),
                })?;
            if decoded.duration_s() < state.cfg.min_voice_seconds {
                return Err(ApiError::unprocessable(
                    "voice_too_short",
                    format!(
                        "voice_prompt is {:.2} s; at least {} s is needed",
                        decoded.duration_s(),
                        state.cfg.min_voice_seconds
                    ),
                ));
            }
            VoiceInput::Upload(decoded)
        }
        None if r.voice_name.is_some() => VoiceInput::Default,
        None => match store.voice(&sid) {
            Some(c) => VoiceInput::Cached(c),
            None => VoiceInput::Default,
        },
    };
    let voice_kind = match &voice {
        VoiceInput::Default => "default",
        _ => "upload",
    };

    let out = state.engine.synthesize(text, voice, r.params).await?;
    let duration = out.samples.len() as f64 / f64::from(out.sample_rate);
    let wav = audio::wav_bytes(&out.samples, out.sample_rate)?;
    let new_voice = out.new_voice.clone();
    let sr = out.sample_rate;
    let store2 = store.clone();
    let meta = web::block(move || {
        // Persist the uploaded voice first, so a stored session always has its voice on disk.
        if let Some(v) = &new_voice {
            chatterbox::pipeline::save_voice(v, &store2.voice_path(&sid))
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        store2.store(&sid, &wav, duration, sr, new_voice.map(|v| (v, "upload")))
    })
    .await
    .map_err(|_| ApiError::internal("storage thread failed"))?
    .map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ApiError::session_not_found()
        } else {
            tracing::error!(error = %e, "storing the WAV failed");
            ApiError::internal("could not store the audio")
        }
    })?;
    let total_s = started.elapsed().as_secs_f64();
    metrics::histogram!("chatterbox_synthesis_seconds").record(out.timings.synthesis_s);
    if duration > 0.0 {
        metrics::histogram!("chatterbox_real_time_factor")
            .record(out.timings.synthesis_s / duration);
    }
    metrics::gauge!("chatterbox_sessions").set(store.len() as f64);
    Ok(HttpResponse::Ok().json(SynthesizeResponse {
        session_id: sid,
        play_url: format!("/play/{sid}"),
        duration,
        sample_rate: meta.sample_rate,
        voice: if voice_kind == "upload" {
            meta.voice
        } else {
            "default".into()
        },
        timings: TimingsOut {
            rtf: if duration > 0.0 {
                out.timings.synthesis_s / duration
            } else {
                0.0
            },
            inner: out.timings,
            total_s,
        },
    }))
}

#[get("/play/{sid}")]
pub async fn play_route(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let sid = parse_sid(&path).ok_or_else(ApiError::session_not_found)?;
    play::serve(&req, &state.store, sid).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    session_id: String,
}

#[post("/delete")]
pub async fn delete(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let ct = content_type(&req);
    let parsed: DeleteBody = if ct.starts_with("application/json") {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}")))?
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        web::Query::<DeleteBody>::from_query(std::str::from_utf8(&body).unwrap_or(""))
            .map_err(|e| ApiError::bad_request("invalid_form", e.to_string()))?
            .into_inner()
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json or application/x-www-form-urlencoded",
        ));
    };
    let sid = parse_sid(&parsed.session_id).ok_or_else(ApiError::session_not_found)?;
    let store = state.store.clone();
    let existed = web::block(move || store.delete(&sid))
        .await
        .map_err(|_| ApiError::internal("storage thread failed"))?;
    if !existed {
        return Err(ApiError::session_not_found());
    }
    metrics::gauge!("chatterbox_sessions").set(state.store.len() as f64);
    Ok(HttpResponse::Ok().json(serde_json::json!({"session_id": sid, "deleted": true})))
}

#[get("/health")]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let (code, status, error) = match state.engine.state() {
        EngineState::Ready => (StatusCode::OK, "ok", None),
        EngineState::Loading => (StatusCode::SERVICE_UNAVAILABLE, "loading", None),
        EngineState::Failed(m) => (StatusCode::SERVICE_UNAVAILABLE, "failed", Some(m)),
    };
    HttpResponse::build(code)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "status": status,
            "model_loaded": code == StatusCode::OK,
            "error": error,
            "queue_depth": state.engine.queue_depth(),
            "in_flight": state.engine.in_flight(),
            "sessions": state.store.len(),
            "version": env!("CARGO_PKG_VERSION"),
        }))
}

/// What this server runs and accepts: the model, its sample rate, the limits and every
/// generation parameter with its default and range (the web UI reads its limits from here).
#[get("/info")]
pub async fn info(state: web::Data<AppState>) -> HttpResponse {
    let c = &state.cfg;
    HttpResponse::Ok().json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "model": {
            "name": "chatterbox",
            "variant": "original",
            "repository": chatterbox::HUB_REPO,
            "sample_rate": chatterbox::S3GEN_SR,
        },
        "limits": {
            "max_text_chars": c.max_text_chars,
            "max_upload_bytes": c.max_upload_bytes,
            "min_voice_seconds": c.min_voice_seconds,
            "max_voice_seconds": c.max_voice_seconds,
            "max_queue": c.max_queue,
            "request_timeout_seconds": c.request_timeout_seconds,
        },
        "parameters": GenerateParams::SPECS,
        "voices": ["default"],
        "formats": ["wav"],
    }))
}

/// Liveness: the process answers HTTP (model state not considered).
#[get("/livez")]
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "alive"}))
}

#[get("/metrics")]
pub async fn metrics_route(state: web::Data<AppState>) -> HttpResponse {
    metrics::gauge!("chatterbox_queue_depth").set(state.engine.queue_depth() as f64);
    metrics::gauge!("chatterbox_sessions").set(state.store.len() as f64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.prometheus.render())
}

pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

#[get("/openapi.json")]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

pub async fn not_found() -> ApiResult<HttpResponse> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route",
    ))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(synthesize)
        .service(play_route)
        .service(delete)
        .service(health)
        .service(info)
        .service(livez)
        .service(metrics_route)
        .service(openapi);
}
