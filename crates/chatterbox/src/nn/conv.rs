//! Convolutions: time-major stride-1 (one product over an unfolded input), channels-first
//! (packed kernel or candle), transposed, and weight norm folded at load.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::get;
use super::linear::{Epilogue, MatW};
use crate::kernels::gemm::PackedConv;
use crate::kernels::{in_place, kernel, simd, with_slice};
use crate::{Error, Result};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::gemm::PackedConv;
    use candle_core::Device;

    #[test]
    #[cfg_attr(
        not(host_avx2_fma),
        ignore = "this CPU has no AVX2+FMA, the packed kernels' only path (callers use candle there)"
    )]
    fn packed_and_plain_convolutions_agree() -> Result<()> {
        let dev = Device::Cpu;
        let (cout, cin, k) = (10, 7, 5);
        let w = Tensor::randn(0f32, 1.0, (cout, cin, k), &dev)?;
        let b = Tensor::randn(0f32, 1.0, cout, &dev)?;
        let x = Tensor::randn(0f32, 1.0, (2, cin, 90), &dev)?;
        let bias = Some(b.to_vec1::<f32>()?);
        let packed = with_slice(&w, |s| PackedConv::new(s, cout, cin, k))?
            .expect("AVX2+FMA (detected at build time)");
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
}
