//! Small building blocks shared by the flow and the vocoder: convolutions in time-major layout,
//! weight-normed convolutions folded at load time, and element-wise activations candle lacks.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use crate::{Error, Result};

/// Fetch a tensor as f32 (checkpoints may store other float dtypes).
pub(crate) fn get(vb: &VarBuilder, shape: &[usize], name: &str) -> Result<Tensor> {
    Ok(vb.get(shape, name)?.to_dtype(DType::F32)?)
}

/// `nn.Linear` (weight `(out, in)`, optional bias) applied over the last axis of any-rank input.
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    /// `(in, out)`, contiguous, so the product needs no transposed copy.
    wt: Tensor,
    b: Option<Tensor>,
}

impl Linear {
    pub(crate) fn load(vb: &VarBuilder, inp: usize, out: usize, bias: bool) -> Result<Self> {
        let w = get(vb, &[out, inp], "weight")?;
        let b = if bias {
            Some(get(vb, &[out], "bias")?)
        } else {
            None
        };
        Self::from_weights(&w, b)
    }

    /// From a `(out, in)` weight.
    pub(crate) fn from_weights(w: &Tensor, b: Option<Tensor>) -> Result<Self> {
        Ok(Self {
            wt: w.t()?.contiguous()?,
            b,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let inp = dims[dims.len() - 1];
        let rows = x.elem_count() / inp.max(1);
        let y = x.reshape((rows, inp))?.matmul(&self.wt)?;
        let y = match &self.b {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        let mut out = dims;
        let last = out.len() - 1;
        out[last] = self.wt.dim(1)?;
        Ok(y.reshape(out)?)
    }
}

/// `nn.LayerNorm` over the last axis.
#[derive(Debug, Clone)]
pub(crate) struct LayerNorm {
    w: Tensor,
    b: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub(crate) fn load(vb: &VarBuilder, dim: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            w: get(vb, &[dim], "weight")?,
            b: get(vb, &[dim], "bias")?,
            eps,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.contiguous()?;
        Ok(candle_nn::ops::layer_norm(
            &x,
            &self.w,
            &self.b,
            self.eps as f32,
        )?)
    }
}

/// A stride-1, dilation-1 Conv1d on time-major input `(B, T, Cin) → (B, T', Cout)`, as one matmul
/// over an unfolded input (`(B, T', k·Cin) · (k·Cin, Cout)`), with explicit zero padding.
#[derive(Debug, Clone)]
pub(crate) struct ConvBtc {
    /// `(k·Cin, Cout)`; row `j·Cin + c` holds tap `j` of input channel `c`.
    w: Tensor,
    b: Option<Tensor>,
    k: usize,
    left: usize,
    right: usize,
}

impl ConvBtc {
    /// Load a PyTorch Conv1d weight `(out, in, k)` (+ bias).
    pub(crate) fn load(
        vb: &VarBuilder,
        inp: usize,
        out: usize,
        k: usize,
        left: usize,
        right: usize,
    ) -> Result<Self> {
        let w = get(vb, &[out, inp, k], "weight")?;
        let b = get(vb, &[out], "bias")?;
        // (out, in, k) → (k, in, out) → (k·in, out)
        let w = w
            .permute((2, 1, 0))?
            .reshape((k * inp, out))?
            .contiguous()?;
        Ok(Self {
            w,
            b: Some(b),
            k,
            left,
            right,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let x = if self.left + self.right > 0 {
            x.pad_with_zeros(1, self.left, self.right)?
        } else {
            x.clone()
        };
        let t_out = t + self.left + self.right + 1 - self.k;
        let cols = if self.k == 1 {
            x
        } else {
            let taps = (0..self.k)
                .map(|j| x.narrow(1, j, t_out))
                .collect::<candle_core::Result<Vec<_>>>()?;
            Tensor::cat(&taps, 2)?
        };
        let y = cols.reshape((b * t_out, self.k * c))?.matmul(&self.w)?;
        let y = match &self.b {
            Some(bias) => y.broadcast_add(bias)?,
            None => y,
        };
        Ok(y.reshape((b, t_out, ()))?)
    }
}

/// A weight: plain `weight`, or weight norm stored as `parametrizations.weight.original0/1`
/// (torch ≥ 2.1) or `weight_g`/`weight_v` (older exports), folded into `g · v / ‖v‖` with the norm
/// over every axis but 0.
pub(crate) fn weight_norm(vb: &VarBuilder, shape: &[usize]) -> Result<Tensor> {
    let mut gshape = vec![shape[0]];
    gshape.extend(std::iter::repeat_n(1, shape.len() - 1));
    let (g, v) = if vb.contains_tensor("parametrizations.weight.original0") {
        let p = vb.pp("parametrizations").pp("weight");
        (get(&p, &gshape, "original0")?, get(&p, shape, "original1")?)
    } else if vb.contains_tensor("weight_g") {
        (get(vb, &gshape, "weight_g")?, get(vb, shape, "weight_v")?)
    } else {
        return Err(Error::Checkpoint {
            path: vb.prefix().into(),
            msg: "missing weight-norm parameters (parametrizations.weight.original0/1 or weight_g/weight_v)".into(),
        });
    };
    let mut norm = v.sqr()?;
    for axis in (1..shape.len()).rev() {
        norm = norm.sum_keepdim(axis)?;
    }
    Ok(v.broadcast_mul(&g.broadcast_div(&norm.sqrt()?)?)?)
}

/// A Conv1d on `(B, C, T)` input (candle's im2col path), optionally weight-normed.
#[derive(Debug, Clone)]
pub(crate) struct Conv1d {
    w: Tensor,
    b: Option<Tensor>,
    padding: usize,
    stride: usize,
    dilation: usize,
}

impl Conv1d {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn load(
        vb: &VarBuilder,
        inp: usize,
        out: usize,
        k: usize,
        padding: usize,
        stride: usize,
        dilation: usize,
        weight_normed: bool,
    ) -> Result<Self> {
        let w = if weight_normed {
            weight_norm(vb, &[out, inp, k])?
        } else {
            get(vb, &[out, inp, k], "weight")?
        };
        let b = Some(get(vb, &[out], "bias")?);
        Ok(Self {
            w,
            b,
            padding,
            stride,
            dilation,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.conv1d(&self.w, self.padding, self.stride, self.dilation, 1)?;
        Ok(match &self.b {
            Some(b) => y.broadcast_add(&b.reshape((1, (), 1))?)?,
            None => y,
        })
    }
}

/// A weight-normed ConvTranspose1d on `(B, Cin, T)` (weight `(in, out, k)`, g along the input
/// axis). Computed without padding (candle's fast col2im path) and cropped afterwards.
#[derive(Debug, Clone)]
pub(crate) struct ConvTranspose1d {
    w: Tensor,
    b: Tensor,
    padding: usize,
    stride: usize,
}

impl ConvTranspose1d {
    pub(crate) fn load(
        vb: &VarBuilder,
        inp: usize,
        out: usize,
        k: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Self> {
        Ok(Self {
            w: weight_norm(vb, &[inp, out, k])?.contiguous()?,
            b: get(vb, &[out], "bias")?,
            padding,
            stride,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x
            .contiguous()?
            .conv_transpose1d(&self.w, 0, 0, self.stride, 1, 1)?;
        let len = y.dim(2)?;
        let y = y.narrow(2, self.padding, len - 2 * self.padding)?;
        Ok(y.broadcast_add(&self.b.reshape((1, (), 1))?)?)
    }
}

/// Apply `f` to every element (f32).
pub(crate) fn map(x: &Tensor, f: impl Fn(f32) -> f32) -> Result<Tensor> {
    let shape = x.shape().clone();
    let v: Vec<f32> = x.flatten_all()?.to_vec1()?;
    let out: Vec<f32> = v.into_iter().map(f).collect();
    Ok(Tensor::from_vec(out, shape, x.device())?)
}

/// PyTorch's softplus (threshold 20) then `x·tanh(softplus(x))`.
pub(crate) fn mish(x: &Tensor) -> Result<Tensor> {
    map(x, |v| {
        let sp = if v > 20.0 { v } else { v.exp().ln_1p() };
        v * sp.tanh()
    })
}

pub(crate) fn silu(x: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::ops::silu(x)?)
}

pub(crate) fn leaky_relu(x: &Tensor, slope: f32) -> Result<Tensor> {
    map(x, |v| if v > 0.0 { v } else { v * slope })
}

pub(crate) fn elu(x: &Tensor) -> Result<Tensor> {
    map(x, |v| if v > 0.0 { v } else { v.exp_m1() })
}

/// Snake on `(B, C, T)`: `x + 1/(α + 1e-9) · sin(α x)²`, α per channel.
pub(crate) fn snake(x: &Tensor, alpha: &[f32]) -> Result<Tensor> {
    let (b, c, t) = x.dims3()?;
    if alpha.len() != c {
        return Err(Error::InvalidArgument(format!(
            "snake: {} alphas for {c} channels",
            alpha.len()
        )));
    }
    let mut v: Vec<f32> = x.flatten_all()?.to_vec1()?;
    for (row, chunk) in v.chunks_mut(t.max(1)).enumerate() {
        let a = alpha[row % c];
        let inv = 1.0 / (a + 1e-9);
        for e in chunk.iter_mut() {
            let s = (*e * a).sin();
            *e += inv * (s * s);
        }
    }
    Ok(Tensor::from_vec(v, (b, c, t), x.device())?)
}

/// Exact (erf) GELU.
pub(crate) fn gelu(x: &Tensor) -> Result<Tensor> {
    Ok(x.gelu_erf()?)
}

/// `softmax` over the last axis.
pub(crate) fn softmax(x: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::ops::softmax_last_dim(x)?)
}

/// `(B, C, T) ↔ (B, T, C)`, contiguous.
pub(crate) fn swap_ct(x: &Tensor) -> Result<Tensor> {
    Ok(x.transpose(1, 2)?.contiguous()?)
}
