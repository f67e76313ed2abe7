//! chatterbox-rs HTTP service: the contract is in README.md and the generated OpenAPI document
//! (`/openapi.json`, committed as docs/openapi.json).
//!
//! Layers: `routes` (thin handlers, one module per resource) → `synthesizer` (the service) →
//! `engine` (bounded queue, worker threads) → a [`model::SpeechModel`]. Requests are parsed once
//! into validated types (`request`); every failure is one [`error::ApiError`], mapped to status and
//! code in one table. Sessions (`sessions`) and voices (`voices`) persist apart.

pub mod access;
pub mod audio;
pub mod config;
pub mod engine;
pub mod error;
pub mod library;
pub mod loudness;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod request;
pub mod routes;
pub mod sessions;
pub mod startup;
pub mod stretch;
pub mod synthesizer;
pub mod voices;

pub use config::{Config, LogFormat};
pub use startup::Application;

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

/// Lock a mutex, taking the data even if another thread panicked while holding it (every mutex
/// here guards a queue end or a handle that stays valid).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
