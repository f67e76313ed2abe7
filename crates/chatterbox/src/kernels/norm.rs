//! LayerNorm over the last axis in one call per block of rows: the row's mean and variance from
//! sixteen-lane partial sums (two passes over the row while it is in L1: mean, then the mean of
//! squared deviations), then `(x − mean) · rstd · γ + β`. Rows are split into tasks of
//! [`ROWS_PER_TASK`] rows, not one task per row.
//!
//! The loops are plain Rust on `[f32; 16]` lanes compiled inside the instruction-set context
//! [`Isa::detect`] picks (AVX-512 or AVX2 + FMA, through `pulp`), so they vectorise; on other CPUs
//! the same code runs at the baseline.

use super::gemm::Isa;

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 64;
/// Lanes of the partial sums.
const L: usize = 16;

/// `out[r] = LN(x[r]) · gamma + beta` for every row `r` of width `gamma.len()`. The caller checks
/// that `x`, `out` have the same length, a multiple of the width, and `beta` the width's.
pub fn layer_norm(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, out: &mut [f32]) {
    layer_norm_with(Isa::detect(), x, gamma, beta, eps, out)
}

/// [`layer_norm`] on the given instruction set (`None`: the baseline build); tests compare the
/// paths.
pub fn layer_norm_with(
    isa: Option<Isa>,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    out: &mut [f32],
) {
    use rayon::prelude::*;
    let c = gamma.len().max(1);
    out.par_chunks_mut(ROWS_PER_TASK * c)
        .zip(x.par_chunks(ROWS_PER_TASK * c))
        .for_each(|(o, x)| {
            let op = Rows {
                x,
                gamma,
                beta,
                eps,
                out: o,
            };
            match isa {
                Some(isa) => super::gemm::with_isa!(isa, s => pulp::Simd::vectorize(s, op)),
                None => pulp::WithSimd::with_simd(op, pulp::Scalar::new()),
            }
        });
}

struct Rows<'a> {
    x: &'a [f32],
    gamma: &'a [f32],
    beta: &'a [f32],
    eps: f32,
    out: &'a mut [f32],
}

impl pulp::WithSimd for Rows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let Rows {
            x,
            gamma,
            beta,
            eps,
            out,
        } = self;
        let c = gamma.len();
        for (xr, or) in x.chunks_exact(c).zip(out.chunks_exact_mut(c)) {
            row(xr, gamma, beta, eps, or);
        }
    }
}

/// Sum of sixteen lanes, pairwise.
#[inline(always)]
fn lanes_sum(mut a: [f32; L]) -> f32 {
    let mut w = L / 2;
    while w > 0 {
        for l in 0..w {
            a[l] += a[l + w];
        }
        w /= 2;
    }
    a[0]
}

#[inline(always)]
fn row(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, out: &mut [f32]) {
    let n = x.len() as f32;
    let mut acc = [0f32; L];
    let chunks = x.chunks_exact(L);
    let tail = chunks.remainder();
    for ch in chunks {
        for l in 0..L {
            acc[l] += ch[l];
        }
    }
    let mean = (lanes_sum(acc) + tail.iter().sum::<f32>()) / n;
    let mut acc = [0f32; L];
    let chunks = x.chunks_exact(L);
    for ch in chunks {
        for l in 0..L {
            let d = ch[l] - mean;
            acc[l] += d * d;
        }
    }
    let tail_sq: f32 = tail.iter().map(|&v| (v - mean) * (v - mean)).sum();
    let var = (lanes_sum(acc) + tail_sq) / n;
    let rstd = 1.0 / (var + eps).sqrt();
    for (((o, &v), &g), &b) in out.iter_mut().zip(x).zip(gamma).zip(beta) {
        *o = (v - mean) * rstd * g + b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain f64 LayerNorm.
    fn naive(x: &[f32], g: &[f32], b: &[f32], eps: f64) -> Vec<f64> {
        let c = g.len();
        let mut y = Vec::with_capacity(x.len());
        for r in x.chunks_exact(c) {
            let mean = r.iter().map(|&v| f64::from(v)).sum::<f64>() / c as f64;
            let var = r
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / c as f64;
            let rstd = 1.0 / (var + eps).sqrt();
            for ((&v, &g), &b) in r.iter().zip(g).zip(b) {
                y.push((f64::from(v) - mean) * rstd * f64::from(g) + f64::from(b));
            }
        }
        y
    }

    fn check(isa: Option<Isa>) {
        let mut rnd = crate::kernels::test_uniform(0x9e37_79b9_7f4a_7c15);
        // 256 = the estimator's width; 80 and 21 exercise the tail; a row offset of 3 keeps the
        // mean away from zero (the case where E[x²] − mean² loses digits).
        for &(rows, c) in &[(130, 256), (3, 80), (70, 21), (1, 1)] {
            let x: Vec<f32> = (0..rows * c).map(|_| 3.0 + 2.0 * rnd()).collect();
            let g: Vec<f32> = (0..c).map(|_| 1.0 + rnd()).collect();
            let b: Vec<f32> = (0..c).map(|_| rnd()).collect();
            let mut got = vec![0f32; x.len()];
            layer_norm_with(isa, &x, &g, &b, 1e-5, &mut got);
            let want = naive(&x, &g, &b, 1e-5);
            let err = got
                .iter()
                .zip(&want)
                .map(|(&g, &w)| (f64::from(g) - w).abs())
                .fold(0.0, f64::max);
            assert!(err < 2e-5, "rows={rows} c={c}: max abs error {err}");
        }
    }

    #[test]
    fn layer_norm_matches_the_definition_avx512() {
        match Isa::avx512() {
            Some(isa) => check(Some(isa)),
            None => println!("skipped: no avx512f"),
        }
    }

    #[test]
    fn layer_norm_matches_the_definition_avx2() {
        match Isa::avx2() {
            Some(isa) => check(Some(isa)),
            None => println!("skipped: no avx2+fma"),
        }
    }

    #[test]
    fn layer_norm_matches_the_definition_baseline() {
        check(None);
    }
}
