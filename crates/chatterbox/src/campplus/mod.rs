//! CAMPPlus x-vector speaker encoder (S3Gen's `speaker_encoder.`).
//!
//! This module holds its Kaldi-style fbank front end.

mod fbank;

pub use fbank::{extract_feature, kaldi_fbank, N_MELS};
