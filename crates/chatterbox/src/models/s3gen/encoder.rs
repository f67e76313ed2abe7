//! `UpsampleConformerEncoder` (`flow.encoder.`): tokens' embeddings at 25 Hz → hidden states at
//! 50 Hz. Full (bidirectional) attention with ESPnet relative positions, no conv module.

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;

use crate::kernels::softmax;
use crate::nn::{get, ConvBtc, LayerNorm, Linear};
use crate::Result;

/// Sizes of the encoder (the released model: 512 wide, 8 heads, FF 2048, 6 + 4 layers).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderConfig {
    /// Upstream `output_size`.
    pub dim: usize,
    /// Upstream `attention_heads`.
    pub heads: usize,
    /// Upstream `linear_units`.
    pub ff: usize,
    /// Upstream `num_blocks`.
    pub blocks: usize,
    /// Upstream `num_up_blocks`.
    pub up_blocks: usize,
    /// Upstream `pre_lookahead_len`.
    pub pre_lookahead: usize,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            dim: 512,
            heads: 8,
            ff: 2048,
            blocks: 6,
            up_blocks: 4,
            pre_lookahead: 3,
        }
    }
}

/// ESPnet "new style" relative positional encoding for length `t`: `(1, 2t−1, d)`, row `k`
/// encodes the relative distance `t−1−k` (`sin` on even, `cos` on odd features).
pub(crate) fn rel_pos_encoding(t: usize, d: usize, dev: &Device) -> Result<Tensor> {
    let coef = (-(10000f64.ln() / d as f64)) as f32;
    let div: Vec<f32> = (0..d / 2).map(|i| ((2 * i) as f32 * coef).exp()).collect();
    let n = 2 * t - 1;
    let mut pe = vec![0f32; n * d];
    for k in 0..n {
        let r = t as i64 - 1 - k as i64;
        let pos = r.unsigned_abs() as f32;
        let sign = if r < 0 { -1.0 } else { 1.0 };
        let row = &mut pe[k * d..(k + 1) * d];
        for (i, &w) in div.iter().enumerate() {
            let a = pos * w;
            row[2 * i] = sign * a.sin();
            row[2 * i + 1] = a.cos();
        }
    }
    Ok(Tensor::from_vec(pe, (1, n, d), dev)?)
}

/// `RelPositionMultiHeadedAttention` (Transformer-XL style, `pos_bias_u/v`).
#[derive(Debug, Clone)]
struct RelAttention {
    qkv: Linear,
    out: Linear,
    pos: Linear,
    bias_u: Tensor,
    bias_v: Tensor,
    heads: usize,
    dk: usize,
}

impl RelAttention {
    fn load(vb: &VarBuilder, dim: usize, heads: usize) -> Result<Self> {
        let w = |n: &str| get(&vb.pp(n), &[dim, dim], "weight");
        let b = |n: &str| get(&vb.pp(n), &[dim], "bias");
        let qkv_w = Tensor::cat(&[w("linear_q")?, w("linear_k")?, w("linear_v")?], 0)?;
        let qkv_b = Tensor::cat(&[b("linear_q")?, b("linear_k")?, b("linear_v")?], 0)?;
        let dk = dim / heads;
        Ok(Self {
            qkv: Linear::from_weights(&qkv_w, Some(qkv_b))?,
            out: Linear::load(&vb.pp("linear_out"), dim, dim, true)?,
            pos: Linear::load(&vb.pp("linear_pos"), dim, dim, false)?,
            bias_u: get(vb, &[heads, dk], "pos_bias_u")?,
            bias_v: get(vb, &[heads, dk], "pos_bias_v")?,
            heads,
            dk,
        })
    }

    /// x `(B, T, D)`, pos `(1, 2T−1, D)`.
    fn forward(&self, x: &Tensor, pos: &Tensor) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let (h, dk) = (self.heads, self.dk);
        let qkv = self.qkv.forward(x)?.reshape((b, t, 3, h, dk))?;
        let q = qkv.narrow(2, 0, 1)?.squeeze(2)?; // (B, T, H, dk)
        let k = qkv
            .narrow(2, 1, 1)?
            .squeeze(2)?
            .transpose(1, 2)?
            .contiguous()?;
        let v = qkv
            .narrow(2, 2, 1)?
            .squeeze(2)?
            .transpose(1, 2)?
            .contiguous()?;
        let n = 2 * t - 1;
        let p = self
            .pos
            .forward(pos)?
            .reshape((1, n, h, dk))?
            .transpose(1, 2)?
            .contiguous()?; // (1, H, 2T−1, dk)
        let qu = q
            .broadcast_add(&self.bias_u)?
            .transpose(1, 2)?
            .contiguous()?;
        let qv = q
            .broadcast_add(&self.bias_v)?
            .transpose(1, 2)?
            .contiguous()?;
        let ac = qu.matmul(&k.transpose(2, 3)?)?; // (B, H, T, T)
        let p = p.broadcast_as((b, h, n, dk))?.contiguous()?;
        let bd = qv.matmul(&p.transpose(2, 3)?)?; // (B, H, T, 2T−1)
                                                  // rel_shift: bd[i, j] ← bd[i, T−1−i+j] (pad a zero column, fold, drop the first row).
        let zero = Tensor::zeros((b, h, t, 1), bd.dtype(), bd.device())?;
        let bd = Tensor::cat(&[&zero, &bd], 3)?
            .reshape((b, h, n + 1, t))?
            .narrow(2, 1, n)?
            .contiguous()?
            .reshape((b, h, t, n))?
            .narrow(3, 0, t)?;
        let scores = ((ac + bd)? / (dk as f64).sqrt())?;
        let attn = softmax(&scores)?;
        let y = attn.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))?;
        self.out.forward(&y)
    }
}

/// Pre-norm conformer layer without conv module or macaron FF (LayerNorms with eps 1e-12).
#[derive(Debug, Clone)]
struct ConformerLayer {
    norm_mha: LayerNorm,
    attn: RelAttention,
    norm_ff: LayerNorm,
    w1: Linear,
    w2: Linear,
}

impl ConformerLayer {
    fn load(vb: &VarBuilder, cfg: &EncoderConfig) -> Result<Self> {
        let ff = vb.pp("feed_forward");
        Ok(Self {
            norm_mha: LayerNorm::load(&vb.pp("norm_mha"), cfg.dim, 1e-12)?,
            attn: RelAttention::load(&vb.pp("self_attn"), cfg.dim, cfg.heads)?,
            norm_ff: LayerNorm::load(&vb.pp("norm_ff"), cfg.dim, 1e-12)?,
            w1: Linear::load(&ff.pp("w_1"), cfg.dim, cfg.ff, true)?,
            w2: Linear::load(&ff.pp("w_2"), cfg.ff, cfg.dim, true)?,
        })
    }

    fn forward(&self, x: &Tensor, pos: &Tensor) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.norm_mha.forward(x)?, pos)?)?;
        let h = candle_nn::ops::silu(&self.w1.forward(&self.norm_ff.forward(&x)?)?)?;
        Ok((&x + self.w2.forward(&h)?)?)
    }
}

/// `LinearNoSubsampling` + ESPnet positional scaling: `LN(Linear(x)) · sqrt(d)`.
#[derive(Debug, Clone)]
struct Embed {
    linear: Linear,
    norm: LayerNorm,
    xscale: f64,
}

impl Embed {
    fn load(vb: &VarBuilder, dim: usize) -> Result<Self> {
        let out = vb.pp("out");
        Ok(Self {
            linear: Linear::load(&out.pp("0"), dim, dim, true)?,
            norm: LayerNorm::load(&out.pp("1"), dim, 1e-5)?,
            xscale: (dim as f64).sqrt(),
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.norm.forward(&self.linear.forward(x)?)?;
        Ok((y * (self.xscale as f32) as f64)?)
    }
}

/// The encoder. Input `(B, T, D)` embeddings, output `(B, 2T, D)`.
#[derive(Debug, Clone)]
pub struct UpsampleConformerEncoder {
    cfg: EncoderConfig,
    embed: Embed,
    lookahead1: ConvBtc,
    lookahead2: ConvBtc,
    encoders: Vec<ConformerLayer>,
    up_conv: ConvBtc,
    up_embed: Embed,
    up_encoders: Vec<ConformerLayer>,
    after_norm: LayerNorm,
}

impl UpsampleConformerEncoder {
    pub fn new(cfg: &EncoderConfig, vb: &VarBuilder) -> Result<Self> {
        let d = cfg.dim;
        let pl = vb.pp("pre_lookahead_layer");
        let la = cfg.pre_lookahead;
        Ok(Self {
            embed: Embed::load(&vb.pp("embed"), d)?,
            lookahead1: ConvBtc::load(&pl.pp("conv1"), d, d, la + 1, 0, la)?,
            lookahead2: ConvBtc::load(&pl.pp("conv2"), d, d, 3, 2, 0)?,
            encoders: (0..cfg.blocks)
                .map(|i| ConformerLayer::load(&vb.pp("encoders").pp(i), cfg))
                .collect::<Result<_>>()?,
            up_conv: ConvBtc::load(&vb.pp("up_layer").pp("conv"), d, d, 5, 4, 0)?,
            up_embed: Embed::load(&vb.pp("up_embed"), d)?,
            up_encoders: (0..cfg.up_blocks)
                .map(|i| ConformerLayer::load(&vb.pp("up_encoders").pp(i), cfg))
                .collect::<Result<_>>()?,
            after_norm: LayerNorm::load(&vb.pp("after_norm"), d, 1e-5)?,
            cfg: cfg.clone(),
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let mut x = self.embed.forward(x)?;
        let pos = rel_pos_encoding(t, self.cfg.dim, x.device())?;
        // PreLookaheadLayer: right pad, conv, leaky ReLU 0.01, left pad 2, conv, residual.
        let h = crate::nn::leaky_relu(&self.lookahead1.forward(&x)?, 0.01)?;
        x = (self.lookahead2.forward(&h)? + &x)?;
        for layer in &self.encoders {
            x = layer.forward(&x, &pos)?;
        }
        // Upsample1D: nearest ×2 in time, left pad 4, conv k5.
        let x2 = x
            .unsqueeze(2)?
            .broadcast_as((b, t, 2, d))?
            .reshape((b, 2 * t, d))?;
        let mut x = self.up_embed.forward(&self.up_conv.forward(&x2)?)?;
        let pos = rel_pos_encoding(2 * t, self.cfg.dim, x.device())?;
        for layer in &self.up_encoders {
            x = layer.forward(&x, &pos)?;
        }
        self.after_norm.forward(&x)
    }
}
