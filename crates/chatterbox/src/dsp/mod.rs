//! Signal-processing building blocks shared by the feature extractors and the vocoder: windows,
//! reflect padding, framed real FFTs (STFT / iSTFT) and the Slaney mel filterbank.
//!
//! candle has no FFT, so spectra are computed on the host with `realfft` (in f64, then rounded to
//! f32 like librosa does), which is also the fastest option for the short transforms used here.

pub mod mel;
pub mod stft;

pub use mel::MelFilterbank;
pub use stft::{istft, Stft};

use crate::{Error, Result};

/// Periodic Hann window `0.5 − 0.5·cos(2πn/N)` (`torch.hann_window(N)`, `scipy.signal.get_window("hann", N)`).
pub fn hann_periodic(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let c = (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
            (0.5 - 0.5 * c) as f32
        })
        .collect()
}

/// Symmetric Hann window `0.5 − 0.5·cos(2πn/(N−1))` (`torch.hann_window(N, periodic=False)`).
pub fn hann_symmetric(n: usize) -> Vec<f32> {
    if n < 2 {
        return vec![1.0; n];
    }
    (0..n)
        .map(|i| {
            let c = (2.0 * std::f64::consts::PI * i as f64 / (n - 1) as f64).cos();
            (0.5 - 0.5 * c) as f32
        })
        .collect()
}

/// Reflect padding (`numpy.pad(mode="reflect")`, `torch.nn.functional.pad(mode="reflect")`): the
/// edge sample is not repeated. Like torch, the pad must be shorter than the signal.
pub fn reflect_pad(x: &[f32], left: usize, right: usize) -> Result<Vec<f32>> {
    let n = x.len();
    if n == 0 || left >= n.max(1) || right >= n.max(1) {
        return Err(Error::InvalidAudio(format!(
            "signal of {n} samples is too short for a reflect pad of {}",
            left.max(right)
        )));
    }
    let mut out = Vec::with_capacity(left + n + right);
    out.extend((1..=left).rev().map(|i| x[i]));
    out.extend_from_slice(x);
    out.extend((1..=right).map(|i| x[n - 1 - i]));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_pad_matches_numpy() -> Result<()> {
        let x = [1.0f32, 2.0, 3.0, 4.0];
        assert_eq!(
            reflect_pad(&x, 2, 3)?,
            vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0]
        );
        assert!(reflect_pad(&x, 4, 0).is_err());
        assert!(reflect_pad(&[], 0, 0).is_err());
        Ok(())
    }

    #[test]
    fn windows() {
        let w = hann_periodic(4);
        assert!((w[0] - 0.0).abs() < 1e-7 && (w[2] - 1.0).abs() < 1e-7);
        let s = hann_symmetric(5);
        assert!((s[4] - 0.0).abs() < 1e-7 && (s[2] - 1.0).abs() < 1e-7);
    }
}
