//! Small building blocks shared by the flow and the vocoder: convolutions in time-major layout,
//! weight-normed convolutions folded at load time, and element-wise activations candle lacks.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use super::gemm::{PackedConv, PackedWeights, Post};
use crate::{Error, Result};

/// An element-wise kernel run through [`simd`]. `run` must be `#[inline(always)]` and do its work
/// in its own body or in `#[inline(always)]` functions it calls directly (calls through a closure
/// or a function pointer stay separate, baseline-compiled functions).
pub(crate) trait SimdKernel {
    type Args<'a>;
    fn run(args: Self::Args<'_>);
}

/// Run `K::run(args)` compiled for the best instruction set the CPU has (AVX2+FMA, AVX-512 …,
/// via `pulp`'s runtime dispatch), so the loops vectorise beyond the SSE2 baseline. The
/// arithmetic is unchanged (Rust never contracts `a·b + c` into an FMA), so results are
/// bit-identical to the baseline build.
#[inline(always)]
pub(crate) fn simd<K: SimdKernel>(args: K::Args<'_>) {
    pulp::Arch::new().dispatch(Dispatch::<K>(args))
}

struct Dispatch<'a, K: SimdKernel>(K::Args<'a>);

impl<K: SimdKernel> pulp::WithSimd for Dispatch<'_, K> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        K::run(self.0)
    }
}

macro_rules! kernel {
    ($name:ident, ($($a:pat),*): ($($t:ty),*), $body:block) => {
        struct $name;
        impl SimdKernel for $name {
            type Args<'a> = ($($t),*);
            #[inline(always)]
            fn run(($($a),*): Self::Args<'_>) $body
        }
    };
}

/// Fetch a tensor as f32 (checkpoints may store other float dtypes).
pub(crate) fn get(vb: &VarBuilder, shape: &[usize], name: &str) -> Result<Tensor> {
    Ok(vb.get(shape, name)?.to_dtype(DType::F32)?)
}

/// `nn.Linear` (weight `(out, in)`, optional bias) applied over the last axis of any-rank input.
/// The bias (and an optional activation or residual) is applied in place on the fresh product.
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    /// `(in, out)`.
    w: MatW,
    b: Option<Vec<f32>>,
}

/// A `(K, N)` weight matrix for `x·W`: packed for the AVX2 kernel when the CPU has one, else a
/// contiguous tensor for candle's matmul.
#[derive(Debug, Clone)]
enum MatW {
    Packed(PackedWeights),
    Plain(Tensor),
}

impl MatW {
    /// From a `(K, N)` tensor.
    fn new(w: &Tensor) -> Result<Self> {
        let w = w.contiguous()?;
        let (k, n) = w.dims2()?;
        Ok(match with_slice(&w, |s| PackedWeights::new(s, k, n))? {
            Some(p) => Self::Packed(p),
            None => Self::Plain(w),
        })
    }

    fn k(&self) -> usize {
        match self {
            Self::Packed(p) => p.k(),
            Self::Plain(w) => w.dims()[0],
        }
    }

    fn n(&self) -> usize {
        match self {
            Self::Packed(p) => p.n(),
            Self::Plain(w) => w.dims()[1],
        }
    }

    /// `epi(x·W + bias)` for `x` `(rows, K)` → `(rows, N)`.
    fn apply(&self, x: &Tensor, bias: Option<&[f32]>, epi: Epilogue) -> Result<Tensor> {
        let (rows, k) = x.dims2()?;
        if k != self.k() {
            return Err(Error::InvalidArgument(format!(
                "matmul: input width {k}, weights expect {}",
                self.k()
            )));
        }
        if let Epilogue::Residual(r) = epi {
            if r.elem_count() != rows * self.n() {
                return Err(Error::InvalidArgument(format!(
                    "matmul: residual {:?} for {rows} × {} outputs",
                    r.dims(),
                    self.n()
                )));
            }
        }
        let w = match self {
            Self::Packed(pw) => {
                let y = with_slice(x, |xs| match epi {
                    Epilogue::None => Ok(pw.matmul(xs, bias, Post::None)),
                    Epilogue::Gelu => Ok(pw.matmul(xs, bias, Post::Gelu)),
                    Epilogue::Residual(r) => {
                        with_slice(r, |rs| pw.matmul(xs, bias, Post::Residual(rs)))
                    }
                })??;
                return Ok(Tensor::from_vec(y, (rows, pw.n()), x.device())?);
            }
            Self::Plain(w) => w,
        };
        let y = x.matmul(w)?;
        match epi {
            Epilogue::None if bias.is_none() => {}
            Epilogue::None => bias_act_(&y, bias, false)?,
            Epilogue::Gelu => bias_act_(&y, bias, true)?,
            Epilogue::Residual(r) => {
                let r = r.reshape(y.shape())?.contiguous()?;
                y.inplace_op2(&r, &BiasResidual { bias })?
            }
        }
        Ok(y)
    }
}

/// What [`Linear::forward_with`] applies after the bias.
pub(crate) enum Epilogue<'a> {
    None,
    /// Exact (erf) GELU.
    Gelu,
    /// `residual + (x·W + b)`; the residual has the output's shape.
    Residual(&'a Tensor),
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
            w: MatW::new(&w.t()?)?,
            b: b.map(|b| b.flatten_all()?.to_vec1::<f32>()).transpose()?,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, Epilogue::None)
    }

    pub(crate) fn forward_with(&self, x: &Tensor, epi: Epilogue) -> Result<Tensor> {
        let mut dims = x.dims().to_vec();
        let last = dims.len() - 1;
        let rows = x.elem_count() / dims[last].max(1);
        let y = self
            .w
            .apply(&x.reshape((rows, dims[last]))?, self.b.as_deref(), epi)?;
        dims[last] = self.w.n();
        Ok(y.reshape(dims)?)
    }
}

/// In place on a fresh contiguous `(rows, n)` product: `y + b`, then GELU if asked.
fn bias_act_(y: &Tensor, bias: Option<&[f32]>, gelu: bool) -> Result<()> {
    use rayon::prelude::*;
    let n = y.dims().last().copied().unwrap_or(1).max(1);
    let rows_per_task = (PAR_CHUNK / n).max(1);
    in_place(y, "bias-act", |data| {
        data.par_chunks_mut(rows_per_task * n)
            .for_each(|c| simd::<BiasActK>((c, n, bias, gelu)))
    })
}

kernel!(BiasActK, (c, n, bias, gelu): (&'a mut [f32], usize, Option<&'a [f32]>, bool), {
    for row in c.chunks_mut(n) {
        if let Some(b) = bias {
            for (o, &b) in row.iter_mut().zip(b) {
                *o += b;
            }
        }
        if gelu {
            for o in row.iter_mut() {
                *o = gelu_scalar(*o);
            }
        }
    }
});

/// In place on a contiguous `(rows, n)` product: `residual + (y + b)`.
struct BiasResidual<'a> {
    bias: Option<&'a [f32]>,
}

impl candle_core::InplaceOp2 for BiasResidual<'_> {
    fn name(&self) -> &'static str {
        "bias-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &mut candle_core::CpuStorage,
        l1: &candle_core::Layout,
        s2: &candle_core::CpuStorage,
        l2: &candle_core::Layout,
    ) -> candle_core::Result<()> {
        use rayon::prelude::*;
        let n = l1.dims().last().copied().unwrap_or(1).max(1);
        let data = contiguous_f32_mut(s1, l1)?;
        let Some((start, end)) = l2.contiguous_offsets() else {
            candle_core::bail!("bias-residual: residual is not contiguous")
        };
        let candle_core::CpuStorage::F32(res) = s2 else {
            candle_core::bail!("bias-residual: f32 only")
        };
        let res = &res[start..end];
        if res.len() != data.len() {
            candle_core::bail!("bias-residual: {} residuals for {}", res.len(), data.len())
        }
        let rows_per_task = (PAR_CHUNK / n).max(1);
        data.par_chunks_mut(rows_per_task * n)
            .zip(res.par_chunks(rows_per_task * n))
            .for_each(|(c, r)| simd::<BiasResidualK>((c, r, n, self.bias)));
        Ok(())
    }
}

kernel!(BiasResidualK, (c, r, n, bias): (&'a mut [f32], &'a [f32], usize, Option<&'a [f32]>), {
    for (row, rrow) in c.chunks_mut(n).zip(r.chunks(n)) {
        match bias {
            Some(b) => {
                for ((o, &b), &r) in row.iter_mut().zip(b).zip(rrow) {
                    *o = r + (*o + b);
                }
            }
            None => {
                for (o, &r) in row.iter_mut().zip(rrow) {
                    *o += r;
                }
            }
        }
    }
});

/// Elements per parallel task of the element-wise kernels.
const PAR_CHUNK: usize = 1 << 14;

/// Run `f` on the data of a fresh contiguous f32 CPU tensor, in place (a candle in-place op
/// without a struct per kernel). Pass a tensor nothing else refers to.
pub(crate) fn in_place(x: &Tensor, name: &'static str, f: impl Fn(&mut [f32])) -> Result<()> {
    struct Op<'a, F>(&'static str, &'a F);

    impl<F: Fn(&mut [f32])> candle_core::InplaceOp1 for Op<'_, F> {
        fn name(&self) -> &'static str {
            self.0
        }

        fn cpu_fwd(
            &self,
            storage: &mut candle_core::CpuStorage,
            layout: &candle_core::Layout,
        ) -> candle_core::Result<()> {
            (self.1)(contiguous_f32_mut(storage, layout)?);
            Ok(())
        }
    }

    Ok(x.inplace_op1(&Op(name, &f))?)
}

fn contiguous_f32_mut<'a>(
    storage: &'a mut candle_core::CpuStorage,
    layout: &candle_core::Layout,
) -> candle_core::Result<&'a mut [f32]> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("in-place kernel: input is not contiguous")
    };
    let candle_core::CpuStorage::F32(data) = storage else {
        candle_core::bail!("in-place kernel: f32 only")
    };
    Ok(&mut data[start..end])
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
    w: MatW,
    b: Option<Vec<f32>>,
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
        let w = w.permute((2, 1, 0))?.reshape((k * inp, out))?;
        Ok(Self {
            w: MatW::new(&w)?,
            b: Some(b.to_vec1::<f32>()?),
            k,
            left,
            right,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let t_out = (t + self.left + self.right + 1)
            .checked_sub(self.k)
            .ok_or_else(|| {
                Error::InvalidArgument(format!("conv: {t} frames for kernel {}", self.k))
            })?;
        let cols = if self.k == 1 && self.left + self.right == 0 {
            x.contiguous()?
        } else {
            // Unfold: row (b, t) = [x[t − left + j] for j in 0..k] (zeros outside), one pass.
            use rayon::prelude::*;
            let (k, left) = (self.k, self.left);
            let width = k * c;
            let mut out = vec![0f32; b * t_out * width];
            with_slice(x, |src| {
                out.par_chunks_mut(width).enumerate().for_each(|(row, o)| {
                    let (bi, to) = (row / t_out, row % t_out);
                    for j in 0..k {
                        let ti = (to + j).wrapping_sub(left);
                        if ti < t {
                            let s = (bi * t + ti) * c;
                            o[j * c..(j + 1) * c].copy_from_slice(&src[s..s + c]);
                        }
                    }
                })
            })?;
            Tensor::from_vec(out, (b, t_out, width), x.device())?
        };
        let y = self.w.apply(
            &cols.reshape((b * t_out, self.k * c))?,
            self.b.as_deref(),
            Epilogue::None,
        )?;
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

/// A Conv1d on `(B, C, T)` input, optionally weight-normed: stride 1 through the packed AVX2
/// kernel when the CPU has one, otherwise an unfold + candle matmul (or candle's conv1d for
/// strided convolutions).
#[derive(Debug, Clone)]
pub(crate) struct Conv1d {
    w: ConvWeights,
    b: Option<Tensor>,
    padding: usize,
    stride: usize,
    dilation: usize,
}

#[derive(Debug, Clone)]
enum ConvWeights {
    /// Stride-1 weights packed for the kernel, with the bias as a plain vector.
    Packed(PackedConv, Option<Vec<f32>>),
    /// `(Cout, Cin, k)`.
    Plain(Tensor),
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
        let packed = if stride == 1 {
            with_slice(&w, |s| PackedConv::new(s, out, inp, k))?
        } else {
            None
        };
        let w = match packed {
            Some(p) => {
                let bias = b.as_ref().map(|b| b.to_vec1::<f32>()).transpose()?;
                ConvWeights::Packed(p, bias)
            }
            None => ConvWeights::Plain(w),
        };
        Ok(Self {
            w,
            b,
            padding,
            stride,
            dilation,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let w = match &self.w {
            ConvWeights::Packed(p, bias) => return self.forward_packed(x, p, bias.as_deref()),
            ConvWeights::Plain(w) if self.stride == 1 => return self.forward_unfolded(x, w),
            ConvWeights::Plain(w) => w,
        };
        let y = x.conv1d(w, self.padding, self.stride, self.dilation, 1)?;
        Ok(match &self.b {
            Some(b) => y.broadcast_add(&b.reshape((1, (), 1))?)?,
            None => y,
        })
    }

    /// Stride 1 through [`PackedConv`], one batch row at a time.
    fn forward_packed(&self, x: &Tensor, p: &PackedConv, bias: Option<&[f32]>) -> Result<Tensor> {
        let (b, cin, t) = x.dims3()?;
        if cin != p.cin() {
            return Err(Error::InvalidArgument(format!(
                "conv1d: {cin} input channels, weights expect {}",
                p.cin()
            )));
        }
        let span = self.dilation * (p.k() - 1) + 1;
        let t_out = (t + 2 * self.padding)
            .checked_sub(span)
            .map(|v| v + 1)
            .ok_or_else(|| {
                Error::InvalidArgument(format!("conv1d: {t} frames for a span of {span}"))
            })?;
        let rows: Vec<Vec<f32>> = with_slice(x, |xs| {
            xs.chunks_exact(cin * t)
                .map(|xb| p.conv(xb, t, self.padding, self.dilation, bias))
                .collect()
        })?;
        // One batch row (the vocoder's case) is used as it is, without a copy.
        let y = match <[Vec<f32>; 1]>::try_from(rows) {
            Ok([only]) => only,
            Err(rows) => rows.concat(),
        };
        Ok(Tensor::from_vec(y, (b, p.cout(), t_out), x.device())?)
    }

    /// Stride 1, channels first: unfold the padded input into `(Cin·k, T')` (row `c·k + j` is
    /// channel `c` shifted by tap `j`, one contiguous copy per row), then one product
    /// `W (Cout, Cin·k) · cols` lands directly in the `(Cout, T')` output layout.
    fn forward_unfolded(&self, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        use rayon::prelude::*;
        let (b, cin, t) = x.dims3()?;
        let (cout, _, k) = w.dims3()?;
        let (pad, dil) = (self.padding, self.dilation);
        let span = dil * (k - 1) + 1;
        let t_out = (t + 2 * pad)
            .checked_sub(span)
            .map(|v| v + 1)
            .ok_or_else(|| {
                Error::InvalidArgument(format!("conv1d: {t} frames for a span of {span}"))
            })?;
        let w = w.reshape((cout, cin * k))?;
        let mut outs = Vec::with_capacity(b);
        for bi in 0..b {
            let mut cols = vec![0f32; cin * k * t_out];
            with_slice(&x.get(bi)?, |src| {
                cols.par_chunks_mut(t_out).enumerate().for_each(|(row, o)| {
                    let (c, j) = (row / k, row % k);
                    let src = &src[c * t..(c + 1) * t];
                    // Output frame i reads input frame i + j·dil − pad.
                    let shift = (j * dil) as isize - pad as isize;
                    let lo = (-shift).clamp(0, t_out as isize) as usize;
                    let hi = (t as isize - shift).clamp(lo as isize, t_out as isize) as usize;
                    if hi > lo {
                        let s0 = (lo as isize + shift) as usize;
                        o[lo..hi].copy_from_slice(&src[s0..s0 + (hi - lo)]);
                    }
                })
            })?;
            let cols = Tensor::from_vec(cols, (cin * k, t_out), x.device())?;
            outs.push(w.matmul(&cols)?);
        }
        let y = if b == 1 {
            outs.remove(0).unsqueeze(0)?
        } else {
            Tensor::stack(&outs, 0)?
        };
        if let Some(bias) = &self.b {
            // In place on the fresh product: row (b, c) gets bias[c].
            use rayon::prelude::*;
            let bias = bias.to_vec1::<f32>()?;
            in_place(&y, "channel-bias", |data| {
                data.par_chunks_mut(t_out.max(1))
                    .enumerate()
                    .for_each(|(row, x)| simd::<AddScalarK>((x, bias[row % bias.len()])))
            })?;
        }
        Ok(y)
    }
}

kernel!(AddScalarK, (x, b): (&'a mut [f32], f32), {
    for v in x.iter_mut() {
        *v += b;
    }
});

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

/// `x·tanh(softplus(x))`, written as `x·n(n+2)/(n(n+2)+2)` with `n = eˣ` (one exponential).
pub(crate) fn mish(x: &Tensor) -> Result<Tensor> {
    par_map(x, mish_scalar)
}

#[inline(always)]
fn mish_scalar(v: f32) -> f32 {
    let n = exp_approx(v.min(20.0));
    let m = n * (n + 2.0);
    let y = v * m / (m + 2.0);
    if v > 20.0 {
        v
    } else {
        y
    }
}

/// In place on a fresh contiguous `(B, T, C)` tensor: `Mish(x)`, plus `add[b]` `(B, C)` per
/// batch row when given.
pub(crate) fn mish_add_(x: Tensor, add: Option<&Tensor>) -> Result<Tensor> {
    let x = x.contiguous()?;
    let (b, t, c) = x.dims3()?;
    let add = match add {
        Some(a) => {
            let a = a.flatten_all()?.to_vec1::<f32>()?;
            if a.len() != b * c {
                return Err(Error::InvalidArgument(format!(
                    "mish_add: {} values for batch {b} × {c} channels",
                    a.len()
                )));
            }
            Some(a)
        }
        None => None,
    };
    use rayon::prelude::*;
    let c = c.max(1);
    let rows_per_task = (PAR_CHUNK / c).max(1);
    in_place(&x, "mish-add", |data| {
        data.par_chunks_mut(rows_per_task * c)
            .enumerate()
            .for_each(|(task, chunk)| {
                let row0 = task * rows_per_task;
                simd::<MishAddK>((chunk, c, row0, t.max(1), add.as_deref()))
            })
    })?;
    Ok(x)
}

kernel!(MishAddK, (chunk, c, row0, t, add): (&'a mut [f32], usize, usize, usize, Option<&'a [f32]>), {
    for (i, row) in chunk.chunks_mut(c).enumerate() {
        match add {
            Some(a) => {
                let bi = (row0 + i) / t;
                let a = &a[bi * c..(bi + 1) * c];
                for (o, &a) in row.iter_mut().zip(a) {
                    *o = mish_scalar(*o) + a;
                }
            }
            None => {
                for o in row.iter_mut() {
                    *o = mish_scalar(*o);
                }
            }
        }
    }
});

pub(crate) fn silu(x: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::ops::silu(x)?)
}

pub(crate) fn leaky_relu(x: &Tensor, slope: f32) -> Result<Tensor> {
    par_map(x, |v| if v > 0.0 { v } else { v * slope })
}

pub(crate) fn elu(x: &Tensor) -> Result<Tensor> {
    par_map(x, |v| if v > 0.0 { v } else { v.exp_m1() })
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
    use rayon::prelude::*;
    let mut out = vec![0f32; x.elem_count()];
    with_slice(x, |src| {
        out.par_chunks_mut(t.max(1))
            .zip(src.par_chunks(t.max(1)))
            .enumerate()
            .for_each(|(row, (o, s))| {
                let a = alpha[row % c];
                simd::<SnakeK>((o, s, a))
            })
    })?;
    Ok(Tensor::from_vec(out, (b, c, t), x.device())?)
}

kernel!(SnakeK, (o, s, a): (&'a mut [f32], &'a [f32], f32), {
    let inv = 1.0 / (a + 1e-9);
    for (o, &e) in o.iter_mut().zip(s) {
        let sn = sin_approx(e * a);
        *o = e + inv * (sn * sn);
    }
});

/// `sin(x)` in f32 to ~1e-7 absolute for `|x| < 1e5`: Cody–Waite reduction by π (four-part
/// constant), then an odd Taylor polynomial to degree 11 on `[−π/2, π/2]`; branch-free.
#[inline(always)]
pub(crate) fn sin_approx(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    let k = x * std::f32::consts::FRAC_1_PI + MAGIC;
    let n = k - MAGIC;
    let r = x - n * 3.140_625 - n * 9.670_257_6e-4 - n * 6.277_114e-7 - n * 1.215_420_1e-10;
    let r2 = r * r;
    let p = ((((-2.505_210_8e-8 * r2 + 2.755_731_9e-6) * r2 - 1.984_127e-4) * r2 + 8.333_333e-3)
        * r2
        - 1.666_666_7e-1)
        * r2
        * r
        + r;
    // (−1)^n from the integer's lowest bit.
    let odd = (k.to_bits() ^ MAGIC.to_bits()) & 1;
    f32::from_bits(p.to_bits() ^ (odd << 31))
}

/// Exact (erf) GELU, `x/2 · (1 + erf(x/√2))`, with erf to 1.5e-7 (Abramowitz–Stegun 7.1.26,
/// the approximation PyTorch's vectorised CPU kernel uses too).
#[cfg(test)]
pub(crate) fn gelu(x: &Tensor) -> Result<Tensor> {
    par_map(x, gelu_scalar)
}

#[inline(always)]
pub(crate) fn gelu_scalar(v: f32) -> f32 {
    let z = v * std::f32::consts::FRAC_1_SQRT_2;
    let a = z.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let p = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_8) * t - 0.284_496_72) * t
        + 0.254_829_6)
        * t;
    let e = 1.0 - p * exp_approx(-a * a);
    let erf = if z < 0.0 { -e } else { e };
    0.5 * v * (1.0 + erf)
}

/// `softmax` over the last axis, rows in parallel, with a vectorisable exponential, computed in
/// place: pass a tensor nothing else refers to (a fresh matmul output).
pub(crate) fn softmax_(x: Tensor) -> Result<Tensor> {
    let x = x.contiguous()?;
    let n = x.dims().last().copied().unwrap_or(1).max(1);
    use rayon::prelude::*;
    in_place(&x, "row-softmax", |data| {
        data.par_chunks_mut(n).for_each(simd::<SoftmaxK>)
    })?;
    Ok(x)
}

/// `softmax` over the last axis (copying).
pub(crate) fn softmax(x: &Tensor) -> Result<Tensor> {
    softmax_(x.copy()?)
}

struct SoftmaxK;

impl SimdKernel for SoftmaxK {
    type Args<'a> = &'a mut [f32];

    #[inline(always)]
    fn run(row: &mut [f32]) {
        softmax_row(row)
    }
}

#[inline(always)]
fn softmax_row(row: &mut [f32]) {
    let mut m = [f32::NEG_INFINITY; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            m[l] = if c[l] > m[l] { c[l] } else { m[l] };
        }
    }
    let mut max = m.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    for &e in chunks.remainder() {
        max = max.max(e);
    }
    for o in row.iter_mut() {
        *o = exp_approx(*o - max);
    }
    let mut acc = [0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    let sum = acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>();
    let inv = 1.0 / sum;
    for o in row.iter_mut() {
        *o *= inv;
    }
}

/// Run `f` on the tensor's contiguous f32 data without copying it.
pub(crate) fn with_slice<R>(x: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let x = x.contiguous()?;
    let (storage, layout) = x.storage_and_layout();
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| Error::InvalidArgument("tensor is not contiguous".into()))?;
    match &*storage {
        candle_core::Storage::Cpu(cpu) => Ok(f(&cpu.as_slice::<f32>()?[start..end])),
        _ => Err(Error::InvalidArgument(
            "element-wise kernels run on CPU tensors only".into(),
        )),
    }
}

/// `eˣ` in f32 to about 1 ulp (Cephes `expf` polynomial), branch-free so it vectorises. Inputs
/// are clamped to the finite range.
#[inline(always)]
pub(crate) fn exp_approx(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let k = x * std::f32::consts::LOG2_E + MAGIC;
    let n = k - MAGIC;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let y = p * r * r + r + 1.0;
    let bits = (k.to_bits() as i32 - MAGIC.to_bits() as i32 + 127) << 23;
    y * f32::from_bits(bits as u32)
}

/// Element-wise map over a tensor in parallel chunks.
pub(crate) fn par_map(x: &Tensor, f: impl Fn(f32) -> f32 + Sync + Copy) -> Result<Tensor> {
    use rayon::prelude::*;
    let mut out = vec![0f32; x.elem_count()];
    with_slice(x, |src| {
        out.par_chunks_mut(PAR_CHUNK)
            .zip(src.par_chunks(PAR_CHUNK))
            .for_each(|(o, s)| simd::<MapK<_>>((o, s, f)))
    })?;
    Ok(Tensor::from_vec(out, x.shape().clone(), x.device())?)
}

struct MapK<F>(std::marker::PhantomData<F>);

impl<F: Fn(f32) -> f32 + Copy> SimdKernel for MapK<F> {
    type Args<'a> = (&'a mut [f32], &'a [f32], F);

    #[inline(always)]
    fn run((o, s, f): Self::Args<'_>) {
        for (o, &e) in o.iter_mut().zip(s) {
            *o = f(e);
        }
    }
}

/// `(B, C, T) ↔ (B, T, C)`, contiguous.
pub(crate) fn swap_ct(x: &Tensor) -> Result<Tensor> {
    Ok(x.transpose(1, 2)?.contiguous()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn grid() -> Vec<f32> {
        (-4000..4000).map(|i| i as f32 * 0.01).collect()
    }

    #[test]
    fn packed_and_plain_weights_agree() -> Result<()> {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (40, 24), &dev)?;
        let x = Tensor::randn(0f32, 1.0, (13, 40), &dev)?;
        let r = Tensor::randn(0f32, 1.0, (13, 24), &dev)?;
        let bias: Vec<f32> = (0..24).map(|i| i as f32 * 0.1 - 1.0).collect();
        let plain = MatW::Plain(w.clone());
        let packed = MatW::new(&w)?;
        for epi in [Epilogue::None, Epilogue::Gelu, Epilogue::Residual(&r)] {
            let (a, b) = match epi {
                Epilogue::None => (
                    plain.apply(&x, Some(&bias), Epilogue::None)?,
                    packed.apply(&x, Some(&bias), Epilogue::None)?,
                ),
                Epilogue::Gelu => (
                    plain.apply(&x, Some(&bias), Epilogue::Gelu)?,
                    packed.apply(&x, Some(&bias), Epilogue::Gelu)?,
                ),
                Epilogue::Residual(r) => (
                    plain.apply(&x, None, Epilogue::Residual(r))?,
                    packed.apply(&x, None, Epilogue::Residual(r))?,
                ),
            };
            let err: f32 = (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar()?;
            assert!(err < 1e-5, "max abs difference {err}");
        }
        assert!(packed
            .apply(&x.narrow(1, 0, 39)?, None, Epilogue::None)
            .is_err());
        assert!(packed
            .apply(&x, None, Epilogue::Residual(&r.narrow(0, 0, 12)?))
            .is_err());
        Ok(())
    }

    #[test]
    fn packed_and_plain_convolutions_agree() -> Result<()> {
        let dev = Device::Cpu;
        let (cout, cin, k) = (10, 7, 5);
        let w = Tensor::randn(0f32, 1.0, (cout, cin, k), &dev)?;
        let b = Tensor::randn(0f32, 1.0, cout, &dev)?;
        let x = Tensor::randn(0f32, 1.0, (2, cin, 90), &dev)?;
        let bias = Some(b.to_vec1::<f32>()?);
        let Some(packed) = with_slice(&w, |s| PackedConv::new(s, cout, cin, k))? else {
            return Ok(());
        };
        for (padding, dilation) in [(2, 1), (6, 3), (0, 1)] {
            let conv = |w: ConvWeights| Conv1d {
                w,
                b: Some(b.clone()),
                padding,
                stride: 1,
                dilation,
            };
            let a = conv(ConvWeights::Plain(w.clone())).forward(&x)?;
            let p = conv(ConvWeights::Packed(packed.clone(), bias.clone())).forward(&x)?;
            assert_eq!(a.dims(), p.dims());
            let err: f32 = (a - p)?.abs()?.flatten_all()?.max(0)?.to_scalar()?;
            assert!(err < 1e-5, "pad {padding} dil {dilation}: {err}");
        }
        Ok(())
    }

    #[test]
    fn fast_exp_is_within_a_few_ulp() {
        for x in grid().into_iter().chain([-86.0, -50.0, 50.0, 87.5]) {
            let want = f64::from(x).exp();
            let got = f64::from(exp_approx(x));
            assert!(
                ((got - want) / want).abs() < 3e-7,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn fast_sin_is_accurate() {
        for i in -200_000..200_000 {
            let x = i as f32 * 0.003_7;
            let want = f64::from(x).sin();
            let got = f64::from(sin_approx(x));
            assert!((got - want).abs() < 3e-7, "sin({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn gelu_and_mish_match_their_definitions() -> Result<()> {
        let xs = grid();
        let t = Tensor::from_vec(xs.clone(), xs.len(), &Device::Cpu)?;
        let g: Vec<f32> = gelu(&t)?.to_vec1()?;
        let m: Vec<f32> = mish(&t)?.to_vec1()?;
        let exact: Vec<f32> = t.gelu_erf()?.to_vec1()?;
        for (i, &x) in xs.iter().enumerate() {
            assert!(
                (g[i] - exact[i]).abs() < 1e-6,
                "gelu({x}) {} vs {}",
                g[i],
                exact[i]
            );
            let xd = f64::from(x);
            let want = xd * xd.exp().ln_1p().tanh();
            assert!(
                (f64::from(m[i]) - want).abs() < 2e-6 * (1.0 + want.abs()),
                "mish({x})"
            );
        }
        let s: Vec<f32> = softmax(&Tensor::new(&[[1f32, 2.0, 3.0]], &Device::Cpu)?)?
            .flatten_all()?
            .to_vec1()?;
        let e: Vec<f64> = [1f64, 2.0, 3.0].iter().map(|v| v.exp()).collect();
        let sum: f64 = e.iter().sum();
        for (a, b) in s.iter().zip(&e) {
            assert!((f64::from(*a) - b / sum).abs() < 1e-7);
        }
        Ok(())
    }
}
