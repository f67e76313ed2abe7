//! `HiFTGenerator` (`mel2wav.`): mel `(1, 80, T)` → 24 kHz waveform `(1, 480·T)`. Neural source
//! filter (F0 predictor + harmonic sine source) and an iSTFTNet decoder (n_fft 16, hop 4).
//!
//! All weight-normed convolutions are folded at load time.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use crate::dsp::{hann_periodic, istft, reflect_pad, Stft};
use crate::error::{check_stop, ShouldStop};
use crate::nn::{elu, get, leaky_relu, snake, Conv1d, ConvTranspose1d, Linear};
use crate::{Error, Result};

/// Sizes of the vocoder (released: base 512 channels, 8 harmonics, 24 kHz, upsampling 8·5·3,
/// n_fft 16 / hop 4).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HiftConfig {
    /// Upstream `in_channels`.
    pub in_channels: usize,
    /// Upstream `base_channels`.
    pub base_channels: usize,
    /// Upstream `ConvRNNF0Predictor cond_channels`.
    pub f0_channels: usize,
    /// Upstream `nb_harmonics`.
    pub nb_harmonics: usize,
    /// Upstream `sampling_rate`.
    pub sampling_rate: u32,
    /// Upstream `nsf_alpha`.
    pub nsf_alpha: f32,
    /// Upstream `nsf_sigma`.
    pub nsf_sigma: f32,
    /// Upstream `nsf_voiced_threshold`.
    pub voiced_threshold: f32,
    /// Upstream `upsample_rates`.
    pub upsample_rates: Vec<usize>,
    /// Upstream `upsample_kernel_sizes`.
    pub upsample_kernels: Vec<usize>,
    /// Upstream `resblock_kernel_sizes`.
    pub resblock_kernels: Vec<usize>,
    /// Upstream `resblock_dilation_sizes (the same list for every kernel)`.
    pub resblock_dilations: Vec<usize>,
    /// Upstream `source_resblock_kernel_sizes`.
    pub source_resblock_kernels: Vec<usize>,
    /// Upstream `istft_params["n_fft"]`.
    pub n_fft: usize,
    /// Upstream `istft_params["hop_len"]`.
    pub hop: usize,
    /// Upstream `audio_limit`.
    pub audio_limit: f32,
}

impl Default for HiftConfig {
    fn default() -> Self {
        Self {
            in_channels: 80,
            base_channels: 512,
            f0_channels: 512,
            nb_harmonics: 8,
            sampling_rate: 24_000,
            nsf_alpha: 0.1,
            nsf_sigma: 0.003,
            voiced_threshold: 10.0,
            upsample_rates: vec![8, 5, 3],
            upsample_kernels: vec![16, 11, 7],
            resblock_kernels: vec![3, 7, 11],
            resblock_dilations: vec![1, 3, 5],
            source_resblock_kernels: vec![7, 7, 11],
            n_fft: 16,
            hop: 4,
            audio_limit: 0.99,
        }
    }
}

impl HiftConfig {
    /// Waveform samples per mel frame (480 for the released model).
    pub fn samples_per_frame(&self) -> usize {
        self.upsample_rates.iter().product::<usize>() * self.hop
    }
}

/// The source's random draws: one phase per harmonic (index 0 is forced to 0, as in the
/// reference) and standard-normal noise `(1, nb_harmonics+1, L)`, `L = 480·T`.
#[derive(Debug, Clone)]
pub struct SourceNoise {
    pub phases: Vec<f32>,
    pub noise: Tensor,
}

/// HiFi-GAN residual block with Snake activations.
#[derive(Debug, Clone)]
struct ResBlock {
    convs1: Vec<Conv1d>,
    convs2: Vec<Conv1d>,
    alpha1: Vec<Vec<f32>>,
    alpha2: Vec<Vec<f32>>,
}

impl ResBlock {
    fn load(vb: &VarBuilder, ch: usize, k: usize, dilations: &[usize]) -> Result<Self> {
        let mut s = Self {
            convs1: Vec::new(),
            convs2: Vec::new(),
            alpha1: Vec::new(),
            alpha2: Vec::new(),
        };
        for (i, &d) in dilations.iter().enumerate() {
            s.convs1.push(Conv1d::load(
                &vb.pp("convs1").pp(i),
                ch,
                ch,
                k,
                d * (k - 1) / 2,
                1,
                d,
                true,
            )?);
            s.convs2.push(Conv1d::load(
                &vb.pp("convs2").pp(i),
                ch,
                ch,
                k,
                (k - 1) / 2,
                1,
                1,
                true,
            )?);
            let a = |n: &str| -> Result<Vec<f32>> {
                Ok(get(&vb.pp(n).pp(i), &[ch], "alpha")?.to_vec1()?)
            };
            s.alpha1.push(a("activations1")?);
            s.alpha2.push(a("activations2")?);
        }
        Ok(s)
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for i in 0..self.convs1.len() {
            let t = self.convs1[i].forward(&snake(&x, &self.alpha1[i])?)?;
            let t = self.convs2[i].forward(&snake(&t, &self.alpha2[i])?)?;
            x = (x + t)?;
        }
        Ok(x)
    }
}

/// `ConvRNNF0Predictor`: 5 weight-normed convs with ELU, a linear classifier, `|·|`.
#[derive(Debug, Clone)]
struct F0Predictor {
    condnet: Vec<Conv1d>,
    classifier: Linear,
}

impl F0Predictor {
    fn load(vb: &VarBuilder, inp: usize, ch: usize) -> Result<Self> {
        let condnet = (0..5)
            .map(|i| {
                Conv1d::load(
                    &vb.pp("condnet").pp(2 * i),
                    if i == 0 { inp } else { ch },
                    ch,
                    3,
                    1,
                    1,
                    1,
                    true,
                )
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            condnet,
            classifier: Linear::load(&vb.pp("classifier"), ch, 1, true)?,
        })
    }

    /// mel `(1, 80, T)` → f0 `(1, T)` in Hz.
    fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        let mut x = mel.clone();
        for c in &self.condnet {
            x = elu(&c.forward(&x)?)?;
        }
        let y = self.classifier.forward(&x.transpose(1, 2)?.contiguous()?)?;
        Ok(y.squeeze(2)?.abs()?)
    }
}

/// The vocoder.
#[derive(Debug, Clone)]
pub struct Hift {
    cfg: HiftConfig,
    f0: F0Predictor,
    l_linear_w: Vec<f32>,
    l_linear_b: f32,
    conv_pre: Conv1d,
    ups: Vec<ConvTranspose1d>,
    source_downs: Vec<Conv1d>,
    source_resblocks: Vec<ResBlock>,
    resblocks: Vec<ResBlock>,
    conv_post: Conv1d,
    stft: Stft,
    window: Vec<f32>,
}

/// Intermediate tensors of one vocoder run (for parity checks).
#[derive(Debug, Clone)]
pub struct HiftTrace {
    pub f0: Tensor,
    pub source: Tensor,
    pub s_stft: Tensor,
    pub pre_istft: Tensor,
    pub wav: Tensor,
}

impl Hift {
    pub fn new(cfg: &HiftConfig, vb: &VarBuilder) -> Result<Self> {
        let base = cfg.base_channels;
        let nh = cfg.nb_harmonics + 1;
        let ll = vb.pp("m_source").pp("l_linear");
        let l_linear_w: Vec<f32> = get(&ll, &[1, nh], "weight")?.flatten_all()?.to_vec1()?;
        let l_linear_b = get(&ll, &[1], "bias")?.to_vec1::<f32>()?[0];
        let n_up = cfg.upsample_rates.len();
        let mut ups = Vec::new();
        for (i, (&u, &k)) in cfg
            .upsample_rates
            .iter()
            .zip(&cfg.upsample_kernels)
            .enumerate()
        {
            ups.push(ConvTranspose1d::load(
                &vb.pp("ups").pp(i),
                base >> i,
                base >> (i + 1),
                k,
                u,
                (k - u) / 2,
            )?);
        }
        // Source branch: downsampling rates mirror the upsampling (cumulative, reversed).
        let mut down_rates = vec![1usize];
        down_rates.extend(cfg.upsample_rates.iter().rev().take(n_up - 1));
        let mut cum = Vec::new();
        let mut acc = 1;
        for r in &down_rates {
            acc *= r;
            cum.push(acc);
        }
        cum.reverse();
        let src_in = cfg.n_fft + 2;
        let mut source_downs = Vec::new();
        let mut source_resblocks = Vec::new();
        for (i, (&u, &k)) in cum.iter().zip(&cfg.source_resblock_kernels).enumerate() {
            let ch = base >> (i + 1);
            let vbd = vb.pp("source_downs").pp(i);
            source_downs.push(if u == 1 {
                Conv1d::load(&vbd, src_in, ch, 1, 0, 1, 1, false)?
            } else {
                Conv1d::load(&vbd, src_in, ch, 2 * u, u / 2, u, 1, false)?
            });
            source_resblocks.push(ResBlock::load(
                &vb.pp("source_resblocks").pp(i),
                ch,
                k,
                &cfg.resblock_dilations,
            )?);
        }
        let mut resblocks = Vec::new();
        for i in 0..n_up {
            let ch = base >> (i + 1);
            for (j, &k) in cfg.resblock_kernels.iter().enumerate() {
                resblocks.push(ResBlock::load(
                    &vb.pp("resblocks").pp(i * cfg.resblock_kernels.len() + j),
                    ch,
                    k,
                    &cfg.resblock_dilations,
                )?);
            }
        }
        let window = hann_periodic(cfg.n_fft);
        Ok(Self {
            f0: F0Predictor::load(&vb.pp("f0_predictor"), cfg.in_channels, cfg.f0_channels)?,
            l_linear_w,
            l_linear_b,
            conv_pre: Conv1d::load(&vb.pp("conv_pre"), cfg.in_channels, base, 7, 3, 1, 1, true)?,
            ups,
            source_downs,
            source_resblocks,
            resblocks,
            conv_post: Conv1d::load(
                &vb.pp("conv_post"),
                base >> n_up,
                cfg.n_fft + 2,
                7,
                3,
                1,
                1,
                true,
            )?,
            stft: Stft::new(cfg.n_fft, cfg.hop, &window)?,
            window,
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &HiftConfig {
        &self.cfg
    }

    /// F0 in Hz, `(1, T)`.
    pub fn f0(&self, mel: &Tensor) -> Result<Tensor> {
        self.f0.forward(mel)
    }

    /// The harmonic-plus-noise source `(1, 1, 480·T)` from f0 `(1, T)` and the injected draws.
    pub fn source(&self, f0: &Tensor, rnd: &SourceNoise) -> Result<Tensor> {
        let f0: Vec<f32> = f0.flatten_all()?.to_vec1()?;
        if f0.is_empty() {
            return Err(Error::InvalidArgument("hift: no mel frames".into()));
        }
        let up = self.cfg.samples_per_frame();
        let len = f0.len() * up;
        let nh = self.cfg.nb_harmonics + 1;
        if rnd.phases.len() != nh || rnd.noise.dims() != [1, nh, len] {
            return Err(Error::InvalidArgument(format!(
                "source noise: {} phases, noise {:?}; expected {nh} and (1, {nh}, {len})",
                rnd.phases.len(),
                rnd.noise.dims()
            )));
        }
        let noise: Vec<f32> = rnd.noise.flatten_all()?.to_vec1()?;
        // Nearest upsampling exactly as torch computes the source index (f32 scale).
        let scale = (1.0 / up as f64) as f32;
        let f0u: Vec<f32> = (0..len)
            .map(|i| {
                let src = ((i as f32) * scale).floor() as usize;
                f0[src.min(f0.len() - 1)]
            })
            .collect();
        let sr = self.cfg.sampling_rate as f32;
        let two_pi = (2.0 * std::f64::consts::PI) as f32;
        let amp = self.cfg.nsf_alpha;
        let unvoiced_amp = (f64::from(self.cfg.nsf_alpha) / 3.0) as f32;
        let mut acc = vec![self.l_linear_b; len];
        for h in 0..nh {
            let phase = if h == 0 { 0.0 } else { rnd.phases[h] };
            let w = self.l_linear_w[h];
            let mult = (h + 1) as f32;
            // torch.cumsum on CPU accumulates in double and stores float.
            let mut cum = 0f64;
            let nrow = &noise[h * len..(h + 1) * len];
            for n in 0..len {
                let inc = f0u[n] * mult / sr;
                cum += f64::from(inc);
                let c = cum as f32;
                let theta = two_pi * (c - c.floor());
                let sine = amp * (theta + phase).sin();
                let uv = if f0u[n] > self.cfg.voiced_threshold {
                    1f32
                } else {
                    0f32
                };
                let namp = uv * self.cfg.nsf_sigma + (1.0 - uv) * unvoiced_amp;
                let e = sine * uv + namp * nrow[n];
                acc[n] += w * e;
            }
        }
        let s: Vec<f32> = acc.into_iter().map(f32::tanh).collect();
        Ok(Tensor::from_vec(s, (1, 1, len), &candle_core::Device::Cpu)?)
    }

    /// `STFT(source)` as `(1, 18, F)` = `[real; imag]`.
    fn source_stft(&self, s: &[f32]) -> Result<Tensor> {
        let n_fft = self.cfg.n_fft;
        let bins = n_fft / 2 + 1;
        let spec = self.stft.complex(&reflect_pad(s, n_fft / 2, n_fft / 2)?);
        let frames = spec.len() / bins;
        let mut out = vec![0f32; 2 * bins * frames];
        for (f, chunk) in spec.chunks(bins).enumerate() {
            for (k, c) in chunk.iter().enumerate() {
                out[k * frames + f] = c.re;
                out[(bins + k) * frames + f] = c.im;
            }
        }
        Ok(Tensor::from_vec(
            out,
            (1, 2 * bins, frames),
            &candle_core::Device::Cpu,
        )?)
    }

    /// The decoder: mel `(1, 80, T)` and source `(1, 1, L)` → (conv_post output, waveform).
    fn decode(
        &self,
        mel: &Tensor,
        s_stft: &Tensor,
        should_stop: ShouldStop,
    ) -> Result<(Tensor, Tensor)> {
        let mut x = self.conv_pre.forward(mel)?;
        let nk = self.cfg.resblock_kernels.len();
        let n_up = self.ups.len();
        for i in 0..n_up {
            check_stop(should_stop)?;
            x = leaky_relu(&x, 0.1)?;
            x = self.ups[i].forward(&x)?;
            if i == n_up - 1 {
                // ReflectionPad1d((1, 0)).
                x = Tensor::cat(&[&x.narrow(2, 1, 1)?, &x], 2)?;
            }
            let si = self.source_resblocks[i].forward(&self.source_downs[i].forward(s_stft)?)?;
            x = (x + si)?;
            let mut xs = self.resblocks[i * nk].forward(&x)?;
            for j in 1..nk {
                xs = (xs + self.resblocks[i * nk + j].forward(&x)?)?;
            }
            x = (xs / nk as f64)?;
        }
        check_stop(should_stop)?;
        let x = leaky_relu(&x, 0.01)?;
        let x = self.conv_post.forward(&x)?;
        let bins = self.cfg.n_fft / 2 + 1;
        let mag: Vec<f32> = x
            .narrow(1, 0, bins)?
            .exp()?
            .clamp(f32::MIN, 100f32)?
            .squeeze(0)?
            .t()?
            .contiguous()?
            .flatten_all()?
            .to_vec1()?;
        let ph: Vec<f32> = x
            .narrow(1, bins, bins)?
            .sin()?
            .squeeze(0)?
            .t()?
            .contiguous()?
            .flatten_all()?
            .to_vec1()?;
        let re: Vec<f32> = mag.iter().zip(&ph).map(|(m, p)| m * p.cos()).collect();
        let im: Vec<f32> = mag.iter().zip(&ph).map(|(m, p)| m * p.sin()).collect();
        let lim = self.cfg.audio_limit;
        let wav: Vec<f32> = istft(&re, &im, self.cfg.n_fft, self.cfg.hop, &self.window)?
            .into_iter()
            .map(|v| v.clamp(-lim, lim))
            .collect();
        let n = wav.len();
        Ok((x, Tensor::from_vec(wav, (1, n), &candle_core::Device::Cpu)?))
    }

    /// mel `(1, 80, T)` → waveform `(1, 480·T)`, keeping every intermediate. `should_stop` is
    /// polled between the decoder's stages.
    pub fn trace(
        &self,
        mel: &Tensor,
        rnd: &SourceNoise,
        should_stop: ShouldStop,
    ) -> Result<HiftTrace> {
        let mel = mel.to_dtype(DType::F32)?;
        if mel.dim(0)? != 1 {
            return Err(Error::InvalidArgument("hift: batch size must be 1".into()));
        }
        let f0 = self.f0(&mel)?;
        check_stop(should_stop)?;
        let source = self.source(&f0, rnd)?;
        let s: Vec<f32> = source.flatten_all()?.to_vec1()?;
        let s_stft = self.source_stft(&s)?;
        let (pre_istft, wav) = self.decode(&mel, &s_stft, should_stop)?;
        Ok(HiftTrace {
            f0,
            source,
            s_stft,
            pre_istft,
            wav,
        })
    }

    /// The decoder alone, given the source `(1, 1, L)`: returns (`STFT(source)` `(1, 18, F)`,
    /// conv_post output `(1, 18, F)`, waveform `(1, L)`).
    pub fn decode_with_source(
        &self,
        mel: &Tensor,
        source: &Tensor,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let s: Vec<f32> = source.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let s_stft = self.source_stft(&s)?;
        let (pre_istft, wav) = self.decode(&mel.to_dtype(DType::F32)?, &s_stft, &|| false)?;
        Ok((s_stft, pre_istft, wav))
    }

    /// mel `(1, 80, T)` → waveform `(1, 480·T)`; `should_stop` is polled between stages.
    pub fn forward(
        &self,
        mel: &Tensor,
        rnd: &SourceNoise,
        should_stop: ShouldStop,
    ) -> Result<Tensor> {
        Ok(self.trace(mel, rnd, should_stop)?.wav)
    }
}
