//! The LSTM d-vector network (`lstm.*`, `proj.*`, `similarity_*`) and the utterance pipeline.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder};

use super::{melspectrogram, num_partials, trim_silence, N_MELS, PARTIAL_FRAMES, PARTIAL_STEP};
use crate::{Error, Result};

/// Network sizes. `Default` is the released voice encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceEncoderConfig {
    pub n_mels: usize,
    pub hidden: usize,
    pub embedding: usize,
    pub layers: usize,
}

impl Default for VoiceEncoderConfig {
    fn default() -> Self {
        Self {
            n_mels: N_MELS,
            hidden: 256,
            embedding: 256,
            layers: 3,
        }
    }
}

/// One unidirectional LSTM layer in PyTorch's layout (gates stacked `[i, f, g, o]`).
struct LstmLayer {
    /// `W_ihᵀ`: `(in, 4H)`.
    w_ih_t: Tensor,
    /// `W_hhᵀ`: `(H, 4H)`.
    w_hh_t: Tensor,
    /// `b_ih + b_hh`: `(4H,)`.
    bias: Tensor,
    hidden: usize,
}

impl LstmLayer {
    fn load(vb: &VarBuilder, k: usize, input: usize, hidden: usize) -> Result<Self> {
        let g = 4 * hidden;
        let w_ih = vb.get((g, input), &format!("weight_ih_l{k}"))?;
        let w_hh = vb.get((g, hidden), &format!("weight_hh_l{k}"))?;
        let b_ih = vb.get(g, &format!("bias_ih_l{k}"))?;
        let b_hh = vb.get(g, &format!("bias_hh_l{k}"))?;
        Ok(Self {
            w_ih_t: w_ih.t()?.contiguous()?,
            w_hh_t: w_hh.t()?.contiguous()?,
            bias: (b_ih + b_hh)?,
            hidden,
        })
    }

    /// `x`: `(B, T, in)` → all hidden states `(B, T, H)`; h0 = c0 = 0.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, i) = x.dims3()?;
        let h = self.hidden;
        let g = 4 * h;
        // Input contributions of every step at once: (B·T, 4H).
        let pre = x
            .reshape((b * t, i))?
            .matmul(&self.w_ih_t)?
            .broadcast_add(&self.bias)?
            .reshape((b, t, g))?
            .to_vec3::<f32>()?;
        let mut h_prev = vec![0f32; b * h];
        let mut c = vec![0f32; b * h];
        let mut out = vec![0f32; b * t * h];
        let sigmoid = |v: f32| 1.0 / (1.0 + (-v).exp());
        for step in 0..t {
            let rec = Tensor::from_slice(&h_prev, (b, h), x.device())?
                .matmul(&self.w_hh_t)?
                .to_vec2::<f32>()?;
            for bi in 0..b {
                let z_in = &pre[bi][step];
                let z_rec = &rec[bi];
                for j in 0..h {
                    let gi = sigmoid(z_in[j] + z_rec[j]);
                    let gf = sigmoid(z_in[h + j] + z_rec[h + j]);
                    let gg = (z_in[2 * h + j] + z_rec[2 * h + j]).tanh();
                    let go = sigmoid(z_in[3 * h + j] + z_rec[3 * h + j]);
                    let cj = gf * c[bi * h + j] + gi * gg;
                    c[bi * h + j] = cj;
                    let hj = go * cj.tanh();
                    h_prev[bi * h + j] = hj;
                    out[(bi * t + step) * h + j] = hj;
                }
            }
        }
        Ok(Tensor::from_vec(out, (b, t, h), x.device())?)
    }
}

/// `VoiceEncoder` (`ve.safetensors`).
pub struct VoiceEncoder {
    lstm: Vec<LstmLayer>,
    proj: Linear,
    cfg: VoiceEncoderConfig,
}

/// The utterance embedding and the intermediate quantities of its pipeline.
pub struct VoiceEmbedding {
    /// `(1, E)`, unit L2 norm.
    pub embedding: Tensor,
    /// Kept sample range `[start, end)` after the silence trim.
    pub trim: (usize, usize),
    /// `(n_partials, E)`, each unit L2 norm.
    pub partial_embeds: Tensor,
}

fn l2_normalize_rows(x: &Tensor) -> Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(1)?.sqrt()?;
    Ok(x.broadcast_div(&norm)?)
}

impl VoiceEncoder {
    pub fn new(cfg: VoiceEncoderConfig, vb: VarBuilder) -> Result<Self> {
        let lv = vb.pp("lstm");
        let lstm = (0..cfg.layers)
            .map(|k| {
                let input = if k == 0 { cfg.n_mels } else { cfg.hidden };
                LstmLayer::load(&lv, k, input, cfg.hidden)
            })
            .collect::<Result<Vec<_>>>()?;
        // Training-only cosine-similarity scale/shift: part of the strict key set, unused here.
        vb.get(1, "similarity_weight")?;
        vb.get(1, "similarity_bias")?;
        Ok(Self {
            lstm,
            proj: linear(cfg.hidden, cfg.embedding, vb.pp("proj"))?,
            cfg,
        })
    }

    pub fn config(&self) -> &VoiceEncoderConfig {
        &self.cfg
    }

    /// Embeddings of a batch of partials `(B, 160, n_mels)` → `(B, E)`, each L2-normalised.
    pub fn forward(&self, mels: &Tensor) -> Result<Tensor> {
        let mut x = mels.to_dtype(DType::F32)?;
        for layer in &self.lstm {
            x = layer.forward(&x)?;
        }
        let t = x.dim(1)?;
        let last = x.narrow(1, t - 1, 1)?.squeeze(1)?;
        let e = self.proj.forward(&last)?.relu()?;
        l2_normalize_rows(&e)
    }

    /// `embeds_from_wavs([wav16], 16000)` for one utterance (trim top_db 20, rate 1.3,
    /// min_coverage 0.8): `(1, E)`.
    pub fn embed_utterance(&self, wav16: &[f32], device: &Device) -> Result<VoiceEmbedding> {
        let (start, end) = trim_silence(wav16, 20.0);
        if end - start < crate::models::s3tokenizer::N_FFT {
            return Err(Error::InvalidAudio(format!(
                "voice encoder: only {} samples of non-silent audio after trimming (need >= {})",
                end - start,
                crate::models::s3tokenizer::N_FFT
            )));
        }
        let mel = melspectrogram(&wav16[start..end], device)?;
        let frames = mel.dim(0)?;
        let (n, target) = num_partials(frames);
        let mel = if target > frames {
            Tensor::cat(
                &[
                    mel,
                    Tensor::zeros((target - frames, self.cfg.n_mels), DType::F32, device)?,
                ],
                0,
            )?
        } else {
            mel
        };
        let partials = (0..n)
            .map(|k| mel.narrow(0, k * PARTIAL_STEP, PARTIAL_FRAMES))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let partial_embeds = self.forward(&Tensor::stack(&partials, 0)?)?;
        let mean = partial_embeds.mean_keepdim(0)?;
        Ok(VoiceEmbedding {
            embedding: l2_normalize_rows(&mean)?,
            trim: (start, end),
            partial_embeds,
        })
    }
}
