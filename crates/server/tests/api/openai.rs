//! The OpenAI-compatible API over HTTP on the tiny checkpoint: every response_format decodes as
//! itself, speed stretches the tempo (1.0 leaves the samples untouched), errors come in OpenAI's
//! shape, nothing is stored.

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::formats::{decode_as, FORMATS};
use crate::helpers::{spawn_app, voice_wav, TestApp};

async fn speech(app: &TestApp, body: Value) -> (u16, String, Vec<u8>) {
    let r = app
        .client
        .post(app.url("/v1/audio/speech"))
        .json(&body)
        .send()
        .await
        .expect("speech");
    let st = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (
        st,
        ct,
        r.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
    )
}

fn error_of(bytes: &[u8]) -> Value {
    serde_json::from_slice::<Value>(bytes).unwrap_or(Value::Null)["error"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_speech_end_to_end() {
    let app = spawn_app().await;
    let base = json!({"model": "tts-1", "input": "Hello from the API.", "voice": "alloy",
        "seed": 4, "max_new_tokens": 40});
    let with = |pairs: &[(&str, Value)]| {
        let mut b = base.clone();
        for (k, v) in pairs {
            b[*k] = v.clone();
        }
        b
    };

    // Default format: mp3.
    let (st, ct, mp3) = speech(&app, base.clone()).await;
    assert_eq!((st, ct.as_str()), (200, "audio/mpeg"));
    assert!(!decode_as("mp3", &mp3).is_empty());

    // Every format decodes as itself; wav at speed 1.0 is exactly /synthesize's audio.
    let (st, v) = app
        .synthesize_json(json!({"text": "Hello from the API.", "seed": 4, "max_new_tokens": 40}))
        .await;
    assert_eq!(st, 200, "{v}");
    let sid = v["session_id"].as_str().expect("sid").to_string();
    let (_, session_wav) = app.play(&sid).await;
    assert_eq!(app.delete_json(&sid).await.0, 200);
    let reference = decode_as("wav", &session_wav);
    for (format, content_type) in FORMATS {
        let (st, ct, bytes) = speech(&app, with(&[("response_format", json!(format))])).await;
        assert_eq!((st, ct.as_str()), (200, content_type), "{format}");
        let samples = decode_as(format, &bytes);
        assert!(
            samples.len().abs_diff(reference.len()) < 2500,
            "{format}: {} vs {}",
            samples.len(),
            reference.len()
        );
        if format == "wav" {
            assert_eq!(bytes, session_wav, "speed 1.0 leaves the samples untouched");
        }
    }

    // speed: the tempo changes by a time stretch.
    for speed in [2.0, 0.5] {
        let (st, _, wav) = speech(
            &app,
            with(&[("response_format", json!("wav")), ("speed", json!(speed))]),
        )
        .await;
        assert_eq!(st, 200);
        let n = decode_as("wav", &wav).len() as f64;
        let expected = reference.len() as f64 / speed;
        assert!(
            (n - expected).abs() <= 1.0,
            "speed {speed}: {n} vs {expected}"
        );
    }

    // A saved voice by name; OpenAI's voice object form.
    let form = Form::new()
        .text("name", "nova2")
        .part("audio", Part::bytes(voice_wav(2.0)).file_name("v.wav"));
    let r = app.client.post(app.url("/voices")).multipart(form).send();
    assert_eq!(r.await.expect("voice").status(), 201);
    let (st, _, saved) = speech(&app, with(&[("voice", json!({"id": "nova2"}))])).await;
    assert_eq!(st, 200);
    assert_ne!(saved, mp3, "the saved voice speaks differently");

    // Errors, in OpenAI's shape.
    let cases = [
        (
            with(&[("voice", json!("nobody"))]),
            400,
            "voice",
            "voice_not_found",
        ),
        (
            with(&[("speed", json!(4.01))]),
            400,
            "speed",
            "invalid_param",
        ),
        (
            with(&[("speed", json!(0.2))]),
            400,
            "speed",
            "invalid_param",
        ),
        (
            with(&[("response_format", json!("aac"))]),
            400,
            "response_format",
            "invalid_param",
        ),
        (
            with(&[("response_format", json!("ogg"))]),
            400,
            "response_format",
            "invalid_param",
        ),
        (
            with(&[("model", json!("whisper-1"))]),
            400,
            "model",
            "invalid_param",
        ),
        (with(&[("input", json!(""))]), 400, "input", "empty_text"),
        (
            with(&[("temperature", json!(-1))]),
            400,
            "temperature",
            "invalid_param",
        ),
        (
            with(&[("style", json!("x"))]),
            400,
            "style",
            "unknown_field",
        ),
    ];
    for (body, status, param, code) in cases {
        let (st, ct, bytes) = speech(&app, body).await;
        let e = error_of(&bytes);
        assert_eq!((st, ct.as_str()), (status, "application/json"), "{e}");
        assert_eq!(e["type"], "invalid_request_error", "{e}");
        assert_eq!(e["param"], param, "{e}");
        assert_eq!(e["code"], code, "{e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    }
    let r = app
        .client
        .post(app.url("/v1/audio/speech"))
        .body("input=hi")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 415);
    let e = error_of(&r.bytes().await.unwrap_or_default());
    assert_eq!(e["code"], "unsupported_media_type");

    // Listings.
    let (st, m) = app.get_json("/v1/models").await;
    assert_eq!(st, 200);
    assert_eq!(m["object"], "list");
    let ids: Vec<_> = m["data"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(ids.contains(&"tts-1") && ids.contains(&"chatterbox"), "{m}");
    let (_, v) = app.get_json("/v1/audio/voices").await;
    assert_eq!(v["voices"], json!(["default", "nova2"]));

    // Nothing was stored: no session.
    let (_, h) = app.health().await;
    assert_eq!(h["sessions"], 0, "{h}");
}

/// The events of an SSE body: each `data:` line's JSON.
fn sse_events(body: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(body).expect("UTF-8 events");
    assert!(text.ends_with("\n\n"), "events end with a blank line");
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let data = e.strip_prefix("data: ").expect("a data line");
            serde_json::from_str(data).expect("JSON event")
        })
        .collect()
}

/// The deltas' audio, decoded and concatenated; checks the final done event.
fn sse_audio(events: &[Value]) -> Vec<u8> {
    use base64::Engine as _;
    let (last, deltas) = events.split_last().expect("events");
    assert_eq!(last["type"], "speech.audio.done", "{last}");
    assert!(last["usage"]["total_tokens"].is_u64(), "{last}");
    let mut audio = Vec::new();
    for d in deltas {
        assert_eq!(d["type"], "speech.audio.delta", "{d}");
        let b64 = d["audio"].as_str().expect("audio");
        audio.extend(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64"),
        );
    }
    audio
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_speech_as_server_sent_events() {
    // Short chunks, so the text is spoken in several pieces and pcm arrives in several deltas.
    let app = crate::helpers::spawn_app_with(|c| {
        c.max_chunk_chars = 30;
        c.min_chunk_chars = 1;
    })
    .await;
    let base = json!({"model": "tts-1", "input": "First words here. Then a few more words.",
        "voice": "alloy", "seed": 5, "max_new_tokens": 30});
    let with = |pairs: &[(&str, Value)]| {
        let mut b = base.clone();
        for (k, v) in pairs {
            b[*k] = v.clone();
        }
        b
    };
    for format in ["pcm", "wav", "mp3", "flac"] {
        let (st, _, whole) = speech(&app, with(&[("response_format", json!(format))])).await;
        assert_eq!(st, 200, "{format}");
        let (st, ct, body) = speech(
            &app,
            with(&[
                ("response_format", json!(format)),
                ("stream_format", json!("sse")),
            ]),
        )
        .await;
        assert_eq!((st, ct.as_str()), (200, "text/event-stream"), "{format}");
        let events = sse_events(&body);
        let audio = sse_audio(&events);
        match format {
            // Sentence by sentence: the same samples as the whole file.
            "pcm" => {
                assert!(events.len() >= 3, "pcm: {} events", events.len());
                assert_eq!(audio, whole, "pcm");
            }
            "wav" => {
                assert_eq!(&audio[..4], b"RIFF");
                assert_eq!(&audio[44..], &whole[44..], "wav samples");
            }
            _ => assert_eq!(audio, whole, "{format}"),
        }
    }
    // Errors before the first event are ordinary OpenAI errors.
    let (st, ct, bytes) = speech(
        &app,
        with(&[("stream_format", json!("sse")), ("voice", json!("nobody"))]),
    )
    .await;
    assert_eq!((st, ct.as_str()), (400, "application/json"));
    assert_eq!(error_of(&bytes)["code"], "voice_not_found");
    let (st, _, bytes) = speech(&app, with(&[("stream_format", json!("chunks"))])).await;
    assert_eq!(st, 400);
    assert_eq!(error_of(&bytes)["param"], "stream_format");
}
