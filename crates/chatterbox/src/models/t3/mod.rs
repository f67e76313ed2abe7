//! T3: the Llama-520M text-to-speech-token model with its conditioning encoder, classifier-free
//! guidance and sampling (spec §2). Keys mirror `t3_cfg.safetensors` (§6.2).
//!
//! Generation follows `T3.inference` of chatterbox 0.1.7: the prefix is
//! `[cond | text | BOS BOS]` (batch 2 under CFG, the unconditional row's text token embeddings
//! zeroed), prefilled once into a KV cache; generated token `i` is fed back as
//! `speech_emb(tok) + speech_pos_emb(i + 1)` at RoPE position `P + i`. The EOS token is yielded
//! (like the reference) and ends the stream.
//!
//! The Turbo variant ([`T3Turbo`], `t3_turbo_v1.safetensors`) shares [`T3Cond`] and the sampling
//! functions but has its own backbone ([`Gpt2`]) and prefix; see `turbo.rs`.

mod alignment;
mod cond_enc;
mod config;
mod gpt2;
mod llama;
mod turbo;

use std::path::Path;

use candle_core::{DType, Device, IndexOp, Module, Tensor};
use candle_nn::{embedding, Embedding, VarBuilder};
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::nn::{Linear, Quantization};
use crate::sampling;
pub use crate::sampling::SamplingParams;
pub use alignment::{AlignmentStep, AlignmentStreamAnalyzer, LLAMA_ALIGNED_HEADS};
pub use cond_enc::{CondEnc, Perceiver};
pub use config::{Llama3RopeScaling, LlamaConfig, T3Config, MULTILINGUAL_TEXT_VOCAB};
pub use gpt2::{Gpt2, Gpt2Cache, Gpt2Config};
pub use llama::{rope_inv_freq, Llama, LlamaCache};
pub use turbo::{T3Turbo, T3TurboConfig, TurboPrefix, TurboTokenStream};

use crate::{Error, Result};

/// Conditioning inputs (`T3Cond`): voice-encoder speaker embedding, optional prompt speech tokens
/// (the reference uses the first 150 S3 tokens of the reference clip) and the exaggeration.
#[derive(Debug, Clone)]
pub struct T3Cond {
    /// `(1, speaker_embed_size)` f32 (any shape with that many elements): the voice encoder's
    /// unit-norm speaker embedding.
    pub speaker_emb: Tensor,
    /// The speech-token prompt (at most 150 tokens of the reference clip); empty for none.
    pub cond_prompt_speech_tokens: Vec<u32>,
    /// Emotion exaggeration (a `(1, 1, 1)` tensor upstream).
    pub emotion_adv: f32,
}

/// The T3 model.
pub struct T3 {
    cfg: T3Config,
    tfmr: Llama,
    cond_enc: CondEnc,
    text_emb: Embedding,
    speech_emb: Embedding,
    text_pos_emb: Embedding,
    speech_pos_emb: Embedding,
    speech_head: Linear,
    /// In the checkpoint (training only); loaded so the key set is the file's.
    _text_head: Linear,
    device: Device,
}

/// Load `t3_cfg.safetensors`, read tensor by tensor (any float dtype is converted to f32).
pub fn load_t3(path: impl AsRef<Path>, cfg: &T3Config, device: &Device) -> Result<T3> {
    T3::new(
        cfg,
        &crate::checkpoint::open_checkpoint(path.as_ref(), device)?,
    )
}

fn emb_rows(e: &Embedding, ids: &[u32], dev: &Device) -> Result<Tensor> {
    let ids = Tensor::from_slice(ids, ids.len(), dev)?;
    Ok(e.forward(&ids)?)
}

impl T3 {
    /// Build from a `VarBuilder` rooted at the checkpoint's top level (f32 weights).
    pub fn new(cfg: &T3Config, vb: &VarBuilder) -> Result<Self> {
        Self::new_quantized(cfg, vb, Quantization::None)
    }

    /// Build with the backbone's projections stored as `quantization` says (the embeddings,
    /// the conditioning encoder and the speech head stay f32).
    pub fn new_quantized(
        cfg: &T3Config,
        vb: &VarBuilder,
        quantization: Quantization,
    ) -> Result<Self> {
        let h = cfg.hidden_size();
        Ok(Self {
            tfmr: Llama::new(&cfg.llama, &vb.pp("tfmr"), quantization)?,
            cond_enc: CondEnc::new(cfg, &vb.pp("cond_enc"))?,
            text_emb: embedding(cfg.text_tokens_dict_size, h, vb.pp("text_emb"))?,
            speech_emb: embedding(cfg.speech_tokens_dict_size, h, vb.pp("speech_emb"))?,
            text_pos_emb: embedding(cfg.text_pos_len(), h, vb.pp("text_pos_emb").pp("emb"))?,
            speech_pos_emb: embedding(cfg.speech_pos_len(), h, vb.pp("speech_pos_emb").pp("emb"))?,
            speech_head: Linear::load_for_decode(
                &vb.pp("speech_head"),
                h,
                cfg.speech_tokens_dict_size,
                Quantization::None,
            )?,
            _text_head: Linear::load_for_decode(
                &vb.pp("text_head"),
                h,
                cfg.text_tokens_dict_size,
                quantization,
            )?,
            device: vb.device().clone(),
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &T3Config {
        &self.cfg
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn backbone(&self) -> &Llama {
        &self.tfmr
    }

    pub fn cond_enc(&self) -> &CondEnc {
        &self.cond_enc
    }

    /// `speech_emb(tokens) + speech_pos_emb(0..n)` → `(1, n, hidden)`.
    pub fn prompt_embeds(&self, tokens: &[u32]) -> Result<Tensor> {
        if tokens.len() > self.cfg.speech_pos_len() {
            return Err(Error::InvalidArgument(format!(
                "{} prompt speech tokens exceed the {} speech positions",
                tokens.len(),
                self.cfg.speech_pos_len()
            )));
        }
        self.check_speech_ids(tokens)?;
        let pos: Vec<u32> = (0..tokens.len() as u32).collect();
        let e = (emb_rows(&self.speech_emb, tokens, &self.device)?
            + emb_rows(&self.speech_pos_emb, &pos, &self.device)?)?;
        Ok(e.unsqueeze(0)?)
    }

    fn check_speech_ids(&self, ids: &[u32]) -> Result<()> {
        match ids
            .iter()
            .find(|&&t| t as usize >= self.cfg.speech_tokens_dict_size)
        {
            Some(t) => Err(Error::InvalidArgument(format!(
                "speech token {t} out of range"
            ))),
            None => Ok(()),
        }
    }

    /// `cond_emb` `(1, 34, hidden)` (34 = speaker + 32 perceiver queries + emotion; 2 without prompt).
    pub fn prepare_conditioning(&self, cond: &T3Cond) -> Result<Tensor> {
        let prompt = match cond.cond_prompt_speech_tokens.as_slice() {
            [] => None,
            t => Some(self.prompt_embeds(t)?),
        };
        let spk = cond
            .speaker_emb
            .to_device(&self.device)?
            .to_dtype(DType::F32)?;
        self.cond_enc
            .forward(&spk, prompt.as_ref(), &[cond.emotion_adv])
    }

    /// Speech input embedding of `token` at learned speech position `pos` → `(1, 1, hidden)`.
    pub fn speech_input(&self, token: u32, pos: usize) -> Result<Tensor> {
        if pos >= self.cfg.speech_pos_len() {
            return Err(Error::InvalidArgument(format!(
                "speech position {pos} exceeds the {} learned positions",
                self.cfg.speech_pos_len()
            )));
        }
        self.check_speech_ids(&[token])?;
        let e = (emb_rows(&self.speech_emb, &[token], &self.device)?
            + emb_rows(&self.speech_pos_emb, &[pos as u32], &self.device)?)?;
        Ok(e.unsqueeze(0)?)
    }

    /// The generation prefix `[cond | text | BOS BOS]`: `(2, P, hidden)` under CFG (row 1 with
    /// zeroed text token embeddings), `(1, P, hidden)` otherwise.
    pub fn prefix_embeds(
        &self,
        cond_emb: &Tensor,
        text_tokens: &[u32],
        cfg: bool,
    ) -> Result<Tensor> {
        let n = text_tokens.len();
        if n > self.cfg.text_pos_len() {
            return Err(Error::InvalidArgument(format!(
                "{n} text tokens exceed the {} text positions",
                self.cfg.text_pos_len()
            )));
        }
        if let Some(t) = text_tokens
            .iter()
            .find(|&&t| t as usize >= self.cfg.text_tokens_dict_size)
        {
            return Err(Error::InvalidArgument(format!(
                "text token {t} out of range"
            )));
        }
        let pos: Vec<u32> = (0..n as u32).collect();
        let tpos = emb_rows(&self.text_pos_emb, &pos, &self.device)?;
        let text = (emb_rows(&self.text_emb, text_tokens, &self.device)? + &tpos)?;
        let bos = self
            .speech_input(self.cfg.start_speech_token, 0)?
            .squeeze(0)?;
        let cond = cond_emb.to_dtype(DType::F32)?;
        let (_, lc, h) = cond.dims3()?;
        let cond = cond.reshape((lc, h))?;
        let row = |t: &Tensor| Tensor::cat(&[&cond, t, &bos, &bos], 0);
        let mut rows = vec![row(&text)?];
        if cfg {
            // `text_emb[1].zero_()` happens before the position embedding is added.
            rows.push(row(&tpos)?);
        }
        Ok(Tensor::stack(&rows, 0)?)
    }

    /// Speech logits `(B, T, speech_vocab)` for `embeds` run after `cache` (prefill or steps).
    pub fn forward_logits(&self, embeds: &Tensor, cache: &mut LlamaCache) -> Result<Tensor> {
        let h = self.tfmr.forward(embeds, cache)?;
        self.speech_head.forward(&h)
    }

    /// [`T3::forward_logits`] that also returns the mean attention probabilities of the aligned
    /// heads for batch row 0, `(T, cache + T)`.
    pub fn forward_logits_aligned(
        &self,
        embeds: &Tensor,
        cache: &mut LlamaCache,
    ) -> Result<(Tensor, Tensor)> {
        let (h, maps) = self
            .tfmr
            .forward_probed(embeds, cache, &self.cfg.aligned_heads)?;
        let mean = (Tensor::stack(&maps, 0)?.sum(0)? / maps.len().max(1) as f64)?;
        Ok((self.speech_head.forward(&h)?, mean))
    }

    /// Teacher-forced decoding through the KV cache: prefill the prefix, then feed `tokens` one at
    /// a time (token `i` at speech position `i + 1`). Returns the last-position logits after the
    /// prefix and after each token: `(B, tokens + 1, speech_vocab)`.
    pub fn teacher_forced_logits(&self, prefix: &Tensor, tokens: &[u32]) -> Result<Tensor> {
        let b = prefix.dim(0)?;
        let mut cache = LlamaCache::new(&self.cfg.llama, prefix.dim(1)? + tokens.len());
        let last = |l: Tensor| -> Result<Tensor> {
            let t = l.dim(1)?;
            Ok(l.narrow(1, t - 1, 1)?)
        };
        let mut out = vec![last(self.forward_logits(prefix, &mut cache)?)?];
        for (i, &tok) in tokens.iter().enumerate() {
            let e = self.speech_input(tok, i + 1)?;
            let e = e
                .broadcast_as((b, 1, self.cfg.hidden_size()))?
                .contiguous()?;
            out.push(last(self.forward_logits(&e, &mut cache)?)?);
        }
        Ok(Tensor::cat(&out, 1)?)
    }

    /// Stream speech tokens with a seeded RNG (`params.seed`).
    pub fn generate<'a>(
        &'a self,
        cond: &T3Cond,
        text_tokens: &[u32],
        params: &SamplingParams,
    ) -> Result<TokenStream<'a>> {
        let mut rng = StdRng::seed_from_u64(params.seed);
        self.generate_with(cond, text_tokens, params, move || rng.random::<f32>())
    }

    /// Stream speech tokens drawing each sample with `uniform()` (a value in `[0, 1)`; called once
    /// per token, also when greedy).
    pub fn generate_with<'a>(
        &'a self,
        cond: &T3Cond,
        text_tokens: &[u32],
        params: &SamplingParams,
        uniform: impl FnMut() -> f32 + 'a,
    ) -> Result<TokenStream<'a>> {
        let cond_emb = self.prepare_conditioning(cond)?;
        self.generate_from_cond_emb(&cond_emb, text_tokens, params, uniform)
    }

    /// As [`T3::generate_with`], from a precomputed `cond_emb` `(1, Lc, hidden)`.
    pub fn generate_from_cond_emb<'a>(
        &'a self,
        cond_emb: &Tensor,
        text_tokens: &[u32],
        params: &SamplingParams,
        uniform: impl FnMut() -> f32 + 'a,
    ) -> Result<TokenStream<'a>> {
        let use_cfg = params.cfg_weight != 0.0;
        let prefix = self.prefix_embeds(cond_emb, text_tokens, use_cfg)?;
        let mut cache = LlamaCache::new(&self.cfg.llama, prefix.dim(1)? + params.max_new_tokens);
        let mut analyzer = self.cfg.is_multilingual().then(|| {
            let lc = cond_emb.dim(1).unwrap_or(0);
            AlignmentStreamAnalyzer::new(lc, lc + text_tokens.len(), self.cfg.stop_speech_token)
        });
        let mut attn = None;
        let logits = if params.max_new_tokens > 0 {
            let l = match &mut analyzer {
                Some(a) => {
                    let (l, m) = self.forward_logits_aligned(&prefix, &mut cache)?;
                    attn = Some(attention_rows(&m, a)?);
                    l
                }
                None => self.forward_logits(&prefix, &mut cache)?,
            };
            let t = l.dim(1)?;
            Some(l.i((.., t - 1))?)
        } else {
            None
        };
        Ok(TokenStream {
            t3: self,
            params: params.clone(),
            cache,
            logits,
            pending: None,
            ids: vec![self.cfg.start_speech_token],
            produced: 0,
            done: params.max_new_tokens == 0,
            uniform: Box::new(uniform),
            analyzer,
            attn,
            alignment: Vec::new(),
        })
    }
}

/// The rows of a `(T, P)` mean attention map the analyzer's next step takes.
fn attention_rows(mean: &Tensor, a: &AlignmentStreamAnalyzer) -> Result<Vec<Vec<f32>>> {
    let t = mean.dim(0)?;
    let r = a.rows_needed(t);
    Ok(mean.narrow(0, r.start, r.len())?.to_vec2()?)
}

/// Iterator over generated speech tokens (EOS included, then the stream ends).
pub struct TokenStream<'a> {
    t3: &'a T3,
    params: SamplingParams,
    cache: LlamaCache,
    /// Last-position logits `(B, V)` not yet sampled from.
    logits: Option<Tensor>,
    /// A sampled token not yet fed back.
    pending: Option<u32>,
    ids: Vec<u32>,
    produced: usize,
    done: bool,
    uniform: Box<dyn FnMut() -> f32 + 'a>,
    /// The multilingual T3's alignment analyzer and the attention rows of its next step.
    analyzer: Option<AlignmentStreamAnalyzer>,
    attn: Option<Vec<Vec<f32>>>,
    alignment: Vec<AlignmentStep>,
}

impl TokenStream<'_> {
    /// Collect the remaining tokens.
    pub fn collect_tokens(self) -> Result<Vec<u32>> {
        self.collect()
    }

    fn feed(&mut self, token: u32) -> Result<()> {
        let b = if self.params.cfg_weight != 0.0 { 2 } else { 1 };
        let e = self.t3.speech_input(token, self.produced)?;
        let e = e
            .broadcast_as((b, 1, self.t3.cfg.hidden_size()))?
            .contiguous()?;
        let l = match &self.analyzer {
            Some(a) => {
                let (l, m) = self.t3.forward_logits_aligned(&e, &mut self.cache)?;
                self.attn = Some(attention_rows(&m, a)?);
                l
            }
            None => self.t3.forward_logits(&e, &mut self.cache)?,
        };
        self.logits = Some(l.i((.., 0))?);
        Ok(())
    }

    /// What the alignment analyzer decided at each step so far (empty unless multilingual).
    pub fn alignment_steps(&self) -> &[AlignmentStep] {
        &self.alignment
    }

    fn step(&mut self) -> Result<u32> {
        if let Some(tok) = self.pending.take() {
            self.feed(tok)?;
        }
        let logits = self
            .logits
            .take()
            .ok_or_else(|| Error::InvalidArgument("token stream has no logits".into()))?;
        let mut row: Vec<f32> = logits.i(0)?.to_vec1()?;
        if self.params.cfg_weight != 0.0 {
            let uncond: Vec<f32> = logits.i(1)?.to_vec1()?;
            row = sampling::cfg_combine(&row, &uncond, self.params.cfg_weight);
        }
        if let Some(a) = &mut self.analyzer {
            let attn = self.attn.take().unwrap_or_default();
            let last = self
                .ids
                .last()
                .copied()
                .unwrap_or(self.t3.cfg.start_speech_token);
            self.alignment.push(a.step(&attn, &mut row, last));
        }
        if self.produced < self.params.min_new_tokens {
            if let Some(l) = row.get_mut(self.t3.cfg.stop_speech_token as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
        let u = (self.uniform)();
        let tok = sampling::sample_step(&mut row, &self.ids, &self.params, u);
        self.ids.push(tok);
        self.produced += 1;
        if tok == self.t3.cfg.stop_speech_token || self.produced >= self.params.max_new_tokens {
            self.done = true;
        } else {
            self.pending = Some(tok);
        }
        Ok(tok)
    }
}

impl Iterator for TokenStream<'_> {
    type Item = Result<u32>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}
