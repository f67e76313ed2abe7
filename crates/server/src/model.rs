//! What the engine needs from a text-to-speech model, so HTTP tests can run a fake one where the
//! test is about HTTP (queueing, timeouts, cancellation, panics) and the real one where it is about
//! synthesis.

use chatterbox::pipeline::StreamOptions;
use chatterbox::{Audio, Chatterbox, ChunkOptions, ChunkProgress, Conditionals, GenerateParams};
use std::any::Any;
use std::path::Path;
use std::sync::Arc;

/// Audio a model hands out while it generates, with how far it has come (chunks of a long text).
#[derive(Debug, Default)]
pub struct Piece {
    pub samples: Vec<f32>,
    pub progress: Option<ChunkProgress>,
}

impl From<Vec<f32>> for Piece {
    fn from(samples: Vec<f32>) -> Self {
        Self {
            samples,
            progress: None,
        }
    }
}

/// The voice a conversion speaks in.
pub enum VcTarget<'a, V> {
    /// The model's built-in voice.
    Builtin,
    /// A prepared voice (only its S3Gen part is used).
    Voice(&'a V),
    /// A target clip, decoded, any rate (only its first 10 s are used).
    Prompt(&'a Audio),
}

pub trait SpeechModel: Send + Sync + 'static {
    /// A voice prepared from a reference clip.
    type Voice: Send + Sync + 'static;

    /// Rate of the audio [`SpeechModel::generate`] produces.
    fn sample_rate(&self) -> u32;

    /// Turn a reference clip into a voice.
    fn prepare_voice(&self, clip: &Audio, exaggeration: f32) -> chatterbox::Result<Self::Voice>;

    /// Speak `text` in `voice` (`None`: the model's built-in voice), handing audio to `emit` as it
    /// is produced, in one piece or several. `should_stop` is polled between steps; when it
    /// returns true the call ends with [`chatterbox::Error::Cancelled`].
    fn generate(
        &self,
        text: &str,
        voice: Option<&Self::Voice>,
        params: &GenerateParams,
        should_stop: &dyn Fn() -> bool,
        emit: &mut dyn FnMut(Vec<f32>),
    ) -> chatterbox::Result<()>;

    /// [`SpeechModel::generate`] for a text of any length, cut into chunks as `chunking` says,
    /// with the progress in the pieces (the concatenation of the pieces is the whole audio). The
    /// default, for models without chunking, speaks the text in one go.
    fn generate_chunked(
        &self,
        text: &str,
        voice: Option<&Self::Voice>,
        params: &GenerateParams,
        chunking: &ChunkOptions,
        should_stop: &dyn Fn() -> bool,
        emit: &mut dyn FnMut(Piece),
    ) -> chatterbox::Result<()> {
        let _ = chunking;
        self.generate(text, voice, params, should_stop, &mut |s| emit(s.into()))
    }

    /// [`SpeechModel::generate_chunked`] for a client that plays the audio while it arrives
    /// (`stream: true`): a model may hand out its first audio sooner here, at some cost in
    /// compute or in sameness with the unstreamed output. The default is
    /// [`SpeechModel::generate_chunked`].
    fn generate_streamed(
        &self,
        text: &str,
        voice: Option<&Self::Voice>,
        params: &GenerateParams,
        chunking: &ChunkOptions,
        should_stop: &dyn Fn() -> bool,
        emit: &mut dyn FnMut(Piece),
    ) -> chatterbox::Result<()> {
        self.generate_chunked(text, voice, params, chunking, should_stop, emit)
    }

    /// Voice conversion: the speech in `source` spoken again in `target`, at
    /// [`SpeechModel::sample_rate`]. `seed` seeds the model's noise (`None`: random);
    /// `should_stop` as in [`SpeechModel::generate`]. The default, for models without it, refuses.
    fn convert(
        &self,
        source: &Audio,
        target: VcTarget<'_, Self::Voice>,
        seed: Option<u64>,
        should_stop: &dyn Fn() -> bool,
    ) -> chatterbox::Result<Vec<f32>> {
        let _ = (source, target, seed, should_stop);
        Err(chatterbox::Error::InvalidArgument(
            "this model cannot convert voices".into(),
        ))
    }

    /// Persist a voice (the caller makes the write atomic).
    fn save_voice(voice: &Self::Voice, path: &Path) -> chatterbox::Result<()>;

    /// Read a voice written by [`SpeechModel::save_voice`].
    fn load_voice(path: &Path) -> chatterbox::Result<Self::Voice>;
}

impl SpeechModel for Chatterbox {
    type Voice = Conditionals;

    fn sample_rate(&self) -> u32 {
        Chatterbox::sample_rate(self)
    }

    fn prepare_voice(&self, clip: &Audio, exaggeration: f32) -> chatterbox::Result<Conditionals> {
        self.prepare_conditionals(clip, exaggeration)
    }

    fn generate(
        &self,
        text: &str,
        voice: Option<&Conditionals>,
        params: &GenerateParams,
        should_stop: &dyn Fn() -> bool,
        emit: &mut dyn FnMut(Vec<f32>),
    ) -> chatterbox::Result<()> {
        emit(Chatterbox::generate(
            self,
            text,
            voice,
            params,
            should_stop,
        )?);
        Ok(())
    }

    fn generate_chunked(
        &self,
        text: &str,
        voice: Option<&Conditionals>,
        params: &GenerateParams,
        chunking: &ChunkOptions,
        should_stop: &dyn Fn() -> bool,
        emit: &mut dyn FnMut(Piece),
    ) -> chatterbox::Result<()> {
        self.generate_long(
            text,
            voice,
            params,
            chunking,
            should_stop,
            &mut |samples, progress| {
                emit(Piece {
                    samples,
                    progress: Some(progress),
                })
            },
        )
    }

    fn convert(
        &self,
        source: &Audio,
        target: VcTarget<'_, Conditionals>,
        seed: Option<u64>,
        should_stop: &dyn Fn() -> bool,
    ) -> chatterbox::Result<Vec<f32>> {
        match target {
            VcTarget::Builtin => Chatterbox::convert(self, source, None, seed, should_stop),
            VcTarget::Voice(v) => {
                Chatterbox::convert(self, source, Some(&v.gen), seed, should_stop)
            }
            VcTarget::Prompt(clip) => {
                let target = self.vc_target(clip)?;
                Chatterbox::convert(self, source, Some(&target), seed, should_stop)
            }
        }
    }

    fn save_voice(voice: &Conditionals, path: &Path) -> chatterbox::Result<()> {
        chatterbox::save_voice(voice, path)
    }

    fn load_voice(path: &Path) -> chatterbox::Result<Conditionals> {
        chatterbox::load_voice(path)
    }
}

/// [`Chatterbox`] as the server runs it: everything as [`Chatterbox`]'s own [`SpeechModel`], but
/// a streamed request (`stream: true`) is spoken with [`Chatterbox::generate_long_streamed`] when
/// `stream` is set (`--stream-first-tokens` > 0): the first chunk's first audio leaves after a
/// few speech tokens instead of after the whole chunk.
pub struct StreamingChatterbox {
    pub model: Chatterbox,
    pub stream: Option<StreamOptions>,
}

impl SpeechModel for StreamingChatterbox {
    type Voice = Conditionals;

    fn sample_rate(&self) -> u32 {
        self.model.sample_rate()
    }

    fn prepare_voice(&self, clip: &Audio, exaggeration: f32) -> chatterbox::Result<Conditionals> {
        self.model.prepare_conditionals(clip, exaggeration)
    }

    fn generate(
        &self,
        text: &str,
        voice: Option<&Conditionals>,
        params: &GenerateParams,
        should_stop: &dyn Fn() -> bool,
        emit: &mut dyn FnMut(Vec<f32>),
    ) -> chatterbox::Result<()> {
        SpeechModel::generate(&self.model, text, voice, params, should_stop, emit)
    }

    fn generate_chunked(
        &self,
        text: &str,
        voice: Option<&Conditionals>,
        params: &GenerateParams,
        chunking: &ChunkOptions,
        should_stop: &dyn Fn() -> bool,
        emit: &mut dyn FnMut(Piece),
    ) -> chatterbox::Result<()> {
        SpeechModel::generate_chunked(
            &self.model,
            text,
            voice,
            params,
            chunking,
            should_stop,
            emit,
        )
    }

    fn generate_streamed(
        &self,
        text: &str,
        voice: Option<&Conditionals>,
        params: &GenerateParams,
        chunking: &ChunkOptions,
        should_stop: &dyn Fn() -> bool,
        emit: &mut dyn FnMut(Piece),
    ) -> chatterbox::Result<()> {
        let Some(stream) = &self.stream else {
            return self.generate_chunked(text, voice, params, chunking, should_stop, emit);
        };
        self.model.generate_long_streamed(
            text,
            voice,
            params,
            chunking,
            stream,
            should_stop,
            &mut |samples, progress| {
                emit(Piece {
                    samples,
                    progress: Some(progress),
                })
            },
        )
    }

    fn convert(
        &self,
        source: &Audio,
        target: VcTarget<'_, Conditionals>,
        seed: Option<u64>,
        should_stop: &dyn Fn() -> bool,
    ) -> chatterbox::Result<Vec<f32>> {
        SpeechModel::convert(&self.model, source, target, seed, should_stop)
    }

    fn save_voice(voice: &Conditionals, path: &Path) -> chatterbox::Result<()> {
        chatterbox::save_voice(voice, path)
    }

    fn load_voice(path: &Path) -> chatterbox::Result<Conditionals> {
        chatterbox::load_voice(path)
    }
}

/// A model's voice with its type erased, so that nothing above the engine is generic over the
/// model. Only the engine and the [`VoiceCodec`] of the same model look inside.
#[derive(Clone)]
pub struct Voice(Arc<dyn Any + Send + Sync>);

impl Voice {
    pub fn new<V: Send + Sync + 'static>(v: V) -> Self {
        Self(Arc::new(v))
    }

    pub fn downcast<V: 'static>(&self) -> Option<&V> {
        self.0.downcast_ref()
    }
}

impl std::fmt::Debug for Voice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Voice")
    }
}

/// Reads and writes the voices of one model type.
#[derive(Clone, Copy)]
pub struct VoiceCodec {
    save: fn(&Voice, &Path) -> chatterbox::Result<()>,
    load: fn(&Path) -> chatterbox::Result<Voice>,
}

fn wrong_model() -> chatterbox::Error {
    chatterbox::Error::InvalidArgument("the voice belongs to another model".into())
}

impl VoiceCodec {
    pub fn of<M: SpeechModel>() -> Self {
        Self {
            save: |v, path| M::save_voice(v.downcast::<M::Voice>().ok_or_else(wrong_model)?, path),
            load: |path| M::load_voice(path).map(Voice::new),
        }
    }

    pub fn save(&self, voice: &Voice, path: &Path) -> chatterbox::Result<()> {
        (self.save)(voice, path)
    }

    pub fn load(&self, path: &Path) -> chatterbox::Result<Voice> {
        (self.load)(path)
    }
}
