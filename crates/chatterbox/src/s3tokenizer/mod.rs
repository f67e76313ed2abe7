//! S3 speech tokenizer v2 (25 Hz). Weights live in `s3gen.safetensors` under `tokenizer.`.
//!
//! This module holds the log-mel front end (`tokenizer._mel_filters`, `tokenizer.window`).

mod frontend;

pub use frontend::LogMelFrontend;

/// Sample rate the tokenizer expects.
pub const SAMPLE_RATE: u32 = 16_000;
/// Mel bins of the front end.
pub const N_MELS: usize = 128;
/// FFT size (and window length) of the front end.
pub const N_FFT: usize = 400;
/// Hop in samples (100 mel frames per second).
pub const HOP: usize = 160;
