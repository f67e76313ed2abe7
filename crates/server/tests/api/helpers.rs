//! In-process test servers: `spawn_app` runs the real tiny random-weight checkpoint (tests about
//! synthesis), `spawn_fake_app` a fake model whose behaviour the text picks (tests about HTTP:
//! queueing, timeouts, cancellation, panics).
#![allow(dead_code)] // each test binary uses a different part

use chatterbox_server::model::SpeechModel;
use chatterbox_server::{Application, Config};
use clap::Parser;
use reqwest::multipart::Form;
use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The tiny checkpoint of the real architecture, written once per test process.
pub fn tiny_model() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("cbx-tiny-{}", std::process::id()));
        chatterbox_testkit::tiny::write_tiny_checkpoint(&dir, 0).expect("tiny checkpoint");
        dir
    })
}

/// The tiny Chatterbox-Turbo checkpoint, written once per test process.
pub fn tiny_turbo_model() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("cbx-tiny-turbo-{}", std::process::id()));
        chatterbox_testkit::tiny::write_tiny_turbo_checkpoint(&dir, 0)
            .expect("tiny Turbo checkpoint");
        dir
    })
}

/// The tiny Chatterbox Multilingual checkpoint, written once per test process.
pub fn tiny_multilingual_model() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("cbx-tiny-mtl-{}", std::process::id()));
        chatterbox_testkit::tiny::write_tiny_variant_checkpoint(
            &dir,
            chatterbox::Variant::Multilingual,
            0,
        )
        .expect("tiny multilingual checkpoint");
        dir
    })
}

pub fn temp_out() -> PathBuf {
    std::env::temp_dir().join(format!("cbx-out-{}", uuid::Uuid::new_v4()))
}

/// Defaults, on 127.0.0.1 with an ephemeral port, writing to `out`.
pub fn config(out: &Path) -> Config {
    let mut c = Config::parse_from(["chatterbox-server"]);
    c.host = "127.0.0.1".into();
    c.port = 0;
    c.out_dir = out.to_path_buf();
    c.threads = 1;
    c.model_dir = Some(tiny_model().to_path_buf());
    c
}

pub struct TestApp {
    pub base: String,
    pub out: PathBuf,
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn start(app: Application, out: PathBuf) -> TestApp {
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let task = tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        out,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .expect("client"),
        handle,
        task,
    }
}

/// The real service on the tiny checkpoint, ready to synthesize.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_in(&temp_out(), tweak).await
}

/// The real service on an existing out directory (restart tests).
pub async fn spawn_app_in(out: &Path, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut cfg = config(out);
    tweak(&mut cfg);
    let app = start(Application::build(cfg).expect("build"), out.to_path_buf());
    app.wait_ready().await;
    app
}

/// What the fake model counts.
#[derive(Default)]
pub struct FakeCounters {
    /// Jobs that noticed they were cancelled.
    pub cancelled: AtomicUsize,
    /// Jobs that started generating.
    pub started: AtomicUsize,
}

/// A model for HTTP tests. The text picks the behaviour: `panic` panics; `hang…` runs until
/// cancelled; `slow…` takes a second; `drip…` sends a 0.1 s piece every 0.2 s, twenty in all
/// (or until cancelled); anything else answers at once. Audio is a quiet 24 kHz tone in two
/// pieces.
pub struct FakeModel {
    pub counters: Arc<FakeCounters>,
}

pub const FAKE_SR: u32 = 24_000;

fn tone(n: usize) -> Vec<f32> {
    (0..n).map(|i| 0.2 * (i as f32 * 0.07).sin()).collect()
}

impl SpeechModel for FakeModel {
    type Voice = String;

    fn sample_rate(&self) -> u32 {
        FAKE_SR
    }

    fn prepare_voice(&self, clip: &chatterbox::Audio, _: f32) -> chatterbox::Result<String> {
        Ok(format!("{} samples", clip.samples.len()))
    }

    fn generate(
        &self,
        text: &str,
        _: Option<&String>,
        _: &chatterbox::GenerateParams,
        should_stop: &dyn Fn() -> bool,
        emit: &mut dyn FnMut(Vec<f32>),
    ) -> chatterbox::Result<()> {
        self.counters.started.fetch_add(1, Ordering::SeqCst);
        let wait = |limit: Duration| {
            let t0 = Instant::now();
            while t0.elapsed() < limit {
                if should_stop() {
                    self.counters.cancelled.fetch_add(1, Ordering::SeqCst);
                    return Err(chatterbox::Error::Cancelled);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(())
        };
        if text == "panic" {
            panic!("the fake model was asked to panic");
        } else if text.starts_with("hang") {
            wait(Duration::from_secs(600))?;
        } else if text.starts_with("slow") {
            wait(Duration::from_secs(1))?;
        } else if text.starts_with("drip") {
            for _ in 0..20 {
                emit(tone(2400));
                wait(Duration::from_millis(200))?;
            }
            return Ok(());
        }
        emit(tone(2400));
        emit(tone(2400));
        Ok(())
    }

    fn save_voice(voice: &String, path: &Path) -> chatterbox::Result<()> {
        std::fs::write(path, voice).map_err(|e| chatterbox::Error::Io {
            context: "fake voice".into(),
            source: e,
        })
    }

    fn load_voice(path: &Path) -> chatterbox::Result<String> {
        std::fs::read_to_string(path).map_err(|e| chatterbox::Error::Io {
            context: "fake voice".into(),
            source: e,
        })
    }
}

/// The service around [`FakeModel`], ready.
pub async fn spawn_fake_app(tweak: impl FnOnce(&mut Config)) -> (TestApp, Arc<FakeCounters>) {
    let counters = Arc::new(FakeCounters::default());
    let model = FakeModel {
        counters: counters.clone(),
    };
    let app = spawn_with_loader(tweak, move || Ok(model)).await;
    app.wait_ready().await;
    (app, counters)
}

/// The service around whatever `load` returns (not waited for: `/health` may say loading).
pub async fn spawn_with_loader<M, F>(tweak: impl FnOnce(&mut Config), load: F) -> TestApp
where
    M: SpeechModel,
    F: FnOnce() -> chatterbox::Result<M> + Send + 'static,
{
    let out = temp_out();
    let mut cfg = config(&out);
    cfg.model_dir = None;
    tweak(&mut cfg);
    start(
        Application::build_with_model(cfg, load).expect("build"),
        out,
    )
}

pub fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// A voice clip as a 16-bit WAV at 44.1 kHz.
pub fn voice_wav(seconds: f32) -> Vec<u8> {
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

pub fn assert_playable(bytes: &[u8]) {
    let a = chatterbox::audio::decode(bytes, &Default::default()).expect("playable WAV");
    assert_eq!(a.sample_rate, 24_000);
    assert!(!a.samples.is_empty());
}

async fn json_of(r: reqwest::Response) -> (StatusCode, Value) {
    let st = r.status();
    (st, r.json().await.unwrap_or(Value::Null))
}

impl TestApp {
    pub fn url(&self, p: &str) -> String {
        format!("{}{p}", self.base)
    }

    pub async fn wait_ready(&self) {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(120) {
            if self.health().await.0 == StatusCode::OK {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not become ready");
    }

    pub async fn synthesize_json(&self, body: Value) -> (StatusCode, Value) {
        let r = self.client.post(self.url("/synthesize")).json(&body).send();
        json_of(r.await.expect("send")).await
    }

    pub async fn synthesize_form(&self, form: Form) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.url("/synthesize"))
            .multipart(form)
            .send();
        json_of(r.await.expect("send")).await
    }

    /// A raw body with the given content type.
    pub async fn synthesize_raw(
        &self,
        content_type: &str,
        body: &'static str,
    ) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.url("/synthesize"))
            .header("content-type", content_type)
            .body(body)
            .send();
        json_of(r.await.expect("send")).await
    }

    pub async fn play(&self, sid: &str) -> (StatusCode, Vec<u8>) {
        let r = self.play_with(sid, None).await;
        let st = r.status();
        (st, r.bytes().await.map(|b| b.to_vec()).unwrap_or_default())
    }

    pub async fn play_with(&self, sid: &str, range: Option<&str>) -> reqwest::Response {
        let mut r = self.client.get(self.url(&format!("/play/{sid}")));
        if let Some(range) = range {
            r = r.header("Range", range);
        }
        r.send().await.expect("play")
    }

    pub async fn delete_json(&self, sid: &str) -> (StatusCode, Value) {
        let body = serde_json::json!({ "session_id": sid });
        let r = self.client.post(self.url("/delete")).json(&body).send();
        json_of(r.await.expect("delete")).await
    }

    pub async fn delete_form(&self, sid: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.url("/delete"))
            .form(&[("session_id", sid)])
            .send();
        json_of(r.await.expect("delete")).await
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        json_of(self.client.get(self.url(path)).send().await.expect("get")).await
    }

    pub async fn health(&self) -> (StatusCode, Value) {
        self.get_json("/health").await
    }

    pub async fn metrics(&self) -> String {
        let r = self.client.get(self.url("/metrics")).send().await;
        r.expect("metrics").text().await.expect("text")
    }

    /// Stop gracefully (as SIGTERM does) and wait; returns the out directory.
    pub async fn stop(self) -> PathBuf {
        self.handle.stop(true).await;
        let _ = self.task.await;
        self.out
    }
}
