//! S3Gen on a token sequence that is still growing (within-sentence streaming), as CosyVoice2's
//! `token2wav(stream=True)` and the Chatterbox streaming forks do:
//!
//! * each piece re-runs the flow on the prompt, some left context and the tokens so far, with
//!   `finalize=False` holding back the last `pre_lookahead` tokens (their frames still depend on
//!   tokens to come); only the frames after what was already vocoded are kept;
//! * HiFT runs on the last [`MEL_CACHE_FRAMES`] mel frames of the previous piece plus the new
//!   ones; the cached frames keep their previous source (phase continuity), and the overlap is
//!   crossfaded (Hamming window) with the speech held back from the previous piece;
//! * the very first samples get the same `trim_fade` as the whole-utterance output.
//!
//! The noise is drawn frame by frame as positions are first needed, so a frame's noise does not
//! depend on how the sequence was cut. The output is not sample-equal to [`super::S3Gen::inference`]
//! (other draws, pieces): `examples/bench_stream.rs` measures the distance.

use candle_core::{DType, Tensor};

use super::{trim_fade, GaussianRng, S3Gen, SourceNoise};
use crate::{check_stop, Error, Result, ShouldStop};

/// Mel frames re-vocoded at each join (CosyVoice's `mel_cache_len`).
pub const MEL_CACHE_FRAMES: usize = 8;

/// How a growing sequence is cut into pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamOptions {
    /// Speech tokens before the first piece (25 ≈ 1 s).
    pub first_tokens: usize,
    /// Speech tokens per later piece.
    pub chunk_tokens: usize,
    /// Tokens already vocoded that each piece re-runs as left context (0: all of them).
    pub context_tokens: usize,
    /// Prompt tokens each piece conditions on, the last ones of the voice's prompt (0: all).
    pub prompt_tokens: usize,
    /// Chunks of a long text streamed within themselves, from the first (0: all of them). Later
    /// chunks are spoken whole, as without streaming: only the first decides when audio starts,
    /// and every piece re-runs the flow over the prompt, so each streamed chunk costs more.
    pub chunks: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            first_tokens: Self::FIRST_TOKENS,
            chunk_tokens: 50,
            context_tokens: 50,
            prompt_tokens: 0,
            chunks: 1,
        }
    }
}

impl StreamOptions {
    /// Speech tokens of the first piece by default: 15 ≈ 0.6 s of speech (12 tokens ≈ 0.5 s of
    /// audio leave with it, 3 are held back as lookahead).
    pub const FIRST_TOKENS: usize = 15;

    /// Whether chunk `index` of a long text is streamed within itself.
    pub fn streams_chunk(&self, index: usize) -> bool {
        self.chunks == 0 || index < self.chunks
    }

    pub fn validate(&self) -> Result<()> {
        if self.first_tokens < 8 || self.chunk_tokens < 8 {
            return Err(Error::InvalidArgument(format!(
                "stream pieces need at least 8 tokens (first {}, chunk {})",
                self.first_tokens, self.chunk_tokens
            )));
        }
        Ok(())
    }
}

struct HiftCache {
    mel: Tensor,
    source: Vec<f32>,
    speech: Vec<f32>,
}

/// Where the time of the last [`S3GenStream::push`] went, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PieceTiming {
    /// The flow: encoder and CFM decoder over prompt, context and tokens.
    pub flow_s: f64,
    /// HiFT: F0, source and vocoder over the new frames and the cached ones.
    pub hift_s: f64,
}

/// One streamed S3Gen run (see the module docs).
pub struct S3GenStream<'a> {
    s3gen: &'a S3Gen,
    prompt: Vec<u32>,
    prompt_feat: Tensor,
    embedding: Tensor,
    opts: StreamOptions,
    rng: GaussianRng,
    /// Noise by absolute frame (prompt frames first), `mel_bins` values per frame.
    z: Vec<f32>,
    phases: Vec<f32>,
    /// Tokens whose frames have been vocoded.
    done_tokens: usize,
    cache: Option<HiftCache>,
    /// Samples handed out so far.
    out_samples: usize,
    fade: Vec<f32>,
    last: PieceTiming,
}

fn hamming(m: usize) -> Vec<f32> {
    (0..m)
        .map(|n| {
            let x = 2.0 * std::f64::consts::PI * n as f64 / (m.max(2) - 1) as f64;
            (0.54 - 0.46 * x.cos()) as f32
        })
        .collect()
}

impl<'a> S3GenStream<'a> {
    pub fn new(
        s3gen: &'a S3Gen,
        prompt_tokens: &[u32],
        prompt_feat: &Tensor,
        embedding: &Tensor,
        seed: u64,
        opts: StreamOptions,
    ) -> Result<Self> {
        opts.validate()?;
        let mut rng = GaussianRng::new(seed);
        let nh = s3gen.config().hift.nb_harmonics + 1;
        let phases = (0..nh)
            .map(|_| rng.uniform(-std::f32::consts::PI, std::f32::consts::PI))
            .collect();
        Ok(Self {
            s3gen,
            prompt: prompt_tokens.to_vec(),
            prompt_feat: prompt_feat.to_dtype(DType::F32)?,
            embedding: embedding.clone(),
            opts,
            rng,
            z: Vec::new(),
            phases,
            done_tokens: 0,
            cache: None,
            out_samples: 0,
            fade: trim_fade(s3gen.config().hift.sampling_rate),
            last: PieceTiming::default(),
        })
    }

    /// Noise of absolute frames `frames`, as `(1, bins, len)`.
    fn noise(&mut self, frames: &[usize]) -> Result<Tensor> {
        let bins = self.s3gen.config().flow.mel_bins;
        let need = frames.iter().max().map_or(0, |m| m + 1);
        if self.z.len() < need * bins {
            let more = need * bins - self.z.len();
            let drawn = self.rng.normal_vec(more);
            self.z.extend(drawn);
        }
        let mut v = Vec::with_capacity(frames.len() * bins);
        for &f in frames {
            v.extend_from_slice(&self.z[f * bins..(f + 1) * bins]);
        }
        let t = Tensor::from_vec(v, (1, frames.len(), bins), self.prompt_feat.device())?;
        Ok(t.transpose(1, 2)?.contiguous()?)
    }

    /// Where the last [`S3GenStream::push`]'s time went (zeros when it had nothing to run).
    pub fn last_timing(&self) -> PieceTiming {
        self.last
    }

    /// `tokens`: every speech token so far (a prefix of the final sequence). Returns the audio
    /// that became final; with `finalize` (the sequence is complete) everything left.
    pub fn push(
        &mut self,
        tokens: &[u32],
        finalize: bool,
        should_stop: ShouldStop,
    ) -> Result<Vec<f32>> {
        let flow = &self.s3gen.flow;
        let fcfg = flow.config();
        let hold = if finalize {
            0
        } else {
            fcfg.encoder.pre_lookahead
        };
        let n = tokens.len();
        self.last = PieceTiming::default();
        if n < self.done_tokens {
            return Err(Error::InvalidArgument(
                "stream: the token sequence shrank".into(),
            ));
        }
        if n <= self.done_tokens + hold {
            // Nothing new is final; at the end, hand out what was held back.
            return Ok(if finalize {
                let tail = self.cache.take().map(|c| c.speech).unwrap_or_default();
                self.emit(tail)
            } else {
                Vec::new()
            });
        }
        check_stop(should_stop)?;
        let t0 = std::time::Instant::now();
        // Prompt (its last `prompt_tokens`) + left context + the tokens so far.
        let np_all = self.prompt.len();
        let keep = match self.opts.prompt_tokens {
            0 => np_all,
            k => k.min(np_all),
        };
        let tp_all = self.prompt_feat.dim(1)?;
        let (tp, feat_from) = if keep == np_all {
            (tp_all, 0)
        } else {
            (2 * keep, tp_all.saturating_sub(2 * keep))
        };
        let tp = tp.min(tp_all);
        let prompt_feat = self.prompt_feat.narrow(1, feat_from, tp)?;
        let start = match self.opts.context_tokens {
            0 => 0,
            c => self.done_tokens.saturating_sub(c),
        };
        let all: Vec<u32> = self.prompt[np_all - keep..]
            .iter()
            .chain(&tokens[start..])
            .copied()
            .collect();
        let spk = flow.speaker(&self.embedding)?;
        let (_, mu) = flow.encode(&all)?;
        let t = mu.dim(1)? - 2 * hold;
        if tp > t {
            return Err(Error::InvalidArgument(format!(
                "stream: {tp} prompt frames for {t} frames"
            )));
        }
        let mu = crate::nn::swap_ct(&mu.narrow(1, 0, t)?)?;
        let cond = prompt_feat
            .pad_with_zeros(1, 0, t - tp)?
            .transpose(1, 2)?
            .contiguous()?;
        // Absolute noise positions: the prompt's own frames, then the tokens' frames.
        let p_frames = 2 * keep;
        let frames: Vec<usize> = (0..t)
            .map(|j| {
                if j < p_frames {
                    2 * (np_all - keep) + j
                } else {
                    2 * np_all + 2 * start + (j - p_frames)
                }
            })
            .collect();
        let z = self.noise(&frames)?;
        let mel = flow.decoder.forward(&z, &mu, &spk, &cond, should_stop)?;
        let from = if self.done_tokens == 0 {
            tp
        } else {
            p_frames + 2 * (self.done_tokens - start)
        };
        let new_mel = mel.narrow(2, from, t - from)?;
        self.done_tokens = n - hold;
        check_stop(should_stop)?;
        let t1 = std::time::Instant::now();
        let out = self.vocode(new_mel, finalize)?;
        self.last = PieceTiming {
            flow_s: (t1 - t0).as_secs_f64(),
            hift_s: t1.elapsed().as_secs_f64(),
        };
        Ok(out)
    }

    fn vocode(&mut self, new_mel: Tensor, finalize: bool) -> Result<Vec<f32>> {
        let hift = &self.s3gen.mel2wav;
        let hcfg = hift.config();
        let spf = hcfg.samples_per_frame();
        let nh = hcfg.nb_harmonics + 1;
        let mel = match &self.cache {
            Some(c) => Tensor::cat(&[&c.mel, &new_mel], 2)?,
            None => new_mel,
        };
        let frames = mel.dim(2)?;
        let f0 = hift.f0(&mel)?;
        let len = frames * spf;
        let noise = Tensor::from_vec(self.rng.normal_vec(nh * len), (1, nh, len), mel.device())?;
        let rnd = SourceNoise {
            phases: self.phases.clone(),
            noise,
        };
        let mut source: Vec<f32> = hift.source(&f0, &rnd)?.flatten_all()?.to_vec1()?;
        if let Some(c) = &self.cache {
            source[..c.source.len()].copy_from_slice(&c.source);
        }
        let s = Tensor::from_slice(&source, (1, 1, len), mel.device())?;
        let (_, _, wav) = hift.decode_with_source(&mel, &s)?;
        let mut wav: Vec<f32> = wav.flatten_all()?.to_vec1()?;
        if let Some(c) = self.cache.take() {
            let overlap = c.speech.len().min(wav.len());
            let w = hamming(2 * overlap);
            for i in 0..overlap {
                wav[i] = wav[i] * w[i] + c.speech[i] * w[overlap + i];
            }
        }
        let out = if finalize || frames <= MEL_CACHE_FRAMES {
            if !finalize {
                tracing::debug!(frames, "stream piece too short to cache; handed out whole");
            }
            wav
        } else {
            let keep = MEL_CACHE_FRAMES * spf;
            let cut = wav.len() - keep;
            self.cache = Some(HiftCache {
                mel: mel.narrow(2, frames - MEL_CACHE_FRAMES, MEL_CACHE_FRAMES)?,
                source: source[len - keep..].to_vec(),
                speech: wav[cut..].to_vec(),
            });
            wav.truncate(cut);
            wav
        };
        Ok(self.emit(out))
    }

    /// Apply the output fade to the first samples ever handed out.
    fn emit(&mut self, mut wav: Vec<f32>) -> Vec<f32> {
        for (i, x) in wav.iter_mut().enumerate() {
            let pos = self.out_samples + i;
            if pos >= self.fade.len() {
                break;
            }
            *x *= self.fade[pos];
        }
        self.out_samples += wav.len();
        wav
    }
}
