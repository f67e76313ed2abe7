//! Text front end: `punc_norm` exactly as the reference, the English tokenizer, and the splitter
//! that cuts long text into chunks the model speaks cleanly.

mod punc_norm;
mod split;
mod tokenizer;

pub use punc_norm::punc_norm;
pub use split::{split_text, Boundary, ChunkOptions, TextChunk};
pub use tokenizer::{EnTokenizer, EOT, SOT};
