use candle_core::{Device, Tensor};
use std::sync::OnceLock;

use super::{N_MELS, SAMPLE_RATE};
use crate::dsp::{hann_periodic, reflect_pad, MelFilterbank, Stft};
use crate::Result;

const N_FFT: usize = 400;
const HOP: usize = 160;

fn parts() -> &'static (MelFilterbank, Stft) {
    static P: OnceLock<(MelFilterbank, Stft)> = OnceLock::new();
    P.get_or_init(|| {
        let fb = MelFilterbank::slaney(f64::from(SAMPLE_RATE), N_FFT, N_MELS, 0.0, 8000.0);
        let stft = match Stft::new(N_FFT, HOP, &hann_periodic(N_FFT)) {
            Ok(s) => s,
            Err(_) => unreachable!("constant STFT configuration is valid"),
        };
        (fb, stft)
    })
}

/// The voice encoder's mel spectrogram: librosa STFT (n_fft 400, hop 160, periodic Hann, centred
/// with reflect padding), power `|X|²`, 40 Slaney mels up to 8 kHz, linear scale (no log).
/// Returns `(T, 40)` with `T = 1 + floor(n / 160)`.
pub fn melspectrogram(wav: &[f32], device: &Device) -> Result<Tensor> {
    let (fb, stft) = parts();
    let padded = reflect_pad(wav, N_FFT / 2, N_FFT / 2)?;
    let frames = stft.n_frames(padded.len());
    let mel = fb.apply(&stft.power(&padded), frames);
    Ok(Tensor::from_vec(mel, (N_MELS, frames), device)?
        .t()?
        .contiguous()?)
}
