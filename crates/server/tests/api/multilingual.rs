//! A server running Chatterbox Multilingual (detected from the model directory's files): /info
//! lists its 23 languages and its defaults; `language` on every synthesis endpoint (JSON, form,
//! /tts, /v1/audio/speech); unsupported languages are refused with the list; English servers
//! accept only `en`.

use reqwest::multipart::Form;
use serde_json::{json, Value};

use crate::helpers::{
    assert_playable, spawn_app, spawn_app_with, tiny_multilingual_model, TestApp,
};

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Vec<u8>) {
    let r = app.client.post(app.url(path)).json(&body).send();
    let r = r.await.expect("post");
    let st = r.status().as_u16();
    (st, r.bytes().await.map(|b| b.to_vec()).unwrap_or_default())
}

fn error_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multilingual_directory_serves_23_languages() {
    let app = spawn_app_with(|c| c.model_dir = Some(tiny_multilingual_model().to_path_buf())).await;

    let (st, info) = app.get_json("/info").await;
    assert_eq!(st, 200);
    assert_eq!(info["model"]["variant"], "multilingual");
    assert_eq!(info["model"]["repository"], "ResembleAI/chatterbox");
    let langs = info["languages"].as_array().expect("languages");
    assert_eq!(langs.len(), 23);
    assert!(langs.contains(&json!({"code": "ja", "name": "Japanese"})));
    let rep = info["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "repetition_penalty"))
        .expect("repetition_penalty");
    assert_eq!(rep["default"], 2.0, "the multilingual default");

    // JSON, seeded: the same request gives the same audio; languages change it.
    let body = |lang: &str| json!({"text": "Bonjour tout le monde.", "language": lang, "seed": 5, "max_new_tokens": 20});
    let (st, v) = app.synthesize_json(body("fr")).await;
    assert_eq!(st, 200, "{v}");
    let (_, fr) = app.play(v["session_id"].as_str().expect("sid")).await;
    assert_playable(&fr);
    let (st, v) = app.synthesize_json(body("FR")).await;
    assert_eq!(st, 200, "{v}");
    let (_, fr2) = app.play(v["session_id"].as_str().expect("sid")).await;
    assert_eq!(fr, fr2, "codes are case-insensitive");
    let (st, v) = app
        .synthesize_json(json!({"text": "你好，世界", "language": "zh", "seed": 5,
            "max_new_tokens": 20}))
        .await;
    assert_eq!(st, 200, "{v}");

    // No language = English.
    let en = |lang: Option<&str>| {
        let mut b = json!({"text": "Hello there.", "seed": 5, "max_new_tokens": 20});
        if let Some(l) = lang {
            b["language"] = json!(l);
        }
        b
    };
    let (_, v) = app.synthesize_json(en(None)).await;
    let (_, a) = app.play(v["session_id"].as_str().expect("sid")).await;
    let (_, v) = app.synthesize_json(en(Some("en"))).await;
    let (_, b) = app.play(v["session_id"].as_str().expect("sid")).await;
    assert_eq!(a, b);

    // Unsupported: 400 naming the supported ones; nothing stored.
    let (st, v) = app.synthesize_json(body("xx")).await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"]["code"], "unsupported_language");
    let msg = v["error"]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("\"xx\"") && msg.contains("ja") && msg.contains("zh"),
        "{msg}"
    );
    let (st, v) = app
        .synthesize_json(json!({"text": "Hi.", "language": 7}))
        .await;
    assert_eq!(st, 400, "{v}");

    // A form.
    let form = Form::new()
        .text("text", "Hola, ¿qué tal?")
        .text("language", "es")
        .text("seed", "5")
        .text("max_new_tokens", "20");
    let (st, v) = app.synthesize_form(form).await;
    assert_eq!(st, 200, "{v}");
    let form = Form::new()
        .text("text", "Hola.")
        .text("language", "klingon");
    let (st, v) = app.synthesize_form(form).await;
    assert_eq!(
        (st.as_u16(), &v["error"]["code"]),
        (400, &json!("unsupported_language"))
    );

    // /tts and the OpenAI endpoint (an extra field) speak the same thing.
    let (st, tts) = post(
        &app,
        "/tts",
        json!({"text": "Guten Tag.", "language": "de", "format": "wav", "seed": 3,
            "max_new_tokens": 20}),
    )
    .await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&tts));
    let (st, oai) = post(
        &app,
        "/v1/audio/speech",
        json!({"model": "tts-1", "input": "Guten Tag.", "voice": "alloy", "language": "de",
            "response_format": "wav", "seed": 3, "max_new_tokens": 20}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(tts, oai);
    let (st, e) = post(
        &app,
        "/tts",
        json!({"text": "Guten Tag.", "language": "xx", "format": "wav"}),
    )
    .await;
    assert_eq!(
        (st, &error_of(&e)["error"]["code"]),
        (400, &json!("unsupported_language"))
    );
    let (st, e) = post(
        &app,
        "/v1/audio/speech",
        json!({"model": "tts-1", "input": "Hi.", "voice": "alloy", "language": "xx"}),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(error_of(&e)["error"]["code"], "unsupported_language");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_english_server_accepts_only_english() {
    let app = spawn_app().await;
    let (_, info) = app.get_json("/info").await;
    assert_eq!(
        info["languages"],
        json!([{"code": "en", "name": "English"}])
    );
    let (st, v) = app
        .synthesize_json(json!({"text": "Hello.", "language": "en", "max_new_tokens": 10}))
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = app
        .synthesize_json(json!({"text": "Bonjour.", "language": "fr"}))
        .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"]["code"], "unsupported_language");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("supported languages: en"));
}
