//! Voice conversion over HTTP on the tiny checkpoint: `POST /vc` with the built-in voice, a saved
//! voice and an uploaded prompt, every format, and each bad request's error (nothing stored).

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::Value;

use crate::formats::{decode_as, FORMATS};
use crate::helpers::{error_code, spawn_app, tiny_model, voice_wav, TestApp};

/// Speech-like audio to convert: a gliding two-partial tone at 16 kHz, `seconds` long.
fn source_wav(seconds: f32) -> Vec<u8> {
    let sr = 16_000;
    let n = (seconds * sr as f32) as usize;
    let mut phase = 0f32;
    let x: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f32 / sr as f32;
            phase += 2.0 * std::f32::consts::PI * (120.0 + 40.0 * (3.0 * t).sin()) / sr as f32;
            0.4 * (phase.sin() + 0.3 * (3.0 * phase).sin()) * (0.6 + 0.4 * (5.0 * t).sin())
        })
        .collect();
    chatterbox::audio::wav_bytes(&x, sr).expect("wav")
}

async fn post_vc(app: &TestApp, form: Form) -> (StatusCode, String, Vec<u8>) {
    let r = app
        .client
        .post(app.url("/vc"))
        .multipart(form)
        .send()
        .await
        .expect("post /vc");
    let st = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (st, ct, r.bytes().await.expect("body").to_vec())
}

fn with_audio(audio: Vec<u8>) -> Form {
    Form::new().part("audio", Part::bytes(audio).file_name("speech.wav"))
}

fn code_of(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    error_code(&v).to_string()
}

#[tokio::test]
async fn converts_to_the_builtin_voice_as_the_library_does() {
    let app = spawn_app().await;
    let source = source_wav(1.5);
    let form = with_audio(source.clone()).text("seed", "7");
    let (st, ct, body) = post_vc(&app, form).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(ct, "audio/wav");
    let got = decode_as("wav", &body);
    // 1.5 s → 37 or 38 tokens of 40 ms each.
    let secs = got.len() as f64 / 24_000.0;
    assert!((1.4..=1.6).contains(&secs), "{secs} s");
    assert!(got.iter().any(|&x| x.abs() > 1e-3), "not silence");

    // The same conversion through the library, in process: the HTTP answer is exactly it.
    let model = chatterbox::Chatterbox::load(tiny_model()).expect("tiny model");
    let audio = chatterbox::audio::decode(&source, &Default::default()).expect("decode");
    let want = model
        .convert(&audio, None, Some(7), &|| false)
        .expect("convert");
    let want: Vec<i16> = want.iter().map(|&x| chatterbox::audio::to_i16(x)).collect();
    let got16: Vec<i16> = got.iter().map(|&x| chatterbox::audio::to_i16(x)).collect();
    assert_eq!(got16, want);

    // `voice=default` is the same thing; another seed is another draw.
    let (_, _, again) = post_vc(
        &app,
        with_audio(source.clone())
            .text("voice", "default")
            .text("seed", "7"),
    )
    .await;
    assert_eq!(again, body);
    let (_, _, other) = post_vc(&app, with_audio(source).text("seed", "8")).await;
    assert_ne!(other, body);
    app.stop().await;
}

#[tokio::test]
async fn converts_to_a_saved_voice_and_an_uploaded_prompt_in_every_format() {
    let app = spawn_app().await;
    let source = source_wav(1.0);
    let form = Form::new()
        .text("name", "target")
        .part("audio", Part::bytes(voice_wav(3.0)).file_name("v.wav"));
    let r = app
        .client
        .post(app.url("/voices"))
        .multipart(form)
        .send()
        .await
        .expect("save voice");
    assert_eq!(r.status(), StatusCode::CREATED);

    let builtin = post_vc(&app, with_audio(source.clone()).text("seed", "1"))
        .await
        .2;
    let (st, _, saved) = post_vc(
        &app,
        with_audio(source.clone())
            .text("voice", "target")
            .text("seed", "1"),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_ne!(saved, builtin, "the target voice changes the output");
    // An uploaded prompt: the saved voice's S3Gen reference comes from the same clip's first
    // 10 s, so the output is the same.
    let form = with_audio(source.clone())
        .part(
            "voice_prompt",
            Part::bytes(voice_wav(3.0)).file_name("p.wav"),
        )
        .text("seed", "1");
    let (st, _, prompted) = post_vc(&app, form).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(prompted, saved);

    for (format, content_type) in FORMATS {
        let form = with_audio(source.clone())
            .text("voice", "target")
            .text("format", format);
        let (st, ct, body) = post_vc(&app, form).await;
        assert_eq!(
            st,
            StatusCode::OK,
            "{format}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(ct, content_type, "{format}");
        let samples = decode_as(format, &body);
        let secs = samples.len() as f64 / 24_000.0;
        assert!((0.85..=1.15).contains(&secs), "{format}: {secs} s");
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_conversion_requests_get_their_errors() {
    let app = spawn_app().await;
    let source = source_wav(1.0);
    let prompt = || Part::bytes(voice_wav(2.0)).file_name("p.wav");
    let cases: Vec<(&str, Form, StatusCode, &str)> = vec![
        (
            "no audio",
            Form::new().text("voice", "default"),
            StatusCode::BAD_REQUEST,
            "invalid_form",
        ),
        (
            "voice and voice_prompt",
            with_audio(source.clone())
                .text("voice", "default")
                .part("voice_prompt", prompt()),
            StatusCode::BAD_REQUEST,
            "invalid_form",
        ),
        (
            "unknown voice",
            with_audio(source.clone()).text("voice", "nobody"),
            StatusCode::NOT_FOUND,
            "voice_not_found",
        ),
        (
            "unknown format",
            with_audio(source.clone()).text("format", "aac"),
            StatusCode::BAD_REQUEST,
            "invalid_param",
        ),
        (
            "bad seed",
            with_audio(source.clone()).text("seed", "-1"),
            StatusCode::BAD_REQUEST,
            "invalid_param",
        ),
        (
            "unknown field",
            with_audio(source.clone()).text("text", "hello"),
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
        (
            "not audio",
            with_audio(b"this is not audio at all".to_vec()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_audio",
        ),
        (
            "silent audio",
            with_audio(chatterbox::audio::wav_bytes(&vec![0.0; 16_000], 16_000).expect("wav")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_audio",
        ),
        (
            "short audio",
            with_audio(source_wav(0.3)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "audio_too_short",
        ),
        (
            "long audio",
            with_audio(source_wav(31.0)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "audio_too_long",
        ),
        (
            "short voice_prompt",
            with_audio(source.clone()).part(
                "voice_prompt",
                Part::bytes(voice_wav(0.5)).file_name("p.wav"),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "voice_too_short",
        ),
    ];
    for (what, form, status, code) in cases {
        let (st, ct, body) = post_vc(&app, form).await;
        assert_eq!((st, code_of(&body).as_str()), (status, code), "{what}");
        assert!(ct.starts_with("application/json"), "{what}: {ct}");
    }
    let r = app
        .client
        .post(app.url("/vc"))
        .json(&serde_json::json!({"audio": "x"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Nothing was stored: no session, no voice.
    let (_, v) = app.get_json("/voices").await;
    assert_eq!(v["voices"].as_array().map(Vec::len), Some(1), "{v}");
    let out = app.stop().await;
    let stored: Vec<_> = std::fs::read_dir(&out)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .collect();
    assert!(stored.is_empty(), "{stored:?}");
}
