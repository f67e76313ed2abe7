//! Text front end: `punc_norm` exactly as the reference, and the English tokenizer.

mod punc_norm;
mod tokenizer;

pub use punc_norm::punc_norm;
pub use tokenizer::{EnTokenizer, EOT, SOT};
