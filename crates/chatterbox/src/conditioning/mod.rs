//! Voice conditioning: turn a reference clip into the tensors T3 and S3Gen condition on
//! (`ChatterboxTTS.prepare_conditionals`, `S3Gen.embed_ref`), and read/write them.
//!
//! * [`ConditioningModels::prepare_conditionals`] — from a 24 kHz mono clip.
//! * [`Conditionals::save`] / [`Conditionals::load`] — our own safetensors format
//!   (keys `t3.*` / `gen.*`, tokens stored as i64 like the reference).
//! * [`Conditionals::load_pt`] — the reference's `conds.pt` (torch zip pickle), e.g. the built-in
//!   voice shipped with the checkpoint.
//!
//! Input requirements (checked, [`Error::InvalidAudio`] otherwise): finite samples, at least
//! [`MIN_REF_SECONDS`] of audio, a peak of at least [`MIN_PEAK`] (−80 dBFS; a silent clip is
//! refused because librosa's relative-dB trim would keep all of it and the voice would be noise),
//! and at least 400 non-silent samples at 16 kHz after the voice encoder's trim.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use std::collections::HashMap;
use std::path::Path;

use crate::audio::{resample_soxr_hq, TorchaudioResampler};
use crate::models::campplus::{CampPlus, CampPlusConfig};
use crate::models::s3gen;
use crate::models::s3tokenizer::{EncoderConfig, S3Tokenizer};
pub use crate::models::t3::T3Cond;
use crate::models::voice_encoder::{VoiceEncoder, VoiceEncoderConfig};
use crate::{Error, Result, S3GEN_SR, S3_SR};

/// T3 prompt: first 6 s of the 16 kHz signal (`ENC_COND_LEN`).
pub const ENC_COND_LEN: usize = 6 * S3_SR as usize;
/// S3Gen reference: first 10 s of the 24 kHz signal (`DEC_COND_LEN`).
pub const DEC_COND_LEN: usize = 10 * S3GEN_SR as usize;
/// Maximum T3 prompt tokens (`speech_cond_prompt_len`).
pub const T3_PROMPT_LEN: usize = 150;
/// Shortest reference clip accepted, in seconds.
pub const MIN_REF_SECONDS: f64 = 1.0;
/// Smallest peak amplitude accepted (−80 dBFS).
pub const MIN_PEAK: f32 = 1e-4;
/// Chatterbox-Turbo's T3 prompt: the first 15 s of the 16 kHz signal (`tts_turbo.py:111`).
pub const TURBO_ENC_COND_LEN: usize = 15 * S3_SR as usize;
/// Chatterbox-Turbo's maximum T3 prompt tokens (`speech_cond_prompt_len` 375).
pub const TURBO_T3_PROMPT_LEN: usize = 375;
/// Chatterbox-Turbo refuses reference clips of this many seconds or less.
pub const TURBO_MIN_REF_SECONDS: f64 = 5.0;
/// Default exaggeration (`emotion_adv`).
pub const DEFAULT_EXAGGERATION: f32 = 0.5;

/// S3Gen reference dict (`embed_ref`; `prompt_feat_len` is always `None`).
#[derive(Debug, Clone)]
pub struct S3GenRef {
    /// `(1, Np)` u32.
    pub prompt_token: Tensor,
    /// `Np`.
    pub prompt_token_len: usize,
    /// `(1, Tm, 80)` f32, time-major log-mel at 24 kHz.
    pub prompt_feat: Tensor,
    /// `(1, 192)` f32 CAMPPlus x-vector (not normalised).
    pub embedding: Tensor,
}

/// Everything `generate` needs about the voice.
#[derive(Debug, Clone)]
pub struct Conditionals {
    pub t3: T3Cond,
    pub gen: S3GenRef,
}

fn tokens_tensor(ids: &[u32], device: &Device) -> Result<Tensor> {
    Ok(Tensor::from_slice(ids, (1, ids.len()), device)?)
}

fn as_tokens(t: &Tensor) -> Result<Tensor> {
    match t.dtype() {
        DType::U32 => Ok(t.clone()),
        DType::I64 | DType::U8 => {
            let v = t.to_dtype(DType::I64)?.flatten_all()?.to_vec1::<i64>()?;
            if let Some(bad) = v.iter().find(|&&x| !(0..i64::from(u32::MAX)).contains(&x)) {
                return Err(Error::InvalidArgument(format!(
                    "token id {bad} out of range"
                )));
            }
            let v: Vec<u32> = v.iter().map(|&x| x as u32).collect();
            Ok(Tensor::from_vec(v, t.shape(), t.device())?)
        }
        other => Err(Error::InvalidArgument(format!(
            "token tensor has dtype {other:?}"
        ))),
    }
}

impl Conditionals {
    /// Checks the shapes `generate` relies on.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, t: &Tensor| {
            Error::InvalidArgument(format!("conditionals: {what} has shape {:?}", t.dims()))
        };
        let t3 = &self.t3;
        if t3.speaker_emb.dims() != [1, 256] {
            return Err(bad("t3.speaker_emb", &t3.speaker_emb));
        }
        if !t3.emotion_adv.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "conditionals: t3.emotion_adv is {}",
                t3.emotion_adv
            )));
        }
        let g = &self.gen;
        let n = g.prompt_token.dims();
        if n.len() != 2 || n[0] != 1 || n[1] != g.prompt_token_len {
            return Err(bad("gen.prompt_token", &g.prompt_token));
        }
        let f = g.prompt_feat.dims();
        if f.len() != 3 || f[0] != 1 || f[2] != 80 {
            return Err(bad("gen.prompt_feat", &g.prompt_feat));
        }
        if g.embedding.dims() != [1, 192] {
            return Err(bad("gen.embedding", &g.embedding));
        }
        Ok(())
    }

    /// The tensors of our safetensors format.
    pub fn to_tensors(&self) -> Result<HashMap<String, Tensor>> {
        let long = |t: &Tensor| -> Result<Tensor> { Ok(t.to_dtype(DType::I64)?) };
        let mut m = HashMap::new();
        m.insert("t3.speaker_emb".into(), self.t3.speaker_emb.clone());
        m.insert(
            "t3.cond_prompt_speech_tokens".into(),
            long(&tokens_tensor(
                &self.t3.cond_prompt_speech_tokens,
                &Device::Cpu,
            )?)?,
        );
        m.insert(
            "t3.emotion_adv".into(),
            Tensor::full(self.t3.emotion_adv, (1, 1, 1), &Device::Cpu)?,
        );
        m.insert("gen.prompt_token".into(), long(&self.gen.prompt_token)?);
        m.insert(
            "gen.prompt_token_len".into(),
            Tensor::new(&[self.gen.prompt_token_len as i64], &Device::Cpu)?,
        );
        m.insert("gen.prompt_feat".into(), self.gen.prompt_feat.contiguous()?);
        m.insert("gen.embedding".into(), self.gen.embedding.clone());
        Ok(m)
    }

    /// Builds from a key → tensor map (`t3.*` / `gen.*`). A missing `t3.emotion_adv` takes the
    /// reference's default 0.5; floats are converted to f32, tokens to u32.
    pub fn from_tensors(m: &HashMap<String, Tensor>, device: &Device) -> Result<Self> {
        let get = |k: &str| -> Result<Tensor> {
            m.get(k)
                .ok_or_else(|| Error::InvalidArgument(format!("conditionals lack {k}")))?
                .to_device(device)
                .map_err(Error::from)
        };
        let float = |k: &str| -> Result<Tensor> { Ok(get(k)?.to_dtype(DType::F32)?) };
        let emotion_adv = match m.get("t3.emotion_adv") {
            Some(t) => match t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?[..] {
                [v] => v,
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "conditionals: t3.emotion_adv has shape {:?}",
                        t.dims()
                    )))
                }
            },
            None => DEFAULT_EXAGGERATION,
        };
        let prompt_token = as_tokens(&get("gen.prompt_token")?)?;
        let prompt_token_len = match m.get("gen.prompt_token_len") {
            Some(t) => t.to_dtype(DType::I64)?.flatten_all()?.to_vec1::<i64>()?[..]
                .first()
                .copied()
                .map(|v| v.max(0) as usize)
                .unwrap_or(0),
            None => prompt_token.dim(1)?,
        };
        let c = Self {
            t3: T3Cond {
                speaker_emb: float("t3.speaker_emb")?,
                cond_prompt_speech_tokens: as_tokens(&get("t3.cond_prompt_speech_tokens")?)?
                    .flatten_all()?
                    .to_vec1()?,
                emotion_adv,
            },
            gen: S3GenRef {
                prompt_token,
                prompt_token_len,
                prompt_feat: float("gen.prompt_feat")?.contiguous()?,
                embedding: float("gen.embedding")?,
            },
        };
        c.validate()?;
        Ok(c)
    }

    /// Writes our safetensors format.
    pub fn save(&self, path: &Path) -> Result<()> {
        candle_core::safetensors::save(&self.to_tensors()?, path).map_err(|e| Error::Checkpoint {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })
    }

    /// Reads our safetensors format.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let m = candle_core::safetensors::load(path, device).map_err(|e| Error::Checkpoint {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
        Self::from_tensors(&m, device)
    }

    /// Reads the reference's `conds.pt` (`Conditionals.save`: `torch.save({"t3": ..., "gen":
    /// ...})`). Storage offsets are honoured, as are C- and Fortran-contiguous layouts (the
    /// reference saves `prompt_feat` as a transposed view and `prompt_token` as a slice);
    /// `None` entries are skipped.
    pub fn load_pt(path: &Path, device: &Device) -> Result<Self> {
        let err = |e: candle_core::Error| Error::Checkpoint {
            path: path.to_path_buf(),
            msg: e.to_string(),
        };
        let mut m = HashMap::new();
        for group in ["t3", "gen"] {
            let pth = candle_core::pickle::PthTensors::new(path, Some(group)).map_err(err)?;
            let names: Vec<String> = pth.tensor_infos().keys().cloned().collect();
            for name in names {
                if let Some(t) = pth.get(&name).map_err(err)? {
                    m.insert(format!("{group}.{name}"), t);
                }
            }
        }
        Self::from_tensors(&m, device)
    }
}

/// Sizes of the three networks. `Default` is the released model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConditioningConfig {
    pub tokenizer: EncoderConfig,
    pub voice_encoder: VoiceEncoderConfig,
    pub campplus: CampPlusConfig,
}

/// The three networks that turn a reference clip into a voice.
pub struct ConditioningModels {
    pub tokenizer: S3Tokenizer,
    pub voice_encoder: VoiceEncoder,
    pub campplus: CampPlus,
    resampler: TorchaudioResampler,
    device: Device,
}

impl ConditioningModels {
    /// `ve`: root of `ve.safetensors`; `s3gen`: root of `s3gen.safetensors` (this reads its
    /// `tokenizer.` and `speaker_encoder.` parts).
    pub fn load(ve: VarBuilder, s3gen: VarBuilder, cfg: ConditioningConfig) -> Result<Self> {
        let device = s3gen.device().clone();
        Ok(Self {
            tokenizer: S3Tokenizer::new(cfg.tokenizer, s3gen.pp("tokenizer"))?,
            voice_encoder: VoiceEncoder::new(cfg.voice_encoder, ve)?,
            campplus: CampPlus::new(cfg.campplus, s3gen.pp("speaker_encoder"))?,
            resampler: TorchaudioResampler::new(S3GEN_SR, S3_SR)?,
            device,
        })
    }

    /// `S3Gen.embed_ref(wav24, 24000)` (call with at most 10 s): 24 kHz mel, CAMPPlus x-vector
    /// and S3 tokens of the torchaudio-resampled 16 kHz signal; when the mel has `Tm ≠ 2·Np`
    /// frames the tokens are cut to `floor(Tm/2)` (the mel is kept, so an odd `Tm` stays odd).
    pub fn embed_ref(&self, wav24: &[f32]) -> Result<S3GenRef> {
        check_clip(wav24)?;
        let dev = &self.device;
        let prompt_feat = s3gen::mel_spectrogram(wav24, dev)?
            .transpose(1, 2)?
            .contiguous()?;
        let tm = prompt_feat.dim(1)?;
        let ref16 = self.resampler.apply(wav24);
        let embedding = self.campplus.embed(&ref16, dev)?;
        let mut tokens = self.tokenizer.tokenize(&ref16, None, dev)?;
        if tm != 2 * tokens.len() {
            tracing::warn!(
                mel_frames = tm,
                tokens = tokens.len(),
                "reference mel length is not 2 x token length; cutting tokens"
            );
            tokens.truncate(tm / 2);
        }
        Ok(S3GenRef {
            prompt_token: tokens_tensor(&tokens, dev)?,
            prompt_token_len: tokens.len(),
            prompt_feat,
            embedding,
        })
    }

    /// `ChatterboxTTS.prepare_conditionals` on a 24 kHz mono clip (already loaded the way
    /// `librosa.load(path, sr=24000)` does, e.g. with [`crate::audio::load`]).
    pub fn prepare_conditionals(&self, wav24: &[f32], exaggeration: f32) -> Result<Conditionals> {
        self.prepare(wav24, exaggeration, ENC_COND_LEN, T3_PROMPT_LEN)
    }

    /// `ChatterboxTurboTTS.prepare_conditionals` on a 24 kHz mono clip: the clip must be longer
    /// than 5 s; it is first loudness-normalised to −27 LUFS (when `norm_loudness`, the
    /// reference's default), then conditioned as the original does except that the T3 prompt is
    /// the first 15 s (at most 375 tokens). `exaggeration` is stored but Turbo never uses it.
    pub fn prepare_conditionals_turbo(
        &self,
        wav24: &[f32],
        exaggeration: f32,
        norm_loudness: bool,
    ) -> Result<Conditionals> {
        check_clip(wav24)?;
        let secs = wav24.len() as f64 / f64::from(S3GEN_SR);
        if secs <= TURBO_MIN_REF_SECONDS {
            return Err(Error::InvalidAudio(format!(
                "reference clip too short for Turbo: {secs:.2} s (it needs more than {TURBO_MIN_REF_SECONDS} s)"
            )));
        }
        let mut wav = wav24.to_vec();
        if norm_loudness {
            crate::audio::loudness::normalize_loudness(
                &mut wav,
                S3GEN_SR,
                crate::audio::loudness::TURBO_TARGET_LUFS,
            );
        }
        self.prepare(&wav, exaggeration, TURBO_ENC_COND_LEN, TURBO_T3_PROMPT_LEN)
    }

    fn prepare(
        &self,
        wav24: &[f32],
        exaggeration: f32,
        enc_cond_len: usize,
        prompt_len: usize,
    ) -> Result<Conditionals> {
        check_clip(wav24)?;
        if !exaggeration.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "exaggeration must be finite, got {exaggeration}"
            )));
        }
        let dev = &self.device;
        let wav16 = resample_soxr_hq(wav24, S3GEN_SR, S3_SR)?;
        let gen = self.embed_ref(&wav24[..wav24.len().min(DEC_COND_LEN)])?;
        let prompt = self.tokenizer.tokenize(
            &wav16[..wav16.len().min(enc_cond_len)],
            Some(prompt_len),
            dev,
        )?;
        let ve = self.voice_encoder.embed_utterance(&wav16, dev)?;
        Ok(Conditionals {
            t3: T3Cond {
                speaker_emb: ve.embedding,
                cond_prompt_speech_tokens: prompt,
                emotion_adv: exaggeration,
            },
            gen,
        })
    }
}

/// The input checks shared by both entry points (see the module docs).
fn check_clip(wav24: &[f32]) -> Result<()> {
    let secs = wav24.len() as f64 / f64::from(S3GEN_SR);
    if secs < MIN_REF_SECONDS {
        return Err(Error::InvalidAudio(format!(
            "reference clip too short: {secs:.2} s (need at least {MIN_REF_SECONDS} s)"
        )));
    }
    if wav24.iter().any(|x| !x.is_finite()) {
        return Err(Error::InvalidAudio(
            "reference clip has non-finite samples".into(),
        ));
    }
    let peak = wav24.iter().fold(0f32, |m, x| m.max(x.abs()));
    if peak < MIN_PEAK {
        return Err(Error::InvalidAudio(format!(
            "reference clip is silent (peak {peak:.1e} < {MIN_PEAK:.0e})"
        )));
    }
    Ok(())
}
