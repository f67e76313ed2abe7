//! Parity of the foundation: audio I/O, resamplers, the four feature extractors, HiFT's
//! STFT/iSTFT and the text front end.

use candle_core::{DType, Device, Tensor};
use std::path::Path;

use super::{compare, compare_vec, exact, Check, Fixture, Report, TOL_F32};
use crate::{Error, Result};
use chatterbox::audio::{self, DecodeLimits, TorchaudioResampler};
use chatterbox::dsp::{hann_periodic, istft, reflect_pad, Stft};
use chatterbox::models::{campplus, s3gen, s3tokenizer, voice_encoder};
use chatterbox::text;

/// The foundation's checks, by name.
pub(super) const CHECKS: &[(&str, Check)] = &[
    ("audio_io", check_audio_io),
    ("resample", check_resample),
    ("s3_logmel", check_s3_logmel),
    ("ve_mel", check_ve_mel),
    ("s3gen_mel", check_s3gen_mel),
    ("campplus_fbank", check_campplus_fbank),
    ("hift_stft", check_hift_stft),
    ("text", check_text),
];

/// Audio files (wav, flac, ogg/vorbis, mp3) decoded as `soundfile` does, and loaded at 24 kHz as
/// `librosa.load(sr=24000)` does.
fn check_audio_io(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "audio_io")?;
    let limits = DecodeLimits::default();
    let mut out = Vec::new();
    // Lossless containers must match to float precision. The lossy decoders differ in their
    // float arithmetic (libsndfile uses libvorbis/mpg123, we use symphonia): measured 1e-7..4e-7.
    for (fmt, tol) in [("wav", 1e-6), ("flac", 1e-6), ("ogg", 1e-5), ("mp3", 1e-5)] {
        let bytes = std::fs::read(dir.join(format!("clip.{fmt}")))
            .map_err(|e| Error::io(format!("reading clip.{fmt}"), e))?;
        let decoded = audio::decode(&bytes, &limits)?;
        let sr = fx.scalar(&format!("{fmt}.sr"))?;
        let mut r = compare_vec(
            &format!("decode.{fmt}"),
            &decoded.samples,
            fx.get(&format!("{fmt}.native"))?,
            tol,
        )?;
        if decoded.sample_rate != sr {
            r.note = Some(format!("sample rate {} vs {sr}", decoded.sample_rate));
        }
        out.push(r);
        let loaded = decoded.resampled(24_000)?;
        out.push(compare_vec(
            &format!("load24k.{fmt}"),
            &loaded.samples,
            fx.get(&format!("{fmt}.load24k"))?,
            tol.max(TOL_F32),
        )?);
    }
    Ok(out)
}

fn check_resample(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "resample")?;
    let x24 = fx.vec("wav24k")?;
    let x44 = fx.vec("wav44k")?;
    Ok(vec![
        compare_vec(
            "resample.soxr_hq_24k_16k",
            &audio::resample_soxr_hq(&x24, 24_000, 16_000)?,
            fx.get("soxr_16k")?,
            TOL_F32,
        )?,
        compare_vec(
            "resample.soxr_hq_44k_24k",
            &audio::resample_soxr_hq(&x44, 44_100, 24_000)?,
            fx.get("soxr_44k_24k")?,
            TOL_F32,
        )?,
        compare_vec(
            "resample.torchaudio_24k_16k",
            &TorchaudioResampler::new(24_000, 16_000)?.apply(&x24),
            fx.get("torchaudio_16k")?,
            TOL_F32,
        )?,
    ])
}

fn check_s3_logmel(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "s3_logmel")?;
    let fe = s3tokenizer::LogMelFrontend::new()?;
    let got = fe.forward(&fx.vec("wav16k")?, &Device::Cpu)?;
    Ok(vec![compare(
        "s3_logmel",
        &got,
        fx.get("logmel")?,
        TOL_F32,
    )?])
}

fn check_ve_mel(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "ve_mel")?;
    let got = voice_encoder::melspectrogram(&fx.vec("wav16k")?, &Device::Cpu)?;
    Ok(vec![compare("ve_mel", &got, fx.get("mel")?, TOL_F32)?])
}

fn check_s3gen_mel(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "s3gen_mel")?;
    let got = s3gen::mel_spectrogram(&fx.vec("wav24k")?, &Device::Cpu)?;
    Ok(vec![compare("s3gen_mel", &got, fx.get("mel")?, TOL_F32)?])
}

fn check_campplus_fbank(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "campplus_fbank")?;
    let wav = fx.vec("wav16k")?;
    Ok(vec![
        compare(
            "campplus_fbank.raw",
            &campplus::kaldi_fbank(&wav, &Device::Cpu)?,
            fx.get("fbank")?,
            TOL_F32,
        )?,
        compare(
            "campplus_fbank.cmn",
            &campplus::extract_feature(&wav, &Device::Cpu)?,
            fx.get("feat")?,
            TOL_F32,
        )?,
    ])
}

/// HiFT's STFT (n_fft 16, hop 4, periodic Hann, centred, reflect) and iSTFT on a batch.
fn check_hift_stft(dir: &Path) -> Result<Vec<Report>> {
    let fx = Fixture::open(dir, "hift_stft")?;
    let (n_fft, hop) = (16, 4);
    let w = hann_periodic(n_fft);
    let stft = Stft::new(n_fft, hop, &w)?;
    let x = fx.get("x")?.to_dtype(DType::F32)?;
    let (b, _) = x.dims2()?;
    let bins = n_fft / 2 + 1;
    let (mut re_all, mut im_all) = (Vec::new(), Vec::new());
    for i in 0..b {
        let row: Vec<f32> = x.get(i)?.to_vec1()?;
        let spec = stft.complex(&reflect_pad(&row, n_fft / 2, n_fft / 2)?);
        let frames = spec.len() / bins;
        // torch layout (B, bins, frames).
        let mut re = vec![0f32; spec.len()];
        let mut im = vec![0f32; spec.len()];
        for (f, chunk) in spec.chunks(bins).enumerate() {
            for (k, c) in chunk.iter().enumerate() {
                re[k * frames + f] = c.re;
                im[k * frames + f] = c.im;
            }
        }
        re_all.push(Tensor::from_vec(re, (bins, frames), &Device::Cpu)?);
        im_all.push(Tensor::from_vec(im, (bins, frames), &Device::Cpu)?);
    }
    let re = Tensor::stack(&re_all, 0)?;
    let im = Tensor::stack(&im_all, 0)?;
    let mut out = vec![
        compare("hift_stft.real", &re, fx.get("real")?, TOL_F32)?,
        compare("hift_stft.imag", &im, fx.get("imag")?, TOL_F32)?,
    ];
    // iSTFT of a magnitude/phase pair exactly as HiFT builds it.
    let mag = fx
        .get("magnitude")?
        .to_dtype(DType::F32)?
        .clamp(f32::MIN, 100f32)?;
    let phase = fx.get("phase")?.to_dtype(DType::F32)?;
    let re = (&mag * phase.cos()?)?;
    let im = (&mag * phase.sin()?)?;
    let mut rows = Vec::new();
    for i in 0..re.dim(0)? {
        // (bins, frames) → frame-major.
        let r: Vec<f32> = re.get(i)?.t()?.contiguous()?.flatten_all()?.to_vec1()?;
        let m: Vec<f32> = im.get(i)?.t()?.contiguous()?.flatten_all()?.to_vec1()?;
        let y = istft(&r, &m, n_fft, hop, &w)?;
        rows.push(Tensor::from_vec(y.clone(), y.len(), &Device::Cpu)?);
    }
    out.push(compare(
        "hift_istft",
        &Tensor::stack(&rows, 0)?,
        fx.get("istft")?,
        TOL_F32,
    )?);
    Ok(out)
}

#[derive(serde::Deserialize)]
struct TextCase {
    input: String,
    normalized: String,
    ids: Vec<u32>,
}

/// `punc_norm` and the tokenizer on a battery of strings (exact).
fn check_text(dir: &Path) -> Result<Vec<Report>> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).map_err(|e| Error::io(format!("reading {name}"), e))
    };
    let cases: Vec<TextCase> = serde_json::from_str(&read("text_cases.json")?)
        .map_err(|e| Error::InvalidArgument(format!("text_cases.json: {e}")))?;
    let tok = text::EnTokenizer::from_json(&read("tokenizer.json")?)?;
    let (mut bad_norm, mut bad_ids) = (0, 0);
    let (mut first_norm, mut first_ids) = (None, None);
    for c in &cases {
        let n = text::punc_norm(&c.input);
        if n != c.normalized {
            bad_norm += 1;
            first_norm
                .get_or_insert_with(|| format!("{:?} -> {n:?}, want {:?}", c.input, c.normalized));
        }
        let ids = tok.encode_with_bounds(&c.normalized)?;
        if ids != c.ids {
            bad_ids += 1;
            first_ids
                .get_or_insert_with(|| format!("{:?} -> {ids:?}, want {:?}", c.normalized, c.ids));
        }
    }
    Ok(vec![
        exact("text.punc_norm", bad_norm, cases.len(), first_norm),
        exact("text.tokenizer", bad_ids, cases.len(), first_ids),
    ])
}
