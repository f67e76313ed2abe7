//! Generation parameters: the reference `generate`'s arguments (same defaults) plus seed, top-k and
//! max_new_tokens, with validated ranges.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Every knob of one synthesis. Defaults are the reference's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerateParams {
    /// Emotion exaggeration fed to T3's conditioning, 0..=2 (reference default 0.5).
    pub exaggeration: f32,
    /// Classifier-free guidance weight, 0..=1 (0 = plain conditional decoding).
    pub cfg_weight: f32,
    /// Sampling temperature, 0..=5 (0 = greedy).
    pub temperature: f32,
    /// Repetition penalty over generated speech tokens, 1..=2.
    pub repetition_penalty: f32,
    /// Min-p filter, 0..=1 (0 = off).
    pub min_p: f32,
    /// Top-p (nucleus) filter, (0, 1] (1 = off).
    pub top_p: f32,
    /// Top-k filter (0 = off).
    pub top_k: usize,
    /// RNG seed; the same seed and inputs give the same audio. `None` draws one.
    pub seed: Option<u64>,
    /// Upper bound on generated speech tokens (25 per second of audio), 1..=1000.
    pub max_new_tokens: usize,
}

impl Default for GenerateParams {
    fn default() -> Self {
        Self {
            exaggeration: 0.5,
            cfg_weight: 0.5,
            temperature: 0.8,
            repetition_penalty: 1.2,
            min_p: 0.05,
            top_p: 1.0,
            top_k: 0,
            seed: None,
            max_new_tokens: 1000,
        }
    }
}

fn check(name: &str, v: f32, lo: f32, hi: f32, lo_open: bool) -> Result<()> {
    let ok = v.is_finite() && (if lo_open { v > lo } else { v >= lo }) && v <= hi;
    if ok {
        Ok(())
    } else {
        let open = if lo_open { "(" } else { "[" };
        Err(Error::InvalidArgument(format!(
            "{name} must be in {open}{lo}, {hi}], got {v}"
        )))
    }
}

impl GenerateParams {
    /// Largest accepted `max_new_tokens` (the reference's hard-coded limit).
    pub const MAX_NEW_TOKENS: usize = 1000;

    /// Reject out-of-range values with a message naming the parameter.
    pub fn validate(&self) -> Result<()> {
        check("exaggeration", self.exaggeration, 0.0, 2.0, false)?;
        check("cfg_weight", self.cfg_weight, 0.0, 1.0, false)?;
        check("temperature", self.temperature, 0.0, 5.0, false)?;
        check(
            "repetition_penalty",
            self.repetition_penalty,
            1.0,
            2.0,
            false,
        )?;
        check("min_p", self.min_p, 0.0, 1.0, false)?;
        check("top_p", self.top_p, 0.0, 1.0, true)?;
        if self.top_k > 8194 {
            return Err(Error::InvalidArgument(format!(
                "top_k must be in [0, 8194], got {}",
                self.top_k
            )));
        }
        if self.max_new_tokens == 0 || self.max_new_tokens > Self::MAX_NEW_TOKENS {
            return Err(Error::InvalidArgument(format!(
                "max_new_tokens must be in [1, {}], got {}",
                Self::MAX_NEW_TOKENS,
                self.max_new_tokens
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_ranges_enforced() {
        assert!(GenerateParams::default().validate().is_ok());
        let bad = [
            GenerateParams {
                exaggeration: -0.1,
                ..Default::default()
            },
            GenerateParams {
                cfg_weight: 1.5,
                ..Default::default()
            },
            GenerateParams {
                temperature: f32::NAN,
                ..Default::default()
            },
            GenerateParams {
                repetition_penalty: 0.9,
                ..Default::default()
            },
            GenerateParams {
                top_p: 0.0,
                ..Default::default()
            },
            GenerateParams {
                top_k: 9000,
                ..Default::default()
            },
            GenerateParams {
                max_new_tokens: 0,
                ..Default::default()
            },
        ];
        for p in bad {
            assert!(p.validate().is_err(), "{p:?}");
        }
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<GenerateParams>(r#"{"temprature": 0.5}"#).is_err());
        let p: GenerateParams = serde_json::from_str(r#"{"seed": 7}"#).unwrap_or_default();
        assert_eq!(p.seed, Some(7));
    }
}
