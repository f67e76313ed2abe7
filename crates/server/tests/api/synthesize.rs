use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::helpers::{assert_playable, spawn_app, voice_wav};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_end_to_end() {
    let app = spawn_app().await;

    // health + liveness + openapi + metrics
    let (_, h) = app.health().await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["model_loaded"], true);
    assert_eq!(app.get_json("/livez").await.0, 200);
    let (_, doc) = app.get_json("/openapi.json").await;
    for p in ["/synthesize", "/play/{sid}", "/delete", "/health", "/info"] {
        assert!(doc["paths"][p].is_object(), "{p} documented");
    }

    // JSON synthesis with the default voice, seeded twice => identical audio
    let (st, v) = app
        .synthesize_json(json!({"text": "Hello there.", "seed": 7, "max_new_tokens": 40}))
        .await;
    assert_eq!(st, 200, "{v}");
    let sid = v["session_id"].as_str().expect("sid").to_string();
    assert_eq!(v["play_url"], format!("/play/{sid}"));
    assert_eq!(v["sample_rate"], 24_000);
    assert_eq!(v["voice"], "default");
    assert!(v["duration"].as_f64().expect("duration") > 0.0);
    for k in ["queue_s", "voice_s", "synthesis_s", "total_s", "rtf"] {
        assert!(v["timings"][k].is_number(), "timings.{k}: {v}");
    }
    let (st, wav1) = app.play(&sid).await;
    assert_eq!(st, 200);
    assert_playable(&wav1);
    let (st, _) = app
        .synthesize_json(
            json!({"text": "Hello there.", "seed": 7, "max_new_tokens": 40, "session_id": sid}),
        )
        .await;
    assert_eq!(st, 200);
    let (_, wav2) = app.play(&sid).await;
    assert_eq!(wav1, wav2, "same seed and inputs give the same audio");

    // Range requests
    let r = app.play_with(&sid, Some("bytes=0-99")).await;
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-99/{}", wav1.len()).as_str()
    );
    assert_eq!(r.bytes().await.expect("body").as_ref(), &wav1[..100]);
    let r = app.play_with(&sid, Some("bytes=-10")).await;
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.bytes().await.expect("body").as_ref(),
        &wav1[wav1.len() - 10..]
    );
    let r = app
        .play_with(&sid, Some(&format!("bytes={}-", wav1.len())))
        .await;
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes */{}", wav1.len()).as_str()
    );

    // multipart with a voice upload; the session keeps the voice
    let form = Form::new()
        .text("text", "A cloned voice.")
        .text("seed", "3")
        .text("max_new_tokens", "30")
        .part(
            "voice_prompt",
            Part::bytes(voice_wav(2.0)).file_name("me.wav"),
        );
    let (st, v) = app.synthesize_form(form).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["voice"], "upload");
    let vsid = v["session_id"].as_str().expect("sid").to_string();
    let form = Form::new()
        .text("text", "Same voice again.")
        .text("session_id", vsid.clone())
        .text("max_new_tokens", "30");
    let (st, v) = app.synthesize_form(form).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["voice"], "upload", "the session remembered its voice");
    assert!(
        v["timings"]["voice_s"].as_f64().unwrap_or(1.0) < 1e-3,
        "voice not recomputed"
    );
    let (st, wav) = app.play(&vsid).await;
    assert_eq!(st, 200);
    assert_playable(&wav);
    // Naming the default voice overrides the session's own.
    let (st, v) = app
        .synthesize_json(json!({"text": "Default again.", "session_id": vsid, "voice": "default", "max_new_tokens": 10}))
        .await;
    assert_eq!((st.as_u16(), &v["voice"]), (200, &json!("default")), "{v}");

    // delete, twice
    assert_eq!(app.delete_json(&vsid).await.0, 200);
    let (st, v) = app.delete_json(&vsid).await;
    assert_eq!(
        (st.as_u16(), crate::helpers::error_code(&v)),
        (404, "session_not_found")
    );
    assert_eq!(app.play(&vsid).await.0, 404);
    assert!(
        !app.out.join(format!("{vsid}.voice.safetensors")).exists(),
        "the voice went with the session"
    );
    let (st, v) = app.delete_form(&sid).await;
    assert_eq!(st, 200);
    assert_eq!(v, json!({"session_id": sid, "deleted": true}));

    // metrics saw the traffic
    let m = app.metrics().await;
    assert!(m.contains("chatterbox_http_requests_total"), "{m}");
    assert!(m.contains("route=\"/synthesize\""), "{m}");
}

/// `--quantize q8`: the server loads T3 quantized and still speaks (seeded runs repeat).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quantized_model_serves_synthesis() {
    let app = crate::helpers::spawn_app_with(|c| c.quantize = chatterbox::Quantization::Q8).await;
    let body = json!({"text": "Hello there.", "seed": 3, "max_new_tokens": 30});
    let (st, v) = app.synthesize_json(body.clone()).await;
    assert_eq!(st, 200, "{v}");
    let sid = v["session_id"].as_str().expect("sid").to_string();
    let (_, first) = app.play(&sid).await;
    assert_playable(&first);
    let (st, v) = app.synthesize_json(body).await;
    assert_eq!(st, 200, "{v}");
    let (_, second) = app.play(v["session_id"].as_str().expect("sid")).await;
    assert_eq!(first, second, "same seed, same audio");
}
