//! Mel filterbanks stored sparsely (each filter is a short run of non-zero weights), so applying
//! one costs only its support.

use candle_core::{Device, Tensor};

use crate::{Error, Result};

/// A filterbank `W (n_mels × n_bins)`.
#[derive(Debug, Clone)]
pub struct MelFilterbank {
    n_mels: usize,
    n_bins: usize,
    dense: Vec<f32>,
    /// Per filter: first non-zero bin and one past the last.
    support: Vec<(usize, usize)>,
}

fn hz_to_mel_slaney(f: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= min_log_hz {
        min_log_mel + (f / min_log_hz).ln() / logstep
    } else {
        f / f_sp
    }
}

fn mel_to_hz_slaney(m: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

/// `numpy.linspace(a, b, n)` including its exact last point.
fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![a];
    }
    let step = (b - a) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + a).collect();
    v[n - 1] = b;
    v
}

impl MelFilterbank {
    /// From a dense row-major `(n_mels × n_bins)` matrix (e.g. a buffer read from a checkpoint).
    pub fn from_dense(dense: Vec<f32>, n_mels: usize, n_bins: usize) -> Result<Self> {
        if dense.len() != n_mels * n_bins {
            return Err(Error::InvalidArgument(format!(
                "mel filterbank of {} values is not {n_mels}×{n_bins}",
                dense.len()
            )));
        }
        let support = (0..n_mels)
            .map(|m| {
                let row = &dense[m * n_bins..(m + 1) * n_bins];
                match row.iter().position(|&w| w != 0.0) {
                    None => (0, 0),
                    Some(s) => {
                        let e = row.iter().rposition(|&w| w != 0.0).map_or(s, |e| e + 1);
                        (s, e)
                    }
                }
            })
            .collect();
        Ok(Self {
            n_mels,
            n_bins,
            dense,
            support,
        })
    }

    /// `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)` with the Slaney mel scale and Slaney
    /// area normalisation (librosa's defaults), float32 result.
    pub fn slaney(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Self {
        let n_bins = n_fft / 2 + 1;
        let val = 1.0 / (n_fft as f64 * (1.0 / sr));
        let fft_freqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * val).collect();
        let mel_pts: Vec<f64> =
            linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2)
                .into_iter()
                .map(mel_to_hz_slaney)
                .collect();
        let mut dense = vec![0f32; n_mels * n_bins];
        for m in 0..n_mels {
            let fdiff_lo = mel_pts[m + 1] - mel_pts[m];
            let fdiff_hi = mel_pts[m + 2] - mel_pts[m + 1];
            let enorm = 2.0 / (mel_pts[m + 2] - mel_pts[m]);
            for (k, &f) in fft_freqs.iter().enumerate() {
                let lower = -(mel_pts[m] - f) / fdiff_lo;
                let upper = (mel_pts[m + 2] - f) / fdiff_hi;
                // librosa stores the triangle in float32 first, then scales it in place.
                let w = lower.min(upper).max(0.0) as f32;
                dense[m * n_bins + k] = (f64::from(w) * enorm) as f32;
            }
        }
        // The dense matrix always has the declared shape.
        match Self::from_dense(dense, n_mels, n_bins) {
            Ok(f) => f,
            Err(_) => unreachable!("shape is correct by construction"),
        }
    }

    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// The dense `(n_mels, n_bins)` matrix as a tensor.
    pub fn to_tensor(&self, device: &Device) -> Result<Tensor> {
        Ok(Tensor::from_slice(
            &self.dense,
            (self.n_mels, self.n_bins),
            device,
        )?)
    }

    /// Apply to frame-major spectra `(frames × n_bins)`; returns mel-major `(n_mels × frames)`.
    pub fn apply(&self, spec: &[f32], frames: usize) -> Vec<f32> {
        let mut out = vec![0f32; self.n_mels * frames];
        for m in 0..self.n_mels {
            let (s, e) = self.support[m];
            let w = &self.dense[m * self.n_bins + s..m * self.n_bins + e];
            for f in 0..frames {
                let x = &spec[f * self.n_bins + s..f * self.n_bins + e];
                out[m * frames + f] = w.iter().zip(x).map(|(a, b)| a * b).sum();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_shapes_and_support() {
        let fb = MelFilterbank::slaney(16_000.0, 400, 128, 0.0, 8000.0);
        assert_eq!((fb.n_mels(), fb.n_bins()), (128, 201));
        // Every filter has some support and is non-negative.
        assert!(fb.support.iter().all(|&(s, e)| e > s));
        assert!(fb.dense.iter().all(|&w| w >= 0.0));
        assert!((hz_to_mel_slaney(1000.0) - 15.0).abs() < 1e-12);
        assert!((mel_to_hz_slaney(hz_to_mel_slaney(4321.0)) - 4321.0).abs() < 1e-9);
    }
}
