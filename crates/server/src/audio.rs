//! Audio formats the service can answer with, and the one encoder the routes use.
//!
//! Encoders: WAV (hound, through the synthesis crate), MP3 (LAME 3.100, vendored C built by
//! `mp3lame-encoder`'s build script: no system library), FLAC (`flacenc`, pure Rust), Opus
//! (`opus-rs`, pure Rust, in an Ogg stream written with the `ogg` crate), raw PCM.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An encoding of synthesized audio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AudioFormat {
    /// 16-bit PCM WAV.
    #[default]
    Wav,
    /// MPEG-1/2 Layer III, 64 kbit/s CBR.
    Mp3,
    /// Opus in an Ogg stream (RFC 7845), 48 kbit/s.
    Opus,
    /// FLAC, 16-bit, lossless.
    Flac,
    /// Raw 16-bit little-endian mono samples at the model's rate (24 kHz), no header.
    Pcm,
}

/// Opus bit rate.
const OPUS_BITRATE: i32 = 48_000;
/// Opus frame: 20 ms.
const OPUS_FRAME_MS: u32 = 20;
/// Samples (at 48 kHz) a decoder drops at the start: the encoder's look-ahead.
const OPUS_PRE_SKIP: u16 = 312;

impl AudioFormat {
    /// Every format, in the order `/info` lists them.
    pub const ALL: [AudioFormat; 5] = [
        AudioFormat::Wav,
        AudioFormat::Mp3,
        AudioFormat::Opus,
        AudioFormat::Flac,
        AudioFormat::Pcm,
    ];

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Wav => "audio/wav",
            Self::Mp3 => "audio/mpeg",
            Self::Opus => "audio/ogg",
            Self::Flac => "audio/flac",
            Self::Pcm => "audio/pcm",
        }
    }

    /// File extension (without the dot) of stored audio, and the format's name.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Mp3 => "mp3",
            Self::Opus => "opus",
            Self::Flac => "flac",
            Self::Pcm => "pcm",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.extension() == ext)
    }

    /// The format called `name` (as in `?format=`), or a message listing the known ones.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::from_extension(name).ok_or_else(|| {
            let known: Vec<_> = Self::ALL.iter().map(|f| f.extension()).collect();
            format!("unknown audio format {name:?}; one of {}", known.join(", "))
        })
    }
}

fn encode_error(what: &str, e: impl std::fmt::Debug) -> chatterbox::Error {
    chatterbox::Error::InvalidArgument(format!("{what} encoder: {e:?}"))
}

/// Encode mono `samples` at `sample_rate`: the bytes and their content type.
pub fn encode(
    samples: &[f32],
    sample_rate: u32,
    format: AudioFormat,
) -> chatterbox::Result<(Vec<u8>, &'static str)> {
    let bytes = match format {
        AudioFormat::Wav => chatterbox::audio::wav_bytes(samples, sample_rate)?,
        AudioFormat::Pcm => pcm16(samples),
        AudioFormat::Mp3 => mp3(samples, sample_rate)?,
        AudioFormat::Flac => flac(samples, sample_rate)?,
        AudioFormat::Opus => ogg_opus(samples, sample_rate)?,
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

fn mp3(samples: &[f32], sample_rate: u32) -> chatterbox::Result<Vec<u8>> {
    use mp3lame_encoder::{Bitrate, Builder, FlushNoGap, MonoPcm, Quality};
    let mut b = Builder::new().ok_or_else(|| encode_error("mp3", "no LAME builder"))?;
    b.set_num_channels(1).map_err(|e| encode_error("mp3", e))?;
    b.set_sample_rate(sample_rate)
        .map_err(|e| encode_error("mp3", e))?;
    b.set_brate(Bitrate::Kbps64)
        .map_err(|e| encode_error("mp3", e))?;
    b.set_quality(Quality::Good)
        .map_err(|e| encode_error("mp3", e))?;
    let mut enc = b.build().map_err(|e| encode_error("mp3", e))?;
    let pcm: Vec<i16> = samples
        .iter()
        .map(|&x| chatterbox::audio::to_i16(x))
        .collect();
    let mut out = Vec::new();
    for chunk in pcm.chunks(8192) {
        out.reserve(mp3lame_encoder::max_required_buffer_size(chunk.len()));
        enc.encode_to_vec(MonoPcm(chunk), &mut out)
            .map_err(|e| encode_error("mp3", e))?;
    }
    out.reserve(7200);
    enc.flush_to_vec::<FlushNoGap>(&mut out)
        .map_err(|e| encode_error("mp3", e))?;
    Ok(out)
}

fn flac(samples: &[f32], sample_rate: u32) -> chatterbox::Result<Vec<u8>> {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|e| encode_error("flac", e))?;
    let pcm: Vec<i32> = samples
        .iter()
        .map(|&x| i32::from(chatterbox::audio::to_i16(x)))
        .collect();
    let source = flacenc::source::MemSource::from_samples(&pcm, 1, 16, sample_rate as usize);
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| encode_error("flac", e))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream
        .write(&mut sink)
        .map_err(|e| encode_error("flac", e))?;
    let mut bytes = sink.as_slice().to_vec();
    // STREAMINFO's minimum block size excludes the last block (RFC 9639 §8.2); flacenc counts
    // it, which makes fixed-blocksize readers (symphonia) misplace the frames and call the
    // stream truncated. Every block but the last has the configured size.
    if pcm.len() > config.block_size && bytes.len() >= 12 && &bytes[..4] == b"fLaC" {
        let max = [bytes[10], bytes[11]];
        bytes[8..10].copy_from_slice(&max);
    }
    Ok(bytes)
}

/// Opus packets in an Ogg stream: `OpusHead`, `OpusTags`, then one 20 ms packet per frame, the
/// last page's granule position trimming the padding (RFC 7845).
fn ogg_opus(samples: &[f32], sample_rate: u32) -> chatterbox::Result<Vec<u8>> {
    use ogg::writing::{PacketWriteEndInfo as End, PacketWriter};
    let rate = i32::try_from(sample_rate).map_err(|e| encode_error("opus", e))?;
    let mut enc = opus_rs::OpusEncoder::new(rate, 1, opus_rs::Application::Audio)
        .map_err(|e| encode_error("opus", e))?;
    enc.bitrate_bps = OPUS_BITRATE;
    let frame = (sample_rate * OPUS_FRAME_MS / 1000) as usize;
    let per_frame_48k = u64::from(48 * OPUS_FRAME_MS);
    let serial = 0x6362_7873; // "cbxs"
    let io = |e: std::io::Error| encode_error("ogg", e);

    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(b"OpusHead");
    head.push(1); // version
    head.push(1); // channels
    head.extend_from_slice(&OPUS_PRE_SKIP.to_le_bytes());
    head.extend_from_slice(&sample_rate.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // channel mapping family
    let vendor = b"chatterbox-rs";
    let mut tags = Vec::new();
    tags.extend_from_slice(b"OpusTags");
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes()); // no comments

    let mut w = PacketWriter::new(Vec::new());
    w.write_packet(head, serial, End::EndPage, 0).map_err(io)?;
    w.write_packet(tags, serial, End::EndPage, 0).map_err(io)?;
    let frames = samples.len().div_ceil(frame).max(1);
    let end_granule =
        u64::from(OPUS_PRE_SKIP) + (samples.len() as u64 * 48_000).div_ceil(u64::from(sample_rate));
    let mut buf = vec![0f32; frame];
    let mut packet = vec![0u8; 4000];
    for i in 0..frames {
        buf.fill(0.0);
        let start = i * frame;
        let piece = &samples[start.min(samples.len())..(start + frame).min(samples.len())];
        buf[..piece.len()].copy_from_slice(piece);
        let n = enc
            .encode(&buf, frame, &mut packet)
            .map_err(|e| encode_error("opus", e))?;
        let last = i + 1 == frames;
        let granule = if last {
            end_granule.min((i as u64 + 1) * per_frame_48k)
        } else {
            (i as u64 + 1) * per_frame_48k
        };
        let end = if last {
            End::EndStream
        } else {
            End::NormalPacket
        };
        w.write_packet(packet[..n].to_vec(), serial, end, granule)
            .map_err(io)?;
    }
    Ok(w.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone() -> Vec<f32> {
        (0..24_000)
            .map(|i| (i as f32 * 2.0 * std::f32::consts::PI * 220.0 / 24_000.0).sin() * 0.5)
            .collect()
    }

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

    #[test]
    fn mp3_and_flac_decode_as_themselves() -> chatterbox::Result<()> {
        let x = tone();
        let (flac, ct) = encode(&x, 24_000, AudioFormat::Flac)?;
        assert_eq!((ct, &flac[..4]), ("audio/flac", &b"fLaC"[..]));
        let back = chatterbox::audio::decode(&flac, &Default::default())?;
        assert_eq!((back.sample_rate, back.samples.len()), (24_000, x.len()));
        let err = x
            .iter()
            .zip(&back.samples)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err < 1e-4, "FLAC is lossless at 16 bits: {err}");

        let (mp3, ct) = encode(&x, 24_000, AudioFormat::Mp3)?;
        assert_eq!(ct, "audio/mpeg");
        assert_eq!((mp3[0], mp3[1] & 0xE0), (0xFF, 0xE0), "an MPEG frame sync");
        let back = chatterbox::audio::decode(&mp3, &Default::default())?;
        assert_eq!(back.sample_rate, 24_000);
        let len = back.samples.len() as f64;
        assert!((len - 24_000.0).abs() < 3000.0, "{len} samples");
        let rms = (back.samples.iter().map(|s| s * s).sum::<f32>() / len as f32).sqrt();
        assert!((rms - 0.3535).abs() < 0.05, "the tone survives: rms {rms}");
        Ok(())
    }

    #[test]
    fn pcm_is_raw_little_endian() -> chatterbox::Result<()> {
        let (b, ct) = encode(&[0.0, 0.5, -1.0, 2.0], 24_000, AudioFormat::Pcm)?;
        assert_eq!(ct, "audio/pcm");
        assert_eq!(b, [0, 0, 0, 0x40, 0, 0x80, 0xFF, 0x7F]);
        Ok(())
    }

    #[test]
    fn opus_is_an_ogg_opus_stream_that_decodes() -> chatterbox::Result<()> {
        let x = tone();
        let (bytes, ct) = encode(&x, 24_000, AudioFormat::Opus)?;
        assert_eq!(ct, "audio/ogg");
        let decoded = decode_ogg_opus(&bytes);
        let n = decoded.len() as f64;
        assert!((n - 24_000.0).abs() < 1000.0, "{n} samples");
        let rms = (decoded.iter().map(|s| s * s).sum::<f32>() / n as f32).sqrt();
        assert!((rms - 0.3535).abs() < 0.05, "the tone survives: rms {rms}");
        assert_eq!(AudioFormat::parse("opus"), Ok(AudioFormat::Opus));
        assert!(AudioFormat::parse("aac").is_err_and(|m| m.contains("mp3")));
        Ok(())
    }

    /// Check the Ogg Opus structure and decode it at 24 kHz (trimming pre-skip and padding).
    pub(crate) fn decode_ogg_opus(bytes: &[u8]) -> Vec<f32> {
        let mut r = ogg::reading::PacketReader::new(std::io::Cursor::new(bytes));
        let head = r.read_packet_expected().expect("OpusHead");
        assert_eq!(&head.data[..8], b"OpusHead");
        assert_eq!(head.data[9], 1, "mono");
        let pre_skip = u16::from_le_bytes([head.data[10], head.data[11]]) as usize / 2;
        let tags = r.read_packet_expected().expect("OpusTags");
        assert_eq!(&tags.data[..8], b"OpusTags");
        let mut dec = opus_rs::OpusDecoder::new(24_000, 1).expect("decoder");
        let (mut out, mut granule) = (Vec::new(), 0);
        let mut pcm = vec![0f32; 480];
        while let Ok(Some(p)) = r.read_packet() {
            let n = dec.decode(&p.data, 480, &mut pcm).expect("decode");
            out.extend_from_slice(&pcm[..n]);
            granule = p.absgp_page();
        }
        let end = (granule as usize / 2).min(out.len());
        out[pre_skip.min(end)..end].to_vec()
    }
}
