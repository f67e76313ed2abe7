use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::{HOP, N_FFT, N_MELS, SAMPLE_RATE};
use crate::dsp::{hann_periodic, reflect_pad, MelFilterbank, Stft};
use crate::Result;

/// The tokenizer's log-mel spectrogram: STFT (n_fft 400, hop 160, periodic Hann, centred with
/// reflect padding), last frame dropped, power, 128 Slaney mels, `log10(max(·, 1e-10))`, floored at
/// the global max − 8, then `(x + 4) / 4`.
#[derive(Debug, Clone)]
pub struct LogMelFrontend {
    filters: MelFilterbank,
    stft: Stft,
}

impl LogMelFrontend {
    /// Computes the buffers the way the reference does (they are recomputable, so a checkpoint may
    /// omit them).
    pub fn new() -> Result<Self> {
        Self::from_parts(
            MelFilterbank::slaney(f64::from(SAMPLE_RATE), N_FFT, N_MELS, 0.0, 8000.0),
            hann_periodic(N_FFT),
        )
    }

    /// Loads `_mel_filters` (128×201) and `window` (400) from the `tokenizer.` prefix when the
    /// checkpoint carries them, otherwise computes them.
    pub fn load(vb: &VarBuilder) -> Result<Self> {
        let filters = if vb.contains_tensor("_mel_filters") {
            let t = vb.get((N_MELS, N_FFT / 2 + 1), "_mel_filters")?;
            let dense = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            MelFilterbank::from_dense(dense, N_MELS, N_FFT / 2 + 1)?
        } else {
            MelFilterbank::slaney(f64::from(SAMPLE_RATE), N_FFT, N_MELS, 0.0, 8000.0)
        };
        let window = if vb.contains_tensor("window") {
            vb.get(N_FFT, "window")?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?
        } else {
            hann_periodic(N_FFT)
        };
        Self::from_parts(filters, window)
    }

    fn from_parts(filters: MelFilterbank, window: Vec<f32>) -> Result<Self> {
        Ok(Self {
            stft: Stft::new(N_FFT, HOP, &window)?,
            filters,
        })
    }

    /// Number of mel frames for `n` samples: `floor(n / 160)`.
    pub fn n_frames(n: usize) -> usize {
        n / HOP
    }

    /// Log-mel of a 16 kHz signal → `(1, 128, floor(n/160))`.
    pub fn forward(&self, wav: &[f32], device: &Device) -> Result<Tensor> {
        let padded = reflect_pad(wav, N_FFT / 2, N_FFT / 2)?;
        let frames = self.stft.n_frames(padded.len()).saturating_sub(1);
        let power = self.stft.power(&padded);
        let mut mel = self.filters.apply(&power, frames);
        let mut max = f32::NEG_INFINITY;
        for v in mel.iter_mut() {
            *v = v.max(1e-10).log10();
            max = max.max(*v);
        }
        let floor = max - 8.0;
        for v in mel.iter_mut() {
            *v = (v.max(floor) + 4.0) / 4.0;
        }
        Ok(Tensor::from_vec(mel, (1, N_MELS, frames), device)?)
    }
}
