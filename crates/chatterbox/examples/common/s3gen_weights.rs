//! Random S3Gen weights at any size: every tensor the model asks for, fan-in-scaled uniform for
//! matrices, small biases, gains near 1 (LayerNorm, Snake alphas, weight-norm gains).

use candle_core::{DType, Device, Tensor};
use chatterbox::models::s3gen::{GaussianRng, S3Gen, S3GenConfig};
use chatterbox_testkit::manifest::Recorder;
use std::collections::HashMap;

pub fn random_s3gen(cfg: &S3GenConfig, rng: &mut GaussianRng) -> anyhow::Result<S3Gen> {
    let rec = Recorder::new();
    S3Gen::new(cfg, &rec.var_builder())?;
    let mut tensors = HashMap::new();
    for (key, shape) in rec.requested() {
        let n: usize = shape.iter().product();
        let leaf = key.rsplit('.').next().unwrap_or("");
        let data: Vec<f32> =
            if shape.len() >= 2 && !key.ends_with("original0") && leaf != "weight_g" {
                let fan_in: usize = shape[1..].iter().product();
                let a = (3.0 / fan_in.max(1) as f32).sqrt();
                (0..n).map(|_| rng.uniform(-a, a)).collect()
            } else if leaf == "bias" || key.contains("pos_bias") {
                (0..n).map(|_| rng.uniform(-0.05, 0.05)).collect()
            } else {
                (0..n).map(|_| rng.uniform(0.8, 1.2)).collect()
            };
        tensors.insert(key, Tensor::from_vec(data, shape, &Device::Cpu)?);
    }
    let vb = candle_nn::VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    Ok(S3Gen::new(cfg, &vb)?)
}
