//! `GET /metrics`.

use actix_web::{get, web, HttpResponse};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::engine::Engine;
use crate::sessions::SessionStore;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(metrics);
}

/// Prometheus metrics (text format): chatterbox_http_requests_total{route,status},
/// chatterbox_http_request_seconds{route}, chatterbox_synthesis_seconds,
/// chatterbox_real_time_factor, chatterbox_queue_depth, chatterbox_sessions.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String))
)]
#[get("/metrics")]
pub async fn metrics(
    prometheus: web::Data<PrometheusHandle>,
    engine: web::Data<Engine>,
    sessions: web::Data<SessionStore>,
) -> HttpResponse {
    crate::metrics::set_queue_depth(engine.queue_depth());
    crate::metrics::set_sessions(sessions.len());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(prometheus.render())
}
