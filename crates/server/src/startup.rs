//! Wiring: stores, engine, services, the HTTP server and the cleanup task.

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use chatterbox::Chatterbox;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::engine::{Engine, EngineConfig};
use crate::model::{SpeechModel, StreamingChatterbox, VoiceCodec};
use crate::sessions::SessionStore;
use crate::synthesizer::{ClipLimits, Synthesizer};
use crate::voices::VoiceStore;
use crate::{metrics, routes};

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    engine: Arc<Engine>,
    cleanup: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Build the service with the real model (from `--model-dir`, else the hub). Binds the port
    /// (0: any free one).
    pub fn build(mut cfg: Config) -> anyhow::Result<Self> {
        cfg.resolve_model();
        let dir = cfg.model_dir.clone();
        let variant = cfg.variant();
        let opts = chatterbox::LoadOptions {
            quantization: cfg.quantize,
        };
        let load = move || match dir {
            Some(dir) => Chatterbox::load_variant_with(&dir, Some(variant), &opts),
            None => Chatterbox::from_hub_variant_with(variant, &opts),
        };
        let stream = cfg.stream_options();
        Self::build_with_model(cfg, move || {
            let model = load()?;
            if stream.is_some() && model.default_voice().is_some() {
                // Turbo: the built-in voice's conditioning prefilled, so that its first streamed
                // request starts as soon as later ones.
                model.prepare_streaming(None)?;
            }
            Ok(StreamingChatterbox { model, stream })
        })
    }

    /// Build the service around any model; `load` runs on a background thread (`/health` says
    /// 503 `loading` until it returns).
    pub fn build_with_model<M, F>(cfg: Config, load: F) -> anyhow::Result<Self>
    where
        M: SpeechModel,
        F: FnOnce() -> chatterbox::Result<M> + Send + 'static,
    {
        cfg.validate().map_err(anyhow::Error::msg)?;
        tracing::info!(config = %serde_json::to_string(&cfg).unwrap_or_default(), "starting");
        if cfg.threads > 0 {
            std::env::set_var("RAYON_NUM_THREADS", cfg.threads.to_string());
            std::env::set_var("CANDLE_NUM_THREADS", cfg.threads.to_string());
        }
        let prometheus = metrics::init(&crate::openapi::route_patterns())?;
        let sessions = Arc::new(SessionStore::open(&cfg.out_dir)?);
        let voices = Arc::new(VoiceStore::open(&cfg.out_dir, VoiceCodec::of::<M>())?);
        tracing::info!(sessions = sessions.len(), voices = voices.len(), dir = %cfg.out_dir.display(), "sessions recovered");
        metrics::set_sessions(sessions.len());
        metrics::set_queue_depth(0);
        let engine = Engine::start(
            load,
            EngineConfig {
                workers: cfg.workers,
                max_queue: cfg.max_queue,
                timeout: Duration::from_secs(cfg.request_timeout_seconds),
            },
        );
        let synthesizer = Arc::new(
            Synthesizer::new(
                engine.clone(),
                sessions.clone(),
                voices.clone(),
                ClipLimits {
                    min_s: cfg.min_voice_seconds,
                    max_s: cfg.max_voice_seconds,
                },
            )
            .with_chunking(cfg.chunking()),
        );
        let cleanup = tokio::spawn(cleanup_task(
            synthesizer.clone(),
            cfg.cleanup_interval_seconds,
            cfg.max_age_seconds,
        ));

        let access = web::Data::new(crate::access::Access::from_config(&cfg)?);
        let aliases = web::Data::new(routes::tts::VoiceAliases::load(
            cfg.voice_aliases.as_deref(),
        )?);
        let listener = TcpListener::bind(cfg.bind_addr())?;
        let addr = listener.local_addr()?;
        let data = (
            web::Data::new(cfg.clone()),
            web::Data::from(engine.clone()),
            web::Data::from(sessions),
            web::Data::from(voices),
            web::Data::from(synthesizer),
            web::Data::new(prometheus),
            access,
        );
        let origins = cfg.cors_origins.clone();
        let server = HttpServer::new(move || {
            let mut cors = actix_cors::Cors::default()
                .allowed_methods(vec!["GET", "POST", "DELETE"])
                .allow_any_header()
                .expose_headers(vec![
                    "content-range",
                    "accept-ranges",
                    "x-request-id",
                    "x-session-id",
                    "retry-after",
                ])
                .max_age(3600);
            for o in &origins {
                cors = cors.allowed_origin(o);
            }
            let (cfg, engine, sessions, voices, synthesizer, prometheus, access) = data.clone();
            App::new()
                .app_data(cfg)
                .app_data(engine)
                .app_data(sessions)
                .app_data(voices)
                .app_data(synthesizer)
                .app_data(prometheus)
                .app_data(access)
                .app_data(aliases.clone())
                .wrap(from_fn(crate::access::guard))
                .wrap(cors)
                .wrap(from_fn(metrics::observe))
                .configure(routes::configure)
                .default_service(web::route().to(routes::not_found))
        })
        .workers(cfg.http_workers)
        // A client that closes its side is gone: drop its request, which cancels the synthesis
        // (actix-web keeps half-closed connections, and so the work, by default).
        .h1_allow_half_closed(false)
        .shutdown_timeout(30)
        .listen(listener)?
        .run();
        tracing::info!(%addr, "listening");
        println!("listening on {addr}");
        Ok(Self {
            port: addr.port(),
            server,
            engine,
            cleanup,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server gracefully (as SIGTERM does) when asked.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serve until SIGINT/SIGTERM (or [`Application::handle`]'s `stop`): then stop accepting, let
    /// in-flight requests finish (up to 30 s) and stop the synthesis workers.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let served = self.server.await;
        tracing::info!("shutting down");
        self.cleanup.abort();
        self.engine.shutdown(Duration::from_secs(10)).await;
        Ok(served?)
    }
}

async fn cleanup_task(synthesizer: Arc<Synthesizer>, every_s: u64, max_age_s: u64) {
    // The first pass runs at once: it removes what a crash left (older than the maximum age).
    let mut tick = tokio::time::interval(Duration::from_secs(every_s));
    loop {
        tick.tick().await;
        match synthesizer.cleanup(max_age_s).await {
            Ok(n) if n > 0 => tracing::info!(removed = n, "cleanup"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cleanup failed"),
        }
    }
}
