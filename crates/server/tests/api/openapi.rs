use std::path::PathBuf;

use crate::helpers::spawn_fake_app;

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

/// docs/openapi.json is the generated document. To regenerate it:
/// `UPDATE_OPENAPI=1 cargo test --release -p chatterbox-server openapi`
/// (or `cargo run -p chatterbox-server --example openapi > docs/openapi.json`).
#[test]
fn the_committed_openapi_document_is_up_to_date() {
    let generated = chatterbox_server::openapi::json();
    let path = committed();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write docs/openapi.json");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/openapi.json is stale; regenerate it with\n  \
         UPDATE_OPENAPI=1 cargo test --release -p chatterbox-server openapi\n\
         or\n  cargo run -p chatterbox-server --example openapi > docs/openapi.json"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_the_generated_document() {
    let (app, _) = spawn_fake_app(|_| {}).await;
    let r = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let served = r.text().await.expect("text");
    assert_eq!(served, chatterbox_server::openapi::json());
    let doc: serde_json::Value = serde_json::from_str(&served).expect("json");
    for name in [
        "Info",
        "ModelInfo",
        "Limits",
        "ParamSpec",
        "ParamKind",
        "SynthesizeResponse",
        "Timings",
        "ErrorResponse",
        "SynthesizeJson",
        "SynthesizeForm",
        "VoiceInfo",
        "VoiceList",
        "SpeechRequest",
        "OpenAiErrorResponse",
    ] {
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "schema {name}"
        );
    }
    // Every error response documents the one error schema (OpenAI's under /v1).
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            for (status, resp) in op["responses"].as_object().expect("responses") {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &resp["content"]["application/json"]["schema"]["$ref"];
                    let ours = if path.starts_with("/v1/") {
                        "#/components/schemas/OpenAiErrorResponse"
                    } else {
                        "#/components/schemas/ErrorResponse"
                    };
                    let ok = schema == ours || (path == "/health" && status == "503");
                    assert!(ok, "{method} {path} {status}: {resp}");
                }
            }
        }
    }
}
