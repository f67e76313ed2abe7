//! A `VarBuilder` backend that answers every request with seeded random values and remembers
//! them, so any module of the real architecture can be instantiated at any config with random
//! weights and then written out as a checkpoint with exactly the keys it asked for.

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::{Error, Result};

#[derive(Clone)]
pub struct RandomWeights {
    seed: u64,
    made: Arc<Mutex<BTreeMap<String, Tensor>>>,
}

/// splitmix64: a tiny, well-mixed, portable generator (the same bytes on every platform).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a: a stable hash of the parameter name (std's hasher may change between releases).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn uniform(state: &mut u64) -> f32 {
    ((splitmix(state) >> 40) as f32 + 0.5) / (1u64 << 24) as f32
}

/// How a parameter is initialised, from its name: norms and gains near one, variances positive,
/// means near zero, everything else uniform with a fan-in scale.
fn values(name: &str, dims: &[usize], state: &mut u64) -> Vec<f32> {
    let n: usize = dims.iter().product();
    let leaf = name.rsplit('.').next().unwrap_or(name);
    let is_norm = name.contains("norm")
        || name.contains("_ln")
        || name.contains("ln.")
        || name.contains(".ln_");
    let fan_in = if dims.len() >= 2 {
        dims[1..].iter().product::<usize>().max(1)
    } else {
        dims.first().copied().unwrap_or(1).max(1)
    };
    let scale = 1.0 / (fan_in as f32).sqrt();
    (0..n)
        .map(|_| {
            let u = uniform(state) * 2.0 - 1.0; // [-1, 1)
            match leaf {
                "running_var" => 1.0 + 0.2 * u.abs(),
                "running_mean" => 0.1 * u,
                "alpha" => 1.0 + 0.3 * u,
                "original0" | "weight_g" => 1.0 + 0.2 * u,
                "weight" if is_norm && dims.len() == 1 => 1.0 + 0.1 * u,
                "bias" if is_norm => 0.1 * u,
                "bias" => 0.05 * u,
                _ => scale * u * 3f32.sqrt(),
            }
        })
        .collect()
}

impl RandomWeights {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            made: Arc::default(),
        }
    }

    pub fn var_builder(&self) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(self.clone()), DType::F32, Device::Cpu)
    }

    /// Everything handed out so far.
    pub fn tensors(&self) -> BTreeMap<String, Tensor> {
        crate::lock(&self.made).clone()
    }

    /// Write everything handed out so far as one safetensors file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let map: HashMap<String, Tensor> = self.tensors().into_iter().collect();
        candle_core::safetensors::save(&map, path).map_err(|e| Error::Checkpoint {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })
    }
}

impl SimpleBackend for RandomWeights {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut made = crate::lock(&self.made);
        if let Some(t) = made.get(name) {
            if t.dims() != s.dims() {
                candle_core::bail!("{name} requested as {:?} and {:?}", t.dims(), s.dims());
            }
            return t.to_dtype(dtype)?.to_device(dev);
        }
        let mut state = self.seed ^ fnv1a(name);
        let t = Tensor::from_vec(values(name, s.dims(), &mut state), s, &Device::Cpu)?;
        made.insert(name.to_string(), t.clone());
        t.to_dtype(dtype)?.to_device(dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let made = crate::lock(&self.made);
        match made.get(name) {
            Some(t) => t.to_dtype(dtype)?.to_device(dev),
            None => candle_core::bail!("{name} has no shape yet"),
        }
    }

    /// Everything exists except the speech tokenizer's recomputable front-end buffers, which a
    /// random checkpoint must not carry (loaders compute them, as for a file that omits them).
    fn contains_tensor(&self, name: &str) -> bool {
        !(name.ends_with("_mel_filters") || name == "window" || name.ends_with(".window"))
    }
}
