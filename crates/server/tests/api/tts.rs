//! `POST /tts` over HTTP on the tiny checkpoint: aliases, rate, format, nothing stored.

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::formats::decode_as;
use crate::helpers::{spawn_app_with, voice_wav, TestApp};

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, String, Vec<u8>) {
    let r = app.client.post(app.url(path)).json(&body).send();
    let r = r.await.expect("post");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tts_speaks_aliases_at_a_rate_in_a_format() {
    let aliases = std::env::temp_dir().join(format!("cbx-aliases-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&aliases, r#"{"en-US-JennyNeural": "alice"}"#).expect("aliases");
    let file = aliases.clone();
    let app = spawn_app_with(move |c| c.voice_aliases = Some(file)).await;
    let form = Form::new()
        .text("name", "alice")
        .part("audio", Part::bytes(voice_wav(2.0)).file_name("a.wav"));
    let r = app.client.post(app.url("/voices")).multipart(form).send();
    assert_eq!(r.await.expect("voice").status(), 201);

    let body = json!({"text": "Edge style.", "voice": "en-US-JennyNeural", "rate": "+100%",
        "format": "wav", "seed": 3, "max_new_tokens": 30});
    let (st, ct, wav) = post(&app, "/tts", body).await;
    assert_eq!((st, ct.as_str()), (200, "audio/wav"));
    // The same as the OpenAI endpoint with the aliased voice at speed 2.
    let (st, _, same) = post(
        &app,
        "/v1/audio/speech",
        json!({"model": "tts-1", "input": "Edge style.", "voice": "alice", "speed": 2.0,
            "response_format": "wav", "seed": 3, "max_new_tokens": 30}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(wav, same, "alias + rate = the saved voice at that speed");
    let fast = decode_as("wav", &wav).len() as f64;
    let (_, _, slow) = post(
        &app,
        "/tts",
        json!({"text": "Edge style.", "voice": "alice", "rate": "-50%", "format": "wav",
            "seed": 3, "max_new_tokens": 30}),
    )
    .await;
    let slow = decode_as("wav", &slow).len() as f64;
    assert!((slow / fast - 4.0).abs() < 0.01, "{slow} vs {fast}");
    // Default format mp3.
    let (st, ct, mp3) = post(&app, "/tts", json!({"text": "Hi.", "max_new_tokens": 20})).await;
    assert_eq!((st, ct.as_str()), (200, "audio/mpeg"));
    assert!(!decode_as("mp3", &mp3).is_empty());
    // Errors in our shape; OpenAI voice names are not aliases here.
    for (body, status, code) in [
        (
            json!({"text": "Hi.", "voice": "alloy"}),
            404,
            "voice_not_found",
        ),
        (
            json!({"text": "Hi.", "rate": "+900%"}),
            400,
            "invalid_param",
        ),
        (
            json!({"text": "Hi.", "format": "aac"}),
            400,
            "invalid_param",
        ),
        (
            json!({"text": "Hi.", "session_id": "x"}),
            400,
            "unknown_field",
        ),
    ] {
        let (st, _, b) = post(&app, "/tts", body.clone()).await;
        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let (_, h) = app.health().await;
    assert_eq!(h["sessions"], 0, "nothing stored");
    let _ = std::fs::remove_file(aliases);
}

/// `--loudness-lufs`: the stateless endpoints answer at the target loudness (fake model: the
/// test is about the option's path, the measurement has its own unit tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loudness_normalisation_applies_to_stateless_audio() {
    use chatterbox_server::loudness::integrated_loudness;
    let measure = |wav: &[u8]| integrated_loudness(&decode_as("wav", wav), 24_000);
    let (plain, _) = crate::helpers::spawn_fake_app(|_| {}).await;
    let (st, _, wav) = post(&plain, "/tts", json!({"text": "tone", "format": "wav"})).await;
    assert_eq!(st, 200);
    let before = measure(&wav).expect("loud enough");
    assert!(
        (before + 20.0).abs() > 1.0,
        "the fake tone is not already at the target: {before}"
    );
    let (app, _) = crate::helpers::spawn_fake_app(|c| c.loudness_lufs = Some(-20.0)).await;
    for (path, body) in [
        ("/tts", json!({"text": "tone", "format": "wav"})),
        (
            "/v1/audio/speech",
            json!({"model": "tts-1", "input": "tone", "voice": "alloy", "response_format": "wav"}),
        ),
    ] {
        let (st, _, wav) = post(&app, path, body).await;
        assert_eq!(st, 200, "{path}");
        let after = measure(&wav).expect("loud enough");
        assert!(
            (after + 20.0).abs() < 0.1,
            "{path}: {after} LUFS (was {before})"
        );
    }
}
