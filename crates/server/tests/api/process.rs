//! The real binary: SIGTERM stops it gracefully.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{temp_out, tiny_model};

#[test]
fn sigterm_stops_the_binary_gracefully() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatterbox-server"))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--threads",
            "1",
        ])
        .arg("--model-dir")
        .arg(tiny_model())
        .arg("--out-dir")
        .arg(temp_out())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let client = reqwest::blocking::Client::new();
    let url = format!("http://127.0.0.1:{port}/health");
    let t0 = Instant::now();
    while !client.get(&url).send().is_ok_and(|r| r.status() == 200) {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "server did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(40) {
            let _ = child.kill();
            panic!("the server did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
