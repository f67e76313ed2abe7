//! End-to-end tests over HTTP: the real `chatterbox-server` binary with the tiny random-weight
//! checkpoint of the real architecture, a temp out dir and an ephemeral port.

use reqwest::blocking::{multipart, Client};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn tiny_model() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("cbx-tiny-{}", std::process::id()));
        chatterbox_testkit::tiny::write_tiny_checkpoint(&dir, 0).expect("tiny checkpoint");
        dir
    })
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

struct Server {
    child: Child,
    base: String,
    out: PathBuf,
}

impl Server {
    fn start_in(out: &Path, extra: &[&str]) -> Server {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatterbox-server"));
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--model-dir")
            .arg(tiny_model())
            .arg("--out-dir")
            .arg(out)
            .args(["--threads", "1"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("spawn server");
        let s = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            out: out.to_path_buf(),
        };
        s.wait_ready();
        s
    }

    fn start(extra: &[&str]) -> Server {
        let out = std::env::temp_dir().join(format!("cbx-out-{}", uuid::Uuid::new_v4()));
        Self::start_in(&out, extra)
    }

    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.base)
    }

    fn wait_ready(&self) {
        let c = client();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(120) {
            if let Ok(r) = c.get(self.url("/health")).send() {
                if r.status() == StatusCode::OK {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server did not become ready");
    }

    fn stop(mut self) -> PathBuf {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        std::mem::take(&mut self.out)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("client")
}

/// A 2 s voice clip as a 16-bit WAV at 44.1 kHz.
fn voice_wav(seconds: f32) -> Vec<u8> {
    let sr = 44_100;
    let n = (seconds * sr as f32) as usize;
    let x: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f32 / sr as f32;
            0.3 * (2.0 * std::f32::consts::PI * 140.0 * t).sin() * (0.5 + 0.5 * (7.0 * t).sin())
                + 0.1 * (2.0 * std::f32::consts::PI * 420.0 * t).sin()
        })
        .collect();
    chatterbox::audio::wav_bytes(&x, sr).expect("wav")
}

fn synth_json(s: &Server, body: Value) -> (StatusCode, Value) {
    let r = client()
        .post(s.url("/synthesize"))
        .json(&body)
        .send()
        .expect("send");
    let st = r.status();
    (st, r.json().unwrap_or(Value::Null))
}

fn synth_form(s: &Server, form: multipart::Form) -> (StatusCode, Value) {
    let r = client()
        .post(s.url("/synthesize"))
        .multipart(form)
        .send()
        .expect("send");
    let st = r.status();
    (st, r.json().unwrap_or(Value::Null))
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

fn play(s: &Server, sid: &str) -> (StatusCode, Vec<u8>) {
    let r = client()
        .get(s.url(&format!("/play/{sid}")))
        .send()
        .expect("play");
    let st = r.status();
    (st, r.bytes().map(|b| b.to_vec()).unwrap_or_default())
}

fn assert_playable(bytes: &[u8]) {
    let a = chatterbox::audio::decode(bytes, &Default::default()).expect("playable WAV");
    assert_eq!(a.sample_rate, 24_000);
    assert!(!a.samples.is_empty());
}

#[test]
fn contract_end_to_end() {
    let s = Server::start(&[]);
    let c = client();

    // health + liveness + openapi + metrics
    let h: Value = c
        .get(s.url("/health"))
        .send()
        .expect("health")
        .json()
        .expect("json");
    assert_eq!(h["status"], "ok");
    assert_eq!(h["model_loaded"], true);
    assert_eq!(c.get(s.url("/livez")).send().expect("livez").status(), 200);
    let doc: Value = c
        .get(s.url("/openapi.json"))
        .send()
        .expect("doc")
        .json()
        .expect("json");
    for p in ["/synthesize", "/play/{sid}", "/delete", "/health"] {
        assert!(doc["paths"][p].is_object(), "{p} documented");
    }

    // JSON synthesis with the default voice, seeded twice => identical audio
    let (st, v) = synth_json(
        &s,
        json!({"text": "Hello there.", "seed": 7, "max_new_tokens": 40}),
    );
    assert_eq!(st, 200, "{v}");
    let sid = v["session_id"].as_str().expect("sid").to_string();
    assert_eq!(v["play_url"], format!("/play/{sid}"));
    assert_eq!(v["sample_rate"], 24_000);
    assert!(v["duration"].as_f64().expect("duration") > 0.0);
    let (st, wav1) = play(&s, &sid);
    assert_eq!(st, 200);
    assert_playable(&wav1);
    let (st, _) = synth_json(
        &s,
        json!({"text": "Hello there.", "seed": 7, "max_new_tokens": 40, "session_id": sid}),
    );
    assert_eq!(st, 200);
    let (_, wav2) = play(&s, &sid);
    assert_eq!(wav1, wav2, "same seed and inputs give the same audio");

    // Range requests
    let r = c
        .get(s.url(&format!("/play/{sid}")))
        .header("Range", "bytes=0-99")
        .send()
        .expect("range");
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-99/{}", wav1.len()).as_str()
    );
    assert_eq!(r.bytes().expect("body").as_ref(), &wav1[..100]);
    let r = c
        .get(s.url(&format!("/play/{sid}")))
        .header("Range", "bytes=-10")
        .send()
        .expect("range");
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().expect("body").as_ref(), &wav1[wav1.len() - 10..]);
    let r = c
        .get(s.url(&format!("/play/{sid}")))
        .header("Range", format!("bytes={}-", wav1.len()))
        .send()
        .expect("range");
    assert_eq!(r.status(), 416);

    // multipart with a voice upload; the session keeps the voice
    let form = multipart::Form::new()
        .text("text", "A cloned voice.")
        .text("seed", "3")
        .text("max_new_tokens", "30")
        .part(
            "voice_prompt",
            multipart::Part::bytes(voice_wav(2.0)).file_name("me.wav"),
        );
    let (st, v) = synth_form(&s, form);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["voice"], "upload");
    let vsid = v["session_id"].as_str().expect("sid").to_string();
    let form = multipart::Form::new()
        .text("text", "Same voice again.")
        .text("session_id", vsid.clone())
        .text("max_new_tokens", "30");
    let (st, v) = synth_form(&s, form);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["voice"], "upload", "the session remembered its voice");
    assert!(
        v["timings"]["voice_s"].as_f64().unwrap_or(1.0) < 1e-3,
        "voice not recomputed"
    );
    let (st, wav) = play(&s, &vsid);
    assert_eq!(st, 200);
    assert_playable(&wav);

    // delete, twice
    let r = c
        .post(s.url("/delete"))
        .json(&json!({"session_id": vsid}))
        .send()
        .expect("delete");
    assert_eq!(r.status(), 200);
    let r = c
        .post(s.url("/delete"))
        .json(&json!({"session_id": vsid}))
        .send()
        .expect("delete");
    assert_eq!(r.status(), 404);
    assert_eq!(play(&s, &vsid).0, 404);
    let r = c
        .post(s.url("/delete"))
        .form(&[("session_id", sid.as_str())])
        .send()
        .expect("delete form");
    assert_eq!(r.status(), 200);

    // metrics saw the traffic
    let m = c
        .get(s.url("/metrics"))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    assert!(m.contains("chatterbox_http_requests_total"), "{m}");
}

#[test]
fn bad_input_gets_clear_json_errors_and_harms_nothing() {
    let s = Server::start(&[
        "--max-text-chars",
        "200",
        "--max-upload-bytes",
        "300000",
        "--max-voice-seconds",
        "3",
    ]);
    let c = client();
    let (st, v) = synth_json(
        &s,
        json!({"text": "Keep me.", "seed": 1, "max_new_tokens": 20}),
    );
    assert_eq!(st, 200);
    let keep = v["session_id"].as_str().expect("sid").to_string();
    let (_, before) = play(&s, &keep);

    let cases: Vec<(&str, StatusCode, Value)> = vec![
        (
            "empty_text",
            StatusCode::BAD_REQUEST,
            json!({"text": "   "}),
        ),
        (
            "text_too_long",
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"text": "a".repeat(201)}),
        ),
        (
            "unknown_field",
            StatusCode::BAD_REQUEST,
            json!({"text": "hi", "temprature": 0.5}),
        ),
        (
            "invalid_param",
            StatusCode::BAD_REQUEST,
            json!({"text": "hi", "temperature": 9.0}),
        ),
        (
            "invalid_param",
            StatusCode::BAD_REQUEST,
            json!({"text": "hi", "top_p": 0.0}),
        ),
        (
            "invalid_session_id",
            StatusCode::BAD_REQUEST,
            json!({"text": "hi", "session_id": "../../etc/passwd"}),
        ),
        (
            "session_not_found",
            StatusCode::NOT_FOUND,
            json!({"text": "hi", "session_id": uuid::Uuid::new_v4().to_string()}),
        ),
        (
            "voice_not_found",
            StatusCode::NOT_FOUND,
            json!({"text": "hi", "voice": "nobody"}),
        ),
    ];
    for (code, status, body) in cases {
        let (st, v) = synth_json(&s, body.clone());
        assert_eq!((st, error_code(&v)), (status, code), "{body}: {v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let r = c
        .post(s.url("/synthesize"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .expect("send");
    assert_eq!(r.status(), 400);
    let r = c
        .post(s.url("/synthesize"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .expect("send");
    assert_eq!(r.status(), 415);

    let upload = |bytes: Vec<u8>| {
        let form = multipart::Form::new().text("text", "hi").part(
            "voice_prompt",
            multipart::Part::bytes(bytes).file_name("v.wav"),
        );
        synth_form(&s, form)
    };
    let (st, v) = upload(b"this is not audio at all".to_vec());
    assert_eq!(
        (st, error_code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_audio"),
        "{v}"
    );
    let (st, v) = upload(Vec::new());
    assert_eq!(
        (st, error_code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_audio"),
        "{v}"
    );
    let wav = voice_wav(2.0);
    let (st, v) = upload(wav[..wav.len() / 3].to_vec());
    assert_eq!(
        (st, error_code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_audio"),
        "truncated: {v}"
    );
    let (st, v) = upload(voice_wav(0.3));
    assert_eq!(
        (st, error_code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "voice_too_short"),
        "{v}"
    );
    let long = {
        let x = vec![0.1f32; 16_000 * 5];
        chatterbox::audio::wav_bytes(&x, 16_000).expect("wav")
    };
    let (st, v) = upload(long);
    assert_eq!(
        (st, error_code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "voice_too_long"),
        "{v}"
    );
    let (st, v) = upload(vec![0u8; 400_000]);
    assert_eq!(
        (st, error_code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large"),
        "{v}"
    );

    for bad in [
        "..%2F..%2Fetc%2Fpasswd",
        "not-a-uuid",
        &uuid::Uuid::new_v4().to_string(),
    ] {
        let r = c.get(s.url(&format!("/play/{bad}"))).send().expect("play");
        assert_eq!(r.status(), 404, "{bad}");
        let v: Value = r.json().unwrap_or(Value::Null);
        assert_eq!(error_code(&v), "session_not_found");
    }
    let r = c
        .post(s.url("/delete"))
        .json(&json!({"session_id": "../x"}))
        .send()
        .expect("delete");
    assert_eq!(r.status(), 404);

    // Nothing stored was harmed.
    let (st, after) = play(&s, &keep);
    assert_eq!(st, 200);
    assert_eq!(before, after);
}

#[test]
fn restart_recovers_sessions_and_cleanup_removes_old_ones() {
    let s = Server::start(&[]);
    let form = multipart::Form::new()
        .text("text", "Survive a restart.")
        .text("seed", "2")
        .text("max_new_tokens", "20")
        .part(
            "voice_prompt",
            multipart::Part::bytes(voice_wav(2.0)).file_name("me.wav"),
        );
    let (st, v) = synth_form(&s, form);
    assert_eq!(st, 200);
    let sid = v["session_id"].as_str().expect("sid").to_string();
    let (_, before) = play(&s, &sid);
    let out = s.stop();
    // Debris a crash could leave behind.
    std::fs::write(
        out.join(format!("{}.wav.tmp1", uuid::Uuid::new_v4())),
        b"half",
    )
    .expect("write");

    let s = Server::start_in(
        &out,
        &["--cleanup-interval-seconds", "1", "--max-age-seconds", "2"],
    );
    let (st, after) = play(&s, &sid);
    assert_eq!(st, 200, "session survived the restart");
    assert_eq!(before, after);
    // Its uploaded voice survived too: no upload, yet the session speaks in it.
    let (st, v) = synth_json(
        &s,
        json!({"text": "Still me.", "session_id": sid, "max_new_tokens": 10}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["voice"], "upload");
    assert!(!std::fs::read_dir(&out).expect("dir").any(|e| e
        .map(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .unwrap_or(false)));
    // After max age, the cleanup task removes it.
    let t0 = Instant::now();
    while play(&s, &sid).0 == 200 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(play(&s, &sid).0, 404, "cleanup removed the old session");
    assert_eq!(std::fs::read_dir(&out).expect("dir").count(), 0);
}

#[test]
fn overload_gives_429_never_5xx_and_every_200_plays() {
    let s = Server::start(&["--max-queue", "1", "--workers", "1"]);
    let base = s.base.clone();
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let base = base.clone();
            std::thread::spawn(move || {
                let r = client()
                    .post(format!("{base}/synthesize"))
                    .json(&json!({"text": format!("Request number {i}."), "seed": i, "max_new_tokens": 60}))
                    .send()
                    .expect("send");
                let st = r.status();
                let retry = r.headers().get("retry-after").is_some();
                let v: Value = r.json().unwrap_or(Value::Null);
                (st, retry, v)
            })
        })
        .collect();
    let mut ok = 0;
    let mut limited = 0;
    for h in handles {
        let (st, retry, v) = h.join().expect("thread");
        assert!(!st.is_server_error(), "{st}: {v}");
        if st == 200 {
            ok += 1;
            let (pst, wav) = play(&s, v["session_id"].as_str().expect("sid"));
            assert_eq!(pst, 200);
            assert_playable(&wav);
        } else {
            assert_eq!(st, 429, "{v}");
            assert!(retry, "429 carries Retry-After");
            limited += 1;
        }
    }
    assert!(ok >= 1, "some requests were served");
    assert!(limited >= 1, "the queue limit was enforced");
}

#[test]
fn a_request_over_the_timeout_gets_504_and_the_server_stays_healthy() {
    // One worker and three long requests at once: the later ones wait behind the first, and the
    // wait counts toward the 1 s timeout, so at least one of them must time out.
    let s = Server::start(&[
        "--request-timeout-seconds",
        "1",
        "--workers",
        "1",
        "--max-queue",
        "4",
    ]);
    let base = s.base.clone();
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let base = base.clone();
            std::thread::spawn(move || {
                let r = client()
                    .post(format!("{base}/synthesize"))
                    .json(
                        &json!({"text": "A very long request that cannot finish within one second.",
                                  "max_new_tokens": 1000, "seed": i}),
                    )
                    .send()
                    .expect("send");
                let st = r.status();
                (st, r.json::<Value>().unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut timed_out = 0;
    for h in handles {
        let (st, v) = h.join().expect("thread");
        if st == StatusCode::GATEWAY_TIMEOUT {
            assert_eq!(error_code(&v), "timeout", "{v}");
            timed_out += 1;
        } else {
            assert_eq!(st, 200, "{v}");
        }
    }
    assert!(timed_out >= 1, "no request timed out");
    // The cancelled work frees the worker: a short request succeeds afterwards.
    let t0 = Instant::now();
    loop {
        let (st, v) = synth_json(
            &s,
            json!({"text": "Short.", "max_new_tokens": 5, "seed": 1}),
        );
        if st == 200 {
            break;
        }
        // While the backlog of cancelled work drains, a retry may time out or find the queue
        // full (429); it must never be another error.
        assert!(matches!(error_code(&v), "timeout" | "queue_full"), "{v}");
        assert!(t0.elapsed() < Duration::from_secs(60), "worker never freed");
        std::thread::sleep(Duration::from_millis(250));
    }
}
