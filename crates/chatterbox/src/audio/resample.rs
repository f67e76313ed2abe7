//! The two resamplers the reference uses, each matched to its original.
//!
//! * [`resample_soxr_hq`]: libsoxr with the "HQ" recipe (20-bit), as `librosa.resample(res_type="soxr_hq")`
//!   (file → 24 kHz, and 24 → 16 kHz for the voice encoder and the T3 prompt).
//! * [`TorchaudioResampler`]: torchaudio's windowed-sinc `Resample` (Hann window, lowpass width 6,
//!   rolloff 0.99), used inside `S3Gen.embed_ref` for 24 → 16 kHz.

use crate::{Error, Result};
use soxr::format::Mono;
use soxr::params::{QualityRecipe, QualitySpec, RuntimeSpec};
use soxr::Soxr;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// librosa's output length: `ceil(n * (to / from))` evaluated in f64 exactly as librosa does, so
/// the float rounding of the ratio is reproduced (44.1 → 24 kHz on 26 460 samples gives 14 401).
pub fn librosa_len(n: usize, from: u32, to: u32) -> usize {
    let ratio = f64::from(to) / f64::from(from);
    (n as f64 * ratio).ceil() as usize
}

/// torchaudio's output length: `ceil(new * n / orig)` (Python float division) on reduced rates.
fn torchaudio_len(n: usize, orig: usize, new: usize) -> usize {
    ((new * n) as f64 / orig as f64).ceil() as usize
}

/// soxr "HQ" resampling with librosa's length rule: the output is padded with zeros or cut to
/// `librosa_len(n, from, to)` samples.
pub fn resample_soxr_hq(x: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    if from == 0 || to == 0 {
        return Err(Error::InvalidArgument(
            "sample rates must be positive".into(),
        ));
    }
    if from == to {
        return Ok(x.to_vec());
    }
    let target = librosa_len(x.len(), from, to);
    if x.is_empty() {
        return Ok(Vec::new());
    }
    let err = |e: soxr::Error| Error::Resample(e.to_string());
    let mut soxr = Soxr::<Mono<f32>>::new_with_params(
        f64::from(from),
        f64::from(to),
        QualitySpec::new(QualityRecipe::Bits20),
        RuntimeSpec::new(1),
    )
    .map_err(err)?;
    let mut out = vec![0f32; target + 64];
    let mut produced = 0usize;
    let mut consumed = 0usize;
    while consumed < x.len() {
        if produced == out.len() {
            out.resize(out.len() * 2, 0.0);
        }
        let p = soxr
            .process(&x[consumed..], &mut out[produced..])
            .map_err(err)?;
        consumed += p.input_frames;
        produced += p.output_frames;
        if p.input_frames == 0 && p.output_frames == 0 {
            break;
        }
    }
    loop {
        if produced == out.len() {
            out.resize(out.len() * 2, 0.0);
        }
        let n = soxr.drain(&mut out[produced..]).map_err(err)?;
        if n == 0 {
            break;
        }
        produced += n;
    }
    out.truncate(produced);
    out.resize(target, 0.0);
    Ok(out)
}

/// torchaudio's `transforms.Resample(from, to)` (sinc_interp_hann, lowpass_filter_width 6,
/// rolloff 0.99): a polyphase FIR whose kernel is built in f64 and applied in f32.
#[derive(Debug, Clone)]
pub struct TorchaudioResampler {
    orig: usize,
    new: usize,
    width: usize,
    /// `new` phases × `2·width + orig` taps, row-major.
    kernel: Vec<f32>,
}

impl TorchaudioResampler {
    const LOWPASS_FILTER_WIDTH: f64 = 6.0;
    const ROLLOFF: f64 = 0.99;

    pub fn new(from: u32, to: u32) -> Result<Self> {
        if from == 0 || to == 0 {
            return Err(Error::InvalidArgument(
                "sample rates must be positive".into(),
            ));
        }
        let g = gcd(u64::from(from), u64::from(to));
        let orig = (u64::from(from) / g) as usize;
        let new = (u64::from(to) / g) as usize;
        let lw = Self::LOWPASS_FILTER_WIDTH;
        let base = orig.min(new) as f64 * Self::ROLLOFF;
        let width = (lw * orig as f64 / base).ceil() as usize;
        let taps = 2 * width + orig;
        let scale = base / orig as f64;
        let mut kernel = Vec::with_capacity(new * taps);
        for j in 0..new {
            for k in 0..taps {
                let idx = (k as f64 - width as f64) / orig as f64;
                let mut t = (-(j as f64) / new as f64 + idx) * base;
                t = t.clamp(-lw, lw);
                let w = (t * std::f64::consts::PI / lw / 2.0).cos().powi(2);
                let tp = t * std::f64::consts::PI;
                let s = if tp == 0.0 { 1.0 } else { tp.sin() / tp };
                kernel.push((s * w * scale) as f32);
            }
        }
        Ok(Self {
            orig,
            new,
            width,
            kernel,
        })
    }

    /// Resample one signal; output length `ceil(n · to / from)`.
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        if self.orig == self.new {
            return x.to_vec();
        }
        let taps = 2 * self.width + self.orig;
        // Zero padding of `width` on the left and `width + orig` on the right.
        let mut padded = vec![0f32; self.width + x.len() + self.width + self.orig];
        padded[self.width..self.width + x.len()].copy_from_slice(x);
        let frames = (padded.len() - taps) / self.orig + 1;
        let target = torchaudio_len(x.len(), self.orig, self.new);
        let mut out = Vec::with_capacity(frames * self.new);
        for n in 0..frames {
            let seg = &padded[n * self.orig..n * self.orig + taps];
            for j in 0..self.new {
                let h = &self.kernel[j * taps..(j + 1) * taps];
                out.push(seg.iter().zip(h).map(|(a, b)| a * b).sum::<f32>());
            }
        }
        out.truncate(target);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_the_reference_rules() -> Result<()> {
        let x = vec![0.25f32; 1001];
        assert_eq!(resample_soxr_hq(&x, 24_000, 16_000)?.len(), 668);
        assert_eq!(resample_soxr_hq(&x, 44_100, 24_000)?.len(), 545);
        assert_eq!(librosa_len(26_460, 44_100, 24_000), 14_401);
        let r = TorchaudioResampler::new(24_000, 16_000)?;
        assert_eq!(r.width, 10);
        assert_eq!(r.kernel.len(), 2 * 23);
        assert_eq!(r.apply(&x).len(), 668);
        Ok(())
    }

    #[test]
    fn a_low_tone_survives_both_resamplers() -> Result<()> {
        let f = 440.0f32;
        let x: Vec<f32> = (0..24_000)
            .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / 24_000.0).sin())
            .collect();
        let want: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / 16_000.0).sin())
            .collect();
        for y in [
            resample_soxr_hq(&x, 24_000, 16_000)?,
            TorchaudioResampler::new(24_000, 16_000)?.apply(&x),
        ] {
            // Away from the edges the tone is reproduced closely.
            let err = y[1000..15_000]
                .iter()
                .zip(&want[1000..15_000])
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 1e-3, "err {err}");
        }
        Ok(())
    }
}
