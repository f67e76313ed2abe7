//! The networks, one folder each, laid out as the checkpoint keys are: T3 (text → speech tokens),
//! S3Gen (speech tokens → mel → waveform), and the conditioning encoders (S3 speech tokenizer,
//! voice encoder, CAMPPlus speaker x-vector).

pub mod campplus;
pub mod s3gen;
pub mod s3tokenizer;
pub mod t3;
pub mod voice_encoder;
