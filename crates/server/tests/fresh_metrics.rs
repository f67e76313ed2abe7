//! Every metric family is on `/metrics` right after start. A test process of its own: the
//! Prometheus recorder is global, and other tests' traffic would hide a missing registration.

#[path = "api/helpers.rs"]
mod helpers;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_server_lists_every_metric_family() {
    let (app, _) = helpers::spawn_fake_app(|_| {}).await;
    let m = app.metrics().await;
    for family in chatterbox_server::metrics::FAMILIES {
        assert!(
            m.contains(&format!("# TYPE {family} ")),
            "{family} missing:\n{m}"
        );
    }
    // Histograms, with true zero counts (no invented observations).
    assert!(
        m.contains("# TYPE chatterbox_synthesis_seconds histogram"),
        "{m}"
    );
    assert!(m.contains("chatterbox_synthesis_seconds_count 0"), "{m}");
    assert!(m.contains("chatterbox_real_time_factor_count 0"), "{m}");
    assert!(
        m.contains("chatterbox_http_request_seconds_bucket{route=\"/synthesize\",le=\"+Inf\"} 0"),
        "{m}"
    );
}
