//! S3Gen (`s3gen.safetensors`): tokens → mel (flow matching) → 24 kHz waveform (HiFT).
//!
//! This module holds the 24 kHz mel extractor used for the prompt features.

mod mel;

pub use mel::mel_spectrogram;
