//! HTTP handlers, one module per resource, each mounting itself with `configure`. They stay thin:
//! parse into a domain type, call a service, shape the response; every failure is an
//! [`ApiError`](crate::error::ApiError).

pub mod health;
pub mod info;
pub mod metrics;
pub mod openai;
pub mod openapi;
pub mod play;
pub mod sessions;
pub mod speech_sse;
pub mod synthesize;
pub mod tts;
pub mod vc;
pub mod voices;

use actix_web::web;

use crate::error::ApiError;

/// Mount every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(synthesize::configure)
        .configure(play::configure)
        .configure(sessions::configure)
        .configure(voices::configure)
        .configure(openai::configure)
        .configure(tts::configure)
        .configure(vc::configure)
        .configure(health::configure)
        .configure(info::configure)
        .configure(metrics::configure)
        .configure(openapi::configure);
}

/// Any path no route matches.
pub async fn not_found() -> Result<web::Json<()>, ApiError> {
    Err(ApiError::RouteNotFound)
}
