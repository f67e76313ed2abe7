//! The Llama backbone of T3 (HF `LlamaModel` driven by `inputs_embeds`), with its own KV cache and
//! llama3-scaled rotate-half RoPE (the inverse frequencies are computed, not loaded).

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::kv_cache::KvCache;
use candle_nn::{embedding, rms_norm, Embedding, RmsNorm, VarBuilder};

use super::config::LlamaConfig;
use crate::kernels::{exp_approx, in_place, kernel, simd, softmax_row, with_slice, PAR_CHUNK};
use crate::nn::{Epilogue, Linear, Quantization};
use crate::Result;

/// RoPE inverse frequencies, with the `llama3` scaling of HF `_compute_llama3_parameters`
/// (f32 arithmetic as in the reference).
pub fn rope_inv_freq(cfg: &LlamaConfig) -> Vec<f32> {
    let dim = cfg.head_dim;
    let base = cfg.rope_theta;
    let inv: Vec<f32> = (0..dim)
        .step_by(2)
        .map(|i| 1.0 / base.powf(i as f32 / dim as f32))
        .collect();
    let Some(s) = &cfg.rope_scaling else {
        return inv;
    };
    let old = s.original_max_position_embeddings as f32;
    let low_wavelen = old / s.low_freq_factor;
    let high_wavelen = old / s.high_freq_factor;
    inv.into_iter()
        .map(|f| {
            let wavelen = 2.0 * std::f32::consts::PI / f;
            let scaled = if wavelen > low_wavelen {
                f / s.factor
            } else {
                f
            };
            if wavelen < high_wavelen || wavelen > low_wavelen {
                scaled
            } else {
                let smooth =
                    (old / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
                (1.0 - smooth) * scaled / s.factor + smooth * scaled
            }
        })
        .collect()
}

/// Per-layer key/value cache (pre-allocated, grows if needed), layout `(B, heads, T, head_dim)`.
#[derive(Debug, Clone)]
pub struct LlamaCache {
    layers: Vec<KvCache>,
}

impl LlamaCache {
    /// A cache for `cfg` with room for `capacity` positions before it has to grow.
    pub fn new(cfg: &LlamaConfig, capacity: usize) -> Self {
        Self {
            layers: (0..cfg.num_hidden_layers)
                .map(|_| KvCache::new(2, capacity.max(1)))
                .collect(),
        }
    }

    /// Positions held (= RoPE position of the next input).
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, |c| c.current_seq_len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(vb: &VarBuilder, cfg: &LlamaConfig, q: Quantization) -> Result<Self> {
        let (h, inner) = (cfg.hidden_size, cfg.num_attention_heads * cfg.head_dim);
        Ok(Self {
            q_proj: Linear::load_for_decode(&vb.pp("q_proj"), h, inner, q)?,
            k_proj: Linear::load_for_decode(&vb.pp("k_proj"), h, inner, q)?,
            v_proj: Linear::load_for_decode(&vb.pp("v_proj"), h, inner, q)?,
            o_proj: Linear::load_for_decode(&vb.pp("o_proj"), inner, h, q)?,
            heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim,
        })
    }

    /// `residual + o_proj(attention(x))` (the residual added as the product is stored).
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        x: &Tensor,
        residual: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        cache: &mut KvCache,
        probe_heads: &[usize],
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let (b, t, _) = x.dims3()?;
        let split = |y: Tensor| -> candle_core::Result<Tensor> {
            y.reshape((b, t, self.heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.q_proj.forward(x)?)?;
        let k = split(self.k_proj.forward(x)?)?;
        let v = split(self.v_proj.forward(x)?)?;
        let q = candle_nn::rotary_emb::rope(&q, cos, sin)?;
        let k = candle_nn::rotary_emb::rope(&k, cos, sin)?;
        let (k, v) = cache.append(&k, &v)?;
        let scale = 1.0 / (self.head_dim as f32).sqrt();
        let att = causal_softmax_(q.matmul(&k.t()?)?, scale)?;
        let probes = probe_heads
            .iter()
            .map(|&h| Ok(att.get(0)?.get(h)?))
            .collect::<Result<Vec<_>>>()?;
        let y = att.matmul(&v)?.transpose(1, 2)?.reshape((b, t, ()))?;
        Ok((
            self.o_proj.forward_with(&y, Epilogue::Residual(residual))?,
            probes,
        ))
    }
}

struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    fn load(vb: &VarBuilder, cfg: &LlamaConfig, q: Quantization) -> Result<Self> {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Self {
            gate_proj: Linear::load_for_decode(&vb.pp("gate_proj"), h, i, q)?,
            up_proj: Linear::load_for_decode(&vb.pp("up_proj"), h, i, q)?,
            down_proj: Linear::load_for_decode(&vb.pp("down_proj"), i, h, q)?,
        })
    }

    /// `residual + down(silu(gate(x)) · up(x))`.
    fn forward(&self, x: &Tensor, residual: &Tensor) -> Result<Tensor> {
        let g = silu_mul_(self.gate_proj.forward(x)?, &self.up_proj.forward(x)?)?;
        self.down_proj
            .forward_with(&g, Epilogue::Residual(residual))
    }
}

/// In place on fresh attention scores `(B, H, T, S)` (the `T` new queries are the last of the
/// `S` positions): `softmax(scale · s)` over the keys each query may see (causal), zero for the
/// keys after it. One pass instead of scaling, adding a mask and a softmax as three tensors.
fn causal_softmax_(att: Tensor, scale: f32) -> Result<Tensor> {
    use rayon::prelude::*;
    let att = att.contiguous()?;
    let (_, _, t, s) = att.dims4()?;
    if t > s || s == 0 {
        return Err(crate::Error::InvalidArgument(format!(
            "attention: {t} queries over {s} positions"
        )));
    }
    let start = s - t;
    in_place(&att, "causal-softmax", |data| {
        data.par_chunks_mut(s)
            .enumerate()
            .for_each(|(r, row)| simd::<CausalSoftmaxK>((row, start + r % t + 1, scale)))
    })?;
    Ok(att)
}

kernel!(CausalSoftmaxK, (row, visible, scale): (&'a mut [f32], usize, f32), {
    let (seen, masked) = row.split_at_mut(visible);
    for v in seen.iter_mut() {
        *v *= scale;
    }
    softmax_row(seen);
    masked.fill(0.0);
});

/// In place on the fresh gate product `g`: `silu(g) · u` (SwiGLU), one pass instead of three
/// tensors.
fn silu_mul_(g: Tensor, u: &Tensor) -> Result<Tensor> {
    use rayon::prelude::*;
    let g = g.contiguous()?;
    if g.dims() != u.dims() {
        return Err(crate::Error::InvalidArgument(format!(
            "silu-mul: gate {:?}, up {:?}",
            g.dims(),
            u.dims()
        )));
    }
    with_slice(u, |us| {
        in_place(&g, "silu-mul", |gs| {
            gs.par_chunks_mut(PAR_CHUNK)
                .zip(us.par_chunks(PAR_CHUNK))
                .for_each(|(g, u)| simd::<SiluMulK>((g, u)))
        })
    })??;
    Ok(g)
}

kernel!(SiluMulK, (g, u): (&'a mut [f32], &'a [f32]), {
    for (g, &u) in g.iter_mut().zip(u) {
        *g = *g / (1.0 + exp_approx(-*g)) * u;
    }
});

struct Layer {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
}

/// `LlamaModel` without its token embedding (inputs are embeddings); returns post-norm states.
pub struct Llama {
    layers: Vec<Layer>,
    norm: RmsNorm,
    inv_freq: Vec<f32>,
    cfg: LlamaConfig,
    /// `tfmr.embed_tokens` is in the checkpoint (loaded for a strict key set, never used).
    _embed_tokens: Embedding,
}

impl Llama {
    /// Load from `vb` = the `tfmr.` prefix, the projections stored as `quantization` says
    /// (each weight is quantized as it is read, so the f32 copies never all coexist).
    pub fn new(cfg: &LlamaConfig, vb: &VarBuilder, quantization: Quantization) -> Result<Self> {
        let h = cfg.hidden_size;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let vb = vb.pp("layers").pp(i);
                Ok(Layer {
                    self_attn: Attention::load(&vb.pp("self_attn"), cfg, quantization)?,
                    mlp: Mlp::load(&vb.pp("mlp"), cfg, quantization)?,
                    input_layernorm: rms_norm(h, cfg.rms_norm_eps, vb.pp("input_layernorm"))?,
                    post_attention_layernorm: rms_norm(
                        h,
                        cfg.rms_norm_eps,
                        vb.pp("post_attention_layernorm"),
                    )?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            layers,
            norm: rms_norm(h, cfg.rms_norm_eps, vb.pp("norm"))?,
            inv_freq: rope_inv_freq(cfg),
            cfg: cfg.clone(),
            _embed_tokens: embedding(cfg.vocab_size, h, vb.pp("embed_tokens"))?,
        })
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// cos/sin tables `(t, head_dim / 2)` for positions `start .. start + t`.
    fn rope_tables(&self, start: usize, t: usize, dev: &Device) -> Result<(Tensor, Tensor)> {
        let half = self.inv_freq.len();
        let mut cos = Vec::with_capacity(t * half);
        let mut sin = Vec::with_capacity(t * half);
        for p in start..start + t {
            for &f in &self.inv_freq {
                let a = p as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        Ok((
            Tensor::from_vec(cos, (t, half), dev)?,
            Tensor::from_vec(sin, (t, half), dev)?,
        ))
    }

    /// Run `embeds` `(B, T, hidden)` after what `cache` holds (causal); returns the final-norm
    /// hidden states `(B, T, hidden)` and appends the new keys/values to `cache`.
    pub fn forward(&self, embeds: &Tensor, cache: &mut LlamaCache) -> Result<Tensor> {
        Ok(self.forward_probed(embeds, cache, &[])?.0)
    }

    /// [`Llama::forward`] that also returns, for each `(layer, head)` of `probes`, that head's
    /// attention probabilities of batch row 0, `(T, cache + T)` (what the reference's eager
    /// attention hands to the multilingual alignment analyzer).
    pub fn forward_probed(
        &self,
        embeds: &Tensor,
        cache: &mut LlamaCache,
        probes: &[(usize, usize)],
    ) -> Result<(Tensor, Vec<Tensor>)> {
        if let Some(&(l, h)) = probes
            .iter()
            .find(|&&(l, h)| l >= self.layers.len() || h >= self.cfg.num_attention_heads)
        {
            return Err(crate::Error::InvalidArgument(format!(
                "attention probe (layer {l}, head {h}) outside the model"
            )));
        }
        let mut probed: Vec<Option<Tensor>> = vec![None; probes.len()];
        let (_, t, _) = embeds.dims3()?;
        let start = cache.len();
        let dev = embeds.device();
        let (cos, sin) = self.rope_tables(start, t, dev)?;
        let mut x = embeds.to_dtype(DType::F32)?;
        for (li, (layer, kv)) in self.layers.iter().zip(cache.layers.iter_mut()).enumerate() {
            let h = layer.input_layernorm.forward(&x)?;
            let heads: Vec<usize> = probes.iter().filter(|p| p.0 == li).map(|p| p.1).collect();
            let (x1, maps) = layer.self_attn.forward(&h, &x, &cos, &sin, kv, &heads)?;
            let mut maps = maps.into_iter();
            for (slot, p) in probed.iter_mut().zip(probes) {
                if p.0 == li {
                    *slot = maps.next();
                }
            }
            x = layer
                .mlp
                .forward(&layer.post_attention_layernorm.forward(&x1)?, &x1)?;
        }
        let maps = probed
            .into_iter()
            .map(|m| {
                m.ok_or_else(|| crate::Error::InvalidArgument("attention probe not reached".into()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((self.norm.forward(&x)?, maps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_inv_freq_bands() {
        // Released head_dim 64: i = 0..14 kept, 15..17 smoothed, 18..31 divided by 8 (spec §2.2).
        let cfg = LlamaConfig::llama_520m();
        let inv = rope_inv_freq(&cfg);
        assert_eq!(inv.len(), 32);
        for (i, &f) in inv.iter().enumerate() {
            let raw = 1.0 / 500_000f32.powf(2.0 * i as f32 / 64.0);
            match i {
                0..=14 => assert_eq!(f, raw),
                18..=31 => assert_eq!(f, raw / 8.0),
                _ => assert!(f < raw && f > raw / 8.0, "band {i}: {f} vs {raw}"),
            }
        }
        let plain = LlamaConfig {
            rope_scaling: None,
            ..cfg
        };
        assert_eq!(
            rope_inv_freq(&plain)[31],
            1.0 / 500_000f32.powf(62.0 / 64.0)
        );
    }
}
