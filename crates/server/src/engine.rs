//! The model runs on dedicated worker threads fed by a bounded queue; HTTP threads never run
//! candle. A full queue is answered at once ([`EngineError::QueueFull`]); a job that times out or
//! whose [`Job`] handle is dropped (client gone) is cancelled through a flag the model polls between
//! steps. A job replies with a stream of [`Event`]s: the voice it prepared (if any), audio in one
//! piece or several, then [`Event::Done`].

use chatterbox::{Audio, ChunkOptions, ChunkProgress, GenerateParams};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::model::{Piece, SpeechModel, VcTarget, Voice};

/// Why a job could not run or finish. The HTTP layer maps these in `error.rs`.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the model is still loading")]
    Loading,
    #[error("the model failed to load: {0}")]
    LoadFailed(String),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("the synthesis queue is full; retry later")]
    QueueFull,
    #[error("synthesis did not finish within {} s and was cancelled", .0.as_secs())]
    Timeout(Duration),
    #[error("synthesis failed unexpectedly")]
    Panicked,
    #[error("the synthesis worker stopped")]
    WorkersGone,
    #[error(transparent)]
    Model(#[from] chatterbox::Error),
}

/// Readiness of the model.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineState {
    Loading,
    Ready,
    Failed(String),
}

/// Which voice to speak in.
pub enum VoiceInput {
    /// The model's built-in voice.
    Builtin,
    /// A voice prepared earlier.
    Prepared(Voice),
    /// A freshly uploaded clip (decoded, any rate): the job prepares it first.
    Upload(Audio),
}

/// Where the time went, in seconds.
#[derive(Debug, Clone, Default)]
pub struct StageTimings {
    pub queue_s: f64,
    pub voice_s: f64,
    pub synthesis_s: f64,
}

/// What a running job reports, in order.
#[derive(Debug)]
pub enum Event {
    /// The voice prepared from an upload (to keep for the session).
    VoicePrepared(Voice),
    /// The next piece of audio.
    Audio(Vec<f32>),
    /// Chunks of the text finished so far (after the audio they produced).
    Progress(ChunkProgress),
    /// The job finished; nothing follows.
    Done(StageTimings),
}

/// One synthesis to run.
pub struct JobRequest {
    pub text: String,
    pub voice: VoiceInput,
    pub params: GenerateParams,
    /// How to cut a long text.
    pub chunking: ChunkOptions,
    /// The audio is streamed to the client as it comes (`/synthesize` with `stream: true`): the
    /// model may take its streaming path ([`SpeechModel::generate_streamed`]).
    pub stream: bool,
}

impl JobRequest {
    /// A job that only prepares `clip` into a voice: one [`Event::VoicePrepared`], no audio
    /// (the voice library's uploads).
    pub fn prepare_voice(clip: Audio) -> Self {
        Self {
            text: String::new(),
            voice: VoiceInput::Upload(clip),
            params: GenerateParams::default(),
            chunking: ChunkOptions::default(),
            stream: false,
        }
    }
}

/// One voice conversion to run: `source` spoken again in `target` (`Upload`: a target clip,
/// of which only the S3Gen reference is computed).
pub struct ConvertRequest {
    /// The speech to convert, decoded (any rate).
    pub source: Audio,
    pub target: VoiceInput,
    /// Seeds the model's noise (`None`: random).
    pub seed: Option<u64>,
}

/// What a queued job does.
enum Work {
    Synthesize(JobRequest),
    Convert(ConvertRequest),
}

struct QueuedJob {
    work: Work,
    cancel: Arc<AtomicBool>,
    enqueued: Instant,
    events: UnboundedSender<Result<Event, EngineError>>,
}

/// A queued or running job. Dropping it cancels the work.
pub struct Job {
    events: UnboundedReceiver<Result<Event, EngineError>>,
    cancel: Arc<AtomicBool>,
    deadline: tokio::time::Instant,
    timeout: Duration,
    sample_rate: u32,
    finished: bool,
}

impl Job {
    /// Rate of the audio this job produces.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The next event; `None` after [`Event::Done`] or an error. Past the deadline this is
    /// [`EngineError::Timeout`] (and the work is cancelled).
    pub async fn next(&mut self) -> Option<Result<Event, EngineError>> {
        if self.finished {
            return None;
        }
        let item = match tokio::time::timeout_at(self.deadline, self.events.recv()).await {
            Ok(Some(item)) => item,
            Ok(None) => Err(EngineError::WorkersGone),
            Err(_) => {
                self.cancel.store(true, Ordering::SeqCst);
                Err(EngineError::Timeout(self.timeout))
            }
        };
        self.finished = matches!(item, Ok(Event::Done(_)) | Err(_));
        Some(item)
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // Finished, timed out, or the request future was dropped because the client went away.
        self.cancel.store(true, Ordering::SeqCst);
    }
}

/// Sizes of the engine.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// Worker threads, each running one job at a time on the shared model.
    pub workers: usize,
    /// Jobs waiting for a worker beyond which new ones are refused.
    pub max_queue: usize,
    /// Longest a job may take, queueing included.
    pub timeout: Duration,
}

pub struct Engine {
    tx: Mutex<Option<SyncSender<QueuedJob>>>,
    state: Arc<RwLock<EngineState>>,
    depth: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    alive: Arc<AtomicUsize>,
    sample_rate: Arc<AtomicU32>,
    timeout: Duration,
}

impl Engine {
    /// Load the model in the background with `load`, then serve the queue from `cfg.workers`
    /// threads.
    pub fn start<M, F>(load: F, cfg: EngineConfig) -> Arc<Self>
    where
        M: SpeechModel,
        F: FnOnce() -> chatterbox::Result<M> + Send + 'static,
    {
        let (tx, rx) = sync_channel::<QueuedJob>(cfg.max_queue);
        let engine = Arc::new(Self {
            tx: Mutex::new(Some(tx)),
            state: Arc::new(RwLock::new(EngineState::Loading)),
            depth: Arc::new(AtomicUsize::new(0)),
            running: Arc::new(AtomicUsize::new(0)),
            alive: Arc::new(AtomicUsize::new(0)),
            sample_rate: Arc::new(AtomicU32::new(0)),
            timeout: cfg.timeout,
        });
        let shared = Shared {
            rx: Arc::new(Mutex::new(rx)),
            depth: engine.depth.clone(),
            running: engine.running.clone(),
            alive: engine.alive.clone(),
        };
        let (state, sample_rate) = (engine.state.clone(), engine.sample_rate.clone());
        let spawned = std::thread::Builder::new()
            .name("model-loader".into())
            .spawn(move || {
                let t0 = Instant::now();
                let model = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)) {
                    Ok(Ok(m)) => Arc::new(m),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "model failed to load");
                        set_state(&state, EngineState::Failed(e.to_string()));
                        return;
                    }
                    Err(_) => {
                        tracing::error!("model loader panicked");
                        set_state(&state, EngineState::Failed("the loader panicked".into()));
                        return;
                    }
                };
                tracing::info!(seconds = t0.elapsed().as_secs_f64(), "model loaded");
                sample_rate.store(model.sample_rate(), Ordering::SeqCst);
                for i in 0..cfg.workers.max(1) {
                    let (model, shared) = (model.clone(), shared.clone());
                    shared.alive.fetch_add(1, Ordering::SeqCst);
                    let alive = shared.alive.clone();
                    let r = std::thread::Builder::new()
                        .name(format!("synth-{i}"))
                        .spawn(move || worker(&*model, &shared));
                    if let Err(e) = r {
                        alive.fetch_sub(1, Ordering::SeqCst);
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

    /// Jobs waiting for a worker.
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::SeqCst)
    }

    /// Jobs running right now.
    pub fn in_flight(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Stop accepting work; workers finish what is queued and exit.
    pub fn close(&self) {
        crate::lock(&self.tx).take();
    }

    /// [`Engine::close`], then wait up to `grace` for the workers to exit.
    pub async fn shutdown(&self, grace: Duration) {
        self.close();
        let t0 = Instant::now();
        while self.alive.load(Ordering::SeqCst) > 0 && t0.elapsed() < grace {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Queue a job. Its [`Job`] handle yields the events; dropping the handle cancels it.
    pub fn submit(&self, request: JobRequest) -> Result<Job, EngineError> {
        self.enqueue(Work::Synthesize(request))
    }

    /// Queue a voice conversion: its [`Job`] yields the converted audio in one
    /// [`Event::Audio`], then [`Event::Done`]; dropping the handle cancels it.
    pub fn submit_conversion(&self, request: ConvertRequest) -> Result<Job, EngineError> {
        self.enqueue(Work::Convert(request))
    }

    fn enqueue(&self, work: Work) -> Result<Job, EngineError> {
        match self.state() {
            EngineState::Ready => {}
            EngineState::Loading => return Err(EngineError::Loading),
            EngineState::Failed(m) => return Err(EngineError::LoadFailed(m)),
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let (events, rx) = unbounded_channel();
        let job = QueuedJob {
            work,
            cancel: cancel.clone(),
            enqueued: Instant::now(),
            events,
        };
        {
            let tx = crate::lock(&self.tx);
            let tx = tx.as_ref().ok_or(EngineError::ShuttingDown)?;
            self.depth.fetch_add(1, Ordering::SeqCst);
            if let Err(e) = tx.try_send(job) {
                self.depth.fetch_sub(1, Ordering::SeqCst);
                return Err(match e {
                    TrySendError::Full(_) => EngineError::QueueFull,
                    TrySendError::Disconnected(_) => EngineError::WorkersGone,
                });
            }
        }
        metrics::gauge!(crate::metrics::QUEUE_DEPTH).set(self.queue_depth() as f64);
        Ok(Job {
            events: rx,
            cancel,
            deadline: tokio::time::Instant::now() + self.timeout,
            timeout: self.timeout,
            sample_rate: self.sample_rate.load(Ordering::SeqCst),
            finished: false,
        })
    }
}

fn set_state(state: &RwLock<EngineState>, s: EngineState) {
    match state.write() {
        Ok(mut g) => *g = s,
        Err(p) => *p.into_inner() = s,
    }
}

/// What the workers share.
#[derive(Clone)]
struct Shared {
    rx: Arc<Mutex<Receiver<QueuedJob>>>,
    depth: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    alive: Arc<AtomicUsize>,
}

fn worker<M: SpeechModel>(model: &M, shared: &Shared) {
    loop {
        let job = match crate::lock(&shared.rx).recv() {
            Ok(j) => j,
            Err(_) => break, // queue closed: shutdown
        };
        shared.depth.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!(crate::metrics::QUEUE_DEPTH)
            .set(shared.depth.load(Ordering::SeqCst) as f64);
        if job.cancel.load(Ordering::SeqCst) || job.events.is_closed() {
            continue; // client gone or timed out while queued: free the slot at once
        }
        shared.running.fetch_add(1, Ordering::SeqCst);
        let queue_s = job.enqueued.elapsed().as_secs_f64();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_job(model, &job, queue_s)
        }));
        shared.running.fetch_sub(1, Ordering::SeqCst);
        let reply = match result {
            Ok(Ok(timings)) => Ok(Event::Done(timings)),
            Ok(Err(e)) => Err(EngineError::Model(e)),
            Err(_) => {
                tracing::error!("synthesis panicked");
                Err(EngineError::Panicked)
            }
        };
        let _ = job.events.send(reply);
    }
    shared.alive.fetch_sub(1, Ordering::SeqCst);
}

fn run_job<M: SpeechModel>(
    model: &M,
    job: &QueuedJob,
    queue_s: f64,
) -> chatterbox::Result<StageTimings> {
    let cancelled = || job.cancel.load(Ordering::SeqCst);
    let send = |e: Event| {
        // A closed channel means the client is gone; the cancel flag stops the work.
        let _ = job.events.send(Ok(e));
    };
    let r = match &job.work {
        Work::Synthesize(r) => r,
        Work::Convert(c) => return run_conversion(model, c, &cancelled, &send, queue_s),
    };
    let t0 = Instant::now();
    let prepared;
    let voice: Option<&M::Voice> = match &r.voice {
        VoiceInput::Builtin => None,
        VoiceInput::Prepared(v) => Some(v.downcast::<M::Voice>().ok_or_else(|| {
            chatterbox::Error::InvalidArgument("the voice belongs to another model".into())
        })?),
        VoiceInput::Upload(clip) => {
            let v = Voice::new(model.prepare_voice(clip, r.params.exaggeration)?);
            send(Event::VoicePrepared(v.clone()));
            prepared = v;
            prepared.downcast::<M::Voice>()
        }
    };
    let voice_s = t0.elapsed().as_secs_f64();
    if cancelled() {
        return Err(chatterbox::Error::Cancelled);
    }
    if r.text.is_empty() {
        // JobRequest::prepare_voice: the voice was all it asked for.
        return Ok(StageTimings {
            queue_s,
            voice_s,
            synthesis_s: 0.0,
        });
    }
    let t1 = Instant::now();
    let mut emit = |piece: Piece| {
        if !piece.samples.is_empty() {
            send(Event::Audio(piece.samples));
        }
        if let Some(p) = piece.progress {
            send(Event::Progress(p));
        }
    };
    // A client that plays while the audio arrives may get its first audio sooner.
    let generate = if r.stream {
        M::generate_streamed
    } else {
        M::generate_chunked
    };
    generate(
        model,
        &r.text,
        voice,
        &r.params,
        &r.chunking,
        &cancelled,
        &mut emit,
    )?;
    Ok(StageTimings {
        queue_s,
        voice_s,
        synthesis_s: t1.elapsed().as_secs_f64(),
    })
}

fn run_conversion<M: SpeechModel>(
    model: &M,
    c: &ConvertRequest,
    cancelled: &dyn Fn() -> bool,
    send: &dyn Fn(Event),
    queue_s: f64,
) -> chatterbox::Result<StageTimings> {
    let t0 = Instant::now();
    let target = match &c.target {
        VoiceInput::Builtin => VcTarget::Builtin,
        VoiceInput::Prepared(v) => VcTarget::Voice(v.downcast::<M::Voice>().ok_or_else(|| {
            chatterbox::Error::InvalidArgument("the voice belongs to another model".into())
        })?),
        VoiceInput::Upload(clip) => VcTarget::Prompt(clip),
    };
    let samples = model.convert(&c.source, target, c.seed, cancelled)?;
    send(Event::Audio(samples));
    Ok(StageTimings {
        queue_s,
        voice_s: 0.0,
        synthesis_s: t0.elapsed().as_secs_f64(),
    })
}
