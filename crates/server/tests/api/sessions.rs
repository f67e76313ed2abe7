use reqwest::multipart::{Form, Part};
use serde_json::json;
use std::time::{Duration, Instant, SystemTime};

use crate::helpers::{spawn_app, spawn_app_in, voice_wav};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_recovers_sessions_and_cleanup_removes_old_ones() {
    let app = spawn_app().await;
    let form = Form::new()
        .text("text", "Survive a restart.")
        .text("seed", "2")
        .text("max_new_tokens", "20")
        .part(
            "voice_prompt",
            Part::bytes(voice_wav(2.0)).file_name("me.wav"),
        );
    let (st, v) = app.synthesize_form(form).await;
    assert_eq!(st, 200, "{v}");
    let sid = v["session_id"].as_str().expect("sid").to_string();
    let (_, before) = app.play(&sid).await;
    let out = app.stop().await;
    // Debris a crash left behind an hour ago, and a temporary file as young as another
    // replica's write in progress.
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for name in [
        format!("{}.wav.tmp1", uuid::Uuid::new_v4()),
        format!("{}.voice.safetensors", uuid::Uuid::new_v4()),
        format!("{}.wav", uuid::Uuid::new_v4()),
    ] {
        std::fs::write(out.join(&name), b"debris").expect("write");
        std::fs::File::options()
            .append(true)
            .open(out.join(name))
            .and_then(|f| f.set_modified(hour_ago))
            .expect("age");
    }
    let young = out.join(format!("{}.wav.tmp2", uuid::Uuid::new_v4()));
    std::fs::write(&young, b"in progress").expect("write");

    let app = spawn_app_in(&out, |c| {
        c.cleanup_interval_seconds = 1;
        c.max_age_seconds = 4;
    })
    .await;
    let (st, after) = app.play(&sid).await;
    assert_eq!(st, 200, "session survived the restart");
    assert_eq!(before, after);
    // Its uploaded voice survived too: no upload, yet the session speaks in it.
    let (st, v) = app
        .synthesize_json(json!({"text": "Still me.", "session_id": sid, "max_new_tokens": 10}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["voice"], "upload");
    let names: Vec<String> = std::fs::read_dir(&out)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !young.ends_with(n))
        .collect();
    assert!(!names.iter().any(|n| n.contains(".tmp")), "{names:?}");
    assert_eq!(
        names.len(),
        4,
        "wav, sidecar and voice, and the voice library: {names:?}"
    );
    assert!(
        young.exists(),
        "a young temporary file may be a write in progress"
    );
    assert!(out.join("voices").is_dir());
    // After max age, the cleanup task removes it.
    let t0 = Instant::now();
    while app.play(&sid).await.0 == 200 && t0.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        app.play(&sid).await.0,
        404,
        "cleanup removed the old session"
    );
    let left: Vec<_> = std::fs::read_dir(&out)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        ["voices"],
        "only the (empty) voice library remains; the young temporary file went once old"
    );
}
