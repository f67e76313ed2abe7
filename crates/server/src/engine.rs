//! The model runs on dedicated worker threads fed by a bounded queue; HTTP threads never run
//! candle. A full queue is answered at once (429); a request that times out or whose client goes
//! away is cancelled through a flag the pipeline polls between T3 decoding steps, S3Gen's Euler
//! steps and the vocoder's stages.

use chatterbox::audio::Audio;
use chatterbox::pipeline::{Chatterbox, Conditionals, GenerateParams};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

use crate::error::ApiError;

/// Readiness of the model.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineState {
    Loading,
    Ready,
    Failed(String),
}

/// Which voice to speak in.
pub enum VoiceInput {
    /// The built-in voice (`conds.pt`).
    Default,
    /// Conditionals kept from an earlier upload.
    Cached(Arc<Conditionals>),
    /// A freshly uploaded clip (decoded, any rate).
    Upload(Audio),
}

/// Where the time went, in seconds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Timings {
    pub queue_s: f64,
    pub voice_s: f64,
    pub synthesis_s: f64,
}

pub struct Synthesis {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// Conditionals computed from an upload, to keep in the session.
    pub new_voice: Option<Arc<Conditionals>>,
    pub timings: Timings,
}

struct Job {
    text: String,
    voice: VoiceInput,
    params: GenerateParams,
    cancel: Arc<AtomicBool>,
    enqueued: Instant,
    reply: oneshot::Sender<chatterbox::Result<Synthesis>>,
}

/// Sets the cancel flag when dropped (request finished, timed out, or its future was dropped
/// because the client disconnected).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

pub struct Engine {
    tx: Mutex<Option<SyncSender<Job>>>,
    state: Arc<RwLock<EngineState>>,
    depth: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    timeout: Duration,
}

impl Engine {
    /// Start loading the model in the background and spawn `workers` threads that serve the
    /// queue once it is loaded. `threads` caps candle's CPU threads (0 = default).
    pub fn start(
        model_dir: Option<PathBuf>,
        workers: usize,
        max_queue: usize,
        timeout: Duration,
    ) -> Arc<Self> {
        let (tx, rx) = sync_channel::<Job>(max_queue);
        let engine = Arc::new(Self {
            tx: Mutex::new(Some(tx)),
            state: Arc::new(RwLock::new(EngineState::Loading)),
            depth: Arc::new(AtomicUsize::new(0)),
            running: Arc::new(AtomicUsize::new(0)),
            timeout,
        });
        let state = engine.state.clone();
        let depth = engine.depth.clone();
        let running = engine.running.clone();
        let rx = Arc::new(Mutex::new(rx));
        let spawned = std::thread::Builder::new()
            .name("model-loader".into())
            .spawn(move || {
                let t0 = Instant::now();
                let loaded = match &model_dir {
                    Some(dir) => Chatterbox::load(dir),
                    None => Chatterbox::from_hub(),
                };
                let model = match loaded {
                    Ok(m) => Arc::new(m),
                    Err(e) => {
                        tracing::error!(error = %e, "model failed to load");
                        set_state(&state, EngineState::Failed(e.to_string()));
                        return;
                    }
                };
                tracing::info!(seconds = t0.elapsed().as_secs_f64(), "model loaded");
                for i in 0..workers.max(1) {
                    let (model, rx, depth, running) =
                        (model.clone(), rx.clone(), depth.clone(), running.clone());
                    let r = std::thread::Builder::new()
                        .name(format!("synth-{i}"))
                        .spawn(move || worker(model, rx, depth, running));
                    if let Err(e) = r {
                        tracing::error!(error = %e, "cannot spawn synthesis worker");
                    }
                }
                set_state(&state, EngineState::Ready);
            });
        if let Err(e) = spawned {
            set_state(
                &engine.state,
                EngineState::Failed(format!("cannot spawn loader: {e}")),
            );
        }
        engine
    }

    pub fn state(&self) -> EngineState {
        match self.state.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Requests waiting for a worker.
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::SeqCst)
    }

    /// Requests being synthesised right now.
    pub fn in_flight(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Stop accepting work; workers finish what is queued and exit.
    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
    }

    /// Queue one synthesis and wait for it (bounded by the request timeout).
    pub async fn synthesize(
        &self,
        text: String,
        voice: VoiceInput,
        params: GenerateParams,
    ) -> Result<Synthesis, ApiError> {
        match self.state() {
            EngineState::Ready => {}
            EngineState::Loading => {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                    "model_loading",
                    "the model is still loading",
                )
                .with_retry_after(10))
            }
            EngineState::Failed(m) => {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                    "model_failed",
                    format!("the model failed to load: {m}"),
                ))
            }
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let _guard = CancelOnDrop(cancel.clone());
        let (reply, rx) = oneshot::channel();
        let job = Job {
            text,
            voice,
            params,
            cancel: cancel.clone(),
            enqueued: Instant::now(),
            reply,
        };
        {
            let tx = self
                .tx
                .lock()
                .map_err(|_| ApiError::internal("queue poisoned"))?;
            let tx = tx.as_ref().ok_or_else(|| {
                ApiError::new(
                    actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                    "shutting_down",
                    "the server is shutting down",
                )
            })?;
            self.depth.fetch_add(1, Ordering::SeqCst);
            if let Err(e) = tx.try_send(job) {
                self.depth.fetch_sub(1, Ordering::SeqCst);
                return Err(match e {
                    TrySendError::Full(_) => ApiError::queue_full(5),
                    TrySendError::Disconnected(_) => {
                        ApiError::internal("synthesis workers stopped")
                    }
                });
            }
        }
        metrics::gauge!("chatterbox_queue_depth").set(self.queue_depth() as f64);
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(r)) => r.map_err(ApiError::from),
            Ok(Err(_)) => Err(ApiError::internal("synthesis worker dropped the request")),
            Err(_) => Err(ApiError::new(
                actix_web::http::StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "synthesis did not finish within {} s and was cancelled",
                    self.timeout.as_secs()
                ),
            )),
        }
    }
}

fn set_state(state: &RwLock<EngineState>, s: EngineState) {
    match state.write() {
        Ok(mut g) => *g = s,
        Err(p) => *p.into_inner() = s,
    }
}

fn worker(
    model: Arc<Chatterbox>,
    rx: Arc<Mutex<Receiver<Job>>>,
    depth: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
) {
    loop {
        let job = {
            let Ok(rx) = rx.lock() else { return };
            match rx.recv() {
                Ok(j) => j,
                Err(_) => return, // queue closed: shutdown
            }
        };
        depth.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!("chatterbox_queue_depth").set(depth.load(Ordering::SeqCst) as f64);
        if job.cancel.load(Ordering::SeqCst) || job.reply.is_closed() {
            continue; // client gone or timed out while queued: free the slot at once
        }
        running.fetch_add(1, Ordering::SeqCst);
        let queue_s = job.enqueued.elapsed().as_secs_f64();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_job(&model, &job, queue_s)
        }))
        .unwrap_or_else(|_| {
            tracing::error!("synthesis panicked");
            Err(chatterbox::Error::InvalidArgument(
                "internal failure during synthesis".into(),
            ))
        });
        running.fetch_sub(1, Ordering::SeqCst);
        let _ = job.reply.send(result);
    }
}

fn run_job(model: &Chatterbox, job: &Job, queue_s: f64) -> chatterbox::Result<Synthesis> {
    let cancelled = || job.cancel.load(Ordering::SeqCst);
    let t0 = Instant::now();
    let (voice, new_voice) = match &job.voice {
        VoiceInput::Default => (None, None),
        VoiceInput::Cached(c) => (Some(c.clone()), None),
        VoiceInput::Upload(audio) => {
            let c = Arc::new(model.prepare_conditionals(audio, job.params.exaggeration)?);
            (Some(c.clone()), Some(c))
        }
    };
    let voice_s = t0.elapsed().as_secs_f64();
    if cancelled() {
        return Err(chatterbox::Error::Cancelled);
    }
    let t1 = Instant::now();
    let samples = model.generate(&job.text, voice.as_deref(), &job.params, &cancelled)?;
    Ok(Synthesis {
        samples,
        sample_rate: model.sample_rate(),
        new_voice,
        timings: Timings {
            queue_s,
            voice_s,
            synthesis_s: t1.elapsed().as_secs_f64(),
        },
    })
}
