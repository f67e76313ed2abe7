//! Element-wise activations candle lacks (Mish, Snake, …), vectorised through [`simd`].

use candle_core::Tensor;

use crate::kernels::{
    exp_approx, in_place, kernel, par_map, simd, sin_approx, with_slice, PAR_CHUNK,
};
use crate::{Error, Result};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{gelu, softmax};
    use candle_core::Device;

    fn grid() -> Vec<f32> {
        (-4000..4000).map(|i| i as f32 * 0.01).collect()
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
