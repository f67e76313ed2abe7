//! The real binary: SIGTERM stops it gracefully.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{temp_out, tiny_model, voice_wav};

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

/// A `chatterbox-server` process on the tiny checkpoint, killed when dropped.
struct Replica {
    child: std::process::Child,
    base: String,
}

impl Replica {
    fn spawn(out: &std::path::Path) -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_chatterbox-server"))
            .env("CHATTERBOX_HOST", "127.0.0.1")
            .env("CHATTERBOX_PORT", port.to_string())
            .env("CHATTERBOX_THREADS", "1")
            .env("CHATTERBOX_MODEL_DIR", tiny_model())
            .env("CHATTERBOX_OUT_DIR", out)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn wait_ready(&self, client: &reqwest::blocking::Client) {
        let t0 = Instant::now();
        while !client
            .get(self.url("/health"))
            .send()
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "server did not become ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two processes on one out directory (the ECS service's tasks on one EFS volume): either
/// serves, continues and deletes a session the other created, with its voice, and a voice saved
/// on one is usable on the other.
#[test]
fn two_processes_on_one_out_directory_share_sessions_and_voices() {
    use reqwest::blocking::multipart::{Form, Part};
    use serde_json::{json, Value};

    let out = temp_out();
    let (a, b) = (Replica::spawn(&out), Replica::spawn(&out));
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("client");
    a.wait_ready(&client);
    b.wait_ready(&client);
    let json_of = |r: reqwest::blocking::Response| -> (u16, Value) {
        let st = r.status().as_u16();
        (st, r.json().unwrap_or(Value::Null))
    };
    let get = |r: &Replica, path: &str| json_of(client.get(r.url(path)).send().expect("get"));
    let play = |r: &Replica, sid: &str| {
        let resp = client
            .get(r.url(&format!("/play/{sid}")))
            .send()
            .expect("play");
        (resp.status().as_u16(), resp.bytes().expect("body").to_vec())
    };
    let synthesize = |r: &Replica, body: Value| {
        json_of(
            client
                .post(r.url("/synthesize"))
                .json(&body)
                .send()
                .expect("synthesize"),
        )
    };

    // A creates the session with an uploaded voice.
    let form = Form::new()
        .text("text", "Made on replica A.")
        .text("seed", "3")
        .text("max_new_tokens", "20")
        .part(
            "voice_prompt",
            Part::bytes(voice_wav(2.0)).file_name("me.wav"),
        );
    let (st, v) = json_of(
        client
            .post(a.url("/synthesize"))
            .multipart(form)
            .send()
            .expect("post"),
    );
    assert_eq!(st, 200, "{v}");
    let sid = v["session_id"].as_str().expect("sid").to_string();

    // B serves it: metadata and audio.
    let (st, meta) = get(&b, &format!("/sessions/{sid}"));
    assert_eq!(
        (st, &meta["generation"], &meta["voice"]),
        (200, &json!(1), &json!("upload"))
    );
    let (st, from_b) = play(&b, &sid);
    assert_eq!(st, 200);
    assert_eq!(from_b, play(&a, &sid).1, "both serve the same file");

    // B continues it in the session's voice (found on disk, no upload), A sees the result.
    let (st, v) = synthesize(
        &b,
        json!({"text": "Continued on B.", "session_id": sid, "seed": 3, "max_new_tokens": 20}),
    );
    assert_eq!((st, &v["voice"]), (200, &json!("upload")), "{v}");
    let (_, meta) = get(&a, &format!("/sessions/{sid}"));
    assert_eq!(meta["generation"], 2, "{meta}");
    let (st, from_a) = play(&a, &sid);
    assert_eq!(st, 200);
    assert_ne!(from_a, from_b, "A serves B's newer audio");
    assert_eq!(from_a, play(&b, &sid).1);

    // A voice saved on A is listed by and speaks on B.
    let form = Form::new()
        .text("name", "bob")
        .part("audio", Part::bytes(voice_wav(2.0)).file_name("bob.wav"));
    let (st, v) = json_of(
        client
            .post(a.url("/voices"))
            .multipart(form)
            .send()
            .expect("post"),
    );
    assert_eq!(st, 201, "{v}");
    let (_, list) = get(&b, "/voices");
    assert!(
        list["voices"]
            .as_array()
            .is_some_and(|l| l.iter().any(|v| v["name"] == "bob")),
        "{list}"
    );
    let (st, v) = synthesize(
        &b,
        json!({"text": "Bob on B.", "voice": "bob", "max_new_tokens": 10}),
    );
    assert_eq!((st, &v["voice"]), (200, &json!("bob")), "{v}");
    // Deleted on B, it is gone on A too.
    let st = client
        .delete(b.url("/voices/bob"))
        .send()
        .expect("delete")
        .status();
    assert_eq!(st, 200);
    let (st, v) = synthesize(
        &a,
        json!({"text": "Bob?", "voice": "bob", "max_new_tokens": 10}),
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (404, Some("voice_not_found")),
        "{v}"
    );

    // B deletes the session: A no longer has it.
    let (st, v) = json_of(
        client
            .post(b.url("/delete"))
            .json(&json!({"session_id": sid}))
            .send()
            .expect("delete"),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(play(&a, &sid).0, 404);
    assert_eq!(get(&a, &format!("/sessions/{sid}")).0, 404);
    let (st, v) = synthesize(&a, json!({"text": "Gone?", "session_id": sid}));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (404, Some("session_not_found")),
        "{v}"
    );
    let (st, _) = json_of(
        client
            .post(a.url("/delete"))
            .json(&json!({"session_id": sid}))
            .send()
            .expect("delete"),
    );
    assert_eq!(st, 404, "a second delete, on the other replica");
    drop((a, b));
    let _ = std::fs::remove_dir_all(&out);
}
