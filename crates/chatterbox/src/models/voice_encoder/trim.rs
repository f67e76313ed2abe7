//! `librosa.effects.trim(y, top_db=20)` with its defaults (frame 2048, hop 512, ref = max).

const FRAME: usize = 2048;
const HOP: usize = 512;

/// Returns `(start, end)` of the non-silent part: frames of 2048 samples every 512 on the signal
/// zero-padded by 1024 both sides; a frame is non-silent when its RMS in dB relative to the
/// loudest frame exceeds `-top_db` (powers floored at 1e-10). All-silent → `(0, 0)`.
pub fn trim_silence(wav: &[f32], top_db: f64) -> (usize, usize) {
    let n = wav.len();
    if n == 0 {
        return (0, 0);
    }
    let pad = FRAME / 2;
    let n_frames = 1 + n / HOP;
    // Prefix sums of squares on the padded signal (f64), so each frame's mean is O(1).
    let mut cum = vec![0f64; n + 1];
    for (i, &x) in wav.iter().enumerate() {
        cum[i + 1] = cum[i] + f64::from(x) * f64::from(x);
    }
    let power: Vec<f64> = (0..n_frames)
        .map(|i| {
            // Padded frame [512 i, 512 i + 2048) ↔ original [512 i − 1024, 512 i + 1024).
            let lo = (i * HOP).saturating_sub(pad).min(n);
            let hi = (i * HOP + FRAME).saturating_sub(pad).min(n);
            // rms² with the f32 rounding of the reference's rms (sqrt of an f32 mean).
            let mean = ((cum[hi] - cum[lo]) / FRAME as f64) as f32;
            let rms = mean.sqrt();
            f64::from(rms) * f64::from(rms)
        })
        .collect();
    let max = power.iter().cloned().fold(0.0, f64::max);
    let db = |p: f64| 10.0 * p.max(1e-10).log10();
    let ref_db = db(max);
    let loud: Vec<usize> = (0..n_frames)
        .filter(|&i| db(power[i]) - ref_db > -top_db)
        .collect();
    match (loud.first(), loud.last()) {
        (Some(&a), Some(&b)) => ((a * HOP).min(n), ((b + 1) * HOP).min(n)),
        _ => (0, 0),
    }
}
