//! The synthesis service between the routes and the engine: it finds or creates the session,
//! resolves the voice (decoding an upload), runs the job, encodes the audio and persists it (voice
//! first, so a stored session always has its voice on disk). `stream.rs` answers the same request
//! as audio while it is produced.

mod stream;

pub use stream::Streamed;

use chatterbox::audio::DecodeLimits;
use chatterbox::pipeline::{VC_MAX_SOURCE_S, VC_MIN_SOURCE_S};
use chatterbox::ChunkOptions;
use std::sync::Arc;
use uuid::Uuid;

use crate::audio::{self, AudioFormat};
use crate::engine::{
    ConvertRequest, Engine, EngineError, Event, Job, JobRequest, StageTimings, VoiceInput,
};
use crate::error::ApiError;
use crate::metrics;
use crate::model::Voice;
use crate::request::{SynthesisRequest, VoiceRequest};
use crate::sessions::{Busy, SessionMeta, SessionStore, StoredAudio};
use crate::voices::{NamedVoice, VoiceStore, DEFAULT_VOICE, UPLOAD_VOICE};

/// Bounds on an uploaded voice clip, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct ClipLimits {
    pub min_s: f64,
    pub max_s: f64,
}

/// A finished, stored synthesis.
#[derive(Debug)]
pub struct Synthesized {
    pub session_id: Uuid,
    /// Seconds of audio.
    pub duration: f64,
    pub sample_rate: u32,
    /// Which voice spoke: `default` or `upload`.
    pub voice: String,
    pub timings: StageTimings,
    /// Chunks the text was spoken in.
    pub chunks: usize,
}

pub struct Synthesizer {
    engine: Arc<Engine>,
    sessions: Arc<SessionStore>,
    voices: Arc<VoiceStore>,
    clips: ClipLimits,
    format: AudioFormat,
    chunking: ChunkOptions,
}

/// A session in use by one request: busy while it lives, and removed on drop if this request
/// created it and did not succeed.
struct Lease {
    id: Uuid,
    created: bool,
    sessions: Arc<SessionStore>,
    voices: Arc<VoiceStore>,
    _busy: Busy,
}

/// A submitted job with its session, before any event.
struct Started {
    session: Lease,
    job: Job,
    /// `default` or `upload`.
    label: &'static str,
    /// The saved voice's name when the request named one.
    saved_name: Option<String>,
}

impl Lease {
    /// The request succeeded: keep the session.
    fn keep(mut self) {
        self.created = false;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.created {
            self.sessions.delete(&self.id);
            self.voices.remove_session(&self.id);
        }
    }
}

/// What a job produced.
pub(crate) struct Output {
    pub(crate) samples: Vec<f32>,
    pub(crate) sample_rate: u32,
    pub(crate) new_voice: Option<Voice>,
    pub(crate) timings: StageTimings,
    /// Text chunks spoken.
    pub(crate) chunks: usize,
}

pub(crate) async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(what, e))
}

impl Synthesizer {
    pub fn new(
        engine: Arc<Engine>,
        sessions: Arc<SessionStore>,
        voices: Arc<VoiceStore>,
        clips: ClipLimits,
    ) -> Self {
        Self {
            engine,
            sessions,
            voices,
            clips,
            format: AudioFormat::Wav,
            chunking: ChunkOptions::default(),
        }
    }

    /// Cut texts into chunks with `chunking` (default: [`ChunkOptions::default`]).
    pub fn with_chunking(mut self, chunking: ChunkOptions) -> Self {
        self.chunking = chunking;
        self
    }

    /// How texts are cut into chunks.
    pub fn chunking(&self) -> ChunkOptions {
        self.chunking
    }

    /// Speak the request's text and store the audio as the session's latest.
    pub async fn synthesize(&self, req: SynthesisRequest) -> Result<Synthesized, ApiError> {
        let Started {
            session,
            job,
            label,
            saved_name,
        } = self.start(req).await?;
        let Output {
            samples,
            sample_rate,
            new_voice,
            timings,
            chunks,
        } = self.collect(job, Some(session.id)).await?;
        let duration = samples.len() as f64 / f64::from(sample_rate.max(1));
        let meta = self
            .persist(session.id, samples, sample_rate, new_voice)
            .await?;
        let session_id = session.id;
        session.keep();
        metrics::record_synthesis(timings.synthesis_s, duration, self.sessions.len());
        Ok(Synthesized {
            session_id,
            duration,
            sample_rate: meta.sample_rate,
            voice: match saved_name {
                Some(name) => name,
                None if label == DEFAULT_VOICE => label.to_string(),
                None => meta.voice,
            },
            timings,
            chunks,
        })
    }

    /// Find or create the session, resolve the voice and submit the job.
    async fn start(&self, req: SynthesisRequest) -> Result<Started, ApiError> {
        let named = match &req.voice {
            VoiceRequest::Named(name) => Some(
                self.voices
                    .named(name)
                    .ok_or_else(|| ApiError::VoiceNotFound(name.clone()))?,
            ),
            _ => None,
        };
        let session = self.lease(req.session_id)?;
        let mut saved_name = None;
        let voice = match (req.voice, named) {
            (VoiceRequest::Upload(bytes), _) => VoiceInput::Upload(self.decode_clip(bytes).await?),
            (_, Some(NamedVoice::Builtin)) => VoiceInput::Builtin,
            (_, Some(NamedVoice::Saved(saved))) => {
                saved_name = Some(saved.info.name.clone());
                VoiceInput::Prepared(saved.voice.clone())
            }
            _ => self
                .voices
                .session_voice(&session.id)
                .map_or(VoiceInput::Builtin, VoiceInput::Prepared),
        };
        let label = match voice {
            VoiceInput::Builtin => DEFAULT_VOICE,
            _ => UPLOAD_VOICE,
        };
        let job = JobRequest {
            text: req.text,
            voice,
            params: req.params,
            chunking: self.chunking,
            stream: req.stream,
        };
        let job = self.engine.submit(job)?;
        self.sessions.set_progress(&session.id, 0, 0);
        Ok(Started {
            session,
            job,
            label,
            saved_name,
        })
    }

    /// The requested session (which must exist), or a new one.
    fn lease(&self, requested: Option<Uuid>) -> Result<Lease, ApiError> {
        let (id, created) = match requested {
            Some(id) => (id, false),
            None => (
                self.sessions
                    .create()
                    .map_err(|e| ApiError::internal("could not create the session", e))?,
                true,
            ),
        };
        let busy = self.sessions.busy(&id).ok_or(ApiError::SessionNotFound)?;
        Ok(Lease {
            id,
            created,
            sessions: self.sessions.clone(),
            voices: self.voices.clone(),
            _busy: busy,
        })
    }

    /// Queue a job that belongs to no session and collect its events (the voice library, the
    /// stateless endpoints).
    pub(crate) async fn run_request(&self, request: JobRequest) -> Result<Output, ApiError> {
        let job = self.engine.submit(request)?;
        self.collect(job, None).await
    }

    /// Queue a job that belongs to no session; its events are the caller's to read.
    pub(crate) fn submit(&self, request: JobRequest) -> Result<Job, ApiError> {
        Ok(self.engine.submit(request)?)
    }

    /// Queue a voice conversion and collect its audio.
    pub(crate) async fn run_conversion(&self, request: ConvertRequest) -> Result<Output, ApiError> {
        let job = self.engine.submit_conversion(request)?;
        self.collect(job, None).await
    }

    /// Decode audio to convert and check its length against the model's bounds
    /// ([`VC_MIN_SOURCE_S`]..=[`VC_MAX_SOURCE_S`]).
    pub(crate) async fn decode_source(
        &self,
        bytes: Vec<u8>,
    ) -> Result<chatterbox::Audio, ApiError> {
        let limits = DecodeLimits {
            max_duration_s: VC_MAX_SOURCE_S,
            ..DecodeLimits::default()
        };
        let audio = blocking("decoder thread failed", move || {
            chatterbox::audio::decode(&bytes, &limits)
        })
        .await?
        .map_err(|e| match e {
            chatterbox::Error::AudioTooLong { max_s } => ApiError::AudioTooLong { max_s },
            other => ApiError::Synthesis(other),
        })?;
        if audio.duration_s() < VC_MIN_SOURCE_S {
            return Err(ApiError::AudioTooShort {
                seconds: audio.duration_s(),
                min: VC_MIN_SOURCE_S,
            });
        }
        Ok(audio)
    }

    /// Collect the job's events (dropping the job on error or timeout cancels it), recording
    /// its progress in session `sid` when there is one.
    async fn collect(&self, mut job: Job, sid: Option<Uuid>) -> Result<Output, ApiError> {
        let (mut samples, mut new_voice, mut chunks) = (Vec::new(), None, 0);
        while let Some(event) = job.next().await {
            match event? {
                Event::VoicePrepared(v) => new_voice = Some(v),
                Event::Audio(piece) => samples.extend_from_slice(&piece),
                Event::Progress(p) => {
                    chunks = p.total;
                    if let Some(sid) = &sid {
                        self.sessions.set_progress(sid, p.done, p.total);
                    }
                }
                Event::Done(timings) => {
                    return Ok(Output {
                        samples,
                        sample_rate: job.sample_rate(),
                        new_voice,
                        timings,
                        chunks,
                    })
                }
            }
        }
        Err(EngineError::WorkersGone.into())
    }

    /// Decode an uploaded clip and check its length.
    pub(crate) async fn decode_clip(&self, bytes: Vec<u8>) -> Result<chatterbox::Audio, ApiError> {
        let limits = DecodeLimits {
            max_duration_s: self.clips.max_s,
            ..DecodeLimits::default()
        };
        let clip = blocking("decoder thread failed", move || {
            chatterbox::audio::decode(&bytes, &limits)
        })
        .await?
        .map_err(|e| match e {
            chatterbox::Error::AudioTooLong { max_s } => ApiError::VoiceTooLong { max_s },
            other => ApiError::Synthesis(other),
        })?;
        if clip.duration_s() < self.clips.min_s {
            return Err(ApiError::VoiceTooShort {
                seconds: clip.duration_s(),
                min: self.clips.min_s,
            });
        }
        Ok(clip)
    }

    /// Encode and store the audio; the session's new voice goes to disk first.
    async fn persist(
        &self,
        sid: Uuid,
        samples: Vec<f32>,
        sample_rate: u32,
        new_voice: Option<Voice>,
    ) -> Result<SessionMeta, ApiError> {
        let (sessions, voices, format) = (self.sessions.clone(), self.voices.clone(), self.format);
        let duration = samples.len() as f64 / f64::from(sample_rate.max(1));
        blocking("storage thread failed", move || {
            let (bytes, _) = audio::encode(&samples, sample_rate, format)
                .map_err(|e| ApiError::internal("could not encode the audio", e))?;
            let label = match new_voice {
                Some(v) => {
                    voices
                        .save_session_voice(&sid, v)
                        .map_err(|e| ApiError::internal("could not store the voice", e))?;
                    Some(UPLOAD_VOICE)
                }
                None => None,
            };
            let audio = StoredAudio {
                bytes: &bytes,
                format,
                duration,
                sample_rate,
            };
            sessions.store(&sid, &audio, label).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    voices.remove_session(&sid); // deleted meanwhile: do not resurrect its voice
                    ApiError::SessionNotFound
                } else {
                    ApiError::internal("could not store the audio", e)
                }
            })
        })
        .await?
    }

    /// Remove a session: its audio, its sidecar and its voice.
    pub async fn delete(&self, sid: Uuid) -> Result<(), ApiError> {
        let (sessions, voices) = (self.sessions.clone(), self.voices.clone());
        let existed = blocking("storage thread failed", move || {
            let existed = sessions.delete(&sid);
            voices.remove_session(&sid);
            existed
        })
        .await?;
        metrics::set_sessions(self.sessions.len());
        if existed {
            Ok(())
        } else {
            Err(ApiError::SessionNotFound)
        }
    }

    /// Delete sessions idle for longer than `max_age_s` (and their voices). Returns how many.
    pub async fn cleanup(&self, max_age_s: u64) -> Result<usize, ApiError> {
        let (sessions, voices) = (self.sessions.clone(), self.voices.clone());
        let n = blocking("cleanup thread failed", move || {
            let removed = sessions.cleanup(max_age_s);
            for id in &removed {
                voices.remove_session(id);
            }
            voices.sweep(max_age_s, |id| sessions.contains(id));
            removed.len()
        })
        .await?;
        metrics::set_sessions(self.sessions.len());
        Ok(n)
    }
}
