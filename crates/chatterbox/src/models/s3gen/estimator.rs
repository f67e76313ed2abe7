//! The CFM vector-field estimator `ConditionalDecoder` (`flow.decoder.estimator.`): a 1-D U-Net of
//! causal ResNet blocks and transformer blocks, all at full length (a single channel stage).
//!
//! Everything runs time-major `(B, T, C)`: the causal convolutions are one matmul over an unfolded
//! input, LayerNorm over channels is a plain last-axis norm, and attention uses batched matmuls.
//! The padding mask is all ones at inference (one utterance per call), so it is not applied.

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;

use crate::kernels::{softmax_, with_slice};
use crate::nn::{mish, mish_add_, silu, swap_ct, ConvBtc, Epilogue, LayerNorm, Linear};

/// Query rows per attention chunk.
const ATTN_CHUNK: usize = 128;
use crate::{Error, Result};

/// Sizes of the estimator (released: in 320, out 80, channels 256, 8 heads × 64, 4 blocks per
/// stage, 12 mid stages).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EstimatorConfig {
    /// Upstream `in_channels`.
    pub in_channels: usize,
    /// Upstream `out_channels`.
    pub out_channels: usize,
    /// Upstream `channels[0]`.
    pub channels: usize,
    /// Upstream `num_heads`.
    pub heads: usize,
    /// Upstream `attention_head_dim`.
    pub head_dim: usize,
    /// Upstream `n_blocks`.
    pub n_blocks: usize,
    /// Upstream `num_mid_blocks`.
    pub mid_blocks: usize,
    /// Upstream `meanflow` (Chatterbox-Turbo's `s3gen_meanflow`): the estimator also takes an end
    /// time `r`, embedded by the same `time_mlp` and mixed with `t`'s embedding by
    /// `time_embed_mixer` (Linear 2·E → E, no bias); the CFM then runs the linear grid without CFG.
    pub meanflow: bool,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        Self {
            in_channels: 320,
            out_channels: 80,
            channels: 256,
            heads: 8,
            head_dim: 64,
            n_blocks: 4,
            mid_blocks: 12,
            meanflow: false,
        }
    }
}

/// `CausalBlock1D`: causal conv k3 → LayerNorm over channels → Mish.
#[derive(Debug, Clone)]
struct CausalBlock {
    conv: ConvBtc,
    norm: LayerNorm,
}

impl CausalBlock {
    fn load(vb: &VarBuilder, inp: usize, out: usize) -> Result<Self> {
        let b = vb.pp("block");
        Ok(Self {
            conv: ConvBtc::load(&b.pp("0"), inp, out, 3, 2, 0)?,
            norm: LayerNorm::load(&b.pp("2"), out, 1e-5)?,
        })
    }

    /// `Mish(LN(conv(x)))`, plus `add` `(B, C)` broadcast over time when given.
    fn forward(&self, x: &Tensor, add: Option<&Tensor>) -> Result<Tensor> {
        mish_add_(self.norm.forward(&self.conv.forward(x)?)?, add)
    }
}

/// `CausalResnetBlock1D` with the time embedding added after the first block.
#[derive(Debug, Clone)]
struct ResBlock {
    block1: CausalBlock,
    block2: CausalBlock,
    mlp: Linear,
    res_conv: Linear,
}

impl ResBlock {
    fn load(vb: &VarBuilder, inp: usize, out: usize, temb: usize) -> Result<Self> {
        let rc = vb.pp("res_conv");
        let w = crate::nn::get(&rc, &[out, inp, 1], "weight")?.squeeze(2)?;
        let b = crate::nn::get(&rc, &[out], "bias")?;
        Ok(Self {
            block1: CausalBlock::load(&vb.pp("block1"), inp, out)?,
            block2: CausalBlock::load(&vb.pp("block2"), out, out)?,
            mlp: Linear::load(&vb.pp("mlp").pp("1"), temb, out, true)?,
            res_conv: Linear::from_weights(&w, Some(b))?,
        })
    }

    /// x `(B, T, Cin)`, `temb_act` = Mish(temb) `(B, E)`.
    fn forward(&self, x: &Tensor, temb_act: &Tensor) -> Result<Tensor> {
        let h = self.block1.forward(x, Some(&self.mlp.forward(temb_act)?))?;
        let h = self.block2.forward(&h, None)?;
        self.res_conv.forward_with(x, Epilogue::Residual(&h))
    }
}

/// diffusers `BasicTransformerBlock` (self-attention + GELU FF, pre-LayerNorm, no cross-attention).
#[derive(Debug, Clone)]
struct TBlock {
    norm1: LayerNorm,
    qkv: Linear,
    to_out: Linear,
    norm3: LayerNorm,
    ff1: Linear,
    ff2: Linear,
    heads: usize,
    head_dim: usize,
}

impl TBlock {
    fn load(vb: &VarBuilder, dim: usize, heads: usize, head_dim: usize) -> Result<Self> {
        let inner = heads * head_dim;
        let a = vb.pp("attn1");
        let w = |n: &str| crate::nn::get(&a.pp(n), &[inner, dim], "weight");
        // The attention scale 1/√d is folded into the query weights (exact for d = 64).
        let scale = 1.0 / (head_dim as f64).sqrt();
        let qkv = Tensor::cat(&[(w("to_q")? * scale)?, w("to_k")?, w("to_v")?], 0)?;
        let ff = vb.pp("ff").pp("net");
        Ok(Self {
            norm1: LayerNorm::load(&vb.pp("norm1"), dim, 1e-5)?,
            qkv: Linear::from_weights(&qkv, None)?,
            to_out: Linear::load(&a.pp("to_out").pp("0"), inner, dim, true)?,
            norm3: LayerNorm::load(&vb.pp("norm3"), dim, 1e-5)?,
            ff1: Linear::load(&ff.pp("0").pp("proj"), dim, 4 * dim, true)?,
            ff2: Linear::load(&ff.pp("2"), 4 * dim, dim, true)?,
            heads,
            head_dim,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let qkv = self.qkv.forward(&self.norm1.forward(x)?)?;
        let y = self.attention(&qkv, b, t)?;
        let x = self.to_out.forward_with(&y, Epilogue::Residual(x))?;
        let f = self
            .ff1
            .forward_with(&self.norm3.forward(&x)?, Epilogue::Gelu)?;
        self.ff2.forward_with(&f, Epilogue::Residual(&x))
    }

    /// Multi-head attention on the fused projections `qkv` `(B, T, 3·H·d)` (queries pre-scaled)
    /// → `(B, T, H·d)`: the fused AVX2 kernel when the CPU has one; otherwise each (batch row,
    /// query chunk) is one task: its heads' scores
    /// (H × chunk × T) stay in cache, and q/k/v are read in place through strided views.
    fn attention(&self, qkv: &Tensor, b: usize, t: usize) -> Result<Tensor> {
        let (h, d) = (self.heads, self.head_dim);
        if let Some(y) = with_slice(qkv, |s| {
            crate::kernels::attention::fused_attention(s, b, t, h, d)
        })? {
            return Ok(Tensor::from_vec(y, (b, t, h * d), qkv.device())?);
        }
        attention_matmuls(qkv, b, t, h, d)
    }
}

/// The fallback of [`TBlock::attention`] on CPUs without the fused kernel: candle matmuls per
/// (batch row, 128-query chunk), the chunk's scores (H × chunk × T) staying in cache.
fn attention_matmuls(qkv: &Tensor, b: usize, t: usize, h: usize, d: usize) -> Result<Tensor> {
    use rayon::prelude::*;
    let inner = h * d;
    let qkv = qkv.reshape((b, t, 3, h, d))?.permute((2, 0, 3, 1, 4))?; // (3, B, H, T, d)
    let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
    let tasks: Vec<(usize, usize)> = (0..b)
        .flat_map(|bi| (0..t).step_by(ATTN_CHUNK).map(move |s| (bi, s)))
        .collect();
    let outs = tasks
        .par_iter()
        .map(|&(bi, start)| -> Result<Tensor> {
            let len = ATTN_CHUNK.min(t - start);
            let qc = q.get(bi)?.narrow(1, start, len)?; // (H, len, d)
            let kt = k.get(bi)?.t()?; // (H, d, T)
            let attn = softmax_(qc.matmul(&kt)?)?;
            Ok(attn.matmul(&v.get(bi)?)?) // (H, len, d), contiguous
        })
        .collect::<Result<Vec<_>>>()?;
    // Interleave the heads back into (B, T, H·d).
    let mut y = vec![0f32; b * t * inner];
    for (&(bi, start), o) in tasks.iter().zip(&outs) {
        let len = ATTN_CHUNK.min(t - start);
        with_slice(o, |o| {
            for hh in 0..h {
                for i in 0..len {
                    let dst = (bi * t + start + i) * inner + hh * d;
                    let src = (hh * len + i) * d;
                    y[dst..dst + d].copy_from_slice(&o[src..src + d]);
                }
            }
        })?;
    }
    Ok(Tensor::from_vec(y, (b, t, inner), qkv.device())?)
}

#[derive(Debug, Clone)]
struct Stage {
    resnet: ResBlock,
    blocks: Vec<TBlock>,
    /// The causal conv in the "downsample"/"upsample" slot (absent in the mid stages).
    conv: Option<ConvBtc>,
}

impl Stage {
    fn load(
        vb: &VarBuilder,
        cfg: &EstimatorConfig,
        inp: usize,
        temb: usize,
        conv: bool,
    ) -> Result<Self> {
        let c = cfg.channels;
        Ok(Self {
            resnet: ResBlock::load(&vb.pp("0"), inp, c, temb)?,
            blocks: (0..cfg.n_blocks)
                .map(|i| TBlock::load(&vb.pp("1").pp(i), c, cfg.heads, cfg.head_dim))
                .collect::<Result<_>>()?,
            conv: if conv {
                Some(ConvBtc::load(&vb.pp("2"), c, c, 3, 2, 0)?)
            } else {
                None
            },
        })
    }

    fn forward(&self, x: &Tensor, temb_act: &Tensor) -> Result<Tensor> {
        let mut x = self.resnet.forward(x, temb_act)?;
        for b in &self.blocks {
            x = b.forward(&x)?;
        }
        Ok(x)
    }
}

/// `ConditionalDecoder` with one channel stage.
#[derive(Debug, Clone)]
pub struct Estimator {
    cfg: EstimatorConfig,
    time1: Linear,
    time2: Linear,
    down: Stage,
    mids: Vec<Stage>,
    up: Stage,
    final_block: CausalBlock,
    final_proj: Linear,
    /// Meanflow only: `(E, 2E)` mixing `[emb(t) | emb(r)]`.
    time_embed_mixer: Option<Linear>,
}

impl Estimator {
    pub fn new(cfg: &EstimatorConfig, vb: &VarBuilder) -> Result<Self> {
        let c = cfg.channels;
        let temb = 4 * c;
        let tm = vb.pp("time_mlp");
        let fp = vb.pp("final_proj");
        let fw = crate::nn::get(&fp, &[cfg.out_channels, c, 1], "weight")?.squeeze(2)?;
        let fb = crate::nn::get(&fp, &[cfg.out_channels], "bias")?;
        Ok(Self {
            time1: Linear::load(&tm.pp("linear_1"), cfg.in_channels, temb, true)?,
            time2: Linear::load(&tm.pp("linear_2"), temb, temb, true)?,
            down: Stage::load(
                &vb.pp("down_blocks").pp("0"),
                cfg,
                cfg.in_channels,
                temb,
                true,
            )?,
            mids: (0..cfg.mid_blocks)
                .map(|i| Stage::load(&vb.pp("mid_blocks").pp(i), cfg, c, temb, false))
                .collect::<Result<_>>()?,
            up: Stage::load(&vb.pp("up_blocks").pp("0"), cfg, 2 * c, temb, true)?,
            final_block: CausalBlock::load(&vb.pp("final_block"), c, c)?,
            final_proj: Linear::from_weights(&fw, Some(fb))?,
            time_embed_mixer: if cfg.meanflow {
                Some(Linear::load(
                    &vb.pp("time_embed_mixer"),
                    2 * temb,
                    temb,
                    false,
                )?)
            } else {
                None
            },
            cfg: cfg.clone(),
        })
    }

    /// `SinusoidalPosEmb(in_channels)` of `t` (scale 1000) → `(B, in_channels)`.
    fn time_embedding(&self, t: &[f32], dev: &Device) -> Result<Tensor> {
        let half = self.cfg.in_channels / 2;
        let coef = (10000f64.ln() / (half - 1) as f64) as f32;
        let freqs: Vec<f32> = (0..half).map(|i| (i as f32 * -coef).exp()).collect();
        let mut out = Vec::with_capacity(t.len() * 2 * half);
        for &tv in t {
            let s = 1000f32 * tv;
            let args: Vec<f32> = freqs.iter().map(|f| s * f).collect();
            out.extend(args.iter().map(|a| a.sin()));
            out.extend(args.iter().map(|a| a.cos()));
        }
        Ok(Tensor::from_vec(out, (t.len(), 2 * half), dev)?)
    }

    /// Whether this is the meanflow estimator (takes an end time `r`).
    pub fn is_meanflow(&self) -> bool {
        self.time_embed_mixer.is_some()
    }

    /// The time embedding `(B, 4·channels)` fed (through Mish) to every ResNet block:
    /// `time_mlp(SinPos(t))`, and for the meanflow estimator
    /// `time_embed_mixer([time_mlp(SinPos(t)) | time_mlp(SinPos(r))])`. `r` must be given exactly
    /// when the estimator is meanflow.
    pub fn time_embed(&self, t: &[f32], r: Option<&[f32]>, dev: &Device) -> Result<Tensor> {
        let mlp = |t: &[f32]| -> Result<Tensor> {
            let e = self.time_embedding(t, dev)?;
            self.time2.forward(&silu(&self.time1.forward(&e)?)?)
        };
        let et = mlp(t)?;
        match (&self.time_embed_mixer, r) {
            (None, None) => Ok(et),
            (Some(mixer), Some(r)) if r.len() == t.len() => {
                mixer.forward(&Tensor::cat(&[&et, &mlp(r)?], 1)?)
            }
            (Some(_), Some(r)) => Err(Error::InvalidArgument(format!(
                "estimator: {} end times for {} start times",
                r.len(),
                t.len()
            ))),
            (Some(_), None) => Err(Error::InvalidArgument(
                "the meanflow estimator needs an end time r".into(),
            )),
            (None, Some(_)) => Err(Error::InvalidArgument(
                "an end time r was given to an estimator without time_embed_mixer".into(),
            )),
        }
    }

    /// Vector field for `x, mu, cond` `(B, 80, T)`, `spk` `(B, 80)` and one `t` per batch row.
    /// Returns `(B, 80, T)`. (Not for the meanflow estimator: see [`Estimator::forward_tr`].)
    pub fn forward(
        &self,
        x: &Tensor,
        mu: &Tensor,
        t: &[f32],
        spk: &Tensor,
        cond: &Tensor,
    ) -> Result<Tensor> {
        self.forward_tr(x, mu, t, None, spk, cond)
    }

    /// [`Estimator::forward`] with the meanflow end time `r` (one per batch row, `None` for the
    /// original estimator).
    pub fn forward_tr(
        &self,
        x: &Tensor,
        mu: &Tensor,
        t: &[f32],
        r: Option<&[f32]>,
        spk: &Tensor,
        cond: &Tensor,
    ) -> Result<Tensor> {
        let (b, _, len) = x.dims3()?;
        if t.len() != b {
            return Err(Error::InvalidArgument(format!(
                "estimator: {} time values for batch {b}",
                t.len()
            )));
        }
        let temb = self.time_embed(t, r, x.device())?;
        let temb_act = mish(&temb)?;
        let spk = spk.unsqueeze(2)?.broadcast_as((b, spk.dim(1)?, len))?;
        let h = Tensor::cat(&[x, mu, &spk, cond], 1)?;
        let h = swap_ct(&h)?; // (B, T, 320)
        let mut h = self.down.forward(&h, &temb_act)?;
        let skip = h.clone();
        if let Some(c) = &self.down.conv {
            h = c.forward(&h)?;
        }
        for m in &self.mids {
            h = m.forward(&h, &temb_act)?;
        }
        let h = Tensor::cat(&[&h, &skip], 2)?;
        let mut h = self.up.forward(&h, &temb_act)?;
        if let Some(c) = &self.up.conv {
            h = c.forward(&h)?;
        }
        let h = self.final_block.forward(&h, None)?;
        swap_ct(&self.final_proj.forward(&h)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The fused kernel and the matmul fallback agree.
    #[test]
    #[cfg_attr(
        not(host_avx2_fma),
        ignore = "this CPU has no AVX2+FMA, the packed kernels' only path (callers use candle there)"
    )]
    fn fused_and_fallback_attention_agree() -> Result<()> {
        let (b, t, h, d) = (2, 150, 3, 64);
        let qkv = Tensor::randn(0f32, 1.0, (b, t, 3 * h * d), &Device::Cpu)?;
        let plain = attention_matmuls(&qkv, b, t, h, d)?;
        let fused = with_slice(&qkv, |s| {
            crate::kernels::attention::fused_attention(s, b, t, h, d)
        })?
        .expect("AVX2+FMA (detected at build time)");
        let fused = Tensor::from_vec(fused, (b, t, h * d), &Device::Cpu)?;
        let err: f32 = (plain - fused)?.abs()?.flatten_all()?.max(0)?.to_scalar()?;
        assert!(err < 1e-5, "max abs difference {err}");
        Ok(())
    }
}
