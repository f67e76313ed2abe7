use candle_core::{Device, Tensor};
use std::sync::OnceLock;

use crate::dsp::{hann_periodic, reflect_pad, MelFilterbank, Stft};
use crate::Result;

const N_FFT: usize = 1920;
const HOP: usize = 480;
const N_MELS: usize = 80;

fn parts() -> &'static (MelFilterbank, Stft) {
    static P: OnceLock<(MelFilterbank, Stft)> = OnceLock::new();
    P.get_or_init(|| {
        let fb = MelFilterbank::slaney(24_000.0, N_FFT, N_MELS, 0.0, 8000.0);
        let stft = match Stft::new(N_FFT, HOP, &hann_periodic(N_FFT)) {
            Ok(s) => s,
            Err(_) => unreachable!("constant STFT configuration is valid"),
        };
        (fb, stft)
    })
}

/// S3Gen's 24 kHz mel (Matcha/CosyVoice `mel_spectrogram`): reflect pad 720 each side, STFT
/// (n_fft 1920, hop 480, periodic Hann, not centred), magnitude `sqrt(re² + im² + 1e-9)`, 80 Slaney
/// mels up to 8 kHz, `ln(max(·, 1e-5))`. Returns `(1, 80, floor(n / 480))`.
pub fn mel_spectrogram(wav: &[f32], device: &Device) -> Result<Tensor> {
    let (fb, stft) = parts();
    let pad = (N_FFT - HOP) / 2;
    let padded = reflect_pad(wav, pad, pad)?;
    let frames = stft.n_frames(padded.len());
    let mag: Vec<f32> = stft
        .complex(&padded)
        .into_iter()
        .map(|c| (c.re * c.re + c.im * c.im + 1e-9).sqrt())
        .collect();
    let mut mel = fb.apply(&mag, frames);
    for v in mel.iter_mut() {
        *v = v.max(1e-5).ln();
    }
    Ok(Tensor::from_vec(mel, (1, N_MELS, frames), device)?)
}
