//! Hand-written CPU kernels shared by every model: runtime SIMD dispatch for element-wise loops
//! ([`simd`]), in-place element-wise ops on fresh tensors, vectorisable `exp`/`sin`/GELU and row
//! softmax, the packed-weight matrix product with fused epilogues ([`gemm`]) and fused attention
//! without a score matrix ([`attention`]). Where the CPU lacks AVX2+FMA, callers fall back to
//! candle's own ops.

pub mod attention;
pub mod gemm;
pub mod norm;

use candle_core::Tensor;

use crate::{Error, Result};

/// An element-wise kernel run through [`simd`]. `run` must be `#[inline(always)]` and do its work
/// in its own body or in `#[inline(always)]` functions it calls directly (calls through a closure
/// or a function pointer stay separate, baseline-compiled functions).
pub trait SimdKernel {
    type Args<'a>;
    fn run(args: Self::Args<'_>);
}

/// Run `K::run(args)` compiled for the best instruction set the CPU has (AVX2+FMA, AVX-512 …,
/// via `pulp`'s runtime dispatch), so the loops vectorise beyond the SSE2 baseline. The
/// arithmetic is unchanged (Rust never contracts `a·b + c` into an FMA), so results are
/// bit-identical to the baseline build.
#[inline(always)]
pub fn simd<K: SimdKernel>(args: K::Args<'_>) {
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

/// `kernel!(Name, (args…): (types…), { body })` defines a [`SimdKernel`] named `Name`.
macro_rules! kernel {
    ($name:ident, ($($a:pat),*): ($($t:ty),*), $body:block) => {
        struct $name;
        impl $crate::kernels::SimdKernel for $name {
            type Args<'a> = ($($t),*);
            #[inline(always)]
            fn run(($($a),*): Self::Args<'_>) $body
        }
    };
}
pub(crate) use kernel;

/// Elements per parallel task of the element-wise kernels.
pub(crate) const PAR_CHUNK: usize = 1 << 14;

/// Run `f` on the data of a fresh contiguous f32 CPU tensor, in place (a candle in-place op
/// without a struct per kernel). Pass a tensor nothing else refers to.
pub fn in_place(x: &Tensor, name: &'static str, f: impl Fn(&mut [f32])) -> Result<()> {
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

pub(crate) fn contiguous_f32_mut<'a>(
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

/// `sin(x)` in f32 to ~1e-7 absolute for `|x| < 1e5`: Cody–Waite reduction by π (four-part
/// constant), then an odd Taylor polynomial to degree 11 on `[−π/2, π/2]`; branch-free.
#[inline(always)]
pub fn sin_approx(x: f32) -> f32 {
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
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    par_map(x, gelu_scalar)
}

#[inline(always)]
pub fn gelu_scalar(v: f32) -> f32 {
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
pub fn softmax_(x: Tensor) -> Result<Tensor> {
    let x = x.contiguous()?;
    let n = x.dims().last().copied().unwrap_or(1).max(1);
    use rayon::prelude::*;
    in_place(&x, "row-softmax", |data| {
        data.par_chunks_mut(n).for_each(simd::<SoftmaxK>)
    })?;
    Ok(x)
}

/// `softmax` over the last axis (copying).
pub fn softmax(x: &Tensor) -> Result<Tensor> {
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

/// `softmax` of one row in place (inline it into a [`SimdKernel`] so it vectorises).
#[inline(always)]
pub(crate) fn softmax_row(row: &mut [f32]) {
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
pub fn with_slice<R>(x: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
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
pub fn exp_approx(x: f32) -> f32 {
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
pub fn par_map(x: &Tensor, f: impl Fn(f32) -> f32 + Sync + Copy) -> Result<Tensor> {
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

/// Uniform values in `[-1, 1)` from a xorshift generator: test data for the kernel tests.
#[cfg(test)]
pub(crate) fn test_uniform(mut state: u64) -> impl FnMut() -> f32 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<f32> {
        (-4000..4000).map(|i| i as f32 * 0.01).collect()
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
}
