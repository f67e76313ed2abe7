//! The LSTM d-vector network (`lstm.*`, `proj.*`, `similarity_*`) and the utterance pipeline.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::kernels::{exp_approx, kernel, simd, with_slice};
use crate::nn::Linear;

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
///
/// The input projection of every frame is one matrix product (`x·W_ihᵀ + b_ih + b_hh`, all
/// partials and frames at once); each step then multiplies the `(B, H)` hidden states by
/// `W_hhᵀ` and applies the gates in one vectorised pass. Both products run on the packed kernel
/// (`nn::Linear`) where the CPU has one.
struct LstmLayer {
    /// `x ↦ x·W_ihᵀ + (b_ih + b_hh)`: `in → 4H`.
    input: Linear,
    /// `h ↦ h·W_hhᵀ`: `H → 4H`.
    recurrent: Linear,
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
            input: Linear::from_weights(&w_ih, Some((b_ih + b_hh)?))?,
            recurrent: Linear::from_weights(&w_hh, None)?,
            hidden,
        })
    }

    /// `x`: `(B, T, in)` → all hidden states `(B, T, H)`; h0 = c0 = 0.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, i) = x.dims3()?;
        let h = self.hidden;
        let g = 4 * h;
        // Input contributions of every step at once: (B·T, 4H).
        let pre = self.input.forward(&x.reshape((b * t, i))?)?;
        let mut h_prev = vec![0f32; b * h];
        let mut c = vec![0f32; b * h];
        let mut out = vec![0f32; b * t * h];
        with_slice(&pre, |pre| -> Result<()> {
            for step in 0..t {
                let rec = if step == 0 {
                    // h0 = 0: no recurrent contribution.
                    None
                } else {
                    let hs = Tensor::from_slice(&h_prev, (b, h), x.device())?;
                    Some(self.recurrent.forward(&hs)?)
                };
                let mut gates = |rec: Option<&[f32]>| {
                    for bi in 0..b {
                        let z_in = &pre[(bi * t + step) * g..][..g];
                        let z_rec = rec.map(|r| &r[bi * g..][..g]);
                        let hs = &mut h_prev[bi * h..][..h];
                        let cs = &mut c[bi * h..][..h];
                        simd::<LstmGatesK>((z_in, z_rec, cs, hs));
                        out[(bi * t + step) * h..][..h].copy_from_slice(hs);
                    }
                };
                match &rec {
                    Some(r) => with_slice(r, |r| gates(Some(r)))?,
                    None => gates(None),
                }
            }
            Ok(())
        })??;
        Ok(Tensor::from_vec(out, (b, t, h), x.device())?)
    }
}

#[inline(always)]
fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-v))
}

/// `tanh` through `exp` (`1 − 2/(e^{2v} + 1)`, about 1e-7 absolute), branch-free so it vectorises.
#[inline(always)]
fn tanh(v: f32) -> f32 {
    1.0 - 2.0 / (exp_approx(2.0 * v) + 1.0)
}

// One LSTM step for one sequence: `z = z_in + z_rec` (`[i, f, g, o]`, each `H` wide), then
// `c ← σ(f)·c + σ(i)·tanh(g)`, `h ← σ(o)·tanh(c)`.
kernel!(LstmGatesK, (z_in, z_rec, c, h): (&'a [f32], Option<&'a [f32]>, &'a mut [f32], &'a mut [f32]), {
    let n = h.len();
    let (zi, zf, zg, zo) = (&z_in[..n], &z_in[n..2 * n], &z_in[2 * n..3 * n], &z_in[3 * n..4 * n]);
    match z_rec {
        Some(r) => {
            let (ri, rf, rg, ro) = (&r[..n], &r[n..2 * n], &r[2 * n..3 * n], &r[3 * n..4 * n]);
            for j in 0..n {
                let gi = sigmoid(zi[j] + ri[j]);
                let gf = sigmoid(zf[j] + rf[j]);
                let gg = tanh(zg[j] + rg[j]);
                let go = sigmoid(zo[j] + ro[j]);
                let cj = gf * c[j] + gi * gg;
                c[j] = cj;
                h[j] = go * tanh(cj);
            }
        }
        None => {
            for j in 0..n {
                let gi = sigmoid(zi[j]);
                let gf = sigmoid(zf[j]);
                let gg = tanh(zg[j]);
                let go = sigmoid(zo[j]);
                let cj = gf * c[j] + gi * gg;
                c[j] = cj;
                h[j] = go * tanh(cj);
            }
        }
    }
});

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
            proj: Linear::load(&vb.pp("proj"), cfg.hidden, cfg.embedding, true)?,
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
