//! `POST /delete`.

use actix_web::{post, web, HttpRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::request::{media_type, parse_session_id};
use crate::synthesizer::Synthesizer;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(delete);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// The session to remove.
    pub session_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteResponse {
    pub session_id: Uuid,
    /// Always `true`.
    pub deleted: bool,
}

impl DeleteRequest {
    fn parse(req: &HttpRequest, body: &[u8]) -> Result<Self, ApiError> {
        let ct = media_type(req);
        if ct.starts_with("application/json") {
            serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))
        } else if ct.starts_with("application/x-www-form-urlencoded") {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::InvalidForm("the form is not UTF-8".into()))?;
            web::Query::<Self>::from_query(text)
                .map(web::Query::into_inner)
                .map_err(|e| ApiError::InvalidForm(e.to_string()))
        } else {
            Err(ApiError::UnsupportedMediaType(
                "send application/json or application/x-www-form-urlencoded",
            ))
        }
    }
}

/// Remove a session's audio, metadata and voice.
#[utoipa::path(
    post,
    path = "/delete",
    tag = "sessions",
    request_body(content(
        (DeleteRequest = "application/json"),
        (DeleteRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Deleted", body = DeleteResponse),
        (status = 400, description = "invalid_json, invalid_form", body = ErrorResponse),
        (status = 404, description = "session_not_found (also for a malformed id or a second delete)", body = ErrorResponse),
        (status = 415, description = "unsupported_media_type", body = ErrorResponse),
    )
)]
#[post("/delete")]
pub async fn delete(
    req: HttpRequest,
    body: web::Bytes,
    service: web::Data<Synthesizer>,
) -> ApiResult<web::Json<DeleteResponse>> {
    let request = DeleteRequest::parse(&req, &body)?;
    let sid = parse_session_id(&request.session_id).ok_or(ApiError::SessionNotFound)?;
    service.delete(sid).await?;
    Ok(web::Json(DeleteResponse {
        session_id: sid,
        deleted: true,
    }))
}
