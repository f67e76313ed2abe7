//! Output formats over HTTP on the tiny checkpoint: `/play/{sid}?format=…` and
//! `/v1/audio/speech`'s `response_format`, each answer decoding as its format.

use serde_json::json;

use crate::helpers::{error_code, spawn_app};

/// Check the Ogg Opus structure (OpusHead, OpusTags) and decode it at 24 kHz.
pub fn decode_ogg_opus(bytes: &[u8]) -> Vec<f32> {
    let mut r = ogg::reading::PacketReader::new(std::io::Cursor::new(bytes));
    let head = r.read_packet_expected().expect("OpusHead page");
    assert_eq!(&head.data[..8], b"OpusHead");
    assert_eq!(head.data[9], 1, "mono");
    let pre_skip = u16::from_le_bytes([head.data[10], head.data[11]]) as usize / 2;
    let tags = r.read_packet_expected().expect("OpusTags page");
    assert_eq!(&tags.data[..8], b"OpusTags");
    let mut dec = opus_rs::OpusDecoder::new(24_000, 1).expect("decoder");
    let (mut out, mut granule) = (Vec::new(), 0);
    let mut pcm = vec![0f32; 480];
    while let Ok(Some(p)) = r.read_packet() {
        let n = dec.decode(&p.data, 480, &mut pcm).expect("an Opus packet");
        out.extend_from_slice(&pcm[..n]);
        granule = p.absgp_page();
    }
    let end = (granule as usize / 2).min(out.len());
    out[pre_skip.min(end)..end].to_vec()
}

/// Samples of `bytes` decoded as `format` (24 kHz mono).
pub fn decode_as(format: &str, bytes: &[u8]) -> Vec<f32> {
    match format {
        "opus" => decode_ogg_opus(bytes),
        "pcm" => bytes
            .chunks_exact(2)
            .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
            .collect(),
        _ => {
            let magic: &[u8] = match format {
                "wav" => b"RIFF",
                "flac" => b"fLaC",
                _ => b"",
            };
            assert!(bytes.starts_with(magic), "{format} magic");
            if format == "mp3" {
                assert!(
                    bytes.starts_with(b"ID3") || (bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0),
                    "an MPEG frame sync"
                );
            }
            let a = chatterbox::audio::decode(bytes, &Default::default()).expect(format);
            assert_eq!(a.sample_rate, 24_000, "{format}");
            a.samples
        }
    }
}

pub const FORMATS: [(&str, &str); 5] = [
    ("wav", "audio/wav"),
    ("mp3", "audio/mpeg"),
    ("opus", "audio/ogg"),
    ("flac", "audio/flac"),
    ("pcm", "audio/pcm"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_transcodes_to_every_format() {
    let app = spawn_app().await;
    let (st, v) = app
        .synthesize_json(json!({"text": "Formats.", "seed": 2, "max_new_tokens": 40}))
        .await;
    assert_eq!(st, 200, "{v}");
    let sid = v["session_id"].as_str().expect("sid").to_string();
    let (_, wav) = app.play(&sid).await;
    let reference = decode_as("wav", &wav);
    for (format, content_type) in FORMATS {
        let r = app
            .client
            .get(app.url(&format!("/play/{sid}?format={format}")))
            .send()
            .await
            .expect("play");
        assert_eq!(r.status(), 200, "{format}");
        assert_eq!(r.headers()["content-type"], content_type);
        let etag = r.headers()["etag"].to_str().unwrap_or("").to_string();
        let bytes = r.bytes().await.expect("body").to_vec();
        let samples = decode_as(format, &bytes);
        let diff = samples.len().abs_diff(reference.len());
        assert!(
            diff < 2500,
            "{format}: {} vs {}",
            samples.len(),
            reference.len()
        );
        if format == "pcm" {
            assert_eq!(
                &bytes[..],
                &wav[wav.len() - bytes.len()..],
                "pcm is the WAV's data"
            );
        }
        if format == "flac" {
            assert_eq!(samples, reference, "flac is lossless");
        }
        // Revalidation works per format.
        let r = app
            .client
            .get(app.url(&format!("/play/{sid}?format={format}")))
            .header("If-None-Match", etag)
            .send()
            .await
            .expect("play");
        assert_eq!(r.status(), 304, "{format}");
    }
    let (st, v) = app.get_json(&format!("/play/{sid}?format=aac")).await;
    assert_eq!((st.as_u16(), error_code(&v)), (400, "invalid_param"));
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("mp3"));
    let (_, info) = app.get_json("/info").await;
    assert_eq!(
        info["formats"],
        json!(["wav", "mp3", "opus", "flac", "pcm"])
    );
}
