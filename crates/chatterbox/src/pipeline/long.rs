//! Long text: [`Chatterbox::generate_long`] speaks a text chunk by chunk (see
//! [`crate::text::split_text`]) in one voice, and hands audio out as each chunk finishes.
//!
//! Per chunk: the seed derives from the request's ([`chunk_seed`]); T3 runs to its own EOS, capped
//! at a duration sensible for the chunk's text ([`max_tokens_for`]) so a hallucinated tail cannot
//! run on to the 1000-token limit; silence at both ends is trimmed ([`trim_silence`]). Chunks are
//! joined by a [`Joiner`]: a pause that depends on what ended the chunk (clause, sentence,
//! paragraph) with equal-power fades, so no join clicks.

use candle_core::{DType, IndexOp};

use super::{Chatterbox, GenerateParams};
use crate::models::s3gen::{GaussianRng, StreamOptions};
use crate::models::t3::SamplingParams;
use crate::text::{punc_norm, split_text, Boundary, ChunkOptions};
use crate::{check_stop, Conditionals, Error, Result, ShouldStop, S3GEN_SR};

/// Speech tokens per second of audio.
const TOKENS_PER_SECOND: f64 = 25.0;
/// Slowest speaking rate allowed for, in characters per second (usual English is ≈ 15).
const MIN_CHARS_PER_SECOND: f64 = 8.0;
/// Duration allowed on top of the text's, in seconds (breath, a slow start).
const EXTRA_SECONDS: f64 = 2.0;
/// Crossfade at a join, in seconds.
pub const CROSSFADE_S: f64 = 0.010;

/// How far generation has come: chunks finished out of all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkProgress {
    pub done: usize,
    pub total: usize,
}

/// The seed of chunk `index`: the request's seed itself for the first chunk (a one-chunk text
/// sounds as [`Chatterbox::generate`] with that seed), a SplitMix64 mix of both for the others.
pub fn chunk_seed(seed: u64, index: usize) -> u64 {
    if index == 0 {
        return seed;
    }
    let mut z = seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Most speech tokens a chunk of `text` may take: its characters at the slowest rate allowed
/// (8 per second) plus 2 s, at 25 tokens per second. Speech past this is a hallucinated tail.
pub fn max_tokens_for(text: &str) -> usize {
    let chars = text.chars().filter(|c| !c.is_whitespace()).count() as f64;
    ((EXTRA_SECONDS + chars / MIN_CHARS_PER_SECOND) * TOKENS_PER_SECOND).ceil() as usize
}

/// The pause after a chunk, in seconds.
pub fn pause_after(boundary: Boundary) -> f64 {
    match boundary {
        Boundary::Clause => 0.12,
        Boundary::Sentence => 0.30,
        Boundary::Paragraph => 0.60,
    }
}

/// The part of `samples` between its first and last sound: 10 ms frames whose RMS is within
/// 40 dB of the loudest frame, keeping 30 ms before and 50 ms after. Empty when all is silence.
pub fn trim_silence(samples: &[f32], sample_rate: u32) -> &[f32] {
    let frame = (sample_rate as usize / 100).max(1);
    let rms: Vec<f32> = samples
        .chunks(frame)
        .map(|f| (f.iter().map(|x| x * x).sum::<f32>() / f.len() as f32).sqrt())
        .collect();
    let peak = rms.iter().copied().fold(0.0f32, f32::max);
    let threshold = (peak * 0.01).max(1e-4);
    let (Some(first), Some(last)) = (
        rms.iter().position(|&r| r >= threshold),
        rms.iter().rposition(|&r| r >= threshold),
    ) else {
        return &[];
    };
    let start = (first * frame).saturating_sub(3 * frame);
    let end = ((last + 1) * frame + 5 * frame).min(samples.len());
    &samples[start..end]
}

/// Where speech starts in `samples` ([`trim_silence`]'s start), `samples.len()` when all is
/// silence.
fn speech_start(samples: &[f32]) -> usize {
    let t = trim_silence(samples, S3GEN_SR);
    if t.is_empty() {
        return samples.len();
    }
    (t.as_ptr() as usize - samples.as_ptr() as usize) / std::mem::size_of::<f32>()
}

/// Joins chunks as they come: each new chunk starts after a pause, its start faded in, and the
/// previous chunk's last [`CROSSFADE_S`] crossfaded (equal power: cos/sin gains) into what
/// follows. The last few milliseconds of each chunk are held back until the next one (or
/// [`Joiner::finish`]), so what [`Joiner::push`] returns never changes afterwards: the
/// concatenation of everything returned is the whole audio.
pub struct Joiner {
    fade: usize,
    sample_rate: u32,
    held: Vec<f32>,
    started: bool,
}

fn fade_gain(k: usize, n: usize) -> f32 {
    // Rises from ~0 to ~1 over n samples (sin of a quarter turn); cos is its equal-power partner.
    (std::f32::consts::FRAC_PI_2 * (k as f32 + 0.5) / n as f32).sin()
}

impl Joiner {
    pub fn new(sample_rate: u32) -> Self {
        Self {
            fade: ((CROSSFADE_S * f64::from(sample_rate)) as usize).max(1),
            sample_rate,
            held: Vec::new(),
            started: false,
        }
    }

    /// Add a chunk that follows a pause of `pause_s` seconds (ignored for the first chunk); the
    /// samples now final.
    pub fn push(&mut self, chunk: &[f32], pause_s: f64) -> Vec<f32> {
        let mut incoming: Vec<f32> = Vec::new();
        if self.started {
            let pause = (pause_s * f64::from(self.sample_rate)) as usize;
            incoming.resize(pause, 0.0);
            let start = incoming.len();
            incoming.extend_from_slice(chunk);
            if pause > 0 {
                let n = self.fade.min(chunk.len());
                for k in 0..n {
                    incoming[start + k] *= fade_gain(k, n);
                }
            }
        } else {
            incoming.extend_from_slice(chunk);
        }
        self.started = true;
        let h = self.held.len();
        if incoming.len() < h {
            incoming.resize(h, 0.0);
        }
        for (k, (x, &prev)) in incoming.iter_mut().zip(&self.held).enumerate() {
            let g = fade_gain(k, h);
            let out_gain = (1.0 - g * g).max(0.0).sqrt();
            *x = prev * out_gain + *x * g;
        }
        let keep = incoming.len().saturating_sub(self.fade);
        self.held = incoming.split_off(keep);
        incoming
    }

    /// Continue the current chunk with `samples` (no pause, no fade: the same signal goes on);
    /// the samples now final.
    pub fn extend(&mut self, samples: &[f32]) -> Vec<f32> {
        let mut out = std::mem::take(&mut self.held);
        out.extend_from_slice(samples);
        let keep = out.len().saturating_sub(self.fade);
        self.held = out.split_off(keep);
        out
    }

    /// The held-back end of the audio, faded out.
    pub fn finish(&mut self) -> Vec<f32> {
        let mut tail = std::mem::take(&mut self.held);
        let n = tail.len();
        for (k, x) in tail.iter_mut().enumerate() {
            *x *= fade_gain(n - k - 1, n);
        }
        tail
    }
}

impl Chatterbox {
    /// Speak a text of any length in `voice` (or the built-in voice), chunk by chunk as
    /// [`split_text`] cuts it with `chunking`. `on_audio` receives the audio as it becomes final
    /// (once per chunk, then the held-back end), with the progress so far; the concatenation of
    /// what it receives is the whole output. `params.max_new_tokens` bounds each chunk.
    /// The same seed and text give the same audio. `should_stop` as in [`Chatterbox::generate`].
    pub fn generate_long(
        &self,
        text: &str,
        voice: Option<&Conditionals>,
        params: &GenerateParams,
        chunking: &ChunkOptions,
        should_stop: ShouldStop,
        on_audio: &mut dyn FnMut(Vec<f32>, ChunkProgress),
    ) -> Result<()> {
        self.long_inner(text, voice, params, chunking, None, should_stop, on_audio)
    }

    /// [`Chatterbox::generate_long`] with each chunk also streamed within itself
    /// ([`Chatterbox::generate_stream`] with `stream`): audio leaves every few dozen speech
    /// tokens, with `progress.done` counting the chunks finished before it. A chunk's leading
    /// silence is trimmed from its first piece; its trailing silence stays (it has left already).
    #[allow(clippy::too_many_arguments)]
    pub fn generate_long_streamed(
        &self,
        text: &str,
        voice: Option<&Conditionals>,
        params: &GenerateParams,
        chunking: &ChunkOptions,
        stream: &StreamOptions,
        should_stop: ShouldStop,
        on_audio: &mut dyn FnMut(Vec<f32>, ChunkProgress),
    ) -> Result<()> {
        self.long_inner(
            text,
            voice,
            params,
            chunking,
            Some(stream),
            should_stop,
            on_audio,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn long_inner(
        &self,
        text: &str,
        voice: Option<&Conditionals>,
        params: &GenerateParams,
        chunking: &ChunkOptions,
        stream: Option<&StreamOptions>,
        should_stop: ShouldStop,
        on_audio: &mut dyn FnMut(Vec<f32>, ChunkProgress),
    ) -> Result<()> {
        params.validate_for(self.variant())?;
        let voice = self.voice_or_default(voice)?;
        let mut chunks = split_text(text, chunking);
        if chunks.is_empty() {
            // Nothing to speak: let punc_norm's replacement sentence speak, as `generate` does.
            chunks = split_text(&punc_norm(text), chunking);
        }
        let total = chunks.len();
        let seed = params.seed.unwrap_or_else(rand::random);
        let prompt_tokens = prompt_tokens(voice)?;
        let mut joiner = Joiner::new(S3GEN_SR);
        let mut pause = 0.0;
        let mut spoken = 0usize;
        for (i, chunk) in chunks.iter().enumerate() {
            check_stop(should_stop)?;
            let chunk_seed = chunk_seed(seed, i);
            let max_new_tokens = params
                .max_new_tokens
                .min(max_tokens_for(&chunk.text))
                .max(1);
            let progress = ChunkProgress { done: i + 1, total };
            if let Some(stream) = stream.filter(|s| s.streams_chunk(i)) {
                let chunk_params = GenerateParams {
                    max_new_tokens,
                    ..params.clone()
                };
                let before = ChunkProgress { done: i, total };
                let mut started = false;
                let spoke = self.stream_utterance(
                    &chunk.text,
                    voice,
                    &chunk_params,
                    chunk_seed,
                    stream,
                    should_stop,
                    &mut |piece| {
                        let out = if started {
                            joiner.extend(&piece)
                        } else {
                            let from = speech_start(&piece);
                            if from >= piece.len() {
                                return; // silence so far: wait for speech
                            }
                            started = true;
                            joiner.push(&piece[from..], pause)
                        };
                        on_audio(out, before);
                    },
                    &mut super::stream::StreamTiming::default(),
                )?;
                if !spoke {
                    tracing::warn!(chunk = i, "no speech for a chunk; skipped");
                } else if started {
                    spoken += 1;
                    pause = pause_after(chunk.boundary);
                }
                on_audio(Vec::new(), progress);
                continue;
            }
            let sampling = sampling_params(params, chunk_seed, max_new_tokens);
            let speech = self.speech_tokens(&chunk.text, voice, params, &sampling, should_stop)?;
            if speech.is_empty() {
                tracing::warn!(chunk = i, "no speech for a chunk; skipped");
                on_audio(Vec::new(), progress);
                continue;
            }
            check_stop(should_stop)?;
            let wav = self.vocode(
                voice,
                &speech,
                &prompt_tokens,
                chunk_seed,
                &params.s3gen_options(self.variant()),
                should_stop,
            )?;
            let trimmed = trim_silence(&wav, S3GEN_SR);
            if trimmed.is_empty() {
                on_audio(Vec::new(), progress);
                continue;
            }
            spoken += 1;
            let out = joiner.push(trimmed, pause);
            pause = pause_after(chunk.boundary);
            on_audio(out, progress);
        }
        if spoken == 0 {
            return Err(Error::InvalidArgument(
                "the model produced no speech for this text; try another seed".into(),
            ));
        }
        on_audio(joiner.finish(), ChunkProgress { done: total, total });
        Ok(())
    }

    /// S3Gen on `speech` in `voice`, at `seed`: 24 kHz samples.
    pub(super) fn vocode(
        &self,
        voice: &Conditionals,
        speech: &[u32],
        prompt_tokens: &[u32],
        seed: u64,
        opts: &crate::models::s3gen::S3GenOptions,
        should_stop: ShouldStop,
    ) -> Result<Vec<f32>> {
        let gen = &voice.gen;
        let mut rng = GaussianRng::new(seed);
        let wav = self.s3gen.inference_with(
            speech,
            prompt_tokens,
            &gen.prompt_feat,
            &gen.embedding,
            &mut rng,
            opts,
            should_stop,
        )?;
        Ok(wav.i(0)?.to_dtype(DType::F32)?.to_vec1()?)
    }

    pub(super) fn voice_or_default<'a>(
        &'a self,
        voice: Option<&'a Conditionals>,
    ) -> Result<&'a Conditionals> {
        voice.or(self.default_voice.as_ref()).ok_or_else(|| {
            Error::InvalidArgument(
                "no voice: the model directory has no conds.pt, so upload a voice prompt".into(),
            )
        })
    }
}

/// The voice's S3Gen prompt tokens as ids.
pub(super) fn prompt_tokens(voice: &Conditionals) -> Result<Vec<u32>> {
    Ok(voice
        .gen
        .prompt_token
        .flatten_all()?
        .to_dtype(DType::U32)?
        .to_vec1()?)
}

pub(super) fn sampling_params(
    params: &GenerateParams,
    seed: u64,
    max_new_tokens: usize,
) -> SamplingParams {
    SamplingParams {
        temperature: params.temperature,
        top_p: params.top_p,
        min_p: params.min_p,
        top_k: (params.top_k > 0).then_some(params.top_k),
        repetition_penalty: params.repetition_penalty,
        cfg_weight: params.cfg_weight,
        max_new_tokens,
        seed,
        min_new_tokens: params.min_new_tokens.min(max_new_tokens),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_jump(x: &[f32]) -> f32 {
        x.windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max)
    }

    fn join_all(chunks: &[Vec<f32>], pause_s: f64) -> Vec<f32> {
        let mut j = Joiner::new(24_000);
        let mut out = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            out.extend(j.push(c, if i == 0 { 0.0 } else { pause_s }));
        }
        out.extend(j.finish());
        out
    }

    #[test]
    fn joins_do_not_click_and_keep_every_sample() {
        // The worst case: loud DC of opposite signs meeting, with and without a pause.
        let a = vec![0.9f32; 5000];
        let b = vec![-0.9f32; 4000];
        for pause in [0.0, 0.3] {
            let out = join_all(&[a.clone(), b.clone()], pause);
            let pause_n = (pause * 24_000.0) as usize;
            // The crossfade overlaps a's last 10 ms with what follows it.
            assert_eq!(out.len(), a.len() + pause_n + b.len() - 240);
            let jump = max_jump(&out);
            assert!(jump < 0.02, "largest step {jump} at pause {pause}");
            // Away from the join, the chunks are untouched.
            assert_eq!(out[100], 0.9);
            assert_eq!(out[out.len() - 400], -0.9);
            if pause > 0.0 {
                assert_eq!(
                    out[a.len() - 240 + pause_n / 2],
                    0.0,
                    "silence in the pause"
                );
            }
        }
        // A naive concatenation jumps by 1.8: the test can fail.
        assert!(max_jump(&[a, b].concat()) > 1.0);
        // Sine chunks: the join adds no step beyond the signal's own.
        let sine = |n: usize, ph: f32| -> Vec<f32> {
            (0..n).map(|i| 0.8 * (i as f32 * 0.05 + ph).sin()).collect()
        };
        let out = join_all(&[sine(3000, 0.0), sine(3000, 2.0), sine(100, 1.0)], 0.1);
        assert!(max_jump(&out) <= 0.8 * 0.05 + 0.02, "{}", max_jump(&out));
    }

    #[test]
    fn a_short_chunk_and_an_empty_one_join_safely() {
        let out = join_all(&[vec![0.5; 50], vec![], vec![0.5; 10]], 0.0);
        assert!((10..=60).contains(&out.len()), "{}", out.len());
        assert!(max_jump(&out) < 0.2);
    }

    #[test]
    fn silence_is_trimmed_at_both_ends_but_speech_kept() {
        let sr = 24_000;
        let mut x = vec![0.0f32; sr as usize]; // 1 s silence
        x.extend((0..12_000).map(|i| 0.5 * (i as f32 * 0.1).sin())); // 0.5 s tone
        x.extend(vec![0.0005f32; 2 * sr as usize]); // 2 s of near-silence
        let t = trim_silence(&x, sr);
        assert!(
            t.len() >= 12_000 && t.len() <= 12_000 + 80 * 24,
            "{}",
            t.len()
        );
        assert!(trim_silence(&[0.0; 1000], sr).is_empty());
    }

    #[test]
    fn seeds_and_token_caps() {
        assert_eq!(chunk_seed(42, 0), 42);
        let seeds: Vec<u64> = (0..5).map(|i| chunk_seed(42, i)).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 5, "distinct per chunk");
        assert_eq!(seeds, (0..5).map(|i| chunk_seed(42, i)).collect::<Vec<_>>());
        assert_ne!(chunk_seed(43, 1), chunk_seed(42, 1));
        // "Hi." may last 2.4 s; 300 characters ≈ 39 s, still under T3's 1000-token cap.
        assert_eq!(max_tokens_for("Hi."), 60);
        let long = "word ".repeat(60);
        assert!(max_tokens_for(&long) < 1000 && max_tokens_for(&long) > 700);
    }
}
