//! Random weights for T3 at the released size, built in memory: every tensor of
//! `manifest-t3_cfg.tsv`, norms at one and everything else N(0, 0.02).

use candle_core::{DType, Device, Tensor};
use chatterbox_testkit::manifest;
use std::collections::HashMap;

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
