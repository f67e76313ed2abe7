//! Prometheus metrics. Every `chatterbox_*` family is described and registered at start-up, so a
//! fresh server's `/metrics` already lists them all: histograms are rendered as Prometheus
//! histograms (fixed buckets), whose zero counts are true before the first observation.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::Mutex;
use std::time::Instant;
use tracing::Instrument;

pub const HTTP_REQUESTS: &str = "chatterbox_http_requests_total";
pub const HTTP_SECONDS: &str = "chatterbox_http_request_seconds";
pub const SYNTHESIS_SECONDS: &str = "chatterbox_synthesis_seconds";
pub const REAL_TIME_FACTOR: &str = "chatterbox_real_time_factor";
pub const QUEUE_DEPTH: &str = "chatterbox_queue_depth";
pub const SESSIONS: &str = "chatterbox_sessions";

/// Every family `/metrics` exposes.
pub const FAMILIES: [&str; 6] = [
    HTTP_REQUESTS,
    HTTP_SECONDS,
    SYNTHESIS_SECONDS,
    REAL_TIME_FACTOR,
    QUEUE_DEPTH,
    SESSIONS,
];

/// The route label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

const SECONDS_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
const RTF_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0];

/// The process-wide recorder (installed once: several apps in one test process share it).
static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Install the Prometheus recorder (once per process) and register every family, with one
/// request-duration series per route in `routes`.
pub fn init(routes: &[String]) -> anyhow::Result<PrometheusHandle> {
    let handle = {
        let mut slot = crate::lock(&HANDLE);
        match slot.as_ref() {
            Some(h) => h.clone(),
            None => {
                let h = PrometheusBuilder::new()
                    .set_buckets_for_metric(Matcher::Full(HTTP_SECONDS.into()), &SECONDS_BUCKETS)?
                    .set_buckets_for_metric(
                        Matcher::Full(SYNTHESIS_SECONDS.into()),
                        &SECONDS_BUCKETS,
                    )?
                    .set_buckets_for_metric(Matcher::Full(REAL_TIME_FACTOR.into()), &RTF_BUCKETS)?
                    .install_recorder()?;
                *slot = Some(h.clone());
                h
            }
        }
    };
    register(routes);
    Ok(handle)
}

fn register(routes: &[String]) {
    use metrics::Unit;
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route and status");
    metrics::describe_histogram!(
        HTTP_SECONDS,
        Unit::Seconds,
        "HTTP request latency, by route"
    );
    metrics::describe_histogram!(
        SYNTHESIS_SECONDS,
        Unit::Seconds,
        "Time the model took per synthesis (queueing excluded)"
    );
    metrics::describe_histogram!(
        REAL_TIME_FACTOR,
        "Synthesis seconds per second of audio produced"
    );
    metrics::describe_gauge!(QUEUE_DEPTH, "Synthesis jobs waiting for a worker");
    metrics::describe_gauge!(SESSIONS, "Sessions on record");
    // Registering a handle is what makes a family appear; counters start at 0 and histograms
    // with zero counts, which is exactly what has been observed so far.
    let _ = metrics::counter!(HTTP_REQUESTS);
    for route in routes.iter().map(String::as_str).chain([UNMATCHED]) {
        let _ = metrics::histogram!(HTTP_SECONDS, "route" => route.to_string());
    }
    let _ = metrics::histogram!(SYNTHESIS_SECONDS);
    let _ = metrics::histogram!(REAL_TIME_FACTOR);
    let _ = metrics::gauge!(QUEUE_DEPTH);
    let _ = metrics::gauge!(SESSIONS);
}

/// After a synthesis: model time, real-time factor, sessions.
pub fn record_synthesis(synthesis_s: f64, audio_s: f64, sessions: usize) {
    metrics::histogram!(SYNTHESIS_SECONDS).record(synthesis_s);
    if audio_s > 0.0 {
        metrics::histogram!(REAL_TIME_FACTOR).record(synthesis_s / audio_s);
    }
    set_sessions(sessions);
}

pub fn set_sessions(n: usize) {
    metrics::gauge!(SESSIONS).set(n as f64);
}

pub fn set_queue_depth(n: usize) {
    metrics::gauge!(QUEUE_DEPTH).set(n as f64);
}

/// Middleware: a request id (span field and `x-request-id` header), a log line, and the HTTP
/// metrics of every request.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let rid = uuid::Uuid::new_v4().to_string();
    let route = req.match_pattern().unwrap_or_else(|| UNMATCHED.to_string());
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
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(HTTP_SECONDS, "route" => route).record(elapsed);
    span.in_scope(|| tracing::info!(status, elapsed_ms = elapsed * 1e3, "request"));
    Ok(res)
}
