//! API keys and rate limits over HTTP (fake model: the test is about HTTP).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_fake_app, TestApp};

async fn get(app: &TestApp, path: &str, header: Option<(&str, &str)>) -> (u16, Value, String) {
    let mut r = app.client.get(app.url(path));
    if let Some((k, v)) = header {
        r = r.header(k, v);
    }
    let r = r.send().await.expect("get");
    let st = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .or_else(|| r.headers().get("www-authenticate"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (st, r.json().await.unwrap_or(Value::Null), retry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_guard_every_path_but_the_public_ones() {
    let keys_file = std::env::temp_dir().join(format!("cbx-keys-{}", uuid::Uuid::new_v4()));
    std::fs::write(&keys_file, "# team keys\nfile-key\n\n").expect("keys file");
    let file = keys_file.clone();
    let (app, _) = spawn_fake_app(move |c| {
        c.api_keys = vec!["k-one".parse().expect("key"), "k-two".parse().expect("key")];
        c.api_keys_file = Some(file);
    })
    .await;
    for open in ["/health", "/livez", "/metrics"] {
        let r = app.client.get(app.url(open)).send().await.expect("get");
        assert_eq!(r.status(), 200, "{open} is open");
    }
    // Missing or wrong keys: 401 in our shape, with WWW-Authenticate.
    for header in [
        None,
        Some(("authorization", "Bearer nope")),
        Some(("authorization", "Bearer k-one2")),
        Some(("authorization", "Basic k-one")),
        Some(("x-api-key", "k-on")),
    ] {
        let (st, v, www) = get(&app, "/info", header).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (401, Some("unauthorized")),
            "{header:?}"
        );
        assert_eq!(www, "Bearer");
    }
    // Good keys, either header, any configured key.
    for header in [
        ("authorization", "Bearer k-one"),
        ("authorization", "bearer k-two"),
        ("x-api-key", "k-two"),
        ("x-api-key", "file-key"),
    ] {
        assert_eq!(get(&app, "/info", Some(header)).await.0, 200, "{header:?}");
    }
    // OpenAI's shape under /v1/.
    let (st, v, _) = get(&app, "/v1/models", None).await;
    assert_eq!(st, 401);
    assert_eq!(v["error"]["type"], "authentication_error");
    assert_eq!(v["error"]["code"], "unauthorized");
    assert_eq!(
        get(&app, "/v1/models", Some(("authorization", "Bearer k-one")))
            .await
            .0,
        200
    );
    // A refused synthesis stores nothing.
    let r = app
        .client
        .post(app.url("/synthesize"))
        .json(&json!({"text": "hello"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (_, h) = app.health().await;
    assert_eq!(h["sessions"], 0);
    let r = app
        .client
        .post(app.url("/synthesize"))
        .header("x-api-key", "k-one")
        .json(&json!({"text": "hello"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let _ = std::fs::remove_file(keys_file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_the_limit_gets_429_per_client() {
    let (app, _) = spawn_fake_app(|c| {
        c.api_keys = vec!["a".parse().expect("key"), "b".parse().expect("key")];
        c.rate_limit_per_minute = 6;
        c.rate_limit_burst = 3;
    })
    .await;
    let a = Some(("x-api-key", "a"));
    for _ in 0..3 {
        assert_eq!(get(&app, "/info", a).await.0, 200);
    }
    let (st, v, retry) = get(&app, "/info", a).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{v}"
    );
    let retry: u64 = retry.parse().expect("Retry-After");
    assert!((1..=10).contains(&retry), "{retry}");
    let (st, v, _) = get(&app, "/v1/models", a).await;
    assert_eq!(
        (st, v["error"]["type"].as_str()),
        (429, Some("rate_limit_error"))
    );
    // Another key has its own budget; public paths have none.
    assert_eq!(get(&app, "/info", Some(("x-api-key", "b"))).await.0, 200);
    for _ in 0..10 {
        assert_eq!(app.health().await.0, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_the_limit_is_per_ip_and_everything_is_open() {
    let (app, _) = spawn_fake_app(|c| {
        c.rate_limit_per_minute = 60;
        c.rate_limit_burst = 2;
    })
    .await;
    assert_eq!(get(&app, "/info", None).await.0, 200);
    assert_eq!(get(&app, "/voices", None).await.0, 200);
    assert_eq!(get(&app, "/info", None).await.0, 429);
}
