//! Fused multi-head self-attention for the CFM estimator (x86-64 with AVX-512 or AVX2 + FMA).
//!
//! `softmax(q·kᵀ)·v` per (batch row, head) without materialising the `(H, T, T)` scores. Work is
//! done on tiles of 16 queries held as two 8-lane vectors, so everything runs transposed: the
//! scores of a tile are `Sᵀ = K·Qᵀ` `(T, 16)` (a 6×16 FMA micro-kernel broadcasting 6 keys), the
//! softmax over keys is then a vertical max/exp/sum over the rows of `Sᵀ`, and the output is
//! `Oᵀ = Vᵀ·Sᵀ` with the same micro-kernel broadcasting 6 value columns; each output column is
//! divided by its sum when written out. Keys and values are packed once per (batch row, head),
//! into a per-thread buffer that is reused from call to call; a tile's scores (T × 16 floats) stay in L1/L2. The products run on the GEMM's 12×16
//! micro-tile for the instruction set [`Isa::detect`] picks (AVX-512 or AVX2 + FMA). Safe code
//! throughout: `pulp` provides the SIMD contexts and vector types.
//!
//! On other CPUs [`fused_attention`] returns `None` and the caller uses candle's matmuls.

/// Rows broadcast by the micro-kernel (keys for the scores, value columns for the output).
use super::gemm::MR;
/// Queries per tile: the micro-kernel's two 8-lane vectors.
use super::gemm::NR as NQ;
/// Queries per parallel task (a multiple of `NQ`): a task's heads reuse their packed keys and
/// values from L2 across this many queries. Two tiles: at 666 frames that is 21 tasks per batch
/// row, which two threads share more evenly than 11.
const ROWS_PER_TASK: usize = 2 * NQ;

use super::gemm::{with_isa, Isa};

/// Attention over the fused projections `qkv` `(B, T, 3, H, d)` (row-major; queries already scaled
/// by 1/√d) → `(B, T, H·d)` row-major. `None` when this CPU has no fused kernel or the input does
/// not match the sizes.
pub fn fused_attention(qkv: &[f32], b: usize, t: usize, h: usize, d: usize) -> Option<Vec<f32>> {
    fused_attention_with(Isa::detect()?, qkv, b, t, h, d)
}

/// [`fused_attention`] on the given instruction set (tests and benchmarks compare the paths).
pub fn fused_attention_with(
    isa: Isa,
    qkv: &[f32],
    b: usize,
    t: usize,
    h: usize,
    d: usize,
) -> Option<Vec<f32>> {
    if qkv.len() != b * t * 3 * h * d || t == 0 || d == 0 {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        Some(with_isa!(isa, s => x86::run(s, qkv, b, t, h, d)))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = isa;
        None
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{MR, NQ, ROWS_PER_TASK};
    use crate::kernels::gemm::x86::{exp16, exp8, strip_pairs, Micro, TR};
    use pulp::x86::{V3, V4};
    use pulp::{f32x16, f32x8, Simd, WithSimd};
    use rayon::prelude::*;

    /// The softmax numerators of a tile on one instruction set.
    pub(super) trait Exp: Micro {
        /// `s ← exp(s − max)` on every row of `rows` (16 queries each); returns the column sums.
        fn exp_rows(self, rows: &mut [[f32; NQ]], max: [f32; NQ]) -> [f32; NQ];
    }

    impl Exp for V3 {
        #[inline(always)]
        fn exp_rows(self, rows: &mut [[f32; NQ]], max: [f32; NQ]) -> [f32; NQ] {
            let [m0, m1]: [f32x8; 2] = pulp::cast(max);
            let zero = self.splat_f32x8(0.0);
            let (mut s0, mut s1) = (zero, zero);
            for s in rows.iter_mut() {
                let [x0, x1]: [f32x8; 2] = pulp::cast(*s);
                let e0 = exp8(self, self.sub_f32x8(x0, m0));
                let e1 = exp8(self, self.sub_f32x8(x1, m1));
                s0 = self.add_f32x8(s0, e0);
                s1 = self.add_f32x8(s1, e1);
                *s = pulp::cast([e0, e1]);
            }
            pulp::cast([s0, s1])
        }
    }

    impl Exp for V4 {
        #[inline(always)]
        fn exp_rows(self, rows: &mut [[f32; NQ]], max: [f32; NQ]) -> [f32; NQ] {
            let m: f32x16 = pulp::cast(max);
            // Two running sums halve the dependency chain of the additions.
            let (mut s0, mut s1) = (self.splat_f32x16(0.0), self.splat_f32x16(0.0));
            let mut pairs = rows.chunks_exact_mut(2);
            for p in &mut pairs {
                let e0 = exp16(self, self.sub_f32x16(pulp::cast(p[0]), m));
                let e1 = exp16(self, self.sub_f32x16(pulp::cast(p[1]), m));
                s0 = self.add_f32x16(s0, e0);
                s1 = self.add_f32x16(s1, e1);
                p[0] = pulp::cast(e0);
                p[1] = pulp::cast(e1);
            }
            for s in pairs.into_remainder() {
                let e = exp16(self, self.sub_f32x16(pulp::cast(*s), m));
                s0 = self.add_f32x16(s0, e);
                *s = pulp::cast(e);
            }
            pulp::cast(self.add_f32x16(s0, s1))
        }
    }

    /// Keys and values of one (batch row, head), packed for the micro-kernel. `tk` = T rounded up
    /// to a multiple of `MR` (the extra keys are zero).
    struct Packed<'a> {
        /// `[tk/MR][d]` of `[f32; MR]`: block `j`, entry `c` = channel `c` of keys `6j..6j+6`.
        k: &'a [[f32; MR]],
        /// `[⌈d/MR⌉][tk]` of `[f32; MR]`: block `p`, entry `j` = columns `6p..6p+6` of value `j`
        /// (zeros past `d`).
        v: &'a [[f32; MR]],
    }

    thread_local! {
        /// The packed keys and values of the last call on this thread, kept for the next one
        /// instead of allocating and zeroing them per call (5.5 MB at the estimator's size; the
        /// buffer keeps the largest size seen).
        static SCRATCH: std::cell::RefCell<Vec<[f32; MR]>> = const {
            std::cell::RefCell::new(Vec::new())
        };
    }

    pub(super) fn run<M: Exp>(
        simd: M,
        qkv: &[f32],
        b: usize,
        t: usize,
        h: usize,
        d: usize,
    ) -> Vec<f32> {
        if b * h == 0 {
            return Vec::new();
        }
        let per = t.div_ceil(MR) * MR * (d + d.div_ceil(MR) * MR) / MR;
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                if buf.len() < b * h * per {
                    buf.resize(b * h * per, [0.0; MR]);
                }
                run_in(simd, qkv, b, t, h, d, &mut buf[..b * h * per])
            }
            // A nested call on this thread (rayon ran another caller's task while this one
            // waited): use a fresh buffer.
            Err(_) => run_in(simd, qkv, b, t, h, d, &mut vec![[0.0; MR]; b * h * per]),
        })
    }

    fn run_in<M: Exp>(
        simd: M,
        qkv: &[f32],
        b: usize,
        t: usize,
        h: usize,
        d: usize,
        buf: &mut [[f32; MR]],
    ) -> Vec<f32> {
        let tk = t.div_ceil(MR) * MR;
        let vblocks = d.div_ceil(MR);
        let row = 3 * h * d;
        let kn = tk * d / MR;
        let per = buf.len() / (b * h);
        // Every entry is written (zeros for the padded keys and columns), so the buffer may hold
        // the previous call's data.
        buf.par_chunks_mut(per).enumerate().for_each(|(bh, pk)| {
            let (bi, hh) = (bh / h, bh % h);
            let (k, v) = pk.split_at_mut(kn);
            let zeros = vec![0f32; d];
            let at = |j: usize, which: usize| -> &[f32] {
                if j < t {
                    let base = (bi * t + j) * row + which * h * d + hh * d;
                    &qkv[base..base + d]
                } else {
                    &zeros
                }
            };
            // Keys: block jb holds, for each channel, the six keys' values side by side.
            for (jb, kb) in k.chunks_exact_mut(d).enumerate() {
                let r: [&[f32]; MR] = std::array::from_fn(|i| at(jb * MR + i, 1));
                for (c, dst) in kb.iter_mut().enumerate() {
                    *dst = [r[0][c], r[1][c], r[2][c], r[3][c], r[4][c], r[5][c]];
                }
            }
            // Values: block p holds columns 6p..6p+6 of every key.
            for j in 0..tk {
                let src = at(j, 2);
                for p in 0..vblocks {
                    v[p * tk + j] =
                        std::array::from_fn(|i| src.get(p * MR + i).copied().unwrap_or(0.0));
                }
            }
        });
        let packs: Vec<Packed> = buf
            .chunks_exact(per)
            .map(|pk| {
                let (k, v) = pk.split_at(kn);
                Packed { k, v }
            })
            .collect();

        let inner = h * d;
        let mut y = vec![0f32; b * t * inner];
        y.par_chunks_mut(t * inner)
            .enumerate()
            .flat_map(|(bi, yb)| {
                yb.par_chunks_mut(ROWS_PER_TASK * inner)
                    .enumerate()
                    .map(move |(blk, yc)| (bi, blk * ROWS_PER_TASK, yc))
            })
            .for_each(|(bi, r0, yc)| {
                let rows = yc.len() / inner;
                let mut scores = vec![[0f32; NQ]; tk];
                let mut qt = vec![[0f32; NQ]; d];
                let mut ot = vec![[0f32; NQ]; vblocks * MR];
                for hh in 0..h {
                    let pk = &packs[bi * h + hh];
                    for m0 in (0..rows).step_by(NQ) {
                        let nq = NQ.min(rows - m0);
                        if nq < NQ {
                            qt.iter_mut().for_each(|q| *q = [0.0; NQ]);
                        }
                        for l in 0..nq {
                            let base = (bi * t + r0 + m0 + l) * row + hh * d;
                            for (dst, &x) in qt.iter_mut().zip(&qkv[base..base + d]) {
                                dst[l] = x;
                            }
                        }
                        Simd::vectorize(
                            simd,
                            Tile {
                                simd,
                                qt: &qt,
                                pk,
                                t,
                                d,
                                scores: &mut scores,
                                ot: &mut ot,
                                out: &mut yc[m0 * inner..(m0 + nq) * inner],
                                ld_out: inner,
                                col: hh * d,
                            },
                        );
                    }
                }
            });
        y
    }

    /// One tile: 16 queries (`qt` = `Qᵀ` `(d, 16)`) of one head against every key; writes the
    /// output rows (row stride `ld_out`, columns `col..col+d`) of the queries that exist.
    struct Tile<'a, M: Exp> {
        simd: M,
        qt: &'a [[f32; NQ]],
        pk: &'a Packed<'a>,
        t: usize,
        d: usize,
        scores: &'a mut [[f32; NQ]],
        /// Output columns of the tile `(⌈d/6⌉·6, 16)`, before the division by the sums.
        ot: &'a mut [[f32; NQ]],
        out: &'a mut [f32],
        ld_out: usize,
        col: usize,
    }

    impl<M: Exp> WithSimd for Tile<'_, M> {
        type Output = ();

        #[inline(always)]
        fn with_simd<S: Simd>(self, _: S) {
            let Tile {
                simd,
                qt,
                pk,
                t,
                d,
                scores,
                ot,
                out,
                ld_out,
                col,
            } = self;
            // Sᵀ = K·Qᵀ, twelve keys per micro-tile; each query's running maximum is taken over
            // the real keys as the tile is stored (padded keys score 0 and are left out).
            let mut max = [f32::NEG_INFINITY; NQ];
            for (i, ((k0, k1), st)) in strip_pairs(pk.k, d).zip(scores.chunks_mut(TR)).enumerate() {
                let acc = simd.tile(k0, k1, qt);
                let real = t.saturating_sub(i * TR).min(TR);
                for (dst, a) in st.iter_mut().zip(&acc) {
                    *dst = *a;
                }
                for a in &acc[..real] {
                    for l in 0..NQ {
                        max[l] = if a[l] > max[l] { a[l] } else { max[l] };
                    }
                }
            }
            // Softmax numerators down each column (one column per query); padded keys get 0.
            let (valid, pad) = scores.split_at_mut(t);
            let sum = simd.exp_rows(valid, max);
            for s in pad.iter_mut() {
                *s = [0.0; NQ];
            }
            let inv = sum.map(|s| 1.0 / s);
            // Oᵀ = Vᵀ·Sᵀ, twelve value columns per micro-tile.
            let tk = scores.len();
            for ((v0, v1), o) in strip_pairs(pk.v, tk).zip(ot.chunks_mut(TR)) {
                let acc = simd.tile(v0, v1, scores);
                for (dst, a) in o.iter_mut().zip(&acc) {
                    *dst = *a;
                }
            }
            // Transpose into the output rows, dividing by each query's sum.
            for (l, row) in out.chunks_exact_mut(ld_out).enumerate() {
                for (dst, o) in row[col..col + d].iter_mut().zip(ot.iter()) {
                    *dst = o[l] * inv[l];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain f64 attention on the same layout.
    fn naive(qkv: &[f32], b: usize, t: usize, h: usize, d: usize) -> Vec<f64> {
        let row = 3 * h * d;
        let at = |bi: usize, ti: usize, w: usize, hh: usize, dd: usize| {
            f64::from(qkv[(bi * t + ti) * row + w * h * d + hh * d + dd])
        };
        let mut y = vec![0f64; b * t * h * d];
        for bi in 0..b {
            for hh in 0..h {
                for i in 0..t {
                    let s: Vec<f64> = (0..t)
                        .map(|j| {
                            (0..d)
                                .map(|dd| at(bi, i, 0, hh, dd) * at(bi, j, 1, hh, dd))
                                .sum()
                        })
                        .collect();
                    let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for dd in 0..d {
                        let v: f64 = (0..t).map(|j| e[j] * at(bi, j, 2, hh, dd)).sum();
                        y[((bi * t + i) * h + hh) * d + dd] = v / z;
                    }
                }
            }
        }
        y
    }

    #[test]
    #[cfg_attr(
        not(host_avx2_fma),
        ignore = "this CPU has no AVX2+FMA (callers use candle there)"
    )]
    fn fused_attention_matches_the_definition_avx2() {
        fused_attention_matches_the_definition(
            Isa::avx2().expect("AVX2+FMA (detected at build time)"),
        );
    }

    #[test]
    fn fused_attention_matches_the_definition_avx512() {
        match Isa::avx512() {
            Some(isa) => fused_attention_matches_the_definition(isa),
            None => println!("skipped: no avx512f"),
        }
    }

    fn fused_attention_matches_the_definition(isa: Isa) {
        let mut rnd = crate::kernels::test_uniform(0x2545_f491_4f6c_dd1du64);
        // Odd lengths exercise the padded key panel and the partial query tile.
        for &(b, t, h, d) in &[
            (2, 37, 3, 64),
            (1, 1, 2, 16),
            (2, 61, 2, 32),
            (1, 96, 1, 16),
            (1, 70, 2, 5),
        ] {
            let qkv: Vec<f32> = (0..b * t * 3 * h * d).map(|_| 2.0 * rnd()).collect();
            let got = fused_attention_with(isa, &qkv, b, t, h, d).expect("valid sizes");
            let want = naive(&qkv, b, t, h, d);
            let err = got
                .iter()
                .zip(&want)
                .map(|(&g, &w)| (f64::from(g) - w).abs())
                .fold(0.0, f64::max);
            assert!(err < 2e-5, "b={b} t={t} h={h} d={d}: max abs error {err}");
        }
        assert!(
            fused_attention_with(isa, &[0.0; 10], 1, 1, 1, 16).is_none(),
            "bad length"
        );
    }
}
