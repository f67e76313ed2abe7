//! `T3CondEnc`: speaker projection, perceiver resampler over the prompt speech embeddings, and the
//! emotion ("exaggeration") token → `cond_emb` `(1, 1 + queries + 1, hidden)`.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::config::T3Config;
use crate::nn::{LayerNorm, Linear};
use crate::Result;

/// `AttentionBlock2` (one LayerNorm shared by both inputs, q/k/v/proj_out with biases).
struct AttentionBlock {
    norm: LayerNorm,
    to_q: Linear,
    to_k: Linear,
    to_v: Linear,
    proj_out: Linear,
    heads: usize,
}

impl AttentionBlock {
    fn load(vb: &VarBuilder, channels: usize, heads: usize) -> Result<Self> {
        Ok(Self {
            norm: LayerNorm::load(&vb.pp("norm"), channels, 1e-5)?,
            to_q: Linear::load(&vb.pp("to_q"), channels, channels, true)?,
            to_k: Linear::load(&vb.pp("to_k"), channels, channels, true)?,
            to_v: Linear::load(&vb.pp("to_v"), channels, channels, true)?,
            proj_out: Linear::load(&vb.pp("proj_out"), channels, channels, true)?,
            heads,
        })
    }

    /// `x1 + proj_out(softmax(q kᵀ / √d) v)` with q from `x1`, k/v from `x2` (no mask).
    fn forward(&self, x1: &Tensor, x2: &Tensor) -> Result<Tensor> {
        let a = self.norm.forward(x1)?;
        let b = self.norm.forward(x2)?;
        let (bs, t1, c) = a.dims3()?;
        let t2 = b.dim(1)?;
        let hd = c / self.heads;
        let split = |y: Tensor, t: usize| -> candle_core::Result<Tensor> {
            y.reshape((bs, t, self.heads, hd))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.to_q.forward(&a)?, t1)?;
        let k = split(self.to_k.forward(&b)?, t2)?;
        let v = split(self.to_v.forward(&b)?, t2)?;
        let att = (q.matmul(&k.t()?)? * (1.0 / (hd as f64).sqrt()))?;
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        let h = att.matmul(&v)?.transpose(1, 2)?.reshape((bs, t1, c))?;
        Ok((x1 + self.proj_out.forward(&h)?)?)
    }
}

/// The perceiver resampler: `Block(Q0, P)` then `Block(·, ·)` with the same weights.
pub struct Perceiver {
    pre_attention_query: Tensor,
    attn: AttentionBlock,
}

impl Perceiver {
    pub fn load(vb: &VarBuilder, queries: usize, channels: usize, heads: usize) -> Result<Self> {
        Ok(Self {
            pre_attention_query: vb.get((1, queries, channels), "pre_attention_query")?,
            attn: AttentionBlock::load(&vb.pp("attn"), channels, heads)?,
        })
    }

    /// `(B, T, C)` → `(B, queries, C)`.
    pub fn forward(&self, h: &Tensor) -> Result<Tensor> {
        let b = h.dim(0)?;
        let (_, q, c) = self.pre_attention_query.dims3()?;
        let query = self.pre_attention_query.broadcast_as((b, q, c))?;
        let pre = self.attn.forward(&query, h)?;
        self.attn.forward(&pre, &pre)
    }
}

/// `T3CondEnc` (`cond_enc.` prefix).
pub struct CondEnc {
    spkr_enc: Linear,
    emotion_adv_fc: Linear,
    perceiver: Perceiver,
    speaker_embed_size: usize,
}

impl CondEnc {
    pub fn new(cfg: &T3Config, vb: &VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size();
        Ok(Self {
            spkr_enc: Linear::load(&vb.pp("spkr_enc"), cfg.speaker_embed_size, h, true)?,
            emotion_adv_fc: Linear::load(&vb.pp("emotion_adv_fc"), 1, h, false)?,
            perceiver: Perceiver::load(
                &vb.pp("perceiver"),
                cfg.perceiver_queries,
                h,
                cfg.perceiver_heads,
            )?,
            speaker_embed_size: cfg.speaker_embed_size,
        })
    }

    pub fn perceiver(&self) -> &Perceiver {
        &self.perceiver
    }

    /// `speaker_emb` (any shape with `speaker_embed_size` elements per row, B rows),
    /// `prompt_emb` `(B, Np, hidden)` (already speech-embedded + positions) or `None`,
    /// `exaggeration` one value per row → `(B, 1 [+ queries] + 1, hidden)`.
    pub fn forward(
        &self,
        speaker_emb: &Tensor,
        prompt_emb: Option<&Tensor>,
        exaggeration: &[f32],
    ) -> Result<Tensor> {
        let spk = speaker_emb.reshape(((), self.speaker_embed_size))?;
        let b = spk.dim(0)?;
        let spk = self.spkr_enc.forward(&spk)?.unsqueeze(1)?;
        let emo = Tensor::from_slice(exaggeration, (exaggeration.len(), 1, 1), spk.device())?
            .to_dtype(spk.dtype())?;
        let emo = self.emotion_adv_fc.forward(&emo)?;
        if emo.dim(0)? != b {
            return Err(crate::Error::InvalidArgument(format!(
                "{} exaggeration values for {b} speaker embeddings",
                emo.dim(0)?
            )));
        }
        let mut parts = vec![spk];
        if let Some(p) = prompt_emb {
            parts.push(self.perceiver.forward(p)?);
        }
        parts.push(emo);
        Ok(Tensor::cat(&parts, 1)?)
    }
}
