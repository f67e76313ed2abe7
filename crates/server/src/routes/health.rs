//! `GET /health` (readiness) and `GET /livez` (liveness).

use actix_web::http::{header, StatusCode};
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::engine::{Engine, EngineState};
use crate::sessions::SessionStore;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health).service(livez);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Loading,
    Failed,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    pub model_loaded: bool,
    /// Why the model failed to load (`null` otherwise).
    #[schema(required = true)]
    pub error: Option<String>,
    /// Requests waiting for a synthesis worker.
    pub queue_depth: usize,
    /// Requests being synthesised.
    pub in_flight: usize,
    pub sessions: usize,
    pub version: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    #[schema(example = "alive")]
    pub status: String,
}

/// Readiness: 200 when the model is loaded, 503 while loading or failed.
#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready (loading or failed)", body = Health),
    )
)]
#[get("/health")]
pub async fn health(engine: web::Data<Engine>, sessions: web::Data<SessionStore>) -> HttpResponse {
    let (code, status, error) = match engine.state() {
        EngineState::Ready => (StatusCode::OK, HealthStatus::Ok, None),
        EngineState::Loading => (StatusCode::SERVICE_UNAVAILABLE, HealthStatus::Loading, None),
        EngineState::Failed(m) => (
            StatusCode::SERVICE_UNAVAILABLE,
            HealthStatus::Failed,
            Some(m),
        ),
    };
    HttpResponse::build(code)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Health {
            status,
            model_loaded: status == HealthStatus::Ok,
            error,
            queue_depth: engine.queue_depth(),
            in_flight: engine.in_flight(),
            sessions: sessions.len(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        })
}

/// Liveness: the process answers HTTP (model state not considered).
#[utoipa::path(
    get,
    path = "/livez",
    tag = "service",
    responses((status = 200, description = "Alive", body = Liveness))
)]
#[get("/livez")]
pub async fn livez() -> web::Json<Liveness> {
    web::Json(Liveness {
        status: "alive".into(),
    })
}
