//! S3Gen (`s3gen.safetensors`): tokens → mel (flow matching) → 24 kHz waveform (HiFT).
//!
//! [`S3Gen`] loads the `flow.` and `mel2wav.` parts of the checkpoint (the `tokenizer.` and
//! `speaker_encoder.` parts live in their own modules) and runs `S3Token2Wav.inference`. The only
//! randomness (CFM noise, the source's phases and noise) comes from the caller: either a seeded
//! [`GaussianRng`] or explicit tensors ([`S3GenNoise`]), which is how the parity test injects the
//! reference's draws.

mod encoder;
mod estimator;
mod flow;
mod hift;
mod mel;
mod rng;
mod stream;

pub use encoder::{EncoderConfig, UpsampleConformerEncoder};
pub use estimator::{Estimator, EstimatorConfig};
pub use flow::{cosine_t_span, linear_t_span, Cfm, Flow, FlowConfig};
pub use hift::{Hift, HiftConfig, HiftTrace, SourceNoise};
pub use mel::mel_spectrogram;
pub use rng::GaussianRng;
pub use stream::{PieceTiming, S3GenStream, StreamOptions, MEL_CACHE_FRAMES};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::error::ShouldStop;
use crate::{Error, Result};

/// Sizes of the whole S3Gen decoder.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3GenConfig {
    pub flow: FlowConfig,
    pub hift: HiftConfig,
}

impl S3GenConfig {
    /// Chatterbox-Turbo's `s3gen_meanflow.safetensors`: the released sizes with the meanflow flow
    /// decoder ([`FlowConfig::meanflow`]); HiFT unchanged.
    pub fn meanflow() -> Self {
        Self {
            flow: FlowConfig::meanflow(),
            hift: HiftConfig::default(),
        }
    }
}

/// Every random draw of one `S3Gen::inference` call. (The meanflow reference draws the noise of
/// the generated frames first and splices it into `z` at frame `2·Np`; all draws are independent
/// standard normals, so one `z` drawn whole has the same distribution.)
#[derive(Debug, Clone)]
pub struct S3GenNoise {
    /// CFM starting noise `(1, 80, 2·(Np+N))`.
    pub z: Tensor,
    /// The vocoder source's phases and noise (length `480 · 2N`).
    pub source: SourceNoise,
}

impl S3GenNoise {
    /// Draw in the reference's order: `z`, then the phases `U(−π, π)`, then the source noise.
    pub fn draw(
        rng: &mut GaussianRng,
        mel_bins: usize,
        total_frames: usize,
        new_frames: usize,
        cfg: &HiftConfig,
    ) -> Result<Self> {
        let dev = Device::Cpu;
        let z = Tensor::from_vec(
            rng.normal_vec(mel_bins * total_frames),
            (1, mel_bins, total_frames),
            &dev,
        )?;
        let nh = cfg.nb_harmonics + 1;
        let phases: Vec<f32> = (0..nh)
            .map(|_| rng.uniform(-std::f32::consts::PI, std::f32::consts::PI))
            .collect();
        let len = new_frames * cfg.samples_per_frame();
        let noise = Tensor::from_vec(rng.normal_vec(nh * len), (1, nh, len), &dev)?;
        Ok(Self {
            z,
            source: SourceNoise { phases, noise },
        })
    }
}

/// The output fade-in (`trim_fade`): 480 zeros then a 480-sample raised cosine from 0 to 1.
pub fn trim_fade(sr: u32) -> Vec<f32> {
    let n = (sr / 50) as usize;
    let mut fade = vec![0f32; 2 * n];
    // torch.linspace(π, 0, n) in f32 (first half from the start, second from the end).
    let start = std::f32::consts::PI;
    let step = (0f32 - start) / (n - 1).max(1) as f32;
    for i in 0..n {
        let x = if i < n / 2 {
            start + step * i as f32
        } else {
            0f32 - step * (n - 1 - i) as f32
        };
        fade[n + i] = (x.cos() + 1.0) / 2.0;
    }
    fade
}

/// Per-call S3Gen options that trade fidelity to the reference for speed. `Default` is the
/// reference: the configured Euler steps and the whole prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct S3GenOptions {
    /// Euler steps of the CFM (`None`: the configured `n_timesteps`, 10 for the original model).
    pub cfm_steps: Option<usize>,
    /// Keep at most this many prompt tokens (the first ones, with their `2·n` mel frames), as if
    /// the voice clip were shorter; `None` keeps the whole prompt (up to 10 s of the clip).
    pub max_prompt_tokens: Option<usize>,
}

/// `S3Token2Wav` without the tokenizer and speaker encoder.
#[derive(Debug, Clone)]
pub struct S3Gen {
    pub flow: Flow,
    pub mel2wav: Hift,
    cfg: S3GenConfig,
}

/// Output of [`S3Gen::inference_traced`].
#[derive(Debug, Clone)]
pub struct S3GenOutput {
    /// The generated mel `(1, 80, 2N)` (prompt frames removed).
    pub mel: Tensor,
    /// The faded, clamped waveform `(1, 480·2N)` at 24 kHz.
    pub wav: Tensor,
}

impl S3Gen {
    /// Load from a `VarBuilder` at the root of `s3gen.safetensors` (asks for `flow.*` and
    /// `mel2wav.*` only). Any missing parameter is an error.
    pub fn new(cfg: &S3GenConfig, vb: &VarBuilder) -> Result<Self> {
        Ok(Self {
            flow: Flow::new(&cfg.flow, &vb.pp("flow"))?,
            mel2wav: Hift::new(&cfg.hift, &vb.pp("mel2wav"))?,
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &S3GenConfig {
        &self.cfg
    }

    /// Tokens → waveform with noise drawn from `rng`. `should_stop` is polled between the CFM's
    /// Euler steps and the vocoder's stages (a few hundred milliseconds apart at full size).
    pub fn inference(
        &self,
        tokens: &[u32],
        prompt_tokens: &[u32],
        prompt_feat: &Tensor,
        embedding: &Tensor,
        rng: &mut GaussianRng,
        should_stop: ShouldStop,
    ) -> Result<Tensor> {
        self.inference_with(
            tokens,
            prompt_tokens,
            prompt_feat,
            embedding,
            rng,
            &S3GenOptions::default(),
            should_stop,
        )
    }

    /// [`S3Gen::inference`] with [`S3GenOptions`].
    #[allow(clippy::too_many_arguments)]
    pub fn inference_with(
        &self,
        tokens: &[u32],
        prompt_tokens: &[u32],
        prompt_feat: &Tensor,
        embedding: &Tensor,
        rng: &mut GaussianRng,
        opts: &S3GenOptions,
        should_stop: ShouldStop,
    ) -> Result<Tensor> {
        let (prompt_tokens, prompt_feat) = match opts.max_prompt_tokens {
            Some(n) if n < prompt_tokens.len() => {
                let frames = (2 * n).min(prompt_feat.dim(1)?);
                (&prompt_tokens[..n], prompt_feat.narrow(1, 0, frames)?)
            }
            _ => (prompt_tokens, prompt_feat.clone()),
        };
        let prompt_feat = &prompt_feat;
        let total = 2 * (tokens.len() + prompt_tokens.len());
        let tp = prompt_feat.dim(1)?;
        if tp > total {
            return Err(Error::InvalidArgument(format!(
                "prompt_feat has {tp} frames for {total} token frames"
            )));
        }
        let noise = S3GenNoise::draw(
            rng,
            self.cfg.flow.mel_bins,
            total,
            total - tp,
            &self.cfg.hift,
        )?;
        Ok(self
            .inference_traced_with(
                tokens,
                prompt_tokens,
                prompt_feat,
                embedding,
                &noise,
                opts.cfm_steps,
                should_stop,
            )?
            .wav)
    }

    /// Tokens → (mel, waveform) with explicit noise.
    pub fn inference_traced(
        &self,
        tokens: &[u32],
        prompt_tokens: &[u32],
        prompt_feat: &Tensor,
        embedding: &Tensor,
        noise: &S3GenNoise,
        should_stop: ShouldStop,
    ) -> Result<S3GenOutput> {
        self.inference_traced_with(
            tokens,
            prompt_tokens,
            prompt_feat,
            embedding,
            noise,
            None,
            should_stop,
        )
    }

    /// [`S3Gen::inference_traced`] with `cfm_steps` Euler steps (`None`: the configured number).
    #[allow(clippy::too_many_arguments)]
    pub fn inference_traced_with(
        &self,
        tokens: &[u32],
        prompt_tokens: &[u32],
        prompt_feat: &Tensor,
        embedding: &Tensor,
        noise: &S3GenNoise,
        cfm_steps: Option<usize>,
        should_stop: ShouldStop,
    ) -> Result<S3GenOutput> {
        let mel = self.flow.inference_steps(
            tokens,
            prompt_tokens,
            prompt_feat,
            embedding,
            &noise.z,
            cfm_steps.unwrap_or(self.flow.decoder.n_timesteps()),
            should_stop,
        )?;
        let wav = self.mel2wav.forward(&mel, &noise.source, should_stop)?;
        let fade = trim_fade(self.cfg.hift.sampling_rate);
        let n = wav.dim(1)?;
        if n < fade.len() {
            return Err(Error::InvalidArgument(format!(
                "waveform of {n} samples is shorter than the {}-sample fade",
                fade.len()
            )));
        }
        let mut gain = fade;
        gain.resize(n, 1.0);
        let wav = wav.broadcast_mul(&Tensor::from_vec(gain, (1, n), wav.device())?)?;
        Ok(S3GenOutput {
            mel: mel.to_dtype(DType::F32)?,
            wav,
        })
    }
}
