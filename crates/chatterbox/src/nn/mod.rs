//! Layers shared by the models: one [`Linear`], the convolutions ([`Conv1d`] channels-first,
//! [`ConvBtc`] time-major, [`ConvTranspose1d`]), [`LayerNorm`] and the activations candle lacks.
//! They run on the packed kernels of [`crate::kernels`] where the CPU has them.

mod activation;
mod conv;
mod linear;
mod norm;

pub(crate) use activation::*;
pub(crate) use conv::*;
pub use linear::Quantization;
pub(crate) use linear::*;
pub(crate) use norm::*;

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use crate::Result;

/// Fetch a tensor as f32 (checkpoints may store other float dtypes).
pub(crate) fn get(vb: &VarBuilder, shape: &[usize], name: &str) -> Result<Tensor> {
    Ok(vb.get(shape, name)?.to_dtype(DType::F32)?)
}

/// `(B, C, T) ↔ (B, T, C)`, contiguous.
pub(crate) fn swap_ct(x: &Tensor) -> Result<Tensor> {
    Ok(x.transpose(1, 2)?.contiguous()?)
}
