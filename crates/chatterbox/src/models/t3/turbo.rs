//! T3 Turbo (`T3(hp_turbo)` + `T3.inference_turbo` of chatterbox 0.1.7): the GPT-2 medium
//! backbone, no perceiver, no emotion token, no learned text/speech position tables, a speech head
//! with bias, batch 1 without CFG. Keys mirror `t3_turbo_v1.safetensors`.
//!
//! The prefix is `[spkr_enc(speaker) | speech_emb(prompt) | text_emb(text) | speech_emb(BOS)]`
//! (GPT-2 adds `wpe` over the whole sequence); generated token `k` is fed back as
//! `speech_emb(tok)` at position `P + k`. Sampling follows the Turbo order
//! ([`sampling::sample_step_turbo`]). The first token is sampled from the prefill with the
//! repetition-penalty history `[BOS]` and is never checked for EOS (a reference quirk); the
//! following ones use the generated tokens as history and EOS ends the stream (EOS is yielded).

use candle_core::{DType, Device, IndexOp, Module, Tensor};
use candle_nn::{embedding, Embedding, VarBuilder};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::gpt2::{Gpt2, Gpt2Cache, Gpt2Config};
use super::T3Cond;
use crate::nn::{get, Linear, Quantization};
use crate::sampling::{self, SamplingParams};
use crate::{Error, Result};

/// T3 Turbo hyper-parameters (`T3Config` as `tts_turbo.py` sets it + the GPT-2 config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T3TurboConfig {
    /// Rows of `text_emb` / `text_head` (the GPT-2 tokenizer's 50276 ids).
    pub text_tokens_dict_size: usize,
    /// Rows of `speech_emb` / `speech_head` (6561 + BOS + EOS = 6563).
    pub speech_tokens_dict_size: usize,
    pub start_speech_token: u32,
    pub stop_speech_token: u32,
    pub speaker_embed_size: usize,
    /// Longest speech-token prompt (`speech_cond_prompt_len`, 375 = 15 s).
    pub speech_cond_prompt_len: usize,
    pub gpt2: Gpt2Config,
}

impl T3TurboConfig {
    /// The released `t3_turbo_v1` configuration.
    pub fn turbo() -> Self {
        Self {
            text_tokens_dict_size: 50276,
            speech_tokens_dict_size: 6563,
            start_speech_token: 6561,
            stop_speech_token: 6562,
            speaker_embed_size: 256,
            speech_cond_prompt_len: 375,
            gpt2: Gpt2Config::gpt2_medium(),
        }
    }

    pub fn hidden_size(&self) -> usize {
        self.gpt2.n_embd
    }
}

impl Default for T3TurboConfig {
    fn default() -> Self {
        Self::turbo()
    }
}

/// The T3 Turbo model.
pub struct T3Turbo {
    cfg: T3TurboConfig,
    tfmr: Gpt2,
    spkr_enc: Linear,
    text_emb: Embedding,
    speech_emb: Embedding,
    speech_head: Linear,
    device: Device,
}

fn emb_rows(e: &Embedding, ids: &[u32], dev: &Device) -> Result<Tensor> {
    let ids = Tensor::from_slice(ids, ids.len(), dev)?;
    Ok(e.forward(&ids)?)
}

impl T3Turbo {
    /// Build from a `VarBuilder` rooted at the checkpoint's top level (f32 weights). `tfmr.wte`
    /// and `text_head` (unused at inference) are requested for the key set and dropped.
    pub fn new(cfg: &T3TurboConfig, vb: &VarBuilder) -> Result<Self> {
        Self::new_quantized(cfg, vb, Quantization::None)
    }

    /// Build with the GPT-2 blocks' projections stored as `quantization` says (the embeddings,
    /// the speaker projection and the speech head stay f32).
    pub fn new_quantized(
        cfg: &T3TurboConfig,
        vb: &VarBuilder,
        quantization: Quantization,
    ) -> Result<Self> {
        let h = cfg.hidden_size();
        drop(get(
            &vb.pp("text_head"),
            &[cfg.text_tokens_dict_size, h],
            "weight",
        )?);
        Ok(Self {
            tfmr: Gpt2::new(&cfg.gpt2, &vb.pp("tfmr"), quantization)?,
            spkr_enc: Linear::load(
                &vb.pp("cond_enc").pp("spkr_enc"),
                cfg.speaker_embed_size,
                h,
                true,
            )?,
            text_emb: embedding(cfg.text_tokens_dict_size, h, vb.pp("text_emb"))?,
            speech_emb: embedding(cfg.speech_tokens_dict_size, h, vb.pp("speech_emb"))?,
            speech_head: Linear::load_for_decode_biased(
                &vb.pp("speech_head"),
                h,
                cfg.speech_tokens_dict_size,
            )?,
            device: vb.device().clone(),
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &T3TurboConfig {
        &self.cfg
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn backbone(&self) -> &Gpt2 {
        &self.tfmr
    }

    fn check_ids(ids: &[u32], n: usize, what: &str) -> Result<()> {
        match ids.iter().find(|&&t| t as usize >= n) {
            Some(t) => Err(Error::InvalidArgument(format!(
                "{what} token {t} out of range (vocabulary of {n})"
            ))),
            None => Ok(()),
        }
    }

    /// `speech_emb(token)` → `(1, 1, hidden)` (no position table: GPT-2 adds `wpe`).
    pub fn speech_input(&self, token: u32) -> Result<Tensor> {
        Self::check_ids(&[token], self.cfg.speech_tokens_dict_size, "speech")?;
        Ok(emb_rows(&self.speech_emb, &[token], &self.device)?.unsqueeze(0)?)
    }

    /// The conditioning part `[spkr_enc(speaker) | speech_emb(prompt)]` → `(1, 1 + Np, hidden)`.
    /// The prompt is used as given (the voice pipeline cuts it to 375 tokens).
    pub fn prepare_conditioning(&self, cond: &T3Cond) -> Result<Tensor> {
        let h = self.cfg.hidden_size();
        let spk = cond
            .speaker_emb
            .to_device(&self.device)?
            .to_dtype(DType::F32)?
            .reshape((1, self.cfg.speaker_embed_size))?;
        let spk = self.spkr_enc.forward(&spk)?.reshape((1, h))?;
        let prompt = &cond.cond_prompt_speech_tokens;
        Self::check_ids(prompt, self.cfg.speech_tokens_dict_size, "speech")?;
        let rows = if prompt.is_empty() {
            spk
        } else {
            Tensor::cat(
                &[&spk, &emb_rows(&self.speech_emb, prompt, &self.device)?],
                0,
            )?
        };
        Ok(rows.unsqueeze(0)?)
    }

    /// The generation prefix `[cond | text_emb(text) | speech_emb(BOS)]` → `(1, P, hidden)`.
    pub fn prefix_embeds(&self, cond_emb: &Tensor, text_tokens: &[u32]) -> Result<Tensor> {
        Self::check_ids(text_tokens, self.cfg.text_tokens_dict_size, "text")?;
        let h = self.cfg.hidden_size();
        let cond = cond_emb.to_dtype(DType::F32)?;
        let lc = cond.elem_count() / h;
        let mut parts = vec![cond.reshape((lc, h))?];
        if !text_tokens.is_empty() {
            parts.push(emb_rows(&self.text_emb, text_tokens, &self.device)?);
        }
        parts.push(
            self.speech_input(self.cfg.start_speech_token)?
                .reshape((1, h))?,
        );
        Ok(Tensor::cat(&parts, 0)?.unsqueeze(0)?)
    }

    /// Speech logits `(1, T, speech_vocab)` for `embeds` run after `cache`.
    pub fn forward_logits(&self, embeds: &Tensor, cache: &mut Gpt2Cache) -> Result<Tensor> {
        let h = self.tfmr.forward(embeds, cache)?;
        self.speech_head.forward(&h)
    }

    /// Teacher-forced decoding through the KV cache: prefill the prefix, then feed `tokens` one at
    /// a time. Returns the last-position logits after the prefix and after each token:
    /// `(1, tokens + 1, speech_vocab)`.
    pub fn teacher_forced_logits(&self, prefix: &Tensor, tokens: &[u32]) -> Result<Tensor> {
        let mut cache = Gpt2Cache::new(&self.cfg.gpt2, prefix.dim(1)? + tokens.len());
        let l = self.forward_logits(prefix, &mut cache)?;
        let t = l.dim(1)?;
        let mut out = vec![l.narrow(1, t - 1, 1)?];
        for &tok in tokens {
            out.push(self.forward_logits(&self.speech_input(tok)?, &mut cache)?);
        }
        Ok(Tensor::cat(&out, 1)?)
    }

    /// Stream speech tokens with a seeded RNG (`params.seed`): at most `params.max_new_tokens`
    /// tokens (the reference's `inference_turbo(max_gen_len = m)` is `max_new_tokens = m + 1`:
    /// one token from the prefill, then up to `m` decoding steps). `min_p` and `cfg_weight` are
    /// not used by Turbo.
    pub fn generate<'a>(
        &'a self,
        cond: &T3Cond,
        text_tokens: &[u32],
        params: &SamplingParams,
    ) -> Result<TurboTokenStream<'a>> {
        let mut rng = StdRng::seed_from_u64(params.seed);
        self.generate_with(cond, text_tokens, params, move || rng.random::<f32>())
    }

    /// Stream speech tokens drawing each sample with `uniform()` (called once per token, also when
    /// greedy).
    pub fn generate_with<'a>(
        &'a self,
        cond: &T3Cond,
        text_tokens: &[u32],
        params: &SamplingParams,
        uniform: impl FnMut() -> f32 + 'a,
    ) -> Result<TurboTokenStream<'a>> {
        let cond_emb = self.prepare_conditioning(cond)?;
        let prefix = self.prefix_embeds(&cond_emb, text_tokens)?;
        let plen = prefix.dim(1)?;
        // The last token is never fed back.
        if plen + params.max_new_tokens.saturating_sub(1) > self.cfg.gpt2.n_positions {
            return Err(Error::InvalidArgument(format!(
                "a prefix of {plen} positions plus {} new tokens exceeds GPT-2's {} positions",
                params.max_new_tokens, self.cfg.gpt2.n_positions
            )));
        }
        let mut cache = Gpt2Cache::new(&self.cfg.gpt2, plen + params.max_new_tokens);
        let l = self.forward_logits(&prefix, &mut cache)?;
        Ok(TurboTokenStream {
            t3: self,
            params: params.clone(),
            cache,
            logits: Some(l.i((0, plen - 1))?),
            pending: None,
            out: Vec::new(),
            done: params.max_new_tokens == 0,
            uniform: Box::new(uniform),
        })
    }
}

/// T3 Turbo after a voice's conditioning `[speaker | prompt speech tokens]` (its keys and
/// values): the same for every text spoken in that voice, so it can be run once
/// ([`T3Turbo::prefill_conditioning`]) and continued for each text ([`T3Turbo::generate_after`]).
pub struct TurboPrefix {
    cache: Gpt2Cache,
}

impl TurboPrefix {
    /// Positions held (1 + the prompt's speech tokens).
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

impl T3Turbo {
    /// Run the voice's conditioning through the transformer once (see [`TurboPrefix`]).
    pub fn prefill_conditioning(&self, cond: &T3Cond) -> Result<TurboPrefix> {
        let cond_emb = self.prepare_conditioning(cond)?.to_dtype(DType::F32)?;
        let mut cache = Gpt2Cache::new(&self.cfg.gpt2, cond_emb.dim(1)?);
        self.tfmr.forward(&cond_emb, &mut cache)?;
        Ok(TurboPrefix { cache })
    }

    /// [`T3Turbo::generate`] continuing a prefilled conditioning: only `[text | BOS]` is run
    /// before the first token, not the voice's few hundred prompt positions. The same
    /// computation split in two, so the logits agree with `generate`'s to rounding (the
    /// tokens drawn from them almost always agree too, but are not guaranteed to).
    pub fn generate_after<'a>(
        &'a self,
        prefix: &TurboPrefix,
        text_tokens: &[u32],
        params: &SamplingParams,
    ) -> Result<TurboTokenStream<'a>> {
        Self::check_ids(text_tokens, self.cfg.text_tokens_dict_size, "text")?;
        let h = self.cfg.hidden_size();
        let mut parts = Vec::new();
        if !text_tokens.is_empty() {
            parts.push(emb_rows(&self.text_emb, text_tokens, &self.device)?);
        }
        parts.push(
            self.speech_input(self.cfg.start_speech_token)?
                .reshape((1, h))?,
        );
        let rest = Tensor::cat(&parts, 0)?.unsqueeze(0)?;
        let n = rest.dim(1)?;
        let plen = prefix.len() + n;
        if plen + params.max_new_tokens.saturating_sub(1) > self.cfg.gpt2.n_positions {
            return Err(Error::InvalidArgument(format!(
                "a prefix of {plen} positions plus {} new tokens exceeds GPT-2's {} positions",
                params.max_new_tokens, self.cfg.gpt2.n_positions
            )));
        }
        let mut cache = prefix.cache.fork(plen + params.max_new_tokens)?;
        let l = self.forward_logits(&rest, &mut cache)?;
        let mut rng = StdRng::seed_from_u64(params.seed);
        Ok(TurboTokenStream {
            t3: self,
            params: params.clone(),
            cache,
            logits: Some(l.i((0, n - 1))?),
            pending: None,
            out: Vec::new(),
            done: params.max_new_tokens == 0,
            uniform: Box::new(move || rng.random::<f32>()),
        })
    }
}

/// Iterator over T3 Turbo's speech tokens (EOS included, then the stream ends).
pub struct TurboTokenStream<'a> {
    t3: &'a T3Turbo,
    params: SamplingParams,
    cache: Gpt2Cache,
    /// Last-position logits `(V,)` not yet sampled from.
    logits: Option<Tensor>,
    /// A sampled token not yet fed back.
    pending: Option<u32>,
    out: Vec<u32>,
    done: bool,
    uniform: Box<dyn FnMut() -> f32 + 'a>,
}

impl TurboTokenStream<'_> {
    /// Collect the remaining tokens.
    pub fn collect_tokens(self) -> Result<Vec<u32>> {
        self.collect()
    }

    fn step(&mut self) -> Result<u32> {
        if let Some(tok) = self.pending.take() {
            let l = self
                .t3
                .forward_logits(&self.t3.speech_input(tok)?, &mut self.cache)?;
            self.logits = Some(l.i((0, 0))?);
        }
        let logits = self
            .logits
            .take()
            .ok_or_else(|| Error::InvalidArgument("token stream has no logits".into()))?;
        let mut row: Vec<f32> = logits.to_vec1()?;
        let bos = [self.t3.cfg.start_speech_token];
        let history: &[u32] = if self.out.is_empty() { &bos } else { &self.out };
        if self.out.len() < self.params.min_new_tokens {
            if let Some(l) = row.get_mut(self.t3.cfg.stop_speech_token as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
        let u = (self.uniform)();
        let tok = sampling::sample_step_turbo(&mut row, history, &self.params, u);
        self.out.push(tok);
        let first = self.out.len() == 1;
        if (!first && tok == self.t3.cfg.stop_speech_token)
            || self.out.len() >= self.params.max_new_tokens
        {
            self.done = true;
        } else {
            self.pending = Some(tok);
        }
        Ok(tok)
    }
}

impl Iterator for TurboTokenStream<'_> {
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
