//! Integrated loudness (ITU-R BS.1770-4, mono) exactly as pyloudnorm 0.2.0's `Meter(rate)`
//! computes it, and Chatterbox-Turbo's `norm_loudness` (`tts_turbo.py:204-215`): scale a voice
//! prompt to −27 LUFS before conditioning.
//!
//! K-weighting: an RBJ high shelf (+4 dB, Q 1/√2, 1500 Hz) then an RBJ high-pass (Q 0.5, 38 Hz),
//! each from zero state (`scipy.signal.lfilter`), the signal stored as f32 after each stage as the
//! reference does; 400 ms gating blocks every 100 ms, absolute gate −70 LUFS, relative gate −10 LU.

/// Chatterbox-Turbo's target loudness for voice prompts.
pub const TURBO_TARGET_LUFS: f64 = -27.0;

const BLOCK_S: f64 = 0.4;
const STEP: f64 = 1.0 - 0.75;
const ABS_GATE: f64 = -70.0;

/// Biquad coefficients `(b, a)` normalised by `a0` (`a[0] == 1`).
type Biquad = ([f64; 3], [f64; 3]);

/// pyloudnorm `IIRfilter(G, Q, fc, rate, 'high_shelf')`.
fn high_shelf(g: f64, q: f64, fc: f64, rate: f64) -> Biquad {
    let a = 10f64.powf(g / 40.0);
    let w0 = 2.0 * std::f64::consts::PI * (fc / rate);
    let alpha = w0.sin() / (2.0 * q);
    let (c, sa) = (w0.cos(), 2.0 * a.sqrt() * alpha);
    let b0 = a * ((a + 1.0) + (a - 1.0) * c + sa);
    let b1 = -2.0 * a * ((a - 1.0) + (a + 1.0) * c);
    let b2 = a * ((a + 1.0) + (a - 1.0) * c - sa);
    let a0 = (a + 1.0) - (a - 1.0) * c + sa;
    let a1 = 2.0 * ((a - 1.0) - (a + 1.0) * c);
    let a2 = (a + 1.0) - (a - 1.0) * c - sa;
    ([b0 / a0, b1 / a0, b2 / a0], [1.0, a1 / a0, a2 / a0])
}

/// pyloudnorm `IIRfilter(0, Q, fc, rate, 'high_pass')`.
fn high_pass(q: f64, fc: f64, rate: f64) -> Biquad {
    let w0 = 2.0 * std::f64::consts::PI * (fc / rate);
    let alpha = w0.sin() / (2.0 * q);
    let c = w0.cos();
    let (b0, b1, b2) = ((1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0);
    let (a0, a1, a2) = (1.0 + alpha, -2.0 * c, 1.0 - alpha);
    ([b0 / a0, b1 / a0, b2 / a0], [1.0, a1 / a0, a2 / a0])
}

/// The two K-weighting stages at `rate`, in application order.
fn k_weighting(rate: f64) -> [Biquad; 2] {
    [
        high_shelf(4.0, 1.0 / 2f64.sqrt(), 1500.0, rate),
        high_pass(0.5, 38.0, rate),
    ]
}

/// `lfilter(b, a, x)` (direct form II transposed, zero initial state) in f64, stored as f32.
fn lfilter(&(b, a): &Biquad, x: &mut [f32]) {
    let (mut z1, mut z2) = (0f64, 0f64);
    for v in x.iter_mut() {
        let xi = f64::from(*v);
        let y = b[0] * xi + z1;
        z1 = b[1] * xi - a[1] * y + z2;
        z2 = b[2] * xi - a[2] * y;
        *v = y as f32;
    }
}

/// Integrated loudness in LUFS of mono `samples` at `rate` (pyloudnorm
/// `Meter(rate).integrated_loudness`). `None` when the signal is shorter than one 400 ms block
/// (pyloudnorm raises); `Some(-inf)` when no block passes the gates (silence).
pub fn integrated_loudness(samples: &[f32], rate: u32) -> Option<f64> {
    let r = f64::from(rate);
    if rate == 0 || (samples.len() as f64) < BLOCK_S * r {
        return None;
    }
    let mut y = samples.to_vec();
    for f in &k_weighting(r) {
        lfilter(f, &mut y);
    }
    let t = samples.len() as f64 / r;
    let blocks = (((t - BLOCK_S) / (BLOCK_S * STEP)).round_ties_even() + 1.0) as usize;
    let z: Vec<f64> = (0..blocks)
        .map(|j| {
            let lo = (BLOCK_S * (j as f64 * STEP) * r) as usize;
            let hi = (BLOCK_S * (j as f64 * STEP + 1.0) * r) as usize;
            let (lo, hi) = (lo.min(y.len()), hi.min(y.len()));
            let sum: f64 = y[lo..hi].iter().map(|&v| f64::from(v) * f64::from(v)).sum();
            (1.0 / (BLOCK_S * r)) * sum
        })
        .collect();
    let lufs = |z: f64| -0.691 + 10.0 * z.log10();
    let mean = |sel: &[f64]| {
        if sel.is_empty() {
            f64::NAN
        } else {
            sel.iter().sum::<f64>() / sel.len() as f64
        }
    };
    let above_abs: Vec<f64> = z.iter().copied().filter(|&v| lufs(v) >= ABS_GATE).collect();
    let gamma_r = lufs(mean(&above_abs)) - 10.0;
    let gated: Vec<f64> = z
        .iter()
        .copied()
        .filter(|&v| {
            let l = lufs(v);
            l > gamma_r && l > ABS_GATE
        })
        .collect();
    // `np.nan_to_num(mean of nothing)` = 0 → −inf.
    let m = mean(&gated);
    Some(lufs(if m.is_nan() { 0.0 } else { m }))
}

/// The gain `norm_loudness` applies to reach `target_lufs`, or `None` when it leaves the audio
/// unchanged (shorter than 400 ms, silence, or a non-finite gain).
pub fn loudness_gain(samples: &[f32], rate: u32, target_lufs: f64) -> Option<f64> {
    let l = integrated_loudness(samples, rate)?;
    let gain = 10f64.powf((target_lufs - l) / 20.0);
    (gain.is_finite() && gain > 0.0).then_some(gain)
}

/// `norm_loudness`: `samples × gain` (in f32, as numpy multiplies a float32 array by a scalar)
/// so that the integrated loudness becomes `target_lufs`; unchanged when [`loudness_gain`] is
/// `None`.
pub fn normalize_loudness(samples: &mut [f32], rate: u32, target_lufs: f64) {
    if let Some(g) = loudness_gain(samples, rate, target_lufs) {
        let g = g as f32;
        for v in samples.iter_mut() {
            *v *= g;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_weighting_coefficients_at_24k() {
        // The values pyloudnorm computes at 24 kHz (spec §2.2).
        let [(sb, sa), (hb, ha)] = k_weighting(24000.0);
        let close = |a: &[f64; 3], b: [f64; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-14);
        assert!(close(
            &sb,
            [1.4882072262438641, -2.2484806333108724, 0.9061921336117813]
        ));
        assert!(close(&sa, [1.0, -1.3917702523418953, 0.5376889788866684]));
        assert!(close(
            &hb,
            [0.9901252808218954, -1.9802505616437909, 0.9901252808218954]
        ));
        assert!(close(&ha, [1.0, -1.9802015643872017, 0.9802995589003801]));
    }

    #[test]
    fn edge_cases_leave_audio_unchanged() {
        let mut short = vec![0.5f32; 9000];
        normalize_loudness(&mut short, 24000, TURBO_TARGET_LUFS);
        assert!(short.iter().all(|&v| v == 0.5));
        let mut silence = vec![0f32; 48000];
        assert_eq!(
            integrated_loudness(&silence, 24000),
            Some(f64::NEG_INFINITY)
        );
        normalize_loudness(&mut silence, 24000, TURBO_TARGET_LUFS);
        assert!(silence.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn normalised_audio_measures_the_target() {
        let x: Vec<f32> = (0..72000)
            .map(|i| 0.3 * (i as f32 * 0.05).sin() * (1.0 + (i as f32 * 1e-4).sin()))
            .collect();
        let mut y = x.clone();
        normalize_loudness(&mut y, 24000, -27.0);
        let l = integrated_loudness(&y, 24000).unwrap_or(f64::NAN);
        assert!((l + 27.0).abs() < 1e-4, "{l}");
    }
}
