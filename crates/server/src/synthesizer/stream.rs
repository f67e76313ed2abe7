//! `"stream": true`: the same synthesis answered while it is produced, as a WAV header with
//! unknown sizes followed by 16-bit PCM piece by piece. The finished audio is stored for `/play`
//! exactly as a whole synthesis is, and is the same PCM. Dropping the body (the client went away)
//! drops the job, which cancels the work, and the lease, which removes a session this request
//! created.

use actix_web::web::Bytes;
use futures_util::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

use super::{Lease, Started, Synthesizer};
use crate::audio::{pcm16, streaming_wav_header};
use crate::engine::{EngineError, Event, Job, StageTimings};
use crate::error::ApiError;
use crate::metrics;
use crate::model::Voice;
use crate::request::SynthesisRequest;

/// A streamed synthesis whose first audio is ready.
pub struct Streamed {
    pub session_id: Uuid,
    /// The WAV header and the audio as it comes; an error mid-stream ends the body abruptly.
    pub body: Pin<Box<dyn Stream<Item = Result<Bytes, ApiError>>>>,
}

struct State {
    synth: Arc<Synthesizer>,
    session: Option<Lease>,
    job: Job,
    samples: Vec<f32>,
    new_voice: Option<Voice>,
    /// Bytes to send before anything else (the header and the first audio).
    pending: Option<Bytes>,
    /// The job is done: persist, then end.
    done: Option<StageTimings>,
    finished: bool,
}

impl Synthesizer {
    /// Start a streamed synthesis. Answers once the first audio exists, so that whatever fails
    /// before (a full queue, a bad voice, no speech) is still an ordinary error response.
    pub async fn synthesize_stream(
        self: Arc<Self>,
        req: SynthesisRequest,
    ) -> Result<Streamed, ApiError> {
        let received = req.received;
        let Started {
            session, mut job, ..
        } = self.start(req).await?;
        let sid = session.id;
        let (mut samples, mut new_voice) = (Vec::new(), None);
        let done = loop {
            match job.next().await {
                Some(Ok(Event::VoicePrepared(v))) => new_voice = Some(v),
                Some(Ok(Event::Progress(p))) => self.sessions.set_progress(&sid, p.done, p.total),
                Some(Ok(Event::Audio(piece))) => {
                    samples = piece;
                    break None;
                }
                Some(Ok(Event::Done(t))) => break Some(t),
                Some(Err(e)) => return Err(e.into()),
                None => return Err(EngineError::WorkersGone.into()),
            }
        };
        metrics::record_first_audio(received.elapsed().as_secs_f64());
        let mut head = streaming_wav_header(job.sample_rate()).to_vec();
        head.extend(pcm16(&samples));
        let state = State {
            synth: self,
            session: Some(session),
            job,
            samples,
            new_voice,
            pending: Some(Bytes::from(head)),
            done,
            finished: false,
        };
        Ok(Streamed {
            session_id: sid,
            body: Box::pin(futures_util::stream::unfold(state, step)),
        })
    }
}

/// The next bytes of the body, or the end.
async fn step(mut st: State) -> Option<(Result<Bytes, ApiError>, State)> {
    if let Some(bytes) = st.pending.take() {
        return Some((Ok(bytes), st));
    }
    if st.finished {
        return None;
    }
    let sid = st.session.as_ref().map_or_else(Uuid::nil, |s| s.id);
    let timings = loop {
        if let Some(t) = st.done.take() {
            break t;
        }
        match st.job.next().await {
            Some(Ok(Event::Audio(piece))) => {
                st.samples.extend_from_slice(&piece);
                return Some((Ok(Bytes::from(pcm16(&piece))), st));
            }
            Some(Ok(Event::Progress(p))) => st.synth.sessions.set_progress(&sid, p.done, p.total),
            Some(Ok(Event::VoicePrepared(v))) => st.new_voice = Some(v),
            Some(Ok(Event::Done(t))) => break t,
            Some(Err(e)) => return fail(st, e.into()),
            None => return fail(st, EngineError::WorkersGone.into()),
        }
    };
    st.finished = true;
    let sample_rate = st.job.sample_rate();
    let samples = std::mem::take(&mut st.samples);
    let duration = samples.len() as f64 / f64::from(sample_rate.max(1));
    let t0 = Instant::now();
    match st
        .synth
        .persist(sid, samples, sample_rate, st.new_voice.take())
        .await
    {
        Ok(_) => {
            if let Some(lease) = st.session.take() {
                lease.keep();
            }
            metrics::record_synthesis(timings.synthesis_s, duration, st.synth.sessions.len());
            tracing::debug!(
                persist_s = t0.elapsed().as_secs_f64(),
                "streamed synthesis stored"
            );
            None
        }
        Err(e) => fail(st, e),
    }
}

/// End the body with an error (the client sees a truncated stream).
fn fail(mut st: State, e: ApiError) -> Option<(Result<Bytes, ApiError>, State)> {
    tracing::warn!(error = %e, "streamed synthesis failed");
    st.finished = true;
    Some((Err(e), st))
}
