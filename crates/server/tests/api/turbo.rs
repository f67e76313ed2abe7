//! A server running Chatterbox-Turbo (detected from the model directory's files).

use serde_json::json;

use crate::helpers::{assert_playable, spawn_app_with, tiny_turbo_model};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turbo_directory_serves_turbo() {
    let app = spawn_app_with(|c| c.model_dir = Some(tiny_turbo_model().to_path_buf())).await;

    // /info names the variant and lists only its parameters, with its defaults.
    let (st, info) = app.get_json("/info").await;
    assert_eq!(st, 200);
    assert_eq!(info["model"]["variant"], "turbo");
    assert_eq!(info["model"]["repository"], "ResembleAI/chatterbox-turbo");
    let names: Vec<&str> = info["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for absent in ["exaggeration", "cfg_weight", "min_p"] {
        assert!(
            !names.contains(&absent),
            "{absent} listed for Turbo: {names:?}"
        );
    }
    let top_p = info["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "top_p"))
        .expect("top_p");
    assert_eq!(top_p["default"], 0.95, "Turbo's own default");

    // A parameter Turbo does not have is refused, naming it; nothing is stored.
    let (st, v) = app
        .synthesize_json(json!({"text": "Hello there.", "cfg_weight": 0.3}))
        .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"]["code"], "unsupported_param");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("cfg_weight"));

    // Seeded synthesis works and repeats.
    let body = json!({"text": "Hello there.", "seed": 5, "max_new_tokens": 30});
    let (st, v) = app.synthesize_json(body.clone()).await;
    assert_eq!(st, 200, "{v}");
    let (_, first) = app.play(v["session_id"].as_str().expect("sid")).await;
    assert_playable(&first);
    let (st, v) = app.synthesize_json(body).await;
    assert_eq!(st, 200, "{v}");
    let (_, second) = app.play(v["session_id"].as_str().expect("sid")).await;
    assert_eq!(first, second, "same seed, same audio");
}
