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
}
