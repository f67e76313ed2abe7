//! Resemble AI's Chatterbox text-to-speech model, ported to candle.
//!
//! The crate is free of HTTP and async runtimes: the server crate drives it from worker threads.
//! Laid out by what things are:
//! - [`models`]: the networks (`t3`, `s3gen`, `s3tokenizer`, `voice_encoder`, `campplus`), each
//!   module tree mirroring its checkpoint key prefixes, so a `new(cfg, vb)` asks for exactly the
//!   tensors the released files hold;
//! - `nn`: the shared layers (one `Linear`, the convolutions, `LayerNorm`, activations) over
//!   [`kernels`] (runtime SIMD dispatch, the packed matrix product, fused attention);
//! - [`checkpoint`]: the one safetensors reader; [`sampling`]: T3's logits processors;
//! - [`audio`], [`dsp`], [`text`]: decoding/resampling, STFT/mel, the text front end;
//! - [`conditioning`]: voices (`Conditionals`) from a reference clip; [`pipeline`]: the whole
//!   `generate`, its parameters and the model variants.
//!
//! Test support (parity checks, manifests, random weights, the tiny checkpoint) lives in the
//! `chatterbox-testkit` crate, never in this library.

pub mod audio;
pub mod checkpoint;
pub mod conditioning;
pub mod dsp;
mod error;
pub mod kernels;
pub mod models;
pub mod nn;
pub mod pipeline;
pub mod sampling;
pub mod text;

pub use audio::Audio;
pub use error::{check_stop, Error, Result, ShouldStop};
pub use pipeline::{
    load_voice, save_voice, Chatterbox, ChunkOptions, ChunkProgress, Conditionals, GenerateParams,
    LoadOptions, ParamKind, ParamSpec, Quantization, Variant, HUB_REPO, TURBO_HUB_REPO,
};

/// Lock a mutex, taking the data even if another thread panicked while holding it (every mutex
/// here guards a cache or a file position that stays valid).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Output sample rate of the whole pipeline (S3Gen/HiFT).
pub const S3GEN_SR: u32 = 24_000;
/// Sample rate of the speech tokenizer, the voice encoder and CAMPPlus.
pub const S3_SR: u32 = 16_000;
