//! HTTP tests, in process: `helpers::spawn_app` (the real tiny checkpoint) where the test is about
//! synthesis, `helpers::spawn_fake_app` (a fake model) where it is about HTTP.

mod access;
mod engine;
mod errors;
mod formats;
mod helpers;
mod info;
mod multilingual;
mod openai;
mod openapi;
mod process;
mod sessions;
mod stream;
mod synthesize;
mod tts;
mod turbo;
mod voices;
