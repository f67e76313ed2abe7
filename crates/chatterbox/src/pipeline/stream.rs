//! Within-sentence streaming: [`Chatterbox::generate_stream`] hands out audio while T3 is still
//! decoding, S3Gen running on the tokens so far every few dozen tokens ([`S3GenStream`]).

use super::long::{prompt_tokens, sampling_params};
use super::{Chatterbox, GenerateParams, TextToSpeech, EOS, SOS};
use crate::models::s3gen::{PieceTiming, S3GenStream, StreamOptions};
use crate::{check_stop, Conditionals, Error, Result, ShouldStop};
use std::time::Instant;

/// Where a [`Chatterbox::generate_stream_timed`] call's time went, in seconds: the first piece
/// (what decides when audio starts) and the whole call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StreamTiming {
    /// From the call to the first audio handed out.
    pub first_audio_s: f64,
    /// T3 before the first piece: text front end, prefill and the first piece's tokens.
    pub first_t3_s: f64,
    /// The first piece's S3Gen (flow, then HiFT).
    pub first: PieceTiming,
    /// The whole call.
    pub total_s: f64,
    /// All pieces' S3Gen together (T3 took the rest of `total_s`).
    pub s3gen: PieceTiming,
    /// Pieces that carried audio.
    pub pieces: usize,
}

impl Chatterbox {
    /// Speak one text as [`Chatterbox::generate`] does, handing audio to `on_audio` as it is
    /// made: the first piece after `stream.first_tokens` speech tokens, then every
    /// `stream.chunk_tokens`, the rest at the end. The concatenation of the pieces is the whole
    /// output; it differs from `generate`'s (other noise draws, pieces joined by crossfades):
    /// `examples/bench_stream.rs` measures by how much.
    pub fn generate_stream(
        &self,
        text: &str,
        voice: Option<&Conditionals>,
        params: &GenerateParams,
        stream: &StreamOptions,
        should_stop: ShouldStop,
        on_audio: &mut dyn FnMut(Vec<f32>),
    ) -> Result<()> {
        self.generate_stream_timed(text, voice, params, stream, should_stop, on_audio)
            .map(|_| ())
    }

    /// [`Chatterbox::generate_stream`], also saying where the time went.
    pub fn generate_stream_timed(
        &self,
        text: &str,
        voice: Option<&Conditionals>,
        params: &GenerateParams,
        stream: &StreamOptions,
        should_stop: ShouldStop,
        on_audio: &mut dyn FnMut(Vec<f32>),
    ) -> Result<StreamTiming> {
        params.validate_for(self.variant())?;
        let voice = self.voice_or_default(voice)?;
        let seed = params.seed.unwrap_or_else(rand::random);
        let mut timing = StreamTiming::default();
        if self.stream_utterance(
            text,
            voice,
            params,
            seed,
            stream,
            should_stop,
            on_audio,
            &mut timing,
        )? {
            Ok(timing)
        } else {
            Err(Error::InvalidArgument(
                "the model produced no speech for this text; try another seed".into(),
            ))
        }
    }

    /// [`Chatterbox::generate_stream`] with the voice and seed resolved, recording where the time
    /// went in `timing`; false when the model produced no speech (nothing was handed out).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stream_utterance(
        &self,
        text: &str,
        voice: &Conditionals,
        params: &GenerateParams,
        seed: u64,
        stream: &StreamOptions,
        should_stop: ShouldStop,
        on_audio: &mut dyn FnMut(Vec<f32>),
        timing: &mut StreamTiming,
    ) -> Result<bool> {
        let start = Instant::now();
        stream.validate()?;
        let sampling = sampling_params(params, seed, params.max_new_tokens);
        let prompt = prompt_tokens(voice)?;
        let mut s3 = S3GenStream::new(
            &self.s3gen,
            &prompt,
            &voice.gen.prompt_feat,
            &voice.gen.embedding,
            seed,
            *stream,
        )?;
        let mut speech: Vec<u32> = Vec::new();
        let mut next = stream.first_tokens;
        let mut hand_out = |piece: Vec<f32>, s3: &S3GenStream, pushed: Instant| {
            let t = s3.last_timing();
            timing.s3gen.flow_s += t.flow_s;
            timing.s3gen.hift_s += t.hift_s;
            if piece.is_empty() {
                return;
            }
            if timing.pieces == 0 {
                timing.first_audio_s = start.elapsed().as_secs_f64();
                timing.first_t3_s = (pushed - start).as_secs_f64();
                timing.first = t;
            }
            timing.pieces += 1;
            on_audio(piece);
        };
        let mut step = |speech: &[u32],
                        s3: &mut S3GenStream,
                        hand_out: &mut dyn FnMut(Vec<f32>, &S3GenStream, Instant)|
         -> Result<()> {
            if speech.len() >= next {
                next = speech.len() + stream.chunk_tokens;
                let pushed = Instant::now();
                let piece = s3.push(speech, false, should_stop)?;
                hand_out(piece, s3, pushed);
            }
            Ok(())
        };
        let turbo = matches!(self.front, TextToSpeech::Turbo { .. });
        for tok in self.t3_tokens(text, voice, params, &sampling, true)? {
            check_stop(should_stop)?;
            let tok = tok?;
            if tok == EOS && !turbo {
                break;
            }
            if tok < SOS {
                speech.push(tok);
                step(&speech, &mut s3, &mut hand_out)?;
            }
        }
        if turbo && !speech.is_empty() {
            speech = self.finish_speech(&speech);
        }
        if speech.is_empty() {
            return Ok(false);
        }
        check_stop(should_stop)?;
        let pushed = Instant::now();
        let last = s3.push(&speech, true, should_stop)?;
        hand_out(last, &s3, pushed);
        timing.total_s = start.elapsed().as_secs_f64();
        Ok(true)
    }
}
