use serde_json::json;

use crate::helpers::spawn_fake_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_describes_model_limits_parameters_voices_and_formats() {
    let (app, _) = spawn_fake_app(|c| c.max_text_chars = 123).await;
    let (st, v) = app.get_json("/info").await;
    assert_eq!(st, 200);
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    };
    assert_eq!(
        keys(&v),
        [
            "formats",
            "languages",
            "limits",
            "model",
            "parameters",
            "version",
            "voices"
        ]
    );
    assert_eq!(v["languages"], json!([{"code": "en", "name": "English"}]));
    assert_eq!(
        v["model"],
        json!({"name": "chatterbox", "variant": "original", "repository": chatterbox::HUB_REPO, "sample_rate": 24000})
    );
    assert_eq!(
        keys(&v["limits"]),
        [
            "max_queue",
            "max_text_chars",
            "max_upload_bytes",
            "max_voice_seconds",
            "min_voice_seconds",
            "request_timeout_seconds"
        ]
    );
    assert_eq!(v["limits"]["max_text_chars"], 123);
    assert_eq!(
        v["parameters"],
        serde_json::to_value(chatterbox::GenerateParams::SPECS).expect("specs")
    );
    assert_eq!(v["voices"], json!(["default"]));
    assert_eq!(v["formats"], json!(["wav", "mp3", "opus", "flac", "pcm"]));
}
