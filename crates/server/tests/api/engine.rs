//! Queueing, timeouts, cancellation, panics and model states, with the fake model.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::helpers::{
    assert_playable, error_code, spawn_fake_app, spawn_with_loader, FakeModel, TestApp,
};

async fn post(base: String, body: Value) -> (StatusCode, bool, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/synthesize"))
        .json(&body)
        .send()
        .await
        .expect("send");
    let st = r.status();
    let retry = r.headers().get("retry-after").is_some();
    (st, retry, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_gives_429_never_5xx_and_every_200_plays() {
    let (app, _) = spawn_fake_app(|c| {
        c.max_queue = 1;
        c.workers = 1;
    })
    .await;
    let handles: Vec<_> = (0..6)
        .map(|i| {
            tokio::spawn(post(
                app.base.clone(),
                json!({"text": format!("slow request {i}"), "seed": i}),
            ))
        })
        .collect();
    let (mut ok, mut limited) = (0, 0);
    for h in handles {
        let (st, retry, v) = h.await.expect("task");
        assert!(!st.is_server_error(), "{st}: {v}");
        if st == 200 {
            ok += 1;
            let (pst, wav) = app.play(v["session_id"].as_str().expect("sid")).await;
            assert_eq!(pst, 200);
            assert_playable(&wav);
        } else {
            assert_eq!((st.as_u16(), error_code(&v)), (429, "queue_full"), "{v}");
            assert!(retry, "429 carries Retry-After");
            limited += 1;
        }
    }
    assert!(ok >= 1, "some requests were served");
    assert!(limited >= 1, "the queue limit was enforced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_timeout_gets_504_its_work_is_cancelled_and_the_server_stays_healthy() {
    let (app, counters) = spawn_fake_app(|c| {
        c.request_timeout_seconds = 1;
        c.workers = 1;
        c.max_queue = 4;
    })
    .await;
    // One worker and three endless requests: each must time out, and its work be cancelled.
    let handles: Vec<_> = (0..3)
        .map(|i| tokio::spawn(post(app.base.clone(), json!({"text": "hang", "seed": i}))))
        .collect();
    for h in handles {
        let (st, _, v) = h.await.expect("task");
        assert_eq!(
            (st, error_code(&v)),
            (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            "{v}"
        );
    }
    // The cancelled work frees the worker: a short request succeeds afterwards.
    let t0 = Instant::now();
    loop {
        let (st, v) = app.synthesize_json(json!({"text": "Short."})).await;
        if st == 200 {
            break;
        }
        assert!(matches!(error_code(&v), "timeout" | "queue_full"), "{v}");
        assert!(t0.elapsed() < Duration::from_secs(30), "worker never freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        counters.cancelled.load(Ordering::SeqCst) >= 1,
        "the model saw the cancellation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_cancels_its_synthesis() {
    let (app, counters) = spawn_fake_app(|_| {}).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("client");
    let r = impatient
        .post(app.url("/synthesize"))
        .json(&json!({"text": "hang until the client leaves"}))
        .send()
        .await;
    assert!(r.is_err(), "the client gave up");
    let t0 = Instant::now();
    while counters.cancelled.load(Ordering::SeqCst) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "work was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        app.health().await.1["sessions"],
        0,
        "the abandoned session is gone"
    );
    assert_eq!(app.synthesize_json(json!({"text": "Next."})).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_panic_is_a_500_internal_and_the_worker_survives() {
    let (app, _) = spawn_fake_app(|c| c.workers = 1).await;
    let (st, v) = app.synthesize_json(json!({"text": "panic"})).await;
    assert_eq!((st.as_u16(), error_code(&v)), (500, "internal"), "{v}");
    let (st, v) = app.synthesize_json(json!({"text": "Fine again."})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["duration"], 0.2, "both pieces of audio were kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_loading_and_after_a_failed_load_synthesis_gets_503() {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let app: TestApp = spawn_with_loader(
        |_| {},
        move || {
            let _ = wait.recv();
            Ok(FakeModel {
                counters: Default::default(),
            })
        },
    )
    .await;
    let (st, h) = app.health().await;
    assert_eq!((st.as_u16(), &h["status"]), (503, &json!("loading")));
    assert_eq!(h["model_loaded"], false);
    let (st, retry, v) = post(app.base.clone(), json!({"text": "hi"})).await;
    assert_eq!((st.as_u16(), error_code(&v)), (503, "model_loading"));
    assert!(retry, "503 model_loading carries Retry-After");
    assert_eq!(app.get_json("/livez").await.0, 200, "alive while loading");
    let _ = release.send(());
    app.wait_ready().await;

    let failed: TestApp = spawn_with_loader(
        |_| {},
        || -> chatterbox::Result<FakeModel> {
            Err(chatterbox::Error::InvalidArgument("no weights here".into()))
        },
    )
    .await;
    let t0 = Instant::now();
    let h = loop {
        let (_, h) = failed.health().await;
        if h["status"] != "loading" || t0.elapsed() > Duration::from_secs(10) {
            break h;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(h["status"], "failed");
    assert!(
        h["error"]
            .as_str()
            .is_some_and(|e| e.contains("no weights")),
        "{h}"
    );
    let (st, v) = failed.synthesize_json(json!({"text": "hi"})).await;
    assert_eq!((st.as_u16(), error_code(&v)), (503, "model_failed"));
}
