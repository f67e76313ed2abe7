//! `nn.Linear` over the packed matrix product, with fused bias / GELU / residual epilogues.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use super::get;
use crate::kernels::gemm::{PackedWeights, Post};
use crate::kernels::{
    contiguous_f32_mut, gelu_scalar, in_place, kernel, simd, with_slice, PAR_CHUNK,
};
use crate::{Error, Result};

/// `nn.Linear` (weight `(out, in)`, optional bias) applied over the last axis of any-rank input.
/// The bias (and an optional activation or residual) is applied in place on the fresh product.
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    /// `(in, out)`.
    w: MatW,
    b: Option<Vec<f32>>,
}

/// A `(K, N)` weight matrix for `x·W`: packed for the AVX-512 / AVX2 kernel when the CPU has one
/// (its product takes a matrix-vector path for at most 8 rows, so T3's layers, which see a
/// prefill and then one or two rows per decoding step, hold this one copy), else a contiguous
/// tensor for candle's matmul, or (CPUs without the packed kernels) the PyTorch `(N, K)` weight.
#[derive(Debug, Clone)]
pub(crate) enum MatW {
    Packed(PackedWeights),
    Plain(Tensor),
    /// `(N, K)`. For at most [`FEW_ROWS`] rows the product is `(W · xᵀ)ᵀ`: with the weight as the
    /// row-major left operand it streams the weight once, about twice as fast on CPU as `x · Wᵀ`
    /// (which packs the transposed weight); more rows use `x · Wᵀ`.
    RowMajor(Tensor),
    /// Quantized `(N, K)` weight (candle's quantized matmul: activations quantized per block,
    /// integer dot products).
    Quantized(QMatMul, usize, usize),
}

/// Weight precision for the layers that may be quantized (T3's backbone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    /// f32, exactly the reference's arithmetic.
    #[default]
    None,
    /// 8-bit blocks of 32 (`Q8_0`): ~1/4 of the f32 bytes.
    Q8,
    /// 4-bit k-quants (`Q4K`, super-blocks of 256; `Q4_0` for widths not a multiple of 256).
    Q4,
}

impl Quantization {
    /// The block format for an input width `k`, or `None` to keep f32 (width not a multiple
    /// of the 32-element block).
    fn dtype(self, k: usize) -> Option<GgmlDType> {
        match self {
            Self::None => None,
            _ if k % 32 != 0 => None,
            Self::Q8 => Some(GgmlDType::Q8_0),
            Self::Q4 if k % 256 == 0 => Some(GgmlDType::Q4K),
            Self::Q4 => Some(GgmlDType::Q4_0),
        }
    }

    /// `none`, `q8` or `q4`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Q8 => "q8",
            Self::Q4 => "q4",
        }
    }
}

impl std::str::FromStr for Quantization {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "f32" => Ok(Self::None),
            "q8" => Ok(Self::Q8),
            "q4" => Ok(Self::Q4),
            _ => Err(Error::InvalidArgument(format!(
                "quantization must be none, q8 or q4, got {s:?}"
            ))),
        }
    }
}

/// Inputs with at most this many rows take the `W · xᵀ` path of [`MatW::RowMajor`].
const FEW_ROWS: usize = 8;

impl MatW {
    /// From a `(K, N)` tensor.
    pub(crate) fn new(w: &Tensor) -> Result<Self> {
        let w = w.contiguous()?;
        let (k, n) = w.dims2()?;
        Ok(match with_slice(&w, |s| PackedWeights::new(s, k, n))? {
            Some(p) => Self::Packed(p),
            None => Self::Plain(w),
        })
    }

    /// From an `(N, K)` (PyTorch `(out, in)`) weight, for layers that see both many rows (a
    /// prefill) and one or two (decoding steps): quantized when `quantization` applies to width
    /// `K`; else packed (the packed product has a matrix-vector path for few rows, so one copy
    /// serves both), or the row-major layout on CPUs without the packed kernels.
    fn decode_layout(w: Tensor, quantization: Quantization) -> Result<Self> {
        let (n, k) = w.dims2()?;
        if let Some(dtype) = quantization.dtype(k) {
            let w = w.contiguous()?;
            return Ok(Self::Quantized(
                QMatMul::from_qtensor(QTensor::quantize(&w, dtype)?)?,
                k,
                n,
            ));
        }
        let wt = w.t()?;
        let packed = if wt.is_contiguous() {
            // A `(K, N)` tensor viewed as `(N, K)` (GPT-2's `Conv1D` weights).
            with_slice(&wt, |s| PackedWeights::new(s, k, n))?
        } else {
            with_slice(&w, |s| PackedWeights::from_out_in(s, k, n))?
        };
        Ok(match packed {
            Some(p) => Self::Packed(p),
            None => Self::RowMajor(w.contiguous()?),
        })
    }

    fn k(&self) -> usize {
        match self {
            Self::Packed(p) => p.k(),
            Self::Plain(w) => w.dims()[0],
            Self::RowMajor(w) => w.dims()[1],
            Self::Quantized(_, k, _) => *k,
        }
    }

    fn n(&self) -> usize {
        match self {
            Self::Packed(p) => p.n(),
            Self::Plain(w) => w.dims()[1],
            Self::RowMajor(w) => w.dims()[0],
            Self::Quantized(_, _, n) => *n,
        }
    }

    /// `epi(x·W + bias)` for `x` `(rows, K)` → `(rows, N)`.
    pub(crate) fn apply(&self, x: &Tensor, bias: Option<&[f32]>, epi: Epilogue) -> Result<Tensor> {
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
        let y = match self {
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
            Self::Plain(w) => x.matmul(w)?,
            Self::RowMajor(w) if rows <= FEW_ROWS => w.matmul(&x.t()?)?.t()?.contiguous()?,
            Self::RowMajor(w) => x.matmul(&w.t()?)?,
            Self::Quantized(q, _, _) => q.forward(&x.contiguous()?)?,
        };
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
    /// `nn.Linear(inp, out, bias)` under `vb`, packed for many-row inputs.
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

    /// `nn.Linear(inp, out, bias=False)` under `vb`, laid out for a prefill and then few-row
    /// decoding steps (packed, or quantized as `quantization` says; see `MatW::decode_layout`).
    pub(crate) fn load_for_decode(
        vb: &VarBuilder,
        inp: usize,
        out: usize,
        quantization: Quantization,
    ) -> Result<Self> {
        let w = get(vb, &[out, inp], "weight")?;
        Ok(Self {
            w: MatW::decode_layout(w, quantization)?,
            b: None,
        })
    }

    /// `nn.Linear(inp, out)` with a bias under `vb`, laid out as [`Linear::load_for_decode`].
    pub(crate) fn load_for_decode_biased(vb: &VarBuilder, inp: usize, out: usize) -> Result<Self> {
        Ok(Self {
            w: MatW::decode_layout(get(vb, &[out, inp], "weight")?, Quantization::None)?,
            b: Some(get(vb, &[out], "bias")?.to_vec1::<f32>()?),
        })
    }

    /// HF `Conv1D(out, inp)` under `vb` (GPT-2's projections): the weight is stored `(in, out)`,
    /// the transpose of `nn.Linear`'s, and `y = x·W + b`. Laid out as [`Linear::load_for_decode`]
    /// (the bias stays f32).
    pub(crate) fn load_conv1d_for_decode(
        vb: &VarBuilder,
        inp: usize,
        out: usize,
        quantization: Quantization,
    ) -> Result<Self> {
        let w = get(vb, &[inp, out], "weight")?.t()?;
        Ok(Self {
            w: MatW::decode_layout(w, quantization)?,
            b: Some(get(vb, &[out], "bias")?.to_vec1::<f32>()?),
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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    #[cfg_attr(
        not(host_avx2_fma),
        ignore = "this CPU has no AVX2+FMA, the packed kernels' only path (callers use candle there)"
    )]
    fn packed_and_plain_weights_agree() -> Result<()> {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (40, 24), &dev)?;
        let x = Tensor::randn(0f32, 1.0, (13, 40), &dev)?;
        let r = Tensor::randn(0f32, 1.0, (13, 24), &dev)?;
        let bias: Vec<f32> = (0..24).map(|i| i as f32 * 0.1 - 1.0).collect();
        let plain = MatW::Plain(w.clone());
        let packed = MatW::new(&w)?;
        assert!(matches!(packed, MatW::Packed(_)));
        // The decode layout holds the PyTorch `(out, in)` weight; both of its paths must agree.
        let row_major = MatW::RowMajor(w.t()?.contiguous()?);
        // The decode layout packs the `(out, in)` weight (matrix-vector path for ≤ 8 rows), from
        // a contiguous `(out, in)` tensor or a transposed `(in, out)` one alike.
        let decode = MatW::decode_layout(w.t()?.contiguous()?, Quantization::None)?;
        let decode_t = MatW::decode_layout(w.t()?, Quantization::None)?;
        assert!(matches!(decode, MatW::Packed(_)) && matches!(decode_t, MatW::Packed(_)));
        for rows in [1, 2, 3, 8, 9, 13] {
            let xr = x.narrow(0, 0, rows)?;
            let a = plain.apply(&xr, Some(&bias), Epilogue::Gelu)?;
            for (name, m) in [
                ("row-major", &row_major),
                ("decode", &decode),
                ("decode from (in, out)", &decode_t),
            ] {
                let b = m.apply(&xr, Some(&bias), Epilogue::Gelu)?;
                let err: f32 = (&a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar()?;
                assert!(err < 1e-5, "{name}, {rows} rows: max abs difference {err}");
            }
            let b = decode.apply(&xr, None, Epilogue::Residual(&r.narrow(0, 0, rows)?))?;
            let want = (plain.apply(&xr, None, Epilogue::None)? + r.narrow(0, 0, rows)?)?;
            let err: f32 = (want - b)?.abs()?.flatten_all()?.max(0)?.to_scalar()?;
            assert!(err < 1e-5, "decode residual, {rows} rows: {err}");
        }
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
}
