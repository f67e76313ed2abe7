//! `nn.LayerNorm` over the last axis.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::get;
use crate::kernels::with_slice;
use crate::{Error, Result};

/// `nn.LayerNorm` over the last axis, through [`crate::kernels::norm`].
#[derive(Debug, Clone)]
pub(crate) struct LayerNorm {
    w: Vec<f32>,
    b: Vec<f32>,
    eps: f64,
}

impl LayerNorm {
    pub(crate) fn load(vb: &VarBuilder, dim: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            w: get(vb, &[dim], "weight")?.to_vec1::<f32>()?,
            b: get(vb, &[dim], "bias")?.to_vec1::<f32>()?,
            eps,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = x.dims().last().copied().unwrap_or(0);
        if c != self.w.len() {
            return Err(Error::InvalidArgument(format!(
                "layer norm: width {c}, weights for {}",
                self.w.len()
            )));
        }
        let mut y = vec![0f32; x.elem_count()];
        let x = x.to_dtype(candle_core::DType::F32)?;
        with_slice(&x, |xs| {
            crate::kernels::norm::layer_norm(xs, &self.w, &self.b, self.eps as f32, &mut y)
        })?;
        Ok(Tensor::from_vec(y, x.shape().clone(), x.device())?)
    }
}
