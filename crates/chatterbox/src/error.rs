//! One error type for the synthesis crate. The server maps its variants to HTTP statuses.

use std::path::PathBuf;

/// A cancellation check polled between the expensive steps of a long computation; returning true
/// ends it with [`Error::Cancelled`].
pub type ShouldStop<'a> = &'a dyn Fn() -> bool;

/// `Err(Cancelled)` when `should_stop()` says so.
pub fn check_stop(should_stop: ShouldStop) -> Result<()> {
    if should_stop() {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}

/// Everything that can go wrong inside the synthesis crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not audio we can decode (corrupt, truncated, unknown container, no audio track).
    #[error("cannot decode audio: {0}")]
    AudioDecode(String),
    /// The audio decoded but is unusable (empty, zero sample rate, too short, too long, not finite).
    #[error("invalid audio: {0}")]
    InvalidAudio(String),
    /// The audio is longer than the caller's limit ([`crate::audio::DecodeLimits::max_duration_s`]).
    #[error("audio is longer than the {max_s} s limit")]
    AudioTooLong { max_s: f64 },
    /// A caller-supplied argument is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Resampling failed inside libsoxr.
    #[error("resampling failed: {0}")]
    Resample(String),
    /// Text could not be tokenized (or the tokenizer file is unusable).
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A checkpoint is missing a tensor, has a wrong shape, or cannot be read.
    #[error("checkpoint {path}: {msg}")]
    Checkpoint { path: PathBuf, msg: String },
    /// The caller cancelled the work (client gone, timeout, shutdown).
    #[error("cancelled")]
    Cancelled,
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// File-system error.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;
