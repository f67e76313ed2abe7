//! chatterbox-rs HTTP service: the contract is in README.md and docs/openapi.json.

pub mod config;
pub mod engine;
pub mod error;
mod play;
pub mod routes;
pub mod sessions;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpServer};
use chatterbox::pipeline::Conditionals;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

pub use config::{Config, LogFormat};
use engine::Engine;
use sessions::SessionStore;

/// Shared by every handler.
pub struct AppState {
    pub cfg: Config,
    pub engine: Arc<Engine>,
    pub store: Arc<SessionStore<Conditionals>>,
    pub prometheus: PrometheusHandle,
}

async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let rid = uuid::Uuid::new_v4().to_string();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let span =
        tracing::info_span!("request", id = %rid, method = %req.method(), path = %req.path());
    let start = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    if let Ok(v) = HeaderValue::from_str(&rid) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    let elapsed = start.elapsed().as_secs_f64();
    metrics::counter!("chatterbox_http_requests_total", "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("chatterbox_http_request_seconds", "route" => route).record(elapsed);
    span.in_scope(|| tracing::info!(status, elapsed_ms = elapsed * 1e3, "request"));
    Ok(res)
}

/// Initialise logging once (text or JSON).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => b.json().try_init(),
        LogFormat::Text => b.try_init(),
    };
}

/// Run the service until SIGINT/SIGTERM; then stop accepting, let in-flight requests finish
/// (up to 30 s), and stop the synthesis workers.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    cfg.validate().map_err(anyhow::Error::msg)?;
    tracing::info!(config = %serde_json::to_string(&cfg).unwrap_or_default(), "starting");
    if cfg.threads > 0 {
        std::env::set_var("RAYON_NUM_THREADS", cfg.threads.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", cfg.threads.to_string());
    }
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let store = Arc::new(SessionStore::open(&cfg.out_dir)?);
    let mut voices = 0;
    for id in store.ids() {
        let path = store.voice_path(&id);
        if path.is_file() {
            match chatterbox::pipeline::load_voice(&path) {
                Ok(v) => {
                    store.set_voice(&id, Arc::new(v));
                    voices += 1;
                }
                Err(e) => tracing::warn!(%id, error = %e, "ignoring unreadable session voice"),
            }
        }
    }
    tracing::info!(sessions = store.len(), voices, dir = %cfg.out_dir.display(), "sessions recovered");
    let engine = Engine::start(
        cfg.model_dir.clone(),
        cfg.workers,
        cfg.max_queue,
        Duration::from_secs(cfg.request_timeout_seconds),
    );

    // Hourly (configurable) cleanup.
    {
        let store = store.clone();
        let (every, max_age) = (cfg.cleanup_interval_seconds, cfg.max_age_seconds);
        actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(every));
            tick.tick().await;
            loop {
                tick.tick().await;
                let s = store.clone();
                match web::block(move || s.cleanup(max_age)).await {
                    Ok(n) if n > 0 => tracing::info!(removed = n, "cleanup"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cleanup failed"),
                }
                metrics::gauge!("chatterbox_sessions").set(store.len() as f64);
            }
        });
    }

    let state = web::Data::new(AppState {
        cfg: cfg.clone(),
        engine: engine.clone(),
        store,
        prometheus,
    });
    let origins = cfg.cors_origins.clone();
    let addr = cfg.bind_addr();
    let server = HttpServer::new(move || {
        let mut cors = actix_cors::Cors::default()
            .allowed_methods(vec!["GET", "POST"])
            .allow_any_header()
            .expose_headers(vec!["content-range", "accept-ranges", "x-request-id"])
            .max_age(3600);
        for o in &origins {
            cors = cors.allowed_origin(o);
        }
        App::new()
            .app_data(state.clone())
            .wrap(cors)
            .wrap(from_fn(observe))
            .configure(routes::configure)
            .default_service(web::route().to(routes::not_found))
    })
    .workers(cfg.http_workers)
    .shutdown_timeout(30)
    .bind(&addr)?;
    for a in server.addrs() {
        tracing::info!(addr = %a, "listening");
        println!("listening on {a}");
    }
    server.run().await?;
    tracing::info!("shutting down");
    engine.close();
    Ok(())
}
