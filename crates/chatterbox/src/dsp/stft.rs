//! Framed real FFTs.

use crate::{Error, Result};
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// A short-time Fourier transform with a fixed FFT size, hop and window (`win_len ≤ n_fft`, centred
/// in the frame like torch/librosa). Frames are taken from an already padded signal.
#[derive(Clone)]
pub struct Stft {
    n_fft: usize,
    hop: usize,
    /// Window zero-padded (centred) to `n_fft`.
    window: Vec<f64>,
    fft: Arc<dyn RealToComplex<f64>>,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft")
            .field("n_fft", &self.n_fft)
            .field("hop", &self.hop)
            .finish()
    }
}

impl Stft {
    pub fn new(n_fft: usize, hop: usize, window: &[f32]) -> Result<Self> {
        if n_fft == 0 || hop == 0 || window.len() > n_fft {
            return Err(Error::InvalidArgument(format!(
                "bad STFT config n_fft={n_fft} hop={hop} win={}",
                window.len()
            )));
        }
        let off = (n_fft - window.len()) / 2;
        let mut w = vec![0f64; n_fft];
        for (i, &v) in window.iter().enumerate() {
            w[off + i] = f64::from(v);
        }
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n_fft);
        Ok(Self {
            n_fft,
            hop,
            window: w,
            fft,
        })
    }

    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Number of one-sided bins, `n_fft/2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of frames for a padded signal of length `len` (`1 + (len − n_fft) / hop`).
    pub fn n_frames(&self, len: usize) -> usize {
        if len < self.n_fft {
            0
        } else {
            1 + (len - self.n_fft) / self.hop
        }
    }

    /// Complex spectra of every frame, frame-major: `out[f * n_bins + k]`, rounded to f32.
    pub fn complex(&self, padded: &[f32]) -> Vec<Complex<f32>> {
        let (frames, bins) = (self.n_frames(padded.len()), self.n_bins());
        let mut out = Vec::with_capacity(frames * bins);
        let mut buf = self.fft.make_input_vec();
        let mut spec = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        for f in 0..frames {
            let frame = &padded[f * self.hop..f * self.hop + self.n_fft];
            for ((b, &x), &w) in buf.iter_mut().zip(frame).zip(&self.window) {
                *b = f64::from(x) * w;
            }
            // Length invariants hold by construction, so the FFT cannot fail.
            let _ = self
                .fft
                .process_with_scratch(&mut buf, &mut spec, &mut scratch);
            out.extend(spec.iter().map(|c| Complex::new(c.re as f32, c.im as f32)));
        }
        out
    }

    /// `|X|²` per frame and bin, frame-major, computed as `abs()` then squared in f32 (as
    /// `stft.abs() ** 2` does in torch and numpy).
    pub fn power(&self, padded: &[f32]) -> Vec<f32> {
        self.complex(padded)
            .into_iter()
            .map(|c| {
                let a = c.re.hypot(c.im);
                a * a
            })
            .collect()
    }
}

/// Inverse STFT with overlap-add, as `torch.istft(center=True, window=w, onesided)` without a
/// `length`: every frame is inverse-transformed, windowed and summed, the sum is divided by the
/// summed squared window, and `n_fft/2` samples are trimmed from each end. Input is frame-major
/// `(frames × (n_fft/2+1))` real and imaginary parts; output length `hop · (frames − 1)`.
pub fn istft(re: &[f32], im: &[f32], n_fft: usize, hop: usize, window: &[f32]) -> Result<Vec<f32>> {
    let bins = n_fft / 2 + 1;
    if re.len() != im.len() || re.len() % bins != 0 || window.len() != n_fft || hop == 0 {
        return Err(Error::InvalidArgument("istft: inconsistent shapes".into()));
    }
    let frames = re.len() / bins;
    if frames == 0 {
        return Ok(Vec::new());
    }
    let ifft: Arc<dyn ComplexToReal<f64>> = RealFftPlanner::<f64>::new().plan_fft_inverse(n_fft);
    let total = n_fft + hop * (frames - 1);
    let mut y = vec![0f64; total];
    let mut env = vec![0f64; total];
    let mut spec = ifft.make_input_vec();
    let mut buf = ifft.make_output_vec();
    let mut scratch = ifft.make_scratch_vec();
    for f in 0..frames {
        for (k, c) in spec.iter_mut().enumerate() {
            *c = Complex::new(f64::from(re[f * bins + k]), f64::from(im[f * bins + k]));
        }
        // A one-sided spectrum's DC and Nyquist bins are real; drop their imaginary parts the
        // way the C2R transform in torch does.
        spec[0].im = 0.0;
        if n_fft % 2 == 0 {
            spec[bins - 1].im = 0.0;
        }
        let _ = ifft.process_with_scratch(&mut spec, &mut buf, &mut scratch);
        for i in 0..n_fft {
            let w = f64::from(window[i]);
            y[f * hop + i] += buf[i] / n_fft as f64 * w;
            env[f * hop + i] += w * w;
        }
    }
    let start = n_fft / 2;
    let end = total - n_fft / 2;
    let mut out = Vec::with_capacity(end.saturating_sub(start));
    for i in start..end {
        if env[i] < 1e-11 {
            return Err(Error::InvalidArgument(
                "istft: window envelope has zeros (NOLA violated)".into(),
            ));
        }
        out.push((y[i] / env[i]) as f32);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::{hann_periodic, reflect_pad};

    #[test]
    fn stft_then_istft_reconstructs() -> Result<()> {
        let x: Vec<f32> = (0..400)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let w = hann_periodic(16);
        let stft = Stft::new(16, 4, &w)?;
        let padded = reflect_pad(&x, 8, 8)?;
        let spec = stft.complex(&padded);
        let re: Vec<f32> = spec.iter().map(|c| c.re).collect();
        let im: Vec<f32> = spec.iter().map(|c| c.im).collect();
        let y = istft(&re, &im, 16, 4, &w)?;
        assert_eq!(y.len(), x.len());
        let err = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err < 1e-5, "err {err}");
        Ok(())
    }
}
