//! The CAM++ network (`speaker_encoder.*`): FCM 2-D head, TDNN, three CAM dense blocks with
//! transitions, statistics pooling and the dense layer. BatchNorms (eval mode, eps 1e-5) are
//! folded into the preceding convolution where one precedes them, otherwise applied as a
//! per-channel affine map.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::kernels::with_slice;
use crate::nn::{Epilogue, Linear};
use crate::{Error, Result};

const BN_EPS: f64 = 1e-5;
/// Segment length of the CAM layer's segment pooling.
const SEG_LEN: usize = 100;

/// Network sizes. `Default` is S3Gen's `CAMPPlus(memory_efficient=False)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CampPlusConfig {
    pub feat_dim: usize,
    pub embedding: usize,
    pub growth_rate: usize,
    pub bn_size: usize,
    pub init_channels: usize,
}

impl Default for CampPlusConfig {
    fn default() -> Self {
        Self {
            feat_dim: 80,
            embedding: 192,
            growth_rate: 32,
            bn_size: 4,
            init_channels: 128,
        }
    }
}

/// FCM head channels (fixed by the reference).
const M_CHANNELS: usize = 32;
/// (layers, dilation) of the three dense blocks (fixed by the reference; kernel 3).
const BLOCKS: [(usize, usize); 3] = [(12, 1), (24, 2), (16, 2)];

/// Eval-mode BatchNorm as `y = x · scale + shift` per channel.
struct Affine {
    scale: Vec<f32>,
    shift: Vec<f32>,
}

impl Affine {
    /// `affine = false` for `BatchNorm(affine=False)` (only running statistics).
    fn load(vb: VarBuilder, c: usize, affine: bool) -> Result<Self> {
        let get = |n: &str| -> Result<Vec<f32>> {
            Ok(vb.get(c, n)?.to_dtype(DType::F32)?.to_vec1::<f32>()?)
        };
        let mean = get("running_mean")?;
        let var = get("running_var")?;
        let (gamma, beta) = if affine {
            (get("weight")?, get("bias")?)
        } else {
            (vec![1.0; c], vec![0.0; c])
        };
        let mut scale = Vec::with_capacity(c);
        let mut shift = Vec::with_capacity(c);
        for i in 0..c {
            let s = f64::from(gamma[i]) / (f64::from(var[i]) + BN_EPS).sqrt();
            scale.push(s as f32);
            shift.push((f64::from(beta[i]) - f64::from(mean[i]) * s) as f32);
        }
        Ok(Self { scale, shift })
    }

    /// Fold into a conv weight `(out, ...)` (no bias) → (weight, bias).
    fn fold(&self, w: &Tensor) -> Result<(Tensor, Tensor)> {
        let out = w.dim(0)?;
        let mut shape = vec![out];
        shape.extend(std::iter::repeat_n(1, w.rank() - 1));
        let s = Tensor::from_slice(&self.scale, shape, w.device())?;
        let w = w.to_dtype(DType::F32)?.broadcast_mul(&s)?;
        let dev = w.device().clone();
        Ok((w, Tensor::from_slice(&self.shift, out, &dev)?))
    }

    /// `relu(x · scale + shift)` on `(C, T)`, in one pass on the host (candle's broadcast
    /// multiply/add over the channel axis is the slowest part of the dense blocks otherwise).
    fn apply_relu(&self, x: &Tensor) -> Result<Tensor> {
        let (c, t) = x.dims2()?;
        if c != self.scale.len() {
            return Err(Error::InvalidArgument(format!(
                "BatchNorm over {} channels applied to {c}",
                self.scale.len()
            )));
        }
        let mut v = x.flatten_all()?.to_vec1::<f32>()?;
        for (row, (&s, &b)) in v
            .chunks_mut(t.max(1))
            .zip(self.scale.iter().zip(&self.shift))
        {
            for e in row {
                *e = (*e * s + b).max(0.0);
            }
        }
        Ok(Tensor::from_vec(v, (c, t), x.device())?)
    }
}

/// Conv2d (no bias in the checkpoint) + folded BN; `stride_h` applies to the frequency axis only.
///
/// Activations are channel-last, `(H·W, C)` row-major (`H` frequency, `W` time): the unfolded
/// input has one row per output position holding the `k × k` neighbourhoods' channels side by
/// side, and the product with the weight laid out `(Cout, kh, kw, Cin)` runs on the packed kernel
/// with the folded bias (and an optional residual) in its epilogue.
struct Conv2dBn {
    /// `(k·k·Cin) → Cout`.
    unfolded: Linear,
    cin: usize,
    k: usize,
    pad: usize,
    stride_h: usize,
}

impl Conv2dBn {
    fn load(
        conv: VarBuilder,
        bn: VarBuilder,
        cin: usize,
        cout: usize,
        k: usize,
        stride_h: usize,
    ) -> Result<Self> {
        let w = conv.get((cout, cin, k, k), "weight")?;
        let (w, b) = Affine::load(bn, cout, true)?.fold(&w)?;
        let w = w
            .permute((0, 2, 3, 1))?
            .contiguous()?
            .reshape((cout, k * k * cin))?;
        Ok(Self {
            unfolded: Linear::from_weights(&w, Some(b))?,
            cin,
            k,
            pad: k / 2,
            stride_h,
        })
    }

    /// Channel-last `(H·W, Cin)` → `(H'·W, Cout)` with `H' = (H + 2p − k)/stride_h + 1`
    /// (padding `k/2` on both axes, stride `(stride_h, 1)`), plus `residual` `(H'·W, Cout)`.
    fn forward(
        &self,
        x: &Tensor,
        h: usize,
        w: usize,
        residual: Option<&Tensor>,
    ) -> Result<(Tensor, usize)> {
        let (n_in, cin) = x.dims2()?;
        if cin != self.cin || n_in != h * w {
            return Err(Error::InvalidArgument(format!(
                "CAMPPlus conv: input {:?} for {h} x {w} x {}",
                x.dims(),
                self.cin
            )));
        }
        let (k, p, s) = (self.k, self.pad, self.stride_h);
        let h_out = (h + 2 * p - k) / s + 1;
        let row_len = k * k * cin;
        let cols = with_slice(x, |src| {
            let mut cols = vec![0f32; h_out * w * row_len];
            for oh in 0..h_out {
                for kh in 0..k {
                    let Some(ih) = (oh * s + kh).checked_sub(p).filter(|&i| i < h) else {
                        continue;
                    };
                    for ow in 0..w {
                        let row = &mut cols[(oh * w + ow) * row_len..][..row_len];
                        for kw in 0..k {
                            if let Some(iw) = (ow + kw).checked_sub(p).filter(|&i| i < w) {
                                row[(kh * k + kw) * cin..][..cin]
                                    .copy_from_slice(&src[(ih * w + iw) * cin..][..cin]);
                            }
                        }
                    }
                }
            }
            cols
        })?;
        let cols = Tensor::from_vec(cols, (h_out * w, row_len), x.device())?;
        let y = match residual {
            Some(r) => self.unfolded.forward_with(&cols, Epilogue::Residual(r))?,
            None => self.unfolded.forward(&cols)?,
        };
        Ok((y, h_out))
    }
}

struct ResBlock {
    conv1: Conv2dBn,
    conv2: Conv2dBn,
    shortcut: Option<Conv2dBn>,
}

impl ResBlock {
    fn load(vb: VarBuilder, stride: usize) -> Result<Self> {
        let c = M_CHANNELS;
        let shortcut = if stride != 1 {
            Some(Conv2dBn::load(
                vb.pp("shortcut").pp("0"),
                vb.pp("shortcut").pp("1"),
                c,
                c,
                1,
                stride,
            )?)
        } else {
            None
        };
        Ok(Self {
            conv1: Conv2dBn::load(vb.pp("conv1"), vb.pp("bn1"), c, c, 3, stride)?,
            conv2: Conv2dBn::load(vb.pp("conv2"), vb.pp("bn2"), c, c, 3, 1)?,
            shortcut,
        })
    }

    /// Channel-last `(H·W, C)` → `(H'·W, C)`, `H'`.
    fn forward(&self, x: &Tensor, h: usize, w: usize) -> Result<(Tensor, usize)> {
        let (out, h1) = self.conv1.forward(x, h, w, None)?;
        let out = out.relu()?;
        let short = match &self.shortcut {
            Some(s) => s.forward(x, h, w, None)?.0,
            None => x.clone(),
        };
        let (out, h2) = self.conv2.forward(&out, h1, w, Some(&short))?;
        Ok((out.relu()?, h2))
    }
}

/// `FCM` head: `(1, 80, T)` → `(1, 32·10, T)`.
struct Fcm {
    conv1: Conv2dBn,
    layers: Vec<ResBlock>,
    conv2: Conv2dBn,
}

impl Fcm {
    fn load(vb: VarBuilder) -> Result<Self> {
        let mut layers = Vec::new();
        for l in ["layer1", "layer2"] {
            layers.push(ResBlock::load(vb.pp(l).pp("0"), 2)?);
            layers.push(ResBlock::load(vb.pp(l).pp("1"), 1)?);
        }
        Ok(Self {
            conv1: Conv2dBn::load(vb.pp("conv1"), vb.pp("bn1"), 1, M_CHANNELS, 3, 1)?,
            layers,
            conv2: Conv2dBn::load(vb.pp("conv2"), vb.pp("bn2"), M_CHANNELS, M_CHANNELS, 3, 2)?,
        })
    }

    /// `(1, F, T)` → `(1, 32·F', T)` (channel `c`, frequency `f` at row `c·F' + f`).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, f, t) = x.dims3()?;
        // One input channel: channel-last is the (F, T) plane itself.
        let x = x.reshape((f * t, 1))?;
        let (out, mut h) = self.conv1.forward(&x, f, t, None)?;
        let mut out = out.relu()?;
        for l in &self.layers {
            (out, h) = l.forward(&out, h, t)?;
        }
        let (out, h) = self.conv2.forward(&out, h, t, None)?;
        let c = out.dim(1)?;
        Ok(out
            .relu()?
            .reshape((h, t, c))?
            .permute((2, 0, 1))?
            .contiguous()?
            .reshape((1, c * h, t))?)
    }
}

/// 1×1 convolution on `(C, T)` as a matmul, with optional bias.
struct Pointwise {
    w: Tensor,
    b: Option<Tensor>,
}

impl Pointwise {
    fn load(vb: VarBuilder, cin: usize, cout: usize, bias: bool) -> Result<Self> {
        let w = vb.get((cout, cin, 1), "weight")?.squeeze(2)?;
        let b = if bias {
            Some(vb.get(cout, "bias")?.reshape((cout, 1))?)
        } else {
            None
        };
        Ok(Self { w, b })
    }

    fn folded(self, bn: &Affine) -> Result<Self> {
        let (w, b) = bn.fold(&self.w)?;
        let cout = w.dim(0)?;
        Ok(Self {
            w,
            b: Some(b.reshape((cout, 1))?),
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.w.matmul(x)?;
        Ok(match &self.b {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }
}

struct CamDenseLayer {
    bn1: Affine,
    linear1: Pointwise,
    /// `linear_local` weight `(growth, bn_ch, 3)`.
    local: Tensor,
    dilation: usize,
    cam1: Pointwise,
    cam2: Pointwise,
}

impl CamDenseLayer {
    fn load(vb: VarBuilder, cin: usize, cfg: &CampPlusConfig, dilation: usize) -> Result<Self> {
        let bn_ch = cfg.bn_size * cfg.growth_rate;
        let bn2 = Affine::load(vb.pp("nonlinear2").pp("batchnorm"), bn_ch, true)?;
        let cam = vb.pp("cam_layer");
        Ok(Self {
            bn1: Affine::load(vb.pp("nonlinear1").pp("batchnorm"), cin, true)?,
            linear1: Pointwise::load(vb.pp("linear1"), cin, bn_ch, false)?.folded(&bn2)?,
            local: cam
                .pp("linear_local")
                .get((cfg.growth_rate, bn_ch, 3), "weight")?,
            dilation,
            cam1: Pointwise::load(cam.pp("linear1"), bn_ch, bn_ch / 2, true)?,
            cam2: Pointwise::load(cam.pp("linear2"), bn_ch / 2, cfg.growth_rate, true)?,
        })
    }

    /// `(C, T)` → `(growth, T)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.linear1.forward(&self.bn1.apply_relu(x)?)?.relu()?;
        let y = h
            .unsqueeze(0)?
            .conv1d(&self.local, self.dilation, 1, self.dilation, 1)?
            .squeeze(0)?;
        let ctx = context(&h)?;
        let m = candle_nn::ops::sigmoid(&self.cam2.forward(&self.cam1.forward(&ctx)?.relu()?)?)?;
        Ok((y * m)?)
    }
}

/// CAM context: per-channel mean over time plus the 100-frame segment average (the last segment
/// averages only the frames it has), broadcast back over time. `(C, T)` → `(C, T)`.
fn context(h: &Tensor) -> Result<Tensor> {
    let (c, t) = h.dims2()?;
    let rows = h.to_vec2::<f32>()?;
    let mut out = Vec::with_capacity(c * t);
    for r in &rows {
        let mean = r.iter().sum::<f32>() / t as f32;
        for seg in r.chunks(SEG_LEN) {
            let avg = seg.iter().sum::<f32>() / seg.len() as f32;
            out.extend(std::iter::repeat_n(mean + avg, seg.len()));
        }
    }
    Ok(Tensor::from_vec(out, (c, t), h.device())?)
}

struct Transit {
    bn: Affine,
    linear: Pointwise,
}

/// The CAMPPlus x-vector extractor.
pub struct CampPlus {
    head: Fcm,
    tdnn_w: Tensor,
    tdnn_b: Tensor,
    blocks: Vec<(Vec<CamDenseLayer>, Transit)>,
    out_bn: Affine,
    dense: Pointwise,
    cfg: CampPlusConfig,
}

impl CampPlus {
    /// Loads from a `VarBuilder` at the `speaker_encoder.` prefix.
    pub fn new(cfg: CampPlusConfig, vb: VarBuilder) -> Result<Self> {
        if cfg.feat_dim % 8 != 0 {
            return Err(Error::InvalidArgument(format!(
                "CAMPPlus feat_dim {} must be a multiple of 8",
                cfg.feat_dim
            )));
        }
        let xv = vb.pp("xvector");
        let head_ch = M_CHANNELS * (cfg.feat_dim / 8);
        let tdnn = xv.pp("tdnn");
        let (tdnn_w, tdnn_b) = Affine::load(
            tdnn.pp("nonlinear").pp("batchnorm"),
            cfg.init_channels,
            true,
        )?
        .fold(
            &tdnn
                .pp("linear")
                .get((cfg.init_channels, head_ch, 5), "weight")?,
        )?;
        let mut ch = cfg.init_channels;
        let mut blocks = Vec::new();
        for (i, &(n, dil)) in BLOCKS.iter().enumerate() {
            let bv = xv.pp(format!("block{}", i + 1));
            let layers = (0..n)
                .map(|j| {
                    CamDenseLayer::load(
                        bv.pp(format!("tdnnd{}", j + 1)),
                        ch + j * cfg.growth_rate,
                        &cfg,
                        dil,
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            ch += n * cfg.growth_rate;
            let tv = xv.pp(format!("transit{}", i + 1));
            let transit = Transit {
                bn: Affine::load(tv.pp("nonlinear").pp("batchnorm"), ch, true)?,
                linear: Pointwise::load(tv.pp("linear"), ch, ch / 2, false)?,
            };
            ch /= 2;
            blocks.push((layers, transit));
        }
        let out_bn = Affine::load(xv.pp("out_nonlinear").pp("batchnorm"), ch, true)?;
        let dense_bn = Affine::load(
            xv.pp("dense").pp("nonlinear").pp("batchnorm"),
            cfg.embedding,
            false,
        )?;
        let dense = Pointwise::load(xv.pp("dense").pp("linear"), 2 * ch, cfg.embedding, false)?
            .folded(&dense_bn)?;
        Ok(Self {
            head: Fcm::load(vb.pp("head"))?,
            tdnn_w,
            tdnn_b: tdnn_b.reshape((cfg.init_channels, 1))?,
            blocks,
            out_bn,
            dense,
            cfg,
        })
    }

    pub fn config(&self) -> &CampPlusConfig {
        &self.cfg
    }

    /// FCM head output `(1, 320, F)` for CMN'd features `(F, 80)`.
    pub fn head(&self, feat: &Tensor) -> Result<Tensor> {
        self.head.forward(&feat.t()?.unsqueeze(0)?.contiguous()?)
    }

    /// x-vector `(1, embedding)` for CMN'd features `(F, 80)`.
    pub fn forward(&self, feat: &Tensor) -> Result<Tensor> {
        let x = self.head(feat)?;
        let x = x
            .conv1d(&self.tdnn_w, 2, 2, 1, 1)?
            .squeeze(0)?
            .broadcast_add(&self.tdnn_b)?
            .relu()?;
        let mut x = x;
        for (layers, transit) in &self.blocks {
            for l in layers {
                let y = l.forward(&x)?;
                x = Tensor::cat(&[&x, &y], 0)?;
            }
            x = transit.linear.forward(&transit.bn.apply_relu(&x)?)?;
        }
        let x = self.out_bn.apply_relu(&x)?;
        let t = x.dim(1)?;
        if t < 2 {
            return Err(Error::InvalidAudio(format!(
                "CAMPPlus needs at least 2 frames after the TDNN stride, got {t}"
            )));
        }
        let mean = x.mean_keepdim(1)?;
        let var = (x.broadcast_sub(&mean)?.sqr()?.sum_keepdim(1)? / (t - 1) as f64)?;
        let stats = Tensor::cat(&[mean, var.sqrt()?], 0)?;
        Ok(self.dense.forward(&stats)?.t()?)
    }

    /// `CAMPPlus.inference([wav16])`: Kaldi fbank + CMN, then the network → `(1, embedding)`.
    pub fn embed(&self, wav16: &[f32], device: &Device) -> Result<Tensor> {
        if wav16.len() < 400 {
            return Err(Error::InvalidAudio(format!(
                "CAMPPlus needs at least 400 samples at 16 kHz, got {}",
                wav16.len()
            )));
        }
        let feat = super::extract_feature(wav16, device)?;
        self.forward(&feat)
    }
}
