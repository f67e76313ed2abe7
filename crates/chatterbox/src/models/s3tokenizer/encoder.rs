//! `AudioEncoderV2` (conv stem + FSMN/RoPE attention blocks) and the FSQ quantiser.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::N_MELS;
use crate::nn::{LayerNorm, Linear};
use crate::{Error, Result};

/// Encoder dimensions. `Default` is the released `speech_tokenizer_v2_25hz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderConfig {
    pub n_mels: usize,
    pub n_state: usize,
    pub n_head: usize,
    pub n_layer: usize,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            n_mels: N_MELS,
            n_state: 1280,
            n_head: 20,
            n_layer: 6,
        }
    }
}

/// Head size fixed by the reference's rotary table (`precompute_freqs_cis(64, ...)`).
const HEAD_DIM: usize = 64;
/// FSMN depthwise kernel size (zero padding 15 left / 15 right).
const FSMN_K: usize = 31;
const ROPE_THETA: f32 = 10_000.0;
/// FSQ pre-rounding scale; the reference's `0.9990000128746033` is exactly the f32 nearest 0.999.
const FSQ_SCALE: f32 = 0.999;

/// Conv1d with bias, kernel 3, stride 2, padding 1.
struct StemConv {
    weight: Tensor,
    bias: Tensor,
}

impl StemConv {
    fn load(vb: VarBuilder, cin: usize, cout: usize) -> Result<Self> {
        Ok(Self {
            weight: vb.get((cout, cin, 3), "weight")?,
            bias: vb.get(cout, "bias")?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.conv1d(&self.weight, 1, 2, 1, 1)?;
        Ok(y.broadcast_add(&self.bias.reshape((1, (), 1))?)?)
    }
}

struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    /// Depthwise FSMN taps, `(C, 31)` row-major.
    fsmn: Vec<f32>,
    n_head: usize,
    n_state: usize,
}

impl Attention {
    fn load(vb: VarBuilder, n_state: usize, n_head: usize) -> Result<Self> {
        let fsmn = vb
            .get((n_state, 1, FSMN_K), "fsmn_block.weight")?
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        Ok(Self {
            query: Linear::load(&vb.pp("query"), n_state, n_state, true)?,
            key: Linear::load(&vb.pp("key"), n_state, n_state, false)?,
            value: Linear::load(&vb.pp("value"), n_state, n_state, true)?,
            out: Linear::load(&vb.pp("out"), n_state, n_state, true)?,
            fsmn,
            n_head,
            n_state,
        })
    }

    /// Depthwise conv (k 31, zero pad 15/15, no bias) over time plus the input, on a `(T, C)`
    /// row-major buffer: `y[t, c] = v[t, c] + Σ_k w[c, k] · v[t + k − 15, c]`.
    fn fsmn(&self, v: &[f32], t_len: usize) -> Vec<f32> {
        let c_len = self.n_state;
        let half = (FSMN_K - 1) / 2;
        // Transpose the taps to (k, C) so the inner loop runs over contiguous channels.
        let mut taps = vec![0f32; FSMN_K * c_len];
        for c in 0..c_len {
            for k in 0..FSMN_K {
                taps[k * c_len + c] = self.fsmn[c * FSMN_K + k];
            }
        }
        let mut y = v.to_vec();
        for t in 0..t_len {
            let out = &mut y[t * c_len..(t + 1) * c_len];
            let k_lo = half.saturating_sub(t);
            let k_hi = FSMN_K.min(t_len + half - t);
            for k in k_lo..k_hi {
                let src = t + k - half;
                let row = &v[src * c_len..(src + 1) * c_len];
                let w = &taps[k * c_len..(k + 1) * c_len];
                for ((o, &x), &wk) in out.iter_mut().zip(row).zip(w) {
                    *o += wk * x;
                }
            }
        }
        y
    }

    /// `x`: `(1, T, C)` (already layer-normed); `cos`/`sin`: `(T, 32)`.
    fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let (h, d) = (self.n_head, HEAD_DIM);
        let q = self.query.forward(x)?;
        let k = self.key.forward(x)?;
        let v = self.value.forward(x)?;
        let fsmn = {
            let flat = v.flatten_all()?.to_vec1::<f32>()?;
            let mut rows = Vec::with_capacity(flat.len());
            for bi in 0..b {
                rows.extend(self.fsmn(&flat[bi * t * c..(bi + 1) * t * c], t));
            }
            Tensor::from_vec(rows, (b, t, c), x.device())?
        };
        let heads = |z: &Tensor| -> Result<Tensor> {
            Ok(z.reshape((b, t, h, d))?.transpose(1, 2)?.contiguous()?)
        };
        let scale = (d as f64).powf(-0.25);
        let q = (candle_nn::rotary_emb::rope(&heads(&q)?, cos, sin)? * scale)?;
        let k = (candle_nn::rotary_emb::rope(&heads(&k)?, cos, sin)? * scale)?;
        let v = heads(&v)?;
        let w = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t()?)?)?;
        let attn = w.matmul(&v)?.transpose(1, 2)?.reshape((b, t, c))?;
        Ok((self.out.forward(&attn)? + fsmn)?)
    }
}

struct Block {
    attn: Attention,
    attn_ln: LayerNorm,
    mlp0: Linear,
    mlp2: Linear,
    mlp_ln: LayerNorm,
}

impl Block {
    fn load(vb: VarBuilder, cfg: &EncoderConfig) -> Result<Self> {
        let n = cfg.n_state;
        Ok(Self {
            attn: Attention::load(vb.pp("attn"), n, cfg.n_head)?,
            attn_ln: LayerNorm::load(&vb.pp("attn_ln"), n, 1e-5)?,
            mlp0: Linear::load(&vb.pp("mlp").pp("0"), n, 4 * n, true)?,
            mlp2: Linear::load(&vb.pp("mlp").pp("2"), 4 * n, n, true)?,
            mlp_ln: LayerNorm::load(&vb.pp("mlp_ln"), n, 1e-5)?,
        })
    }

    fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.attn_ln.forward(x)?, cos, sin)?)?;
        let h = self
            .mlp2
            .forward(&self.mlp0.forward(&self.mlp_ln.forward(&x)?)?.gelu_erf()?)?;
        Ok((x + h)?)
    }
}

/// `AudioEncoderV2`: `tokenizer.encoder.*`.
pub struct AudioEncoder {
    conv1: StemConv,
    conv2: StemConv,
    blocks: Vec<Block>,
    cfg: EncoderConfig,
}

impl AudioEncoder {
    pub fn new(cfg: EncoderConfig, vb: VarBuilder) -> Result<Self> {
        if cfg.n_head * HEAD_DIM != cfg.n_state {
            return Err(Error::InvalidArgument(format!(
                "S3 tokenizer: n_state {} must be n_head {} x {HEAD_DIM}",
                cfg.n_state, cfg.n_head
            )));
        }
        let blocks = (0..cfg.n_layer)
            .map(|i| Block::load(vb.pp("blocks").pp(i), &cfg))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            conv1: StemConv::load(vb.pp("conv1"), cfg.n_mels, cfg.n_state)?,
            conv2: StemConv::load(vb.pp("conv2"), cfg.n_state, cfg.n_state)?,
            blocks,
            cfg,
        })
    }

    /// Rotary tables for positions `0..t` (rotate-half layout; `rope` duplicates the halves).
    fn rotary(t: usize, device: &Device) -> Result<(Tensor, Tensor)> {
        let half = HEAD_DIM / 2;
        let inv: Vec<f32> = (0..half)
            .map(|i| 1.0 / ROPE_THETA.powf((2 * i) as f32 / HEAD_DIM as f32))
            .collect();
        let mut cos = Vec::with_capacity(t * half);
        let mut sin = Vec::with_capacity(t * half);
        for p in 0..t {
            for f in &inv {
                let a = p as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        Ok((
            Tensor::from_vec(cos, (t, half), device)?,
            Tensor::from_vec(sin, (t, half), device)?,
        ))
    }

    /// `(1, n_mels, T)` log-mel → `(1, ceil(ceil(T/2)/2), n_state)` hidden states.
    pub fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        let x = self.conv1.forward(mel)?.gelu_erf()?;
        let x = self.conv2.forward(&x)?.gelu_erf()?;
        let mut x = x.transpose(1, 2)?.contiguous()?;
        let (cos, sin) = Self::rotary(x.dim(1)?, x.device())?;
        for b in &self.blocks {
            x = b.forward(&x, &cos, &sin)?;
        }
        Ok(x)
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.cfg
    }
}

/// FSQ quantiser (`tokenizer.quantizer._codebook.project_down`): 8 ternary digits per frame.
pub struct Fsq {
    project_down: Linear,
}

impl Fsq {
    pub fn load(vb: VarBuilder, n_state: usize) -> Result<Self> {
        Ok(Self {
            project_down: Linear::load(&vb.pp("_codebook").pp("project_down"), n_state, 8, true)?,
        })
    }

    /// Pre-tanh projection `(1, N, 8)`.
    pub fn project(&self, hidden: &Tensor) -> Result<Tensor> {
        self.project_down.forward(hidden)
    }

    /// Token ids in `0..6561`: `Σ 3^i · (round_half_even(tanh(z_i) · 0.999) + 1)`.
    pub fn encode(&self, hidden: &Tensor) -> Result<Vec<u32>> {
        let z = self.project(hidden)?.to_dtype(DType::F32)?;
        let rows = z.squeeze(0)?.to_vec2::<f32>()?;
        Ok(rows.iter().map(|r| fsq_id(r)).collect())
    }
}

/// One FSQ id from the 8 projected values (f32 arithmetic as the reference).
pub fn fsq_id(z: &[f32]) -> u32 {
    let mut id = 0u32;
    let mut p = 1u32;
    for &v in z.iter().take(8) {
        let d = (v.tanh() * FSQ_SCALE).round_ties_even() + 1.0;
        id += d as u32 * p;
        p *= 3;
    }
    id
}

/// Margin of the FSQ rounding: the smallest `| |tanh(z)·0.999| − 0.5 |` over all values.
pub fn fsq_margin(z: &Tensor) -> Result<f32> {
    let v = z.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    Ok(v.iter()
        .map(|x| ((x.tanh() * FSQ_SCALE).abs() - 0.5).abs())
        .fold(f32::INFINITY, f32::min))
}
