//! The voice library over HTTP on the tiny checkpoint: save, list, use by name (JSON and form),
//! survive a restart, delete; every bad request leaves the library as it was.

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

use crate::helpers::{error_code, spawn_app, spawn_app_in, voice_wav, TestApp};

async fn post_voice(app: &TestApp, name: Option<&str>, audio: Option<Vec<u8>>) -> (u16, Value) {
    let mut form = Form::new();
    if let Some(n) = name {
        form = form.text("name", n.to_string());
    }
    if let Some(a) = audio {
        form = form.part("audio", Part::bytes(a).file_name("clip.wav"));
    }
    let r = app
        .client
        .post(app.url("/voices"))
        .multipart(form)
        .send()
        .await
        .expect("post");
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn delete_voice(app: &TestApp, name: &str) -> (u16, Value) {
    let r = app
        .client
        .delete(app.url(&format!("/voices/{name}")))
        .send()
        .await
        .expect("delete");
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

/// Every file under the library directory, sorted (what "nothing stored changed" compares).
fn library_files(out: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![out.join("voices")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p.display().to_string());
            }
        }
    }
    files.sort();
    files
}

async fn names(app: &TestApp) -> Vec<String> {
    let (st, v) = app.get_json("/voices").await;
    assert_eq!(st, StatusCode::OK);
    v["voices"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

async fn audio_of(app: &TestApp, body: Value) -> (Value, Vec<u8>) {
    let (st, v) = app.synthesize_json(body).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let sid = v["session_id"].as_str().expect("sid").to_string();
    let (st, wav) = app.play(&sid).await;
    assert_eq!(st, StatusCode::OK);
    (v, wav)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voices_are_saved_used_by_name_recovered_and_deleted() {
    let app = spawn_app().await;
    assert_eq!(names(&app).await, vec!["default"]);

    // Save one.
    let clip = voice_wav(2.0);
    let (st, v) = post_voice(&app, Some("alice"), Some(clip.clone())).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["name"], "alice");
    assert_eq!(v["builtin"], false);
    assert_eq!(v["clip_format"], "wav");
    assert_eq!(v["clip_bytes"], clip.len() as u64);
    assert!((v["clip_seconds"].as_f64().unwrap_or(0.0) - 2.0).abs() < 0.01);
    let dir = app.out.join("voices").join("alice");
    assert_eq!(std::fs::read(dir.join("clip.wav")).ok(), Some(clip.clone()));
    assert!(dir.join("voice.safetensors").is_file());
    assert_eq!(names(&app).await, vec!["default", "alice"]);
    let (st, got) = app.get_json("/voices/alice").await;
    assert_eq!((st, &got), (StatusCode::OK, &v));
    let r = app.client.get(app.url("/voices/alice/audio")).send().await;
    let r = r.expect("clip");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    assert_eq!(
        r.bytes().await.expect("body").to_vec(),
        clip,
        "the original clip"
    );
    assert_eq!(app.get_json("/voices/default/audio").await.0, 404);
    let (st, d) = app.get_json("/voices/default").await;
    assert_eq!((st.as_u16(), &d["builtin"]), (200, &json!(true)));
    let (_, info) = app.get_json("/info").await;
    assert_eq!(info["voices"], json!(["default", "alice"]));

    // Bad requests: each a clear error, the library untouched.
    let before = library_files(&app.out);
    let long = "x".repeat(65);
    type Case<'a> = (Option<&'a str>, Option<Vec<u8>>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (Some("alice"), Some(clip.clone()), 409, "voice_exists"),
        (
            Some("default"),
            Some(clip.clone()),
            400,
            "invalid_voice_name",
        ),
        (Some(""), Some(clip.clone()), 400, "invalid_voice_name"),
        (Some(&long), Some(clip.clone()), 400, "invalid_voice_name"),
        (Some("a b"), Some(clip.clone()), 400, "invalid_voice_name"),
        (Some(".."), Some(clip.clone()), 400, "invalid_voice_name"),
        (Some("../x"), Some(clip.clone()), 400, "invalid_voice_name"),
        (None, Some(clip.clone()), 400, "invalid_form"),
        (Some("bob"), None, 400, "invalid_form"),
        (Some("bob"), Some(voice_wav(0.3)), 422, "voice_too_short"),
        (
            Some("bob"),
            Some(b"not audio at all".to_vec()),
            422,
            "invalid_audio",
        ),
    ];
    for (name, audio, status, code) in cases {
        let (st, v) = post_voice(&app, name, audio).await;
        assert_eq!((st, error_code(&v)), (status, code), "{name:?}: {v}");
    }
    let r = app
        .client
        .post(app.url("/voices"))
        .json(&json!({"name": "bob"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 415);
    let (st, v) = app
        .synthesize_json(json!({"text": "Hi.", "voice": "nobody"}))
        .await;
    assert_eq!((st.as_u16(), error_code(&v)), (404, "voice_not_found"));
    assert_eq!(library_files(&app.out), before, "nothing stored changed");
    assert_eq!(names(&app).await, vec!["default", "alice"]);

    // Used by name: the same audio as uploading the same clip (same seed), voice not recomputed.
    let (v, by_name) = audio_of(
        &app,
        json!({"text": "Saved voice.", "voice": "alice", "seed": 5, "max_new_tokens": 30}),
    )
    .await;
    assert_eq!(v["voice"], "alice");
    assert!(v["timings"]["voice_s"].as_f64().unwrap_or(1.0) < 1e-3);
    let form = Form::new()
        .text("text", "Saved voice.")
        .text("seed", "5")
        .text("max_new_tokens", "30")
        .part("voice_prompt", Part::bytes(clip.clone()).file_name("a.wav"));
    let (st, v) = app.synthesize_form(form).await;
    assert_eq!(st, 200, "{v}");
    let (_, uploaded) = app.play(v["session_id"].as_str().expect("sid")).await;
    assert_eq!(by_name, uploaded, "the saved voice is the clip's voice");
    let (_, default) = audio_of(
        &app,
        json!({"text": "Saved voice.", "seed": 5, "max_new_tokens": 30}),
    )
    .await;
    assert_ne!(by_name, default, "the saved voice is not the default one");
    // By name from a form too.
    let form = Form::new()
        .text("text", "Saved voice.")
        .text("voice", "alice")
        .text("seed", "5")
        .text("max_new_tokens", "30");
    let (st, v) = app.synthesize_form(form).await;
    assert_eq!((st.as_u16(), &v["voice"]), (200, &json!("alice")), "{v}");
    let (_, from_form) = app.play(v["session_id"].as_str().expect("sid")).await;
    assert_eq!(from_form, by_name);

    // A restart recovers it (and removes hidden debris of an interrupted write).
    let out = app.stop().await;
    let debris = out.join("voices").join(".tmp-crashed");
    std::fs::create_dir_all(&debris).expect("debris");
    std::fs::File::open(&debris)
        .and_then(|d| d.set_modified(std::time::SystemTime::now() - Duration::from_secs(7200)))
        .expect("age");
    let app = spawn_app_in(&out, |_| {}).await;
    let t0 = std::time::Instant::now();
    while debris.exists() && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !debris.exists(),
        "the first cleanup pass removes old debris"
    );
    assert_eq!(names(&app).await, vec!["default", "alice"]);
    let (_, after) = audio_of(
        &app,
        json!({"text": "Saved voice.", "voice": "alice", "seed": 5, "max_new_tokens": 30}),
    )
    .await;
    assert_eq!(after, by_name, "the recovered voice speaks the same");

    // Delete: default cannot be; alice once; then she is gone everywhere.
    let (st, v) = delete_voice(&app, "default").await;
    assert_eq!((st, error_code(&v)), (403, "voice_builtin"));
    let (st, v) = delete_voice(&app, "alice").await;
    assert_eq!((st, &v), (200, &json!({"name": "alice", "deleted": true})));
    let (st, v) = delete_voice(&app, "alice").await;
    assert_eq!((st, error_code(&v)), (404, "voice_not_found"));
    assert_eq!(app.get_json("/voices/alice").await.0, 404);
    assert_eq!(app.get_json("/voices/alice/audio").await.0, 404);
    assert!(!app.out.join("voices").join("alice").exists());
    assert!(library_files(&app.out).is_empty());
    let (st, v) = app
        .synthesize_json(json!({"text": "Hi.", "voice": "alice"}))
        .await;
    assert_eq!((st.as_u16(), error_code(&v)), (404, "voice_not_found"));
    // The name is free again.
    let (st, _) = post_voice(&app, Some("alice"), Some(clip)).await;
    assert_eq!(st, 201);
}
