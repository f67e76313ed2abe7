//! Logits processors and the sampler of `T3.inference`, as pure functions on one row of logits.
//!
//! Order per step (reference): CFG → repetition penalty → temperature (skipped at 1.0) →
//! [top-k, an optional extra, off by default] → min-p → top-p → softmax → draw.
//! The draw is an inverse-CDF lookup of a uniform in `[0, 1)` (the reference's `torch.multinomial`
//! cannot be reproduced; the fixtures inject the same uniforms into both).

use serde::{Deserialize, Serialize};

/// Generation settings. Defaults are `ChatterboxTTS.generate`'s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    /// Softmax temperature; `0.0` = greedy (argmax after the repetition penalty).
    pub temperature: f32,
    pub top_p: f32,
    pub min_p: f32,
    /// Optional top-k (not used by the reference English model).
    pub top_k: Option<usize>,
    pub repetition_penalty: f32,
    /// Classifier-free guidance weight; `0.0` = plain conditional decoding (batch 1).
    pub cfg_weight: f32,
    pub max_new_tokens: usize,
    /// Seed of the sampling RNG (same seed + inputs ⇒ same tokens).
    pub seed: u64,
    /// End of speech cannot be drawn before this many tokens (Hugging Face's `min_new_tokens`);
    /// 0: off, as in the reference. For benchmarks on random weights, which never learned when
    /// to stop.
    #[serde(default)]
    pub min_new_tokens: usize,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_p: 1.0,
            min_p: 0.05,
            top_k: None,
            repetition_penalty: 1.2,
            cfg_weight: 0.5,
            max_new_tokens: 1000,
            seed: 0,
            min_new_tokens: 0,
        }
    }
}

/// CFG combination `cond + w · (cond − uncond)` (f32, the reference's operation order).
pub fn cfg_combine(cond: &[f32], uncond: &[f32], w: f32) -> Vec<f32> {
    cond.iter()
        .zip(uncond)
        .map(|(&c, &u)| c + w * (c - u))
        .collect()
}

/// HF `RepetitionPenaltyLogitsProcessor`: once per distinct id in `ids`,
/// `x < 0 ? x · r : x / r` (computed from the original value).
pub fn repetition_penalty(logits: &mut [f32], ids: &[u32], r: f32) {
    let mut seen = std::collections::HashSet::new();
    for &id in ids {
        let i = id as usize;
        if i < logits.len() && seen.insert(i) {
            let x = logits[i];
            logits[i] = if x < 0.0 { x * r } else { x / r };
        }
    }
}

/// HF `TemperatureLogitsWarper` (the reference divides only when `t != 1.0`).
pub fn temperature(logits: &mut [f32], t: f32) {
    if t != 1.0 {
        for x in logits.iter_mut() {
            *x /= t;
        }
    }
}

/// Softmax in f32 (max-subtracted).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|&x| (x - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

/// Index of the first maximum.
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// HF `MinPLogitsWarper` (min_tokens_to_keep 1): drop tokens whose probability is below
/// `min_p · max(p)`; the most probable token is always kept.
pub fn min_p(logits: &mut [f32], min_p: f32) {
    let p = softmax(logits);
    let top = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let thr = min_p * top;
    let keep = argmax(&p);
    for (i, x) in logits.iter_mut().enumerate() {
        if p[i] < thr && i != keep {
            *x = f32::NEG_INFINITY;
        }
    }
}

/// HF `TopPLogitsWarper` (min_tokens_to_keep 1): sort ascending, drop entries whose cumulative
/// probability is `≤ 1 − top_p`, never the largest.
pub fn top_p(logits: &mut [f32], top_p: f32) {
    let n = logits.len();
    if n == 0 {
        return;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| logits[a].total_cmp(&logits[b]));
    let sorted: Vec<f32> = order.iter().map(|&i| logits[i]).collect();
    let p = softmax(&sorted);
    let thr = (1.0 - f64::from(top_p)) as f32;
    let mut acc = 0f64;
    for (k, &i) in order.iter().enumerate().take(n - 1) {
        acc += f64::from(p[k]);
        if acc as f32 <= thr {
            logits[i] = f32::NEG_INFINITY;
        }
    }
}

/// HF `TopKLogitsWarper`: drop everything below the k-th largest value (ties kept).
pub fn top_k(logits: &mut [f32], k: usize) {
    if k == 0 || k >= logits.len() {
        return;
    }
    let mut v = logits.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    let kth = v[k - 1];
    for x in logits.iter_mut() {
        if *x < kth {
            *x = f32::NEG_INFINITY;
        }
    }
}

/// Inverse-CDF draw: the first index whose running sum of `probs` exceeds `u` (sum accumulated
/// in f64 and rounded to f32 per element, as torch's CPU `cumsum`); if rounding leaves `u` above
/// the total, the last index with non-zero probability.
pub fn sample_inverse_cdf(probs: &[f32], u: f32) -> usize {
    let mut acc = 0f64;
    let mut last_nz = 0;
    for (i, &p) in probs.iter().enumerate() {
        acc += f64::from(p);
        if p > 0.0 {
            last_nz = i;
        }
        if acc as f32 > u {
            return i;
        }
    }
    last_nz
}

/// All processors of one step, in the reference order, on the (CFG-combined) logits.
/// `ids` = the start-of-speech token followed by every token sampled so far.
pub fn process_logits(logits: &mut [f32], ids: &[u32], p: &SamplingParams) {
    repetition_penalty(logits, ids, p.repetition_penalty);
    if p.temperature > 0.0 {
        temperature(logits, p.temperature);
    }
    if let Some(k) = p.top_k {
        top_k(logits, k);
    }
    min_p(logits, p.min_p);
    top_p(logits, p.top_p);
}

/// One sampling step: process `logits` and draw with the uniform `u` (ignored when greedy).
pub fn sample_step(logits: &mut [f32], ids: &[u32], p: &SamplingParams, u: f32) -> u32 {
    if p.temperature <= 0.0 {
        repetition_penalty(logits, ids, p.repetition_penalty);
        return argmax(logits) as u32;
    }
    process_logits(logits, ids, p);
    sample_inverse_cdf(&softmax(logits), u) as u32
}

/// `T3.inference_turbo`'s processors, each only when enabled: temperature (`T > 0`, `T ≠ 1`) →
/// top-k (`Some(k)`, k > 0) → top-p (`< 1`) → repetition penalty (`≠ 1`, applied **last**, so a
/// token removed by top-k/top-p stays removed). No CFG, no min-p.
/// `ids` = `[BOS]` for the first token, then every token generated so far.
pub fn process_logits_turbo(logits: &mut [f32], ids: &[u32], p: &SamplingParams) {
    if p.temperature > 0.0 {
        temperature(logits, p.temperature);
    }
    if let Some(k) = p.top_k.filter(|&k| k > 0) {
        top_k(logits, k);
    }
    if p.top_p < 1.0 {
        top_p(logits, p.top_p);
    }
    if p.repetition_penalty != 1.0 {
        repetition_penalty(logits, ids, p.repetition_penalty);
    }
}

/// One Turbo sampling step: [`process_logits_turbo`] and an inverse-CDF draw with `u`; greedy
/// (argmax of the processed logits, `u` ignored) when `temperature ≤ 0`.
pub fn sample_step_turbo(logits: &mut [f32], ids: &[u32], p: &SamplingParams, u: f32) -> u32 {
    process_logits_turbo(logits, ids, p);
    if p.temperature <= 0.0 {
        return argmax(logits) as u32;
    }
    sample_inverse_cdf(&softmax(logits), u) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_applies_once_per_distinct_id() {
        let mut x = vec![2.0, -2.0, 1.0];
        repetition_penalty(&mut x, &[0, 1, 0, 0], 2.0);
        assert_eq!(x, vec![1.0, -4.0, 1.0]);
    }

    #[test]
    fn min_p_keeps_argmax_and_drops_small() {
        let mut x = vec![0.0, 5.0, 4.9, -10.0];
        min_p(&mut x, 0.5);
        assert_eq!(x, vec![f32::NEG_INFINITY, 5.0, 4.9, f32::NEG_INFINITY]);
    }

    #[test]
    fn top_p_keeps_nucleus() {
        // probs ≈ [0.64, 0.24, 0.09, 0.03]
        let mut x = vec![3.0, 2.0, 1.0, 0.0];
        top_p(&mut x, 0.8);
        assert_eq!(x, vec![3.0, 2.0, f32::NEG_INFINITY, f32::NEG_INFINITY]);
        let mut y = vec![3.0, 2.0, 1.0, 0.0];
        top_p(&mut y, 1.0);
        assert_eq!(y, vec![3.0, 2.0, 1.0, 0.0]);
    }

    #[test]
    fn inverse_cdf_and_greedy() {
        let p = [0.1, 0.0, 0.6, 0.3];
        assert_eq!(sample_inverse_cdf(&p, 0.0), 0);
        assert_eq!(sample_inverse_cdf(&p, 0.1), 2);
        assert_eq!(sample_inverse_cdf(&p, 0.69), 2);
        assert_eq!(sample_inverse_cdf(&p, 0.71), 3);
        assert_eq!(sample_inverse_cdf(&[0.5, 0.5, 0.0], 1.0), 1);
        let params = SamplingParams {
            temperature: 0.0,
            ..Default::default()
        };
        let mut l = vec![1.0, 3.0, 2.9];
        // Token 1 is penalised below token 2.
        assert_eq!(sample_step(&mut l, &[1], &params, 0.5), 2);
    }

    #[test]
    fn turbo_penalty_comes_after_the_filters() {
        // top-k 2 keeps tokens 0 and 1; the penalty then lowers token 0 below token 1 but cannot
        // revive token 2.
        let p = SamplingParams {
            temperature: 0.0,
            top_k: Some(2),
            top_p: 1.0,
            repetition_penalty: 2.0,
            ..Default::default()
        };
        let mut l = vec![3.0, 2.0, 1.9];
        assert_eq!(sample_step_turbo(&mut l, &[0, 2], &p, 0.5), 1);
        assert_eq!(l, vec![1.5, 2.0, f32::NEG_INFINITY]);
    }
}
