//! `AudioEncoderV2` (conv stem + FSMN/RoPE attention blocks) and the FSQ quantiser.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use super::N_MELS;
use crate::kernels::attention::fused_attention;
use crate::kernels::with_slice;
use crate::nn::{Epilogue, LayerNorm, Linear};
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

/// Conv1d with bias, kernel 3, stride 2, padding 1, followed by the exact GELU.
///
/// Runs as one matrix product on time-major frames: row `t` of the unfolded input is the three
/// frames `2t − 1, 2t, 2t + 1` side by side (zeros outside), against the weight laid out
/// `(Cout, 3, Cin)`, with the bias and GELU applied in the product's epilogue.
struct StemConv {
    /// `(Cout, 3·Cin)` with column `j·Cin + c` = tap `j` of input channel `c`.
    unfolded: Linear,
    cin: usize,
}

impl StemConv {
    fn load(vb: VarBuilder, cin: usize, cout: usize) -> Result<Self> {
        let weight = vb.get((cout, cin, 3), "weight")?;
        let bias = vb.get(cout, "bias")?;
        let w = weight
            .transpose(1, 2)?
            .contiguous()?
            .reshape((cout, 3 * cin))?;
        Ok(Self {
            unfolded: Linear::from_weights(&w, Some(bias))?,
            cin,
        })
    }

    /// Time-major `(T, Cin)` → `gelu(conv(x))` time-major `(ceil(T/2), Cout)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (t, cin) = x.dims2()?;
        if cin != self.cin {
            return Err(Error::InvalidArgument(format!(
                "S3 tokenizer conv: {cin} input channels, weights expect {}",
                self.cin
            )));
        }
        let t_out = t.div_ceil(2);
        let cols = with_slice(x, |src| {
            let mut cols = vec![0f32; t_out * 3 * cin];
            for (o, row) in cols.chunks_exact_mut(3 * cin).enumerate() {
                for (j, dst) in row.chunks_exact_mut(cin).enumerate() {
                    // Input frame 2·o + j − 1 (padding 1).
                    if let Some(f) = (2 * o + j).checked_sub(1).filter(|&f| f < t) {
                        dst.copy_from_slice(&src[f * cin..(f + 1) * cin]);
                    }
                }
            }
            cols
        })?;
        let cols = Tensor::from_vec(cols, (t_out, 3 * cin), x.device())?;
        self.unfolded.forward_with(&cols, Epilogue::Gelu)
    }
}

struct Attention {
    /// `query`, `key` (no bias) and `value` as one `C → 3C` product: row `t` of its output is
    /// `[q | k | v]`, i.e. `(T, 3, H, d)`, the fused attention kernel's layout.
    qkv: Linear,
    out: Linear,
    /// Depthwise FSMN taps transposed to `(31, C)`, so the inner loop runs over channels.
    fsmn_taps: Vec<f32>,
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
        let mut fsmn_taps = vec![0f32; FSMN_K * n_state];
        for c in 0..n_state {
            for k in 0..FSMN_K {
                fsmn_taps[k * n_state + c] = fsmn[c * FSMN_K + k];
            }
        }
        let w = |name: &str| vb.get((n_state, n_state), &format!("{name}.weight"));
        let b = |name: &str| vb.get(n_state, &format!("{name}.bias"));
        let k_bias = Tensor::zeros(n_state, DType::F32, vb.device())?;
        let qkv_w = Tensor::cat(&[w("query")?, w("key")?, w("value")?], 0)?;
        let qkv_b = Tensor::cat(
            &[
                b("query")?.to_dtype(DType::F32)?,
                k_bias,
                b("value")?.to_dtype(DType::F32)?,
            ],
            0,
        )?;
        Ok(Self {
            qkv: Linear::from_weights(&qkv_w.to_dtype(DType::F32)?, Some(qkv_b))?,
            out: Linear::load(&vb.pp("out"), n_state, n_state, true)?,
            fsmn_taps,
            n_head,
            n_state,
        })
    }

    /// `residual + v + FSMN(v)` on `(T, ·)` row-major buffers whose rows are `stride` apart, `v`
    /// starting at column `v0`: the depthwise conv (k 31, zero pad 15/15, no bias) over time,
    /// `y[t, c] = r[t, c] + v[t, c] + Σ_k w[c, k] · v[t + k − 15, c]` → `(T, C)`.
    fn fsmn(
        &self,
        qkv: &[f32],
        stride: usize,
        v0: usize,
        residual: &[f32],
        t_len: usize,
    ) -> Vec<f32> {
        let c_len = self.n_state;
        let half = (FSMN_K - 1) / 2;
        let v = |t: usize| &qkv[t * stride + v0..t * stride + v0 + c_len];
        let mut y = vec![0f32; t_len * c_len];
        for t in 0..t_len {
            let out = &mut y[t * c_len..(t + 1) * c_len];
            out.copy_from_slice(v(t));
            let k_lo = half.saturating_sub(t);
            let k_hi = FSMN_K.min(t_len + half - t);
            for k in k_lo..k_hi {
                let row = v(t + k - half);
                let w = &self.fsmn_taps[k * c_len..(k + 1) * c_len];
                for ((o, &x), &wk) in out.iter_mut().zip(row).zip(w) {
                    *o += wk * x;
                }
            }
            for (o, &r) in out.iter_mut().zip(&residual[t * c_len..]) {
                *o += r;
            }
        }
        y
    }

    /// `residual + attention(x)` for `x` `(T, C)` (already layer-normed) and `residual` `(T, C)`;
    /// `cos`/`sin`: `(T, 32)` row-major.
    fn forward(&self, x: &Tensor, residual: &Tensor, cos: &[f32], sin: &[f32]) -> Result<Tensor> {
        let (t, c) = x.dims2()?;
        let (h, d) = (self.n_head, HEAD_DIM);
        let qkv = self.qkv.forward(x)?;
        let mut buf = qkv.flatten_all()?.to_vec1::<f32>()?;
        // y = residual + v + FSMN(v), before the rotary embedding touches the buffer.
        let memory = with_slice(residual, |r| self.fsmn(&buf, 3 * c, 2 * c, r, t))?;
        let memory = Tensor::from_vec(memory, (t, c), x.device())?;
        // RoPE on q and k; q·d^-¼ and k·d^-¼ of the reference become q·d^-½.
        rope_qk_(&mut buf, t, h, d, cos, sin, 1.0 / (d as f32).sqrt());
        let attn = match fused_attention(&buf, 1, t, h, d) {
            Some(a) => Tensor::from_vec(a, (t, c), x.device())?,
            None => {
                let qkv = Tensor::from_vec(buf, (t, 3, h, d), x.device())?;
                let part = |i: usize| -> Result<Tensor> {
                    Ok(qkv
                        .narrow(1, i, 1)?
                        .squeeze(1)?
                        .transpose(0, 1)?
                        .contiguous()?)
                };
                let (q, k, v) = (part(0)?, part(1)?, part(2)?);
                let w = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t()?)?)?;
                w.matmul(&v)?.transpose(0, 1)?.reshape((t, c))?
            }
        };
        self.out.forward_with(&attn, Epilogue::Residual(&memory))
    }
}

/// Rotary embedding (rotate-half layout, `cos`/`sin` `(T, d/2)`) in place on the `q` and `k`
/// parts of a `(T, 3, H, d)` buffer, then `q ← q · q_scale`.
fn rope_qk_(buf: &mut [f32], t: usize, h: usize, d: usize, cos: &[f32], sin: &[f32], q_scale: f32) {
    let half = d / 2;
    for (p, row) in buf.chunks_exact_mut(3 * h * d).take(t).enumerate() {
        let (cs, sn) = (
            &cos[p * half..(p + 1) * half],
            &sin[p * half..(p + 1) * half],
        );
        for (part, scale) in [(0, q_scale), (1, 1.0)] {
            for head in row[part * h * d..(part + 1) * h * d].chunks_exact_mut(d) {
                let (a, b) = head.split_at_mut(half);
                for i in 0..half {
                    let (x1, x2) = (a[i], b[i]);
                    a[i] = (x1 * cs[i] - x2 * sn[i]) * scale;
                    b[i] = (x1 * sn[i] + x2 * cs[i]) * scale;
                }
            }
        }
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

    /// `x`: `(T, C)`.
    fn forward(&self, x: &Tensor, cos: &[f32], sin: &[f32]) -> Result<Tensor> {
        let x = self.attn.forward(&self.attn_ln.forward(x)?, x, cos, sin)?;
        let h = self
            .mlp0
            .forward_with(&self.mlp_ln.forward(&x)?, Epilogue::Gelu)?;
        self.mlp2.forward_with(&h, Epilogue::Residual(&x))
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

    /// Rotary tables for positions `0..t`, `(t, 32)` row-major (rotate-half layout: each
    /// frequency applies to dimensions `i` and `i + 32`).
    fn rotary(t: usize) -> (Vec<f32>, Vec<f32>) {
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
        (cos, sin)
    }

    /// `(1, n_mels, T)` log-mel → `(1, ceil(ceil(T/2)/2), n_state)` hidden states.
    pub fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        let frames = mel.squeeze(0)?.t()?.contiguous()?;
        let x = self.conv1.forward(&frames)?;
        let mut x = self.conv2.forward(&x)?;
        let (cos, sin) = Self::rotary(x.dim(0)?);
        for b in &self.blocks {
            x = b.forward(&x, &cos, &sin)?;
        }
        Ok(x.unsqueeze(0)?)
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
