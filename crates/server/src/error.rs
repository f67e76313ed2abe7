//! One error type for the HTTP layer: every failure becomes `{"error": {"code", "message"}}` with
//! the right status. Codes are stable and documented in README.md and docs/openapi.json.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_s: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn session_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "session_not_found",
            "no such session",
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn with_retry_after(mut self, s: u64) -> Self {
        self.retry_after_s = Some(s);
        self
    }

    pub fn queue_full(retry_after_s: u64) -> Self {
        Self {
            retry_after_s: Some(retry_after_s),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "queue_full",
                "the synthesis queue is full; retry later",
            )
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut b = HttpResponse::build(self.status);
        if let Some(s) = self.retry_after_s {
            b.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        b.insert_header((header::CACHE_CONTROL, "no-store"));
        b.json(Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        })
    }
}

/// Synthesis-crate errors, as seen by a client.
impl From<chatterbox::Error> for ApiError {
    fn from(e: chatterbox::Error) -> Self {
        use chatterbox::Error as E;
        match &e {
            E::AudioDecode(_) => Self::unprocessable("invalid_audio", e.to_string()),
            E::InvalidAudio(_) => Self::unprocessable("invalid_audio", e.to_string()),
            E::AudioTooLong { .. } => Self::unprocessable("voice_too_long", e.to_string()),
            E::InvalidArgument(_) => Self::unprocessable("invalid_param", e.to_string()),
            E::Tokenizer(_) => Self::unprocessable("invalid_text", e.to_string()),
            E::Cancelled => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "cancelled",
                "the request was cancelled",
            ),
            _ => {
                tracing::error!(error = %e, "synthesis failed");
                Self::internal("synthesis failed")
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
