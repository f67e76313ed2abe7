//! Test support for chatterbox-rs, kept out of the production library (the server only
//! dev-depends on it):
//! - [`parity`]: every ported module against fixtures from the PyTorch reference;
//! - [`manifest`]: the released checkpoints' keys and shapes, and a recording `VarBuilder`;
//! - [`random_weights`]: the one seeded random-weight generator;
//! - [`tiny`]: the tiny random-weight checkpoint of the real architecture (one config).

pub mod manifest;
pub mod parity;
pub mod random_weights;
pub mod tiny;

pub use chatterbox::{Error, Result};

/// Lock a mutex, taking the data even if another thread panicked while holding it.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
