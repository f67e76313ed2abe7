//! Audio in and out: decode any supported container to mono f32, resample, write 16-bit WAV.
//!
//! Decoding mirrors `librosa.load(path, sr=None, mono=True)`: integer PCM is scaled to [-1, 1)
//! (int16 / 2^15, int24 / 2^23, int32 / 2^31), float samples are kept, and channels are averaged.

mod decode;
pub mod loudness;
pub mod resample;

pub use decode::{decode, decode_file, DecodeLimits};
pub use resample::{resample_soxr_hq, TorchaudioResampler};

use crate::{Error, Result};
use std::io::{Cursor, Seek, Write};
use std::path::Path;

/// Mono audio at a known sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Audio {
    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate.max(1))
    }

    /// Chatterbox-Turbo's `norm_loudness`: scaled to `target_lufs` integrated loudness
    /// (ITU-R BS.1770-4 as pyloudnorm); unchanged when shorter than 400 ms or silent.
    pub fn loudness_normalized(&self, target_lufs: f64) -> Audio {
        let mut samples = self.samples.clone();
        loudness::normalize_loudness(&mut samples, self.sample_rate, target_lufs);
        Audio {
            samples,
            sample_rate: self.sample_rate,
        }
    }

    /// Resample with soxr "HQ" exactly as `librosa.resample(res_type="soxr_hq")` does
    /// (output length `ceil(n * to / from)`). A no-op when the rate already matches.
    pub fn resampled(&self, to: u32) -> Result<Audio> {
        if to == self.sample_rate {
            return Ok(self.clone());
        }
        Ok(Audio {
            samples: resample_soxr_hq(&self.samples, self.sample_rate, to)?,
            sample_rate: to,
        })
    }
}

/// `librosa.load(bytes, sr=target_sr)`: decode, mix to mono, soxr-HQ resample if the rate differs.
pub fn load(bytes: &[u8], target_sr: u32, limits: &DecodeLimits) -> Result<Audio> {
    decode(bytes, limits)?.resampled(target_sr)
}

/// Convert one f32 sample to 16-bit PCM: scale by 2^15 (the inverse of the decoder's 1/2^15, so
/// a round trip is exact to half an LSB), round, and clip to the i16 range; NaN becomes silence.
pub fn to_i16(x: f32) -> i16 {
    if !x.is_finite() {
        return 0;
    }
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Write mono 16-bit PCM WAV to any seekable writer.
pub fn write_wav<W: Write + Seek>(writer: W, samples: &[f32], sample_rate: u32) -> Result<()> {
    if sample_rate == 0 {
        return Err(Error::InvalidArgument(
            "sample rate must be positive".into(),
        ));
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let wav_err = |e: hound::Error| Error::io("writing wav", std::io::Error::other(e.to_string()));
    let mut w = hound::WavWriter::new(writer, spec).map_err(wav_err)?;
    {
        let mut w16 = w.get_i16_writer(samples.len() as u32);
        for &s in samples {
            w16.write_sample(to_i16(s));
        }
        w16.flush().map_err(wav_err)?;
    }
    w.finalize().map_err(wav_err)
}

/// A complete 16-bit PCM WAV file in memory.
pub fn wav_bytes(samples: &[f32], sample_rate: u32) -> Result<Vec<u8>> {
    let mut cur = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    write_wav(&mut cur, samples, sample_rate)?;
    Ok(cur.into_inner())
}

/// Write a WAV file atomically: the bytes go to a temporary sibling that is renamed into place, so
/// a reader never sees a half-written file and a failed write never clobbers an existing one.
pub fn write_wav_file(path: &Path, samples: &[f32], sample_rate: u32) -> Result<()> {
    let bytes = wav_bytes(samples, sample_rate)?;
    let tmp = path.with_extension(format!("wav.tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("renaming into {}", path.display()), e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trip_is_within_one_lsb() -> Result<()> {
        let sr = 24_000;
        let x: Vec<f32> = (0..2400).map(|i| 0.8 * (i as f32 * 0.05).sin()).collect();
        let bytes = wav_bytes(&x, sr)?;
        let back = decode(&bytes, &DecodeLimits::default())?;
        assert_eq!(back.sample_rate, sr);
        assert_eq!(back.samples.len(), x.len());
        let max = x
            .iter()
            .zip(&back.samples)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max <= 0.5 / 32768.0 + 1e-7, "max err {max}");
        Ok(())
    }

    #[test]
    fn clipping_and_non_finite_samples_are_safe() {
        assert_eq!(to_i16(2.0), 32767);
        assert_eq!(to_i16(1.0), 32767);
        assert_eq!(to_i16(-1.0), -32768);
        assert_eq!(to_i16(-2.0), -32768);
        assert_eq!(to_i16(f32::NAN), 0);
    }
}
