//! Every failure the service can answer with, and the one table that gives each its HTTP status and
//! stable `code`. Clients always get `{"error": {"code", "message"}}`; the codes are documented in
//! README.md and the OpenAPI document, and the web UI switches on them.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::engine::EngineError;

/// Seconds a client is told to wait after `queue_full`.
pub const QUEUE_FULL_RETRY_S: u64 = 5;
/// Seconds a client is told to wait while the model loads.
pub const LOADING_RETRY_S: u64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    // The request itself.
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("invalid JSON body: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidForm(String),
    #[error("unknown field {0:?}")]
    UnknownField(String),
    #[error("{0}")]
    InvalidParam(String),
    #[error("the {model} model has no parameter {name:?}")]
    UnsupportedParam { name: String, model: &'static str },
    #[error("the {model} model does not speak {language:?}; supported languages: {supported}")]
    UnsupportedLanguage {
        language: String,
        model: &'static str,
        supported: String,
    },
    #[error("text is empty")]
    EmptyText,
    #[error("text has {chars} characters; the limit is {max}")]
    TextTooLong { chars: usize, max: usize },
    #[error("session_id is not a valid session id")]
    InvalidSessionId,
    #[error("voice_prompt exceeds {max} bytes")]
    UploadTooLarge { max: usize },
    #[error("field {name} exceeds {max} bytes")]
    FieldTooLarge { name: String, max: usize },
    #[error("JSON body exceeds {max} bytes")]
    BodyTooLarge { max: usize },

    // What it asks for.
    #[error("no such session")]
    SessionNotFound,
    #[error("this session has no audio yet")]
    AudioNotReady,
    #[error("no voice named {0:?}")]
    VoiceNotFound(String),
    #[error("invalid voice name: {0}")]
    InvalidVoiceName(String),
    #[error("a voice named {0:?} already exists")]
    VoiceExists(String),
    #[error("the built-in voice cannot be deleted")]
    VoiceBuiltin,
    #[error("no such route")]
    RouteNotFound,
    #[error("a valid API key is required (Authorization: Bearer KEY, or x-api-key: KEY)")]
    Unauthorized,
    #[error("too many requests; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("requested range is outside the file")]
    RangeNotSatisfiable { len: u64 },

    // The uploaded voice clip.
    #[error("voice_prompt is {seconds:.2} s; at least {min} s is needed")]
    VoiceTooShort { seconds: f64, min: f64 },
    #[error("voice_prompt is longer than the {max_s} s limit")]
    VoiceTooLong { max_s: f64 },

    // The audio to convert.
    #[error("audio is {seconds:.2} s; at least {min} s is needed")]
    AudioTooShort { seconds: f64, min: f64 },
    #[error("audio is longer than the {max_s} s limit")]
    AudioTooLong { max_s: f64 },

    // Running it.
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Synthesis(#[from] chatterbox::Error),
    /// A bug or an I/O failure: the message is what the client sees, the cause goes to the log.
    #[error("{message}")]
    Internal {
        message: &'static str,
        cause: String,
    },
}

/// How one error is answered.
struct Answer {
    status: StatusCode,
    code: &'static str,
    retry_after_s: Option<u64>,
}

const fn answer(status: StatusCode, code: &'static str) -> Answer {
    Answer {
        status,
        code,
        retry_after_s: None,
    }
}

impl ApiError {
    pub fn internal(message: &'static str, cause: impl std::fmt::Display) -> Self {
        Self::Internal {
            message,
            cause: cause.to_string(),
        }
    }

    /// The table: status, stable code and `Retry-After` of every error.
    fn answer(&self) -> Answer {
        use chatterbox::Error as S;
        use EngineError as E;
        use StatusCode as C;
        let synthesis = |e: &S| match e {
            S::AudioDecode(_) | S::InvalidAudio(_) => {
                answer(C::UNPROCESSABLE_ENTITY, "invalid_audio")
            }
            S::AudioTooLong { .. } => answer(C::UNPROCESSABLE_ENTITY, "voice_too_long"),
            S::InvalidArgument(_) => answer(C::UNPROCESSABLE_ENTITY, "invalid_param"),
            S::Tokenizer(_) => answer(C::UNPROCESSABLE_ENTITY, "invalid_text"),
            S::Cancelled => answer(C::SERVICE_UNAVAILABLE, "cancelled"),
            _ => answer(C::INTERNAL_SERVER_ERROR, "internal"),
        };
        match self {
            Self::UnsupportedMediaType(_) => {
                answer(C::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::InvalidJson(_) => answer(C::BAD_REQUEST, "invalid_json"),
            Self::InvalidForm(_) => answer(C::BAD_REQUEST, "invalid_form"),
            Self::UnknownField(_) => answer(C::BAD_REQUEST, "unknown_field"),
            Self::InvalidParam(_) => answer(C::BAD_REQUEST, "invalid_param"),
            Self::UnsupportedParam { .. } => answer(C::BAD_REQUEST, "unsupported_param"),
            Self::UnsupportedLanguage { .. } => answer(C::BAD_REQUEST, "unsupported_language"),
            Self::EmptyText => answer(C::BAD_REQUEST, "empty_text"),
            Self::TextTooLong { .. } => answer(C::UNPROCESSABLE_ENTITY, "text_too_long"),
            Self::InvalidSessionId => answer(C::BAD_REQUEST, "invalid_session_id"),
            Self::UploadTooLarge { .. } => answer(C::PAYLOAD_TOO_LARGE, "upload_too_large"),
            Self::FieldTooLarge { .. } => answer(C::PAYLOAD_TOO_LARGE, "field_too_large"),
            Self::BodyTooLarge { .. } => answer(C::PAYLOAD_TOO_LARGE, "body_too_large"),
            Self::SessionNotFound => answer(C::NOT_FOUND, "session_not_found"),
            Self::AudioNotReady => answer(C::NOT_FOUND, "audio_not_ready"),
            Self::VoiceNotFound(_) => answer(C::NOT_FOUND, "voice_not_found"),
            Self::InvalidVoiceName(_) => answer(C::BAD_REQUEST, "invalid_voice_name"),
            Self::VoiceExists(_) => answer(C::CONFLICT, "voice_exists"),
            Self::VoiceBuiltin => answer(C::FORBIDDEN, "voice_builtin"),
            Self::RouteNotFound => answer(C::NOT_FOUND, "not_found"),
            Self::Unauthorized => answer(C::UNAUTHORIZED, "unauthorized"),
            Self::RateLimited { retry_after_s } => Answer {
                retry_after_s: Some(*retry_after_s),
                ..answer(C::TOO_MANY_REQUESTS, "rate_limited")
            },
            Self::RangeNotSatisfiable { .. } => {
                answer(C::RANGE_NOT_SATISFIABLE, "range_not_satisfiable")
            }
            Self::VoiceTooShort { .. } => answer(C::UNPROCESSABLE_ENTITY, "voice_too_short"),
            Self::VoiceTooLong { .. } => answer(C::UNPROCESSABLE_ENTITY, "voice_too_long"),
            Self::AudioTooShort { .. } => answer(C::UNPROCESSABLE_ENTITY, "audio_too_short"),
            Self::AudioTooLong { .. } => answer(C::UNPROCESSABLE_ENTITY, "audio_too_long"),
            Self::Engine(E::QueueFull) => Answer {
                retry_after_s: Some(QUEUE_FULL_RETRY_S),
                ..answer(C::TOO_MANY_REQUESTS, "queue_full")
            },
            Self::Engine(E::Loading) => Answer {
                retry_after_s: Some(LOADING_RETRY_S),
                ..answer(C::SERVICE_UNAVAILABLE, "model_loading")
            },
            Self::Engine(E::LoadFailed(_)) => answer(C::SERVICE_UNAVAILABLE, "model_failed"),
            Self::Engine(E::ShuttingDown) => answer(C::SERVICE_UNAVAILABLE, "shutting_down"),
            Self::Engine(E::Timeout(_)) => answer(C::GATEWAY_TIMEOUT, "timeout"),
            Self::Engine(E::Panicked | E::WorkersGone) => {
                answer(C::INTERNAL_SERVER_ERROR, "internal")
            }
            Self::Engine(E::Model(e)) | Self::Synthesis(e) => synthesis(e),
            Self::Internal { .. } => answer(C::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        self.answer().code
    }

    /// What the client reads: the error itself, except that internal failures stay opaque.
    pub(crate) fn public_message(&self) -> String {
        match self {
            Self::Internal { message, .. } => (*message).to_string(),
            _ if self.answer().status == StatusCode::INTERNAL_SERVER_ERROR => {
                "synthesis failed".to_string()
            }
            _ => self.to_string(),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code (see README.md "Error codes").
    #[schema(example = "invalid_param")]
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.answer().status
    }

    fn error_response(&self) -> HttpResponse {
        let a = self.answer();
        if a.status.is_server_error() && a.status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = ?self, code = a.code, "request failed");
        }
        let mut b = HttpResponse::build(a.status);
        if let Some(s) = a.retry_after_s {
            b.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        if let Self::Unauthorized = self {
            b.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Self::RangeNotSatisfiable { len } = self {
            b.insert_header((header::CONTENT_RANGE, format!("bytes */{len}")));
        }
        b.insert_header((header::CACHE_CONTROL, "no-store"));
        b.json(ErrorResponse {
            error: ErrorDetail {
                code: a.code.to_string(),
                message: self.public_message(),
            },
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_worker_panic_is_an_internal_error_not_a_client_one() {
        let e = ApiError::from(EngineError::Panicked);
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.code(), "internal");
    }

    #[test]
    fn the_table_keeps_the_documented_codes() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (EngineError::QueueFull.into(), 429, "queue_full"),
            (EngineError::Loading.into(), 503, "model_loading"),
            (
                EngineError::LoadFailed("x".into()).into(),
                503,
                "model_failed",
            ),
            (EngineError::ShuttingDown.into(), 503, "shutting_down"),
            (
                EngineError::Timeout(Duration::from_secs(1)).into(),
                504,
                "timeout",
            ),
            (
                chatterbox::Error::AudioTooLong { max_s: 3.0 }.into(),
                422,
                "voice_too_long",
            ),
            (
                chatterbox::Error::AudioDecode("x".into()).into(),
                422,
                "invalid_audio",
            ),
            (
                chatterbox::Error::Tokenizer("x".into()).into(),
                422,
                "invalid_text",
            ),
            (chatterbox::Error::Cancelled.into(), 503, "cancelled"),
            (
                ApiError::RangeNotSatisfiable { len: 3 },
                416,
                "range_not_satisfiable",
            ),
            (
                ApiError::InvalidVoiceName("x".into()),
                400,
                "invalid_voice_name",
            ),
            (ApiError::VoiceExists("x".into()), 409, "voice_exists"),
            (ApiError::VoiceBuiltin, 403, "voice_builtin"),
            (ApiError::Unauthorized, 401, "unauthorized"),
            (
                ApiError::AudioTooShort {
                    seconds: 0.1,
                    min: 0.5,
                },
                422,
                "audio_too_short",
            ),
            (
                ApiError::AudioTooLong { max_s: 30.0 },
                422,
                "audio_too_long",
            ),
            (
                ApiError::RateLimited { retry_after_s: 2 },
                429,
                "rate_limited",
            ),
        ];
        for (e, status, code) in cases {
            assert_eq!((e.status_code().as_u16(), e.code()), (status, code), "{e}");
        }
        let r = ApiError::from(EngineError::QueueFull).error_response();
        assert_eq!(
            r.headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("5")
        );
    }
}
