//! Pitch-preserving time stretch (WSOLA: waveform-similarity overlap-add), for the OpenAI API's
//! `speed`. Windows of the input are taken at `speed` times the output hop, each shifted within a
//! small tolerance to the offset whose start best matches the natural continuation of the window
//! before it, and overlap-added with a Hann window. The pitch stays; only the tempo changes.

/// Slowest and fastest speeds accepted.
pub const MIN_SPEED: f64 = 0.25;
pub const MAX_SPEED: f64 = 4.0;

/// `samples` (at `sample_rate`) played `speed` times as fast, pitch unchanged: about
/// `len / speed` samples. `speed == 1.0` returns the input untouched.
pub fn time_stretch(samples: &[f32], sample_rate: u32, speed: f64) -> Vec<f32> {
    if speed == 1.0 || samples.is_empty() || !speed.is_finite() || speed <= 0.0 {
        return samples.to_vec();
    }
    let sr = sample_rate.max(1) as usize;
    let win = (sr * 40 / 1000).max(8) & !1; // 40 ms, even
    let hop_out = win / 2;
    let overlap = win - hop_out;
    let tolerance = (sr * 10 / 1000).max(1); // ±10 ms
    let hop_in = hop_out as f64 * speed;
    let out_len = ((samples.len() as f64) / speed).round() as usize;

    // Pad so every window and search stays inside the input.
    let pad = win + tolerance;
    let mut x = vec![0f32; pad];
    x.extend_from_slice(samples);
    x.resize(x.len() + 2 * pad + 3 * (hop_in.ceil() as usize), 0.0);

    let window: Vec<f32> = (0..win)
        .map(|i| {
            let t = std::f32::consts::PI * 2.0 * i as f32 / win as f32;
            0.5 - 0.5 * t.cos()
        })
        .collect();
    let frames = out_len / hop_out + 2;
    let mut out = vec![0f32; frames * hop_out + win];
    let mut weight = vec![0f32; out.len()];

    let mut prev: Option<usize> = None; // where the previous window started in `x`
    for k in 0..frames {
        let nominal = pad + (k as f64 * hop_in).round() as usize;
        if nominal + win + tolerance > x.len() {
            break;
        }
        let start = match prev {
            None => nominal,
            Some(p) => {
                // The natural continuation of the previous window, and the candidate near
                // `nominal` whose first `overlap` samples resemble it most.
                let target = &x[p + hop_out..p + hop_out + overlap];
                let lo = nominal.saturating_sub(tolerance).max(1);
                let hi = (nominal + tolerance).min(x.len() - win);
                let mut best = (f32::NEG_INFINITY, nominal);
                for c in lo..=hi {
                    let cand = &x[c..c + overlap];
                    let score: f32 = target.iter().zip(cand).map(|(a, b)| a * b).sum();
                    if score > best.0 {
                        best = (score, c);
                    }
                }
                best.1
            }
        };
        let at = k * hop_out;
        for i in 0..win {
            out[at + i] += x[start + i] * window[i];
            weight[at + i] += window[i];
        }
        prev = Some(start);
    }
    // Output position `o` holds input position `o * speed` (the first window starts at the
    // first sample, past the padding).
    let mut y: Vec<f32> = out
        .iter()
        .zip(&weight)
        .map(|(v, w)| if *w > 1e-3 { v / w } else { 0.0 })
        .collect();
    y.resize(out_len, 0.0);
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, seconds: f32, sr: u32) -> Vec<f32> {
        let n = (seconds * sr as f32) as usize;
        (0..n)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * freq * i as f32 / sr as f32).sin())
            .collect()
    }

    /// Frequency from upward zero crossings over the middle of the signal.
    fn frequency(x: &[f32], sr: u32) -> f32 {
        let mid = &x[x.len() / 4..x.len() * 3 / 4];
        let ups = mid.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        ups as f32 * sr as f32 / mid.len() as f32
    }

    #[test]
    fn speed_one_leaves_the_samples_untouched() {
        let x = sine(220.0, 0.5, 24_000);
        assert_eq!(time_stretch(&x, 24_000, 1.0), x);
    }

    #[test]
    fn tempo_changes_pitch_does_not() {
        let sr = 24_000;
        let x = sine(220.0, 2.0, sr);
        for speed in [0.25, 0.5, 0.8, 1.5, 2.0, 4.0] {
            let y = time_stretch(&x, sr, speed);
            let expected = (x.len() as f64 / speed).round() as usize;
            assert_eq!(y.len(), expected, "speed {speed}");
            let f = frequency(&y, sr);
            assert!(
                (f - 220.0).abs() < 6.0,
                "speed {speed}: {f} Hz (resampling would give {})",
                220.0 * speed
            );
            let rms = (y[y.len() / 4..y.len() * 3 / 4]
                .iter()
                .map(|s| s * s)
                .sum::<f32>()
                / (y.len() / 2) as f32)
                .sqrt();
            assert!((rms - 0.3535).abs() < 0.05, "speed {speed}: rms {rms}");
        }
    }

    #[test]
    fn short_and_silent_inputs_are_safe() {
        assert!(time_stretch(&[], 24_000, 2.0).is_empty());
        assert_eq!(time_stretch(&[0.1; 10], 24_000, 2.0).len(), 5);
        assert_eq!(time_stretch(&[0.0; 1000], 24_000, 0.5), vec![0.0; 2000]);
    }
}
