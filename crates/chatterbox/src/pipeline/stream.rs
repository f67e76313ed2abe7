//! Within-sentence streaming: [`Chatterbox::generate_stream`] hands out audio while T3 is still
//! decoding, S3Gen running on the tokens so far every few dozen tokens ([`S3GenStream`]).

use super::long::{prompt_tokens, sampling_params};
use super::{Chatterbox, GenerateParams, TextToSpeech, EOS, SOS};
use crate::models::s3gen::{S3GenStream, StreamOptions};
use crate::{check_stop, Conditionals, Error, Result, ShouldStop};

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
        params.validate_for(self.variant())?;
        let voice = self.voice_or_default(voice)?;
        let seed = params.seed.unwrap_or_else(rand::random);
        if self.stream_utterance(text, voice, params, seed, stream, should_stop, on_audio)? {
            Ok(())
        } else {
            Err(Error::InvalidArgument(
                "the model produced no speech for this text; try another seed".into(),
            ))
        }
    }

    /// [`Chatterbox::generate_stream`] with the voice and seed resolved; false when the model
    /// produced no speech (nothing was handed out).
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
    ) -> Result<bool> {
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
        let mut step = |speech: &[u32], s3: &mut S3GenStream| -> Result<()> {
            if speech.len() >= next {
                next = speech.len() + stream.chunk_tokens;
                let piece = s3.push(speech, false, should_stop)?;
                if !piece.is_empty() {
                    on_audio(piece);
                }
            }
            Ok(())
        };
        let turbo = matches!(self.front, TextToSpeech::Turbo { .. });
        for tok in self.t3_tokens(text, voice, params, &sampling)? {
            check_stop(should_stop)?;
            let tok = tok?;
            if tok == EOS && !turbo {
                break;
            }
            if tok < SOS {
                speech.push(tok);
                step(&speech, &mut s3)?;
            }
        }
        if turbo && !speech.is_empty() {
            speech = self.finish_speech(&speech);
        }
        if speech.is_empty() {
            return Ok(false);
        }
        check_stop(should_stop)?;
        let last = s3.push(&speech, true, should_stop)?;
        on_audio(last);
        Ok(true)
    }
}
