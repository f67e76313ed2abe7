//! Audio formats the service can answer with, and the one encoder the routes use.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An encoding of synthesized audio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AudioFormat {
    /// 16-bit PCM WAV.
    #[default]
    Wav,
}

impl AudioFormat {
    /// Every format, in the order `/info` lists them.
    pub const ALL: [AudioFormat; 1] = [AudioFormat::Wav];

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Wav => "audio/wav",
        }
    }

    /// File extension (without the dot) of stored audio.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Wav => "wav",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.extension() == ext)
    }
}

/// Encode mono `samples` at `sample_rate`: the bytes and their content type.
pub fn encode(
    samples: &[f32],
    sample_rate: u32,
    format: AudioFormat,
) -> chatterbox::Result<(Vec<u8>, &'static str)> {
    let bytes = match format {
        AudioFormat::Wav => chatterbox::audio::wav_bytes(samples, sample_rate)?,
    };
    Ok((bytes, format.content_type()))
}

/// The header of a mono 16-bit PCM WAV whose length is not known yet (a stream): the RIFF and data
/// sizes are 0xFFFFFFFF, which players read as "until the end of the stream".
pub fn streaming_wav_header(sample_rate: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    let mut put = |at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, b"RIFF");
    put(4, &u32::MAX.to_le_bytes());
    put(8, b"WAVE");
    put(12, b"fmt ");
    put(16, &16u32.to_le_bytes());
    put(20, &1u16.to_le_bytes()); // PCM
    put(22, &1u16.to_le_bytes()); // mono
    put(24, &sample_rate.to_le_bytes());
    put(28, &(sample_rate * 2).to_le_bytes());
    put(32, &2u16.to_le_bytes()); // block align
    put(34, &16u16.to_le_bytes());
    put(36, b"data");
    put(40, &u32::MAX.to_le_bytes());
    h
}

/// Samples as 16-bit little-endian PCM, converted exactly as the stored WAV's.
pub fn pcm16(samples: &[f32]) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|&x| chatterbox::audio::to_i16(x).to_le_bytes())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trips() -> chatterbox::Result<()> {
        let x: Vec<f32> = (0..2400).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        let (bytes, ct) = encode(&x, 24_000, AudioFormat::Wav)?;
        assert_eq!(ct, "audio/wav");
        let back = chatterbox::audio::decode(&bytes, &Default::default())?;
        assert_eq!((back.sample_rate, back.samples.len()), (24_000, x.len()));
        assert_eq!(AudioFormat::from_extension("wav"), Some(AudioFormat::Wav));
        assert_eq!(
            serde_json::to_value(AudioFormat::Wav).ok(),
            Some("wav".into())
        );
        Ok(())
    }

    #[test]
    fn a_streamed_wav_has_the_stored_files_pcm() -> chatterbox::Result<()> {
        let x: Vec<f32> = (0..999).map(|i| (i as f32 * 0.03).sin() * 0.7).collect();
        let (stored, _) = encode(&x, 24_000, AudioFormat::Wav)?;
        let mut streamed = streaming_wav_header(24_000).to_vec();
        for part in x.chunks(100) {
            streamed.extend(pcm16(part));
        }
        assert_eq!(&stored[..4], &streamed[..4]);
        assert_eq!(&stored[8..36], &streamed[8..36], "same format chunk");
        assert_eq!(&stored[44..], &streamed[44..], "same PCM");
        assert_eq!(&streamed[40..44], &[0xff; 4], "unknown data length");
        assert_eq!(&streamed[4..8], &[0xff; 4], "unknown RIFF length");
        assert_eq!(streamed.len(), 44 + 2 * x.len());
        Ok(())
    }
}
