//! `nn.LayerNorm` over the last axis.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::get;
use crate::Result;

/// `nn.LayerNorm` over the last axis.
#[derive(Debug, Clone)]
pub(crate) struct LayerNorm {
    w: Tensor,
    b: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub(crate) fn load(vb: &VarBuilder, dim: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            w: get(vb, &[dim], "weight")?,
            b: get(vb, &[dim], "bias")?,
            eps,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.contiguous()?;
        Ok(candle_nn::ops::layer_norm(
            &x,
            &self.w,
            &self.b,
            self.eps as f32,
        )?)
    }
}
