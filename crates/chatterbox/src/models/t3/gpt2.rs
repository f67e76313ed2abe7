//! The GPT-2 backbone of T3 Turbo (HF `GPT2Model` "GPT2_medium" driven by `inputs_embeds`), with
//! its own KV cache: learned absolute positions `wpe` over the whole sequence, pre-LayerNorm blocks,
//! `gelu_new` (tanh) MLP, biases everywhere. The projections are HF `Conv1D`s (weights stored
//! `(in, out)`); `wte` is in the checkpoint but never used (the reference deletes it after loading).

use candle_core::{DType, Tensor};
use candle_nn::kv_cache::KvCache;
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use crate::nn::{get, Epilogue, LayerNorm, Linear, Quantization};
use crate::{Error, Result};

/// `GPT2Config` fields that matter (upstream names: `n_embd`, `n_layer`, `n_head`, `n_inner`,
/// `n_positions`, `layer_norm_epsilon`, `vocab_size`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpt2Config {
    /// Rows of `wte` (loaded for the key set, unused: the backbone is driven by embeddings).
    pub vocab_size: usize,
    /// Rows of the learned position table `wpe`: the longest sequence (prefix + generated).
    pub n_positions: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    /// MLP inner width (`n_inner`, 4 · `n_embd` when unset upstream).
    pub n_inner: usize,
    pub layer_norm_epsilon: f64,
}

impl Gpt2Config {
    /// `GPT2_medium` as T3 Turbo configures it (`models/t3/llama_configs.py:35-67`).
    pub fn gpt2_medium() -> Self {
        Self {
            vocab_size: 50276,
            n_positions: 8196,
            n_embd: 1024,
            n_layer: 24,
            n_head: 16,
            n_inner: 4096,
            layer_norm_epsilon: 1e-5,
        }
    }

    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head.max(1)
    }
}

/// Per-layer key/value cache, layout `(B, heads, T, head_dim)`; its length is the absolute
/// position of the next input.
#[derive(Debug, Clone)]
pub struct Gpt2Cache {
    layers: Vec<KvCache>,
}

impl Gpt2Cache {
    /// A cache for `cfg` with room for `capacity` positions before it has to grow.
    pub fn new(cfg: &Gpt2Config, capacity: usize) -> Self {
        Self {
            layers: (0..cfg.n_layer)
                .map(|_| KvCache::new(2, capacity.max(1)))
                .collect(),
        }
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, |c| c.current_seq_len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy with room for `capacity` positions and buffers of its own (appending to the copy
    /// leaves `self` as it is: a cached prefix can be continued many times).
    pub fn fork(&self, capacity: usize) -> Result<Self> {
        let mut layers = Vec::with_capacity(self.layers.len());
        for c in &self.layers {
            let mut n = KvCache::new(2, capacity.max(self.len()).max(1));
            if let (Some(k), Some(v)) = (c.k()?, c.v()?) {
                n.append(&k.contiguous()?, &v.contiguous()?)?;
            }
            layers.push(n);
        }
        Ok(Self { layers })
    }
}

struct Block {
    ln_1: LayerNorm,
    c_attn: Linear,
    attn_c_proj: Linear,
    ln_2: LayerNorm,
    c_fc: Linear,
    mlp_c_proj: Linear,
}

impl Block {
    fn new(cfg: &Gpt2Config, vb: &VarBuilder, q: Quantization) -> Result<Self> {
        let (h, eps) = (cfg.n_embd, cfg.layer_norm_epsilon);
        let (attn, mlp) = (vb.pp("attn"), vb.pp("mlp"));
        Ok(Self {
            ln_1: LayerNorm::load(&vb.pp("ln_1"), h, eps)?,
            c_attn: Linear::load_conv1d_for_decode(&attn.pp("c_attn"), h, 3 * h, q)?,
            attn_c_proj: Linear::load_conv1d_for_decode(&attn.pp("c_proj"), h, h, q)?,
            ln_2: LayerNorm::load(&vb.pp("ln_2"), h, eps)?,
            c_fc: Linear::load_conv1d_for_decode(&mlp.pp("c_fc"), h, cfg.n_inner, q)?,
            mlp_c_proj: Linear::load_conv1d_for_decode(&mlp.pp("c_proj"), cfg.n_inner, h, q)?,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        heads: usize,
        mask: Option<&Tensor>,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let hd = c / heads;
        let qkv = self.c_attn.forward(&self.ln_1.forward(x)?)?;
        let split = |i: usize| -> candle_core::Result<Tensor> {
            qkv.narrow(2, i * c, c)?
                .reshape((b, t, heads, hd))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (split(0)?, split(1)?, split(2)?);
        let (k, v) = cache.append(&k, &v)?;
        let mut att = (q.matmul(&k.t()?)? * (1.0 / (hd as f64).sqrt()))?;
        if let Some(m) = mask {
            att = att.broadcast_add(m)?;
        }
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        let y = att.matmul(&v)?.transpose(1, 2)?.reshape((b, t, c))?;
        let x = self.attn_c_proj.forward_with(&y, Epilogue::Residual(x))?;
        let m = self.c_fc.forward(&self.ln_2.forward(&x)?)?.gelu()?;
        self.mlp_c_proj.forward_with(&m, Epilogue::Residual(&x))
    }
}

/// `GPT2Model` without its token embedding (inputs are embeddings); returns `ln_f` states.
pub struct Gpt2 {
    wpe: Tensor,
    h: Vec<Block>,
    ln_f: LayerNorm,
    cfg: Gpt2Config,
}

impl Gpt2 {
    /// Load from `vb` = the `tfmr.` prefix, the block projections stored as `quantization` says
    /// (each quantized as it is read). `wte` is requested (so the key set is the file's) and
    /// dropped at once.
    pub fn new(cfg: &Gpt2Config, vb: &VarBuilder, quantization: Quantization) -> Result<Self> {
        if cfg.n_head == 0 || cfg.n_embd % cfg.n_head != 0 {
            return Err(Error::InvalidArgument(format!(
                "GPT-2: {} heads do not divide width {}",
                cfg.n_head, cfg.n_embd
            )));
        }
        drop(get(&vb.pp("wte"), &[cfg.vocab_size, cfg.n_embd], "weight")?);
        Ok(Self {
            wpe: get(&vb.pp("wpe"), &[cfg.n_positions, cfg.n_embd], "weight")?,
            h: (0..cfg.n_layer)
                .map(|i| Block::new(cfg, &vb.pp("h").pp(i), quantization))
                .collect::<Result<_>>()?,
            ln_f: LayerNorm::load(&vb.pp("ln_f"), cfg.n_embd, cfg.layer_norm_epsilon)?,
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &Gpt2Config {
        &self.cfg
    }

    /// Run `embeds` `(B, T, n_embd)` at positions `cache.len() ..` (causal; `wpe` added here);
    /// returns the `ln_f` hidden states `(B, T, n_embd)` and appends the keys/values to `cache`.
    pub fn forward(&self, embeds: &Tensor, cache: &mut Gpt2Cache) -> Result<Tensor> {
        let (_, t, _) = embeds.dims3()?;
        let start = cache.len();
        if start + t > self.cfg.n_positions {
            return Err(Error::InvalidArgument(format!(
                "sequence of {} positions exceeds GPT-2's {} learned positions",
                start + t,
                self.cfg.n_positions
            )));
        }
        if cache.layers.len() != self.h.len() {
            return Err(Error::InvalidArgument(format!(
                "cache for {} layers, model has {}",
                cache.layers.len(),
                self.h.len()
            )));
        }
        let dev = embeds.device();
        let mask = if t > 1 {
            let total = start + t;
            let m: Vec<f32> = (0..t)
                .flat_map(|i| {
                    (0..total).map(move |j| {
                        if j > start + i {
                            f32::NEG_INFINITY
                        } else {
                            0.0
                        }
                    })
                })
                .collect();
            Some(Tensor::from_vec(m, (t, total), dev)?)
        } else {
            None
        };
        let mut x = embeds
            .to_dtype(DType::F32)?
            .broadcast_add(&self.wpe.narrow(0, start, t)?)?
            .contiguous()?;
        for (block, kv) in self.h.iter().zip(cache.layers.iter_mut()) {
            x = block.forward(&x, self.cfg.n_head, mask.as_ref(), kv)?;
        }
        self.ln_f.forward(&x)
    }
}
