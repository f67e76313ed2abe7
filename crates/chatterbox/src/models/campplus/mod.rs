//! CAMPPlus x-vector speaker encoder (S3Gen's `speaker_encoder.`).
//!
//! Kaldi-style fbank front end with utterance CMN, then the CAM++ network → `(1, 192)`.

mod fbank;
mod model;

pub use fbank::{extract_feature, kaldi_fbank, N_MELS};
pub use model::{CampPlus, CampPlusConfig};
