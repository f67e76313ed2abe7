//! Random weights for T3 at the released size, built in memory: every tensor of
//! `manifest-t3_cfg.tsv`, norms at one and everything else N(0, 0.02).

use candle_core::{DType, Device, Tensor};
use chatterbox_testkit::manifest;
use std::collections::HashMap;

#[allow(dead_code)]
pub fn released_t3_weights(dev: &Device) -> anyhow::Result<HashMap<String, Tensor>> {
    let mut ws = HashMap::new();
    for (key, shape) in manifest::parse(manifest::T3_CFG)? {
        let t = if key.ends_with("norm.weight") || key.ends_with("layernorm.weight") {
            Tensor::ones(shape, DType::F32, dev)?
        } else {
            Tensor::randn(0f32, 0.02, shape, dev)?
        };
        ws.insert(key, t);
    }
    Ok(ws)
}

/// The same for T3 Turbo: every tensor of `manifest-turbo-t3_turbo_v1.tsv`, LayerNorm weights at
/// one and everything else N(0, 0.02).
#[allow(dead_code)]
pub fn released_t3_turbo_weights(dev: &Device) -> anyhow::Result<HashMap<String, Tensor>> {
    let mut ws = HashMap::new();
    for (key, shape) in manifest::parse(manifest::T3_TURBO)? {
        let t = if key.contains(".ln_") && key.ends_with(".weight") {
            Tensor::ones(shape, DType::F32, dev)?
        } else {
            Tensor::randn(0f32, 0.02, shape, dev)?
        };
        ws.insert(key, t);
    }
    Ok(ws)
}

/// The same random weights drawn tensor by tensor when the model asks for each, the way
/// `load_t3` reads the released file (`checkpoint::open_checkpoint`): a weight the model
/// converts (packs or quantizes) is dropped as soon as it is converted, so the peak RSS is the
/// model's, not the model's plus a map of every f32 weight.
#[allow(dead_code)]
pub fn lazy_random_t3(turbo: bool, dev: &Device) -> anyhow::Result<candle_nn::VarBuilder<'static>> {
    let manifest = manifest::parse(if turbo {
        manifest::T3_TURBO
    } else {
        manifest::T3_CFG
    })?;
    Ok(candle_nn::VarBuilder::from_backend(
        Box::new(LazyRandom { manifest, turbo }),
        DType::F32,
        dev.clone(),
    ))
}

struct LazyRandom {
    manifest: std::collections::BTreeMap<String, Vec<usize>>,
    turbo: bool,
}

impl LazyRandom {
    fn draw(&self, name: &str, dev: &Device) -> candle_core::Result<Tensor> {
        let Some(shape) = self.manifest.get(name) else {
            return Err(candle_core::Error::CannotFindTensor {
                path: name.to_string(),
            });
        };
        let ones = if self.turbo {
            name.contains(".ln_") && name.ends_with(".weight")
        } else {
            name.ends_with("norm.weight") || name.ends_with("layernorm.weight")
        };
        if ones {
            Tensor::ones(shape.as_slice(), DType::F32, dev)
        } else {
            Tensor::randn(0f32, 0.02, shape.as_slice(), dev)
        }
    }
}

impl candle_nn::var_builder::SimpleBackend for LazyRandom {
    fn get(
        &self,
        s: candle_core::Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self.draw(name, dev)?.to_dtype(dtype)?;
        if t.shape() != &s {
            candle_core::bail!("{name}: shape {:?}, asked for {s:?}", t.shape())
        }
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.draw(name, dev)?.to_dtype(dtype)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.manifest.contains_key(name)
    }
}
