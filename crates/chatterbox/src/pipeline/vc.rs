//! Voice conversion, as the reference's `ChatterboxVC` (`chatterbox/vc.py`): the source speech's
//! S3 tokens (16 kHz, [`S3Tokenizer`]) spoken again by S3Gen in the target voice, i.e. with the
//! target's S3Gen reference dict (`embed_ref`) as prompt. No T3, no text.
//!
//! The target is a voice's `gen` part (a saved voice or the built-in one) or, as
//! `ChatterboxVC.set_target_voice` does, the first 10 s of a clip at 24 kHz through `embed_ref`
//! ([`vc_target`]). The output is not watermarked (see the crate's README).

use candle_core::{DType, IndexOp};

use super::Chatterbox;
use crate::audio::Audio;
use crate::conditioning::{ConditioningModels, S3GenRef, DEC_COND_LEN, MIN_PEAK};
use crate::models::s3gen::{GaussianRng, S3Gen, S3GenNoise, S3GenOutput};
use crate::models::s3tokenizer::{S3Tokenizer, MAX_FRAMES};
use crate::{check_stop, Error, Result, ShouldStop, S3GEN_SR, S3_SR};

/// Shortest source accepted, in seconds (a few tokens of speech).
pub const VC_MIN_SOURCE_S: f64 = 0.5;
/// Longest source accepted, in seconds: the tokenizer's 30 s window (the reference's longer
/// sliding-window path is not ported).
pub const VC_MAX_SOURCE_S: f64 = (MAX_FRAMES / 100) as f64;

/// Where the randomness of one conversion comes from.
pub enum VcNoise<'a> {
    /// Drawn from a [`GaussianRng`] seeded with this, in the reference's order.
    Seed(u64),
    /// Given (the parity check injects the reference's draws).
    Explicit(&'a S3GenNoise),
}

/// What one conversion produced.
#[derive(Debug, Clone)]
pub struct VcOutput {
    /// The source's S3 speech tokens.
    pub tokens: Vec<u32>,
    /// S3Gen's mel and faded waveform `(1, 480·2N)` at 24 kHz.
    pub s3gen: S3GenOutput,
}

/// Checks a 16 kHz source: finite, not silent, between [`VC_MIN_SOURCE_S`] and
/// [`VC_MAX_SOURCE_S`] long.
pub fn check_source(wav16: &[f32]) -> Result<()> {
    let secs = wav16.len() as f64 / f64::from(S3_SR);
    if secs < VC_MIN_SOURCE_S {
        return Err(Error::InvalidAudio(format!(
            "audio to convert too short: {secs:.2} s (need at least {VC_MIN_SOURCE_S} s)"
        )));
    }
    if secs > VC_MAX_SOURCE_S {
        return Err(Error::InvalidAudio(format!(
            "audio to convert too long: {secs:.2} s (at most {VC_MAX_SOURCE_S} s)"
        )));
    }
    if wav16.iter().any(|x| !x.is_finite()) {
        return Err(Error::InvalidAudio(
            "audio to convert has non-finite samples".into(),
        ));
    }
    let peak = wav16.iter().fold(0f32, |m, x| m.max(x.abs()));
    if peak < MIN_PEAK {
        return Err(Error::InvalidAudio(format!(
            "audio to convert is silent (peak {peak:.1e} < {MIN_PEAK:.0e})"
        )));
    }
    Ok(())
}

/// `ChatterboxVC.set_target_voice` on decoded audio: resampled to 24 kHz (soxr HQ, as
/// `librosa.load(sr=24000)`), cut to its first 10 s, through `embed_ref`.
pub fn vc_target(cond: &ConditioningModels, clip: &Audio) -> Result<S3GenRef> {
    let wav24 = clip.resampled(S3GEN_SR)?;
    let n = wav24.samples.len().min(DEC_COND_LEN);
    cond.embed_ref(&wav24.samples[..n])
}

/// `ChatterboxVC.generate` on decoded audio with explicit networks: the source resampled to
/// 16 kHz (soxr HQ, as `librosa.load(sr=16000)`) and tokenised, then `S3Gen.inference` with the
/// target's reference dict. `should_stop` as in [`Chatterbox::generate`].
pub fn convert_with(
    tokenizer: &S3Tokenizer,
    s3gen: &S3Gen,
    source: &Audio,
    target: &S3GenRef,
    noise: VcNoise,
    should_stop: ShouldStop,
) -> Result<VcOutput> {
    let wav16 = source.resampled(S3_SR)?;
    check_source(&wav16.samples)?;
    let dev = target.prompt_feat.device();
    let tokens = tokenizer.tokenize(&wav16.samples, None, dev)?;
    check_stop(should_stop)?;
    let prompt = prompt_tokens_of(target)?;
    let drawn;
    let noise = match noise {
        VcNoise::Explicit(n) => n,
        VcNoise::Seed(seed) => {
            let cfg = s3gen.config();
            let total = 2 * (tokens.len() + prompt.len());
            let tp = target.prompt_feat.dim(1)?;
            if tp > total {
                return Err(Error::InvalidArgument(format!(
                    "prompt_feat has {tp} frames for {total} token frames"
                )));
            }
            drawn = S3GenNoise::draw(
                &mut GaussianRng::new(seed),
                cfg.flow.mel_bins,
                total,
                total - tp,
                &cfg.hift,
            )?;
            &drawn
        }
    };
    let out = s3gen.inference_traced(
        &tokens,
        &prompt,
        &target.prompt_feat,
        &target.embedding,
        noise,
        should_stop,
    )?;
    Ok(VcOutput { tokens, s3gen: out })
}

fn prompt_tokens_of(target: &S3GenRef) -> Result<Vec<u32>> {
    Ok(target
        .prompt_token
        .flatten_all()?
        .to_dtype(DType::U32)?
        .to_vec1()?)
}

impl Chatterbox {
    /// The S3Gen reference of a target clip for [`Chatterbox::convert`] (`set_target_voice`:
    /// its first 10 s at 24 kHz; the clip checks of a voice prompt apply).
    pub fn vc_target(&self, clip: &Audio) -> Result<S3GenRef> {
        vc_target(&self.cond, clip)
    }

    /// Voice conversion (`ChatterboxVC.generate`): `source` spoken again in `target` (`None`:
    /// the built-in voice's S3Gen reference), 24 kHz samples. The source must last
    /// [`VC_MIN_SOURCE_S`]..=[`VC_MAX_SOURCE_S`]; `seed` seeds S3Gen's noise (`None`: a
    /// random one).
    pub fn convert(
        &self,
        source: &Audio,
        target: Option<&S3GenRef>,
        seed: Option<u64>,
        should_stop: ShouldStop,
    ) -> Result<Vec<f32>> {
        let target = match target {
            Some(t) => t,
            None => &self.voice_or_default(None)?.gen,
        };
        let out = convert_with(
            &self.cond.tokenizer,
            &self.s3gen,
            source,
            target,
            VcNoise::Seed(seed.unwrap_or_else(rand::random)),
            should_stop,
        )?;
        Ok(out.s3gen.wav.i(0)?.to_dtype(DType::F32)?.to_vec1()?)
    }
}
