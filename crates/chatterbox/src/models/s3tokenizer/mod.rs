//! S3 speech tokenizer v2 (25 Hz). Weights live in `s3gen.safetensors` under `tokenizer.`.
//!
//! Log-mel front end (`_mel_filters`, `window`), `AudioEncoderV2` (`encoder.*`) and the FSQ
//! quantiser (`quantizer._codebook.project_down`) → token ids in `0..6561`.

mod encoder;
mod frontend;

pub use encoder::{fsq_id, fsq_margin, AudioEncoder, EncoderConfig, Fsq};
pub use frontend::LogMelFrontend;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;

use crate::{Error, Result};

/// Sample rate the tokenizer expects.
pub const SAMPLE_RATE: u32 = 16_000;
/// Mel bins of the front end.
pub const N_MELS: usize = 128;
/// FFT size (and window length) of the front end.
pub const N_FFT: usize = 400;
/// Hop in samples (100 mel frames per second).
pub const HOP: usize = 160;
/// Speech-token vocabulary (3^8).
pub const SPEECH_VOCAB_SIZE: u32 = 6561;
/// Mel frames longer than this (30 s) take the reference's sliding-window path, not ported.
pub const MAX_FRAMES: usize = 3000;

/// Number of tokens for `t` mel frames: two stride-2 convolutions, `ceil(ceil(t/2)/2)`.
pub fn n_tokens(mel_frames: usize) -> usize {
    mel_frames.div_ceil(2).div_ceil(2)
}

/// The whole tokenizer (`tokenizer.` prefix of `s3gen.safetensors`).
pub struct S3Tokenizer {
    frontend: LogMelFrontend,
    encoder: AudioEncoder,
    quantizer: Fsq,
}

/// Intermediate outputs of one tokenisation (for parity checks and diagnostics).
pub struct Tokenized {
    /// Encoder output `(1, N, n_state)`.
    pub hidden: Tensor,
    /// Pre-tanh FSQ projection `(1, N, 8)`.
    pub z: Tensor,
    pub ids: Vec<u32>,
}

impl S3Tokenizer {
    /// Loads from a `VarBuilder` already at the `tokenizer.` prefix.
    pub fn new(cfg: EncoderConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            frontend: LogMelFrontend::load(&vb)?,
            encoder: AudioEncoder::new(cfg, vb.pp("encoder"))?,
            quantizer: Fsq::load(vb.pp("quantizer"), cfg.n_state)?,
        })
    }

    /// Tokenises one 16 kHz clip. With `max_len`, the log-mel (normalised over the whole clip) is
    /// cut to its first `4·max_len` frames, so at most `max_len` tokens come out.
    pub fn tokenize_full(
        &self,
        wav16: &[f32],
        max_len: Option<usize>,
        device: &Device,
    ) -> Result<Tokenized> {
        if wav16.len() < N_FFT {
            return Err(Error::InvalidAudio(format!(
                "S3 tokenizer needs at least {N_FFT} samples at 16 kHz, got {}",
                wav16.len()
            )));
        }
        let mut mel = self.frontend.forward(wav16, device)?;
        if let Some(m) = max_len {
            let t = mel.dim(2)?;
            mel = mel.narrow(2, 0, t.min(4 * m))?;
        }
        let t = mel.dim(2)?;
        if t > MAX_FRAMES {
            return Err(Error::InvalidAudio(format!(
                "S3 tokenizer input longer than 30 s ({t} mel frames) is not supported"
            )));
        }
        let hidden = self.encoder.forward(&mel)?;
        let z = self.quantizer.project(&hidden)?;
        let ids = z
            .squeeze(0)?
            .to_vec2::<f32>()?
            .iter()
            .map(|r| fsq_id(r))
            .collect();
        Ok(Tokenized { hidden, z, ids })
    }

    /// The front end's log-mel `(1, 128, floor(n/160))`.
    pub fn log_mel(&self, wav16: &[f32], device: &Device) -> Result<Tensor> {
        self.frontend.forward(wav16, device)
    }

    /// Token ids of one 16 kHz clip (see [`Self::tokenize_full`]).
    pub fn tokenize(
        &self,
        wav16: &[f32],
        max_len: Option<usize>,
        device: &Device,
    ) -> Result<Vec<u32>> {
        Ok(self.tokenize_full(wav16, max_len, device)?.ids)
    }

    pub fn encoder(&self) -> &AudioEncoder {
        &self.encoder
    }

    pub fn quantizer(&self) -> &Fsq {
        &self.quantizer
    }
}
