//! Long texts and `"stream": true`: chunked audio over HTTP, stored for `/play` all the same.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::helpers::{assert_playable, spawn_app, spawn_fake_app, TestApp};

/// The bytes after a WAV's `data` chunk header.
fn pcm_of(wav: &[u8]) -> &[u8] {
    let at = wav
        .windows(4)
        .position(|w| w == b"data")
        .expect("a data chunk");
    &wav[at + 8..]
}

/// A streamed synthesis: (status, session id, body, seconds to the first body bytes, seconds to
/// the end, session played back when the first bytes arrived).
struct StreamRun {
    status: StatusCode,
    sid: String,
    body: Vec<u8>,
    first_s: f64,
    end_s: f64,
    stored_at_first_bytes: StatusCode,
}

async fn stream(app: &TestApp, body: Value) -> StreamRun {
    let t0 = Instant::now();
    let mut r = app
        .client
        .post(app.url("/synthesize"))
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = r.status();
    let sid = r
        .headers()
        .get("x-session-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (mut out, mut first_s, mut stored) = (Vec::new(), None, StatusCode::OK);
    while let Some(chunk) = r.chunk().await.expect("body") {
        if first_s.is_none() {
            first_s = Some(t0.elapsed().as_secs_f64());
            stored = app.play(&sid).await.0;
        }
        out.extend_from_slice(&chunk);
    }
    StreamRun {
        status,
        sid,
        body: out,
        first_s: first_s.unwrap_or(f64::INFINITY),
        end_s: t0.elapsed().as_secs_f64(),
        stored_at_first_bytes: stored,
    }
}

fn sentences(n: usize) -> String {
    (0..n)
        .map(|i| format!("This is sentence number {i}, which is long enough to stand alone."))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_text_is_spoken_whole_in_chunks() {
    let app = spawn_app().await;
    let mut text = String::new();
    let mut i = 0;
    while text.chars().count() < 2000 {
        text.push_str(&format!(
            "Paragraph {i} has a sentence, then a clause; and another one. "
        ));
        i += 1;
    }
    let text: String = text.chars().take(2000).collect();
    let expected = chatterbox::text::split_text(&text, &chatterbox::ChunkOptions::default()).len();
    assert!(expected >= 5, "{expected}");
    let body = json!({"text": text, "seed": 11, "max_new_tokens": 12});
    let (st, v) = app.synthesize_json(body.clone()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["chunks"], expected, "{v}");
    let sid = v["session_id"].as_str().expect("sid").to_string();
    let (st, wav) = app.play(&sid).await;
    assert_eq!(st, 200);
    assert_playable(&wav);
    // Every chunk spoke: at least a few speech tokens' worth of audio each (40 ms per token).
    assert!(
        v["duration"].as_f64().unwrap_or(0.0) > expected as f64 * 0.1,
        "{v}"
    );
    let meta: Value = serde_json::from_slice(
        &std::fs::read(app.out.join(format!("{sid}.json"))).expect("sidecar"),
    )
    .expect("json");
    assert_eq!(
        (&meta["chunks_done"], &meta["chunks_total"]),
        (&json!(expected), &json!(expected)),
        "progress in the session's metadata: {meta}"
    );
    // The same seed and text give the same audio.
    let (st, v2) = app.synthesize_json(body).await;
    assert_eq!(st, 200, "{v2}");
    let (_, wav2) = app.play(v2["session_id"].as_str().expect("sid")).await;
    assert_eq!(wav, wav2);
    // A text over the limit is refused before any work.
    let (st, v) = app
        .synthesize_json(json!({"text": "a".repeat(20_001)}))
        .await;
    assert_eq!(
        (st.as_u16(), crate::helpers::error_code(&v)),
        (422, "text_too_long")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_synthesis_starts_early_and_matches_the_stored_file() {
    let app = spawn_app().await;
    let text = sentences(6);
    let run = stream(
        &app,
        json!({"text": text, "seed": 5, "max_new_tokens": 25, "stream": true}),
    )
    .await;
    assert_eq!(run.status, 200);
    assert!(!run.sid.is_empty(), "x-session-id header");
    assert_eq!(&run.body[..4], b"RIFF");
    assert_eq!(&run.body[4..8], &[0xff; 4], "unknown RIFF size");
    assert_eq!(&run.body[40..44], &[0xff; 4], "unknown data size");
    assert_eq!(
        run.stored_at_first_bytes, 404,
        "the first bytes came before the synthesis ended and was stored"
    );
    assert!(run.first_s < run.end_s);
    let (st, stored) = app.play(&run.sid).await;
    assert_eq!(st, 200, "stored for /play once finished");
    let (st, meta) = app.get_json(&format!("/sessions/{}", run.sid)).await;
    assert_eq!(st, 200, "{meta}");
    assert_eq!(
        (&meta["chunks_done"], &meta["chunks_total"]),
        (&json!(6), &json!(6)),
        "{meta}"
    );
    assert_eq!(app.get_json("/sessions/nope").await.0, 404);
    assert_eq!(
        pcm_of(&stored),
        &run.body[44..],
        "streamed PCM = stored PCM"
    );
    assert!(run.body.len() > 44 + 2 * 2400, "audio came");
    eprintln!(
        "tiny checkpoint, 6 sentences: first audio {:.3} s, whole stream {:.3} s",
        run.first_s, run.end_s
    );
    let m = app.metrics().await;
    let observed: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix("chatterbox_time_to_first_audio_seconds_count "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(observed >= 1.0, "time to first audio observed: {m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_as_a_form_field_and_errors_before_audio_stay_json() {
    let (app, _) = spawn_fake_app(|_| {}).await;
    let form = reqwest::multipart::Form::new()
        .text("text", "drip quickly")
        .text("stream", "on");
    let r = app
        .client
        .post(app.url("/synthesize"))
        .multipart(form)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    let sid = r.headers()["x-session-id"]
        .to_str()
        .expect("sid")
        .to_string();
    let body = r.bytes().await.expect("body");
    assert_eq!(body.len(), 44 + 20 * 2400 * 2, "twenty pieces of 0.1 s");
    let (st, stored) = app.play(&sid).await;
    assert_eq!(st, 200);
    assert_eq!(pcm_of(&stored), &body[44..]);
    // A failure before the first audio is an ordinary JSON error.
    let (st, v) = app
        .synthesize_json(json!({"text": "x", "stream": true, "session_id": uuid::Uuid::new_v4()}))
        .await;
    assert_eq!(
        (st.as_u16(), crate::helpers::error_code(&v)),
        (404, "session_not_found")
    );
    let (st, v) = app
        .synthesize_json(json!({"text": "x", "stream": "yes"}))
        .await;
    assert_eq!(
        (st.as_u16(), crate::helpers::error_code(&v)),
        (400, "invalid_json")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_bytes_arrive_long_before_the_end() {
    let (app, _) = spawn_fake_app(|_| {}).await;
    let run = stream(&app, json!({"text": "drip", "stream": true})).await;
    assert_eq!(run.status, 200);
    // Twenty pieces 0.2 s apart: the stream lasts ≈ 4 s, its first bytes come at once.
    assert!(run.end_s > 3.5, "{}", run.end_s);
    assert!(run.first_s < 1.0, "first bytes after {} s", run.first_s);
    assert_eq!(run.stored_at_first_bytes, 404);
    assert_eq!(app.play(&run.sid).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_stream_frees_the_worker() {
    let (app, counters) = spawn_fake_app(|c| {
        c.workers = 1;
        c.max_queue = 1;
    })
    .await;
    let mut r = app
        .client
        .post(app.url("/synthesize"))
        .json(&json!({"text": "drip", "stream": true}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let sid = r.headers()["x-session-id"]
        .to_str()
        .expect("sid")
        .to_string();
    let first = r.chunk().await.expect("body").expect("first bytes");
    assert!(!first.is_empty());
    drop(r); // hang up mid-stream
    let t0 = Instant::now();
    while counters.cancelled.load(Ordering::SeqCst) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "the work was not cancelled (it would run ≈ 4 s)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The one worker is free again, and the abandoned session was not kept.
    let (st, v) = app.synthesize_json(json!({"text": "quick"})).await;
    assert_eq!(st, 200, "{v}");
    let (_, h) = app.health().await;
    assert_eq!(h["in_flight"], 0, "{h}");
    assert_eq!(app.play(&sid).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_sentence_by_sentence_gives_the_unstreamed_audio() {
    // Within-sentence streaming off: a streamed request leaves chunk by chunk, and its audio is
    // exactly what the same request without streaming gets (which never streams within).
    let app = crate::helpers::spawn_app_with(|c| c.stream_first_tokens = 0).await;
    let body = json!({"text": sentences(3), "seed": 5, "max_new_tokens": 25});
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let run = stream(&app, streamed).await;
    assert_eq!(run.status, 200);
    let (st, stored) = app.play(&run.sid).await;
    assert_eq!(st, 200);
    assert_eq!(
        pcm_of(&stored),
        &run.body[44..],
        "streamed PCM = stored PCM"
    );
    let (st, v) = app.synthesize_json(body).await;
    assert_eq!(st, 200, "{v}");
    let (_, whole) = app.play(v["session_id"].as_str().expect("sid")).await;
    assert_eq!(pcm_of(&whole), pcm_of(&stored));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_within_sentences_matches_the_stored_file() {
    // The default: a streamed request's first chunk leaves in pieces (the first after
    // --stream-first-tokens); here every 10 tokens.
    let app = crate::helpers::spawn_app_with(|c| {
        c.stream_first_tokens = 10;
        c.stream_chunk_tokens = 10;
    })
    .await;
    // One sentence: streamed chunk by chunk it would leave in one piece.
    let body = json!({"text": sentences(1), "seed": 8, "max_new_tokens": 60});
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let run = stream(&app, streamed).await;
    assert_eq!(run.status, 200);
    assert_eq!(
        run.stored_at_first_bytes, 404,
        "the first bytes came before the sentence was finished"
    );
    let (st, stored) = app.play(&run.sid).await;
    assert_eq!(st, 200);
    assert_eq!(
        pcm_of(&stored),
        &run.body[44..],
        "streamed PCM = stored PCM"
    );
    assert!(run.body.len() > 44 + 2 * 24_000, "over a second of audio");
    // Without streaming, the same request takes the whole-sentence path, as it always has:
    // other audio (other noise draws, no pieces).
    let (st, v) = app.synthesize_json(body).await;
    assert_eq!(st, 200, "{v}");
    let (_, whole) = app.play(v["session_id"].as_str().expect("sid")).await;
    assert_ne!(pcm_of(&whole), pcm_of(&stored));
    eprintln!(
        "tiny checkpoint, one sentence streamed within: first audio {:.3} s, whole {:.3} s",
        run.first_s, run.end_s
    );
}
