use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app_with, voice_wav};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_json_errors_and_harms_nothing() {
    let app = spawn_app_with(|c| {
        c.max_text_chars = 200;
        c.max_upload_bytes = 300_000;
        c.max_voice_seconds = 3.0;
    })
    .await;
    let (st, v) = app
        .synthesize_json(json!({"text": "Keep me.", "seed": 1, "max_new_tokens": 20}))
        .await;
    assert_eq!(st, 200);
    let keep = v["session_id"].as_str().expect("sid").to_string();
    let (_, before) = app.play(&keep).await;
    let files_before = std::fs::read_dir(&app.out).expect("dir").count();

    let cases: Vec<(&str, StatusCode, Value)> = vec![
        (
            "empty_text",
            StatusCode::BAD_REQUEST,
            json!({"text": "   "}),
        ),
        ("empty_text", StatusCode::BAD_REQUEST, json!({"seed": 1})),
        (
            "text_too_long",
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"text": "a".repeat(201)}),
        ),
        (
            "unknown_field",
            StatusCode::BAD_REQUEST,
            json!({"text": "hi", "temprature": 0.5}),
        ),
        (
            "invalid_param",
            StatusCode::BAD_REQUEST,
            json!({"text": "hi", "temperature": 9.0}),
        ),
        (
            "invalid_param",
            StatusCode::BAD_REQUEST,
            json!({"text": "hi", "top_p": 0.0}),
        ),
        (
            "invalid_param",
            StatusCode::BAD_REQUEST,
            json!({"text": "hi", "top_k": "many"}),
        ),
        (
            "invalid_session_id",
            StatusCode::BAD_REQUEST,
            json!({"text": "hi", "session_id": "../../etc/passwd"}),
        ),
        (
            "session_not_found",
            StatusCode::NOT_FOUND,
            json!({"text": "hi", "session_id": uuid::Uuid::new_v4().to_string()}),
        ),
        (
            "voice_not_found",
            StatusCode::NOT_FOUND,
            json!({"text": "hi", "voice": "nobody"}),
        ),
    ];
    for (code, status, body) in cases {
        let (st, v) = app.synthesize_json(body.clone()).await;
        assert_eq!((st, error_code(&v)), (status, code), "{body}: {v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let (st, v) = app.synthesize_raw("application/json", "{not json").await;
    assert_eq!((st.as_u16(), error_code(&v)), (400, "invalid_json"));
    let (st, v) = app.synthesize_raw("text/plain", "hello").await;
    assert_eq!(
        (st.as_u16(), error_code(&v)),
        (415, "unsupported_media_type")
    );

    let app_ref = &app;
    let form = |f: Form| async move { app_ref.synthesize_form(f).await };
    let (st, v) = form(Form::new().text("text", "hi").text("temprature", "1")).await;
    assert_eq!((st.as_u16(), error_code(&v)), (400, "unknown_field"), "{v}");
    let (st, v) = form(Form::new().text("text", "hi").text("seed", "-3")).await;
    assert_eq!((st.as_u16(), error_code(&v)), (400, "invalid_param"), "{v}");
    let (st, v) = form(Form::new().text("text", "x".repeat(70_000))).await;
    assert_eq!(
        (st.as_u16(), error_code(&v)),
        (413, "field_too_large"),
        "{v}"
    );

    let upload = |bytes: Vec<u8>| {
        Form::new()
            .text("text", "hi")
            .part("voice_prompt", Part::bytes(bytes).file_name("v.wav"))
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let (st, v) = form(upload(b"this is not audio at all".to_vec())).await;
    assert_eq!(
        (st, error_code(&v)),
        (unprocessable, "invalid_audio"),
        "{v}"
    );
    let (st, v) = form(upload(Vec::new())).await;
    assert_eq!(
        (st, error_code(&v)),
        (unprocessable, "invalid_audio"),
        "{v}"
    );
    let wav = voice_wav(2.0);
    let (st, v) = form(upload(wav[..wav.len() / 3].to_vec())).await;
    assert_eq!(
        (st, error_code(&v)),
        (unprocessable, "invalid_audio"),
        "truncated: {v}"
    );
    let (st, v) = form(upload(voice_wav(0.3))).await;
    assert_eq!(
        (st, error_code(&v)),
        (unprocessable, "voice_too_short"),
        "{v}"
    );
    let long = chatterbox::audio::wav_bytes(&vec![0.1f32; 16_000 * 5], 16_000).expect("wav");
    let (st, v) = form(upload(long)).await;
    assert_eq!(
        (st, error_code(&v)),
        (unprocessable, "voice_too_long"),
        "{v}"
    );
    let (st, v) = form(upload(vec![0u8; 400_000])).await;
    assert_eq!(
        (st, error_code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large"),
        "{v}"
    );

    for bad in [
        "..%2F..%2Fetc%2Fpasswd",
        "not-a-uuid",
        &uuid::Uuid::new_v4().to_string(),
    ] {
        let r = app.play_with(bad, None).await;
        assert_eq!(r.status(), 404, "{bad}");
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(error_code(&v), "session_not_found");
    }
    let (st, v) = app.delete_json("../x").await;
    assert_eq!((st.as_u16(), error_code(&v)), (404, "session_not_found"));
    let (st, v) = app.get_json("/no/such/route").await;
    assert_eq!((st.as_u16(), error_code(&v)), (404, "not_found"));

    // Nothing stored was harmed, and failed requests left no session behind.
    let (st, after) = app.play(&keep).await;
    assert_eq!(st, 200);
    assert_eq!(before, after);
    assert_eq!(app.health().await.1["sessions"], 1);
    assert_eq!(
        std::fs::read_dir(&app.out).expect("dir").count(),
        files_before
    );
}
