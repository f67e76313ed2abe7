//! A matrix product for weights known at load time (x86-64 with AVX-512 or AVX2 + FMA), with the
//! bias and an activation or a residual applied while the result is still in registers.
//!
//! `y (M, N) = x (M, K) · W (K, N)`: `W` is packed once into 16-column panels (`[⌈N/16⌉][K]` of
//! `[f32; 16]`, 64-byte aligned); each parallel task packs up to 144 rows of `x` into 6-row
//! strips (`[K]` of `[f32; 6]`) and runs a 12×16 micro-tile (two strips against one panel,
//! [`x86::Micro::tile`], shared with the fused attention and the packed convolution) over every
//! panel, a panel staying in L2 while the task's strips pass over it. At most 8 rows (a decoding
//! step) take a matrix-vector path instead that splits the panels between the threads. Safe
//! code throughout: `pulp` provides the AVX2/FMA and AVX-512 contexts and vector types.
//!
//! The instruction set is chosen at run time ([`Isa::detect`]): AVX-512 (one 16-lane vector per
//! panel row, 12 accumulators) where the CPU has it, else AVX2 + FMA (two 8-lane vectors per panel
//! row, two 6×16 kernels); `CHATTERBOX_SIMD=avx2` forces the AVX2 path (for side-by-side
//! timing). The packed layouts are the same for both. Without AVX2 + FMA, [`PackedWeights::new`]
//! returns `None` and callers use candle's matmul.

/// Rows per micro-kernel strip.
pub const MR: usize = 6;
/// Columns per panel (two 8-lane vectors, or one 16-lane vector).
pub const NR: usize = 16;
/// At most this many rows of `x` per parallel task of the packed product (see [`row_tasks`]).
const MAX_ROWS_PER_TASK: usize = 24 * MR;

/// The instruction set the packed kernels run with, detected at run time.
#[derive(Debug, Clone, Copy)]
pub enum Isa {
    /// AVX2 + FMA: two 8-lane vectors per 16-column panel row.
    #[cfg(target_arch = "x86_64")]
    Avx2(pulp::x86::V3),
    /// AVX-512 (F, BW, CD, DQ, VL): one 16-lane vector per panel row.
    #[cfg(target_arch = "x86_64")]
    Avx512(pulp::x86::V4),
}

impl Isa {
    /// The widest instruction set this CPU has (AVX-512, else AVX2 + FMA), or `None` (callers
    /// then use candle's ops). `CHATTERBOX_SIMD=avx2` caps it at AVX2 (read once).
    pub fn detect() -> Option<Self> {
        static CHOICE: std::sync::OnceLock<Option<Isa>> = std::sync::OnceLock::new();
        *CHOICE.get_or_init(|| {
            let cap_avx2 = std::env::var("CHATTERBOX_SIMD")
                .map(|v| v.eq_ignore_ascii_case("avx2"))
                .unwrap_or(false);
            if cap_avx2 {
                Self::avx2()
            } else {
                Self::avx512().or_else(Self::avx2)
            }
        })
    }

    /// The AVX2 + FMA path, when this CPU has it.
    pub fn avx2() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            pulp::x86::V3::try_new().map(Self::Avx2)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }

    /// The AVX-512 path, when this CPU has it.
    pub fn avx512() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            pulp::x86::V4::try_new().map(Self::Avx512)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }

    /// `avx512` or `avx2`.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx2(_) => "avx2",
            #[cfg(target_arch = "x86_64")]
            Self::Avx512(_) => "avx512",
        }
    }
}

/// Run `$body` with `$s` bound to the [`x86::Micro`] implementation of `$isa`.
macro_rules! with_isa {
    ($isa:expr, $s:ident => $body:expr) => {
        match $isa {
            #[cfg(target_arch = "x86_64")]
            $crate::kernels::gemm::Isa::Avx2($s) => $body,
            #[cfg(target_arch = "x86_64")]
            $crate::kernels::gemm::Isa::Avx512($s) => $body,
        }
    };
}
pub(crate) use with_isa;

/// What is applied to `x·W + bias` before it is stored.
#[derive(Clone, Copy)]
pub enum Post<'a> {
    None,
    /// Exact (erf) GELU.
    Gelu,
    /// `residual + (x·W + b)`; `residual` is `(M, N)` row-major.
    Residual(&'a [f32]),
}

/// `W (K, N)` packed for the micro-kernel.
#[derive(Debug)]
pub struct PackedWeights {
    panels: AlignedPanels,
    k: usize,
    n: usize,
    isa: Isa,
}

impl Clone for PackedWeights {
    fn clone(&self) -> Self {
        let mut panels = AlignedPanels::zeroed(self.panels.get().len());
        panels.get_mut().copy_from_slice(self.panels.get());
        Self {
            panels,
            k: self.k,
            n: self.n,
            isa: self.isa,
        }
    }
}

/// Panel rows `[f32; 16]` starting on a 64-byte boundary, so each 16-lane load of a panel row
/// reads one cache line (a plain `Vec<[f32; 16]>` from a large allocation starts 16 bytes past a
/// page boundary: every load would straddle two lines).
#[derive(Debug)]
struct AlignedPanels {
    buf: Vec<f32>,
    off: usize,
    len: usize,
}

impl AlignedPanels {
    fn zeroed(len: usize) -> Self {
        let buf = vec![0f32; len * NR + NR - 1];
        // Floats to skip to the next 64-byte boundary (`Vec<f32>` is 4-byte aligned).
        let off = (NR - (buf.as_ptr() as usize / 4) % NR) % NR;
        Self { buf, off, len }
    }

    fn get(&self) -> &[[f32; NR]] {
        pulp::bytemuck::cast_slice(&self.buf[self.off..self.off + self.len * NR])
    }

    fn get_mut(&mut self) -> &mut [[f32; NR]] {
        pulp::bytemuck::cast_slice_mut(&mut self.buf[self.off..self.off + self.len * NR])
    }
}

impl PackedWeights {
    /// Pack a row-major `(K, N)` matrix for the widest instruction set this CPU has; `None`
    /// when it has no AVX2 + FMA.
    pub fn new(w: &[f32], k: usize, n: usize) -> Option<Self> {
        Self::with_isa(w, k, n, Isa::detect()?)
    }

    /// Pack for the given instruction set (tests and benchmarks compare the paths).
    pub fn with_isa(w: &[f32], k: usize, n: usize, isa: Isa) -> Option<Self> {
        if w.len() != k * n || k == 0 || n == 0 {
            return None;
        }
        let np = n.div_ceil(NR);
        let mut buf = AlignedPanels::zeroed(np * k);
        let panels = buf.get_mut();
        for (kk, row) in w.chunks_exact(n).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                panels[(c / NR) * k + kk][c % NR] = v;
            }
        }
        Some(Self {
            panels: buf,
            k,
            n,
            isa,
        })
    }

    /// Pack a row-major `(N, K)` matrix (PyTorch's `nn.Linear` weight `(out, in)`: `W` is its
    /// transpose) for the widest instruction set this CPU has; `None` when it has no AVX2 + FMA.
    pub fn from_out_in(w: &[f32], k: usize, n: usize) -> Option<Self> {
        Self::from_out_in_with_isa(w, k, n, Isa::detect()?)
    }

    /// [`PackedWeights::from_out_in`] for the given instruction set.
    pub fn from_out_in_with_isa(w: &[f32], k: usize, n: usize, isa: Isa) -> Option<Self> {
        if w.len() != k * n || k == 0 || n == 0 {
            return None;
        }
        let np = n.div_ceil(NR);
        let mut buf = AlignedPanels::zeroed(np * k);
        for (p, panel) in buf.get_mut().chunks_exact_mut(k).enumerate() {
            for (l, row) in w.chunks_exact(k).skip(p * NR).take(NR).enumerate() {
                for (dst, &v) in panel.iter_mut().zip(row) {
                    dst[l] = v;
                }
            }
        }
        Some(Self {
            panels: buf,
            k,
            n,
            isa,
        })
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// The instruction set the product runs with.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// `post(x·W + bias)` for `x` `(M, K)` row-major → `(M, N)` row-major. The caller checks
    /// that `x`, `bias` and a residual have the right lengths (`M·K`, `N`, `M·N`).
    pub fn matmul(&self, x: &[f32], bias: Option<&[f32]>, post: Post) -> Vec<f32> {
        let m = x.len() / self.k;
        if m <= GEMV_MAX_ROWS {
            return self.gemv(x, m, bias, post);
        }
        let mut y = vec![0f32; m * self.n];
        #[cfg(target_arch = "x86_64")]
        {
            use rayon::prelude::*;
            let (k, n) = (self.k, self.n);
            row_tasks(&mut y, m, n)
                .into_par_iter()
                .for_each(|(r0, yc)| {
                    let rows = yc.len() / n;
                    // Strips: strip s, entry kk = x[r0 + 6s + i][kk] for i < 6 (zeros past M).
                    let strips = rows.div_ceil(MR);
                    let mut a = vec![[0f32; MR]; strips * k];
                    for r in 0..rows {
                        let src = &x[(r0 + r) * k..(r0 + r + 1) * k];
                        let strip = &mut a[(r / MR) * k..(r / MR + 1) * k];
                        for (dst, &v) in strip.iter_mut().zip(src) {
                            dst[r % MR] = v;
                        }
                    }
                    let residual = match post {
                        Post::Residual(res) => Post::Residual(&res[r0 * n..(r0 + rows) * n]),
                        p => p,
                    };
                    with_isa!(self.isa, s => pulp::Simd::vectorize(
                        s,
                        x86::Block {
                            simd: s,
                            a: &a,
                            w: self,
                            bias,
                            post: residual,
                            y: yc,
                        },
                    ));
                });
        }
        y
    }
}

impl PackedWeights {
    /// The few-row product (a decoding step: one or two rows): tasks split the panels, each
    /// streams its panels once against up to [`GEMV_GROUP`] rows at a time (one 16-lane FMA per
    /// panel entry and row), so it is as memory-bound as a row-major matrix-vector product.
    fn gemv(&self, x: &[f32], m: usize, bias: Option<&[f32]>, post: Post) -> Vec<f32> {
        let (k, n) = (self.k, self.n);
        let mut y = vec![0f32; m * n];
        #[cfg(target_arch = "x86_64")]
        for (g, xg) in x.chunks(GEMV_GROUP * k).enumerate() {
            let rows = xg.len() / k;
            let part = match rows {
                1 => self.gemv_group::<1>(xg),
                2 => self.gemv_group::<2>(xg),
                3 => self.gemv_group::<3>(xg),
                _ => self.gemv_group::<4>(xg),
            };
            // part: panel-major, `[panel][row]` of 16 columns.
            for r in 0..rows {
                let row = g * GEMV_GROUP + r;
                let dst = &mut y[row * n..(row + 1) * n];
                for (c, d) in dst.iter_mut().enumerate() {
                    let mut v = part[(c / NR) * rows + r][c % NR];
                    if let Some(b) = bias {
                        v += b[c];
                    }
                    *d = match post {
                        Post::None => v,
                        Post::Gelu => crate::kernels::gelu_scalar(v),
                        Post::Residual(res) => res[row * n + c] + v,
                    };
                }
            }
        }
        y
    }

    #[cfg(target_arch = "x86_64")]
    fn gemv_group<const R: usize>(&self, x: &[f32]) -> Vec<[f32; NR]> {
        use rayon::prelude::*;
        let k = self.k;
        // Interleaved: entry kk holds x[r][kk] for the R rows.
        let mut xs = vec![[0f32; R]; k];
        for (r, row) in x.chunks_exact(k).enumerate() {
            for (dst, &v) in xs.iter_mut().zip(row) {
                dst[r] = v;
            }
        }
        let np = self.n.div_ceil(NR);
        let mut out = vec![[0f32; NR]; np * R];
        let per_task = (GEMV_TASK_FLOATS / (k * NR)).max(1);
        out.par_chunks_mut(per_task * R)
            .zip(self.panels.get().par_chunks(per_task * k))
            .for_each(|(oc, pc)| {
                with_isa!(self.isa, s => pulp::Simd::vectorize(
                    s,
                    x86::Gemv::<_, R> { simd: s, x: &xs, panels: pc, out: oc },
                ));
            });
        out
    }
}

/// Split the `(m, n)` output into row ranges for the parallel tasks of
/// [`PackedWeights::matmul`]: as few as keep each at most [`MAX_ROWS_PER_TASK`] rows, a multiple of
/// the thread count, sizes in whole strips and as equal as that allows. Each task streams the
/// whole weight matrix once (from L3 for T3's 4–16 MB weights), so fewer, larger tasks read it
/// fewer times; equal sizes keep the threads finishing together. Returns `(first row, rows)`.
fn row_tasks(y: &mut [f32], m: usize, n: usize) -> Vec<(usize, &mut [f32])> {
    let threads = rayon::current_num_threads().max(1);
    let tasks = threads * m.div_ceil(threads * MAX_ROWS_PER_TASK);
    let units = m.div_ceil(MR);
    let (per, extra) = (units / tasks, units % tasks);
    let mut out = Vec::with_capacity(tasks);
    let mut rest = y;
    let mut r0 = 0;
    for t in 0..tasks {
        let rows = ((per + usize::from(t < extra)) * MR).min(m - r0);
        if rows == 0 {
            break;
        }
        let (head, tail) = rest.split_at_mut(rows * n);
        out.push((r0, head));
        rest = tail;
        r0 += rows;
    }
    out
}

/// Inputs with at most this many rows take the matrix-vector path ([`PackedWeights::matmul`]).
pub const GEMV_MAX_ROWS: usize = 8;
/// Rows per pass of the matrix-vector path over the weights.
const GEMV_GROUP: usize = 4;
/// Weight floats per parallel task of the matrix-vector path (256 KiB).
const GEMV_TASK_FLOATS: usize = 1 << 16;

/// Time panels per parallel task of [`PackedConv::conv`].
const PANELS_PER_TASK: usize = 4;

/// Conv1d weights `(Cout, Cin, k)` packed as 6-output-channel strips for a channel-major,
/// stride-1 convolution `(Cin, T) → (Cout, T')`: the micro-kernel broadcasts 6 weights and
/// multiplies them with 16 consecutive output frames of the unfolded input, so results land
/// directly in the `(Cout, T')` layout. Each task unfolds its 4 × 16 frames into L2-sized panels
/// (`[Cin·k]` of `[f32; 16]`: entry `c·k + j` holds input channel `c` at tap `j`).
#[derive(Debug, Clone)]
pub struct PackedConv {
    strips: Vec<[f32; MR]>,
    cout: usize,
    cin: usize,
    k: usize,
    isa: Isa,
}

impl PackedConv {
    /// Pack a row-major `(Cout, Cin, k)` weight for the widest instruction set this CPU has;
    /// `None` when it has no AVX2 + FMA.
    pub fn new(w: &[f32], cout: usize, cin: usize, k: usize) -> Option<Self> {
        Self::with_isa(w, cout, cin, k, Isa::detect()?)
    }

    /// Pack for the given instruction set.
    pub fn with_isa(w: &[f32], cout: usize, cin: usize, k: usize, isa: Isa) -> Option<Self> {
        let ck = cin * k;
        if w.len() != cout * ck || ck == 0 || cout == 0 {
            return None;
        }
        let mut strips = vec![[0f32; MR]; cout.div_ceil(MR) * ck];
        for (o, row) in w.chunks_exact(ck).enumerate() {
            for (kk, &v) in row.iter().enumerate() {
                strips[(o / MR) * ck + kk][o % MR] = v;
            }
        }
        Some(Self {
            strips,
            cout,
            cin,
            k,
            isa,
        })
    }

    pub fn cout(&self) -> usize {
        self.cout
    }

    pub fn cin(&self) -> usize {
        self.cin
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// One batch row: `x` `(Cin, T)` → `(Cout, T')` with zero padding `pad` on both sides,
    /// dilation `dil` and an optional bias. `T' = T + 2·pad − dil·(k−1)` must be positive (the
    /// caller checks).
    pub fn conv(
        &self,
        x: &[f32],
        t: usize,
        pad: usize,
        dil: usize,
        bias: Option<&[f32]>,
    ) -> Vec<f32> {
        let t_out = (t + 2 * pad + 1).saturating_sub(dil * (self.k - 1) + 1);
        let mut y = vec![0f32; self.cout * t_out];
        #[cfg(target_arch = "x86_64")]
        {
            use rayon::prelude::*;
            let panels = t_out.div_ceil(NR);
            let span = PANELS_PER_TASK * NR;
            let parts: Vec<Vec<f32>> = (0..panels.div_ceil(PANELS_PER_TASK))
                .into_par_iter()
                .map(|task| {
                    let f0 = task * span;
                    let frames = span.min(t_out - f0);
                    let mut out = vec![0f32; self.cout * frames];
                    with_isa!(self.isa, s => pulp::Simd::vectorize(
                        s,
                        x86::ConvTask {
                            simd: s,
                            conv: self,
                            x,
                            t,
                            pad,
                            dil,
                            f0,
                            bias,
                            out: &mut out,
                        },
                    ));
                    out
                })
                .collect();
            y.par_chunks_mut(t_out.max(1))
                .enumerate()
                .for_each(|(o, row)| {
                    for (task, part) in parts.iter().enumerate() {
                        let f0 = task * span;
                        let frames = part.len() / self.cout;
                        row[f0..f0 + frames].copy_from_slice(&part[o * frames..(o + 1) * frames]);
                    }
                });
        }
        y
    }
}

#[cfg(target_arch = "x86_64")]
pub mod x86 {
    use super::{PackedConv, PackedWeights, Post, MR, NR};
    use pulp::x86::{V3, V4};
    use pulp::{f32x16, f32x8, i32x16, i32x8, Simd, WithSimd};

    /// Rows of one micro-tile: two strips.
    pub const TR: usize = 2 * MR;

    /// The 12×16 micro-tile on one instruction set.
    pub trait Micro: Simd + Copy {
        /// `out[i] = Σ_k a0[k][i] · panel[k]` for `i < 6` and `Σ_k a1[k][i − 6] · panel[k]` for
        /// `6 ≤ i < 12` (zeros when `a1` is `None`); `a0`, `a1` and `panel` have the same length.
        fn tile(
            self,
            a0: &[[f32; MR]],
            a1: Option<&[[f32; MR]]>,
            panel: &[[f32; NR]],
        ) -> [[f32; NR]; TR];

        /// `out[r] = Σ_k x[k][r] · panel[k]` for the `R` interleaved rows of `x` (same length as
        /// `panel`): the matrix-vector product's inner loop.
        fn dot_panel<const R: usize>(self, x: &[[f32; R]], panel: &[[f32; NR]]) -> [[f32; NR]; R];

        /// The AVX2 context (every AVX-512 CPU has it) for the 8-lane epilogues.
        fn v3(self) -> V3;

        /// Exact (erf) GELU of one 16-column row ([`gelu8`] lane by lane).
        fn gelu_row(self, v: [f32; NR]) -> [f32; NR];
    }

    impl Micro for V3 {
        #[inline(always)]
        fn tile(
            self,
            a0: &[[f32; MR]],
            a1: Option<&[[f32; MR]]>,
            panel: &[[f32; NR]],
        ) -> [[f32; NR]; TR] {
            let mut out = [[0f32; NR]; TR];
            let c0 = kernel(self, a0, panel);
            for (o, c) in out.iter_mut().zip(&c0) {
                *o = pulp::cast(*c);
            }
            if let Some(a1) = a1 {
                let c1 = kernel(self, a1, panel);
                for (o, c) in out[MR..].iter_mut().zip(&c1) {
                    *o = pulp::cast(*c);
                }
            }
            out
        }

        #[inline(always)]
        fn dot_panel<const R: usize>(self, x: &[[f32; R]], panel: &[[f32; NR]]) -> [[f32; NR]; R] {
            // Two independent sums per row (even and odd k) hide the FMA latency.
            let z = self.splat_f32x8(0.0);
            let mut c = [[[z; 2]; R]; 2];
            let pairs = x.chunks_exact(2).zip(panel.chunks_exact(2));
            for (xk, bk) in pairs {
                for u in 0..2 {
                    let [b0, b1]: [f32x8; 2] = pulp::cast(bk[u]);
                    for (cr, &xv) in c[u].iter_mut().zip(&xk[u]) {
                        let xv = self.splat_f32x8(xv);
                        cr[0] = self.mul_add_f32x8(xv, b0, cr[0]);
                        cr[1] = self.mul_add_f32x8(xv, b1, cr[1]);
                    }
                }
            }
            if x.len() % 2 == 1 {
                if let (Some(xk), Some(bk)) = (x.last(), panel.last()) {
                    let [b0, b1]: [f32x8; 2] = pulp::cast(*bk);
                    for (cr, &xv) in c[0].iter_mut().zip(xk) {
                        let xv = self.splat_f32x8(xv);
                        cr[0] = self.mul_add_f32x8(xv, b0, cr[0]);
                        cr[1] = self.mul_add_f32x8(xv, b1, cr[1]);
                    }
                }
            }
            std::array::from_fn(|r| {
                pulp::cast([
                    self.add_f32x8(c[0][r][0], c[1][r][0]),
                    self.add_f32x8(c[0][r][1], c[1][r][1]),
                ])
            })
        }

        #[inline(always)]
        fn v3(self) -> V3 {
            self
        }

        #[inline(always)]
        fn gelu_row(self, v: [f32; NR]) -> [f32; NR] {
            let [v0, v1]: [f32x8; 2] = pulp::cast(v);
            pulp::cast([gelu8(self, v0), gelu8(self, v1)])
        }
    }

    impl Micro for V4 {
        #[inline(always)]
        fn tile(
            self,
            a0: &[[f32; MR]],
            a1: Option<&[[f32; MR]]>,
            panel: &[[f32; NR]],
        ) -> [[f32; NR]; TR] {
            let mut out = [[0f32; NR]; TR];
            match a1 {
                Some(a1) => {
                    let c = kernel12_v4(self, a0, a1, panel);
                    for (o, c) in out.iter_mut().zip(&c) {
                        *o = pulp::cast(*c);
                    }
                }
                None => {
                    let c = kernel6_v4(self, a0, panel);
                    for (o, c) in out.iter_mut().zip(&c) {
                        *o = pulp::cast(*c);
                    }
                }
            }
            out
        }

        #[inline(always)]
        fn dot_panel<const R: usize>(self, x: &[[f32; R]], panel: &[[f32; NR]]) -> [[f32; NR]; R] {
            // Four independent sums per row (k mod 4) hide the FMA latency.
            let z = self.splat_f32x16(0.0);
            let mut c = [[z; R]; 4];
            let quads = x.chunks_exact(4).zip(panel.chunks_exact(4));
            for (xk, bk) in quads {
                for u in 0..4 {
                    let b: f32x16 = pulp::cast(bk[u]);
                    for (cr, &xv) in c[u].iter_mut().zip(&xk[u]) {
                        *cr = self.mul_add_f32x16(self.splat_f32x16(xv), b, *cr);
                    }
                }
            }
            let tail = x.len() - x.len() % 4;
            for (xk, bk) in x[tail..].iter().zip(&panel[tail..]) {
                let b: f32x16 = pulp::cast(*bk);
                for (cr, &xv) in c[0].iter_mut().zip(xk) {
                    *cr = self.mul_add_f32x16(self.splat_f32x16(xv), b, *cr);
                }
            }
            std::array::from_fn(|r| {
                pulp::cast(self.add_f32x16(
                    self.add_f32x16(c[0][r], c[1][r]),
                    self.add_f32x16(c[2][r], c[3][r]),
                ))
            })
        }

        #[inline(always)]
        fn v3(self) -> V3 {
            *self
        }

        #[inline(always)]
        fn gelu_row(self, v: [f32; NR]) -> [f32; NR] {
            pulp::cast(gelu16(self, pulp::cast(v)))
        }
    }

    /// [`exp8`] on sixteen lanes (AVX-512).
    #[inline(always)]
    pub fn exp16(simd: V4, x: f32x16) -> f32x16 {
        const MAGIC: f32 = 12_582_912.0;
        let c = |v: f32| simd.splat_f32x16(v);
        let x = simd.max_f32x16(simd.min_f32x16(x, c(88.0)), c(-87.0));
        let k = simd.mul_add_f32x16(x, c(std::f32::consts::LOG2_E), c(MAGIC));
        let n = simd.sub_f32x16(k, c(MAGIC));
        let r = simd.mul_add_f32x16(n, c(-0.693_359_4), x);
        let r = simd.mul_add_f32x16(n, c(2.121_944_4e-4), r);
        let mut p = c(1.987_569_1e-4);
        for coef in [
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            1.666_666_5e-1,
            0.5,
        ] {
            p = simd.mul_add_f32x16(p, r, c(coef));
        }
        let y = simd.add_f32x16(simd.mul_add_f32x16(p, simd.mul_f32x16(r, r), r), c(1.0));
        let ki: i32x16 = pulp::cast(k);
        let magic: i32x16 = pulp::cast(c(MAGIC));
        let e = simd.wrapping_sub_i32x16(ki, magic);
        let e = simd.wrapping_add_i32x16(e, simd.splat_i32x16(127));
        let scale: f32x16 = pulp::cast(simd.shl_const_i32x16::<23>(e));
        simd.mul_f32x16(y, scale)
    }

    /// [`gelu8`] on sixteen lanes (AVX-512).
    #[inline(always)]
    pub fn gelu16(simd: V4, v: f32x16) -> f32x16 {
        let c = |x: f32| simd.splat_f32x16(x);
        let z = simd.mul_f32x16(v, c(std::f32::consts::FRAC_1_SQRT_2));
        let a = simd.abs_f32x16(z);
        let t = simd.div_f32x16(c(1.0), simd.mul_add_f32x16(a, c(0.327_591_1), c(1.0)));
        let mut p = c(1.061_405_4);
        for coef in [-1.453_152_1, 1.421_413_8, -0.284_496_72, 0.254_829_6] {
            p = simd.mul_add_f32x16(p, t, c(coef));
        }
        let p = simd.mul_f32x16(p, t);
        let e = exp16(simd, simd.mul_f32x16(simd.mul_f32x16(a, a), c(-1.0)));
        let erf_abs = simd.sub_f32x16(c(1.0), simd.mul_f32x16(p, e));
        let sign = simd.and_f32x16(z, c(-0.0));
        let erf = simd.xor_f32x16(erf_abs, sign);
        simd.mul_f32x16(simd.mul_f32x16(c(0.5), v), simd.add_f32x16(c(1.0), erf))
    }

    #[test]
    fn gelu16_matches_the_scalar_gelu() {
        let Some(simd) = V4::try_new() else {
            println!("skipped: no avx512f");
            return;
        };
        for i in -1000..1000 {
            let xs: [f32; 16] = std::array::from_fn(|l| (i * 16 + l as i32) as f32 * 0.000_7);
            let got: [f32; 16] = pulp::cast(gelu16(simd, pulp::cast(xs)));
            for (&x, &g) in xs.iter().zip(&got) {
                let want = crate::kernels::gelu_scalar(x);
                assert!(
                    (g - want).abs() <= 1e-6 * (1.0 + want.abs()),
                    "gelu({x}) {g} vs {want}"
                );
            }
        }
    }

    /// AVX-512: twelve 16-lane accumulators, one load and twelve broadcasts per step.
    #[inline(always)]
    fn kernel12_v4(
        simd: V4,
        a0: &[[f32; MR]],
        a1: &[[f32; MR]],
        panel: &[[f32; NR]],
    ) -> [f32x16; TR] {
        let mut c = [simd.splat_f32x16(0.0); TR];
        for ((x0, x1), bk) in a0.iter().zip(a1).zip(panel) {
            let b: f32x16 = pulp::cast(*bk);
            let (lo, hi) = c.split_at_mut(MR);
            for (cr, &x) in lo.iter_mut().zip(x0) {
                *cr = simd.mul_add_f32x16(simd.splat_f32x16(x), b, *cr);
            }
            for (cr, &x) in hi.iter_mut().zip(x1) {
                *cr = simd.mul_add_f32x16(simd.splat_f32x16(x), b, *cr);
            }
        }
        c
    }

    /// AVX-512, one strip: six 16-lane accumulators.
    #[inline(always)]
    fn kernel6_v4(simd: V4, a: &[[f32; MR]], panel: &[[f32; NR]]) -> [f32x16; MR] {
        let mut c = [simd.splat_f32x16(0.0); MR];
        for (ak, bk) in a.iter().zip(panel) {
            let b: f32x16 = pulp::cast(*bk);
            for (cr, &x) in c.iter_mut().zip(ak) {
                *cr = simd.mul_add_f32x16(simd.splat_f32x16(x), b, *cr);
            }
        }
        c
    }

    /// Split `k`-long strips into pairs: `(first, second)` of each pair of consecutive strips.
    #[inline(always)]
    pub fn strip_pairs(
        a: &[[f32; MR]],
        k: usize,
    ) -> impl Iterator<Item = (&[[f32; MR]], Option<&[[f32; MR]]>)> {
        a.chunks(2 * k).map(move |pair| {
            let (a0, a1) = pair.split_at(k.min(pair.len()));
            (a0, if a1.is_empty() { None } else { Some(a1) })
        })
    }

    /// Store 16 values into `dst` (at most 16 long): a fixed-size copy when it is full.
    #[inline(always)]
    fn store(dst: &mut [f32], v: &[f32; NR]) {
        match <&mut [f32; NR]>::try_from(&mut *dst) {
            Ok(full) => *full = *v,
            Err(_) => {
                for (d, &x) in dst.iter_mut().zip(v) {
                    *d = x;
                }
            }
        }
    }

    /// `acc[i] = Σ_k a[k][i] · panel[k]` for the six rows `i` and the 16 lanes of each panel
    /// entry: 12 accumulators, two loads and six broadcasts per step.
    #[inline(always)]
    pub fn kernel(simd: V3, a: &[[f32; MR]], panel: &[[f32; NR]]) -> [[f32x8; 2]; MR] {
        let zero = simd.splat_f32x8(0.0);
        let mut c = [[zero; 2]; MR];
        for (ak, bk) in a.iter().zip(panel) {
            let [b0, b1]: [f32x8; 2] = pulp::cast(*bk);
            for (cr, &x) in c.iter_mut().zip(ak) {
                let x = simd.splat_f32x8(x);
                cr[0] = simd.mul_add_f32x8(x, b0, cr[0]);
                cr[1] = simd.mul_add_f32x8(x, b1, cr[1]);
            }
        }
        c
    }

    #[cfg(test)]
    #[test]
    #[cfg_attr(
        not(host_avx2_fma),
        ignore = "this CPU has no AVX2+FMA, the packed kernels' only path (callers use candle there)"
    )]
    fn exp8_is_within_a_few_ulp() {
        let simd = V3::try_new().expect("AVX2+FMA (detected at build time)");
        for i in -1100..1100 {
            let xs: [f32; 8] = std::array::from_fn(|l| (i * 8 + l as i32) as f32 * 0.01);
            let got: [f32; 8] = pulp::cast(exp8(simd, pulp::cast(xs)));
            // Inputs are clamped to [−87, 88] (the finite, normal range).
            for (&x, &g) in xs.iter().zip(&got).filter(|(&x, _)| x >= -87.0) {
                let want = f64::from(x).exp();
                let rel = ((f64::from(g) - want) / want).abs();
                assert!(rel < 3e-7, "exp({x}) = {g}, want {want}");
            }
        }
    }

    #[test]
    #[cfg_attr(
        not(host_avx2_fma),
        ignore = "this CPU has no AVX2+FMA, the packed kernels' only path (callers use candle there)"
    )]
    fn gelu8_matches_the_scalar_gelu() {
        let simd = V3::try_new().expect("AVX2+FMA (detected at build time)");
        for i in -1000..1000 {
            let xs: [f32; 8] = std::array::from_fn(|l| (i * 8 + l as i32) as f32 * 0.001_3);
            let got: [f32; 8] = pulp::cast(gelu8(simd, pulp::cast(xs)));
            for (&x, &g) in xs.iter().zip(&got) {
                let want = crate::kernels::gelu_scalar(x);
                assert!(
                    (g - want).abs() <= 1e-6 * (1.0 + want.abs()),
                    "gelu({x}) {g} vs {want}"
                );
            }
        }
    }

    /// One task of the matrix-vector path: its panels against the `R` interleaved rows.
    pub(super) struct Gemv<'a, M: Micro, const R: usize> {
        pub simd: M,
        pub x: &'a [[f32; R]],
        pub panels: &'a [[f32; NR]],
        /// `[panel][row]` of 16 columns.
        pub out: &'a mut [[f32; NR]],
    }

    impl<M: Micro, const R: usize> WithSimd for Gemv<'_, M, R> {
        type Output = ();

        #[inline(always)]
        fn with_simd<S: Simd>(self, _: S) {
            let k = self.x.len();
            for (panel, out) in self
                .panels
                .chunks_exact(k)
                .zip(self.out.chunks_exact_mut(R))
            {
                out.copy_from_slice(&self.simd.dot_panel::<R>(self.x, panel));
            }
        }
    }

    /// One task of [`PackedConv::conv`]: output frames `f0..f0+frames` of every channel.
    pub(super) struct ConvTask<'a, M: Micro> {
        pub simd: M,
        pub conv: &'a PackedConv,
        pub x: &'a [f32],
        pub t: usize,
        pub pad: usize,
        pub dil: usize,
        pub f0: usize,
        pub bias: Option<&'a [f32]>,
        /// `(Cout, frames)`.
        pub out: &'a mut [f32],
    }

    impl<M: Micro> WithSimd for ConvTask<'_, M> {
        type Output = ();

        #[inline(always)]
        fn with_simd<S: Simd>(self, _: S) {
            let ConvTask {
                simd,
                conv,
                x,
                t,
                pad,
                dil,
                f0,
                bias,
                out,
            } = self;
            let (cout, k) = (conv.cout, conv.k);
            let ck = conv.cin * k;
            let frames = out.len() / cout;
            let np = frames.div_ceil(NR);
            // Unfold: panel p, entry c·k + j = x[c][f0 + 16p + l + j·dil − pad], l < 16.
            let mut panels = vec![[0f32; NR]; np * ck];
            for (p, panel) in panels.chunks_exact_mut(ck).enumerate() {
                let base = (f0 + p * NR) as isize - pad as isize;
                for (c, xc) in x.chunks_exact(t).enumerate() {
                    for j in 0..k {
                        let start = base + (j * dil) as isize;
                        let dst = &mut panel[c * k + j];
                        if start >= 0 && start as usize + NR <= t {
                            let s = start as usize;
                            dst.copy_from_slice(&xc[s..s + NR]);
                        } else {
                            for (l, d) in dst.iter_mut().enumerate() {
                                let i = start + l as isize;
                                *d = if i >= 0 && (i as usize) < t {
                                    xc[i as usize]
                                } else {
                                    0.0
                                };
                            }
                        }
                    }
                }
            }
            for (sp, (s0, s1)) in strip_pairs(&conv.strips, ck).enumerate() {
                for (p, panel) in panels.chunks_exact(ck).enumerate() {
                    let acc = simd.tile(s0, s1, panel);
                    let c0 = p * NR;
                    let cols = NR.min(frames - c0);
                    for (i, v) in acc.iter().enumerate() {
                        let o = sp * TR + i;
                        if o >= cout {
                            break;
                        }
                        let b = bias.map_or(0.0, |b| b[o]);
                        let v = v.map(|v| v + b);
                        store(&mut out[o * frames + c0..o * frames + c0 + cols], &v);
                    }
                }
            }
        }
    }

    /// `eˣ` on eight lanes to about 1 ulp: the Cephes `expf` polynomial of
    /// [`crate::kernels::exp_approx`] evaluated with fused multiply-adds.
    #[inline(always)]
    pub fn exp8(simd: V3, x: f32x8) -> f32x8 {
        const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
        let c = |v: f32| simd.splat_f32x8(v);
        let x = simd.max_f32x8(simd.min_f32x8(x, c(88.0)), c(-87.0));
        let k = simd.mul_add_f32x8(x, c(std::f32::consts::LOG2_E), c(MAGIC));
        let n = simd.sub_f32x8(k, c(MAGIC));
        let r = simd.mul_add_f32x8(n, c(-0.693_359_4), x);
        let r = simd.mul_add_f32x8(n, c(2.121_944_4e-4), r);
        let mut p = c(1.987_569_1e-4);
        for coef in [
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            1.666_666_5e-1,
            0.5,
        ] {
            p = simd.mul_add_f32x8(p, r, c(coef));
        }
        let y = simd.add_f32x8(simd.mul_add_f32x8(p, simd.mul_f32x8(r, r), r), c(1.0));
        // 2ⁿ from the integer in k's low mantissa bits.
        let ki: i32x8 = pulp::cast(k);
        let magic: i32x8 = pulp::cast(c(MAGIC));
        let e = simd.wrapping_sub_i32x8(ki, magic);
        let e = simd.wrapping_add_i32x8(e, simd.splat_i32x8(127));
        let scale: f32x8 = pulp::cast(simd.shl_const_i32x8::<23>(e));
        simd.mul_f32x8(y, scale)
    }

    /// Exact (erf) GELU on eight lanes: the Abramowitz–Stegun 7.1.26 erf of
    /// [`crate::kernels::gelu_scalar`] evaluated with fused multiply-adds.
    #[inline(always)]
    pub fn gelu8(simd: V3, v: f32x8) -> f32x8 {
        let c = |x: f32| simd.splat_f32x8(x);
        let z = simd.mul_f32x8(v, c(std::f32::consts::FRAC_1_SQRT_2));
        let a = simd.abs_f32x8(z);
        let t = simd.div_f32x8(c(1.0), simd.mul_add_f32x8(a, c(0.327_591_1), c(1.0)));
        let mut p = c(1.061_405_4);
        for coef in [-1.453_152_1, 1.421_413_8, -0.284_496_72, 0.254_829_6] {
            p = simd.mul_add_f32x8(p, t, c(coef));
        }
        let p = simd.mul_f32x8(p, t);
        let e = exp8(simd, simd.mul_f32x8(simd.mul_f32x8(a, a), c(-1.0)));
        let erf_abs = simd.sub_f32x8(c(1.0), simd.mul_f32x8(p, e));
        // erf(z) has z's sign.
        let sign = simd.and_f32x8(z, c(-0.0));
        let erf = simd.xor_f32x8(erf_abs, sign);
        simd.mul_f32x8(simd.mul_f32x8(c(0.5), v), simd.add_f32x8(c(1.0), erf))
    }

    /// One task: its strips of `x` against every panel of `W`, written to `y` (`rows × N`).
    pub(super) struct Block<'a, M: Micro> {
        pub simd: M,
        pub a: &'a [[f32; MR]],
        pub w: &'a PackedWeights,
        pub bias: Option<&'a [f32]>,
        pub post: Post<'a>,
        pub y: &'a mut [f32],
    }

    impl<M: Micro> WithSimd for Block<'_, M> {
        type Output = ();

        #[inline(always)]
        fn with_simd<S: Simd>(self, _: S) {
            let Block {
                simd,
                a,
                w,
                bias,
                post,
                y,
            } = self;
            let (k, n) = (w.k, w.n);
            let rows = y.len() / n;
            for (p, panel) in w.panels.get().chunks_exact(k).enumerate() {
                let c0 = p * NR;
                let cols = NR.min(n - c0);
                for (sp, (s0, s1)) in strip_pairs(a, k).enumerate() {
                    let acc = simd.tile(s0, s1, panel);
                    for (i, v) in acc.iter().enumerate() {
                        let r = sp * TR + i;
                        if r >= rows {
                            break;
                        }
                        let mut v = *v;
                        if let Some(b) = bias {
                            for (v, &b) in v.iter_mut().zip(&b[c0..c0 + cols]) {
                                *v += b;
                            }
                        }
                        let dst = &mut y[r * n + c0..r * n + c0 + cols];
                        match post {
                            Post::None => store(dst, &v),
                            Post::Gelu => store(dst, &simd.gelu_row(v)),
                            Post::Residual(res) => {
                                let res = &res[r * n + c0..r * n + c0 + cols];
                                for ((o, &v), &rv) in dst.iter_mut().zip(&v).zip(res) {
                                    *o = rv + v;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(
        not(host_avx2_fma),
        ignore = "this CPU has no AVX2+FMA (callers use candle there)"
    )]
    fn packed_matmul_matches_the_definition_avx2() {
        packed_matmul_matches_the_definition(
            Isa::avx2().expect("AVX2+FMA (detected at build time)"),
        );
    }

    #[test]
    fn packed_matmul_matches_the_definition_avx512() {
        match Isa::avx512() {
            Some(isa) => packed_matmul_matches_the_definition(isa),
            None => println!("skipped: no avx512f"),
        }
    }

    #[test]
    fn detect_picks_the_widest_path() {
        #[cfg(target_arch = "x86_64")]
        if std::env::var_os("CHATTERBOX_SIMD").is_none() {
            let want = if std::is_x86_feature_detected!("avx512f") {
                Some("avx512")
            } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
            {
                Some("avx2")
            } else {
                None
            };
            // pulp's V4 also needs AVX-512 BW/CD/DQ/VL, which every AVX-512 CPU since Skylake-X has.
            assert_eq!(Isa::detect().map(Isa::name), want);
        }
    }

    fn packed_matmul_matches_the_definition(isa: Isa) {
        let mut rnd = crate::kernels::test_uniform(0x9e37_79b9_7f4a_7c15u64);
        for &(m, k, n) in &[
            (1, 1, 1),
            (7, 5, 17),
            (50, 64, 80),
            (100, 256, 48),
            (13, 3, 1),
            (97, 33, 40),
            // At most GEMV_MAX_ROWS rows: the matrix-vector path (odd and even K, partial
            // panels, one to two row groups).
            (2, 1024, 48),
            (1, 7, 33),
            (3, 2, 16),
            (4, 5, 20),
            (5, 64, 17),
            (8, 130, 64),
        ] {
            let x: Vec<f32> = (0..m * k).map(|_| rnd()).collect();
            let w: Vec<f32> = (0..k * n).map(|_| rnd()).collect();
            let b: Vec<f32> = (0..n).map(|_| rnd()).collect();
            let res: Vec<f32> = (0..m * n).map(|_| rnd()).collect();
            let pw = PackedWeights::with_isa(&w, k, n, isa).expect("valid sizes");
            // The same weights given as PyTorch's `(out, in)` = `(N, K)` pack identically.
            let w_out_in: Vec<f32> = (0..n * k).map(|i| w[(i % k) * n + i / k]).collect();
            let pw_t = PackedWeights::from_out_in_with_isa(&w_out_in, k, n, isa).expect("sizes");
            assert_eq!(pw.panels.get(), pw_t.panels.get(), "{m}x{k}x{n}");
            assert_eq!(pw.clone().panels.get(), pw.panels.get());
            assert_eq!(
                pw.panels.get().as_ptr() as usize % 64,
                0,
                "panels 64-byte aligned"
            );
            let plain: Vec<f64> = (0..m * n)
                .map(|i| {
                    let (r, c) = (i / n, i % n);
                    (0..k)
                        .map(|kk| f64::from(x[r * k + kk]) * f64::from(w[kk * n + c]))
                        .sum::<f64>()
                        + f64::from(b[c])
                })
                .collect();
            let check = |got: Vec<f32>, want: &dyn Fn(usize) -> f64, what: &str| {
                assert_eq!(got.len(), m * n);
                for (i, &g) in got.iter().enumerate() {
                    let e = (f64::from(g) - want(i)).abs();
                    assert!(
                        e < 1e-5 * (k as f64).sqrt(),
                        "{what} {m}x{k}x{n} [{i}]: {e}"
                    );
                }
            };
            check(pw.matmul(&x, Some(&b), Post::None), &|i| plain[i], "bias");
            check(
                pw.matmul(&x, None, Post::None),
                &|i| plain[i] - f64::from(b[i % n]),
                "plain",
            );
            check(
                pw.matmul(&x, Some(&b), Post::Residual(&res)),
                &|i| plain[i] + f64::from(res[i]),
                "residual",
            );
            check(
                pw.matmul(&x, Some(&b), Post::Gelu),
                &|i| {
                    let v = plain[i];
                    0.5 * v * (1.0 + erf(v / std::f64::consts::SQRT_2))
                },
                "gelu",
            );
        }
    }

    #[test]
    #[cfg_attr(
        not(host_avx2_fma),
        ignore = "this CPU has no AVX2+FMA (callers use candle there)"
    )]
    fn packed_conv_matches_the_definition_avx2() {
        packed_conv_matches_the_definition(Isa::avx2().expect("AVX2+FMA (detected at build time)"));
    }

    #[test]
    fn packed_conv_matches_the_definition_avx512() {
        match Isa::avx512() {
            Some(isa) => packed_conv_matches_the_definition(isa),
            None => println!("skipped: no avx512f"),
        }
    }

    fn packed_conv_matches_the_definition(isa: Isa) {
        let mut rnd = crate::kernels::test_uniform(0x1234_5678_9abc_def1u64);
        for &(cout, cin, k, t, pad, dil) in &[
            (7, 3, 3, 50, 1, 1),
            (13, 5, 7, 100, 9, 3),
            (6, 2, 11, 37, 25, 5),
            (1, 1, 1, 1, 0, 1),
            (20, 4, 7, 200, 3, 1),
        ] {
            let w: Vec<f32> = (0..cout * cin * k).map(|_| rnd()).collect();
            let x: Vec<f32> = (0..cin * t).map(|_| rnd()).collect();
            let b: Vec<f32> = (0..cout).map(|_| rnd()).collect();
            let pc = PackedConv::with_isa(&w, cout, cin, k, isa).expect("valid sizes");
            let y = pc.conv(&x, t, pad, dil, Some(&b));
            let t_out = t + 2 * pad - dil * (k - 1);
            assert_eq!(y.len(), cout * t_out);
            for o in 0..cout {
                for i in 0..t_out {
                    let mut want = f64::from(b[o]);
                    for c in 0..cin {
                        for j in 0..k {
                            let src = (i + j * dil) as isize - pad as isize;
                            if src >= 0 && (src as usize) < t {
                                want += f64::from(w[(o * cin + c) * k + j])
                                    * f64::from(x[c * t + src as usize]);
                            }
                        }
                    }
                    let e = (f64::from(y[o * t_out + i]) - want).abs();
                    assert!(
                        e < 1e-5,
                        "({cout},{cin},{k},{t},{pad},{dil}) y[{o}][{i}]: {e}"
                    );
                }
            }
        }
    }

    /// erf by Abramowitz–Stegun 7.1.26 in f64 (1.5e-7), well inside the 1e-5 tolerance.
    fn erf(x: f64) -> f64 {
        let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
        let p = ((((1.061_405_429 * t - 1.453_152_027) * t + 1.421_413_741) * t - 0.284_496_736)
            * t
            + 0.254_829_592)
            * t;
        let e = 1.0 - p * (-x * x).exp();
        if x < 0.0 {
            -e
        } else {
            e
        }
    }
}
