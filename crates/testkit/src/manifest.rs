//! Checkpoint manifests (key, shape, dtype of every tensor the reference modules hold) and a
//! recording `VarBuilder` backend, so tests can assert that a model asks for exactly the
//! checkpoint's keys and shapes.

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::{Error, Result};

/// `manifest-ve.tsv` of chatterbox-tts 0.1.7.
pub const VE: &str = include_str!("../manifests/manifest-ve.tsv");
/// `manifest-t3_cfg.tsv` of chatterbox-tts 0.1.7.
pub const T3_CFG: &str = include_str!("../manifests/manifest-t3_cfg.tsv");
/// `manifest-s3gen.tsv` of chatterbox-tts 0.1.7.
pub const S3GEN: &str = include_str!("../manifests/manifest-s3gen.tsv");
/// `manifest-turbo-t3_turbo_v1.tsv` (Chatterbox-Turbo's GPT-2 T3) of chatterbox-tts 0.1.7.
pub const T3_TURBO: &str = include_str!("../manifests/manifest-turbo-t3_turbo_v1.tsv");
/// `manifest-turbo-s3gen_meanflow.tsv` (Chatterbox-Turbo's S3Gen) of chatterbox-tts 0.1.7.
pub const S3GEN_MEANFLOW: &str = include_str!("../manifests/manifest-turbo-s3gen_meanflow.tsv");
/// `t3_mtl23ls_v2.safetensors` of Chatterbox Multilingual (292 tensors; text tables 2454 rows).
pub const T3_MTL: &str = include_str!("../manifests/manifest-mtl-t3_mtl23ls_v2.tsv");

/// Parse a manifest (`key<TAB>AxBxC<TAB>dtype`, header line first) into key → shape.
/// A scalar's shape is written as an empty field or `()` and parses to `[]`.
pub fn parse(tsv: &str) -> Result<BTreeMap<String, Vec<usize>>> {
    let mut out = BTreeMap::new();
    for (i, line) in tsv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut cols = line.split('\t');
        let (Some(key), Some(shape)) = (cols.next(), cols.next()) else {
            return Err(Error::InvalidArgument(format!(
                "manifest line {}: {line}",
                i + 1
            )));
        };
        let shape = shape.trim().trim_matches(|c| c == '(' || c == ')');
        let dims = if shape.is_empty() {
            Vec::new()
        } else {
            shape
                .split('x')
                .map(|d| {
                    d.trim().parse::<usize>().map_err(|_| {
                        Error::InvalidArgument(format!(
                            "manifest line {}: bad shape {shape}",
                            i + 1
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?
        };
        out.insert(key.to_string(), dims);
    }
    Ok(out)
}

/// A backend that answers every request with zeros and remembers what was asked for.
#[derive(Clone, Default)]
pub struct Recorder {
    seen: Arc<Mutex<BTreeMap<String, Vec<usize>>>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A `VarBuilder` backed by this recorder (f32, CPU).
    pub fn var_builder(&self) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(self.clone()), DType::F32, Device::Cpu)
    }

    /// Everything requested so far: key → shape.
    pub fn requested(&self) -> BTreeMap<String, Vec<usize>> {
        crate::lock(&self.seen).clone()
    }
}

impl SimpleBackend for Recorder {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut g = crate::lock(&self.seen);
        g.insert(name.to_string(), s.dims().to_vec());
        Tensor::zeros(s, dtype, dev)
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        candle_core::bail!("recorder cannot serve {name} without a shape")
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_with_expected_counts() -> Result<()> {
        assert_eq!(parse(VE)?.len(), 16);
        assert_eq!(parse(T3_CFG)?.len(), 292);
        assert_eq!(parse(S3GEN)?.len(), 2490);
        Ok(())
    }
}
