//! Voice encoder (`ve.safetensors`): a Resemblyzer-style 3-layer LSTM d-vector over 40-band mels.
//!
//! This module holds its mel front end.

mod mel;

pub use mel::melspectrogram;

/// Sample rate of the voice encoder.
pub const SAMPLE_RATE: u32 = 16_000;
/// Mel bands.
pub const N_MELS: usize = 40;
