//! `CausalMaskedDiffWithXvec` (`flow.`): speech tokens (+ prompt) → mel via the conformer encoder
//! and conditional flow matching (cosine schedule, Euler, classifier-free guidance; or, for
//! Chatterbox-Turbo's meanflow decoder, two Euler steps on the linear grid without CFG).

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::encoder::{EncoderConfig, UpsampleConformerEncoder};
use super::estimator::{Estimator, EstimatorConfig};
use crate::error::{check_stop, ShouldStop};
use crate::nn::{get, Linear};
use crate::{Error, Result};

/// Sizes of the flow module (released: vocabulary 6561, 512-d token embeddings, 192-d x-vector,
/// 80 mel bins, 10 Euler steps, CFG rate 0.7).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowConfig {
    /// Upstream `vocab_size`.
    pub vocab: usize,
    /// Upstream `input_size`.
    pub input_size: usize,
    /// Upstream `spk_embed_dim`.
    pub spk_dim: usize,
    /// Upstream `output_size`.
    pub mel_bins: usize,
    /// Upstream `n_timesteps (CausalConditionalCFM.forward)`.
    pub n_timesteps: usize,
    /// Upstream `inference_cfg_rate`.
    pub cfg_rate: f32,
    /// Upstream `encoder (UpsampleConformerEncoder)`.
    pub encoder: EncoderConfig,
    /// Upstream `decoder.estimator (ConditionalDecoder)`.
    pub estimator: EstimatorConfig,
}

impl FlowConfig {
    /// Chatterbox-Turbo's flow (`S3Gen(meanflow=True)`): the released sizes, the meanflow
    /// estimator and two Euler steps on the linear grid without CFG.
    pub fn meanflow() -> Self {
        Self {
            n_timesteps: 2,
            estimator: EstimatorConfig {
                meanflow: true,
                ..EstimatorConfig::default()
            },
            ..Self::default()
        }
    }
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            vocab: 6561,
            input_size: 512,
            spk_dim: 192,
            mel_bins: 80,
            n_timesteps: 10,
            cfg_rate: 0.7,
            encoder: EncoderConfig::default(),
            estimator: EstimatorConfig::default(),
        }
    }
}

/// The cosine time grid `1 − cos(π/2 · linspace(0, 1, n+1))`, in f32 as torch computes it.
pub fn cosine_t_span(n: usize) -> Vec<f32> {
    let step = 1f32 / n as f32;
    let steps = n + 1;
    let half = steps / 2;
    (0..=n)
        .map(|i| {
            // torch.linspace fills the first half from the start and the rest from the end.
            let lin = if i < half {
                step * i as f32
            } else {
                1f32 - step * (n - i) as f32
            };
            1f32 - (lin * 0.5f32 * std::f32::consts::PI).cos()
        })
        .collect()
}

/// `torch.linspace(0, 1, n + 1)` in f32 (the first half from the start, the rest from the end):
/// the meanflow grid, `[0, 0.5, 1]` for two steps.
pub fn linear_t_span(n: usize) -> Vec<f32> {
    // torch.linspace: `steps / 2` values from the start, the rest from the end.
    let n = n.max(1);
    let step = 1f32 / n as f32;
    let steps = n + 1;
    let half = steps / 2;
    (0..=n)
        .map(|i| {
            if i < half {
                step * i as f32
            } else {
                1f32 - step * (n - i) as f32
            }
        })
        .collect()
}

/// Conditional flow matching with the estimator (`flow.decoder`).
#[derive(Debug, Clone)]
pub struct Cfm {
    pub estimator: Estimator,
    n_timesteps: usize,
    cfg_rate: f32,
}

impl Cfm {
    pub fn new(cfg: &FlowConfig, vb: &VarBuilder) -> Result<Self> {
        Ok(Self {
            estimator: Estimator::new(&cfg.estimator, &vb.pp("estimator"))?,
            n_timesteps: cfg.n_timesteps,
            cfg_rate: cfg.cfg_rate,
        })
    }

    /// Integrate from the noise `z` `(1, 80, T)` with conditioning `mu`, `cond` `(1, 80, T)` and
    /// `spk` `(1, 80)`. The unconditional row of each CFG batch zeroes `mu`, `spk` and `cond`.
    /// `should_stop` is polled before every Euler step.
    pub fn forward(
        &self,
        z: &Tensor,
        mu: &Tensor,
        spk: &Tensor,
        cond: &Tensor,
        should_stop: ShouldStop,
    ) -> Result<Tensor> {
        self.forward_steps(z, mu, spk, cond, self.n_timesteps, should_stop)
    }

    /// The configured number of Euler steps (`n_timesteps`).
    pub fn n_timesteps(&self) -> usize {
        self.n_timesteps
    }

    /// [`Cfm::forward`] with `steps` Euler steps (at least 1) instead of the configured number.
    pub fn forward_steps(
        &self,
        z: &Tensor,
        mu: &Tensor,
        spk: &Tensor,
        cond: &Tensor,
        steps: usize,
        should_stop: ShouldStop,
    ) -> Result<Tensor> {
        if steps == 0 {
            return Err(Error::InvalidArgument(
                "CFM: at least one Euler step".into(),
            ));
        }
        if self.estimator.is_meanflow() {
            return self.forward_meanflow(z, mu, spk, cond, steps, should_stop);
        }
        let ts = cosine_t_span(steps);
        let mu2 = Tensor::cat(&[mu, &mu.zeros_like()?], 0)?;
        let spk2 = Tensor::cat(&[spk, &spk.zeros_like()?], 0)?;
        let cond2 = Tensor::cat(&[cond, &cond.zeros_like()?], 0)?;
        let (a, b) = (1f32 + self.cfg_rate, self.cfg_rate);
        let mut x = z.clone();
        for w in ts.windows(2) {
            check_stop(should_stop)?;
            let (t, r) = (w[0], w[1]);
            let x2 = Tensor::cat(&[&x, &x], 0)?;
            let v = self.estimator.forward(&x2, &mu2, &[t, t], &spk2, &cond2)?;
            let v = ((v.get(0)? * a as f64)? - (v.get(1)? * b as f64)?)?.unsqueeze(0)?;
            x = (x + (v * (r - t) as f64)?)?;
        }
        Ok(x)
    }

    /// `basic_euler` of the meanflow CFM: the linear grid, batch 1, no CFG; each step passes the
    /// estimator its start time `t` and end time `r`.
    fn forward_meanflow(
        &self,
        z: &Tensor,
        mu: &Tensor,
        spk: &Tensor,
        cond: &Tensor,
        steps: usize,
        should_stop: ShouldStop,
    ) -> Result<Tensor> {
        let mut x = z.clone();
        for w in linear_t_span(steps).windows(2) {
            check_stop(should_stop)?;
            let (t, r) = (w[0], w[1]);
            let v = self
                .estimator
                .forward_tr(&x, mu, &[t], Some(&[r]), spk, cond)?;
            x = (x + (v * (r - t) as f64)?)?;
        }
        Ok(x)
    }
}

/// The flow module.
#[derive(Debug, Clone)]
pub struct Flow {
    cfg: FlowConfig,
    input_embedding: Tensor,
    spk_affine: Linear,
    pub encoder: UpsampleConformerEncoder,
    encoder_proj: Linear,
    pub decoder: Cfm,
}

impl Flow {
    pub fn new(cfg: &FlowConfig, vb: &VarBuilder) -> Result<Self> {
        Ok(Self {
            input_embedding: get(
                &vb.pp("input_embedding"),
                &[cfg.vocab, cfg.input_size],
                "weight",
            )?,
            spk_affine: Linear::load(
                &vb.pp("spk_embed_affine_layer"),
                cfg.spk_dim,
                cfg.mel_bins,
                true,
            )?,
            encoder: UpsampleConformerEncoder::new(&cfg.encoder, &vb.pp("encoder"))?,
            encoder_proj: Linear::load(
                &vb.pp("encoder_proj"),
                cfg.encoder.dim,
                cfg.mel_bins,
                true,
            )?,
            decoder: Cfm::new(cfg, &vb.pp("decoder"))?,
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Token ids → `(h (1, 2N, D), mu (1, 2N, 80))`.
    pub fn encode(&self, tokens: &[u32]) -> Result<(Tensor, Tensor)> {
        if tokens.is_empty() {
            return Err(Error::InvalidArgument("flow: no tokens".into()));
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.cfg.vocab) {
            return Err(Error::InvalidArgument(format!(
                "flow: token {bad} outside the vocabulary of {}",
                self.cfg.vocab
            )));
        }
        let dev = self.input_embedding.device();
        let ids = Tensor::from_slice(tokens, tokens.len(), dev)?;
        let x = self.input_embedding.index_select(&ids, 0)?.unsqueeze(0)?;
        let h = self.encoder.forward(&x)?;
        let mu = self.encoder_proj.forward(&h)?;
        Ok((h, mu))
    }

    /// `l2norm` (eps 1e-12) then the affine layer: `(1, 192)` → `(1, 80)`.
    pub fn speaker(&self, embedding: &Tensor) -> Result<Tensor> {
        let e = embedding.to_dtype(DType::F32)?;
        let norm = e.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12f32, f32::MAX)?;
        self.spk_affine.forward(&e.broadcast_div(&norm)?)
    }

    /// Full flow inference (`finalize=True`): `prompt_feat` `(1, Tm, 80)` with `Tm` = 2 × prompt
    /// tokens (or fewer), `embedding` `(1, 192)`, noise `z` `(1, 80, 2·(Np+N))`. Returns the mel of
    /// the new tokens `(1, 80, 2·(Np+N) − Tm)`. `should_stop` is polled between Euler steps.
    pub fn inference(
        &self,
        tokens: &[u32],
        prompt_tokens: &[u32],
        prompt_feat: &Tensor,
        embedding: &Tensor,
        z: &Tensor,
        should_stop: ShouldStop,
    ) -> Result<Tensor> {
        self.inference_steps(
            tokens,
            prompt_tokens,
            prompt_feat,
            embedding,
            z,
            self.decoder.n_timesteps(),
            should_stop,
        )
    }

    /// [`Flow::inference`] with `steps` Euler steps in the CFM.
    #[allow(clippy::too_many_arguments)]
    pub fn inference_steps(
        &self,
        tokens: &[u32],
        prompt_tokens: &[u32],
        prompt_feat: &Tensor,
        embedding: &Tensor,
        z: &Tensor,
        steps: usize,
        should_stop: ShouldStop,
    ) -> Result<Tensor> {
        let spk = self.speaker(embedding)?;
        let all: Vec<u32> = prompt_tokens.iter().chain(tokens).copied().collect();
        let (_, mu) = self.encode(&all)?;
        let t = mu.dim(1)?;
        let (_, tp, bins) = prompt_feat.dims3()?;
        if bins != self.cfg.mel_bins || tp > t {
            return Err(Error::InvalidArgument(format!(
                "flow: prompt_feat {:?} does not fit {t} frames of {} bins",
                prompt_feat.dims(),
                self.cfg.mel_bins
            )));
        }
        if z.dims() != [1, self.cfg.mel_bins, t] {
            return Err(Error::InvalidArgument(format!(
                "flow: noise {:?}, expected (1, {}, {t})",
                z.dims(),
                self.cfg.mel_bins
            )));
        }
        let mu = crate::nn::swap_ct(&mu)?;
        let cond = prompt_feat
            .to_dtype(DType::F32)?
            .pad_with_zeros(1, 0, t - tp)?
            .transpose(1, 2)?
            .contiguous()?;
        let mel = self.decoder.forward_steps(
            &z.to_dtype(DType::F32)?,
            &mu,
            &spk,
            &cond,
            steps,
            should_stop,
        )?;
        Ok(mel.narrow(2, tp, t - tp)?)
    }

    pub fn device(&self) -> &Device {
        self.input_embedding.device()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_grid_is_torch_linspace() {
        assert_eq!(linear_t_span(2), vec![0.0, 0.5, 1.0]);
        assert_eq!(linear_t_span(1), vec![0.0, 1.0]);
        let g = linear_t_span(10);
        assert_eq!((g[0], g[10], g.len()), (0.0, 1.0, 11));
        assert!(g.windows(2).all(|w| (w[1] - w[0] - 0.1).abs() < 1e-6));
    }
}
