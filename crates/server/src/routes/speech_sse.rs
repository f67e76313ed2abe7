//! `POST /v1/audio/speech` with `stream_format: "sse"`: the audio as OpenAI's server-sent events,
//! `data: {"type": "speech.audio.delta", "audio": "<base64>"}` for each piece, then
//! `data: {"type": "speech.audio.done", "usage": {…}}`. The base64-decoded deltas, concatenated,
//! are the response file.
//!
//! `pcm`, and `wav` (a header with unknown sizes first, as `/synthesize` streams), at speed 1.0
//! without a loudness target leave as each chunk of the text is spoken; every other case needs the
//! whole audio (the time stretch, the loudness measurement and the compressed encoders work on
//! all of it), so its events follow once it is complete. Whatever fails before the first event
//! is an ordinary error response; a failure later ends the stream with
//! `data: {"type": "error", "error": {"message", "type", "code"}}`. A client that goes away
//! cancels the work (the job is dropped with the body).

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use base64::Engine as _;
use serde_json::json;

use super::openai::{openai_type, speak, speech_voice, OpenAiError, Speech};
use crate::audio::{pcm16, streaming_wav_header, AudioFormat};
use crate::engine::{EngineError, Event, Job, JobRequest};
use crate::error::ApiError;
use crate::synthesizer::Synthesizer;
use crate::voices::VoiceStore;

/// Largest piece of encoded audio in one event (before base64) when the whole file is sent.
const EVENT_BYTES: usize = 32 * 1024;

fn event(value: serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

fn delta(bytes: &[u8]) -> Bytes {
    event(json!({
        "type": "speech.audio.delta",
        "audio": base64::engine::general_purpose::STANDARD.encode(bytes),
    }))
}

/// Token counts are not tracked: `usage` is present (OpenAI's clients read it) and zero.
fn done() -> Bytes {
    event(json!({
        "type": "speech.audio.done",
        "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
    }))
}

fn error_event(e: &ApiError) -> Bytes {
    use actix_web::ResponseError;
    event(json!({
        "type": "error",
        "error": {
            "message": e.public_message(),
            "type": openai_type(e.status_code()),
            "code": e.code(),
        },
    }))
}

fn sse(body: impl futures_util::Stream<Item = Result<Bytes, ApiError>> + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body)
}

/// Answer `speech` with server-sent events.
pub(crate) async fn respond(
    speech: Speech,
    service: &Synthesizer,
    voices: &VoiceStore,
    loudness_lufs: Option<f64>,
) -> Result<HttpResponse, OpenAiError> {
    let incremental = speech.speed == 1.0
        && loudness_lufs.is_none()
        && matches!(speech.format, AudioFormat::Pcm | AudioFormat::Wav);
    if !incremental {
        let bytes = speak(speech, service, voices, true, loudness_lufs).await?;
        let mut events: Vec<Result<Bytes, ApiError>> =
            bytes.chunks(EVENT_BYTES).map(|c| Ok(delta(c))).collect();
        events.push(Ok(done()));
        return Ok(sse(futures_util::stream::iter(events)));
    }
    let wav = speech.format == AudioFormat::Wav;
    let request = speech.request;
    let voice = speech_voice(&request.voice, voices, true)?;
    let mut job = service.submit(JobRequest {
        text: request.text,
        voice,
        params: request.params,
        chunking: service.chunking(),
        // Joined, the deltas are the plain answer's PCM (the OpenAI check relies on it).
        stream: false,
    })?;
    // Wait for the first audio, so that an early failure is an ordinary error response.
    let (first, finished) = loop {
        match job.next().await {
            Some(Ok(Event::Audio(piece))) => break (piece, false),
            Some(Ok(Event::Done(_))) => break (Vec::new(), true),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(ApiError::from(e).into()),
            None => return Err(ApiError::from(EngineError::WorkersGone).into()),
        }
    };
    let mut head = if wav {
        streaming_wav_header(job.sample_rate()).to_vec()
    } else {
        Vec::new()
    };
    head.extend(pcm16(&first));
    let state = Pieces {
        job,
        pending: vec![delta(&head)],
        finished,
    };
    Ok(sse(futures_util::stream::unfold(state, next_events)))
}

struct Pieces {
    job: Job,
    /// Events to send before reading the job again.
    pending: Vec<Bytes>,
    /// The job is over (done or failed): send what is pending, then end.
    finished: bool,
}

async fn next_events(mut st: Pieces) -> Option<(Result<Bytes, ApiError>, Pieces)> {
    loop {
        if !st.pending.is_empty() {
            let first = st.pending.remove(0);
            return Some((Ok(first), st));
        }
        if st.finished {
            return None;
        }
        match st.job.next().await {
            Some(Ok(Event::Audio(piece))) => {
                if !piece.is_empty() {
                    st.pending.push(delta(&pcm16(&piece)));
                }
            }
            Some(Ok(Event::Done(_))) => {
                st.finished = true;
                st.pending.push(done());
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                let e = ApiError::from(e);
                tracing::warn!(error = %e, "streamed speech failed");
                st.finished = true;
                st.pending.push(error_event(&e));
            }
            None => {
                st.finished = true;
                st.pending
                    .push(error_event(&ApiError::from(EngineError::WorkersGone)));
            }
        }
    }
}
