//! Loudness normalisation to an EBU R128 target: integrated loudness measured as ITU-R BS.1770-4
//! defines it (K-weighting, 400 ms blocks every 100 ms, absolute gate −70 LUFS, relative gate
//! −10 LU), then one gain; the sample peak is kept at or below −1 dBFS (true peak is not measured).

/// Sample peak the gain may reach, in dBFS.
const PEAK_CEILING_DB: f64 = -1.0;

/// One biquad, direct form I.
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

impl Biquad {
    fn run(&self, x: &[f64]) -> Vec<f64> {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        x.iter()
            .map(|&x0| {
                let y0 = self.b[0] * x0 + self.b[1] * x1 + self.b[2] * x2
                    - self.a[0] * y1
                    - self.a[1] * y2;
                (x2, x1, y2, y1) = (x1, x0, y1, y0);
                y0
            })
            .collect()
    }
}

/// BS.1770's two K-weighting stages (a high shelf, then a high pass) at `rate`, designed from
/// their analog prototypes by the bilinear transform (the design that reproduces the standard's
/// 48 kHz coefficients), so any sample rate gets the same curve.
fn k_weighting(rate: f64) -> [Biquad; 2] {
    let pi = std::f64::consts::PI;
    let (f0, g, q) = (
        1_681.974_450_955_533,
        3.999_843_853_973_347,
        0.707_175_236_955_419_6,
    );
    let k = (pi * f0 / rate).tan();
    let vh = 10f64.powf(g / 20.0);
    let vb = vh.powf(0.499_666_774_154_541_6);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b: [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    let (f0, q) = (38.135_470_876_024_44, 0.500_327_037_323_877_3);
    let k = (pi * f0 / rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let high_pass = Biquad {
        b: [1.0, -2.0, 1.0],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    [shelf, high_pass]
}

fn lufs(mean_square: f64) -> f64 {
    -0.691 + 10.0 * mean_square.log10()
}

/// Integrated loudness of mono `samples` in LUFS; `None` for silence (nothing above the gates).
pub fn integrated_loudness(samples: &[f32], rate: u32) -> Option<f64> {
    let rate_f = f64::from(rate.max(1));
    let x: Vec<f64> = samples.iter().map(|&s| f64::from(s)).collect();
    let [shelf, high_pass] = k_weighting(rate_f);
    let y = high_pass.run(&shelf.run(&x));
    let block = ((0.4 * rate_f) as usize).max(1);
    let step = ((0.1 * rate_f) as usize).max(1);
    let mut powers = Vec::new();
    if y.len() <= block {
        if !y.is_empty() {
            powers.push(y.iter().map(|v| v * v).sum::<f64>() / y.len() as f64);
        }
    } else {
        let mut start = 0;
        while start + block <= y.len() {
            let z = y[start..start + block].iter().map(|v| v * v).sum::<f64>() / block as f64;
            powers.push(z);
            start += step;
        }
    }
    let gated = |threshold: f64| -> Vec<f64> {
        powers
            .iter()
            .copied()
            .filter(|&z| z > 0.0 && lufs(z) > threshold)
            .collect()
    };
    let absolute = gated(-70.0);
    if absolute.is_empty() {
        return None;
    }
    let relative = lufs(absolute.iter().sum::<f64>() / absolute.len() as f64) - 10.0;
    let kept = gated(relative.max(-70.0));
    (!kept.is_empty()).then(|| lufs(kept.iter().sum::<f64>() / kept.len() as f64))
}

/// `samples` with one gain bringing their integrated loudness to `target_lufs` (or as close as a
/// −1 dBFS sample peak allows). Silence is returned as it is.
pub fn normalize(samples: &[f32], rate: u32, target_lufs: f64) -> Vec<f32> {
    let Some(measured) = integrated_loudness(samples, rate) else {
        return samples.to_vec();
    };
    let mut gain = 10f64.powf((target_lufs - measured) / 20.0);
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    let ceiling = 10f64.powf(PEAK_CEILING_DB / 20.0);
    if peak > 0.0 && f64::from(peak) * gain > ceiling {
        gain = ceiling / f64::from(peak);
    }
    samples
        .iter()
        .map(|&s| (f64::from(s) * gain) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amp: f64, seconds: f64, rate: u32) -> Vec<f32> {
        let n = (seconds * f64::from(rate)) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (amp * (2.0 * std::f64::consts::PI * freq * t).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn a_full_scale_997_hz_sine_reads_minus_3_01_lufs() {
        // BS.1770-4's reference: a 0 dBFS 997 Hz sine is −3.01 LKFS (at 48 kHz; the same curve
        // at 24 kHz).
        for rate in [48_000, 24_000] {
            let l = integrated_loudness(&sine(997.0, 1.0, 3.0, rate), rate);
            assert!(l.is_some_and(|l| (l + 3.01).abs() < 0.05), "{rate}: {l:?}");
            let l = integrated_loudness(&sine(997.0, 0.1, 3.0, rate), rate);
            assert!(l.is_some_and(|l| (l + 23.01).abs() < 0.05), "{rate}: {l:?}");
        }
    }

    #[test]
    fn the_gates_ignore_silence_and_quiet_parts() {
        let rate = 24_000;
        let mut x = sine(997.0, 0.1, 2.0, rate);
        x.extend(vec![0.0; 4 * rate as usize]);
        // Ungated, the silence would take 4.8 dB off; the gates keep all but the few blocks that
        // straddle the tone's end out.
        let l = integrated_loudness(&x, rate);
        assert!(l.is_some_and(|l| (l + 23.01).abs() < 0.4), "{l:?}");
        assert_eq!(integrated_loudness(&vec![0.0; 48_000], rate), None);
        assert_eq!(integrated_loudness(&[], rate), None);
    }

    #[test]
    fn normalisation_reaches_the_target_within_the_peak_ceiling() {
        let rate = 24_000;
        let x = sine(440.0, 0.05, 2.0, rate);
        let y = normalize(&x, rate, -23.0);
        let l = integrated_loudness(&y, rate);
        assert!(l.is_some_and(|l| (l + 23.0).abs() < 0.05), "{l:?}");
        // A target louder than the peak allows stops at −1 dBFS.
        let y = normalize(&x, rate, 0.0);
        let peak = y.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.891).abs() < 0.01, "{peak}");
        assert_eq!(normalize(&[0.0; 100], rate, -16.0), vec![0.0; 100]);
    }
}
