//! Load benchmark: N concurrent clients send `POST /synthesize` (JSON) for a fixed time or count
//! and report throughput, latency percentiles and status counts.
//!
//! `cargo run --release -p chatterbox-server --example load -- [BASE_URL] [CLIENTS] [REQUESTS] [MAX_NEW_TOKENS]`
//! (defaults: http://127.0.0.1:7860, 4 clients, 40 requests, 25 tokens ≈ 1 s of audio).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:7860".into());
    let parse = |s: Option<String>, d: usize| s.and_then(|v| v.parse().ok()).unwrap_or(d);
    let clients = parse(args.next(), 4).max(1);
    let total = parse(args.next(), 40).max(1);
    let tokens = parse(args.next(), 25).max(1);
    let next = Arc::new(AtomicUsize::new(0));
    let lat = Arc::new(Mutex::new(Vec::<(u16, f64, f64)>::new()));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (base, next, lat) = (base.clone(), next.clone(), lat.clone());
            std::thread::spawn(move || {
                let c = match reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(600))
                    .build()
                {
                    Ok(c) => c,
                    Err(_) => return,
                };
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total {
                        return;
                    }
                    let body = serde_json::json!({
                        "text": format!("Load test sentence number {i}."),
                        "seed": i, "max_new_tokens": tokens,
                    });
                    let s = Instant::now();
                    let (status, audio) =
                        match c.post(format!("{base}/synthesize")).json(&body).send() {
                            Ok(r) => {
                                let st = r.status().as_u16();
                                let v: serde_json::Value = r.json().unwrap_or_default();
                                (st, v["duration"].as_f64().unwrap_or(0.0))
                            }
                            Err(_) => (0, 0.0),
                        };
                    if let Ok(mut l) = lat.lock() {
                        l.push((status, s.elapsed().as_secs_f64(), audio));
                    }
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let wall = t0.elapsed().as_secs_f64();
    let l = lat.lock().map(|g| g.clone()).unwrap_or_default();
    let mut ok: Vec<f64> = l.iter().filter(|x| x.0 == 200).map(|x| x.1).collect();
    ok.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        if ok.is_empty() {
            f64::NAN
        } else {
            ok[((ok.len() as f64 - 1.0) * p).round() as usize]
        }
    };
    let audio: f64 = l.iter().filter(|x| x.0 == 200).map(|x| x.2).sum();
    let mut by_status = std::collections::BTreeMap::new();
    for x in &l {
        *by_status.entry(x.0).or_insert(0usize) += 1;
    }
    println!("clients={clients} requests={total} max_new_tokens={tokens} wall={wall:.2}s");
    println!("status counts: {by_status:?} (0 = transport error)");
    println!(
        "throughput: {:.2} req/s, {:.2} s of audio per s; latency p50={:.3}s p90={:.3}s p99={:.3}s max={:.3}s",
        ok.len() as f64 / wall,
        audio / wall,
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
}
