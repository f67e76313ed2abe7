//! `GET /openapi.json`.

use actix_web::{get, web, HttpResponse};
use std::sync::OnceLock;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(openapi);
}

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
#[get("/openapi.json")]
pub async fn openapi() -> HttpResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOC.get_or_init(crate::openapi::json).as_str())
}
