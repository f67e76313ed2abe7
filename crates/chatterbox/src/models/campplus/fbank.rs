//! `torchaudio.compliance.kaldi.fbank(wav, num_mel_bins=80)` with every other option at its
//! default (25 ms Povey windows every 10 ms, snip edges, DC removal, pre-emphasis 0.97, power
//! spectrum, log with an f32-epsilon floor), plus CAMPPlus's utterance mean normalisation.

use candle_core::{Device, Tensor};
use realfft::RealFftPlanner;
use std::sync::OnceLock;

use crate::dsp::hann_symmetric;
use crate::{Error, Result};

/// Mel bins.
pub const N_MELS: usize = 80;
const WIN: usize = 400;
const SHIFT: usize = 160;
const PADDED: usize = 512;
const PREEMPH: f32 = 0.97;
const SR: f32 = 16_000.0;

struct Parts {
    window: Vec<f32>,
    /// (80 × 257) triangle weights, bin 256 always zero.
    banks: Vec<f32>,
}

fn mel_scale(f: f32) -> f32 {
    1127.0 * (1.0 + f / 700.0).ln()
}

fn parts() -> &'static Parts {
    static P: OnceLock<Parts> = OnceLock::new();
    P.get_or_init(|| {
        let window = hann_symmetric(WIN)
            .into_iter()
            .map(|w| w.powf(0.85))
            .collect();
        // torchaudio's get_mel_banks: the band edges come from Python floats, the per-bin arithmetic
        // is float32.
        let low = 20.0f64;
        let high = 0.5 * f64::from(SR);
        let mel_lo = 1127.0 * (1.0 + low / 700.0).ln();
        let mel_hi = 1127.0 * (1.0 + high / 700.0).ln();
        let delta = ((mel_hi - mel_lo) / (N_MELS as f64 + 1.0)) as f32;
        let mel_lo = mel_lo as f32;
        let bin_width = SR / PADDED as f32;
        let n_fft_bins = PADDED / 2;
        let mut banks = vec![0f32; N_MELS * (n_fft_bins + 1)];
        for m in 0..N_MELS {
            let left = mel_lo + m as f32 * delta;
            let center = mel_lo + (m as f32 + 1.0) * delta;
            let right = mel_lo + (m as f32 + 2.0) * delta;
            for k in 0..n_fft_bins {
                let mel = mel_scale(bin_width * k as f32);
                let up = (mel - left) / (center - left);
                let down = (right - mel) / (right - center);
                banks[m * (n_fft_bins + 1) + k] = up.min(down).max(0.0);
            }
        }
        Parts { window, banks }
    })
}

/// Raw Kaldi fbank `(F, 80)`, `F = 1 + (n − 400) / 160`.
pub fn kaldi_fbank(wav: &[f32], device: &Device) -> Result<Tensor> {
    if wav.len() < WIN {
        return Err(Error::InvalidAudio(format!(
            "{} samples is shorter than one 25 ms fbank window",
            wav.len()
        )));
    }
    let p = parts();
    let frames = 1 + (wav.len() - WIN) / SHIFT;
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(PADDED);
    let mut buf = fft.make_input_vec();
    let mut spec = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut frame = [0f32; WIN];
    let mut power = vec![0f32; PADDED / 2 + 1];
    let mut out = Vec::with_capacity(frames * N_MELS);
    for f in 0..frames {
        frame.copy_from_slice(&wav[f * SHIFT..f * SHIFT + WIN]);
        let mean = frame.iter().sum::<f32>() / WIN as f32;
        frame.iter_mut().for_each(|x| *x -= mean);
        // Pre-emphasis with x[-1] := x[0], from the right so each step reads the original sample.
        for i in (1..WIN).rev() {
            frame[i] -= PREEMPH * frame[i - 1];
        }
        frame[0] -= PREEMPH * frame[0];
        buf.iter_mut().for_each(|b| *b = 0.0);
        for ((b, &x), &w) in buf.iter_mut().zip(&frame).zip(&p.window) {
            *b = f64::from(x * w);
        }
        let _ = fft.process_with_scratch(&mut buf, &mut spec, &mut scratch);
        for (pw, c) in power.iter_mut().zip(&spec) {
            let a = (c.re as f32).hypot(c.im as f32);
            *pw = a * a;
        }
        for m in 0..N_MELS {
            let bank = &p.banks[m * power.len()..(m + 1) * power.len()];
            let e: f32 = bank.iter().zip(&power).map(|(a, b)| a * b).sum();
            out.push(e.max(f32::EPSILON).ln());
        }
    }
    Ok(Tensor::from_vec(out, (frames, N_MELS), device)?)
}

/// CAMPPlus input features: Kaldi fbank minus its per-bin mean over time → `(F, 80)`.
pub fn extract_feature(wav: &[f32], device: &Device) -> Result<Tensor> {
    let fb = kaldi_fbank(wav, device)?;
    let mean = fb.mean_keepdim(0)?;
    Ok(fb.broadcast_sub(&mean)?)
}
