//! Container/codec decoding with symphonia (wav, mp3, ogg/vorbis, flac).

use super::Audio;
use crate::{Error, Result};
use std::io::Cursor;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymErr;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Bounds on what a decode may produce, so a hostile upload cannot exhaust memory.
#[derive(Debug, Clone)]
pub struct DecodeLimits {
    /// Maximum decoded duration in seconds (per channel). Longer input is an error.
    pub max_duration_s: f64,
    /// Largest sample rate accepted.
    pub max_sample_rate: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_duration_s: 600.0,
            max_sample_rate: 384_000,
        }
    }
}

/// Read and decode a file (see [`decode`]).
pub fn decode_file(path: &std::path::Path, limits: &DecodeLimits) -> Result<Audio> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    decode(&bytes, limits)
}

/// Decode an in-memory audio file to mono f32 (mean of channels) at its native rate.
///
/// Every failure (unknown container, no audio track, corrupt or truncated stream, empty audio,
/// non-finite samples) is an [`Error::AudioDecode`] or [`Error::InvalidAudio`]; a panic inside a
/// codec is caught and reported the same way.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Audio> {
    if bytes.is_empty() {
        return Err(Error::AudioDecode("empty input".into()));
    }
    let owned = bytes.to_vec();
    let limits = limits.clone();
    match std::panic::catch_unwind(move || decode_inner(owned, &limits)) {
        Ok(r) => r,
        Err(_) => Err(Error::AudioDecode("the decoder rejected the stream".into())),
    }
}

fn sym(e: SymErr) -> Error {
    match e {
        SymErr::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::AudioDecode("truncated stream".into())
        }
        SymErr::Unsupported(what) => {
            Error::AudioDecode(format!("unsupported or unrecognised format ({what})"))
        }
        other => Error::AudioDecode(other.to_string()),
    }
}

fn decode_inner(bytes: Vec<u8>, limits: &DecodeLimits) -> Result<Audio> {
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(sym)?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| Error::AudioDecode("no audio track".into()))?;
    let track_id = track.id;
    let declared_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| Error::AudioDecode("no audio codec parameters".into()))?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(sym)?;

    let mut mono: Vec<f32> = Vec::new();
    let mut rate: Option<u32> = params.sample_rate;
    let mut planes: Vec<Vec<f32>> = Vec::new();
    let (mut good, mut bad) = (0usize, 0usize);
    let max_frames = |r: u32| (limits.max_duration_s * f64::from(r)).ceil() as usize;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymErr::ResetRequired) => break,
            Err(e) => return Err(sym(e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            // A damaged packet in a long stream is skipped (as players do); too many of them
            // means the input is not really audio.
            Err(SymErr::DecodeError(_)) => {
                bad += 1;
                continue;
            }
            Err(e) => return Err(sym(e)),
        };
        good += 1;
        let spec_rate = buf.spec().rate();
        match rate {
            None | Some(0) => rate = Some(spec_rate),
            Some(r) if r != spec_rate => {
                return Err(Error::AudioDecode("sample rate changes mid-stream".into()))
            }
            Some(_) => {}
        }
        let n_ch = buf.num_planes();
        if n_ch == 0 || buf.frames() == 0 {
            continue;
        }
        buf.copy_to_vecs_planar::<f32>(&mut planes);
        let frames = buf.frames();
        let start = mono.len();
        mono.resize(start + frames, 0.0);
        let out = &mut mono[start..];
        if n_ch == 1 {
            out.copy_from_slice(&planes[0][..frames]);
        } else {
            // Same arithmetic as numpy's float32 mean over the channel axis.
            for (i, o) in out.iter_mut().enumerate() {
                let mut acc = 0f32;
                for p in planes.iter().take(n_ch) {
                    acc += p[i];
                }
                *o = acc / n_ch as f32;
            }
        }
        let r = rate.unwrap_or(0);
        if r > 0 && mono.len() > max_frames(r) {
            return Err(Error::AudioTooLong {
                max_s: limits.max_duration_s,
            });
        }
    }
    if bad > 0 && bad * 10 > good + bad {
        return Err(Error::AudioDecode(format!(
            "{bad} of {} packets are corrupt",
            good + bad
        )));
    }
    if let Some(n) = declared_frames {
        if (mono.len() as u64) < n {
            return Err(Error::AudioDecode(format!(
                "truncated stream: {} of {n} declared frames",
                mono.len()
            )));
        }
    }
    let sample_rate = rate.unwrap_or(0);
    if sample_rate == 0 || sample_rate > limits.max_sample_rate {
        return Err(Error::InvalidAudio(format!(
            "unsupported sample rate {sample_rate} Hz"
        )));
    }
    if mono.is_empty() {
        return Err(Error::InvalidAudio("no audio samples".into()));
    }
    if mono.iter().any(|s| !s.is_finite()) {
        return Err(Error::InvalidAudio(
            "audio contains NaN or infinite samples".into(),
        ));
    }
    Ok(Audio {
        samples: mono,
        sample_rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> DecodeLimits {
        DecodeLimits::default()
    }

    #[test]
    fn garbage_empty_and_truncated_are_typed_errors() -> Result<()> {
        assert!(matches!(decode(&[], &limits()), Err(Error::AudioDecode(_))));
        assert!(decode(b"this is not audio at all, just some text", &limits()).is_err());
        let noise: Vec<u8> = (0..10_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert!(decode(&noise, &limits()).is_err());
        let x: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
        let wav = super::super::wav_bytes(&x, 16_000)?;
        // Header only, and a header cut in half.
        assert!(decode(&wav[..44], &limits()).is_err());
        assert!(decode(&wav[..20], &limits()).is_err());
        // A data chunk that ends early.
        assert!(decode(&wav[..wav.len() / 2 + 1], &limits()).is_err());
        Ok(())
    }

    #[test]
    fn duration_limit_is_enforced() -> Result<()> {
        let x = vec![0.1f32; 16_000 * 3];
        let wav = super::super::wav_bytes(&x, 16_000)?;
        let short = DecodeLimits {
            max_duration_s: 1.0,
            ..DecodeLimits::default()
        };
        assert!(matches!(
            decode(&wav, &short),
            Err(Error::AudioTooLong { .. })
        ));
        assert_eq!(decode(&wav, &limits())?.samples.len(), x.len());
        Ok(())
    }
}
